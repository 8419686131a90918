//! The HTTP API and the routes of the web UI.
//!
//! Every error is a JSON body `{code, message}` with the right status (see
//! [`crate::error`]); malformed JSON gets the same shape.

use crate::auth::{self, Auth, SessionFor};
use crate::error::{Error, Result};
use crate::meeting::{NewMeeting, Op, Outcome};
use crate::{AppState, documents, store, web, ws};
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use gavel_shared::model::*;
use gavel_shared::protocol::{Command, NewParticipant, PROTOCOL_VERSION};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The largest JSON body accepted outside uploads.
const MAX_JSON_BODY: usize = 2 * 1024 * 1024;

/// The whole application: API, `/ws`, and the web UI for every other path.
pub fn router(state: AppState) -> Router {
    let upload_limit = (state.config.max_upload as usize).saturating_add(1024 * 1024);
    Router::new()
        .route("/health", get(health))
        .route("/api/meetings", get(list_meetings).post(create_meeting))
        .route("/api/meetings/{id}/participants", get(participant_picker))
        .route("/api/meetings/{id}/state", get(meeting_state))
        .route("/api/meetings/{id}/events", get(meeting_events))
        .route("/api/meetings/{id}/commands", post(command))
        .route("/api/meetings/{id}/participants/import", post(import_participants))
        .route(
            "/api/meetings/{id}/items/{item}/documents",
            post(documents::upload).layer(DefaultBodyLimit::max(upload_limit)).layer(axum::middleware::map_response(close_after_refusal)),
        )
        .route("/api/meetings/{id}/documents/{doc}", get(documents::download))
        .route("/api/session", get(whoami).post(sign_in).delete(sign_out))
        .route("/api/staff/session", post(staff_sign_in))
        .route("/api/meetings/{id}/display-code", post(display_code))
        .route("/api/display/session", post(display_sign_in))
        .route("/api/meetings/{id}/minutes/export", get(minutes_export))
        .route("/api/meetings/{id}/minutes/files/{version}/{name}", get(minutes_file))
        .route("/api/signing-key", get(signing_key))
        .route("/api/room", get(room_info))
        .route("/api/meetings/{id}/participants/{p}/unlock", post(unlock_sign_in))
        .route("/api/meetings/{id}/participants/{p}/revoke", post(revoke_sessions))
        .route("/api/staff", get(list_staff).post(create_staff))
        .route("/ws", get(ws::handler))
        .route("/api/{*rest}", get(api_not_found).post(api_not_found))
        .method_not_allowed_fallback(method_not_allowed)
        // The API's answers carry a meeting's state, titles, minutes and
        // records: kept by no browser or proxy, unless the answer says
        // otherwise itself (a public document may be revalidated). Not the
        // web UI's files below, which are cached.
        .layer(tower_http::set_header::SetResponseHeaderLayer::if_not_present(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        ))
        // The web UI, compressed once when built (the wasm shrinks to about
        // a third); the API is left alone, so ranges on documents stay
        // byte-exact.
        .fallback(web::serve)
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// A JSON body whose rejection is our own error shape.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::BytesRejection(e)) => Err(body_refused(&e)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(Error::NotJson),
            Err(e) => Err(Error::bad_request("malformed_json", e.body_text())),
        }
    }
}

/// A body that could not be read: over the limit, or cut short (the
/// connection broke, or stalled past the body timeout). Only the first is
/// "too large": told so, a secretary whose Wi-Fi dropped would shrink a
/// file that was never the problem.
fn body_refused(e: &axum::extract::rejection::BytesRejection) -> Error {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        Error::TooLarge { limit: MAX_JSON_BODY as u64 }
    } else {
        Error::bad_request(
            "incomplete_body",
            "the request did not arrive whole (the connection broke or stalled): nothing was saved; send it again",
        )
    }
}

async fn api_not_found() -> Error {
    Error::NotFound("API route")
}

/// An upload refused (too large, not a PDF, a full disk) is answered before
/// its body is read to the end, and the connection is then closed: said in
/// the answer (`Connection: close`), so that no client sends its next
/// request on a connection the room has stopped reading.
async fn close_after_refusal(mut r: Response) -> Response {
    if r.status().is_client_error() || r.status().is_server_error() {
        r.headers_mut().insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
    }
    r
}

/// A method the address does not take: said as JSON, like any refusal
/// (axum's own answer has an empty body).
async fn method_not_allowed(method: axum::http::Method) -> Response {
    let body = crate::error::ErrorBody { code: "method_not_allowed", message: format!("this address does not take {method}") };
    (axum::http::StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response()
}

/// `Path`, with a malformed id answered `{code, message}` like every other
/// refusal (axum's own answer is plain text).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Error))]
pub struct ApiPath<T>(pub T);

/// `Query`, refused the same way.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Error))]
pub struct ApiQuery<T>(pub T);

/// The chair, the secretary, or staff: who may lift locks and revoke sessions.
fn may_manage(actor: &Actor, meeting: MeetingId) -> Result<()> {
    if actor.is_staff() || matches!(actor.role_in(meeting), Some(Role::Chair | Role::Secretary)) {
        Ok(())
    } else {
        Err(Error::Forbidden("only the chair or the secretary may do this"))
    }
}

/// `POST /api/meetings/{id}/participants/{p}/unlock`: lifts a sign-in lock
/// left by wrong PINs.
async fn unlock_sign_in(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiPath((id, p)): ApiPath<(i64, i64)>,
) -> Result<Json<serde_json::Value>> {
    may_manage(&actor, MeetingId(id))?;
    auth::unlock(&app, MeetingId(id), ParticipantId(p)).await?;
    tracing::info!(meeting = id, participant = p, by = ?actor, "sign-in unlocked");
    Ok(Json(json!({"status": "unlocked"})))
}

/// `POST /api/meetings/{id}/participants/{p}/revoke`: ends every session of
/// the participant ("this tablet was lost"); their connections close now.
async fn revoke_sessions(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiPath((id, p)): ApiPath<(i64, i64)>,
) -> Result<Json<serde_json::Value>> {
    may_manage(&actor, MeetingId(id))?;
    let n = auth::revoke(&app, MeetingId(id), ParticipantId(p)).await?;
    Ok(Json(json!({"status": "revoked", "sessions": n})))
}

/// `GET /api/room`: how a tablet joins (for the QR code on the secretary's
/// screen): the room's name, ports, certificate fingerprint, protocol
/// versions, and the addresses of this machine tablets may use; and
/// whether it takes state-secret documents. Only for
/// who prepares or chairs a meeting: the addresses can include networks
/// other than the room's (a second card on the office's network), which a
/// delegate's tablet has no need to learn.
async fn room_info(State(app): State<AppState>, Auth(actor): Auth) -> Result<Json<serde_json::Value>> {
    let prepares = match actor {
        Actor::Admin { .. } | Actor::Staff { .. } | Actor::System => true,
        Actor::Participant { role, .. } => matches!(role, Role::Secretary | Role::Chair),
        _ => false,
    };
    if !prepares {
        return Err(Error::Forbidden("how tablets join is shown to the secretary and the chair"));
    }
    let info = app.room.get().cloned().ok_or(Error::Unavailable)?;
    let bound = app.config.http.ip();
    let interfaces = if bound.is_unspecified() { if_addrs::get_if_addrs().unwrap_or_default() } else { vec![] };
    let addresses = join_addresses(bound, &interfaces, &app.config.mdns_interfaces);
    let mut v = serde_json::to_value(info).map_err(|e| Error::Internal(e.into()))?;
    v["addresses"] = json!(addresses);
    v["secret_documents"] = json!(app.config.allow_secret_documents);
    Ok(Json(v))
}

/// The addresses a tablet may join at: the one the server is bound to, or,
/// bound to all, the IPv4 address of each interface that is not loopback,
/// of those the room is announced on when `--mdns-interface` names them.
fn join_addresses(bound: std::net::IpAddr, interfaces: &[if_addrs::Interface], announced_on: &[String]) -> Vec<String> {
    if !bound.is_unspecified() {
        return vec![bound.to_string()];
    }
    interfaces
        .iter()
        .filter(|i| !i.is_loopback() && i.ip().is_ipv4())
        .filter(|i| announced_on.is_empty() || announced_on.contains(&i.name))
        .map(|i| i.ip().to_string())
        .collect()
}

async fn health(State(app): State<AppState>) -> Result<Json<serde_json::Value>> {
    sqlx::query("SELECT 1").execute(&app.db).await?;
    let loaded = app.meetings.loaded();
    let clients: usize = loaded.iter().map(|m| m.subscribers()).sum();
    Ok(Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "protocol": PROTOCOL_VERSION,
        "meetings_loaded": loaded.len(),
        "clients_connected": clients,
    })))
}

async fn list_meetings(State(app): State<AppState>) -> Result<Json<Vec<MeetingSummary>>> {
    Ok(Json(store::list_meetings(&app.db).await?))
}

fn require_staff(actor: &Actor) -> Result<()> {
    if actor.is_staff() { Ok(()) } else { Err(Error::Forbidden("only staff accounts may do this")) }
}

/// Creates a meeting; with an `Idempotency-Key`, once: the same request
/// sent again gets the meeting the first one made (200 instead of 201).
async fn create_meeting(
    State(app): State<AppState>,
    Auth(actor): Auth,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NewMeeting>,
) -> Result<Response> {
    require_staff(&actor)?;
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    let (handle, new) = app.meetings.create_once(actor, body, key).await?;
    let status = if new { axum::http::StatusCode::CREATED } else { axum::http::StatusCode::OK };
    Ok((status, Json(json!({ "id": handle.id }))).into_response())
}

/// One name in the sign-in picker.
#[derive(Serialize)]
struct PickerEntry {
    id: ParticipantId,
    name: String,
    position: String,
    role: Role,
}

async fn participant_picker(State(app): State<AppState>, ApiPath(id): ApiPath<i64>) -> Result<Json<Vec<PickerEntry>>> {
    let state = app.meetings.get(MeetingId(id)).await?.state().await;
    Ok(Json(
        state
            .participants_sorted()
            .into_iter()
            .map(|p| PickerEntry { id: p.id, name: p.name.clone(), position: p.position.clone(), role: p.role })
            .collect(),
    ))
}

fn require_member(actor: &Actor, meeting: MeetingId) -> Result<()> {
    actor.role_in(meeting).map(|_| ()).ok_or(Error::Forbidden("you are not a participant of this meeting"))
}

fn require_follower(actor: &Actor, meeting: MeetingId) -> Result<()> {
    if actor.can_follow(meeting) { Ok(()) } else { Err(Error::Forbidden("you are not a participant of this meeting")) }
}

async fn meeting_state(State(app): State<AppState>, Auth(actor): Auth, ApiPath(id): ApiPath<i64>) -> Result<Response> {
    let id = MeetingId(id);
    require_follower(&actor, id)?;
    let state = app.meetings.get(id).await?.state().await;
    Ok(Json(state.visible_to(&actor)).into_response())
}

/// How much of the event log (as stored) one `/events` answer carries, at most.
pub const EVENTS_PAGE_BYTES: usize = 4 << 20;

#[derive(Deserialize)]
struct EventsQuery {
    #[serde(default)]
    after: u64,
    #[serde(default)]
    limit: Option<u32>,
}

async fn meeting_events(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Response> {
    let id = MeetingId(id);
    require_follower(&actor, id)?;
    let state = app.meetings.get(id).await?.state().await;
    // A page: the reader asks again from the last event it was given.
    let events = store::events_page(&app.db, id, q.after, q.limit.unwrap_or(1000).min(5000), EVENTS_PAGE_BYTES).await?;
    // None past the state they are filtered against (one written and not
    // yet published would be filtered against the state before it): the
    // reader asks again from the last one and gets it then.
    let events: Vec<_> = events.iter().filter(|e| e.seq <= state.seq).map(|e| state.event_for(&actor, e)).collect();
    Ok(Json(events).into_response())
}

/// A command sent over HTTP.
#[derive(Deserialize)]
struct CommandBody {
    key: String,
    command: Command,
}

async fn command(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<CommandBody>,
) -> Result<Json<Outcome>> {
    let id = MeetingId(id);
    require_member(&actor, id)?;
    let handle = app.meetings.get(id).await?;
    Ok(Json(handle.execute(actor, &body.key, Op::Command(body.command)).await?))
}

/// The idempotency key of a request: the `Idempotency-Key` header, or a fresh one.
pub fn idempotency_key(headers: &HeaderMap) -> String {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(String::from)
        .unwrap_or_else(|| format!("http-{}", hex::encode(rand::random::<[u8; 12]>())))
}

async fn import_participants(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
    body: std::result::Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<Outcome>> {
    let id = MeetingId(id);
    require_member(&actor, id)?;
    // Over the limit: said with it, as JSON, like any refusal.
    let body = body.map_err(|e| body_refused(&e))?;
    let participants = parse_participants_csv(&csv_text(&body)?)?;
    let handle = app.meetings.get(id).await?;
    Ok(Json(handle.execute(actor, &idempotency_key(&headers), Op::Command(Command::AddParticipants { participants })).await?))
}

fn parse_bool(s: &str) -> Option<bool> {
    match gavel_shared::text::slug(s).as_str() {
        "" | "0" | "no" | "n" | "false" | "khong" | "k" => Some(false),
        "1" | "yes" | "y" | "true" | "co" | "x" => Some(true),
        _ => None,
    }
}

/// A CSV file's text: UTF-8 (with or without a byte-order mark); UTF-16
/// with its mark (Excel's "Unicode text"); or else Windows-1258, the code
/// page Excel uses for "CSV" on a Vietnamese Windows (its combining tone
/// marks are composed by the command's NFC). A UTF-8 file damaged in a few
/// places (its other accented letters read as UTF-8) is refused with the
/// line of the first damage, rather than read as Windows-1258 and every
/// name garbled.
pub fn csv_text(bytes: &[u8]) -> Result<String> {
    if let Some((encoding, _)) = encoding_rs::Encoding::for_bom(bytes)
        && encoding != encoding_rs::UTF_8
    {
        return Ok(encoding.decode_with_bom_removal(bytes).0.into_owned());
    }
    let damage = match std::str::from_utf8(bytes) {
        Ok(text) => return Ok(text.to_string()),
        Err(e) => e.valid_up_to(),
    };
    // Damaged UTF-8, not Windows-1258: accented letters that read as UTF-8
    // far outnumber the bytes that do not. (In Windows-1258 a tone mark
    // before a curly quote or a non-breaking space can read as UTF-8 too,
    // but nearly every other one does not.)
    let (good, bad) = bytes.utf8_chunks().fold((0usize, 0usize), |(g, b), c| {
        (g + c.valid().chars().filter(|ch| !ch.is_ascii()).count(), b + usize::from(!c.invalid().is_empty()))
    });
    if good >= 4 * bad {
        let line = bytes[..damage].iter().filter(|b| **b == b'\n').count() + 1;
        return Err(Error::bad_request("bad_csv", format!("line {line}: not valid UTF-8")));
    }
    Ok(encoding_rs::WINDOWS_1258.decode_without_bom_handling(bytes).0.into_owned())
}

/// Reads participants from CSV: a header row, then one participant a line.
/// Columns (English or Vietnamese, any order): name / họ và tên, position /
/// chức vụ, role / vai trò, member / thành viên, voting / biểu quyết.
pub fn parse_participants_csv(text: &str) -> Result<Vec<NewParticipant>> {
    let text = text.trim_start_matches('\u{feff}');
    // The header line's most used of tab (Excel's "Unicode text"), ";"
    // (Excel's CSV on a Vietnamese Windows) and ",".
    let head = text.lines().next().unwrap_or("");
    let delimiter = [b'\t', b';', b','].into_iter().max_by_key(|d| (head.matches(*d as char).count(), *d == b',')).unwrap_or(b',');
    let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| Error::bad_request("bad_csv", e.to_string()))?.clone();
    let column = |names: &[&str]| headers.iter().position(|h| names.contains(&gavel_shared::text::slug(h).as_str()));
    let name_col = column(&["name", "ho-va-ten", "ho-ten", "ten"])
        .ok_or_else(|| Error::bad_request("bad_csv", "the CSV needs a column 'name' (or 'Họ và tên')"))?;
    let position_col = column(&["position", "chuc-vu", "don-vi", "chuc-vu-don-vi"]);
    let role_col = column(&["role", "vai-tro"]);
    let member_col = column(&["member", "thanh-vien"]);
    let voting_col = column(&["voting", "bieu-quyet", "quyen-bieu-quyet"]);
    let mut out = Vec::new();
    for record in reader.records() {
        // The line in the file, as a spreadsheet numbers it: blank lines
        // are skipped and a quoted cell may hold several (Alt+Enter in
        // Excel), so the record's count is not it.
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            Error::bad_request("bad_csv", format!("line {line}: {e}"))
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let get = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").to_string();
        let name = get(Some(name_col));
        if name.trim().is_empty() {
            continue;
        }
        let role_text = get(role_col);
        let role = if role_text.is_empty() {
            Role::Delegate
        } else {
            Role::parse(&role_text).ok_or_else(|| Error::bad_request("bad_csv", format!("line {line}: unknown role {role_text:?}")))?
        };
        let flag = |c: Option<usize>, default: bool, what: &str| -> Result<bool> {
            let v = get(c);
            if c.is_none() || v.is_empty() {
                return Ok(default);
            }
            parse_bool(&v).ok_or_else(|| Error::bad_request("bad_csv", format!("line {line}: {what} must be yes or no, not {v:?}")))
        };
        let default_member = matches!(role, Role::Chair | Role::Delegate);
        let member = flag(member_col, default_member, "member")?;
        // Only members vote: a row saying "not a member" does not vote unless it says so (and is then refused).
        let voting = flag(voting_col, member, "voting")?;
        out.push(NewParticipant { name, position: get(position_col), role, member, voting });
    }
    if out.is_empty() {
        return Err(Error::bad_request("bad_csv", "the CSV has no participants"));
    }
    Ok(out)
}

#[derive(Deserialize)]
struct SignIn {
    meeting: MeetingId,
    participant: ParticipantId,
    pin: String,
    /// Native clients ask for the token in the body (browsers use the cookie).
    #[serde(default)]
    bearer: bool,
    /// Signing in from outside the room (to give written opinions): not
    /// marked present.
    #[serde(default)]
    remote: bool,
}

#[derive(Serialize)]
struct SessionInfo {
    actor: Actor,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

/// The session cookie: HttpOnly, SameSite=Lax, and Secure when the request
/// came over HTTPS (so the browser never sends it over plain HTTP again).
fn session_cookie(token: String, ttl: time::Duration, parts: &axum::http::request::Parts) -> Cookie<'static> {
    let secure = parts.extensions.get::<crate::https::Https>().is_some();
    Cookie::build((auth::COOKIE, token)).http_only(true).secure(secure).same_site(SameSite::Lax).path("/").max_age(ttl).build()
}

/// The client's address, when the transport knows it.
pub fn peer_of(extensions: &axum::http::Extensions) -> Option<std::net::SocketAddr> {
    extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0)
}

async fn sign_in(
    State(app): State<AppState>,
    jar: CookieJar,
    parts: axum::http::request::Parts,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<(CookieJar, Json<SessionInfo>)> {
    let from = peer_of(&parts.extensions).map(|a| a.ip());
    let (actor, token, name) = auth::participant_sign_in(&app, body.meeting, body.participant, &body.pin, body.remote, from).await?;
    let jar = jar.add(session_cookie(token.clone(), app.config.session_ttl, &parts));
    Ok((jar, Json(SessionInfo { actor, name, token: body.bearer.then_some(token) })))
}

#[derive(Deserialize)]
struct StaffSignIn {
    username: String,
    password: String,
    #[serde(default)]
    bearer: bool,
}

async fn staff_sign_in(
    State(app): State<AppState>,
    jar: CookieJar,
    parts: axum::http::request::Parts,
    ApiJson(body): ApiJson<StaffSignIn>,
) -> Result<(CookieJar, Json<SessionInfo>)> {
    let from = peer_of(&parts.extensions).map(|a| a.ip());
    let staff = auth::check_staff_limited(&app, &body.username, &body.password, from).await?;
    let token = auth::create_session(&app.db, SessionFor::Staff(staff), app.config.session_ttl).await?;
    let actor = auth::lookup(&app.db, &token).await?.ok_or(Error::Unauthorized)?;
    let name = name_of(&app, &actor).await?;
    let jar = jar.add(session_cookie(token.clone(), app.config.session_ttl, &parts));
    Ok((jar, Json(SessionInfo { actor, name, token: body.bearer.then_some(token) })))
}

async fn name_of(app: &AppState, actor: &Actor) -> Result<String> {
    auth::name_of(app, actor).await
}

async fn whoami(State(app): State<AppState>, Auth(actor): Auth) -> Result<Json<SessionInfo>> {
    Ok(Json(SessionInfo { name: name_of(&app, &actor).await?, actor, token: None }))
}

async fn sign_out(State(app): State<AppState>, jar: CookieJar, headers: HeaderMap) -> Result<(CookieJar, Json<serde_json::Value>)> {
    let (mut parts, _) = Request::new(()).into_parts();
    parts.headers = headers;
    if let Some(token) = auth::token_of(&parts) {
        auth::delete_session(&app.db, &token).await?;
    }
    Ok((jar.remove(Cookie::build(auth::COOKIE).path("/")), Json(json!({"status": "signed_out"}))))
}

/// `POST /api/meetings/{id}/display-code`: the chair or secretary makes a
/// one-time code for a room display (valid 10 minutes).
async fn display_code(State(app): State<AppState>, Auth(actor): Auth, ApiPath(id): ApiPath<i64>) -> Result<Json<serde_json::Value>> {
    let id = MeetingId(id);
    if !matches!(actor.role_in(id), Some(Role::Chair | Role::Secretary)) {
        return Err(Error::Forbidden("only the chair or the secretary may set up a display"));
    }
    app.meetings.get(id).await?;
    let code = auth::create_display_code(&app.db, id).await?;
    Ok(Json(json!({ "code": code, "expires_in": auth::DISPLAY_CODE_TTL.whole_seconds() })))
}

#[derive(Deserialize)]
struct DisplaySignIn {
    code: String,
}

/// `POST /api/display/session`: exchanges a display code (once) for a
/// display session in the cookie.
async fn display_sign_in(
    State(app): State<AppState>,
    jar: CookieJar,
    parts: axum::http::request::Parts,
    ApiJson(body): ApiJson<DisplaySignIn>,
) -> Result<(CookieJar, Json<SessionInfo>)> {
    let (meeting, token) = auth::redeem_display_code(&app.db, &body.code).await?;
    let actor = Actor::Display { meeting };
    let jar = jar.add(session_cookie(token, auth::DISPLAY_SESSION_TTL, &parts));
    Ok((jar, Json(SessionInfo { actor, name: name_of(&app, &actor).await?, token: None })))
}

#[derive(Deserialize)]
struct ExportQuery {
    format: String,
    #[serde(default)]
    lang: crate::minutes::Lang,
}

/// `GET /api/meetings/{id}/minutes/export?format=pdf|docx|csv|json&lang=vi|en`:
/// the minutes as they stand (marked as a draft until approved), for the
/// chair and the secretary.
async fn minutes_export(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response> {
    use crate::minutes as mdoc;
    let id = MeetingId(id);
    if !matches!(actor.role_in(id), Some(Role::Chair | Role::Secretary)) {
        return Err(Error::Forbidden("only the chair or the secretary may export draft minutes; signed ones are under /minutes/files"));
    }
    let state = app.meetings.get(id).await?.state().await;
    // The log as far as the state copied: a command committed in between
    // would give the body of one moment and the record (its fingerprint,
    // the close, the speeches) of the next.
    let mut events = crate::meeting::log_of(&app.db, id).await?;
    events.retain(|(_, e)| e.seq <= state.seq);
    let format = q.format.clone();
    // Only the format is the asker's to get wrong: a failure to render is
    // the room's, logged and said as such, never sent in its own words.
    if !["pdf", "docx", "csv", "json"].contains(&format.as_str()) {
        return Err(Error::bad_request("invalid", format!("unknown format {format:?}: pdf, docx, csv or json")));
    }
    let lang = q.lang;
    let (bytes, mime, ext) = tokio::task::spawn_blocking(move || -> anyhow::Result<(Vec<u8>, &'static str, &'static str)> {
        let record = mdoc::record_from(&events);
        Ok(match format.as_str() {
            "pdf" => (mdoc::pdf(&mdoc::assemble(&state, &record, lang))?, "application/pdf", "pdf"),
            "docx" => (
                mdoc::docx(&mdoc::assemble(&state, &record, lang))?,
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "docx",
            ),
            "csv" => (mdoc::polls_csv(&state, lang)?, "text/csv; charset=utf-8", "csv"),
            "json" => (mdoc::record_json(&state, &record, &events)?, "application/json", "json"),
            other => anyhow::bail!("unknown format {other:?}"),
        })
    })
    .await
    .map_err(|e| Error::Internal(e.into()))??;
    let name = format!("bien-ban-{id}-{}.{ext}", q.lang.code());
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, mime.to_string()),
            (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /api/meetings/{id}/minutes/files/{version}/{name}`: a signed export
/// or its `.sig`, for those who may read the meeting's members-only
/// documents (the minutes name them and reproduce the opinions written on
/// them): not for guests, observers or displays; the whole record
/// (`.json`: the unfiltered state and event log, with every written opinion
/// and every restricted document's title and readers) for the chair, the
/// secretary and staff only.
async fn minutes_file(
    State(app): State<AppState>,
    Auth(actor): Auth,
    ApiPath((id, version, name)): ApiPath<(i64, u32, String)>,
) -> Result<Response> {
    let id = MeetingId(id);
    require_member(&actor, id)?;
    let state = app.meetings.get(id).await?.state().await;
    let signed = state.minutes.signed.iter().find(|v| v.version == version).ok_or(Error::NotFound("signed minutes"))?;
    let base = name.strip_suffix(".sig").unwrap_or(&name);
    if !signed.files.iter().any(|f| f.name == base) {
        return Err(Error::NotFound("signed file"));
    }
    if !state.reads_members_documents(&actor) {
        return Err(Error::Forbidden("the signed minutes are for the meeting's members"));
    }
    if base.ends_with(".json") {
        may_manage(&actor, id)?;
    }
    let path = app.meetings.services().data_dir.join("minutes").join(id.to_string()).join(format!("v{version}")).join(&name);
    let bytes = tokio::fs::read(&path).await?;
    let mime = match name.rsplit('.').next() {
        Some("pdf") => "application/pdf",
        Some("docx") => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        Some("csv") => "text/csv; charset=utf-8",
        _ => "application/json",
    };
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, mime.to_string()),
            (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /api/signing-key`: the public key that checks signed minutes.
async fn signing_key(State(app): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({ "algorithm": "Ed25519", "public_key": app.meetings.services().signer.public_key_hex() }))
}

#[derive(Serialize, sqlx::FromRow)]
struct StaffRow {
    id: i64,
    username: String,
    display_name: String,
    is_admin: bool,
}

async fn list_staff(State(app): State<AppState>, Auth(actor): Auth) -> Result<Json<Vec<StaffRow>>> {
    if !matches!(actor, Actor::Admin { .. }) {
        return Err(Error::Forbidden("only the administrator may do this"));
    }
    Ok(Json(sqlx::query_as("SELECT id, username, display_name, is_admin FROM staff ORDER BY id").fetch_all(&app.db).await?))
}

#[derive(Deserialize)]
struct NewStaff {
    username: String,
    display_name: String,
    password: String,
    #[serde(default)]
    is_admin: bool,
}

async fn create_staff(State(app): State<AppState>, Auth(actor): Auth, ApiJson(body): ApiJson<NewStaff>) -> Result<Response> {
    if !matches!(actor, Actor::Admin { .. }) {
        return Err(Error::Forbidden("only the administrator may do this"));
    }
    let id = auth::create_staff(&app.db, &body.username, &body.display_name, &body.password, body.is_admin).await?;
    Ok((axum::http::StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tablets_join_at_the_bound_address_or_the_announced_interfaces() {
        let bound: std::net::IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(join_addresses(bound, &[], &[]), vec!["10.1.2.3"]);
        let any: std::net::IpAddr = "0.0.0.0".parse().unwrap();
        let interfaces = if_addrs::get_if_addrs().unwrap();
        let all = join_addresses(any, &interfaces, &[]);
        assert!(all.iter().all(|a| a.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| !ip.is_loopback())), "{all:?}");
        assert_eq!(all.len(), interfaces.iter().filter(|i| !i.is_loopback() && i.ip().is_ipv4()).count());
        assert!(join_addresses(any, &interfaces, &["no-such-card0".into()]).is_empty(), "only the interfaces the room is announced on");
        for i in interfaces.iter().filter(|i| !i.is_loopback() && i.ip().is_ipv4()) {
            assert!(join_addresses(any, &interfaces, std::slice::from_ref(&i.name)).contains(&i.ip().to_string()));
        }
    }

    #[test]
    fn csv_import_reads_vietnamese_headers_and_defaults() {
        let csv = "\u{feff}Họ và tên;Chức vụ;Vai trò;Thành viên;Biểu quyết\n\
                   Nguyễn Văn An;Chủ tịch;Chủ trì;có;có\n\
                   Trần Thị Bình;Chánh văn phòng;Thư ký;không;không\n\
                   Lê Cường;;;;\n\
                   Vũ Khách;;Đại biểu;không;\n";
        let v = parse_participants_csv(csv).unwrap();
        assert_eq!(v.len(), 4);
        assert_eq!(v[0].role, Role::Chair);
        assert!(v[0].member && v[0].voting);
        assert_eq!(v[1].role, Role::Secretary);
        assert!(!v[1].member);
        assert_eq!(v[2].role, Role::Delegate);
        assert!(v[2].member && v[2].voting, "delegates count and vote unless told otherwise");
        assert!(!v[3].member && !v[3].voting, "a delegate who is not a member does not vote unless told so");
    }

    #[test]
    fn csv_errors_name_the_line() {
        let err = parse_participants_csv("name,role\nAn,king\n").unwrap_err();
        assert_eq!(err.code(), "bad_csv");
        assert!(err.to_string().contains("line 2"), "{err}");
        // Blank lines and a cell of two lines (Alt+Enter in Excel) count as the file's lines.
        let err = parse_participants_csv("name;position;role\n\nAn;\"Phó Chủ tịch\nUBND xã\";delegate\nBình;;king\n").unwrap_err();
        assert!(err.to_string().contains("line 5"), "{err}");
        assert_eq!(parse_participants_csv("role\nchair\n").unwrap_err().code(), "bad_csv");
        assert_eq!(parse_participants_csv("name\n").unwrap_err().code(), "bad_csv");
    }

    #[test]
    fn a_csv_file_is_read_in_the_encoding_it_was_saved_in() {
        let names = "Họ và tên\nNguyễn Văn An\nTrần Thị Bình\n";
        assert_eq!(csv_text(names.as_bytes()).unwrap(), names);
        // Excel's "Unicode text": UTF-16 with its mark, columns between tabs.
        let tabbed = "Họ và tên\tChức vụ\nNguyễn Văn An\tChủ tịch\n";
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(tabbed.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(csv_text(&utf16).unwrap(), tabbed);
        let people = parse_participants_csv(&csv_text(&utf16).unwrap()).unwrap();
        assert_eq!((people[0].name.as_str(), people[0].position.as_str()), ("Nguyễn Văn An", "Chủ tịch"));
        // Windows-1258 whose tone mark happens to read as UTF-8 before a
        // curly quote (0xDE 0x92: "Vũ’"): still Windows-1258.
        assert_eq!(csv_text(b"name\nVu\xde\x92s; Bi\xccnh; Ho\xd2ng\n").unwrap().matches('\u{303}').count(), 1);
        // Windows-1258: "Bình" as B, i, a combining grave (0xCC), n, h; the command's NFC composes it.
        assert_eq!(csv_text(b"name\nBi\xccnh\n").unwrap(), "name\nBi\u{300}nh\n");
        // UTF-8 damaged on line 3: said, not read as Windows-1258.
        let mut damaged = names.as_bytes().to_vec();
        let at = names.find("Trần").unwrap() + 1;
        damaged[at] = 0xFF;
        let err = csv_text(&damaged).unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
        let vi = gavel_shared::rules::reason_vi(&err.public_message());
        assert!(vi.as_deref().is_some_and(|v| v.starts_with("Dòng 3:")), "{vi:?}");
    }

    #[test]
    fn every_csv_error_is_said_in_vietnamese_with_its_line() {
        for (csv, said) in [
            ("Họ và tên;Vai trò\nAn;Ủy viên\nBình;Phó Giám đốc\n", "Dòng 3: không nhận ra vai trò \"Phó Giám đốc\""),
            ("Họ và tên,Biểu quyết\nAn,có lẽ\n", "Dòng 2: cột Biểu quyết phải ghi có hoặc không"),
            ("Chức vụ\nChủ tịch\n", "Tệp CSV cần có cột 'Họ và tên'"),
            ("Họ và tên\n", "Tệp CSV không có người tham dự nào."),
        ] {
            let err = parse_participants_csv(csv).unwrap_err();
            let vi = gavel_shared::rules::reason_vi(&err.public_message());
            assert!(vi.as_deref().is_some_and(|vi| vi.starts_with(said)), "{err} is said {vi:?}");
        }
    }
}
