//! The QUIC link to a room: a certificate check pinned to one fingerprint,
//! and the control stream's frames (a 4-byte big-endian length, then one
//! JSON message).

use crate::plain_udp::PlainUdp;
use anyhow::Context;
use gavel_shared::pack::{StreamReply, StreamRequest};
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
    // Keep-alives that notice a dead link within seconds, and receive
    // windows sized for a LAN, not more: what the room may send ahead of
    // what the tablet has taken sits in the tablet's socket buffer, and an
    // agenda move or a ballot's answer waits behind all of it. 2 MiB keeps
    // 40 MB/s flowing over weak Wi-Fi at 50 ms of round trip. In
    // `gavel-bench`'s control-under-load case (four runs each, alternating),
    // windows of 16/64 MiB gave agenda moves beside downloads a p99 of
    // 26–49 ms and ballot answers 45–78 ms; these, 14–26 ms and 21–33 ms,
    // with the same pack throughput.
    transport
        .keep_alive_interval(Some(Duration::from_secs(2)))
        .max_idle_timeout(Some(quinn::IdleTimeout::try_from(Duration::from_secs(8)).expect("a valid timeout")))
        .stream_receive_window(quinn::VarInt::from_u32(1024 * 1024))
        .receive_window(quinn::VarInt::from_u32(2 * 1024 * 1024))
        .send_window(8 * 1024 * 1024);
    config.transport_config(Arc::new(transport));
    Ok(config)
}

/// A client endpoint on an ephemeral port of the address family of `addr`.
///
/// Where the system refuses the socket options quinn's own socket needs
/// (some Windows stacks, Wine), the endpoint runs on a plain UDP socket
/// instead ([`PlainUdp`]); `GAVEL_PLAIN_UDP=1` asks for that from the start.
pub fn client_endpoint(addr: SocketAddr) -> anyhow::Result<quinn::Endpoint> {
    let bind: SocketAddr = if addr.is_ipv6() { "[::]:0".parse()? } else { "0.0.0.0:0".parse()? };
    if std::env::var_os("GAVEL_PLAIN_UDP").is_some_and(|v| v == "1") {
        tracing::warn!("GAVEL_PLAIN_UDP=1: the link runs on a plain UDP socket");
    } else {
        match quinn::Endpoint::client(bind) {
            Ok(endpoint) => return Ok(endpoint),
            Err(e) => tracing::warn!(error = %e, "this system refuses the UDP options QUIC uses: the link runs on a plain UDP socket"),
        }
    }
    let socket = PlainUdp::bind(bind).context("cannot open a UDP socket")?;
    Ok(quinn::Endpoint::new_with_abstract_socket(quinn::EndpointConfig::default(), None, socket, Arc::new(quinn::TokioRuntime))?)
}

/// Opens a request stream and sends `request`; the caller may then write a
/// body (and must finish `send`) and reads the first reply with [`read_reply`].
pub async fn open_request(conn: &quinn::Connection, request: &StreamRequest) -> anyhow::Result<(quinn::SendStream, quinn::RecvStream)> {
    let (mut send, recv) = conn.open_bi().await?;
    write_frame(&mut send, &serde_json::to_vec(request)?).await?;
    Ok((send, recv))
}

/// Writes one length-prefixed frame.
pub async fn write_frame(send: &mut quinn::SendStream, bytes: &[u8]) -> anyhow::Result<()> {
    send.write_all(&(bytes.len() as u32).to_be_bytes()).await?;
    send.write_all(bytes).await?;
    Ok(())
}

/// Reads one length-prefixed frame of at most `max` bytes.
pub async fn read_frame(recv: &mut quinn::RecvStream, max: usize) -> anyhow::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    recv.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    anyhow::ensure!(len <= max, "the room sent a frame of {len} bytes, over the limit of {max}");
    let mut buf = vec![0u8; len];
    recv.read_exact(&mut buf).await?;
    Ok(buf)
}

/// The first reply on a request stream.
pub async fn read_reply(recv: &mut quinn::RecvStream) -> anyhow::Result<StreamReply> {
    let frame = read_frame(recv, 64 * 1024 * 1024).await?;
    Ok(serde_json::from_slice(&frame)?)
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
        let endpoint = client_endpoint(addr)?;
        Link::connect_with(&endpoint, addr, fingerprint, alpn).await
    }

    /// Connects from an existing endpoint (one per agent, reused across
    /// reconnections).
    pub async fn connect_with(endpoint: &quinn::Endpoint, addr: SocketAddr, fingerprint: &str, alpn: &[u8]) -> anyhow::Result<Link> {
        let connecting = endpoint.connect_with(client_config(fingerprint, &[alpn])?, addr, "gavel.local")?;
        let connection = connecting.await.with_context(|| format!("cannot reach the room at {addr}"))?;
        let (send, recv) = connection.open_bi().await?;
        let _ = send.set_priority(16);
        Ok(Link { connection, send, recv, _endpoint: endpoint.clone() })
    }

    /// Sends one message.
    pub async fn send(&mut self, msg: &ClientMessage) -> anyhow::Result<()> {
        send_msg(&mut self.send, msg).await
    }

    /// The next message from the room.
    pub async fn recv(&mut self) -> anyhow::Result<ServerMessage> {
        recv_msg(&mut self.recv).await
    }

    /// The two directions of the control stream, to read and write from
    /// different tasks (reading is not cancel-safe).
    pub fn split(self) -> (quinn::SendStream, quinn::RecvStream) {
        (self.send, self.recv)
    }
}

/// The largest control message accepted from the room (a big meeting's snapshot).
const MAX_CONTROL_FRAME: usize = 256 * 1024 * 1024;

/// Sends one control message.
pub async fn send_msg(send: &mut quinn::SendStream, msg: &ClientMessage) -> anyhow::Result<()> {
    write_frame(send, protocol::encode(msg).as_bytes()).await
}

/// Reads one control message.
pub async fn recv_msg(recv: &mut quinn::RecvStream) -> anyhow::Result<ServerMessage> {
    let buf = read_frame(recv, MAX_CONTROL_FRAME).await?;
    Ok(protocol::decode_server(std::str::from_utf8(&buf)?, MAX_CONTROL_FRAME)?)
}
