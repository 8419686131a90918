//! A bare QUIC broadcaster, to tell how much of QUIC fan-out is Gavel's and
//! how much is QUIC's on this machine: the room's own QUIC endpoint (same
//! certificate handling, transport settings, congestion control and
//! socket), with no meeting behind it. Each number written to its publish
//! socket goes to every connected client as an event-shaped frame of the
//! measured size, through one task per connection and a broadcast channel,
//! as in the room. It runs as its own process, as the room does.

use crate::fanout::Audience;
use anyhow::Context;
use bytes::Bytes;
use gavel_shared::protocol::ClientMessage;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// The flag that makes this binary the broadcaster.
pub const INSIDE: &str = "--bare-quic-broadcaster";

/// The broadcaster's side: prints `quic=ADDR publish=ADDR fingerprint=FP`,
/// then serves until its publish connection closes.
pub async fn serve(size: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let tls = gavel_server::quic::load_or_create_tls(dir.path(), "bare")?;
    let endpoint = gavel_server::quic::bind("127.0.0.1:0".parse()?, &tls, gavel_server::quic::Congestion::default())?;
    let publish = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("quic={} publish={} fingerprint={}", endpoint.local_addr()?, publish.local_addr()?, tls.fingerprint);
    let (events, _) = tokio::sync::broadcast::channel::<Bytes>(1024);
    let subscribe = events.clone();
    tokio::spawn(async move {
        while let Some(incoming) = endpoint.accept().await {
            let mut rx = subscribe.subscribe();
            tokio::spawn(async move {
                let conn = incoming.await?;
                let (mut send, mut recv) = conn.accept_bi().await?;
                // The client's first frame opens the stream; the answer says
                // it will get every event from now on.
                gavel_agent::link::read_frame(&mut recv, 1 << 20).await?;
                gavel_agent::link::write_frame(&mut send, b"{\"type\":\"ready\"}").await?;
                loop {
                    match rx.recv().await {
                        Ok(frame) => send.write_chunk(frame).await?,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    }
                }
                drop(recv);
                anyhow::Ok(())
            });
        }
    });
    let (publisher, _) = publish.accept().await?;
    let mut lines = BufReader::new(publisher).lines();
    while let Some(line) = lines.next_line().await? {
        let seq: u64 = line.trim().parse().context("a number to publish")?;
        let _ = events.send(frame(seq, size));
    }
    Ok(())
}

/// An agenda-move-shaped event of `size` bytes, framed as on the control stream.
fn frame(seq: u64, size: usize) -> Bytes {
    let head = format!("{{\"type\":\"event\",\"event\":{{\"seq\":{seq},\"type\":\"current_item_changed\",\"pad\":\"");
    let tail = "\"}}";
    let pad = size.saturating_sub(head.len() + tail.len());
    let text = format!("{head}{}{tail}", " ".repeat(pad));
    let mut out = Vec::with_capacity(4 + text.len());
    out.extend_from_slice(&(text.len() as u32).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
    Bytes::from(out)
}

/// The running broadcaster, seen from the benchmark.
pub struct Bare {
    child: tokio::process::Child,
    quic: SocketAddr,
    fingerprint: String,
    publisher: tokio::net::TcpStream,
    next: u64,
}

impl Bare {
    /// Starts this program as the broadcaster of `size`-byte events.
    pub async fn start(size: usize) -> anyhow::Result<Bare> {
        // Through /proc, as the shaped-link case: the file may have been relinked since.
        let this = format!("/proc/{}/exe", std::process::id());
        let mut child = tokio::process::Command::new(this)
            .arg(INSIDE)
            .arg(size.to_string())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let mut out = BufReader::new(child.stdout.take().context("no stdout")?).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), out.next_line()).await.context("the broadcaster did not start")??;
        let line = line.context("the broadcaster stopped before saying where it listens")?;
        let field = |name: &str| {
            line.split_whitespace().find_map(|f| f.strip_prefix(name)).map(str::to_string).with_context(|| format!("no {name} in {line:?}"))
        };
        let publisher = tokio::net::TcpStream::connect(field("publish=")?.parse::<SocketAddr>()?).await?;
        publisher.set_nodelay(true)?;
        Ok(Bare { quic: field("quic=")?.parse()?, fingerprint: field("fingerprint=")?, publisher, child, next: 0 })
    }

    /// `n` clients on the tablet agent's own link, each past the broadcaster's hello.
    pub async fn audience(&self, n: usize) -> anyhow::Result<Audience> {
        Audience::with_links(n, || async {
            let mut l = gavel_agent::link::Link::connect(self.quic, &self.fingerprint, gavel_agent::link::ALPN).await?;
            l.send(&ClientMessage::Ping { nonce: 0 }).await?;
            let (send, mut recv) = l.split();
            tokio::time::timeout(Duration::from_secs(60), gavel_agent::link::read_frame(&mut recv, 1 << 20))
                .await
                .context("no hello")??;
            Ok((send, recv))
        })
        .await
    }

    /// Publishes one event; returns its number and when it was sent.
    pub async fn publish(&mut self) -> anyhow::Result<(u64, Instant)> {
        self.next += 1;
        let at = Instant::now();
        self.publisher.write_all(format!("{}\n", self.next).as_bytes()).await?;
        Ok((self.next, at))
    }

    pub async fn stop(mut self) {
        let _ = self.publisher.shutdown().await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}
