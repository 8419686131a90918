//! The web UI, built by Trunk in `build.rs` and embedded in the binary, so
//! one file is the whole room server. Hashed assets are cached for good;
//! `index.html` is revalidated by its ETag (a tablet on weak Wi-Fi that
//! reloads gets a 304, not the page again); unknown paths without an extension get
//! `index.html` (the app routes itself). Files are sent compressed as the
//! browser accepts, from the copies `build.rs` made once (brotli, gzip).

use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use include_dir::{Dir, include_dir};

static DIST: Dir<'static> = include_dir!("$OUT_DIR/dist");

/// The codings kept beside each file, best first: (name, file suffix).
const CODINGS: [(&str, &str); 2] = [("br", ".br"), ("gzip", ".gz")];

/// The ETag of `index.html`: weak, since one ETag stands for the page in
/// every coding, and the page changes only with the binary.
fn index_etag() -> &'static str {
    static ETAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ETAG.get_or_init(|| {
        use sha2::Digest;
        let page = DIST.get_file("index.html").map(|f| f.contents()).unwrap_or_default();
        format!("W/\"{}\"", &hex::encode(sha2::Sha256::digest(page))[..32])
    })
}

/// Whether an `If-None-Match` value names `etag` (weakly, as the header is
/// compared), or is `*`.
fn matches(if_none_match: &str, etag: &str) -> bool {
    fn bare(t: &str) -> &str {
        t.trim().trim_start_matches("W/")
    }
    if_none_match.split(',').any(|t| t.trim() == "*" || bare(t) == bare(etag))
}

fn file_response(path: &str, accept: Option<&str>, if_none_match: Option<&str>) -> Option<Response> {
    // The compressed copies are sent only as what they stand for.
    if CODINGS.iter().any(|(_, suffix)| path.ends_with(suffix)) {
        return None;
    }
    let raw = DIST.get_file(path)?;
    let etag = (path == "index.html").then(index_etag);
    if let Some(etag) = etag.filter(|e| if_none_match.is_some_and(|v| matches(v, e))) {
        let headers = [(header::ETAG, etag), (header::CACHE_CONTROL, "no-cache"), (header::VARY, "accept-encoding")];
        return Some((StatusCode::NOT_MODIFIED, headers).into_response());
    }
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
    if let Some(etag) = etag {
        h.insert(header::ETAG, HeaderValue::from_static(etag));
    }
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

/// A list header's values, which a request may give over several lines, as one.
fn joined(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    let values: Vec<&str> = headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// Serves the embedded web UI.
pub async fn serve(headers: HeaderMap, uri: Uri) -> Response {
    let (accept, if_none_match) = (joined(&headers, header::ACCEPT_ENCODING), joined(&headers, header::IF_NONE_MATCH));
    let (accept, if_none_match) = (accept.as_deref(), if_none_match.as_deref());
    let path = uri.path().trim_start_matches('/');
    if let Some(r) = (!path.is_empty()).then(|| file_response(path, accept, if_none_match)).flatten() {
        return r;
    }
    let looks_like_file = path.rsplit('/').next().is_some_and(|last| last.contains('.'));
    match file_response("index.html", accept, if_none_match) {
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
    use super::{accepts, matches};

    #[test]
    fn if_none_match_is_compared_weakly() {
        let etag = "W/\"abc\"";
        assert!(matches("W/\"abc\"", etag));
        assert!(matches("\"abc\"", etag), "weak comparison ignores W/");
        assert!(matches("\"x\", W/\"abc\"", etag));
        assert!(matches("*", etag));
        assert!(!matches("W/\"abd\"", etag));
        assert!(!matches("", etag));
    }

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
