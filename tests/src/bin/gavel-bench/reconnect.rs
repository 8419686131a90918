//! Reconnect storm: the room's Wi-Fi comes back (or every browser reloads
//! the page) and N delegates connect and say `hello` in the same instant,
//! each with no copy of the meeting, so each is owed a snapshot of the
//! meeting as it may see it. Time until the last holds its snapshot, and the
//! server's CPU time for the storm. Baseline: the same storm of delegates
//! that are up to date (`last_seq` at the meeting's head), who are owed
//! nothing but the welcome: what connecting, signing in and subscribing cost
//! without the snapshot.

use crate::common::*;
use crate::fanout::WsStream;
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
    ws: WsStream,
}

const CHECK_EVERY: usize = 25;

/// Connects, says hello, and reads until the snapshot (`last_seq: None`) or
/// the welcome (`last_seq: Some`, up to date: nothing follows it).
async fn arrive(
    base: std::net::SocketAddr,
    token: String,
    meeting: MeetingId,
    last_seq: Option<u64>,
    check: bool,
) -> anyhow::Result<Arrival> {
    let t = Instant::now();
    let mut req = format!("ws://{base}/ws").into_client_request()?;
    req.headers_mut().insert("authorization", format!("Bearer {token}").parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(req, None, true).await?;
    ws.send(Message::Text(protocol::encode(&ClientMessage::Hello { meeting, last_seq, version: PROTOCOL_VERSION }).into())).await?;
    let want = if last_seq.is_some() { "\"type\":\"welcome\"" } else { "\"type\":\"snapshot\"" };
    loop {
        match tokio::time::timeout(Duration::from_secs(120), ws.next()).await.context("nothing after hello")? {
            Some(Ok(Message::Text(text))) if text.contains(want) => {
                let took = t.elapsed();
                let checked = match protocol::decode_server(text.as_str(), usize::MAX)? {
                    ServerMessage::Snapshot { state } if check => Some(state),
                    ServerMessage::Snapshot { .. } | ServerMessage::Welcome { .. } => None,
                    other => bail!("expected {want}, got {other:?}"),
                };
                return Ok(Arrival { took, bytes: text.len(), checked, ws });
            }
            Some(Ok(Message::Text(text))) if text.contains("\"type\":\"error\"") => bail!("refused: {}", text.as_str()),
            Some(Ok(_)) => {}
            other => bail!("closed before {want}: {other:?}"),
        }
    }
}

/// Server CPU time (user + system) of a process, from `/proc`.
fn cpu_of(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command's closing parenthesis; utime and stime are
    // the 14th and 15th of the line, the 12th and 13th after it.
    let rest = stat.rsplit_once(')').context("stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11).context("utime")?.parse::<u64>()? + f.get(12).context("stime")?.parse::<u64>()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Ok(Duration::from_millis(ticks * 1000 / hz))
}

struct Storm {
    all: Duration,
    lat: Vec<Duration>,
    cpu: Duration,
    bytes: usize,
    seq: u64,
    participants: usize,
}

async fn storm(room: &Room, d: &Delegates, n: usize, last_seq: Option<u64>) -> anyhow::Result<Storm> {
    let cpu_before = cpu_of(room.pid())?;
    let start = Instant::now();
    let tasks = d.tokens[..n]
        .iter()
        .enumerate()
        .map(|(i, (_, token))| tokio::spawn(arrive(room.http, token.clone(), d.meeting, last_seq, i % CHECK_EVERY == 0)));
    let mut arrivals = vec![];
    for r in join_all(tasks).await {
        arrivals.push(r??);
    }
    let all = start.elapsed();
    let cpu = cpu_of(room.pid())? - cpu_before;
    let mut seq = last_seq.unwrap_or(0);
    let mut participants = 0;
    for (i, a) in arrivals.iter().enumerate() {
        if let Some(state) = &a.checked {
            anyhow::ensure!(state.meeting.id == d.meeting, "snapshot of meeting {:?}", state.meeting.id);
            anyhow::ensure!(state.participants.len() > n, "snapshot with {} participants for {n} delegates", state.participants.len());
            let me = d.tokens[i].0;
            anyhow::ensure!(state.participants.iter().any(|p| p.id == me), "delegate {me:?} missing from its own snapshot");
            anyhow::ensure!(seq == 0 || state.seq == seq, "snapshots at seq {} and {seq}", state.seq);
            seq = state.seq;
            participants = state.participants.len();
        }
    }
    let bytes = arrivals.iter().map(|a| a.bytes).sum();
    let lat = arrivals.iter().map(|a| a.took).collect();
    for mut a in arrivals {
        let _ = a.ws.close(None).await;
    }
    Ok(Storm { all, lat, cpu, bytes, seq, participants })
}

/// Adds participants (not signed in) until the meeting has `size`: run
/// alone, the case gets the meeting of the largest fan-out, as in a full run.
async fn top_up(d: &Delegates, size: usize) -> anyhow::Result<()> {
    let state = d.admin.get(&format!("/api/meetings/{}/state", d.meeting.0)).await?;
    let have = state.body["participants"].as_array().map_or(0, |p| p.len());
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
    let first = storm(room, d, n, None).await?;
    anyhow::ensure!(first.seq > 0, "no snapshot was checked");
    let resumed = storm(room, d, n, Some(first.seq)).await?;
    let mut fresh = storm(room, d, n, None).await?;
    anyhow::ensure!(fresh.seq == first.seq, "the meeting moved during the storms");
    let per = fresh.bytes / n.max(1);
    Ok(vec![Row::new(
        format!(
            "reconnect storm: {n} delegates with no copy say hello at once (WebSocket), each owed a snapshot of a meeting of {} participants: last snapshot held / server CPU",
            fresh.participants
        ),
        format!(
            "{:.0} ms / {:.0} ms CPU ({:.0} KB each; p50 / p99 / max {})",
            ms(fresh.all),
            ms(fresh.cpu),
            per as f64 / 1000.0,
            spread(&mut fresh.lat)
        ),
        format!("{:.0} ms / {:.0} ms CPU, the same delegates up to date (welcome only)", ms(resumed.all), ms(resumed.cpu)),
        format!("{} time, {} CPU", ratio(ms(fresh.all), ms(resumed.all)), ratio(ms(fresh.cpu), ms(resumed.cpu))),
    )])
}
