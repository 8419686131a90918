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
use std::task::{Context, Poll, ready};

/// A UDP socket with no options beyond the system's defaults.
#[derive(Debug)]
pub struct PlainUdp {
    io: tokio::net::UdpSocket,
}

impl PlainUdp {
    /// Binds `addr` (call from inside a tokio runtime).
    pub fn bind(addr: SocketAddr) -> io::Result<Arc<PlainUdp>> {
        let socket = std::net::UdpSocket::bind(addr)?;
        socket.set_nonblocking(true)?;
        Ok(Arc::new(PlainUdp { io: tokio::net::UdpSocket::from_std(socket)? }))
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
        self.io.try_send_to(transmit.contents, transmit.destination).map(|_| ())
    }

    fn poll_recv(&self, cx: &mut Context, bufs: &mut [IoSliceMut<'_>], meta: &mut [RecvMeta]) -> Poll<io::Result<usize>> {
        let (Some(buf), Some(slot)) = (bufs.first_mut(), meta.first_mut()) else { return Poll::Ready(Ok(0)) };
        loop {
            ready!(self.io.poll_recv_ready(cx))?;
            match self.io.try_recv_from(buf) {
                Ok((len, addr)) => {
                    *slot = RecvMeta { addr, len, stride: len, ecn: None, dst_ip: None };
                    return Poll::Ready(Ok(1));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }
}
