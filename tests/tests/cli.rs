//! The `gavel-server` binary's output contracts: the start line, the demo's
//! PIN lines, the admin password printed once, and clear refusals.

use gavel_shared::model::*;
use gavel_tests::*;

#[tokio::test]
async fn the_start_line_and_the_demo_pin_lines_have_the_agreed_format() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let p = ServerProcess::start(dir.path(), &["--demo"]).await?;
    let listening = p.lines.last().unwrap();
    let rest = listening.strip_prefix("listening http=").expect("start line");
    let fields: Vec<&str> = rest.split(' ').collect();
    assert_eq!(fields.len(), 3, "{listening}");
    let addr: std::net::SocketAddr = fields[0].parse()?;
    let quic: std::net::SocketAddr = fields[1].strip_prefix("quic=").expect("quic=").parse()?;
    assert_ne!(quic.port(), 0);
    let fp = fields[2].strip_prefix("fp=").expect("fp=");
    assert!(fp.len() == 64 && fp.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{fp}");
    // The fingerprint is that of the certificate kept in the data directory.
    let der = std::fs::read(dir.path().join("tls").join("cert.der"))?;
    assert_eq!(fp, gavel_server::quic::fingerprint(&der));
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    assert_ne!(addr.port(), 0, "the real port, not 0");

    let pins: Vec<&String> = p.lines.iter().filter(|l| l.starts_with("pin ")).collect();
    assert!(pins.len() >= 5, "{:?}", p.lines);
    let mut roles = std::collections::HashSet::new();
    let mut signed_in = 0;
    for line in &pins {
        // pin meeting=ID participant=ID role=ROLE name="…" pin=DIGITS
        let (head, tail) = line.split_once(" name=\"").expect("name");
        let (name, pin) = tail.rsplit_once("\" pin=").expect("pin");
        let fields: Vec<&str> = head.split(' ').collect();
        assert_eq!(fields[0], "pin");
        let meeting: i64 = fields[1].strip_prefix("meeting=").unwrap().parse()?;
        let participant: i64 = fields[2].strip_prefix("participant=").unwrap().parse()?;
        let role = Role::parse(fields[3].strip_prefix("role=").unwrap()).expect("a role");
        assert!(!name.is_empty() && !name.is_ascii(), "a Vietnamese name: {name}");
        assert!(pin.len() == 6 && pin.chars().all(|c| c.is_ascii_digit()), "{pin}");
        roles.insert(role);
        // Each printed PIN signs its participant in.
        let http = reqwest::Client::new();
        let r = http
            .post(format!("http://{addr}/api/session"))
            .json(&serde_json::json!({"meeting": meeting, "participant": participant, "pin": pin}))
            .send()
            .await?;
        assert_eq!(r.status(), 200, "{line}");
        signed_in += 1;
    }
    assert_eq!(signed_in, pins.len());
    assert_eq!(roles.len(), 4, "every role is in the demo: {roles:?}");
    assert!(!p.lines.iter().any(|l| l.contains('\x1b')), "no colour codes");

    // The demo's documents are real multi-page PDFs with Vietnamese text.
    let body = reqwest::get(format!("http://{addr}/api/meetings")).await?.text().await?;
    assert!(body.contains("Phiên họp thường kỳ"), "{body}");
    Ok(())
}

#[tokio::test]
async fn the_demo_is_created_once_and_gets_fresh_pins_at_each_start() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let first = ServerProcess::start(dir.path(), &["--demo"]).await?;
    let pins1: Vec<String> = first.lines.iter().filter(|l| l.starts_with("pin ")).cloned().collect();
    drop(first);
    let second = ServerProcess::start(dir.path(), &["--demo"]).await?;
    let pins2: Vec<String> = second.lines.iter().filter(|l| l.starts_with("pin ")).cloned().collect();
    assert_eq!(pins1.len(), pins2.len(), "the same participants, not a second demo meeting");
    let strip = |l: &String| l.rsplit_once(" pin=").unwrap().0.to_string();
    assert_eq!(pins1.iter().map(strip).collect::<Vec<_>>(), pins2.iter().map(strip).collect::<Vec<_>>());
    let meetings: serde_json::Value = reqwest::get(format!("http://{}/api/meetings", second.addr)).await?.json().await?;
    let statuses: Vec<&str> = meetings.as_array().unwrap().iter().map(|m| m["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.len(), 2, "one meeting in session and one finished, not new ones: {statuses:?}");
    assert!(statuses.contains(&"open") && statuses.contains(&"closed"));
    // The finished one has signed minutes that verify.
    let signed: Vec<_> = std::fs::read_dir(dir.path().join("minutes"))?.collect();
    assert_eq!(signed.len(), 1);
    Ok(())
}

/// A second server on a data directory in use refuses to start, before it
/// touches anything: before, it emptied the first one's uploads in
/// progress, gave the demo fresh PINs (those the first printed stopped
/// working) and wrote a meeting event behind the first one's back.
#[tokio::test]
async fn a_second_server_on_the_same_data_directory_refuses_to_start_and_the_first_goes_on() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let first = ServerProcess::start(dir.path(), &["--demo"]).await?;
    let second = tokio::process::Command::new(server_binary()?)
        .args(["--http", "127.0.0.1:0", "--quic", "127.0.0.1:0", "--no-mdns", "--demo", "--data-dir"])
        .arg(dir.path())
        .output()
        .await?;
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("another gavel-server is already using the data directory"), "{stderr}");
    // The PINs the first one printed still sign in.
    let line = first.lines.iter().find(|l| l.starts_with("pin ")).expect("a demo PIN");
    let (head, tail) = line.split_once(" name=\"").expect("name");
    let pin = tail.rsplit_once("\" pin=").expect("pin").1;
    let fields: Vec<&str> = head.split(' ').collect();
    let (meeting, participant): (i64, i64) =
        (fields[1].strip_prefix("meeting=").unwrap().parse()?, fields[2].strip_prefix("participant=").unwrap().parse()?);
    let r = reqwest::Client::new()
        .post(format!("http://{}/api/session", first.addr))
        .json(&serde_json::json!({"meeting": meeting, "participant": participant, "pin": pin}))
        .send()
        .await?;
    assert_eq!(r.status(), 200, "{line}");
    // Once the first has stopped, the directory is free.
    drop(first);
    let again = ServerProcess::start(dir.path(), &[]).await?;
    assert!(again.lines.last().unwrap().starts_with("listening "));
    Ok(())
}

/// Starts the server on `dir` with no administrator password given; the
/// running server and the lines it printed up to its start line.
async fn start_with_no_admin_password(dir: &std::path::Path) -> anyhow::Result<(tokio::process::Child, Vec<String>)> {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(server_binary()?)
        .args(["--http", "127.0.0.1:0", "--quic", "127.0.0.1:0", "--no-mdns", "--data-dir"])
        .arg(dir)
        .env_remove("GAVEL_ADMIN_PASSWORD")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut seen = vec![];
    while let Some(l) = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line()).await?? {
        let done = l.starts_with("listening ");
        seen.push(l);
        if done {
            break;
        }
    }
    Ok((child, seen))
}

#[tokio::test]
async fn a_generated_admin_password_is_printed_once() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let run = || async { anyhow::Ok(start_with_no_admin_password(dir.path()).await?.1) };
    let first = run().await?;
    let line = first.iter().find(|l| l.starts_with("admin ")).expect("printed on first start");
    let password = line.strip_prefix("admin username=admin password=").expect("format");
    assert!(password.len() >= 16);
    let second = run().await?;
    assert!(!second.iter().any(|l| l.starts_with("admin ")), "printed only once: {second:?}");
    Ok(())
}

/// A first start that fails before it serves (its port taken) never showed
/// the password it made: the next start makes and prints one. Before, the
/// password was kept and never printed, and the administrator was locked out.
#[tokio::test]
async fn a_first_start_that_fails_leaves_no_unshown_admin_password() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    let failed = tokio::process::Command::new(server_binary()?)
        .args(["--http", &taken.local_addr()?.to_string(), "--quic", "127.0.0.1:0", "--no-mdns", "--data-dir"])
        .arg(dir.path())
        .env_remove("GAVEL_ADMIN_PASSWORD")
        .output()
        .await?;
    assert!(!failed.status.success(), "the port is taken");
    let stdout = String::from_utf8_lossy(&failed.stdout);
    assert!(!stdout.contains("admin "), "{stdout}");
    drop(taken);
    let (_server, seen) = start_with_no_admin_password(dir.path()).await?;
    let line = seen.iter().find(|l| l.starts_with("admin ")).unwrap_or_else(|| panic!("a password is printed: {seen:?}"));
    let password = line.strip_prefix("admin username=admin password=").expect("format");
    let addr = seen.last().unwrap().strip_prefix("listening http=").unwrap().split(' ').next().unwrap().to_string();
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/api/staff/session"))
        .json(&serde_json::json!({"username": "admin", "password": password}))
        .send()
        .await?;
    assert_eq!(r.status(), 200, "the printed password signs in");
    Ok(())
}

#[tokio::test]
async fn a_postgres_url_is_answered_with_not_supported_yet() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let out = tokio::process::Command::new(server_binary()?)
        .args([
            "--http",
            "127.0.0.1:0",
            "--quic",
            "127.0.0.1:0",
            "--no-mdns",
            "--database-url",
            "postgres://gavel@127.0.0.1/gavel",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .await?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PostgreSQL is not supported yet"), "{stderr}");
    Ok(())
}

#[tokio::test]
async fn nothing_acknowledged_is_lost_when_the_server_is_killed_mid_write() -> anyhow::Result<()> {
    use gavel_shared::protocol::Command;
    let dir = tempfile::tempdir()?;
    let mut p = ServerProcess::start(dir.path(), &[]).await?;
    let mut admin = Http::for_base(&format!("http://{}", p.addr));
    admin.sign_in_admin().await?;
    let a = admin.post("/api/meetings", &serde_json::json!({"title": "Họp", "starts_at": "2026-11-23T08:00:00+07:00"})).await?;
    let meeting = MeetingId(a.body["id"].as_i64().unwrap());
    // Write as fast as possible from several clients; kill -9 in the middle.
    let mut writers = vec![];
    for w in 0..4 {
        let admin = admin.clone();
        writers.push(tokio::spawn(async move {
            let mut acked = vec![];
            for n in 0.. {
                let cmd = Command::UpdateMeeting {
                    title: format!("Lần sửa {w}-{n}"),
                    organisation: String::new(),
                    place: String::new(),
                    locality: String::new(),
                    starts_at: time::macros::datetime!(2026-11-23 08:00 +7),
                };
                match admin.command(meeting, &format!("w{w}-{n}"), &cmd).await {
                    Ok(a) if a.status == 200 => {
                        acked.push((a.body["seq"].as_u64().unwrap_or_else(|| panic!("{a:?}")), format!("Lần sửa {w}-{n}")))
                    }
                    _ => break,
                }
            }
            acked
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    p.child.start_kill()?;
    p.child.wait().await?;
    let mut acked = vec![];
    for w in writers {
        acked.extend(w.await?);
    }
    assert!(acked.len() > 4, "the writers got going: {}", acked.len());

    let p = ServerProcess::start(dir.path(), &[]).await?;
    let mut admin = Http::for_base(&format!("http://{}", p.addr));
    admin.sign_in_admin().await?;
    let events = admin.get(&format!("/api/meetings/{meeting}/events?limit=5000")).await?.body;
    let events = events.as_array().unwrap_or_else(|| panic!("{events}"));
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "no gap, no duplicate");
    for (seq, title) in &acked {
        let e = &events[*seq as usize - 1];
        assert_eq!(e["title"].as_str(), Some(title.as_str()), "acknowledged event {seq} survived as written");
    }
    // The state matches the last event in the log.
    let state = admin.state(meeting).await?;
    assert_eq!(Some(state.meeting.title.as_str()), events.last().unwrap()["title"].as_str());
    assert_eq!(state.seq, *seqs.last().unwrap());
    Ok(())
}
