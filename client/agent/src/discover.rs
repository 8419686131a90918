//! Finding rooms on the LAN by mDNS (`_gavel._udp.local.`).

use mdns_sd::{ServiceDaemon, ServiceEvent};
use std::net::{IpAddr, SocketAddr};
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

impl Room {
    /// The room's QUIC address: `current`'s when the room still announces
    /// it, else an IPv4 address (most tablets' Wi-Fi), else the first.
    /// Link-local addresses are left out: an IPv6 one cannot be reached
    /// without the interface it belongs to, which the announcement does not
    /// carry, and an IPv4 one (169.254/16) is an interface without a lease.
    pub fn quic_addr(&self, current: Option<SocketAddr>) -> Option<SocketAddr> {
        if let Some(c) = current
            && c.port() == self.quic
            && self.addresses.contains(&c.ip())
        {
            return Some(c);
        }
        let usable: Vec<&IpAddr> = self.addresses.iter().filter(|a| !is_link_local(a)).collect();
        let ip = usable.iter().find(|a| a.is_ipv4()).or(usable.first())?;
        Some(SocketAddr::new(**ip, self.quic))
    }

    fn has_ipv4(&self) -> bool {
        self.addresses.iter().any(IpAddr::is_ipv4)
    }
}

fn is_link_local(ip: &IpAddr) -> bool {
    match ip {
        // 169.254/16: an interface that got no DHCP lease; nothing reaches the room there.
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
    }
}

/// Listens for rooms for `wait`, then returns those found (each once).
pub fn discover(wait: Duration) -> anyhow::Result<Vec<Room>> {
    browse(wait, |_| false)
}

/// Listens for the room whose certificate has `fingerprint`, for at most
/// `wait`: the room a tablet follows, after it moved to another address
/// (a new DHCP lease, another port after a restart).
pub fn find_fingerprint(fingerprint: &str, wait: Duration) -> anyhow::Result<Option<Room>> {
    // Its addresses may come one by one: an IPv4 one is waited for.
    let rooms = browse(wait, |r| r.fingerprint == fingerprint && r.has_ipv4())?;
    Ok(rooms.into_iter().find(|r| r.fingerprint == fingerprint))
}

/// Browses for `wait`, or until a room `enough` accepts has answered.
fn browse(wait: Duration, enough: impl Fn(&Room) -> bool) -> anyhow::Result<Vec<Room>> {
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
            let done = enough(&room);
            match rooms.iter_mut().find(|r| r.fingerprint == room.fingerprint && r.name == room.name) {
                Some(r) => *r = room,
                None => rooms.push(room),
            }
            if done {
                break;
            }
        }
    }
    let _ = daemon.shutdown();
    Ok(rooms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_is_reached_where_it_still_answers_else_on_ipv4() {
        let room = |addresses: &[&str]| Room {
            name: "P".into(),
            addresses: addresses.iter().map(|a| a.parse().unwrap()).collect(),
            quic: 4433,
            http: 8080,
            fingerprint: "ab".into(),
            versions: vec![1],
        };
        let at = |a: &str| Some(a.parse::<SocketAddr>().unwrap());
        let moved = room(&["fe80::1", "10.0.0.7", "fd00::7"]);
        assert_eq!(moved.quic_addr(at("10.0.0.5:4433")), at("10.0.0.7:4433"));
        assert_eq!(moved.quic_addr(at("[fd00::7]:4433")), at("[fd00::7]:4433"), "the address in use, while announced");
        assert_eq!(moved.quic_addr(at("10.0.0.7:4000")), at("10.0.0.7:4433"), "another port after a restart");
        assert_eq!(room(&["fe80::1", "fd00::7"]).quic_addr(None), at("[fd00::7]:4433"), "not a link-local address");
        assert_eq!(room(&["fe80::1"]).quic_addr(None), None);
        assert_eq!(room(&["169.254.3.4", "192.168.1.20"]).quic_addr(None), at("192.168.1.20:4433"), "not one without a lease");
    }
}
