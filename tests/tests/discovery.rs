//! mDNS discovery, in a private network namespace the test makes for itself
//! (no multicast ever leaves it): the room is found with the right TXT
//! values, and disappears when the server stops.

use gavel_tests::*;
use mdns_sd::{ServiceDaemon, ServiceEvent};
use std::time::{Duration, Instant};

#[test]
fn the_room_is_found_on_the_lan_and_disappears_when_it_stops() -> anyhow::Result<()> {
    if in_private_network("the_room_is_found_on_the_lan_and_disappears_when_it_stops")? {
        return Ok(());
    }
    let rt = tokio::runtime::Runtime::new()?;
    let dir = tempfile::tempdir()?;
    let server = rt.block_on(TestServer::start_in(dir.path(), |c| {
        c.mdns = true;
        c.room = "Phòng họp số 2 — UBND phường".into();
        c.http = "0.0.0.0:0".parse().unwrap();
        c.quic = "0.0.0.0:0".parse().unwrap();
    }))?;
    let browser = ServiceDaemon::new()?;
    let events = browser.browse(gavel_server::discovery::SERVICE)?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let found = loop {
        anyhow::ensure!(Instant::now() < deadline, "the room was not found within 20 s");
        if let Ok(ServiceEvent::ServiceResolved(info)) = events.recv_timeout(Duration::from_millis(500)) {
            break info;
        }
    };
    let txt = |k: &str| found.txt_properties.get_property_val_str(k).map(String::from);
    assert_eq!(txt("v").as_deref(), Some("1"));
    assert_eq!(txt("room").as_deref(), Some("Phòng họp số 2 — UBND phường"));
    assert_eq!(txt("quic"), Some(server.quic_addr.port().to_string()));
    assert_eq!(txt("http"), Some(server.addr.port().to_string()));
    assert_eq!(txt("fp"), Some(server.fingerprint.clone()));
    assert_eq!(found.port, server.quic_addr.port());
    assert_eq!(found.host, "phong-hop-so-2-ubnd-phuong.local.");
    assert!(!found.addresses.is_empty());

    // The tablet agent finds it too.
    let agent = std::process::Command::new(workspace_binary("gavel-agent")?).args(["discover", "--timeout", "4"]).output()?;
    let listed = String::from_utf8(agent.stdout)?;
    assert!(agent.status.success(), "{listed}");
    let line = listed.lines().find(|l| l.contains("Phòng họp số 2")).unwrap_or_else(|| panic!("not listed: {listed}"));
    assert!(line.contains(&format!("quic={}", server.quic_addr.port())), "{line}");
    assert!(line.contains(&format!("fp={}", server.fingerprint)) && line.contains("v=1"), "{line}");

    let fullname = found.fullname.clone();
    rt.block_on(server.stop())?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        anyhow::ensure!(Instant::now() < deadline, "the room did not disappear after the server stopped");
        if let Ok(ServiceEvent::ServiceRemoved(_, name)) = events.recv_timeout(Duration::from_millis(500)) {
            if name == fullname {
                break;
            }
        }
    }
    let _ = browser.shutdown();
    Ok(())
}
