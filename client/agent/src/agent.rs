//! The agent itself: one participant's link to a room, kept up by itself,
//! the meeting pack kept in the cache, and the web UI served on loopback.
//!
//! Three tasks share [`Shared`]:
//! - the **link**: connects over QUIC, signs in (with the saved session,
//!   else the PIN), says `hello` with the last `seq` it holds so the room
//!   replays what it missed, folds events into the state, forwards the
//!   browser's commands; when the link drops it tries again with a growing,
//!   jittered delay;
//! - the **downloader**: fetches every document the participant may read
//!   that is not in the cache yet, the current item's first, in chunks that
//!   survive a drop;
//! - the **local server** (`127.0.0.1:PORT`): the room's web UI, relayed
//!   over the link and kept for offline use; `/ws` answered from the agent's
//!   own state (so the agenda shows with the room out of reach); documents
//!   from the cache. Only for the browser opened with the agent's link,
//!   which leaves the browser's key as a cookie.
//!
//! The last known state and the session are kept in the cache directory,
//! so a restarted agent shows the meeting before it reaches the room.

use crate::link::{self, Link};
use crate::pack::Cache;
use crate::vault::{UnlockError, Vault};
use anyhow::{Context, bail};
use axum::body::Body;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use gavel_shared::model::*;
use gavel_shared::pack::{StreamReply, StreamRequest};
use gavel_shared::protocol::{self, ClientMessage, NotGiven, PROTOCOL_VERSION, ServerMessage};
use gavel_shared::state::MeetingState;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio::sync::{broadcast, mpsc, watch};

/// How to reach the room and whom to sign in as.
#[derive(Debug, Clone)]
pub struct Options {
    /// The room's QUIC address.
    pub server: SocketAddr,
    /// The room's certificate fingerprint (lowercase hex SHA-256).
    pub fingerprint: String,
    pub meeting: MeetingId,
    pub participant: ParticipantId,
    /// Needed for the first sign-in; later ones use the saved session.
    pub pin: Option<String>,
    /// Where the meeting pack, the state and the session are kept.
    pub cache_dir: PathBuf,
    /// Where to serve the web UI (`None`: no local server).
    pub listen: Option<SocketAddr>,
    /// The room was found by mDNS: when it stops answering at `server`, it
    /// is looked for again on the LAN by its fingerprint (it may have moved
    /// to another address). Never for a room given by address: that LAN may
    /// have no mDNS, or forbid multicast.
    pub rediscover: bool,
}

/// The link as the rest of the agent sees it.
#[derive(Clone)]
pub struct Online {
    pub connection: quinn::Connection,
    pub token: String,
    /// The agent's UDP endpoint (rebinding it moves the link to a new address).
    pub endpoint: quinn::Endpoint,
}

/// How the meeting pack is coming along.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    pub docs_total: usize,
    pub docs_done: usize,
    pub bytes_total: u64,
    pub bytes_done: u64,
    /// The title of the document being fetched.
    pub current: String,
    /// The `seq` of the state these figures were taken from.
    pub seq: Option<u64>,
    /// Why documents cannot be kept on this tablet (its storage failed: the
    /// disk is full, the cache cannot be written): the system's own words,
    /// until a document is kept again.
    pub problem: Option<String>,
    /// Documents the room would not give for now (an error of its own, not
    /// of the link): tried again later.
    pub refused: Vec<Refused>,
    /// The download pass these figures belong to went through every
    /// document it had to try (it was not cut short by the link, or by the
    /// meeting changing).
    pub pass_over: bool,
}

/// A document the room would not give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub document: DocumentId,
    pub title: String,
    /// The room's code for why ("not_found", "unstampable"), empty when
    /// the tablet itself failed.
    pub code: String,
    /// The room's words (or the tablet's, without a code).
    pub why: String,
    /// How many times it was asked for.
    pub tries: u32,
    /// Asking again will not help until the meeting changes (gone, not
    /// this reader's, cannot be stamped).
    pub lasting: bool,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code.as_str() {
            "" => write!(f, "\"{}\" ({})", self.title, self.why),
            code => write!(f, "\"{}\" ({} [{code}])", self.title, self.why),
        }
    }
}

/// How many times a document the room refuses (for a reason that may pass:
/// a busy or failing disk) is asked for before preparing a tablet gives up
/// on it: at once, after 2 s and after 4 more.
pub const GIVE_UP_AFTER: u32 = 3;

impl Progress {
    /// True when every document the participant may read is in the cache.
    pub fn complete(&self) -> bool {
        self.seq.is_some() && self.docs_done == self.docs_total
    }

    /// True when every document is either kept or refused by the room, some
    /// are refused, and each of those for a lasting reason or after
    /// [`GIVE_UP_AFTER`] tries: a tablet being prepared will get no more.
    pub fn stuck(&self) -> bool {
        self.seq.is_some()
            && !self.refused.is_empty()
            && self.docs_done + self.refused.len() == self.docs_total
            && self.refused.iter().all(|r| r.lasting || r.tries >= GIVE_UP_AFTER)
    }
}

/// A document the room would not give: how often, when to ask again, and
/// the room's words.
struct Refusal {
    tries: u32,
    next: Instant,
    code: String,
    why: String,
    lasting: bool,
}

/// The refusals of the documents listed, in the meeting's order, as told.
fn told(docs: &[Document], refused: &HashMap<String, Refusal>) -> Vec<Refused> {
    docs.iter()
        .filter_map(|d| {
            refused.get(&d.sha256).map(|r| Refused {
                document: d.id,
                title: d.title.clone(),
                code: r.code.clone(),
                why: r.why.clone(),
                tries: r.tries,
                lasting: r.lasting,
            })
        })
        .collect()
}

/// The room has a newer version than the state the request was made from.
fn state_behind(e: &anyhow::Error) -> bool {
    e.downcast_ref::<crate::pack::StateBehind>().is_some() || e.downcast_ref::<crate::pack::RoomRefused>().is_some_and(|r| r.state_behind())
}

/// Totals of what the downloader did since the agent started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub chunks_fetched: usize,
    pub chunks_reused: usize,
    pub chunks_resumed: usize,
    pub bytes_fetched: u64,
}

/// The session kept on disk, so a restart resumes without the PIN.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Saved {
    meeting: MeetingId,
    participant: ParticipantId,
    token: String,
    actor: Actor,
    name: String,
}

/// What the agent's tasks share.
pub struct Shared {
    pub opts: Options,
    /// Where the room is now: `opts.server`, until it is found elsewhere.
    server: Mutex<SocketAddr>,
    /// The cache directory's lock: held as long as anything of this agent
    /// may still write to the cache (its tasks end after the agent is dropped).
    _lock: std::fs::File,
    /// The key the tablet's browser shows the local server (as a cookie,
    /// set from the link the agent prints): other apps on the tablet, and
    /// other pages in its browser, are refused.
    pub local_key: String,
    /// The vault was made by this start (a first join): a PIN the room
    /// refuses then is a mistyped one, not one taken away.
    new_vault: bool,
    pub cache: Cache,
    /// The last known state of the meeting (as this participant sees it).
    pub state: watch::Sender<Option<MeetingState>>,
    /// The link, when it is up.
    pub link: watch::Sender<Option<Online>>,
    pub progress: watch::Sender<Progress>,
    pub totals: Mutex<Totals>,
    /// How many times the link was made (1 + reconnections).
    pub links_made: std::sync::atomic::AtomicUsize,
    /// A reason the agent gave up (revoked; or refused with nothing kept).
    pub fatal: watch::Sender<Option<String>>,
    /// Why the room refuses this tablet, while it does ([`Ended::Stuck`]):
    /// what the tablet keeps is served meanwhile. The room's code and words,
    /// or the agent's own (`wrong_room`, `agent_version`, `pin_needed`): the
    /// code is what the tablet's browser says it with.
    pub stuck: watch::Sender<Option<crate::pack::RoomRefused>>,
    /// Who the agent signed in as.
    session: Mutex<Option<Saved>>,
    /// Snapshots and events, for the browser's sockets.
    local: broadcast::Sender<ServerMessage>,
    /// Commands from the browser, to the room.
    outbox: mpsc::Sender<ClientMessage>,
    outbox_rx: tokio::sync::Mutex<mpsc::Receiver<ClientMessage>>,
    /// Commands from the browser not yet answered by the room, by key: the
    /// socket waiting for the answer and the command, sent again on the
    /// next link if this one drops (the room applies a key once).
    pending: Mutex<HashMap<String, Waiting>>,
    /// The room's clock minus ours.
    clock_offset: Mutex<time::Duration>,
    /// One document relayed to the browser at a time (see [`RELAY_STALL`]).
    relaying_document: Arc<tokio::sync::Semaphore>,
}

/// How long a relayed answer waits for the browser to take its next piece
/// before it is given up (the browser's viewer asks again). What the room
/// sent meanwhile sits unread against the link's flow-control window (1
/// MiB a stream, 2 MiB in all): a browser that stops reading (a tab put in
/// the background, an app switched away from) would otherwise hold it until
/// the room gives up after a minute, and two such answers stopped every
/// other stream on the link: agenda moves, votes, the pack. One document at
/// a time is relayed, so one stalled answer leaves the rest of the window.
const RELAY_STALL: Duration = Duration::from_secs(10);
/// How long a relayed request waits for the link to sign in again after
/// the room's session ended, before it is answered as offline.
const RELINK_WAIT: Duration = Duration::from_secs(15);

/// A browser's command waiting for the room's answer.
struct Waiting {
    answer_to: mpsc::Sender<ServerMessage>,
    command: ClientMessage,
    since: Instant,
    /// When it was given, in order: sent again in that order.
    order: u64,
}

/// The order commands were given in, for [`Waiting::order`].
static GIVEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The oldest command still waiting for the room, once those whose page is
/// gone (reloaded, its button pressed again under another key) or that
/// waited too long are let go, the latter answered so their button stops
/// waiting.
///
/// A backlog goes one command at a time, each once the one before is
/// answered, in the order given: sent at once, "ABC" saved after "AB"
/// could be overwritten by it, attendance ticked then unticked end up
/// ticked, whenever the room dropped some of them for coming too fast and
/// let a later one through.
fn oldest_waiting(shared: &Shared) -> Option<ClientMessage> {
    let mut pending = shared.pending.lock().expect("pending");
    pending.retain(|key, w| {
        if w.answer_to.is_closed() {
            return false;
        }
        if w.since.elapsed() > PENDING_FOR {
            let _ = w.answer_to.try_send(ServerMessage::Error {
                key: Some(key.clone()),
                code: "offline".into(),
                message: "no answer from the room in time: look whether it was done before sending it again".into(),
            });
            return false;
        }
        true
    });
    pending.values().min_by_key(|w| w.order).map(|w| w.command.clone())
}

/// A backlog being sent, one command at a time.
#[derive(Default)]
struct Backlog {
    /// Commands given meanwhile wait their turn in it.
    draining: bool,
    /// The key of the one sent and awaited: only its answer sends the next
    /// (after the room dropped commands, none until the pause is over).
    in_flight: Option<String>,
    /// When the oldest goes (again): after the pause, or when the one in
    /// flight went unanswered too long.
    retry: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl Backlog {
    /// Sends the oldest command waiting, or ends the backlog when none does.
    async fn send_next(&mut self, shared: &Shared, send: &mut quinn::SendStream) -> anyhow::Result<()> {
        match oldest_waiting(shared) {
            Some(command) => {
                self.in_flight = match &command {
                    ClientMessage::Command { key, .. } => Some(key.clone()),
                    _ => None,
                };
                link::send_msg(send, &command).await?;
                self.draining = true;
                self.retry = Some(Box::pin(tokio::time::sleep(BACKLOG_ANSWER)));
            }
            None => *self = Backlog::default(),
        }
        Ok(())
    }

    /// The room dropped commands unread: the oldest goes again after a pause.
    fn pause(&mut self) {
        self.draining = true;
        self.in_flight = None;
        self.retry = Some(Box::pin(tokio::time::sleep(RATE_LIMITED_RETRY)));
    }
}

/// How long after the room dropped commands for coming too fast the oldest
/// still unanswered goes again (the room's bucket refills at least one a second).
const RATE_LIMITED_RETRY: Duration = Duration::from_secs(1);

/// How long a command of a backlog waits for its answer before it goes
/// again (with its key: the room answers it once).
const BACKLOG_ANSWER: Duration = Duration::from_secs(10);

/// How long a command waits for the room before it is given up (a hand
/// raised while the room was away is not raised an hour later).
const PENDING_FOR: Duration = Duration::from_secs(300);

/// How many commands may wait for the room at once.
const MAX_PENDING: usize = 256;

/// A running agent.
pub struct Agent {
    pub shared: Arc<Shared>,
    /// Where the web UI is served.
    pub local_addr: Option<SocketAddr>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// The file whose lock says an agent is using a cache directory.
const LOCK_FILE: &str = "agent.lock";

/// Takes the cache directory for this agent alone. Two agents on one cache
/// (started twice, or by hand beside the one the tablet starts) would write
/// the same sealed files and sweep each other's half-written ones. The
/// system drops the lock when the process ends, however it ends.
async fn lock_cache(dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    // An agent just stopped (or a process just ended: Windows releases its
    // locks a moment later) lets go within a few seconds.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                // Waited for on the runtime, not on one of its threads: the
                // agent just stopped ends its tasks there.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "another gavel-agent is already using the documents kept in {}: stop it first, or give this one its own --cache",
                dir.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                // A file system without locks (some network shares): go on,
                // as before there was a lock.
                tracing::warn!(file = %path.display(), error = %e, "cannot lock the cache; make sure no other agent uses it");
                return Ok(file);
            }
        }
    }
}

impl Agent {
    /// The link that opens the meeting in the tablet's browser: it gives the
    /// browser its key, kept as a cookie while this agent runs (a restarted
    /// agent gives a new link: see `browser_key`).
    ///
    /// Its host is a name of this agent's own under `localhost` (browsers
    /// take any `*.localhost` for loopback): cookies are kept per host name,
    /// not per port, so one set for `127.0.0.1` would also go to any other
    /// program's server on `127.0.0.1`, which could then read it.
    pub fn local_url(&self) -> Option<String> {
        self.local_addr.map(|a| format!("http://{}:{}/?{KEY_PARAM}={}", own_host(&self.shared.local_key), a.port(), self.shared.local_key))
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        // The state is otherwise kept every half second while linked: an
        // agent stopped sooner (`--once` on a small pack, Ctrl-C) left the
        // tablet without the agenda to show offline, and so without its
        // documents, which are served by what the state lists.
        self.shared.save_state();
    }
}

const STATE_FILE: &str = "state.json";
const SESSION_FILE: &str = "session.json";
/// The room's answer to `GET /api/session`, for the UI offline.
const SESSION_INFO_FILE: &str = "session-info.json";

impl Agent {
    /// Opens the cache, loads what a previous run kept, binds the local
    /// server and starts following the room.
    pub async fn start(opts: Options) -> anyhow::Result<Agent> {
        // Everything kept on the tablet is sealed with a key that only the
        // PIN unwraps: it is needed at every start, offline too.
        let pin = opts.pin.clone().context("the PIN is needed to open the meeting documents kept on this tablet")?;
        std::fs::create_dir_all(&opts.cache_dir).with_context(|| format!("cannot create the cache in {}", opts.cache_dir.display()))?;
        // The cache for the tablet's user alone: its files were made with
        // the system's default mode, readable by every account on the
        // tablet (the sealed documents, and the key the PIN unwraps, open
        // to guessing offline). One another account made (under the shared
        // temporary directory) cannot be taken over.
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            if let Err(e) = std::fs::set_permissions(&opts.cache_dir, std::fs::Permissions::from_mode(0o700)) {
                // A memory card (FAT) takes no modes; it is refused only when
                // the directory is another account's.
                let probe = opts.cache_dir.join(format!(".owner-{}", std::process::id()));
                let mine = std::fs::File::create(&probe).and_then(|f| f.metadata()).map(|m| m.uid());
                let _ = std::fs::remove_file(&probe);
                let owner = std::fs::metadata(&opts.cache_dir).map(|m| m.uid());
                match (mine, owner) {
                    (Ok(me), Ok(owner)) if me == owner => {
                        tracing::warn!(dir = %opts.cache_dir.display(), error = %e, "the cache's file system keeps no modes: other accounts may read it")
                    }
                    _ => bail!("the cache in {} is another account's: give this agent its own --cache ({e})", opts.cache_dir.display()),
                }
            }
        }
        let lock = lock_cache(&opts.cache_dir).await?;
        let mut fresh = !Vault::exists(&opts.cache_dir);
        let (dir, key) = (opts.cache_dir.clone(), pin.clone());
        let vault = match tokio::task::spawn_blocking(move || Vault::open_or_create(&dir, &key)).await? {
            Ok(v) => v,
            Err(UnlockError::WrongPin) => {
                // The secretary may have given a new PIN: the cache sealed
                // with the old one is then of no use. Only if the room
                // accepts this PIN is it deleted and the pack fetched again.
                match room_accepts_pin(&opts, &pin).await {
                    Ok(true) => {
                        tracing::warn!("the room accepts a new PIN: the documents kept with the old one are deleted");
                        std::fs::remove_file(opts.cache_dir.join(crate::vault::KEY_FILE))?;
                        fresh = true;
                        let (dir, key) = (opts.cache_dir.clone(), pin.clone());
                        tokio::task::spawn_blocking(move || Vault::open_or_create(&dir, &key)).await??
                    }
                    Ok(false) => bail!("{}", UnlockError::WrongPin),
                    Err(e) => bail!("{}; the room could not be reached to check whether the PIN was changed: {e:#}", UnlockError::WrongPin),
                }
            }
            Err(UnlockError::Damaged(why)) => {
                // Nothing kept can be opened without it: the cache starts
                // again, rather than the agent refusing to start for good.
                tracing::warn!(%why, "the cache key file is damaged: the documents kept are fetched again");
                std::fs::remove_file(opts.cache_dir.join(crate::vault::KEY_FILE))?;
                fresh = true;
                let (dir, key) = (opts.cache_dir.clone(), pin.clone());
                tokio::task::spawn_blocking(move || Vault::open_or_create(&dir, &key)).await??
            }
            Err(e) => return Err(e.into()),
        };
        let cache = Cache::open(&opts.cache_dir, Arc::new(vault))?;
        cache.sweep();
        let local_key = browser_key(&opts.cache_dir);
        if fresh {
            // A cache from before encryption (or half made): nothing of it is kept.
            cache.wipe()?;
            for f in [STATE_FILE, SESSION_FILE, SESSION_INFO_FILE] {
                let _ = std::fs::remove_file(opts.cache_dir.join(f));
            }
        }
        let saved_state =
            cache.kept(STATE_FILE).and_then(|b| serde_json::from_slice::<MeetingState>(&b).ok()).filter(|s| s.meeting.id == opts.meeting);
        let saved_session = cache
            .kept(SESSION_FILE)
            .and_then(|b| serde_json::from_slice::<Saved>(&b).ok())
            .filter(|s| s.meeting == opts.meeting && s.participant == opts.participant);
        let (outbox, outbox_rx) = mpsc::channel(256);
        let shared = Arc::new(Shared {
            _lock: lock,
            local_key,
            new_vault: fresh,
            cache,
            state: watch::channel(saved_state).0,
            link: watch::channel(None).0,
            progress: watch::channel(Progress::default()).0,
            totals: Mutex::new(Totals::default()),
            links_made: Default::default(),
            fatal: watch::channel(None).0,
            stuck: watch::channel(None).0,
            session: Mutex::new(saved_session),
            local: broadcast::channel(1024).0,
            outbox,
            outbox_rx: tokio::sync::Mutex::new(outbox_rx),
            pending: Mutex::new(HashMap::new()),
            clock_offset: Mutex::new(time::Duration::ZERO),
            relaying_document: Arc::new(tokio::sync::Semaphore::new(1)),
            server: Mutex::new(opts.server),
            opts,
        });
        let mut tasks = vec![tokio::spawn(run_link(shared.clone())), tokio::spawn(run_downloads(shared.clone()))];
        let local_addr = match shared.opts.listen {
            Some(addr) => {
                let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
                let local = listener.local_addr()?;
                let app = local_router(shared.clone());
                tasks.push(tokio::spawn(async move {
                    if let Err(e) = axum::serve(listener, app).await {
                        tracing::error!(error = %e, "the local server stopped");
                    }
                }));
                Some(local)
            }
            None => None,
        };
        Ok(Agent { shared, local_addr, tasks })
    }
}

/// Whether the room signs this participant in with `pin` (asked when the
/// PIN does not open the cache: it may have been changed).
async fn room_accepts_pin(opts: &Options, pin: &str) -> anyhow::Result<bool> {
    let check = async {
        let mut l = Link::connect(opts.server, &opts.fingerprint, link::ALPN).await?;
        l.send(&ClientMessage::SignIn { meeting: opts.meeting, participant: opts.participant, pin: pin.to_string(), remote: false })
            .await?;
        match l.recv().await? {
            ServerMessage::SignedIn { .. } => Ok(true),
            ServerMessage::Error { code, .. } if code == "bad_credentials" => Ok(false),
            ServerMessage::Error { code, message, .. } => bail!("{code}: {message}"),
            other => bail!("unexpected answer {other:?}"),
        }
    };
    tokio::time::timeout(Duration::from_secs(10), check).await.context("no answer")?
}

impl Shared {
    /// The name the room gave the participant, once signed in.
    pub fn signed_in_as(&self) -> Option<(Actor, String)> {
        self.session.lock().expect("session").as_ref().map(|s| (s.actor, s.name.clone()))
    }

    fn save_session(&self, s: Option<Saved>) {
        match &s {
            Some(s) => {
                if let Err(e) = serde_json::to_vec(s).map_err(anyhow::Error::from).and_then(|b| self.cache.keep(SESSION_FILE, &b)) {
                    tracing::warn!(error = %e, "cannot keep the session");
                }
            }
            None => {
                let _ = std::fs::remove_file(self.opts.cache_dir.join(SESSION_FILE));
            }
        }
        *self.session.lock().expect("session") = s;
    }

    fn save_state(&self) {
        let Some(bytes) = self.state.borrow().as_ref().and_then(|s| serde_json::to_vec(s).ok()) else { return };
        if let Err(e) = self.cache.keep(STATE_FILE, &bytes) {
            tracing::warn!(error = %e, "cannot keep the meeting state");
        }
    }

    /// The room revoked this tablet's session (it was reported lost): delete
    /// the meeting pack, the state and the session, and say so.
    fn forget_everything(&self) -> String {
        let wiped = self.cache.wipe();
        for f in [STATE_FILE, SESSION_FILE, SESSION_INFO_FILE] {
            let _ = std::fs::remove_file(self.opts.cache_dir.join(f));
        }
        let _ = std::fs::remove_dir_all(self.opts.cache_dir.join("web"));
        *self.session.lock().expect("session") = None;
        self.state.send_replace(None);
        tracing::warn!(wiped = wiped.is_ok(), "session revoked by the room: cached documents deleted");
        let why = match wiped {
            Ok(()) => "the chair or the secretary ended this tablet's session: its documents were deleted from it".to_string(),
            Err(e) => format!("the chair or the secretary ended this tablet's session, but deleting its documents failed: {e:#}"),
        };
        // The tablet's browser is told as the room's own browsers are: it
        // leaves the meeting, the documents it shows with it, instead of
        // keeping them on screen "reconnecting" to an agent that has gone.
        let _ = self.local.send(ServerMessage::Error { key: None, code: "revoked".into(), message: why.clone() });
        why
    }

    /// Where the room is now.
    pub fn server(&self) -> SocketAddr {
        *self.server.lock().expect("server")
    }

    fn server_time(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + *self.clock_offset.lock().expect("clock")
    }
}

/// Why a link attempt ended.
enum Ended {
    /// Try again later.
    Retry(anyhow::Error),
    /// The room refuses this tablet until a person acts: it is not the
    /// pinned one (a new certificate), speaks another version, locked the
    /// sign-in, no longer has the meeting… What the tablet keeps is still
    /// served, and the room is tried again, less and less often (the
    /// secretary may unlock the sign-in, the right room come back). A
    /// tablet that keeps nothing yet gives up instead, saying why.
    Stuck(crate::pack::RoomRefused),
    /// Give up: the session was revoked (what the tablet kept is deleted),
    /// or the agent is stopping.
    Fatal(String),
}

/// How long a refused tablet waits before it tries the room again, at
/// first and at most ([`Ended::Stuck`]).
const STUCK_WAIT: (Duration, Duration) = (Duration::from_secs(5), Duration::from_secs(120));

/// Whether the room's refusal `code` passes by itself, so that the link is
/// tried again rather than given up: a sign-in that must wait after
/// mistyped PINs, a room at its connection limit, busy or stopping.
/// Anything else (a wrong PIN, a locked sign-in, no such meeting) needs a
/// person.
fn passes(code: &str) -> bool {
    matches!(code, "too_many_attempts" | "too_many_connections" | "unavailable" | "internal" | "disk_full")
}

/// What a refusal from the room ends the link with.
fn refused(what: &str, code: String, message: String) -> Ended {
    if passes(&code) {
        Ended::Retry(anyhow::anyhow!("{what}: {code}: {message}"))
    } else {
        tracing::warn!(%code, %message, "{what}");
        Ended::Stuck(crate::pack::RoomRefused { code, message })
    }
}

impl<E: Into<anyhow::Error>> From<E> for Ended {
    fn from(e: E) -> Self {
        Ended::Retry(e.into())
    }
}

async fn run_link(shared: Arc<Shared>) {
    let mut endpoint = match link::client_endpoint(shared.opts.server) {
        Ok(e) => e,
        Err(e) => {
            shared.fatal.send_replace(Some(format!("cannot open a UDP socket: {e:#}")));
            return;
        }
    };
    let mut backoff = Duration::from_millis(200);
    let mut looking = Rediscovery::default();
    let mut stuck_wait = STUCK_WAIT.0;
    loop {
        let began = Instant::now();
        let links_before = shared.links_made.load(std::sync::atomic::Ordering::Relaxed);
        let ended = one_link(&shared, &endpoint).await;
        shared.link.send_replace(None);
        let was_up = shared.links_made.load(std::sync::atomic::Ordering::Relaxed) != links_before;
        if was_up {
            stuck_wait = STUCK_WAIT.0;
        }
        // With nothing kept to show, a refusal ends the agent as it did.
        let ended = match ended {
            Ended::Stuck(why) if shared.state.borrow().is_none() => Ended::Fatal(format!("refused by the room: {why}")),
            e => e,
        };
        // Commands in flight wait for the next link, which sends them again:
        // the room may have applied them, so they are not failed here.
        match ended {
            Ended::Stuck(why) => {
                tracing::error!(%why, ?stuck_wait, "the room refuses this tablet: serving what it keeps, and trying again later");
                for (key, waiting) in shared.pending.lock().expect("pending").drain() {
                    let _ = waiting.answer_to.try_send(ServerMessage::Error {
                        key: Some(key),
                        code: "offline".into(),
                        message: format!("the room refuses this tablet: {why}"),
                    });
                }
                shared.stuck.send_replace(Some(why));
                if shared.opts.rediscover
                    && let Some(moved) = looking.look(&shared).await
                    && moved.is_ipv4() != endpoint_is_ipv4(&endpoint)
                    && let Ok(e) = link::client_endpoint(moved)
                {
                    endpoint = e;
                }
                tokio::time::sleep(stuck_wait).await;
                stuck_wait = (stuck_wait * 2).min(STUCK_WAIT.1);
                continue;
            }
            Ended::Fatal(why) => {
                tracing::error!(%why, "giving up on the room");
                for (key, waiting) in shared.pending.lock().expect("pending").drain() {
                    let _ = waiting.answer_to.try_send(ServerMessage::Error {
                        key: Some(key),
                        code: "offline".into(),
                        message: format!("the tablet no longer follows the room: {why}"),
                    });
                }
                shared.fatal.send_replace(Some(why));
                return;
            }
            Ended::Retry(e) => {
                tracing::info!(error = %format!("{e:#}"), "link down; trying again");
                // Whatever refused the tablet no longer answers: not said any more.
                if shared.stuck.borrow().is_some() {
                    shared.stuck.send_replace(None);
                }
            }
        }
        if began.elapsed() > Duration::from_secs(10) {
            backoff = Duration::from_millis(200);
        }
        if was_up {
            looking = Rediscovery::default();
        } else if shared.opts.rediscover
            && looking.due()
            && let Some(moved) = looking.look(&shared).await
        {
            if moved.is_ipv4() != endpoint_is_ipv4(&endpoint) {
                match link::client_endpoint(moved) {
                    Ok(e) => endpoint = e,
                    Err(e) => tracing::warn!(error = %e, "cannot open a UDP socket for the room's new address"),
                }
            }
            backoff = Duration::from_millis(200);
        }
        let jitter = Duration::from_millis(rand::random_range(0..200u64));
        tokio::time::sleep(backoff + jitter).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

fn endpoint_is_ipv4(endpoint: &quinn::Endpoint) -> bool {
    endpoint.local_addr().map(|a| a.is_ipv4()).unwrap_or(true)
}

/// Looking for the room on the LAN again while it does not answer at its
/// address: at the first failed try, then less and less often (a room
/// switched off for the night is not looked for every few seconds).
struct Rediscovery {
    next: Instant,
    wait: Duration,
}

impl Default for Rediscovery {
    fn default() -> Self {
        Rediscovery { next: Instant::now(), wait: Duration::from_secs(10) }
    }
}

impl Rediscovery {
    /// How long one look listens, at most (it ends when the room answers).
    const LISTEN: Duration = Duration::from_secs(3);
    const MAX_WAIT: Duration = Duration::from_secs(120);

    fn due(&self) -> bool {
        Instant::now() >= self.next
    }

    /// Looks for the room by its fingerprint; its new address when it moved.
    async fn look(&mut self, shared: &Shared) -> Option<SocketAddr> {
        self.next = Instant::now() + self.wait;
        self.wait = (self.wait * 2).min(Self::MAX_WAIT);
        let fingerprint = shared.opts.fingerprint.clone();
        let found = tokio::task::spawn_blocking(move || crate::discover::find_fingerprint(&fingerprint, Self::LISTEN)).await;
        let room = match found {
            Ok(Ok(Some(room))) => room,
            Ok(Ok(None)) => return None,
            Ok(Err(e)) => {
                tracing::warn!(error = %format!("{e:#}"), "cannot look for the room on the LAN");
                return None;
            }
            Err(e) => {
                tracing::warn!(error = %e, "looking for the room on the LAN failed");
                return None;
            }
        };
        let current = shared.server();
        let moved = room.quic_addr(Some(current)).filter(|a| *a != current)?;
        tracing::warn!(from = %current, to = %moved, "the room answers at another address: following it there");
        *shared.server.lock().expect("server") = moved;
        Some(moved)
    }
}

/// The certificate is not the one pinned: another room answers there.
fn another_room(e: &anyhow::Error) -> bool {
    format!("{e:#}").contains("fingerprint")
}

/// Turns a failed handshake into a refusal a person can act on.
pub fn explain_connect_error(server: SocketAddr, e: &anyhow::Error) -> Option<crate::pack::RoomRefused> {
    let text = format!("{e:#}");
    if another_room(e) {
        return Some(crate::pack::RoomRefused {
            code: "wrong_room".into(),
            message: format!("the room at {server} is not the one pinned ({text})"),
        });
    }
    if text.to_lowercase().contains("application protocol") || text.contains("no_application_protocol") {
        return Some(crate::pack::RoomRefused {
            code: "agent_version".into(),
            message: format!("the room at {server} does not speak protocol version {PROTOCOL_VERSION}, the one this agent speaks"),
        });
    }
    None
}

async fn one_link(shared: &Arc<Shared>, endpoint: &quinn::Endpoint) -> Ended {
    let opts = &shared.opts;
    let server = shared.server();
    let l = match Link::connect_with(endpoint, server, &opts.fingerprint, link::ALPN).await {
        Ok(l) => l,
        Err(e) => {
            return match explain_connect_error(server, &e) {
                // A room found on the LAN that moved: its old address (and
                // the usual port) may now be another room's. The agent looks
                // for its own again instead of giving up. (A room that does
                // not speak this agent's version is still said at once:
                // updating the agent is what helps then.)
                Some(why) if opts.rediscover && another_room(&e) => {
                    tracing::warn!(%why, "another room answers at this address: looking for this one on the LAN");
                    Ended::Retry(e)
                }
                Some(why) => Ended::Stuck(why),
                None => Ended::Retry(e),
            };
        }
    };
    let connection = l.connection.clone();
    let (mut send, mut recv) = l.split();
    // Sign in: the saved session first, else the PIN.
    let saved = shared.session.lock().expect("session").clone();
    let mut token = None;
    if let Some(s) = saved {
        if let Err(e) = link::send_msg(&mut send, &ClientMessage::Resume { token: s.token.clone() }).await {
            return e.into();
        }
        match link::recv_msg(&mut recv).await {
            Ok(ServerMessage::SignedIn { .. }) => token = Some(s.token),
            Ok(ServerMessage::Error { code, .. }) if code == "revoked" => return Ended::Fatal(shared.forget_everything()),
            // The session ended (its hours are over): the PIN signs in
            // again below. Who the tablet is stays saved meanwhile, so the
            // browser still opens the meeting should that sign-in wait.
            Ok(ServerMessage::Error { code, .. }) if code == "unauthorized" => {}
            Ok(other) => return Ended::Retry(anyhow::anyhow!("unexpected answer {other:?}")),
            Err(e) => return e.into(),
        }
    }
    let token = match token {
        Some(t) => t,
        None => {
            let Some(pin) = opts.pin.clone() else {
                return Ended::Stuck(crate::pack::RoomRefused {
                    code: "pin_needed".into(),
                    message: "the session has ended and no PIN was given: join again with the PIN".into(),
                });
            };
            let sign_in = ClientMessage::SignIn { meeting: opts.meeting, participant: opts.participant, pin, remote: false };
            if let Err(e) = link::send_msg(&mut send, &sign_in).await {
                return e.into();
            }
            match link::recv_msg(&mut recv).await {
                Ok(ServerMessage::SignedIn { actor, name, token: Some(token) }) => {
                    shared.save_session(Some(Saved {
                        meeting: opts.meeting,
                        participant: opts.participant,
                        token: token.clone(),
                        actor,
                        name,
                    }));
                    token
                }
                // The PIN that opened the vault is no longer this
                // participant's (removed from the meeting, or given a new
                // PIN): what it kept is not theirs to read any more.
                Ok(ServerMessage::Error { code, message, .. })
                    if code == "bad_credentials" && shared.new_vault && shared.state.borrow().is_none() =>
                {
                    // A first join with a mistyped PIN: the vault it made goes, so
                    // the right PIN makes a new one.
                    let _ = std::fs::remove_file(opts.cache_dir.join(crate::vault::KEY_FILE));
                    return Ended::Fatal(format!("sign-in refused (is the PIN right?): {code}: {message}"));
                }
                Ok(ServerMessage::Error { code, .. }) if code == "bad_credentials" || code == "revoked" => {
                    return Ended::Fatal(shared.forget_everything());
                }
                Ok(ServerMessage::Error { code, message, .. }) => return refused("sign-in refused", code, message),
                Ok(other) => return Ended::Retry(anyhow::anyhow!("unexpected answer {other:?}")),
                Err(e) => return e.into(),
            }
        }
    };
    let last_seq = shared.state.borrow().as_ref().map(|s| s.seq);
    let hello = ClientMessage::Hello { meeting: opts.meeting, last_seq, version: PROTOCOL_VERSION };
    if let Err(e) = link::send_msg(&mut send, &hello).await {
        return e.into();
    }
    match link::recv_msg(&mut recv).await {
        Ok(ServerMessage::Welcome { server_time, actor, .. }) => {
            *shared.clock_offset.lock().expect("clock") = server_time - OffsetDateTime::now_utc();
            // The role may have changed while the tablet was away.
            let saved = shared.session.lock().expect("session").clone();
            if let Some(s) = saved.filter(|s| s.actor != actor) {
                shared.save_session(Some(Saved { actor, ..s }));
                let _ = shared.local.send(ServerMessage::Welcome { version: PROTOCOL_VERSION, actor, server_time });
            }
        }
        Ok(ServerMessage::Error { code, message, .. }) => return refused("the room refused to follow", code, message),
        Ok(other) => return Ended::Retry(anyhow::anyhow!("unexpected answer {other:?}")),
        Err(e) => return e.into(),
    }
    shared.links_made.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    shared.stuck.send_replace(None);
    shared.link.send_replace(Some(Online { connection, token, endpoint: endpoint.clone() }));
    // What waited for a link (unanswered on the last one, or given while
    // there was none), with the same keys. Marked online first: a command
    // given meanwhile may go twice, and the room answers its key once.
    // Not sent again: a command whose page is gone (reloaded, its button
    // pressed again under another key) or that waited too long; the latter
    // is answered so its button stops waiting.
    let mut backlog = Backlog::default();
    if let Err(e) = backlog.send_next(shared, &mut send).await {
        return e.into();
    }

    // Reading is not cancel-safe: one task reads, the loop below selects.
    let (incoming_tx, mut incoming) = mpsc::channel::<anyhow::Result<ServerMessage>>(256);
    let reader = tokio::spawn(async move {
        loop {
            let m = link::recv_msg(&mut recv).await;
            let stop = m.is_err();
            if incoming_tx.send(m).await.is_err() || stop {
                return;
            }
        }
    });
    let _reader = AbortOnDrop(reader);
    let mut outbox = shared.outbox_rx.lock().await;
    let mut dirty = false;
    let mut save_tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = async { backlog.retry.as_mut().expect("set").await }, if backlog.retry.is_some() => {
                if let Err(e) = backlog.send_next(shared, &mut send).await {
                    return e.into();
                }
            }
            m = incoming.recv() => {
                let m = match m {
                    Some(Ok(m)) => m,
                    Some(Err(e)) => return Ended::Retry(e.context("the link to the room closed")),
                    None => return Ended::Retry(anyhow::anyhow!("the link to the room closed")),
                };
                match m {
                    ServerMessage::Snapshot { state } => {
                        shared.state.send_replace(Some(state.clone()));
                        let _ = shared.local.send(ServerMessage::Snapshot { state });
                        dirty = true;
                    }
                    ServerMessage::Event { event } => {
                        let mut applied = Ok(());
                        shared.state.send_modify(|s| if let Some(s) = s { applied = s.apply(&event); });
                        if let Err(e) = applied {
                            // Out of step: reconnect, and the room replays or sends a snapshot.
                            return Ended::Retry(anyhow::anyhow!("state out of step: {e}"));
                        }
                        let _ = shared.local.send(ServerMessage::Event { event });
                        dirty = true;
                    }
                    ServerMessage::Ack { ref key, .. } | ServerMessage::Error { key: Some(ref key), .. } => {
                        let waiting = shared.pending.lock().expect("pending").remove(key);
                        // The next of a backlog, once the one sent is answered.
                        let next = backlog.in_flight.as_ref() == Some(key);
                        if let Some(w) = waiting {
                            let _ = w.answer_to.try_send(m);
                        }
                        if next
                            && let Err(e) = backlog.send_next(shared, &mut send).await
                        {
                            return e.into();
                        }
                    }
                    ServerMessage::Welcome { actor, .. } => {
                        // The room changed this participant's role: its
                        // snapshot for the new role follows. Kept, and told to
                        // the tablet's browser, which shows the new role's tools.
                        let saved = shared.session.lock().expect("session").clone().map(|s| Saved { actor, ..s });
                        shared.save_session(saved);
                        let _ = shared.local.send(m);
                    }
                    ServerMessage::Error { code, message, .. } => {
                        if code == "revoked" {
                            return Ended::Fatal(shared.forget_everything());
                        }
                        if code == "unauthorized" {
                            // Signed in again on the next link (see the resume above).
                            return Ended::Retry(anyhow::anyhow!("the room ended the session: {message}"));
                        }
                        // The room dropped commands unread, without saying
                        // which (tapped faster than its rate): those still
                        // unanswered go again as a backlog, from the oldest,
                        // a second on, with their keys, so none waits for
                        // ever; one the room had taken gets its first answer again.
                        if code == "rate_limited" {
                            backlog.pause();
                        } else {
                            tracing::warn!(%code, %message, "the room answered an error");
                        }
                    }
                    _ => {}
                }
            }
            cmd = outbox.recv() => {
                let Some(cmd) = cmd else { return Ended::Fatal("the agent is stopping".into()) };
                // Behind a backlog it waits its turn (it is among the commands waiting).
                if !backlog.draining && let Err(e) = link::send_msg(&mut send, &cmd).await {
                    return e.into();
                }
            }
            _ = save_tick.tick() => {
                if dirty {
                    shared.save_state();
                    dirty = false;
                }
            }
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The documents to hold, in the order to fetch them: the current item's,
/// then the items after it, then the rest. Once the meeting is closed only
/// the public ones: the others leave the tablet, as paper copies of them
/// are collected at the end of a meeting (a tablet otherwise kept every
/// restricted document of every meeting it was ever used in). The room
/// still serves them to whoever may read them, but for state secrets,
/// which only the chair and the secretary read after the meeting.
pub fn pack_order(state: &MeetingState) -> Vec<Document> {
    let current = state.meeting.current_item;
    let pos = |item: ItemId| state.agenda.iter().position(|i| i.id == item).unwrap_or(usize::MAX);
    let here = current.map(pos).unwrap_or(0);
    let over = state.meeting.status == MeetingStatus::Closed;
    let mut docs: Vec<Document> =
        state.documents.iter().filter(|d| !over || d.confidentiality == Confidentiality::Public).cloned().collect();
    docs.sort_by_key(|d| {
        let p = pos(d.item);
        let rank = if Some(d.item) == current {
            0
        } else if current.is_none() || (p != usize::MAX && p > here) {
            1
        } else {
            2
        };
        (rank, p, d.id)
    });
    docs
}

async fn run_downloads(shared: Arc<Shared>) {
    let mut state_rx = shared.state.subscribe();
    let mut link_rx = shared.link.subscribe();
    // After a failure of the tablet's own storage, the next try waits
    // longer each time (1 s doubling to a minute): a full disk is not
    // mended by hammering it.
    let mut storage_wait = Duration::ZERO;
    // A document the room would not give (an error of its own, not of the
    // link): tried again after a wait that grows (2 s doubling to five
    // minutes), while the others are fetched. By version.
    let mut refused: HashMap<String, Refusal> = HashMap::new();
    // Each version seen listed in this run, with its document: an older
    // version of a document still listed stays until the pack is complete
    // (it lends its chunks to the new one); anything else leaves at once.
    let mut listed: HashMap<String, DocumentId> = HashMap::new();
    // What may stay, as last found to be all the cache holds: a pass runs
    // at every event (each ballot), and the files are looked at again only
    // when what may stay has changed.
    let mut clean_for: Option<Vec<String>> = None;
    // Versions the tablet's storage could not take (its disk full): their
    // part is given back at once and they are tried after the others, so
    // one document too large for what is left does not keep out the
    // smaller ones that fit; and again only after a wait of their own
    // (10 s doubling to ten minutes), not at every event of the meeting,
    // each time fetched up to the full disk. By version: (tries, next try).
    let mut no_room: HashMap<String, (u32, Instant)> = HashMap::new();
    loop {
        let online = link_rx.borrow_and_update().clone();
        let state = state_rx.borrow_and_update().clone();
        let mut failed = false;
        let mut storage_failed = false;
        if let Some(state) = state {
            let docs = pack_order(&state);
            // A document the meeting no longer lists for this reader (removed,
            // narrowed, the reader's right taken away) leaves the tablet before
            // anything else is fetched: a pass cut short (the link drops, the
            // disk is full) must not leave it on a tablet that may then leave the room.
            // Checked against the files themselves, not against what this run
            // saw listed: a version kept from before a restart, or one whose
            // removal failed, goes too.
            listed.extend(docs.iter().map(|d| (d.sha256.clone(), d.id)));
            let ids: std::collections::HashSet<DocumentId> = docs.iter().map(|d| d.id).collect();
            listed.retain(|_, id| ids.contains(id));
            let mut keep: Vec<&str> = listed.keys().map(String::as_str).collect();
            keep.sort_unstable();
            if clean_for.as_ref().is_none_or(|c| c.iter().map(String::as_str).ne(keep.iter().copied())) {
                let clean = !shared.cache.holds_other_than(&keep)
                    || match shared.cache.prune(&keep) {
                        Ok(n) => {
                            tracing::info!(versions = n, "removed documents this reader may no longer read");
                            true
                        }
                        Err(e) => {
                            tracing::warn!(error = %format!("{e:#}"), "cannot remove documents this reader may no longer read");
                            false
                        }
                    };
                clean_for = clean.then(|| keep.iter().map(|k| k.to_string()).collect());
            }
            // What the meeting no longer lists is no longer refused.
            refused.retain(|version, _| docs.iter().any(|d| d.sha256 == *version));
            let mut p = Progress {
                docs_total: docs.len(),
                bytes_total: docs.iter().map(|d| d.size).sum(),
                seq: Some(state.seq),
                problem: shared.progress.borrow().problem.clone(),
                refused: told(&docs, &refused),
                ..Default::default()
            };
            // A document restricted since it was cached is fetched again,
            // as this reader's stamped copy.
            for d in docs.iter().filter(|d| shared.cache.has(&d.sha256) && !shared.cache.fits(d)) {
                tracing::info!(document = d.id.0, "restricted since it was kept: fetched again as this reader's copy");
                shared.cache.forget(&d.sha256);
            }
            for d in docs.iter().filter(|d| shared.cache.fits(d)) {
                p.docs_done += 1;
                p.bytes_done += d.size;
            }
            shared.progress.send_replace(p.clone());
            no_room.retain(|version, _| docs.iter().any(|d| d.sha256 == *version));
            if let Some(online) = online {
                let mut cut = false;
                let mut todo: Vec<&Document> = docs.iter().filter(|d| !shared.cache.fits(d)).collect();
                todo.sort_by_key(|d| no_room.contains_key(&d.sha256));
                for d in todo {
                    if no_room.get(&d.sha256).is_some_and(|(_, next)| *next > Instant::now()) {
                        continue;
                    }
                    if refused.get(&d.sha256).is_some_and(|r| r.next > Instant::now()) {
                        continue;
                    }
                    shared.progress.send_modify(|p| p.current = d.title.clone());
                    let base = shared.progress.borrow().bytes_done;
                    let tell = {
                        let shared = shared.clone();
                        move |have: u64| shared.progress.send_modify(|p| p.bytes_done = base + have)
                    };
                    match shared.cache.fetch(&online.connection, &online.token, state.meeting.id, d, &tell).await {
                        Ok(stats) => {
                            let mut t = shared.totals.lock().expect("totals");
                            t.chunks_fetched += stats.fetched;
                            t.chunks_reused += stats.reused;
                            t.chunks_resumed += stats.resumed;
                            t.bytes_fetched += stats.bytes_fetched;
                            drop(t);
                            refused.remove(&d.sha256);
                            no_room.remove(&d.sha256);
                            // The problem stays while a document still found no room.
                            let over = !storage_failed && no_room.is_empty();
                            shared.progress.send_modify(|p| {
                                p.docs_done += 1;
                                p.bytes_done = base + d.size;
                                if over {
                                    p.problem = None;
                                }
                            });
                            if over {
                                storage_wait = Duration::ZERO;
                            }
                        }
                        Err(e) if e.downcast_ref::<crate::pack::StorageFailed>().is_some() => {
                            // The cause itself ("No space left on device"): the browser and
                            // the terminal each say in their own words what failed.
                            let problem = e.root_cause().to_string();
                            if shared.progress.borrow().problem.as_ref() != Some(&problem) {
                                tracing::warn!(document = %d.id, error = %format!("{e:#}"), "cannot keep a document on this tablet");
                            }
                            shared.progress.send_modify(|p| {
                                p.problem = Some(problem);
                                p.bytes_done = base;
                            });
                            if let Err(e) = shared.cache.discard_partial(&d.sha256) {
                                tracing::warn!(document = %d.id, error = %e, "cannot give back the space of a document not kept");
                            }
                            let tries = no_room.get(&d.sha256).map_or(0, |(t, _)| *t);
                            let wait = Duration::from_secs(10u64 << tries.min(6)).min(Duration::from_secs(600));
                            no_room.insert(d.sha256.clone(), (tries + 1, Instant::now() + wait));
                            (failed, storage_failed) = (true, true);
                            continue;
                        }
                        Err(e) if state_behind(&e) => {
                            // A new version on the room, not yet in this state:
                            // the state that names it is on its way.
                            tracing::info!(document = %d.id, "the room holds a newer version; waiting for the meeting's state");
                            (failed, cut) = (true, true);
                            break;
                        }
                        Err(e) if e.downcast_ref::<crate::pack::RoomRefused>().is_some_and(|r| r.code == "unauthorized") => {
                            // The room's session for this tablet ended (it
                            // outlived its hours) while the link stayed up.
                            end_session(&online);
                            (failed, cut) = (true, true);
                            break;
                        }
                        Err(e) if online.connection.close_reason().is_none() => {
                            // The link is up: the room would not give this one.
                            let tries = refused.get(&d.sha256).map_or(0, |r| r.tries);
                            let wait = Duration::from_secs(2u64 << tries.min(8)).min(Duration::from_secs(300));
                            tracing::warn!(document = %d.id, error = %format!("{e:#}"), ?wait, "the room did not give a document; the others go on");
                            let room = e.downcast_ref::<crate::pack::RoomRefused>();
                            let lasting = room.is_some_and(|r| r.lasting());
                            let (code, why) =
                                room.map_or_else(|| (String::new(), e.root_cause().to_string()), |r| (r.code.clone(), r.message.clone()));
                            refused.insert(d.sha256.clone(), Refusal { tries: tries + 1, next: Instant::now() + wait, code, why, lasting });
                            failed = true;
                        }
                        Err(e) => {
                            tracing::info!(document = %d.id, error = %format!("{e:#}"), "download interrupted");
                            (failed, cut) = (true, true);
                            break;
                        }
                    }
                    if state_rx.has_changed().unwrap_or(false) {
                        cut = true;
                        break; // the agenda moved or documents changed: start over in the new order
                    }
                }
                shared.progress.send_modify(|p| {
                    p.current.clear();
                    p.pass_over = !cut;
                });
            }
            // Once every listed document is complete (or refused by the room
            // for now), what the meeting no longer lists for this reader
            // leaves the tablet. (Not before: an old version lends its
            // chunks to the new one being fetched.)
            let now_refused = told(&docs, &refused);
            if shared.progress.borrow().refused != now_refused {
                shared.progress.send_modify(|p| p.refused = now_refused);
            }
            let settled = docs.iter().all(|d| shared.cache.fits(d) || refused.contains_key(&d.sha256));
            if settled {
                // Nothing left that the tablet cannot keep (the document it could
                // not was removed, or space was made): the problem is over.
                if shared.progress.borrow().problem.is_some() {
                    shared.progress.send_modify(|p| p.problem = None);
                }
                let current: Vec<&str> = docs.iter().map(|d| d.sha256.as_str()).collect();
                listed.retain(|sha, _| current.contains(&sha.as_str()));
                match shared.cache.prune(&current) {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(versions = n, "removed documents the meeting no longer lists"),
                    Err(e) => tracing::warn!(error = %format!("{e:#}"), "cannot remove old documents from the cache"),
                }
            }
        }
        if storage_failed {
            storage_wait = (storage_wait * 2).clamp(Duration::from_secs(1), Duration::from_secs(60));
            // A change to the meeting (the document removed or replaced) or to
            // the link is worth another look at once.
            tokio::select! {
                _ = tokio::time::sleep(storage_wait) => {}
                r = state_rx.changed() => if r.is_err() { return },
                r = link_rx.changed() => if r.is_err() { return },
            }
            continue;
        }
        if failed {
            // The next document refused becomes due, or the link or the meeting changes.
            let due = refused
                .values()
                .map(|r| r.next)
                .chain(no_room.values().map(|(_, next)| *next))
                .min()
                .map_or(Duration::from_secs(1), |next| next.saturating_duration_since(Instant::now()).max(Duration::from_millis(100)));
            tokio::select! {
                _ = tokio::time::sleep(due) => {}
                _ = link_rx.changed() => {}
                r = state_rx.changed() => if r.is_err() { return },
                _ = shared.cache.damaged() => {}
            }
            continue;
        }
        // A document refused by the room, or that found no room on the
        // tablet, is tried again when its wait is over, even if nothing else
        // happens meanwhile.
        let due = refused
            .values()
            .map(|r| r.next)
            .chain(no_room.values().map(|(_, next)| *next))
            .min()
            .map(|next| next.saturating_duration_since(Instant::now()));
        tokio::select! {
            r = state_rx.changed() => if r.is_err() { return },
            r = link_rx.changed() => if r.is_err() { return },
            _ = tokio::time::sleep(due.unwrap_or(Duration::MAX).max(Duration::from_millis(100))), if due.is_some() => {}
            // A document found damaged while served: fetched again now.
            _ = shared.cache.damaged() => {}
        }
    }
}

// ---------------------------------------------------------------- local server

fn local_router(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new()
        .route("/ws", axum::routing::get(local_ws))
        .route("/api/meetings/{m}/documents/{d}", axum::routing::get(local_document))
        .route("/api/agent", axum::routing::get(agent_status))
        .route("/api/session", axum::routing::get(relay).post(local_sign_in).delete(keep_session))
        .route("/api/staff/session", axum::routing::post(refuse_other_sign_in))
        .route("/api/display/session", axum::routing::post(refuse_other_sign_in))
        .fallback(relay)
        .layer(axum::middleware::from_fn_with_state(shared.clone(), only_this_tablet))
        .with_state(shared)
}

/// The local server acts with the participant's session, so it answers only
/// the tablet's own browser: the `Host` must be a loopback name (no DNS
/// rebinding), and a request a web page sends from elsewhere (its `Origin`
/// is not this server; WebSockets ignore CORS) is refused.
async fn only_this_tablet(State(shared): State<Arc<Shared>>, req: Request, next: axum::middleware::Next) -> Response {
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let (name, port) = host.rsplit_once(':').filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit())).unwrap_or((host, ""));
    let own = own_host(&shared.local_key);
    if !matches!(name, "127.0.0.1" | "localhost" | "[::1]") && name != own {
        return (StatusCode::FORBIDDEN, "this agent serves only the tablet's own browser (http://127.0.0.1:PORT/)").into_response();
    }
    if let Some(origin) = req.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok())
        && origin != format!("http://{host}")
    {
        return (StatusCode::FORBIDDEN, "requests from other web pages are refused").into_response();
    }
    let key = shared.local_key.as_str();
    // The link the agent gave: its key becomes the browser's cookie, and the
    // address bar loses it.
    if let Some(query) = req.uri().query()
        && let Some(given) = query.split('&').find_map(|p| p.strip_prefix(&format!("{KEY_PARAM}=")))
    {
        if !same_key(given, key) {
            return not_this_browser();
        }
        // The cookie is set under the agent's own host name only (see `Agent::local_url`).
        if name != own {
            let to = format!("http://{own}:{port}/?{KEY_PARAM}={key}");
            return (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response();
        }
        let rest: Vec<&str> = query.split('&').filter(|p| !p.starts_with(&format!("{KEY_PARAM}="))).collect();
        // A path of this server only: `//host/…` would send the browser elsewhere.
        let path = format!("/{}", req.uri().path().trim_start_matches(['/', '\\']));
        let to = if rest.is_empty() { path } else { format!("{path}?{}", rest.join("&")) };
        let cookie = format!("{KEY_COOKIE}={key}; Path=/; HttpOnly; SameSite=Strict; Max-Age=31536000");
        return (StatusCode::SEE_OTHER, [(header::LOCATION, to), (header::SET_COOKIE, cookie)]).into_response();
    }
    let by_cookie = name == own
        && req
            .headers()
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .any(|c| c.trim().strip_prefix(&format!("{KEY_COOKIE}=")).is_some_and(|v| same_key(v, key)));
    // A program of the tablet's own (the launcher, tests) may give it as a bearer.
    let by_header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|v| same_key(v, key));
    if !(by_cookie || by_header) {
        return not_this_browser();
    }
    next.run(req).await
}

/// The query parameter and the cookie that carry the browser's key.
const KEY_PARAM: &str = "tablet";
const KEY_COOKIE: &str = "gavel_tablet";
/// Where agents before this one kept the browser's key, in the cache
/// directory; removed at start.
const OLD_BROWSER_KEY_FILE: &str = "browser.key";

/// The agent's own host name, from its key: unknown to other programs, so
/// no other server on the tablet is sent the browser's cookie.
fn own_host(key: &str) -> String {
    use sha2::{Digest, Sha256};
    format!("t{}.localhost", &hex::encode(Sha256::digest(format!("gavel-host:{key}").as_bytes()))[..16])
}

/// Compares keys through their hashes: no timing tells how much of one matched.
fn same_key(given: &str, key: &str) -> bool {
    use sha2::{Digest, Sha256};
    Sha256::digest(given.as_bytes()) == Sha256::digest(key.as_bytes())
}

fn not_this_browser() -> Response {
    let page = "<!doctype html><meta charset=\"utf-8\"><title>Gavel</title>\
        <p lang=\"vi\">Trang này chỉ mở được bằng đường dẫn mà ứng dụng Gavel trên máy tính bảng đưa ra.</p>\
        <p lang=\"en\">Open this page with the link the Gavel agent on this tablet gives.</p>";
    (StatusCode::UNAUTHORIZED, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

/// The browser's key: new at every start of the agent, and kept nowhere
/// but in its memory.
///
/// While the agent is down, its port is free, and any program of the
/// tablet may take it: a browser tab restored then would send that program
/// its cookie. A key that outlived the agent would be captured that way
/// and open the delegate's documents and ballots to the program once the
/// agent was back. A restart already asks for the PIN, and then gives a new
/// link; the old key (and its host name) open nothing.
fn browser_key(dir: &std::path::Path) -> String {
    // An earlier agent kept its key on disk: it must not stay usable.
    let _ = std::fs::remove_file(dir.join(OLD_BROWSER_KEY_FILE));
    hex::encode(rand::random::<[u8; 32]>())
}

fn offline_response() -> Response {
    let body = serde_json::json!({"code": "offline", "message": "the room cannot be reached just now"});
    (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
}

/// `POST /api/session` from the tablet's browser: relayed for the
/// agent's own participant only. Everything the browser sends goes over
/// the agent's link, in the agent's session: another participant signing
/// in on this tablet would see the page greet them while their ballots and
/// opinions were recorded as the agent's participant's, who they could
/// read restricted documents as.
async fn local_sign_in(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    #[derive(Deserialize)]
    struct Asked {
        meeting: MeetingId,
        participant: ParticipantId,
    }
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "a sign-in is a small JSON object").into_response();
    };
    let asked: Option<Asked> = serde_json::from_slice(&body).ok();
    if let Some(a) = asked
        && (a.meeting, a.participant) != (shared.opts.meeting, shared.opts.participant)
    {
        let message = "this tablet's agent acts for another participant of the meeting: sign in on your own tablet, or ask the secretary";
        return (StatusCode::CONFLICT, axum::Json(serde_json::json!({"code": "tablet_assigned", "message": message}))).into_response();
    }
    relay(State(shared), Request::from_parts(parts, Body::from(body))).await
}

/// A staff or display sign-in on the tablet: everything would go in the
/// agent's participant's session, so it is refused as another
/// participant's is.
async fn refuse_other_sign_in() -> Response {
    let message = "this tablet's agent acts for a participant of the meeting: staff and room displays sign in on a device of their own";
    (StatusCode::CONFLICT, axum::Json(serde_json::json!({"code": "tablet_assigned", "message": message}))).into_response()
}

/// `DELETE /api/session`: on a tablet the agent holds the sign-in; the
/// browser's "sign out" does not end it (a tablet is given to one person;
/// the secretary ends its session from the room).
async fn keep_session() -> Response {
    axum::Json(serde_json::json!({"status": "kept_by_agent"})).into_response()
}

/// `GET /api/agent`: the agent's own status, for the UI and for tests.
async fn agent_status(State(shared): State<Arc<Shared>>) -> Response {
    let p = shared.progress.borrow().clone();
    let t = *shared.totals.lock().expect("totals");
    axum::Json(serde_json::json!({
        "online": shared.link.borrow().is_some(),
        "refused": shared.stuck.borrow().as_ref().map(|r| format!("refused by the room: {r}")),
        "refused_code": shared.stuck.borrow().as_ref().map(|r| r.code.clone()),
        "seq": shared.state.borrow().as_ref().map(|s| s.seq),
        "docs_total": p.docs_total, "docs_done": p.docs_done,
        "bytes_total": p.bytes_total, "bytes_done": p.bytes_done,
        "chunks_fetched": t.chunks_fetched, "chunks_reused": t.chunks_reused, "chunks_resumed": t.chunks_resumed,
        "problem": p.problem,
    }))
    .into_response()
}

/// A document from the cache, with ranges and the ETag of the room; one not
/// cached yet is relayed.
async fn local_document(State(shared): State<Arc<Shared>>, UrlPath((m, d)): UrlPath<(i64, i64)>, req: Request) -> Response {
    let doc = shared.state.borrow().as_ref().filter(|s| s.meeting.id.0 == m).and_then(|s| s.document(DocumentId(d)).cloned());
    if let Some(doc) = doc.filter(|doc| shared.cache.fits(doc)) {
        return match serve_cached(&shared, &doc, req.headers()).await {
            Ok(r) => r,
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")).into_response(),
        };
    }
    // Not kept yet: from the room, one document at a time; a request that
    // waits too long behind another is told to try again (the viewer does).
    let waited = tokio::time::timeout(RELAY_STALL * 3, shared.relaying_document.clone().acquire_owned()).await;
    let Ok(Ok(permit)) = waited else {
        return (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "2")], "another document is on its way from the room")
            .into_response();
    };
    let mut relayed = relay_holding(shared, req, Some(permit)).await;
    // Not kept in the browser either, as the vault's copies are not: the
    // room lets a browser keep a public document, and a tablet revoked, or
    // a document later restricted, would leave it there.
    relayed.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    relayed
}

/// A cached document, decrypted chunk by chunk as it is sent: whole, or one
/// byte range (`Range: bytes=A-B`, `A-`, `-N`), with the room's ETag: the
/// hash of the bytes served, which for a restricted document is this
/// reader's stamped copy, not the version it was made from.
async fn serve_cached(shared: &Arc<Shared>, doc: &Document, headers: &axum::http::HeaderMap) -> anyhow::Result<Response> {
    let version = doc.sha256.as_str();
    let m = shared.cache.manifest(version).context("not in the cache")?;
    let etag = format!("\"{}\"", m.sha256);
    let header_str = |name| headers.get(name).and_then(|v: &axum::http::HeaderValue| v.to_str().ok());
    if header_str(header::IF_NONE_MATCH).is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*")) {
        // Said again here: a copy the browser kept before (relayed with the
        // room's headers) would otherwise be confirmed and kept on.
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag), (header::CACHE_CONTROL, "no-store".into())]).into_response());
    }
    let size = m.size;
    // One range is served as asked; several, as the whole file; a range
    // that cannot be served, refused (as tower-http does on the room). A
    // range asked for only if the file is still the one whose ETag the
    // reader holds (`If-Range`) gets the whole file when it is not, so
    // pieces of two files are never joined.
    let still_same = header_str(header::IF_RANGE).is_none_or(|v| v.trim() == etag);
    let range = header_str(header::RANGE).filter(|_| still_same).map(|r| http_range_header::parse_range_header(r)?.validate(size));
    let (status, start, end) = match range.as_ref().map(|r| r.as_deref()) {
        Some(Ok([one])) => (StatusCode::PARTIAL_CONTENT, *one.start(), one.end() + 1),
        None | Some(Ok(_)) => (StatusCode::OK, 0, size),
        Some(Err(_)) => {
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, [(header::CONTENT_RANGE, format!("bytes */{size}"))]).into_response());
        }
    };
    // Reading and decrypting a chunk is disk and CPU work: off the runtime.
    // Before each piece, the document must still be one the room lists for
    // this reader: withdrawn, or this reader taken off it, while the browser
    // reads, the rest is not sent (the room cuts its own downloads the same
    // way), and the body ends short, as an error.
    let pieces = shared.cache.read_range(version, &m, start, end);
    let (id, wanted, shared) = (doc.id, doc.sha256.clone(), shared.clone());
    let listed = move || shared.state.borrow().as_ref().and_then(|s| s.document(id)).is_some_and(|d| d.sha256 == wanted);
    let body = futures_util::stream::unfold(Some((pieces, listed)), |going| async move {
        let (mut pieces, listed) = going?;
        if !listed() {
            return Some((Err(std::io::Error::other("the document was withdrawn while it was read")), None));
        }
        let (next, pieces) = tokio::task::spawn_blocking(move || (pieces.next(), pieces)).await.ok()?;
        next.map(|r| (r.map(bytes::Bytes::from).map_err(std::io::Error::other), Some((pieces, listed))))
    });
    let mut r = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/pdf")
        .header(header::CONTENT_LENGTH, end - start)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::ETAG, etag)
        // The vault is the only copy on the tablet: none in the browser.
        .header(header::CACHE_CONTROL, "no-store");
    if status == StatusCode::PARTIAL_CONTENT {
        r = r.header(header::CONTENT_RANGE, format!("bytes {start}-{}/{size}", end - 1));
    }
    Ok(r.body(Body::from_stream(body))?)
}

/// Where a web UI file fetched from the room is kept for offline use.
fn web_cache_path(shared: &Shared, path: &str) -> Option<PathBuf> {
    let p = path.trim_start_matches('/');
    let looks_like_file = p.rsplit('/').next().is_some_and(|last| last.contains('.'));
    let name = if looks_like_file { p } else { "index.html" };
    let safe = !name.is_empty() && name.split('/').all(|part| !part.is_empty() && part != ".." && part != ".");
    safe.then(|| shared.opts.cache_dir.join("web").join(name))
}

/// A request stream's sending half that ends in a reset unless the whole
/// body went: quinn finishes a dropped stream, so a body cut off (the
/// browser went away, its upload broke) would reach the room as complete.
struct ResetUnlessFinished(Option<quinn::SendStream>);

impl ResetUnlessFinished {
    fn stream(&mut self) -> &mut quinn::SendStream {
        self.0.as_mut().expect("not finished yet")
    }

    fn finish(&mut self) {
        if let Some(mut send) = self.0.take() {
            let _ = send.finish();
        }
    }
}

impl Drop for ResetUnlessFinished {
    fn drop(&mut self) {
        if let Some(mut send) = self.0.take() {
            let _ = send.reset(quinn::VarInt::from_u32(0));
        }
    }
}

/// Everything else goes to the room over the link, acting for the agent's
/// session. The web UI's own files are kept, so it still loads offline.
async fn relay(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    relay_holding(shared, req, None).await
}

/// The room's session for this tablet has ended while its link stayed up
/// (sessions last `--session-hours`; the link needs no new sign-in, the
/// documents and relayed requests do): the link is ended, and the next one
/// signs in again with the PIN.
fn end_session(online: &Online) {
    tracing::info!("the room's session for this tablet has ended: signing in again");
    online.connection.close(0u32.into(), b"session ended");
}

/// Waits, up to `within`, for a link signed in with another token than `old`.
async fn signed_in_again(shared: &Shared, old: &str, within: Duration) -> bool {
    let mut link = shared.link.subscribe();
    let again = link.wait_for(|l| l.as_ref().is_some_and(|o| o.token != old));
    matches!(tokio::time::timeout(within, again).await, Ok(Ok(_)))
}

/// [`relay`], holding `permit` until the answer is sent or given up.
async fn relay_holding(shared: Arc<Shared>, req: Request, permit: Option<tokio::sync::OwnedSemaphorePermit>) -> Response {
    relay_once(shared, req, permit, true).await
}

/// [`relay_holding`]; a GET the room refuses because the session ended goes
/// again once the link has signed in again, when `again`.
async fn relay_once(shared: Arc<Shared>, req: Request, permit: Option<tokio::sync::OwnedSemaphorePermit>, again: bool) -> Response {
    let path = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
    // What is kept and served offline goes by the path alone: a query
    // string (which any page may add) makes no new file.
    let route = req.uri().path().to_string();
    let is_api = route.starts_with("/api/") || route == "/ws";
    let is_get = req.method() == axum::http::Method::GET;
    let online = shared.link.borrow().clone();
    let Some(online) = online else {
        return offline_fallback(&shared, &route, is_api, is_get).await;
    };
    let (parts, body) = req.into_parts();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter(|(k, _)| {
            matches!(k.as_str(), "content-type" | "accept" | "idempotency-key" | "range" | "if-range" | "if-none-match" | "accept-language")
        })
        .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let request = StreamRequest::Http { token: Some(online.token.clone()), method: parts.method.to_string(), path: path.clone(), headers };
    let answer = async {
        let (send, mut recv) = link::open_request(&online.connection, &request).await?;
        // The body goes on as it comes, held back by QUIC's flow control: an
        // upload through an old tablet never sits whole in its memory, and
        // the room's own limit is the only one.
        let mut send = ResetUnlessFinished(Some(send));
        let mut body = body.into_data_stream();
        let mut refused = false;
        while let Some(piece) = body.next().await {
            if refused {
                continue; // read to its end on the tablet, so the browser reads the answer
            }
            match send.stream().write_chunk(piece?).await {
                Ok(()) => {}
                // The room stopped reading: it refused the request (no right
                // to upload, too large) and its answer follows. The rest of
                // the browser's body is read and dropped here (on the tablet
                // itself): answered while still sending, a client may find the
                // connection closed before it reads the answer.
                Err(quinn::WriteError::Stopped(_)) => refused = true,
                Err(e) => return Err(e.into()),
            }
        }
        send.finish();
        match link::read_reply(&mut recv).await? {
            StreamReply::Http { status, headers } => Ok::<_, anyhow::Error>((status, headers, recv)),
            StreamReply::Error { code, message } => bail!("{code}: {message}"),
            other => bail!("unexpected reply {other:?}"),
        }
    }
    .await;
    let (status, headers, mut recv) = match answer {
        Ok(a) => a,
        Err(e) => {
            tracing::info!(error = %format!("{e:#}"), %path, "relay failed");
            return offline_fallback(&shared, &route, is_api, is_get).await;
        }
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut builder = Response::builder().status(status);
    for (k, v) in &headers {
        builder = builder.header(k, v);
    }
    if status == StatusCode::UNAUTHORIZED {
        // The link's own session refused: it has ended (not the browser's
        // doing, which the agent signs in for).
        let bytes = recv.read_to_end(64 * 1024).await.unwrap_or_default();
        let code = serde_json::from_slice::<serde_json::Value>(&bytes).ok().and_then(|v| v["code"].as_str().map(str::to_string));
        if code.as_deref() != Some("unauthorized") {
            return builder.body(Body::from(bytes)).unwrap_or_else(|e| (StatusCode::BAD_GATEWAY, e.to_string()).into_response());
        }
        end_session(&online);
        if again && is_get && signed_in_again(&shared, &online.token, RELINK_WAIT).await {
            return Box::pin(relay_once(shared, Request::from_parts(parts, Body::empty()), permit, false)).await;
        }
        return offline_fallback(&shared, &route, is_api, is_get).await;
    }
    // Kept for offline use: who is signed in (the UI asks first), sealed;
    // the UI's own files, public, as they are.
    let session_info = is_get && status == StatusCode::OK && route == "/api/session";
    // A path with no file name is the UI's page, kept as `index.html` when
    // it is one: the room's `/health` (JSON) is not, and kept in its place
    // it left the tablet with no page to show offline.
    let is_html = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("content-type") && v.starts_with("text/html"));
    let web_file = (!is_api && is_get && status == StatusCode::OK)
        .then(|| web_cache_path(&shared, &route))
        .flatten()
        .filter(|p| is_html || !p.ends_with("web/index.html"));
    if session_info || web_file.is_some() {
        // Small: read it whole, keep it, serve it.
        let bytes = match recv.read_to_end(64 * 1024 * 1024).await {
            Ok(b) => b,
            Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
        };
        if session_info {
            let _ = shared.cache.keep(SESSION_INFO_FILE, &bytes);
        } else if let Some(keep) = web_file {
            if let Some(dir) = keep.parent() {
                let _ = tokio::fs::create_dir_all(dir).await;
            }
            // Written beside the cache's other half-written files (each under
            // a name of its own, swept at the next start), then put in place.
            let tmp = shared.cache.tmp_path("web");
            if tokio::fs::write(&tmp, &bytes).await.is_ok() {
                let _ = tokio::fs::rename(&tmp, &keep).await;
            } else {
                let _ = tokio::fs::remove_file(&tmp).await; // a full disk stays no fuller
            }
        }
        return builder.body(Body::from(bytes)).unwrap_or_else(|e| (StatusCode::BAD_GATEWAY, e.to_string()).into_response());
    }
    // Read from the room by a task of its own, handed to the browser a
    // piece at a time: one the browser stops taking is given up after
    // RELAY_STALL, and the stream's unread data leaves the link's window.
    let (tx, rx) = mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(1);
    let given_up = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let gave_up = given_up.clone();
    tokio::spawn(async move {
        let _permit = permit;
        loop {
            let piece = match recv.read_chunk(64 * 1024, true).await {
                Ok(Some(c)) => Ok(c.bytes),
                Ok(None) => return,
                Err(e) => Err(std::io::Error::other(e)),
            };
            let last = piece.is_err();
            match tokio::time::timeout(RELAY_STALL, tx.send(piece)).await {
                Ok(Ok(())) if !last => {}
                // Sent the error, or the browser went away.
                Ok(_) => return,
                Err(_) => {
                    tracing::info!(%path, "the browser stopped taking a relayed answer: given up");
                    gave_up.store(true, std::sync::atomic::Ordering::Relaxed);
                    let _ = recv.stop(0u32.into());
                    return;
                }
            }
        }
    });
    // Cut short, the answer ends in an error (the browser sees it broken,
    // not whole).
    let stream = futures_util::stream::unfold((rx, given_up), |(mut rx, given_up)| async move {
        match rx.recv().await {
            Some(piece) => Some((piece, (rx, given_up))),
            None if given_up.swap(false, std::sync::atomic::Ordering::Relaxed) => {
                Some((Err(std::io::Error::other("the relayed answer was given up")), (rx, given_up)))
            }
            None => None,
        }
    });
    builder.body(Body::from_stream(stream)).unwrap_or_else(|e| (StatusCode::BAD_GATEWAY, e.to_string()).into_response())
}

async fn offline_fallback(shared: &Shared, path: &str, is_api: bool, is_get: bool) -> Response {
    if is_get && is_api && path == "/api/session" {
        return match shared.cache.kept(SESSION_INFO_FILE) {
            Some(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
            None => offline_response(),
        };
    }
    let file = if is_get && !is_api { web_cache_path(shared, path) } else { None };
    let Some(file) = file else { return offline_response() };
    match tokio::fs::read(&file).await {
        Ok(bytes) => {
            let mime = mime_guess::from_path(&file).first_or_octet_stream();
            let mut r = Body::from(bytes).into_response();
            if let Ok(v) = HeaderValue::from_str(mime.as_ref()) {
                r.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            r
        }
        Err(_) => offline_response(),
    }
}

async fn local_ws(State(shared): State<Arc<Shared>>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(protocol::MAX_MESSAGE_BYTES).on_upgrade(move |socket| local_socket(shared, socket))
}

/// A browser on the tablet: answered from the agent's state, its commands
/// carried to the room.
async fn local_socket(shared: Arc<Shared>, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (out, mut outbox) = mpsc::channel::<ServerMessage>(256);
    let writer = tokio::spawn(async move {
        while let Some(m) = outbox.recv().await {
            if sink.send(Message::Text(protocol::encode(&m).into())).await.is_err() {
                break;
            }
        }
    });
    let mut follower: Option<tokio::task::JoinHandle<()>> = None;
    while let Some(Ok(msg)) = stream.next().await {
        let Message::Text(text) = msg else { continue };
        let reply = match protocol::decode_client(&text) {
            Err(e) => Some(ServerMessage::Error { key: None, code: e.code().into(), message: e.to_string() }),
            Ok(ClientMessage::Ping { nonce }) => Some(ServerMessage::Pong { nonce, server_time: shared.server_time() }),
            Ok(ClientMessage::Hello { meeting, .. }) => {
                let who = shared.signed_in_as();
                match who {
                    _ if meeting != shared.opts.meeting => Some(ServerMessage::Error {
                        key: None,
                        code: "forbidden".into(),
                        message: "this tablet follows another meeting".into(),
                    }),
                    None => Some(ServerMessage::Error {
                        key: None,
                        code: "unauthorized".into(),
                        message: "the agent has not signed in to the room yet".into(),
                    }),
                    Some(_) if follower.is_some() => None,
                    Some((actor, _)) => {
                        let _ =
                            out.send(ServerMessage::Welcome { version: PROTOCOL_VERSION, actor, server_time: shared.server_time() }).await;
                        let mut rx = shared.local.subscribe();
                        let mut link = shared.link.subscribe();
                        let mut stuck = shared.stuck.subscribe();
                        let mut progress = shared.progress.subscribe();
                        let snapshot = shared.state.borrow().clone();
                        let (out, shared2) = (out.clone(), shared.clone());
                        follower = Some(tokio::spawn(async move {
                            let mut seq = 0;
                            if let Some(state) = snapshot {
                                seq = state.seq;
                                if out.send(ServerMessage::Snapshot { state }).await.is_err() {
                                    return;
                                }
                            }
                            let online = link.borrow_and_update().is_some();
                            let r = stuck.borrow_and_update().clone();
                            let (refused, refused_code) = (r.as_ref().map(|r| r.message.clone()), r.map(|r| r.code));
                            if out.send(ServerMessage::RoomLink { online, refused, refused_code }).await.is_err() {
                                return;
                            }
                            let mut pack = None;
                            progress.mark_changed();
                            loop {
                                let next = tokio::select! {
                                    m = rx.recv() => m,
                                    changed = progress.changed() => {
                                        if changed.is_err() {
                                            return;
                                        }
                                        // Documents held, not bytes: told when that count or the problem changes.
                                        let now = {
                                            let p = progress.borrow_and_update();
                                            ServerMessage::TabletPack {
                                                docs_done: p.docs_done,
                                                docs_total: p.docs_total,
                                                problem: p.problem.clone(),
                                                refused: p.refused.iter().map(|r| NotGiven { document: r.document, code: r.code.clone(), why: r.why.clone() }).collect(),
                                            }
                                        };
                                        if pack.as_ref() != Some(&now) {
                                            pack = Some(now.clone());
                                            if out.send(now).await.is_err() {
                                                return;
                                            }
                                        }
                                        continue;
                                    }
                                    // The link came or went, or the room's refusal changed.
                                    changed = async { tokio::select! { c = link.changed() => c, c = stuck.changed() => c } } => {
                                        if changed.is_err() {
                                            return;
                                        }
                                        let online = link.borrow_and_update().is_some();
                                        let r = stuck.borrow_and_update().clone();
                                        let (refused, refused_code) = (r.as_ref().map(|r| r.message.clone()), r.map(|r| r.code));
                                        if out.send(ServerMessage::RoomLink { online, refused, refused_code }).await.is_err() {
                                            return;
                                        }
                                        continue;
                                    }
                                };
                                let m = match next {
                                    Ok(m) => m,
                                    Err(broadcast::error::RecvError::Lagged(_)) => match shared2.state.borrow().clone() {
                                        Some(state) => ServerMessage::Snapshot { state },
                                        None => continue,
                                    },
                                    Err(broadcast::error::RecvError::Closed) => return,
                                };
                                match &m {
                                    ServerMessage::Event { event } if event.seq <= seq => continue,
                                    ServerMessage::Event { event } => seq = event.seq,
                                    ServerMessage::Snapshot { state } => seq = state.seq,
                                    _ => {}
                                }
                                if out.send(m).await.is_err() {
                                    return;
                                }
                            }
                        }));
                        None
                    }
                }
            }
            // Sent now, or when the link to the room is back: the browser
            // waits for the room's answer either way.
            Ok(ClientMessage::Command { key, command }) => {
                let message = ClientMessage::Command { key: key.clone(), command };
                let taken = {
                    let mut pending = shared.pending.lock().expect("pending");
                    let room = pending.len() < MAX_PENDING || pending.contains_key(&key);
                    if room {
                        let order = GIVEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        pending.insert(
                            key.clone(),
                            Waiting { answer_to: out.clone(), command: message.clone(), since: Instant::now(), order },
                        );
                    }
                    room
                };
                if !taken {
                    Some(ServerMessage::Error {
                        key: Some(key),
                        code: "unavailable".into(),
                        message: "too many commands wait for the room; try again when the link is back".into(),
                    })
                } else {
                    if shared.link.borrow().is_some() {
                        let _ = shared.outbox.send(message).await;
                    }
                    None
                }
            }
            Ok(_) => Some(ServerMessage::Error {
                key: None,
                code: "signed_in_by_agent".into(),
                message: "the tablet agent signs in for this browser".into(),
            }),
        };
        if let Some(r) = reply
            && out.send(r).await.is_err()
        {
            break;
        }
    }
    if let Some(f) = follower {
        f.abort();
    }
    // The browser went away: nothing more can reach it. (Not waited for:
    // commands still waiting for the room hold senders to this writer, and
    // its end is what tells them their page is gone.)
    drop(out);
    writer.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_version_on_the_room_is_not_a_refusal() {
        let room = |code: &str| anyhow::Error::from(crate::pack::RoomRefused { code: code.into(), message: "…".into() });
        assert!(state_behind(&room("stale_version")));
        assert!(state_behind(&anyhow::Error::from(crate::pack::StateBehind).context("fetching")));
        assert!(!state_behind(&room("internal")) && !state_behind(&room("not_found")));
        assert!(room("unstampable").downcast_ref::<crate::pack::RoomRefused>().unwrap().lasting());
        assert!(!room("internal").downcast_ref::<crate::pack::RoomRefused>().unwrap().lasting());
    }

    #[test]
    fn preparing_a_tablet_gives_up_on_a_document_only_when_asking_again_will_not_help() {
        let refusal = |tries, lasting| Refused {
            document: DocumentId(1),
            title: "Tờ trình".into(),
            code: String::new(),
            why: "…".into(),
            tries,
            lasting,
        };
        let p = |refused: Vec<Refused>, done| Progress { docs_total: 2, docs_done: done, seq: Some(7), refused, ..Default::default() };
        assert!(!p(vec![refusal(1, false)], 1).stuck(), "a refusal that may pass is asked again first");
        assert!(!p(vec![refusal(GIVE_UP_AFTER - 1, false)], 1).stuck());
        assert!(p(vec![refusal(GIVE_UP_AFTER, false)], 1).stuck());
        assert!(p(vec![refusal(1, true)], 1).stuck(), "gone, forbidden or unstampable: no use asking again");
        assert!(!p(vec![refusal(1, true)], 0).stuck(), "another document is still to come");
        assert!(!p(vec![], 1).stuck() && !p(vec![], 2).stuck());
    }

    #[test]
    fn the_current_items_documents_come_first_then_those_ahead() {
        let mut st = MeetingState::new(Meeting {
            id: MeetingId(1),
            title: "Họp".into(),
            organisation: String::new(),
            place: String::new(),
            locality: String::new(),
            starts_at: OffsetDateTime::UNIX_EPOCH,
            status: MeetingStatus::Open,
            current_item: Some(ItemId(3)),
            quorum: Default::default(),
            speech_limit_secs: 0,
        });
        for id in 1..=4 {
            std::sync::Arc::make_mut(&mut st.agenda).push(AgendaItem {
                id: ItemId(id),
                title: format!("{id}"),
                presenter: String::new(),
                summary: String::new(),
                status: ItemStatus::Pending,
            });
        }
        for (id, item) in [(10, 1), (20, 2), (41, 4), (30, 3), (40, 4)] {
            std::sync::Arc::make_mut(&mut st.documents).push(Document {
                id: DocumentId(id),
                item: ItemId(item),
                title: format!("{id}"),
                file_name: "d.pdf".into(),
                size: 1,
                sha256: "0".repeat(64),
                confidentiality: Confidentiality::Public,
                readers: vec![],
                uploaded_at: OffsetDateTime::UNIX_EPOCH,
            });
        }
        let order: Vec<i64> = pack_order(&st).iter().map(|d| d.id.0).collect();
        assert_eq!(order, vec![30, 40, 41, 10, 20]);
        st.meeting.current_item = None;
        let order: Vec<i64> = pack_order(&st).iter().map(|d| d.id.0).collect();
        assert_eq!(order, vec![10, 20, 30, 40, 41], "before the meeting starts: agenda order");
        std::sync::Arc::make_mut(&mut st.documents)[0].confidentiality = Confidentiality::Members;
        st.meeting.status = MeetingStatus::Closed;
        let order: Vec<i64> = pack_order(&st).iter().map(|d| d.id.0).collect();
        assert_eq!(order, vec![20, 30, 40, 41], "once it is closed: the public documents alone");
    }
}
