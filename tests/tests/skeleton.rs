//! The walking skeleton, end to end: the real server on an ephemeral port
//! with a temporary data directory, driven over WebSocket and HTTP.

use gavel_shared::decision::Stance;
use gavel_shared::model::*;
use gavel_shared::protocol::{Change, ClientMessage, Command, ServerMessage};
use gavel_tests::*;
use serde_json::json;

fn current_changes(ws: &Ws) -> Vec<(u64, Option<ItemId>)> {
    ws.events
        .iter()
        .filter_map(|e| match e.change {
            Change::CurrentItemChanged { item, .. } => Some((e.seq, item)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn chair_moves_the_agenda_and_both_delegates_see_the_same_events_in_order() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Scenario::build(&server).await?;
    let mut chair = s.ws_as(&server, Role::Chair, 0, None).await?;
    let mut d1 = s.ws_as(&server, Role::Delegate, 0, None).await?;
    let mut d2 = s.ws_as(&server, Role::Delegate, 1, None).await?;
    for ws in [&mut chair, &mut d1, &mut d2] {
        while ws.snapshot.is_none() {
            ws.recv().await?;
        }
    }
    let moves = [
        Command::NextItem { from: None },
        Command::NextItem { from: None },
        Command::PreviousItem { from: None },
        Command::GoToItem { item: s.items[2] },
    ];
    let mut last = 0;
    for cmd in moves {
        match chair.command(cmd).await? {
            ServerMessage::Ack { seq: Some(seq), .. } => last = seq,
            other => anyhow::bail!("expected an ack, got {other:?}"),
        }
    }
    d1.wait_seq(last).await?;
    d2.wait_seq(last).await?;
    let expected = vec![Some(s.items[0]), Some(s.items[1]), Some(s.items[0]), Some(s.items[2])];
    let seen1: Vec<_> = current_changes(&d1).into_iter().map(|c| c.1).collect();
    assert_eq!(seen1, expected);
    assert_eq!(current_changes(&d1), current_changes(&d2), "same events, same seq, same order");
    let seqs: Vec<u64> = d1.events.iter().map(|e| e.seq).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "no gaps: {seqs:?}");
    // Each delegate's copy, folded from events, equals the server's state.
    let copy = d1.copy()?;
    let server_view = s.http_as(&server, Role::Delegate, 0).await?.state(s.meeting).await?;
    assert_eq!(copy, server_view);
    assert_eq!(copy.meeting.current_item, Some(s.items[2]));
    assert_eq!(copy.item(s.items[0]).unwrap().status, ItemStatus::Done);
    Ok(())
}

#[tokio::test]
async fn a_delegate_that_reconnects_gets_exactly_what_it_missed() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Scenario::build(&server).await?;
    let mut chair = s.ws_as(&server, Role::Chair, 0, None).await?;
    let mut d = s.ws_as(&server, Role::Delegate, 0, None).await?;
    while d.snapshot.is_none() {
        d.recv().await?;
    }
    let ServerMessage::Ack { seq: Some(seen), .. } = chair.command(Command::NextItem { from: None }).await? else {
        anyhow::bail!("no ack")
    };
    d.wait_seq(seen).await?;
    d.close().await;
    // Missed while away: two moves and an edit by the secretary.
    chair.command(Command::NextItem { from: None }).await?;
    chair.command(Command::NextItem { from: None }).await?;
    let mut sec = s.ws_as(&server, Role::Secretary, 0, None).await?;
    let ServerMessage::Ack { seq: Some(last), .. } = sec
        .command(Command::UpdateItem {
            item: s.items[0], title: "Khai mạc (sửa)".into(), presenter: String::new(), summary: String::new()
        })
        .await?
    else {
        anyhow::bail!("no ack")
    };
    let mut back = s.ws_as(&server, Role::Delegate, 0, Some(seen)).await?;
    back.wait_seq(last).await?;
    let got: Vec<u64> = back.events.iter().map(|e| e.seq).collect();
    assert_eq!(got, ((seen + 1)..=last).collect::<Vec<_>>(), "exactly the missed events");
    assert!(back.snapshot.is_none(), "a small gap is replayed, not snapshotted");
    // And nothing more arrives: a ping is answered next.
    back.send(&ClientMessage::Ping { nonce: 7 }).await?;
    match back.recv().await? {
        ServerMessage::Pong { nonce: 7, .. } => {}
        other => anyhow::bail!("expected only the pong, got {other:?}"),
    }
    Ok(())
}

/// The events a delegate missed, as it is replayed them after `seen`, up
/// to `last`.
async fn replayed(server: &TestServer, s: &Scenario, n: usize, seen: u64, last: u64) -> anyhow::Result<Vec<gavel_shared::protocol::Event>> {
    let mut back = s.ws_as(server, Role::Delegate, n, Some(seen)).await?;
    back.wait_seq(last).await?;
    anyhow::ensure!(back.snapshot.is_none(), "replayed, not snapshotted");
    let events = std::mem::take(&mut back.events);
    back.close().await;
    Ok(events)
}

/// Delegates come back behind after a named document (delegate 0 its only
/// reader) and an opinion of delegate 0's: each is replayed the missed
/// events as it may see them, the same from the room's memory as from the
/// log after a restart (when the room keeps nothing from before it).
#[tokio::test]
async fn missed_events_are_replayed_as_each_may_see_them_from_memory_as_from_the_log() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start_in(dir.path(), |_| {}).await?;
    let s = Scenario::build(&server).await?;
    let chair = s.http_as(&server, Role::Chair, 0).await?;
    let seen = chair.command(s.meeting, "m1", &Command::NextItem { from: None }).await?.body["seq"].as_u64().expect("seq");
    let (reader, _) = s.person(Role::Delegate, 0);
    let title = "Tờ trình mật số 7";
    let a = s
        .admin
        .upload(
            s.meeting,
            s.items[0],
            "to-trinh.pdf",
            tiny_pdf("To trinh"),
            &[("title", title), ("confidentiality", "named"), ("readers", &reader.to_string())],
        )
        .await?;
    assert_eq!(a.status, 201, "{a:?}");
    let d0 = s.http_as(&server, Role::Delegate, 0).await?;
    let o = Command::AddOpinion { item: s.items[0], document: None, stance: Stance::Disagree, text: "Ý kiến riêng của tôi".into() };
    assert_eq!(d0.command(s.meeting, "o1", &o).await?.status, 200);
    let last = chair.command(s.meeting, "m2", &Command::NextItem { from: None }).await?.body["seq"].as_u64().expect("seq");

    let check = |n: usize, events: &[gavel_shared::protocol::Event]| -> anyhow::Result<()> {
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), ((seen + 1)..=last).collect::<Vec<_>>(), "exactly the missed events");
        let text = serde_json::to_string(events)?;
        if n == 0 {
            assert!(events.iter().any(|e| matches!(&e.change, Change::DocumentAdded { document } if document.title == title && document.readers == vec![reader])), "the reader is shown the document: {text}");
            assert!(text.contains("Ý kiến riêng của tôi"), "its author is shown the opinion: {text}");
        } else {
            assert!(!text.contains(title) && !text.contains("Ý kiến riêng"), "delegate 1 is shown neither: {text}");
            // Not even that it was added: no event names the document's id.
            assert!(events.iter().any(|e| matches!(e.change, Change::Hidden)), "{text}");
            assert!(!events.iter().any(|e| matches!(e.change, Change::DocumentRemoved { .. } | Change::DocumentAdded { .. })), "{text}");
        }
        Ok(())
    };
    let mut from_memory = vec![];
    for n in 0..2 {
        let events = replayed(&server, &s, n, seen, last).await?;
        check(n, &events)?;
        from_memory.push(events);
    }
    server.stop().await?;
    let server = TestServer::start_in(dir.path(), |_| {}).await?;
    for (n, memory) in from_memory.iter().enumerate() {
        let events = replayed(&server, &s, n, seen, last).await?;
        check(n, &events)?;
        assert_eq!(&events, memory, "the log replays what memory did");
    }
    Ok(())
}

#[tokio::test]
async fn a_delegate_may_not_move_the_agenda_and_nothing_changes() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Scenario::build(&server).await?;
    let mut d = s.ws_as(&server, Role::Delegate, 0, None).await?;
    while d.snapshot.is_none() {
        d.recv().await?;
    }
    let before = d.snapshot.clone().unwrap();
    match d.command(Command::NextItem { from: None }).await? {
        ServerMessage::Error { code, message, .. } => {
            assert_eq!(code, "forbidden");
            assert!(message.contains("chair"), "{message}");
        }
        other => anyhow::bail!("expected a refusal, got {other:?}"),
    }
    let after = s.http_as(&server, Role::Delegate, 0).await?.state(s.meeting).await?;
    assert_eq!(after, before, "a refused command changes nothing");
    // Over HTTP too, with a 403 and a JSON error.
    let http = s.http_as(&server, Role::Delegate, 1).await?;
    let a = http.command(s.meeting, "k1", &Command::GoToItem { item: s.items[1] }).await?;
    assert_eq!((a.status, a.code()), (403, "forbidden"));
    Ok(())
}

#[tokio::test]
async fn a_repeated_idempotency_key_returns_the_first_result_and_changes_nothing() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Scenario::build(&server).await?;
    let chair = s.http_as(&server, Role::Chair, 0).await?;
    let first = chair.command(s.meeting, "same-key", &Command::NextItem { from: None }).await?;
    let again = chair.command(s.meeting, "same-key", &Command::NextItem { from: None }).await?;
    assert_eq!(first.status, 200);
    assert_eq!(first.body["seq"], again.body["seq"]);
    assert_eq!(again.body["repeated"], true);
    let state = chair.state(s.meeting).await?;
    assert_eq!(state.meeting.current_item, Some(s.items[0]), "moved once, not twice");
    Ok(())
}

/// "Create the meeting" sent again after its answer was lost (weak Wi-Fi,
/// a second click) made a second meeting: with the form's key it gets the
/// first one, across a restart too; another key makes another meeting.
#[tokio::test]
async fn a_meeting_created_twice_with_one_key_is_made_once() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let server = TestServer::start_in(data.path(), |_| {}).await?;
    let mut admin = server.client();
    admin.sign_in_admin().await?;
    let body = serde_json::json!({"title": "Họp giao ban tháng 12", "starts_at": "2026-12-01T08:00:00+07:00"});
    let create = |admin: Http, key: &'static str| {
        let body = body.clone();
        async move {
            let r = admin.raw_post("/api/meetings").header("idempotency-key", key).json(&body).send().await?;
            anyhow::Ok((r.status().as_u16(), r.json::<serde_json::Value>().await?["id"].as_i64()))
        }
    };
    // A key no retry could match is refused, and nothing is made.
    let r = admin.raw_post("/api/meetings").header("idempotency-key", "k".repeat(129)).json(&body).send().await?;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<serde_json::Value>().await?["code"], "bad_key");
    let (status, first) = create(admin.clone(), "form-1").await?;
    assert_eq!(status, 201);
    let (status, again) = create(admin.clone(), "form-1").await?;
    assert_eq!((status, again), (200, first), "the same meeting, not a second");
    let addrs = server.addrs();
    server.stop().await?;
    let server = TestServer::start_again(data.path(), addrs).await?;
    let mut admin = server.client();
    admin.sign_in_admin().await?;
    assert_eq!(create(admin.clone(), "form-1").await?, (200, first), "after a restart too");
    let (status, other) = create(admin.clone(), "form-2").await?;
    assert!(status == 201 && other.is_some() && other != first, "another form, another meeting");
    let list = admin.get("/api/meetings").await?;
    let named = list.body.as_array().map_or(0, |l| l.iter().filter(|m| m["title"] == "Họp giao ban tháng 12").count());
    assert_eq!(named, 2, "{:?}", list.body);
    Ok(())
}

/// A command taken whose answer was lost is answered as taken when sent
/// again, even once the meeting has moved on so far that, sent anew, it
/// would be refused: the PINs reset for someone since removed, the people
/// added to a meeting since closed. (These three commands are checked
/// before they reach the meeting's writer, which looks the key up first.)
#[tokio::test]
async fn a_retry_of_a_command_taken_is_answered_as_taken_though_the_meeting_moved_on() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let late = gavel_shared::protocol::NewParticipant {
        name: "Khách mời".into(),
        position: String::new(),
        role: Role::Observer,
        member: false,
        voting: false,
    };
    let add = Command::AddParticipants { participants: vec![late] };
    let a = s.admin.command(s.meeting, "add-late", &add).await?;
    assert_eq!(a.status, 200, "{a:?}");
    let late =
        ParticipantId(a.body["result"]["pins"][0]["participant"].as_i64().ok_or_else(|| anyhow::anyhow!("no new participant: {a:?}"))?);
    let reset = Command::ResetPins { participants: vec![late] };
    assert_eq!(s.admin.command(s.meeting, "reset-late", &reset).await?.status, 200);
    assert_eq!(s.admin.command(s.meeting, "remove-late", &Command::RemoveParticipant { participant: late }).await?.status, 200);
    let again = s.admin.command(s.meeting, "reset-late", &reset).await?;
    assert_eq!((again.status, &again.body["repeated"]), (200, &json!(true)), "{again:?}");
    let chair = s.sign_in(&s.chair).await?;
    assert_eq!(chair.command(s.meeting, "close", &Command::CloseMeeting).await?.status, 200);
    let again = s.admin.command(s.meeting, "add-late", &add).await?;
    assert_eq!((again.status, &again.body["repeated"]), (200, &json!(true)), "{again:?}");
    assert_eq!(s.admin.state(s.meeting).await?.participants.len(), 3, "the chair, the secretary and the voter: added once, removed");
    // Sent anew, the same command is refused.
    assert_eq!(s.admin.command(s.meeting, "add-late-anew", &add).await?.code(), "wrong_status");
    Ok(())
}

#[tokio::test]
async fn the_server_restarted_on_the_same_data_directory_has_the_same_state() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start_in(dir.path(), |_| {}).await?;
    let s = Scenario::build(&server).await?;
    let chair = s.http_as(&server, Role::Chair, 0).await?;
    chair.command(s.meeting, "m1", &Command::NextItem { from: None }).await?;
    chair.command(s.meeting, "m2", &Command::NextItem { from: None }).await?;
    s.admin.upload(s.meeting, s.items[1], "bao-cao.pdf", tiny_pdf("Bao cao"), &[("title", "Báo cáo tuần")]).await?;
    let before = chair.state(s.meeting).await?;
    let events_before = chair.get(&format!("/api/meetings/{}/events", s.meeting)).await?;
    assert_eq!(events_before.status, 200, "{events_before:?}");
    let events_before = events_before.body;
    assert_eq!(events_before.as_array().map(Vec::len), Some(before.seq as usize), "the whole log, from meeting_created on");
    server.stop().await?;

    let server = TestServer::start_in(dir.path(), |_| {}).await?;
    let (id, pin) = s.person(Role::Chair, 0);
    let mut chair = server.client();
    assert_eq!(chair.sign_in(s.meeting, id, &pin).await?.status, 200, "PINs survive a restart");
    let after = chair.state(s.meeting).await?;
    assert_eq!(after, before);
    assert_eq!(chair.get(&format!("/api/meetings/{}/events", s.meeting)).await?.body, events_before);
    // The document's content survived too.
    let doc = &after.documents[0];
    let bytes = chair.raw_get(&format!("/api/meetings/{}/documents/{}", s.meeting, doc.id)).send().await?.bytes().await?;
    assert_eq!(bytes.as_ref(), tiny_pdf("Bao cao").as_slice());
    // And the log goes on without a gap.
    let a = chair.command(s.meeting, "m3", &Command::NextItem { from: None }).await?;
    assert_eq!(a.body["seq"].as_u64(), Some(before.seq + 1));
    Ok(())
}

#[tokio::test]
async fn a_fake_pdf_and_an_oversized_upload_are_refused_and_change_nothing() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start_in(dir.path(), |c| c.max_upload = 64 * 1024).await?;
    let s = Scenario::build(&server).await?;
    let before = s.admin.state(s.meeting).await?;

    let fake = s.admin.upload(s.meeting, s.items[0], "virus.pdf", b"MZ\x90\x00 this is not a PDF".to_vec(), &[]).await?;
    assert_eq!((fake.status, fake.code()), (415, "not_a_pdf"));
    let mut truncated = tiny_pdf("x");
    truncated.truncate(truncated.len() - 10);
    let cut = s.admin.upload(s.meeting, s.items[0], "cut.pdf", truncated, &[]).await?;
    assert_eq!(cut.code(), "not_a_pdf");

    let mut big = tiny_pdf("big");
    big.splice(9..9, vec![b'%'; 200 * 1024]);
    let too_big = s.admin.upload(s.meeting, s.items[0], "big.pdf", big, &[]).await?;
    assert_eq!((too_big.status, too_big.code()), (413, "too_large"), "{too_big:?}");

    // Two files in one form: refused, and neither is left behind (the
    // first's temporary file stayed until a restart).
    let first = String::from_utf8(tiny_pdf("first"))?;
    let twice = s.admin.upload(s.meeting, s.items[0], "second.pdf", tiny_pdf("second"), &[("file", first.as_str())]).await?;
    assert_eq!((twice.status, twice.code()), (400, "bad_upload"), "{twice:?}");
    // Named readers the meeting does not have: refused before the content is kept.
    let fields = [("confidentiality", "named"), ("readers", "999999")];
    let nobody = s.admin.upload(s.meeting, s.items[0], "named.pdf", tiny_pdf("named"), &fields).await?;
    assert_eq!((nobody.status, nobody.code()), (404, "not_found"), "{nobody:?}");

    let after = s.admin.state(s.meeting).await?;
    assert_eq!(after, before, "nothing recorded");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("documents"))?.collect();
    assert!(leftovers.is_empty(), "no stored content: {leftovers:?}");
    let tmp: Vec<_> = std::fs::read_dir(dir.path().join("tmp"))?.collect();
    assert!(tmp.is_empty(), "no temporary files left: {tmp:?}");

    // A real PDF still goes through afterwards.
    let ok = s.admin.upload(s.meeting, s.items[0], "that.pdf", tiny_pdf("ok"), &[("confidentiality", "members")]).await?;
    assert_eq!(ok.status, 201, "{ok:?}");
    Ok(())
}

/// The room's disk fills during an upload: the secretary is told so (not
/// "the server failed, try again", which fails the same way), nothing is
/// recorded, and the space the upload took is given back.
#[tokio::test]
async fn an_upload_that_fills_the_rooms_disk_is_said_so_and_changes_nothing() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = ServerProcess::start_on_small_disk(dir.path(), 8 * 1024 * 1024, &[]).await?;
    let s = Assembly::build(&format!("http://{}", server.addr), 1).await?;
    let before = s.admin.state(s.meeting).await?;
    let full = s.admin.upload(s.meeting, s.item, "Báo cáo lớn.pdf", pack_pdf(12, 1024 * 1024, 7, None), &[]).await?;
    assert_eq!((full.status, full.code()), (507, "disk_full"), "{full:?}");
    assert!(full.body["message"].as_str().is_some_and(|m| m.contains("disk is full")), "{full:?}");
    assert_eq!(s.admin.state(s.meeting).await?, before, "nothing recorded");
    // What it took is free again: a smaller document goes in.
    let doc = s.upload_document("Tờ trình.pdf", pack_pdf(2, 512 * 1024, 8, None), &[]).await?;
    assert_eq!(s.admin.state(s.meeting).await?.documents.len(), 1, "{doc:?}");
    Ok(())
}

#[tokio::test]
async fn malformed_and_oversized_messages_get_an_error_and_the_connection_goes_on() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Scenario::build(&server).await?;
    let mut chair = s.ws_as(&server, Role::Chair, 0, None).await?;
    let mut d = s.ws_as(&server, Role::Delegate, 0, None).await?;
    while chair.snapshot.is_none() {
        chair.recv().await?;
    }
    chair.send_text("{this is not json".into()).await?;
    match chair.reply().await? {
        ServerMessage::Error { code, .. } => assert_eq!(code, "malformed_message"),
        other => anyhow::bail!("{other:?}"),
    }
    chair.send_text(format!(r#"{{"type":"ping","nonce":1,"pad":"{}"}}"#, "x".repeat(gavel_shared::protocol::MAX_MESSAGE_BYTES))).await?;
    match chair.reply().await? {
        ServerMessage::Error { code, .. } => assert_eq!(code, "message_too_large"),
        other => anyhow::bail!("{other:?}"),
    }
    // A message past what the socket reads at all (4 MiB): said as over
    // QUIC, then closed with 1009; before, the socket dropped unexplained.
    let mut huge = s.ws_as(&server, Role::Delegate, 1, None).await?;
    let _ = huge.send_text(format!(r#"{{"type":"ping","nonce":2,"pad":"{}"}}"#, "x".repeat(5 * 1024 * 1024))).await;
    match huge.reply().await? {
        ServerMessage::Error { code, .. } => assert_eq!(code, "message_too_large"),
        other => anyhow::bail!("{other:?}"),
    }
    assert_eq!(huge.close_code().await?, Some(1009));
    // A known command with a field of the wrong kind: refused under its key,
    // so whoever waits on that key hears back (before, the error named no key).
    chair.send_text(r#"{"type":"command","key":"bad","command":{"type":"go_to_item","item":"the second"}}"#.into()).await?;
    match chair.reply().await? {
        ServerMessage::Error { code, key, .. } => assert_eq!((code.as_str(), key.as_deref()), ("malformed_message", Some("bad"))),
        other => anyhow::bail!("{other:?}"),
    }
    chair.send_text(r#"{"type":"command","key":"k","command":{"type":"launch_rocket"}}"#.into()).await?;
    match chair.reply().await? {
        ServerMessage::Error { code, key, .. } => {
            assert_eq!(code, "unknown_command");
            assert_eq!(key.as_deref(), Some("k"));
        }
        other => anyhow::bail!("{other:?}"),
    }
    // Over HTTP, a malformed id or query is answered as JSON with a code,
    // like any other refusal (axum's own answer was plain text).
    for path in [
        "/api/meetings/abc/state".to_string(),
        format!("/api/meetings/{}/events?after=-1", s.meeting),
        format!("/api/meetings/{}/minutes/export?format=xls", s.meeting),
        format!("/api/meetings/{}/documents/not-a-number", s.meeting),
    ] {
        let a = s.admin.get(&path).await?;
        assert_eq!((a.status, a.code()), (400, "invalid"), "{path}: {a:?}");
    }
    // An upload that is not a form, and a participants file over the 2 MiB
    // an import takes: JSON too, the second with its limit.
    let admin = &s.admin;
    let not_a_form = admin.post(&format!("/api/meetings/{}/items/{}/documents", s.meeting, s.items[0]), &json!({"file": "x"})).await?;
    assert_eq!((not_a_form.status, not_a_form.code()), (400, "bad_upload"), "{not_a_form:?}");
    let big = admin
        .raw_post(&format!("/api/meetings/{}/participants/import", s.meeting))
        .header("content-type", "text/csv")
        .body(format!("name\n{}", "An\n".repeat(1_100_000)))
        .send()
        .await?;
    let status = big.status().as_u16();
    let body: serde_json::Value = big.json().await?;
    assert_eq!((status, body["code"].as_str()), (413, Some("too_large")), "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("2097152")), "{body}");
    // The same connection still works, and so does everybody else's.
    let ServerMessage::Ack { seq: Some(seq), .. } = chair.command(Command::NextItem { from: None }).await? else { anyhow::bail!("no ack") };
    d.wait_seq(seq).await?;
    assert!(d.events.iter().any(|e| e.seq == seq));
    Ok(())
}

#[tokio::test]
async fn sign_in_is_checked_and_errors_are_json_with_a_code() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Scenario::build(&server).await?;
    let (id, pin) = s.person(Role::Delegate, 0);
    let wrong = if pin == "000000" { "111111" } else { "000000" };
    let mut c = server.client();
    let a = c.sign_in(s.meeting, id, wrong).await?;
    assert_eq!((a.status, a.code()), (401, "bad_credentials"));
    let a = c.sign_in(MeetingId(9999), id, &pin).await?;
    assert_eq!(a.code(), "bad_credentials", "a participant signs in to their own meeting only");
    let a = server.client().get(&format!("/api/meetings/{}/state", s.meeting)).await?;
    assert_eq!((a.status, a.code()), (401, "unauthorized"));
    let a = server.client().post("/api/session", &json!({"meeting": "x"})).await?;
    assert_eq!((a.status, a.code()), (400, "malformed_json"));
    // Well-formed JSON sent as something else: the kind is wrong, not the JSON.
    let body = json!({"meeting": s.meeting, "participant": id, "pin": pin}).to_string().into_bytes();
    let a = server.client().post_raw("/api/session", "text/plain", body).await?;
    assert_eq!((a.status, a.code()), (415, "not_json"), "{a:?}");
    let a = server.client().get("/api/nothing-here").await?;
    assert_eq!((a.status, a.code()), (404, "not_found"));
    // A method an address does not take: said as JSON too (axum's own
    // answer had an empty body, which the web UI could not read).
    let raw = reqwest::Client::new();
    for (method, path) in [(reqwest::Method::PUT, "/api/meetings"), (reqwest::Method::DELETE, "/api/nothing-here")] {
        let r = raw.request(method.clone(), server.url(path)).send().await?;
        assert_eq!(r.status(), 405, "{method} {path}");
        let body: serde_json::Value = r.json().await?;
        assert_eq!(body["code"], "method_not_allowed", "{method} {path}: {body}");
    }
    // The cookie works for HTTP like the bearer token.
    let mut browser = server.client();
    browser.sign_in(s.meeting, id, &pin).await?;
    browser.token = None;
    assert_eq!(browser.get("/api/session").await?.body["actor"]["participant"], json!(id));
    // /ws without a session is refused before the upgrade.
    assert!(Ws::connect(server.addr, None).await.is_err());
    // With a session but no WebSocket handshake: a clear error, no upgrade.
    let a = browser.get("/ws").await?;
    assert_eq!((a.status, a.code()), (400, "not_websocket"), "{a:?}");
    Ok(())
}

#[tokio::test]
async fn documents_download_with_ranges_etags_and_confidentiality() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Scenario::build(&server).await?;
    let pdf = tiny_pdf("Tai lieu mat");
    let (named_reader, _) = s.person(Role::Delegate, 1);
    let up = s
        .admin
        .upload(
            s.meeting,
            s.items[1],
            "han-che.pdf",
            pdf.clone(),
            &[("confidentiality", "named"), ("readers", &named_reader.0.to_string())],
        )
        .await?;
    assert_eq!(up.status, 201, "{up:?}");
    let doc = up.body["id"].as_i64().unwrap();
    let path = format!("/api/meetings/{}/documents/{doc}", s.meeting);

    let reader = s.http_as(&server, Role::Delegate, 1).await?;
    let full = reader.raw_get(&path).send().await?;
    assert_eq!(full.status(), 200);
    let etag = full.headers()["etag"].to_str()?.to_string();
    assert_eq!(full.headers()["content-type"], "application/pdf");
    // A named document reaches its reader as their own stamped copy
    // (tests/tests/agent.rs reads the stamp); ranges work on that copy.
    let copy = full.bytes().await?;
    assert!(copy.starts_with(b"%PDF-") && copy.as_ref() != pdf.as_slice(), "the reader's stamped copy");
    let part = reader.raw_get(&path).header("range", "bytes=0-7").send().await?;
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await?.as_ref(), &copy[..8]);
    let cached = reader.raw_get(&path).header("if-none-match", &etag).send().await?;
    assert_eq!(cached.status(), 304);

    // Another delegate and the observer neither fetch nor list it.
    for (role, n) in [(Role::Delegate, 0), (Role::Observer, 0)] {
        let other = s.http_as(&server, role, n).await?;
        assert_eq!(other.raw_get(&path).send().await?.status(), 404);
        assert!(other.state(s.meeting).await?.documents.is_empty());
    }
    let chair = s.http_as(&server, Role::Chair, 0).await?;
    assert_eq!(chair.raw_get(&path).send().await?.status(), 200, "the chair reads everything");
    Ok(())
}

#[tokio::test]
async fn participants_import_from_csv_with_pins_and_vietnamese_order() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Scenario::build(&server).await?;
    let csv = "Họ và tên,Chức vụ,Vai trò,Thành viên,Biểu quyết\nVũ Văn Anh,Cán bộ,đại biểu,có,có\nĐỗ Thị Ánh,,khách mời,không,không\n";
    // Typed with combining marks: stored as NFC.
    let decomposed: String = csv.replace("Vũ", "Vu\u{0303}");
    let a = s.admin.post_raw(&format!("/api/meetings/{}/participants/import", s.meeting), "text/csv", decomposed.into_bytes()).await?;
    assert_eq!(a.status, 200, "{a:?}");
    let pins = a.body["result"]["pins"].as_array().unwrap();
    assert_eq!(pins.len(), 2);
    assert!(pins.iter().all(|p| p["pin"].as_str().is_some_and(|p| p.len() == 6)));
    let picker = server.client().get(&format!("/api/meetings/{}/participants", s.meeting)).await?;
    let names: Vec<&str> = picker.body.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"Vũ Văn Anh"), "{names:?}");
    let anh = names.iter().position(|n| *n == "Vũ Văn Anh").unwrap();
    let anh_acute = names.iter().position(|n| *n == "Đỗ Thị Ánh").unwrap();
    assert!(anh < anh_acute, "Anh before Ánh: {names:?}");
    // Saved by Excel as "CSV" on a Vietnamese Windows: Windows-1258, whose
    // tone marks are combining characters (ễ is ê, 0xEA, then a tilde, 0xDE),
    // and semicolons.
    let cp1258 = b"Ho\xf2 v\xe0 t\xean;Vai tro\xcc\nNguy\xea\xden Th\xe0nh \xd0a\xf2t;\xf0a\xf2i bi\xea\xd2u\n".to_vec();
    let a = s.admin.post_raw(&format!("/api/meetings/{}/participants/import", s.meeting), "text/csv", cp1258).await?;
    assert_eq!(a.status, 200, "{a:?}");
    let picker = server.client().get(&format!("/api/meetings/{}/participants", s.meeting)).await?;
    let names: Vec<&str> = picker.body.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"Nguyễn Thành Đạt"), "{names:?}");
    // The new participant signs in with the printed PIN.
    let id = ParticipantId(pins[0]["participant"].as_i64().unwrap());
    let mut c = server.client();
    assert_eq!(c.sign_in(s.meeting, id, pins[0]["pin"].as_str().unwrap()).await?.status, 200);
    let bad =
        s.admin.post_raw(&format!("/api/meetings/{}/participants/import", s.meeting), "text/csv", b"name,role\nA,king\n".to_vec()).await?;
    assert_eq!((bad.status, bad.code()), (400, "bad_csv"));
    Ok(())
}

#[tokio::test]
async fn nothing_edits_a_closed_meeting() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Scenario::build(&server).await?;
    let chair = s.http_as(&server, Role::Chair, 0).await?;
    assert_eq!(chair.command(s.meeting, "close", &Command::CloseMeeting).await?.status, 200);
    let a = s
        .admin
        .command(
            s.meeting,
            "late",
            &Command::AddItem { title: "Muộn".into(), presenter: String::new(), summary: String::new(), position: None },
        )
        .await?;
    assert_eq!((a.status, a.code()), (409, "wrong_status"));
    let up = s.admin.upload(s.meeting, s.items[0], "late.pdf", tiny_pdf("late"), &[]).await?;
    assert_eq!(up.code(), "wrong_status");
    Ok(())
}

#[tokio::test]
async fn the_web_ui_is_served_compressed_and_unknown_paths_get_the_app() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let http = reqwest::Client::new(); // no gzip feature: bodies arrive as sent
    let index = http.get(server.url("/")).send().await?;
    assert_eq!(index.status(), 200);
    assert_eq!(index.headers()["cache-control"], "no-cache");
    let etag = index.headers()["etag"].to_str()?.to_string();
    let html = index.text().await?;
    // A reload revalidates the page by its ETag and gets nothing back, on any
    // of the app's paths; a page from another build is sent again.
    for path in ["/", "/join/1/2"] {
        let again = http.get(server.url(path)).header("if-none-match", &etag).send().await?;
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()["etag"], etag.as_str());
        assert!(again.bytes().await?.is_empty());
    }
    let other = http.get(server.url("/")).header("if-none-match", "W/\"another-build\"").send().await?;
    assert_eq!(other.status(), 200);
    assert_eq!(other.text().await?, html);
    assert!(html.contains("lang=\"vi\""), "Vietnamese by default");
    let wasm_path = html.split('\'').find(|s| s.ends_with("_bg.wasm")).expect("the wasm is linked");
    // As each browser accepts: Chromium asks for brotli only over HTTPS.
    let get = |coding: &'static str| {
        let req = http.get(server.url(wasm_path)).header("accept-encoding", coding);
        async move {
            let r = req.send().await?;
            assert_eq!(r.status(), 200);
            assert_eq!(r.headers()["content-type"], "application/wasm");
            assert!(r.headers()["cache-control"].to_str()?.contains("immutable"));
            assert_eq!(r.headers()["vary"], "accept-encoding");
            let sent_as = r.headers().get("content-encoding").map(|v| v.to_str().unwrap_or_default().to_string());
            anyhow::Ok((sent_as, r.bytes().await?.to_vec()))
        }
    };
    let (none, raw) = get("identity").await?;
    assert_eq!(none, None);
    assert!(raw.starts_with(b"\0asm"), "the wasm itself");
    let (gzip, gz) = get("gzip, deflate").await?;
    assert_eq!(gzip.as_deref(), Some("gzip"));
    assert_eq!(decode_body(&gz, gzip.as_deref())?, raw);
    let (brotli, br) = get("gzip, deflate, br, zstd").await?;
    assert_eq!(brotli.as_deref(), Some("br"));
    assert_eq!(decode_body(&br, brotli.as_deref())?, raw);
    assert!(br.len() < gz.len() && gz.len() < raw.len() / 2, "brotli {} < gzip {} < half of {}", br.len(), gz.len(), raw.len());
    assert_eq!(get("br;q=0, gzip").await?.0.as_deref(), Some("gzip"), "a refused coding is not sent");
    // Said over two lines, as a request may.
    let two = http.get(server.url(wasm_path)).header("accept-encoding", "gzip").header("accept-encoding", "br").send().await?;
    assert_eq!(two.headers()["content-encoding"], "br");
    // The compressed copies are not files of their own.
    assert_eq!(http.get(server.url(&format!("{wasm_path}.br"))).send().await?.status(), 404);
    // A deep link is the app; a missing asset is a 404.
    let deep = http.get(server.url("/join/1/2")).send().await?;
    assert!(deep.text().await?.contains("<html"));
    assert_eq!(http.get(server.url("/missing.js")).send().await?.status(), 404);
    let health: serde_json::Value = http.get(server.url("/health")).send().await?.json().await?;
    assert_eq!(health["status"], "ok");
    Ok(())
}

#[tokio::test]
async fn a_snapshot_larger_than_a_fragment_arrives_whole_over_websocket() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    // About 130 bytes of JSON per participant: the snapshot is several of
    // the server's 16 KiB fragments, and the client gets it as one message.
    let s = Assembly::build(&server.url(""), 300).await?;
    let mut ws = s.sign_in(&s.voters[299]).await?.follow(s.meeting, None).await?;
    while ws.snapshot.is_none() {
        ws.recv().await?;
    }
    let state = ws.snapshot.as_ref().unwrap();
    let size = serde_json::to_vec(state)?.len();
    assert!(size > 2 * 16 * 1024, "the snapshot is {size} bytes");
    assert_eq!(state.participants.len(), 302, "every participant, the chair and the secretary");
    assert!(state.participants.iter().any(|p| p.id == s.voters[0].0));
    Ok(())
}

/// A command that finds the database locked past its busy timeout (another
/// process holding it: a backup tool, a second writer) is answered 503
/// `unavailable`, to be tried again, not 500 `internal`; its retry is taken.
#[tokio::test]
async fn a_command_the_database_is_too_busy_for_is_answered_try_again_and_its_retry_is_taken() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start_in(dir.path(), |_| {}).await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let other = open_store(dir.path(), false).await?;
    let lock = other.begin_with("BEGIN IMMEDIATE").await?;
    let add = Command::AddItem { title: "Kiến nghị cử tri".into(), presenter: String::new(), summary: String::new(), position: None };
    let a = s.admin.command(s.meeting, "while-locked", &add).await?;
    assert_eq!((a.status, a.code()), (503, "unavailable"), "{a:?}");
    lock.rollback().await?;
    let a = s.admin.command(s.meeting, "while-locked", &add).await?;
    assert_eq!(a.status, 200, "{a:?}");
    Ok(())
}

/// A slow command (a public PDF checked before it is restricted) does not
/// hold up the answer to a ping sent after it on the same connection: the
/// ping waited for it, and a browser that hears no pong in time drops the
/// link and sends the command again, which ran the check a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_is_answered_while_a_slow_command_runs() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let doc = s.upload_document("Báo cáo dài.pdf", pack_pdf(400, 32 * 1024, 3, None), &[]).await?;
    let secretary = s.sign_in(&s.secretary).await?;
    let mut ws = secretary.follow(s.meeting, None).await?;
    let restrict =
        Command::UpdateDocument { document: doc.id, title: doc.title.clone(), confidentiality: Confidentiality::Members, readers: vec![] };
    ws.send(&ClientMessage::Command { key: "restrict".into(), command: restrict }).await?;
    ws.send(&ClientMessage::Ping { nonce: 7 }).await?;
    let mut order = vec![];
    while order.len() < 2 {
        match ws.recv().await? {
            ServerMessage::Pong { nonce: 7, .. } => order.push("pong"),
            ServerMessage::Ack { key, .. } if key == "restrict" => order.push("ack"),
            ServerMessage::Error { key, code, message } => anyhow::bail!("{key:?} refused: {code}: {message}"),
            _ => {}
        }
    }
    assert_eq!(order, ["pong", "ack"], "the ping waited for the command before it");
    assert_eq!(secretary.state(s.meeting).await?.document(doc.id).map(|d| d.confidentiality), Some(Confidentiality::Members));
    Ok(())
}
