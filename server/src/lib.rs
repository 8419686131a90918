//! # gavel-server
//!
//! The room server of Gavel, a paperless meeting room on a LAN. It holds the
//! truth about each meeting, serves the web UI, and talks to clients over
//! HTTP and WebSocket (QUIC comes with the tablet agent).
//!
//! - [`store`]: SQLite (WAL), migrations, loading a meeting.
//! - [`meeting`]: meetings in memory and the one path every change takes
//!   (check → one transaction with its event → publish).
//! - [`auth`]: accounts, PINs, sessions.
//! - [`http`]: the REST API and the web UI; [`ws`]: `/ws`.
//! - [`documents`]: upload (PDF only, content-addressed) and download
//!   (ranges, ETag).
//! - [`demo`]: the Vietnamese demo meeting behind `--demo`.
//!
//! The binary only parses flags; [`start`] runs everything, so tests run the
//! same code on port 0.

pub mod audit;
pub mod auth;
pub mod demo;
pub mod discovery;
pub mod documents;
pub mod error;
pub mod http;
pub mod https;
pub mod limits;
pub mod meeting;
pub mod minutes;
pub mod pdf;
pub mod pdf_worker;
pub mod quic;
pub mod serve;
pub mod session;
pub mod signing;
pub mod store;
pub mod throttle;
pub mod watermark;
pub mod web;
pub mod ws;

use anyhow::Context;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;

/// How the server runs (built from the command line by the binary).
#[derive(Clone)]
pub struct Config {
    /// Where the database, documents and keys live.
    pub data_dir: PathBuf,
    /// `sqlite://…` (default `DATA_DIR/gavel.db`).
    pub database_url: Option<String>,
    /// Address for HTTP and WebSocket.
    pub http: SocketAddr,
    /// Address for QUIC (the tablet agent).
    pub quic: SocketAddr,
    /// Address for HTTPS (the web UI and API over TLS), if wanted.
    pub https: Option<SocketAddr>,
    /// An organisation's certificate chain and key (PEM) for HTTPS, instead
    /// of the room's self-signed certificate.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// The room's display name (mDNS, the certificate's host name).
    pub room: String,
    /// Create (once) and print the PINs of the demo meeting.
    pub demo: bool,
    /// Announce the room on the LAN with mDNS.
    pub mdns: bool,
    /// Announce only on these interfaces (all when empty).
    pub mdns_interfaces: Vec<String>,
    /// The administrator's password; generated and printed when absent on first start.
    pub admin_password: Option<String>,
    /// The largest document accepted, in bytes.
    pub max_upload: u64,
    /// How long a sign-in lasts.
    pub session_ttl: time::Duration,
    /// The organisation's Ed25519 key for the minutes (default: generated in the data directory).
    pub signing_key: Option<PathBuf>,
    /// Accept state-secret ("mật") documents (refused by default).
    pub allow_secret_documents: bool,
    /// Limits on guessing PINs.
    pub sign_in_limits: throttle::Limits,
    /// Open WebSocket and QUIC connections allowed per client address.
    pub max_connections_per_address: usize,
    /// Open HTTP (and HTTPS) connections allowed per client address.
    pub max_http_connections_per_address: usize,
    /// Messages per second allowed per connection (twice that in a burst).
    pub max_messages_per_second: u32,
    /// Time limits for slow HTTP clients.
    pub http_timeouts: serve::Timeouts,
    /// How QUIC paces what the room sends.
    pub quic_congestion: quic::Congestion,
    /// The program that reads restricted PDFs, run as `PROGRAM pdf-worker`
    /// ([`pdf_worker`]): the server's own binary. (A library's caller, such
    /// as a test, names the gavel-server binary.)
    pub pdf_worker: PathBuf,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_ref().map(|_| "<set>"))
            .field("http", &self.http)
            .field("quic", &self.quic)
            .field("https", &self.https)
            .field("tls_cert", &self.tls_cert)
            .field("room", &self.room)
            .field("demo", &self.demo)
            .field("mdns", &self.mdns)
            .field("mdns_interfaces", &self.mdns_interfaces)
            .field("admin_password", &self.admin_password.as_ref().map(|_| "<redacted>"))
            .field("max_upload", &self.max_upload)
            .field("session_ttl", &self.session_ttl)
            .field("signing_key", &self.signing_key)
            .field("allow_secret_documents", &self.allow_secret_documents)
            .field("sign_in_limits", &self.sign_in_limits)
            .field("max_connections_per_address", &self.max_connections_per_address)
            .field("max_http_connections_per_address", &self.max_http_connections_per_address)
            .field("max_messages_per_second", &self.max_messages_per_second)
            .field("http_timeouts", &self.http_timeouts)
            .field("quic_congestion", &self.quic_congestion)
            .field("pdf_worker", &self.pdf_worker)
            .finish()
    }
}

impl Config {
    /// Defaults for a data directory, on a free loopback port (for tests).
    pub fn for_tests(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            data_dir: data_dir.into(),
            database_url: None,
            http: "127.0.0.1:0".parse().expect("valid address"),
            quic: "127.0.0.1:0".parse().expect("valid address"),
            https: None,
            tls_cert: None,
            tls_key: None,
            room: "Phòng họp thử".into(),
            demo: false,
            mdns: false,
            mdns_interfaces: vec![],
            admin_password: None,
            max_upload: DEFAULT_MAX_UPLOAD,
            session_ttl: time::Duration::hours(18),
            signing_key: None,
            allow_secret_documents: false,
            sign_in_limits: throttle::Limits::default(),
            // Tests run many clients from one address and send quickly.
            max_connections_per_address: 100_000,
            max_http_connections_per_address: 100_000,
            max_messages_per_second: 100_000,
            http_timeouts: serve::Timeouts::default(),
            quic_congestion: quic::Congestion::default(),
            // Tests name the server's binary: their own cannot serve.
            pdf_worker: std::env::current_exe().unwrap_or_default(),
        }
    }
}

/// The default `--max-upload`: 100 MB.
pub const DEFAULT_MAX_UPLOAD: u64 = 100 * 1024 * 1024;

/// Shared by every handler: cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// What [`AppState`] holds.
pub struct Inner {
    pub db: store::Db,
    pub meetings: meeting::Meetings,
    pub config: Config,
    pub documents: documents::Store,
    /// Flips to `true` when the server shuts down; connections watch it.
    pub shutdown: watch::Receiver<bool>,
    /// How tablets reach this room (set once the ports are bound).
    pub room: std::sync::OnceLock<RoomInfo>,
    /// Sign-in limits and what they remember.
    pub throttle: throttle::Throttle,
    /// Open connections per address.
    pub connections: Arc<limits::Connections>,
    /// Participants whose sessions were just revoked: open connections close.
    pub revoked: tokio::sync::broadcast::Sender<gavel_shared::model::ParticipantId>,
    /// Reads restricted PDFs, in worker processes.
    pub pdf: Arc<pdf_worker::PdfWorker>,
}

/// How a tablet joins this room: what mDNS announces, and the QR code on
/// the secretary's screen carries.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RoomInfo {
    pub room: String,
    pub http_port: u16,
    pub quic_port: u16,
    /// The fingerprint of the room's certificate.
    pub fingerprint: String,
    /// The protocol versions spoken.
    pub versions: Vec<u32>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// What [`start`] prints once: the admin password if generated, the demo PINs.
#[derive(Debug, Default)]
pub struct StartReport {
    /// The generated administrator password, if one was generated now.
    pub admin_password: Option<String>,
    /// The demo meeting's participants and their fresh PINs.
    pub demo_pins: Vec<demo::DemoPin>,
}

/// A running server.
pub struct Server {
    /// The bound HTTP address (the real port when 0 was asked for).
    pub http_addr: SocketAddr,
    /// The bound QUIC address.
    pub quic_addr: SocketAddr,
    /// The bound HTTPS address, when serving HTTPS.
    pub https_addr: Option<SocketAddr>,
    /// The fingerprint clients pin (lowercase hex SHA-256 of the certificate).
    pub fingerprint: String,
    pub report: StartReport,
    pub state: AppState,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    /// The data directory's lock, held until the server is dropped.
    _lock: Arc<std::fs::File>,
}

impl Server {
    /// Asks the server to stop and waits until it has: connections closed,
    /// the database closed.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.task.await.context("server task")?;
        self.state.db.close().await;
        Ok(())
    }

    /// Waits until the server stops by itself (it does not, unless it fails).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await.context("server task")?;
        Ok(())
    }

    /// A handle that stops this server when [`Server::shutdown`] is not available.
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }
}

/// Closes the data directory to every other account on the machine: it
/// holds the originals of restricted documents, every reader's stamped
/// copy, the database (with the order of an open secret poll's ballots in
/// its log) and the minutes, all written with the system's default mode,
/// which lets any account read them. A room's directory made before is
/// closed at the next start. Only the room's own: one that holds other
/// things (`--data-dir /srv` by mistake) keeps its mode, with a warning,
/// as does one on a file system without modes.
fn keep_to_this_account(dir: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let ours = ["gavel.db", "gavel.lock"].iter().any(|n| dir.join(n).exists())
            || std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none());
        if !ours {
            tracing::warn!(dir = %dir.display(), "the data directory holds other things than a room's: its mode is left as it is, and other accounts may read its documents");
            return;
        }
        if let Err(e) = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot close the data directory to other accounts: they may read its documents");
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Opens the store, prepares the data directory and the demo, binds and
/// starts serving. Returns once the listener is bound.
pub async fn start(config: Config) -> anyhow::Result<Server> {
    std::fs::create_dir_all(&config.data_dir).with_context(|| format!("cannot create the data directory {}", config.data_dir.display()))?;
    keep_to_this_account(&config.data_dir);
    let lock = Arc::new(lock_data_dir(&config.data_dir).await?);
    // Held by the failure path below too, until the account is forgotten:
    // another server waiting for the directory must not see it meanwhile.
    let held = lock.clone();
    let db = store::open(&config.data_dir, config.database_url.as_deref()).await?;
    let mut report = StartReport {
        admin_password: auth::ensure_admin(&db, config.admin_password.as_deref()).await.map_err(anyhow::Error::from)?,
        ..Default::default()
    };
    // A password made here is printed once the room serves. Should the
    // start fail before that (its port taken), it is forgotten, and the
    // next start makes and prints another: it was never shown, and the
    // administrator account would have stayed locked without it.
    let generated = report.admin_password.is_some();
    let kept = db.clone();
    let started = async move {
        let documents = documents::Store::open(&config.data_dir).await?;
        let swept = meeting::sweep_minutes_parts(&config.data_dir)?;
        if swept > 0 {
            tracing::info!(files = swept, "removed minutes files half written when the room last stopped");
        }
        let (stop, shutdown) = watch::channel(false);
        let signer = signing::Signer::load_or_create(&config.data_dir, config.signing_key.as_deref())?;
        let content_freed = Arc::new(tokio::sync::Notify::new());
        let pdf = Arc::new(pdf_worker::PdfWorker::new(config.pdf_worker.clone()));
        let services = Arc::new(meeting::Services {
            pdf: pdf.clone(),
            data_dir: config.data_dir.clone(),
            signer,
            allow_secret: config.allow_secret_documents,
            content_freed: content_freed.clone(),
            commands_per_second: config.max_messages_per_second,
        });
        let state = AppState(Arc::new(Inner {
            meetings: meeting::Meetings::new(db.clone(), services),
            db,
            config: config.clone(),
            documents,
            shutdown: shutdown.clone(),
            room: std::sync::OnceLock::new(),
            throttle: throttle::Throttle::new(config.sign_in_limits),
            connections: limits::Connections::new(config.max_connections_per_address),
            revoked: tokio::sync::broadcast::channel(64).0,
            pdf,
        }));
        if config.demo {
            report.demo_pins = demo::ensure(&state).await?;
        }
        // The content of documents removed since (or before a crash) is deleted.
        let collector = state.clone();
        let collector_stop = shutdown.clone();
        tokio::spawn(async move { collector.documents.keep_collected(&collector.db, &content_freed, collector_stop).await });
        let listener = limits::listen(config.http).with_context(|| format!("cannot listen on {}", config.http))?;
        let http_addr = listener.local_addr()?;
        let tls = quic::load_or_create_tls(&config.data_dir, &config.room)?;
        let endpoint = quic::bind(config.quic, &tls, config.quic_congestion)?;
        let quic_addr = endpoint.local_addr()?;
        let _ = state.room.set(RoomInfo {
            room: config.room.clone(),
            http_port: http_addr.port(),
            quic_port: quic_addr.port(),
            fingerprint: tls.fingerprint.clone(),
            versions: vec![gavel_shared::protocol::PROTOCOL_VERSION],
        });
        let app = http::router(state.clone());
        // Open HTTP connections per address, over HTTP and HTTPS together.
        let http_connections = limits::Connections::new(config.max_http_connections_per_address);
        let (https_addr, https_task) = match config.https {
            Some(addr) => {
                let tls_config = https::server_config(&tls, config.tls_cert.as_deref(), config.tls_key.as_deref())?;
                let listener = https::bind(addr, tls_config, config.max_http_connections_per_address).await?;
                let bound = axum::serve::Listener::local_addr(&listener)?;
                let task = tokio::spawn(serve::serve(
                    listener,
                    https::router(app.clone()),
                    config.http_timeouts,
                    http_connections.clone(),
                    shutdown.clone(),
                ));
                (Some(bound), Some(task))
            }
            None => (None, None),
        };
        let quic_task = tokio::spawn(quic::serve(state.clone(), app.clone(), endpoint));
        let advertisement = if config.mdns {
            Some(discovery::advertise(discovery::Announce {
                room: &config.room,
                http_port: http_addr.port(),
                quic_port: quic_addr.port(),
                fingerprint: &tls.fingerprint,
                interfaces: &config.mdns_interfaces,
            })?)
        } else {
            None
        };
        let wait_stop = shutdown.clone();
        let task = tokio::spawn(async move {
            // No Nagle delay: an event is a small write that must leave at once
            // (with Nagle and delayed ACKs, some waited 40 ms).
            use axum::serve::ListenerExt;
            let listener = listener.tap_io(|tcp| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!(error = %e, "cannot set TCP_NODELAY");
                }
            });
            serve::serve(listener, app, config.http_timeouts, http_connections, wait_stop).await;
            if let Some(a) = advertisement {
                let _ = tokio::task::spawn_blocking(move || a.withdraw()).await;
            }
            // The QUIC and HTTPS ports are free again once this returns.
            let _ = quic_task.await;
            if let Some(t) = https_task {
                let _ = t.await;
            }
        });
        tracing::info!(%http_addr, %quic_addr, "serving");
        Ok(Server { http_addr, quic_addr, https_addr, fingerprint: tls.fingerprint, report, state, stop, task, _lock: lock })
    }
    .await;
    if started.is_err() && generated {
        if let Err(e) = auth::forget_generated_admin(&kept).await {
            tracing::error!(error = %e, "cannot forget the administrator password that was never shown");
        }
        kept.close().await;
    }
    drop(held);
    started
}

/// Takes the data directory for this server alone, before anything in it
/// is touched. A second server on the same directory (started twice by
/// mistake, or by a service manager beside a hand-started one) empties the
/// first one's uploads in progress, writes meeting events behind its back
/// and collects content it is about to record.
async fn lock_data_dir(dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let path = dir.join("gavel.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    // A server just stopped in this process (its last tasks ending), or a
    // process just ended (Windows lets go of its locks a moment later).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
                "another gavel-server is already using the data directory {}: stop it first, or give this one its own --data-dir",
                dir.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                // A file system without locks (some network shares and
                // virtual machines' shared folders): go on, as before.
                tracing::warn!(file = %path.display(), error = %e, "cannot lock the data directory; make sure no other server uses it");
                return Ok(file);
            }
        }
    }
}
