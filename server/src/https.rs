//! `--https`: the web UI and API over TLS, with the room's own certificate
//! (the one QUIC uses, whose fingerprint tablets pin) or an organisation's
//! certificate and key (`--tls-cert`, `--tls-key`, PEM).
//!
//! Handshakes run in their own tasks with a time limit, so a client that
//! stalls in the middle of one holds up nobody else. Requests that came over
//! HTTPS carry the [`Https`] extension; session cookies are `Secure` then.

use crate::quic::Tls;
use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Marks a request that came over HTTPS.
#[derive(Debug, Clone, Copy)]
pub struct Https;

/// How long a client may take over its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS settings: the organisation's certificate chain and key if given,
/// else the room's self-signed certificate.
pub fn server_config(room: &Tls, cert: Option<&Path>, key: Option<&Path>) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let (chain, key) = match (cert, key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .with_context(|| format!("cannot read the certificate {}", cert.display()))?
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("{} is not a PEM certificate chain", cert.display()))?;
            anyhow::ensure!(!chain.is_empty(), "{} holds no certificate", cert.display());
            let key = PrivateKeyDer::from_pem_file(key).with_context(|| format!("cannot read the private key {}", key.display()))?;
            (chain, key)
        }
        (None, None) => {
            (vec![CertificateDer::from(room.cert_der.clone())], PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(room.key_der.clone())))
        }
        _ => anyhow::bail!("--tls-cert and --tls-key go together"),
    };
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the certificate and the key do not match")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A listener of finished TLS handshakes, for [`crate::serve::serve`].
pub struct TlsListener {
    ready: mpsc::Receiver<(tokio_rustls::server::TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

/// Binds `addr` and starts accepting TLS connections.
///
/// At most `per_address` handshakes are under way from one address at a
/// time (each holds a socket for up to [`HANDSHAKE_TIMEOUT`]); past them a
/// new connection is closed at once, as past the open connections
/// [`crate::serve`] allows.
pub async fn bind(addr: SocketAddr, config: Arc<rustls::ServerConfig>, per_address: usize) -> anyhow::Result<TlsListener> {
    let handshakes = crate::limits::Connections::new(per_address);
    let tcp = crate::limits::listen(addr).with_context(|| format!("cannot listen for HTTPS on {addr}"))?;
    let local = tcp.local_addr()?;
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let (done, ready) = mpsc::channel(64);
    let accepting = tokio::spawn(async move {
        loop {
            let (stream, peer) = match tcp.accept().await {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!(error = %e, "HTTPS accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some(slot) = handshakes.open(peer.ip()) else {
                tracing::debug!(%peer, "refused a TLS handshake: too many under way from this address");
                continue;
            };
            let _ = stream.set_nodelay(true);
            let (acceptor, done) = (acceptor.clone(), done.clone());
            tokio::spawn(async move {
                let _counted = slot;
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => {
                        let _ = done.send((tls, peer)).await;
                    }
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            });
        }
    });
    Ok(TlsListener { ready, local, accepting })
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(x) => x,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// The router as served over HTTPS: marked [`Https`].
pub fn router(app: axum::Router) -> axum::Router {
    app.layer(axum::Extension(Https))
}
