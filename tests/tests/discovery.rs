//! mDNS discovery, in a private network namespace the test makes for itself
//! (no multicast ever leaves it): the room is found with the right TXT
//! values, and disappears when the server stops.

use gavel_shared::protocol::Command;
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

    // And joins it by name, with the code of a sign-in card.
    let s = rt.block_on(Assembly::build(&server.url(""), 1))?;
    let cache = tempfile::tempdir()?;
    let code = format!("{}-{}-{}", s.meeting, s.voters[0].0, s.voters[0].1);
    let joined = std::process::Command::new(workspace_binary("gavel-agent")?)
        .args(["join", "phòng họp số 2 — ubnd phường", "--code", &code, "--once", "--discover-timeout", "4"])
        .arg("--cache")
        .arg(cache.path())
        .output()?;
    let said = String::from_utf8_lossy(&joined.stdout);
    assert!(joined.status.success(), "{said} {}", String::from_utf8_lossy(&joined.stderr));
    assert!(said.contains("signed-in name=\"Đại biểu 0000\"") && said.contains("pack complete"), "{said}");

    let fullname = found.fullname.clone();
    rt.block_on(server.stop())?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        anyhow::ensure!(Instant::now() < deadline, "the room did not disappear after the server stopped");
        if let Ok(ServiceEvent::ServiceRemoved(_, name)) = events.recv_timeout(Duration::from_millis(500))
            && name == fullname
        {
            break;
        }
    }
    let _ = browser.shutdown();
    Ok(())
}

#[test]
fn a_room_of_another_protocol_version_is_named_with_its_versions() -> anyhow::Result<()> {
    if in_private_network("a_room_of_another_protocol_version_is_named_with_its_versions")? {
        return Ok(());
    }
    // A room of a later Gavel, speaking only version 2.
    let daemon = ServiceDaemon::new()?;
    let properties = [("v", "2"), ("room", "Phòng tương lai"), ("quic", "4433"), ("http", "8080"), ("fp", &"ab".repeat(32))];
    let info = mdns_sd::ServiceInfo::new(
        gavel_server::discovery::SERVICE,
        "Phòng tương lai",
        "phong-tuong-lai.local.",
        "",
        4433,
        &properties[..],
    )?
    .enable_addr_auto();
    daemon.register(info)?;
    let out = std::process::Command::new(workspace_binary("gavel-agent")?)
        .args(["join", "Phòng tương lai", "--code", "1-1-123456", "--once", "--discover-timeout", "4"])
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("speaks protocol version 2") && err.contains("this agent speaks 1"), "{err}");
    let _ = daemon.shutdown();
    Ok(())
}

/// The room's machine comes back on another address (a new DHCP lease, and
/// another port after its restart): a tablet that found it on the LAN looks
/// for it there again, by its certificate's fingerprint, and follows it
/// instead of staying offline until someone restarts the agent.
#[test]
fn a_tablet_follows_its_room_to_a_new_address() -> anyhow::Result<()> {
    if in_private_network("a_tablet_follows_its_room_to_a_new_address")? {
        return Ok(());
    }
    let on = |ip, nic| announced_as("Phòng họp số 3", ip, nic);
    tokio::runtime::Runtime::new()?.block_on(async {
        let dir = tempfile::tempdir()?;
        let server = TestServer::start_in(dir.path(), on("10.213.0.1", "lan0")).await?;
        let mut s = Assembly::build(&server.url(""), 1).await?;
        let cache = tempfile::tempdir()?;
        let mut agent = tokio::process::Command::new(workspace_binary("gavel-agent")?)
            .args(["join", "Phòng họp số 3", "--discover-timeout", "4", "--listen", "127.0.0.1:0", "--cache"])
            .arg(cache.path())
            .env("GAVEL_CODE", format!("{}-{}-{}", s.meeting, s.voters[0].0, s.voters[0].1))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(agent.stdout.take().expect("stdout")));
        let mut said = String::new();
        let within = Duration::from_secs(90);
        said_line(&mut lines, &mut said, "signed-in name=", within).await?;

        server.stop().await?;
        said_line(&mut lines, &mut said, "offline", within).await?;
        let server = TestServer::start_in(dir.path(), on("10.213.0.2", "lan1")).await?;
        said_line(&mut lines, &mut said, "online", within).await?;
        // Followed there, not only connected: the room's changes reach it.
        s.admin.base = server.url("");
        let item =
            Command::AddItem {
                title: "Sau khi đổi địa chỉ".into(), presenter: String::new(), summary: String::new(), position: None
            };
        assert_eq!(s.admin.command(s.meeting, "moved", &item).await?.status, 200);
        said_line(&mut lines, &mut said, "state seq=", within).await?;
        agent.kill().await?;
        server.stop().await?;
        Ok(())
    })
}

/// A tablet joined by the room's name (the README's usual command) is
/// started again while the room is off (its machine not on yet, or weak
/// Wi-Fi losing the announcements): it serves what it keeps, and follows
/// the room once it answers, even at another address. Before, it stopped
/// at once ("no room named … answered"), its documents out of reach.
#[test]
fn a_tablet_joined_by_name_starts_while_its_room_is_off_and_follows_it_back() -> anyhow::Result<()> {
    if in_private_network("a_tablet_joined_by_name_starts_while_its_room_is_off_and_follows_it_back")? {
        return Ok(());
    }
    let on = |ip, nic| announced_as("Phòng họp số 4", ip, nic);
    tokio::runtime::Runtime::new()?.block_on(async {
        let dir = tempfile::tempdir()?;
        let server = TestServer::start_in(dir.path(), on("10.213.0.1", "lan0")).await?;
        let mut s = Assembly::build(&server.url(""), 1).await?;
        let doc = s.upload_document("Tờ trình.pdf", pack_pdf(3, 32 * 1024, 9, None), &[]).await?;
        // The user's own cache directory, as without --cache.
        let home = tempfile::tempdir()?;
        let join = |extra: &[&str]| -> anyhow::Result<tokio::process::Command> {
            let mut c = tokio::process::Command::new(workspace_binary("gavel-agent")?);
            c.args(["join", "phòng họp số 4", "--discover-timeout", "3"])
                .args(extra)
                .env("XDG_CACHE_HOME", home.path())
                .env("GAVEL_CODE", format!("{}-{}-{}", s.meeting, s.voters[0].0, s.voters[0].1))
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true);
            Ok(c)
        };
        let prepared = join(&["--once"])?.output().await?;
        anyhow::ensure!(prepared.status.success(), "{}", String::from_utf8_lossy(&prepared.stderr));
        server.stop().await?;

        let mut agent = join(&["--listen", "127.0.0.1:0"])?.stdout(std::process::Stdio::piped()).spawn()?;
        let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(agent.stdout.take().expect("stdout")));
        let mut said = String::new();
        let within = Duration::from_secs(60);
        said_line(&mut lines, &mut said, "serving ", within).await?;
        let serving = said.lines().find(|l| l.starts_with("serving ")).expect("the serving line").to_string();
        let (url, key) = served_at(&serving)?;
        let local = url.split('/').nth(2).and_then(|h| h.rsplit_once(':')).map(|(_, port)| format!("127.0.0.1:{port}")).expect("a port");
        let r = tablet_client(&key).get(format!("http://{local}/api/meetings/{}/documents/{}", s.meeting, doc.id)).send().await?;
        assert_eq!(r.status(), 200, "{said}");
        assert_eq!(sha256_hex(&r.bytes().await?), doc.sha256, "the document kept, with the room off");

        let server = TestServer::start_in(dir.path(), on("10.213.0.2", "lan1")).await?;
        said_line(&mut lines, &mut said, "signed-in name=", within).await?;
        s.admin.base = server.url("");
        let item =
            Command::AddItem {
                title: "Khi phòng họp bật lại".into(), presenter: String::new(), summary: String::new(), position: None
            };
        assert_eq!(s.admin.command(s.meeting, "back", &item).await?.status, 200);
        said_line(&mut lines, &mut said, "state seq=", within).await?;
        agent.kill().await?;
        server.stop().await?;
        Ok(())
    })
}

/// A room named `room` that answers at `ip` and is announced on `nic`
/// alone (one end of the namespace's virtual cable).
fn announced_as(room: &'static str, ip: &'static str, nic: &'static str) -> impl FnOnce(&mut gavel_server::Config) {
    move |c: &mut gavel_server::Config| {
        c.mdns = true;
        c.mdns_interfaces = vec![nic.to_string()];
        c.room = room.into();
        c.quic = format!("{ip}:0").parse().expect("an address");
        c.http = format!("{ip}:0").parse().expect("an address");
    }
}

/// Reads the agent's lines until one contains `what`, keeping them in `said`.
async fn said_line(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    said: &mut String,
    what: &str,
    within: Duration,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let line = tokio::time::timeout_at(deadline, lines.next_line())
            .await
            .map_err(|_| anyhow::anyhow!("the agent did not say {what:?} within {within:?}; it said:\n{said}"))??
            .ok_or_else(|| anyhow::anyhow!("the agent ended before saying {what:?}; it said:\n{said}"))?;
        said.push_str(&line);
        said.push('\n');
        if line.contains(what) {
            return Ok(());
        }
    }
}
