//! The room's defences: PIN guessing slowed then locked, a lost tablet's
//! sessions revoked (and its meeting pack deleted by its agent), state
//! secrets refused unless the room is set up for them.

use anyhow::Context;
use gavel_shared::model::*;
use gavel_shared::protocol::{ClientMessage, Command, NewParticipant, ServerMessage};
use gavel_tests::*;
use serde_json::json;
use std::time::Duration;

async fn try_pin(http: &Http, meeting: MeetingId, who: ParticipantId, pin: &str) -> anyhow::Result<Answer> {
    http.post("/api/session", &json!({"meeting": meeting, "participant": who, "pin": pin})).await
}

#[tokio::test]
async fn guessing_a_pin_is_slowed_then_locked_until_the_secretary_unlocks_it() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let server = TestServer::start_in(data.path(), |c| {
        c.sign_in_limits = gavel_server::throttle::Limits { free_attempts: 2, lock_after: 4, per_address: 100 };
    })
    .await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let (who, pin) = s.voters[0].clone();
    let http = Http::for_base(&server.url(""));
    for _ in 0..2 {
        assert_eq!(try_pin(&http, s.meeting, who, "000000").await?.code(), "bad_credentials");
    }
    // Two wrong PINs: the next attempt must wait a second, even with the right PIN.
    let a = try_pin(&http, s.meeting, who, &pin).await?;
    assert_eq!((a.status, a.code()), (429, "too_many_attempts"), "{a:?}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(try_pin(&http, s.meeting, who, "111111").await?.code(), "bad_credentials");
    assert_eq!(try_pin(&http, s.meeting, who, &pin).await?.code(), "too_many_attempts", "the wait doubled");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(try_pin(&http, s.meeting, who, "222222").await?.code(), "bad_credentials");
    // Four wrong PINs in a row: locked, whatever the wait.
    tokio::time::sleep(Duration::from_millis(4100)).await;
    let a = try_pin(&http, s.meeting, who, &pin).await?;
    assert_eq!((a.status, a.code()), (423, "sign_in_locked"), "{a:?}");
    // The lock survives a restart.
    server.stop().await?;
    let server = TestServer::start_in(data.path(), |c| {
        c.sign_in_limits = gavel_server::throttle::Limits { free_attempts: 2, lock_after: 4, per_address: 100 };
    })
    .await?;
    let http = Http::for_base(&server.url(""));
    assert_eq!(try_pin(&http, s.meeting, who, &pin).await?.code(), "sign_in_locked");
    // Nobody signed in may lift it; the secretary may.
    let secretary = {
        let mut c = Http::for_base(&server.url(""));
        c.sign_in(s.meeting, s.secretary.0, &s.secretary.1).await?;
        c
    };
    let anonymous = Http::for_base(&server.url(""));
    let refused = anonymous.post(&format!("/api/meetings/{}/participants/{}/unlock", s.meeting, who), &json!({})).await?;
    assert_eq!(refused.status, 401);
    let a = secretary.post(&format!("/api/meetings/{}/participants/{}/unlock", s.meeting, who), &json!({})).await?;
    assert_eq!(a.status, 200, "{a:?}");
    let a = try_pin(&http, s.meeting, who, &pin).await?;
    assert_eq!(a.status, 200, "{a:?}");
    Ok(())
}

#[tokio::test]
async fn one_address_guessing_across_participants_is_refused_for_a_while() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let server = TestServer::start_in(data.path(), |c| {
        c.sign_in_limits = gavel_server::throttle::Limits { free_attempts: 10, lock_after: 50, per_address: 3 };
    })
    .await?;
    let s = Assembly::build(&server.url(""), 4).await?;
    let http = Http::for_base(&server.url(""));
    for v in &s.voters[..3] {
        assert_eq!(try_pin(&http, s.meeting, v.0, "999999").await?.code(), "bad_credentials");
    }
    let a = try_pin(&http, s.meeting, s.voters[3].0, &s.voters[3].1).await?;
    assert_eq!((a.status, a.code()), (429, "too_many_attempts"), "{a:?}");
    Ok(())
}

/// Staff passwords are guessed within the same per-address limit as PINs,
/// sent all at once or one after another: each check is an argon2 run on
/// the hashing slots the tablets' sign-ins share, and a device flooding
/// the staff sign-in held every sign-in in the room up behind its queue.
#[tokio::test]
async fn one_address_guessing_staff_passwords_is_refused_for_a_while_even_all_at_once() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let server = TestServer::start_in(data.path(), |c| {
        c.sign_in_limits = gavel_server::throttle::Limits { free_attempts: 10, lock_after: 50, per_address: 3 };
    })
    .await?;
    let http = Http::for_base(&server.url(""));
    let guess = |n: usize| {
        let http = &http;
        async move { http.post("/api/staff/session", &json!({"username": "admin", "password": format!("sai-{n}")})).await }
    };
    let answers = futures_util::future::try_join_all((0..8).map(guess)).await?;
    let codes: Vec<&str> = answers.iter().map(|a| a.code()).collect();
    assert_eq!(codes.iter().filter(|c| **c == "bad_credentials").count(), 3, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == "too_many_attempts").count(), 5, "{codes:?}");
    // The right password too, from this address, for the rest of the window.
    let a = http.post("/api/staff/session", &json!({"username": "admin", "password": ADMIN_PASSWORD})).await?;
    assert_eq!((a.status, a.code()), (429, "too_many_attempts"), "{a:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_tablet_is_cut_off_and_its_agent_deletes_the_pack() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    let doc = s.upload_document("Tờ trình.pdf", pack_pdf(4, 64 * 1024, 3, None), &[]).await?;
    let cache = tempfile::tempdir()?;
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    until("the pack is cached", WAIT, || agent.shared.cache.has(&doc.sha256) && agent.shared.progress.borrow().complete()).await?;
    // The same person's browser, and another delegate's.
    let browser = s.sign_in(&s.voters[0]).await?;
    let token = browser.token.clone().unwrap();
    let mut ws = Ws::connect(server.addr, Some(&token)).await?;
    ws.hello(s.meeting, None).await?;
    let other = s.sign_in(&s.voters[1]).await?;
    // The tablet's own browser, through its agent.
    let mut local = Ws::connect(agent.local_addr.expect("a local server"), Some(&agent.shared.local_key)).await?;
    local.hello(s.meeting, None).await?;

    let secretary = s.sign_in(&s.secretary).await?;
    let a = secretary.post(&format!("/api/meetings/{}/participants/{}/revoke", s.meeting, s.voters[0].0), &json!({})).await?;
    assert_eq!(a.status, 200, "{a:?}");
    assert!(a.body["sessions"].as_u64().unwrap() >= 2, "{a:?}");

    // Open connections close at once, with the reason.
    assert_eq!(ws.next_error().await.context("closed without saying why")?, "revoked");
    assert_eq!(browser.get("/api/session").await?.status, 401, "the next request is refused");
    assert_eq!(other.get("/api/session").await?.status, 200, "others keep their sessions");
    // The agent deletes what it held, and says why, to its browser too:
    // that leaves the meeting instead of showing it "reconnecting".
    assert_eq!(local.next_error().await.context("the tablet's browser was not told")?, "revoked");
    until("the agent gives up", WAIT, || agent.shared.fatal.borrow().is_some()).await?;
    let why = agent.shared.fatal.borrow().clone().unwrap();
    assert!(why.contains("deleted"), "{why}");
    assert!(!agent.shared.cache.has(&doc.sha256));
    let left: Vec<String> = files_under(cache.path()).iter().map(|p| p.display().to_string()).collect();
    let kept = |p: &String| p.contains("/docs/") || p.contains("/chunks/") || p.ends_with("state.json") || p.ends_with("session.json");
    assert!(!left.iter().any(kept), "no chunk, manifest, state or session is left: {left:?}");
    Ok(())
}

/// A connection that follows a meeting stays the person it followed as:
/// someone holding a lost tablet's session who signs in again on the same
/// connection with a PIN of their own would otherwise keep the feed of the
/// tablet's owner (titles of the documents only they read) past its
/// revocation, matched against the new name.
#[tokio::test]
async fn a_following_connection_cannot_sign_in_as_someone_else_and_outlive_a_revocation() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    let lost = s.sign_in(&s.voters[0]).await?;
    let mut ws = Ws::connect(server.addr, lost.token.as_deref()).await?;
    ws.hello(s.meeting, None).await?;
    let (other, pin) = s.voters[1].clone();
    ws.send(&ClientMessage::SignIn { meeting: s.meeting, participant: other, pin: pin.clone(), remote: false }).await?;
    assert_eq!(ws.next_error().await?, "already_following");
    ws.send(&ClientMessage::Resume { token: s.sign_in(&s.voters[1]).await?.token.unwrap() }).await?;
    assert_eq!(ws.next_error().await?, "already_following");

    let secretary = s.sign_in(&s.secretary).await?;
    let a = secretary.post(&format!("/api/meetings/{}/participants/{}/revoke", s.meeting, s.voters[0].0), &json!({})).await?;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(ws.next_error().await.context("the connection was not cut off")?, "revoked");
    assert_eq!(ws.close_code().await?, Some(4001));
    // A connection of its own follows as the other person, as before.
    let mut fresh = Ws::connect(server.addr, s.sign_in(&(other, pin)).await?.token.as_deref()).await?;
    fresh.hello(s.meeting, None).await?;
    Ok(())
}

#[tokio::test]
async fn state_secrets_are_refused_unless_the_room_is_set_up_for_them() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let readers = s.voters[0].0.to_string();
    let fields = [("confidentiality", "secret"), ("readers", readers.as_str())];
    let a = s.admin.upload(s.meeting, s.item, "Mật.pdf", tiny_pdf("mat"), &fields).await?;
    assert_eq!((a.status, a.code()), (403, "forbidden"), "{a:?}");
    assert!(a.body["message"].as_str().unwrap().contains("mật"), "{a:?}");
    let stored: Vec<_> = std::fs::read_dir(server.data_dir.join("documents"))?.collect();
    assert!(stored.is_empty(), "nothing was kept");
    // Nor may a document be moved to that level.
    let a = s.admin.upload(s.meeting, s.item, "Thường.pdf", tiny_pdf("thuong"), &[]).await?;
    let id = DocumentId(a.body["id"].as_i64().unwrap());
    let cmd = gavel_shared::protocol::Command::UpdateDocument {
        document: id,
        title: "Thường".into(),
        confidentiality: Confidentiality::Secret,
        readers: vec![s.voters[0].0],
    };
    let a = s.admin.command(s.meeting, "to-secret", &cmd).await?;
    assert_eq!((a.status, a.code()), (403, "forbidden"), "{a:?}");
    // The room says so, for the secretary's upload form not to offer it.
    assert_eq!(s.admin.get("/api/room").await?.body["secret_documents"], false);

    let data = tempfile::tempdir()?;
    let allowed = TestServer::start_in(data.path(), |c| c.allow_secret_documents = true).await?;
    let s = Assembly::build(&allowed.url(""), 1).await?;
    let readers = s.voters[0].0.to_string();
    let a = s
        .admin
        .upload(s.meeting, s.item, "Mật.pdf", tiny_pdf("mat"), &[("confidentiality", "secret"), ("readers", readers.as_str())])
        .await?;
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(s.admin.get("/api/room").await?.body["secret_documents"], true);
    Ok(())
}

fn cookie_of(r: &reqwest::Response) -> String {
    r.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(" | ")
}

#[tokio::test]
async fn https_serves_the_room_with_its_certificate_or_the_organisations_and_cookies_are_secure() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let server = TestServer::start_in(data.path(), |c| c.https = Some("127.0.0.1:0".parse().unwrap())).await?;
    let https = server.https_addr.expect("an HTTPS address");
    let s = Assembly::build(&server.url(""), 1).await?;
    let room_cert = reqwest::Certificate::from_der(&std::fs::read(data.path().join("tls").join("cert.der"))?)?;
    let client = reqwest::Client::builder().add_root_certificate(room_cert.clone()).resolve("gavel.local", https).build()?;
    let base = format!("https://gavel.local:{}", https.port());
    assert_eq!(client.get(format!("{base}/health")).send().await?.status(), 200);
    assert!(client.get(format!("{base}/")).send().await?.text().await?.contains("<html"), "the web UI over HTTPS");
    let sign_in = json!({"meeting": s.meeting, "participant": s.voters[0].0, "pin": s.voters[0].1});
    let r = client.post(format!("{base}/api/session")).json(&sign_in).send().await?;
    assert_eq!(r.status(), 200);
    let cookie = cookie_of(&r);
    assert!(cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    let r = reqwest::Client::new().post(server.url("/api/session")).json(&sign_in).send().await?;
    let plain = cookie_of(&r);
    assert!(plain.contains("HttpOnly") && !plain.contains("Secure"), "{plain}");
    server.stop().await?;

    // An organisation's certificate instead of the room's.
    let org = rcgen::generate_simple_self_signed(vec!["phonghop.ubnd.example.vn".into()])?;
    let dir = tempfile::tempdir()?;
    let (cert, key) = (dir.path().join("org.pem"), dir.path().join("org.key"));
    std::fs::write(&cert, org.cert.pem())?;
    std::fs::write(&key, org.signing_key.serialize_pem())?;
    let data = tempfile::tempdir()?;
    let server = TestServer::start_in(data.path(), |c| {
        c.https = Some("127.0.0.1:0".parse().unwrap());
        c.tls_cert = Some(cert.clone());
        c.tls_key = Some(key.clone());
    })
    .await?;
    let https = server.https_addr.unwrap();
    let trusting_org = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(org.cert.pem().as_bytes())?)
        .resolve("phonghop.ubnd.example.vn", https)
        .build()?;
    let url = format!("https://phonghop.ubnd.example.vn:{}/health", https.port());
    assert_eq!(trusting_org.get(&url).send().await?.status(), 200);

    // The binary says where HTTPS listens.
    let dir = tempfile::tempdir()?;
    let p = ServerProcess::start(dir.path(), &["--https", "127.0.0.1:0"]).await?;
    let line = p.lines.last().unwrap();
    assert!(line.contains(" https=127.0.0.1:") && line.starts_with("listening http="), "{line}");
    Ok(())
}

#[tokio::test]
async fn one_address_cannot_hold_too_many_connections_and_a_flood_is_dropped_not_served() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let server = TestServer::start_in(data.path(), |c| {
        c.max_connections_per_address = 3;
        c.max_messages_per_second = 20;
    })
    .await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    let token = |i: usize| {
        let (who, pin) = s.voters[i].clone();
        let base = server.url("");
        let meeting = s.meeting;
        async move {
            let a = Http::for_base(&base)
                .post("/api/session", &json!({"meeting": meeting, "participant": who, "pin": pin, "bearer": true}))
                .await?;
            anyhow::Ok(a.body["token"].as_str().unwrap().to_string())
        }
    };
    let (t0, t1) = (token(0).await?, token(1).await?);
    // Three connections from 127.0.0.1; a fourth is refused, over WebSocket and QUIC.
    let mut flooder = Ws::connect(server.addr, Some(&t0)).await?;
    let mut other = Ws::connect(server.addr, Some(&t1)).await?;
    let third = Ws::connect(server.addr, Some(&t1)).await?;
    let err = Ws::connect(server.addr, Some(&t1)).await.err().expect("a fourth WebSocket is refused");
    assert!(format!("{err:#}").contains("429"), "{err:#}");
    let mut q = QuicClient::connect(server.quic_addr, &server.fingerprint, b"gavel/1").await?;
    let refused = async {
        q.send(&ClientMessage::Ping { nonce: 1 }).await?;
        q.recv().await
    }
    .await;
    assert!(refused.is_err(), "a fourth connection over QUIC is closed: {refused:?}");
    third.close().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _fourth = Ws::connect(server.addr, Some(&t1)).await?;

    // A flood from one client: most of it is dropped, the others are served.
    flooder.hello(s.meeting, None).await?;
    other.hello(s.meeting, None).await?;
    for n in 0..300 {
        flooder.send(&ClientMessage::Ping { nonce: n }).await?;
    }
    let (mut pongs, mut limited) = (0, 0);
    loop {
        match tokio::time::timeout(Duration::from_millis(500), flooder.recv()).await {
            Ok(Ok(ServerMessage::Pong { .. })) => pongs += 1,
            Ok(Ok(ServerMessage::Error { code, .. })) if code == "rate_limited" => limited += 1,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => anyhow::bail!("the flooder was cut off early: {e}"),
            Err(_) => break,
        }
    }
    assert!(limited >= 1 && pongs <= 60, "pongs {pongs}, rate_limited {limited}");
    match other.command(gavel_shared::protocol::Command::RequestToSpeak).await? {
        ServerMessage::Ack { .. } => {}
        m => anyhow::bail!("the other client was not served: {m:?}"),
    }
    // Once it slows down, the flooder is served again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    flooder.send(&ClientMessage::Ping { nonce: 999 }).await?;
    assert!(matches!(flooder.reply().await?, ServerMessage::Pong { nonce: 999, .. }));
    Ok(())
}

/// One person's commands are paced over every connection at once: the
/// limit per connection alone let a participant send as many over plain
/// HTTP as they liked, or the limit over each connection their address may
/// open, and every command is written and sent to every tablet.
#[tokio::test]
async fn one_person_sending_commands_over_every_connection_at_once_is_paced_and_the_others_are_served() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    // Two commands a second, bursts of four.
    let server = TestServer::start_in(data.path(), |c| c.max_messages_per_second = 2).await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    let flooder = s.sign_in(&s.voters[0]).await?;
    let mut sockets = vec![];
    for _ in 0..3 {
        let mut ws = flooder.follow(s.meeting, None).await?;
        while ws.snapshot.is_none() {
            ws.recv().await?;
        }
        sockets.push(ws);
    }
    assert_eq!(flooder.command(s.meeting, "first", &Command::RequestToSpeak).await?.status, 200);
    let started = std::time::Instant::now();
    let over_http = futures_util::future::join_all((0..40).map(|n| {
        let flooder = &flooder;
        async move { flooder.command(s.meeting, &format!("flood-{n}"), &Command::RequestToSpeak).await }
    }));
    let over_websockets = futures_util::future::join_all(sockets.iter_mut().enumerate().map(|(k, ws)| async move {
        let mut answers = vec![];
        for n in 0..2 {
            answers.push(ws.command_with_key(&format!("ws-{k}-{n}"), Command::RequestToSpeak).await?);
        }
        anyhow::Ok(answers)
    }));
    let (http_answers, ws_answers) = tokio::join!(over_http, over_websockets);
    let seconds = started.elapsed().as_secs_f64();
    let (mut taken, mut paced) = (0, 0);
    for a in http_answers {
        let a = a?;
        if a.status == 429 {
            assert_eq!(a.code(), "rate_limited", "{a:?}");
            paced += 1;
        } else {
            taken += 1;
        }
    }
    for answers in ws_answers {
        for m in answers? {
            match m {
                ServerMessage::Error { code, .. } if code == "rate_limited" => paced += 1,
                _ => taken += 1,
            }
        }
    }
    // The bucket: four at once, then two a second (one more for rounding).
    let most = 4.0 + 2.0 * seconds + 1.0;
    assert!(f64::from(taken) <= most, "{taken} of 46 commands were taken in {seconds:.1} s, over the pace's {most:.0}");
    assert!(paced >= 1 && taken >= 1, "taken {taken}, paced {paced}");
    // A command sent again (its answer lost) that was taken is answered as
    // taken while its sender is still paced, not refused: the page would
    // undo what was done.
    for n in 0..5 {
        flooder.command(s.meeting, &format!("more-{n}"), &Command::RequestToSpeak).await?;
    }
    let again = flooder.command(s.meeting, "first", &Command::RequestToSpeak).await?;
    assert_eq!(again.status, 200, "{again:?}");
    // Another participant is not held back by the first's flood.
    let other = s.sign_in(&s.voters[1]).await?;
    let a = other.command(s.meeting, "other", &Command::RequestToSpeak).await?;
    assert_eq!(a.status, 200, "{a:?}");
    // Once the flooder slows down, it is served again.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let a = flooder.command(s.meeting, "later", &Command::WithdrawRequest).await?;
    assert_ne!(a.status, 429, "{a:?}");
    Ok(())
}

/// Reads what the server sends until it closes the connection (or `limit` passes).
async fn read_until_closed(tcp: &mut tokio::net::TcpStream, limit: Duration) -> anyhow::Result<String> {
    use tokio::io::AsyncReadExt;
    let mut got = vec![];
    tokio::time::timeout(limit, tcp.read_to_end(&mut got)).await.map_err(|_| anyhow::anyhow!("the server kept the connection open"))??;
    Ok(String::from_utf8_lossy(&got).into_owned())
}

/// A client that asks for a document and then takes none of it is cut off
/// after the write timeout: before, it held its connection, an open file
/// and the server's buffers for ever.
#[tokio::test]
async fn a_reader_that_stops_reading_is_cut_off() -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let data = tempfile::tempdir()?;
    let server = TestServer::start_in(data.path(), |c| {
        c.http_timeouts = gavel_server::serve::Timeouts { write: Duration::from_secs(1), ..Default::default() };
    })
    .await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let doc = s.upload_document("Quy hoạch.pdf", pack_pdf(64, 512 * 1024, 8, None), &[]).await?;
    let token = s.admin.token.clone().expect("the administrator's bearer token");
    let mut stalled = tokio::net::TcpStream::connect(server.addr).await?;
    let request = format!(
        "GET /api/meetings/{}/documents/{} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n",
        s.meeting, doc.id
    );
    stalled.write_all(request.as_bytes()).await?;
    let mut first = vec![0u8; 4096];
    let n = stalled.read(&mut first).await?;
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut got = n as u64;
    let mut rest = vec![0u8; 1 << 20];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stalled.read(&mut rest)).await.context("the stalled reader was not cut off")? {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n as u64,
        }
    }
    assert!(got < doc.size, "{got} of {} bytes: the reader was not cut off", doc.size);
    Ok(())
}

/// One address holds at most so many HTTP connections (as for WebSocket
/// and QUIC), past which a new one is closed at once: before, a device
/// could open sockets until the room ran out of file descriptors.
#[tokio::test]
async fn one_address_holds_at_most_so_many_http_connections() -> anyhow::Result<()> {
    use tokio::io::AsyncReadExt;
    let data = tempfile::tempdir()?;
    let server = TestServer::start_in(data.path(), |c| {
        c.max_http_connections_per_address = 3;
        c.https = Some("127.0.0.1:0".parse().expect("an address"));
    })
    .await?;
    let https = server.https_addr.context("an HTTPS address")?;
    let mut held = vec![];
    // Over HTTP, and over HTTPS before any handshake (each would hold a
    // socket until its handshake timed out).
    for port in [server.addr, https] {
        for _ in 0..3 {
            held.push(tokio::net::TcpStream::connect(port).await?);
        }
        let mut fourth = tokio::net::TcpStream::connect(port).await?;
        let closed = tokio::time::timeout(Duration::from_secs(5), fourth.read(&mut [0u8; 16])).await.context("the fourth stayed open")?;
        assert!(matches!(closed, Ok(0) | Err(_)), "{port}: {closed:?}");
    }
    held.truncate(3);
    // One closed, another may open and is served.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(reqwest::get(server.url("/")).await?.status(), 200);
    Ok(())
}

#[tokio::test]
async fn slow_http_clients_are_cut_off_and_lose_nothing_while_others_are_served() -> anyhow::Result<()> {
    use tokio::io::AsyncWriteExt;
    let data = tempfile::tempdir()?;
    let server = TestServer::start_in(data.path(), |c| {
        c.http_timeouts =
            gavel_server::serve::Timeouts { header: Duration::from_secs(1), body_idle: Duration::from_secs(1), ..Default::default() }
    })
    .await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let token = s.admin.token.clone().expect("the administrator's bearer token");

    // Half a request line, then nothing; and a connection that says nothing at all.
    let mut slow = tokio::net::TcpStream::connect(server.addr).await?;
    slow.write_all(b"GET /api/room HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").await?;
    let mut silent = tokio::net::TcpStream::connect(server.addr).await?;
    // Meanwhile everyone else is served.
    let a = s.admin.get(&format!("/api/meetings/{}/state", s.meeting)).await?;
    assert_eq!(a.status, 200, "{a:?}");
    let answer = read_until_closed(&mut slow, Duration::from_secs(10)).await.context("a half-sent request")?;
    assert!(!answer.contains("200 OK"), "{answer}");
    read_until_closed(&mut silent, Duration::from_secs(10)).await.context("a silent connection")?;

    // An upload that stops halfway: dropped, nothing stored or listed.
    let boundary = "gavel-slow-upload";
    let pdf = tiny_pdf("slow");
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"Chậm.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
    );
    let length = head.len() + pdf.len() + 64 * 1024 + boundary.len() + 8;
    let mut upload = tokio::net::TcpStream::connect(server.addr).await?;
    let request = format!(
        "POST /api/meetings/{}/items/{}/documents HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\n\r\n{head}",
        s.meeting, s.item
    );
    upload.write_all(request.as_bytes()).await?;
    upload.write_all(&pdf).await?;
    let answer = read_until_closed(&mut upload, Duration::from_secs(10)).await.context("a stalled upload")?;
    assert!(!answer.contains("201 Created"), "{answer}");
    let a = s.admin.get(&format!("/api/meetings/{}/state", s.meeting)).await?;
    assert_eq!(a.body["documents"].as_array().map(Vec::len), Some(0), "{a:?}");
    for dir in ["documents", "tmp"] {
        let kept: Vec<_> = std::fs::read_dir(data.path().join(dir))?.collect::<Result<_, _>>()?;
        assert!(kept.is_empty(), "nothing of the upload is kept in {dir}: {kept:?}");
    }

    // A slow but steady upload (a piece every half second) arrives whole.
    let mut steady = tokio::net::TcpStream::connect(server.addr).await?;
    let tail = format!("\r\n--{boundary}--\r\n");
    let length = head.len() + pdf.len() + tail.len();
    let request = format!(
        "POST /api/meetings/{}/items/{}/documents HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\n\r\n",
        s.meeting, s.item
    );
    steady.write_all(request.as_bytes()).await?;
    let body = [head.as_bytes(), &pdf, tail.as_bytes()].concat();
    for piece in body.chunks(body.len() / 4 + 1) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        steady.write_all(piece).await?;
    }
    let answer = read_until_closed(&mut steady, Duration::from_secs(10)).await.context("a slow upload")?;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");

    // A list of participants, and a command, that stop halfway: said to be
    // cut short, not too large (a secretary told so would shrink a file
    // that was never the problem), and nothing of them is kept.
    let before = s.admin.state(s.meeting).await?;
    let import = format!("/api/meetings/{}/participants/import", s.meeting);
    let command = format!("/api/meetings/{}/commands", s.meeting);
    for (path, kind, start) in [(&import, "text/csv", "Họ và tên;Vai trò\nNguyễn Văn A"), (&command, "application/json", "{\"key\":")]
    {
        let mut cut = tokio::net::TcpStream::connect(server.addr).await?;
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: {kind}\r\nContent-Length: 1000\r\n\r\n{start}"
        );
        cut.write_all(request.as_bytes()).await?;
        let answer = read_until_closed(&mut cut, Duration::from_secs(10)).await.context("a stalled body")?;
        assert!(answer.starts_with("HTTP/1.1 400") && answer.contains("incomplete_body"), "{path}: {answer}");
    }
    assert_eq!(s.admin.state(s.meeting).await?, before, "nothing recorded");
    Ok(())
}

#[tokio::test]
async fn no_session_token_or_pin_reaches_the_servers_log_even_at_debug_level() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("server.log");
    let server = ServerProcess::start_logging(&dir.path().join("data"), &[], Some(&log)).await?;
    let base = format!("http://{}", server.addr);
    let s = Assembly::build(&base, 1).await?;
    let pin = s.voters[0].1.clone();
    let mut secrets = vec![s.admin.token.clone().expect("admin token")];
    // A browser's cookie session, a bearer token over HTTP, WebSocket and QUIC.
    let browser = reqwest::Client::builder().cookie_store(true).build()?;
    let r = browser
        .post(format!("{base}/api/session"))
        .json(&json!({"meeting": s.meeting, "participant": s.voters[0].0, "pin": s.voters[0].1}))
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    let cookie = cookie_of(&r);
    let session = cookie.split(';').next().and_then(|c| c.split_once('=')).map(|(_, v)| v.to_string()).expect("a session cookie");
    secrets.push(session);
    assert_eq!(browser.get(format!("{base}/api/session")).send().await?.status(), 200);
    let http = s.sign_in(&s.voters[0]).await?;
    let token = http.token.clone().unwrap();
    secrets.push(token.clone());
    assert_eq!(http.get("/api/session").await?.status, 200);
    let doc = s.admin.upload(s.meeting, s.item, "Tờ trình.pdf", tiny_pdf("to trinh"), &[("confidentiality", "members")]).await?;
    let doc = DocumentId(doc.body["id"].as_i64().unwrap());
    assert_eq!(http.raw_get(&format!("/api/meetings/{}/documents/{}", s.meeting, doc.0)).send().await?.status(), 200);
    let mut ws = Ws::connect(server.addr, Some(&token)).await?;
    ws.hello(s.meeting, None).await?;
    let mut q = QuicClient::connect(server.quic_addr, &server.fingerprint, b"gavel/1").await?;
    q.send(&ClientMessage::Resume { token: token.clone() }).await?;
    assert!(matches!(q.recv().await?, ServerMessage::SignedIn { .. }));
    let req = gavel_shared::pack::StreamRequest::Manifest { token: token.clone(), meeting: s.meeting, document: doc };
    let (_s, mut recv) = gavel_agent::link::open_request(&q.link.connection, &req).await?;
    assert!(matches!(gavel_agent::link::read_reply(&mut recv).await?, gavel_shared::pack::StreamReply::Manifest { .. }));
    // And a refused one: a wrong token is not logged either.
    let wrong = "w".repeat(43);
    secrets.push(wrong.clone());
    assert_eq!(Http::for_base(&base).with_token(&wrong).get("/api/session").await?.status, 401);
    drop(server);
    let text = std::fs::read_to_string(&log)?;
    assert!(text.lines().count() > 20, "the debug log was written: {text}");
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "the log holds a secret ({} characters)", secret.len());
    }
    // Six digits may turn up in a timestamp: look for the PIN as a value.
    for shape in [format!("\"{pin}\""), format!("={pin}"), format!(": {pin}")] {
        assert!(!text.contains(&shape), "the log holds the PIN");
    }
    Ok(())
}

/// How tablets join (the addresses of every network card of the room's
/// machine, the ports, the fingerprint) is for who prepares or chairs the
/// meeting, not for every delegate's tablet.
#[tokio::test]
async fn how_tablets_join_is_shown_to_the_secretary_and_the_chair_only() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let delegate = s.sign_in(&s.voters[0]).await?;
    let a = delegate.get("/api/room").await?;
    assert_eq!((a.status, a.code()), (403, "forbidden"), "{a:?}");
    for who in [&s.secretary, &s.chair] {
        let a = s.sign_in(who).await?.get("/api/room").await?;
        assert_eq!(a.status, 200, "{a:?}");
        assert_eq!(a.body["fingerprint"], server.fingerprint.as_str());
        assert_eq!(a.body["addresses"], serde_json::json!(["127.0.0.1"]));
    }
    assert_eq!(s.admin.get("/api/room").await?.status, 200);
    Ok(())
}

#[tokio::test]
async fn wrong_pins_sent_all_at_once_are_each_counted() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let server = TestServer::start_in(data.path(), |c| {
        c.sign_in_limits = gavel_server::throttle::Limits { free_attempts: 3, lock_after: 10, per_address: 1000 };
    })
    .await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let (who, _) = s.voters[0].clone();
    let http = Http::for_base(&server.url(""));
    // Fifty guesses in parallel: each is counted before the next is checked,
    // so only the free attempts are checked at all and the rest wait.
    let answers =
        futures_util::future::join_all((0..50).map(|n| try_pin(&http, s.meeting, who, if n % 2 == 0 { "000000" } else { "999999" })))
            .await
            .into_iter()
            .collect::<anyhow::Result<Vec<_>>>()?;
    let checked = answers.iter().filter(|a| a.code() == "bad_credentials").count();
    let waited = answers.iter().filter(|a| a.code() == "too_many_attempts").count();
    assert_eq!((checked, waited), (3, 47), "{:?}", answers.iter().map(Answer::code).collect::<Vec<_>>());
    Ok(())
}

#[tokio::test]
async fn a_password_with_vietnamese_marks_is_the_same_however_the_keyboard_typed_it() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let mut admin = Http::for_base(&server.url(""));
    admin.sign_in_admin().await?;
    // Made precomposed (NFC), typed later with combining marks (NFD), and the other way.
    for (n, (made, typed)) in [
        ("Mật khẩu họp 2026", "Ma\u{0323}\u{0302}t kha\u{0302}\u{0309}u ho\u{0323}p 2026"),
        ("Phòng họp số 2", "Pho\u{0300}ng ho\u{0323}p so\u{0302}\u{0301} 2"),
    ]
    .into_iter()
    .enumerate()
    {
        let (made, typed) = if n == 1 { (typed, made) } else { (made, typed) };
        let user = format!("thuky{n}");
        let a = admin.post("/api/staff", &json!({"username": user, "display_name": "Thư ký", "password": made, "is_admin": false})).await?;
        assert_eq!(a.status, 201, "{a:?}");
        let c = Http::for_base(&server.url(""));
        let a = c.post("/api/staff/session", &json!({"username": user, "password": typed})).await?;
        assert_eq!(a.status, 200, "{a:?}");
        let wrong = c.post("/api/staff/session", &json!({"username": user, "password": "Mat khau hop 2026"})).await?;
        assert_eq!(wrong.code(), "bad_credentials");
    }
    Ok(())
}

#[tokio::test]
async fn a_reader_never_gets_another_readers_copy_and_restricted_copies_are_not_kept_by_the_browser() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    let readers = format!("{},{}", s.voters[0].0.0, s.voters[1].0.0);
    let named = s.upload_document("Hồ sơ nhân sự.pdf", tiny_pdf("ho so"), &[("confidentiality", "named"), ("readers", &readers)]).await?;
    let public = s.upload_document("Công khai.pdf", tiny_pdf("cong khai"), &[]).await?;
    let path = |d: &Document| format!("/api/meetings/{}/documents/{}", s.meeting, d.id.0);
    let (a, b) = (s.sign_in(&s.voters[0]).await?, s.sign_in(&s.voters[1]).await?);

    // B's stamped copy is made first, then A's, on a tablet both use.
    let b_copy = b.raw_get(&path(&named)).send().await?.bytes().await?;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let a_first = a.raw_get(&path(&named)).send().await?;
    assert_eq!(a_first.status(), 200);
    let h = a_first.headers().clone();
    assert_eq!(h["cache-control"], "no-store", "a restricted copy is not kept by the browser");
    assert!(h.get("last-modified").is_none(), "{h:?}");
    // The browser then asks for B's with what it holds of A's: B gets B's.
    let held = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!("[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"))?;
    let again = b
        .raw_get(&path(&named))
        .header("if-none-match", h["etag"].to_str()?)
        .header("if-modified-since", &held)
        .header("if-range", &held)
        .header("range", "bytes=0-")
        .send()
        .await?;
    assert_eq!(again.status(), 200, "{again:?}");
    assert_eq!(again.bytes().await?, b_copy, "B's own copy, not A's");
    // The same copy asked for again with its own ETag is not sent twice.
    let b_etag = b.raw_get(&path(&named)).send().await?.headers()["etag"].to_str()?.to_string();
    assert_eq!(b.raw_get(&path(&named)).header("if-none-match", &b_etag).send().await?.status(), 304);
    // A public document may stay in the browser's cache, revalidated.
    let p = a.raw_get(&path(&public)).send().await?;
    assert_eq!(p.headers()["cache-control"], "private, no-cache");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tablet_of_someone_removed_from_the_meeting_deletes_the_pack_now_or_when_it_comes_back() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 3).await?;
    let doc = s.upload_document("Tờ trình.pdf", pack_pdf(4, 64 * 1024, 3, None), &[]).await?;
    let secretary = s.sign_in(&s.secretary).await?;
    let caches = [tempfile::tempdir()?, tempfile::tempdir()?, tempfile::tempdir()?];
    let mut agents = vec![];
    for (n, cache) in caches.iter().enumerate() {
        let agent = start_agent(server.quic_addr, &server.fingerprint, &s, n, cache.path()).await?;
        until("the pack is cached", WAIT, || agent.shared.cache.has(&doc.sha256) && agent.shared.progress.borrow().complete()).await?;
        agents.push(agent);
    }
    let remove = |n: usize| {
        let (s, secretary) = (&s, &secretary);
        async move {
            let a =
                secretary.command(s.meeting, &format!("remove-{n}"), &Command::RemoveParticipant { participant: s.voters[n].0 }).await?;
            anyhow::ensure!(a.status == 200, "{a:?}");
            anyhow::Ok(())
        }
    };
    let wiped = |agent: &gavel_agent::agent::Agent, cache: &std::path::Path| -> anyhow::Result<()> {
        let why = agent.shared.fatal.borrow().clone().context("the agent goes on")?;
        anyhow::ensure!(why.contains("deleted"), "{why}");
        let left: Vec<String> = files_under(cache).iter().map(|p| p.display().to_string()).collect();
        let kept = |p: &String| p.contains("/docs/") || p.contains("/chunks/") || p.ends_with("state.json") || p.ends_with("session.json");
        anyhow::ensure!(!left.iter().any(kept), "no chunk, manifest, state or session is left: {left:?}");
        Ok(())
    };

    // Connected: told at once.
    remove(0).await?;
    until("the first agent gives up", WAIT, || agents[0].shared.fatal.borrow().is_some()).await?;
    wiped(&agents[0], caches[0].path())?;

    // Off the network when removed: told when it comes back with its session…
    let second = agents.remove(1);
    drop(second);
    remove(1).await?;
    let second = start_agent(server.quic_addr, &server.fingerprint, &s, 1, caches[1].path()).await?;
    until("the second agent gives up", WAIT, || second.shared.fatal.borrow().is_some()).await?;
    wiped(&second, caches[1].path())?;

    // …or with its PIN, its session gone: the PIN that opened its vault is
    // no longer anyone's in the meeting.
    let third = agents.remove(1);
    drop(third);
    std::fs::remove_file(caches[2].path().join("session.json"))?;
    remove(2).await?;
    let third = start_agent(server.quic_addr, &server.fingerprint, &s, 2, caches[2].path()).await?;
    until("the third agent gives up", WAIT, || third.shared.fatal.borrow().is_some()).await?;
    wiped(&third, caches[2].path())?;
    Ok(())
}

/// A restricted PDF is parsed to be stamped, by a parser that bounds
/// neither its recursion nor what it inflates: arrays nested 200,000 deep
/// overflowed the stack, which ends the whole room's process, and a
/// decompression bomb would take its memory. Each is refused at upload with
/// what it broke, and the room goes on: the same files made restricted
/// later, and an honest restricted document beside them.
#[tokio::test]
async fn a_pdf_nested_too_deep_or_inflating_without_end_is_refused_and_the_room_goes_on() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let nested = nested_pdf(200_000);
    let bomb = flate_bomb_pdf(2 << 30);
    assert!(bomb.len() < 4 << 20, "a bomb of {} bytes", bomb.len());
    for (name, pdf, why) in [("Lồng nhau.pdf", &nested, "nested too deeply, or loops back on itself"), ("Bom.pdf", &bomb, "MB of memory")]
    {
        let a = s.admin.upload(s.meeting, s.item, name, pdf.clone(), &[("confidentiality", "members")]).await?;
        assert_eq!((a.status, a.code()), (422, "unstampable"), "{name}: {a:?}");
        assert!(a.body["message"].as_str().is_some_and(|m| m.contains(why)), "{name}: {a:?}");
        // Public, it is kept as it came (nothing parses it); made
        // restricted, it is refused the same way.
        let doc = s.upload_document(name, pdf.clone(), &[]).await?;
        let secretary = s.sign_in(&s.secretary).await?;
        let narrow = Command::UpdateDocument {
            document: doc.id,
            title: doc.title.clone(),
            confidentiality: Confidentiality::Members,
            readers: vec![],
        };
        let a = secretary.command(s.meeting, &format!("narrow-{name}"), &narrow).await?;
        assert_eq!((a.status, a.code()), (422, "unstampable"), "{name}: {a:?}");
        assert!(a.body["message"].as_str().is_some_and(|m| m.contains(why)), "{name}: {a:?}");
    }
    // The room is still up, and stamps an honest document for its reader.
    let doc = s.upload_document("Tờ trình.pdf", tiny_pdf("to trinh"), &[("confidentiality", "members")]).await?;
    let delegate = s.sign_in(&s.voters[0]).await?;
    let got = delegate.raw_get(&format!("/api/meetings/{}/documents/{}", s.meeting, doc.id.0)).send().await?;
    assert_eq!(got.status(), 200);
    let copy = got.bytes().await?;
    assert_ne!(copy.as_ref(), tiny_pdf("to trinh").as_slice(), "the reader's copy is stamped");
    assert!(copy.starts_with(b"%PDF"));
    Ok(())
}

#[tokio::test]
async fn a_document_that_cannot_be_stamped_stays_public_and_a_bad_title_is_refused_at_upload() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    // Its markers pass, its body cannot be read: public, it is served as it came.
    let broken = b"%PDF-1.4\nthis is not a PDF body\n%%EOF\n".to_vec();
    let doc = s.upload_document("Hỏng.pdf", broken.clone(), &[]).await?;
    let secretary = s.sign_in(&s.secretary).await?;
    let narrow =
        Command::UpdateDocument { document: doc.id, title: doc.title.clone(), confidentiality: Confidentiality::Members, readers: vec![] };
    // Asked by someone who may not, it is refused before the PDF is read.
    let delegate = s.sign_in(&s.voters[0]).await?;
    assert_eq!(delegate.command(s.meeting, "narrow-by-delegate", &narrow).await?.code(), "forbidden");
    let a = secretary.command(s.meeting, "narrow", &narrow).await?;
    assert_eq!((a.status, a.code()), (422, "unstampable"), "{a:?}");
    let st = secretary.state(s.meeting).await?;
    assert_eq!(st.document(doc.id).map(|d| d.confidentiality), Some(Confidentiality::Public));
    let got = delegate.raw_get(&format!("/api/meetings/{}/documents/{}", s.meeting, doc.id.0)).send().await?;
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await?.to_vec(), broken);

    // A title with a control character (it would make the minutes' DOCX
    // unreadable to Word) or too long is refused, with nothing kept.
    for title in ["Tờ trình\u{7}số 1".to_string(), "T".repeat(501)] {
        let a = s.admin.upload(s.meeting, s.item, "to-trinh.pdf", tiny_pdf("x"), &[("title", &title)]).await?;
        assert_eq!((a.status, a.code()), (422, "invalid"), "{a:?}");
    }
    assert_eq!(secretary.state(s.meeting).await?.documents.len(), 1);
    // A meeting's header is checked the same way when it is made.
    for (field, value) in [("title", "Họp\u{7}tuần".to_string()), ("locality", "H".repeat(201))] {
        let mut body = json!({"title": "Họp giao ban", "starts_at": "2026-11-23T08:00:00+07:00"});
        body[field] = json!(value);
        let a = s.admin.post("/api/meetings", &body).await?;
        assert_eq!((a.status, a.code()), (422, "invalid"), "{field}: {a:?}");
    }
    Ok(())
}

/// The names in the room's content store (`DATA_DIR/documents`).
fn stored(data_dir: &std::path::Path) -> anyhow::Result<std::collections::BTreeSet<String>> {
    std::fs::read_dir(data_dir.join("documents"))?.map(|e| Ok(e?.file_name().to_string_lossy().into_owned())).collect()
}

/// Waits until `gone` holds of the store.
async fn wait_store(
    data_dir: &std::path::Path,
    what: &str,
    gone: impl Fn(&std::collections::BTreeSet<String>) -> bool,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = stored(data_dir)?;
        if gone(&now) {
            return Ok(());
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "{what}: the store still holds {now:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_removed_document_leaves_nothing_on_the_rooms_disk() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let server = TestServer::start_in(data.path(), |_| {}).await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    // A restricted document, the same file again as a public one, and another.
    let restricted = s.upload_document("Nhân sự.pdf", drawn_pdf(1), &[("confidentiality", "members")]).await?;
    let same = s.upload_document("Nhân sự (công khai).pdf", drawn_pdf(1), &[]).await?;
    let other = s.upload_document("Kế hoạch.pdf", drawn_pdf(2), &[]).await?;
    assert_eq!(restricted.sha256, same.sha256);
    // A delegate reads the restricted one: a copy stamped with their name.
    let voter = s.sign_in(&s.voters[0]).await?;
    let r = voter.raw_get(&format!("/api/meetings/{}/documents/{}", s.meeting, restricted.id.0)).send().await?;
    assert_eq!(r.status(), 200);
    let copy = sha256_hex(&r.bytes().await?);
    assert_ne!(copy, restricted.sha256, "a stamped copy");
    wait_store(data.path(), "the copy and the chunk lists", |now| {
        now.contains(&copy) && now.contains(&format!("{}.chunks.json", restricted.sha256))
    })
    .await?;

    // The public one removed, the content stays for the restricted one,
    // and so does its reader's copy.
    let remove = |d: DocumentId| Command::RemoveDocument { document: d };
    assert_eq!(s.admin.command(s.meeting, "rm1", &remove(same.id)).await?.status, 200);
    assert_eq!(s.admin.command(s.meeting, "rm-other", &remove(other.id)).await?.status, 200);
    wait_store(data.path(), "the other document", |now| !now.iter().any(|n| n.starts_with(&other.sha256))).await?;
    let now = stored(data.path())?;
    assert!(now.contains(&restricted.sha256) && now.contains(&copy), "{now:?}");

    // The restricted one removed, nothing of it is left: its content, its
    // chunk list, its reader's copy.
    assert_eq!(s.admin.command(s.meeting, "rm2", &remove(restricted.id)).await?.status, 200);
    wait_store(data.path(), "the restricted document", |now| now.is_empty()).await?;
    let kept = s.upload_document("Kế hoạch.pdf", drawn_pdf(2), &[]).await?;

    // Content left behind by a room stopped before it could delete it is
    // deleted at the next start; what is not the store's is left alone.
    let addrs = server.addrs();
    server.stop().await?;
    let orphan = sha256_hex(b"left by a crash");
    std::fs::write(data.path().join("documents").join(&orphan), b"left by a crash")?;
    std::fs::write(data.path().join("documents").join("ghi-chu.txt"), b"not content")?;
    let server = TestServer::start_again(data.path(), addrs).await?;
    wait_store(data.path(), "the orphan", |now| !now.contains(&orphan)).await?;
    let now = stored(data.path())?;
    assert!(now.contains("ghi-chu.txt") && now.contains(&kept.sha256), "{now:?}");
    server.stop().await?;
    Ok(())
}

/// Two downloads of a document, each paused after its first piece: one
/// voter's over HTTP, another's over QUIC as a tablet asks (every chunk in
/// one request).
struct Downloads {
    http: reqwest::Response,
    over_http: u64,
    recv: quinn::RecvStream,
    /// The chunks the QUIC request is answered with.
    count: u32,
    _send: quinn::SendStream,
    _link: QuicClient,
}

impl Downloads {
    async fn start(server: &TestServer, s: &Assembly, doc: &Document, over_http: usize, over_quic: usize) -> anyhow::Result<Downloads> {
        use gavel_agent::link::{open_request, read_frame, read_reply};
        use gavel_shared::pack::{StreamReply, StreamRequest};
        let web = s.sign_in(&s.voters[over_http]).await?;
        let mut http = web.raw_get(&format!("/api/meetings/{}/documents/{}", s.meeting, doc.id)).send().await?.error_for_status()?;
        let first = http.chunk().await?.map_or(0, |c| c.len() as u64);
        let tablet = s.sign_in(&s.voters[over_quic]).await?;
        let token = tablet.token.clone().context("a token")?;
        let q = QuicClient::connect(server.quic_addr, &server.fingerprint, b"gavel/1").await?;
        let conn = q.link.connection.clone();
        let (_send, mut recv) =
            open_request(&conn, &StreamRequest::Manifest { token: token.clone(), meeting: s.meeting, document: doc.id }).await?;
        let StreamReply::Manifest { manifest } = read_reply(&mut recv).await? else { anyhow::bail!("no manifest") };
        let indices: Vec<u32> = (0..manifest.chunks.len() as u32).collect();
        let chunks = StreamRequest::Chunks { token, meeting: s.meeting, document: doc.id, sha256: doc.sha256.clone(), indices };
        let (send, mut recv) = open_request(&conn, &chunks).await?;
        let StreamReply::Chunks { count } = read_reply(&mut recv).await? else { anyhow::bail!("no chunks") };
        read_frame(&mut recv, 4 << 20).await?;
        Ok(Downloads { http, over_http: first, recv, count, _send: send, _link: q })
    }

    /// Reads on until each ends: whether the HTTP download broke off, and
    /// how many bytes and chunks came in all over HTTP and over QUIC.
    async fn finish(mut self) -> (bool, u64, u32) {
        let broke = loop {
            match self.http.chunk().await {
                Ok(Some(c)) => self.over_http += c.len() as u64,
                Ok(None) => break false,
                Err(_) => break true,
            }
        };
        let mut over_quic = 1;
        while gavel_agent::link::read_frame(&mut self.recv, 4 << 20).await.is_ok() {
            over_quic += 1;
        }
        (broke, self.over_http, over_quic)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_taken_away_stops_mid_download_over_http_and_over_quic() -> anyhow::Result<()> {
    // Before, a download under way ran to its end once it had started: a
    // request over QUIC may carry a whole document.
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    let doc = s.upload_document("Quy hoạch chi tiết.pdf", pack_pdf(96, 512 * 1024, 5, None), &[]).await?;
    let downloads = Downloads::start(&server, &s, &doc, 0, 1).await?;
    let count = downloads.count;
    assert!(count > 100, "{count} chunks");

    // The document is withdrawn.
    let removed = s.admin.command(s.meeting, "withdraw", &Command::RemoveDocument { document: doc.id }).await?;
    assert_eq!(removed.status, 200, "{removed:?}");

    // What was already under way arrives; the rest does not.
    let (broke, over_http, over_quic) = downloads.finish().await;
    assert!(broke && over_http < doc.size, "{over_http} of {} bytes came over HTTP after the document was withdrawn", doc.size);
    assert!(over_quic < count, "all {count} chunks came over QUIC after the document was withdrawn");
    Ok(())
}

/// A lost tablet's sessions revoked by the secretary: what it was
/// downloading stops there, though the meeting itself did not change
/// (before, a download under way ran to its end).
#[tokio::test]
async fn a_download_under_way_stops_when_its_readers_sessions_are_revoked() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 3).await?;
    let doc = s.upload_document("Quy hoạch chi tiết.pdf", pack_pdf(96, 512 * 1024, 6, None), &[]).await?;
    let downloads = Downloads::start(&server, &s, &doc, 0, 1).await?;
    let count = downloads.count;
    // A neighbour's download, whose sessions stay.
    let neighbour = s.sign_in(&s.voters[2]).await?;
    let mut kept = neighbour.raw_get(&format!("/api/meetings/{}/documents/{}", s.meeting, doc.id)).send().await?.error_for_status()?;
    let mut over_kept = kept.chunk().await?.map_or(0, |c| c.len() as u64);

    for n in [0, 1] {
        let a = s.admin.post(&format!("/api/meetings/{}/participants/{}/revoke", s.meeting, s.voters[n].0), &json!({})).await?;
        assert_eq!(a.status, 200, "{a:?}");
    }

    let (broke, over_http, over_quic) = downloads.finish().await;
    assert!(broke && over_http < doc.size, "{over_http} of {} bytes came over HTTP after the sessions were revoked", doc.size);
    assert!(over_quic < count, "all {count} chunks came over QUIC after the sessions were revoked");
    while let Some(c) = kept.chunk().await? {
        over_kept += c.len() as u64;
    }
    assert_eq!(over_kept, doc.size, "the neighbour's download runs to its end");
    Ok(())
}

/// A stamped copy names the person reading it: not someone removed whose id
/// the next person added took (SQLite gives the highest id + 1), and not
/// the name a participant had before the secretary corrected it.
#[tokio::test]
async fn a_stamped_copy_names_its_reader_after_a_removal_and_a_rename() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let server = TestServer::start_in(data.path(), |_| {}).await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    let doc = s.upload_document("Dự thảo nghị quyết.pdf", drawn_pdf(1), &[("confidentiality", "members")]).await?;
    let path = format!("/api/meetings/{}/documents/{}", s.meeting, doc.id.0);
    let out = tempfile::tempdir()?;
    let text_of_at = |path: String, who: Http, n: usize| {
        let file = out.path().join(format!("{n}.pdf"));
        async move {
            let r = who.raw_get(&path).send().await?;
            anyhow::ensure!(r.status() == 200, "{r:?}");
            let bytes = r.bytes().await?;
            std::fs::write(&file, &bytes)?;
            anyhow::Ok((sha256_hex(&bytes), pdftotext(&file)?.split_whitespace().collect::<Vec<_>>().join(" ")))
        }
    };
    let text_of = |who: Http, n: usize| text_of_at(path.clone(), who, n);
    // The last one added reads it, and is removed.
    let (gone_copy, text) = text_of(s.sign_in(&s.voters[1]).await?, 1).await?;
    assert!(text.contains("Bản của Đại biểu 0001"), "{text}");
    let a = s.admin.command(s.meeting, "rm", &Command::RemoveParticipant { participant: s.voters[1].0 }).await?;
    assert_eq!(a.status, 200, "{a:?}");
    let deputy =
        NewParticipant { name: "Người Thay Thế".into(), position: String::new(), role: Role::Delegate, member: true, voting: true };
    let a = s.admin.command(s.meeting, "add", &Command::AddParticipants { participants: vec![deputy] }).await?;
    let pin = &a.body["result"]["pins"][0];
    let deputy = (ParticipantId(pin["participant"].as_i64().context("id")?), pin["pin"].as_str().context("pin")?.to_string());
    assert_ne!(deputy.0, s.voters[1].0, "a removed participant's id given again");
    let (_, text) = text_of(s.sign_in(&deputy).await?, 2).await?;
    assert!(text.contains("Bản của Người Thay Thế") && !text.contains("Đại biểu 0001"), "{text}");
    // The removed one's copy leaves the room's disk.
    wait_store(data.path(), "the removed reader's copy", |now| !now.contains(&gone_copy)).await?;

    // A name corrected after a first read: the next copy has the new name.
    let reader = s.sign_in(&s.voters[0]).await?;
    let (_, text) = text_of(reader.clone(), 3).await?;
    assert!(text.contains("Bản của Đại biểu 0000"), "{text}");
    let rename_to = |name: &str| Command::UpdateParticipant {
        participant: s.voters[0].0,
        name: name.into(),
        position: String::new(),
        role: Role::Delegate,
        member: true,
        voting: true,
    };
    assert_eq!(s.admin.command(s.meeting, "rename", &rename_to("Nguyễn Thị Đổi Tên")).await?.status, 200);
    let (_, text) = text_of(reader.clone(), 4).await?;
    assert!(text.contains("Bản của Nguyễn Thị Đổi Tên") && !text.contains("Đại biểu 0000"), "{text}");

    // Renamed while the copy of a long document is being made: the copy
    // kept is not the one stamped with the old name (it was recorded after
    // the rename had forgotten the copies, and served for good).
    let long = s.upload_document("Phụ lục dài.pdf", pack_pdf(400, 16 * 1024, 9, None), &[("confidentiality", "members")]).await?;
    let long_path = format!("/api/meetings/{}/documents/{}", s.meeting, long.id.0);
    let first = tokio::spawn({
        let (reader, long_path) = (reader.clone(), long_path.clone());
        async move { reader.raw_get(&long_path).send().await?.bytes().await.map_err(anyhow::Error::from) }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.admin.command(s.meeting, "rename-again", &rename_to("Trần Văn Tên Mới")).await?.status, 200);
    first.await??;
    let (_, text) = text_of_at(long_path, reader, 5).await?;
    assert!(text.contains("Bản của Trần Văn Tên Mới") && !text.contains("Đổi Tên"), "the copy kept names {text:.200}");
    Ok(())
}

/// Answers that carry the meeting (its state, its log, the minutes and the
/// whole record) are kept by no browser cache; the web UI's files are.
#[tokio::test]
async fn the_meetings_answers_are_not_kept_by_the_browser() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let chair = s.sign_in(&s.chair).await?;
    let m = s.meeting.0;
    for path in [
        format!("/api/meetings/{m}/state"),
        format!("/api/meetings/{m}/events?after=0"),
        format!("/api/meetings/{m}/minutes/export?format=json&lang=vi"),
        format!("/api/meetings/{m}/minutes/export?format=csv&lang=vi"),
        "/api/session".to_string(),
        "/api/nowhere".to_string(),
    ] {
        let r = chair.raw_get(&path).send().await?;
        assert!(r.status().is_success() || r.status() == 404, "{path}: {r:?}");
        assert_eq!(r.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"), "{path}");
    }
    let page = chair.raw_get("/").send().await?;
    assert_ne!(page.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"), "the web UI is cached");
    Ok(())
}

/// The threads of the process `pid` (Linux).
fn threads_of(pid: u32) -> anyhow::Result<usize> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status.lines().find_map(|l| l.strip_prefix("Threads:")).context("no Threads line")?.trim().parse().context("Threads")
}

/// A signed-in tablet that asks for documents over many streams and reads
/// none of them holds none of the room's threads. Before, each such request
/// parked one of the blocking pool's threads (a reader waiting for room in
/// its queue to the stream) for up to a minute, and enough of them would
/// have left none for the room's file and password work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_a_tablet_stops_reading_hold_none_of_the_rooms_threads() -> anyhow::Result<()> {
    use gavel_agent::link::{open_request, read_frame, read_reply};
    use gavel_shared::pack::{StreamReply, StreamRequest};
    const STALLED: usize = 48;
    let dir = tempfile::tempdir()?;
    let server = ServerProcess::start(dir.path(), &[]).await?;
    let pid = server.child.id().context("the server's pid")?;
    let s = Assembly::build(&format!("http://{}", server.addr), 2).await?;
    let doc = s.upload_document("Quy hoạch.pdf", pack_pdf(16, 256 * 1024, 7, None), &[]).await?;
    let token_of = |http: Http| http.token.context("a token");
    let token = token_of(s.sign_in(&s.voters[0]).await?)?;
    let manifest = |conn: quinn::Connection, token: String| async move {
        let (_send, mut recv) = open_request(&conn, &StreamRequest::Manifest { token, meeting: s.meeting, document: doc.id }).await?;
        let StreamReply::Manifest { manifest } = read_reply(&mut recv).await? else { anyhow::bail!("no manifest") };
        anyhow::Ok(manifest)
    };

    // A tablet whose every stream takes 16 KiB and no more, with room on
    // the connection for all of them: each request is answered, and its
    // chunks wait on the tablet.
    let mut config = gavel_agent::link::client_config(&server.fingerprint, &[b"gavel/1"])?;
    let mut transport = quinn::TransportConfig::default();
    transport.stream_receive_window(quinn::VarInt::from_u32(16 * 1024)).receive_window(quinn::VarInt::from_u32(64 << 20));
    config.transport_config(std::sync::Arc::new(transport));
    let endpoint = gavel_agent::link::client_endpoint(server.quic_addr)?;
    let conn = endpoint.connect_with(config, server.quic_addr, "gavel.local")?.await?;
    // The first stream is the control stream; requests come after it.
    let _control = conn.open_bi().await?;
    let m = manifest(conn.clone(), token.clone()).await?;
    let indices: Vec<u32> = (0..m.chunks.len() as u32).collect();
    assert!(m.chunks.len() > 20, "{} chunks", m.chunks.len());
    let before = threads_of(pid)?;
    let mut stalled = vec![];
    for _ in 0..STALLED {
        let request = StreamRequest::Chunks {
            token: token.clone(),
            meeting: s.meeting,
            document: doc.id,
            sha256: doc.sha256.clone(),
            indices: indices.clone(),
        };
        let (send, mut recv) = open_request(&conn, &request).await?;
        let StreamReply::Chunks { count } = read_reply(&mut recv).await? else { anyhow::bail!("no chunks") };
        assert_eq!(count as usize, indices.len());
        stalled.push((send, recv));
    }

    // The room still serves another tablet whole meanwhile.
    let other = QuicClient::connect(server.quic_addr, &server.fingerprint, b"gavel/1").await?;
    let other_token = token_of(s.sign_in(&s.voters[1]).await?)?;
    let request = StreamRequest::Chunks { token: other_token, meeting: s.meeting, document: doc.id, sha256: doc.sha256.clone(), indices };
    let (_send, mut recv) = open_request(&other.link.connection, &request).await?;
    let StreamReply::Chunks { count } = read_reply(&mut recv).await? else { anyhow::bail!("no chunks") };
    let mut bytes = 0;
    for _ in 0..count {
        bytes += tokio::time::timeout(Duration::from_secs(30), read_frame(&mut recv, 4 << 20)).await??.len() as u64;
    }
    assert_eq!(bytes, doc.size);

    // The blocking pool lets a thread go after 10 s idle: what is left then
    // is what the stalled requests hold.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let after = threads_of(pid)?;
    assert!(after < before + STALLED / 4, "the room went from {before} to {after} threads with {STALLED} downloads stalled on the tablet");
    drop(stalled);
    Ok(())
}

/// The data directory holds restricted documents' originals and copies,
/// the database and the minutes, each written with the system's default
/// mode (readable by every account): the directory itself is closed to
/// every other account, one made before (open) as well.
#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_is_closed_to_other_accounts() -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let data = tempfile::tempdir()?;
    let dir = data.path().join("gavel-data");
    std::fs::create_dir(&dir)?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
    let server = TestServer::start_in(&dir, |_| {}).await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let doc = s
        .upload_document(
            "Tờ trình mật.pdf",
            pack_pdf(1, 4096, 1, None),
            &[("confidentiality", "named"), ("readers", &s.chair.0.to_string())],
        )
        .await?;
    assert!(dir.join("documents").join(&doc.sha256).is_file(), "the original is kept in the data directory");
    assert_eq!(std::fs::metadata(&dir)?.permissions().mode() & 0o777, 0o700);
    server.stop().await?;
    // A directory that holds other things (a data directory given as
    // `/srv` by mistake) is not the room's to close.
    let shared = data.path().join("srv");
    std::fs::create_dir(&shared)?;
    std::fs::write(shared.join("other-service.conf"), "x")?;
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755))?;
    let server = TestServer::start_in(&shared, |_| {}).await?;
    assert_eq!(std::fs::metadata(&shared)?.permissions().mode() & 0o777, 0o755);
    server.stop().await?;
    Ok(())
}

/// A document's file gone from the room's disk (deleted by hand, a disk
/// restored without it): every way of reading it says so in the same words
/// (`file_missing`), where HTTP and the manifest over QUIC answered
/// "internal error, try again", which fails the same way each time.
#[tokio::test]
async fn a_document_whose_file_is_gone_is_said_so_on_every_path() -> anyhow::Result<()> {
    use gavel_agent::link::{open_request, read_reply};
    use gavel_shared::pack::{StreamReply, StreamRequest};
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let public = s.upload_document("Công khai.pdf", tiny_pdf("cong khai"), &[]).await?;
    let members = s.upload_document("Nội bộ.pdf", tiny_pdf("noi bo"), &[("confidentiality", "members")]).await?;
    for doc in [&public, &members] {
        let documents = server.data_dir.join("documents");
        for name in [doc.sha256.clone(), format!("{}.chunks.json", doc.sha256)] {
            let _ = std::fs::remove_file(documents.join(name));
        }
    }
    let reader = s.sign_in(&s.voters[0]).await?;
    let token = reader.token.clone().context("a token")?;
    let q = QuicClient::connect(server.quic_addr, &server.fingerprint, b"gavel/1").await?;
    for doc in [&public, &members] {
        let a = reader.get(&format!("/api/meetings/{}/documents/{}", s.meeting, doc.id)).await?;
        assert_eq!((a.status, a.code()), (410, "file_missing"), "{}: {a:?}", doc.title);
        // Over QUIC: the manifest (the room may still hold it in memory),
        // then the chunks, which the file must give.
        let (_send, mut recv) =
            open_request(&q.link.connection, &StreamRequest::Manifest { token: token.clone(), meeting: s.meeting, document: doc.id })
                .await?;
        let code = match read_reply(&mut recv).await? {
            StreamReply::Error { code, .. } => code,
            StreamReply::Manifest { manifest } => {
                let indices = (0..manifest.chunks.len() as u32).collect();
                let chunks =
                    StreamRequest::Chunks { token: token.clone(), meeting: s.meeting, document: doc.id, sha256: manifest.sha256, indices };
                let (_send, mut recv) = open_request(&q.link.connection, &chunks).await?;
                match read_reply(&mut recv).await? {
                    StreamReply::Error { code, .. } => code,
                    other => anyhow::bail!("{}: {other:?}", doc.title),
                }
            }
            other => anyhow::bail!("{}: {other:?}", doc.title),
        };
        assert_eq!(code, "file_missing", "{}", doc.title);
    }
    Ok(())
}
