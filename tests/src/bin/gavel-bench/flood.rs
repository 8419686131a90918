//! A flood from one address: a rogue device on the Wi-Fi opens more
//! connections than one address may hold, floods messages on some and sends
//! oversized messages on others, while the room's delegates follow the
//! chair's agenda moves. Their fan-out p99 beside the same run without the
//! flood; every move must still reach every delegate.
//!
//! This room runs with the default-like limits the flood meets (connections
//! per address, messages per second), raised just enough for the delegates,
//! who all share 127.0.0.1; the flooder comes from 127.0.0.2.

use crate::common::*;
use crate::fanout::{Audience, Transport, run_moves};
use futures_util::{SinkExt, StreamExt};
use gavel_shared::model::MeetingId;
use gavel_shared::protocol::{self, ClientMessage, PROTOCOL_VERSION};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// What the flooder managed to do.
#[derive(Default)]
struct Tally {
    refused_connections: AtomicUsize,
    held_connections: AtomicUsize,
    messages_sent: AtomicUsize,
    oversized_sent: AtomicUsize,
    cut_off: AtomicUsize,
}

/// Floods until `stop`: `connections` sockets held idle, four flooding
/// pings, two sending 100 KiB messages; a flooder cut off comes back.
fn flood(
    room: RoomAddr,
    meeting: MeetingId,
    token: String,
    connections: usize,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut held = vec![];
        for _ in 0..connections {
            match room.socket(&token).await {
                Ok(ws) => {
                    tally.held_connections.fetch_add(1, Ordering::Relaxed);
                    held.push(ws);
                }
                Err(_) => {
                    tally.refused_connections.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        // Free a few of the held slots for the noisy ones.
        held.truncate(held.len().saturating_sub(6));
        let mut noisy = vec![];
        for k in 0..6 {
            let (token, stop, tally) = (token.clone(), stop.clone(), tally.clone());
            noisy.push(tokio::spawn(async move {
                let hello = protocol::encode(&ClientMessage::Hello { meeting, last_seq: None, version: PROTOCOL_VERSION });
                let big = format!("{{\"type\":\"ping\",\"nonce\":1,\"pad\":\"{}\"}}", "x".repeat(protocol::MAX_MESSAGE_BYTES));
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut ws) = room.socket(&token).await else {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    let _ = ws.send(Message::Text(hello.clone().into())).await;
                    // Read and drop whatever comes back, so the socket is not the bottleneck.
                    let (mut sink, mut stream) = ws.split();
                    let drain = tokio::spawn(async move { while let Some(Ok(_)) = stream.next().await {} });
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let sent = if k < 4 {
                            let ping = protocol::encode(&ClientMessage::Ping { nonce: n });
                            tally.messages_sent.fetch_add(1, Ordering::Relaxed);
                            sink.send(Message::Text(ping.into())).await
                        } else {
                            tally.oversized_sent.fetch_add(1, Ordering::Relaxed);
                            sink.send(Message::Text(big.clone().into())).await
                        };
                        if sent.is_err() {
                            tally.cut_off.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        if n.is_multiple_of(64) {
                            tokio::task::yield_now().await;
                        }
                    }
                    drain.abort();
                }
            }));
        }
        for t in noisy {
            let _ = t.await;
        }
        drop(held);
    })
}

/// The room's address, as the flooder reaches it: from 127.0.0.2.
#[derive(Clone, Copy)]
struct RoomAddr(std::net::SocketAddr);

impl RoomAddr {
    /// A WebSocket signed in with `token`.
    async fn socket(&self, token: &str) -> anyhow::Result<crate::fanout::WsStream> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind("127.0.0.2:0".parse()?)?;
        let tcp = socket.connect(self.0).await?;
        tcp.set_nodelay(true)?;
        let mut req = format!("ws://{}/ws", self.0).into_client_request()?;
        req.headers_mut().insert("authorization", format!("Bearer {token}").parse()?);
        let (ws, _) = tokio_tungstenite::client_async(req, tokio_tungstenite::MaybeTlsStream::Plain(tcp)).await?;
        Ok(ws)
    }
}

/// The case: `n` delegates, `moves` agenda moves, with and without the flood.
pub async fn flood_case(n: usize, moves: usize) -> anyhow::Result<Vec<Row>> {
    let per_address = 64;
    let cap = (n + 8).max(per_address).to_string();
    let room = Room::start(&[
        "--max-connections-per-address",
        &cap,
        "--max-http-connections-per-address",
        &cap,
        "--max-messages-per-second",
        "2000",
    ])
    .await?;
    let d = Delegates::build(&room, n + 1).await?;
    let (delegates, rogue) = (&d.tokens[..n], d.tokens[n].1.clone());
    // The flooder's address can reach the room at all.
    drop(RoomAddr(room.http).socket(&rogue).await?);

    let audience = Audience::connect(&room, &d, delegates, Transport::Ws).await?;
    let (mut calm, _) = run_moves(&room, &d, audience, moves).await?;
    calm.sort();

    let (stop, tally) = (Arc::new(AtomicBool::new(false)), Arc::new(Tally::default()));
    let limit = (n + 8).max(per_address);
    let flooder = flood(RoomAddr(room.http), d.meeting, rogue, limit + 200, stop.clone(), tally.clone());
    // Let the flood get going before the moves.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let audience = Audience::connect(&room, &d, delegates, Transport::Ws).await?;
    let (mut flooded, missing) = run_moves(&room, &d, audience, moves).await?;
    flooded.sort();
    stop.store(true, Ordering::Relaxed);
    let _ = tokio::time::timeout(Duration::from_secs(10), flooder).await;
    let refused = tally.refused_connections.load(Ordering::Relaxed);
    anyhow::ensure!(refused > 0, "the room took every one of the flooder's {} connections", limit + 200);
    let (c99, f99) = (percentile(&calm, 0.99), percentile(&flooded, 0.99));
    Ok(vec![Row::new(
        format!("flood from one address: fan-out p99 of {n} delegates (WebSocket) while another address floods"),
        format!(
            "{:.2} ms (dropped {missing}); the flooder: {} connections held, {refused} refused, {} messages and {} oversized sent, cut off {} times",
            ms(f99),
            tally.held_connections.load(Ordering::Relaxed),
            tally.messages_sent.load(Ordering::Relaxed),
            tally.oversized_sent.load(Ordering::Relaxed),
            tally.cut_off.load(Ordering::Relaxed)
        ),
        format!("{:.2} ms without the flood", ms(c99)),
        ratio(ms(f99), ms(c99)),
    )])
}
