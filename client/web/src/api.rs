//! The HTTP API, as the web UI calls it. The session travels in the
//! HttpOnly cookie; errors come back as `{code, message}`.

use gloo_net::http::{Request, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use web_sys::RequestCredentials;

/// An error from the server or the network.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

impl ApiError {
    fn network(e: impl ToString) -> Self {
        ApiError { code: "network".into(), message: e.to_string() }
    }
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
}

async fn read<T: DeserializeOwned>(r: Response) -> Result<T, ApiError> {
    if r.ok() {
        return r.json::<T>().await.map_err(ApiError::network);
    }
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(b) => Err(ApiError { code: b.code, message: b.message }),
        Err(_) => Err(ApiError { code: "network".into(), message: format!("HTTP {status}") }),
    }
}

fn with_cookie(b: RequestBuilder) -> RequestBuilder {
    b.credentials(RequestCredentials::SameOrigin)
}

/// GET a JSON resource.
pub async fn get<T: DeserializeOwned>(url: &str) -> Result<T, ApiError> {
    let r = with_cookie(Request::get(url)).send().await.map_err(ApiError::network)?;
    read(r).await
}

/// POST a JSON body, read a JSON answer.
pub async fn post<B: Serialize, T: DeserializeOwned>(url: &str, body: &B) -> Result<T, ApiError> {
    send_json(Request::post(url), body).await
}

/// POST a JSON body once per `key` (the room applies a key once), read a JSON answer.
pub async fn post_once<B: Serialize, T: DeserializeOwned>(url: &str, body: &B, key: &str) -> Result<T, ApiError> {
    send_json(Request::post(url).header("idempotency-key", key), body).await
}

async fn send_json<B: Serialize, T: DeserializeOwned>(request: RequestBuilder, body: &B) -> Result<T, ApiError> {
    let r = with_cookie(request).json(body).map_err(ApiError::network)?.send().await.map_err(ApiError::network)?;
    read(r).await
}

/// POST a file's bytes as they are (a CSV in whatever code page Excel wrote
/// it: the room decodes it), read a JSON answer.
pub async fn post_file<T: DeserializeOwned>(url: &str, content_type: &str, file: &web_sys::Blob, key: &str) -> Result<T, ApiError> {
    let r = with_cookie(Request::post(url))
        .header("content-type", content_type)
        .header("idempotency-key", key)
        .body(file)
        .map_err(ApiError::network)?
        .send()
        .await
        .map_err(ApiError::network)?;
    read(r).await
}

/// POST a multipart form (uploads), read a JSON answer.
pub async fn post_form<T: DeserializeOwned>(url: &str, form: web_sys::FormData, key: &str) -> Result<T, ApiError> {
    let r = with_cookie(Request::post(url))
        .header("idempotency-key", key)
        .body(form)
        .map_err(ApiError::network)?
        .send()
        .await
        .map_err(ApiError::network)?;
    read(r).await
}

/// DELETE a resource.
pub async fn delete(url: &str) -> Result<serde_json::Value, ApiError> {
    let r = with_cookie(Request::delete(url)).send().await.map_err(ApiError::network)?;
    read(r).await
}

/// Downloads a file the room makes (an export of the minutes) without
/// leaving the page: saved under the name the room gives it, or the room's
/// refusal (an expired session, a failed export) returned to be shown
/// where the user is, instead of a page of raw JSON.
pub async fn download(url: &str) -> Result<(), ApiError> {
    use wasm_bindgen::JsCast;
    let r = with_cookie(Request::get(url)).send().await.map_err(ApiError::network)?;
    if !r.ok() {
        return read::<serde_json::Value>(r).await.map(|_| ());
    }
    let disposition = r.headers().get("content-disposition").unwrap_or_default();
    let name = disposition.split("filename=\"").nth(1).and_then(|n| n.split('"').next()).filter(|n| !n.is_empty()).unwrap_or("gavel");
    let kind = r.headers().get("content-type").unwrap_or_default();
    let bytes = r.binary().await.map_err(ApiError::network)?;
    let js = |e: wasm_bindgen::JsValue| ApiError::network(format!("{e:?}"));
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes.as_slice()));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(&kind);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(js)?;
    let href = web_sys::Url::create_object_url_with_blob(&blob).map_err(js)?;
    let document = web_sys::window().and_then(|w| w.document()).ok_or_else(|| ApiError::network("no document"))?;
    let a: web_sys::HtmlAnchorElement =
        document.create_element("a").map_err(js)?.dyn_into().map_err(|_| ApiError::network("not a link"))?;
    a.set_href(&href);
    a.set_download(name);
    a.click();
    // The browser has taken the file once the click is handled; the blob's
    // memory goes back a moment later.
    gloo_timers::future::sleep(std::time::Duration::from_secs(10)).await;
    let _ = web_sys::Url::revoke_object_url(&href);
    Ok(())
}

/// A fresh random key (idempotency keys).
pub fn new_key() -> String {
    let mut s = String::with_capacity(24);
    for _ in 0..3 {
        s.push_str(&format!("{:08x}", (js_sys::Math::random() * f64::from(u32::MAX)) as u32));
    }
    s
}
