//! One client's session, whatever carries it (WebSocket or a QUIC control
//! stream): sign-in (for native clients), `hello`, then commands in and
//! acknowledgements and events out, in `seq` order.
//!
//! The transport hands in decoded text frames and takes [`Outbound`]
//! messages from a bounded channel. After `hello`, a follower task sends the
//! events the client missed (from the log) or a snapshot, then every new
//! event, each as the client may see it. A client that reads too slowly makes
//! its follower wait; the broadcast then reports it lagging and the follower
//! catches up from the log, so no memory grows with a stalled client.

use crate::error::Error;
use crate::meeting::{MeetingHandle, Op};
use crate::{AppState, auth, store};
use futures_util::{Stream, StreamExt};
use gavel_shared::model::*;
use gavel_shared::protocol::{self, ClientMessage, Event, PROTOCOL_VERSION, ServerMessage};
use gavel_shared::state::MeetingState;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

/// A reconnecting client further behind than this gets a snapshot.
const REPLAY_LIMIT: u64 = 500;
/// Messages queued for one client.
pub const OUTBOX: usize = 256;

/// What a transport received.
#[derive(Debug)]
pub enum Inbound {
    Text(String),
    /// A frame that is not text (refused with an error, the session goes on).
    Binary,
}

/// What a transport sends.
#[derive(Debug)]
pub enum Outbound {
    Text(String),
    /// Close the connection (code, reason), after what is queued.
    Close(u16, &'static str),
}

fn text(msg: &ServerMessage) -> Outbound {
    Outbound::Text(protocol::encode(msg))
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
    let mut following: Option<(Arc<MeetingHandle>, JoinHandle<()>)> = None;
    let mut rate = crate::limits::Rate::new(app.config.max_messages_per_second);
    tracing::debug!("connected");
    loop {
        let msg = tokio::select! {
            _ = stopping(&mut shutdown) => {
                let _ = out.send(Outbound::Close(1001, "server shutting down")).await;
                break;
            }
            msg = inbound.next() => msg,
            r = revoked.recv() => {
                let gone = match r {
                    Ok(p) => actor.and_then(|a| a.participant()) == Some(p),
                    Err(broadcast::error::RecvError::Lagged(_)) => false,
                    Err(broadcast::error::RecvError::Closed) => false,
                };
                if gone {
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
        };
        let reply = match protocol::decode_client(&text_in) {
            Err(e) => Some(error(None, e.code(), e.to_string())),
            Ok(ClientMessage::Ping { nonce }) => Some(text(&ServerMessage::Pong { nonce, server_time: store::now() })),
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
                        let task = tokio::spawn(follow(app.clone(), handle.clone(), who, last_seq, out.clone()));
                        following = Some((handle, task));
                        None
                    }
                },
            },
            Ok(ClientMessage::Command { key, command }) => match (&following, actor) {
                (Some((handle, _)), Some(who)) => match handle.execute(who, &key, Op::Command(command)).await {
                    Ok(o) => Some(text(&ServerMessage::Ack { key, seq: o.seq, result: o.result })),
                    Err(e) => {
                        if let Error::Internal(cause) = &e {
                            tracing::error!(error = ?cause, "command failed");
                        }
                        Some(error(Some(key), e.code(), e.public_message()))
                    }
                },
                _ => Some(error(Some(key), "hello_first", "send hello before commands")),
            },
            Ok(ClientMessage::Unknown) => Some(error(None, "unknown_message", "this server does not know that message type")),
        };
        if let Some(reply) = reply {
            if out.send(reply).await.is_err() {
                break;
            }
        }
    }
    if let Some((_, task)) = following {
        task.abort();
    }
    tracing::debug!("disconnected");
}

/// Sends a client what it missed, then every new event, in `seq` order,
/// each as the client may see it. The follower keeps no state of its own:
/// each published event comes with the meeting's shared state after it.
async fn follow(app: AppState, handle: Arc<MeetingHandle>, actor: Actor, last_seq: Option<u64>, out: mpsc::Sender<Outbound>) {
    let (start, mut rx) = handle.subscribe().await;
    let result: anyhow::Result<()> = async {
        let mut seq = start.seq;
        match last_seq {
            Some(n) if n <= start.seq && start.seq - n <= REPLAY_LIMIT => {
                // Replayed events are filtered against the state now (reader
                // lists only ever matter as of now).
                let events = store::events_after(&app.db, handle.id, n, REPLAY_LIMIT as u32 + 1).await?;
                for e in events.iter().filter(|e| e.seq <= start.seq) {
                    send_event(&out, &start, &actor, e).await?;
                }
            }
            _ => {
                let snapshot = ServerMessage::Snapshot { state: start.visible_to(&actor) };
                out.send(text(&snapshot)).await?;
            }
        }
        drop(start);
        loop {
            match rx.recv().await {
                Ok(p) => {
                    if p.event.seq > seq {
                        match &p.encoded {
                            Some(text) => out.send(Outbound::Text(text.to_string())).await?,
                            None => send_event(&out, &p.state, &actor, &p.event).await?,
                        }
                        seq = p.event.seq;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "slow client: catching up from the log");
                    seq = catch_up(&app, &handle, &out, seq, &actor).await?;
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            }
        }
    }
    .await;
    if let Err(e) = result {
        tracing::debug!(error = %e, "follower stopped");
    }
}

async fn send_event(out: &mpsc::Sender<Outbound>, state: &MeetingState, actor: &Actor, e: &Event) -> anyhow::Result<()> {
    out.send(text(&ServerMessage::Event { event: state.event_for(actor, e) })).await?;
    Ok(())
}

/// Sends the events after `seq` from the log; returns the last one sent.
async fn catch_up(
    app: &AppState,
    handle: &MeetingHandle,
    out: &mpsc::Sender<Outbound>,
    mut seq: u64,
    actor: &Actor,
) -> anyhow::Result<u64> {
    loop {
        let events = store::events_after(&app.db, handle.id, seq, 500).await?;
        if events.is_empty() {
            return Ok(seq);
        }
        let state = handle.latest();
        for e in &events {
            send_event(out, &state, actor, e).await?;
            seq = e.seq;
        }
    }
}
