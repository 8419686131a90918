//! Gavel's web UI: mounts the app. Everything else is in the modules:
//! `app` (screens and navigation), `room` (the meeting), `prepare` (the
//! secretary's tools), `cards` (printable sign-in cards), `viewer` (the PDF reader), `live` (the
//! WebSocket link and the meeting store), `api` (HTTP), `i18n` (texts).

mod api;
mod app;
mod cards;
mod decide;
mod i18n;
mod live;
mod minutes;
mod prepare;
mod room;
mod viewer;

fn main() {
    console_error_panic_hook::set_once();
    let document = leptos::prelude::document();
    if let Some(loading) = document.get_element_by_id("loading-app") {
        loading.remove();
    }
    leptos::mount::mount_to_body(app::App);
    if let Some(body) = document.body() {
        let _ = body.set_attribute("data-app", "ready");
    }
}
