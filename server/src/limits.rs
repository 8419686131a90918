//! Limits that keep one client from crowding out the others: open
//! connections per address, and messages per second per connection.
//! Both are flags with stated defaults (`--max-connections-per-address`,
//! `--max-messages-per-second`); tests and benchmarks with many clients on
//! one address raise them. Also how many connections may wait to be
//! accepted ([`listen`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The default of `--max-connections-per-address`.
pub const DEFAULT_CONNECTIONS_PER_ADDRESS: usize = 64;
/// The default of `--max-messages-per-second` (the burst allowed is twice it).
pub const DEFAULT_MESSAGES_PER_SECOND: u32 = 20;

/// How long an address whose connection was cut off for flooding may not
/// open another: reconnecting to flood again costs it nothing otherwise.
pub const FLOOD_COOL_DOWN: std::time::Duration = std::time::Duration::from_secs(10);

/// How many TCP connections may wait for the server to accept them. The
/// kernel caps it at `net.core.somaxconn` (4,096 since Linux 5.4).
pub const ACCEPT_BACKLOG: u32 = 4096;

/// A TCP listener on `addr` with room for a whole room reconnecting at
/// once. Tokio's `TcpListener::bind` leaves 128 places, as the standard
/// library does: when the Wi-Fi came back and 500 tablets connected in the
/// same instant, the kernel dropped the connections past those 128 and each
/// waited out a SYN retransmission (1 s, then 3 s) before it was let in.
pub fn listen(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    // As `TcpListener::bind`: a restarted server gets its port back at once.
    #[cfg(not(windows))]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_BACKLOG)
}

/// Open connections, counted per address, and addresses cooling down after a flood.
#[derive(Default)]
pub struct Connections {
    per_address: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
    cooling: Mutex<HashMap<IpAddr, Instant>>,
}

/// One counted connection; uncounted when dropped.
pub struct Slot {
    owner: Arc<Connections>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.owner.open.lock().expect("connections");
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

impl Connections {
    pub fn new(per_address: usize) -> Arc<Self> {
        Arc::new(Connections { per_address, open: Mutex::new(HashMap::new()), cooling: Mutex::new(HashMap::new()) })
    }

    /// Refuses new connections from `ip` for [`FLOOD_COOL_DOWN`].
    pub fn cool_down(&self, ip: IpAddr) {
        let now = Instant::now();
        let mut cooling = self.cooling.lock().expect("cooling");
        cooling.retain(|_, until| *until > now);
        cooling.insert(ip, now + FLOOD_COOL_DOWN);
    }

    /// Counts a new connection from `ip`, unless it already has the most
    /// allowed or is cooling down after a flood.
    pub fn open(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        if self.cooling.lock().expect("cooling").get(&ip).is_some_and(|until| *until > Instant::now()) {
            return None;
        }
        let mut open = self.open.lock().expect("connections");
        let n = open.entry(ip).or_insert(0);
        if *n >= self.per_address {
            return None;
        }
        *n += 1;
        Some(Slot { owner: self.clone(), ip })
    }
}

/// A token bucket for one connection's messages.
pub struct Rate {
    per_second: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
    /// Messages refused since the last one let through.
    pub refused_in_a_row: u32,
    /// Messages refused in the current second, from `window`.
    refused_in_window: u32,
    window: Instant,
}

impl Rate {
    pub fn new(per_second: u32) -> Self {
        let per_second = f64::from(per_second.max(1));
        let now = Instant::now();
        Rate {
            per_second,
            burst: 2.0 * per_second,
            tokens: 2.0 * per_second,
            last: now,
            refused_in_a_row: 0,
            refused_in_window: 0,
            window: now,
        }
    }

    /// True when one more message may go through now.
    pub fn allow(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * self.per_second).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.refused_in_a_row = 0;
            true
        } else {
            self.refused_in_a_row += 1;
            if now.duration_since(self.window) >= std::time::Duration::from_secs(1) {
                (self.window, self.refused_in_window) = (now, 0);
            }
            self.refused_in_window += 1;
            false
        }
    }

    /// A client that had ten bursts' worth of messages refused within a
    /// second is flooding: close it. (Counted over the second, not in a
    /// row: a flood only somewhat over the rate gets a message through
    /// whenever the bucket refills, and must still be cut off.)
    pub fn flooding(&self) -> bool {
        f64::from(self.refused_in_window) > 10.0 * self.burst
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_room_reconnecting_at_once_waits_in_the_accept_queue_not_on_retransmissions() {
        // Nobody accepts: every connection that completes its handshake
        // waits in the queue. Past a queue of 128 (tokio's default) the
        // kernel drops the handshake and the connection never completes.
        let listener = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let connecting = (0..300).map(|_| tokio::time::timeout(std::time::Duration::from_secs(5), tokio::net::TcpStream::connect(addr)));
        let done = futures_util::future::join_all(connecting).await;
        let connected = done.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
        assert_eq!(connected, 300, "connections completed while none was accepted");
    }

    #[test]
    fn slots_are_counted_per_address_and_freed_when_dropped() {
        let c = Connections::new(2);
        let ip: IpAddr = "10.0.0.7".parse().unwrap();
        let (a, _b) = (c.open(ip).unwrap(), c.open(ip).unwrap());
        assert!(c.open(ip).is_none());
        assert!(c.open("10.0.0.8".parse().unwrap()).is_some());
        drop(a);
        assert!(c.open(ip).is_some());
    }

    #[test]
    fn an_address_that_flooded_waits_before_it_connects_again() {
        let c = Connections::new(5);
        let (ip, other): (IpAddr, IpAddr) = ("10.0.0.7".parse().unwrap(), "10.0.0.8".parse().unwrap());
        c.cool_down(ip);
        assert!(c.open(ip).is_none());
        assert!(c.open(other).is_some());
        c.cooling.lock().unwrap().insert(ip, Instant::now());
        assert!(c.open(ip).is_some(), "after the cool-down");
    }

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let mut r = Rate::new(10);
        let passed = (0..100).filter(|_| r.allow()).count();
        assert!((20..=21).contains(&passed), "{passed}");
        assert!(r.refused_in_a_row >= 79);
        assert!(!r.flooding(), "a burst is not a flood");
    }

    #[test]
    fn a_flood_just_over_the_rate_is_still_a_flood() {
        let mut r = Rate::new(10);
        // Ten times the rate, with time passing: a message gets through now
        // and then, so the refusals are never 200 in a row.
        let mut flooding = false;
        for _ in 0..2_000 {
            r.allow();
            r.tokens += 0.05;
            assert!(r.refused_in_a_row < 200);
            flooding |= r.flooding();
        }
        assert!(flooding);
    }
}
