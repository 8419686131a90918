//! `gavel-bench`: measures Gavel on loopback against a baseline measured in
//! the same run, and prints a Markdown table.
//!
//!     cargo run --release --bin gavel-bench            # full run
//!     cargo run --release --bin gavel-bench -- --quick # every case, small sizes (CI smoke)
//!
//! Cases so far:
//! - **vote burst**: N delegates, each on its own WebSocket, cast a ballot in
//!   the same instant; durable ballots per second (until the last
//!   acknowledgement, each one committed with `synchronous=FULL`), and the
//!   time from closing the poll to the result on every client. Baseline:
//!   the same number of single-row inserts, one transaction each, in SQLite
//!   with the same settings (WAL, `synchronous=FULL`) and nothing else.

use anyhow::Context;
use futures_util::future::join_all;
use gavel_shared::decision::*;
use gavel_shared::model::*;
use gavel_shared::protocol::{Change, Command, ServerMessage};
use gavel_tests::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Row {
    case: String,
    gavel: String,
    baseline: String,
    ratio: String,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

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

async fn vote_burst(n: usize) -> anyhow::Result<Vec<Row>> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start_in(dir.path(), |_| {}).await?;
    let s = Arc::new(Assembly::build(&server.url(""), n).await?);
    let chair = s.sign_in(&s.chair).await?;
    let mut clients: Vec<Ws> = s.follow_all().await?.into_iter().map(|(_, ws)| ws).collect();
    let create = Command::CreatePoll {
        item: s.item,
        question: "Biểu quyết".into(),
        kind: PollKind::YesNo,
        options: vec![],
        max_choices: 1,
        secret: true,
        allow_change: false,
        rule: MajorityRule::default(),
    };
    let a = chair.command(s.meeting, "bench-poll", &create).await?;
    let poll = PollId(a.body["result"]["id"].as_i64().context("poll id")?);
    chair.command(s.meeting, "bench-open", &Command::OpenPoll { poll }).await?;

    let start = Instant::now();
    let latencies = join_all(clients.iter_mut().enumerate().map(|(i, ws)| async move {
        let t = Instant::now();
        let r = ws.command(Command::CastBallot { poll, choices: vec![(i % 3) as u8] }).await;
        (matches!(r, Ok(ServerMessage::Ack { .. })), t.elapsed())
    }))
    .await;
    let burst = start.elapsed();
    let acked = latencies.iter().filter(|(ok, _)| *ok).count();
    anyhow::ensure!(acked == n, "only {acked} of {n} ballots were acknowledged");
    let mut lat: Vec<Duration> = latencies.into_iter().map(|(_, d)| d).collect();
    lat.sort();

    let close_start = Instant::now();
    chair.command(s.meeting, "bench-close", &Command::ClosePoll { poll }).await?;
    for ws in clients.iter_mut() {
        ws.wait_for(|e| matches!(&e.change, Change::PollClosed { poll: p, .. } if *p == poll)).await?;
    }
    let to_result = close_start.elapsed();
    server.stop().await?;

    let baseline = baseline_inserts(n).await?;
    let gavel_rate = n as f64 / burst.as_secs_f64();
    let base_rate = n as f64 / baseline.as_secs_f64();
    Ok(vec![
        Row {
            case: format!("vote burst, {n} voters over WebSocket: durable ballots/s"),
            gavel: format!("{gavel_rate:.0}/s ({:.0} ms)", burst.as_secs_f64() * 1000.0),
            baseline: format!("{base_rate:.0}/s ({:.0} ms), {n} single-row inserts", baseline.as_secs_f64() * 1000.0),
            ratio: format!("{:.2}×", gavel_rate / base_rate),
        },
        Row {
            case: format!("vote burst, {n} voters: ballot acknowledgement p50 / p99 / max"),
            gavel: format!(
                "{:.1} / {:.1} / {:.1} ms",
                percentile(&lat, 0.5).as_secs_f64() * 1000.0,
                percentile(&lat, 0.99).as_secs_f64() * 1000.0,
                lat.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
            ),
            baseline: "—".into(),
            ratio: "—".into(),
        },
        Row {
            case: format!("vote burst, {n} voters: close → result on every client"),
            gavel: format!("{:.1} ms", to_result.as_secs_f64() * 1000.0),
            baseline: "—".into(),
            ratio: "—".into(),
        },
    ])
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let voters = if quick { 50 } else { 500 };
    let started = Instant::now();
    let mut rows = vec![];
    rows.extend(vote_burst(voters).await?);
    println!("| case | Gavel | baseline | Gavel / baseline |");
    println!("|---|---|---|---|");
    for r in rows {
        println!("| {} | {} | {} | {} |", r.case, r.gavel, r.baseline, r.ratio);
    }
    println!();
    println!(
        "{} run on {} cores in {:.0} s. Loopback only; times vary with the machine's load, ratios less.",
        if quick { "Quick" } else { "Full" },
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
