//! Limits that keep one client from crowding out the others: open
//! connections per address, and messages per second per connection.
//! Both are flags with stated defaults (`--max-connections-per-address`,
//! `--max-messages-per-second`); tests and benchmarks with many clients on
//! one address raise them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The default of `--max-connections-per-address`.
pub const DEFAULT_CONNECTIONS_PER_ADDRESS: usize = 64;
/// The default of `--max-messages-per-second` (the burst allowed is twice it).
pub const DEFAULT_MESSAGES_PER_SECOND: u32 = 20;

/// Open connections, counted per address.
#[derive(Default)]
pub struct Connections {
    per_address: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
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
        Arc::new(Connections { per_address, open: Mutex::new(HashMap::new()) })
    }

    /// Counts a new connection from `ip`, unless it already has the most allowed.
    pub fn open(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
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
}

impl Rate {
    pub fn new(per_second: u32) -> Self {
        let per_second = f64::from(per_second.max(1));
        Rate { per_second, burst: 2.0 * per_second, tokens: 2.0 * per_second, last: Instant::now(), refused_in_a_row: 0 }
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
            false
        }
    }

    /// A client refused this many times in a row is flooding: close it.
    pub fn flooding(&self) -> bool {
        f64::from(self.refused_in_a_row) > 10.0 * self.burst
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_burst_passes_then_the_rate_holds() {
        let mut r = Rate::new(10);
        let passed = (0..100).filter(|_| r.allow()).count();
        assert!((20..=21).contains(&passed), "{passed}");
        assert!(r.refused_in_a_row >= 79);
    }
}
