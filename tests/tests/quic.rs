//! The QUIC control stream: the same commands and events as `/ws`, for the
//! tablet agent; the certificate is pinned by its fingerprint, and only the
//! protocol versions the server speaks pass the handshake.

use anyhow::Context;
use gavel_shared::model::*;
use gavel_shared::protocol::{Change, ClientMessage, Command, PROTOCOL_VERSION, ServerMessage};
use gavel_tests::*;

#[tokio::test]
async fn an_agent_signs_in_over_quic_and_follows_the_agenda_in_order() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    let mut q = QuicClient::connect(server.quic_addr, &server.fingerprint, b"gavel/1").await?;
    // Nothing before signing in.
    q.send(&ClientMessage::Hello { meeting: s.meeting, last_seq: None, version: PROTOCOL_VERSION }).await?;
    assert!(matches!(q.recv().await?, ServerMessage::Error { code, .. } if code == "unauthorized"));
    q.send(&ClientMessage::SignIn { meeting: s.meeting, participant: s.voters[0].0, pin: "nope".into(), remote: false }).await?;
    assert!(matches!(q.recv().await?, ServerMessage::Error { code, .. } if code == "bad_credentials"));
    q.send(&ClientMessage::SignIn { meeting: s.meeting, participant: s.voters[0].0, pin: s.voters[0].1.clone(), remote: false }).await?;
    let token = match q.recv().await? {
        ServerMessage::SignedIn { actor, token, name } => {
            assert_eq!(actor.participant(), Some(s.voters[0].0));
            assert_eq!(name, "Đại biểu 0000");
            token.expect("a token to resume with")
        }
        other => anyhow::bail!("{other:?}"),
    };
    q.send(&ClientMessage::Hello { meeting: s.meeting, last_seq: None, version: PROTOCOL_VERSION }).await?;
    assert!(matches!(q.recv().await?, ServerMessage::Welcome { .. }));
    let ServerMessage::Snapshot { state } = q.recv().await? else { anyhow::bail!("no snapshot") };
    let mut copy = state;

    let secretary = s.sign_in(&s.secretary).await?;
    for n in 0..3 {
        secretary
            .command(
                s.meeting,
                &format!("add-{n}"),
                &Command::AddItem { title: format!("Mục {n}"), presenter: String::new(), summary: String::new(), position: None },
            )
            .await?;
    }
    let chair = s.sign_in(&s.chair).await?;
    let mut last = 0;
    for n in 0..3 {
        last = chair.command(s.meeting, &format!("next-{n}"), &Command::NextItem { from: None }).await?.body["seq"].as_u64().unwrap();
    }
    let mut moves = vec![];
    while copy.seq < last {
        match q.recv().await? {
            ServerMessage::Event { event } => {
                copy.apply(&event)?;
                if let Change::CurrentItemChanged { item, .. } = event.change {
                    moves.push(item.unwrap());
                }
            }
            other => anyhow::bail!("{other:?}"),
        }
    }
    assert_eq!(moves.len(), 3);
    assert_eq!(
        copy,
        chair.state(s.meeting).await.map(|st| st.visible_to(&Actor::Participant {
            meeting: s.meeting,
            participant: s.voters[0].0,
            role: Role::Delegate
        }))?
    );
    // Commands over QUIC are refused like anywhere else.
    q.send(&ClientMessage::Command { key: "q1".into(), command: Command::NextItem { from: None } }).await?;
    assert!(matches!(q.recv().await?, ServerMessage::Error { code, .. } if code == "forbidden"));

    // A new connection resumes with the token, without the PIN.
    let mut again = QuicClient::connect(server.quic_addr, &server.fingerprint, b"gavel/1").await?;
    again.send(&ClientMessage::Resume { token }).await?;
    assert!(matches!(again.recv().await?, ServerMessage::SignedIn { .. }));
    again.send(&ClientMessage::Hello { meeting: s.meeting, last_seq: Some(copy.seq), version: PROTOCOL_VERSION }).await?;
    assert!(matches!(again.recv().await?, ServerMessage::Welcome { .. }));
    again.send(&ClientMessage::Ping { nonce: 5 }).await?;
    assert!(matches!(again.recv().await?, ServerMessage::Pong { nonce: 5, .. }), "nothing missed, nothing replayed");
    Ok(())
}

/// A snapshot large enough to go to quinn as it is (not copied into the
/// connection's buffer, and shared between tablets that may see the same)
/// reaches each tablet whole, framed, with the events after it in order.
#[tokio::test]
async fn a_large_snapshot_reaches_each_tablet_whole_and_the_events_follow_it() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 300).await?;
    let mut tablets = vec![];
    for (who, pin) in &s.voters[..2] {
        let mut q = QuicClient::connect(server.quic_addr, &server.fingerprint, b"gavel/1").await?;
        q.send(&ClientMessage::SignIn { meeting: s.meeting, participant: *who, pin: pin.clone(), remote: false }).await?;
        anyhow::ensure!(matches!(q.recv().await?, ServerMessage::SignedIn { .. }), "sign-in refused");
        q.send(&ClientMessage::Hello { meeting: s.meeting, last_seq: None, version: PROTOCOL_VERSION }).await?;
        assert!(matches!(q.recv().await?, ServerMessage::Welcome { .. }));
        tablets.push((*who, q));
    }
    let secretary = s.sign_in(&s.secretary).await?;
    let a = secretary
        .command(
            s.meeting,
            "after-the-snapshot",
            &Command::AddItem { title: "Mục sau".into(), presenter: String::new(), summary: String::new(), position: None },
        )
        .await?;
    let last = a.body["seq"].as_u64().with_context(|| format!("{a:?}"))?;
    let everything = secretary.state(s.meeting).await?;
    for (who, q) in &mut tablets {
        let snapshot = q.recv().await?;
        let size = gavel_shared::protocol::encode(&snapshot).len();
        assert!(size >= 16 * 1024, "a snapshot of {size} bytes is too small to test the uncopied path");
        let ServerMessage::Snapshot { state: mut copy } = snapshot else { anyhow::bail!("no snapshot: {snapshot:?}") };
        assert_eq!(copy.participants.len(), 302);
        while copy.seq < last {
            match q.recv().await? {
                ServerMessage::Event { event } => copy.apply(&event)?,
                other => anyhow::bail!("{other:?}"),
            }
        }
        assert!(copy.agenda.iter().any(|i| i.title == "Mục sau"), "the event after the snapshot");
        assert_eq!(copy, everything.visible_to(&Actor::Participant { meeting: s.meeting, participant: *who, role: Role::Delegate }));
        // The stream goes on framed as before.
        q.send(&ClientMessage::Ping { nonce: 9 }).await?;
        assert!(matches!(q.recv().await?, ServerMessage::Pong { nonce: 9, .. }));
    }
    Ok(())
}

/// A first start cut off between writing the room's key and its
/// certificate (the key is written first) starts again with a certificate
/// made for the key it kept; before, it made a new pair, kept the old key
/// beside the new certificate, and never started again.
#[tokio::test]
async fn a_key_left_without_its_certificate_gets_one_and_the_room_starts() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let first = TestServer::start_in(dir.path(), |_| {}).await?;
    let before = first.fingerprint.clone();
    first.stop().await?;
    let tls = dir.path().join("tls");
    let key = std::fs::read(tls.join("key.der"))?;
    std::fs::remove_file(tls.join("cert.der"))?;
    let again = TestServer::start_in(dir.path(), |_| {}).await?;
    assert_ne!(again.fingerprint, before, "a new certificate");
    assert_eq!(std::fs::read(tls.join("key.der"))?, key, "for the key that was kept");
    let mut q = QuicClient::connect(again.quic_addr, &again.fingerprint, b"gavel/1").await?;
    q.send(&ClientMessage::Ping { nonce: 7 }).await?;
    assert!(matches!(q.recv().await?, ServerMessage::Pong { nonce: 7, .. }));
    Ok(())
}

#[tokio::test]
async fn a_wrong_fingerprint_is_refused_with_a_clear_message() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let wrong = "00".repeat(32);
    let err = QuicClient::connect(server.quic_addr, &wrong, b"gavel/1").await.err().expect("refused");
    let text = format!("{err:#}");
    assert!(text.contains("fingerprint") && text.contains(&server.fingerprint), "{text}");
    Ok(())
}

#[tokio::test]
async fn a_protocol_version_the_room_does_not_speak_fails_the_handshake() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let err = QuicClient::connect(server.quic_addr, &server.fingerprint, b"gavel/2").await.err().expect("refused");
    let text = format!("{err:#}");
    assert!(text.to_lowercase().contains("application protocol") || text.contains("120") || text.contains("alpn"), "{text}");
    // The version it speaks still works.
    QuicClient::connect(server.quic_addr, &server.fingerprint, b"gavel/1").await?;
    Ok(())
}

#[tokio::test]
async fn the_agent_joins_with_a_pinned_fingerprint_and_refuses_another() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let agent = workspace_binary("gavel-agent")?;
    let cache = tempfile::tempdir()?;
    let join = |fp: &str| {
        tokio::process::Command::new(&agent)
            .args(["join", "--server", &server.quic_addr.to_string(), "--fingerprint", fp, "--meeting", &s.meeting.to_string()])
            .args(["--participant", &s.voters[0].0.to_string(), "--once"])
            .arg("--cache")
            .arg(cache.path())
            .env("GAVEL_PIN", &s.voters[0].1)
            .output()
    };
    let ok = join(&server.fingerprint).await?;
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{out} {}", String::from_utf8_lossy(&ok.stderr));
    assert!(out.contains("signed-in name=\"Đại biểu 0000\"") && out.contains("title=\"Kỳ họp Hội đồng\""), "{out}");
    let wrong = join(&"ab".repeat(32)).await?;
    assert!(!wrong.status.success());
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(err.contains("refused") && err.contains("not the one pinned"), "{err}");
    Ok(())
}

#[tokio::test]
async fn a_tablet_that_drops_its_link_gives_its_place_back() -> anyhow::Result<()> {
    // One connection per address: the next one is served only once the room
    // has let go of the last (its control stream ended, so its session did).
    let data = tempfile::tempdir()?;
    let server = TestServer::start_in(data.path(), |c| c.max_connections_per_address = 1).await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let (who, pin) = s.voters[0].clone();
    for round in 0..3 {
        // The room lets go a moment after the drop: a refusal meanwhile is
        // tried again, for a while.
        let mut tries = 0;
        let mut q = loop {
            let mut q = QuicClient::connect(server.quic_addr, &server.fingerprint, b"gavel/1").await?;
            q.send(&ClientMessage::SignIn { meeting: s.meeting, participant: who, pin: pin.clone(), remote: false }).await?;
            match q.recv().await {
                Ok(ServerMessage::SignedIn { .. }) => break q,
                _ if tries < 50 && round > 0 => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                other => anyhow::bail!("round {round}: {other:?}"),
            }
        };
        q.send(&ClientMessage::Hello { meeting: s.meeting, last_seq: None, version: PROTOCOL_VERSION }).await?;
        assert!(matches!(q.recv().await?, ServerMessage::Welcome { .. }));
        assert!(matches!(q.recv().await?, ServerMessage::Snapshot { .. }));
        // Dropped the way the benchmark's and the agent's readers drop theirs:
        // the streams, after the connection's own handle.
        let (send, recv) = q.link.split();
        drop(send);
        drop(recv);
    }
    Ok(())
}

#[tokio::test]
async fn a_control_frame_announced_too_large_is_refused_with_a_reason_before_the_connection_closes() -> anyhow::Result<()> {
    use gavel_agent::link::{client_config, client_endpoint, read_frame};
    let server = TestServer::start().await?;
    let endpoint = client_endpoint(server.quic_addr)?;
    let conn = endpoint.connect_with(client_config(&server.fingerprint, &[b"gavel/1"])?, server.quic_addr, "gavel.local")?.await?;
    let (mut send, mut recv) = conn.open_bi().await?;
    // A length prefix claiming 4 GiB, before anyone signs in: before, the
    // connection closed with no reason ("bye").
    send.write_all(&u32::MAX.to_be_bytes()).await?;
    let frame = tokio::time::timeout(WAIT, read_frame(&mut recv, 1 << 20)).await??;
    match gavel_shared::protocol::decode_server(std::str::from_utf8(&frame)?, 1 << 20)? {
        ServerMessage::Error { code, .. } => assert_eq!(code, "message_too_large"),
        other => anyhow::bail!("{other:?}"),
    }
    tokio::time::timeout(WAIT, conn.closed()).await?;
    Ok(())
}

/// A client that sends and sends on streams the room is not reading (here
/// the room's answer to what it sent waits, for the client grants it no
/// room to send) is held to 1 MiB of the room's memory a stream and 2 MiB a
/// connection: before,
/// 16 MiB a stream and 64 MiB a connection, with 64 connections an address.
#[tokio::test]
async fn a_client_pushing_into_streams_the_room_is_not_reading_is_held_to_two_mebibytes() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let mut config = gavel_agent::link::client_config(&server.fingerprint, &[b"gavel/1"])?;
    let mut transport = quinn::TransportConfig::default();
    transport.stream_receive_window(quinn::VarInt::from_u32(0));
    config.transport_config(std::sync::Arc::new(transport));
    let endpoint = gavel_agent::link::client_endpoint(server.quic_addr)?;
    let conn = endpoint.connect_with(config, server.quic_addr, "gavel.local")?.await?;
    // The first stream is the control stream, read as messages come (what
    // the room reads and drops holds nothing): it sends nothing here. The
    // others are requests, each refused and then not read.
    let control = conn.open_bi().await?;
    let mut taken = vec![];
    let mut streams = vec![];
    for _ in 0..3 {
        let (mut send, recv) = conn.open_bi().await?;
        let piece = vec![0u8; 64 * 1024];
        let mut n = 0;
        // Past the connection's window, even the request waits.
        let asked =
            tokio::time::timeout(std::time::Duration::from_secs(2), gavel_agent::link::write_frame(&mut send, b"not a request")).await;
        while asked.is_ok() && n < 8 << 20 {
            match tokio::time::timeout(std::time::Duration::from_secs(2), send.write(&piece)).await {
                Ok(written) => n += written?,
                Err(_) => break,
            }
        }
        taken.push(n);
        streams.push((send, recv));
    }
    assert!(taken.iter().all(|n| *n <= (1 << 20) + 64 * 1024), "the room took {taken:?} bytes a stream it was not reading");
    assert!(taken.iter().sum::<usize>() <= (2 << 20) + 64 * 1024, "the room took {taken:?} bytes on one connection");
    drop(control);
    // Told, so its requests end now rather than at their deadline.
    conn.close(quinn::VarInt::from_u32(0), b"done");
    endpoint.wait_idle().await;
    Ok(())
}
