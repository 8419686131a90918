//! Live fan-out: the chair moves the agenda; how long until every delegate
//! has the move, over WebSocket and over QUIC, beside the same fan-out
//! through a Mosquitto broker. Also the server's memory per idle client,
//! and what one stalled delegate costs the others.

use crate::common::*;
use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use gavel_shared::model::*;
use gavel_shared::protocol::{self, ClientMessage, Command, PROTOCOL_VERSION, ServerMessage};
use serde::Deserialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Enough of a server message to time it.
#[derive(Deserialize)]
struct Peek {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    event: Option<PeekEvent>,
}

#[derive(Deserialize)]
struct PeekEvent {
    seq: u64,
    #[serde(rename = "type")]
    change: String,
}

/// What one delegate's reader saw: when each agenda move arrived.
type Arrivals = Vec<(u64, Instant)>;

/// Records agenda moves from a text message; true if it was one.
fn record(text: &str, arrivals: &mut Arrivals, counter: &AtomicUsize) -> bool {
    let Ok(p) = serde_json::from_str::<Peek>(text) else { return false };
    match p.event {
        Some(e) if p.kind == "event" && e.change == "current_item_changed" => {
            arrivals.push((e.seq, Instant::now()));
            counter.fetch_add(1, Ordering::AcqRel);
            true
        }
        _ => false,
    }
}

pub type WsStream = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A delegate on `/ws`, past its snapshot.
pub async fn ws_delegate(room: &Room, token: &str, meeting: MeetingId) -> anyhow::Result<WsStream> {
    let mut req = format!("ws://{}/ws", room.http).into_client_request()?;
    req.headers_mut().insert("authorization", format!("Bearer {token}").parse()?);
    // Like a browser: no Nagle delay on the socket.
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(req, None, true).await?;
    ws.send(Message::Text(protocol::encode(&ClientMessage::Hello { meeting, last_seq: None, version: PROTOCOL_VERSION }).into())).await?;
    loop {
        match tokio::time::timeout(Duration::from_secs(60), ws.next()).await.context("no snapshot")? {
            Some(Ok(Message::Text(t))) if t.contains("\"type\":\"snapshot\"") => return Ok(ws),
            Some(Ok(_)) => {}
            other => bail!("closed before the snapshot: {other:?}"),
        }
    }
}

/// A delegate on QUIC (its own endpoint, as a tablet), past its snapshot.
pub async fn quic_delegate(room: &Room, token: &str, meeting: MeetingId) -> anyhow::Result<gavel_agent::link::Link> {
    let mut l = gavel_agent::link::Link::connect(room.quic, &room.fingerprint, gavel_agent::link::ALPN).await?;
    l.send(&ClientMessage::Resume { token: token.into() }).await?;
    anyhow::ensure!(matches!(l.recv().await?, ServerMessage::SignedIn { .. }), "resume refused");
    l.send(&ClientMessage::Hello { meeting, last_seq: None, version: PROTOCOL_VERSION }).await?;
    loop {
        match tokio::time::timeout(Duration::from_secs(60), l.recv()).await.context("no snapshot")?? {
            ServerMessage::Snapshot { .. } => return Ok(l),
            ServerMessage::Error { code, message, .. } => bail!("{code}: {message}"),
            _ => {}
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Transport {
    Ws,
    Quic,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Ws => "WebSocket",
            Transport::Quic => "QUIC",
        }
    }
}

/// Connected delegates whose readers record agenda moves.
pub struct Audience {
    pub counter: Arc<AtomicUsize>,
    readers: Vec<tokio::task::JoinHandle<Arrivals>>,
    stop: watch::Sender<bool>,
    pub size: usize,
}

impl Audience {
    /// Connects `tokens` over `transport`, 32 at a time.
    pub async fn connect(room: &Room, d: &Delegates, tokens: &[(ParticipantId, String)], transport: Transport) -> anyhow::Result<Audience> {
        let counter = Arc::new(AtomicUsize::new(0));
        let (stop, stop_rx) = watch::channel(false);
        let limit = Arc::new(tokio::sync::Semaphore::new(32));
        let readers = futures_util::future::join_all(tokens.iter().map(|(_, token)| {
            let (limit, counter, mut stop_rx) = (limit.clone(), counter.clone(), stop_rx.clone());
            async move {
                let _p = limit.acquire().await?;
                let handle = match transport {
                    Transport::Ws => {
                        let mut ws = ws_delegate(room, token, d.meeting).await?;
                        tokio::spawn(async move {
                            let mut arrivals = Arrivals::with_capacity(256);
                            loop {
                                tokio::select! {
                                    _ = stop_rx.changed() => break,
                                    m = ws.next() => match m {
                                        Some(Ok(Message::Text(t))) => { record(t.as_str(), &mut arrivals, &counter); }
                                        Some(Ok(_)) => {}
                                        _ => break,
                                    },
                                }
                            }
                            arrivals
                        })
                    }
                    Transport::Quic => {
                        let (send, recv) = quic_delegate(room, token, d.meeting).await?.split();
                        quic_reader(send, recv, stop_rx, counter)
                    }
                };
                anyhow::Ok(handle)
            }
        }))
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Audience { counter, size: readers.len(), readers, stop })
    }

    /// `n` QUIC clients, each connected by `connect` (32 at a time).
    pub async fn with_links<F, Fut>(n: usize, connect: F) -> anyhow::Result<Audience>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<(quinn::SendStream, quinn::RecvStream)>>,
    {
        let counter = Arc::new(AtomicUsize::new(0));
        let (stop, stop_rx) = watch::channel(false);
        let limit = Arc::new(tokio::sync::Semaphore::new(32));
        let readers = futures_util::future::join_all((0..n).map(|_| {
            let (limit, counter, stop_rx, connect) = (limit.clone(), counter.clone(), stop_rx.clone(), &connect);
            async move {
                let _p = limit.acquire().await?;
                let (send, recv) = connect().await?;
                anyhow::Ok(quic_reader(send, recv, stop_rx, counter))
            }
        }))
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Audience { counter, size: readers.len(), readers, stop })
    }

    /// Stops the readers and returns what each saw.
    pub async fn finish(self) -> Vec<Arrivals> {
        let _ = self.stop.send(true);
        let mut out = vec![];
        for r in self.readers {
            out.push(r.await.unwrap_or_default());
        }
        out
    }
}

/// Reads a QUIC client's control stream, recording agenda moves, until stopped.
fn quic_reader(
    send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    mut stop_rx: watch::Receiver<bool>,
    counter: Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<Arrivals> {
    tokio::spawn(async move {
        let _send = send;
        let mut arrivals = Arrivals::with_capacity(256);
        loop {
            // Reading a frame is not cancel-safe, but stopping ends the reader anyway.
            tokio::select! {
                _ = stop_rx.changed() => break,
                f = gavel_agent::link::read_frame(&mut recv, 64 << 20) => match f {
                    Ok(bytes) => { record(std::str::from_utf8(&bytes).unwrap_or(""), &mut arrivals, &counter); }
                    Err(_) => break,
                },
            }
        }
        arrivals
    })
}

/// The chair on its own WebSocket, moving the agenda and waiting for each ack.
pub struct Chair {
    ws: WsStream,
}

impl Chair {
    pub async fn connect(room: &Room, d: &Delegates) -> anyhow::Result<Chair> {
        Ok(Chair { ws: ws_delegate(room, &d.chair_token, d.meeting).await? })
    }

    /// Sends one move; returns its `seq` and when it was sent.
    pub async fn move_agenda(&mut self, d: &Delegates) -> anyhow::Result<(u64, Instant)> {
        // Command keys are per meeting and a repeated key replays the first
        // answer: number the moves across every chair of the run. Move n
        // goes to item n % 2; if the meeting is already there (another
        // meeting, or an odd number of moves before), the next number goes
        // to the other item.
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let key = format!("mv-{n}");
            let cmd = Command::GoToItem { item: d.items[(n + 1) % 2] };
            let sent = Instant::now();
            self.ws.send(Message::Text(protocol::encode(&ClientMessage::Command { key: key.clone(), command: cmd }).into())).await?;
            let seq = loop {
                match tokio::time::timeout(Duration::from_secs(60), self.ws.next()).await.context("no ack")? {
                    Some(Ok(Message::Text(t))) => {
                        if let Ok(ServerMessage::Ack { key: k, seq, .. }) = protocol::decode_server(t.as_str(), usize::MAX) {
                            if k == key {
                                break seq;
                            }
                        } else if t.contains("\"type\":\"error\"") && t.contains(&key) {
                            bail!("move refused: {t}");
                        }
                    }
                    Some(Ok(_)) => {}
                    other => bail!("chair's socket closed: {other:?}"),
                }
            };
            if let Some(seq) = seq {
                return Ok((seq, sent));
            }
        }
    }
}

/// Moves the agenda `moves` times, each once every delegate has the last
/// (or after a second); returns latencies and how many arrivals went missing.
pub async fn run_moves(room: &Room, d: &Delegates, audience: Audience, moves: usize) -> anyhow::Result<(Vec<Duration>, usize)> {
    let mut chair = Chair::connect(room, d).await?;
    time_moves(audience, moves, Publisher::Chair(&mut chair, d)).await
}

/// Who sends the events a fan-out case times.
pub enum Publisher<'a> {
    /// The chair, moving the room's agenda.
    Chair(&'a mut Chair, &'a Delegates),
    /// The bare QUIC broadcaster.
    Bare(&'a mut crate::bare::Bare),
}

impl Publisher<'_> {
    /// Sends one event; returns its `seq` and when it was sent.
    async fn publish(&mut self) -> anyhow::Result<(u64, Instant)> {
        match self {
            Publisher::Chair(chair, d) => chair.move_agenda(d).await,
            Publisher::Bare(bare) => bare.publish().await,
        }
    }
}

/// Publishes `moves` events, each once every reader has the last (or after
/// a second); returns latencies and how many arrivals went missing.
pub async fn time_moves(audience: Audience, moves: usize, mut publisher: Publisher<'_>) -> anyhow::Result<(Vec<Duration>, usize)> {
    let mut sent_at = std::collections::HashMap::new();
    for k in 0..moves {
        let (seq, at) = publisher.publish().await?;
        sent_at.insert(seq, at);
        wait_count(&audience.counter, audience.size * (k + 1), Duration::from_secs(2)).await;
    }
    let size = audience.size;
    // Late is slow, not lost: give the last moves time to arrive.
    wait_count(&audience.counter, size * moves, Duration::from_secs(10)).await;
    let seen = audience.finish().await;
    let mut lat = Vec::with_capacity(size * moves);
    for arrivals in &seen {
        for (seq, at) in arrivals {
            if let Some(t0) = sent_at.get(seq) {
                lat.push(at.duration_since(*t0));
            }
        }
    }
    let missing = size * moves - lat.len();
    anyhow::ensure!(missing == 0, "{missing} of {} agenda moves never reached their delegate", size * moves);
    Ok((lat, missing))
}

/// Mosquitto on a loopback port.
async fn mosquitto() -> anyhow::Result<Baseline> {
    let (port, dir) = Baseline::prepare()?;
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_connections -1\nlog_dest none\nset_tcp_nodelay true\n"
        ),
    )?;
    Baseline::start("mosquitto", &["-c".as_ref(), conf.as_os_str()], port, dir).await
}

/// No Nagle delay on an MQTT client's socket, as on Gavel's clients and server.
fn no_nagle(events: &mut rumqttc::EventLoop) {
    let mut net = events.network_options();
    net.set_tcp_nodelay(true);
    events.set_network_options(net);
}

/// The same fan-out through Mosquitto: `n` subscribers, one publisher,
/// `moves` messages of `size` bytes (QoS 0, as Gavel pushes without a
/// per-message acknowledgement).
pub async fn mqtt_fanout(n: usize, moves: usize, size: usize) -> anyhow::Result<(Vec<Duration>, usize)> {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let broker = mosquitto().await?;
    let counter = Arc::new(AtomicUsize::new(0));
    let subscribed = Arc::new(AtomicUsize::new(0));
    let (stop, stop_rx) = watch::channel(false);
    let mut readers = vec![];
    for i in 0..n {
        let mut opts = MqttOptions::new(format!("delegate-{i}"), "127.0.0.1", broker.port);
        opts.set_keep_alive(Duration::from_secs(60));
        let (client, mut events) = AsyncClient::new(opts, 16);
        no_nagle(&mut events);
        client.subscribe("gavel/agenda", QoS::AtMostOnce).await?;
        let (counter, acked, mut stop_rx) = (counter.clone(), subscribed.clone(), stop_rx.clone());
        readers.push(tokio::spawn(async move {
            let _client = client;
            let mut arrivals = Arrivals::with_capacity(256);
            loop {
                tokio::select! {
                    _ = stop_rx.changed() => break,
                    e = events.poll() => match e {
                        Ok(Event::Incoming(Packet::Publish(p))) if p.payload.len() >= 8 => {
                            let seq = u64::from_be_bytes(p.payload[..8].try_into().expect("8 bytes"));
                            arrivals.push((seq, Instant::now()));
                            counter.fetch_add(1, Ordering::AcqRel);
                        }
                        Ok(Event::Incoming(Packet::SubAck(_))) => { acked.fetch_add(1, Ordering::AcqRel); }
                        Ok(_) => {}
                        Err(_) => break,
                    },
                }
            }
            arrivals
        }));
        if i % 64 == 63 {
            wait_count(&subscribed, i + 1, Duration::from_secs(30)).await;
        }
    }
    anyhow::ensure!(wait_count(&subscribed, n, Duration::from_secs(60)).await, "not every MQTT subscriber was subscribed");
    let (publisher, mut pub_events) = AsyncClient::new(MqttOptions::new("chair", "127.0.0.1", broker.port), 16);
    no_nagle(&mut pub_events);
    let pump = tokio::spawn(async move { while pub_events.poll().await.is_ok() {} });
    let mut sent_at = std::collections::HashMap::new();
    for k in 0..moves {
        let seq = k as u64 + 1;
        let mut payload = vec![b' '; size.max(8)];
        payload[..8].copy_from_slice(&seq.to_be_bytes());
        sent_at.insert(seq, Instant::now());
        publisher.publish("gavel/agenda", QoS::AtMostOnce, false, payload).await?;
        wait_count(&counter, n * (k + 1), Duration::from_secs(2)).await;
    }
    let _ = stop.send(true);
    let mut lat = vec![];
    for r in readers {
        for (seq, at) in r.await.unwrap_or_default() {
            if let Some(t0) = sent_at.get(&seq) {
                lat.push(at.duration_since(*t0));
            }
        }
    }
    pump.abort();
    Ok((lat.clone(), n * moves - lat.len()))
}

/// The size of one agenda-move event as a delegate receives it, measured,
/// so the MQTT baseline carries messages of the same size.
async fn event_size(room: &Room, d: &Delegates) -> anyhow::Result<usize> {
    let mut ws = ws_delegate(room, &d.tokens[0].1, d.meeting).await?;
    let (seq, _) = Chair::connect(room, d).await?.move_agenda(d).await?;
    loop {
        match tokio::time::timeout(Duration::from_secs(60), ws.next()).await.context("no event")? {
            Some(Ok(Message::Text(t))) if t.contains("current_item_changed") && t.contains(&format!("\"seq\":{seq}")) => return Ok(t.len()),
            Some(Ok(_)) => {}
            other => bail!("closed before the event: {other:?}"),
        }
    }
}

/// Fan-out for each transport and size, with memory per idle client, and
/// Mosquitto beside it.
pub async fn fanout(room: &Room, d: &Arc<Delegates>, sizes: &[usize], moves: usize) -> anyhow::Result<Vec<Row>> {
    let mut rows = vec![];
    let size = event_size(room, d).await?;
    let mut bare = crate::bare::Bare::start(size).await?;
    for &n in sizes {
        let (mut mqtt, mqtt_missing) = mqtt_fanout(n, moves, size).await?;
        let mqtt_p99 = {
            mqtt.sort();
            percentile(&mqtt, 0.99)
        };
        let mqtt_text = format!("{} (missing {mqtt_missing})", spread(&mut mqtt));
        for transport in [Transport::Ws, Transport::Quic] {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let before = room.rss()?;
            let audience = Audience::connect(room, d, &d.tokens[..n], transport).await?;
            tokio::time::sleep(Duration::from_secs(1)).await;
            let after = room.rss()?;
            let drops = udp_buffer_drops();
            let (mut lat, missing) = run_moves(room, d, audience, moves).await?;
            let drops = udp_buffer_drops() - drops;
            lat.sort();
            let p99 = percentile(&lat, 0.99);
            let drops =
                if transport == Transport::Quic { format!("; {drops} UDP datagrams lost to full socket buffers") } else { String::new() };
            rows.push(Row::new(
                format!("fan-out, {n} delegates over {}, {moves} agenda moves: p50 / p99 / max (dropped)", transport.name()),
                format!("{} (dropped {missing}{drops})", spread(&mut lat)),
                format!("Mosquitto, {size}-byte messages: {mqtt_text}"),
                format!("p99 {}", ratio(ms(p99), ms(mqtt_p99))),
            ));
            if transport == Transport::Quic {
                let audience = bare.audience(n).await?;
                // The same settling time as Gavel's audience gets above.
                tokio::time::sleep(Duration::from_secs(1)).await;
                let (mut bare_lat, _) = time_moves(audience, moves, Publisher::Bare(&mut bare)).await?;
                bare_lat.sort();
                rows.push(Row::new(
                    format!("fan-out, {n} clients over QUIC through a bare broadcaster (the room's QUIC endpoint and settings, no meeting): p50 / p99 / max"),
                    format!("Gavel: {:.2} ms p99", ms(p99)),
                    format!("bare: {}", spread(&mut bare_lat)),
                    format!("p99 {}", ratio(ms(p99), ms(percentile(&bare_lat, 0.99)))),
                ));
            }
            rows.push(Row::new(
                format!("footprint: server memory with {n} idle {} clients", transport.name()),
                format!("{:.1} MB (+{:.1} KiB per client)", after as f64 / 1e6, (after.saturating_sub(before)) as f64 / 1024.0 / n as f64),
                format!("{:.1} MB with none", before as f64 / 1e6),
                "—",
            ));
            // Let the server close the connections before the next run.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    bare.stop().await;
    Ok(rows)
}

/// One of `n` delegates stops reading its socket: the others' fan-out p99
/// beside a run without it, and the server's memory after the stalled one
/// has missed `missed` events.
pub async fn stalled(room: &Room, d: &Arc<Delegates>, n: usize, moves: usize, missed: usize) -> anyhow::Result<Vec<Row>> {
    let others = &d.tokens[..n - 1];
    let audience = Audience::connect(room, d, others, Transport::Ws).await?;
    let (mut clean, _) = run_moves(room, d, audience, moves).await?;
    clean.sort();

    let stalled_ws = ws_delegate(room, &d.tokens[n - 1].1, d.meeting).await?; // never read again
    let audience = Audience::connect(room, d, others, Transport::Ws).await?;
    let (mut with_stall, missing) = run_moves(room, d, audience, moves).await?;
    with_stall.sort();
    let before = room.rss()?;
    let mut chair = Chair::connect(room, d).await?;
    for _ in 0..missed {
        chair.move_agenda(d).await?;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = room.rss()?;
    drop(stalled_ws);
    let (c99, s99) = (percentile(&clean, 0.99), percentile(&with_stall, 0.99));
    Ok(vec![
        Row::new(
            format!("stalled client: fan-out p99 of the other {} delegates (WebSocket)", n - 1),
            format!("{:.2} ms with one stalled (dropped {missing})", ms(s99)),
            format!("{:.2} ms without", ms(c99)),
            ratio(ms(s99), ms(c99)),
        ),
        Row::new(
            format!("stalled client: server memory after it missed {missed} events"),
            format!("{:.1} MB", after as f64 / 1e6),
            format!("{:.1} MB before", before as f64 / 1e6),
            ratio(after as f64, before as f64),
        ),
    ])
}
