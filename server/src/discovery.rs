//! mDNS: the room announces itself on the LAN so tablets find it.
//!
//! Service `_gavel._udp.local.` (the QUIC port), instance named after the
//! room, host `<slug>.local.` for browsers, TXT: `v` (protocol versions,
//! comma-separated), `room` (UTF-8 name), `quic` and `http` (ports), `fp`
//! (the certificate fingerprint clients pin). Withdrawn on shutdown.

use anyhow::Context;
use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo};

/// The service type.
pub const SERVICE: &str = "_gavel._udp.local.";

/// A running advertisement.
pub struct Advertisement {
    daemon: ServiceDaemon,
    fullname: String,
}

/// What the room announces.
pub struct Announce<'a> {
    pub room: &'a str,
    pub http_port: u16,
    pub quic_port: u16,
    pub fingerprint: &'a str,
    /// Only these interfaces (all when empty).
    pub interfaces: &'a [String],
}

/// Starts advertising.
pub fn advertise(a: Announce<'_>) -> anyhow::Result<Advertisement> {
    let daemon = ServiceDaemon::new().context("cannot start mDNS")?;
    if !a.interfaces.is_empty() {
        daemon.disable_interface(IfKind::All)?;
        for name in a.interfaces {
            daemon.enable_interface(IfKind::Name(name.clone()))?;
        }
    }
    let slug = gavel_shared::text::slug(a.room);
    let slug = if slug.is_empty() { "gavel".to_string() } else { slug };
    let versions = crate::quic::ALPN
        .iter()
        .filter_map(|alpn| std::str::from_utf8(alpn).ok()?.strip_prefix("gavel/").map(String::from))
        .collect::<Vec<_>>()
        .join(",");
    let properties = [
        ("v", versions),
        ("room", a.room.to_string()),
        ("quic", a.quic_port.to_string()),
        ("http", a.http_port.to_string()),
        ("fp", a.fingerprint.to_string()),
    ];
    let info = ServiceInfo::new(SERVICE, a.room, &format!("{slug}.local."), "", a.quic_port, &properties[..])
        .context("bad mDNS service description")?
        .enable_addr_auto();
    let fullname = info.get_fullname().to_string();
    daemon.register(info).context("cannot announce the room")?;
    tracing::info!(%fullname, "announced on the LAN (mDNS)");
    Ok(Advertisement { daemon, fullname })
}

impl Advertisement {
    /// Withdraws the advertisement (a goodbye packet) and stops mDNS.
    pub fn withdraw(self) {
        if let Ok(done) = self.daemon.unregister(&self.fullname) {
            let _ = done.recv_timeout(std::time::Duration::from_secs(2));
        }
        if let Ok(done) = self.daemon.shutdown() {
            let _ = done.recv_timeout(std::time::Duration::from_secs(2));
        }
        tracing::info!("mDNS announcement withdrawn");
    }
}
