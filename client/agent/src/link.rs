//! The QUIC link to a room: a certificate check pinned to one fingerprint,
//! and the control stream's frames (a 4-byte big-endian length, then one
//! JSON message).

use anyhow::Context;
use gavel_shared::protocol::{self, ClientMessage, ServerMessage};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The ALPN of the protocol version this agent speaks.
pub const ALPN: &[u8] = b"gavel/1";

/// The fingerprint of a DER certificate: lowercase hex SHA-256.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Accepts exactly one certificate: the one whose fingerprint was pinned
/// (from mDNS, a sign-in card's QR code, or a flag).
#[derive(Debug)]
pub struct PinnedFingerprint {
    pub fingerprint: String,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl PinnedFingerprint {
    /// Pins a lowercase hex SHA-256 fingerprint.
    pub fn new(fingerprint: &str) -> Arc<Self> {
        Arc::new(PinnedFingerprint { fingerprint: fingerprint.trim().to_lowercase(), provider: provider() })
    }
}

impl rustls::client::danger::ServerCertVerifier for PinnedFingerprint {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let got = fingerprint(end_entity.as_ref());
        if got == self.fingerprint {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!("the room's certificate fingerprint is {got}, not the pinned {}", self.fingerprint)))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// A client configuration pinned to `fingerprint`, offering `alpn`.
pub fn client_config(fingerprint: &str, alpn: &[&[u8]]) -> anyhow::Result<quinn::ClientConfig> {
    let mut crypto = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(PinnedFingerprint::new(fingerprint))
        .with_no_client_auth();
    crypto.alpn_protocols = alpn.iter().map(|a| a.to_vec()).collect();
    let mut config = quinn::ClientConfig::new(Arc::new(quinn::crypto::rustls::QuicClientConfig::try_from(crypto)?));
    let mut transport = quinn::TransportConfig::default();
    transport.keep_alive_interval(Some(Duration::from_secs(5)));
    config.transport_config(Arc::new(transport));
    Ok(config)
}

/// The control stream to a room.
pub struct Link {
    pub connection: quinn::Connection,
    send: quinn::SendStream,
    recv: quinn::RecvStream,
    _endpoint: quinn::Endpoint,
}

impl Link {
    /// Connects to `addr`, pinning `fingerprint`, offering `alpn`.
    pub async fn connect(addr: SocketAddr, fingerprint: &str, alpn: &[u8]) -> anyhow::Result<Link> {
        let bind: SocketAddr = if addr.is_ipv6() { "[::]:0".parse()? } else { "0.0.0.0:0".parse()? };
        let mut endpoint = quinn::Endpoint::client(bind)?;
        endpoint.set_default_client_config(client_config(fingerprint, &[alpn])?);
        let connection = endpoint.connect(addr, "gavel.local")?.await.with_context(|| format!("cannot reach the room at {addr}"))?;
        let (send, recv) = connection.open_bi().await?;
        Ok(Link { connection, send, recv, _endpoint: endpoint })
    }

    /// Sends one message.
    pub async fn send(&mut self, msg: &ClientMessage) -> anyhow::Result<()> {
        let text = protocol::encode(msg);
        self.send.write_all(&(text.len() as u32).to_be_bytes()).await?;
        self.send.write_all(text.as_bytes()).await?;
        Ok(())
    }

    /// The next message from the room.
    pub async fn recv(&mut self) -> anyhow::Result<ServerMessage> {
        let mut len = [0u8; 4];
        self.recv.read_exact(&mut len).await?;
        let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
        self.recv.read_exact(&mut buf).await?;
        Ok(protocol::decode_server(std::str::from_utf8(&buf)?, 256 * 1024 * 1024)?)
    }
}
