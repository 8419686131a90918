//! The tamper-evident record: rows of the event log edited, deleted or
//! inserted straight in the SQLite file are named by `gavel-server audit
//! verify`, which runs with the server stopped; an untouched log passes, and
//! its head is the fingerprint the minutes carry.

use gavel_shared::protocol::Command;
use gavel_tests::*;

/// Runs `audit verify` on a data directory: (success, what it printed).
fn audit(dir: &std::path::Path) -> anyhow::Result<(bool, String)> {
    let out = std::process::Command::new(server_binary()?).arg("--data-dir").arg(dir).args(["audit", "verify"]).output()?;
    Ok((out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))))
}

fn copy_dir(from: &std::path::Path) -> anyhow::Result<tempfile::TempDir> {
    let to = tempfile::tempdir()?;
    for name in ["gavel.db", "gavel.db-wal", "gavel.db-shm"] {
        if from.join(name).exists() {
            std::fs::copy(from.join(name), to.path().join(name))?;
        }
    }
    Ok(to)
}

async fn tamper(dir: &std::path::Path, sql: &str) -> anyhow::Result<()> {
    let pool = open_store(dir, false).await?;
    sqlx::query(sql).execute(&pool).await?;
    pool.close().await;
    Ok(())
}

#[tokio::test]
async fn tampering_with_the_event_log_is_named_event_by_event() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let server = TestServer::start_in(data.path(), |_| {}).await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    // A burst of commands at once, which the room writes in batches (the
    // chain's head is carried from one batch to the next), a third of them
    // refused: the chain holds across them.
    let burst = futures_util::future::join_all((0..24).map(|n| {
        let cmd = if n % 3 == 0 {
            Command::GoToItem { item: gavel_shared::model::ItemId(999_999) }
        } else {
            Command::AddItem { title: format!("Mục {n}"), presenter: String::new(), summary: String::new(), position: None }
        };
        let admin = &s.admin;
        async move { admin.command(s.meeting, &format!("burst-{n}"), &cmd).await }
    }))
    .await;
    let statuses: Vec<u16> = burst.into_iter().map(|a| a.map(|a| a.status)).collect::<anyhow::Result<_>>()?;
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 16, "{statuses:?}");
    for n in 0..3 {
        let cmd = Command::AddItem { title: format!("Nội dung {n}"), presenter: String::new(), summary: String::new(), position: None };
        s.admin.command(s.meeting, &format!("audit-{n}"), &cmd).await?;
    }
    let state = s.admin.state(s.meeting).await?;
    let last = state.seq;
    assert!(last >= 8, "{last}");
    // The minutes' fingerprint of the log is the chain's head.
    let record = s.admin.get(&format!("/api/meetings/{}/minutes/export?format=json&lang=vi", s.meeting)).await?;
    server.stop().await?;

    let (ok, said) = audit(data.path())?;
    assert!(ok, "{said}");
    assert!(said.contains(&format!("meeting {}: intact: {last} events", s.meeting)), "{said}");
    let head = said.split("head ").nth(1).map(|h| h.trim().to_string()).unwrap_or_default();
    assert_eq!(record.status, 200, "{record:?}");
    assert!(record.body.to_string().contains(&head), "the minutes carry the head {head}: {}", record.body);

    let m = s.meeting;
    let cases = [
        (
            format!("UPDATE events SET body = replace(body, 'Nội dung 1', 'Nội dung khác') WHERE meeting_id = {m} AND seq = {}", last - 1),
            format!("event {} was changed", last - 1),
        ),
        (format!("DELETE FROM events WHERE meeting_id = {m} AND seq = 4"), "event 4 was removed".to_string()),
        (format!("DELETE FROM events WHERE meeting_id = {m} AND seq = {last}"), format!("event {last} was removed")),
        (
            format!(
                "INSERT INTO events (meeting_id, seq, at, kind, body, chain) SELECT meeting_id, seq + 1, at, kind, replace(body, '\"seq\":{last}', '\"seq\":{}'), chain FROM events WHERE meeting_id = {m} AND seq = {last}",
                last + 1
            ),
            format!("event {} was inserted", last + 1),
        ),
        // Rewriting the last event with a hash recomputed for it still leaves the meeting's head.
        (
            format!(
                "UPDATE events SET body = replace(body, 'Nội dung 2', 'Nội dung giả'), chain = '00' WHERE meeting_id = {m} AND seq = {last}"
            ),
            format!("event {last} was changed"),
        ),
    ];
    for (sql, want) in cases {
        let copy = copy_dir(data.path())?;
        tamper(copy.path(), &sql).await?;
        let (ok, said) = audit(copy.path())?;
        assert!(!ok, "tampering passed: {sql}\n{said}");
        assert!(said.contains(&want), "{sql}\nwanted {want:?}, got {said}");
    }
    Ok(())
}
