//! Serving HTTP and HTTPS connections with time limits for slow clients.
//!
//! `axum::serve` sets no timer, so a client that sends its request line one
//! byte a minute, or opens a connection and says nothing, holds it forever:
//! a few hundred such sockets from a rogue device on the Wi-Fi would use up
//! the server's file descriptors. Here each connection is served by hyper
//! with:
//!
//! - a **header timeout** (`--http-header-timeout`): the request line and
//!   headers must arrive within it. It also bounds an idle keep-alive
//!   connection, since hyper starts it whenever it waits for a request;
//! - a **body idle timeout** (`--http-body-timeout`): an upload may be slow,
//!   as on weak Wi-Fi, but not silent for longer than this between two
//!   pieces. The request then fails and nothing of it is kept.
//!
//! - a **write timeout** (`--http-write-timeout`): a client that stops
//!   taking what it asked for (a download it no longer reads) for longer
//!   than this is cut off, and its connection, open file and buffers freed.
//!   This holds for a WebSocket too, once upgraded;
//! - at most `--max-http-connections-per-address` open connections per
//!   address, as WebSocket and QUIC have theirs: past them a new one is
//!   closed at once.
//!
//! A WebSocket, once upgraded, is no longer HTTP and is not subject to the
//! first two: its session has its own limits ([`crate::limits`]).

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::watch;
use tower::ServiceExt;

/// Time limits for slow HTTP clients.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// For the request line and headers (and an idle keep-alive connection).
    pub header: Duration,
    /// Between two pieces of a request body.
    pub body_idle: Duration,
    /// For a write to make progress.
    pub write: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { header: Duration::from_secs(10), body_idle: Duration::from_secs(30), write: Duration::from_secs(60) }
    }
}

/// How long a stopping server waits for requests under way.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` turns true, then lets the
/// requests under way finish (for at most [`DRAIN`]). Handlers see the
/// client's address as `ConnectInfo<SocketAddr>`.
///
/// HTTP/1.1 only: browsers and the agent speak it, and TLS offers only it by
/// ALPN. (hyper-util's automatic HTTP/2 detection would first wait, with no
/// time limit, for the bytes that tell the two apart.)
pub async fn serve<L>(
    mut listener: L,
    app: Router,
    timeouts: Timeouts,
    per_address: std::sync::Arc<crate::limits::Connections>,
    mut shutdown: watch::Receiver<bool>,
) where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let app = app.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(timeouts.body_idle));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(timeouts.header);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let (io, peer) = tokio::select! {
            _ = shutdown.wait_for(|s| *s) => break,
            accepted = listener.accept() => accepted,
        };
        while connections.try_join_next().is_some() {}
        let Some(slot) = per_address.open(peer.ip()) else {
            tracing::debug!(%peer, "refused an HTTP connection: too many open from this address");
            continue;
        };
        let mut io = Box::pin(tokio_io_timeout::TimeoutStream::new(io));
        io.as_mut().set_write_timeout_pinned(Some(timeouts.write));
        let service = app.clone().map_request(move |mut req: axum::extract::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req.map(axum::body::Body::new)
        });
        let connection = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(service)).with_upgrades();
        let mut stop = shutdown.clone();
        connections.spawn(async move {
            let _counted = slot;
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                _ = async { let _ = stop.wait_for(|s| *s).await; } => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
            }
        });
    }
    drop(listener);
    let drained = tokio::time::timeout(DRAIN, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::info!("stopped with HTTP requests still under way");
        connections.abort_all();
    }
}
