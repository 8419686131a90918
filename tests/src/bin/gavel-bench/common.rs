//! What every case uses: the room server as its own process, its memory,
//! delegates signed in with bearer tokens, percentiles, table rows.

use anyhow::{Context, bail};
use gavel_shared::model::*;
use gavel_shared::protocol::Command;
use gavel_tests::*;
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
    memory_of(pid, "VmRSS")
}

/// One of a process's memory figures in `/proc/PID/status` (`VmRSS`,
/// `VmHWM`…), in bytes.
pub fn memory_of(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no {field}"))?;
    Ok(kb * 1024)
}

/// A process's CPU time (user + system), from `/proc`.
pub fn cpu_of(pid: u32) -> anyhow::Result<Duration> {
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

/// The CPU time of a process's live threads, to the nanosecond (the sum of
/// `/proc/PID/task/*/schedstat`): for a short case, where [`cpu_of`]'s
/// clock ticks (10 ms) are too coarse. Threads that ended are not counted.
pub fn thread_cpu_of(pid: u32) -> anyhow::Result<Duration> {
    let mut ns = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let stat = std::fs::read_to_string(task?.path().join("schedstat")).unwrap_or_default();
        ns += stat.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    }
    Ok(Duration::from_nanos(ns))
}

/// UDP datagrams this network namespace's kernel dropped because a socket's
/// receive buffer was full (`RcvbufErrors` in `/proc/net/snmp`), counted
/// over every socket: the benchmark reads it before and after a case.
pub fn udp_buffer_drops() -> u64 {
    let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else { return 0 };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "RcvbufErrors")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
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
/// The room's flags for a benchmark: one address carries every client, the
/// chair moves as fast as it can, and the pack's files are large.
pub const ROOM_FLAGS: &[&str] = &[
    "--max-upload",
    "300000000",
    "--max-connections-per-address",
    "100000",
    "--max-http-connections-per-address",
    "100000",
    "--max-messages-per-second",
    "100000",
];

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

/// A meeting (an [`Assembly`]) with a chair and `n` delegates, each signed
/// in once with a bearer token (sign-in is argon2: done once, reused by
/// every transport), and two agenda items for the chair to move between.
pub struct Delegates {
    pub meeting: MeetingId,
    pub admin: Http,
    pub chair_token: String,
    pub tokens: Vec<(ParticipantId, String)>,
    pub items: [ItemId; 2],
}

impl Delegates {
    pub async fn build(room: &Room, n: usize) -> anyhow::Result<Arc<Delegates>> {
        let s = Arc::new(Assembly::build(&room.base(), n).await?);
        let second = Command::AddItem { title: "Mục hai".into(), presenter: String::new(), summary: String::new(), position: None };
        let a = s.admin.command(s.meeting, "second-item", &second).await?;
        let second = ItemId(a.body["result"]["id"].as_i64().with_context(|| format!("{a:?}"))?);
        let token = |http: Http| http.token.context("no bearer token");
        let chair_token = token(s.sign_in(&s.chair).await?)?;
        let limit = Arc::new(tokio::sync::Semaphore::new(8));
        let tokens = futures_util::future::join_all(s.voters.iter().cloned().map(|who| {
            let (s, limit) = (s.clone(), limit.clone());
            async move {
                let _p = limit.acquire().await?;
                anyhow::Ok((who.0, token(s.sign_in(&who).await?)?))
            }
        }))
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Arc::new(Delegates { meeting: s.meeting, admin: s.admin.clone(), chair_token, tokens, items: [s.item, second] }))
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

/// A baseline server (Mosquitto, nginx) on a loopback port, started from
/// Debian's package, for as long as this lives.
pub struct Baseline {
    child: std::process::Child,
    pub port: u16,
    /// Its configuration and files, removed after it stops.
    pub dir: tempfile::TempDir,
}

impl Drop for Baseline {
    fn drop(&mut self) {
        // SIGTERM, so a master process (nginx) stops its workers too;
        // SIGKILL alone would leave them running.
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: signalling our own child process.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Baseline {
    /// A free loopback port and a directory for the baseline's files.
    pub fn prepare() -> anyhow::Result<(u16, tempfile::TempDir)> {
        Ok((std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port(), tempfile::tempdir()?))
    }

    /// Starts `program` (from `/usr/sbin` if there, else the `PATH`) with
    /// `args`, and waits until it accepts connections on `port`.
    pub async fn start(program: &str, args: &[&std::ffi::OsStr], port: u16, dir: tempfile::TempDir) -> anyhow::Result<Baseline> {
        let sbin = std::path::Path::new("/usr/sbin").join(program);
        let bin = if sbin.exists() { sbin.into_os_string() } else { program.into() };
        let child = std::process::Command::new(bin)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start {program} ({e}): install Debian's {program} (scripts/setup --tests does)"))?;
        let baseline = Baseline { child, port, dir };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Ok(baseline);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let logs: Vec<String> = std::fs::read_dir(baseline.dir.path())?
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .collect();
        bail!("{program} did not start on port {port}: {}", logs.join(" "))
    }
}
