//! The web UI, built by Trunk in `build.rs` and embedded in the binary, so
//! one file is the whole room server. Hashed assets are cached for good;
//! `index.html` is revalidated; unknown paths without an extension get
//! `index.html` (the app routes itself). Files are sent compressed as the
//! browser accepts, from the copies `build.rs` made once (brotli, gzip).

use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use include_dir::{Dir, include_dir};

static DIST: Dir<'static> = include_dir!("$OUT_DIR/dist");

/// The codings kept beside each file, best first: (name, file suffix).
const CODINGS: [(&str, &str); 2] = [("br", ".br"), ("gzip", ".gz")];

fn file_response(path: &str, accept: Option<&str>) -> Option<Response> {
    // The compressed copies are sent only as what they stand for.
    if CODINGS.iter().any(|(_, suffix)| path.ends_with(suffix)) {
        return None;
    }
    let raw = DIST.get_file(path)?;
    let copies: Vec<_> = CODINGS.iter().filter_map(|(coding, suffix)| Some((*coding, DIST.get_file(format!("{path}{suffix}"))?))).collect();
    let coded = copies.iter().find(|(coding, _)| accept.is_some_and(|a| accepts(a, coding)));
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let cache = if path == "index.html" { "no-cache" } else { "public, max-age=31536000, immutable" };
    let mut r = coded.map_or(raw, |(_, f)| *f).contents().into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime.as_ref()) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Some(&(coding, _)) = coded {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    if !copies.is_empty() {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Some(r)
}

/// Whether an `Accept-Encoding` value takes `coding`: named, or covered by
/// `*`, with a weight above zero (`br;q=0` refuses it).
fn accepts(accept: &str, coding: &str) -> bool {
    let mut any = false;
    for entry in accept.split(',') {
        let mut parts = entry.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let weight = parts
            .find_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
            .map_or(1.0, |q| q.trim().parse::<f32>().unwrap_or(0.0));
        if name.eq_ignore_ascii_case(coding) {
            return weight > 0.0;
        }
        if name == "*" {
            any = weight > 0.0;
        }
    }
    any
}

/// Serves the embedded web UI.
pub async fn serve(headers: HeaderMap, uri: Uri) -> Response {
    // A request may say it over several lines.
    let accept: Vec<&str> = headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).collect();
    let accept = (!accept.is_empty()).then(|| accept.join(","));
    let accept = accept.as_deref();
    let path = uri.path().trim_start_matches('/');
    if let Some(r) = (!path.is_empty()).then(|| file_response(path, accept)).flatten() {
        return r;
    }
    let looks_like_file = path.rsplit('/').next().is_some_and(|last| last.contains('.'));
    match file_response("index.html", accept) {
        Some(index) if !looks_like_file => index,
        _ => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// True when the binary carries a built web UI.
pub fn has_ui() -> bool {
    DIST.get_file("index.html").is_some()
}

#[cfg(test)]
mod tests {
    use super::accepts;

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        assert!(accepts("gzip, deflate, br", "br"));
        assert!(accepts("gzip, deflate", "gzip"));
        assert!(!accepts("gzip, deflate", "br"), "Chromium over plain HTTP");
        assert!(!accepts("br;q=0, gzip", "br"));
        assert!(accepts("br;q=0.5", "br"));
        assert!(accepts("*", "br"));
        assert!(!accepts("*, br;q=0", "br"), "named beats the wildcard");
        assert!(!accepts("*;q=0", "gzip"));
        assert!(!accepts("identity", "gzip"));
        assert!(accepts("GZIP", "gzip"));
        assert!(!accepts("", "gzip"));
    }
}
