//! Limits on guessing PINs: per participant (growing delays, then a lock
//! kept in the database until the chair or secretary lifts it) and per
//! address (wrong PINs in a window). Every limit is a flag with a default.

use gavel_shared::model::ParticipantId;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The limits, from the command line.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wrong PINs in a row before each attempt must wait (`--pin-free-attempts`).
    pub free_attempts: u32,
    /// Wrong PINs in a row that lock the participant (`--pin-lock-after`).
    pub lock_after: u32,
    /// Wrong PINs from one address per window (`--sign-in-failures-per-address`).
    pub per_address: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { free_attempts: 3, lock_after: 10, per_address: 30 }
    }
}

/// The window of the per-address limit.
pub const ADDRESS_WINDOW: Duration = Duration::from_secs(600);
/// The longest wait between attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(900);

/// What is remembered between attempts (in memory; the lock is in the database).
pub struct Throttle {
    limits: Limits,
    next_attempt: Mutex<HashMap<ParticipantId, Instant>>,
    addresses: Mutex<HashMap<IpAddr, (Instant, u32)>>,
    /// One PIN check at a time per participant (by stripe, so the set stays
    /// bounded whatever ids a guesser tries): guesses sent in parallel are
    /// each counted before the next is checked.
    stripes: Vec<tokio::sync::Mutex<()>>,
    /// One staff password check at a time per address (by stripe): a flood
    /// of sign-ins from one device takes one of the room's hashing slots at
    /// a time, not all of them, and is counted as it goes.
    address_stripes: Vec<tokio::sync::Mutex<()>>,
}

/// How many stripes the per-participant order uses.
const STRIPES: usize = 256;

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            limits: Limits::default(),
            next_attempt: Mutex::default(),
            addresses: Mutex::default(),
            stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
            address_stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }
}

impl Throttle {
    pub fn new(limits: Limits) -> Self {
        Throttle { limits, ..Default::default() }
    }

    /// Held while one of `p`'s PINs is checked and its outcome counted.
    pub async fn one_at_a_time(&self, p: ParticipantId) -> tokio::sync::MutexGuard<'_, ()> {
        self.stripes[p.0.rem_euclid(STRIPES as i64) as usize].lock().await
    }

    /// Held while a password sent from `ip` is checked and its outcome counted.
    pub async fn one_at_a_time_from(&self, ip: IpAddr) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        // `DefaultHasher::new` has fixed keys: the same stripe for the same address.
        let mut h = std::hash::DefaultHasher::new();
        ip.hash(&mut h);
        self.address_stripes[(h.finish() % STRIPES as u64) as usize].lock().await
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// How long this address must wait, if it must.
    pub fn address_wait(&self, ip: IpAddr) -> Option<Duration> {
        let map = self.addresses.lock().expect("throttle");
        let (since, failures) = map.get(&ip)?;
        let left = ADDRESS_WINDOW.checked_sub(since.elapsed())?;
        (*failures >= self.limits.per_address).then_some(left)
    }

    /// How long this participant must wait before the next attempt, if at all.
    pub fn participant_wait(&self, p: ParticipantId) -> Option<Duration> {
        let at = *self.next_attempt.lock().expect("throttle").get(&p)?;
        at.checked_duration_since(Instant::now())
    }

    /// The delay after `failures` wrong PINs in a row: none for the free
    /// attempts, then 1 s, 2 s, 4 s, … up to [`MAX_DELAY`].
    pub fn delay_after(&self, failures: u32) -> Duration {
        match failures.checked_sub(self.limits.free_attempts) {
            None => Duration::ZERO,
            Some(n) => Duration::from_secs(1u64 << n.min(20)).min(MAX_DELAY),
        }
    }

    /// Records a wrong PIN (`failures` in a row for the participant, if known).
    pub fn failed(&self, ip: Option<IpAddr>, p: Option<(ParticipantId, u32)>) {
        if let Some(ip) = ip {
            let mut map = self.addresses.lock().expect("throttle");
            // Addresses whose window is over are forgotten, so guesses from
            // ever new addresses (IPv6 picks them at will) do not pile up.
            if map.len() >= 1024 {
                map.retain(|_, (since, _)| since.elapsed() <= ADDRESS_WINDOW);
            }
            let entry = map.entry(ip).or_insert((Instant::now(), 0));
            if entry.0.elapsed() > ADDRESS_WINDOW {
                *entry = (Instant::now(), 0);
            }
            entry.1 += 1;
        }
        if let Some((p, failures)) = p {
            let delay = self.delay_after(failures);
            if !delay.is_zero() {
                self.next_attempt.lock().expect("throttle").insert(p, Instant::now() + delay);
            }
        }
    }

    /// Forgets a participant's wait (a right PIN, a lifted lock, a new PIN).
    pub fn clear(&self, p: ParticipantId) {
        self.next_attempt.lock().expect("throttle").remove(&p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_after_the_free_attempts_and_addresses_are_counted() {
        let t = Throttle::new(Limits { free_attempts: 3, lock_after: 10, per_address: 2 });
        assert_eq!(t.delay_after(2), Duration::ZERO);
        assert_eq!(t.delay_after(3), Duration::from_secs(1));
        assert_eq!(t.delay_after(5), Duration::from_secs(4));
        assert_eq!(t.delay_after(40), MAX_DELAY);
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        t.failed(Some(ip), Some((ParticipantId(1), 4)));
        assert!(t.address_wait(ip).is_none());
        assert!(t.participant_wait(ParticipantId(1)).is_some());
        t.failed(Some(ip), None);
        assert!(t.address_wait(ip).is_some());
        t.clear(ParticipantId(1));
        assert!(t.participant_wait(ParticipantId(1)).is_none());
    }
}
