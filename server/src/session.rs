//! One client's session, whatever carries it (WebSocket or a QUIC control
//! stream): sign-in (for native clients), `hello`, then commands in and
//! acknowledgements and events out, in `seq` order.
//!
//! The transport hands in decoded text frames, and gives [`deliver`] its
//! sending half (an [`Outlet`]). One delivery task per connection sends the
//! session's replies from a bounded channel and, after `hello`, the events
//! the client missed (kept in memory, or from the log) or a snapshot, then
//! every new event, each as the client may see it, taken straight from the
//! meeting's broadcast: an agenda move wakes one task per client, not two.
//! A client that reads too slowly makes its delivery task wait; the
//! broadcast then reports it lagging and the task catches up from the log,
//! so no memory grows with a stalled client.

use crate::error::Error;
use crate::meeting::{MeetingHandle, Missed, Op, Published, REPLAY_LIMIT, Subscription};
use crate::{AppState, auth, store};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use gavel_shared::model::*;
use gavel_shared::protocol::{self, ClientMessage, Event, PROTOCOL_VERSION, ServerMessage};
use gavel_shared::state::MeetingState;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};

/// Messages queued for one client.
pub const OUTBOX: usize = 256;

/// What a transport received.
#[derive(Debug)]
pub enum Inbound {
    Text(String),
    /// A frame that is not text (refused with an error, the session goes on).
    Binary,
    /// A frame announced larger than the transport reads: said, and the
    /// connection closed (what follows cannot be told from the frame's rest).
    TooLarge {
        limit: usize,
    },
}

/// What the session hands its delivery task.
pub enum Outbound {
    /// One encoded message (valid UTF-8 JSON).
    Text(Bytes),
    /// Close the connection (code, reason), after what is queued.
    Close(u16, &'static str),
    /// Start following a meeting (after the welcome): what the client
    /// missed or a snapshot, then every event.
    Follow { handle: Arc<MeetingHandle>, actor: Actor, last_seq: Option<u64> },
}

fn text(msg: &ServerMessage) -> Outbound {
    Outbound::Text(encoded(msg))
}

fn error(key: Option<String>, code: &str, message: impl Into<String>) -> Outbound {
    text(&ServerMessage::Error { key, code: code.into(), message: message.into() })
}

/// Resolves when the server starts shutting down.
async fn stopping(rx: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Runs a session until the client goes, the server stops or the session
/// is revoked. `actor` is who the transport already knows (a cookie, a
/// bearer token), or `None` for a client that signs in with a message;
/// `peer` is the client's address (for the sign-in limits).
#[tracing::instrument(skip_all, fields(actor = ?actor))]
pub async fn run(
    app: AppState,
    mut actor: Option<Actor>,
    peer: Option<std::net::SocketAddr>,
    mut inbound: impl Stream<Item = Inbound> + Unpin,
    out: mpsc::Sender<Outbound>,
) {
    let mut shutdown = app.shutdown.clone();
    let mut revoked = app.revoked.subscribe();
    let mut following: Option<Arc<MeetingHandle>> = None;
    let mut rate = crate::limits::Rate::new(app.config.max_messages_per_second);
    // Commands run one at a time, in order, beside the reading: a slow one
    // (a PDF checked before it is restricted, the minutes signed) held up
    // the answer to every ping behind it, and a browser that hears no pong
    // drops the link and sends the command again. A client that goes has
    // what it sent run all the same (a ballot sent as the tablet died
    // counts, as it did); a revoked session's waiting commands do not, nor
    // do any once the server stops. Started at the first command: an idle
    // tablet costs no task and no queue.
    let mut runner: Option<Runner> = None;
    let mut cut_off = false;
    loop {
        let msg = tokio::select! {
            _ = stopping(&mut shutdown) => {
                let _ = out.send(Outbound::Close(1001, "server shutting down")).await;
                cut_off = true;
                break;
            }
            msg = inbound.next() => msg,
            r = revoked.recv() => {
                let gone = match r {
                    Ok(p) => actor.and_then(|a| a.participant()) == Some(p),
                    // More revocations than are kept: any could be this
                    // one's. It comes back and signs in again with its
                    // token, which then answers for itself.
                    Err(broadcast::error::RecvError::Lagged(_)) if actor.is_some_and(|a| a.participant().is_some()) => {
                        let _ = out.send(Outbound::Close(1012, "reconnect")).await;
                        cut_off = true;
                        break;
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => false,
                    Err(broadcast::error::RecvError::Closed) => false,
                };
                if gone {
                    cut_off = true;
                    let _ = out.send(error(None, "revoked", Error::Revoked.public_message())).await;
                    let _ = out.send(Outbound::Close(4001, "session revoked")).await;
                    break;
                }
                continue;
            }
        };
        if msg.is_some() && !rate.allow() {
            if rate.flooding() {
                tracing::warn!(?peer, "closing a connection that floods the server; its address waits before it connects again");
                if let Some(p) = peer {
                    app.connections.cool_down(p.ip());
                }
                let _ = out.send(Outbound::Close(1008, "too many messages")).await;
                break;
            }
            // Dropped unparsed, with one error per run of refusals: the
            // server's work for a flooding client stays small.
            if rate.refused_in_a_row == 1 {
                let _ = out.send(error(None, "rate_limited", "too many messages: slow down")).await;
            }
            continue;
        }
        let text_in = match msg {
            None => break,
            Some(Inbound::Text(t)) => t,
            Some(Inbound::Binary) => {
                let _ = out.send(error(None, "malformed_message", "send JSON text frames")).await;
                continue;
            }
            Some(Inbound::TooLarge { limit }) => {
                let message = format!("a frame is limited to {limit} bytes");
                let _ = out.send(error(None, "message_too_large", message)).await;
                let _ = out.send(Outbound::Close(1009, "message too large")).await;
                break;
            }
        };
        let reply = match protocol::decode_client(&text_in) {
            Err(e) => Some(error(protocol::command_key(&text_in), e.code(), e.to_string())),
            Ok(ClientMessage::Ping { nonce }) => Some(text(&ServerMessage::Pong { nonce, server_time: store::now() })),
            // Who a connection is stays fixed once it follows a meeting: its
            // feed is filtered for that person, and a revocation is matched
            // against them. Signed in as someone else, a connection holding
            // a revoked (or stolen) session would keep its feed.
            Ok(ClientMessage::SignIn { .. } | ClientMessage::Resume { .. }) if following.is_some() => Some(error(
                None,
                "already_following",
                "this connection already follows a meeting as someone: open a new connection to sign in",
            )),
            Ok(ClientMessage::SignIn { meeting, participant, pin, remote }) => {
                match auth::participant_sign_in(&app, meeting, participant, &pin, remote, peer.map(|a| a.ip())).await {
                    Ok((who, token, name)) => {
                        actor = Some(who);
                        Some(text(&ServerMessage::SignedIn { actor: who, name, token: Some(token) }))
                    }
                    Err(e) => Some(error(None, e.code(), e.public_message())),
                }
            }
            Ok(ClientMessage::Resume { token }) => match auth::lookup(&app.db, &token).await {
                Ok(Some(who)) => {
                    actor = Some(who);
                    let name = auth::name_of(&app, &who).await.unwrap_or_default();
                    Some(text(&ServerMessage::SignedIn { actor: who, name, token: None }))
                }
                Ok(None) if auth::is_revoked(&app.db, &token).await.unwrap_or(false) => {
                    Some(error(None, "revoked", Error::Revoked.public_message()))
                }
                Ok(None) => Some(error(None, "unauthorized", "the session has ended: sign in again")),
                Err(e) => Some(error(None, e.code(), e.public_message())),
            },
            Ok(ClientMessage::Hello { meeting, last_seq, version }) => match actor {
                None => Some(error(None, "unauthorized", "sign in first")),
                Some(_) if version != PROTOCOL_VERSION => {
                    Some(error(None, "unsupported_version", format!("this server speaks protocol version {PROTOCOL_VERSION}")))
                }
                Some(_) if following.is_some() => Some(error(None, "already_following", "this connection already follows a meeting")),
                Some(who) if !who.can_follow(meeting) => Some(error(None, "forbidden", "you are not a participant of this meeting")),
                Some(who) => match app.meetings.get(meeting).await {
                    Err(e) => Some(error(None, e.code(), e.public_message())),
                    Ok(handle) => {
                        let welcome = ServerMessage::Welcome { version: PROTOCOL_VERSION, actor: who, server_time: store::now() };
                        let _ = out.send(text(&welcome)).await;
                        let _ = out.send(Outbound::Follow { handle: handle.clone(), actor: who, last_seq }).await;
                        following = Some(handle);
                        None
                    }
                },
            },
            Ok(ClientMessage::Command { key, command }) => match (&following, actor) {
                (Some(handle), Some(who)) => {
                    let queue = &runner.get_or_insert_with(|| Runner::start(out.clone())).queue;
                    if queue.send(Box::new((handle.clone(), who, key, command))).await.is_err() {
                        break;
                    }
                    None
                }
                _ => Some(error(Some(key), "hello_first", "send hello before commands")),
            },
            Ok(ClientMessage::Unknown) => Some(error(None, "unknown_message", "this server does not know that message type")),
        };
        if let Some(reply) = reply
            && out.send(reply).await.is_err()
        {
            break;
        }
    }
    if let Some(r) = runner {
        drop(r.queue);
        if cut_off {
            r.task.abort();
        }
    }
    tracing::debug!("disconnected");
}

/// A command to run: the meeting, who sends it, its key.
type Queued = Box<(Arc<MeetingHandle>, Actor, String, protocol::Command)>;

/// A session's commands, run one at a time in the order read.
struct Runner {
    queue: mpsc::Sender<Queued>,
    task: tokio::task::JoinHandle<()>,
}

impl Runner {
    fn start(out: mpsc::Sender<Outbound>) -> Runner {
        let (queue, mut to_run) = mpsc::channel::<Queued>(COMMANDS_QUEUED);
        let task = tokio::spawn(async move {
            while let Some(queued) = to_run.recv().await {
                let (handle, who, key, command) = *queued;
                let reply = match handle.execute(who, &key, Op::Command(command)).await {
                    Ok(o) => text(&ServerMessage::Ack { key, seq: o.seq, result: o.result }),
                    Err(e) => {
                        if let Error::Internal(cause) = &e {
                            tracing::error!(error = ?cause, "command failed");
                        }
                        error(Some(key), e.code(), e.public_message())
                    }
                };
                // The client gone, the rest still runs (its answers are lost).
                let _ = out.send(reply).await;
            }
        });
        Runner { queue, task }
    }
}

/// Commands read and waiting for the ones before them to be answered; past
/// this, reading waits too.
const COMMANDS_QUEUED: usize = 32;

/// The sending half of a transport.
pub trait Outlet: Send {
    /// Queues one message (valid UTF-8); it goes out by the next
    /// [`Outlet::flush`] at the latest.
    fn queue(&mut self, text: Bytes) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// Sends what is queued.
    fn flush(&mut self) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// Sends what is queued and closes the connection with a code and reason.
    fn close(&mut self, code: u16, reason: &'static str) -> impl Future<Output = ()> + Send;
}

/// Messages sent between two flushes at most: a burst of events costs one
/// write to the socket, not one per event, and a long burst still goes out
/// as it comes.
const BATCH: usize = 64;

/// The meeting a delivery task follows.
struct Following {
    handle: Arc<MeetingHandle>,
    actor: Actor,
    events: broadcast::Receiver<Arc<Published>>,
    /// The last event sent.
    seq: u64,
}

enum Next {
    Out(Option<Outbound>),
    Event(Result<Arc<Published>, broadcast::error::RecvError>),
}

/// Runs a connection's delivery: the session's messages from `outbox`, and
/// once it follows a meeting, that meeting's events, in `seq` order, each as
/// the client may see it. Ends when the session ends (the outbox closes), a
/// close is asked for, or the client stops taking messages.
pub async fn deliver(app: AppState, mut outbox: mpsc::Receiver<Outbound>, mut outlet: impl Outlet) {
    let mut following: Option<Following> = None;
    let result: anyhow::Result<()> = async {
        loop {
            // Replies first: they answer what the client is waiting on.
            let mut next = tokio::select! {
                biased;
                m = outbox.recv() => Next::Out(m),
                r = async {
                    match following.as_mut() {
                        Some(f) => f.events.recv().await,
                        None => std::future::pending().await,
                    }
                } => Next::Event(r),
            };
            let mut sent = 0;
            loop {
                match next {
                    Next::Out(None) => return Ok(()),
                    Next::Out(Some(Outbound::Text(t))) => outlet.queue(t).await?,
                    Next::Out(Some(Outbound::Close(code, reason))) => {
                        outlet.close(code, reason).await;
                        return Ok(());
                    }
                    Next::Out(Some(Outbound::Follow { handle, actor, last_seq })) => {
                        following = Some(start_following(&app, &mut outlet, handle, actor, last_seq).await?);
                    }
                    Next::Event(r) => {
                        let f = following.as_mut().expect("events come only while following");
                        match r {
                            Ok(p) => {
                                if p.event.seq > f.seq {
                                    outlet.queue(p.message_for(&f.actor)).await?;
                                    f.seq = p.event.seq;
                                    if own_change(f, &p.event.change) && !renew_view(&mut outlet, f).await? {
                                        return Ok(());
                                    }
                                }
                            }
                            Err(broadcast::error::RecvError::Lagged(missed)) => {
                                tracing::debug!(missed, "slow client: catching up from the log");
                                if catch_up(&app, &mut outlet, f).await? && !renew_view(&mut outlet, f).await? {
                                    return Ok(());
                                }
                            }
                            Err(broadcast::error::RecvError::Closed) => following = None,
                        }
                    }
                }
                sent += 1;
                if sent == BATCH {
                    break;
                }
                next = match outbox.try_recv() {
                    Ok(m) => Next::Out(Some(m)),
                    Err(mpsc::error::TryRecvError::Disconnected) => Next::Out(None),
                    Err(mpsc::error::TryRecvError::Empty) => match following.as_mut().map(|f| f.events.try_recv()) {
                        Some(Ok(p)) => Next::Event(Ok(p)),
                        Some(Err(broadcast::error::TryRecvError::Lagged(n))) => Next::Event(Err(broadcast::error::RecvError::Lagged(n))),
                        Some(Err(broadcast::error::TryRecvError::Closed)) => Next::Event(Err(broadcast::error::RecvError::Closed)),
                        Some(Err(broadcast::error::TryRecvError::Empty)) | None => break,
                    },
                };
            }
            outlet.flush().await?;
        }
    }
    .await;
    match result {
        Ok(()) => {
            let _ = outlet.flush().await;
        }
        Err(e) => tracing::debug!(error = %e, "delivery stopped"),
    }
}

/// Whether an event may change the follower's own place in the meeting
/// (their role, membership, or being in it at all), or what they may read:
/// a meeting's state secrets are collected when it closes (see `can_read`),
/// so a participant following then is given the meeting without them.
fn own_change(f: &Following, change: &gavel_shared::protocol::Change) -> bool {
    let Some(me) = f.actor.participant() else { return false };
    change.view_of() == Some(me)
        || (matches!(change, gavel_shared::protocol::Change::MeetingClosed) && collects_secrets(&f.handle.latest()))
}

/// Whether the meeting has state secrets, which its participants no
/// longer read once it is closed: a copy made before the close is given the meeting anew,
/// whether its follower was there at the close or comes back after it
/// (the events alone leave the secrets' titles, hashes and sizes in it).
fn collects_secrets(state: &MeetingState) -> bool {
    state.documents.iter().any(|d| d.confidentiality == gavel_shared::model::Confidentiality::Secret)
}

/// The follower's place in the meeting changed. Removed: told as a revoked
/// session (a tablet forgets what it kept), and the connection ends
/// (`false`). Otherwise the meeting as they now may see it, as a snapshot
/// (what the old view was not shown never reached their copy, and what it
/// was shown and the new one is not must leave it), after a welcome naming
/// their new role if it is one.
async fn renew_view(outlet: &mut impl Outlet, f: &mut Following) -> anyhow::Result<bool> {
    let state = f.handle.latest();
    if let Actor::Participant { participant, .. } = f.actor
        && state.participant(participant).is_none()
    {
        let m = ServerMessage::Error { key: None, code: "revoked".into(), message: Error::Revoked.public_message() };
        outlet.queue(encoded(&m)).await?;
        outlet.close(4001, "removed from the meeting").await;
        return Ok(false);
    }
    if let Actor::Participant { meeting, participant, role } = f.actor
        && let Some(now) = state.participant(participant).map(|p| p.role).filter(|r| *r != role)
    {
        f.actor = Actor::Participant { meeting, participant, role: now };
        let welcome = ServerMessage::Welcome { version: PROTOCOL_VERSION, actor: f.actor, server_time: store::now() };
        outlet.queue(encoded(&welcome)).await?;
    }
    outlet.queue(f.handle.snapshots.encoded_for(&state, &f.actor)).await?;
    f.seq = state.seq;
    Ok(true)
}

/// Sends a client that starts following what it missed (from memory, else
/// from the log) or a snapshot; every event after it will come from the
/// returned receiver.
async fn start_following(
    app: &AppState,
    outlet: &mut impl Outlet,
    handle: Arc<MeetingHandle>,
    actor: Actor,
    last_seq: Option<u64>,
) -> anyhow::Result<Following> {
    let Subscription { state: start, events, missed } = handle.subscribe(last_seq).await;
    // A copy made before the follower's own role or membership changed is
    // not brought up to date event by event: it gets a snapshot.
    let me = actor.participant();
    // Nor one of a participant, once the meeting has closed and collected
    // its secrets (a copy made before the close still lists them).
    let collected = me.is_some() && start.meeting.status == gavel_shared::model::MeetingStatus::Closed && collects_secrets(&start);
    let missed = missed.filter(|m| me.is_none() || !m.iter().any(|m| m.view_of() == me)).filter(|_| !collected);
    match (last_seq, missed) {
        (_, Some(missed)) => {
            for m in missed {
                match m {
                    Missed::Same { text, .. } => outlet.queue(text).await?,
                    Missed::PerViewer(e) => send_event(outlet, &start, &actor, &e).await?,
                }
            }
        }
        (Some(n), None) if n <= start.seq && start.seq - n <= REPLAY_LIMIT as u64 && !collected => {
            // Replayed events are filtered against the state now (reader
            // lists only ever matter as of now).
            let log = store::events_after(&app.db, handle.id, n, REPLAY_LIMIT as u32 + 1).await?;
            let log: Vec<&Event> = log.iter().filter(|e| e.seq <= start.seq).collect();
            if me.is_some() && log.iter().any(|e| e.change.view_of() == me) {
                outlet.queue(handle.snapshots.encoded_for(&start, &actor)).await?;
            } else {
                for e in log {
                    send_event(outlet, &start, &actor, e).await?;
                }
            }
        }
        _ => outlet.queue(handle.snapshots.encoded_for(&start, &actor)).await?,
    }
    Ok(Following { handle, actor, events, seq: start.seq })
}

fn encoded(msg: &ServerMessage) -> Bytes {
    Bytes::from(protocol::encode(msg))
}

async fn send_event(outlet: &mut impl Outlet, state: &MeetingState, actor: &Actor, e: &Event) -> anyhow::Result<()> {
    outlet.queue(encoded(&ServerMessage::Event { event: state.event_for(actor, e) })).await
}

/// Sends the events after the last one sent from the log; says whether
/// one of them changed the follower's own view (see [`renew_view`]).
async fn catch_up(app: &AppState, outlet: &mut impl Outlet, f: &mut Following) -> anyhow::Result<bool> {
    let mut own = false;
    loop {
        // The state first, and no event past it: one written but not yet
        // published would be filtered against the state before it (a
        // document added shown as hidden to its own reader), and its
        // publication, the right form, is on its way to this follower.
        let state = f.handle.latest();
        let mut events = store::events_after(&app.db, f.handle.id, f.seq, 500).await?;
        events.retain(|e| e.seq <= state.seq);
        if events.is_empty() {
            return Ok(own);
        }
        for e in &events {
            send_event(outlet, &state, &f.actor, e).await?;
            f.seq = e.seq;
            own |= own_change(f, &e.change);
        }
    }
}
