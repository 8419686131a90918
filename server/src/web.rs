//! The web UI, built by Trunk in `build.rs` and embedded in the binary, so
//! one file is the whole room server. Hashed assets are cached for good;
//! `index.html` is revalidated; unknown paths without an extension get
//! `index.html` (the app routes itself).

use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use include_dir::{Dir, include_dir};

static DIST: Dir<'static> = include_dir!("$OUT_DIR/dist");

fn file_response(path: &str, bytes: &'static [u8]) -> Response {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let cache = if path == "index.html" { "no-cache" } else { "public, max-age=31536000, immutable" };
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime.as_ref()) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

/// Serves the embedded web UI.
pub async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if let Some(f) = (!path.is_empty()).then(|| DIST.get_file(path)).flatten() {
        return file_response(path, f.contents());
    }
    let looks_like_file = path.rsplit('/').next().is_some_and(|last| last.contains('.'));
    match DIST.get_file("index.html") {
        Some(index) if !looks_like_file => file_response("index.html", index.contents()),
        _ => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// True when the binary carries a built web UI.
pub fn has_ui() -> bool {
    DIST.get_file("index.html").is_some()
}
