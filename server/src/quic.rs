//! The QUIC endpoint (quinn) for native clients: the tablet agent.
//!
//! ALPN `gavel/1` only, so a client of another protocol version fails the
//! handshake. The certificate is self-signed, made once and kept in
//! `DATA_DIR/tls/`; clients pin its fingerprint, the lowercase hex SHA-256
//! of its DER encoding (the `fp=` of the start line and of mDNS). The first
//! bidirectional stream a client opens is its control stream: frames of a
//! 4-byte big-endian length and one JSON message, carrying the same
//! [`crate::session`] as `/ws`, signed in with `sign_in` or `resume`.
//!
//! Every later bidirectional stream carries one request
//! ([`gavel_shared::pack::StreamRequest`]): a document's chunk manifest, some
//! of its chunks, or an HTTP request relayed to the API (the tablet agent's
//! web UI). Those streams are sent at a lower priority than the control
//! stream, so an agenda move never waits behind a download.

use crate::AppState;
use crate::error::Error;
use crate::session::{self, Inbound, OUTBOX, Outbound};
use anyhow::Context;
use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use gavel_shared::model::*;
use gavel_shared::pack::{MAX_CHUNKS_PER_REQUEST, MAX_REQUEST_FRAME, Manifest, StreamReply, StreamRequest};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The ALPN of each protocol version this server speaks.
pub const ALPN: &[&[u8]] = &[b"gavel/1"];
/// The largest control frame accepted.
const MAX_FRAME: usize = 4 * 1024 * 1024;
/// How long a control frame, once its length has come, may take to arrive
/// whole (a 1 MiB command at 17 KB/s on the weakest Wi-Fi).
const FRAME_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);
/// The control stream's send priority (request streams keep quinn's 0).
const CONTROL_PRIORITY: i32 = 16;

/// The room's certificate and key.
pub struct Tls {
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
    /// Lowercase hex SHA-256 of `cert_der`.
    pub fingerprint: String,
}

/// The fingerprint of a DER certificate.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// Loads `DATA_DIR/tls/{cert,key}.der`, or makes and keeps a self-signed pair.
pub fn load_or_create_tls(data_dir: &Path, room: &str) -> anyhow::Result<Tls> {
    let dir = data_dir.join("tls");
    let (cert_path, key_path) = (dir.join("cert.der"), dir.join("key.der"));
    if !cert_path.exists() || !key_path.exists() {
        std::fs::create_dir_all(&dir)?;
        let names = vec![format!("{}.local", gavel_shared::text::slug(room)), "gavel.local".into(), "localhost".into()];
        // The key is written first, readable by the room alone, each file
        // whole. A key left without its certificate (the power cut between
        // the two writes of a first start) gets one now; before, a new pair
        // was made, the old key kept (never overwritten) beside the new
        // certificate, and the room could not start again.
        let kept = std::fs::read(&key_path).ok().and_then(|der| rcgen::KeyPair::try_from(der.as_slice()).ok());
        let key = match kept {
            Some(key) => key,
            None => {
                let key = rcgen::KeyPair::generate().context("cannot make the room's key")?;
                remove_if_there(&key_path)?;
                crate::signing::write_whole(&key_path, &key.serialize_der(), true)?;
                key
            }
        };
        let cert = rcgen::CertificateParams::new(names)
            .and_then(|params| params.self_signed(&key))
            .context("cannot make the room's certificate")?;
        remove_if_there(&cert_path)?;
        crate::signing::write_whole(&cert_path, cert.der(), false)?;
        tracing::info!(path = %cert_path.display(), "made the room's certificate");
    }
    // A key written by an earlier room readable by all (0644): for the room alone.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if std::fs::metadata(&key_path)?.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    let cert_der = std::fs::read(&cert_path)?;
    let key_der = std::fs::read(&key_path)?;
    Ok(Tls { fingerprint: fingerprint(&cert_der), cert_der, key_der })
}

/// Removes a file that may not be there.
fn remove_if_there(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// How the room paces what it sends over QUIC (`--quic-congestion`).
///
/// On a room's Wi-Fi the air is the bottleneck, and the access point queues
/// what arrives faster than it can send. Cubic (quinn's default) grows its
/// window until that queue overflows, so every agenda move and ballot answer
/// waits behind a full queue while documents download. BBR sends at the
/// rate it measures the link to carry, and keeps the queue short. On a link
/// shaped to 100 Mbit/s with a 50 ms queue (`gavel-bench`, case `shaped`,
/// six runs), agenda moves beside downloads had a p50 of 6–8 ms and a p99 of
/// 11–31 ms with BBR, against 24–27 ms and 42–49 ms with Cubic, at the same
/// 12 MB/s. quinn calls its BBR experimental, so Cubic stays one flag away.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Congestion {
    #[default]
    Bbr,
    Cubic,
}

/// Transport settings for a LAN: windows large enough for bulk transfer,
/// keep-alives that notice a tablet gone from the Wi-Fi.
///
/// What a tablet sends the room is small (requests, ballots; an upload
/// through its agent now and then), so the room takes in at most 1 MiB per
/// stream and 2 MiB per connection ahead of what it has read: a client
/// that sends and sends on streams the room is not reading holds 2 MiB of
/// its memory, not 64. (On a LAN's round trip of a few milliseconds 1 MiB
/// still carries an upload at over 100 MB/s.)
fn transport(congestion: Congestion) -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    t.max_concurrent_bidi_streams(quinn::VarInt::from_u32(64))
        .max_concurrent_uni_streams(quinn::VarInt::from_u32(0))
        .stream_receive_window(quinn::VarInt::from_u32(1024 * 1024))
        .receive_window(quinn::VarInt::from_u32(2 * 1024 * 1024))
        .send_window(64 * 1024 * 1024)
        .keep_alive_interval(Some(Duration::from_secs(5)))
        .max_idle_timeout(Some(quinn::IdleTimeout::try_from(Duration::from_secs(30)).expect("a valid timeout")));
    match congestion {
        Congestion::Bbr => t.congestion_controller_factory(Arc::new(quinn::congestion::BbrConfig::default())),
        Congestion::Cubic => t.congestion_controller_factory(Arc::new(quinn::congestion::CubicConfig::default())),
    };
    Arc::new(t)
}

/// Binds the QUIC endpoint.
pub fn bind(addr: SocketAddr, tls: &Tls, congestion: Congestion) -> anyhow::Result<quinn::Endpoint> {
    let mut crypto = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(tls.cert_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(tls.key_der.clone())),
        )?;
    crypto.alpn_protocols = ALPN.iter().map(|a| a.to_vec()).collect();
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(quinn::crypto::rustls::QuicServerConfig::try_from(crypto)?));
    config.transport_config(transport(congestion));
    let socket = udp_socket(addr).with_context(|| format!("cannot listen for QUIC on {addr}"))?;
    let runtime = quinn::default_runtime().context("no async runtime for QUIC")?;
    quinn::Endpoint::new(quinn::EndpointConfig::default(), Some(config), socket, runtime)
        .with_context(|| format!("cannot listen for QUIC on {addr}"))
}

/// What the room asks of the system for its UDP socket's receive buffer.
/// Every tablet's packets, acknowledgements included, arrive on this one
/// socket: with the system's usual 208 KiB, the acknowledgements of one
/// agenda move to 2,000 tablets, or the closing packets of a room that
/// empties at once, overflow it. A lost close leaves the room sending
/// events to a tablet that is gone until the idle timeout.
///
/// The send buffer keeps the system's size: it bounds how much the room
/// queues below quinn, where an agenda move would wait behind downloads
/// (with 8 MiB, on the shaped-link benchmark under Cubic, agenda-move p99
/// went from 43 to 190 ms).
pub const UDP_BUFFER: usize = 8 << 20;

/// The room's UDP socket, with a receive buffer as large as the system
/// allows up to [`UDP_BUFFER`] (Linux caps it at `net.core.rmem_max`).
fn udp_socket(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: a system that refuses keeps its default.
    let _ = socket.set_recv_buffer_size(UDP_BUFFER);
    // Linux reports twice what it grants (the other half is its bookkeeping).
    let granted = socket.recv_buffer_size().unwrap_or(0) / if cfg!(target_os = "linux") { 2 } else { 1 };
    if granted < UDP_BUFFER / 2 {
        tracing::warn!(
            granted_kib = granted / 1024,
            wanted_kib = UDP_BUFFER / 1024,
            "the system limits the QUIC socket's receive buffer (net.core.rmem_max); a large room may lose packets in bursts"
        );
    }
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// Accepts connections until the server stops.
pub async fn serve(app: AppState, router: axum::Router, endpoint: quinn::Endpoint) {
    let mut shutdown = app.shutdown.clone();
    loop {
        let incoming = tokio::select! {
            _ = shutdown.wait_for(|s| *s) => break,
            incoming = endpoint.accept() => incoming,
        };
        let Some(incoming) = incoming else { break };
        let (app, router) = (app.clone(), router.clone());
        tokio::spawn(async move {
            let remote = incoming.remote_address();
            match incoming.await {
                Ok(conn) => connection(app, router, conn).await,
                Err(e) => tracing::debug!(%remote, error = %e, "QUIC handshake failed"),
            }
        });
    }
    endpoint.close(quinn::VarInt::from_u32(0), b"server shutting down");
    endpoint.wait_idle().await;
}

#[tracing::instrument(skip_all, fields(remote = %conn.remote_address()))]
async fn connection(app: AppState, router: axum::Router, conn: quinn::Connection) {
    let Some(_slot) = app.connections.open(conn.remote_address().ip()) else {
        conn.close(quinn::VarInt::from_u32(429), b"too many connections from this address");
        return;
    };
    let Ok((send, recv)) = conn.accept_bi().await else { return };
    let _ = send.set_priority(CONTROL_PRIORITY);
    let closer_addr = conn.remote_address();
    let requests = tokio::spawn(request_streams(app.clone(), router, conn.clone()));
    let (out, outbox) = mpsc::channel::<Outbound>(OUTBOX);
    let outlet = Outlet { send, conn: conn.clone(), queued: BytesMut::new() };
    let delivery = tokio::spawn(session::deliver(app.clone(), outbox, outlet));
    let inbound = futures_util::stream::unfold(Some(recv), |recv| async move {
        use tokio::io::AsyncReadExt;
        let mut recv = recv?;
        let mut len = [0u8; 4];
        recv.read_exact(&mut len).await.ok()?;
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_FRAME {
            return Some((Inbound::TooLarge { limit: MAX_FRAME }, None));
        }
        // Memory as the bytes come, not as the length claims (before sign-in
        // too); a frame begun must be finished within a minute.
        let mut buf = Vec::new();
        let read = tokio::time::timeout(FRAME_DEADLINE, (&mut recv).take(len as u64).read_to_end(&mut buf)).await;
        if !matches!(read, Ok(Ok(n)) if n == len) {
            return None;
        }
        Some((String::from_utf8(buf).map(Inbound::Text).unwrap_or(Inbound::Binary), Some(recv)))
    });
    session::run(app, None, Some(closer_addr), Box::pin(inbound), out).await;
    let _ = delivery.await;
    requests.abort();
    conn.close(quinn::VarInt::from_u32(0), b"bye");
}

/// The control stream's sending half, for [`session::deliver`]: messages
/// are framed into one buffer and handed to quinn at each flush, without a
/// copy; a large one (a snapshot) goes to quinn as it is.
struct Outlet {
    send: quinn::SendStream,
    conn: quinn::Connection,
    queued: BytesMut,
}

/// Messages from this size on are handed to quinn without a copy
/// ([`Outlet`]); smaller ones are gathered into one buffer per flush.
const SHARED_FROM: usize = 16 * 1024;

impl session::Outlet for Outlet {
    async fn queue(&mut self, text: Bytes) -> anyhow::Result<()> {
        self.queued.extend_from_slice(&(text.len() as u32).to_be_bytes());
        if text.len() >= SHARED_FROM {
            // After what is queued (its length included), the message itself:
            // quinn keeps it until acknowledged, shared with every follower
            // sent the same snapshot (`meeting::Snapshots`), where a copy in
            // each connection's buffer made 500 copies of 270 KB in a storm.
            let mut chunks = [std::mem::take(&mut self.queued).freeze(), text];
            self.send.write_all_chunks(&mut chunks).await?;
            return Ok(());
        }
        self.queued.extend_from_slice(&text);
        if self.queued.len() >= 64 * 1024 {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        if !self.queued.is_empty() {
            // The whole buffer goes to quinn, spare capacity and all, and is
            // freed once acknowledged. (`split` would leave the spare part
            // here, keeping alive the allocation of the largest message ever
            // sent: a 250 KB snapshot held by every idle tablet.)
            self.send.write_chunk(std::mem::take(&mut self.queued).freeze()).await?;
        }
        Ok(())
    }

    async fn close(&mut self, code: u16, reason: &'static str) {
        let _ = self.flush().await;
        let _ = self.send.finish();
        // Closing the connection discards what the peer has not yet
        // received: the last message (a `revoked` that tells the tablet to
        // delete its documents) is given a moment to arrive first.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), self.send.stopped()).await;
        self.conn.close(quinn::VarInt::from_u32(u32::from(code)), reason.as_bytes());
    }
}

/// Serves the request streams a client opens after its control stream.
async fn request_streams(app: AppState, router: axum::Router, conn: quinn::Connection) {
    while let Ok((send, recv)) = conn.accept_bi().await {
        tokio::spawn(request_stream(app.clone(), router.clone(), conn.remote_address(), send, recv));
    }
}

/// Reads one length-prefixed frame of at most `max` bytes.
pub async fn read_frame(recv: &mut quinn::RecvStream, max: usize) -> anyhow::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    recv.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    anyhow::ensure!(len <= max, "a frame of {len} bytes is over the limit of {max}");
    let mut buf = vec![0u8; len];
    recv.read_exact(&mut buf).await?;
    Ok(buf)
}

async fn write_frame(send: &mut quinn::SendStream, bytes: &[u8]) -> anyhow::Result<()> {
    in_time(send.write_all(&(bytes.len() as u32).to_be_bytes())).await?;
    in_time(send.write_all(bytes)).await
}

/// One step of a request stream (a write, a read) that must make progress
/// within [`FRAME_DEADLINE`]: a tablet that stops reading, or grants the
/// room no credit to send, does not keep what is queued for it, or its
/// request's unread bytes, for the life of its connection (keep-alives
/// keep a connection open that does nothing else).
async fn in_time<T, E: Into<anyhow::Error>>(step: impl std::future::Future<Output = Result<T, E>>) -> anyhow::Result<T> {
    match tokio::time::timeout(FRAME_DEADLINE, step).await {
        Ok(done) => done.map_err(Into::into),
        Err(_) => anyhow::bail!("the other end made no progress for {} s", FRAME_DEADLINE.as_secs()),
    }
}

async fn reply(send: &mut quinn::SendStream, r: &StreamReply) -> anyhow::Result<()> {
    write_frame(send, &serde_json::to_vec(r)?).await
}

fn refusal(e: &Error) -> StreamReply {
    if let Error::Internal(cause) = e {
        tracing::error!(error = ?cause, "request stream failed");
    }
    StreamReply::Error { code: e.code().into(), message: e.public_message() }
}

/// The document `doc` of `meeting`, if the session behind `token` may read it
/// (others get `not_found`, as over HTTP); what this reader is served for it
/// (their stamped copy of a restricted document); and that content's chunks.
async fn served(
    app: &AppState,
    token: &str,
    meeting: MeetingId,
    doc: DocumentId,
) -> Result<(Document, crate::watermark::Served, Arc<Manifest>, Actor, Arc<crate::meeting::MeetingHandle>), Error> {
    let actor = crate::auth::lookup(&app.db, token).await?.ok_or(Error::Unauthorized)?;
    let handle = app.meetings.get(meeting).await?;
    let state = handle.state().await;
    let doc = state.document(doc).filter(|d| state.can_read(&actor, d)).cloned().ok_or(Error::NotFound("document"))?;
    drop(state);
    let content = crate::watermark::served(app, &actor, meeting, &doc).await?;
    let manifest = app.documents.manifest(&content.sha256, content.size).await?;
    Ok((doc, content, manifest, actor, handle))
}

#[tracing::instrument(skip_all)]
async fn request_stream(app: AppState, router: axum::Router, peer: SocketAddr, mut send: quinn::SendStream, mut recv: quinn::RecvStream) {
    let result: anyhow::Result<()> = async {
        let frame = in_time(read_frame(&mut recv, MAX_REQUEST_FRAME)).await?;
        let request = match serde_json::from_slice::<StreamRequest>(&frame) {
            Ok(r) => r,
            Err(e) => {
                let message = format!("not a request: {e}");
                return reply(&mut send, &StreamReply::Error { code: "malformed_message".into(), message }).await;
            }
        };
        match request {
            StreamRequest::Manifest { token, meeting, document } => match served(&app, &token, meeting, document).await {
                Err(e) => reply(&mut send, &refusal(&e)).await,
                Ok((_, content, m, _, _)) => {
                    let manifest = Manifest { copy_of: content.copy_of, ..(*m).clone() };
                    reply(&mut send, &StreamReply::Manifest { manifest }).await
                }
            },
            StreamRequest::Chunks { token, meeting, document, sha256, indices } => {
                let mut revocation = crate::auth::RevocationWatch::start(&app);
                let (doc, _, m, actor, handle) = match served(&app, &token, meeting, document).await {
                    Ok(x) => x,
                    Err(e) => return reply(&mut send, &refusal(&e)).await,
                };
                if doc.sha256 != sha256 {
                    let message = "the document has a newer version: fetch its manifest again".to_string();
                    return reply(&mut send, &StreamReply::Error { code: "stale_version".into(), message }).await;
                }
                if indices.len() > MAX_CHUNKS_PER_REQUEST || indices.iter().any(|&i| i as usize >= m.chunks.len()) {
                    let message = format!("ask for at most {MAX_CHUNKS_PER_REQUEST} chunks, each below {}", m.chunks.len());
                    return reply(&mut send, &StreamReply::Error { code: "invalid".into(), message }).await;
                }
                // Opened before saying yes: a file the room has lost is said
                // so, not a stream that ends early with no reason.
                let path = app.documents.path(&m.sha256);
                let file = match tokio::task::spawn_blocking(move || std::fs::File::open(path)).await? {
                    Ok(f) => f,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        tracing::error!(document = %doc.id, sha256 = %m.sha256, "a document's file is missing from the room's disk");
                        let e = Error::FileMissing;
                        return reply(&mut send, &StreamReply::Error { code: e.code().into(), message: e.public_message() }).await;
                    }
                    Err(e) => return Err(e.into()),
                };
                reply(&mut send, &StreamReply::Chunks { count: indices.len() as u32 }).await?;
                // A request may carry a whole document: each chunk goes only
                // while the reader may still read it and is still signed in.
                send_chunks(file, &m, &indices, &mut send, || handle.still_reads(&actor, doc.id) && !revocation.revoked(&actor)).await
            }
            StreamRequest::Http { token, method, path, headers } => {
                relay_http(router, peer, token, &method, &path, headers, &mut send, recv).await
            }
        }?;
        let _ = send.finish();
        Ok(())
    }
    .await;
    if let Err(e) = result {
        // Reset, so that nothing left queued for the tablet is kept.
        let _ = send.reset(quinn::VarInt::from_u32(2));
        tracing::debug!(error = %e, "request stream ended early");
    }
}

/// How much of a document one trip to the blocking pool reads: a few
/// chunks (64 KiB on average, 256 KiB at most). A stream the tablet stops
/// reading holds two such runs (one written, one read ahead).
const READ_AHEAD: u64 = 128 * 1024;

async fn send_chunks(
    file: std::fs::File,
    m: &gavel_shared::pack::Manifest,
    indices: &[u32],
    send: &mut quinn::SendStream,
    mut still_allowed: impl FnMut() -> bool,
) -> anyhow::Result<()> {
    // The file is read on the blocking pool a run of chunks at a time, one
    // run ahead of the stream, each chunk framed in a buffer of its own that
    // quinn then takes without copying. (Through tokio::fs every chunk cost
    // two trips to the blocking pool, and every byte a copy into the
    // stream.) No thread waits on the stream: before, one blocking reader
    // per request waited for room in a queue to the stream, so each request
    // of a tablet that stopped reading held one of the pool's threads for
    // up to a minute, and enough of them would have left none for the
    // room's other blocking work (files, passwords).
    type Run = Vec<(u64, u32)>;
    let offsets = m.offsets();
    let mut runs: std::collections::VecDeque<Run> = std::collections::VecDeque::new();
    let mut run_bytes = READ_AHEAD;
    for &i in indices {
        let len = m.chunks[i as usize].len;
        if run_bytes >= READ_AHEAD {
            runs.push_back(Vec::new());
            run_bytes = 0;
        }
        runs.back_mut().expect("a run").push((offsets[i as usize], len));
        run_bytes += u64::from(len);
    }
    let read = |mut file: std::fs::File, run: Run| {
        tokio::task::spawn_blocking(move || -> std::io::Result<(std::fs::File, Vec<bytes::Bytes>)> {
            use std::io::{Read, Seek};
            let mut pieces = Vec::with_capacity(run.len());
            for (at, len) in run {
                let mut buf = vec![0u8; 4 + len as usize];
                buf[..4].copy_from_slice(&len.to_be_bytes());
                file.seek(std::io::SeekFrom::Start(at))?;
                file.read_exact(&mut buf[4..])?;
                pieces.push(bytes::Bytes::from(buf));
            }
            Ok((file, pieces))
        })
    };
    let mut next = runs.pop_front().map(|run| read(file, run));
    while let Some(reading) = next.take() {
        let (file, pieces) = reading.await??;
        next = runs.pop_front().map(|run| read(file, run));
        for piece in pieces {
            if !still_allowed() {
                // Reset, not finished: the tablet sees the request fail and
                // asks again, and is then told the document is not there
                // for it.
                let _ = send.reset(quinn::VarInt::from_u32(1));
                anyhow::bail!("the reader may no longer read this document");
            }
            in_time(send.write_chunk(piece)).await?;
        }
    }
    Ok(())
}

/// Runs a relayed HTTP request through the same router as the HTTP port,
/// acting for the stream's token (never a cookie).
#[allow(clippy::too_many_arguments)]
async fn relay_http(
    router: axum::Router,
    peer: SocketAddr,
    token: Option<String>,
    method: &str,
    path: &str,
    headers: Vec<(String, String)>,
    send: &mut quinn::SendStream,
    recv: quinn::RecvStream,
) -> anyhow::Result<()> {
    use tower::ServiceExt;
    let body = futures_util::stream::unfold(recv, |mut recv| async move {
        match in_time(recv.read_chunk(64 * 1024, true)).await {
            Ok(Some(c)) => Some((Ok::<_, anyhow::Error>(c.bytes), recv)),
            Ok(None) => None,
            Err(e) => Some((Err(e), recv)),
        }
    });
    let mut builder = axum::http::Request::builder().method(method).uri(path);
    for (k, v) in headers.iter().filter(|(k, _)| !matches!(k.to_ascii_lowercase().as_str(), "cookie" | "authorization" | "host")) {
        builder = builder.header(k, v);
    }
    builder = builder.header("host", "gavel.local");
    if let Some(t) = token {
        builder = builder.header("authorization", format!("Bearer {t}"));
    }
    let request = match builder.body(Body::from_stream(body)) {
        Ok(mut r) => {
            // As if it came to the HTTP port from the tablet's address.
            r.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            r
        }
        Err(e) => return reply(send, &StreamReply::Error { code: "malformed_message".into(), message: e.to_string() }).await,
    };
    let response = router.oneshot(request).await.map_err(|e| anyhow::anyhow!("router: {e}"))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter(|(k, _)| *k != axum::http::header::SET_COOKIE)
        .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
        .collect();
    reply(send, &StreamReply::Http { status, headers }).await?;
    let mut body = response.into_body().into_data_stream();
    while let Some(piece) = body.next().await {
        // A body that fails part-way (a document taken away mid-download)
        // resets the stream: dropped, quinn would finish it, and the
        // tablet would take the cut-off answer for a whole one.
        let piece = match piece {
            Ok(p) => p,
            Err(e) => {
                let _ = send.reset(quinn::VarInt::from_u32(1));
                return Err(e.into());
            }
        };
        in_time(send.write_all(&piece)).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_rooms_key_is_written_whole_and_for_the_room_alone() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create_tls(dir.path(), "Phòng họp").unwrap();
        let tls = dir.path().join("tls");
        let names: Vec<String> = std::fs::read_dir(&tls).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert!(names.iter().all(|n| !n.contains(".part")), "{names:?}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(tls.join("key.der")).unwrap().permissions().mode() & 0o777, 0o600);
        }
        // A half-written one left by a room killed mid-write is not taken for the key.
        std::fs::write(tls.join("key.part-0a1b2c3d4e5f"), b"trunc").unwrap();
        assert_eq!(load_or_create_tls(dir.path(), "Phòng họp").unwrap().fingerprint, first.fingerprint);
        // A key an earlier room left readable by all is made the room's alone.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(tls.join("key.der"), std::fs::Permissions::from_mode(0o644)).unwrap();
            load_or_create_tls(dir.path(), "Phòng họp").unwrap();
            assert_eq!(std::fs::metadata(tls.join("key.der")).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    use super::*;

    /// A client trusting `tls`'s certificate and speaking `gavel/1`.
    fn client(tls: &Tls) -> anyhow::Result<quinn::Endpoint> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from(tls.cert_der.clone()))?;
        let mut crypto = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_root_certificates(roots)
            .with_no_client_auth();
        crypto.alpn_protocols = ALPN.iter().map(|a| a.to_vec()).collect();
        let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse()?)?;
        endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(quinn::crypto::rustls::QuicClientConfig::try_from(crypto)?)));
        Ok(endpoint)
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_room_asks_for_udp_buffers_as_large_as_the_system_allows() -> anyhow::Result<()> {
        let socket = socket2::Socket::from(udp_socket("127.0.0.1:0".parse()?)?);
        // Linux caps the request at net.core.rmem_max and reports twice what it
        // granted (the other half is its own bookkeeping).
        let max: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")?.trim().parse()?;
        assert_eq!(socket.recv_buffer_size()?, 2 * UDP_BUFFER.min(max));
        Ok(())
    }

    #[tokio::test]
    async fn the_room_paces_quic_as_asked() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let tls = load_or_create_tls(dir.path(), "Phòng họp")?;
        for congestion in [Congestion::Bbr, Congestion::Cubic] {
            let server = bind("127.0.0.1:0".parse()?, &tls, congestion)?;
            let dialing = client(&tls)?.connect(server.local_addr()?, "localhost")?;
            let accepted = server.accept().await.expect("a connection").await?;
            let _client = dialing.await?;
            let state = accepted.congestion_state().into_any();
            let is_bbr = state.downcast_ref::<quinn::congestion::Bbr>().is_some();
            let is_cubic = state.downcast_ref::<quinn::congestion::Cubic>().is_some();
            assert_eq!((is_bbr, is_cubic), (congestion == Congestion::Bbr, congestion == Congestion::Cubic), "{congestion:?}");
        }
        Ok(())
    }
}
