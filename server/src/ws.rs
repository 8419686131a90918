//! `/ws`: a [`crate::session`] over WebSocket, for browsers. The session
//! (cookie or bearer) is checked before the upgrade.

use crate::AppState;
use crate::auth::Auth;
use crate::error::Error;
use crate::session::{self, Inbound, OUTBOX, Outbound};
use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use gavel_shared::model::Actor;
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// Frames larger than this close the connection (the protocol limit, far
/// lower, is answered with an error and the connection stays).
const MAX_FRAME: usize = 4 * 1024 * 1024;

/// Larger messages go out in fragments of this size.
///
/// tungstenite formats each frame whole into its write buffer, which keeps
/// the size of the largest frame it ever sent: a meeting of 2,000 people
/// has a 250 KB snapshot, and every idle browser held a 250 KB buffer for
/// the life of its connection. In fragments (which browsers and WebSocket
/// libraries join back into one message), no buffer outgrows this.
pub const FRAGMENT: usize = 16 * 1024;

/// Upgrades to a WebSocket; the session (cookie or bearer) is checked first.
pub async fn handler(State(app): State<AppState>, auth: Result<Auth, Error>, mut req: Request) -> Result<Response, Error> {
    let Auth(actor) = auth?;
    // tungstenite checks the handshake (GET, HTTP/1.1, Connection: upgrade,
    // Upgrade: websocket, version 13, a key) and makes the 101 answer.
    let mut probe = axum::http::Request::new(());
    *probe.method_mut() = req.method().clone();
    *probe.version_mut() = req.version();
    *probe.headers_mut() = req.headers().clone();
    let switching = tokio_tungstenite::tungstenite::handshake::server::create_response(&probe)
        .map_err(|e| Error::bad_request("not_websocket", format!("this address takes a WebSocket connection: {e}")))?;
    let Some(on_upgrade) = req.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
        return Err(Error::bad_request("not_websocket", "this connection cannot be upgraded"));
    };
    let peer = crate::http::peer_of(req.extensions());
    let slot = match peer {
        Some(p) => Some(app.connections.open(p.ip()).ok_or(Error::TooManyConnections)?),
        None => None,
    };
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => return tracing::debug!(error = %e, "WebSocket upgrade failed"),
        };
        // Small buffers: most clients sit idle between events, and
        // tungstenite's defaults (128 KiB each way) would cost far more
        // memory per tablet than the rest of its session.
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_FRAME))
            .max_frame_size(Some(MAX_FRAME))
            .read_buffer_size(4 * 1024)
            .write_buffer_size(4 * 1024);
        let socket = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
        connection(app, actor, peer, socket).await;
        drop(slot);
    });
    Ok(switching.map(|()| axum::body::Body::empty()))
}

/// The frames of one text message: one frame, or fragments of at most
/// [`FRAGMENT`] bytes cut at character boundaries. The frames share the
/// message's buffer.
pub fn text_frames(text: Bytes) -> Result<Vec<Message>, std::str::Utf8Error> {
    if text.len() <= FRAGMENT {
        return Ok(vec![Message::Text(Utf8Bytes::try_from(text)?)]);
    }
    std::str::from_utf8(&text)?;
    let mut frames = vec![];
    let mut at = 0;
    while at < text.len() {
        let mut cut = (at + FRAGMENT).min(text.len());
        // A UTF-8 continuation byte is 0b10xx_xxxx: back off to a character's start.
        while cut < text.len() && text[cut] & 0xC0 == 0x80 {
            cut -= 1;
        }
        let opcode = OpCode::Data(if at == 0 { Data::Text } else { Data::Continue });
        frames.push(Message::Frame(Frame::message(text.slice(at..cut), opcode, cut == text.len())));
        at = cut;
    }
    Ok(frames)
}

/// The WebSocket's sending half, for [`session::deliver`].
struct Outlet(SplitSink<WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>, Message>);

impl session::Outlet for Outlet {
    async fn queue(&mut self, text: Bytes) -> anyhow::Result<()> {
        for frame in text_frames(text)? {
            self.0.feed(frame).await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        Ok(self.0.flush().await?)
    }

    async fn close(&mut self, code: u16, reason: &'static str) {
        let frame = CloseFrame { code: CloseCode::from(code), reason: reason.into() };
        let _ = self.0.send(Message::Close(Some(frame))).await;
        let _ = self.0.close().await;
    }
}

async fn connection(
    app: AppState,
    actor: Actor,
    peer: Option<std::net::SocketAddr>,
    socket: WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>,
) {
    let (sink, stream) = socket.split();
    let (out, outbox) = mpsc::channel::<Outbound>(OUTBOX);
    let delivery = tokio::spawn(session::deliver(app.clone(), outbox, Outlet(sink)));
    // Text messages go to the session; pings are answered by the library.
    // A frame or message over the limit is refused by the library as it is
    // announced: said to the client as over QUIC (then the session closes
    // with 1009), instead of the socket simply dropping.
    let inbound = stream
        .map(|m| match m {
            Ok(Message::Text(t)) => Some(Some(Inbound::Text(t.to_string()))),
            Ok(Message::Binary(_)) => Some(Some(Inbound::Binary)),
            Ok(Message::Close(_)) => None,
            Ok(_) => Some(None),
            Err(tokio_tungstenite::tungstenite::Error::Capacity(_)) => Some(Some(Inbound::TooLarge { limit: MAX_FRAME })),
            Err(_) => None,
        })
        .take_while(|m| futures_util::future::ready(m.is_some()))
        .filter_map(|m| futures_util::future::ready(m.flatten()));
    session::run(app, Some(actor), peer, Box::pin(inbound), out).await;
    let _ = delivery.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_message_goes_in_fragments_cut_between_characters() {
        assert!(matches!(&text_frames(Bytes::from("nhỏ")).unwrap()[..], [Message::Text(t)] if t.as_str() == "nhỏ"));
        let big = "Nguyễn Thị Ánh, Đại biểu; ".repeat(3000);
        let frames = text_frames(Bytes::from(big.clone())).unwrap();
        assert!(frames.len() > 4);
        let mut joined = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            let Message::Frame(f) = f else { panic!("frame {i} is not a fragment") };
            assert!(f.payload().len() <= FRAGMENT);
            assert_eq!(f.header().is_final, i == frames.len() - 1);
            let want = if i == 0 { Data::Text } else { Data::Continue };
            assert_eq!(f.header().opcode, OpCode::Data(want));
            assert!(std::str::from_utf8(f.payload()).is_ok(), "each piece ends on a character boundary");
            joined.extend_from_slice(f.payload());
        }
        assert_eq!(joined, big.as_bytes());
    }
}
