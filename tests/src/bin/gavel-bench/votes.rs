//! Vote burst: N delegates, each on its own WebSocket, cast a ballot in the
//! same instant; durable ballots per second (until the last acknowledgement,
//! each committed with `synchronous=FULL`), and the time from the last
//! ballot to the result on every client. Baseline: the same number of
//! single-row inserts, one transaction each, in SQLite with the same
//! settings (WAL, `synchronous=FULL`) and nothing else.

use crate::common::*;
use crate::fanout::ws_delegate;
use anyhow::Context;
use futures_util::future::join_all;
use futures_util::{SinkExt, StreamExt};
use gavel_shared::decision::*;
use gavel_shared::model::*;
use gavel_shared::protocol::{self, ClientMessage, Command, ServerMessage};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// N single-row inserts, each its own transaction, WAL + synchronous=FULL.
async fn baseline_inserts(n: usize) -> anyhow::Result<Duration> {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
    let dir = tempfile::tempdir()?;
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("baseline.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let pool = sqlx::SqlitePool::connect_with(options).await?;
    sqlx::query("CREATE TABLE ballots (poll_id INTEGER, participant_id INTEGER, choices TEXT, PRIMARY KEY (poll_id, participant_id))")
        .execute(&pool)
        .await?;
    let start = Instant::now();
    let tasks = (0..n).map(|i| {
        let pool = pool.clone();
        async move {
            sqlx::query("INSERT INTO ballots VALUES (1, ?, '[0]')").bind(i as i64).execute(&pool).await?;
            anyhow::Ok(())
        }
    });
    for r in join_all(tasks).await {
        r?;
    }
    Ok(start.elapsed())
}

/// Reads until a message satisfies `done`; returns it, and counts in
/// `ballots` the ballot events read on the way. Only messages whose text
/// contains `hint` are decoded: the 500 voters share the benchmark's 2 cores
/// with the room, and decoding all 250,000 ballot events they receive took
/// more of those cores than the room itself (a tablet decodes its 500 on a
/// CPU of its own).
async fn until(
    ws: &mut crate::fanout::WsStream,
    hint: &str,
    ballots: &mut usize,
    done: impl Fn(&ServerMessage) -> bool,
) -> anyhow::Result<ServerMessage> {
    loop {
        match tokio::time::timeout(Duration::from_secs(60), ws.next()).await.context("timed out")? {
            Some(Ok(Message::Text(t))) => {
                if t.as_str().contains("\"ballot_cast\"") {
                    *ballots += 1;
                }
                if !t.as_str().contains(hint) {
                    continue;
                }
                let m = protocol::decode_server(t.as_str(), usize::MAX)?;
                if done(&m) {
                    return Ok(m);
                }
            }
            Some(Ok(_)) => {}
            other => anyhow::bail!("closed: {other:?}"),
        }
    }
}

/// Case 4, for a secret poll and a named one: named ballots reach each
/// viewer in one of two forms (with the choice for the voter and the
/// officers, without for the others), secret ones the same to everyone.
pub async fn vote_bursts(room: &Room, d: &Arc<Delegates>, n: usize) -> anyhow::Result<Vec<Row>> {
    let mut rows = vote_burst(room, d, n, true).await?;
    rows.extend(vote_burst(room, d, n, false).await?);
    Ok(rows)
}

async fn vote_burst(room: &Room, d: &Arc<Delegates>, n: usize, secret: bool) -> anyhow::Result<Vec<Row>> {
    let kind = if secret { "secret" } else { "named" };
    let mut clients = vec![];
    for (_, token) in &d.tokens[..n] {
        clients.push(ws_delegate(room, token, d.meeting).await?);
    }
    let chair = d.chair_http(&room.base());
    let create = Command::CreatePoll {
        item: d.items[0],
        question: "Biểu quyết".into(),
        kind: PollKind::YesNo,
        options: vec![],
        max_choices: 1,
        secret,
        allow_change: false,
        rule: MajorityRule::default(),
    };
    let a = chair.command(d.meeting, &format!("burst-poll-{kind}"), &create).await?;
    let poll = PollId(a.body["result"]["id"].as_i64().context("poll id")?);
    chair.command(d.meeting, &format!("burst-open-{kind}"), &Command::OpenPoll { poll }).await?;
    // Every client sees the poll open before the burst.
    for ws in clients.iter_mut() {
        until(
            ws,
            "\"poll_opened\"",
            &mut 0,
            |m| matches!(m, ServerMessage::Event { event } if matches!(event.change, gavel_shared::protocol::Change::PollOpened { .. })),
        )
        .await?;
    }

    // Each voter on a task of its own, as each is its own tablet: polled
    // together in one task, the voters' reading of every ballot's event
    // (500 × 500 messages) ran on one thread and held back the answers.
    let start = Instant::now();
    let voters = clients.into_iter().enumerate().map(|(i, mut ws)| {
        tokio::spawn(async move {
            let key = format!("ballot-{kind}-{i}");
            let cmd = ClientMessage::Command { key: key.clone(), command: Command::CastBallot { poll, choices: vec![(i % 3) as u8] } };
            let t = Instant::now();
            ws.send(Message::Text(protocol::encode(&cmd).into())).await?;
            let mut ballots = 0;
            let m = until(
                &mut ws,
                &format!("\"{key}\""),
                &mut ballots,
                |m| matches!(m, ServerMessage::Ack { key: k, .. } | ServerMessage::Error { key: Some(k), .. } if *k == key),
            )
            .await?;
            anyhow::ensure!(matches!(m, ServerMessage::Ack { .. }), "ballot refused: {m:?}");
            anyhow::Ok((t.elapsed(), ws, ballots))
        })
    });
    let mut lat = vec![];
    let mut clients = vec![];
    for r in join_all(voters).await {
        let (t, ws, ballots) = r??;
        lat.push(t);
        clients.push((ws, ballots));
    }
    let burst = start.elapsed();

    let close_start = Instant::now();
    chair.command(d.meeting, &format!("burst-close-{kind}"), &Command::ClosePoll { poll }).await?;
    // Every voter must have seen every ballot (as a count of voters) before
    // the result.
    let watchers = clients.into_iter().map(|(mut ws, mut ballots)| {
        tokio::spawn(async move {
            until(&mut ws, "\"poll_closed\"", &mut ballots, |m| matches!(m, ServerMessage::Event { event } if matches!(&event.change, gavel_shared::protocol::Change::PollClosed { poll: p, .. } if *p == poll))).await?;
            anyhow::Ok(ballots)
        })
    });
    for r in join_all(watchers).await {
        let ballots = r??;
        anyhow::ensure!(ballots == n, "a voter saw {ballots} of the {n} ballots before the result");
    }
    let to_result = close_start.elapsed();

    let baseline = baseline_inserts(n).await?;
    let gavel_rate = n as f64 / burst.as_secs_f64();
    let base_rate = n as f64 / baseline.as_secs_f64();
    Ok(vec![
        Row::new(
            format!("vote burst, {kind} poll, {n} voters over WebSocket: durable ballots/s (until the last ack)"),
            format!("{gavel_rate:.0}/s ({:.0} ms)", ms(burst)),
            format!("{base_rate:.0}/s ({:.0} ms), {n} single-row inserts", ms(baseline)),
            ratio(gavel_rate, base_rate),
        ),
        Row::new(format!("vote burst, {kind} poll, {n} voters: ballot acknowledgement p50 / p99 / max"), spread(&mut lat), "—", "—"),
        Row::new(
            format!("vote burst, {kind} poll, {n} voters: last ballot → poll closed and result on every client"),
            format!("{:.0} ms (burst + close → result: {:.0} ms)", ms(to_result), ms(burst + to_result)),
            "—",
            "—",
        ),
    ])
}
