//! `gavel-server`: parses flags, sets up logging, starts the server, prints
//! the start line, and waits for Ctrl-C or SIGTERM.

use clap::{Parser, Subcommand};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Gavel room server: a paperless meeting room on the LAN.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Where the database, documents and keys are kept.
    #[arg(long, env = "GAVEL_DATA_DIR", default_value = "./gavel-data", global = true)]
    data_dir: PathBuf,
    /// Database URL (default: sqlite://DATA_DIR/gavel.db). PostgreSQL is not supported yet.
    #[arg(long, env = "GAVEL_DATABASE_URL", global = true, hide_env_values = true)]
    database_url: Option<String>,
    /// Address for the web UI, the HTTP API and WebSocket (port 0 picks a free port).
    #[arg(long, env = "GAVEL_HTTP", default_value = "0.0.0.0:8080")]
    http: SocketAddr,
    /// Address for QUIC, which the tablet agent uses (port 0 picks a free port).
    #[arg(long, env = "GAVEL_QUIC", default_value = "0.0.0.0:4433")]
    quic: SocketAddr,
    /// Also serve the web UI and API over HTTPS on this address (off by default).
    #[arg(long, env = "GAVEL_HTTPS")]
    https: Option<SocketAddr>,
    /// The organisation's certificate chain for HTTPS (PEM); default: the room's own certificate.
    #[arg(long, env = "GAVEL_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, env = "GAVEL_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The room's name, shown to tablets (default: the host name).
    #[arg(long, env = "GAVEL_ROOM")]
    room: Option<String>,
    /// Create the Vietnamese demo meeting (once) and print its participants' PINs.
    #[arg(long, env = "GAVEL_DEMO")]
    demo: bool,
    /// Do not announce the room on the LAN with mDNS.
    #[arg(long, env = "GAVEL_NO_MDNS")]
    no_mdns: bool,
    /// Announce the room with mDNS only on this interface (repeatable).
    #[arg(long = "mdns-interface", env = "GAVEL_MDNS_INTERFACE", value_delimiter = ',')]
    mdns_interfaces: Vec<String>,
    /// The administrator's password (user `admin`); generated and printed once when absent on first start.
    #[arg(long, env = "GAVEL_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// The largest document upload, in bytes.
    #[arg(long, env = "GAVEL_MAX_UPLOAD", default_value_t = gavel_server::DEFAULT_MAX_UPLOAD)]
    max_upload: u64,
    /// Accept state-secret ("mật") documents. Off by default: the rules for
    /// state secrets require a room set up for them.
    #[arg(long, env = "GAVEL_ALLOW_SECRET_DOCUMENTS")]
    allow_secret_documents: bool,
    /// Wrong PINs in a row before each further attempt must wait (1 s, 2 s, 4 s, …).
    #[arg(long, env = "GAVEL_PIN_FREE_ATTEMPTS", default_value_t = 3)]
    pin_free_attempts: u32,
    /// Wrong PINs in a row that lock a participant's sign-in until the chair or secretary unlocks it.
    #[arg(long, env = "GAVEL_PIN_LOCK_AFTER", default_value_t = 10)]
    pin_lock_after: u32,
    /// Wrong PINs from one address in 10 minutes before it is refused for the rest of them.
    #[arg(long, env = "GAVEL_SIGN_IN_FAILURES_PER_ADDRESS", default_value_t = 30)]
    sign_in_failures_per_address: u32,
    /// Open WebSocket and QUIC connections allowed from one address.
    #[arg(long, env = "GAVEL_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = gavel_server::limits::DEFAULT_CONNECTIONS_PER_ADDRESS)]
    max_connections_per_address: usize,
    /// Open HTTP and HTTPS connections allowed from one address (a browser opens about six); past them a new one is closed at once.
    #[arg(long, env = "GAVEL_MAX_HTTP_CONNECTIONS_PER_ADDRESS", default_value_t = gavel_server::limits::DEFAULT_CONNECTIONS_PER_ADDRESS)]
    max_http_connections_per_address: usize,
    /// Messages per second allowed on one connection (twice that in a burst); a flood closes it.
    #[arg(long, env = "GAVEL_MAX_MESSAGES_PER_SECOND", default_value_t = gavel_server::limits::DEFAULT_MESSAGES_PER_SECOND)]
    max_messages_per_second: u32,
    /// Seconds an HTTP client has to send a request's line and headers (also how long an idle keep-alive connection stays open).
    #[arg(long, env = "GAVEL_HTTP_HEADER_TIMEOUT", default_value_t = 10)]
    http_header_timeout: u64,
    /// Seconds an upload may go without sending a byte before it is dropped.
    #[arg(long, env = "GAVEL_HTTP_BODY_TIMEOUT", default_value_t = 30)]
    http_body_timeout: u64,
    /// Seconds a client may take none of what it asked for (a download it stopped reading) before it is cut off.
    #[arg(long, env = "GAVEL_HTTP_WRITE_TIMEOUT", default_value_t = 60)]
    http_write_timeout: u64,
    /// How QUIC paces what the room sends: bbr keeps the Wi-Fi's queue short, so agenda moves do not wait behind downloads; cubic is quinn's default.
    #[arg(long, env = "GAVEL_QUIC_CONGESTION", value_enum, default_value_t = gavel_server::quic::Congestion::Bbr)]
    quic_congestion: gavel_server::quic::Congestion,
    /// How long a sign-in lasts, in hours.
    #[arg(long, env = "GAVEL_SESSION_HOURS", default_value_t = 18)]
    session_hours: u32,
    /// The organisation's Ed25519 key for signing minutes (a file of 64 hex digits);
    /// default: one generated once in the data directory.
    #[arg(long, env = "GAVEL_SIGNING_KEY", global = true)]
    signing_key: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Sub>,
}

/// Subcommands beside serving.
#[derive(Debug, Subcommand)]
enum Sub {
    /// Serve (the default when no subcommand is given).
    Serve,
    /// Check a signed minutes file against its signature. Needs no server and
    /// no data directory; exits non-zero unless the file is the signed one.
    VerifyMinutes {
        /// The exported file (PDF, DOCX, CSV or JSON).
        file: PathBuf,
        /// The signature (default: FILE.sig).
        #[arg(long)]
        sig: Option<PathBuf>,
        /// The organisation's public key (a file with 64 hex digits). Without
        /// it, the key inside the signature is used, which proves only that
        /// the file was not changed since it was signed with that key.
        #[arg(long)]
        public_key: Option<PathBuf>,
    },
    /// Print the public key that checks this server's signed minutes.
    PublicKey,
    /// The tamper-evident record: `audit verify` walks each meeting's hash
    /// chain (the server may be stopped) and names the first event that was
    /// changed, removed or inserted; exits non-zero if any.
    Audit {
        #[command(subcommand)]
        what: AuditSub,
    },
}

#[derive(Debug, Subcommand)]
enum AuditSub {
    /// Check the event log of every meeting, or of one.
    Verify {
        #[arg(long)]
        meeting: Option<i64>,
    },
}

fn main() -> anyhow::Result<()> {
    // A worker reading one restricted PDF (gavel_server::pdf_worker): no
    // runtime, no logging, nothing on stdout but its answer.
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|a| a == gavel_server::pdf_worker::SUBCOMMAND) {
        std::process::exit(gavel_server::pdf_worker::main(args));
    }
    keep_memory_small();
    allow_many_files();
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    match cli.command {
        None | Some(Sub::Serve) => serve(cli).await,
        Some(Sub::VerifyMinutes { ref file, ref sig, ref public_key }) => verify_minutes(file, sig.as_deref(), public_key.as_deref()),
        Some(Sub::Audit { what: AuditSub::Verify { meeting } }) => {
            let db = gavel_server::store::open_read_only(&cli.data_dir).await?;
            let found = gavel_server::audit::verify(&db, meeting.map(gavel_shared::model::MeetingId)).await?;
            let mut bad = false;
            for (m, f) in &found {
                bad |= !matches!(f, gavel_server::audit::Finding::Intact { .. });
                println!("meeting {m}: {f}");
            }
            if found.is_empty() {
                println!("no meetings");
            }
            if bad {
                std::process::exit(1);
            }
            Ok(())
        }
        Some(Sub::PublicKey) => {
            let signer = gavel_server::signing::Signer::load_or_create(&cli.data_dir, cli.signing_key.as_deref())?;
            println!("{}", signer.public_key_hex());
            Ok(())
        }
    }
}

fn verify_minutes(file: &std::path::Path, sig: Option<&std::path::Path>, public_key: Option<&std::path::Path>) -> anyhow::Result<()> {
    use anyhow::Context;
    let sig_path = sig.map(PathBuf::from).unwrap_or_else(|| {
        let mut p = file.as_os_str().to_owned();
        p.push(".sig");
        PathBuf::from(p)
    });
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let sig_text = std::fs::read_to_string(&sig_path).with_context(|| format!("cannot read the signature {}", sig_path.display()))?;
    let signature: gavel_server::signing::Signature =
        serde_json::from_str(&sig_text).with_context(|| format!("{} is not a Gavel signature", sig_path.display()))?;
    let key = public_key.map(gavel_server::signing::read_public_key).transpose()?;
    match gavel_server::signing::verify(&bytes, &signature, key.as_deref()) {
        Ok(v) => {
            let f = &v.fields;
            println!("valid: {} is the signed file", file.display());
            println!("meeting={} title=\"{}\" minutes_version={} signed_at={}", f.meeting, f.meeting_title, f.minutes_version, f.signed_at);
            println!("event_log_head={} event_log_seq={}", f.log_head, f.log_seq);
            if v.key_given {
                println!("public_key={} (the key given)", f.public_key);
            } else {
                println!("public_key={} (taken from the signature: pass --public-key to check it is your organisation's)", f.public_key);
            }
            Ok(())
        }
        Err(e) => {
            println!("INVALID: {e}");
            std::process::exit(1);
        }
    }
}

async fn serve(cli: Cli) -> anyhow::Result<()> {
    let config = gavel_server::Config {
        data_dir: cli.data_dir,
        database_url: cli.database_url,
        http: cli.http,
        quic: cli.quic,
        https: cli.https,
        tls_cert: cli.tls_cert,
        tls_key: cli.tls_key,
        room: cli.room.unwrap_or_else(host_name),
        demo: cli.demo,
        mdns: !cli.no_mdns,
        mdns_interfaces: cli.mdns_interfaces,
        admin_password: cli.admin_password,
        max_upload: cli.max_upload,
        session_ttl: time::Duration::hours(cli.session_hours.into()),
        signing_key: cli.signing_key,
        allow_secret_documents: cli.allow_secret_documents,
        max_http_connections_per_address: cli.max_http_connections_per_address,
        max_connections_per_address: cli.max_connections_per_address,
        max_messages_per_second: cli.max_messages_per_second,
        http_timeouts: gavel_server::serve::Timeouts {
            header: std::time::Duration::from_secs(cli.http_header_timeout.max(1)),
            body_idle: std::time::Duration::from_secs(cli.http_body_timeout.max(1)),
            write: std::time::Duration::from_secs(cli.http_write_timeout.max(1)),
        },
        quic_congestion: cli.quic_congestion,
        pdf_worker: anyhow::Context::context(std::env::current_exe(), "cannot find this program, which also reads restricted PDFs")?,
        sign_in_limits: gavel_server::throttle::Limits {
            free_attempts: cli.pin_free_attempts,
            lock_after: cli.pin_lock_after,
            per_address: cli.sign_in_failures_per_address,
        },
    };
    let server = gavel_server::start(config).await?;
    {
        let mut out = std::io::stdout().lock();
        if let Some(pw) = &server.report.admin_password {
            writeln!(out, "admin username=admin password={pw}")?;
        }
        for pin in &server.report.demo_pins {
            writeln!(out, "{}", pin.line())?;
        }
        match server.https_addr {
            Some(https) => {
                writeln!(out, "listening http={} quic={} fp={} https={https}", server.http_addr, server.quic_addr, server.fingerprint)?
            }
            None => writeln!(out, "listening http={} quic={} fp={}", server.http_addr, server.quic_addr, server.fingerprint)?,
        }
        out.flush()?;
    }
    if !gavel_server::web::has_ui() {
        tracing::warn!("this binary carries no web UI");
    }
    let stop = server.stopper();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = stop.send(true);
    });
    server.wait().await
}

/// Argon2 takes 19 MiB per PIN checked. glibc raises its mmap threshold
/// after such blocks are freed and then keeps the next ones in the heap for
/// good: the demo's start left 250 MB resident. A fixed threshold (which also
/// turns off that adjustment) gives large blocks back to the system: 15 MB
/// at rest.
fn keep_memory_small() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}

/// Raises the open-file limit to what the system allows: each tablet holds
/// a socket or two, and a room of hundreds, with the database and the
/// documents being read, passes the usual soft limit of 1,024.
fn allow_many_files() {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit and setrlimit read or fill the struct given and change only this process's limit.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
                limit.rlim_cur = limit.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            }
        }
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_string()).filter(|h| !h.is_empty()).unwrap_or_else(|| "Gavel".into())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
