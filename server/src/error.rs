//! One error type for the whole server: a stable `code`, a human message and
//! an HTTP status. Internal causes are logged in the request's span and never
//! sent to the client.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gavel_shared::RuleError;
use gavel_shared::protocol::ProtocolError;
use serde::Serialize;

/// The result type of handlers and services.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, as a client sees it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("sign in first")]
    Unauthorized,
    #[error("wrong meeting, participant or PIN")]
    BadCredentials,
    #[error("this display code is wrong, expired or already used: ask the secretary for a new one")]
    BadDisplayCode,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("the upload is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the file is not a PDF document")]
    NotAPdf,
    /// A body sent without `Content-Type: application/json` where JSON is
    /// expected: the client sent the wrong kind of thing, not broken JSON.
    #[error("send this as JSON (Content-Type: application/json)")]
    NotJson,
    #[error("the server is shutting down")]
    Unavailable,
    #[error("the room's database is busy: try again in a moment")]
    Busy,
    #[error("too many wrong PINs: try again in {wait_secs} s")]
    TooManyAttempts { wait_secs: u64 },
    #[error("too many wrong PINs: sign-in is locked until the chair or the secretary unlocks it")]
    SignInLocked,
    #[error("this session was ended by the chair or the secretary")]
    Revoked,
    #[error("too many connections from this address")]
    TooManyConnections,
    #[error("too many commands at once: slow down")]
    RateLimited,
    #[error("{0}")]
    Unstampable(String),
    #[error("the room's disk is full: nothing was saved; free space on the room's machine, then try again")]
    DiskFull,
    /// A document's content is gone from the room's disk (deleted by hand,
    /// a disk restored without it): the same words on every transport.
    #[error("the room no longer has this document's file: the secretary must upload it again")]
    FileMissing,
    #[error("internal error")]
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Self {
        if e.chain().any(is_disk_full) {
            // Said to the client without the cause: the room's log keeps it.
            tracing::error!(error = ?e, "the room's disk is full");
            Error::DiskFull
        } else {
            Error::Internal(e)
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        if is_busy(&e) { Error::Busy } else { anyhow::Error::from(e).into() }
    }
}

/// The disk (or the account's quota) is full: the system's `ENOSPC`, or
/// SQLite's `SQLITE_FULL` (13), wherever in a chain of causes. Said as
/// such, not as "the server failed, try again", which would fail the same way.
pub fn is_disk_full(cause: &(dyn std::error::Error + 'static)) -> bool {
    if let Some(io) = cause.downcast_ref::<std::io::Error>() {
        return matches!(io.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded);
    }
    if let Some(sqlx::Error::Database(d)) = cause.downcast_ref::<sqlx::Error>() {
        return d.code().and_then(|c| c.parse::<i32>().ok()).is_some_and(|c| c & 0xff == 13);
    }
    false
}

/// What a failure of the database as a whole (a transaction that would
/// not begin or commit) says to each command it fails: busy, a full disk,
/// or `what` went wrong (the cause is logged by the caller).
pub fn database_failed(e: &sqlx::Error, what: &'static str) -> Error {
    if is_busy(e) {
        Error::Busy
    } else if is_disk_full(e) {
        Error::DiskFull
    } else {
        Error::Internal(anyhow::anyhow!(what))
    }
}

/// The database stayed locked past its busy timeout (another writer held
/// it), or no connection came free: worth trying again, not a fault.
pub fn is_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut => true,
        // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
        sqlx::Error::Database(d) => d.code().and_then(|c| c.parse::<i32>().ok()).is_some_and(|c| matches!(c & 0xff, 5 | 6)),
        _ => false,
    }
}

impl From<axum::extract::rejection::PathRejection> for Error {
    fn from(e: axum::extract::rejection::PathRejection) -> Self {
        Error::bad_request("invalid", e.body_text())
    }
}

impl From<axum::extract::rejection::QueryRejection> for Error {
    fn from(e: axum::extract::rejection::QueryRejection) -> Self {
        Error::bad_request("invalid", e.body_text())
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        anyhow::Error::from(e).into()
    }
}

impl Error {
    /// A 400 with a code and message.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Error::BadRequest { code, message: message.into() }
    }

    /// The stable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Unauthorized => "unauthorized",
            Error::BadCredentials => "bad_credentials",
            Error::BadDisplayCode => "bad_display_code",
            Error::Forbidden(_) => "forbidden",
            Error::NotFound(_) => "not_found",
            Error::Rule(e) => e.code(),
            Error::Protocol(e) => e.code(),
            Error::BadRequest { code, .. } => code,
            Error::TooLarge { .. } => "too_large",
            Error::NotAPdf => "not_a_pdf",
            Error::NotJson => "not_json",
            Error::Unavailable | Error::Busy => "unavailable",
            Error::TooManyAttempts { .. } => "too_many_attempts",
            Error::SignInLocked => "sign_in_locked",
            Error::Revoked => "revoked",
            Error::TooManyConnections => "too_many_connections",
            Error::RateLimited => "rate_limited",
            Error::Unstampable(_) => "unstampable",
            Error::DiskFull => "disk_full",
            Error::FileMissing => "file_missing",
            Error::Internal(_) => "internal",
        }
    }

    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Unauthorized | Error::BadCredentials | Error::BadDisplayCode | Error::Revoked => StatusCode::UNAUTHORIZED,
            Error::TooManyAttempts { .. } | Error::TooManyConnections | Error::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Error::SignInLocked => StatusCode::LOCKED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Rule(e) => match e {
                RuleError::Forbidden(_) => StatusCode::FORBIDDEN,
                RuleError::NotFound(_) => StatusCode::NOT_FOUND,
                RuleError::WrongStatus(_) | RuleError::Conflict(_) => StatusCode::CONFLICT,
                RuleError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                RuleError::UnknownCommand => StatusCode::BAD_REQUEST,
            },
            Error::Protocol(ProtocolError::TooLarge { .. }) | Error::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Protocol(_) | Error::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Error::NotAPdf | Error::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Unavailable | Error::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Error::Unstampable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::DiskFull => StatusCode::INSUFFICIENT_STORAGE,
            Error::FileMissing => StatusCode::GONE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message shown to the client (never an internal cause).
    pub fn public_message(&self) -> String {
        self.to_string()
    }
}

/// The JSON body of every error.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub code: &'static str,
    pub message: String,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if let Error::Internal(cause) = &self {
            tracing::error!(error = ?cause, "internal error");
        }
        let body = ErrorBody { code: self.code(), message: self.public_message() };
        (self.status(), axum::Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {

    /// The refusals the room words itself, beside those of the rules (which
    /// `gavel_shared::rules` checks): each has its Vietnamese, so the web UI
    /// never shows a Vietnamese user the English in brackets.
    #[test]
    fn the_rooms_own_refusals_are_said_in_vietnamese() {
        let sources = [include_str!("meeting.rs"), include_str!("auth.rs"), include_str!("http.rs")];
        let mut seen = 0;
        for source in sources {
            let code = &source[..source.find("\n#[cfg(test)]\nmod tests").unwrap_or(source.len())];
            let starts = ["RuleError::Invalid(", "RuleError::Conflict(", "bad_request(\"invalid\", ", "bad_request(\"conflict\", "];
            for start in starts {
                for (at, _) in code.match_indices(start) {
                    let after = &code[at + start.len()..];
                    let after = after.strip_prefix("format!(").unwrap_or(after);
                    // A message made elsewhere (`e.to_string()`) is not a literal.
                    let Some(after) = after.strip_prefix('"') else { continue };
                    let Some(end) = after.find('"') else { continue };
                    // A detail (`{username:?}`) stands in as a word.
                    let mut message = String::new();
                    let mut inside = false;
                    for c in after[..end].chars() {
                        match c {
                            '{' => inside = true,
                            '}' => {
                                inside = false;
                                message.push_str("thu_ky");
                            }
                            c if !inside => message.push(c),
                            _ => {}
                        }
                    }
                    seen += 1;
                    assert!(gavel_shared::rules::reason_vi(&message).is_some(), "no Vietnamese for {message:?}");
                }
            }
        }
        assert!(seen >= 4, "only {seen} refusals found: the scan is broken");
    }
    use super::*;

    /// Every code the room (or the tablet agent, to its browser) can send
    /// has words in the web UI: one without them is shown as "Không thực
    /// hiện được (code)", which tells a delegate nothing.
    #[test]
    fn every_code_the_room_sends_has_words_in_the_web_ui() {
        let i18n = include_str!("../../client/web/src/i18n.rs");
        let sources = [
            include_str!("error.rs"),
            include_str!("http.rs"),
            include_str!("meeting.rs"),
            include_str!("session.rs"),
            include_str!("ws.rs"),
            include_str!("quic.rs"),
            include_str!("auth.rs"),
            include_str!("documents.rs"),
            include_str!("../../shared/src/protocol.rs"),
            include_str!("../../shared/src/rules.rs"),
            include_str!("../../client/agent/src/agent.rs"),
        ];
        // Where a code is written: an arm of `code()`, a `bad_request`, a
        // session's `error(key, code, …)`, or a body's `code:` field.
        let patterns = [
            r#"=> "([a-z_]+)",?\n"#,
            r#"bad_request\(\s*"([a-z_]+)""#,
            r#"error\(\s*(?:None|Some\(\w+\)),\s*"([a-z_]+)""#,
            r#"code: "([a-z_]+)"(?:\.into\(\))?"#,
            r#""code": "([a-z_]+)""#,
        ];
        let mut codes = std::collections::BTreeSet::new();
        for source in sources {
            let code = &source[..source.find("\n#[cfg(test)]\nmod tests").unwrap_or(source.len())];
            for p in patterns {
                for c in regex::Regex::new(p).unwrap().captures_iter(code) {
                    codes.insert(c[1].to_string());
                }
            }
        }
        for needed in ["unauthorized", "not_json", "bad_key", "hello_first", "offline", "tablet_assigned", "message_too_large"] {
            assert!(codes.contains(needed), "the scan missed {needed}: it is broken ({codes:?})");
        }
        let missing: Vec<_> =
            codes.iter().filter(|c| !i18n.contains(&format!("(\"err.{c}\"")) && !i18n.contains(&format!("\"err.{c}\",\n"))).collect();
        assert!(missing.is_empty(), "no words in client/web/src/i18n.rs for {missing:?}");
    }

    #[test]
    fn the_wait_after_wrong_pins_is_said_in_vietnamese_with_its_seconds() {
        let e = Error::TooManyAttempts { wait_secs: 30 };
        let vi = gavel_shared::rules::reason_vi(&e.public_message());
        assert_eq!(vi.as_deref(), Some("Nhập sai mã PIN quá nhiều lần: hãy thử lại sau 30 giây."));
    }
}
