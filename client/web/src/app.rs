//! Screens and navigation: the lobby (pick a meeting, your name, your PIN),
//! staff sign-in and home, and the meeting room.

use crate::api::{self, ApiError};
use crate::i18n::{I18n, Lang, use_i18n};
use crate::live::{self, Conn, Live};
use crate::room::Room;
use gavel_shared::model::*;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::{Deserialize, Serialize};

/// Where the user is.
#[derive(Debug, Clone, PartialEq)]
pub enum Screen {
    Loading,
    Lobby,
    /// Sign-in; `remote` for a member answering from outside the room.
    Join {
        meeting: MeetingId,
        participant: Option<ParticipantId>,
        remote: bool,
    },
    StaffSignIn,
    StaffHome,
    Room(MeetingId),
    /// Exchanging a one-time display code.
    DisplayCode(String),
    /// The room display of a meeting.
    Display(MeetingId),
}

/// Who is signed in.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Session {
    pub actor: Actor,
    pub name: String,
}

/// App-wide signals, in context.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    pub screen: RwSignal<Screen>,
    pub session: RwSignal<Option<Session>>,
    pub live: Live,
    /// A message for the user (error or confirmation), shown as a banner.
    pub notice: RwSignal<Option<(bool, String)>>,
    /// Ticks every second: clocks and speaking timers read it.
    pub tick: RwSignal<u32>,
}

impl Ctx {
    /// Shows an error from the server in the user's language.
    pub fn fail(&self, i: I18n, code: &str, message: &str) {
        self.notice.set(Some((true, i.error(code, message))));
    }

    /// Shows an [`ApiError`].
    pub fn api_fail(&self, i: I18n, e: &ApiError) {
        self.fail(i, &e.code, &e.message);
    }

    /// Opens the room of a meeting and follows it live.
    pub fn enter(&self, meeting: MeetingId) {
        live::follow(self.live, meeting);
        self.screen.set(Screen::Room(meeting));
        let _ = window().location().set_hash(&format!("/room/{meeting}"));
    }
}

thread_local! {
    // The app's signals, reachable from event handlers too (which run
    // outside the reactive owner that holds the context).
    static CTX: std::cell::Cell<Option<Ctx>> = const { std::cell::Cell::new(None) };
}

/// The app's signals.
pub fn use_ctx() -> Ctx {
    CTX.with(|c| c.get()).expect("the app is mounted")
}

/// The meeting's state (a copy), tracked.
pub fn state() -> Option<gavel_shared::state::MeetingState> {
    use_ctx().live.state.get()
}

/// `f` of the meeting's state, tracked, without copying the state.
pub fn with_state<T>(f: impl FnOnce(&gavel_shared::state::MeetingState) -> T) -> Option<T> {
    use_ctx().live.state.with(|s| s.as_ref().map(f))
}

/// Whether the room's rights table lets whoever follows the meeting send a
/// command of `kind` now (their role, the meeting's status): a control the
/// room would always refuse is not offered. Reactive.
pub fn may(kind: gavel_shared::protocol::CommandKind) -> bool {
    let actor = use_ctx().live.actor.get();
    actor.is_some_and(|a| with_state(|s| gavel_shared::rules::allowed(s, &a, kind).is_ok()).unwrap_or(false))
}

fn initial_lang() -> Lang {
    let stored = window().local_storage().ok().flatten().and_then(|s| s.get_item("gavel.lang").ok().flatten());
    match stored.as_deref() {
        Some("en") => Lang::En,
        _ => Lang::Vi,
    }
}

/// Parses `#/join/M/P`, `#/room/M`, `#/staff`.
fn screen_from_hash() -> Option<Screen> {
    let hash = window().location().hash().unwrap_or_default();
    let parts: Vec<&str> = hash.trim_start_matches('#').trim_start_matches('/').split('/').collect();
    let id = |i: usize| parts.get(i).and_then(|s| s.parse::<i64>().ok());
    match parts.first().copied() {
        Some("join") => Some(Screen::Join { meeting: MeetingId(id(1)?), participant: id(2).map(ParticipantId), remote: false }),
        // The personal link of a member who reviews by written opinion.
        Some("review") => Some(Screen::Join { meeting: MeetingId(id(1)?), participant: id(2).map(ParticipantId), remote: true }),
        Some("room") => Some(Screen::Room(MeetingId(id(1)?))),
        Some("staff") => Some(Screen::StaffSignIn),
        Some("display") => Some(match parts.get(1).filter(|c| !c.is_empty()) {
            Some(code) => Screen::DisplayCode(code.to_string()),
            None => Screen::Lobby,
        }),
        _ => None,
    }
}

/// The whole app.
#[component]
pub fn App() -> impl IntoView {
    let lang = RwSignal::new(initial_lang());
    let i18n = I18n(lang);
    provide_context(i18n);
    let ctx = Ctx {
        screen: RwSignal::new(Screen::Loading),
        session: RwSignal::new(None),
        live: Live::new(),
        notice: RwSignal::new(None),
        tick: RwSignal::new(0),
    };
    if let Ok(handle) = set_interval_with_handle(move || ctx.tick.update(|t| *t += 1), std::time::Duration::from_secs(1)) {
        on_cleanup(move || handle.clear());
    }
    provide_context(ctx);
    CTX.with(|c| c.set(Some(ctx)));
    crate::i18n::set_global(i18n);
    Effect::new(move |_| {
        let code = if lang.get() == Lang::En { "en" } else { "vi" };
        if let Some(el) = document().document_element() {
            let _ = el.set_attribute("lang", code);
        }
        if let Ok(Some(s)) = window().local_storage() {
            let _ = s.set_item("gavel.lang", code);
        }
    });
    // The address changed by hand, by a bookmark or by a link to another
    // meeting (a sign-in card's code scanned on a tablet already showing the
    // app): the page followed only the address it was loaded with. What it
    // leads to depends on who is signed in, as at a load: it loads again.
    // The app's own moves set the screen before the address, so they match.
    let on_hash = wasm_bindgen::closure::Closure::<dyn Fn()>::new(move || {
        let moved = match (screen_from_hash(), ctx.screen.get_untracked()) {
            (Some(Screen::Room(m)), Screen::Room(now) | Screen::Display(now)) => m != now,
            (Some(wanted @ (Screen::Room(_) | Screen::Join { .. } | Screen::DisplayCode(_))), now) => wanted != now,
            _ => false,
        };
        if moved {
            let _ = window().location().reload();
        }
    });
    let _ = window().add_event_listener_with_callback("hashchange", wasm_bindgen::JsCast::unchecked_ref(on_hash.as_ref()));
    on_hash.forget(); // for the page's life
    spawn_local(async move {
        let wanted = screen_from_hash();
        if let Some(Screen::DisplayCode(code)) = wanted {
            // Spend the code at once and take it out of the address bar.
            let _ = window().location().set_hash("/display");
            match api::post::<_, Session>("/api/display/session", &serde_json::json!({ "code": code })).await {
                Ok(session) => {
                    if let Actor::Display { meeting } = session.actor {
                        ctx.session.set(Some(session));
                        live::follow(ctx.live, meeting);
                        ctx.screen.set(Screen::Display(meeting));
                    }
                }
                Err(e) => {
                    ctx.api_fail(i18n, &e);
                    ctx.screen.set(Screen::Lobby);
                }
            }
            return;
        }
        match api::get::<Session>("/api/session").await {
            Ok(session) => {
                let actor = session.actor;
                ctx.session.set(Some(session));
                match (actor, wanted) {
                    (Actor::Display { meeting }, _) => {
                        live::follow(ctx.live, meeting);
                        ctx.screen.set(Screen::Display(meeting));
                    }
                    (Actor::Participant { meeting, .. }, _) => ctx.enter(meeting),
                    (_, Some(Screen::Room(m))) => ctx.enter(m),
                    _ => ctx.screen.set(Screen::StaffHome),
                }
            }
            Err(_) => ctx.screen.set(match wanted {
                Some(Screen::Room(_)) | None => Screen::Lobby,
                Some(s) => s,
            }),
        }
    });
    view! {
        <Header/>
        <Notice/>
        <main>
            {move || match ctx.screen.get() {
                Screen::Loading => view! { <p class="loading">"…"</p> }.into_any(),
                Screen::Lobby => view! { <Lobby/> }.into_any(),
                Screen::Join { meeting, participant, remote } => view! { <Join meeting participant remote/> }.into_any(),
                Screen::StaffSignIn => view! { <StaffSignIn/> }.into_any(),
                Screen::StaffHome => view! { <StaffHome/> }.into_any(),
                Screen::Room(meeting) => view! { <Room meeting/> }.into_any(),
                Screen::DisplayCode(_) => view! { <p class="loading">"…"</p> }.into_any(),
                Screen::Display(_) => view! { <crate::decide::RoomDisplay/> }.into_any(),
            }}
        </main>
    }
}

/// A time of the meeting, to the minute, in the room's zone whatever zone
/// the device is set to ([`gavel_shared::clock`]).
pub fn format_time(t: time::OffsetDateTime, lang: Lang) -> String {
    gavel_shared::clock::date_time(t, lang == Lang::En)
}

/// A time given in milliseconds since the epoch (the browser's clock).
pub fn time_of_ms(ms: f64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// Milliseconds since the epoch of a time.
pub fn ms(t: time::OffsetDateTime) -> f64 {
    (t.unix_timestamp_nanos() / 1_000_000) as f64
}

#[component]
fn Header() -> impl IntoView {
    let i = use_i18n();
    let ctx = use_ctx();
    // The clock shows the server's time in the room's zone, not the tablet's.
    let clock = move || {
        ctx.tick.get();
        gavel_shared::clock::clock(time_of_ms(ctx.live.server_now_ms()))
    };
    let in_room = move || matches!(ctx.screen.get(), Screen::Room(_) | Screen::Display(_));
    let conn = move || match ctx.live.conn.get() {
        Conn::Live => ("live", i.t("conn.live")),
        Conn::Connecting => ("connecting", i.t("conn.connecting")),
        Conn::Offline => ("offline", i.t("conn.offline")),
        Conn::Cached => ("cached", i.t("conn.cached")),
    };
    let sign_out = move |_| {
        spawn_local(async move {
            // A tablet agent keeps its one participant's session: the page
            // says so, and stays, rather than seem to sign them out (a
            // reload would have shown their meeting again, PIN unasked).
            if let Ok(answer) = api::delete("/api/session").await
                && answer["status"] == "kept_by_agent"
            {
                ctx.notice.set(Some((false, i.t("signout.kept_by_agent").to_string())));
                return;
            }
            live::disconnect(ctx.live);
            crate::decide::forget_drafts();
            ctx.session.set(None);
            ctx.screen.set(Screen::Lobby);
            let _ = window().location().set_hash("/");
        });
    };
    // Staff prepare many meetings: from one room, back to the list.
    let staff = move || ctx.session.get().is_some_and(|s| matches!(s.actor, Actor::Admin { .. } | Actor::Staff { .. }));
    let to_meetings = move |_| {
        // The room first, which saves what is typed as it goes; then the link.
        ctx.screen.set(Screen::StaffHome);
        let _ = window().location().set_hash("/");
        live::disconnect_when_sent(ctx.live);
    };
    view! {
        <header class="top">
            <div class="brand">"Gavel" <span class="tagline">{move || i.t("app.tagline")}</span></div>
            <Show when=move || staff() && matches!(ctx.screen.get(), Screen::Room(_))>
                <button class="link" id="to-meetings" on:click=to_meetings>{move || i.t("staff.to_meetings")}</button>
            </Show>
            <Show when=in_room>
                <div class="conn" data-conn=move || conn().0>{move || conn().1}</div>
                // Only through a tablet agent: how much of the pack the tablet holds.
                {move || ctx.live.pack.get().map(|p| view! {
                    <div class="tablet-pack" id="tablet-pack" data-complete=(p.done == p.total).to_string()>
                        {i.t("pack.held")} ": " <span class="count">{format!("{}/{}", p.done, p.total)}</span>
                    </div>
                })}
            </Show>
            <div class="clock" id="server-clock">{clock}</div>
            <div class="lang">
                <button id="lang-vi" class:active=move || i.0.get() == Lang::Vi on:click=move |_| i.0.set(Lang::Vi)>"VI"</button>
                <button id="lang-en" class:active=move || i.0.get() == Lang::En on:click=move |_| i.0.set(Lang::En)>"EN"</button>
            </div>
            <Show when=move || ctx.session.get().is_some()>
                <div class="who">
                    <span id="who-name">{move || ctx.session.get().map(|s| s.name).unwrap_or_default()}</span>
                    <button class="link" id="sign-out" on:click=sign_out>{move || i.t("signout")}</button>
                </div>
            </Show>
        </header>
        // The system's own words on storage ("No space left on device") are
        // English: in Vietnamese they stay a tooltip, for the administrator.
        {move || ctx.live.pack.get().and_then(|p| p.problem).map(|why| {
            let detail = (i.0.get() == Lang::En).then(|| format!(": {why}"));
            view! {
                <div class="tablet-problem" id="tablet-problem" role="alert" title=why>
                    <strong>{i.t("pack.problem")}</strong>{detail}
                </div>
            }
        })}
        {move || ctx.live.room_refused.get().map(|(code, why)| {
            let said = if code.is_empty() { why } else { i.error(&code, &why) };
            view! {
                <div class="tablet-problem" id="room-refused" role="alert">
                    <strong>{i.t("link.refused")}</strong> ": " {said}
                </div>
            }
        })}
    }
}

#[component]
fn Notice() -> impl IntoView {
    let ctx = use_ctx();
    view! {
        <Show when=move || ctx.notice.get().is_some()>
            <div class="notice" class:error=move || ctx.notice.get().is_some_and(|n| n.0) role="status"
                on:click=move |_| ctx.notice.set(None)>
                {move || ctx.notice.get().map(|n| n.1).unwrap_or_default()}
                <span class="dismiss">"×"</span>
            </div>
        </Show>
    }
}

/// The status of a meeting, in words.
pub fn status_key(s: MeetingStatus) -> &'static str {
    match s {
        MeetingStatus::Draft => "status.draft",
        MeetingStatus::Open => "status.open",
        MeetingStatus::Closed => "status.closed",
    }
}

#[component]
fn MeetingList(#[prop(into)] on_pick: Callback<MeetingId>, #[prop(into)] button: Signal<String>) -> impl IntoView {
    let i = use_i18n();
    let ctx = use_ctx();
    let meetings = RwSignal::new(None::<Vec<MeetingSummary>>);
    spawn_local(async move {
        match api::get::<Vec<MeetingSummary>>("/api/meetings").await {
            Ok(v) => meetings.set(Some(v)),
            Err(e) => ctx.api_fail(i, &e),
        }
    });
    view! {
        <ul class="meetings">
            {move || match meetings.get() {
                None => view! { <li class="loading">"…"</li> }.into_any(),
                Some(v) if v.is_empty() => view! { <li>{move || i.t("lobby.empty")}</li> }.into_any(),
                Some(v) => v.into_iter().map(|m| {
                    let id = m.id;
                    view! {
                        <li class="meeting" data-meeting=id.0>
                            <button class="meeting-pick" on:click=move |_| on_pick.run(id)>
                                <span class="meeting-title">{m.title.clone()}</span>
                                <span class="meeting-org">{m.organisation.clone()}</span>
                                // In the language chosen, switched without a reload.
                                <span class="meeting-when">{move || format_time(m.starts_at, i.0.get())}
                                    " · " {move || i.t(status_key(m.status))}</span>
                                <span class="go">{move || button.get()}</span>
                            </button>
                        </li>
                    }
                }).collect_view().into_any(),
            }}
        </ul>
    }
}

#[component]
fn Lobby() -> impl IntoView {
    let i = use_i18n();
    let ctx = use_ctx();
    view! {
        <section class="lobby card">
            <h1>{move || i.t("lobby.title")}</h1>
            <MeetingList on_pick=move |m| {
                let _ = window().location().set_hash(&format!("/join/{m}"));
                ctx.screen.set(Screen::Join { meeting: m, participant: None, remote: false })
            } button=Signal::derive(|| "›".to_string())/>
            <p><button class="link" id="staff-link" on:click=move |_| ctx.screen.set(Screen::StaffSignIn)>{move || i.t("lobby.staff")}</button></p>
        </section>
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct PickerEntry {
    id: ParticipantId,
    name: String,
    position: String,
    role: Role,
}

#[derive(Serialize)]
struct SignIn {
    meeting: MeetingId,
    participant: ParticipantId,
    pin: String,
    remote: bool,
}

#[component]
fn Join(meeting: MeetingId, participant: Option<ParticipantId>, remote: bool) -> impl IntoView {
    let i = use_i18n();
    let ctx = use_ctx();
    let people = RwSignal::new(None::<Vec<PickerEntry>>);
    let chosen = RwSignal::new(participant);
    let pin = RwSignal::new(String::new());
    let remote = RwSignal::new(remote);
    let busy = RwSignal::new(false);
    spawn_local(async move {
        match api::get::<Vec<PickerEntry>>(&format!("/api/meetings/{meeting}/participants")).await {
            Ok(v) => people.set(Some(v)),
            Err(e) => ctx.api_fail(i, &e),
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(participant) = chosen.get_untracked() else {
            ctx.notice.set(Some((true, i.t("join.pick").to_string())));
            return;
        };
        busy.set(true);
        let body = SignIn { meeting, participant, pin: pin.get_untracked(), remote: remote.get_untracked() };
        spawn_local(async move {
            match api::post::<_, Session>("/api/session", &body).await {
                Ok(s) => {
                    ctx.notice.set(None);
                    ctx.session.set(Some(s));
                    ctx.enter(meeting);
                }
                Err(e) => ctx.api_fail(i, &e),
            }
            busy.set(false);
        });
    };
    view! {
        <section class="join card">
            <h1>{move || i.t("join.who")}</h1>
            <form on:submit=submit>
                <div class="people">
                    {move || people.get().unwrap_or_default().into_iter().map(|p| {
                        let id = p.id;
                        view! {
                            <label class="participant-option" class:selected=move || chosen.get() == Some(id) data-participant=id.0>
                                <input type="radio" name="participant" prop:checked=move || chosen.get() == Some(id)
                                    on:change=move |_| chosen.set(Some(id))/>
                                <span class="name">{p.name.clone()}</span>
                                <span class="position">{p.position.clone()}</span>
                            </label>
                        }
                    }).collect_view()}
                </div>
                <label class="pin">{move || i.t("join.pin")}
                    <input id="pin" type="password" inputmode="numeric" autocomplete="one-time-code" maxlength="12"
                        prop:value=move || pin.get() on:input=move |ev| pin.set(event_target_value(&ev))/>
                </label>
                <label class="check remote">
                    <input type="checkbox" id="remote" prop:checked=move || remote.get() on:change=move |ev| remote.set(event_target_checked(&ev))/>
                    {move || i.t("join.remote")}
                </label>
                <div class="actions">
                    <button type="button" class="secondary" on:click=move |_| { let _ = window().location().set_hash("/"); ctx.screen.set(Screen::Lobby) }>{move || i.t("join.back")}</button>
                    <button type="submit" id="sign-in" disabled=move || busy.get()>{move || i.t("join.enter")}</button>
                </div>
            </form>
        </section>
    }
}

#[derive(Serialize)]
struct StaffCredentials {
    username: String,
    password: String,
}

#[component]
fn StaffSignIn() -> impl IntoView {
    let i = use_i18n();
    let ctx = use_ctx();
    let user = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = StaffCredentials { username: user.get_untracked(), password: password.get_untracked() };
        spawn_local(async move {
            match api::post::<_, Session>("/api/staff/session", &body).await {
                Ok(s) => {
                    ctx.notice.set(None);
                    ctx.session.set(Some(s));
                    ctx.screen.set(Screen::StaffHome);
                }
                Err(e) => ctx.api_fail(i, &e),
            }
        });
    };
    view! {
        <section class="staff card">
            <h1>{move || i.t("staff.title")}</h1>
            <form on:submit=submit>
                <label>{move || i.t("staff.user")}<input id="staff-user" autocomplete="username" prop:value=move || user.get() on:input=move |ev| user.set(event_target_value(&ev))/></label>
                <label>{move || i.t("staff.password")}<input id="staff-password" type="password" autocomplete="current-password" prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/></label>
                <div class="actions">
                    <button type="button" class="secondary" on:click=move |_| ctx.screen.set(Screen::Lobby)>{move || i.t("join.back")}</button>
                    <button type="submit" id="staff-sign-in">{move || i.t("staff.signin")}</button>
                </div>
            </form>
        </section>
    }
}

/// A value for `<input type="datetime-local">` now, in the room's zone.
fn local_input_now() -> String {
    gavel_shared::clock::to_input(time_of_ms(js_sys::Date::now()))
}

#[derive(Serialize)]
struct NewMeeting {
    title: String,
    organisation: String,
    place: String,
    locality: String,
    #[serde(with = "time::serde::rfc3339")]
    starts_at: time::OffsetDateTime,
}

#[derive(Serialize)]
struct NewStaff {
    username: String,
    display_name: String,
    password: String,
}

#[component]
fn StaffHome() -> impl IntoView {
    let i = use_i18n();
    let ctx = use_ctx();
    let title = RwSignal::new(String::new());
    let organisation = RwSignal::new(String::new());
    let place = RwSignal::new(String::new());
    let locality = RwSignal::new(String::new());
    let starts = RwSignal::new(local_input_now());
    // One key per meeting the form makes, kept until the room answers: a
    // second click after an answer lost on weak Wi-Fi gets the same meeting.
    let create_key = StoredValue::new(api::new_key());
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(starts_at) = gavel_shared::clock::from_input(&starts.get_untracked()) else { return };
        let body = NewMeeting {
            title: title.get_untracked(),
            organisation: organisation.get_untracked(),
            place: place.get_untracked(),
            locality: locality.get_untracked(),
            starts_at,
        };
        let key = create_key.get_value();
        spawn_local(async move {
            match api::post_once::<_, serde_json::Value>("/api/meetings", &body, &key).await {
                Ok(v) => {
                    let _ = create_key.try_set_value(api::new_key());
                    if let Some(id) = v["id"].as_i64() {
                        ctx.enter(MeetingId(id));
                    }
                }
                Err(e) => ctx.api_fail(i, &e),
            }
        });
    };
    let is_admin = move || matches!(ctx.session.get().map(|s| s.actor), Some(Actor::Admin { .. }));
    let (user, name, pw) = (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()));
    let add_account = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = NewStaff { username: user.get_untracked(), display_name: name.get_untracked(), password: pw.get_untracked() };
        spawn_local(async move {
            match api::post::<_, serde_json::Value>("/api/staff", &body).await {
                Ok(_) => {
                    ctx.notice.set(Some((false, i.t("done").to_string())));
                    user.set(String::new());
                    name.set(String::new());
                    pw.set(String::new());
                }
                Err(e) => ctx.api_fail(i, &e),
            }
        });
    };
    view! {
        <section class="card">
            <h1>{move || i.t("staff.meetings")}</h1>
            <MeetingList on_pick=move |m| ctx.enter(m) button=Signal::derive(move || i.t("staff.open").to_string())/>
        </section>
        <section class="card">
            <h2>{move || i.t("staff.new_meeting")}</h2>
            <form class="grid-form" on:submit=create>
                <label>{move || i.t("meeting.title")}<input id="new-meeting-title" required prop:value=move || title.get() on:input=move |ev| title.set(event_target_value(&ev))/></label>
                <label>{move || i.t("meeting.organisation")}<input prop:value=move || organisation.get() on:input=move |ev| organisation.set(event_target_value(&ev))/></label>
                <label>{move || i.t("meeting.place")}<input prop:value=move || place.get() on:input=move |ev| place.set(event_target_value(&ev))/></label>
                <label>{move || i.t("meeting.locality")}<input placeholder=move || i.t("meeting.locality_hint") prop:value=move || locality.get() on:input=move |ev| locality.set(event_target_value(&ev))/></label>
                <label>{move || i.t("meeting.starts")}{move || i.t("time.room_zone")}<input id="new-meeting-starts" type="datetime-local" prop:value=move || starts.get() on:input=move |ev| starts.set(event_target_value(&ev))/></label>
                <button id="create-meeting" type="submit">{move || i.t("staff.create")}</button>
            </form>
        </section>
        <Show when=is_admin>
            <section class="card">
                <h2>{move || i.t("staff.accounts")}</h2>
                <form class="grid-form" on:submit=add_account>
                    <label>{move || i.t("staff.user")}<input required prop:value=move || user.get() on:input=move |ev| user.set(event_target_value(&ev))/></label>
                    <label>{move || i.t("staff.display_name")}<input required prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/></label>
                    <label>{move || i.t("staff.password")}<input type="password" required minlength="8" prop:value=move || pw.get() on:input=move |ev| pw.set(event_target_value(&ev))/></label>
                    <button type="submit">{move || i.t("staff.add_account")}</button>
                </form>
            </section>
        </Show>
    }
}
