//! Reconnect storm: the room's Wi-Fi comes back (or every browser reloads
//! the page) and N delegates connect and say `hello` in the same instant,
//! each with no copy of the meeting, so each is owed a snapshot of the
//! meeting as it may see it, over WebSocket (browsers) and QUIC (tablet
//! agents). Time until the last holds its snapshot, and the server's CPU time
//! and peak memory for the storm. Baseline: the same storm of delegates
//! that are up to date (`last_seq` at the meeting's head), who are owed
//! nothing but the welcome: what connecting, signing in and subscribing cost
//! without the snapshot.

use crate::common::*;
use crate::fanout::{Transport, WsStream};
use anyhow::{Context, bail};
use futures_util::future::join_all;
use futures_util::{SinkExt, StreamExt};
use gavel_shared::model::*;
use gavel_shared::protocol::{self, ClientMessage, Command, NewParticipant, PROTOCOL_VERSION, ServerMessage};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// One delegate of the storm: what it was sent, and how long it waited.
struct Arrival {
    took: Duration,
    bytes: usize,
    /// The snapshot, decoded for one delegate in [`CHECK_EVERY`] (decoding
    /// all of them would spend the benchmark's cores, which the room
    /// shares, on work each tablet does on a CPU of its own).
    checked: Option<gavel_shared::state::MeetingState>,
    held: Held,
}

/// A delegate's connection, held until the whole storm is served.
enum Held {
    Ws(Box<WsStream>),
    Quic(quinn::SendStream, quinn::RecvStream),
}

impl Held {
    /// The next text message.
    async fn next_text(&mut self) -> anyhow::Result<String> {
        let wait = Duration::from_secs(120);
        match self {
            Held::Ws(ws) => loop {
                match tokio::time::timeout(wait, ws.next()).await.context("nothing after hello")? {
                    Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_owned()),
                    Some(Ok(_)) => continue,
                    other => bail!("closed before it was served: {other:?}"),
                }
            },
            Held::Quic(_, recv) => {
                let frame =
                    tokio::time::timeout(wait, gavel_agent::link::read_frame(recv, 64 << 20)).await.context("nothing after hello")??;
                Ok(String::from_utf8(frame)?)
            }
        }
    }

    async fn close(self) {
        match self {
            Held::Ws(mut ws) => drop((*ws).close(None).await),
            Held::Quic(mut send, _) => drop(send.finish()),
        }
    }
}

/// Where the room listens, for the storm's tasks.
#[derive(Clone)]
struct Door {
    http: std::net::SocketAddr,
    quic: std::net::SocketAddr,
    fingerprint: String,
    transport: Transport,
}

const CHECK_EVERY: usize = 25;
/// Events a delegate that was away missed (agenda moves).
const MISSED: u64 = 50;

/// What a delegate of a storm kept of the meeting, and so is owed.
#[derive(Clone, Copy)]
enum Kept {
    /// No copy: a snapshot.
    Nothing,
    /// Up to date at this `seq`: the welcome, and nothing after it.
    UpTo(u64),
    /// At `from`, the meeting since at `to`: the events in between, in order.
    Behind { from: u64, to: u64 },
}

/// Connects, says hello, and reads until it holds what it is owed.
async fn arrive(door: Door, token: String, meeting: MeetingId, kept: Kept, check: bool) -> anyhow::Result<Arrival> {
    let t = Instant::now();
    let last_seq = match kept {
        Kept::Nothing => None,
        Kept::UpTo(seq) | Kept::Behind { from: seq, .. } => Some(seq),
    };
    let hello = ClientMessage::Hello { meeting, last_seq, version: PROTOCOL_VERSION };
    let mut held = match door.transport {
        Transport::Ws => {
            let mut req = format!("ws://{}/ws", door.http).into_client_request()?;
            req.headers_mut().insert("authorization", format!("Bearer {token}").parse()?);
            let (mut ws, _) = tokio_tungstenite::connect_async_with_config(req, None, true).await?;
            ws.send(Message::Text(protocol::encode(&hello).into())).await?;
            Held::Ws(Box::new(ws))
        }
        Transport::Quic => {
            // As the tablet agent: its own endpoint, the session resumed with its token.
            let mut l = gavel_agent::link::Link::connect(door.quic, &door.fingerprint, gavel_agent::link::ALPN).await?;
            l.send(&ClientMessage::Resume { token }).await?;
            anyhow::ensure!(matches!(l.recv().await?, ServerMessage::SignedIn { .. }), "resume refused");
            l.send(&hello).await?;
            let (send, recv) = l.split();
            Held::Quic(send, recv)
        }
    };
    let mut bytes = 0;
    loop {
        let text = held.next_text().await?;
        bytes += text.len();
        // Only what can end the wait is decoded, and a snapshot only when checked.
        if let Kept::Nothing = kept
            && !check
            && text.contains("\"type\":\"snapshot\"")
        {
            return Ok(Arrival { took: t.elapsed(), bytes, checked: None, held });
        }
        let done = match (kept, protocol::decode_server(&text, usize::MAX)?) {
            (_, ServerMessage::Error { code, message, .. }) => bail!("refused: {code}: {message}"),
            (Kept::Nothing, ServerMessage::Snapshot { state }) => Some(check.then_some(state)),
            (Kept::UpTo(_), ServerMessage::Welcome { .. }) => Some(None),
            (Kept::Behind { from, to }, ServerMessage::Event { event }) => {
                anyhow::ensure!(event.seq > from && event.seq <= to, "event {} replayed to a copy at {from} (head {to})", event.seq);
                (event.seq == to).then_some(None)
            }
            (_, ServerMessage::Welcome { .. }) => None,
            (_, other) => bail!("not what a copy {:?} is owed: {other:?}", last_seq),
        };
        if let Some(checked) = done {
            return Ok(Arrival { took: t.elapsed(), bytes, checked, held });
        }
    }
}

/// Resets a process's peak resident memory to what it holds now (Linux 4.0
/// on, `clear_refs`), and returns that.
fn reset_peak_rss(pid: u32) -> anyhow::Result<u64> {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").context("resetting the peak RSS")?;
    rss_of(pid)
}

/// A process's peak resident memory (`VmHWM`), in bytes.
fn peak_rss(pid: u32) -> anyhow::Result<u64> {
    memory_of(pid, "VmHWM")
}

struct Storm {
    all: Duration,
    lat: Vec<Duration>,
    cpu: Duration,
    /// The room's peak resident memory during the storm, over what it held before.
    peak: u64,
    bytes: usize,
    seq: u64,
    participants: usize,
    current: Option<ItemId>,
}

async fn storm(room: &Room, d: &Delegates, n: usize, transport: Transport, kept: Kept) -> anyhow::Result<Storm> {
    let door = Door { http: room.http, quic: room.quic, fingerprint: room.fingerprint.clone(), transport };
    let cpu_before = cpu_of(room.pid())?;
    let rss_before = reset_peak_rss(room.pid())?;
    let start = Instant::now();
    let tasks = d.tokens[..n]
        .iter()
        .enumerate()
        .map(|(i, (_, token))| tokio::spawn(arrive(door.clone(), token.clone(), d.meeting, kept, i % CHECK_EVERY == 0)));
    let mut arrivals = vec![];
    for r in join_all(tasks).await {
        arrivals.push(r??);
    }
    let all = start.elapsed();
    let cpu = cpu_of(room.pid())? - cpu_before;
    let peak = peak_rss(room.pid())?.saturating_sub(rss_before);
    let mut seq = 0;
    let mut participants = 0;
    let mut current = None;
    for (i, a) in arrivals.iter().enumerate() {
        if let Some(state) = &a.checked {
            anyhow::ensure!(state.meeting.id == d.meeting, "snapshot of meeting {:?}", state.meeting.id);
            anyhow::ensure!(state.participants.len() > n, "snapshot with {} participants for {n} delegates", state.participants.len());
            let me = d.tokens[i].0;
            anyhow::ensure!(state.participants.iter().any(|p| p.id == me), "delegate {me:?} missing from its own snapshot");
            anyhow::ensure!(seq == 0 || state.seq == seq, "snapshots at seq {} and {seq}", state.seq);
            seq = state.seq;
            participants = state.participants.len();
            current = state.meeting.current_item;
        }
    }
    let bytes = arrivals.iter().map(|a| a.bytes).sum();
    let lat = arrivals.iter().map(|a| a.took).collect();
    for a in arrivals {
        a.held.close().await;
    }
    Ok(Storm { all, lat, cpu, peak, bytes, seq, participants, current })
}

/// Adds participants (not signed in) until the meeting has `size`: run
/// alone, the case gets the meeting of the largest fan-out, as in a full run.
async fn top_up(d: &Delegates, size: usize) -> anyhow::Result<()> {
    let have = d.admin.state(d.meeting).await?.participants.len();
    let missing: Vec<NewParticipant> = (have..size)
        .map(|i| NewParticipant {
            name: format!("Khách mời {i:04}"),
            position: String::new(),
            role: Role::Observer,
            member: false,
            voting: false,
        })
        .collect();
    for (k, slice) in missing.chunks(500).enumerate() {
        let cmd = Command::AddParticipants { participants: slice.to_vec() };
        let a = d.admin.command(d.meeting, &format!("storm-guests-{have}-{k}"), &cmd).await?;
        anyhow::ensure!(a.status == 200, "adding participants: {a:?}");
    }
    Ok(())
}

pub async fn reconnect_storm(room: &Room, d: &Arc<Delegates>, n: usize, meeting_size: usize) -> anyhow::Result<Vec<Row>> {
    top_up(d, meeting_size).await?;
    // A first storm learns the head (and warms the room as a real one is).
    let first = storm(room, d, n, Transport::Ws, Kept::Nothing).await?;
    anyhow::ensure!(first.seq > 0, "no snapshot was checked");
    let mut rows = vec![];
    let mut head = first.seq;
    for transport in [Transport::Ws, Transport::Quic] {
        let resumed = storm(room, d, n, transport, Kept::UpTo(head)).await?;
        let mut fresh = storm(room, d, n, transport, Kept::Nothing).await?;
        anyhow::ensure!(fresh.seq == head, "the meeting moved during the storms");
        rows.push(Row::new(
            format!(
                "reconnect storm: {n} delegates with no copy say hello at once over {}, each owed a snapshot of a meeting of {} participants: last snapshot held / room CPU / room's peak memory over before",
                transport.name(),
                fresh.participants
            ),
            format!(
                "{:.0} ms / {:.0} ms / +{:.1} MB ({:.0} KB each; p50 / p99 / max {})",
                ms(fresh.all),
                ms(fresh.cpu),
                fresh.peak as f64 / 1e6,
                fresh.bytes as f64 / n.max(1) as f64 / 1000.0,
                spread(&mut fresh.lat)
            ),
            format!(
                "{:.0} ms / {:.0} ms / +{:.1} MB, the same delegates up to date (welcome only)",
                ms(resumed.all),
                ms(resumed.cpu),
                resumed.peak as f64 / 1e6
            ),
            format!("{} time, {} CPU", ratio(ms(fresh.all), ms(resumed.all)), ratio(ms(fresh.cpu), ms(resumed.cpu))),
        ));
        if transport == Transport::Quic {
            break;
        }
        // The Wi-Fi drops for a while, the chair goes on, and the browsers
        // come back with the copy they had.
        let chair = d.chair_http(&room.base());
        let from = head;
        for i in 0..MISSED {
            // From the item that is not current (the snapshot's) to the other.
            let item = d.items[(i as usize + usize::from(fresh.current == Some(d.items[0]))) % 2];
            let a = chair.command(d.meeting, &format!("storm-move-{}-{i}", first.seq), &Command::GoToItem { item }).await?;
            anyhow::ensure!(a.status == 200, "agenda move: {a:?}");
            head = a.body["seq"].as_u64().context("no seq")?;
        }
        anyhow::ensure!(head > from, "the moves made no event");
        let mut behind = storm(room, d, n, transport, Kept::Behind { from, to: head }).await?;
        rows.push(Row::new(
            format!(
                "reconnect storm: the same {n} delegates come back {MISSED} agenda moves behind, each owed the events it missed: last copy up to date / room CPU"
            ),
            format!("{:.0} ms / {:.0} ms (p50 / p99 / max {})", ms(behind.all), ms(behind.cpu), spread(&mut behind.lat)),
            format!("{:.0} ms / {:.0} ms, welcome only", ms(resumed.all), ms(resumed.cpu)),
            format!("{} time, {} CPU", ratio(ms(behind.all), ms(resumed.all)), ratio(ms(behind.cpu), ms(resumed.cpu))),
        ));
    }
    Ok(rows)
}
