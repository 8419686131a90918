//! Attendance and quorum, polls, written opinions, the speakers' list and
//! room displays, end to end over WebSocket and HTTP.

use futures_util::future::join_all;
use gavel_shared::decision::*;
use gavel_shared::model::*;
use gavel_shared::protocol::{Change, Command, NewParticipant, ServerMessage};
use gavel_tests::*;
use serde_json::json;
use sqlx::Row;
use std::sync::Arc;

fn poll_cmd(item: ItemId, secret: bool, allow_change: bool) -> Command {
    Command::CreatePoll {
        item,
        question: "Thông qua nghị quyết về dự toán ngân sách năm 2027?".into(),
        kind: PollKind::YesNo,
        options: vec![],
        max_choices: 1,
        secret,
        allow_change,
        rule: MajorityRule { basis: Basis::MembersPresent, share: Share::MORE_THAN_HALF },
    }
}

async fn created(a: Answer) -> anyhow::Result<i64> {
    a.body["result"]["id"].as_i64().ok_or_else(|| anyhow::anyhow!("not created: {a:?}"))
}

/// The single-option choices (`[0]`, `[1]`) found in the secret ballots'
/// first page of the database file, in the order of their places, whether
/// in a row or in space left by a deleted one.
async fn ballots_as_placed(dir: &std::path::Path, db: &sqlx::SqlitePool) -> anyhow::Result<Vec<u8>> {
    let root: i64 = sqlx::query_scalar("SELECT rootpage FROM sqlite_master WHERE name = 'secret_ballots'").fetch_one(db).await?;
    let file = std::fs::read(dir.join("gavel.db"))?;
    let page_size = match u16::from_be_bytes([file[16], file[17]]) {
        1 => 65536,
        n => usize::from(n),
    };
    let page = &file[(root as usize - 1) * page_size..][..page_size];
    Ok(page.windows(3).filter(|w| w[0] == b'[' && matches!(w[1], b'0' | b'1') && w[2] == b']').map(|w| w[1] - b'0').collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_voters_in_the_same_second_are_counted_exactly_once() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start_in(dir.path(), |_| {}).await?;
    let s = Arc::new(Assembly::build(&server.url(""), 500).await?);
    let chair = s.sign_in(&s.chair).await?;
    // Everyone signs in (and so is present) and follows the meeting.
    let mut clients = s.follow_all().await?;
    let poll = PollId(created(chair.command(s.meeting, "poll", &poll_cmd(s.item, true, false)).await?).await?);
    assert_eq!(chair.command(s.meeting, "open-poll", &Command::OpenPoll { poll }).await?.status, 200);

    // All at once: every voter sends its ballot, then waits for its answer.
    let votes = join_all(
        clients
            .iter_mut()
            .enumerate()
            .map(|(i, (_, ws))| async move { ws.command(Command::CastBallot { poll, choices: vec![(i % 3) as u8] }).await }),
    )
    .await;
    let acked = votes.iter().filter(|v| matches!(v, Ok(ServerMessage::Ack { .. }))).count();
    assert_eq!(acked, 500, "{:?}", votes.iter().find(|v| !matches!(v, Ok(ServerMessage::Ack { .. }))));

    let closed = chair.command(s.meeting, "close-poll", &Command::ClosePoll { poll }).await?;
    assert_eq!(closed.status, 200);
    let state = chair.state(s.meeting).await?;
    let result = state.poll(poll).unwrap().result.clone().expect("a result");
    assert_eq!(result.counts, vec![167, 167, 166]);
    assert_eq!(result.ballots, 500);
    assert_eq!(result.quorum.present, 501, "500 voters and the chair");
    assert!(!result.adopted, "167 of 501 present is not a majority");

    // The published result equals a count made from the database.
    let db = open_store(dir.path(), true).await?;
    let voters: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM poll_voters WHERE poll_id = ?").bind(poll.0).fetch_one(&db).await?;
    assert_eq!(voters, 500, "each voter once");
    let mut counts = [0u32; 3];
    for choices in
        sqlx::query_scalar::<_, String>("SELECT choices FROM secret_ballots WHERE poll_id = ?").bind(poll.0).fetch_all(&db).await?
    {
        let c: Vec<u8> = serde_json::from_str(&choices)?;
        counts[c[0] as usize] += 1;
    }
    assert_eq!(counts.to_vec(), result.counts);

    // Every client shows the same result.
    for (_, ws) in clients.iter_mut() {
        let e = ws.wait_for(|e| matches!(&e.change, Change::PollClosed { poll: p, .. } if *p == poll)).await?;
        let Change::PollClosed { result: seen, .. } = e.change else { unreachable!() };
        assert_eq!(seen, result);
    }
    Ok(())
}

#[tokio::test]
async fn a_secret_poll_leaves_nothing_that_links_a_voter_to_a_choice() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("server.log");
    let p = ServerProcess::start_logging(dir.path(), &[], Some(&log)).await?;
    let s = Assembly::build(&format!("http://{}", p.addr), 40).await?;
    let chair = s.sign_in(&s.chair).await?;
    let poll = PollId(created(chair.command(s.meeting, "poll", &poll_cmd(s.item, true, false)).await?).await?);
    chair.command(s.meeting, "open-poll", &Command::OpenPoll { poll }).await?;
    // The first twenty say yes, the last twenty no, one after the other.
    for (i, v) in s.voters.iter().enumerate() {
        let http = s.sign_in(v).await?;
        let a = http.command(s.meeting, &format!("vote-{i}"), &Command::CastBallot { poll, choices: vec![u8::from(i >= 20)] }).await?;
        assert_eq!(a.status, 200, "{a:?}");
        assert_eq!(a.body["result"], json!({"kind": "done"}), "the answer carries no choice");
    }
    chair.command(s.meeting, "close-poll", &Command::ClosePoll { poll }).await?;
    let result = chair.state(s.meeting).await?.poll(poll).unwrap().result.clone().unwrap();
    assert_eq!(result.counts, vec![20, 20, 0]);
    drop(p);

    let db = open_store(dir.path(), true).await?;
    // The ballots: choices under random keys, no voter, no time, and not in
    // the order they were cast.
    let columns: Vec<String> =
        sqlx::query_scalar("SELECT name FROM pragma_table_info('secret_ballots') ORDER BY cid").fetch_all(&db).await?;
    assert_eq!(columns, ["token", "poll_id", "choices"]);
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT choices FROM secret_ballots WHERE poll_id = ?").bind(poll.0).fetch_all(&db).await?;
    let cast_order: Vec<String> = (0..40).map(|i| format!("[{}]", u8::from(i >= 20))).collect();
    assert_eq!(stored.len(), 40);
    assert_ne!(stored, cast_order, "the stored order is not the order of voting");
    // Nor where they lie in the file: SQLite puts each new row in the next
    // free place of its page (the forty fit in one), so read in the order
    // of their places the ballots gave the order of voting, backwards.
    let by_place = ballots_as_placed(dir.path(), &db).await?;
    assert_eq!(by_place.len(), 40, "the forty ballots and no deleted copy of them: {by_place:?}");
    let in_blocks = |first: u8| by_place.iter().take(20).all(|c| *c == first) && by_place.iter().skip(20).all(|c| *c != first);
    assert!(!in_blocks(0) && !in_blocks(1), "the ballots lie in the file in the order they were cast: {by_place:?}");
    let named: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM named_ballots WHERE poll_id = ?").bind(poll.0).fetch_one(&db).await?;
    assert_eq!(named, 0);
    // No event and no idempotency record holds a choice.
    for row in sqlx::query("SELECT body FROM events WHERE meeting_id = ? AND kind = 'ballot_cast'").bind(s.meeting.0).fetch_all(&db).await?
    {
        let body: serde_json::Value = serde_json::from_str(row.get("body"))?;
        assert_eq!(body["choices"], serde_json::Value::Null, "{body}");
    }
    for row in
        sqlx::query("SELECT result FROM commands WHERE meeting_id = ? AND key LIKE 'vote-%'").bind(s.meeting.0).fetch_all(&db).await?
    {
        assert_eq!(row.get::<String, _>("result"), r#"{"kind":"done"}"#);
    }
    // Every other table: no row mentions the poll's choices next to a voter.
    let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'").fetch_all(&db).await?;
    for t in tables.iter().filter(|t| !["secret_ballots", "polls", "_sqlx_migrations"].contains(&t.as_str())) {
        let cols: Vec<String> = sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{t}')")).fetch_all(&db).await?;
        assert!(!cols.iter().any(|c| c == "choices") || t == "named_ballots", "{t} has choices");
    }
    // The write-ahead log, which kept the order of writes, was emptied.
    let wal = dir.path().join("gavel.db-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal)?.len() == 0, "WAL left with {} bytes", std::fs::metadata(&wal)?.len());
    // The log, at debug level, has no choice in it.
    let text = std::fs::read_to_string(&log)?;
    assert!(text.contains("/commands"), "the log did record the requests at debug level");
    // (SQL statements are logged with their text, never their values.)
    for line in text.lines() {
        assert!(!line.contains("\"choices\":") && !line.contains("choices=") && !line.contains("choices: "), "a choice in the log: {line}");
        assert!(!line.contains("CastBallot {"), "a command logged whole: {line}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ballots_acknowledged_before_a_kill_are_all_there_after_restart() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let p = ServerProcess::start(dir.path(), &[]).await?;
    let s = Arc::new(Assembly::build(&format!("http://{}", p.addr), 150).await?);
    let chair = s.sign_in(&s.chair).await?;
    let poll = PollId(created(chair.command(s.meeting, "poll", &poll_cmd(s.item, false, false)).await?).await?);
    chair.command(s.meeting, "open-poll", &Command::OpenPoll { poll }).await?;
    let mut clients = vec![];
    for v in &s.voters {
        let http = s.sign_in(v).await?;
        let ws = http.follow(s.meeting, None).await?;
        clients.push((v.clone(), http, ws));
    }
    let mut p = p;
    let burst = join_all(clients.iter_mut().enumerate().map(|(i, (_, _, ws))| async move {
        let key = format!("ballot-{i}");
        matches!(ws.command_with_key(&key, Command::CastBallot { poll, choices: vec![(i % 2) as u8] }).await, Ok(ServerMessage::Ack { .. }))
    }));
    let killer = async {
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        p.child.start_kill().ok();
    };
    let (acked, _) = tokio::join!(burst, killer);
    p.child.wait().await?;
    let acked: Vec<usize> = acked.iter().enumerate().filter(|(_, a)| **a).map(|(i, _)| i).collect();

    let p2 = ServerProcess::start(dir.path(), &[]).await?;
    let base = format!("http://{}", p2.addr);
    let db = open_store(dir.path(), true).await?;
    let stored: Vec<i64> =
        sqlx::query_scalar("SELECT participant_id FROM poll_voters WHERE poll_id = ?").bind(poll.0).fetch_all(&db).await?;
    let ballots: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM named_ballots WHERE poll_id = ?").bind(poll.0).fetch_one(&db).await?;
    assert_eq!(ballots as usize, stored.len(), "a ballot for every voter recorded, no more");
    for i in &acked {
        assert!(stored.contains(&s.voters[*i].0.0), "acknowledged ballot {i} was lost");
    }
    // Voting again with the same keys: recorded ones are repeats, the rest go through now.
    let mut converged = vec![];
    for (i, (v, http, _)) in clients.iter_mut().enumerate() {
        let http = Http { base: base.clone(), ..http.clone() };
        let a = http.command(s.meeting, &format!("ballot-{i}"), &Command::CastBallot { poll, choices: vec![(i % 2) as u8] }).await?;
        assert_eq!(a.status, 200, "{a:?}");
        assert_eq!(a.body["repeated"], json!(stored.contains(&v.0.0)), "voter {i}");
        converged.push(http);
    }
    let all: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM named_ballots WHERE poll_id = ?").bind(poll.0).fetch_one(&db).await?;
    assert_eq!(all, 150, "every voter exactly once");
    // Clients that reconnect with their last seq converge on the server's state.
    let truth = s.admin.clone();
    let truth = Http { base: base.clone(), ..truth }.state(s.meeting).await?;
    for (i, (_, _, ws)) in clients.iter().enumerate().take(10) {
        let last = ws.events.last().map(|e| e.seq).or(ws.snapshot.as_ref().map(|s| s.seq));
        let mut copy = ws.copy()?;
        let mut again = converged[i].follow(s.meeting, last).await?;
        again.wait_seq(truth.seq).await?;
        if let Some(snap) = again.snapshot.take() {
            copy = snap;
        }
        let from = copy.seq;
        for e in again.events.iter().filter(|e| e.seq > from) {
            copy.apply(e)?;
        }
        let mine = converged[i].state(s.meeting).await?;
        assert_eq!(copy, mine, "client {i} converged");
    }
    Ok(())
}

#[tokio::test]
async fn named_polls_show_counts_to_the_chair_and_only_who_voted_to_others() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 4).await?;
    let chair = s.sign_in(&s.chair).await?;
    let secretary = s.sign_in(&s.secretary).await?;
    let voters: Vec<Http> = s.sign_in_each(s.voters.iter().take(3)).await?;
    // The fourth voter's tablet failed, but they are in the room.
    secretary
        .command(
            s.meeting,
            "present",
            &Command::SetAttendance { participant: s.voters[3].0, attendance: Attendance::Present, reason: String::new() },
        )
        .await?;
    let poll = PollId(created(chair.command(s.meeting, "poll", &poll_cmd(s.item, false, true)).await?).await?);
    let mut chair_ws = chair.follow(s.meeting, None).await?;
    let mut delegate_ws = voters[1].follow(s.meeting, None).await?;
    chair_ws.command(Command::OpenPoll { poll }).await?;
    voters[0].command(s.meeting, "v0", &Command::CastBallot { poll, choices: vec![1] }).await?;
    voters[0].command(s.meeting, "v0-again", &Command::CastBallot { poll, choices: vec![0] }).await?; // changed his mind
    voters[1].command(s.meeting, "v1", &Command::CastBallot { poll, choices: vec![0] }).await?;
    let entered = secretary.command(s.meeting, "for-3", &Command::CastBallotFor { poll, voter: s.voters[3].0, choices: vec![2] }).await?;
    assert_eq!(entered.status, 200, "{entered:?}");
    let last = entered.body["seq"].as_u64().unwrap();
    chair_ws.wait_seq(last).await?;
    delegate_ws.wait_seq(last).await?;
    let chair_view = chair_ws.copy()?;
    let p = chair_view.poll(poll).unwrap();
    assert_eq!(p.live_counts(), vec![2, 0, 1], "the chair sees counts rise, with the changed vote");
    assert!(p.ballots.iter().any(|b| b.voter == s.voters[3].0 && b.by_secretary), "marked as entered by the secretary");
    let delegate_view = delegate_ws.copy()?;
    let p = delegate_view.poll(poll).unwrap();
    assert_eq!(p.voters.len(), 3, "who has voted is public");
    assert_eq!(p.ballots.iter().map(|b| b.voter).collect::<Vec<_>>(), vec![s.voters[1].0], "only their own ballot");
    // Someone absent, an observer-like non-voter, a vote after close: refused.
    let absent = s.sign_in(&s.voters[3]).await?; // signing in marks present; excuse them instead
    secretary
        .command(
            s.meeting,
            "excuse",
            &Command::SetAttendance { participant: s.voters[3].0, attendance: Attendance::Excused, reason: "Đi công tác".into() },
        )
        .await?;
    let late = absent.command(s.meeting, "x", &Command::CastBallot { poll, choices: vec![0] }).await?;
    assert_eq!(late.code(), "forbidden", "an excused member does not vote");
    let sec_vote = secretary.command(s.meeting, "sec", &Command::CastBallot { poll, choices: vec![0] }).await?;
    assert_eq!(sec_vote.code(), "forbidden", "the secretary has no vote");
    chair.command(s.meeting, "close-poll", &Command::ClosePoll { poll }).await?;
    let after = voters[2].command(s.meeting, "late", &Command::CastBallot { poll, choices: vec![0] }).await?;
    assert_eq!(after.code(), "conflict");
    let state = voters[2].state(s.meeting).await?;
    let closed = state.poll(poll).unwrap();
    let result = closed.result.clone().unwrap();
    assert_eq!(result.counts, vec![2, 0, 1]);
    assert_eq!(result.by_secretary, 1);
    assert_eq!(closed.ballots.len(), 3, "after close, named ballots are public");
    // A result never changes: the poll cannot be reopened or cancelled.
    assert_eq!(chair.command(s.meeting, "reopen", &Command::OpenPoll { poll }).await?.code(), "conflict");
    assert_eq!(chair.command(s.meeting, "cancel", &Command::CancelPoll { poll, reason: "nhầm".into() }).await?.code(), "conflict");
    Ok(())
}

#[tokio::test]
async fn attendance_quorum_speakers_and_a_cancelled_poll() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 6).await?;
    let chair = s.sign_in(&s.chair).await?;
    let secretary = s.sign_in(&s.secretary).await?;
    // 7 members (chair + 6); only the chair is in: no quorum. A new
    // meeting needs two thirds of its members (the law's quorum of a
    // people's council's session and a people's committee's meeting).
    let q = chair.state(s.meeting).await?.quorum();
    assert_eq!((q.present, q.members, q.needed, q.holds), (1, 7, 5, false));
    let d: Vec<Http> = s.sign_in_each(s.voters.iter().take(3)).await?;
    assert!(!chair.state(s.meeting).await?.quorum().holds, "4 of 7 is not two thirds");
    // Signing in from outside the room does not make one present.
    let mut remote = Http::for_base(&server.url(""));
    let a = remote
        .post(
            "/api/session",
            &json!({"meeting": s.meeting, "participant": s.voters[5].0, "pin": s.voters[5].1, "bearer": true, "remote": true}),
        )
        .await?;
    remote.token = a.body["token"].as_str().map(String::from);
    let st = chair.state(s.meeting).await?;
    assert_eq!(st.participant(s.voters[5].0).unwrap().attendance, Attendance::Absent);
    // The secretary corrects attendance, with a reason for an excuse.
    let a = secretary
        .command(
            s.meeting,
            "exc",
            &Command::SetAttendance { participant: s.voters[4].0, attendance: Attendance::Excused, reason: "Ốm".into() },
        )
        .await?;
    assert_eq!(a.status, 200);
    assert_eq!(chair.state(s.meeting).await?.participant(s.voters[4].0).unwrap().excuse, "Ốm");
    assert_eq!(d[0].command(s.meeting, "no", &Command::SetQuorumRule { share: Share::MORE_THAN_HALF }).await?.code(), "forbidden");
    secretary.command(s.meeting, "q", &Command::SetQuorumRule { share: Share::MORE_THAN_HALF }).await?;
    assert!(chair.state(s.meeting).await?.quorum().holds, "4 of 7 is more than half");

    // The speakers' list.
    d[0].command(s.meeting, "ask0", &Command::RequestToSpeak).await?;
    d[1].command(s.meeting, "ask1", &Command::RequestToSpeak).await?;
    assert_eq!(d[1].command(s.meeting, "ask1b", &Command::RequestToSpeak).await?.code(), "conflict");
    d[1].command(s.meeting, "wd1", &Command::WithdrawRequest).await?;
    // A request left on the list (they stepped out, or were answered): the
    // chair takes it off; nobody else can.
    d[1].command(s.meeting, "ask1d", &Command::RequestToSpeak).await?;
    let dismiss = Command::DismissRequest { participant: s.voters[1].0 };
    assert_eq!(d[0].command(s.meeting, "dismiss0", &dismiss).await?.code(), "forbidden");
    assert_eq!(chair.command(s.meeting, "dismiss", &dismiss).await?.status, 200);
    assert_eq!(chair.state(s.meeting).await?.speakers.queue, vec![s.voters[0].0]);
    assert_eq!(chair.command(s.meeting, "dismiss2", &dismiss).await?.code(), "not_found");
    assert_eq!(d[0].command(s.meeting, "steal", &Command::GiveFloor { participant: None, from: None }).await?.code(), "forbidden");
    let before = chair.state(s.meeting).await?.meeting.speech_limit_secs;
    chair.command(s.meeting, "floor", &Command::GiveFloor { participant: None, from: None }).await?;
    let st = chair.state(s.meeting).await?;
    let floor = st.speakers.floor.expect("someone has the floor");
    assert_eq!(floor.participant, s.voters[0].0);
    assert_eq!(floor.limit_secs, before);
    assert!((time::OffsetDateTime::now_utc() - floor.since).whole_seconds().abs() < 30, "the server's clock");
    assert!(st.speakers.queue.is_empty());
    chair.command(s.meeting, "end", &Command::EndSpeech).await?;
    assert!(chair.state(s.meeting).await?.speakers.floor.is_none());
    d[2].command(s.meeting, "ask2", &Command::RequestToSpeak).await?;
    // Someone who leaves the room leaves the queue, and stays off it when
    // the room restarts; "next" calls the one still here.
    d[1].command(s.meeting, "ask1c", &Command::RequestToSpeak).await?;
    let left = Command::SetAttendance { participant: s.voters[2].0, attendance: Attendance::Absent, reason: String::new() };
    assert_eq!(secretary.command(s.meeting, "left", &left).await?.status, 200);
    assert_eq!(chair.state(s.meeting).await?.speakers.queue, vec![s.voters[1].0]);
    assert_eq!(d[2].command(s.meeting, "ask2b", &Command::RequestToSpeak).await?.code(), "conflict", "away: no asking to speak");
    let addrs = server.addrs();
    let data = server.stop().await?.expect("the test's own data directory");
    let server = TestServer::start_again(data.path(), addrs).await?;
    assert_eq!(chair.state(s.meeting).await?.speakers.queue, vec![s.voters[1].0], "the one who left is back on the list");
    assert_eq!(chair.state(s.meeting).await?.meeting.quorum, Share::MORE_THAN_HALF, "the quorum set is kept");
    // "Next speaker" from nobody speaking (0), pressed on two devices: the
    // floor is given once; the second is refused, not a second change.
    let next = Command::GiveFloor { participant: None, from: Some(ParticipantId(0)) };
    d[0].command(s.meeting, "ask0b", &Command::RequestToSpeak).await?;
    assert_eq!(chair.command(s.meeting, "floor2", &next).await?.status, 200);
    assert_eq!(chair.state(s.meeting).await?.speakers.floor.map(|f| f.participant), Some(s.voters[1].0));
    assert_eq!(chair.command(s.meeting, "floor2-again", &next).await?.code(), "conflict");
    assert_eq!(chair.state(s.meeting).await?.speakers.floor.map(|f| f.participant), Some(s.voters[1].0));
    assert_eq!(chair.state(s.meeting).await?.speakers.queue, vec![s.voters[0].0], "the next one still waits");
    assert_eq!(chair.command(s.meeting, "withdraw0", &Command::DismissRequest { participant: s.voters[0].0 }).await?.status, 200);
    // Taken off the meeting while speaking: the speech ends with them.
    let guest = s
        .admin
        .command(
            s.meeting,
            "guest",
            &Command::AddParticipants {
                participants: vec![NewParticipant {
                    name: "Khách".into(),
                    position: String::new(),
                    role: Role::Observer,
                    member: false,
                    voting: false,
                }],
            },
        )
        .await?;
    let guest = ParticipantId(guest.body["result"]["pins"][0]["participant"].as_i64().ok_or_else(|| anyhow::anyhow!("no guest"))?);
    secretary
        .command(
            s.meeting,
            "guest-in",
            &Command::SetAttendance { participant: guest, attendance: Attendance::Present, reason: String::new() },
        )
        .await?;
    chair.command(s.meeting, "floor3", &Command::GiveFloor { participant: Some(guest), from: None }).await?;
    assert_eq!(s.admin.command(s.meeting, "guest-out", &Command::RemoveParticipant { participant: guest }).await?.status, 200);
    assert!(chair.state(s.meeting).await?.speakers.floor.is_none(), "the floor stays with someone removed");
    let other = s
        .admin
        .command(
            s.meeting,
            "item2",
            &Command::AddItem { title: "Khác".into(), presenter: String::new(), summary: String::new(), position: None },
        )
        .await?;
    assert_eq!(other.status, 200);
    chair.command(s.meeting, "next", &Command::NextItem { from: None }).await?;
    assert!(chair.state(s.meeting).await?.speakers.queue.is_empty(), "the list belongs to the item");

    // A poll cancelled with a reason.
    let poll = PollId(created(chair.command(s.meeting, "p", &poll_cmd(s.item, true, false)).await?).await?);
    chair.command(s.meeting, "open-poll", &Command::OpenPoll { poll }).await?;
    let a = chair.command(s.meeting, "c", &Command::CancelPoll { poll, reason: "Thiếu tài liệu".into() }).await?;
    assert_eq!(a.status, 200);
    let st = d[0].state(s.meeting).await?;
    assert_eq!(st.poll(poll).unwrap().status, PollStatus::Cancelled);
    assert_eq!(st.poll(poll).unwrap().cancel_reason.as_deref(), Some("Thiếu tài liệu"));
    drop(server);
    Ok(())
}

#[tokio::test]
async fn written_opinions_and_who_has_answered() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 3).await?;
    let chair = s.sign_in(&s.chair).await?;
    let d0 = s.sign_in(&s.voters[0]).await?;
    let d1 = s.sign_in(&s.voters[1]).await?;
    let deadline = time::OffsetDateTime::now_utc() + time::Duration::hours(2);
    let past = time::OffsetDateTime::now_utc() - time::Duration::hours(2);
    assert_eq!(chair.command(s.meeting, "r0", &Command::RequestOpinions { item: s.item, deadline: past }).await?.code(), "invalid");
    assert_eq!(d0.command(s.meeting, "r1", &Command::RequestOpinions { item: s.item, deadline }).await?.code(), "forbidden");
    assert_eq!(chair.command(s.meeting, "r2", &Command::RequestOpinions { item: s.item, deadline }).await?.status, 200);
    let o = Command::AddOpinion {
        item: s.item,
        document: None,
        stance: Stance::AgreeWithComments,
        text: "Đề nghị bổ sung số liệu quý IV.".into(),
    };
    assert_eq!(d0.command(s.meeting, "o0", &o).await?.status, 200);
    // A member away answers through the same API, signed in from outside.
    let mut away = Http::for_base(&server.url(""));
    let a = away
        .post(
            "/api/session",
            &json!({"meeting": s.meeting, "participant": s.voters[2].0, "pin": s.voters[2].1, "bearer": true, "remote": true}),
        )
        .await?;
    away.token = a.body["token"].as_str().map(String::from);
    let o2 = Command::AddOpinion { item: s.item, document: None, stance: Stance::Disagree, text: String::new() };
    assert_eq!(away.command(s.meeting, "o2", &o2).await?.status, 200);
    let empty = Command::AddOpinion { item: s.item, document: None, stance: Stance::Comment, text: "  ".into() };
    assert_eq!(d1.command(s.meeting, "o1", &empty).await?.code(), "invalid", "a comment needs words");

    let st = chair.state(s.meeting).await?;
    assert_eq!(st.opinion_requests.len(), 1);
    let answered: Vec<ParticipantId> = st.opinions.iter().map(|o| o.author).collect();
    assert_eq!(answered, vec![s.voters[0].0, s.voters[2].0], "the chair sees who answered");
    assert!(st.opinions[1].remote && !st.opinions[0].remote);
    let members: Vec<ParticipantId> = st.participants.iter().filter(|p| p.member).map(|p| p.id).collect();
    let missing: Vec<ParticipantId> = members.into_iter().filter(|m| !answered.contains(m)).collect();
    assert_eq!(missing, vec![s.chair.0, s.voters[1].0]);
    // Delegates see their own opinions only.
    assert_eq!(d1.state(s.meeting).await?.opinions.len(), 0);
    assert_eq!(d0.state(s.meeting).await?.opinions.len(), 1);

    // After the close, members away still answer by the deadline they were
    // given, and only on what they were asked about.
    let mut added = vec![];
    for title in ["Dự toán", "Khác"] {
        let add = Command::AddItem { title: title.into(), presenter: String::new(), summary: String::new(), position: None };
        let a = s.admin.command(s.meeting, &format!("add-{title}"), &add).await?;
        added.push(ItemId(a.body["result"]["id"].as_i64().ok_or_else(|| anyhow::anyhow!("{a:?}"))?));
    }
    let (item2, unasked) = (added[0], added[1]);
    let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(3);
    assert_eq!(chair.command(s.meeting, "r3", &Command::RequestOpinions { item: item2, deadline: soon }).await?.status, 200);
    assert_eq!(chair.command(s.meeting, "close", &Command::CloseMeeting).await?.status, 200);
    let late = |item, text: &str| Command::AddOpinion { item, document: None, stance: Stance::Comment, text: text.into() };
    let a = away.command(s.meeting, "late", &late(s.item, "Gửi sau cuộc họp, trong thời hạn.")).await?;
    assert_eq!(a.status, 200, "{a:?}");
    let a = away.command(s.meeting, "unasked", &late(unasked, "Không được hỏi.")).await?;
    assert_eq!(a.code(), "conflict", "{a:?}");
    assert!(a.body["message"].as_str().unwrap().contains("asked for by a deadline"), "{a:?}");
    let wait = soon - time::OffsetDateTime::now_utc() + time::Duration::milliseconds(300);
    tokio::time::sleep(wait.try_into().unwrap_or_default()).await;
    let a = away.command(s.meeting, "too-late", &late(item2, "Quá hạn.")).await?;
    assert!(a.code() == "conflict" && a.body["message"].as_str().unwrap().contains("has passed"), "{a:?}");
    // The minutes list it; once approved, they take no more.
    let opinions = chair.state(s.meeting).await?.opinions;
    assert!(opinions.iter().any(|o| o.text == "Gửi sau cuộc họp, trong thời hạn." && o.remote), "{opinions:?}");
    assert_eq!(chair.command(s.meeting, "approve", &Command::ApproveMinutes).await?.status, 200);
    let a = away.command(s.meeting, "after-approval", &late(s.item, "Sau phê duyệt.")).await?;
    assert!(a.code() == "conflict" && a.body["message"].as_str().unwrap().contains("approved"), "{a:?}");
    // Signed, then corrected: the draft of the correction is no way in.
    assert_eq!(chair.command(s.meeting, "sign", &Command::SignMinutes).await?.status, 200);
    let secretary = s.sign_in(&s.secretary).await?;
    assert_eq!(secretary.command(s.meeting, "revise", &Command::ReviseMinutes).await?.status, 200);
    let a = away.command(s.meeting, "in-correction", &late(s.item, "Trong lúc đính chính.")).await?;
    assert!(a.code() == "conflict" && a.body["message"].as_str().unwrap().contains("approved"), "{a:?}");
    Ok(())
}

#[tokio::test]
async fn a_room_display_signs_in_with_a_one_time_code_and_only_watches() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    let secretary = s.sign_in(&s.secretary).await?;
    let d0 = s.sign_in(&s.voters[0]).await?;
    assert_eq!(d0.post(&format!("/api/meetings/{}/display-code", s.meeting), &json!({})).await?.code(), "forbidden");
    let code = secretary.post(&format!("/api/meetings/{}/display-code", s.meeting), &json!({})).await?;
    let code = code.body["code"].as_str().unwrap().to_string();
    let display = server.client();
    let a = display.post("/api/display/session", &json!({"code": code})).await?;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body["actor"], json!({"kind": "display", "meeting": s.meeting}));
    assert!(a.body.get("token").is_none(), "the display's session stays in its cookie");
    let again = server.client().post("/api/display/session", &json!({"code": code})).await?;
    assert_eq!((again.status, again.code()), (401, "bad_display_code"), "a code works once, and is said to be the code");
    // It follows the meeting, sees only public documents, and changes nothing.
    s.admin.upload(s.meeting, s.item, "a.pdf", tiny_pdf("a"), &[]).await?;
    s.admin.upload(s.meeting, s.item, "b.pdf", tiny_pdf("b"), &[("confidentiality", "members")]).await?;
    let st = display.state(s.meeting).await?;
    assert_eq!(st.documents.len(), 1);
    assert_eq!(display.command(s.meeting, "x", &Command::NextItem { from: None }).await?.code(), "forbidden");
    assert_eq!(display.command(s.meeting, "y", &Command::RequestToSpeak).await?.code(), "forbidden");
    Ok(())
}

#[tokio::test]
async fn only_an_open_meeting_has_anyone_present() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Scenario::prepare(&server).await?;
    let present = |st: &gavel_shared::MeetingState, p: ParticipantId| st.participant(p).map(|p| p.attendance);
    // A delegate makes a tablet ready before the meeting, another signs in
    // from outside the room.
    let (early, _) = s.person(Role::Delegate, 0);
    let _early = s.http_as(&server, Role::Delegate, 0).await?;
    let (away, pin) = s.person(Role::Delegate, 1);
    let remote = server.client();
    let a = remote
        .post("/api/session", &json!({"meeting": s.meeting, "participant": away, "pin": pin, "bearer": true, "remote": true}))
        .await?;
    assert_eq!(a.status, 200, "{a:?}");
    let st = s.admin.state(s.meeting).await?;
    assert_eq!(present(&st, early), Some(Attendance::Absent), "a draft has nobody present");
    assert_eq!(st.quorum().present, 0);

    // The meeting opens: who signed in from the room today is present, the
    // remote member is not, nor is anyone who did not sign in.
    let chair = s.http_as(&server, Role::Chair, 0).await?;
    assert_eq!(chair.command(s.meeting, "open", &Command::OpenMeeting).await?.status, 200);
    let st = s.admin.state(s.meeting).await?;
    assert_eq!(present(&st, early), Some(Attendance::Present));
    assert_eq!(present(&st, s.person(Role::Chair, 0).0), Some(Attendance::Present));
    assert_eq!(present(&st, away), Some(Attendance::Absent), "remote");
    assert_eq!(present(&st, s.person(Role::Observer, 0).0), Some(Attendance::Absent), "never signed in");
    assert_eq!(st.quorum().present, 2);

    // Once open, signing in is being present.
    let _observer = s.http_as(&server, Role::Observer, 0).await?;
    let st = s.admin.state(s.meeting).await?;
    assert_eq!(present(&st, s.person(Role::Observer, 0).0), Some(Attendance::Present));
    Ok(())
}

#[tokio::test]
async fn what_is_on_record_is_not_removed() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Scenario::build(&server).await?;
    let chair = s.http_as(&server, Role::Chair, 0).await?;
    let delegate = s.http_as(&server, Role::Delegate, 0).await?;
    let (d, _) = s.person(Role::Delegate, 0);
    let a = chair.command(s.meeting, "poll", &poll_cmd(s.items[1], false, false)).await?;
    let poll = PollId(a.body["result"]["id"].as_i64().unwrap());
    assert_eq!(chair.command(s.meeting, "open-poll", &Command::OpenPoll { poll }).await?.status, 200);
    let cast = delegate.command(s.meeting, "cast", &Command::CastBallot { poll, choices: vec![0] }).await?;
    assert_eq!(cast.status, 200, "{cast:?}");
    // An item with a vote, a participant who voted: refused with a reason,
    // where the database used to answer a bare internal error.
    let item = s.admin.command(s.meeting, "rm-item", &Command::RemoveItem { item: s.items[1] }).await?;
    assert_eq!((item.status, item.code()), (409, "conflict"), "{item:?}");
    let person = s.admin.command(s.meeting, "rm-person", &Command::RemoveParticipant { participant: d }).await?;
    assert_eq!((person.status, person.code()), (409, "conflict"), "{person:?}");
    assert!(person.body["message"].as_str().unwrap_or_default().contains("absent"), "{person:?}");
    // An opinion is on record too; one who took no part may go.
    let (other, _) = s.person(Role::Delegate, 1);
    let writer = s.http_as(&server, Role::Delegate, 1).await?;
    let opinion = Command::AddOpinion { item: s.items[2], document: None, stance: Stance::Agree, text: "Nhất trí.".into() };
    assert_eq!(writer.command(s.meeting, "op", &opinion).await?.status, 200);
    let a = s.admin.command(s.meeting, "rm-writer", &Command::RemoveParticipant { participant: other }).await?;
    assert_eq!(a.code(), "conflict");
    let a = s.admin.command(s.meeting, "rm-item-2", &Command::RemoveItem { item: s.items[2] }).await?;
    assert_eq!(a.code(), "conflict");
    let (observer, _) = s.person(Role::Observer, 0);
    assert_eq!(s.admin.command(s.meeting, "rm-observer", &Command::RemoveParticipant { participant: observer }).await?.status, 200);
    let st = s.admin.state(s.meeting).await?;
    assert!(st.participant(d).is_some() && st.participant(other).is_some() && st.participant(observer).is_none());
    assert_eq!(st.opinions.len(), 1);
    Ok(())
}

/// A secret poll, open, in which every voter chose the first option; the
/// chair's client and the poll.
async fn secret_poll_all_voted_for_first(s: &Assembly) -> anyhow::Result<(Http, PollId)> {
    let chair = s.sign_in(&s.chair).await?;
    let poll = PollId(created(chair.command(s.meeting, "poll", &poll_cmd(s.item, true, false)).await?).await?);
    chair.command(s.meeting, "open-poll", &Command::OpenPoll { poll }).await?;
    for (i, v) in s.voters.iter().enumerate() {
        let a = s.sign_in(v).await?.command(s.meeting, &format!("vote-{i}"), &Command::CastBallot { poll, choices: vec![0] }).await?;
        assert_eq!(a.status, 200, "{a:?}");
    }
    Ok((chair, poll))
}

#[tokio::test]
async fn a_cancelled_secret_poll_leaves_neither_its_choices_nor_their_order() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let p = ServerProcess::start(dir.path(), &[]).await?;
    let s = Assembly::build(&format!("http://{}", p.addr), 3).await?;
    let (chair, poll) = secret_poll_all_voted_for_first(&s).await?;
    let a = chair.command(s.meeting, "cancel", &Command::CancelPoll { poll, reason: "Sai nội dung".into() }).await?;
    assert_eq!(a.status, 200, "{a:?}");
    drop(p); // killed: no checkpoint on the way out
    let wal = dir.path().join("gavel.db-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal)?.len() == 0, "WAL left with {} bytes", std::fs::metadata(&wal)?.len());
    let db = open_store(dir.path(), true).await?;
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM secret_ballots WHERE poll_id = ?").bind(poll.0).fetch_one(&db).await?;
    assert_eq!(left, 0, "a cancelled vote's choices are gone");
    let placed = ballots_as_placed(dir.path(), &db).await?;
    assert!(placed.is_empty(), "the deleted choices are still in the file: {placed:?}");
    Ok(())
}

/// A reader holding the database (a backup, an export) when a secret poll
/// closes keeps the write-ahead log, with the order of the ballots in it,
/// from being emptied then. It is emptied once the reader lets go; before,
/// it stayed until the server's next start.
#[tokio::test]
async fn the_log_a_reader_kept_from_being_emptied_after_a_secret_poll_is_emptied_once_it_lets_go() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start_in(dir.path(), |_| {}).await?;
    let s = Assembly::build(&server.url(""), 3).await?;
    let (chair, poll) = secret_poll_all_voted_for_first(&s).await?;
    let reader = open_store(dir.path(), false).await?;
    let mut snapshot = reader.begin().await?;
    let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events").fetch_one(&mut *snapshot).await?;
    let a = chair.command(s.meeting, "close-poll", &Command::ClosePoll { poll }).await?;
    assert_eq!(a.status, 200, "{a:?}");
    let wal = dir.path().join("gavel.db-wal");
    let wal_size = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert!(wal_size() > 0, "the reader kept the log");
    snapshot.rollback().await?;
    reader.close().await;
    eventually("the log is emptied", || async { Ok(wal_size() == 0) }).await?;
    Ok(())
}

#[tokio::test]
async fn a_show_of_hands_counts_only_those_who_have_not_voted_otherwise() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 3).await?;
    let chair = s.sign_in(&s.chair).await?;
    let voter = s.sign_in(&s.voters[0]).await?;
    let _present = s.sign_in(&s.voters[1]).await?;
    let secretary = s.sign_in(&s.secretary).await?;
    // Three voters present (the chair and two delegates); one votes by tablet.
    let poll = PollId(created(chair.command(s.meeting, "poll", &poll_cmd(s.item, false, false)).await?).await?);
    chair.command(s.meeting, "open-poll", &Command::OpenPoll { poll }).await?;
    assert_eq!(voter.command(s.meeting, "tablet", &Command::CastBallot { poll, choices: vec![0] }).await?.status, 200);
    // The hands may count the two left, not the one who voted again.
    for counts in [vec![3, 0, 0], vec![2, 1, 0]] {
        let a = secretary.command(s.meeting, &format!("hands-{counts:?}"), &Command::RecordHands { poll, counts }).await?;
        assert_eq!((a.status, a.code()), (422, "invalid"), "{a:?}");
    }
    let a = secretary.command(s.meeting, "hands", &Command::RecordHands { poll, counts: vec![1, 1, 0] }).await?;
    assert_eq!(a.status, 200, "{a:?}");
    // Everyone present is now counted: a late ballot would count someone twice.
    let late = chair.command(s.meeting, "late", &Command::CastBallot { poll, choices: vec![0] }).await?;
    assert_eq!(late.code(), "conflict", "{late:?}");
    let closed = chair.command(s.meeting, "close-poll", &Command::ClosePoll { poll }).await?;
    assert_eq!(closed.status, 200, "{closed:?}");
    let result = chair.state(s.meeting).await?.poll(poll).unwrap().result.clone().unwrap();
    assert_eq!(result.counts, vec![2, 1, 0], "one ballot and two hands, three people present");
    Ok(())
}

/// A vote's quorum counts the members present at its show of hands,
/// though they leave before its close and the room restarts meanwhile:
/// a raised hand is not named, so the hands alone show fewer.
#[tokio::test]
async fn a_show_of_hands_counts_the_members_present_then_in_the_votes_quorum() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start_in(dir.path(), |_| {}).await?;
    let s = Assembly::build(&server.url(""), 3).await?;
    let chair = s.sign_in(&s.chair).await?;
    let voter = s.sign_in(&s.voters[0]).await?;
    let _silent = s.sign_in(&s.voters[1]).await?;
    let secretary = s.sign_in(&s.secretary).await?;
    // 4 members, 3 present (two thirds: 3 needed). One votes by tablet, the
    // chair raises a hand, the third member raises none.
    let poll = PollId(created(chair.command(s.meeting, "poll", &poll_cmd(s.item, false, false)).await?).await?);
    chair.command(s.meeting, "open-poll", &Command::OpenPoll { poll }).await?;
    assert_eq!(voter.command(s.meeting, "tablet", &Command::CastBallot { poll, choices: vec![0] }).await?.status, 200);
    let a = secretary.command(s.meeting, "hands", &Command::RecordHands { poll, counts: vec![1, 0, 0] }).await?;
    assert_eq!(a.status, 200, "{a:?}");
    // The one who raised no hand leaves before the close.
    let left = Command::SetAttendance { participant: s.voters[1].0, attendance: Attendance::Absent, reason: String::new() };
    assert_eq!(secretary.command(s.meeting, "left", &left).await?.status, 200);
    assert!(!chair.state(s.meeting).await?.quorum().holds, "2 of 4 in the room now");
    let addrs = server.addrs();
    server.stop().await?;
    let server = TestServer::start_again(dir.path(), addrs).await?;
    let chair = Http { base: server.url(""), ..chair };
    let closed = chair.command(s.meeting, "close-poll", &Command::ClosePoll { poll }).await?;
    assert_eq!(closed.status, 200, "{closed:?}");
    let result = chair.state(s.meeting).await?.poll(poll).unwrap().result.clone().unwrap();
    assert_eq!((result.quorum.present, result.quorum.members, result.quorum.holds), (3, 4, true), "{result:?}");
    assert_eq!((result.base, result.adopted), (3, true), "2 in favour of the 3 members present at the vote: {result:?}");
    // The minutes' attendance says as much: the one who left after the
    // show of hands is listed present (with when they left), not absent
    // beside a vote whose quorum counted them.
    assert_eq!(chair.command(s.meeting, "close", &Command::CloseMeeting).await?.status, 200);
    let path = format!("/api/meetings/{}/minutes/export?format=pdf&lang=vi", s.meeting);
    let secretary = Http { base: server.url(""), ..secretary };
    let out = tempfile::tempdir()?;
    let pdf = out.path().join("bien-ban.pdf");
    std::fs::write(&pdf, secretary.raw_get(&path).send().await?.error_for_status()?.bytes().await?)?;
    let flat = pdftotext(&pdf)?.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("Thành viên có mặt (3/4): ") && flat.contains("Đại biểu 0001 (vắng từ "), "{flat}");
    assert!(flat.contains("Túc số: 3/4 thành viên có mặt (đủ túc số)") && flat.contains("Vắng (1): Đại biểu 0002."), "{flat}");
    Ok(())
}

#[tokio::test]
async fn next_goes_back_to_an_item_skipped_and_the_item_left_is_discussed() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let chair = s.sign_in(&s.chair).await?;
    let secretary = s.sign_in(&s.secretary).await?;
    let mut live = chair.follow(s.meeting, None).await?;
    let add = |title: &str| Command::AddItem { title: title.into(), presenter: String::new(), summary: String::new(), position: None };
    let second = ItemId(created(secretary.command(s.meeting, "i2", &add("Báo cáo tài chính")).await?).await?);
    let third = ItemId(created(secretary.command(s.meeting, "i3", &add("Kiến nghị của cử tri")).await?).await?);
    // The chair jumps from the first item to the third, skipping the second…
    assert_eq!(chair.command(s.meeting, "jump", &Command::GoToItem { item: third }).await?.status, 200);
    // …and "next" on the last item goes back to the one skipped, the third now discussed.
    let moved = chair.command(s.meeting, "next", &Command::NextItem { from: None }).await?;
    assert_eq!(moved.status, 200, "{moved:?}");
    let st = chair.state(s.meeting).await?;
    assert_eq!(st.meeting.current_item, Some(second));
    let statuses: Vec<(ItemId, ItemStatus)> = st.agenda.iter().map(|i| (i.id, i.status)).collect();
    let expected = vec![(s.item, ItemStatus::Done), (second, ItemStatus::Pending), (third, ItemStatus::Done)];
    assert_eq!(statuses, expected);
    // A copy folded from the events agrees with the room.
    live.wait_seq(moved.body["seq"].as_u64().unwrap()).await?;
    let copy = live.copy()?;
    assert_eq!(copy.agenda.iter().map(|i| (i.id, i.status)).collect::<Vec<_>>(), expected);
    // "Next" pressed on two devices at once, both from the same item: taken
    // once; the other is refused, not taken as a second move.
    let from = Command::NextItem { from: Some(third) };
    assert_eq!(chair.command(s.meeting, "stale", &from).await?.code(), "conflict");
    assert_eq!(chair.state(s.meeting).await?.meeting.current_item, Some(second));
    // Everything else discussed: "next" has nowhere to go.
    let again = chair.command(s.meeting, "next-again", &Command::NextItem { from: Some(second) }).await?;
    assert_eq!(again.status, 200);
    assert_eq!(chair.state(s.meeting).await?.meeting.current_item, Some(second), "{again:?}");
    Ok(())
}

#[tokio::test]
async fn moving_the_agenda_ends_the_speech_on_record_and_stepping_back_leaves_the_item_open() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    let chair = s.sign_in(&s.chair).await?;
    let secretary = s.sign_in(&s.secretary).await?;
    let d: Vec<Http> = s.sign_in_each(s.voters.iter()).await?;
    let add = |title: &str| Command::AddItem { title: title.into(), presenter: String::new(), summary: String::new(), position: None };
    let second = ItemId(created(secretary.command(s.meeting, "i2", &add("Báo cáo tài chính")).await?).await?);
    let third = ItemId(created(secretary.command(s.meeting, "i3", &add("Kiến nghị của cử tri")).await?).await?);

    // Someone speaks and someone waits when the chair moves on.
    d[0].command(s.meeting, "ask0", &Command::RequestToSpeak).await?;
    chair.command(s.meeting, "floor", &Command::GiveFloor { participant: None, from: None }).await?;
    d[1].command(s.meeting, "ask1", &Command::RequestToSpeak).await?;
    let seq = chair.state(s.meeting).await?.seq;
    assert_eq!(chair.command(s.meeting, "next", &Command::NextItem { from: None }).await?.status, 200);
    let events: Vec<gavel_shared::protocol::Event> =
        serde_json::from_value(chair.get(&format!("/api/meetings/{}/events?after={seq}", s.meeting)).await?.body)?;
    let changes: Vec<&Change> = events.iter().map(|e| &e.change).collect();
    assert!(
        matches!(changes.as_slice(), [Change::SpeechEnded { participant }, Change::CurrentItemChanged { item: Some(i), .. }] if *participant == s.voters[0].0 && *i == second),
        "the speech cut short by the move is not on record: {changes:?}"
    );
    let st = chair.state(s.meeting).await?;
    assert!(st.speakers.floor.is_none() && st.speakers.queue.is_empty(), "the list belongs to the item left");
    assert_eq!(st.item(s.item).map(|i| i.status), Some(ItemStatus::Done));

    // On to the third, and two steps back: the item only opened is not
    // marked as discussed, the one finished stays so, on the room's copy
    // and after a restart alike.
    chair.command(s.meeting, "on", &Command::NextItem { from: None }).await?;
    chair.command(s.meeting, "back", &Command::PreviousItem { from: None }).await?;
    chair.command(s.meeting, "back-again", &Command::PreviousItem { from: None }).await?;
    // "Next" passes over the item already discussed, to the one not yet.
    chair.command(s.meeting, "forward", &Command::NextItem { from: None }).await?;
    assert_eq!(chair.state(s.meeting).await?.meeting.current_item, Some(third));
    chair.command(s.meeting, "back-to-second", &Command::GoToItem { item: second }).await?;
    let statuses = |st: &gavel_shared::state::MeetingState| st.agenda.iter().map(|i| (i.id, i.status)).collect::<Vec<_>>();
    let expected = vec![(s.item, ItemStatus::Done), (second, ItemStatus::Done), (third, ItemStatus::Pending)];
    assert_eq!(statuses(&chair.state(s.meeting).await?), expected, "an item stepped back from is marked done");
    // Not discussed, so the secretary may still take it off; the first may not.
    assert_eq!(secretary.command(s.meeting, "rm1", &Command::RemoveItem { item: s.item }).await?.code(), "conflict");
    let addrs = server.addrs();
    let data = server.stop().await?.expect("the test's own data directory");
    let server = TestServer::start_again(data.path(), addrs).await?;
    assert_eq!(statuses(&chair.state(s.meeting).await?), expected, "the room wrote other statuses than its copy showed");
    assert_eq!(secretary.command(s.meeting, "rm3", &Command::RemoveItem { item: third }).await?.status, 200);

    // Closing the meeting while someone speaks ends the speech on record too.
    d[1].command(s.meeting, "ask1b", &Command::RequestToSpeak).await?;
    chair.command(s.meeting, "floor2", &Command::GiveFloor { participant: None, from: None }).await?;
    let seq = chair.state(s.meeting).await?.seq;
    assert_eq!(chair.command(s.meeting, "close", &Command::CloseMeeting).await?.status, 200);
    let events: Vec<gavel_shared::protocol::Event> =
        serde_json::from_value(chair.get(&format!("/api/meetings/{}/events?after={seq}", s.meeting)).await?.body)?;
    assert!(
        matches!(events.first().map(|e| &e.change), Some(Change::SpeechEnded { participant }) if *participant == s.voters[1].0),
        "closing the meeting dropped the speech from the record: {:?}",
        events.iter().map(|e| &e.change).collect::<Vec<_>>()
    );
    drop(server);
    Ok(())
}

/// Delegates who voted and were then marked absent before the close (they
/// left the room) still count for that vote's quorum and base: it was held
/// with them. Counted as the room stood at the close, 3 ballots in favour
/// of 4 members present were "no quorum", and a base of members present
/// could fall below the ballots cast.
#[tokio::test]
async fn voters_who_leave_before_the_close_still_count_for_the_vote() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 4).await?;
    let chair = s.sign_in(&s.chair).await?;
    let secretary = s.sign_in(&s.secretary).await?;
    let poll = PollId(created(chair.command(s.meeting, "poll", &poll_cmd(s.item, false, false)).await?).await?);
    chair.command(s.meeting, "open-poll", &Command::OpenPoll { poll }).await?;
    for (i, v) in s.voters.iter().take(3).enumerate() {
        let a = s.sign_in(v).await?.command(s.meeting, &format!("vote-{i}"), &Command::CastBallot { poll, choices: vec![0] }).await?;
        assert_eq!(a.status, 200, "{a:?}");
        let left = Command::SetAttendance { participant: v.0, attendance: Attendance::Absent, reason: String::new() };
        assert_eq!(secretary.command(s.meeting, &format!("left-{i}"), &left).await?.status, 200);
    }
    assert!(!chair.state(s.meeting).await?.quorum().holds, "the room now: the chair alone of 5 members");
    assert_eq!(chair.command(s.meeting, "close-poll", &Command::ClosePoll { poll }).await?.status, 200);
    let st = chair.state(s.meeting).await?;
    let r = st.poll(poll).and_then(|p| p.result.clone()).expect("a result");
    assert_eq!((r.quorum.present, r.quorum.members, r.quorum.holds), (4, 5, true), "{r:?}");
    assert_eq!((r.base, r.counts[0]), (4, 3));
    assert!(r.adopted, "3 in favour of the 4 members present at the vote: {r:?}");
    Ok(())
}

/// What was said or asked on an item keeps it on the agenda, though the
/// chair stepped back from it (which leaves it pending): the minutes list
/// the speeches under their item. A member counted at a show of hands
/// stays on record (the vote's quorum counted them).
#[tokio::test]
async fn what_was_said_or_asked_keeps_its_item_and_its_people_on_record() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Scenario::build(&server).await?;
    let chair = s.http_as(&server, Role::Chair, 0).await?;
    let speaker = s.http_as(&server, Role::Delegate, 0).await?;
    let (spoke, _) = s.person(Role::Delegate, 0);
    let ok = |a: Answer| {
        anyhow::ensure!(a.status == 200, "{a:?}");
        Ok(())
    };
    ok(chair.command(s.meeting, "go-2", &Command::GoToItem { item: s.items[1] }).await?)?;
    ok(speaker.command(s.meeting, "ask", &Command::RequestToSpeak).await?)?;
    ok(chair.command(s.meeting, "floor", &Command::GiveFloor { participant: None, from: None }).await?)?;
    ok(chair.command(s.meeting, "back-1", &Command::GoToItem { item: s.items[0] }).await?)?;
    let st = s.admin.state(s.meeting).await?;
    assert_eq!(st.item(s.items[1]).map(|i| i.status), Some(ItemStatus::Pending), "stepped back from");
    let a = s.admin.command(s.meeting, "rm-spoken", &Command::RemoveItem { item: s.items[1] }).await?;
    assert_eq!((a.status, a.code()), (409, "conflict"), "{a:?}");

    // Opinions asked on an item not yet reached.
    let deadline = time::OffsetDateTime::now_utc() + time::Duration::hours(2);
    ok(chair.command(s.meeting, "ask-opinions", &Command::RequestOpinions { item: s.items[2], deadline }).await?)?;
    let a = s.admin.command(s.meeting, "rm-asked", &Command::RemoveItem { item: s.items[2] }).await?;
    assert_eq!((a.status, a.code()), (409, "conflict"), "{a:?}");

    // A member present at a show of hands, who raised none the record
    // names: counted in the vote's quorum, so kept on record.
    let (member, pin) = s.person(Role::Delegate, 1);
    let mut present = server.client();
    assert_eq!(present.sign_in(s.meeting, member, &pin).await?.status, 200);
    let a = chair.command(s.meeting, "poll", &poll_cmd(s.items[0], false, false)).await?;
    let poll = PollId(a.body["result"]["id"].as_i64().expect("a poll id"));
    ok(chair.command(s.meeting, "open-poll", &Command::OpenPoll { poll }).await?)?;
    ok(speaker.command(s.meeting, "cast", &Command::CastBallot { poll, choices: vec![0] }).await?)?;
    let secretary = s.http_as(&server, Role::Secretary, 0).await?;
    ok(secretary.command(s.meeting, "hands", &Command::RecordHands { poll, counts: vec![2, 0, 0] }).await?)?;
    ok(chair.command(s.meeting, "close-poll", &Command::ClosePoll { poll }).await?)?;
    let a = s.admin.command(s.meeting, "rm-member", &Command::RemoveParticipant { participant: member }).await?;
    assert_eq!((a.status, a.code()), (409, "conflict"), "{a:?}");
    assert!(a.body["message"].as_str().unwrap_or_default().contains("absent"), "{a:?}");
    // Nobody was lost: the agenda, the people, the request.
    let st = s.admin.state(s.meeting).await?;
    assert_eq!(st.agenda.len(), 3);
    assert!(st.participant(spoke).is_some() && st.participant(member).is_some());
    assert_eq!(st.opinion_requests.len(), 1);
    // One who took no part in anything, and is no member, may still go.
    let (observer, _) = s.person(Role::Observer, 0);
    ok(s.admin.command(s.meeting, "rm-observer", &Command::RemoveParticipant { participant: observer }).await?)?;
    Ok(())
}

/// A member absent at a vote is in its base ("of 5 members"): once it has
/// closed, they stay a member on record, neither removed nor made a guest,
/// so the minutes' list of members keeps matching what every vote counted.
/// A member added after the vote was counted in none and may still go.
#[tokio::test]
async fn a_member_a_closed_vote_counted_stays_a_member() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 4).await?;
    let chair = s.sign_in(&s.chair).await?;
    let secretary = s.sign_in(&s.secretary).await?;
    let poll = PollId(created(chair.command(s.meeting, "poll", &poll_cmd(s.item, false, false)).await?).await?);
    assert_eq!(chair.command(s.meeting, "open-poll", &Command::OpenPoll { poll }).await?.status, 200);
    for (i, v) in s.voters.iter().take(3).enumerate() {
        let a = s.sign_in(v).await?.command(s.meeting, &format!("vote-{i}"), &Command::CastBallot { poll, choices: vec![0] }).await?;
        assert_eq!(a.status, 200, "{a:?}");
    }
    assert_eq!(chair.command(s.meeting, "close-poll", &Command::ClosePoll { poll }).await?.status, 200);
    let absent = s.voters[3].0;
    let st = chair.state(s.meeting).await?;
    assert_eq!(st.participant(absent).map(|p| p.attendance), Some(Attendance::Absent), "never signed in");
    let r = st.poll(poll).and_then(|p| p.result.clone()).expect("a result");
    assert!(r.members.contains(absent) && r.members.len() == u64::from(r.quorum.members), "{r:?}");

    let a = secretary.command(s.meeting, "rm-absent", &Command::RemoveParticipant { participant: absent }).await?;
    assert_eq!((a.status, a.code()), (409, "conflict"), "{a:?}");
    assert!(a.body["message"].as_str().unwrap_or_default().contains("closed vote was counted among"), "{a:?}");
    let guest = Command::UpdateParticipant {
        participant: absent,
        name: "Đại biểu 0003".into(),
        position: "Khách mời".into(),
        role: Role::Observer,
        member: false,
        voting: false,
    };
    let a = secretary.command(s.meeting, "to-guest", &guest).await?;
    assert_eq!((a.status, a.code()), (409, "conflict"), "{a:?}");
    let said = a.body["message"].as_str().unwrap_or_default();
    assert!(said.contains("stays a member on record") && !said.contains("absent"), "not a removal: {a:?}");
    assert_eq!(
        gavel_shared::rules::reason_vi(said).as_deref(),
        Some("Thành viên đã được tính trong một lần biểu quyết đã kết thúc phải giữ là thành viên trong hồ sơ cuộc họp.")
    );
    // Still a member: renamed, or given another position, they may be.
    let rename = Command::UpdateParticipant {
        participant: absent,
        name: "Đại biểu 0003 (vắng)".into(),
        position: String::new(),
        role: Role::Delegate,
        member: true,
        voting: true,
    };
    assert_eq!(secretary.command(s.meeting, "rename", &rename).await?.status, 200);

    // Added after the vote by mistake: counted in none, so it may go.
    let late =
        NewParticipant { name: "Người thêm nhầm".into(), position: String::new(), role: Role::Delegate, member: true, voting: true };
    let a = secretary.command(s.meeting, "late", &Command::AddParticipants { participants: vec![late] }).await?;
    assert_eq!(a.status, 200, "{a:?}");
    let late = chair.state(s.meeting).await?.participants.iter().find(|p| p.name == "Người thêm nhầm").map(|p| p.id).expect("added");
    assert_eq!(secretary.command(s.meeting, "rm-late", &Command::RemoveParticipant { participant: late }).await?.status, 200);

    // After a restart the room still knows whom the vote counted.
    let dir = server.stop().await?.expect("its data directory");
    let server = TestServer::start_in(dir.path(), |_| {}).await?;
    let secretary = {
        let mut h = server.client();
        assert_eq!(h.sign_in(s.meeting, s.secretary.0, &s.secretary.1).await?.status, 200);
        h
    };
    let a = secretary.command(s.meeting, "rm-absent-again", &Command::RemoveParticipant { participant: absent }).await?;
    assert_eq!((a.status, a.code()), (409, "conflict"), "{a:?}");
    let st = secretary.state(s.meeting).await?;
    let members = st.participants.iter().filter(|p| p.member).count() as u32;
    assert_eq!(
        st.poll(poll).and_then(|p| p.result.as_ref()).map(|r| r.quorum.members),
        Some(members),
        "the base and the members listed agree"
    );
    drop(dir);
    Ok(())
}

/// An election of two seats by show of hands, through the room: the hands
/// stand for every voter in the room who had not voted on a tablet (the
/// hands cannot tell how many raised them), and none of them then votes on
/// a tablet. Counted as the fewest the hands allow (2 voters naming both),
/// Bình's 2 hands were "more than half" of 3 ballots.
#[tokio::test]
async fn an_election_by_show_of_hands_counts_everyone_in_the_room() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 4).await?;
    let chair = s.sign_in(&s.chair).await?;
    let secretary = s.sign_in(&s.secretary).await?;
    let mut voters = vec![];
    for v in &s.voters {
        voters.push(s.sign_in(v).await?);
    }
    let election = Command::CreatePoll {
        item: s.item,
        question: "Bầu 2 Ủy viên Ban Thường trực".into(),
        kind: PollKind::Choice,
        options: vec!["Nguyễn Văn An".into(), "Trần Thị Bình".into(), "Lê Văn Cường".into()],
        max_choices: 2,
        secret: false,
        allow_change: false,
        rule: MajorityRule { basis: Basis::VotesCast, share: Share::MORE_THAN_HALF },
    };
    let poll = PollId(created(chair.command(s.meeting, "election", &election).await?).await?);
    assert_eq!(chair.command(s.meeting, "open", &Command::OpenPoll { poll }).await?.status, 200);
    let a = voters[0].command(s.meeting, "tablet", &Command::CastBallot { poll, choices: vec![0] }).await?;
    assert_eq!(a.status, 200, "{a:?}");
    // The other four (the chair among them) by hand: An 2, Bình 2.
    let a = secretary.command(s.meeting, "hands", &Command::RecordHands { poll, counts: vec![2, 2, 0] }).await?;
    assert_eq!(a.status, 200, "{a:?}");
    let a = voters[1].command(s.meeting, "tablet-too", &Command::CastBallot { poll, choices: vec![1] }).await?;
    assert_eq!((a.status, a.code()), (409, "conflict"), "counted by hand, then on the tablet: {a:?}");
    // Said to them as theirs: their tablet does not see the hands.
    let said = a.body["message"].as_str().unwrap_or_default();
    assert!(said.contains("you were counted in the show of hands"), "{said}");
    assert!(gavel_shared::rules::reason_vi(said).is_some_and(|vi| vi.starts_with("Bạn đã được tính")), "{said}");
    assert_eq!(chair.command(s.meeting, "close", &Command::ClosePoll { poll }).await?.status, 200);
    let r = chair.state(s.meeting).await?.poll(poll).and_then(|p| p.result.clone()).expect("a result");
    assert_eq!((r.ballots, r.base, r.needed), (5, 5, 3), "{r:?}");
    assert_eq!(r.counts, vec![3, 2, 0]);
    assert_eq!(r.passed, vec![true, false, false], "Bình's 2 of 5 is not more than half: {r:?}");
    Ok(())
}
