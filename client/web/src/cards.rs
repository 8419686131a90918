//! Printable sign-in cards: name, meeting, PIN and a QR code that opens the
//! sign-in page with the meeting and the participant chosen (the PIN is
//! typed, never put in the code).

use crate::app::use_ctx;
use crate::i18n::use_i18n;
use gavel_shared::protocol::IssuedPin;
use leptos::prelude::*;
use qrcode::QrCode;
use qrcode::render::svg;

/// An SVG QR code for `text`.
pub fn qr_svg(text: &str) -> String {
    match QrCode::new(text.as_bytes()) {
        Ok(code) => code.render::<svg::Color>().min_dimensions(140, 140).quiet_zone(true).build(),
        Err(_) => String::new(),
    }
}

/// The cards of freshly issued PINs, with a print button.
#[component]
pub fn Cards(pins: Vec<IssuedPin>, #[prop(into)] on_close: Callback<()>) -> impl IntoView {
    let i = use_i18n();
    let ctx = use_ctx();
    let state = ctx.live.state.get_untracked();
    let (meeting_id, title) = state.map(|s| (s.meeting.id, s.meeting.title)).unwrap_or((gavel_shared::model::MeetingId(0), String::new()));
    let origin = window().location().origin().unwrap_or_default();
    view! {
        <div class="cards-overlay">
            <div class="cards-bar no-print">
                <h2>{move || i.t("cards.title")}</h2>
                <button on:click=move |_| { let _ = window().print(); }>{move || i.t("cards.print")}</button>
                <button class="secondary" on:click=move |_| on_close.run(())>{move || i.t("docs.close")}</button>
            </div>
            <div class="cards">
                {pins.into_iter().map(|p| {
                    let url = format!("{origin}/#/join/{}/{}", meeting_id.0, p.participant.0);
                    let svg = qr_svg(&url);
                    view! {
                        <div class="signin-card" data-participant=p.participant.0>
                            <div class="card-text">
                                <div class="card-meeting">{title.clone()}</div>
                                <div class="card-name">{p.name.clone()}</div>
                                <div class="card-pin">{move || i.t("join.pin")}": "<strong class="pin-value">{p.pin.clone().unwrap_or_else(|| "——".into())}</strong></div>
                                {p.pin.clone().map(|pin| view! {
                                    <div class="card-code">{move || i.t("cards.code")}": "<strong class="join-code">{format!("{}-{}-{pin}", meeting_id.0, p.participant.0)}</strong></div>
                                })}
                                <div class="card-help">{move || i.t("cards.scan")}</div>
                                <div class="card-url">{url.clone()}</div>
                            </div>
                            <div class="qr" inner_html=svg></div>
                        </div>
                    }
                }).collect_view()}
            </div>
        </div>
    }
}
