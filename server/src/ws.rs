//! `/ws`: the same commands and events as the protocol in `gavel-shared`,
//! for browsers.
//!
//! A connection is a reader (this task) and a writer task joined by a
//! bounded channel. After `hello`, a follower task sends the events the
//! client missed (from the log) or a snapshot, then every new event, each as
//! the client may see it. A client that reads too slowly makes its follower
//! wait; the broadcast then reports it lagging and the follower catches up
//! from the log, so no memory grows with a stalled client.

use crate::auth::Auth;
use crate::error::Error;
use crate::meeting::{MeetingHandle, Op};
use crate::{AppState, store};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use gavel_shared::model::*;
use gavel_shared::protocol::{self, ClientMessage, Event, PROTOCOL_VERSION, ServerMessage};
use gavel_shared::state::MeetingState;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

/// A reconnecting client further behind than this gets a snapshot.
const REPLAY_LIMIT: u64 = 500;
/// Frames larger than this close the connection (the protocol limit, far
/// lower, is answered with an error and the connection stays).
const MAX_FRAME: usize = 4 * 1024 * 1024;
/// Messages queued for one client's socket.
const OUTBOX: usize = 256;

/// Upgrades to a WebSocket; the session (cookie or bearer) is checked first.
pub async fn handler(State(app): State<AppState>, auth: Result<Auth, Error>, ws: WebSocketUpgrade) -> Result<Response, Error> {
    let Auth(actor) = auth?;
    Ok(ws.max_message_size(MAX_FRAME).max_frame_size(MAX_FRAME).on_upgrade(move |socket| connection(app, actor, socket)))
}

fn text(msg: &ServerMessage) -> Message {
    Message::Text(Utf8Bytes::from(protocol::encode(msg)))
}

fn error(key: Option<String>, code: &str, message: impl Into<String>) -> Message {
    text(&ServerMessage::Error { key, code: code.into(), message: message.into() })
}

#[tracing::instrument(skip_all, fields(actor = ?actor))]
async fn connection(app: AppState, actor: Actor, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (out, mut outbox) = mpsc::channel::<Message>(OUTBOX);
    let writer = tokio::spawn(async move {
        // Queue everything waiting, then flush once: a burst of events costs
        // one write to the socket, not one per event.
        'out: while let Some(first) = outbox.recv().await {
            let mut next = Some(first);
            let mut queued = 0;
            while let Some(m) = next.take() {
                let closing = matches!(m, Message::Close(_));
                if sink.feed(m).await.is_err() || closing {
                    let _ = sink.flush().await;
                    break 'out;
                }
                queued += 1;
                if queued < OUTBOX {
                    next = outbox.try_recv().ok();
                }
            }
            if sink.flush().await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let mut shutdown = app.shutdown.clone();
    let mut following: Option<(Arc<MeetingHandle>, JoinHandle<()>)> = None;
    tracing::debug!("connected");
    loop {
        let msg = tokio::select! {
            _ = stopping(&mut shutdown) => {
                let frame = CloseFrame { code: 1001, reason: Utf8Bytes::from_static("server shutting down") };
                let _ = out.send(Message::Close(Some(frame))).await;
                break;
            }
            msg = stream.next() => msg,
        };
        let text_in = match msg {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Binary(_))) => {
                let _ = out.send(error(None, "malformed_message", "send JSON text frames")).await;
                continue;
            }
            Some(Ok(_)) => continue, // pings are answered by the library
        };
        let reply = match protocol::decode_client(text_in.as_str()) {
            Err(e) => Some(error(None, e.code(), e.to_string())),
            Ok(ClientMessage::Ping { nonce }) => Some(text(&ServerMessage::Pong { nonce, server_time: store::now() })),
            Ok(ClientMessage::Hello { meeting, last_seq, version }) => {
                if version != PROTOCOL_VERSION {
                    Some(error(None, "unsupported_version", format!("this server speaks protocol version {PROTOCOL_VERSION}")))
                } else if following.is_some() {
                    Some(error(None, "already_following", "this connection already follows a meeting"))
                } else if !actor.can_follow(meeting) {
                    Some(error(None, "forbidden", "you are not a participant of this meeting"))
                } else {
                    match app.meetings.get(meeting).await {
                        Err(e) => Some(error(None, e.code(), e.public_message())),
                        Ok(handle) => {
                            let welcome = ServerMessage::Welcome { version: PROTOCOL_VERSION, actor, server_time: store::now() };
                            let _ = out.send(text(&welcome)).await;
                            let task = tokio::spawn(follow(app.clone(), handle.clone(), actor, last_seq, out.clone()));
                            following = Some((handle, task));
                            None
                        }
                    }
                }
            }
            Ok(ClientMessage::Command { key, command }) => match &following {
                None => Some(error(Some(key), "hello_first", "send hello before commands")),
                Some((handle, _)) => match handle.execute(actor, &key, Op::Command(command)).await {
                    Ok(o) => Some(text(&ServerMessage::Ack { key, seq: o.seq, result: o.result })),
                    Err(e) => {
                        if let Error::Internal(cause) = &e {
                            tracing::error!(error = ?cause, "command failed");
                        }
                        Some(error(Some(key), e.code(), e.public_message()))
                    }
                },
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
    drop(out);
    let _ = writer.await;
    tracing::debug!("disconnected");
}

/// Resolves when the server starts shutting down.
async fn stopping(rx: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Sends a client what it missed, then every new event, in `seq` order.
async fn follow(app: AppState, handle: Arc<MeetingHandle>, actor: Actor, last_seq: Option<u64>, out: mpsc::Sender<Message>) {
    let (mut copy, mut rx) = handle.subscribe().await;
    let result: anyhow::Result<()> = async {
        match last_seq {
            Some(n) if n <= copy.seq && copy.seq - n <= REPLAY_LIMIT => {
                // `copy` is the state at `copy.seq`; the replayed events are
                // filtered against it (reader lists only ever matter as of now).
                let events = store::events_after(&app.db, handle.id, n, REPLAY_LIMIT as u32 + 1).await?;
                for e in events.iter().filter(|e| e.seq <= copy.seq) {
                    send_event(&out, &copy, &actor, e).await?;
                }
            }
            _ => {
                let snapshot = ServerMessage::Snapshot { state: copy.visible_to(&actor) };
                out.send(text(&snapshot)).await?;
            }
        }
        loop {
            match rx.recv().await {
                Ok(e) => forward(&out, &mut copy, &actor, &e).await?,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "slow client: catching up from the log");
                    catch_up(&app, &handle, &out, &mut copy, &actor).await?;
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

async fn send_event(out: &mpsc::Sender<Message>, state: &MeetingState, actor: &Actor, e: &Event) -> anyhow::Result<()> {
    out.send(text(&ServerMessage::Event { event: state.event_for(actor, e) })).await?;
    Ok(())
}

async fn forward(out: &mpsc::Sender<Message>, copy: &mut MeetingState, actor: &Actor, e: &Event) -> anyhow::Result<()> {
    if e.seq <= copy.seq {
        return Ok(());
    }
    copy.apply(e)?;
    send_event(out, copy, actor, e).await
}

async fn catch_up(
    app: &AppState,
    handle: &MeetingHandle,
    out: &mpsc::Sender<Message>,
    copy: &mut MeetingState,
    actor: &Actor,
) -> anyhow::Result<()> {
    loop {
        let events = store::events_after(&app.db, handle.id, copy.seq, 500).await?;
        if events.is_empty() {
            return Ok(());
        }
        for e in &events {
            forward(out, copy, actor, e).await?;
        }
    }
}
