//! `/ws`: a [`crate::session`] over WebSocket, for browsers. The session
//! (cookie or bearer) is checked before the upgrade.

use crate::AppState;
use crate::auth::Auth;
use crate::error::Error;
use crate::session::{self, Inbound, OUTBOX, Outbound};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use gavel_shared::model::Actor;
use tokio::sync::mpsc;

/// Frames larger than this close the connection (the protocol limit, far
/// lower, is answered with an error and the connection stays).
const MAX_FRAME: usize = 4 * 1024 * 1024;

/// Upgrades to a WebSocket; the session (cookie or bearer) is checked first.
pub async fn handler(
    State(app): State<AppState>,
    auth: Result<Auth, Error>,
    parts: axum::http::request::Parts,
    ws: WebSocketUpgrade,
) -> Result<Response, Error> {
    let Auth(actor) = auth?;
    let peer = crate::http::peer_of(&parts.extensions);
    let slot = match peer {
        Some(p) => Some(app.connections.open(p.ip()).ok_or(Error::TooManyConnections)?),
        None => None,
    };
    // Small buffers: most clients sit idle between events, and tungstenite's
    // defaults (128 KiB each way) would cost far more memory per tablet than
    // the rest of its session. They grow for the rare large message.
    Ok(ws.max_message_size(MAX_FRAME).max_frame_size(MAX_FRAME).read_buffer_size(4 * 1024).write_buffer_size(4 * 1024).on_upgrade(
        move |socket| async move {
            connection(app, actor, peer, socket).await;
            drop(slot);
        },
    ))
}

async fn connection(app: AppState, actor: Actor, peer: Option<std::net::SocketAddr>, socket: WebSocket) {
    let (mut sink, stream) = socket.split();
    let (out, mut outbox) = mpsc::channel::<Outbound>(OUTBOX);
    let writer = tokio::spawn(async move {
        // Queue everything waiting, then flush once: a burst of events costs
        // one write to the socket, not one per event.
        'out: while let Some(first) = outbox.recv().await {
            let mut next = Some(first);
            let mut queued = 0;
            while let Some(m) = next.take() {
                let (frame, closing) = match m {
                    Outbound::Text(t) => (Message::Text(Utf8Bytes::from(t)), false),
                    Outbound::Close(code, reason) => {
                        (Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::from_static(reason) })), true)
                    }
                };
                if sink.feed(frame).await.is_err() || closing {
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
    // Text frames go to the session; pings are answered by the library.
    let inbound =
        stream.take_while(|m| futures_util::future::ready(matches!(m, Ok(m) if !matches!(m, Message::Close(_))))).filter_map(|m| {
            futures_util::future::ready(match m {
                Ok(Message::Text(t)) => Some(Inbound::Text(t.to_string())),
                Ok(Message::Binary(_)) => Some(Inbound::Binary),
                _ => None,
            })
        });
    session::run(app, Some(actor), peer, Box::pin(inbound), out).await;
    let _ = writer.await;
}
