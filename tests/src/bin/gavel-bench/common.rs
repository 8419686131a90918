//! What every case uses: the room server as its own process, its memory,
//! delegates signed in with bearer tokens, percentiles, table rows.

use anyhow::{Context, bail};
use gavel_shared::model::*;
use gavel_shared::protocol::{Command, CommandResult, NewParticipant};
use gavel_tests::*;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// One line of the table.
pub struct Row {
    pub case: String,
    pub gavel: String,
    pub baseline: String,
    pub ratio: String,
}

impl Row {
    pub fn new(case: impl Into<String>, gavel: impl Into<String>, baseline: impl Into<String>, ratio: impl Into<String>) -> Row {
        Row { case: case.into(), gavel: gavel.into(), baseline: baseline.into(), ratio: ratio.into() }
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// `p50 / p99 / max` of latencies, in ms.
pub fn spread(lat: &mut [Duration]) -> String {
    lat.sort();
    format!("{:.2} / {:.2} / {:.2} ms", ms(percentile(lat, 0.5)), ms(percentile(lat, 0.99)), ms(lat.last().copied().unwrap_or_default()))
}

pub fn ratio(gavel: f64, baseline: f64) -> String {
    if baseline > 0.0 { format!("{:.2}×", gavel / baseline) } else { "—".into() }
}

/// Resident memory of a process, in bytes (Linux `/proc`).
pub fn rss_of(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS")?;
    Ok(kb * 1024)
}

/// Raises this process's open-file limit (children inherit it).
pub fn raise_open_files() {
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max.min(65_536);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// The room server, as its own process on loopback with a fresh data directory.
pub struct Room {
    pub process: ServerProcess,
    pub http: SocketAddr,
    pub quic: SocketAddr,
    pub fingerprint: String,
    /// Removed when the room is dropped.
    _dir: tempfile::TempDir,
}

impl Room {
    pub async fn start(args: &[&str]) -> anyhow::Result<Room> {
        let dir = tempfile::tempdir()?;
        // `GAVEL_BENCH_LOG=FILE` keeps the server's debug log (while working on a case).
        let log = std::env::var_os("GAVEL_BENCH_LOG").map(std::path::PathBuf::from);
        let process = ServerProcess::start_logging(dir.path(), args, log.as_deref()).await?;
        Ok(Room { http: process.addr, quic: process.quic_addr, fingerprint: process.fingerprint.clone(), process, _dir: dir })
    }

    pub fn pid(&self) -> u32 {
        self.process.child.id().unwrap_or(0)
    }

    pub fn rss(&self) -> anyhow::Result<u64> {
        rss_of(self.pid())
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.http)
    }
}

/// A meeting with a chair and `n` delegates, each signed in once with a
/// bearer token (sign-in is argon2: done once, reused by every transport).
pub struct Delegates {
    pub meeting: MeetingId,
    pub admin: Http,
    pub chair_token: String,
    pub tokens: Vec<(ParticipantId, String)>,
    /// Two agenda items the chair moves between.
    pub items: [ItemId; 2],
}

async fn bearer(base: &str, meeting: MeetingId, who: ParticipantId, pin: &str) -> anyhow::Result<String> {
    let c = reqwest::Client::new();
    let r = c
        .post(format!("{base}/api/session"))
        .json(&json!({"meeting": meeting, "participant": who, "pin": pin, "bearer": true}))
        .send()
        .await?;
    let body: serde_json::Value = r.json().await?;
    body["token"].as_str().map(String::from).with_context(|| format!("no token: {body}"))
}

impl Delegates {
    pub async fn build(room: &Room, n: usize) -> anyhow::Result<Arc<Delegates>> {
        let base = room.base();
        let mut admin = Http::for_base(&base);
        admin.sign_in_admin().await?;
        let a = admin.post("/api/meetings", &json!({"title": "Đo hiệu năng", "starts_at": "2026-11-23T08:00:00+07:00"})).await?;
        let meeting = MeetingId(a.body["id"].as_i64().with_context(|| format!("{a:?}"))?);
        let mut people =
            vec![NewParticipant { name: "Chủ Tọa".into(), position: String::new(), role: Role::Chair, member: true, voting: true }];
        for i in 0..n {
            people.push(NewParticipant {
                name: format!("Đại biểu {i:04}"),
                position: String::new(),
                role: Role::Delegate,
                member: true,
                voting: true,
            });
        }
        // In slices, so no single command waits on thousands of argon2 hashes.
        let mut pins = vec![];
        for (k, slice) in people.chunks(250).enumerate() {
            let a = admin.command(meeting, &format!("people-{k}"), &Command::AddParticipants { participants: slice.to_vec() }).await?;
            let CommandResult::Pins { pins: got } = serde_json::from_value(a.body["result"].clone()).with_context(|| format!("{a:?}"))?
            else {
                bail!("no pins")
            };
            pins.extend(got.into_iter().map(|p| (p.participant, p.pin.unwrap_or_default())));
        }
        let mut items = vec![];
        for t in ["Mục một", "Mục hai"] {
            let cmd = Command::AddItem { title: t.into(), presenter: String::new(), summary: String::new(), position: None };
            let a = admin.command(meeting, &format!("item-{t}"), &cmd).await?;
            items.push(ItemId(a.body["result"]["id"].as_i64().context("item")?));
        }
        let chair_token = bearer(&base, meeting, pins[0].0, &pins[0].1).await?;
        let limit = Arc::new(tokio::sync::Semaphore::new(8));
        let tokens = futures_util::future::join_all(pins[1..].iter().cloned().map(|(who, pin)| {
            let (base, limit) = (base.clone(), limit.clone());
            async move {
                let _p = limit.acquire().await?;
                anyhow::Ok((who, bearer(&base, meeting, who, &pin).await?))
            }
        }))
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()?;
        let d = Delegates { meeting, admin, chair_token, tokens, items: [items[0], items[1]] };
        for (k, cmd) in [("open", Command::OpenMeeting), ("first", Command::GoToItem { item: d.items[0] })] {
            let a = d.chair_http(&base).command(meeting, k, &cmd).await?;
            anyhow::ensure!(a.status == 200, "{k}: {a:?}");
        }
        Ok(Arc::new(d))
    }

    pub fn chair_http(&self, base: &str) -> Http {
        Http::for_base(base).with_token(&self.chair_token)
    }
}

/// Waits until `n` reached `want`, or `limit` passed; true when reached.
pub async fn wait_count(n: &std::sync::atomic::AtomicUsize, want: usize, limit: Duration) -> bool {
    let end = tokio::time::Instant::now() + limit;
    while n.load(std::sync::atomic::Ordering::Acquire) < want {
        if tokio::time::Instant::now() > end {
            return false;
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    true
}
