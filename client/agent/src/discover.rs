//! Finding rooms on the LAN by mDNS (`_gavel._udp.local.`).

use mdns_sd::{ServiceDaemon, ServiceEvent};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// A room that announced itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    pub name: String,
    pub addresses: Vec<IpAddr>,
    pub quic: u16,
    pub http: u16,
    pub fingerprint: String,
    /// The protocol versions it speaks.
    pub versions: Vec<u32>,
}

/// Listens for rooms for `wait`, then returns those found (each once).
pub fn discover(wait: Duration) -> anyhow::Result<Vec<Room>> {
    let daemon = ServiceDaemon::new()?;
    let events = daemon.browse("_gavel._udp.local.")?;
    let until = Instant::now() + wait;
    let mut rooms: Vec<Room> = vec![];
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        let Ok(event) = events.recv_timeout(left.min(Duration::from_millis(250))) else { continue };
        if let ServiceEvent::ServiceResolved(info) = event {
            let txt = |k: &str| info.txt_properties.get_property_val_str(k).unwrap_or("").to_string();
            let mut addresses: Vec<IpAddr> = info.addresses.iter().map(|a| a.to_ip_addr()).collect();
            addresses.sort();
            let room = Room {
                name: txt("room"),
                addresses,
                quic: txt("quic").parse().unwrap_or(info.port),
                http: txt("http").parse().unwrap_or(0),
                fingerprint: txt("fp"),
                versions: txt("v").split(',').filter_map(|v| v.trim().parse().ok()).collect(),
            };
            match rooms.iter_mut().find(|r| r.fingerprint == room.fingerprint && r.name == room.name) {
                Some(r) => *r = room,
                None => rooms.push(room),
            }
        }
    }
    let _ = daemon.shutdown();
    Ok(rooms)
}
