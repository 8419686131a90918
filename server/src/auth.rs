//! Accounts, PINs and sessions.
//!
//! PINs and passwords are kept only as argon2id hashes, computed off the
//! async threads. A session is a random token; the store keeps its SHA-256.
//! Browsers carry it in the HttpOnly cookie [`COOKIE`] (which `/ws` reads
//! too), native clients in `Authorization: Bearer`.

use crate::AppState;
use crate::error::{Error, Result};
use crate::store::{Db, now, parse_ts, ts};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;
use gavel_shared::model::*;
use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::Row;
use time::Duration;

/// The session cookie's name.
pub const COOKIE: &str = "gavel_session";

/// Hashes a PIN or password with argon2id and a random salt.
pub fn hash_secret(secret: &str) -> Result<String> {
    let salt_bytes: [u8; 16] = rand::rng().random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| Error::Internal(anyhow::anyhow!("salt: {e}")))?;
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(anyhow::anyhow!("hash: {e}")))
}

/// Each argon2 run takes 19 MiB; running one per core at most keeps a burst
/// of sign-ins (500 tablets at the start of a meeting) from taking gigabytes,
/// and the memory allocator from keeping it afterwards.
fn hashing_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| tokio::sync::Semaphore::new(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)))
}

/// [`hash_secret`] on a blocking thread.
pub async fn hash_secret_blocking(secret: String) -> Result<String> {
    let _slot = hashing_slots().acquire().await.map_err(|e| Error::Internal(e.into()))?;
    tokio::task::spawn_blocking(move || hash_secret(&secret)).await.map_err(|e| Error::Internal(e.into()))?
}

/// Checks a PIN or password against its stored hash, on a blocking thread.
pub async fn verify_secret(secret: String, hash: String) -> bool {
    let Ok(_slot) = hashing_slots().acquire().await else { return false };
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|h| Argon2::default().verify_password(secret.as_bytes(), &h).is_ok())
    })
    .await
    .unwrap_or(false)
}

/// A fresh six-digit PIN.
pub fn generate_pin() -> String {
    format!("{:06}", rand::rng().random_range(0..1_000_000u32))
}

/// A fresh password: 16 characters without look-alikes (0/O, 1/l/I).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..16).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whom a new session is for.
#[derive(Debug, Clone, Copy)]
pub enum SessionFor {
    Staff(StaffId),
    Participant(ParticipantId),
}

/// Opens a session and returns its token (shown once, never stored).
pub async fn create_session(db: &Db, who: SessionFor, ttl: Duration) -> Result<String> {
    create_session_from(db, who, ttl, false).await
}

/// Starts a session; `remote` for a participant signing in from outside
/// the room (see [`participant_sign_in`]).
pub async fn create_session_from(db: &Db, who: SessionFor, ttl: Duration, remote: bool) -> Result<String> {
    let bytes: [u8; 32] = rand::rng().random();
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let (staff, participant) = match who {
        SessionFor::Staff(s) => (Some(s.0), None),
        SessionFor::Participant(p) => (None, Some(p.0)),
    };
    let created = now();
    sqlx::query("INSERT INTO sessions (token_hash, staff_id, participant_id, created_at, expires_at, remote) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(token_hash(&token))
        .bind(staff)
        .bind(participant)
        .bind(ts(created))
        .bind(ts(created + ttl))
        .bind(remote)
        .execute(db)
        .await?;
    Ok(token)
}

/// Ends a session.
pub async fn delete_session(db: &Db, token: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = ?").bind(token_hash(token)).execute(db).await?;
    sqlx::query("DELETE FROM display_sessions WHERE token_hash = ?").bind(token_hash(token)).execute(db).await?;
    Ok(())
}

/// Who holds this token, if it is a live session.
pub async fn lookup(db: &Db, token: &str) -> Result<Option<Actor>> {
    let row = sqlx::query(
        "SELECT s.expires_at, s.staff_id, st.is_admin, p.id AS participant_id, p.meeting_id, p.role \
         FROM sessions s LEFT JOIN staff st ON st.id = s.staff_id LEFT JOIN participants p ON p.id = s.participant_id \
         WHERE s.token_hash = ? AND s.revoked_at IS NULL",
    )
    .bind(token_hash(token))
    .fetch_optional(db)
    .await?;
    let Some(row) = row else { return lookup_display(db, token).await };
    if parse_ts(row.get("expires_at"))? < now() {
        return Ok(None);
    }
    if let Some(staff) = row.get::<Option<i64>, _>("staff_id") {
        let is_admin: bool = row.get::<Option<bool>, _>("is_admin").unwrap_or(false);
        let staff = StaffId(staff);
        return Ok(Some(if is_admin { Actor::Admin { staff } } else { Actor::Staff { staff } }));
    }
    let Some(pid) = row.get::<Option<i64>, _>("participant_id") else { return Ok(None) };
    let role: String = row.get("role");
    let role = Role::parse(&role).ok_or_else(|| Error::Internal(anyhow::anyhow!("bad role {role:?}")))?;
    Ok(Some(Actor::Participant { meeting: MeetingId(row.get("meeting_id")), participant: ParticipantId(pid), role }))
}

/// How long a display code may wait to be used.
pub const DISPLAY_CODE_TTL: Duration = Duration::minutes(10);
/// How long a room display stays signed in.
pub const DISPLAY_SESSION_TTL: Duration = Duration::hours(24);

/// A one-time code for a room display (8 letters and digits, easy to type);
/// only its hash is stored.
pub async fn create_display_code(db: &Db, meeting: MeetingId) -> Result<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let code: String = {
        let mut rng = rand::rng();
        (0..8).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
    };
    sqlx::query("INSERT INTO display_codes (code_hash, meeting_id, expires_at) VALUES (?, ?, ?)")
        .bind(token_hash(&code))
        .bind(meeting.0)
        .bind(ts(now() + DISPLAY_CODE_TTL))
        .execute(db)
        .await?;
    Ok(code)
}

/// Spends a display code: returns the meeting and a new display session's
/// token. A code works once.
pub async fn redeem_display_code(db: &Db, code: &str) -> Result<(MeetingId, String)> {
    let code = code.trim().to_uppercase();
    // Spent and exchanged in one transaction: a session that could not be
    // written (a busy database, the room stopped) leaves the code usable.
    let mut tx = db.begin().await?;
    let row = sqlx::query("DELETE FROM display_codes WHERE code_hash = ? RETURNING meeting_id, expires_at")
        .bind(token_hash(&code))
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else { return Err(Error::BadDisplayCode) };
    if parse_ts(row.get("expires_at"))? < now() {
        tx.commit().await?; // an expired code goes, as it would anyway
        return Err(Error::BadDisplayCode);
    }
    let meeting = MeetingId(row.get("meeting_id"));
    let bytes: [u8; 32] = rand::rng().random();
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let created = now();
    sqlx::query("INSERT INTO display_sessions (token_hash, meeting_id, created_at, expires_at) VALUES (?, ?, ?, ?)")
        .bind(token_hash(&token))
        .bind(meeting.0)
        .bind(ts(created))
        .bind(ts(created + DISPLAY_SESSION_TTL))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((meeting, token))
}

async fn lookup_display(db: &Db, token: &str) -> Result<Option<Actor>> {
    let row = sqlx::query("SELECT meeting_id, expires_at FROM display_sessions WHERE token_hash = ?")
        .bind(token_hash(token))
        .fetch_optional(db)
        .await?;
    let Some(row) = row else { return Ok(None) };
    if parse_ts(row.get("expires_at"))? < now() {
        return Ok(None);
    }
    Ok(Some(Actor::Display { meeting: MeetingId(row.get("meeting_id")) }))
}

/// The session token a request carries: `Authorization: Bearer`, else the cookie.
pub fn token_of(parts: &Parts) -> Option<String> {
    token_in(&parts.headers)
}

/// The session token a request's headers carry (bearer, else cookie).
pub fn token_in(headers: &axum::http::HeaderMap) -> Option<String> {
    if let Some(v) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
        && let Some(t) = v.strip_prefix("Bearer ")
    {
        return Some(t.trim().to_string());
    }
    let jar = axum_extra::extract::cookie::CookieJar::from_headers(headers);
    jar.get(COOKIE).map(|c| c.value().to_string())
}

/// A signed-in caller; rejects with 401 otherwise.
#[derive(Debug, Clone, Copy)]
pub struct Auth(pub Actor);

impl FromRequestParts<AppState> for Auth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token = token_of(parts).ok_or(Error::Unauthorized)?;
        lookup(&state.db, &token).await?.map(Auth).ok_or(Error::Unauthorized)
    }
}

/// Signs a participant in: checks the PIN, opens a session, and (unless
/// `remote`, and while the meeting is open) marks them present; a sign-in
/// of the meeting's day before it opens counts when it opens. Returns who
/// they are, the session token and their name.
pub async fn participant_sign_in(
    app: &AppState,
    meeting: MeetingId,
    participant: ParticipantId,
    pin: &str,
    remote: bool,
    from: Option<std::net::IpAddr>,
) -> Result<(Actor, String, String)> {
    check_pin_limited(app, meeting, participant, pin, from).await?;
    let token = create_session_from(&app.db, SessionFor::Participant(participant), app.config.session_ttl, remote).await?;
    let actor = lookup(&app.db, &token).await?.ok_or(Error::Unauthorized)?;
    tracing::info!(%meeting, %participant, remote, "participant signed in");
    if !remote {
        let key = format!("present-{participant}-{}", hex::encode(rand::random::<[u8; 8]>()));
        app.meetings.get(meeting).await?.execute(actor, &key, crate::meeting::Op::MarkPresent).await?;
    }
    let name = name_of(app, &actor).await?;
    Ok((actor, token, name))
}

/// The display name of whoever an actor is.
pub async fn name_of(app: &AppState, actor: &Actor) -> Result<String> {
    Ok(match actor {
        Actor::Admin { staff } | Actor::Staff { staff } => {
            sqlx::query_scalar("SELECT display_name FROM staff WHERE id = ?").bind(staff.0).fetch_one(&app.db).await?
        }
        Actor::Participant { participant, .. } => {
            sqlx::query_scalar("SELECT name FROM participants WHERE id = ?").bind(participant.0).fetch_one(&app.db).await?
        }
        Actor::System => "Gavel".into(),
        Actor::Display { .. } => "Màn hình phòng họp".into(),
    })
}

/// Makes sure the administrator account exists. Returns the password when it
/// was generated here (to be printed once); a given password replaces the
/// stored one.
pub async fn ensure_admin(db: &Db, given: Option<&str>) -> Result<Option<String>> {
    let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM staff WHERE is_admin ORDER BY id LIMIT 1").fetch_optional(db).await?;
    match (existing, given) {
        (Some(id), Some(pw)) => {
            let hash = hash_secret_blocking(gavel_shared::text::nfc(pw)).await?;
            sqlx::query("UPDATE staff SET password_hash = ? WHERE id = ?").bind(hash).bind(id).execute(db).await?;
            Ok(None)
        }
        (Some(_), None) => Ok(None),
        (None, given) => {
            let generated = given.is_none();
            let pw = given.map(String::from).unwrap_or_else(generate_password);
            let hash = hash_secret_blocking(gavel_shared::text::nfc(&pw)).await?;
            sqlx::query("INSERT INTO staff (username, display_name, is_admin, password_hash, created_at) VALUES ('admin', 'Quản trị viên', TRUE, ?, ?)")
                .bind(hash)
                .bind(ts(now()))
                .execute(db)
                .await?;
            Ok(generated.then_some(pw))
        }
    }
}

/// Removes the administrator account [`ensure_admin`] just made with a
/// generated password, when the server failed to start before printing it.
pub async fn forget_generated_admin(db: &Db) -> Result<()> {
    sqlx::query(
        "DELETE FROM staff WHERE is_admin AND username = 'admin' AND NOT EXISTS (SELECT 1 FROM sessions WHERE staff_id = staff.id)",
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Creates a staff account (a secretary, or another administrator).
pub async fn create_staff(db: &Db, username: &str, display_name: &str, password: &str, is_admin: bool) -> Result<StaffId> {
    let username = gavel_shared::text::clean(username).to_lowercase();
    if username.is_empty() || username.len() > 64 || username.chars().any(|c| c.is_whitespace()) {
        return Err(Error::bad_request("invalid", "the user name must be 1 to 64 characters without spaces"));
    }
    if password.chars().count() < 8 {
        return Err(Error::bad_request("weak_password", "the password must have at least 8 characters"));
    }
    let hash = hash_secret_blocking(gavel_shared::text::nfc(password)).await?;
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO staff (username, display_name, is_admin, password_hash, created_at) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (username) DO NOTHING RETURNING id",
    )
    .bind(&username)
    .bind(gavel_shared::text::clean(display_name))
    .bind(is_admin)
    .bind(hash)
    .bind(ts(now()))
    .fetch_optional(db)
    .await?;
    id.map(StaffId).ok_or_else(|| Error::bad_request("conflict", format!("the user name {username:?} is taken")))
}

/// Checks a staff member's user name and password.
pub async fn check_staff(db: &Db, username: &str, password: &str) -> Result<StaffId> {
    let row = sqlx::query("SELECT id, password_hash FROM staff WHERE username = ?")
        .bind(gavel_shared::text::clean(username).to_lowercase())
        .fetch_optional(db)
        .await?;
    // Unknown users cost the same time as wrong passwords.
    let (id, hash) = match row {
        Some(r) => (Some(r.get::<i64, _>("id")), r.get::<String, _>("password_hash")),
        None => (None, DUMMY_HASH.to_string()),
    };
    // Kept in NFC; a password stored before that, typed with combining
    // marks, is still checked as it was typed.
    let nfc = gavel_shared::text::nfc(password);
    let ok = verify_secret(nfc.clone(), hash.clone()).await || (nfc != password && verify_secret(password.to_string(), hash).await);
    match (ok, id) {
        (true, Some(id)) => Ok(StaffId(id)),
        _ => Err(Error::BadCredentials),
    }
}

/// [`check_staff`] within the sign-in limits: one check at a time per
/// address, and an address that sent too many wrong passwords is refused
/// before any hashing (each check is an argon2 run of 19 MiB on one of
/// the room's few hashing slots, which the tablets' PIN sign-ins share).
pub async fn check_staff_limited(app: &AppState, username: &str, password: &str, from: Option<std::net::IpAddr>) -> Result<StaffId> {
    let _turn = match from {
        Some(ip) => Some(app.throttle.one_at_a_time_from(ip).await),
        None => None,
    };
    if let Some(d) = from.and_then(|ip| app.throttle.address_wait(ip)) {
        return Err(Error::TooManyAttempts { wait_secs: d.as_secs().max(1) });
    }
    let checked = check_staff(&app.db, username, password).await;
    if matches!(checked, Err(Error::BadCredentials)) {
        app.throttle.failed(from, None);
        tracing::info!(?from, "wrong staff password");
    }
    checked
}

/// Checks a participant's PIN for a meeting.
/// [`check_pin`] within the sign-in limits ([`crate::throttle`]): an
/// address or a participant that guessed too often is refused before the
/// PIN is even checked, the right PIN included.
pub async fn check_pin_limited(
    app: &AppState,
    meeting: MeetingId,
    participant: ParticipantId,
    pin: &str,
    from: Option<std::net::IpAddr>,
) -> Result<()> {
    let wait = |d: std::time::Duration| Error::TooManyAttempts { wait_secs: d.as_secs().max(1) };
    // Read, check and count as one step per participant: parallel guesses
    // all passed the checks before any was counted, and were counted as one.
    let _turn = app.throttle.one_at_a_time(participant).await;
    if let Some(d) = from.and_then(|ip| app.throttle.address_wait(ip)) {
        return Err(wait(d));
    }
    let row = sqlx::query("SELECT pin_failures, pin_locked FROM participants WHERE id = ? AND meeting_id = ?")
        .bind(participant.0)
        .bind(meeting.0)
        .fetch_optional(&app.db)
        .await?;
    let known = row.as_ref().map(|r| (r.get::<i64, _>("pin_failures") as u32, r.get::<bool, _>("pin_locked")));
    if let Some((_, true)) = known {
        return Err(Error::SignInLocked);
    }
    // A wait counts only while the wrong PINs that caused it still stand (a
    // new PIN or an unlock sets them back to 0).
    let counting = known.is_some_and(|(failures, _)| failures >= app.throttle.limits().free_attempts);
    if let Some(d) = counting.then(|| app.throttle.participant_wait(participant)).flatten() {
        return Err(wait(d));
    }
    match check_pin(&app.db, meeting, participant, pin).await {
        Ok(()) => {
            if known.is_some_and(|(failures, _)| failures > 0) {
                sqlx::query("UPDATE participants SET pin_failures = 0 WHERE id = ?").bind(participant.0).execute(&app.db).await?;
            }
            app.throttle.clear(participant);
            Ok(())
        }
        Err(Error::BadCredentials) => {
            let failures = known.map(|(f, _)| f + 1);
            if let Some(f) = failures {
                let lock = f >= app.throttle.limits().lock_after;
                sqlx::query("UPDATE participants SET pin_failures = ?, pin_locked = ? WHERE id = ?")
                    .bind(f as i64)
                    .bind(lock)
                    .bind(participant.0)
                    .execute(&app.db)
                    .await?;
                if lock {
                    tracing::warn!(%meeting, %participant, failures = f, "sign-in locked after wrong PINs");
                }
            }
            app.throttle.failed(from, failures.map(|f| (participant, f)));
            tracing::info!(%meeting, %participant, ?from, "wrong PIN");
            Err(Error::BadCredentials)
        }
        Err(e) => Err(e),
    }
}

/// Lifts a participant's sign-in lock and wait.
pub async fn unlock(app: &AppState, meeting: MeetingId, participant: ParticipantId) -> Result<()> {
    let done = sqlx::query("UPDATE participants SET pin_failures = 0, pin_locked = FALSE WHERE id = ? AND meeting_id = ?")
        .bind(participant.0)
        .bind(meeting.0)
        .execute(&app.db)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("participant"));
    }
    app.throttle.clear(participant);
    Ok(())
}

/// Ends every session of a participant ("this tablet was lost"); returns
/// how many. The rows stay, marked, so a tablet learns it was revoked.
pub async fn revoke(app: &AppState, meeting: MeetingId, participant: ParticipantId) -> Result<u64> {
    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM participants WHERE id = ? AND meeting_id = ?")
        .bind(participant.0)
        .bind(meeting.0)
        .fetch_optional(&app.db)
        .await?;
    exists.ok_or(Error::NotFound("participant"))?;
    let done = sqlx::query("UPDATE sessions SET revoked_at = ? WHERE participant_id = ? AND revoked_at IS NULL")
        .bind(crate::store::ts(now()))
        .bind(participant.0)
        .execute(&app.db)
        .await?;
    let _ = app.revoked.send(participant);
    tracing::warn!(%meeting, %participant, sessions = done.rows_affected(), "sessions revoked");
    Ok(done.rows_affected())
}

/// Watches, while something long is sent to a participant (a document),
/// for their sessions to be revoked, so that it breaks off: a lost
/// tablet's download stops when the secretary revokes it, though nothing
/// in the meeting changed. Started before the request's session is looked
/// up (or looked up again), so no revocation falls between the two.
pub struct RevocationWatch {
    revocations: tokio::sync::broadcast::Receiver<ParticipantId>,
    /// Theirs was seen, or more than are kept (any could have been).
    revoked: bool,
}

impl RevocationWatch {
    pub fn start(app: &AppState) -> RevocationWatch {
        RevocationWatch { revocations: app.revoked.subscribe(), revoked: false }
    }

    /// True once `actor`'s sessions were revoked since the watch started (a
    /// staff account's are not revoked so).
    pub fn revoked(&mut self, actor: &Actor) -> bool {
        use tokio::sync::broadcast::error::TryRecvError;
        let Some(who) = actor.participant() else { return false };
        loop {
            match self.revocations.try_recv() {
                Ok(p) => self.revoked |= p == who,
                // More revocations than are kept: any could be theirs, and
                // a tablet still signed in asks again.
                Err(TryRecvError::Lagged(_)) => self.revoked = true,
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        self.revoked
    }
}

/// True when this token belonged to a session that was revoked.
pub async fn is_revoked(db: &Db, token: &str) -> Result<bool> {
    let hash = token_hash(token);
    let at: Option<Option<String>> =
        sqlx::query_scalar("SELECT revoked_at FROM sessions WHERE token_hash = ?").bind(&hash).fetch_optional(db).await?;
    if matches!(at, Some(Some(_))) {
        return Ok(true);
    }
    // The session of a participant since removed from the meeting.
    let ended: Option<i64> = sqlx::query_scalar("SELECT 1 FROM ended_sessions WHERE token_hash = ?").bind(&hash).fetch_optional(db).await?;
    Ok(ended.is_some())
}

pub async fn check_pin(db: &Db, meeting: MeetingId, participant: ParticipantId, pin: &str) -> Result<()> {
    let hash: Option<String> = sqlx::query_scalar("SELECT pin_hash FROM participants WHERE id = ? AND meeting_id = ?")
        .bind(participant.0)
        .bind(meeting.0)
        .fetch_optional(db)
        .await?;
    let known = hash.is_some();
    let ok = verify_secret(pin.trim().to_string(), hash.unwrap_or_else(|| DUMMY_HASH.to_string())).await;
    if ok && known { Ok(()) } else { Err(Error::BadCredentials) }
}

/// A valid argon2 hash of nothing anyone knows, to spend the same time on
/// unknown accounts as on known ones.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2w3eq1Do4S9uRZqVZKMJ/D9LJ3hHvtJTQe7H7/cOFTs";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_per_salt() {
        let a = hash_secret("123456").unwrap();
        let b = hash_secret("123456").unwrap();
        assert_ne!(a, b);
        let h = PasswordHash::new(&a).unwrap();
        assert!(Argon2::default().verify_password(b"123456", &h).is_ok());
        assert!(Argon2::default().verify_password(b"654321", &h).is_err());
    }

    #[test]
    fn pins_are_six_digits_and_passwords_sixteen_characters() {
        for _ in 0..100 {
            let pin = generate_pin();
            assert_eq!(pin.len(), 6);
            assert!(pin.chars().all(|c| c.is_ascii_digit()));
        }
        assert_eq!(generate_password().len(), 16);
    }

    #[test]
    fn the_dummy_hash_parses() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
