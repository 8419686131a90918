//! `gavel-agent`: the tablet agent's command line.
//!
//!     gavel-agent discover [--timeout SECS]
//!     gavel-agent join [ROOM] --meeting ID --participant ID --pin PIN
//!     gavel-agent join --code CODE [ROOM]
//!     gavel-agent join --server ADDR --fingerprint HEX --meeting ID --participant ID --pin PIN
//!     gavel-agent join --link gavel://ADDR:PORT/?fp=HEX … (from the room's QR code)

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use gavel_agent::agent::{Agent, Options};
use gavel_agent::discover;
use gavel_shared::model::*;
use gavel_shared::protocol::PROTOCOL_VERSION;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Gavel tablet agent: finds the meeting room on the LAN, keeps the meeting
/// pack on the tablet and serves the meeting to the tablet's browser.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Sub,
}

// Parsed once from the command line: the size of its largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Sub {
    /// List the rooms announcing themselves on the LAN.
    Discover {
        /// How long to listen, in seconds.
        #[arg(long, default_value_t = 3)]
        timeout: u64,
    },
    /// Sign in to a meeting over QUIC, keep its documents on this tablet and
    /// serve the meeting to the tablet's browser.
    Join(JoinArgs),
}

#[derive(Debug, clap::Args)]
struct JoinArgs {
    /// The room's name as announced on the LAN (optional when only one room answers).
    room: Option<String>,
    /// The code of a sign-in card: MEETING-PARTICIPANT-PIN. Other accounts
    /// on the tablet can read a command line: `GAVEL_CODE` (read when
    /// neither this nor `--meeting` is given) or the prompt keep the PIN
    /// from them.
    #[arg(long, conflicts_with_all = ["meeting", "participant", "pin"])]
    code: Option<String>,
    /// The room's QUIC address (IP:PORT), without mDNS; needs --fingerprint.
    #[arg(long, requires = "fingerprint")]
    server: Option<SocketAddr>,
    /// The room's certificate fingerprint (from `discover`, the start line or the QR code).
    #[arg(long)]
    fingerprint: Option<String>,
    /// The link of the room's QR code: gavel://ADDR:QUIC/?fp=HEX.
    #[arg(long, conflicts_with_all = ["server", "fingerprint"])]
    link: Option<String>,
    #[arg(long)]
    meeting: Option<i64>,
    #[arg(long)]
    participant: Option<i64>,
    /// The participant's PIN. It also unlocks the documents kept on the
    /// tablet, so it is asked for at every start when not given.
    #[arg(long, env = "GAVEL_PIN", hide_env_values = true)]
    pin: Option<String>,
    /// Where the meeting pack is kept (default: the user's cache directory).
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Where the tablet's browser opens the meeting.
    #[arg(long, default_value = "127.0.0.1:8733")]
    listen: SocketAddr,
    /// Fetch the meeting pack once, then exit (to prepare a tablet, or check a link).
    #[arg(long)]
    once: bool,
    /// How long to look for the room on the LAN, in seconds.
    #[arg(long, default_value_t = 5)]
    discover_timeout: u64,
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let result = match Cli::parse().command {
        Sub::Discover { timeout } => list_rooms(timeout).await,
        Sub::Join(args) => join(args).await,
    };
    if let Err(e) = result {
        eprintln!("gavel-agent: {e:#}");
        std::process::exit(1);
    }
}

async fn list_rooms(timeout: u64) -> anyhow::Result<()> {
    let rooms = tokio::task::spawn_blocking(move || discover::discover(Duration::from_secs(timeout))).await??;
    if rooms.is_empty() {
        eprintln!("no room found within {timeout} s");
    }
    for r in rooms {
        let addresses: Vec<String> = r.addresses.iter().map(|a| a.to_string()).collect();
        let versions: Vec<String> = r.versions.iter().map(|v| v.to_string()).collect();
        println!(
            "room name=\"{}\" addresses={} quic={} http={} fp={} v={}",
            r.name,
            addresses.join(","),
            r.quic,
            r.http,
            r.fingerprint,
            versions.join(",")
        );
    }
    Ok(())
}

/// `MEETING-PARTICIPANT-PIN`, as printed on a sign-in card.
fn parse_code(code: &str) -> anyhow::Result<(i64, i64, String)> {
    let parts: Vec<&str> = code.trim().split('-').collect();
    match parts.as_slice() {
        [m, p, pin] if !pin.is_empty() => Ok((
            m.parse().context("the code's meeting number is not a number")?,
            p.parse().context("the code's participant number is not a number")?,
            pin.to_string(),
        )),
        _ => bail!("a sign-in code looks like 12-345-678901 (meeting, participant, PIN)"),
    }
}

/// `gavel://ADDR:PORT/?fp=HEX[&…]`, the room's QR code.
fn parse_link(link: &str) -> anyhow::Result<(SocketAddr, String)> {
    let rest = link.trim().strip_prefix("gavel://").context("a room link starts with gavel://")?;
    let (addr, query) = rest.split_once('?').unwrap_or((rest, ""));
    let addr: SocketAddr = addr.trim_end_matches('/').parse().context("the room link has no valid ADDRESS:PORT")?;
    let fp = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("fp="))
        .filter(|fp| fp.len() == 64 && fp.bytes().all(|b| b.is_ascii_hexdigit()))
        .context("the room link has no valid fp=")?;
    Ok((addr, fp.to_lowercase()))
}

/// A room found by mDNS: its address, fingerprint and name.
type Found = (SocketAddr, String, String);

/// Finds the room by mDNS: by name, or the only one. `Ok(Err(why))` when
/// none answered (a room off, or multicast lost): the caller may start from
/// the room it noted before.
async fn find_room(name: Option<&str>, timeout: u64) -> anyhow::Result<Result<Found, String>> {
    let rooms = tokio::task::spawn_blocking(move || discover::discover(Duration::from_secs(timeout))).await??;
    let matching: Vec<_> = rooms.iter().filter(|r| name.is_none_or(|n| r.name.to_lowercase() == n.to_lowercase())).collect();
    let room = match (matching.as_slice(), name) {
        ([one], _) => *one,
        ([], Some(n)) => return Ok(Err(format!("no room named {n:?} answered within {timeout} s"))),
        ([], None) => return Ok(Err(format!("no room answered within {timeout} s"))),
        (_, _) => {
            let names: Vec<&str> = matching.iter().map(|r| r.name.as_str()).collect();
            bail!("several rooms answered ({}): name the one to join", names.join(", "))
        }
    };
    if !room.versions.contains(&PROTOCOL_VERSION) {
        let versions: Vec<String> = room.versions.iter().map(|v| v.to_string()).collect();
        bail!(
            "the room {:?} speaks protocol version {}, and this agent speaks {PROTOCOL_VERSION}: update the agent (or the room)",
            room.name,
            versions.join(", ")
        );
    }
    Ok(Ok((room.quic_addr(None).context("the room announced no address")?, room.fingerprint.clone(), room.name.clone())))
}

/// Where a tablet's cache says which room it is of ([`Remembered`]).
const ROOM_FILE: &str = "room.json";

/// The room a cache was filled from, kept beside it: a tablet that joined
/// by the room's name can start again while the room is off, or while its
/// announcements do not come through (weak Wi-Fi drops multicast first),
/// and serve what it keeps. Nothing secret: the room announces all of it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Remembered {
    name: Option<String>,
    server: SocketAddr,
    fingerprint: String,
}

fn read_remembered(dir: &Path) -> Option<Remembered> {
    serde_json::from_slice(&std::fs::read(dir.join(ROOM_FILE)).ok()?).ok()
}

/// The room this participant's tablet joined before under `name` (when
/// none is given, the only one it joined): from `cache` when given, else
/// from the caches of this meeting and participant in the user's own cache
/// directory (never a shared temporary one, where another account could
/// leave a room of its own), each named by the room it notes.
fn remembered_room(name: Option<&str>, cache: Option<&Path>, meeting: i64, participant: i64) -> Option<Remembered> {
    let mut rooms: Vec<Remembered> = match cache {
        Some(dir) => read_remembered(dir).into_iter().collect(),
        None => {
            let root = own_packs()?;
            let suffix = format!("-m{meeting}-p{participant}");
            std::fs::read_dir(root)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| {
                    let dir = e.file_name().to_string_lossy().into_owned();
                    let room = read_remembered(&e.path())?;
                    (dir == format!("{}{suffix}", room.fingerprint.get(..16)?)).then_some(room)
                })
                .collect()
        }
    };
    rooms.retain(|r| name.is_none_or(|n| r.name.as_deref().is_some_and(|m| m.to_lowercase() == n.to_lowercase())));
    // Several rooms, and none named: not this agent's to choose.
    match rooms.len() {
        1 => rooms.pop(),
        _ => None,
    }
}

/// How long a cache may lie unused before an agent started for another
/// meeting deletes it ([`forget_old_caches`]).
const UNUSED_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// Deletes the caches in the user's cache directory that no agent has used
/// for [`UNUSED_FOR`] (other meetings', or one whose agent was stopped
/// before its meeting closed, which so kept its restricted documents): a
/// pack sealed by a 6-digit PIN is not left on a tablet for good. A cache
/// an agent holds (its lock taken) is left alone.
fn forget_old_caches(keep: &Path) {
    let Some(root) = own_packs() else { return };
    let now = std::time::SystemTime::now();
    for entry in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        let dir = entry.path();
        if dir == keep || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        // Last used: the newest of the folder and what it holds (an agent
        // writes its state there every half second while linked).
        let last = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.metadata().and_then(|m| m.modified()).ok())
            .chain(entry.metadata().and_then(|m| m.modified()).ok())
            .max();
        if last.is_none_or(|t| now.duration_since(t).unwrap_or_default() < UNUSED_FOR) {
            continue;
        }
        let lock_path = dir.join("agent.lock");
        let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path);
        if !lock.as_ref().is_ok_and(|f| f.try_lock().is_ok()) {
            continue;
        }
        // Everything but the lock while it is held (Windows deletes no
        // file that is open), then the lock and the folder.
        let emptied = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path() != lock_path)
            .try_for_each(|e| if e.file_type()?.is_dir() { std::fs::remove_dir_all(e.path()) } else { std::fs::remove_file(e.path()) });
        drop(lock);
        match emptied.and_then(|()| std::fs::remove_dir_all(&dir)) {
            Ok(()) => tracing::info!(dir = %dir.display(), "deleted a meeting pack unused for 30 days"),
            Err(e) => tracing::warn!(dir = %dir.display(), error = %e, "cannot delete a meeting pack unused for 30 days"),
        }
    }
}

/// The folder of the packs in the user's own cache directory, when the
/// system has one.
fn own_packs() -> Option<PathBuf> {
    dirs::cache_dir().map(|d| d.join("gavel-agent"))
}

/// The cache of one participant of one meeting of one room: meeting and
/// participant numbers repeat from room to room, so the room's fingerprint
/// is part of the name.
fn default_cache(fingerprint: &str, meeting: i64, participant: i64) -> PathBuf {
    let room = fingerprint.get(..16).unwrap_or(fingerprint);
    own_packs().unwrap_or_else(|| std::env::temp_dir().join("gavel-agent")).join(format!("{room}-m{meeting}-p{participant}"))
}

async fn join(a: JoinArgs) -> anyhow::Result<()> {
    // From the environment only when nothing on the command line says who:
    // typed flags win, and the code's PIN wins over a `GAVEL_PIN` left set.
    let code = a.code.clone().or_else(|| {
        (a.meeting.is_none() && a.participant.is_none())
            .then(|| std::env::var("GAVEL_CODE").ok())
            .flatten()
            .filter(|c| !c.trim().is_empty())
    });
    let (meeting, participant, pin) = match &code {
        Some(code) => {
            let (m, p, pin) = parse_code(code)?;
            (m, p, Some(pin))
        }
        None => (
            a.meeting.context("--meeting is needed (or --code)")?,
            a.participant.context("--participant is needed (or --code)")?,
            a.pin.clone(),
        ),
    };
    // The documents on the tablet are encrypted with a key the PIN unwraps.
    let pin = match pin {
        Some(p) => p,
        None if std::io::IsTerminal::is_terminal(&std::io::stdin()) => {
            rpassword::prompt_password("Mã PIN (PIN): ").context("cannot read the PIN")?.trim().to_string()
        }
        None => bail!("the PIN is needed to open the meeting documents kept on this tablet: give --pin, GAVEL_PIN or --code"),
    };
    let pin = Some(pin);
    let mut room_name = None::<String>;
    // A room found on the LAN is looked for there again when it stops
    // answering at its address; one given by address is not (that LAN may
    // have no mDNS, or forbid it).
    let (server, fingerprint, rediscover) = match (&a.link, a.server, &a.fingerprint) {
        (Some(link), _, _) => {
            let (server, fp) = parse_link(link)?;
            (server, fp, false)
        }
        (None, Some(server), Some(fp)) => (server, fp.trim().to_lowercase(), false),
        _ => match find_room(a.room.as_deref(), a.discover_timeout).await? {
            Ok((server, fp, name)) => {
                room_name = Some(name);
                (server, fp, true)
            }
            // Not heard: the room this tablet joined before, from what it
            // keeps, looked for again on the LAN while its pack is served.
            // (Preparing a tablet, --once, needs the room itself.)
            Err(none) => match remembered_room(a.room.as_deref(), a.cache.as_deref(), meeting, participant).filter(|_| !a.once) {
                Some(r) => {
                    eprintln!(
                        "gavel-agent: {none}; starting with what this tablet keeps of {:?}, and looking for it",
                        r.name.as_deref().unwrap_or("the room")
                    );
                    room_name = r.name;
                    (r.server, r.fingerprint, true)
                }
                None => bail!("{none}"),
            },
        },
    };
    let cache_dir = a.cache.clone().unwrap_or_else(|| default_cache(&fingerprint, meeting, participant));
    forget_old_caches(&cache_dir);
    let agent = Agent::start(Options {
        server,
        fingerprint: fingerprint.clone(),
        meeting: MeetingId(meeting),
        participant: ParticipantId(participant),
        pin,
        cache_dir: cache_dir.clone(),
        listen: (!a.once).then_some(a.listen),
        rediscover,
    })
    .await?;
    let shared = agent.shared.clone();
    // The name the room was found under stays, should it be joined by its
    // address this time (the QR code's link).
    let room_name = room_name.or_else(|| read_remembered(&cache_dir).filter(|r| r.fingerprint == fingerprint).and_then(|r| r.name));
    let remember = Remembered { name: room_name, server, fingerprint: fingerprint.clone() };
    if let Err(e) = serde_json::to_vec(&remember).map_err(std::io::Error::other).and_then(|b| std::fs::write(cache_dir.join(ROOM_FILE), b))
    {
        tracing::warn!(error = %e, "cannot note the room beside the cache");
    }
    // The link to open in the tablet's browser (it carries the browser's key).
    if let Some(url) = agent.local_url() {
        println!("serving {url} cache={}", cache_dir.display());
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:30!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}").expect("a valid template"),
    );
    let mut fatal = shared.fatal.subscribe();
    let mut stuck = shared.stuck.subscribe();
    let mut told_stuck = None::<gavel_agent::pack::RoomRefused>;
    let mut state = shared.state.subscribe();
    let mut progress = shared.progress.subscribe();
    let mut link = shared.link.subscribe();
    let (mut announced, mut last_seq, mut said_complete) = (false, None::<u64>, false);
    let mut problem = None::<String>;
    // The refusals told so far, as said (title and the room's words).
    let mut refused = Vec::<String>::new();
    loop {
        let given_up = fatal.borrow().clone();
        if let Some(why) = given_up {
            bar.finish_and_clear();
            // The browsers following this agent are told why (a revoked
            // session leaves the meeting); a moment for that to go out.
            if agent.local_url().is_some() {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            bail!("{why}");
        }
        if !announced && let Some((_, name)) = shared.signed_in_as().filter(|_| link.borrow().is_some()) {
            println!("signed-in name=\"{name}\"");
            announced = true;
        }
        if let Some(s) = state.borrow_and_update().clone() {
            let current = s.current_item().map(|i| i.title.clone()).unwrap_or_default();
            match last_seq {
                None => println!("snapshot seq={} title=\"{}\" current=\"{current}\"", s.seq, s.meeting.title),
                Some(n) if n != s.seq => println!("state seq={} current=\"{current}\"", s.seq),
                _ => {}
            }
            last_seq = Some(s.seq);
        }
        let room_refuses = stuck.borrow_and_update().clone();
        if let Some(why) = &room_refuses
            && a.once
        {
            // Preparing a tablet: the room must be seen to first.
            bar.finish_and_clear();
            bail!("refused by the room: {why}");
        }
        if room_refuses != told_stuck {
            if let Some(why) = &room_refuses {
                bar.suspend(|| {
                    eprintln!("gavel-agent: refused by the room: {why}; serving what the tablet keeps, and trying the room again later")
                });
            }
            told_stuck = room_refuses;
        }
        let p = progress.borrow_and_update().clone();
        // Preparing a tablet (--once) stops once the pass that met the
        // problem is over (the documents that fit kept first): its storage
        // must be seen to. Serving goes on with what it holds, and retries.
        if a.once
            && p.pass_over
            && let Some(why) = &p.problem
        {
            bar.finish_and_clear();
            bail!("the tablet cannot keep the documents: {why} (it holds {} of {})", p.docs_done, p.docs_total);
        }
        if p.problem != problem {
            if let Some(why) = &p.problem
                && !a.once
            {
                bar.suspend(|| eprintln!("gavel-agent: the tablet cannot keep the documents: {why}; trying again later"));
            }
            problem = p.problem.clone();
        }
        let now: Vec<String> = p.refused.iter().map(|r| r.to_string()).collect();
        if now != refused {
            let new: Vec<&str> = now.iter().filter(|r| !refused.contains(r)).map(String::as_str).collect();
            if !new.is_empty() && !a.once {
                let list = new.join(", ");
                bar.suspend(|| {
                    eprintln!("gavel-agent: the room did not give {list}; the other documents are kept, and it is asked again later")
                });
            }
            refused = now;
        }
        // Preparing a tablet (--once) ends when nothing more can come: with
        // the documents the room would not give named, and a failure, so
        // whoever prepares the tablets sees that this one is not ready.
        if a.once && p.stuck() && p.seq == last_seq {
            bar.finish_and_clear();
            bail!(
                "the pack is incomplete: {} of {} documents kept; the room did not give {}",
                p.docs_done,
                p.docs_total,
                refused.join(", ")
            );
        }
        bar.set_length(p.bytes_total);
        bar.set_position(p.bytes_done);
        bar.set_message(p.current.clone());
        let online = link.borrow().is_some();
        if online && last_seq.is_some() && p.seq == last_seq && p.complete() && !said_complete {
            let t = *shared.totals.lock().expect("totals");
            bar.finish_and_clear();
            println!(
                "pack complete documents={} bytes={} chunks_fetched={} chunks_reused={} chunks_resumed={}",
                p.docs_total, p.bytes_total, t.chunks_fetched, t.chunks_reused, t.chunks_resumed
            );
            said_complete = true;
            if a.once {
                return Ok(());
            }
        } else if !p.complete() {
            said_complete = false;
        }
        tokio::select! {
            _ = fatal.changed() => {}
            _ = stuck.changed() => {}
            _ = state.changed() => {}
            _ = progress.changed() => {}
            _ = link.changed() => {
                let up = link.borrow().is_some();
                if !up && announced { println!("offline: showing the last known state and the cached documents"); }
                if up && announced { println!("online"); }
            }
            _ = tokio::signal::ctrl_c() => { bar.finish_and_clear(); return Ok(()) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_codes_and_room_links_parse() {
        assert_eq!(parse_code(" 3-17-482913 ").unwrap(), (3, 17, "482913".to_string()));
        assert!(parse_code("3-17").is_err());
        assert!(parse_code("x-17-1").is_err());
        let fp = "ab".repeat(32);
        let (addr, got) = parse_link(&format!("gavel://10.0.0.5:4433/?fp={fp}&http=8080&room=P1")).unwrap();
        assert_eq!((addr.to_string(), got), ("10.0.0.5:4433".to_string(), fp));
        assert!(parse_link("http://10.0.0.5:4433/?fp=ab").is_err());
        assert!(parse_link("gavel://10.0.0.5:4433/?fp=abc").is_err());
    }
}
