//! The tamper-evident event log: a hash chain per meeting, and its check.
//!
//! Each event row keeps `chain`, the lowercase hex SHA-256 of the previous
//! event's `chain` (32 zero bytes before the first) followed by the event's
//! stored JSON; the meeting row keeps the last `seq` and the head. The
//! minutes carry the head as the fingerprint of the log they were made
//! from. [`verify`] walks the chain (the server may be stopped) and names
//! the first event that was changed, removed or inserted.
//!
//! What this proves and what it does not: anyone who edits the database
//! without recomputing every later hash is caught; someone who recomputes
//! the whole chain is caught only against a head kept elsewhere (the
//! signed minutes' fingerprint, a head written down at the end of the
//! meeting). See `docs/security.md`.

use crate::store::Db;
use gavel_shared::model::MeetingId;
use sha2::{Digest, Sha256};
use sqlx::Row;

/// The head before any event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The chain after one more event.
pub fn next(prev: &str, body: &str) -> String {
    let mut prev_bytes = [0u8; 32];
    // A malformed previous head (tampering) still gives a defined, wrong hash.
    let _ = hex::decode_to_slice(prev, &mut prev_bytes);
    let mut h = Sha256::new();
    h.update(prev_bytes);
    h.update(body.as_bytes());
    hex::encode(h.finalize())
}

/// What the check found for one meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Every event is in place; the head matches the meeting's.
    Intact { events: u64, head: String },
    /// The row of this event was changed (its JSON or its hash).
    Changed { seq: u64 },
    /// This event is missing.
    Removed { seq: u64 },
    /// This event was added: it is not part of the recorded log.
    Inserted { seq: u64 },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Intact { events, head } => write!(f, "intact: {events} events, head {head}"),
            Finding::Changed { seq } => write!(f, "event {seq} was changed: its content does not match the chain"),
            Finding::Removed { seq } => write!(f, "event {seq} was removed"),
            Finding::Inserted { seq } => write!(f, "event {seq} was inserted: it is not in the recorded log"),
        }
    }
}

/// Walks one meeting's chain.
pub async fn verify_meeting(db: &Db, meeting: MeetingId) -> anyhow::Result<Finding> {
    let m = sqlx::query("SELECT head_seq, head FROM meetings WHERE id = ?").bind(meeting.0).fetch_optional(db).await?;
    let Some(m) = m else { anyhow::bail!("no meeting {meeting}") };
    let (head_seq, recorded_head) = (m.get::<i64, _>("head_seq") as u64, m.get::<String, _>("head"));
    let rows = sqlx::query("SELECT seq, body, chain FROM events WHERE meeting_id = ? ORDER BY seq").bind(meeting.0).fetch_all(db).await?;
    let mut head = GENESIS.to_string();
    let mut expected = 1u64;
    for r in &rows {
        let seq = r.get::<i64, _>("seq") as u64;
        if seq > head_seq {
            return Ok(Finding::Inserted { seq });
        }
        if seq != expected {
            return Ok(Finding::Removed { seq: expected });
        }
        let body: String = r.get("body");
        let claimed_seq = serde_json::from_str::<serde_json::Value>(&body).ok().and_then(|v| v["seq"].as_u64());
        head = next(&head, &body);
        if claimed_seq != Some(seq) || r.get::<Option<String>, _>("chain").as_deref() != Some(head.as_str()) {
            return Ok(Finding::Changed { seq });
        }
        expected += 1;
    }
    if expected <= head_seq {
        return Ok(Finding::Removed { seq: expected });
    }
    if head != recorded_head {
        // The rows agree with each other but not with the meeting's head:
        // the last event was rewritten together with its hash.
        return Ok(Finding::Changed { seq: head_seq });
    }
    Ok(Finding::Intact { events: head_seq, head })
}

/// Walks every meeting's chain (or one).
pub async fn verify(db: &Db, meeting: Option<MeetingId>) -> anyhow::Result<Vec<(MeetingId, Finding)>> {
    let ids: Vec<i64> = match meeting {
        Some(m) => vec![m.0],
        None => sqlx::query_scalar("SELECT id FROM meetings ORDER BY id").fetch_all(db).await?,
    };
    let mut out = vec![];
    for id in ids {
        out.push((MeetingId(id), verify_meeting(db, MeetingId(id)).await?));
    }
    Ok(out)
}

/// Chains the events written before the chain existed (once, at start-up).
pub async fn backfill(db: &Db) -> anyhow::Result<()> {
    let todo: Vec<i64> = sqlx::query_scalar("SELECT DISTINCT meeting_id FROM events WHERE chain IS NULL").fetch_all(db).await?;
    for id in todo {
        let mut tx = db.begin().await?;
        let rows = sqlx::query("SELECT seq, body FROM events WHERE meeting_id = ? ORDER BY seq").bind(id).fetch_all(&mut *tx).await?;
        let (mut head, mut last) = (GENESIS.to_string(), 0i64);
        for r in rows {
            let seq: i64 = r.get("seq");
            head = next(&head, &r.get::<String, _>("body"));
            sqlx::query("UPDATE events SET chain = ? WHERE meeting_id = ? AND seq = ?")
                .bind(&head)
                .bind(id)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
            last = seq;
        }
        sqlx::query("UPDATE meetings SET head = ?, head_seq = ? WHERE id = ?").bind(&head).bind(last).bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        tracing::info!(meeting = id, events = last, "chained the events written before the hash chain");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_is_the_minutes_fingerprint() {
        let bodies = [r#"{"seq":1}"#, r#"{"seq":2}"#];
        let head = bodies.iter().fold(GENESIS.to_string(), |h, b| next(&h, b));
        assert_eq!(head, crate::minutes::log_head(bodies));
        assert_ne!(next(GENESIS, "a"), next(GENESIS, "b"));
    }
}
