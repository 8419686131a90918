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
    let r = with_cookie(Request::post(url)).json(body).map_err(ApiError::network)?.send().await.map_err(ApiError::network)?;
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

/// A fresh random key (idempotency keys).
pub fn new_key() -> String {
    let mut s = String::with_capacity(24);
    for _ in 0..3 {
        s.push_str(&format!("{:08x}", (js_sys::Math::random() * f64::from(u32::MAX)) as u32));
    }
    s
}
