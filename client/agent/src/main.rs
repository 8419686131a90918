//! `gavel-agent`: the tablet agent's command line.
//!
//!     gavel-agent discover [--timeout SECS]
//!     gavel-agent join --server ADDR --fingerprint HEX --meeting ID --participant ID --pin PIN

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use gavel_agent::{discover, link};
use gavel_shared::model::*;
use gavel_shared::protocol::{ClientMessage, PROTOCOL_VERSION, ServerMessage};
use std::net::SocketAddr;
use std::time::Duration;

/// Gavel tablet agent: finds the meeting room on the LAN and follows it.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// List the rooms announcing themselves on the LAN.
    Discover {
        /// How long to listen, in seconds.
        #[arg(long, default_value_t = 3)]
        timeout: u64,
    },
    /// Sign in to a meeting over QUIC and follow it, printing each event.
    Join {
        /// The room's QUIC address (IP:PORT).
        #[arg(long)]
        server: SocketAddr,
        /// The room's certificate fingerprint (from `discover`, the start line or a QR code).
        #[arg(long)]
        fingerprint: String,
        #[arg(long)]
        meeting: i64,
        #[arg(long)]
        participant: i64,
        #[arg(long, env = "GAVEL_PIN", hide_env_values = true)]
        pin: String,
        /// Stop after the first snapshot (to check a link).
        #[arg(long)]
        once: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_ansi(false).init();
    match Cli::parse().command {
        Sub::Discover { timeout } => {
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
        Sub::Join { server, fingerprint, meeting, participant, pin, once } => {
            join(server, &fingerprint, meeting, participant, pin, once).await
        }
    }
}

async fn join(server: SocketAddr, fingerprint: &str, meeting: i64, participant: i64, pin: String, once: bool) -> anyhow::Result<()> {
    let mut l = match link::Link::connect(server, fingerprint, link::ALPN).await {
        Ok(l) => l,
        Err(e) => {
            let text = format!("{e:#}");
            if text.contains("fingerprint") {
                bail!("refused: the room at {server} is not the one pinned ({text})");
            }
            if text.to_lowercase().contains("application protocol") {
                bail!(
                    "the room at {server} does not speak protocol version {PROTOCOL_VERSION} (see `gavel-agent discover` for the versions it speaks)"
                );
            }
            return Err(e);
        }
    };
    l.send(&ClientMessage::SignIn { meeting: MeetingId(meeting), participant: ParticipantId(participant), pin, remote: false }).await?;
    match l.recv().await? {
        ServerMessage::SignedIn { name, .. } => println!("signed-in name=\"{name}\""),
        ServerMessage::Error { code, message, .. } => bail!("sign-in refused: {code}: {message}"),
        other => bail!("unexpected answer {other:?}"),
    }
    l.send(&ClientMessage::Hello { meeting: MeetingId(meeting), last_seq: None, version: PROTOCOL_VERSION }).await?;
    let mut state = None;
    loop {
        match l.recv().await.context("the link to the room closed")? {
            ServerMessage::Snapshot { state: s } => {
                let current = s.current_item().map(|i| i.title.clone()).unwrap_or_default();
                println!("snapshot seq={} title=\"{}\" current=\"{current}\"", s.seq, s.meeting.title);
                state = Some(s);
                if once {
                    return Ok(());
                }
            }
            ServerMessage::Event { event } => {
                let kind = serde_json::to_value(&event.change).ok().and_then(|v| v["type"].as_str().map(String::from)).unwrap_or_default();
                if let Some(s) = state.as_mut() {
                    s.apply(&event)?;
                    let current = s.current_item().map(|i| i.title.clone()).unwrap_or_default();
                    println!("event seq={} type={kind} current=\"{current}\"", event.seq);
                }
            }
            _ => {}
        }
    }
}
