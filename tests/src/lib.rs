//! # gavel-tests
//!
//! Helpers for the end-to-end tests in `tests/tests/`: start the real server
//! (in-process on `127.0.0.1:0` with a temporary data directory, or the real
//! binary), then talk to it the way clients do, over HTTP and WebSocket.

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use gavel_shared::model::*;
use gavel_shared::protocol::{self, ClientMessage, Command, CommandResult, Event, NewParticipant, ServerMessage};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The administrator password the test servers start with.
pub const ADMIN_PASSWORD: &str = "test-admin-password";

/// How long a test waits for any single answer before failing.
pub const WAIT: Duration = Duration::from_secs(20);

/// A server running in this process; stops when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub quic_addr: SocketAddr,
    /// The HTTPS address, when the config asked for HTTPS.
    pub https_addr: Option<SocketAddr>,
    pub fingerprint: String,
    server: Option<gavel_server::Server>,
    dir: Option<tempfile::TempDir>,
    pub data_dir: PathBuf,
}

impl TestServer {
    /// Starts a server on a fresh temporary data directory.
    pub async fn start() -> anyhow::Result<TestServer> {
        let dir = tempfile::tempdir()?;
        let mut s = Self::start_in(dir.path(), |_| {}).await?;
        s.dir = Some(dir);
        Ok(s)
    }

    /// Starts a server on `data_dir` (kept), with `tweak` applied to its config.
    pub async fn start_in(data_dir: &Path, tweak: impl FnOnce(&mut gavel_server::Config)) -> anyhow::Result<TestServer> {
        let mut config = gavel_server::Config::for_tests(data_dir);
        config.admin_password = Some(ADMIN_PASSWORD.into());
        // Restricted PDFs are read by the server's binary, in a process of its own.
        config.pdf_worker = server_binary()?;
        tweak(&mut config);
        let server = gavel_server::start(config).await?;
        Ok(TestServer {
            addr: server.http_addr,
            quic_addr: server.quic_addr,
            https_addr: server.https_addr,
            fingerprint: server.fingerprint.clone(),
            server: Some(server),
            dir: None,
            data_dir: data_dir.to_path_buf(),
        })
    }

    /// Starts a server again on the data directory and the QUIC and HTTP
    /// addresses ([`TestServer::addrs`]) of one stopped before: the room
    /// coming back where its tablets left it.
    pub async fn start_again(data_dir: &Path, (quic, http): (SocketAddr, SocketAddr)) -> anyhow::Result<TestServer> {
        Self::start_in(data_dir, |c| {
            c.quic = quic;
            c.http = http;
        })
        .await
    }

    /// The QUIC and HTTP addresses, for [`TestServer::start_again`].
    pub fn addrs(&self) -> (SocketAddr, SocketAddr) {
        (self.quic_addr, self.addr)
    }

    /// `http://ADDR`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops the server and waits for it; the data directory is kept if it
    /// was given to [`TestServer::start_in`].
    pub async fn stop(mut self) -> anyhow::Result<Option<tempfile::TempDir>> {
        if let Some(s) = self.server.take() {
            s.shutdown().await?;
        }
        Ok(self.dir.take())
    }

    /// A new HTTP client (its own cookie jar) for this server.
    pub fn client(&self) -> Http {
        Http { base: self.url(""), inner: http_client().cookie_store(true).build().expect("client"), token: None }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = &self.server {
            let _ = s.stopper().send(true);
        }
    }
}

/// An HTTP client with a cookie jar (like a browser) and optionally a bearer
/// token (like a native client).
#[derive(Clone)]
pub struct Http {
    pub base: String,
    pub inner: reqwest::Client,
    pub token: Option<String>,
}

/// A JSON answer and its status.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// The error code of an error answer.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

impl Http {
    /// A client of the server at `base` (`http://ADDR`), without a session.
    pub fn for_base(base: &str) -> Http {
        Http { base: base.to_string(), inner: http_client().build().expect("client"), token: None }
    }

    /// The same client acting with a bearer token.
    pub fn with_token(mut self, token: &str) -> Http {
        self.token = Some(token.to_string());
        self
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.inner.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    async fn answer(r: reqwest::Response) -> anyhow::Result<Answer> {
        let status = r.status().as_u16();
        let text = r.text().await?;
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).with_context(|| format!("not JSON: {text}"))? };
        Ok(Answer { status, body })
    }

    /// GET, as JSON.
    pub async fn get(&self, path: &str) -> anyhow::Result<Answer> {
        Self::answer(self.req(reqwest::Method::GET, path).send().await?).await
    }

    /// POST JSON.
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Answer> {
        Self::answer(self.req(reqwest::Method::POST, path).json(body).send().await?).await
    }

    /// POST raw bytes with a content type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> anyhow::Result<Answer> {
        Self::answer(self.req(reqwest::Method::POST, path).header("content-type", content_type).body(body).send().await?).await
    }

    /// Uploads a document to an item.
    pub async fn upload(
        &self,
        meeting: MeetingId,
        item: ItemId,
        file_name: &str,
        bytes: Vec<u8>,
        fields: &[(&str, &str)],
    ) -> anyhow::Result<Answer> {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        form = form.part("file", reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_string()));
        let path = format!("/api/meetings/{meeting}/items/{item}/documents");
        Self::answer(self.req(reqwest::Method::POST, &path).multipart(form).send().await?).await
    }

    /// A raw GET (for downloads).
    pub fn raw_get(&self, path: &str) -> reqwest::RequestBuilder {
        self.req(reqwest::Method::GET, path)
    }

    /// A raw POST (a body that is not JSON).
    pub fn raw_post(&self, path: &str) -> reqwest::RequestBuilder {
        self.req(reqwest::Method::POST, path)
    }

    /// Signs in as the administrator (cookie session).
    pub async fn sign_in_admin(&mut self) -> anyhow::Result<()> {
        let a = self.post("/api/staff/session", &json!({"username": "admin", "password": ADMIN_PASSWORD, "bearer": true})).await?;
        if a.status != 200 {
            bail!("admin sign-in failed: {a:?}");
        }
        self.token = a.body["token"].as_str().map(String::from);
        Ok(())
    }

    /// Signs in as a participant; keeps the bearer token.
    pub async fn sign_in(&mut self, meeting: MeetingId, participant: ParticipantId, pin: &str) -> anyhow::Result<Answer> {
        let a = self.post("/api/session", &json!({"meeting": meeting, "participant": participant, "pin": pin, "bearer": true})).await?;
        if a.status == 200 {
            self.token = a.body["token"].as_str().map(String::from);
        }
        Ok(a)
    }

    /// Sends a command over HTTP.
    pub async fn command(&self, meeting: MeetingId, key: &str, cmd: &Command) -> anyhow::Result<Answer> {
        self.post(&format!("/api/meetings/{meeting}/commands"), &json!({"key": key, "command": cmd})).await
    }

    /// A WebSocket to the same server with this client's token, following `meeting`.
    pub async fn follow(&self, meeting: MeetingId, last_seq: Option<u64>) -> anyhow::Result<Ws> {
        let addr: SocketAddr = self.base.trim_start_matches("http://").parse()?;
        let mut ws = Ws::connect(addr, self.token.as_deref()).await?;
        ws.hello(meeting, last_seq).await?;
        Ok(ws)
    }

    /// A meeting's state as this client sees it.
    pub async fn state(&self, meeting: MeetingId) -> anyhow::Result<gavel_shared::MeetingState> {
        let a = self.get(&format!("/api/meetings/{meeting}/state")).await?;
        if a.status != 200 {
            bail!("state: {a:?}");
        }
        Ok(serde_json::from_value(a.body)?)
    }
}

/// A meeting set up for a test: a chair, a secretary, two delegates and an
/// observer, three agenda items, open with no current item.
pub struct Scenario {
    pub meeting: MeetingId,
    pub admin: Http,
    pub people: Vec<(ParticipantId, Role, String)>,
    pub items: Vec<ItemId>,
}

impl Scenario {
    /// Builds the scenario through the HTTP API, as a secretary would, and
    /// the chair opens the meeting.
    pub async fn build(server: &TestServer) -> anyhow::Result<Scenario> {
        let s = Self::prepare(server).await?;
        let mut chair = s.http_as(server, Role::Chair, 0).await?;
        let a = chair.command(s.meeting, "open", &Command::OpenMeeting).await?;
        if a.status != 200 {
            bail!("open: {a:?}");
        }
        chair.token = None;
        Ok(s)
    }

    /// The same meeting, prepared but not opened (a draft).
    pub async fn prepare(server: &TestServer) -> anyhow::Result<Scenario> {
        let mut admin = server.client();
        admin.sign_in_admin().await?;
        let a = admin
            .post("/api/meetings", &json!({"title": "Họp giao ban tuần", "organisation": "UBND phường Thử Nghiệm", "place": "Phòng 201", "starts_at": "2026-11-23T08:00:00+07:00"}))
            .await?;
        if a.status != 201 {
            bail!("create meeting: {a:?}");
        }
        let meeting = MeetingId(a.body["id"].as_i64().context("id")?);
        let new = |name: &str, role: Role, member: bool| NewParticipant {
            name: name.into(),
            position: String::new(),
            role,
            member,
            voting: member,
        };
        let participants = vec![
            new("Nguyễn Văn Chủ", Role::Chair, true),
            new("Trần Thị Thư", Role::Secretary, false),
            new("Lê Văn Một", Role::Delegate, true),
            new("Phạm Thị Hai", Role::Delegate, true),
            new("Hoàng Khách", Role::Observer, false),
        ];
        let a = admin.command(meeting, "people", &Command::AddParticipants { participants }).await?;
        let result: CommandResult = serde_json::from_value(a.body["result"].clone()).with_context(|| format!("{a:?}"))?;
        let CommandResult::Pins { pins } = result else { bail!("no pins: {a:?}") };
        let roles = [Role::Chair, Role::Secretary, Role::Delegate, Role::Delegate, Role::Observer];
        let people = pins.iter().zip(roles).map(|(p, r)| (p.participant, r, p.pin.clone().unwrap_or_default())).collect();
        let mut items = vec![];
        for (n, title) in ["Khai mạc", "Báo cáo công tác tuần", "Bế mạc"].iter().enumerate() {
            let cmd =
                Command::AddItem { title: title.to_string(), presenter: "Văn phòng".into(), summary: String::new(), position: None };
            let a = admin.command(meeting, &format!("item-{n}"), &cmd).await?;
            items.push(ItemId(a.body["result"]["id"].as_i64().with_context(|| format!("{a:?}"))?));
        }
        Ok(Scenario { meeting, admin, people, items })
    }

    /// The n-th participant with `role`: (id, PIN).
    pub fn person(&self, role: Role, n: usize) -> (ParticipantId, String) {
        let (id, _, pin) = self.people.iter().filter(|p| p.1 == role).nth(n).expect("such a participant").clone();
        (id, pin)
    }

    /// An HTTP client signed in as that participant.
    pub async fn http_as(&self, server: &TestServer, role: Role, n: usize) -> anyhow::Result<Http> {
        let (id, pin) = self.person(role, n);
        let mut c = server.client();
        let a = c.sign_in(self.meeting, id, &pin).await?;
        if a.status != 200 {
            bail!("sign-in: {a:?}");
        }
        Ok(c)
    }

    /// A WebSocket client signed in as that participant, following the meeting.
    pub async fn ws_as(&self, server: &TestServer, role: Role, n: usize, last_seq: Option<u64>) -> anyhow::Result<Ws> {
        let http = self.http_as(server, role, n).await?;
        let mut ws = Ws::connect(server.addr, http.token.as_deref()).await?;
        ws.hello(self.meeting, last_seq).await?;
        Ok(ws)
    }
}

/// A WebSocket client of `/ws`.
pub struct Ws {
    stream: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    /// Events received, in order.
    pub events: Vec<Event>,
    /// The snapshot received, if any.
    pub snapshot: Option<gavel_shared::MeetingState>,
    next_key: u32,
}

impl Ws {
    /// The meeting as this client's copy holds it, as a tablet keeps it:
    /// the snapshot, with every event received after it folded in.
    pub fn copy(&self) -> anyhow::Result<gavel_shared::MeetingState> {
        let mut copy = self.snapshot.clone().context("no snapshot received")?;
        let from = copy.seq;
        for e in self.events.iter().filter(|e| e.seq > from) {
            copy.apply(e)?;
        }
        Ok(copy)
    }

    /// Connects with a bearer token (or none).
    pub async fn connect(addr: SocketAddr, token: Option<&str>) -> anyhow::Result<Ws> {
        let mut req = format!("ws://{addr}/ws").into_client_request()?;
        if let Some(t) = token {
            req.headers_mut().insert("authorization", format!("Bearer {t}").parse()?);
        }
        let (stream, _) = tokio_tungstenite::connect_async(req).await?;
        Ok(Ws { stream, events: vec![], snapshot: None, next_key: 0 })
    }

    /// Sends a raw text frame.
    pub async fn send_text(&mut self, text: String) -> anyhow::Result<()> {
        self.stream.send(Message::Text(text.into())).await?;
        Ok(())
    }

    /// Sends a message.
    pub async fn send(&mut self, msg: &ClientMessage) -> anyhow::Result<()> {
        self.send_text(protocol::encode(msg)).await
    }

    /// The next server message (events and snapshots are also recorded).
    pub async fn recv(&mut self) -> anyhow::Result<ServerMessage> {
        loop {
            let frame = tokio::time::timeout(WAIT, self.stream.next()).await.context("timed out waiting for the server")?;
            match frame {
                None => bail!("connection closed"),
                Some(Err(e)) => bail!("websocket error: {e}"),
                Some(Ok(Message::Text(t))) => {
                    let msg = protocol::decode_server(t.as_str(), usize::MAX)?;
                    match &msg {
                        ServerMessage::Event { event } => self.events.push(event.clone()),
                        ServerMessage::Snapshot { state } => self.snapshot = Some(state.clone()),
                        _ => {}
                    }
                    return Ok(msg);
                }
                Some(Ok(Message::Close(_))) => bail!("connection closed by the server"),
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Reads until the server closes the socket: the code of its close
    /// frame, or `None` when it closed without one.
    pub async fn close_code(&mut self) -> anyhow::Result<Option<u16>> {
        loop {
            match tokio::time::timeout(WAIT, self.stream.next()).await.context("timed out waiting for the close")? {
                None | Some(Err(_)) => return Ok(None),
                Some(Ok(Message::Close(frame))) => return Ok(frame.map(|f| u16::from(f.code))),
                Some(Ok(_)) => continue,
            }
        }
    }

    /// The next message that is not an event or a snapshot (those are
    /// recorded): an answer to what this client sent.
    pub async fn reply(&mut self) -> anyhow::Result<ServerMessage> {
        loop {
            match self.recv().await? {
                ServerMessage::Event { .. } | ServerMessage::Snapshot { .. } | ServerMessage::RoomLink { .. } => continue,
                other => return Ok(other),
            }
        }
    }

    /// Waits for the next error the server sends unasked (a revoked
    /// session), anything else passing by; its code.
    pub async fn next_error(&mut self) -> anyhow::Result<String> {
        loop {
            if let ServerMessage::Error { code, .. } = self.recv().await? {
                return Ok(code);
            }
        }
    }

    /// Says hello and waits for the welcome.
    pub async fn hello(&mut self, meeting: MeetingId, last_seq: Option<u64>) -> anyhow::Result<()> {
        self.send(&ClientMessage::Hello { meeting, last_seq, version: protocol::PROTOCOL_VERSION }).await?;
        match self.recv().await? {
            ServerMessage::Welcome { .. } => Ok(()),
            other => bail!("expected welcome, got {other:?}"),
        }
    }

    /// Sends a command and returns its acknowledgement or error (other
    /// messages received meanwhile are recorded).
    pub async fn command(&mut self, cmd: Command) -> anyhow::Result<ServerMessage> {
        // Keys are per meeting: unique across every client of the test.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        self.next_key += 1;
        let key = format!("ws-{}-{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed), self.next_key);
        self.command_with_key(&key, cmd).await
    }

    /// Sends a command with a given key and waits for its answer.
    pub async fn command_with_key(&mut self, key: &str, cmd: Command) -> anyhow::Result<ServerMessage> {
        self.send(&ClientMessage::Command { key: key.to_string(), command: cmd }).await?;
        loop {
            match self.recv().await? {
                m @ ServerMessage::Ack { .. } => return Ok(m),
                ServerMessage::Error { key: Some(k), code, message } if k == key => {
                    return Ok(ServerMessage::Error { key: Some(k), code, message });
                }
                _ => continue,
            }
        }
    }

    /// Waits for an event matching `pred` (recorded ones included) and returns it.
    pub async fn wait_for(&mut self, pred: impl Fn(&Event) -> bool) -> anyhow::Result<Event> {
        loop {
            if let Some(e) = self.events.iter().find(|e| pred(e)) {
                return Ok(e.clone());
            }
            self.recv().await?;
        }
    }

    /// Waits until an event with `seq` or later has arrived.
    pub async fn wait_seq(&mut self, seq: u64) -> anyhow::Result<()> {
        while self.events.last().map(|e| e.seq).unwrap_or(0) < seq && self.snapshot.as_ref().map(|s| s.seq).unwrap_or(0) < seq {
            self.recv().await?;
        }
        Ok(())
    }

    /// Closes the connection.
    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}

/// A meeting with a chair and `voters` voting delegates, open, on its first
/// item, built over HTTP by the administrator.
pub struct Assembly {
    pub meeting: MeetingId,
    pub item: ItemId,
    pub admin: Http,
    pub chair: (ParticipantId, String),
    pub secretary: (ParticipantId, String),
    pub voters: Vec<(ParticipantId, String)>,
}

impl Assembly {
    /// Voter `n` made a non-member without a vote, in `role`, by the
    /// secretary (`secretary` signed in as them).
    pub async fn demote(&self, secretary: &Http, n: usize, role: Role) -> anyhow::Result<()> {
        let cmd = Command::UpdateParticipant {
            participant: self.voters[n].0,
            name: format!("Đại biểu {n:04}"),
            position: String::new(),
            role,
            member: false,
            voting: false,
        };
        let a = secretary.command(self.meeting, &format!("demote-{n}"), &cmd).await?;
        anyhow::ensure!(a.status == 200, "{a:?}");
        Ok(())
    }

    /// `gavel-agent` arguments joining as voter `n` with the code of their
    /// sign-in card, without mDNS, keeping the pack in `cache` (as the
    /// agent's system writes the path).
    pub fn join_args(&self, n: usize, quic: SocketAddr, fingerprint: &str, cache: &str) -> Vec<String> {
        let code = format!("{}-{}-{}", self.meeting, self.voters[n].0, self.voters[n].1);
        ["join", "--code", &code, "--server", &quic.to_string(), "--fingerprint", fingerprint, "--cache", cache].map(String::from).to_vec()
    }

    /// The document `sha256` as the agent of voter `n` keeps it in `cache`,
    /// opened with the voter's PIN.
    pub fn kept_document(&self, n: usize, cache: &Path, sha256: &str) -> anyhow::Result<Vec<u8>> {
        let vault = gavel_agent::vault::Vault::open_or_create(cache, &self.voters[n].1)?;
        gavel_agent::pack::Cache::open(cache, std::sync::Arc::new(vault))?.read_doc(sha256)
    }

    /// Uploads a document to the assembly's item as the admin; `fields` as
    /// for [`Http::upload`]. Fails unless it was accepted.
    pub async fn upload_document(&self, name: &str, pdf: Vec<u8>, fields: &[(&str, &str)]) -> anyhow::Result<Document> {
        let a = self.admin.upload(self.meeting, self.item, name, pdf, fields).await?;
        anyhow::ensure!(a.status == 201, "{a:?}");
        Ok(serde_json::from_value(a.body["document"].clone())?)
    }

    /// Builds it on the server at `base` (`http://ADDR`).
    pub async fn build(base: &str, voters: usize) -> anyhow::Result<Assembly> {
        let mut admin = Http::for_base(base);
        admin.sign_in_admin().await?;
        let a = admin.post("/api/meetings", &json!({"title": "Kỳ họp Hội đồng", "starts_at": "2026-11-23T08:00:00+07:00"})).await?;
        let meeting = MeetingId(a.body["id"].as_i64().with_context(|| format!("{a:?}"))?);
        let mut people = vec![
            NewParticipant { name: "Chủ Tọa".into(), position: String::new(), role: Role::Chair, member: true, voting: true },
            NewParticipant { name: "Thư Ký".into(), position: String::new(), role: Role::Secretary, member: false, voting: false },
        ];
        for i in 0..voters {
            people.push(NewParticipant {
                name: format!("Đại biểu {i:04}"),
                position: String::new(),
                role: Role::Delegate,
                member: true,
                voting: true,
            });
        }
        // In slices, so no single command waits on thousands of argon2 hashes.
        let mut pins = vec![];
        for (k, slice) in people.chunks(250).enumerate() {
            let a = admin.command(meeting, &format!("people-{k}"), &Command::AddParticipants { participants: slice.to_vec() }).await?;
            let CommandResult::Pins { pins: got } = serde_json::from_value(a.body["result"].clone()).with_context(|| format!("{a:?}"))?
            else {
                bail!("no pins")
            };
            pins.extend(got);
        }
        let mut pins = pins.into_iter().map(|p| (p.participant, p.pin.unwrap_or_default()));
        let chair = pins.next().context("chair")?;
        let secretary = pins.next().context("secretary")?;
        let voters: Vec<_> = pins.collect();
        let a = admin
            .command(
                meeting,
                "item",
                &Command::AddItem { title: "Nghị quyết".into(), presenter: String::new(), summary: String::new(), position: None },
            )
            .await?;
        let item = ItemId(a.body["result"]["id"].as_i64().context("item")?);
        let s = Assembly { meeting, item, admin, chair, secretary, voters };
        let chair = s.sign_in(&s.chair).await?;
        for (k, cmd) in [("assembly-open", Command::OpenMeeting), ("assembly-first-item", Command::NextItem { from: None })] {
            let a = chair.command(meeting, k, &cmd).await?;
            if a.status != 200 {
                bail!("{k}: {a:?}");
            }
        }
        Ok(s)
    }

    /// Signs every voter in (so they are present) and follows the meeting
    /// with each, until each has its snapshot; sixteen sign-ins at a time.
    pub async fn follow_all(self: &std::sync::Arc<Self>) -> anyhow::Result<Vec<(ParticipantId, Ws)>> {
        let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
        let clients = futures_util::future::join_all(self.voters.iter().cloned().map(|v| {
            let (s, limit) = (self.clone(), limit.clone());
            async move {
                let _permit = limit.acquire().await?;
                let http = s.sign_in(&v).await?;
                let mut ws = http.follow(s.meeting, None).await?;
                while ws.snapshot.is_none() {
                    ws.recv().await?;
                }
                anyhow::Ok((v.0, ws))
            }
        }))
        .await;
        clients.into_iter().collect()
    }

    /// Signs a participant in (which marks them present).
    pub async fn sign_in(&self, who: &(ParticipantId, String)) -> anyhow::Result<Http> {
        let mut c = Http::for_base(&self.admin.base);
        let a = c.sign_in(self.meeting, who.0, &who.1).await?;
        if a.status != 200 {
            bail!("sign-in of {}: {a:?}", who.0);
        }
        Ok(c)
    }

    /// Signs each of `who` in, all at once.
    pub async fn sign_in_each<'a>(&self, who: impl IntoIterator<Item = &'a (ParticipantId, String)>) -> anyhow::Result<Vec<Http>> {
        futures_util::future::join_all(who.into_iter().map(|w| self.sign_in(w))).await.into_iter().collect()
    }
}

/// The store of a data directory, opened from the test as another process
/// would (an auditor read-only; a backup tool or a second writer not).
pub async fn open_store(dir: &Path, read_only: bool) -> anyhow::Result<sqlx::SqlitePool> {
    let url = format!("sqlite://{}{}", dir.join("gavel.db").display(), if read_only { "?mode=ro" } else { "" });
    Ok(sqlx::SqlitePool::connect(&url).await?)
}

/// Every file under `dir`, at any depth.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The text of a PDF, as `pdftotext -layout` reads it (poppler-utils).
pub fn pdftotext(pdf: &Path) -> anyhow::Result<String> {
    run_pdftotext("-layout", pdf)
}

/// What `pdftotext MODE PDF -` prints.
fn run_pdftotext(mode: &str, pdf: &Path) -> anyhow::Result<String> {
    let out = std::process::Command::new("pdftotext")
        .arg(mode)
        .arg(pdf)
        .arg("-")
        .output()
        .map_err(|e| anyhow::anyhow!("pdftotext ({e}): install poppler-utils (scripts/test does)"))?;
    anyhow::ensure!(out.status.success(), "pdftotext {mode} failed on {}", pdf.display());
    Ok(String::from_utf8(out.stdout)?)
}

/// A word of a PDF where poppler places it (`pdftotext -bbox`): its page
/// (from 1), that page's size, and its box, in points from the page's
/// top-left corner.
#[derive(Debug, Clone)]
pub struct PdfWord {
    pub page: u32,
    pub page_width: f64,
    pub page_height: f64,
    pub text: String,
    pub x_min: f64,
    pub y_min: f64,
    pub x_max: f64,
    pub y_max: f64,
}

/// The words of the PDF at `pdf`, page by page, in poppler's reading order.
pub fn pdf_words(pdf: &Path) -> anyhow::Result<Vec<PdfWord>> {
    let html = run_pdftotext("-bbox", pdf)?;
    let attr = |tag: &str, name: &str| -> anyhow::Result<f64> {
        let at = tag.find(&format!("{name}=\"")).with_context(|| format!("no {name} in {tag}"))? + name.len() + 2;
        Ok(tag[at..].split('"').next().unwrap_or_default().parse()?)
    };
    let (mut page, mut size, mut words) = (0, (0.0, 0.0), vec![]);
    for part in html.split('<').skip(1) {
        let (tag, text) = part.split_once('>').unwrap_or((part, ""));
        if tag.starts_with("page ") {
            page += 1;
            size = (attr(tag, "width")?, attr(tag, "height")?);
        } else if tag.starts_with("word ") {
            words.push(PdfWord {
                page,
                page_width: size.0,
                page_height: size.1,
                text: text.trim().to_string(),
                x_min: attr(tag, "xMin")?,
                y_min: attr(tag, "yMin")?,
                x_max: attr(tag, "xMax")?,
                y_max: attr(tag, "yMax")?,
            });
        }
    }
    Ok(words)
}

/// A small but complete PDF (one page, Helvetica), for uploads.
pub fn tiny_pdf(text: &str) -> Vec<u8> {
    let content = format!("BT /F1 18 Tf 72 720 Td ({text}) Tj ET");
    write_pdf(vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_vec(),
        stream_object(content.as_bytes()),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
    ])
}

/// A PDF of `pages` A4 pages that draw something to look for: page `k`
/// (from 1) has a black square, 200 points wide, whose top-left corner is
/// `k` × 100 points below the top of the page and 50 from its left edge;
/// the rest is white.
pub fn drawn_pdf(pages: usize) -> Vec<u8> {
    write_pdf(drawn_objects(pages))
}

/// The objects of [`drawn_pdf`].
fn drawn_objects(pages: usize) -> Vec<Vec<u8>> {
    let kids = (0..pages).map(|p| format!("{} 0 R", 3 + 2 * p)).collect::<Vec<_>>().join(" ");
    let mut objects =
        vec![b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(), format!("<< /Type /Pages /Kids [{kids}] /Count {pages} >>").into_bytes()];
    for p in 0..pages {
        objects.push(format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {} 0 R >>", 4 + 2 * p).into_bytes());
        let top = 842 - 100 * (p + 1);
        objects.push(stream_object(format!("0 0 0 rg 50 {} 200 200 re f", top - 200).as_bytes()));
    }
    objects
}

/// [`drawn_pdf`] with `padding` bytes of noise after its pages, in an
/// object nothing refers to: a long document (a scanned annex) whose first
/// page needs only a small part of the file.
pub fn padded_pdf(pages: usize, padding: usize) -> Vec<u8> {
    let mut noise = Vec::with_capacity(padding + 8);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while noise.len() < padding {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noise.extend_from_slice(&x.to_le_bytes());
    }
    noise.truncate(padding);
    let mut objects = drawn_objects(pages);
    objects.push(stream_object(&noise));
    write_pdf(objects)
}

/// A one-page PDF whose page carries an entry of `depth` arrays, each
/// inside the next: a parser that recurses into them runs out of stack.
pub fn nested_pdf(depth: usize) -> Vec<u8> {
    let mut page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Nested ".to_vec();
    page.extend(std::iter::repeat_n(b'[', depth));
    page.extend(std::iter::repeat_n(b']', depth));
    page.extend_from_slice(b" >>");
    write_pdf(vec![b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(), b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(), page])
}

/// A one-page PDF whose page content, a few megabytes deflated, is
/// `inflated` bytes of blanks once read: a decompression bomb.
pub fn flate_bomb_pdf(inflated: usize) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    // One MiB of blanks deflated, ending on a full flush: a run of blocks
    // that refers to nothing before it, so copies of it follow each other.
    const RUN: usize = 1 << 20;
    let mut run = Vec::with_capacity(64 * 1024);
    let mut deflate = Compress::new(Compression::best(), false);
    deflate.compress_vec(&vec![b' '; RUN], &mut run, FlushCompress::Full).expect("deflate");
    assert_eq!(deflate.total_in(), RUN as u64, "the run was deflated whole");
    let mut deflated = run.repeat(inflated.div_ceil(RUN));
    // The last block: empty, final.
    deflated.extend_from_slice(&[0x03, 0x00]);
    let mut stream = format!("<< /Length {} /Filter /FlateDecode >>\nstream\n", deflated.len()).into_bytes();
    stream.extend_from_slice(&deflated);
    stream.extend_from_slice(b"\nendstream");
    write_pdf(vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>".to_vec(),
        stream,
    ])
}

/// A stream object's body: its length, then its bytes.
fn stream_object(content: &[u8]) -> Vec<u8> {
    let mut o = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
    o.extend_from_slice(content);
    o.extend_from_slice(b"\nendstream");
    o
}

/// A PDF of these objects (numbered from 1; the first is the catalog), with
/// its cross-reference table.
fn write_pdf(objects: Vec<Vec<u8>>) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = vec![];
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(o);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes());
    out
}

/// The `gavel-server` binary, built on first use with the same profile as
/// these tests; or the one `GAVEL_SERVER_BINARY` names, to measure an older
/// build against this one in the same session.
pub fn server_binary() -> anyhow::Result<PathBuf> {
    match std::env::var_os("GAVEL_SERVER_BINARY") {
        Some(path) => Ok(PathBuf::from(path)),
        None => workspace_binary("gavel-server"),
    }
}

/// A binary of the workspace (`gavel-server`, `gavel-agent`), built on first
/// use with the same profile as these tests.
pub fn workspace_binary(name: &str) -> anyhow::Result<PathBuf> {
    static BUILT: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            // target/<profile>/deps/<test> or target/<profile>/<bin>  →  target/<profile>/gavel-server
            let exe = std::env::current_exe().map_err(|e| e.to_string())?;
            let mut profile_dir = exe.parent().ok_or("no target dir")?.to_path_buf();
            let from_tests = profile_dir.file_name().is_some_and(|n| n == "deps");
            if from_tests {
                profile_dir = profile_dir.parent().ok_or("no target dir")?.to_path_buf();
            }
            let release = profile_dir.file_name().is_some_and(|n| n == "release");
            let mut cmd = cargo_command();
            // The same selection as scripts/test's build phase, so that the
            // features are the same and nothing is built twice.
            if from_tests {
                cmd.args(["build", "--workspace", "--exclude", "gavel-web", "--all-targets"]);
            } else {
                // A binary such as gavel-bench: the programs it runs, with the
                // same packages selected as `cargo run --bin gavel-bench`
                // (so the features agree and nothing is built twice).
                cmd.args(["build", "-p", "gavel-tests", "-p", "gavel-server", "-p", "gavel-agent", "--bins"]);
            }
            if release {
                cmd.arg("--release");
            }
            let status = cmd.status().map_err(|e| e.to_string())?;
            if !status.success() {
                return Err(format!("cargo build of gavel-server failed: {status}"));
            }
            Ok(profile_dir)
        })
        .clone()
        .map(|dir| dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX)))
        .map_err(|e| anyhow::anyhow!(e))
}

/// `cargo`, as the one running these tests, for a build of the workspace's
/// own from inside a test or the benchmark.
fn cargo_command() -> std::process::Command {
    let mut cmd = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // `cargo run` and `cargo test` give this process the variables they give
    // build scripts (CARGO_MANIFEST_DIR, CARGO_PKG_NAME…). Build scripts
    // such as ring's watch those, so handed on they made this build redo
    // ring, rustls, quinn and the binaries, and the next plain `cargo build`
    // undo it again.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let build_script_only = key.starts_with("CARGO_PKG_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_MANIFEST_LINKS",
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
            ]
            .contains(&key.as_ref());
        if build_script_only {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd
}

/// The tablet agent built for Windows (`x86_64-pc-windows-gnu`, the target
/// `scripts/setup --tests` adds), with the profile of these tests; built on
/// first use.
pub fn windows_agent_binary() -> anyhow::Result<PathBuf> {
    const TARGET: &str = "x86_64-pc-windows-gnu";
    static BUILT: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            // target/<profile>/deps/<test>  →  target/x86_64-pc-windows-gnu/<profile>/gavel-agent.exe
            let exe = std::env::current_exe().map_err(|e| e.to_string())?;
            let profile_dir = exe.parent().and_then(|d| d.parent()).ok_or("no target dir")?;
            let profile = profile_dir.file_name().ok_or("no profile")?.to_owned();
            let target_dir = profile_dir.parent().ok_or("no target dir")?;
            let mut cmd = cargo_command();
            cmd.args(["build", "-p", "gavel-agent", "--bin", "gavel-agent", "--target", TARGET]);
            if profile == "release" {
                cmd.arg("--release");
            }
            let status = cmd.status().map_err(|e| e.to_string())?;
            if !status.success() {
                return Err(format!(
                    "cargo build of gavel-agent for {TARGET} failed ({status}); `scripts/setup --tests` installs its target and MinGW"
                ));
            }
            Ok(target_dir.join(TARGET).join(profile).join("gavel-agent.exe"))
        })
        .clone()
        .map_err(|e| anyhow::anyhow!(e))
}

/// A running `gavel-server` process; killed when dropped.
pub struct ServerProcess {
    pub child: tokio::process::Child,
    /// The lines printed on stdout up to and including `listening …`.
    pub lines: Vec<String>,
    pub addr: SocketAddr,
    pub quic_addr: SocketAddr,
    pub fingerprint: String,
}

impl ServerProcess {
    /// Starts the binary with `args` (plus `--http 127.0.0.1:0 --no-mdns`)
    /// and waits for its start line.
    pub async fn start(data_dir: &Path, args: &[&str]) -> anyhow::Result<ServerProcess> {
        Self::start_logging(data_dir, args, None).await
    }

    /// Like [`ServerProcess::start`], with the server's log (stderr, at
    /// `RUST_LOG=debug`) written to `log`.
    pub async fn start_logging(data_dir: &Path, args: &[&str], log: Option<&Path>) -> anyhow::Result<ServerProcess> {
        Self::spawn(tokio::process::Command::new(server_binary()?), data_dir, args, log).await
    }

    /// Like [`ServerProcess::start`], with `data_dir` an empty file system
    /// of `bytes` of its own ([`on_small_disk`]): a room whose disk fills.
    pub async fn start_on_small_disk(data_dir: &Path, bytes: u64, args: &[&str]) -> anyhow::Result<ServerProcess> {
        Self::spawn(on_small_disk(data_dir, bytes, &server_binary()?).into(), data_dir, args, None).await
    }

    async fn spawn(
        mut command: tokio::process::Command,
        data_dir: &Path,
        args: &[&str],
        log: Option<&Path>,
    ) -> anyhow::Result<ServerProcess> {
        use tokio::io::AsyncBufReadExt;
        let stderr = match log {
            Some(path) => std::process::Stdio::from(std::fs::OpenOptions::new().create(true).append(true).open(path)?),
            None => std::process::Stdio::null(),
        };
        let mut child = command
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--http", "127.0.0.1:0", "--quic", "127.0.0.1:0", "--no-mdns"])
            .args(args)
            .env("GAVEL_ADMIN_PASSWORD", ADMIN_PASSWORD)
            // Tests run many clients from one address and send quickly
            // (a test of the limits passes the flags, which win over these).
            .env("GAVEL_MAX_CONNECTIONS_PER_ADDRESS", "100000")
            .env("GAVEL_MAX_HTTP_CONNECTIONS_PER_ADDRESS", "100000")
            .env("GAVEL_MAX_MESSAGES_PER_SECOND", "100000")
            .env("RUST_LOG", if log.is_some() { "debug" } else { "info" })
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut reader = tokio::io::BufReader::new(stdout).lines();
        let mut lines = vec![];
        let (addr, quic_addr, fingerprint) = loop {
            let line = tokio::time::timeout(Duration::from_secs(120), reader.next_line()).await.context("no start line")??;
            let Some(line) = line else { bail!("the server exited before listening; printed {lines:?}") };
            lines.push(line.clone());
            if line.starts_with("listening ") {
                let field = |k: &str| line.split_whitespace().find_map(|w| w.strip_prefix(k)).map(String::from).context("start line");
                break (field("http=")?.parse()?, field("quic=")?.parse()?, field("fp=")?);
            }
        };
        Ok(ServerProcess { child, lines, addr, quic_addr, fingerprint })
    }
}

/// A native client of the QUIC control stream: the tablet agent's own link,
/// with a time limit on every answer so a broken server fails the test
/// instead of hanging it.
pub struct QuicClient {
    pub link: gavel_agent::link::Link,
}

impl QuicClient {
    /// Connects to `addr`, pinning `fingerprint`, offering `alpn`.
    pub async fn connect(addr: SocketAddr, fingerprint: &str, alpn: &[u8]) -> anyhow::Result<QuicClient> {
        Ok(QuicClient { link: gavel_agent::link::Link::connect(addr, fingerprint, alpn).await? })
    }

    /// Sends one message.
    pub async fn send(&mut self, msg: &ClientMessage) -> anyhow::Result<()> {
        self.link.send(msg).await
    }

    /// The next message from the server.
    pub async fn recv(&mut self) -> anyhow::Result<ServerMessage> {
        tokio::time::timeout(WAIT, self.link.recv()).await.context("timed out waiting for the server")?
    }
}

/// A command that runs `program` (then the arguments the caller adds) in a
/// new network namespace, after `setup`: a shell script, run as root inside
/// the namespace, that ends with `exec "$0" "$@"`. Unprivileged, a user
/// namespace maps the caller to root inside, for `ip` and `tc`.
pub fn private_network(setup: &str, program: &Path) -> std::process::Command {
    let root = std::process::Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0")).unwrap_or(false);
    let mut cmd = std::process::Command::new("unshare");
    if !root {
        cmd.arg("--map-root-user");
    }
    cmd.args(["--net", "--", "sh", "-c", setup]).arg(program);
    cmd
}

/// A command that runs `program` (then the arguments the caller adds) with
/// `dir` replaced, for it alone, by an empty file system of `bytes` (a
/// tmpfs in a mount namespace of its own): a tablet whose storage is full.
pub fn on_small_disk(dir: &Path, bytes: u64, program: &Path) -> std::process::Command {
    let root = std::process::Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0")).unwrap_or(false);
    let mut cmd = std::process::Command::new("unshare");
    if !root {
        cmd.arg("--map-root-user");
    }
    let setup = format!("mount -t tmpfs -o size={bytes} gavel-small-disk \"$GAVEL_SMALL_DISK\" && exec \"$0\" \"$@\"");
    cmd.args(["--mount", "--", "sh", "-c", &setup]).arg(program).env("GAVEL_SMALL_DISK", dir);
    cmd
}

/// Runs the calling test again inside a fresh network namespace of its own:
/// `lo` carrying multicast and a virtual cable `lan0`/`lan1` (10.213.0.1 and
/// 10.213.0.2), for mDNS, which must never reach a real network during
/// tests. Returns `Ok(true)` in the parent after the child passed (the
/// caller then returns), `Ok(false)` inside the namespace (the caller runs
/// the test). Fails, never passes silently, where namespaces cannot be made.
pub fn in_private_network(test_name: &str) -> anyhow::Result<bool> {
    if std::env::var_os("GAVEL_IN_NETNS").is_some() {
        return Ok(false);
    }
    let setup = "set -e
        ip link set lo up
        ip link set lo multicast on
        ip route add 224.0.0.0/4 dev lo
        ip link add lan0 type veth peer name lan1
        ip addr add 10.213.0.1/24 dev lan0
        ip addr add 10.213.0.2/24 dev lan1
        ip link set lan0 up
        ip link set lan1 up
        exec \"$0\" \"$@\"";
    let status = private_network(setup, &std::env::current_exe()?)
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env("GAVEL_IN_NETNS", "1")
        .status()
        .map_err(|e| anyhow::anyhow!("cannot run `unshare` to make a private network namespace ({e}): install util-linux and iproute2"))?;
    anyhow::ensure!(
        status.success(),
        "the test failed inside its private network namespace, or the namespace could not be made (unshare --net and `ip` need root or user namespaces): {status}"
    );
    Ok(true)
}

/// A PDF of `pages` pages, each carrying about `page_bytes` of content that
/// differs from page to page (as scanned pages do), drawn from `seed`.
/// `altered` gives one page other content (a document revised on one page).
pub fn pack_pdf(pages: usize, page_bytes: usize, seed: u64, altered: Option<usize>) -> Vec<u8> {
    let kids = (0..pages).map(|p| format!("{} 0 R", 3 + 2 * p)).collect::<Vec<_>>().join(" ");
    let mut objects =
        vec![b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(), format!("<< /Type /Pages /Kids [{kids}] /Count {pages} >>").into_bytes()];
    for p in 0..pages {
        objects.push(format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {} 0 R >>", 4 + 2 * p).into_bytes());
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (p as u64 + 1) ^ if altered == Some(p) { 0xDEAD_BEEF } else { 0 };
        let mut content = Vec::with_capacity(page_bytes + 80);
        content.extend_from_slice(format!("% page {p}\n").as_bytes());
        while content.len() < page_bytes {
            content.extend_from_slice(b"% ");
            for _ in 0..64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                content.push(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/"[(x % 64) as usize]);
            }
            content.push(b'\n');
        }
        objects.push(stream_object(&content));
    }
    write_pdf(objects)
}

/// The bytes an HTTP body sent in `coding` (its `Content-Encoding`, none,
/// `gzip` or `br`) stands for.
pub fn decode_body(bytes: &[u8], coding: Option<&str>) -> anyhow::Result<Vec<u8>> {
    let mut out = vec![];
    match coding {
        None => out.extend_from_slice(bytes),
        Some("gzip") => {
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out)?;
        }
        Some("br") => {
            brotli::BrotliDecompress(&mut &bytes[..], &mut out)?;
        }
        Some(other) => bail!("an unexpected coding: {other}"),
    }
    Ok(out)
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Waits until `check` holds, polling, or fails after `limit` saying `what`.
pub async fn until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) -> anyhow::Result<()> {
    let end = tokio::time::Instant::now() + limit;
    while !check() {
        if tokio::time::Instant::now() > end {
            bail!("timed out waiting until {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Waits until `check` answers true, asking every 100 ms for at most
/// [`WAIT`]: for what is read over the network (the room's state, a
/// browser's page), which [`until`] cannot await.
pub async fn eventually<F, Fut>(what: &str, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let end = tokio::time::Instant::now() + WAIT;
    while !check().await? {
        anyhow::ensure!(tokio::time::Instant::now() < end, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// A tablet agent running in this process, for one voter of an [`Assembly`].
pub async fn start_agent(
    server_quic: SocketAddr,
    fingerprint: &str,
    s: &Assembly,
    voter: usize,
    cache_dir: &Path,
) -> anyhow::Result<gavel_agent::agent::Agent> {
    start_agent_as(server_quic, fingerprint, s, &s.voters[voter], cache_dir).await
}

/// An HTTP client for an agent's local server, showing the browser's key
/// (as the tablet's launcher would).
pub fn tablet_client(key: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {key}").parse().expect("a header value"));
    http_client().default_headers(headers).build().expect("a client")
}

/// A client that lets an idle connection go before the room does: the room
/// closes one idle for `--http-header-timeout` (10 s), and a connection
/// reused just as it does fails its request ("connection closed before
/// message completed"), which for a POST is never sent again. A browser
/// retries such a request; reqwest does not.
pub fn http_client() -> reqwest::ClientBuilder {
    reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(4))
}

/// The link the agent binary prints when it serves (`serving
/// http://HOST:PORT/?tablet=KEY …`), and the browser's key in it.
pub fn served_at(line: &str) -> anyhow::Result<(String, String)> {
    let url = line.strip_prefix("serving ").and_then(|l| l.split_whitespace().next()).context("not a serving line")?;
    let (_, key) = url.split_once("/?tablet=").context("no key in the link")?;
    Ok((url.to_string(), key.to_string()))
}

/// A tablet agent running in this process, for `who` (participant, PIN),
/// serving the tablet's browser on a loopback port.
pub async fn start_agent_as(
    server_quic: SocketAddr,
    fingerprint: &str,
    s: &Assembly,
    who: &(ParticipantId, String),
    cache_dir: &Path,
) -> anyhow::Result<gavel_agent::agent::Agent> {
    gavel_agent::agent::Agent::start(gavel_agent::agent::Options {
        server: server_quic,
        fingerprint: fingerprint.to_string(),
        meeting: s.meeting,
        participant: who.0,
        pin: Some(who.1.clone()),
        cache_dir: cache_dir.to_path_buf(),
        listen: Some("127.0.0.1:0".parse()?),
        rediscover: false,
    })
    .await
}
