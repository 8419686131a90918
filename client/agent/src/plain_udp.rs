//! A plain UDP socket for QUIC, for systems where quinn's own socket cannot
//! be opened.
//!
//! quinn's socket (quinn-udp) switches on options that carry ECN marks,
//! the packet's destination address and the "don't fragment" bit, and
//! refuses to start when the system lacks one of them. Some Windows stacks
//! do: older builds, and Wine (`WSAEOPNOTSUPP` for IPv4, `WSAENOPROTOOPT`
//! for IPv6). A tablet on such a system still joins the room through this
//! socket: plain `send_to` and `recv_from`, one datagram per call, no ECN.
//! QUIC works the same over it; only the offloads are lost, which a tablet
//! receiving a meeting pack over Wi-Fi does not miss.

use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};
use std::fmt;
use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

/// Receive errors in a row (with no datagram or empty read between them)
/// after which the socket is taken as broken.
const MAX_FAILED_RECEIVES: u32 = 64;

/// A UDP socket with no options beyond the system's defaults.
#[derive(Debug)]
pub struct PlainUdp {
    io: tokio::net::UdpSocket,
    /// Receive errors since the last datagram.
    failed_receives: AtomicU32,
    /// When a send or receive error was last logged (seconds since `UNIX_EPOCH`).
    last_logged: AtomicU64,
}

impl PlainUdp {
    /// Binds `addr` (call from inside a tokio runtime).
    pub fn bind(addr: SocketAddr) -> io::Result<Arc<PlainUdp>> {
        let socket = std::net::UdpSocket::bind(addr)?;
        socket.set_nonblocking(true)?;
        Ok(Arc::new(PlainUdp {
            io: tokio::net::UdpSocket::from_std(socket)?,
            failed_receives: AtomicU32::new(0),
            last_logged: AtomicU64::new(0),
        }))
    }

    /// Logs a socket error, at most once a minute (a dead Wi-Fi fails every packet).
    fn trouble(&self, what: &str, e: &io::Error) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let last = self.last_logged.load(Ordering::Relaxed);
        if now >= last + 60 && self.last_logged.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            tracing::warn!(error = %e, "the link's UDP socket {what}; QUIC will retry");
        }
    }
}

type Writable = Pin<Box<dyn Future<Output = io::Result<()>> + Send + Sync>>;

/// Waits for the socket to take another datagram. Each sending task has
/// its own, so that none takes another's wake-up.
struct Poller {
    socket: Arc<PlainUdp>,
    waiting: Option<Writable>,
}

impl fmt::Debug for Poller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Poller").finish_non_exhaustive()
    }
}

impl UdpPoller for Poller {
    fn poll_writable(mut self: Pin<&mut Self>, cx: &mut Context) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let socket = this.socket.clone();
        let waiting = this.waiting.get_or_insert_with(|| Box::pin(async move { socket.io.writable().await }));
        let ready = ready!(waiting.as_mut().poll(cx));
        this.waiting = None;
        Poll::Ready(ready)
    }
}

impl AsyncUdpSocket for PlainUdp {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(Poller { socket: self, waiting: None })
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        // max_transmit_segments is 1: quinn hands over one datagram at a time.
        match self.io.try_send_to(transmit.contents, transmit.destination) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(e),
            // Anything else (no route while the Wi-Fi is down, a firewall,
            // an ICMP error reported late) is a lost datagram to QUIC, as
            // quinn's own socket treats it: an error here would stop the
            // connection's driver for good, and the tablet would wait on a
            // link that neither works nor times out.
            Err(e) => {
                self.trouble("cannot send", &e);
                Ok(())
            }
        }
    }

    fn poll_recv(&self, cx: &mut Context, bufs: &mut [IoSliceMut<'_>], meta: &mut [RecvMeta]) -> Poll<io::Result<usize>> {
        let (Some(buf), Some(slot)) = (bufs.first_mut(), meta.first_mut()) else { return Poll::Ready(Ok(0)) };
        loop {
            ready!(self.io.poll_recv_ready(cx))?;
            match self.io.try_recv_from(buf) {
                Ok((len, addr)) => {
                    self.failed_receives.store(0, Ordering::Relaxed);
                    *slot = RecvMeta { addr, len, stride: len, ecn: None, dst_ip: None };
                    return Poll::Ready(Ok(1));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.failed_receives.store(0, Ordering::Relaxed);
                    continue;
                }
                // Windows reports ICMP errors for earlier datagrams on a later
                // receive; quinn stops the endpoint for any receive error but
                // a reset, so those are passed on as one. A socket that fails
                // every time is an error.
                Err(e) => {
                    self.trouble("cannot receive", &e);
                    let failing = self.failed_receives.fetch_add(1, Ordering::Relaxed) + 1;
                    return Poll::Ready(Err(if failing < MAX_FAILED_RECEIVES {
                        io::Error::new(io::ErrorKind::ConnectionReset, e)
                    } else {
                        e
                    }));
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_datagram_the_system_refuses_is_lost_not_an_error() {
        let socket = PlainUdp::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        // An IPv4 socket cannot send to an IPv6 address: the system refuses
        // at once, as it does for a network that is down.
        let to: SocketAddr = "[2001:db8::1]:4433".parse().unwrap();
        let t = Transmit { destination: to, ecn: None, contents: b"x", segment_size: None, src_ip: None };
        socket.io.writable().await.unwrap();
        let refused = socket.io.try_send_to(b"x", to).expect_err("the system refuses this send");
        assert_ne!(refused.kind(), io::ErrorKind::WouldBlock, "{refused}");
        socket.io.writable().await.unwrap();
        assert!(socket.try_send(&t).is_ok(), "quinn must see a lost datagram, not a broken socket");
    }
}
