//! The QUIC endpoint (quinn) for native clients: the tablet agent.
//!
//! ALPN `gavel/1` only, so a client of another protocol version fails the
//! handshake. The certificate is self-signed, made once and kept in
//! `DATA_DIR/tls/`; clients pin its fingerprint, the lowercase hex SHA-256
//! of its DER encoding (the `fp=` of the start line and of mDNS). The first
//! bidirectional stream a client opens is its control stream: frames of a
//! 4-byte big-endian length and one JSON message, carrying the same
//! [`crate::session`] as `/ws`, signed in with `sign_in` or `resume`.

use crate::AppState;
use crate::session::{self, Inbound, OUTBOX, Outbound};
use anyhow::Context;
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
        let made = rcgen::generate_simple_self_signed(names).context("cannot make the room's certificate")?;
        std::fs::write(&key_path, made.signing_key.serialize_der())?;
        std::fs::write(&cert_path, made.cert.der())?;
        tracing::info!(path = %cert_path.display(), "made the room's certificate");
    }
    let cert_der = std::fs::read(&cert_path)?;
    let key_der = std::fs::read(&key_path)?;
    Ok(Tls { fingerprint: fingerprint(&cert_der), cert_der, key_der })
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Transport settings for a LAN: windows large enough for bulk transfer,
/// keep-alives that notice a tablet gone from the Wi-Fi.
fn transport() -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    t.stream_receive_window(quinn::VarInt::from_u32(16 * 1024 * 1024))
        .receive_window(quinn::VarInt::from_u32(64 * 1024 * 1024))
        .send_window(64 * 1024 * 1024)
        .keep_alive_interval(Some(Duration::from_secs(5)))
        .max_idle_timeout(Some(quinn::IdleTimeout::try_from(Duration::from_secs(30)).expect("a valid timeout")));
    Arc::new(t)
}

/// Binds the QUIC endpoint.
pub fn bind(addr: SocketAddr, tls: &Tls) -> anyhow::Result<quinn::Endpoint> {
    let mut crypto = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(tls.cert_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(tls.key_der.clone())),
        )?;
    crypto.alpn_protocols = ALPN.iter().map(|a| a.to_vec()).collect();
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(quinn::crypto::rustls::QuicServerConfig::try_from(crypto)?));
    config.transport_config(transport());
    quinn::Endpoint::server(config, addr).with_context(|| format!("cannot listen for QUIC on {addr}"))
}

/// Accepts connections until the server stops.
pub async fn serve(app: AppState, endpoint: quinn::Endpoint) {
    let mut shutdown = app.shutdown.clone();
    loop {
        let incoming = tokio::select! {
            _ = shutdown.wait_for(|s| *s) => break,
            incoming = endpoint.accept() => incoming,
        };
        let Some(incoming) = incoming else { break };
        let app = app.clone();
        tokio::spawn(async move {
            let remote = incoming.remote_address();
            match incoming.await {
                Ok(conn) => connection(app, conn).await,
                Err(e) => tracing::debug!(%remote, error = %e, "QUIC handshake failed"),
            }
        });
    }
    endpoint.close(quinn::VarInt::from_u32(0), b"server shutting down");
    endpoint.wait_idle().await;
}

#[tracing::instrument(skip_all, fields(remote = %conn.remote_address()))]
async fn connection(app: AppState, conn: quinn::Connection) {
    let Ok((mut send, recv)) = conn.accept_bi().await else { return };
    let (out, mut outbox) = mpsc::channel::<Outbound>(OUTBOX);
    let closer = conn.clone();
    let writer = tokio::spawn(async move {
        while let Some(m) = outbox.recv().await {
            match m {
                Outbound::Text(t) => {
                    let mut frame = Vec::with_capacity(4 + t.len());
                    frame.extend_from_slice(&(t.len() as u32).to_be_bytes());
                    frame.extend_from_slice(t.as_bytes());
                    if send.write_all(&frame).await.is_err() {
                        break;
                    }
                }
                Outbound::Close(code, reason) => {
                    let _ = send.finish();
                    closer.close(quinn::VarInt::from_u32(u32::from(code)), reason.as_bytes());
                    break;
                }
            }
        }
        let _ = send.finish();
    });
    let inbound = futures_util::stream::unfold(recv, |mut recv| async move {
        let mut len = [0u8; 4];
        recv.read_exact(&mut len).await.ok()?;
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_FRAME {
            return None;
        }
        let mut buf = vec![0u8; len];
        recv.read_exact(&mut buf).await.ok()?;
        Some((String::from_utf8(buf).map(Inbound::Text).unwrap_or(Inbound::Binary), recv))
    });
    session::run(app, None, Box::pin(inbound), out).await;
    let _ = writer.await;
    conn.close(quinn::VarInt::from_u32(0), b"bye");
}
