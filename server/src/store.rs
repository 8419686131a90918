//! The store: SQLite (WAL) through sqlx, opened and migrated at start-up, and
//! the queries that load a meeting's state from its tables.
//!
//! Writes happen in [`crate::meeting`], one transaction per command together
//! with the event they append.

use anyhow::Context;
use gavel_shared::decision::*;
use gavel_shared::model::*;
use gavel_shared::protocol::Event;
use gavel_shared::state::MeetingState;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The database pool. SQLite today; see `--database-url`.
pub type Db = SqlitePool;

/// Opens (creating if missing) and migrates the database named by `url`, or
/// `DATA_DIR/gavel.db` when `url` is `None`.
/// Opens an existing database read-only, for checks with the server stopped
/// (`audit verify`): nothing is migrated or written.
pub async fn open_read_only(data_dir: &Path) -> anyhow::Result<Db> {
    let path = data_dir.join("gavel.db");
    anyhow::ensure!(path.exists(), "no database at {}", path.display());
    let options = SqliteConnectOptions::new().filename(&path).read_only(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open {}", path.display()))?;
    let chained: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pragma_table_info('events') WHERE name = 'chain'").fetch_one(&pool).await?;
    anyhow::ensure!(chained == 1, "this database predates the event chain: start the server once to upgrade it");
    Ok(pool)
}

pub async fn open(data_dir: &Path, url: Option<&str>) -> anyhow::Result<Db> {
    let url = match url {
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
            anyhow::bail!(
                "PostgreSQL is not supported yet: this version of Gavel stores its data in SQLite. \
                 Leave out --database-url to use DATA_DIR/gavel.db."
            )
        }
        Some(u) if u.starts_with("sqlite:") => u.to_string(),
        Some(u) => anyhow::bail!("unsupported --database-url {u:?}: use sqlite://PATH (PostgreSQL is not supported yet)"),
        None => format!("sqlite://{}", data_dir.join("gavel.db").display()),
    };
    let options = SqliteConnectOptions::from_str(&url)
        .with_context(|| format!("bad database URL {url:?}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: an acknowledged command survives a power cut, not only a crash.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        // What is deleted is overwritten with zeros, not left in the
        // database's free space: a secret poll's ballots, rewritten when it
        // closes so that where each lies says nothing of when it was cast
        // (see `ClosePoll`), leave no copy in the old order behind.
        .pragma("secure_delete", "on")
        .busy_timeout(std::time::Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open the database {url}"))?;
    sqlx::migrate!("../migrations/sqlite").run(&pool).await.context("cannot migrate the database")?;
    crate::audit::backfill(&pool).await.context("cannot chain the event log")?;
    // A server stopped abruptly may have left history in the WAL.
    if !truncate_wal(&pool).await {
        truncate_wal_soon(&pool);
    }
    Ok(pool)
}

/// Folds the write-ahead log into the database and empties it. Readers can
/// hold it up for a moment, so it is tried for about two seconds; true once
/// it is empty. Each try waits at most a few milliseconds for the database
/// (with the pool's 10 s busy timeout, a reader that held on made each try
/// wait 10 s, for a hundred tries).
pub async fn truncate_wal(db: &Db) -> bool {
    truncate_wal_tries(db, 100).await
}

/// [`truncate_wal`] with at most `tries` tries, 20 ms apart; its failures
/// are logged by the first (a retry in the background keeps quiet).
async fn truncate_wal_tries(db: &Db, tries: usize) -> bool {
    let mut conn = match db.acquire().await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "WAL checkpoint: no connection");
            return false;
        }
    };
    let mut emptied = false;
    if sqlx::query("PRAGMA busy_timeout = 20").execute(&mut *conn).await.is_ok() {
        for _ in 0..tries {
            match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&mut *conn).await {
                Ok((0, _, _)) => {
                    emptied = true;
                    break;
                }
                Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
                Err(e) => {
                    if tries > 1 {
                        tracing::warn!(error = %e, "WAL checkpoint failed");
                    }
                    break;
                }
            }
        }
    }
    if sqlx::query(BUSY_TIMEOUT).execute(&mut *conn).await.is_err() {
        // Not handed back to the pool with a short timeout.
        conn.detach();
    }
    emptied
}

/// The pool's busy timeout, as `store::open` sets it.
const BUSY_TIMEOUT: &str = "PRAGMA busy_timeout = 10000";

/// [`truncate_wal`], tried again every second in the background until the
/// log is empty, when a reader kept it from being emptied at once: before,
/// it stayed (with the order of a secret poll's ballots) until the next start.
/// One such retry at a time for each database: each secret poll closed
/// meanwhile would otherwise add one, each holding a connection.
pub fn truncate_wal_soon(db: &Db) {
    static RETRYING: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());
    let file = db.connect_options().get_filename().to_path_buf();
    {
        let mut retrying = RETRYING.lock().expect("WAL retries");
        if retrying.contains(&file) {
            return;
        }
        retrying.push(file.clone());
    }
    tracing::warn!("the write-ahead log kept waiting for readers: it is emptied once they let go");
    let db = db.clone();
    tokio::spawn(async move {
        while !db.is_closed() && !truncate_wal_tries(&db, 1).await {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        RETRYING.lock().expect("WAL retries").retain(|f| *f != file);
    });
}

/// The current time, as stored.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// A time as stored (RFC 3339).
pub fn ts(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).expect("RFC 3339 formats every UTC time")
}

/// Parses a stored time.
pub fn parse_ts(s: &str) -> anyhow::Result<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).with_context(|| format!("bad stored time {s:?}"))
}

/// All meetings, the most recent first.
pub async fn list_meetings(db: &Db) -> anyhow::Result<Vec<MeetingSummary>> {
    let rows = sqlx::query("SELECT id, title, organisation, status, starts_at FROM meetings ORDER BY starts_at DESC, id DESC")
        .fetch_all(db)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(MeetingSummary {
                id: MeetingId(r.get("id")),
                title: r.get("title"),
                organisation: r.get("organisation"),
                status: parse_status(r.get("status"))?,
                starts_at: parse_ts(r.get("starts_at"))?,
            })
        })
        .collect()
}

fn parse_status(s: &str) -> anyhow::Result<MeetingStatus> {
    MeetingStatus::parse(s).with_context(|| format!("bad meeting status {s:?}"))
}

/// Loads a meeting's whole state from its tables, or `None` if there is no
/// such meeting.
pub async fn load_meeting(db: &Db, id: MeetingId) -> anyhow::Result<Option<MeetingState>> {
    let Some(m) = sqlx::query("SELECT * FROM meetings WHERE id = ?").bind(id.0).fetch_optional(db).await? else {
        return Ok(None);
    };
    let meeting = Meeting {
        id,
        title: m.get("title"),
        organisation: m.get("organisation"),
        place: m.get("place"),
        locality: m.get("locality"),
        starts_at: parse_ts(m.get("starts_at"))?,
        status: parse_status(m.get("status"))?,
        current_item: m.get::<Option<i64>, _>("current_item").map(ItemId),
        quorum: Share {
            num: m.get::<i64, _>("quorum_num") as u32,
            den: m.get::<i64, _>("quorum_den") as u32,
            strict: m.get("quorum_strict"),
        },
        speech_limit_secs: m.get::<i64, _>("speech_limit_secs") as u32,
    };
    let mut state = MeetingState::new(meeting);
    state.speakers = json(m.get("speakers"))?;
    for r in sqlx::query("SELECT * FROM participants WHERE meeting_id = ? ORDER BY id").bind(id.0).fetch_all(db).await? {
        let role: String = r.get("role");
        Arc::make_mut(&mut state.participants).push(Participant {
            id: ParticipantId(r.get("id")),
            name: r.get("name"),
            position: r.get("position"),
            role: Role::parse(&role).with_context(|| format!("bad role {role:?}"))?,
            member: r.get("member"),
            voting: r.get("voting"),
            attendance: Attendance::parse(r.get("attendance")).context("bad attendance")?,
            excuse: r.get("excuse"),
        });
    }
    for r in sqlx::query("SELECT * FROM agenda_items WHERE meeting_id = ? ORDER BY position, id").bind(id.0).fetch_all(db).await? {
        let status: String = r.get("status");
        Arc::make_mut(&mut state.agenda).push(AgendaItem {
            id: ItemId(r.get("id")),
            title: r.get("title"),
            presenter: r.get("presenter"),
            summary: r.get("summary"),
            status: ItemStatus::parse(&status).with_context(|| format!("bad item status {status:?}"))?,
        });
    }
    let readers = sqlx::query(
        "SELECT r.document_id, r.participant_id FROM document_readers r JOIN documents d ON d.id = r.document_id \
         WHERE d.meeting_id = ? ORDER BY r.participant_id",
    )
    .bind(id.0)
    .fetch_all(db)
    .await?;
    for r in sqlx::query("SELECT * FROM documents WHERE meeting_id = ? ORDER BY id").bind(id.0).fetch_all(db).await? {
        let doc_id: i64 = r.get("id");
        let c: String = r.get("confidentiality");
        Arc::make_mut(&mut state.documents).push(Document {
            id: DocumentId(doc_id),
            item: ItemId(r.get("item_id")),
            title: r.get("title"),
            file_name: r.get("file_name"),
            size: r.get::<i64, _>("size") as u64,
            sha256: r.get("sha256"),
            confidentiality: Confidentiality::parse(&c).with_context(|| format!("bad confidentiality {c:?}"))?,
            readers: readers
                .iter()
                .filter(|x| x.get::<i64, _>("document_id") == doc_id)
                .map(|x| ParticipantId(x.get("participant_id")))
                .collect(),
            uploaded_at: parse_ts(r.get("uploaded_at"))?,
        });
    }
    load_polls(db, &mut state).await?;
    for r in sqlx::query("SELECT * FROM opinions WHERE meeting_id = ? ORDER BY id").bind(id.0).fetch_all(db).await? {
        let stance: String = r.get("stance");
        Arc::make_mut(&mut state.opinions).push(Opinion {
            id: OpinionId(r.get("id")),
            item: ItemId(r.get("item_id")),
            // Kept when the document is removed: an opinion on a removed
            // document stays to itself (see the minutes). 0 stands for one
            // removed whose id was given again before ids were kept
            // (migration 0014): no document has it.
            document: r.get::<Option<i64>, _>("about_document").map(DocumentId),
            author: ParticipantId(r.get("author_id")),
            stance: serde_json::from_value(serde_json::Value::String(stance)).context("bad stance")?,
            text: r.get("text"),
            remote: r.get("remote"),
            at: parse_ts(r.get("at"))?,
        });
    }
    for r in sqlx::query("SELECT * FROM opinion_requests WHERE meeting_id = ? ORDER BY id").bind(id.0).fetch_all(db).await? {
        Arc::make_mut(&mut state.opinion_requests).push(OpinionRequest {
            id: OpinionRequestId(r.get("id")),
            item: ItemId(r.get("item_id")),
            deadline: parse_ts(r.get("deadline"))?,
            asked_at: parse_ts(r.get("asked_at"))?,
        });
    }
    load_minutes(db, &mut state).await?;
    state.seq = last_seq(db, id).await?;
    Ok(Some(state))
}

async fn load_minutes(db: &Db, state: &mut MeetingState) -> anyhow::Result<()> {
    use gavel_shared::minutes::*;
    let id = state.meeting.id.0;
    let Some(row) = sqlx::query("SELECT * FROM minutes WHERE meeting_id = ?").bind(id).fetch_optional(db).await? else { return Ok(()) };
    let status: String = row.get("status");
    let mut m = Minutes {
        version: row.get::<i64, _>("version") as u32,
        status: serde_json::from_value(serde_json::Value::String(status)).context("bad minutes status")?,
        number: row.get("number"),
        ..Default::default()
    };
    for r in sqlx::query("SELECT section, text FROM minutes_sections WHERE meeting_id = ?").bind(id).fetch_all(db).await? {
        m.set_text(json(r.get("section"))?, r.get::<String, _>("text"));
    }
    for r in sqlx::query("SELECT * FROM minutes_comments WHERE meeting_id = ? ORDER BY id").bind(id).fetch_all(db).await? {
        m.comments.push(MinutesComment {
            section: json(r.get("section"))?,
            author: ParticipantId(r.get("author_id")),
            text: r.get("text"),
            version: r.get::<i64, _>("version") as u32,
            at: parse_ts(r.get("at"))?,
        });
    }
    for r in sqlx::query("SELECT * FROM minutes_versions WHERE meeting_id = ? ORDER BY version").bind(id).fetch_all(db).await? {
        m.signed.push(SignedVersion {
            version: r.get::<i64, _>("version") as u32,
            log_head: r.get("log_head"),
            log_seq: r.get::<i64, _>("log_seq") as u64,
            files: json(r.get("files"))?,
            signed_at: parse_ts(r.get("signed_at"))?,
        });
    }
    state.minutes = Arc::new(m);
    Ok(())
}

/// Reads a JSON column.
pub fn json<T: serde::de::DeserializeOwned>(text: &str) -> anyhow::Result<T> {
    serde_json::from_str(text).with_context(|| format!("bad stored JSON {text:?}"))
}

async fn load_polls(db: &Db, state: &mut MeetingState) -> anyhow::Result<()> {
    let id = state.meeting.id;
    for r in sqlx::query("SELECT * FROM polls WHERE meeting_id = ? ORDER BY id").bind(id.0).fetch_all(db).await? {
        let poll_id = PollId(r.get("id"));
        let voters: Vec<i64> = sqlx::query_scalar("SELECT participant_id FROM poll_voters WHERE poll_id = ? ORDER BY participant_id")
            .bind(poll_id.0)
            .fetch_all(db)
            .await?;
        let mut ballots = vec![];
        for b in sqlx::query("SELECT * FROM named_ballots WHERE poll_id = ? ORDER BY participant_id").bind(poll_id.0).fetch_all(db).await? {
            ballots.push(NamedBallot {
                voter: ParticipantId(b.get("participant_id")),
                choices: json(b.get("choices"))?,
                by_secretary: b.get("by_secretary"),
            });
        }
        let kind: String = r.get("kind");
        Arc::make_mut(&mut state.polls).push(Poll {
            id: poll_id,
            item: ItemId(r.get("item_id")),
            question: r.get("question"),
            kind: serde_json::from_value(serde_json::Value::String(kind)).context("bad poll kind")?,
            options: json(r.get("options"))?,
            max_choices: r.get::<i64, _>("max_choices") as u8,
            secret: r.get("secret"),
            allow_change: r.get("allow_change"),
            rule: json(r.get("rule"))?,
            status: PollStatus::parse(r.get("status")).context("bad poll status")?,
            voters: voters.into_iter().map(ParticipantId).collect(),
            ballots,
            hands: json(r.get("hands"))?,
            hands_present: json(r.get("hands_present"))?,
            result: r.get::<Option<String>, _>("result").map(|t| json(&t)).transpose()?,
            cancel_reason: r.get("cancel_reason"),
        });
    }
    Ok(())
}

/// The `seq` of a meeting's last event (0 when it has none).
pub async fn last_seq(db: &Db, id: MeetingId) -> anyhow::Result<u64> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM events WHERE meeting_id = ?").bind(id.0).fetch_one(db).await?;
    Ok(seq.unwrap_or(0) as u64)
}

/// At most `limit` events after `after`, stopping after the one that takes
/// their stored size past `max_bytes` (always at least one): a page of the
/// log for a reader who asks again from its last event. (A minutes draft
/// is saved as the secretary types, up to 100,000 characters each time: a
/// page of 5,000 such events was gigabytes in the room's memory.)
pub async fn events_page(db: &Db, id: MeetingId, after: u64, limit: u32, max_bytes: usize) -> anyhow::Result<Vec<Event>> {
    use futures_util::TryStreamExt;
    let mut rows = sqlx::query_scalar::<_, String>("SELECT body FROM events WHERE meeting_id = ? AND seq > ? ORDER BY seq LIMIT ?")
        .bind(id.0)
        .bind(after as i64)
        .bind(limit as i64)
        .fetch(db);
    let (mut events, mut bytes) = (vec![], 0);
    while bytes < max_bytes
        && let Some(body) = rows.try_next().await?
    {
        bytes += body.len();
        events.push(serde_json::from_str(&body).context("bad stored event")?);
    }
    Ok(events)
}

/// A meeting's events after `after`, at most `limit` of them, in order.
pub async fn events_after(db: &Db, id: MeetingId, after: u64, limit: u32) -> anyhow::Result<Vec<Event>> {
    let rows: Vec<String> = sqlx::query_scalar("SELECT body FROM events WHERE meeting_id = ? AND seq > ? ORDER BY seq LIMIT ?")
        .bind(id.0)
        .bind(after as i64)
        .bind(limit as i64)
        .fetch_all(db)
        .await?;
    rows.iter().map(|b| serde_json::from_str(b).context("bad stored event")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database written before migration 0013 (ids reused after a
    /// removal): 0014 numbers new rows above every id the log ever named,
    /// keeps an opinion on a removed document to itself when a later upload
    /// took that document's id, and deletes copies stamped for removed
    /// participants.
    #[tokio::test]
    async fn migration_0014_mends_ids_reused_before_0013() {
        let dir = tempfile::tempdir().unwrap();
        // The migrations up to 0012, as a database of that time had them.
        let old = dir.path().join("old-migrations");
        std::fs::create_dir(&old).unwrap();
        let mut names: Vec<_> =
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/sqlite")).unwrap().map(|e| e.unwrap().path()).collect();
        names.sort();
        let cut = names.iter().position(|p| p.to_string_lossy().contains("_ids_never_reused")).expect("migration 0013");
        for p in &names[..cut] {
            std::fs::copy(p, old.join(p.file_name().unwrap())).unwrap();
        }
        let url = format!("sqlite://{}", dir.path().join("gavel.db").display());
        let options = SqliteConnectOptions::from_str(&url).unwrap().create_if_missing(true).foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.unwrap();
        sqlx::migrate::Migrator::new(old.as_path()).await.unwrap().run(&pool).await.unwrap();

        // Meeting 1: participants 1 (chair), 2 and 3; participant 3 was
        // removed, and had a stamped copy. Item 1. Document 2 (named) had an
        // opinion, then was removed, and the next upload took id 2 (public).
        // Document 1 stays, with an opinion on it.
        let t0 = "2026-11-20T08:00:00Z";
        let script = [
            "INSERT INTO meetings (id, title, organisation, place, starts_at, status, created_at) VALUES (1, 'Họp', 'UBND', 'P1', '2026-11-20T08:00:00Z', 'open', '2026-11-20T07:00:00Z')",
            "INSERT INTO participants (id, meeting_id, name, position, role, member, voting, pin_hash, added_at) VALUES (1, 1, 'Chủ tọa', '', 'chair', 1, 1, 'x', '2026-11-20T07:00:00Z'), (2, 1, 'Đại biểu', '', 'delegate', 1, 1, 'x', '2026-11-20T07:00:00Z')",
            "INSERT INTO agenda_items (id, meeting_id, position, title, presenter, summary, status) VALUES (1, 1, 1, 'Mục 1', '', '', 'current')",
            "INSERT INTO documents (id, meeting_id, item_id, title, file_name, size, sha256, confidentiality, uploaded_at) VALUES (1, 1, 1, 'Tờ trình', 'a.pdf', 1, 'aa', 'public', '2026-11-20T07:10:00Z'), (2, 1, 1, 'Báo cáo công khai', 'c.pdf', 1, 'cc', 'public', '2026-11-20T09:00:00Z')",
            "INSERT INTO opinions (id, meeting_id, item_id, document_id, author_id, stance, text, remote, at) VALUES (1, 1, 1, 1, 2, 'agree', 'Đồng ý', 0, '2026-11-20T08:10:00Z'), (2, 1, 1, NULL, 2, 'comment', 'Nội dung mật', 0, '2026-11-20T08:20:00Z')",
            "INSERT INTO reader_copies (original, reader_kind, reader, made_at, sha256, size) VALUES ('bb', 'participant', 3, '2026-11-20T08:05:00Z', 'b3', 1), ('bb', 'participant', 2, '2026-11-20T08:05:00Z', 'b2', 1)",
        ];
        for sql in script {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        let events = [
            ("participant_added", r#"{"participant":{"id":1}}"#),
            ("participant_added", r#"{"participant":{"id":2}}"#),
            ("participant_added", r#"{"participant":{"id":3}}"#),
            ("item_added", r#"{"item":{"id":1}}"#),
            ("document_added", r#"{"document":{"id":1}}"#),
            ("document_added", r#"{"document":{"id":2}}"#),
            ("participant_removed", r#"{"participant":3}"#),
            ("opinion_added", r#"{"opinion":{"id":1,"document":1}}"#),
            ("opinion_added", r#"{"opinion":{"id":2,"document":2}}"#),
            ("document_removed", r#"{"document":2}"#),
            ("document_added", r#"{"document":{"id":2}}"#),
        ];
        for (seq, (kind, body)) in events.iter().enumerate() {
            sqlx::query("INSERT INTO events (meeting_id, seq, at, kind, body) VALUES (1, ?, ?, ?, ?)")
                .bind(seq as i64 + 1)
                .bind(t0)
                .bind(kind)
                .bind(body)
                .execute(&pool)
                .await
                .unwrap();
        }
        pool.close().await;

        let db = open(dir.path(), None).await.unwrap();
        let retired: Vec<(String, i64)> = sqlx::query_as("SELECT tbl, last FROM retired_ids ORDER BY tbl").fetch_all(&db).await.unwrap();
        assert_eq!(
            retired,
            [("agenda_items".to_string(), 1), ("documents".to_string(), 2), ("participants".to_string(), 3)],
            "the highest id the log named, per table"
        );
        let about: Vec<(i64, Option<i64>)> =
            sqlx::query_as("SELECT id, about_document FROM opinions ORDER BY id").fetch_all(&db).await.unwrap();
        assert_eq!(
            about,
            [(1, Some(1)), (2, Some(0))],
            "an opinion keeps its document; one on a document whose id a later upload took is on a removed document"
        );
        let copies: Vec<i64> = sqlx::query_scalar("SELECT reader FROM reader_copies ORDER BY reader").fetch_all(&db).await.unwrap();
        assert_eq!(copies, [2], "the removed participant's copy is gone, the present one's kept");
        // New rows are numbered above every id ever given.
        sqlx::query("DELETE FROM participants WHERE id = 2").execute(&db).await.unwrap();
        let next: i64 = sqlx::query_scalar("SELECT last FROM retired_ids WHERE tbl = 'participants'").fetch_one(&db).await.unwrap();
        assert_eq!(next, 3, "removing a lower id keeps the highest");
        db.close().await;
    }
}
