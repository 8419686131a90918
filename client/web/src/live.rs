//! The live link to the room: one WebSocket, the meeting's state fed by its
//! events, reconnection with the last `seq`, the server's clock.
//!
//! The state is folded with `MeetingState::apply` from gavel-shared, the
//! same code the server runs. An event that does not follow (a gap) asks
//! for a snapshot on a new connection; the copy stays on screen until the
//! snapshot replaces it, so a document being read or a form being filled
//! is not torn down and built again.

use futures::channel::mpsc;
use futures::future::{Either, select};
use futures::{SinkExt, StreamExt};
use gavel_shared::model::*;
use gavel_shared::protocol::{self, ClientMessage, Command, CommandResult, PROTOCOL_VERSION, ServerMessage};
use gavel_shared::state::MeetingState;
use gloo_net::websocket::Message;
use gloo_net::websocket::futures::WebSocket;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::cell::RefCell;
use std::time::Duration;

/// The state of the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conn {
    Connecting,
    Live,
    Offline,
    /// Through a tablet agent that cannot reach the room: what the tablet holds.
    Cached,
}

/// The meeting as this browser sees it, in context.
#[derive(Debug, Clone, Copy)]
pub struct Live {
    pub state: RwSignal<Option<MeetingState>>,
    pub conn: RwSignal<Conn>,
    /// Server clock minus this device's clock, in milliseconds.
    pub offset_ms: RwSignal<f64>,
    /// Who the server says we are.
    pub actor: RwSignal<Option<Actor>>,
    /// Through a tablet agent: the documents the tablet holds, of those
    /// listed, and why it cannot keep more, if so.
    pub pack: RwSignal<Option<TabletPack>>,
    /// Through a tablet agent: why the room refuses the tablet, while it
    /// does (the page shows what the tablet keeps meanwhile): its code
    /// (empty from an agent before codes) and the room's words.
    pub room_refused: RwSignal<Option<(String, String)>>,
}

/// What a tablet agent says of the meeting pack it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TabletPack {
    pub done: usize,
    pub total: usize,
    pub problem: Option<String>,
    /// Documents the room would not give the tablet, with its words.
    pub refused: Vec<gavel_shared::protocol::NotGiven>,
}

impl Live {
    /// An empty store.
    pub fn new() -> Self {
        Live {
            state: RwSignal::new(None),
            conn: RwSignal::new(Conn::Connecting),
            offset_ms: RwSignal::new(0.0),
            actor: RwSignal::new(None),
            pack: RwSignal::new(None),
            room_refused: RwSignal::new(None),
        }
    }

    /// The server's time now, in milliseconds since the epoch.
    pub fn server_now_ms(&self) -> f64 {
        js_sys::Date::now() + self.offset_ms.get_untracked()
    }
}

impl Default for Live {
    fn default() -> Self {
        Self::new()
    }
}

type Reply = Result<CommandResult, (String, String)>;
/// A command sent and not answered yet: its key, the message as sent, and
/// what to do with the answer.
struct Waiting {
    key: String,
    command: Command,
    /// When it was first sent (ms since the epoch).
    sent_at: f64,
    message: String,
    done: Box<dyn FnOnce(Reply)>,
}
/// Commands waiting for their answer, in the order sent. A link that drops
/// keeps them: they go again, with the same keys, when it is back, so the
/// room applies each once, whether or not it had taken it before the drop.
type Pending = Vec<Waiting>;

fn take_pending(key: &str) -> Option<Box<dyn FnOnce(Reply)>> {
    PENDING.with(|p| {
        let mut p = p.borrow_mut();
        let at = p.iter().position(|w| w.key == key)?;
        Some(p.remove(at).done)
    })
}

thread_local! {
    static OUTBOX: RefCell<Option<mpsc::UnboundedSender<String>>> = const { RefCell::new(None) };
    static PENDING: RefCell<Pending> = const { RefCell::new(Vec::new()) };
    static GENERATION: RefCell<u32> = const { RefCell::new(0) };
    /// The meeting followed, which the commands waiting were sent to.
    static FOLLOWING: std::cell::Cell<Option<MeetingId>> = const { std::cell::Cell::new(None) };
    /// The copy missed an event: the next connection asks for a snapshot
    /// rather than for what followed it.
    static RESYNC: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn ms_of(t: time::OffsetDateTime) -> f64 {
    (t.unix_timestamp_nanos() / 1_000_000) as f64
}

fn ws_url() -> String {
    let loc = window().location();
    let proto = if loc.protocol().unwrap_or_default() == "https:" { "wss" } else { "ws" };
    format!("{proto}://{}/ws", loc.host().unwrap_or_default())
}

/// How long after a command the same command again is taken for a tap
/// given twice.
const DOUBLE_TAP_MS: f64 = 3000.0;

/// Sends a command; `done` gets the acknowledgement or the error.
pub fn send(cmd: Command, done: impl FnOnce(Reply) + 'static) {
    // The same command again before the room has answered the last one
    // sent (a double tap, a second tap on a slow tablet) is not sent again:
    // it gets that one's answer. Sent twice, "next item" passed over an
    // item and marked it discussed, "next speaker" took the floor from the
    // first in line at once, and a form emptied only once the room has
    // taken it was recorded twice (two opinions, two votes, two people).
    // Only the last one sent counts: a setting changed and changed back
    // (5, 3, 5 minutes) is sent each time; so does a tap a few seconds on,
    // which is meant (and goes, should the first never be answered).
    let now = js_sys::Date::now();
    let done = match PENDING.with(|p| {
        let mut p = p.borrow_mut();
        match p.last_mut() {
            Some(last) if last.command == cmd && now - last.sent_at < DOUBLE_TAP_MS => {
                let first = std::mem::replace(&mut last.done, Box::new(|_| {}));
                last.done = Box::new(move |r: Reply| {
                    first(r.clone());
                    done(r)
                });
                None
            }
            _ => Some(done),
        }
    }) {
        Some(done) => done,
        None => return,
    };
    let key = crate::api::new_key();
    let msg = protocol::encode(&ClientMessage::Command { key: key.clone(), command: cmd.clone() });
    // Refused unread by the room, which could not say which command it
    // was: said now, and never kept to be sent again at each reconnection.
    if let Err(e) = protocol::check_size(msg.len()) {
        return done(Err((e.code().into(), String::new())));
    }
    let sent = OUTBOX.with(|o| o.borrow().as_ref().is_some_and(|tx| tx.unbounded_send(msg.clone()).is_ok()));
    if sent {
        PENDING.with(|p| p.borrow_mut().push(Waiting { key, command: cmd, sent_at: now, message: msg, done: Box::new(done) }));
    } else {
        done(Err(("offline".into(), "not connected".into())));
    }
}

/// Stops following once what was sent has been answered, or after 10 s at
/// most: the room left by hand, what it saved as it closed (a section of
/// the minutes typed a moment before) goes first. Not if another meeting
/// was followed meanwhile.
pub fn disconnect_when_sent(live: Live) {
    let generation = GENERATION.with(|g| *g.borrow());
    spawn_local(async move {
        let started = js_sys::Date::now();
        loop {
            // The room's page is taken down first, and saves as it goes.
            gloo_timers::future::sleep(Duration::from_millis(100)).await;
            if PENDING.with(|p| p.borrow().is_empty()) || js_sys::Date::now() - started > 10_000.0 {
                break;
            }
        }
        if GENERATION.with(|g| *g.borrow()) == generation {
            disconnect(live);
        }
    });
}

/// Stops following (on sign-out).
pub fn disconnect(live: Live) {
    GENERATION.with(|g| *g.borrow_mut() += 1);
    FOLLOWING.set(None);
    OUTBOX.with(|o| o.borrow_mut().take());
    PENDING.with(|p| p.borrow_mut().clear());
    RESYNC.set(false);
    live.state.set(None);
}

/// How a connection ended.
enum Ended {
    /// Dropped; `true` if it had been live.
    Dropped(bool),
    /// The room ended this session (revoked, expired, or the participant
    /// removed): retrying cannot help.
    SessionOver(String, String),
    /// The room would not let this connection follow the meeting (an
    /// unknown meeting, a page older than the room, the room busy): said,
    /// and tried again later.
    Refused(String, String),
}

/// Back to the start, saying why: the session is over, and a browser left
/// retrying would show "reconnecting" for ever.
fn session_over(live: Live, code: &str, message: &str) {
    disconnect(live);
    crate::decide::forget_drafts();
    let ctx = crate::app::use_ctx();
    ctx.session.set(None);
    ctx.screen.set(crate::app::Screen::Lobby);
    let _ = window().location().set_hash("/");
    ctx.fail(crate::i18n::use_i18n(), code, message);
}

/// Follows a meeting until [`disconnect`], reconnecting by itself.
pub fn follow(live: Live, meeting: MeetingId) {
    let generation = GENERATION.with(|g| {
        *g.borrow_mut() += 1;
        *g.borrow()
    });
    let current = move || GENERATION.with(|g| *g.borrow()) == generation;
    // Commands still waiting from another meeting (left a moment before)
    // are not sent again on this one's link, where the room would apply
    // them to this meeting (a section of the minutes, say): they are
    // answered as unanswered.
    if FOLLOWING.replace(Some(meeting)).is_some_and(|m| m != meeting) {
        let left: Pending = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
        for w in left {
            (w.done)(Err(("offline".into(), "the meeting was left before the room answered".into())));
        }
    }
    // Another meeting's copy is never shown as this one's.
    if live.state.with_untracked(|s| s.as_ref().is_some_and(|s| s.meeting.id != meeting)) {
        RESYNC.set(false);
        live.state.set(None);
    }
    spawn_local(async move {
        let mut backoff = 500u64;
        while current() {
            live.conn.set(Conn::Connecting);
            let ended = run_once(live, meeting, &current).await;
            if !current() {
                break;
            }
            live.conn.set(Conn::Offline);
            OUTBOX.with(|o| o.borrow_mut().take());
            let ok = match ended {
                Ended::SessionOver(code, message) => return session_over(live, &code, &message),
                // A meeting the room does not have (an old bookmark, a
                // mistyped address): said once, and back to where the user
                // picks a meeting, not tried again and said again for ever.
                Ended::Refused(code, message) if code == "not_found" => {
                    let ctx = crate::app::use_ctx();
                    GENERATION.with(|g| *g.borrow_mut() += 1);
                    let staff = ctx.session.get_untracked().is_some_and(|s| s.actor.is_staff());
                    ctx.screen.set(if staff { crate::app::Screen::StaffHome } else { crate::app::Screen::Lobby });
                    let _ = window().location().set_hash("/");
                    ctx.fail(crate::i18n::use_i18n(), &code, &message);
                    return;
                }
                Ended::Refused(code, message) => {
                    crate::app::use_ctx().fail(crate::i18n::use_i18n(), &code, &message);
                    false
                }
                Ended::Dropped(ok) => ok,
            };
            // A connection refused before it was live may be a session that
            // ended (the WebSocket cannot say why): asked once over HTTP.
            if !ok
                && let Err(e) = crate::api::get::<serde_json::Value>("/api/session").await
                && e.code == "unauthorized"
                && current()
            {
                return session_over(live, &e.code, &e.message);
            }
            backoff = if ok { 500 } else { (backoff * 2).min(8000) };
            gloo_timers::future::sleep(Duration::from_millis(backoff)).await;
        }
    });
}

/// One connection, until it ends.
async fn run_once(live: Live, meeting: MeetingId, current: &impl Fn() -> bool) -> Ended {
    let Ok(ws) = WebSocket::open(&ws_url()) else { return Ended::Dropped(false) };
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded::<String>();
    OUTBOX.with(|o| *o.borrow_mut() = Some(tx.clone()));
    let last_seq = if RESYNC.get() { None } else { live.state.with_untracked(|s| s.as_ref().map(|s| s.seq)) };
    let hello = protocol::encode(&ClientMessage::Hello { meeting, last_seq, version: PROTOCOL_VERSION });
    if sink.send(Message::Text(hello)).await.is_err() {
        return Ended::Dropped(false);
    }
    // What was sent before a drop and never answered goes again, as it was.
    let again: Vec<String> = PENDING.with(|p| p.borrow().iter().map(|w| w.message.clone()).collect());
    for message in again {
        if sink.send(Message::Text(message)).await.is_err() {
            return Ended::Dropped(false);
        }
    }
    // A ping every 15 s: keeps the clock right and notices a dead link.
    let pinger = tx.clone();
    let awaiting_pong = std::rc::Rc::new(std::cell::Cell::new(false));
    let awaiting = awaiting_pong.clone();
    spawn_local(async move {
        let mut nonce = 0u64;
        loop {
            gloo_timers::future::sleep(Duration::from_secs(15)).await;
            if awaiting.get() {
                // No answer to the last ping: the link is dead; closing the
                // outbox ends the connection.
                pinger.close_channel();
                return;
            }
            nonce += 1;
            awaiting.set(true);
            if pinger.unbounded_send(protocol::encode(&ClientMessage::Ping { nonce })).is_err() {
                return;
            }
        }
    });
    let mut was_live = false;
    // Whether the room took the hello: a refusal before that is this
    // connection's end, not a passing warning.
    let mut welcomed = false;
    // Through a tablet agent: whether it reaches the room (a server sends nothing: yes).
    let mut room_reachable = true;
    loop {
        if !current() {
            let _ = sink.close().await;
            return Ended::Dropped(was_live);
        }
        match select(rx.next(), stream.next()).await {
            Either::Left((Some(out), _)) => {
                if sink.send(Message::Text(out)).await.is_err() {
                    return Ended::Dropped(was_live);
                }
            }
            Either::Left((None, _)) => return Ended::Dropped(was_live),
            Either::Right((Some(Ok(Message::Text(text))), _)) => {
                let Ok(msg) = protocol::decode_server(&text, 64 * 1024 * 1024) else { continue };
                match msg {
                    ServerMessage::Welcome { actor, server_time, .. } => {
                        // Told again at every reconnection: set only when it
                        // changed, or every view that asks who this is (the
                        // secretary's forms, the poll console) is built anew
                        // and loses what was being typed.
                        welcomed = true;
                        if live.actor.get_untracked() != Some(actor) {
                            live.actor.set(Some(actor));
                        }
                        live.offset_ms.set(ms_of(server_time) - js_sys::Date::now());
                    }
                    ServerMessage::Snapshot { state } => {
                        RESYNC.set(false);
                        live.state.set(Some(state));
                        live.conn.set(Conn::Live);
                        was_live = true;
                    }
                    ServerMessage::Event { event } => {
                        // Applied in place. Out of step (an event missed),
                        // the copy is left as it was and a new connection
                        // asks for a snapshot.
                        let missed = live.state.try_update_untracked(|s| s.as_mut().is_some_and(|s| s.apply(&event).is_ok())) != Some(true);
                        if missed {
                            RESYNC.set(true);
                            let _ = sink.close().await;
                            return Ended::Dropped(was_live);
                        }
                        live.state.notify();
                        live.conn.set(Conn::Live);
                        was_live = true;
                    }
                    ServerMessage::Ack { key, result, .. } => {
                        if let Some(done) = take_pending(&key) {
                            done(Ok(result));
                        }
                    }
                    ServerMessage::Error { key, code, message } => {
                        let done = key.and_then(|k| take_pending(&k));
                        match done {
                            Some(done) => done(Err((code, message))),
                            None if matches!(code.as_str(), "revoked" | "unauthorized" | "forbidden") => {
                                let _ = sink.close().await;
                                return Ended::SessionOver(code, message);
                            }
                            // Before, the page waited for ever, "connecting"
                            // (or, with a copy on screen, falsely "connected").
                            None if !welcomed => {
                                let _ = sink.close().await;
                                return Ended::Refused(code, message);
                            }
                            // The room dropped commands unread, without saying
                            // which (it cannot read them: that is the point).
                            // Unanswered, their forms never emptied. Each
                            // still waiting goes again in a second, with its
                            // key: one the room had taken gets its first
                            // answer again, nothing twice.
                            None if code == "rate_limited" => {
                                let (tx, generation) = (tx.clone(), GENERATION.with(|g| *g.borrow()));
                                let waiting: Vec<String> = PENDING.with(|p| p.borrow().iter().map(|w| w.message.clone()).collect());
                                spawn_local(async move {
                                    gloo_timers::future::sleep(Duration::from_secs(1)).await;
                                    if GENERATION.with(|g| *g.borrow()) == generation {
                                        let still: Vec<String> = PENDING.with(|p| p.borrow().iter().map(|w| w.message.clone()).collect());
                                        for message in waiting.into_iter().filter(|m| still.contains(m)) {
                                            let _ = tx.unbounded_send(message);
                                        }
                                    }
                                });
                            }
                            None => leptos::logging::warn!("server: {code}: {message}"),
                        }
                    }
                    // Browsers sign in with the cookie, never in-band.
                    ServerMessage::SignedIn { .. } => {}
                    ServerMessage::Pong { server_time, .. } => {
                        awaiting_pong.set(false);
                        live.offset_ms.set(ms_of(server_time) - js_sys::Date::now());
                    }
                    ServerMessage::RoomLink { online, refused, refused_code } => {
                        room_reachable = online;
                        let refused = refused.map(|why| (refused_code.unwrap_or_default(), why));
                        if live.room_refused.get_untracked() != refused {
                            live.room_refused.set(refused);
                        }
                    }
                    ServerMessage::TabletPack { docs_done, docs_total, problem, refused } => {
                        live.pack.set(Some(TabletPack { done: docs_done, total: docs_total, problem, refused }));
                    }
                }
                // Replayed events (no snapshot) also make the link live; a
                // copy kept on screen while a snapshot is awaited does not.
                if !RESYNC.get() && live.state.with_untracked(|s| s.is_some()) && !was_live {
                    live.conn.set(Conn::Live);
                    was_live = true;
                }
                if was_live {
                    let shown = if room_reachable { Conn::Live } else { Conn::Cached };
                    if live.conn.get_untracked() != shown {
                        live.conn.set(shown);
                    }
                }
            }
            Either::Right((Some(Ok(_)), _)) => {}
            Either::Right((Some(Err(_)), _)) | Either::Right((None, _)) => return Ended::Dropped(was_live),
        }
    }
}
