//! The tablet agent end to end: the meeting pack over QUIC in chunks, the
//! web UI and the meeting served on loopback, a link that comes back, and
//! reading with the room out of reach.

use anyhow::Context;
use gavel_shared::model::*;
use gavel_shared::protocol::{Change, ClientMessage, Command, ServerMessage};
use gavel_tests::*;
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const LONG: Duration = Duration::from_secs(120);

/// Uploads `pdf` to the first item as the administrator; returns the document.
fn complete(agent: &gavel_agent::agent::Agent) -> bool {
    let p = agent.shared.progress.borrow().clone();
    agent.shared.link.borrow().is_some() && p.docs_total > 0 && p.complete()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_fetches_a_50_mb_pack_serves_it_and_relays_the_meeting() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    let mut docs = vec![];
    for n in 0..5 {
        docs.push(s.upload_document(&format!("Tờ trình {n}.pdf"), pack_pdf(40, 256 * 1024, n, None), &[]).await?);
    }
    // One the delegate may not read must never reach the tablet.
    let hidden = s
        .upload_document("Mật.pdf", pack_pdf(2, 64 * 1024, 99, None), &[("confidentiality", "named"), ("readers", &s.chair.0.to_string())])
        .await?;
    let total: u64 = docs.iter().map(|d| d.size).sum();
    assert!(total >= 50 * 1024 * 1024, "{total}");

    let cache = tempfile::tempdir()?;
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    until("the pack is in the cache", LONG, || complete(&agent)).await?;
    for d in &docs {
        let bytes = agent.shared.cache.read_doc(&d.sha256)?;
        assert_eq!(sha256_hex(&bytes), d.sha256, "{}", d.title);
    }
    assert!(!agent.shared.cache.has(&hidden.sha256), "a document the delegate may not read reached the tablet");
    let p = agent.shared.progress.borrow().clone();
    assert_eq!((p.docs_total, p.bytes_total), (5, total));

    // The tablet's browser: documents from the cache, with ranges.
    let local = agent.local_addr.expect("a local server");
    let http = tablet_client(&agent.shared.local_key);
    let doc = &docs[2];
    let r = http.get(format!("http://{local}/api/meetings/{}/documents/{}", s.meeting, doc.id)).send().await?;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], format!("\"{}\"", doc.sha256).as_str());
    assert_eq!(sha256_hex(&r.bytes().await?), doc.sha256);
    let r = http.get(format!("http://{local}/api/meetings/{}/documents/{}", s.meeting, doc.id)).header("range", "bytes=0-7").send().await?;
    assert_eq!(r.status(), 206);
    assert_eq!(&r.bytes().await?[..], b"%PDF-1.4");
    // A piece asked for only if the file is the one the reader began with
    // (If-Range, as the reader asks): with its ETag, the piece; with
    // another, the whole file, never a piece of another.
    let piece = |if_range: String| {
        http.get(format!("http://{local}/api/meetings/{}/documents/{}", s.meeting, doc.id))
            .header("range", "bytes=8-15")
            .header("if-range", if_range)
            .send()
    };
    let r = piece(format!("\"{}\"", doc.sha256)).await?;
    assert_eq!(r.status(), 206);
    let r = piece(format!("\"{}\"", docs[0].sha256)).await?;
    assert_eq!(r.status(), 200, "another file's ETag: the whole file");
    assert_eq!(sha256_hex(&r.bytes().await?), doc.sha256);
    let r = http.get(format!("http://{local}/api/meetings/{}/documents/{}", s.meeting, hidden.id)).send().await?;
    assert_eq!(r.status(), 404, "the room refuses the hidden document through the relay too");
    // The API, relayed over QUIC with the agent's session.
    let me: serde_json::Value = http.get(format!("http://{local}/api/session")).send().await?.json().await?;
    assert_eq!(me["name"], "Đại biểu 0000");
    // The web UI itself.
    let r = http.get(format!("http://{local}/")).send().await?;
    assert_eq!(r.status(), 200);
    assert!(r.text().await?.contains("<html"), "the web UI's index");

    // Only the tablet's own browser: not another web page, not another host name.
    let r = http.get(format!("http://{local}/api/session")).header("origin", "http://evil.example").send().await?;
    assert_eq!(r.status(), 403);
    let r = http.get(format!("http://{local}/api/session")).header("host", "evil.example").send().await?;
    assert_eq!(r.status(), 403);
    let mut evil = format!("ws://{local}/ws").into_client_request()?;
    evil.headers_mut().insert("origin", "http://evil.example".parse()?);
    assert!(tokio_tungstenite::connect_async(evil).await.is_err(), "a WebSocket from another page is refused");

    // The meeting live on the local socket, and commands carried to the room.
    let mut ws = Ws::connect(local, Some(&agent.shared.local_key)).await?;
    ws.hello(s.meeting, None).await?;
    while ws.snapshot.is_none() {
        ws.recv().await?;
    }
    assert_eq!(ws.snapshot.as_ref().unwrap().documents.len(), 5, "the snapshot lists only what the delegate may read");
    let chair = s.sign_in(&s.chair).await?;
    let a = s
        .admin
        .command(
            s.meeting,
            "agent-add",
            &Command::AddItem { title: "Mục hai".into(), presenter: String::new(), summary: String::new(), position: None },
        )
        .await?;
    let item2 = ItemId(a.body["result"]["id"].as_i64().unwrap());
    let a = chair.command(s.meeting, "agent-next", &Command::NextItem { from: None }).await?;
    let seq = a.body["seq"].as_u64().unwrap();
    let moved = ws.wait_for(|e| matches!(e.change, Change::CurrentItemChanged { .. })).await?;
    assert!(matches!(moved.change, Change::CurrentItemChanged { item: Some(i), .. } if i == item2));
    ws.wait_seq(seq).await?;
    match ws.command(Command::RequestToSpeak).await? {
        ServerMessage::Ack { .. } => {}
        other => anyhow::bail!("{other:?}"),
    }
    match ws.command(Command::NextItem { from: None }).await? {
        ServerMessage::Error { code, .. } => assert_eq!(code, "forbidden"),
        other => anyhow::bail!("{other:?}"),
    }
    // The agent's copy is the room's, as the delegate sees it.
    let delegate = Actor::Participant { meeting: s.meeting, participant: s.voters[0].0, role: Role::Delegate };
    let room = chair.state(s.meeting).await?.visible_to(&delegate);
    until("the agent has caught up", LONG, || agent.shared.state.borrow().as_ref().is_some_and(|st| st.seq == room.seq)).await?;
    assert_eq!(agent.shared.state.borrow().clone().unwrap(), room);
    Ok(())
}

/// The agent acts for one participant: everything the tablet's browser
/// sends goes in its session. Another participant signing in on it is
/// refused; before, the room signed them in (marked present) while their
/// ballots would have been recorded as the agent's participant's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_participant_cannot_sign_in_through_an_agent_that_acts_for_someone_else() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    let cache = tempfile::tempdir()?;
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    until("the link is up", LONG, || agent.shared.link.borrow().is_some()).await?;
    let local = agent.local_addr.expect("a local server");
    let http = tablet_client(&agent.shared.local_key);
    let sign_in = |who: &(ParticipantId, String)| {
        http.post(format!("http://{local}/api/session"))
            .json(&serde_json::json!({"meeting": s.meeting, "participant": who.0, "pin": who.1}))
            .send()
    };
    let r = sign_in(&s.voters[1]).await?;
    assert_eq!(r.status(), 409);
    let body: serde_json::Value = r.json().await?;
    assert_eq!(body["code"], "tablet_assigned", "{body}");
    let state = s.sign_in(&s.chair).await?.state(s.meeting).await?;
    let other = state.participant(s.voters[1].0).context("voter 1")?;
    assert_ne!(other.attendance, gavel_shared::decision::Attendance::Present, "the room never heard of the sign-in");
    // Nor a secretary or a room display, whose requests would also go in
    // the participant's session.
    let r = http
        .post(format!("http://{local}/api/staff/session"))
        .json(&serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await?;
    assert_eq!(r.status(), 409);
    // The agent's own participant signs in through it as before.
    let r = sign_in(&s.voters[0]).await?;
    assert_eq!(r.status(), 200, "{}", r.text().await?);
    Ok(())
}

/// The cache is the tablet account's alone. When the meeting closes, the
/// documents not for everyone leave the tablet, as paper copies are
/// collected after a meeting; before, every restricted document of every
/// meeting stayed on it. The public ones stay, and the room still gives the
/// others to whoever may read them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restricted_documents_leave_the_tablet_when_the_meeting_closes() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let public = s.upload_document("Tờ trình.pdf", pack_pdf(2, 64 * 1024, 1, None), &[]).await?;
    let members = s.upload_document("Dự thảo nội bộ.pdf", pack_pdf(2, 64 * 1024, 2, None), &[("confidentiality", "members")]).await?;
    let cache = tempfile::tempdir()?;
    // Made by the agent (a temporary directory is the account's alone already).
    let kept = cache.path().join("pack");
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, &kept).await?;
    until("the pack is in the cache", LONG, || complete(&agent)).await?;
    assert!(agent.shared.cache.has(&public.sha256) && agent.shared.cache.has(&members.sha256));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&kept)?.permissions().mode();
        assert_eq!(mode & 0o077, 0, "the cache is the tablet account's alone: {mode:o}");
    }
    let chair = s.sign_in(&s.chair).await?;
    assert_eq!(chair.command(s.meeting, "close", &Command::CloseMeeting).await?.status, 200);
    until("the restricted document has left the tablet", LONG, || !agent.shared.cache.has(&members.sha256)).await?;
    assert!(agent.shared.cache.has(&public.sha256), "the public document stays");
    let data = files_under(cache.path()).into_iter().filter(|p| p.extension().is_some_and(|e| e == "data")).count();
    assert_eq!(data, 1, "the public document's data alone is left");
    let local = agent.local_addr.expect("a local server");
    let r = tablet_client(&agent.shared.local_key)
        .get(format!("http://{local}/api/meetings/{}/documents/{}", s.meeting, members.id))
        .send()
        .await?;
    assert_eq!(r.status(), 200, "from the room, to a member");
    assert!(r.bytes().await?.starts_with(b"%PDF"), "the member's own stamped copy");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_cut_by_a_server_restart_resumes_without_fetching_finished_chunks() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let server = TestServer::start_in(data.path(), |_| {}).await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let doc = s.upload_document("Báo cáo.pdf", pack_pdf(100, 400 * 1024, 3, None), &[]).await?;
    let addrs = server.addrs();
    let cache = tempfile::tempdir()?;
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    until("a fifth of the document has arrived", LONG, || {
        let p = agent.shared.progress.borrow().clone();
        p.bytes_done > doc.size / 5
    })
    .await?;
    server.stop().await?;
    until("the agent notices the link is gone", LONG, || agent.shared.link.borrow().is_none()).await?;
    assert!(!agent.shared.cache.has(&doc.sha256), "the download was cut before the end");

    let server = TestServer::start_again(data.path(), addrs).await?;
    until("the pack is complete after the restart", LONG, || complete(&agent)).await?;
    assert_eq!(sha256_hex(&agent.shared.cache.read_doc(&doc.sha256)?), doc.sha256);
    let t = *agent.shared.totals.lock().unwrap();
    let manifest_chunks = t.chunks_fetched + t.chunks_resumed;
    assert!(t.chunks_resumed > 0, "{t:?}");
    eprintln!("resumed after the restart: {} chunks kept, {} fetched, of {manifest_chunks}", t.chunks_resumed, t.chunks_fetched);

    // The state converges to the room's after the restart.
    let chair = s.sign_in(&s.chair).await?;
    s.admin
        .command(
            s.meeting,
            "after-restart",
            &Command::AddItem {
                title: "Sau khi khởi động lại".into(), presenter: String::new(), summary: String::new(), position: None
            },
        )
        .await?;
    let delegate = Actor::Participant { meeting: s.meeting, participant: s.voters[0].0, role: Role::Delegate };
    let room = chair.state(s.meeting).await?.visible_to(&delegate);
    until("the agent has the room's state", LONG, || agent.shared.state.borrow().as_ref() == Some(&room)).await?;
    drop(server);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_changed_on_one_page_fetches_only_a_small_share_of_its_chunks() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    s.upload_document("Dự thảo v1.pdf", pack_pdf(80, 128 * 1024, 11, None), &[]).await?;
    let cache = tempfile::tempdir()?;
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    until("version 1 is in the cache", LONG, || complete(&agent)).await?;
    let before = *agent.shared.totals.lock().unwrap();

    let v2 = s.upload_document("Dự thảo v2.pdf", pack_pdf(80, 128 * 1024, 11, Some(40)), &[]).await?;
    until("version 2 is in the cache", LONG, || agent.shared.cache.has(&v2.sha256) && complete(&agent)).await?;
    let after = *agent.shared.totals.lock().unwrap();
    let fetched = after.chunks_fetched - before.chunks_fetched;
    let reused = after.chunks_reused - before.chunks_reused;
    let share = fetched as f64 / (fetched + reused) as f64;
    eprintln!("changed on one page of 80: fetched {fetched} of {} chunks ({:.1} %)", fetched + reused, share * 100.0);
    assert!(share < 0.10, "fetched {fetched}, reused {reused}");
    assert_eq!(sha256_hex(&agent.shared.cache.read_doc(&v2.sha256)?), v2.sha256);

    // The secretary withdraws version 1: it leaves the tablet, and version 2,
    // which took most of its chunks from it, still reads whole.
    let v1 = agent.shared.state.borrow().as_ref().unwrap().documents.iter().find(|d| d.id != v2.id).unwrap().clone();
    let a = s.admin.command(s.meeting, "withdraw-v1", &Command::RemoveDocument { document: v1.id }).await?;
    anyhow::ensure!(a.status == 200, "{a:?}");
    // (The cache forgets a version before it deletes its files.)
    let docs = cache.path().join("docs");
    until("version 1 has left the cache", LONG, || !agent.shared.cache.has(&v1.sha256) && files_under(&docs).len() == 2).await?;
    let files = files_under(&docs);
    assert_eq!(files.len(), 2, "only version 2's manifest and data file are left: {files:?}");
    assert_eq!(sha256_hex(&agent.shared.cache.read_doc(&v2.sha256)?), v2.sha256);
    Ok(())
}

/// A document withdrawn while the tablet's browser reads it from the
/// agent's cache: the rest is not sent (the room cuts its own downloads
/// the same way), the body ends short.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_withdrawn_while_its_cached_copy_is_read_is_cut_off() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    // Larger than what loopback's socket buffers hold ahead of a slow reader.
    let pdf = pack_pdf(128, 256 * 1024, 9, None);
    let size = pdf.len();
    let doc = s.upload_document("Hồ sơ lớn.pdf", pdf, &[]).await?;
    let cache = tempfile::tempdir()?;
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    until("the pack is cached", LONG, || complete(&agent)).await?;
    let local = agent.local_addr.unwrap();
    let http = tablet_client(&agent.shared.local_key);
    let mut r = http.get(format!("http://{local}/api/meetings/{}/documents/{}", s.meeting, doc.id)).send().await?;
    assert_eq!(r.status(), 200);
    let mut got = r.chunk().await?.map_or(0, |c| c.len());
    let a = s.admin.command(s.meeting, "withdraw", &Command::RemoveDocument { document: doc.id }).await?;
    anyhow::ensure!(a.status == 200, "{a:?}");
    until("the agent has it withdrawn", LONG, || agent.shared.state.borrow().as_ref().is_some_and(|st| st.document(doc.id).is_none()))
        .await?;
    let ended = loop {
        match r.chunk().await {
            Ok(Some(c)) => got += c.len(),
            Ok(None) => break "whole",
            Err(_) => break "cut off",
        }
    };
    assert!(ended == "cut off" && got < size, "{ended} after {got} of {size} bytes");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_room_out_of_reach_the_agent_still_serves_the_pack_and_the_agenda() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let pdf = pack_pdf(4, 64 * 1024, 5, None);
    let doc = s.upload_document("Tài liệu.pdf", pdf.clone(), &[]).await?;
    let cache = tempfile::tempdir()?;
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    until("the pack is in the cache", LONG, || complete(&agent)).await?;
    let local = agent.local_addr.unwrap();
    let key = agent.shared.local_key.clone();
    let http = tablet_client(&key);
    let index = http.get(format!("http://{local}/")).send().await?.text().await?;
    // What the room answers that is not a page (its health, as a launcher
    // might ask) is not kept as the UI's page.
    let health = http.get(format!("http://{local}/health")).send().await?;
    assert_eq!(health.status(), 200);
    assert!(health.text().await?.starts_with('{'), "the room's JSON");
    let state = agent.shared.state.borrow().clone().unwrap();
    server.stop().await?;
    until("the agent notices the room is gone", LONG, || agent.shared.link.borrow().is_none()).await?;

    let check = |local: std::net::SocketAddr, key: String| {
        let (http, doc, index, state, meeting, pdf) =
            (tablet_client(&key), doc.clone(), index.clone(), state.clone(), s.meeting, pdf.clone());
        async move {
            let url = format!("http://{local}/api/meetings/{meeting}/documents/{}", doc.id);
            let r = http.get(&url).send().await?;
            let status = r.status();
            let body = r.bytes().await?;
            // (Once in about 25 runs this read was refused: the body says why, should it come back.)
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body[..body.len().min(300)]));
            assert_eq!(sha256_hex(&body), doc.sha256);
            // Ranges, decrypted from the chunks that hold them (one spans two).
            for (a, b) in [(100u64, 199u64), (60_000, 140_000), (doc.size - 10, doc.size - 1)] {
                let r = http.get(&url).header("range", format!("bytes={a}-{b}")).send().await?;
                assert_eq!(r.status(), 206);
                assert_eq!(r.bytes().await?.as_ref(), &pdf[a as usize..=b as usize]);
            }
            let r = http.get(&url).header("range", format!("bytes={}-", doc.size + 10)).send().await?;
            assert_eq!(r.status(), 416, "a range past the end");
            assert_eq!(http.get(format!("http://{local}/#/live")).send().await?.text().await?, index, "the UI loads offline");
            let mut ws = Ws::connect(local, Some(&key)).await?;
            ws.hello(meeting, None).await?;
            while ws.snapshot.is_none() {
                ws.recv().await?;
            }
            assert_eq!(ws.snapshot.as_ref().unwrap(), &state, "the last known agenda");
            // A command waits for the room (it is sent when the link is
            // back): nothing answers it meanwhile, and the socket goes on.
            let speak = ClientMessage::Command { key: format!("offline-{local}"), command: Command::RequestToSpeak };
            ws.send(&speak).await?;
            ws.send(&ClientMessage::Ping { nonce: 9 }).await?;
            let answer = loop {
                match ws.reply().await? {
                    ServerMessage::TabletPack { .. } => continue,
                    m => break m,
                }
            };
            assert!(matches!(answer, ServerMessage::Pong { nonce: 9, .. }), "{answer:?}");
            let r = http.get(format!("http://{local}/api/meetings")).send().await?;
            assert_eq!(r.status(), 503);
            anyhow::Ok(())
        }
    };
    check(local, key.clone()).await?;
    // Nothing on the tablet's disk is readable without the PIN: no byte of
    // the document, no name from the meeting, no file named by a hash the
    // room publishes.
    drop(agent);
    let manifest_hashes: Vec<String> = state.documents.iter().map(|d| d.sha256.clone()).collect();
    let names: Vec<&str> = state.participants.iter().map(|p| p.name.as_str()).chain([state.meeting.title.as_str()]).collect();
    let sample = &pdf[pdf.len() / 2..pdf.len() / 2 + 48];
    for file in files_under(cache.path()) {
        let rel = file.strip_prefix(cache.path())?.to_string_lossy().to_string();
        if rel.starts_with("web/") {
            continue; // the web UI's public files
        }
        let bytes = std::fs::read(&file)?;
        assert!(!bytes.windows(sample.len()).any(|w| w == sample), "{rel} holds the document in clear");
        for n in &names {
            assert!(!bytes.windows(n.len()).any(|w| w == n.as_bytes()), "{rel} holds {n:?} in clear");
        }
        assert!(!manifest_hashes.iter().any(|h| rel.contains(h.as_str())), "{rel} is named by the document's hash");
    }
    // A restarted agent (the tablet rebooted) needs the PIN, and then shows
    // the same, before it reaches the room.
    let options = |pin: Option<&str>| gavel_agent::agent::Options {
        server: "127.0.0.1:9".parse().unwrap(),
        fingerprint: "00".repeat(32),
        meeting: s.meeting,
        participant: s.voters[0].0,
        pin: pin.map(str::to_string),
        cache_dir: cache.path().to_path_buf(),
        listen: Some("127.0.0.1:0".parse().unwrap()),
        rediscover: false,
    };
    let no_pin = gavel_agent::agent::Agent::start(options(None)).await.err().expect("no PIN, no documents");
    assert!(format!("{no_pin:#}").contains("PIN"), "{no_pin:#}");
    let wrong = if s.voters[0].1 == "000000" { "111111" } else { "000000" };
    let wrong = gavel_agent::agent::Agent::start(options(Some(wrong))).await.err().expect("a wrong PIN opens nothing");
    assert!(format!("{wrong:#}").contains("does not unlock"), "{wrong:#}");
    let again = gavel_agent::agent::Agent::start(options(Some(&s.voters[0].1))).await?;
    // With a new key for the browser: the old one opens nothing.
    assert_ne!(again.shared.local_key, key);
    let stale = http.get(format!("http://{}/api/session", again.local_addr.unwrap())).send().await?;
    assert_eq!(stale.status(), 401, "the key of the agent before the restart");
    check(again.local_addr.unwrap(), again.shared.local_key.clone()).await?;
    Ok(())
}

#[tokio::test]
async fn the_agent_binary_joins_with_a_sign_in_code_and_fetches_the_pack_once() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let doc = s.upload_document("Tờ trình.pdf", pack_pdf(8, 128 * 1024, 21, None), &[]).await?;
    let cache = tempfile::tempdir()?;
    let out = tokio::process::Command::new(workspace_binary("gavel-agent")?)
        .args(s.join_args(0, server.quic_addr, &server.fingerprint, &cache.path().to_string_lossy()))
        .arg("--once")
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("signed-in name=\"Đại biểu 0000\""), "{stdout}");
    assert!(stdout.contains(&format!("pack complete documents=1 bytes={}", doc.size)), "{stdout}");
    // The pack is kept encrypted: the PIN opens it.
    assert_eq!(sha256_hex(&s.kept_document(0, cache.path(), &doc.sha256)?), doc.sha256);
    // Started again without a PIN (and no terminal to ask on), it says what it needs.
    let out = tokio::process::Command::new(workspace_binary("gavel-agent")?)
        .args(["join", "--server", &server.quic_addr.to_string(), "--fingerprint", &server.fingerprint, "--once"])
        .args(["--meeting", &s.meeting.0.to_string(), "--participant", &s.voters[0].0.0.to_string()])
        .arg("--cache")
        .arg(cache.path())
        .env_remove("GAVEL_PIN")
        .stdin(std::process::Stdio::null())
        .output()
        .await?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("the PIN is needed"), "{stderr}");
    // The card's code in GAVEL_CODE, off the command line other accounts read.
    let out = tokio::process::Command::new(workspace_binary("gavel-agent")?)
        .args(["join", "--server", &server.quic_addr.to_string(), "--fingerprint", &server.fingerprint, "--once"])
        .arg("--cache")
        .arg(cache.path())
        .env("GAVEL_CODE", format!("{}-{}-{}", s.meeting.0, s.voters[0].0.0, s.voters[0].1))
        // A PIN left in the environment from another card: the code's wins.
        .env("GAVEL_PIN", if s.voters[0].1 == "000000" { "111111" } else { "000000" })
        .stdin(std::process::Stdio::null())
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("pack complete documents=1"), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    Ok(())
}

/// Two agents never share a cache: the second one started on it (twice by
/// hand, or beside the one the tablet starts) says so and stops, and the
/// cache is free again as soon as the first has stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_agent_on_the_same_cache_is_refused_with_the_reason() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let cache = tempfile::tempdir()?;
    let first = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    let second = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await;
    let e = format!("{:#}", second.err().context("a second agent started on the same cache")?);
    assert!(e.contains("another gavel-agent is already using"), "{e}");
    // The same from the binary, another process.
    let out = tokio::process::Command::new(workspace_binary("gavel-agent")?)
        .args(s.join_args(0, server.quic_addr, &server.fingerprint, &cache.path().to_string_lossy()))
        .arg("--once")
        .output()
        .await?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("another gavel-agent is already using"), "{stderr}");
    until("the first agent is linked", WAIT, || first.shared.link.borrow().is_some()).await?;
    drop(first);
    let again = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    until("the agent started again is linked", WAIT, || again.shared.link.borrow().is_some()).await?;
    Ok(())
}

/// A tablet prepared before the meeting (`--once`) and opened where the room
/// cannot be reached shows its documents: the agent keeps the meeting's
/// state when it stops, not only every half second while linked.
#[tokio::test]
async fn a_tablet_prepared_with_once_reads_its_pack_with_the_room_out_of_reach() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let doc = s.upload_document("Dự thảo nghị quyết.pdf", pack_pdf(6, 64 * 1024, 37, None), &[]).await?;
    let cache = tempfile::tempdir()?;
    let join = s.join_args(0, server.quic_addr, &server.fingerprint, &cache.path().to_string_lossy());
    let out = tokio::process::Command::new(workspace_binary("gavel-agent")?).args(&join).arg("--once").output().await?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    server.stop().await?;

    let listen = format!("127.0.0.1:{}", std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port());
    let mut agent = tokio::process::Command::new(workspace_binary("gavel-agent")?)
        .args(&join)
        .args(["--listen", &listen])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(agent.stdout.take().expect("stdout")));
    let mut key = None;
    while let Some(line) = tokio::time::timeout(LONG, lines.next_line()).await?? {
        if line.starts_with("serving ") {
            key = Some(served_at(&line)?.1);
            break;
        }
    }
    let http = tablet_client(&key.context("the agent ended before serving")?);
    let r = http.get(format!("http://{listen}/api/meetings/{}/documents/{}", s.meeting, doc.id)).send().await?;
    assert_eq!(r.status(), 200, "the prepared document, with the room out of reach");
    assert_eq!(sha256_hex(&r.bytes().await?), doc.sha256);
    agent.kill().await?;
    Ok(())
}

/// The same, without the race of timing: an agent that stops keeps the
/// state it holds, whenever it last kept it before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_keeps_the_meeting_state_when_it_stops() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let cache = tempfile::tempdir()?;
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    let state = cache.path().join("state.json");
    // Once the half-second save has kept the state, nothing changes in the
    // meeting, so nothing saves it again while the agent runs: removed now,
    // only the agent's stopping can bring it back.
    until("the agent keeps the state", LONG, || agent.shared.state.borrow().is_some() && state.is_file()).await?;
    std::fs::remove_file(&state)?;
    drop(agent);
    assert!(state.is_file(), "the agent kept its state as it stopped");
    Ok(())
}

/// Where quinn's own UDP socket cannot open (some Windows stacks, Wine), the
/// agent runs its link on a plain one; `GAVEL_PLAIN_UDP=1` asks for it here.
#[tokio::test]
async fn the_agent_binary_fetches_the_pack_over_a_plain_udp_socket() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let doc = s.upload_document("Báo cáo.pdf", pack_pdf(24, 256 * 1024, 23, None), &[]).await?;
    let cache = tempfile::tempdir()?;
    let out = tokio::process::Command::new(workspace_binary("gavel-agent")?)
        .args(s.join_args(0, server.quic_addr, &server.fingerprint, &cache.path().to_string_lossy()))
        .arg("--once")
        .env("GAVEL_PLAIN_UDP", "1")
        .output()
        .await?;
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout} {stderr}");
    assert!(stderr.contains("plain UDP socket"), "the agent says which socket it uses: {stderr}");
    assert!(stdout.contains(&format!("pack complete documents=1 bytes={}", doc.size)), "{stdout}");
    assert_eq!(sha256_hex(&s.kept_document(0, cache.path(), &doc.sha256)?), doc.sha256);
    Ok(())
}

/// A delegate who mistyped the PIN in a browser makes the next sign-ins
/// wait (1 s, then 2 s, …). A tablet agent starting in that wait waits it
/// out and joins, instead of giving up for good as it did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_whose_sign_in_must_wait_joins_once_the_wait_is_over() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let server = TestServer::start_in(data.path(), |c| {
        c.sign_in_limits = gavel_server::throttle::Limits { free_attempts: 2, lock_after: 10, per_address: 100 };
    })
    .await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let http = Http::for_base(&server.url(""));
    let wrong = |pin: &'static str| {
        let mut http = http.clone();
        let (meeting, who) = (s.meeting, s.voters[0].0);
        async move { anyhow::Ok(http.sign_in(meeting, who, pin).await?.code().to_string()) }
    };
    assert_eq!(wrong("000000").await?, "bad_credentials");
    assert_eq!(wrong("000001").await?, "bad_credentials");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let third = std::time::Instant::now();
    assert_eq!(wrong("000002").await?, "bad_credentials", "after the first wait");
    // Now the next sign-in must wait 2 s, even with the right PIN (a refusal
    // for waiting does not count as a failure, so this check leaves the wait
    // as it is), and the agent starts inside that wait.
    let right = s.voters[0].1.clone();
    assert_eq!(http.clone().sign_in(s.meeting, s.voters[0].0, &right).await?.code(), "too_many_attempts");
    let cache = tempfile::tempdir()?;
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    until("the agent links up or gives up", LONG, || agent.shared.link.borrow().is_some() || agent.shared.fatal.borrow().is_some()).await?;
    assert_eq!(agent.shared.fatal.borrow().clone(), None, "the agent gave up on a wait that passes");
    assert!(agent.shared.link.borrow().is_some());
    // Not a speed check: the room cannot have let it in before the wait,
    // which began after `third`, was over.
    assert!(third.elapsed() >= Duration::from_secs(2), "the agent linked up inside the wait: {:?}", third.elapsed());
    Ok(())
}

/// An upload from the tablet's browser (a secretary preparing the meeting on
/// a tablet) goes on to the room as it comes, never whole in the tablet's
/// memory: one larger than the 256 MiB the agent used to hold is taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_through_the_agent_streams_on_to_the_room() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let server = TestServer::start_in(data.path(), |c| c.max_upload = 300 * 1024 * 1024).await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let cache = tempfile::tempdir()?;
    let agent = start_agent_as(server.quic_addr, &server.fingerprint, &s, &s.secretary, cache.path()).await?;
    until("the agent is online", LONG, || agent.shared.link.borrow().is_some()).await?;
    let pdf = pack_pdf(260, 1024 * 1024, 41, None);
    let sha = sha256_hex(&pdf);
    let local = Http::for_base(&format!("http://{}", agent.local_addr.expect("a local server"))).with_token(&agent.shared.local_key);
    let a = local.upload(s.meeting, s.item, "Hồ sơ trình kỳ họp.pdf", pdf, &[]).await?;
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.body["document"]["sha256"], sha.as_str());
    Ok(())
}

/// An upload the room refuses part-way (over its size limit) is answered
/// with the room's refusal, not taken for a room out of reach: the room
/// stops reading the body, and the agent stops sending it and reads the
/// answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_the_room_refuses_part_way_gets_the_rooms_answer_through_the_agent() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let server = TestServer::start_in(data.path(), |c| c.max_upload = 2 * 1024 * 1024).await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let cache = tempfile::tempdir()?;
    let agent = start_agent_as(server.quic_addr, &server.fingerprint, &s, &s.secretary, cache.path()).await?;
    until("the agent is online", LONG, || agent.shared.link.borrow().is_some()).await?;
    let local = Http::for_base(&format!("http://{}", agent.local_addr.expect("a local server"))).with_token(&agent.shared.local_key);
    let a = local.upload(s.meeting, s.item, "Quá lớn.pdf", pack_pdf(64, 1024 * 1024, 43, None), &[]).await?;
    assert_eq!(a.status, 413, "{a:?}");
    assert_eq!(a.body["code"], "too_large", "{a:?}");
    // The link is still up, and a document within the limit goes through.
    let small = local.upload(s.meeting, s.item, "Vừa.pdf", pack_pdf(1, 64 * 1024, 44, None), &[]).await?;
    assert_eq!(small.status, 201, "{small:?}");
    Ok(())
}

/// A tablet whose storage is full: preparing it (`--once`) stops with a
/// message that says so, instead of trying again forever.
#[tokio::test]
async fn preparing_a_tablet_whose_disk_is_full_stops_and_says_why() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    s.upload_document("Báo cáo tài chính.pdf", pack_pdf(16, 256 * 1024, 29, None), &[]).await?;
    let cache = tempfile::tempdir()?;
    let mut cmd = on_small_disk(cache.path(), 1024 * 1024, &workspace_binary("gavel-agent")?);
    cmd.args(s.join_args(0, server.quic_addr, &server.fingerprint, &cache.path().to_string_lossy()))
        .arg("--once")
        .stdin(std::process::Stdio::null());
    let out = tokio::time::timeout(LONG, tokio::process::Command::from(cmd).output())
        .await
        .map_err(|_| anyhow::anyhow!("the agent kept trying to fill a full disk"))??;
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("signed-in"), "the small disk holds the session: {stdout} {stderr}");
    assert!(!out.status.success(), "{stdout} {stderr}");
    assert!(stderr.contains("the tablet cannot keep the documents") && stderr.contains("No space left on device"), "{stderr}");
    assert!(!stdout.contains("pack complete"), "{stdout}");
    Ok(())
}

/// One document too large for what the tablet has left does not keep out
/// the smaller ones that fit: before, every download pass stopped at it
/// (the first in order), and the part of it kept held the space.
#[tokio::test]
async fn a_document_too_large_for_the_disk_does_not_keep_out_those_that_fit() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    // First in order (the same item, the lowest id): 12 MiB, on an 8 MiB disk.
    s.upload_document("Bản đồ quy hoạch.pdf", pack_pdf(12, 1024 * 1024, 31, None), &[]).await?;
    for n in 0..3 {
        s.upload_document(&format!("Tờ trình {n}.pdf"), pack_pdf(2, 256 * 1024, 32 + n, None), &[]).await?;
    }
    let cache = tempfile::tempdir()?;
    let mut cmd = on_small_disk(cache.path(), 8 * 1024 * 1024, &workspace_binary("gavel-agent")?);
    cmd.args(s.join_args(0, server.quic_addr, &server.fingerprint, &cache.path().to_string_lossy()))
        .arg("--once")
        .stdin(std::process::Stdio::null());
    let out = tokio::time::timeout(LONG, tokio::process::Command::from(cmd).output())
        .await
        .map_err(|_| anyhow::anyhow!("the agent kept trying to fill a full disk"))??;
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{stdout} {stderr}");
    assert!(stderr.contains("No space left on device") && stderr.contains("(it holds 3 of 4)"), "{stderr}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_link_survives_a_change_of_the_tablets_address() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let cache = tempfile::tempdir()?;
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    until("the agent is online", LONG, || agent.shared.link.borrow().is_some() && agent.shared.state.borrow().is_some()).await?;
    let online = agent.shared.link.borrow().clone().unwrap();
    let before = online.endpoint.local_addr()?;
    // The tablet moves to another address (Wi-Fi roaming, DHCP renewal): same connection, new socket.
    online.endpoint.rebind(std::net::UdpSocket::bind("127.0.0.1:0")?)?;
    assert_ne!(online.endpoint.local_addr()?, before);
    let add =
        Command::AddItem { title: "Sau khi đổi địa chỉ".into(), presenter: String::new(), summary: String::new(), position: None };
    let seq = s.admin.command(s.meeting, "moved", &add).await?.body["seq"].as_u64().unwrap();
    until("the event arrives on the moved link", LONG, || agent.shared.state.borrow().as_ref().is_some_and(|st| st.seq >= seq)).await?;
    assert_eq!(agent.shared.links_made.load(std::sync::atomic::Ordering::Relaxed), 1, "no reconnection was needed");
    assert!(agent.shared.link.borrow().as_ref().is_some_and(|o| o.connection.stable_id() == online.connection.stable_id()));
    Ok(())
}

/// The name of participant `who`, as the room knows it.
async fn name_of(s: &Assembly, who: ParticipantId) -> anyhow::Result<String> {
    let a = s.admin.get(&format!("/api/meetings/{}/state", s.meeting)).await?;
    let p = a.body["participants"].as_array().into_iter().flatten().find(|p| p["id"] == who.0);
    Ok(p.and_then(|p| p["name"].as_str()).ok_or_else(|| anyhow::anyhow!("no participant {who:?}"))?.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restricted_document_reaches_each_reader_stamped_with_their_name() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 3).await?;
    let (reader, other, outsider) = (s.voters[0].0, s.voters[1].0, s.voters[2].0);
    let readers = format!("{},{}", reader.0, other.0);
    let doc =
        s.upload_document("Dự thảo.pdf", tiny_pdf("Du thao nghi quyet"), &[("confidentiality", "named"), ("readers", &readers)]).await?;
    let public = s.upload_document("Công khai.pdf", tiny_pdf("Cong khai"), &[]).await?;
    let (reader_name, other_name) = (name_of(&s, reader).await?, name_of(&s, other).await?);
    let dir = tempfile::tempdir()?;
    let path = format!("/api/meetings/{}/documents/{}", s.meeting, doc.id);

    // Over HTTP: the reader's own copy, named, the same on every fetch.
    let http = s.sign_in(&s.voters[0]).await?;
    let first = http.raw_get(&path).send().await?;
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str()?.to_string();
    assert_ne!(etag, format!("\"{}\"", doc.sha256), "a copy has its own ETag");
    let copy = first.bytes().await?;
    assert_eq!(etag, format!("\"{}\"", sha256_hex(&copy)), "the ETag names the copy's content");
    std::fs::write(dir.path().join("copy.pdf"), &copy)?;
    let text = pdftotext(&dir.path().join("copy.pdf"))?;
    assert!(text.contains(&format!("Bản của {reader_name}")), "the reader's name on the page: {text}");
    assert!(text.contains("Du thao nghi quyet"), "the original's text is kept: {text}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = http.raw_get(&path).send().await?.bytes().await?;
    assert_eq!(again, copy, "made once: the same bytes (and time) on every fetch");
    let r = http.raw_get(&path).header("if-none-match", &etag).send().await?;
    assert_eq!(r.status(), 304);
    let r = http.raw_get(&path).header("range", "bytes=10-19").send().await?;
    assert_eq!((r.status().as_u16(), r.bytes().await?), (206, copy.slice(10..20)));
    // A public document is served as uploaded.
    let plain = http.raw_get(&format!("/api/meetings/{}/documents/{}", s.meeting, public.id)).send().await?.bytes().await?;
    assert_eq!(sha256_hex(&plain), public.sha256);

    // Another reader gets a copy of their own; someone not named, nothing.
    // Asked for three times at once, it is made once: the same copy each time.
    let other_reader = s.sign_in(&s.voters[1]).await?;
    let fetch = || async { anyhow::Ok(other_reader.raw_get(&path).send().await?.bytes().await?) };
    let (a, b, c) = tokio::try_join!(fetch(), fetch(), fetch())?;
    assert!(a == b && b == c, "one copy per reader and version");
    let theirs = a;
    assert_ne!(theirs, copy);
    std::fs::write(dir.path().join("theirs.pdf"), &theirs)?;
    let text = pdftotext(&dir.path().join("theirs.pdf"))?;
    assert!(text.contains(&format!("Bản của {other_name}")) && !text.contains(&reader_name), "{text}");
    let r = s.sign_in(&s.voters[2]).await?.raw_get(&path).send().await?;
    assert_eq!(r.status(), 404, "{outsider:?} may not read it");
    // Staff accounts read it as a copy of their own too: a secretary of the
    // office, and the administrator.
    let a = s
        .admin
        .post("/api/staff", &serde_json::json!({"username": "tk.lan", "display_name": "Trần Thị Lan", "password": "Thu ky phong hop 2026", "is_admin": false}))
        .await?;
    assert_eq!(a.status, 201, "{a:?}");
    let mut staff = Http::for_base(&s.admin.base);
    let a = staff
        .post("/api/staff/session", &serde_json::json!({"username": "tk.lan", "password": "Thu ky phong hop 2026", "bearer": true}))
        .await?;
    staff.token = a.body["token"].as_str().map(String::from);
    for (who, http) in [("Trần Thị Lan (tk.lan)", &staff), ("(admin)", &s.admin)] {
        let theirs = http.raw_get(&path).send().await?.bytes().await?;
        assert_ne!(sha256_hex(&theirs), doc.sha256, "{who}: not the original");
        std::fs::write(dir.path().join("staff.pdf"), &theirs)?;
        let text = pdftotext(&dir.path().join("staff.pdf"))?;
        assert!(text.contains("Bản của ") && text.contains(who) && !text.contains(&reader_name), "{who}: {text}");
        assert!(text.contains("Du thao nghi quyet"), "{text}");
    }

    // Over QUIC, through the reader's tablet agent: the same copy, kept in
    // its cache under the version's name, and served to the tablet's browser.
    let cache = tempfile::tempdir()?;
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    until("the pack is in the cache", LONG, || complete(&agent)).await?;
    let cached = agent.shared.cache.read_doc(&doc.sha256)?;
    assert_eq!(cached, copy, "the agent holds the reader's copy");
    let local = agent.local_addr.unwrap();
    let tablet = tablet_client(&agent.shared.local_key);
    let url = format!("http://{local}/api/meetings/{}/documents/{}", s.meeting, doc.id);
    let served = tablet.get(&url).send().await?;
    assert_eq!(served.headers()["etag"], etag.as_str(), "the ETag names the copy served, as the room's does");
    assert_eq!(served.bytes().await?, copy);
    let r = tablet.get(&url).header("if-none-match", &etag).send().await?;
    assert_eq!(r.status(), 304);
    let r = tablet.get(&url).header("if-none-match", format!("\"{}\"", doc.sha256)).send().await?;
    assert_eq!(r.status(), 200, "the version's hash is not the copy's");
    let r = tablet.get(&url).header("range", "bytes=10-19").header("if-range", &etag).send().await?;
    assert_eq!((r.status().as_u16(), r.bytes().await?), (206, copy.slice(10..20)));

    // A restricted PDF that cannot be read (so cannot be stamped) is refused at upload.
    let broken = b"%PDF-1.4\nthis is not a PDF body\n%%EOF\n".to_vec();
    let a = s.admin.upload(s.meeting, s.item, "Hỏng.pdf", broken, &[("confidentiality", "members")]).await?;
    assert_eq!((a.status, a.code()), (422, "unstampable"), "{a:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_pin_from_the_secretary_starts_the_cache_afresh_and_a_wrong_one_opens_nothing() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let doc = s.upload_document("Tờ trình.pdf", pack_pdf(4, 64 * 1024, 9, None), &[]).await?;
    let cache = tempfile::tempdir()?;
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    until("the pack is in the cache", LONG, || complete(&agent)).await?;
    drop(agent);
    let options = |pin: &str| gavel_agent::agent::Options {
        server: server.quic_addr,
        fingerprint: server.fingerprint.clone(),
        meeting: s.meeting,
        participant: s.voters[0].0,
        pin: Some(pin.to_string()),
        cache_dir: cache.path().to_path_buf(),
        listen: None,
        rediscover: false,
    };
    // A wrong PIN, the room reachable: refused, and the cache is left as it was.
    let wrong = if s.voters[0].1 == "000000" { "111111" } else { "000000" };
    let err = gavel_agent::agent::Agent::start(options(wrong)).await.err().expect("a wrong PIN opens nothing");
    assert!(format!("{err:#}").contains("does not unlock"), "{err:#}");
    let key_before = std::fs::read(cache.path().join("key.json"))?;
    // The secretary gives a new PIN (the card was lost): the agent starts
    // with it, drops what the old PIN sealed, and fetches the pack again.
    let a = s.admin.command(s.meeting, "new-pin", &Command::ResetPins { participants: vec![s.voters[0].0] }).await?;
    let new_pin = a.body["result"]["pins"][0]["pin"].as_str().expect("a new PIN").to_string();
    let agent = gavel_agent::agent::Agent::start(options(&new_pin)).await?;
    until("the pack is in the cache again", LONG, || complete(&agent)).await?;
    assert_ne!(std::fs::read(cache.path().join("key.json"))?, key_before, "a new key, wrapped by the new PIN");
    assert_eq!(sha256_hex(&agent.shared.cache.read_doc(&doc.sha256)?), doc.sha256);
    assert!(agent.shared.totals.lock().unwrap().chunks_fetched > 0, "fetched again, not read from the old cache");
    drop(agent);
    // The old PIN no longer opens it, and the room no longer takes it.
    let err = gavel_agent::agent::Agent::start(options(&s.voters[0].1)).await.err().expect("the old PIN opens nothing");
    assert!(format!("{err:#}").contains("does not unlock"), "{err:#}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tablet_whose_member_or_role_is_taken_away_drops_what_it_may_no_longer_read_online_or_when_it_comes_back() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    let public = s.upload_document("Công khai.pdf", pack_pdf(2, 16 * 1024, 1, None), &[]).await?;
    let members = s.upload_document("Dự thảo nghị quyết.pdf", pack_pdf(2, 16 * 1024, 2, None), &[("confidentiality", "members")]).await?;
    let secretary = s.sign_in(&s.secretary).await?;
    let held = |agent: &gavel_agent::agent::Agent| {
        agent.shared.state.borrow().as_ref().and_then(|st| st.document(members.id).map(|d| d.sha256.clone()))
    };
    let caches = [tempfile::tempdir()?, tempfile::tempdir()?];
    let mut agents = vec![];
    for (n, cache) in caches.iter().enumerate() {
        let agent = start_agent(server.quic_addr, &server.fingerprint, &s, n, cache.path()).await?;
        until("the pack is cached", LONG, || complete(&agent) && held(&agent).is_some_and(|v| agent.shared.cache.has(&v))).await?;
        agents.push(agent);
    }
    let fetch = |agent: &gavel_agent::agent::Agent, d: &Document| {
        let url = format!("http://{}/api/meetings/{}/documents/{}", agent.local_addr.unwrap(), s.meeting, d.id);
        let http = tablet_client(&agent.shared.local_key);
        async move { anyhow::Ok(http.get(url).send().await?.status().as_u16()) }
    };

    // Connected: no longer a member, the members' document leaves the tablet.
    let version = held(&agents[0]).unwrap();
    s.demote(&secretary, 0, Role::Delegate).await?;
    until("the first tablet drops the members' document", LONG, || held(&agents[0]).is_none() && !agents[0].shared.cache.has(&version))
        .await?;
    assert_eq!(fetch(&agents[0], &members).await?, 404);
    assert_eq!(fetch(&agents[0], &public).await?, 200, "what they may still read stays");

    // Away when it happened (and made an observer): the same when it comes back.
    let second = agents.remove(1);
    let version = held(&second).unwrap();
    drop(second);
    s.demote(&secretary, 1, Role::Observer).await?;
    let second = start_agent(server.quic_addr, &server.fingerprint, &s, 1, caches[1].path()).await?;
    until("the second tablet drops the members' document", LONG, || {
        second.shared.link.borrow().is_some() && held(&second).is_none() && !second.shared.cache.has(&version)
    })
    .await?;
    assert_eq!(fetch(&second, &members).await?, 404);
    until("the tablet knows its new role", LONG, || {
        second.shared.signed_in_as().is_some_and(|(a, _)| matches!(a, Actor::Participant { role: Role::Observer, .. }))
    })
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_taken_away_leaves_the_tablet_before_anything_else_is_fetched() -> anyhow::Result<()> {
    // Before, what a reader lost stayed until every listed document was
    // complete: a pass cut short (the link dropped, the disk full) left it
    // on a tablet that might then leave the room.
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let members = s.upload_document("Dự thảo nghị quyết.pdf", pack_pdf(2, 16 * 1024, 2, None), &[("confidentiality", "members")]).await?;
    let cache = tempfile::tempdir()?;
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    until("the pack is cached", LONG, || complete(&agent) && agent.shared.cache.has(&members.sha256)).await?;
    drop(agent);

    // While the tablet is away: it is no longer a member, and a large document arrives.
    let secretary = s.sign_in(&s.secretary).await?;
    s.demote(&secretary, 0, Role::Delegate).await?;
    let large = s.upload_document("Quy hoạch chi tiết.pdf", pack_pdf(96, 512 * 1024, 3, None), &[]).await?;

    // Back: by the time it fetches the new document, the lost one is gone.
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    let mut progress = agent.shared.progress.subscribe();
    tokio::time::timeout(LONG, async {
        while progress.borrow_and_update().current != large.title {
            progress.changed().await?;
        }
        anyhow::Ok(())
    })
    .await
    .map_err(|_| anyhow::anyhow!("the new document was never fetched"))??;
    assert!(!agent.shared.cache.has(&members.sha256), "the members' document was still on the tablet while the pack was fetched");
    until("the pack is cached", LONG, || complete(&agent) && agent.shared.cache.has(&large.sha256)).await?;
    Ok(())
}

/// A room in a data directory of its own (so it can be stopped and started
/// again there), one delegate, and their agent following it.
struct Restartable {
    data: tempfile::TempDir,
    server: TestServer,
    s: Assembly,
    agent: gavel_agent::agent::Agent,
    _cache: tempfile::TempDir,
}

impl Restartable {
    async fn start() -> anyhow::Result<Restartable> {
        let data = tempfile::tempdir()?;
        let server = TestServer::start_in(data.path(), |_| {}).await?;
        let s = Assembly::build(&server.url(""), 1).await?;
        let cache = tempfile::tempdir()?;
        let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
        until("the agent follows the room", LONG, || agent.shared.link.borrow().is_some()).await?;
        Ok(Restartable { data, server, s, agent, _cache: cache })
    }

    /// A tablet browser following the meeting through the agent, holding
    /// its snapshot.
    async fn browser(&self) -> anyhow::Result<Ws> {
        let mut ws = Ws::connect(self.agent.local_addr.unwrap(), Some(&self.agent.shared.local_key)).await?;
        ws.hello(self.s.meeting, None).await?;
        while ws.snapshot.is_none() {
            ws.recv().await?;
        }
        Ok(ws)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_given_while_the_room_is_away_waits_and_is_answered_once_it_is_back() -> anyhow::Result<()> {
    let room = Restartable::start().await?;
    let mut ws = room.browser().await?;
    let Restartable { data, server, s, agent, _cache } = room;

    // The room goes away; the delegate sends an opinion meanwhile.
    let addrs = server.addrs();
    server.stop().await?;
    let key = "opinion-while-away".to_string();
    let opinion = Command::AddOpinion {
        item: s.item,
        document: None,
        stance: gavel_shared::decision::Stance::Agree,
        text: "Đồng ý với tờ trình.".into(),
    };
    ws.send(&ClientMessage::Command { key: key.clone(), command: opinion }).await?;
    until("the agent notices the link is gone", LONG, || agent.shared.link.borrow().is_none()).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Back: the same socket gets the room's answer to that key, and the room
    // holds the opinion once.
    let _server = TestServer::start_again(data.path(), addrs).await?;
    let answer = tokio::time::timeout(LONG, async {
        loop {
            match ws.recv().await? {
                m @ (ServerMessage::Ack { .. } | ServerMessage::Error { .. }) => return anyhow::Ok(m),
                _ => continue,
            }
        }
    })
    .await??;
    assert!(matches!(&answer, ServerMessage::Ack { key: k, .. } if *k == key), "{answer:?}");
    let chair = s.sign_in(&s.chair).await?;
    let opinions = chair.state(s.meeting).await?.opinions;
    assert_eq!(opinions.iter().filter(|o| o.text == "Đồng ý với tờ trình.").count(), 1, "{opinions:?}");
    Ok(())
}

/// Commands given while the room is away go, once it is back, in the order
/// they were given: they went in any order, so a later opinion could be
/// recorded before an earlier one, and a later save of the minutes be
/// overwritten by an earlier one. And the backlog the room drops unread for
/// coming too fast goes again until every command is answered: before,
/// those dropped waited for ever. One given while the backlog goes waits
/// behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_given_while_the_room_is_away_go_in_order_and_each_is_answered() -> anyhow::Result<()> {
    let room = Restartable::start().await?;
    let mut ws = room.browser().await?;
    let Restartable { data, server, s, agent, _cache } = room;
    let addrs = server.addrs();
    server.stop().await?;
    until("the agent notices the link is gone", LONG, || agent.shared.link.borrow().is_none()).await?;
    let texts: Vec<String> = (1..=9).map(|n| format!("Ý kiến thứ {n}.")).collect();
    let opinion = |text: &String| Command::AddOpinion {
        item: s.item,
        document: None,
        stance: gavel_shared::decision::Stance::Agree,
        text: text.clone(),
    };
    for (n, text) in texts[..8].iter().enumerate() {
        ws.send(&ClientMessage::Command { key: format!("away-{n}"), command: opinion(text) }).await?;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Back, taking three messages a second (six at once): the backlog is
    // more than that, and the room drops what comes too fast unread, with a
    // "rate_limited" that names no key.
    let _server = TestServer::start_in(data.path(), |c| {
        (c.quic, c.http) = addrs;
        c.max_messages_per_second = 3;
    })
    .await?;
    // One more is given once the backlog has begun to go: it waits its turn.
    let mut answered = std::collections::HashSet::new();
    tokio::time::timeout(LONG, async {
        while answered.len() < texts.len() {
            match ws.recv().await? {
                ServerMessage::Ack { key, .. } => {
                    if answered.is_empty() {
                        ws.send(&ClientMessage::Command { key: "later".into(), command: opinion(&texts[8]) }).await?;
                    }
                    answered.insert(key);
                }
                ServerMessage::Error { key: Some(key), code, message } => anyhow::bail!("{key} refused: {code}: {message}"),
                _ => {}
            }
        }
        anyhow::Ok(())
    })
    .await
    .context("not every command was answered")??;
    let chair = s.sign_in(&s.chair).await?;
    let held: Vec<String> = chair.state(s.meeting).await?.opinions.iter().map(|o| o.text.clone()).collect();
    assert_eq!(held, texts, "taken once each, in the order given");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_pages_asked_for_with_any_query_string_are_kept_once() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let cache = tempfile::tempdir()?;
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    until("the agent follows the room", LONG, || agent.shared.link.borrow().is_some()).await?;
    let local = agent.local_addr.unwrap();
    let http = tablet_client(&agent.shared.local_key);
    let r = http.get(format!("http://{local}/")).send().await?;
    assert_eq!(r.status(), 200);
    assert!(r.text().await?.contains("<html"));
    let web = cache.path().join("web");
    let before = files_under(&web).len();
    assert!(before >= 1, "the UI's page is kept for offline use");
    // Another page the tablet opens may ask for these (an <img> carries no Origin).
    for n in 0..30 {
        for path in [format!("/?n={n}"), format!("/index.html?v={n}"), format!("/meeting/1?x={n}")] {
            assert_eq!(http.get(format!("http://{local}{path}")).send().await?.status(), 200, "{path}");
        }
    }
    assert_eq!(files_under(&web).len(), before, "{:?}", files_under(&web));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_the_room_cannot_give_does_not_hold_up_the_rest_of_the_pack() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let server = TestServer::start_in(data.path(), |_| {}).await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    // The current item's document comes first; its content is lost on the room.
    let lost = s.upload_document("Mất nội dung.pdf", pack_pdf(3, 32 * 1024, 7, None), &[]).await?;
    let add = Command::AddItem { title: "Mục hai".into(), presenter: String::new(), summary: String::new(), position: None };
    let item2 = ItemId(s.admin.command(s.meeting, "item2", &add).await?.body["result"]["id"].as_i64().unwrap());
    let a = s.admin.upload(s.meeting, item2, "Tờ trình.pdf", pack_pdf(3, 32 * 1024, 8, None), &[]).await?;
    assert_eq!(a.status, 201, "{a:?}");
    let good: Document = serde_json::from_value(a.body["document"].clone())?;
    std::fs::remove_file(data.path().join("documents").join(&lost.sha256))?;
    let _ = std::fs::remove_file(data.path().join("documents").join(format!("{}.chunks.json", lost.sha256)));

    let cache = tempfile::tempdir()?;
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    until("the other document is kept", LONG, || agent.shared.cache.has(&good.sha256)).await?;
    assert!(!agent.shared.cache.has(&lost.sha256));
    until("the refusal is told", LONG, || !agent.shared.progress.borrow().refused.is_empty()).await?;
    let p = agent.shared.progress.borrow().clone();
    assert_eq!((p.docs_done, p.docs_total), (1, 2), "{p:?}");
    assert!(p.refused.len() == 1 && p.refused[0].title == "Mất nội dung" && !p.refused[0].lasting, "{p:?}");
    assert!(agent.shared.link.borrow().is_some() && agent.shared.fatal.borrow().is_none());
    // A tablet being prepared (--once) does not wait for ever: after a few
    // tries it says which document the room would not give, and fails.
    let other = tempfile::tempdir()?;
    let out = tokio::time::timeout(
        LONG,
        tokio::process::Command::new(workspace_binary("gavel-agent")?)
            .args(s.join_args(0, server.quic_addr, &server.fingerprint, &other.path().to_string_lossy()))
            .arg("--once")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .context("--once waited for ever on a refused document")??;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("the pack is incomplete: 1 of 2 documents kept; the room did not give \"Mất nội dung\""), "{stderr}");
    // Its content back on the room, it is fetched when its wait is over,
    // even when the meeting changed during the wait and nothing after.
    let add = Command::AddItem { title: "Mục ba".into(), presenter: String::new(), summary: String::new(), position: None };
    s.admin.command(s.meeting, "item3", &add).await?;
    std::fs::write(data.path().join("documents").join(&lost.sha256), pack_pdf(3, 32 * 1024, 7, None))?;
    until("the refused document is kept once the room has it again", LONG, || agent.shared.cache.has(&lost.sha256)).await?;
    until("the refusal is over", LONG, || agent.shared.progress.borrow().refused.is_empty()).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_server_answers_only_a_browser_opened_with_the_agents_link() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let doc = s.upload_document("Tờ trình.pdf", pack_pdf(2, 16 * 1024, 4, None), &[]).await?;
    let cache = tempfile::tempdir()?;
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    until("the pack is cached", LONG, || complete(&agent)).await?;
    let local = agent.local_addr.unwrap();
    let paths = ["/".to_string(), "/api/session".into(), format!("/api/meetings/{}/documents/{}", s.meeting, doc.id), "/api/agent".into()];

    // Another app on the tablet, or one with a made-up key, reads nothing…
    let other_app = reqwest::Client::new();
    for path in &paths {
        assert_eq!(other_app.get(format!("http://{local}{path}")).send().await?.status(), 401, "{path}");
    }
    let forged = format!("http://{local}/?tablet={}", "0".repeat(64));
    assert_eq!(other_app.get(&forged).send().await?.status(), 401);
    assert!(Ws::connect(local, None).await.is_err(), "the meeting's socket is refused too");
    assert!(Ws::connect(local, Some(&"0".repeat(64))).await.is_err());

    // …while the browser opened with the agent's link keeps its key as a
    // cookie, under the agent's own host name (browsers take *.localhost
    // for loopback), and the address it shows no longer carries it.
    let url = agent.local_url().unwrap();
    let own = url.strip_prefix("http://").and_then(|u| u.split(':').next()).unwrap().to_string();
    assert!(own.ends_with(".localhost"), "{url}");
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let browser =
        reqwest::Client::builder().cookie_provider(jar.clone()).redirect(reqwest::redirect::Policy::none()).resolve(&own, local).build()?;
    let first = browser.get(&url).send().await?;
    assert_eq!(first.status(), 303);
    assert_eq!(first.headers()["location"], "/");
    let cookie = first.headers()["set-cookie"].to_str()?.to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    for path in &paths {
        assert_eq!(browser.get(format!("http://{own}:{}{path}", local.port())).send().await?.status(), 200, "{path}");
    }
    // Cookies are kept per host, not per port: under 127.0.0.1 this one
    // would reach any other program's server there. Opened on 127.0.0.1,
    // the link sends the browser to the agent's own name first.
    let on_loopback = browser.get(format!("http://{local}/?tablet={}", agent.shared.local_key)).send().await?;
    assert_eq!(on_loopback.status(), 303);
    assert!(on_loopback.headers().get("set-cookie").is_none());
    assert_eq!(on_loopback.headers()["location"].to_str()?, url);
    assert_eq!(browser.get(format!("http://{local}/api/session")).send().await?.status(), 401, "no cookie under 127.0.0.1");
    // Redirects stay on this server.
    let odd = browser.get(format!("http://{own}:{}//evil.example/?tablet={}", local.port(), agent.shared.local_key)).send().await?;
    assert_eq!(odd.headers()["location"], "/evil.example/");

    // While the agent is down, another program of the tablet takes its
    // port, and the tab the browser restores sends it the cookie…
    let old_key = agent.shared.local_key.clone();
    drop(agent);
    let impostor = loop {
        match tokio::net::TcpListener::bind(local).await {
            Ok(l) => break l,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await, // the agent's listener is going
        }
    };
    let capture = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut conn, _) = impostor.accept().await?;
        let mut seen = vec![0u8; 8192];
        let n = conn.read(&mut seen).await?;
        conn.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n").await?;
        anyhow::Ok(String::from_utf8_lossy(&seen[..n]).into_owned())
    });
    let restored_tab = reqwest::Client::builder().cookie_provider(jar).resolve(&own, local).build()?;
    restored_tab.get(format!("http://{own}:{}/", local.port())).send().await?;
    let captured = capture.await??;
    assert!(captured.contains(&old_key), "the cookie went to whoever held the port");
    // …but the agent, started again (with its PIN), has a key of its own:
    // the one captured opens nothing, as a cookie, a bearer or a link, and
    // the new link has a host name of its own, so the old cookie is not
    // even sent to it.
    let again = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    let at = again.local_addr.unwrap();
    let new_url = again.local_url().unwrap();
    assert!(!new_url.contains(&old_key) && !new_url.contains(&own), "{new_url}");
    assert!(!cache.path().join("browser.key").exists(), "the key is kept on no disk");
    let new_own = new_url.strip_prefix("http://").and_then(|u| u.split(':').next()).unwrap().to_string();
    let replay = reqwest::Client::builder().resolve(&new_own, at).redirect(reqwest::redirect::Policy::none()).build()?;
    let as_cookie = replay.get(format!("http://{new_own}:{}/api/session", at.port())).header("cookie", format!("gavel_tablet={old_key}"));
    assert_eq!(as_cookie.send().await?.status(), 401, "the captured key as a cookie");
    assert_eq!(tablet_client(&old_key).get(format!("http://{at}/api/session")).send().await?.status(), 401, "as a bearer");
    assert_eq!(replay.get(format!("http://{at}/?tablet={old_key}")).send().await?.status(), 401, "as the link");
    // The new link works as the first did.
    let browser = reqwest::Client::builder().cookie_store(true).resolve(&new_own, at).build()?;
    assert_eq!(browser.get(&new_url).send().await?.status(), 200);
    assert_eq!(browser.get(format!("http://{new_own}:{}/api/session", at.port())).send().await?.status(), 200);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_whose_page_was_closed_while_the_room_was_away_is_not_sent_later() -> anyhow::Result<()> {
    let Restartable { data, server, s, agent, _cache } = Restartable::start().await?;
    let addrs = server.addrs();
    server.stop().await?;
    until("the agent notices the link is gone", LONG, || agent.shared.link.borrow().is_none()).await?;
    // The delegate writes an opinion, then reloads the page (and would send
    // it again under a new key): the first is not sent when the room is back.
    let mut ws = Ws::connect(agent.local_addr.unwrap(), Some(&agent.shared.local_key)).await?;
    ws.hello(s.meeting, None).await?;
    let opinion = Command::AddOpinion {
        item: s.item,
        document: None,
        stance: gavel_shared::decision::Stance::Agree,
        text: "Gửi rồi tải lại trang.".into(),
    };
    ws.send(&ClientMessage::Command { key: "before-reload".into(), command: opinion }).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(ws);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _server = TestServer::start_again(data.path(), addrs).await?;
    until("the agent is back", LONG, || agent.shared.link.borrow().is_some()).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let chair = s.sign_in(&s.chair).await?;
    assert!(chair.state(s.meeting).await?.opinions.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mistyped_pin_at_the_first_join_says_so_and_the_right_one_then_joins() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let cache = tempfile::tempdir()?;
    let wrong = if s.voters[0].1 == "000000" { "111111" } else { "000000" };
    let agent = start_agent_as(server.quic_addr, &server.fingerprint, &s, &(s.voters[0].0, wrong.to_string()), cache.path()).await?;
    until("the agent gives up", LONG, || agent.shared.fatal.borrow().is_some()).await?;
    let why = agent.shared.fatal.borrow().clone().unwrap();
    assert!(why.contains("PIN") && !why.contains("deleted") && !why.contains("ended"), "{why}");
    drop(agent);
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    until("the right PIN joins", LONG, || agent.shared.link.borrow().is_some()).await?;
    Ok(())
}

/// A document damaged on the tablet's storage (a bad flash sector) was
/// served cut at the same place every time and never fetched again: its
/// seal no longer opens, so it leaves the cache, the room serves it
/// meanwhile, and it is fetched again whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_damaged_in_the_cache_is_fetched_again() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let doc = s.upload_document("Báo cáo.pdf", pack_pdf(8, 64 * 1024, 5, None), &[]).await?;
    let cache = tempfile::tempdir()?;
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    until("the pack is in the cache", LONG, || complete(&agent)).await?;
    let data = files_under(cache.path()).into_iter().find(|p| p.extension().is_some_and(|e| e == "data")).context("no data file")?;
    let mut bytes = std::fs::read(&data)?;
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&data, &bytes)?;

    let local = agent.local_addr.expect("a local server");
    let url = format!("http://{local}/api/meetings/{}/documents/{}", s.meeting, doc.id);
    let http = tablet_client(&agent.shared.local_key);
    // Cut off: before the answer's head went out (the damaged chunk was
    // read first, as on a loaded machine) or during its body.
    let damaged = match http.get(&url).send().await {
        Ok(r) => r.bytes().await.map_err(anyhow::Error::from),
        Err(e) => Err(e.into()),
    };
    assert!(damaged.is_err() || damaged.is_ok_and(|b| sha256_hex(&b) != doc.sha256), "the damaged copy was served as whole");
    until("the document is whole in the cache again", LONG, || {
        agent.shared.cache.read_doc(&doc.sha256).is_ok_and(|b| sha256_hex(&b) == doc.sha256)
    })
    .await?;
    let again = http.get(&url).send().await?;
    assert_eq!(again.status(), 200);
    assert_eq!(sha256_hex(&again.bytes().await?), doc.sha256);
    Ok(())
}

/// A document kept on the tablet while public, then restricted by the
/// secretary (the same file): the tablet fetches the reader's stamped copy
/// and serves that, not the unnamed original it held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_restricted_after_it_was_kept_is_served_as_the_readers_copy() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let doc = s.upload_document("Dự thảo nghị quyết.pdf", tiny_pdf("Du thao nghi quyet"), &[]).await?;
    let cache = tempfile::tempdir()?;
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    until("the public version is kept", WAIT, || agent.shared.cache.has(&doc.sha256) && agent.shared.progress.borrow().complete()).await?;
    let restrict =
        Command::UpdateDocument { document: doc.id, title: doc.title.clone(), confidentiality: Confidentiality::Members, readers: vec![] };
    let a = s.admin.command(s.meeting, "restrict", &restrict).await?;
    assert_eq!(a.status, 200, "{a:?}");
    until("the reader's copy is kept", WAIT, || agent.shared.cache.manifest(&doc.sha256).is_some_and(|m| m.copy_of.is_some())).await?;
    let local = agent.local_addr.expect("a local server");
    let r = tablet_client(&agent.shared.local_key)
        .get(format!("http://{local}/api/meetings/{}/documents/{}", s.meeting, doc.id))
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    let file = cache.path().join("served.pdf");
    std::fs::write(&file, r.bytes().await?)?;
    let text = pdftotext(&file)?;
    let name = name_of(&s, s.voters[0].0).await?;
    assert!(text.contains(&format!("Bản của {name}")), "the reader's name on the page: {text}");
    Ok(())
}

/// A browser that stops reading documents the tablet relays from the room
/// (a tab put in the background, an app switched away from) holds no more
/// than one answer's share of the link: agenda moves still reach the
/// tablet, and the stalled answer is given up, cut short, not left to hold
/// the link until the room gives up after a minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_that_stops_reading_relayed_documents_does_not_stall_the_link() -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    // Two members-only documents of 16 MiB, and the meeting closed: a
    // tablet keeps no restricted document of a closed meeting, so both are
    // relayed from the room whenever its browser asks (their copies for
    // this reader made beforehand, so that they flow at once).
    let members = [("confidentiality", "members")];
    let mut docs = vec![];
    for n in 0..2 {
        docs.push(s.upload_document(&format!("Phụ lục {n}.pdf"), pack_pdf(64, 256 * 1024, 40 + n, None), &members).await?);
    }
    let reader = s.sign_in(&s.voters[0]).await?;
    for d in &docs {
        let r = reader.raw_get(&format!("/api/meetings/{}/documents/{}", s.meeting, d.id)).send().await?;
        assert_eq!(r.status(), 200);
        r.bytes().await?;
    }
    assert_eq!(s.sign_in(&s.chair).await?.command(s.meeting, "close", &Command::CloseMeeting).await?.status, 200);
    let cache = tempfile::tempdir()?;
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    let closed = |st: &gavel_shared::MeetingState| st.meeting.status == MeetingStatus::Closed && st.document(docs[1].id).is_some();
    until("online", WAIT, || {
        agent.shared.link.borrow().is_some()
            && agent.shared.progress.borrow().complete()
            && agent.shared.state.borrow().as_ref().is_some_and(closed)
    })
    .await?;
    assert!(docs.iter().all(|d| !agent.shared.cache.has(&d.sha256)), "relayed, not kept");
    let local = agent.local_addr.expect("a local server");
    let mut stalled = vec![];
    for d in &docs {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_recv_buffer_size(4096)?;
        let mut tcp = socket.connect(local).await?;
        let request = format!(
            "GET /api/meetings/{}/documents/{} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Bearer {}\r\n\r\n",
            s.meeting, d.id, agent.shared.local_key
        );
        tcp.write_all(request.as_bytes()).await?;
        stalled.push(tcp); // and never read
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    // The room goes on (the secretary edits the minutes): the tablet hears
    // it though its browser reads nothing.
    let secretary = s.sign_in(&s.secretary).await?;
    let edit = Command::EditMinutes { section: gavel_shared::minutes::SectionKey::Conclusion, text: "Kết luận.".into() };
    let moved = secretary.command(s.meeting, "minutes", &edit).await?;
    let seq = moved.body["seq"].as_u64().with_context(|| format!("{moved:?}"))?;
    until("the event reaches the tablet", Duration::from_secs(5), || agent.shared.state.borrow().as_ref().is_some_and(|st| st.seq >= seq))
        .await?;
    // The first stalled answer is given up (after 10 s with nothing
    // taken): read after that, it ends short, the connection closed.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let mut got = vec![];
    let mut first = stalled.remove(0);
    let read = tokio::time::timeout(Duration::from_secs(60), first.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "the stalled answer was not given up");
    assert!((got.len() as u64) < docs[0].size, "{} of {} bytes: cut short", got.len(), docs[0].size);
    Ok(())
}

/// A document the tablet has not kept yet is relayed from the room, and
/// the browser is told to keep no copy of it, as of those from the vault:
/// the room lets a browser keep a public document, and on a tablet that
/// copy would outlive the tablet's revocation, or the document's being
/// restricted later, both of which empty the vault.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_relayed_before_it_is_kept_is_not_kept_by_the_browser() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let cache = tempfile::tempdir()?;
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    until("online", WAIT, || agent.shared.link.borrow().is_some() && agent.shared.state.borrow().is_some()).await?;
    // Large enough that the tablet is still fetching it when its browser asks.
    let doc = s.upload_document("Báo cáo tổng hợp.pdf", pack_pdf(192, 256 * 1024, 7, None), &[]).await?;
    until("listed on the tablet", WAIT, || agent.shared.state.borrow().as_ref().is_some_and(|st| st.document(doc.id).is_some())).await?;
    assert!(!agent.shared.cache.fits(&doc), "already kept: the relay is not what answers");
    let local = agent.local_addr.expect("a local server");
    let r = tablet_client(&agent.shared.local_key)
        .get(format!("http://{local}/api/meetings/{}/documents/{}", s.meeting, doc.id))
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store", "{:?}", r.headers());
    // The room's answer relayed (the tablet's own copies name no file), not
    // one the tablet finished keeping in the meantime.
    assert!(r.headers().contains_key("content-disposition"), "served from the tablet's copy: {:?}", r.headers());
    assert_eq!(sha256_hex(&r.bytes().await?), doc.sha256);
    Ok(())
}

/// `server` started again where it was, its new sessions lasting `seconds`
/// (those made before keep their hours: the staff's, in these tests).
async fn with_short_sessions(server: TestServer, data: &std::path::Path, seconds: i64) -> anyhow::Result<TestServer> {
    let addrs = server.addrs();
    server.stop().await?;
    TestServer::start_in(data, |c| {
        (c.quic, c.http) = addrs;
        c.session_ttl = time::Duration::seconds(seconds);
    })
    .await
}

/// The room's sessions last `--session-hours`, and a tablet's link outlives
/// them when the Wi-Fi holds (a meeting over two days, the tablets left on).
/// The link itself needs no new sign-in, but each document and each request
/// relayed to the room does: the agent signs in again with its PIN when the
/// room says the session ended, instead of being refused from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_ends_while_the_link_holds_is_signed_in_again() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let server = TestServer::start_in(data.path(), |_| {}).await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    s.upload_document("Tờ trình.pdf", pack_pdf(2, 16 * 1024, 4, None), &[]).await?;
    // The staff's sessions, made before, keep their hours; the tablet's are short.
    let hours = 6;
    let server = with_short_sessions(server, data.path(), hours).await?;
    let cache = tempfile::tempdir()?;
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    until("the pack is cached", LONG, || complete(&agent)).await?;
    let links = || agent.shared.links_made.load(std::sync::atomic::Ordering::Relaxed);
    let first = links();

    // Past the session's end, a document added is fetched…
    tokio::time::sleep(Duration::from_secs(hours as u64 + 1)).await;
    let added = s.upload_document("Phụ lục.pdf", pack_pdf(3, 16 * 1024, 5, None), &[]).await?;
    until("the document added after the session ended is cached", LONG, || {
        agent.shared.progress.borrow().docs_total == 2 && complete(&agent)
    })
    .await?;
    assert!(links() > first, "on a new link, signed in again");
    let local = agent.local_addr.unwrap();
    let http = tablet_client(&agent.shared.local_key);
    let r = http.get(format!("http://{local}/api/meetings/{}/documents/{}", s.meeting, added.id)).send().await?;
    assert_eq!(r.status(), 200);
    assert_eq!(sha256_hex(&r.bytes().await?), added.sha256);

    // …and, past the new session's end too, what the browser asks the room
    // through the agent is answered (after a new sign-in), not refused.
    let second = links();
    tokio::time::sleep(Duration::from_secs(hours as u64 + 1)).await;
    let r = http.get(format!("http://{local}/api/session")).send().await?;
    let status = r.status();
    let body = r.text().await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body)?["name"], "Đại biểu 0000", "{body}");
    assert!(links() > second, "signed in again");
    Ok(())
}

/// A power cut just after a tablet's first join can leave the file that
/// holds its cache's key empty. The agent then starts the cache again
/// (nothing kept could be opened without the key) instead of refusing to
/// start until someone deletes the cache by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_whose_cache_key_was_cut_short_starts_its_cache_again() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let doc = s.upload_document("Tờ trình.pdf", pack_pdf(2, 16 * 1024, 4, None), &[]).await?;
    let cache = tempfile::tempdir()?;
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    until("the pack is cached", LONG, || complete(&agent)).await?;
    drop(agent);
    for cut in [0, 40] {
        let key = cache.path().join("key.json");
        let whole = std::fs::read(&key)?;
        std::fs::write(&key, &whole[..cut])?;
        let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
        until("the pack is cached again", LONG, || complete(&agent)).await?;
        let fetched = agent.shared.totals.lock().unwrap().chunks_fetched;
        assert!(fetched > 0, "fetched again under a new key, after a key cut at {cut} bytes");
        let r = tablet_client(&agent.shared.local_key)
            .get(format!("http://{}/api/meetings/{}/documents/{}", agent.local_addr.unwrap(), s.meeting, doc.id))
            .send()
            .await?;
        assert_eq!(sha256_hex(&r.bytes().await?), doc.sha256);
    }
    Ok(())
}

/// The room answers with another certificate (its data directory was
/// replaced, or another machine took its address): the agent is refused
/// until someone acts. It goes on serving what the tablet keeps, tells the
/// tablet's browser why, and follows the right room when it is back; before,
/// it stopped, and the documents and agenda with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tablet_the_room_refuses_goes_on_serving_what_it_keeps_and_says_why() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let server = TestServer::start_in(data.path(), |_| {}).await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let doc = s.upload_document("Tờ trình.pdf", pack_pdf(2, 16 * 1024, 4, None), &[]).await?;
    let cache = tempfile::tempdir()?;
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    until("the pack is cached", LONG, || complete(&agent)).await?;
    let local = agent.local_addr.unwrap();
    let http = tablet_client(&agent.shared.local_key);
    let mut ws = Ws::connect(local, Some(&agent.shared.local_key)).await?;
    ws.hello(s.meeting, None).await?;
    /// The agent's next word on the room's link, with or without a refusal.
    async fn room_link(ws: &mut Ws, refused: bool) -> anyhow::Result<(bool, Option<String>)> {
        loop {
            if let ServerMessage::RoomLink { online, refused: why, refused_code } = ws.recv().await?
                && why.is_some() == refused
            {
                return Ok((online, why.map(|w| format!("refused by the room: {w} [{}]", refused_code.unwrap_or_default()))));
            }
        }
    }

    let addrs = server.addrs();
    server.stop().await?;
    let elsewhere = tempfile::tempdir()?;
    let other = TestServer::start_again(elsewhere.path(), addrs).await?;
    until("the agent says the room refuses it", LONG, || agent.shared.stuck.borrow().is_some() || agent.shared.fatal.borrow().is_some())
        .await?;
    assert_eq!(agent.shared.fatal.borrow().clone(), None, "the agent gave up");
    let why = format!("refused by the room: {}", agent.shared.stuck.borrow().clone().unwrap());
    assert!(why.contains("not the one pinned") && why.ends_with("[wrong_room]"), "{why}");
    let (online, told) = room_link(&mut ws, true).await?;
    assert!(!online && told.as_deref() == Some(why.as_str()), "{told:?}");
    let r = http.get(format!("http://{local}/api/meetings/{}/documents/{}", s.meeting, doc.id)).send().await?;
    assert_eq!(r.status(), 200);
    assert_eq!(sha256_hex(&r.bytes().await?), doc.sha256, "the document kept, still served");
    let status: serde_json::Value = http.get(format!("http://{local}/api/agent")).send().await?.json().await?;
    assert_eq!(status["refused"].as_str(), Some(why.as_str()));

    // The right room back at its address: followed again, the refusal over.
    other.stop().await?;
    let _server = TestServer::start_again(data.path(), addrs).await?;
    until("the agent links up again", LONG, || agent.shared.link.borrow().is_some()).await?;
    assert_eq!(agent.shared.stuck.borrow().clone(), None);
    let (online, _) = room_link(&mut ws, false).await?;
    assert!(online);
    Ok(())
}

/// A tablet joined for the first time, whose PIN the secretary then
/// replaces (its card was lost), and whose session then ends: the PIN it
/// holds is no longer the participant's, so what it keeps is deleted, as at
/// a later start. Before, it went on serving the documents, and tried the
/// old PIN again and again, until the room locked the participant's sign-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_tablet_whose_pin_was_replaced_forgets_its_pack_when_its_session_ends() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let server = TestServer::start_in(data.path(), |_| {}).await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let doc = s.upload_document("Tờ trình.pdf", pack_pdf(2, 16 * 1024, 4, None), &[]).await?;
    let _server = with_short_sessions(server, data.path(), 6).await?;
    let cache = tempfile::tempdir()?;
    let agent = start_agent(_server.quic_addr, &_server.fingerprint, &s, 0, cache.path()).await?;
    until("the pack is cached", LONG, || complete(&agent)).await?;
    let a = s.admin.command(s.meeting, "new-pin", &Command::ResetPins { participants: vec![s.voters[0].0] }).await?;
    let new_pin = a.body["result"]["pins"][0]["pin"].as_str().expect("a new PIN").to_string();
    // Past the session's end, a document added makes the agent sign in again.
    tokio::time::sleep(Duration::from_secs(7)).await;
    s.upload_document("Phụ lục.pdf", pack_pdf(2, 16 * 1024, 5, None), &[]).await?;
    until("the agent gives up", LONG, || agent.shared.fatal.borrow().is_some() || agent.shared.stuck.borrow().is_some()).await?;
    let why = agent.shared.fatal.borrow().clone().context("the agent went on, refused")?;
    assert!(why.contains("deleted"), "{why}");
    assert!(!agent.shared.cache.has(&doc.sha256), "what the old PIN opened is gone");
    // One try with the old PIN, not enough to lock the sign-in: the new one works.
    let mut http = Http::for_base(&_server.url(""));
    let a = http.sign_in(s.meeting, s.voters[0].0, &new_pin).await?;
    assert_eq!(a.status, 200, "{a:?}");
    Ok(())
}

/// A tablet used for one meeting, then for another: the first meeting's
/// pack (its restricted documents too, when the agent was stopped before
/// that meeting closed) is sealed only by a 6-digit PIN, and was kept for
/// good. An agent starting now deletes the packs no agent has used for 30
/// days, and leaves the others, and one an agent holds, alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packs_left_unused_for_a_month_are_deleted_at_the_next_start() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    s.upload_document("Tờ trình.pdf", pack_pdf(2, 16 * 1024, 4, None), &[]).await?;
    let home = tempfile::tempdir()?;
    let root = home.path().join("gavel-agent");
    let month_ago = std::time::SystemTime::now() - Duration::from_secs(31 * 24 * 3600);
    let pack = |name: &str, old: bool| -> anyhow::Result<std::path::PathBuf> {
        let dir = root.join(name);
        std::fs::create_dir_all(dir.join("docs"))?;
        std::fs::write(dir.join("docs").join("sealed"), b"sealed chunks")?;
        std::fs::write(dir.join("state.json"), b"sealed state")?;
        if old {
            for f in [dir.join("docs").join("sealed"), dir.join("docs"), dir.join("state.json"), dir.clone()] {
                std::fs::File::open(&f)?.set_modified(month_ago)?;
            }
        }
        Ok(dir)
    };
    let (old, recent, held) =
        (pack("0123456789abcdef-m7-p3", true)?, pack("0123456789abcdef-m8-p3", false)?, pack("fedcba9876543210-m2-p5", true)?);
    // An agent still runs on this one (offline for a month): its lock is taken.
    let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(held.join("agent.lock"))?;
    lock.lock()?;
    std::fs::File::open(&held)?.set_modified(month_ago)?;
    std::fs::File::open(held.join("agent.lock"))?.set_modified(month_ago)?;

    let code = format!("{}-{}-{}", s.meeting, s.voters[0].0, s.voters[0].1);
    let out = tokio::process::Command::new(workspace_binary("gavel-agent")?)
        .args(["join", "--code", &code, "--server", &server.quic_addr.to_string(), "--fingerprint", &server.fingerprint, "--once"])
        .env("XDG_CACHE_HOME", home.path())
        .output()
        .await?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!old.exists(), "the pack unused for a month is deleted");
    assert!(recent.join("docs").join("sealed").exists(), "a pack used lately stays");
    assert!(held.join("docs").join("sealed").exists(), "a pack an agent holds stays");
    let own = root.join(format!("{}-m{}-p{}", &server.fingerprint[..16], s.meeting, s.voters[0].0));
    assert!(own.join("key.json").exists(), "the agent's own pack, in {}", own.display());
    drop(lock);
    Ok(())
}
