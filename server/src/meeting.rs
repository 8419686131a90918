//! Meetings in memory, and the one path every change takes.
//!
//! Each meeting has a [`MeetingHandle`]: its state behind an async mutex (one
//! writer at a time, so `seq` has no gaps) and a broadcast channel of its
//! events. [`MeetingHandle::execute`] checks a command against the rules in
//! `gavel-shared`, writes the new rows and the event in one transaction,
//! and only after the commit folds the event into the state and publishes it.

use crate::auth;
use crate::error::{Error, Result};
use crate::store::{self, Db, now, parse_ts, ts};
use gavel_shared::decision::*;
use gavel_shared::minutes::{MinutesComment, SignedFile, SignedVersion};
use gavel_shared::model::*;
use gavel_shared::protocol::{Change, Command, CommandKind, CommandResult, Event, IssuedPin, NewParticipant};
use gavel_shared::rules;
use gavel_shared::state::MeetingState;
use sqlx::Row;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::Instrument;

/// How many events a subscriber may fall behind before it is sent the
/// missed events from the log instead.
const FANOUT_CAPACITY: usize = 1024;

/// The quorum a new meeting starts with: at least two thirds of its members,
/// as the Law on the Organisation of Local Government asks of a people's
/// council's session and of a people's committee's meeting. The secretary
/// sets another share for a meeting that follows other rules. (Events
/// written before meetings had a quorum still read as more than half.)
pub const NEW_MEETING_QUORUM: Share = Share::TWO_THIRDS;

/// What the writer publishes: an event, and the meeting's state after the
/// batch that made it, shared by every follower (each decides from it what
/// its client may see), so no connection keeps its own copy of the state.
#[derive(Debug)]
pub struct Published {
    pub event: Event,
    pub sent_as: SentAs,
}

/// How a published event reaches each viewer.
#[derive(Debug)]
pub enum SentAs {
    /// The same message to everyone
    /// ([`gavel_shared::state::same_for_everyone`]), encoded once: 2,000
    /// connections share one buffer instead of each encoding it again.
    Same(bytes::Bytes),
    /// Filtered for each viewer (who may read which document), against the
    /// state after the event's batch. Only such events hold a state: the
    /// broadcast keeps its last 1,024 events for a client that stopped
    /// reading, and a state each (64 KB in a meeting of 500) made that
    /// 65 MB.
    ///
    /// Viewers mostly fall into a few forms (a named ballot: with its choice
    /// for the voter and the officers, without for everyone else), so each
    /// form is encoded once, by the first follower that needs it, and shared
    /// by the rest: a burst of 500 ballots in a meeting of 500 is then about
    /// 1,000 encodings, not 250,000.
    PerViewer { state: Arc<MeetingState>, forms: Mutex<Vec<(Change, bytes::Bytes)>> },
}

/// How many forms of one event are kept for sharing ([`SentAs::PerViewer`]);
/// past that (a document with many named readers, each shown only
/// themselves), each viewer's form is encoded for it alone.
const MAX_FORMS: usize = 8;

impl Published {
    /// The forms kept so far.
    #[cfg(test)]
    fn forms(&self) -> Vec<Change> {
        match &self.sent_as {
            SentAs::Same(_) => vec![],
            SentAs::PerViewer { forms, .. } => forms.lock().expect("forms").iter().map(|(c, _)| c.clone()).collect(),
        }
    }

    /// The encoded event as `viewer` may see it.
    pub fn message_for(&self, viewer: &Actor) -> bytes::Bytes {
        let (state, forms) = match &self.sent_as {
            SentAs::Same(text) => return text.clone(),
            SentAs::PerViewer { state, forms } => (state, forms),
        };
        let event = state.event_for(viewer, &self.event);
        // `event_for` changes nothing but the change: comparing it tells the form.
        if let Some((_, text)) = forms.lock().expect("forms").iter().find(|(c, _)| *c == event.change) {
            return text.clone();
        }
        let change = event.change.clone();
        // Encoded outside the lock; two followers racing to the same new
        // form both encode it, and one copy is kept.
        let text = bytes::Bytes::from(gavel_shared::protocol::encode(&gavel_shared::protocol::ServerMessage::Event { event }));
        let mut forms = forms.lock().expect("forms");
        if forms.len() < MAX_FORMS && !forms.iter().any(|(c, _)| *c == change) {
            forms.push((change, text.clone()));
        }
        text
    }
}

/// The snapshots of one state a meeting's followers were sent, each encoded
/// once for every viewer who may see the same. A room whose Wi-Fi comes
/// back has hundreds of tablets saying `hello` at once, and a page reload
/// has no copy to resume from: in a meeting of 2,000 each snapshot is about
/// 270 KB of JSON, and most delegates see the same one (they differ where
/// one is among a document's named readers, has a ballot in an open poll or
/// has written an opinion). A viewer is handed a kept snapshot only when
/// what it may see is equal to what that snapshot holds, so sharing cannot
/// show anyone more than [`MeetingState::visible_to`] allows.
#[derive(Default)]
pub struct Snapshots {
    kept: Mutex<KeptSnapshots>,
}

#[derive(Default)]
struct KeptSnapshots {
    /// The `seq` of the state they show; a later state replaces them all.
    seq: u64,
    /// Up to [`MAX_FORMS`], each with what it shows.
    forms: Vec<(MeetingState, bytes::Bytes)>,
}

impl Snapshots {
    /// The encoded snapshot of `state` as `viewer` may see it.
    pub fn encoded_for(&self, state: &MeetingState, viewer: &Actor) -> bytes::Bytes {
        let visible = state.visible_to(viewer);
        {
            let kept = self.kept.lock().expect("snapshots");
            // The collections a viewer's copy shares with the state compare
            // by pointer first, so a comparison costs little beside encoding.
            if kept.seq == state.seq
                && let Some((_, text)) = kept.forms.iter().find(|(shows, _)| *shows == visible)
            {
                return text.clone();
            }
        }
        // Encoded outside the lock, as for events (see [`Published::message_for`]).
        let text =
            bytes::Bytes::from(gavel_shared::protocol::encode(&gavel_shared::protocol::ServerMessage::Snapshot { state: visible.clone() }));
        let mut kept = self.kept.lock().expect("snapshots");
        if state.seq > kept.seq {
            *kept = KeptSnapshots { seq: state.seq, forms: Vec::new() };
        }
        if kept.seq == state.seq && kept.forms.len() < MAX_FORMS && !kept.forms.iter().any(|(shows, _)| *shows == visible) {
            kept.forms.push((visible, text.clone()));
        }
        text
    }
}

/// The longest idempotency key accepted.
pub const MAX_KEY: usize = 128;

/// What the writers need besides the database: where files go, the key
/// that signs the minutes.
pub struct Services {
    pub data_dir: std::path::PathBuf,
    pub signer: crate::signing::Signer,
    /// `--allow-secret-documents`: the room may hold state-secret ("mật") documents.
    pub allow_secret: bool,
    /// Told when a committed change removed documents, whose content the
    /// store then deletes ([`crate::documents::Store::collect`]).
    pub content_freed: Arc<tokio::sync::Notify>,
    /// Reads restricted PDFs, in worker processes.
    pub pdf: Arc<crate::pdf_worker::PdfWorker>,
    /// `--max-messages-per-second`, also the most commands one person sends
    /// a meeting per second (bursts of twice that), over every connection.
    pub commands_per_second: u32,
}

/// Refuses the `secret` level unless the room was started to allow it.
fn check_secret_allowed(services: &Services, level: Confidentiality) -> Result<()> {
    if level == Confidentiality::Secret && !services.allow_secret {
        return Err(Error::Forbidden(
            "this room does not accept state-secret (\"mật\") documents: the rules for state secrets require a room set up for them \
             (started with --allow-secret-documents)",
        ));
    }
    Ok(())
}

/// All meetings that have been touched since start-up.
pub struct Meetings {
    db: Db,
    services: Arc<Services>,
    open: Mutex<HashMap<MeetingId, Arc<MeetingHandle>>>,
}

impl Meetings {
    /// An empty registry over `db`.
    pub fn new(db: Db, services: Arc<Services>) -> Self {
        Meetings { db, services, open: Mutex::new(HashMap::new()) }
    }

    /// The services the writers use.
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// The handle of a meeting, loading it from the store on first use.
    pub async fn get(&self, id: MeetingId) -> Result<Arc<MeetingHandle>> {
        if let Some(h) = self.open.lock().expect("meeting registry poisoned").get(&id) {
            return Ok(h.clone());
        }
        let state = store::load_meeting(&self.db, id).await?.ok_or(Error::NotFound("meeting"))?;
        let handle = Arc::new(MeetingHandle::new(self.db.clone(), self.services.clone(), state));
        let mut open = self.open.lock().expect("meeting registry poisoned");
        Ok(open.entry(id).or_insert(handle).clone())
    }

    /// Creates a meeting (status draft) with its first event, `meeting_created`.
    pub async fn create(&self, by: Actor, header: NewMeeting) -> Result<Arc<MeetingHandle>> {
        Ok(self.create_once(by, header, None).await?.0)
    }

    /// Creates a meeting once per `key`: asked again with the same key (a
    /// request sent again after its answer was lost), it gives the meeting
    /// the first request made, and `false`.
    pub async fn create_once(&self, by: Actor, header: NewMeeting, key: Option<&str>) -> Result<(Arc<MeetingHandle>, bool)> {
        let header = header.normalized();
        rules_for_header(&header)?;
        key.map(check_key).transpose()?;
        let mut tx = self.db.begin_with("BEGIN IMMEDIATE").await?;
        if let Some(key) = key {
            let made: Option<i64> =
                sqlx::query_scalar("SELECT id FROM meetings WHERE create_key = ?").bind(key).fetch_optional(&mut *tx).await?;
            if let Some(id) = made {
                drop(tx);
                return Ok((self.get(MeetingId(id)).await?, false));
            }
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO meetings (title, organisation, place, locality, starts_at, status, is_demo, created_at, \
             quorum_num, quorum_den, quorum_strict, create_key) \
             VALUES (?, ?, ?, ?, ?, 'draft', ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&header.title)
        .bind(&header.organisation)
        .bind(&header.place)
        .bind(&header.locality)
        .bind(ts(header.starts_at))
        .bind(header.demo)
        .bind(ts(now()))
        .bind(NEW_MEETING_QUORUM.num)
        .bind(NEW_MEETING_QUORUM.den)
        .bind(NEW_MEETING_QUORUM.strict)
        .bind(key)
        .fetch_one(&mut *tx)
        .await?;
        let meeting = Meeting {
            id: MeetingId(id),
            title: header.title,
            organisation: header.organisation,
            place: header.place,
            locality: header.locality,
            starts_at: header.starts_at,
            status: MeetingStatus::Draft,
            current_item: None,
            quorum: NEW_MEETING_QUORUM,
            speech_limit_secs: DEFAULT_SPEECH_LIMIT_SECS,
        };
        let event = Event { meeting: meeting.id, seq: 1, at: now(), by, change: Change::MeetingCreated { header: meeting.clone() } };
        append(&mut tx, &event).await?;
        tx.commit().await?;
        let mut state = MeetingState::new(meeting);
        state.seq = 1;
        let handle = Arc::new(MeetingHandle::new(self.db.clone(), self.services.clone(), state));
        self.open.lock().expect("meeting registry poisoned").insert(MeetingId(id), handle.clone());
        Ok((handle, true))
    }

    /// Every meeting handle loaded so far (for shutdown and counters).
    pub fn loaded(&self) -> Vec<Arc<MeetingHandle>> {
        self.open.lock().expect("meeting registry poisoned").values().cloned().collect()
    }
}

/// A new meeting's header.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct NewMeeting {
    pub title: String,
    #[serde(default)]
    pub organisation: String,
    #[serde(default)]
    pub place: String,
    /// The minutes' place name (địa danh).
    #[serde(default)]
    pub locality: String,
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    #[serde(skip)]
    pub demo: bool,
}

impl NewMeeting {
    fn normalized(mut self) -> Self {
        use gavel_shared::text::{clean, clean_lines};
        self.title = clean(&self.title);
        // As when the meeting is edited: the governing body may be a line above.
        self.organisation = clean_lines(&self.organisation);
        self.place = clean(&self.place);
        self.locality = clean(&self.locality);
        self
    }
}

fn rules_for_header(h: &NewMeeting) -> Result<()> {
    Ok(rules::check_meeting_header(&h.title, &h.organisation, &h.place, &h.locality, h.starts_at)?)
}

/// A document whose content is already stored, to attach to an item.
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub item: ItemId,
    pub title: String,
    pub file_name: String,
    pub size: u64,
    pub sha256: String,
    pub confidentiality: Confidentiality,
    pub readers: Vec<ParticipantId>,
}

/// A change to apply: a client's command, or one the server makes itself.
#[derive(Debug, Clone)]
pub enum Op {
    Command(Command),
    /// Attach an uploaded document (only after the server stored its content).
    AttachDocument(NewDocument),
    /// The actor signed in at the meeting: mark them present.
    MarkPresent,
}

impl Op {
    fn kind(&self) -> CommandKind {
        match self {
            Op::Command(c) => c.kind(),
            Op::AttachDocument(_) => CommandKind::UploadDocument,
            Op::MarkPresent => CommandKind::SetAttendance,
        }
    }
}

/// What a command did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Outcome {
    /// The `seq` of the last event appended, if any.
    pub seq: Option<u64>,
    pub result: CommandResult,
    /// True when the key had been seen and this is the first result again.
    pub repeated: bool,
}

/// One change waiting for the meeting's writer.
struct Job {
    actor: Actor,
    key: String,
    op: Op,
    pins: Option<Vec<(String, String)>>,
    /// For `SignMinutes`: the signed files, made by the writer before its
    /// transaction, with the log position they were made at.
    signing: Option<(u64, Result<SignedVersion>)>,
    reply: oneshot::Sender<Result<Outcome>>,
}

impl Job {
    fn signs(&self) -> bool {
        matches!(self.op, Op::Command(Command::SignMinutes))
    }
}

/// The most commands written in one transaction.
const MAX_BATCH: usize = 512;

/// One meeting, live.
pub struct MeetingHandle {
    pub id: MeetingId,
    live: Arc<Live>,
    jobs: mpsc::Sender<Job>,
    services: Arc<Services>,
    /// Read by [`MeetingHandle::execute`] for a command's key.
    db: Db,
    /// Snapshots for followers that start with no copy, shared.
    pub snapshots: Snapshots,
    /// Each sender's pace ([`MeetingHandle::execute`]).
    paces: Mutex<HashMap<Actor, crate::limits::Rate>>,
}

/// What a meeting's writer shares with its handle.
struct Live {
    /// Held by the writer from the start of a batch until its events are
    /// published, so a subscriber starts exactly between two batches.
    publishing: tokio::sync::Mutex<()>,
    /// The state after the last batch, shared (see [`Published`]); only the
    /// writer replaces it.
    latest: std::sync::RwLock<Arc<MeetingState>>,
    events: broadcast::Sender<Arc<Published>>,
    recent: Mutex<Recent>,
}

/// Where a new follower starts: the state at the moment it subscribed
/// (every event after `state.seq` arrives on `events`) and, when it said
/// what it had and the room still keeps every event after that, the events
/// it missed.
pub struct Subscription {
    pub state: Arc<MeetingState>,
    pub events: broadcast::Receiver<Arc<Published>>,
    pub missed: Option<Vec<Missed>>,
}

/// How many of the last events a meeting keeps in memory for followers
/// that come back behind; further behind, a follower gets a snapshot.
pub const REPLAY_LIMIT: usize = 500;

/// The last [`REPLAY_LIMIT`] events of a meeting, for followers that come
/// back a little behind (the Wi-Fi back after a drop, a page reloaded by a
/// browser that kept its copy). A room's Wi-Fi coming back brings hundreds
/// of them at once; replayed from here, an event that is the same for
/// everyone goes out as the bytes its live followers were sent, where the
/// log cost each of them a query and an encoding per event. An event
/// filtered per viewer keeps only the event, not the state after it (see
/// [`SentAs::PerViewer`]); it is filtered against the state at the replay,
/// as from the log. The log serves what is not kept here: events from
/// before the room started, and those past [`REPLAY_BYTES`].
#[derive(Default)]
struct Recent {
    /// Each with its size, encoded.
    events: std::collections::VecDeque<(Missed, usize)>,
    bytes: usize,
}

/// The most a meeting's [`Recent`] events hold, encoded. Agenda moves and
/// ballots are a few hundred bytes (500 of them about 150 KB), but a
/// minutes section may hold 100,000 characters and is saved as the
/// secretary types: 500 such saves would be over 100 MB.
const REPLAY_BYTES: usize = 4 << 20;

/// An event kept for replay.
#[derive(Clone, Debug)]
pub enum Missed {
    /// Encoded once, as sent to every live follower; `about`: the
    /// participant whose view it changes ([`Change::view_of`]).
    Same { seq: u64, text: bytes::Bytes, about: Option<ParticipantId> },
    /// To be filtered for each viewer.
    PerViewer(Arc<Event>),
}

impl Missed {
    pub fn seq(&self) -> u64 {
        match self {
            Missed::Same { seq, .. } => *seq,
            Missed::PerViewer(e) => e.seq,
        }
    }

    /// The participant whose view this event changes.
    pub fn view_of(&self) -> Option<ParticipantId> {
        match self {
            Missed::Same { about, .. } => *about,
            Missed::PerViewer(e) => e.change.view_of(),
        }
    }
}

impl Recent {
    /// Keeps `event` (`size` bytes encoded), dropping the oldest past
    /// [`REPLAY_LIMIT`] events or [`REPLAY_BYTES`].
    fn keep(&mut self, event: Missed, size: usize) {
        self.events.push_back((event, size));
        self.bytes += size;
        while self.events.len() > REPLAY_LIMIT || (self.bytes > REPLAY_BYTES && self.events.len() > 1) {
            if let Some((_, dropped)) = self.events.pop_front() {
                self.bytes -= dropped;
            }
        }
    }

    /// The events after `seq` up to `now` (the last one published), or
    /// `None` when some of them are no longer (or not yet) kept.
    fn after(&self, seq: u64, now: u64) -> Option<Vec<Missed>> {
        if seq >= now {
            return (seq == now).then(Vec::new);
        }
        let first = self.events.front()?.0.seq();
        if first > seq + 1 || self.events.back()?.0.seq() != now {
            return None;
        }
        Some(self.events.iter().skip((seq + 1 - first) as usize).map(|(m, _)| m.clone()).collect())
    }
}

impl MeetingHandle {
    fn new(db: Db, services: Arc<Services>, state: MeetingState) -> Self {
        let (events, _) = broadcast::channel(FANOUT_CAPACITY);
        let (jobs, rx) = mpsc::channel(4 * MAX_BATCH);
        let id = state.meeting.id;
        let live = Arc::new(Live {
            publishing: tokio::sync::Mutex::new(()),
            latest: std::sync::RwLock::new(Arc::new(state)),
            events,
            recent: Mutex::default(),
        });
        let w = writer(db.clone(), services.clone(), live.clone(), rx);
        writers().spawn(w.instrument(tracing::info_span!("writer", meeting = %id)));
        MeetingHandle { id, live, jobs, services, db, snapshots: Snapshots::default(), paces: Mutex::default() }
    }

    /// A copy of the current state.
    pub async fn state(&self) -> MeetingState {
        let _writer_waits = self.live.publishing.lock().await;
        (*self.latest()).clone()
    }

    /// Subscribes to this meeting's events. `since` is the last event the
    /// follower has, if it has a copy; the events after it come with the
    /// subscription when they are all still kept in memory.
    pub async fn subscribe(&self, since: Option<u64>) -> Subscription {
        let _writer_waits = self.live.publishing.lock().await;
        let state = self.latest();
        let missed = since.and_then(|seq| self.live.recent.lock().expect("recent events").after(seq, state.seq));
        Subscription { state, events: self.live.events.subscribe(), missed }
    }

    /// The state after the last batch, shared.
    pub fn latest(&self) -> Arc<MeetingState> {
        self.live.latest.read().expect("latest state").clone()
    }

    /// May `actor` still read document `doc`, as the meeting is now? Asked
    /// again while a document is sent: one removed, narrowed, or whose
    /// reader lost the right (removed, made observer) stops mid-way.
    pub fn still_reads(&self, actor: &Actor, doc: DocumentId) -> bool {
        let s = self.latest();
        s.document(doc).is_some_and(|d| s.can_read(actor, d))
    }

    /// How many connections follow this meeting.
    pub fn subscribers(&self) -> usize {
        self.live.events.receiver_count()
    }

    /// Checks and applies one change; see the module documentation. The
    /// answer comes after the commit that holds the change (or right away
    /// when it is refused).
    #[tracing::instrument(skip_all, fields(meeting = %self.id, kind = ?op.kind()))]
    pub async fn execute(&self, actor: Actor, key: &str, op: Op) -> Result<Outcome> {
        check_key(key)?;
        // One person's commands are paced whatever carries them: the limit
        // per connection alone let one participant send it over each of the
        // connections their address may open, or over plain HTTP with none,
        // and every command that changes the meeting is written and sent to
        // every tablet. Being marked present at sign-in is already limited.
        let paced = !matches!(op, Op::MarkPresent) && {
            let mut paces = self.paces.lock().expect("paces");
            !paces.entry(actor).or_insert_with(|| crate::limits::Rate::new(self.services.commands_per_second)).allow()
        };
        if paced {
            // A command sent again (after a reconnect, its answer lost) that
            // was taken is answered as taken, not refused.
            return match recorded(&self.db, self.id, key).await? {
                Some(previous) => Ok(previous),
                None => Err(Error::RateLimited),
            };
        }
        self.execute_unpaced(actor, key, op).await
    }

    /// [`MeetingHandle::execute`] for the server's own scripts (the demo),
    /// which are not paced.
    pub(crate) async fn execute_unpaced(&self, actor: Actor, key: &str, op: Op) -> Result<Outcome> {
        let op = match op {
            Op::Command(c) => Op::Command(c.normalized()),
            other => other,
        };
        // Slow work (PIN hashing, reading a PDF) happens here, not in the
        // writer, and only for a command that would be taken as things
        // stand: a list of PINs to make from someone who may not, or ids
        // repeated thousands of times, would hold every sign-in up behind its
        // hashing, and anyone could have the room parse a large PDF at will.
        if let Op::Command(cmd @ (Command::AddParticipants { .. } | Command::ResetPins { .. } | Command::UpdateDocument { .. })) = &op {
            // A retry of one already taken (its answer lost) is answered as
            // taken, as the writer would: checked against the meeting as it
            // is now, it could be refused (the meeting opened since, the
            // participant removed) though it was done.
            if let Some(previous) = recorded(&self.db, self.id, key).await? {
                return Ok(previous);
            }
            let state = self.latest();
            let allowed = acting(&state, &actor).and_then(|a| Ok(rules::check(&state, &a, cmd)?));
            if let Err(refused) = allowed {
                // Taken between the lookup and this check: answered as taken.
                return match recorded(&self.db, self.id, key).await? {
                    Some(previous) => Ok(previous),
                    None => Err(refused),
                };
            }
            // A public document made restricted is stamped for each reader from
            // then on: one whose PDF cannot be stamped is refused now, as at
            // upload, rather than every reader being refused it later.
            if let Command::UpdateDocument { document, confidentiality, .. } = cmd
                && *confidentiality != Confidentiality::Public
                && let Some(d) = state.document(*document).filter(|d| d.confidentiality == Confidentiality::Public)
            {
                let path = crate::documents::content_dir(&self.services.data_dir).join(&d.sha256);
                self.services.pdf.check(&path).await.map_err(crate::documents::unstampable)?;
            }
        }
        let pins = match &op {
            Op::Command(Command::AddParticipants { participants }) => Some(new_pins(participants.len()).await?),
            Op::Command(Command::ResetPins { participants }) => Some(new_pins(participants.len()).await?),
            _ => None,
        };
        let (reply, answer) = oneshot::channel();
        let job = Job { actor, key: key.to_string(), op, pins, signing: None, reply };
        self.jobs.send(job).await.map_err(|_| Error::Unavailable)?;
        answer.await.map_err(|_| Error::Unavailable)?
    }
}

/// Where the meetings' writers run: a thread of their own. A command makes
/// a dozen trips between its writer and the database's thread (sqlx runs
/// each SQLite connection on a thread), and on the shared workers each
/// return waited its turn behind whatever they were busy with, such as
/// streaming documents to every tablet; a thread that mostly sleeps is
/// woken at once by the system.
fn writers() -> &'static tokio::runtime::Handle {
    static WRITERS: std::sync::OnceLock<tokio::runtime::Handle> = std::sync::OnceLock::new();
    WRITERS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime for the meetings' writers");
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name("gavel-writers".into())
            .spawn(move || runtime.block_on(std::future::pending::<()>()))
            .expect("a thread for the meetings' writers");
        handle
    })
}

/// The meeting's single writer: takes every waiting command, writes them in
/// one transaction (each in its own savepoint, so one refusal does not undo
/// the others), commits once, then publishes and answers. One fsync for a
/// burst of ballots instead of one per ballot.
///
/// Signing the minutes renders and writes a dozen files, which takes long
/// on a big meeting: it is done before the transaction, alone in its batch,
/// so the database's one write lock, which every meeting and sign-in shares,
/// is held only to record it.
async fn writer(db: Db, services: Arc<Services>, live: Arc<Live>, mut rx: mpsc::Receiver<Job>) {
    let mut held = None;
    loop {
        let first = match held.take() {
            Some(job) => job,
            None => match rx.recv().await {
                Some(job) => job,
                None => break,
            },
        };
        if first.signs() {
            let mut job = first;
            job.signing = prepare_signing(&db, &services, &live, &job).await;
            write_batch(&db, &services, &live, vec![job]).await;
            continue;
        }
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) if job.signs() => {
                    held = Some(job);
                    break;
                }
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        write_batch(&db, &services, &live, batch).await;
    }
}

/// Signs the minutes as the meeting is now, outside any transaction: only
/// this meeting's writer changes the meeting, and it waits for this. `None`
/// when the command is a retry or refused (its batch answers it) or the log
/// is not where the state is (its batch signs under the lock instead).
async fn prepare_signing(db: &Db, services: &Services, live: &Live, job: &Job) -> Option<(u64, Result<SignedVersion>)> {
    let state = live.latest.read().expect("latest state").clone();
    if recorded(db, state.meeting.id, &job.key).await.ok()?.is_some() {
        return None;
    }
    let actor = acting(&state, &job.actor).ok()?;
    if let Op::Command(cmd) = &job.op {
        rules::check(&state, &actor, cmd).ok()?;
    }
    let events = log_of(db, state.meeting.id).await.ok()?;
    if events.last().map_or(0, |(_, e)| e.seq) != state.seq {
        return None;
    }
    Some((state.seq, sign_files(events, services, &state).await))
}

async fn write_batch(db: &Db, services: &Services, live: &Live, batch: Vec<Job>) {
    let guard = live.publishing.lock().await;
    // The one copy of the state a batch makes: what its commands change, kept
    // only if the batch commits.
    let mut working = (*live.latest.read().expect("latest state").clone()).clone();
    let mut tx = match db.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => tx,
        Err(e) => {
            tracing::error!(error = %e, "cannot begin a transaction");
            for job in batch {
                let _ = job.reply.send(Err(crate::error::database_failed(&e, "database unavailable")));
            }
            return;
        }
    };
    let mut answered = Vec::with_capacity(batch.len());
    let mut published = Vec::new();
    let mut checkpoint = false;
    let mut freed = false;
    let size = batch.len();
    for mut job in batch {
        match run_one(&mut tx, services, &mut working, &mut job).await {
            Ok((outcome, new_events)) => {
                // A secret poll that ends (closed, or cancelled with its
                // ballots cast) leaves no order of writes behind.
                checkpoint |= new_events.iter().any(|e| match &e.change {
                    Change::PollClosed { poll, .. } | Change::PollCancelled { poll, .. } => working.poll(*poll).is_some_and(|p| p.secret),
                    _ => false,
                });
                freed |= new_events.iter().any(|e| {
                    matches!(
                        e.change,
                        Change::DocumentRemoved { .. }
                            | Change::ItemRemoved { .. }
                            | Change::ParticipantRemoved { .. }
                            | Change::ParticipantUpdated { .. }
                    )
                });
                published.extend(new_events);
                answered.push((job.reply, outcome));
            }
            Err(e) => {
                if let Error::Internal(cause) = &e {
                    tracing::error!(error = ?cause, "command failed");
                }
                let _ = job.reply.send(Err(e));
            }
        }
    }
    if let Err(e) = tx.commit().await {
        tracing::error!(error = %e, "commit failed");
        // A full disk shows here in WAL mode: said as such, not "try again".
        for (reply, _) in answered {
            let _ = reply.send(Err(crate::error::database_failed(&e, "commit failed")));
        }
        return;
    }
    if checkpoint {
        // After a secret poll, fold the write-ahead log into the database and
        // empty it, so the order in which ballots were written is not kept;
        // before anyone is told the poll closed, so a crash right after the
        // answer cannot leave that order behind.
        if !store::truncate_wal(db).await {
            store::truncate_wal_soon(db);
        }
    }
    if freed {
        services.content_freed.notify_one();
    }
    let after = Arc::new(working);
    *live.latest.write().expect("latest state") = after.clone();
    if size > 1 {
        tracing::debug!(commands = size, events = published.len(), "batch committed");
    }
    let mut recent = live.recent.lock().expect("recent events");
    for e in published {
        // The whole event: what everyone is sent, or for an event filtered per
        // viewer the form of those who may see all of it (the officers, a
        // ballot's voter), and the largest of its forms.
        let text = bytes::Bytes::from(gavel_shared::protocol::encode(&gavel_shared::protocol::ServerMessage::Event { event: e.clone() }));
        let sent_as = if gavel_shared::state::same_for_everyone(&e.change) {
            recent.keep(Missed::Same { seq: e.seq, text: text.clone(), about: e.change.view_of() }, text.len());
            SentAs::Same(text)
        } else {
            recent.keep(Missed::PerViewer(Arc::new(e.clone())), text.len());
            SentAs::PerViewer { state: after.clone(), forms: Mutex::new(vec![(e.change.clone(), text)]) }
        };
        // No subscriber is not an error: nobody is following the meeting.
        let _ = live.events.send(Arc::new(Published { event: e, sent_as }));
    }
    drop(recent);
    // Published before the lock is released: a subscriber that took the
    // lock after this batch starts from `after` and has none of its events.
    drop(guard);
    for (reply, outcome) in answered {
        let _ = reply.send(Ok(outcome));
    }
}

/// `actor` with the role the meeting gives them now; refused once removed.
fn acting(state: &MeetingState, actor: &Actor) -> Result<Actor> {
    state.current(actor).ok_or(Error::Forbidden("you are no longer a participant of this meeting"))
}

/// Checks and writes one command inside the batch's transaction.
async fn run_one(tx: &mut Tx<'_>, services: &Services, working: &mut MeetingState, job: &mut Job) -> Result<(Outcome, Vec<Event>)> {
    let meeting = working.meeting.id;
    if let Some(previous) = recorded(&mut **tx, meeting, &job.key).await? {
        return Ok((previous, vec![]));
    }
    // Who sends it as the meeting has them now: a participant whose role was
    // changed since their connection opened acts in the new role, and one
    // removed no longer acts at all.
    let actor = acting(working, &job.actor)?;
    match &job.op {
        Op::Command(cmd) => {
            rules::check(working, &actor, cmd)?;
            if let gavel_shared::protocol::Command::UpdateDocument { confidentiality, .. } = cmd {
                check_secret_allowed(services, *confidentiality)?;
            }
        }
        Op::AttachDocument(d) => {
            check_secret_allowed(services, d.confidentiality)?;
            rules::allowed(working, &actor, CommandKind::UploadDocument)?;
            working.item(d.item).ok_or(Error::NotFound("agenda item"))?;
            rules::check_document_title(&d.title)?;
            rules::check_readers(working, d.confidentiality, &d.readers)?;
        }
        Op::MarkPresent => {
            actor.participant().ok_or(Error::Forbidden("only participants are present"))?;
        }
    }
    let mut sp = sqlx::Connection::begin(&mut **tx).await?;
    let written = write(&mut sp, services, working, &actor, &job.op, job.pins.clone(), job.signing.take()).await;
    let (changes, result) = match written {
        Ok(w) => w,
        Err(e) => {
            let _ = sp.rollback().await;
            return Err(e);
        }
    };
    let at = now();
    let events: Vec<Event> = changes
        .into_iter()
        .enumerate()
        .map(|(i, change)| Event { meeting, seq: working.seq + 1 + i as u64, at, by: actor, change })
        .collect();
    for e in &events {
        append(&mut sp, e).await?;
    }
    let last = events.last().map(|e| e.seq);
    let result = if events.is_empty() && result == CommandResult::Done { CommandResult::Unchanged } else { result };
    let stored = match &result {
        CommandResult::Pins { pins } => CommandResult::Pins { pins: pins.iter().map(|p| IssuedPin { pin: None, ..p.clone() }).collect() },
        other => other.clone(),
    };
    sqlx::query("INSERT INTO commands (meeting_id, key, kind, last_seq, result) VALUES (?, ?, ?, ?, ?)")
        .bind(meeting.0)
        .bind(&job.key)
        .bind(serde_json::to_string(&job.op.kind()).unwrap_or_default())
        .bind(last.map(|s| s as i64))
        .bind(serde_json::to_string(&stored).expect("results serialise"))
        .execute(&mut *sp)
        .await?;
    sp.commit().await?;
    for e in &events {
        working.apply(e).map_err(|err| Error::Internal(err.into()))?;
    }
    Ok((Outcome { seq: last, result, repeated: false }, events))
}

/// The outcome of the command with this key, if one was taken.
async fn recorded(db: impl sqlx::SqliteExecutor<'_>, meeting: MeetingId, key: &str) -> Result<Option<Outcome>> {
    let row = sqlx::query("SELECT last_seq, result FROM commands WHERE meeting_id = ? AND key = ?")
        .bind(meeting.0)
        .bind(key)
        .fetch_optional(db)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let result: String = row.get("result");
    Ok(Some(Outcome {
        seq: row.get::<Option<i64>, _>("last_seq").map(|s| s as u64),
        result: serde_json::from_str(&result).map_err(|e| Error::Internal(e.into()))?,
        repeated: true,
    }))
}

/// Makes and hashes `n` PINs, one per core at a time.
async fn new_pins(n: usize) -> Result<Vec<(String, String)>> {
    let hashed = futures_util::future::join_all((0..n).map(|_| async {
        let pin = auth::generate_pin();
        auth::hash_secret_blocking(pin.clone()).await.map(|hash| (pin, hash))
    }))
    .await;
    hashed.into_iter().collect()
}

type Tx<'a> = sqlx::Transaction<'a, sqlx::Sqlite>;

/// Forgets the copies stamped for `participant` (removed, or renamed): the
/// collector deletes their content, no other reader having the same copy.
async fn forget_reader_copies(tx: &mut Tx<'_>, participant: ParticipantId) -> Result<()> {
    sqlx::query("DELETE FROM reader_copies WHERE reader_kind = 'participant' AND reader = ?")
        .bind(participant.0)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The id a new row of `$table` gets: above every id the table ever gave,
/// so a removed row's id is never given to another (migration 0013: an
/// opinion or a stamped copy kept under the old id would follow it).
macro_rules! new_id {
    ($table:literal) => {
        concat!(
            "(SELECT COALESCE(MAX(x), 0) + 1 FROM (SELECT MAX(id) AS x FROM ",
            $table,
            " UNION ALL SELECT last FROM retired_ids WHERE tbl = '",
            $table,
            "'))"
        )
    };
}

async fn append(tx: &mut Tx<'_>, e: &Event) -> Result<()> {
    let body = serde_json::to_string(e).expect("events serialise");
    let kind = serde_json::to_value(&e.change).ok().and_then(|v| v["type"].as_str().map(String::from)).unwrap_or_default();
    // The hash chain (crate::audit): the previous head, in the same transaction.
    let prev: String = sqlx::query_scalar("SELECT head FROM meetings WHERE id = ?").bind(e.meeting.0).fetch_one(&mut **tx).await?;
    let chain = crate::audit::next(&prev, &body);
    sqlx::query("INSERT INTO events (meeting_id, seq, at, kind, body, chain) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(e.meeting.0)
        .bind(e.seq as i64)
        .bind(ts(e.at))
        .bind(kind)
        .bind(body)
        .bind(&chain)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE meetings SET head = ?, head_seq = ? WHERE id = ?")
        .bind(&chain)
        .bind(e.seq as i64)
        .bind(e.meeting.0)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn set_item_status(tx: &mut Tx<'_>, item: ItemId, status: ItemStatus) -> Result<()> {
    sqlx::query("UPDATE agenda_items SET status = ? WHERE id = ?").bind(status.as_str()).bind(item.0).execute(&mut **tx).await?;
    Ok(())
}

async fn write_positions(tx: &mut Tx<'_>, agenda: &[AgendaItem]) -> Result<()> {
    for (pos, item) in agenda.iter().enumerate() {
        sqlx::query("UPDATE agenda_items SET position = ? WHERE id = ?").bind(pos as i64).bind(item.id.0).execute(&mut **tx).await?;
    }
    Ok(())
}

async fn write_readers(tx: &mut Tx<'_>, doc: DocumentId, readers: &[ParticipantId]) -> Result<()> {
    sqlx::query("DELETE FROM document_readers WHERE document_id = ?").bind(doc.0).execute(&mut **tx).await?;
    for r in readers {
        sqlx::query("INSERT INTO document_readers (document_id, participant_id) VALUES (?, ?)")
            .bind(doc.0)
            .bind(r.0)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Writes the rows for one change and returns the events it makes.
async fn write(
    tx: &mut Tx<'_>,
    services: &Services,
    state: &MeetingState,
    actor: &Actor,
    op: &Op,
    pins: Option<Vec<(String, String)>>,
    signing: Option<(u64, Result<SignedVersion>)>,
) -> Result<(Vec<Change>, CommandResult)> {
    let m = state.meeting.id.0;
    let done = CommandResult::Done;
    let cmd = match op {
        Op::MarkPresent => {
            let Some(me) = actor.participant().and_then(|p| state.participant(p)) else { return Ok((vec![], done)) };
            // Only an open meeting has anyone present: a tablet made ready
            // the day before, or the pack read from the office, is not
            // attendance (whoever is signed in when it opens is; see
            // `OpenMeeting`).
            if me.attendance == Attendance::Present || state.meeting.status != MeetingStatus::Open {
                return Ok((vec![], done));
            }
            let change = set_attendance(tx, me.id, Attendance::Present, "").await?;
            return Ok((vec![change], done));
        }
        Op::AttachDocument(d) => {
            let uploaded_at = now();
            let id: i64 = sqlx::query_scalar(concat!(
                "INSERT INTO documents (id, meeting_id, item_id, title, file_name, size, sha256, confidentiality, uploaded_at) VALUES (",
                new_id!("documents"),
                ", ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
            ))
            .bind(m)
            .bind(d.item.0)
            .bind(&d.title)
            .bind(&d.file_name)
            .bind(d.size as i64)
            .bind(&d.sha256)
            .bind(d.confidentiality.as_str())
            .bind(ts(uploaded_at))
            .fetch_one(&mut **tx)
            .await?;
            write_readers(tx, DocumentId(id), &d.readers).await?;
            let document = Document {
                id: DocumentId(id),
                item: d.item,
                title: d.title.clone(),
                file_name: d.file_name.clone(),
                size: d.size,
                sha256: d.sha256.clone(),
                confidentiality: d.confidentiality,
                readers: d.readers.clone(),
                uploaded_at,
            };
            return Ok((vec![Change::DocumentAdded { document }], CommandResult::Created { id }));
        }
        Op::Command(c) => c,
    };
    Ok(match cmd {
        Command::UpdateMeeting { title, organisation, place, locality, starts_at } => {
            sqlx::query("UPDATE meetings SET title = ?, organisation = ?, place = ?, locality = ?, starts_at = ? WHERE id = ?")
                .bind(title)
                .bind(organisation)
                .bind(place)
                .bind(locality)
                .bind(ts(*starts_at))
                .bind(m)
                .execute(&mut **tx)
                .await?;
            let change = Change::MeetingUpdated {
                title: title.clone(),
                organisation: organisation.clone(),
                place: place.clone(),
                locality: locality.clone(),
                starts_at: *starts_at,
            };
            (vec![change], done)
        }
        Command::OpenMeeting => {
            sqlx::query("UPDATE meetings SET status = 'open' WHERE id = ?").bind(m).execute(&mut **tx).await?;
            let mut changes = vec![Change::MeetingOpened];
            for p in signed_in_today(tx, state, now()).await? {
                changes.push(set_attendance(tx, p, Attendance::Present, "").await?);
            }
            (changes, done)
        }
        Command::CloseMeeting => {
            if let Some(cur) = state.meeting.current_item {
                set_item_status(tx, cur, ItemStatus::Done).await?;
            }
            sqlx::query("UPDATE meetings SET status = 'closed', current_item = NULL WHERE id = ?").bind(m).execute(&mut **tx).await?;
            save_speakers(tx, state.meeting.id, &state.speakers.for_next_item()).await?;
            let mut changes = speech_cut_short(state);
            changes.push(Change::MeetingClosed);
            (changes, done)
        }
        Command::AddItem { title, presenter, summary, position } => {
            let pos = position.unwrap_or(state.agenda.len()).min(state.agenda.len());
            sqlx::query("UPDATE agenda_items SET position = position + 1 WHERE meeting_id = ? AND position >= ?")
                .bind(m)
                .bind(pos as i64)
                .execute(&mut **tx)
                .await?;
            let id: i64 = sqlx::query_scalar(concat!(
                "INSERT INTO agenda_items (id, meeting_id, position, title, presenter, summary, status) VALUES (",
                new_id!("agenda_items"),
                ", ?, ?, ?, ?, ?, 'pending') RETURNING id"
            ))
            .bind(m)
            .bind(pos as i64)
            .bind(title)
            .bind(presenter)
            .bind(summary)
            .fetch_one(&mut **tx)
            .await?;
            let item = AgendaItem {
                id: ItemId(id),
                title: title.clone(),
                presenter: presenter.clone(),
                summary: summary.clone(),
                status: ItemStatus::Pending,
            };
            (vec![Change::ItemAdded { item, position: pos }], CommandResult::Created { id })
        }
        Command::UpdateItem { item, title, presenter, summary } => {
            sqlx::query("UPDATE agenda_items SET title = ?, presenter = ?, summary = ? WHERE id = ?")
                .bind(title)
                .bind(presenter)
                .bind(summary)
                .bind(item.0)
                .execute(&mut **tx)
                .await?;
            let status = state.item(*item).map(|i| i.status).unwrap_or(ItemStatus::Pending);
            let item = AgendaItem { id: *item, title: title.clone(), presenter: presenter.clone(), summary: summary.clone(), status };
            (vec![Change::ItemUpdated { item }], done)
        }
        Command::RemoveItem { item } => {
            sqlx::query("DELETE FROM agenda_items WHERE id = ?").bind(item.0).execute(&mut **tx).await?;
            let rest: Vec<AgendaItem> = state.agenda.iter().filter(|i| i.id != *item).cloned().collect();
            write_positions(tx, &rest).await?;
            let changes = vec![Change::ItemRemoved { item: *item }];
            save_speakers_after(tx, state, &changes).await?;
            (changes, done)
        }
        Command::MoveItem { item, position } => {
            let from = state.item_index(*item).ok_or(Error::NotFound("agenda item"))?;
            let mut order = state.agenda.to_vec();
            let it = order.remove(from);
            let to = (*position).min(order.len());
            order.insert(to, it);
            if to == from {
                return Ok((vec![], done));
            }
            write_positions(tx, &order).await?;
            (vec![Change::ItemMoved { item: *item, position: to }], done)
        }
        Command::GoToItem { .. } | Command::NextItem { .. } | Command::PreviousItem { .. } => {
            let Some(target) = rules::agenda_target(state, cmd)? else { return Ok((vec![], done)) };
            let previous = state.meeting.current_item;
            let mut changes = speech_cut_short(state);
            // "Next" back up the agenda (to an item skipped or added above)
            // moves on all the same: the item left is discussed, said as
            // its own change since the move alone reads as stepping back.
            let onwards_above = matches!(cmd, Command::NextItem { .. })
                && matches!((previous.and_then(|p| state.item_index(p)), state.item_index(target)), (Some(from), Some(to)) if to < from);
            if let Some(left) = previous.and_then(|p| state.item(p)).filter(|i| onwards_above && i.status != ItemStatus::Done) {
                set_item_status(tx, left.id, ItemStatus::Done).await?;
                changes.push(Change::ItemUpdated { item: AgendaItem { status: ItemStatus::Done, ..left.clone() } });
            } else if let Some((prev, status)) = previous.and_then(|prev| Some((prev, state.left_as(prev, Some(target))?))) {
                set_item_status(tx, prev, status).await?;
            }
            sqlx::query("UPDATE meetings SET current_item = ? WHERE id = ?").bind(target.0).bind(m).execute(&mut **tx).await?;
            save_speakers(tx, state.meeting.id, &state.speakers.for_next_item()).await?;
            changes.push(Change::CurrentItemChanged { item: Some(target), previous });
            (changes, done)
        }
        Command::AddParticipants { participants } => {
            let pins = pins.expect("PINs are made before the transaction");
            let mut changes = Vec::new();
            let mut issued = Vec::new();
            for (p, (pin, hash)) in participants.iter().zip(pins) {
                let participant = insert_participant(tx, state.meeting.id, p, &hash).await?;
                issued.push(IssuedPin { participant: participant.id, name: participant.name.clone(), pin: Some(pin) });
                changes.push(Change::ParticipantAdded { participant });
            }
            (changes, CommandResult::Pins { pins: issued })
        }
        Command::UpdateParticipant { participant, name, position, role, member, voting } => {
            sqlx::query("UPDATE participants SET name = ?, position = ?, role = ?, member = ?, voting = ? WHERE id = ?")
                .bind(name)
                .bind(position)
                .bind(role.as_str())
                .bind(member)
                .bind(voting)
                .bind(participant.0)
                .execute(&mut **tx)
                .await?;
            // Copies stamped with the old name are made again with the new.
            if state.participant(*participant).is_some_and(|p| p.name != *name) {
                forget_reader_copies(tx, *participant).await?;
            }
            let (attendance, excuse) = state.participant(*participant).map(|p| (p.attendance, p.excuse.clone())).unwrap_or_default();
            let participant = Participant {
                id: *participant,
                name: name.clone(),
                position: position.clone(),
                role: *role,
                member: *member,
                voting: *voting,
                attendance,
                excuse,
            };
            (vec![Change::ParticipantUpdated { participant }], done)
        }
        Command::RemoveParticipant { participant } => {
            // Their tablets are told, when they come back, that the session was revoked.
            sqlx::query(
                "INSERT INTO ended_sessions (token_hash, ended_at) SELECT token_hash, ? FROM sessions WHERE participant_id = ? ON CONFLICT DO NOTHING",
            )
            .bind(store::ts(store::now()))
            .bind(participant.0)
            .execute(&mut **tx)
            .await?;
            sqlx::query("DELETE FROM participants WHERE id = ?").bind(participant.0).execute(&mut **tx).await?;
            forget_reader_copies(tx, *participant).await?;
            let mut changes = speech_ended_by(state, *participant);
            changes.push(Change::ParticipantRemoved { participant: *participant });
            save_speakers_after(tx, state, &changes).await?;
            (changes, done)
        }
        Command::ResetPins { participants } => {
            let pins = pins.expect("PINs are made before the transaction");
            let mut changes = Vec::new();
            let mut issued = Vec::new();
            for (id, (pin, hash)) in participants.iter().zip(pins) {
                // A new PIN also lifts a sign-in lock left by wrong PINs.
                sqlx::query("UPDATE participants SET pin_hash = ?, pin_failures = 0, pin_locked = FALSE WHERE id = ?")
                    .bind(hash)
                    .bind(id.0)
                    .execute(&mut **tx)
                    .await?;
                let name = state.participant(*id).map(|p| p.name.clone()).unwrap_or_default();
                issued.push(IssuedPin { participant: *id, name, pin: Some(pin) });
                changes.push(Change::PinReset { participant: *id });
            }
            (changes, CommandResult::Pins { pins: issued })
        }
        Command::UpdateDocument { document, title, confidentiality, readers } => {
            sqlx::query("UPDATE documents SET title = ?, confidentiality = ? WHERE id = ?")
                .bind(title)
                .bind(confidentiality.as_str())
                .bind(document.0)
                .execute(&mut **tx)
                .await?;
            write_readers(tx, *document, readers).await?;
            let was = state.document(*document).cloned().ok_or(Error::NotFound("document"))?;
            let doc = Document { title: title.clone(), confidentiality: *confidentiality, readers: readers.clone(), ..was.clone() };
            (vec![Change::DocumentUpdated { document: doc, was: Some(Box::new(was)) }], done)
        }
        Command::RemoveDocument { document } => {
            sqlx::query("DELETE FROM documents WHERE id = ?").bind(document.0).execute(&mut **tx).await?;
            let was = state.document(*document).cloned().map(Box::new);
            (vec![Change::DocumentRemoved { document: *document, was }], done)
        }
        Command::SetAttendance { participant, attendance, reason } => {
            let mut changes = if *attendance != Attendance::Present { speech_ended_by(state, *participant) } else { vec![] };
            changes.push(set_attendance(tx, *participant, *attendance, reason).await?);
            save_speakers_after(tx, state, &changes).await?;
            (changes, done)
        }
        Command::SetQuorumRule { share } => {
            sqlx::query("UPDATE meetings SET quorum_num = ?, quorum_den = ?, quorum_strict = ? WHERE id = ?")
                .bind(share.num as i64)
                .bind(share.den as i64)
                .bind(share.strict)
                .bind(m)
                .execute(&mut **tx)
                .await?;
            (vec![Change::QuorumRuleChanged { share: *share }], done)
        }
        Command::SetSpeechLimit { seconds } => {
            sqlx::query("UPDATE meetings SET speech_limit_secs = ? WHERE id = ?").bind(*seconds as i64).bind(m).execute(&mut **tx).await?;
            (vec![Change::SpeechLimitChanged { seconds: *seconds }], done)
        }
        Command::CreatePoll { item, question, kind, options, max_choices, secret, allow_change, rule } => {
            let (options, max_choices) = match kind {
                PollKind::YesNo => (YES_NO_OPTIONS.iter().map(|o| o.to_string()).collect::<Vec<_>>(), 1),
                PollKind::Choice => (options.clone(), *max_choices),
            };
            let kind_name = serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO polls (meeting_id, item_id, question, kind, options, max_choices, secret, allow_change, rule, status) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'draft') RETURNING id",
            )
            .bind(m)
            .bind(item.0)
            .bind(question)
            .bind(kind_name)
            .bind(serde_json::to_string(&options).expect("strings serialise"))
            .bind(max_choices as i64)
            .bind(secret)
            .bind(allow_change)
            .bind(serde_json::to_string(rule).expect("rules serialise"))
            .fetch_one(&mut **tx)
            .await?;
            let poll = Poll {
                id: PollId(id),
                item: *item,
                question: question.clone(),
                kind: *kind,
                hands: vec![],
                hands_present: vec![],
                options,
                max_choices,
                secret: *secret,
                allow_change: *allow_change,
                rule: *rule,
                status: PollStatus::Draft,
                voters: vec![],
                ballots: vec![],
                result: None,
                cancel_reason: None,
            };
            (vec![Change::PollCreated { poll }], CommandResult::Created { id })
        }
        Command::OpenPoll { poll } => {
            set_poll_status(tx, *poll, PollStatus::Open).await?;
            (vec![Change::PollOpened { poll: *poll }], done)
        }
        Command::CastBallot { poll, choices } => {
            let voter = actor.participant().ok_or(Error::Forbidden("only participants vote"))?;
            (vec![cast(tx, state, *poll, voter, choices, false).await?], done)
        }
        Command::CastBallotFor { poll, voter, choices } => (vec![cast(tx, state, *poll, *voter, choices, true).await?], done),
        Command::RecordHands { poll, counts } => {
            // Who was in the room to raise a hand: the vote's quorum counts
            // them should they leave before it closes.
            let present: Vec<ParticipantId> =
                state.participants.iter().filter(|p| p.member && p.attendance == Attendance::Present).map(|p| p.id).collect();
            let all = gavel_shared::state::merged_ids(state.poll(*poll).map_or(&[], |p| &p.hands_present), &present);
            sqlx::query("UPDATE polls SET hands = ?, hands_present = ? WHERE id = ?")
                .bind(serde_json::to_string(counts).expect("counts serialise"))
                .bind(serde_json::to_string(&all).expect("ids serialise"))
                .bind(poll.0)
                .execute(&mut **tx)
                .await?;
            (vec![Change::HandsRecorded { poll: *poll, counts: counts.clone(), present }], done)
        }
        Command::ClosePoll { poll } => {
            let p = state.poll(*poll).ok_or(Error::NotFound("poll"))?;
            let mut counts = vec![0u32; p.options.len()];
            let by_secretary_ballots: u32 = if p.secret {
                let mut rows: Vec<String> =
                    sqlx::query_scalar("SELECT choices FROM secret_ballots WHERE poll_id = ?").bind(poll.0).fetch_all(&mut **tx).await?;
                for r in &rows {
                    let choices: Vec<u8> = store::json(r)?;
                    for c in choices {
                        if let Some(n) = counts.get_mut(usize::from(c)) {
                            *n += 1;
                        }
                    }
                }
                // Rows are read in their random keys' order, but SQLite puts
                // each new row in the next free place of its page: where the
                // ballots lie in the file was the order they were cast in,
                // which the log's `ballot_cast` events name the voters of.
                // Written again under new keys, in a shuffled order (what is
                // deleted is zeroed, see `store::open`), they keep no trace
                // of it once the write-ahead log is emptied after the close.
                use rand::seq::SliceRandom;
                rows.shuffle(&mut rand::rng());
                sqlx::query("DELETE FROM secret_ballots WHERE poll_id = ?").bind(poll.0).execute(&mut **tx).await?;
                for choices in &rows {
                    let token: [u8; 16] = rand::random();
                    sqlx::query("INSERT INTO secret_ballots (token, poll_id, choices) VALUES (?, ?, ?)")
                        .bind(&token[..])
                        .bind(poll.0)
                        .bind(choices)
                        .execute(&mut **tx)
                        .await?;
                }
                sqlx::query_scalar::<_, i64>("SELECT secretary_entries FROM polls WHERE id = ?").bind(poll.0).fetch_one(&mut **tx).await?
                    as u32
            } else {
                for b in &p.ballots {
                    for c in &b.choices {
                        if let Some(n) = counts.get_mut(usize::from(*c)) {
                            *n += 1;
                        }
                    }
                }
                p.ballots.iter().filter(|b| b.by_secretary).count() as u32
            };
            for (n, h) in counts.iter_mut().zip(&p.hands) {
                *n += h;
            }
            let hand_voters = state.hand_voters(p) as u32;
            let ballots = p.voters.len() as u32 + hand_voters;
            let mut result = gavel_shared::decision::tally(
                p,
                counts,
                ballots,
                // Hands stand for voters: in an election one voter raises a hand for each of their choices.
                by_secretary_ballots + hand_voters,
                state.poll_quorum(p),
                now(),
            );
            result.members = gavel_shared::decision::IdRuns::of(state.participants.iter().filter(|x| x.member).map(|x| x.id));
            sqlx::query("UPDATE polls SET status = 'closed', result = ? WHERE id = ?")
                .bind(serde_json::to_string(&result).expect("results serialise"))
                .bind(poll.0)
                .execute(&mut **tx)
                .await?;
            let ballots = if p.secret { vec![] } else { p.ballots.clone() };
            (vec![Change::PollClosed { poll: *poll, result, ballots }], done)
        }
        Command::CancelPoll { poll, reason } => {
            sqlx::query("UPDATE polls SET status = 'cancelled', cancel_reason = ? WHERE id = ?")
                .bind(reason)
                .bind(poll.0)
                .execute(&mut **tx)
                .await?;
            // A cancelled vote counts for nothing: its secret choices go.
            sqlx::query("DELETE FROM secret_ballots WHERE poll_id = ?").bind(poll.0).execute(&mut **tx).await?;
            (vec![Change::PollCancelled { poll: *poll, reason: reason.clone() }], done)
        }
        Command::RequestToSpeak => {
            let me = actor.participant().ok_or(Error::Forbidden("only participants ask to speak"))?;
            speakers_change(tx, state, vec![Change::SpeakRequested { participant: me }]).await?
        }
        Command::WithdrawRequest => {
            let me = actor.participant().ok_or(Error::Forbidden("only participants ask to speak"))?;
            speakers_change(tx, state, vec![Change::SpeakWithdrawn { participant: me }]).await?
        }
        Command::DismissRequest { participant } => {
            speakers_change(tx, state, vec![Change::SpeakWithdrawn { participant: *participant }]).await?
        }
        Command::GiveFloor { participant, .. } => {
            // The next in the queue who is here (those who left are taken off
            // it as they leave; a list kept from before that is skipped over).
            let present = |p: &ParticipantId| state.participant(*p).is_some_and(|x| x.attendance == Attendance::Present);
            let Some(next) = participant.or_else(|| state.speakers.queue.iter().find(|p| present(p)).copied()) else {
                return Err(gavel_shared::RuleError::Conflict("nobody is waiting to speak").into());
            };
            let mut changes = vec![];
            if let Some(f) = state.speakers.floor {
                changes.push(Change::SpeechEnded { participant: f.participant });
            }
            changes
                .push(Change::FloorGiven { floor: Floor { participant: next, since: now(), limit_secs: state.meeting.speech_limit_secs } });
            speakers_change(tx, state, changes).await?
        }
        Command::EndSpeech => {
            let Some(f) = state.speakers.floor else { return Ok((vec![], done)) };
            speakers_change(tx, state, vec![Change::SpeechEnded { participant: f.participant }]).await?
        }
        Command::AddOpinion { item, document, stance, text } => {
            let author = actor.participant().ok_or(Error::Forbidden("only participants give opinions"))?;
            let remote = state.participant(author).is_some_and(|p| p.attendance != Attendance::Present);
            let at = now();
            gavel_shared::rules::opinions_taken(state, *item, at)?;
            let stance_name = serde_json::to_value(stance).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO opinions (meeting_id, item_id, document_id, about_document, author_id, stance, text, remote, at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(m)
            .bind(item.0)
            .bind(document.map(|d| d.0))
            .bind(document.map(|d| d.0))
            .bind(author.0)
            .bind(stance_name)
            .bind(text)
            .bind(remote)
            .bind(ts(at))
            .fetch_one(&mut **tx)
            .await?;
            let opinion =
                Opinion { id: OpinionId(id), item: *item, document: *document, author, stance: *stance, text: text.clone(), remote, at };
            (vec![Change::OpinionAdded { opinion }], CommandResult::Created { id })
        }
        Command::RequestOpinions { item, deadline } => {
            let asked_at = now();
            if *deadline <= asked_at {
                return Err(gavel_shared::RuleError::Invalid("the deadline must be in the future".into()).into());
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO opinion_requests (meeting_id, item_id, deadline, asked_at) VALUES (?, ?, ?, ?) RETURNING id",
            )
            .bind(m)
            .bind(item.0)
            .bind(ts(*deadline))
            .bind(ts(asked_at))
            .fetch_one(&mut **tx)
            .await?;
            let request = OpinionRequest { id: OpinionRequestId(id), item: *item, deadline: *deadline, asked_at };
            (vec![Change::OpinionsRequested { request }], CommandResult::Created { id })
        }
        Command::EditMinutes { section, text } => {
            ensure_minutes(tx, state.meeting.id).await?;
            sqlx::query(
                "INSERT INTO minutes_sections (meeting_id, section, text) VALUES (?, ?, ?) \
                 ON CONFLICT (meeting_id, section) DO UPDATE SET text = excluded.text",
            )
            .bind(m)
            .bind(serde_json::to_string(section).expect("keys serialise"))
            .bind(text)
            .execute(&mut **tx)
            .await?;
            (vec![Change::MinutesEdited { section: *section, text: text.clone() }], done)
        }
        Command::SetMinutesNumber { number } => {
            ensure_minutes(tx, state.meeting.id).await?;
            sqlx::query("UPDATE minutes SET number = ? WHERE meeting_id = ?").bind(number).bind(m).execute(&mut **tx).await?;
            (vec![Change::MinutesNumberSet { number: number.clone() }], done)
        }
        Command::SendMinutesForComments => {
            set_minutes_status(tx, state.meeting.id, "in_review").await?;
            (vec![Change::MinutesSentForComments { sections: state.minutes.sections_owned() }], done)
        }
        Command::CommentMinutes { section, text } => {
            let author = actor.participant().ok_or(Error::Forbidden("only participants comment"))?;
            let at = now();
            sqlx::query("INSERT INTO minutes_comments (meeting_id, section, author_id, text, version, at) VALUES (?, ?, ?, ?, ?, ?)")
                .bind(m)
                .bind(serde_json::to_string(section).expect("keys serialise"))
                .bind(author.0)
                .bind(text)
                .bind(state.minutes.version as i64)
                .bind(ts(at))
                .execute(&mut **tx)
                .await?;
            let comment = MinutesComment { section: *section, author, text: text.clone(), version: state.minutes.version, at };
            (vec![Change::MinutesCommented { comment }], done)
        }
        Command::ApproveMinutes => {
            set_minutes_status(tx, state.meeting.id, "approved").await?;
            (vec![Change::MinutesApproved { sections: state.minutes.sections_owned() }], done)
        }
        Command::SignMinutes => {
            let signed = match signing {
                Some((seq, signed)) if seq == state.seq => signed?,
                _ => sign_files(log_of(&mut **tx, state.meeting.id).await?, services, state).await?,
            };
            record_signed(tx, state.meeting.id, &signed).await?;
            set_minutes_status(tx, state.meeting.id, "signed").await?;
            (vec![Change::MinutesSigned { signed }], done)
        }
        Command::TakeBackMinutes => {
            set_minutes_status(tx, state.meeting.id, "draft").await?;
            (vec![Change::MinutesRevised { version: state.minutes.version }], done)
        }
        Command::ReviseMinutes => {
            let version = state.minutes.version + 1;
            sqlx::query("UPDATE minutes SET version = ?, status = 'draft' WHERE meeting_id = ?")
                .bind(version as i64)
                .bind(m)
                .execute(&mut **tx)
                .await?;
            (vec![Change::MinutesRevised { version }], done)
        }
        Command::Unknown => return Err(gavel_shared::RuleError::UnknownCommand.into()),
    })
}

async fn insert_participant(tx: &mut Tx<'_>, meeting: MeetingId, p: &NewParticipant, pin_hash: &str) -> Result<Participant> {
    let id: i64 = sqlx::query_scalar(concat!(
        "INSERT INTO participants (id, meeting_id, name, position, role, member, voting, pin_hash, added_at) VALUES (",
        new_id!("participants"),
        ", ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
    ))
    .bind(meeting.0)
    .bind(&p.name)
    .bind(&p.position)
    .bind(p.role.as_str())
    .bind(p.member)
    .bind(p.voting)
    .bind(pin_hash)
    .bind(ts(now()))
    .fetch_one(&mut **tx)
    .await?;
    Ok(Participant {
        id: ParticipantId(id),
        name: p.name.clone(),
        position: p.position.clone(),
        role: p.role,
        member: p.member,
        voting: p.voting,
        attendance: Attendance::Absent,
        excuse: String::new(),
    })
}

/// The absent participants of a meeting who signed in from the room (not
/// `remote`) on the day it opens, in the room's zone, and are still signed
/// in: they are present when it opens. A sign-in of the day before (a
/// tablet made ready, the pack read from the office) is not.
async fn signed_in_today(tx: &mut Tx<'_>, state: &MeetingState, now: OffsetDateTime) -> Result<Vec<ParticipantId>> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT s.participant_id, s.created_at, s.expires_at FROM sessions s JOIN participants p ON p.id = s.participant_id \
         WHERE p.meeting_id = ? AND s.remote = 0 AND s.revoked_at IS NULL",
    )
    .bind(state.meeting.id.0)
    .fetch_all(&mut **tx)
    .await?;
    let day = gavel_shared::clock::day_start(now);
    let mut present = Vec::new();
    for (p, created, expires) in rows {
        let p = ParticipantId(p);
        if parse_ts(&created)? >= day
            && parse_ts(&expires)? > now
            && state.participant(p).is_some_and(|x| x.attendance == Attendance::Absent)
        {
            present.push(p);
        }
    }
    // One each, however many sessions (a tablet and a laptop).
    present.sort();
    present.dedup();
    Ok(present)
}

async fn set_attendance(tx: &mut Tx<'_>, participant: ParticipantId, attendance: Attendance, reason: &str) -> Result<Change> {
    sqlx::query("UPDATE participants SET attendance = ?, excuse = ? WHERE id = ?")
        .bind(attendance.as_str())
        .bind(reason)
        .bind(participant.0)
        .execute(&mut **tx)
        .await?;
    Ok(Change::AttendanceChanged { participant, attendance, reason: reason.to_string() })
}

async fn ensure_minutes(tx: &mut Tx<'_>, meeting: MeetingId) -> Result<()> {
    sqlx::query("INSERT INTO minutes (meeting_id, version, status) VALUES (?, 1, 'draft') ON CONFLICT DO NOTHING")
        .bind(meeting.0)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn set_minutes_status(tx: &mut Tx<'_>, meeting: MeetingId, status: &str) -> Result<()> {
    ensure_minutes(tx, meeting).await?;
    sqlx::query("UPDATE minutes SET status = ? WHERE meeting_id = ?").bind(status).bind(meeting.0).execute(&mut **tx).await?;
    Ok(())
}

/// The meeting's events with their stored bodies, read inside `tx`.
pub async fn log_of(db: impl sqlx::SqliteExecutor<'_>, meeting: MeetingId) -> Result<Vec<(String, Event)>> {
    let bodies: Vec<String> =
        sqlx::query_scalar("SELECT body FROM events WHERE meeting_id = ? ORDER BY seq").bind(meeting.0).fetch_all(db).await?;
    bodies
        .into_iter()
        .map(|b| {
            let e: Event = serde_json::from_str(&b).map_err(|e| Error::Internal(e.into()))?;
            Ok((b, e))
        })
        .collect()
}

/// Exports the approved minutes (PDF and DOCX in Vietnamese and English,
/// the poll results as CSV, the record as JSON) from the meeting's log and
/// writes them with a `.sig` each under `DATA_DIR/minutes/<meeting>/v<version>/`;
/// `record_signed` then records the signed version.
async fn sign_files(events: Vec<(String, Event)>, services: &Services, state: &MeetingState) -> Result<SignedVersion> {
    use crate::minutes::{self as mdoc, Lang};
    let record = mdoc::record_from(&events);
    let version = state.minutes.version;
    let signed_at = now();
    let dir = services.data_dir.join("minutes").join(state.meeting.id.to_string()).join(format!("v{version}"));
    let mut finished = state.clone();
    Arc::make_mut(&mut finished.minutes).status = gavel_shared::minutes::MinutesStatus::Approved;
    let m = state.meeting.id.0;
    let kept = record.clone();
    let files = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        let mut out = vec![];
        for lang in [Lang::Vi, Lang::En] {
            let doc = mdoc::assemble(&finished, &record, lang);
            out.push((format!("bien-ban-{m}-v{version}-{}.pdf", lang.code()), mdoc::pdf(&doc)?));
            out.push((format!("bien-ban-{m}-v{version}-{}.docx", lang.code()), mdoc::docx(&doc)?));
            out.push((format!("bieu-quyet-{m}-v{version}-{}.csv", lang.code()), mdoc::polls_csv(&finished, lang)?));
        }
        out.push((format!("ho-so-{m}-v{version}.json"), mdoc::record_json(&finished, &record, &events)?));
        Ok(out)
    })
    .await
    .map_err(|e| Error::Internal(e.into()))??;
    let record = kept;
    let mut listed = vec![];
    let mut to_write = vec![];
    for (name, bytes) in files {
        use sha2::Digest;
        let sha256 = hex::encode(sha2::Sha256::digest(&bytes));
        let signature = services.signer.sign(crate::signing::SignedFields {
            format: "gavel-minutes/1".into(),
            meeting: m,
            meeting_title: state.meeting.title.clone(),
            minutes_version: version,
            file: name.clone(),
            sha256: sha256.clone(),
            log_head: record.log_head.clone(),
            log_seq: record.log_seq,
            signed_at: ts(signed_at),
            public_key: services.signer.public_key_hex(),
        });
        to_write.push((dir.join(&name), bytes));
        to_write.push((dir.join(format!("{name}.sig")), serde_json::to_vec_pretty(&signature).expect("signatures serialise")));
        listed.push(SignedFile { name, sha256 });
    }
    // Written (and each flushed to disk) off the writers' thread, which every
    // meeting's commands share.
    tokio::task::spawn_blocking(move || -> Result<()> {
        std::fs::create_dir_all(&dir)?;
        for (path, bytes) in to_write {
            write_file(&path, &bytes)?;
        }
        // The files' entries and the new directories' own, each flushed
        // once (the version's, the meeting's, `minutes/` and the data
        // directory that holds it), so a power cut after the commit that
        // records the files' hashes cannot lose the files.
        for d in dir.ancestors().take(4) {
            crate::documents::sync_dir(d)?;
        }
        Ok(())
    })
    .await
    .map_err(|e| Error::Internal(e.into()))??;
    Ok(SignedVersion { version, log_head: record.log_head, log_seq: record.log_seq, files: listed, signed_at })
}

/// An idempotency key: 1 to [`MAX_KEY`] bytes.
fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(Error::bad_request("bad_key", format!("the idempotency key must have 1 to {MAX_KEY} bytes")));
    }
    Ok(())
}

/// Removes the temporary files of minutes being signed when the room last
/// stopped (`minutes/<meeting>/v<n>/*.part`): they were written before the
/// commit that would have recorded them, are never served, and nothing
/// else would ever remove them. Returns how many went.
pub fn sweep_minutes_parts(data_dir: &std::path::Path) -> std::io::Result<usize> {
    let mut gone = 0;
    let Ok(meetings) = std::fs::read_dir(data_dir.join("minutes")) else { return Ok(0) };
    for meeting in meetings.flatten() {
        let Ok(versions) = std::fs::read_dir(meeting.path()) else { continue };
        for version in versions.flatten() {
            let Ok(files) = std::fs::read_dir(version.path()) else { continue };
            for file in files.flatten() {
                if file.file_name().to_string_lossy().ends_with(".part") {
                    std::fs::remove_file(file.path())?;
                    gone += 1;
                }
            }
        }
    }
    Ok(gone)
}

/// Records a signed version of the minutes, in the batch's transaction.
async fn record_signed(tx: &mut Tx<'_>, meeting: MeetingId, signed: &SignedVersion) -> Result<()> {
    sqlx::query("INSERT INTO minutes_versions (meeting_id, version, log_head, log_seq, files, signed_at) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(meeting.0)
        .bind(signed.version as i64)
        .bind(&signed.log_head)
        .bind(signed.log_seq as i64)
        .bind(serde_json::to_string(&signed.files).expect("files serialise"))
        .bind(ts(signed.signed_at))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Writes a file whole (temporary name, fsync, rename); its directory is flushed by the caller, once for all it writes.
fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    // Its own temporary name: `bien-ban.pdf` and `bien-ban.docx` shared one
    // (`bien-ban.part`), safe only while written one after the other.
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".part");
    let tmp = std::path::PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

async fn set_poll_status(tx: &mut Tx<'_>, poll: PollId, status: PollStatus) -> Result<()> {
    sqlx::query("UPDATE polls SET status = ? WHERE id = ?").bind(status.as_str()).bind(poll.0).execute(&mut **tx).await?;
    Ok(())
}

async fn save_speakers(tx: &mut Tx<'_>, meeting: MeetingId, speakers: &Speakers) -> Result<()> {
    sqlx::query("UPDATE meetings SET speakers = ? WHERE id = ?")
        .bind(serde_json::to_string(speakers).expect("speakers serialise"))
        .bind(meeting.0)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Someone leaving the room or the meeting while they have the floor: the
/// end of their speech, to record before their leaving.
fn speech_ended_by(state: &MeetingState, participant: ParticipantId) -> Vec<Change> {
    state.speakers.floor.filter(|f| f.participant == participant).map(|_| Change::SpeechEnded { participant }).into_iter().collect()
}

/// The end of whoever's speech is cut short by the item or the meeting
/// ending, recorded as such rather than left to vanish with the list.
fn speech_cut_short(state: &MeetingState) -> Vec<Change> {
    state.speakers.floor.map(|f| Change::SpeechEnded { participant: f.participant }).into_iter().collect()
}

/// Writes the speakers' list as it will be after `changes`, if they change
/// it (someone leaving takes themselves off it), so a restart finds it so.
async fn save_speakers_after(tx: &mut Tx<'_>, state: &MeetingState, changes: &[Change]) -> Result<()> {
    let mut after = state.speakers.clone();
    for c in changes {
        after.apply(c, state.meeting.current_item);
    }
    if after != state.speakers {
        save_speakers(tx, state.meeting.id, &after).await?;
    }
    Ok(())
}

/// Writes the speakers' list as it will be after `changes`.
async fn speakers_change(tx: &mut Tx<'_>, state: &MeetingState, changes: Vec<Change>) -> Result<(Vec<Change>, CommandResult)> {
    save_speakers_after(tx, state, &changes).await?;
    Ok((changes, CommandResult::Done))
}

/// Records a ballot. Secret polls write who voted and what was chosen to two
/// tables that share nothing but the poll: the choice under a random key,
/// with no voter, no time and no order.
async fn cast(
    tx: &mut Tx<'_>,
    state: &MeetingState,
    poll: PollId,
    voter: ParticipantId,
    choices: &[u8],
    by_secretary: bool,
) -> Result<Change> {
    let p = state.poll(poll).ok_or(Error::NotFound("poll"))?;
    let already = p.voters.contains(&voter);
    let choices_json = serde_json::to_string(choices).expect("choices serialise");
    if !already {
        let inserted = sqlx::query("INSERT INTO poll_voters (poll_id, participant_id) VALUES (?, ?) ON CONFLICT DO NOTHING")
            .bind(poll.0)
            .bind(voter.0)
            .execute(&mut **tx)
            .await?;
        if inserted.rows_affected() == 0 {
            // The database's one-ballot-per-voter rule, behind the check above.
            return Err(gavel_shared::RuleError::Conflict("already voted").into());
        }
    }
    if p.secret {
        let token: [u8; 16] = rand::random();
        sqlx::query("INSERT INTO secret_ballots (token, poll_id, choices) VALUES (?, ?, ?)")
            .bind(&token[..])
            .bind(poll.0)
            .bind(&choices_json)
            .execute(&mut **tx)
            .await?;
        if by_secretary {
            sqlx::query("UPDATE polls SET secretary_entries = secretary_entries + 1 WHERE id = ?").bind(poll.0).execute(&mut **tx).await?;
        }
        return Ok(Change::BallotCast { poll, voter, choices: None, by_secretary });
    }
    sqlx::query(
        "INSERT INTO named_ballots (poll_id, participant_id, choices, by_secretary) VALUES (?, ?, ?, ?) \
         ON CONFLICT (poll_id, participant_id) DO UPDATE SET choices = excluded.choices, by_secretary = excluded.by_secretary",
    )
    .bind(poll.0)
    .bind(voter.0)
    .bind(&choices_json)
    .bind(by_secretary)
    .execute(&mut **tx)
    .await?;
    Ok(Change::BallotCast { poll, voter, choices: Some(choices.to_vec()), by_secretary })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use gavel_shared::protocol::ServerMessage;

    /// An open meeting with nothing in it yet.
    pub(crate) fn open_meeting(id: MeetingId) -> MeetingState {
        MeetingState::new(Meeting {
            id,
            title: "Kỳ họp thứ mười hai".into(),
            organisation: "HĐND phường Láng Hạ".into(),
            place: "Hội trường".into(),
            locality: "Hà Nội".into(),
            starts_at: OffsetDateTime::UNIX_EPOCH,
            status: MeetingStatus::Open,
            current_item: None,
            quorum: Default::default(),
            speech_limit_secs: DEFAULT_SPEECH_LIMIT_SECS,
        })
    }

    /// `state` with these participants in it (rights follow the state's
    /// roles, so a viewer must be one of them).
    fn with_people(mut state: MeetingState, people: impl IntoIterator<Item = (i64, Role)>) -> MeetingState {
        for (n, role) in people {
            let member = role != Role::Observer;
            Arc::make_mut(&mut state.participants).push(Participant {
                id: ParticipantId(n),
                name: format!("Đại biểu {n}"),
                position: String::new(),
                role,
                member,
                voting: member,
                attendance: Default::default(),
                excuse: String::new(),
            });
        }
        state
    }

    /// A named ballot reaches the voter and the officers with its choice and
    /// everyone else without, each form encoded once and shared.
    #[test]
    fn each_form_of_an_event_is_encoded_once_and_every_viewer_gets_its_own() {
        let id = MeetingId(1);
        let people = [(1, Role::Chair), (7, Role::Delegate), (30, Role::Observer)].into_iter().chain((20..25).map(|n| (n, Role::Delegate)));
        let state = with_people(open_meeting(id), people);
        let voter = ParticipantId(7);
        let who = |participant: i64, role: Role| Actor::Participant { meeting: id, participant: ParticipantId(participant), role };
        let by = who(voter.0, Role::Delegate);
        let change = Change::BallotCast { poll: PollId(3), voter, choices: Some(vec![1]), by_secretary: false };
        let event = Event { meeting: id, seq: 42, at: OffsetDateTime::UNIX_EPOCH, by, change };
        let p = Published { event, sent_as: SentAs::PerViewer { state: Arc::new(state), forms: Mutex::new(Vec::new()) } };
        let choices =
            |text: &bytes::Bytes| match gavel_shared::protocol::decode_server(std::str::from_utf8(text).expect("UTF-8"), usize::MAX) {
                Ok(ServerMessage::Event { event: Event { seq: 42, change: Change::BallotCast { choices, .. }, .. } }) => choices,
                other => panic!("not the ballot: {other:?}"),
            };
        let others: Vec<_> = (20..25).map(|n| p.message_for(&who(n, Role::Delegate))).collect();
        for text in &others {
            assert_eq!(choices(text), None, "another delegate does not see the choice");
            assert_eq!(text.as_ptr(), others[0].as_ptr(), "one shared encoding");
        }
        assert_eq!(choices(&p.message_for(&who(30, Role::Observer))), None);
        assert_eq!(choices(&p.message_for(&Actor::Display { meeting: id })), None);
        let own = p.message_for(&by);
        assert_eq!(choices(&own), Some(vec![1]), "the voter sees their choice");
        let chair = p.message_for(&who(1, Role::Chair));
        assert_eq!(choices(&chair), Some(vec![1]), "the chair sees it");
        assert_eq!(chair.as_ptr(), own.as_ptr());
        assert_eq!(choices(&p.message_for(&Actor::Staff { staff: StaffId(2) })), Some(vec![1]));
        assert_eq!(p.forms().len(), 2, "two forms in all");
    }

    /// Delegates who may see the same share one encoded snapshot; whoever
    /// may see more or less (a named reader, a non-member, the chair) gets
    /// exactly their own, and a later state is never answered from an
    /// earlier one.
    #[test]
    fn a_snapshot_is_shared_only_by_viewers_who_may_see_the_same() {
        let id = MeetingId(1);
        let people = [(1, Role::Chair), (7, Role::Delegate), (30, Role::Observer)].into_iter().chain((20..25).map(|n| (n, Role::Delegate)));
        let mut state = with_people(open_meeting(id), people);
        let doc = |n: i64, confidentiality, readers: Vec<ParticipantId>| Document {
            id: DocumentId(n),
            item: ItemId(1),
            title: format!("Tài liệu {n}"),
            file_name: format!("{n}.pdf"),
            size: 1,
            sha256: "0".repeat(64),
            confidentiality,
            readers,
            uploaded_at: OffsetDateTime::UNIX_EPOCH,
        };
        Arc::make_mut(&mut state.documents).extend([
            doc(1, Confidentiality::Public, vec![]),
            doc(2, Confidentiality::Members, vec![]),
            doc(3, Confidentiality::Named, vec![ParticipantId(7)]),
        ]);
        state.seq = 5;
        let who = |n: i64| {
            let role = state.participant(ParticipantId(n)).expect("participant").role;
            Actor::Participant { meeting: id, participant: ParticipantId(n), role }
        };
        let snapshots = Snapshots::default();
        let shown = |text: &bytes::Bytes| match gavel_shared::protocol::decode_server(std::str::from_utf8(text).expect("UTF-8"), usize::MAX)
        {
            Ok(ServerMessage::Snapshot { state }) => state,
            other => panic!("not a snapshot: {other:?}"),
        };
        let viewers: Vec<Actor> = [20, 1, 7, 21, 30, 22, 23, 24].into_iter().map(who).chain([Actor::Display { meeting: id }]).collect();
        let texts: Vec<_> = viewers.iter().map(|v| snapshots.encoded_for(&state, v)).collect();
        for (viewer, text) in viewers.iter().zip(&texts) {
            assert_eq!(shown(text), state.visible_to(viewer), "{viewer:?} gets what it may see");
        }
        let docs = |text: &bytes::Bytes| shown(text).documents.iter().map(|d| d.id.0).collect::<Vec<_>>();
        assert_eq!(docs(&texts[1]), vec![1, 2, 3], "the chair");
        assert_eq!(docs(&texts[2]), vec![1, 2, 3], "the named reader");
        assert_eq!(docs(&texts[0]), vec![1, 2], "a member");
        assert_eq!(docs(&texts[4]), vec![1], "a non-member");
        for shared in [3, 5, 6, 7] {
            assert_eq!(texts[shared].as_ptr(), texts[0].as_ptr(), "delegates who see the same share one encoding");
        }
        assert_ne!(texts[2].as_ptr(), texts[0].as_ptr());

        let mut later = state.clone();
        later.seq = 6;
        let next = snapshots.encoded_for(&later, &who(20));
        assert_eq!(shown(&next).seq, 6, "a later state is encoded anew");
        assert_eq!(snapshots.encoded_for(&later, &who(21)).as_ptr(), next.as_ptr());
        assert_eq!(shown(&snapshots.encoded_for(&state, &who(22))).seq, 5, "an earlier state still gets its own");
    }

    /// Past the forms kept, a viewer still gets its own form.
    #[test]
    fn forms_past_the_limit_are_encoded_for_their_viewer_alone() {
        let id = MeetingId(1);
        let mut state = with_people(open_meeting(id), (1..=20).map(|n| (n, Role::Delegate)));
        let readers: Vec<ParticipantId> = (1..=20).map(ParticipantId).collect();
        let document = Document {
            id: DocumentId(5),
            item: ItemId(1),
            title: "Tờ trình mật".into(),
            file_name: "to-trinh.pdf".into(),
            size: 1,
            sha256: "0".repeat(64),
            confidentiality: Confidentiality::Named,
            readers: readers.clone(),
            uploaded_at: OffsetDateTime::UNIX_EPOCH,
        };
        std::sync::Arc::make_mut(&mut state.documents).push(document.clone());
        let event =
            Event { meeting: id, seq: 9, at: OffsetDateTime::UNIX_EPOCH, by: Actor::System, change: Change::DocumentAdded { document } };
        let p = Published { event, sent_as: SentAs::PerViewer { state: Arc::new(state), forms: Mutex::new(Vec::new()) } };
        for r in &readers {
            let text = p.message_for(&Actor::Participant { meeting: id, participant: *r, role: Role::Delegate });
            match gavel_shared::protocol::decode_server(std::str::from_utf8(&text).expect("UTF-8"), usize::MAX) {
                Ok(ServerMessage::Event { event: Event { change: Change::DocumentAdded { document }, .. } }) => {
                    assert_eq!(document.readers, vec![*r], "each reader is shown only themselves")
                }
                other => panic!("not the document: {other:?}"),
            }
        }
        assert_eq!(p.forms().len(), MAX_FORMS);
    }

    /// A follower that comes back behind is handed exactly the events after
    /// its copy while they are all kept, and nothing (so the log or a
    /// snapshot serves it) once the oldest it needs has been dropped, or
    /// when it claims events the room has not published.
    #[test]
    fn recent_events_cover_exactly_what_a_follower_missed_or_nothing() {
        let id = MeetingId(1);
        let by = Actor::Participant { meeting: id, participant: ParticipantId(1), role: Role::Chair };
        let event = |seq: u64| Event { meeting: id, seq, at: OffsetDateTime::UNIX_EPOCH, by, change: Change::MeetingOpened };
        let seqs = |m: Option<Vec<Missed>>| m.map(|m| m.iter().map(Missed::seq).collect::<Vec<_>>());
        let mut recent = Recent::default();
        // Events from before the room started are not kept.
        assert_eq!(seqs(recent.after(9, 10)), None);
        assert_eq!(seqs(recent.after(10, 10)), Some(vec![]), "nothing missed");
        for seq in 11..=20 {
            let m = if seq % 2 == 0 {
                Missed::Same { seq, text: bytes::Bytes::from(format!("{seq}")), about: None }
            } else {
                Missed::PerViewer(Arc::new(event(seq)))
            };
            recent.keep(m, 100);
        }
        assert_eq!(seqs(recent.after(10, 20)), Some((11..=20).collect()));
        assert_eq!(seqs(recent.after(15, 20)), Some((16..=20).collect()));
        assert_eq!(seqs(recent.after(20, 20)), Some(vec![]));
        assert_eq!(seqs(recent.after(9, 20)), None, "event 10 is not kept");
        assert_eq!(seqs(recent.after(21, 20)), None, "a copy ahead of the room");
        match &recent.after(11, 20).expect("kept")[0] {
            Missed::Same { seq: 12, text, .. } => assert_eq!(&text[..], b"12", "the bytes live followers were sent"),
            other => panic!("not event 12 as sent: {other:?}"),
        }
        // Past the limit, the oldest go.
        for seq in 21..=(20 + REPLAY_LIMIT as u64) {
            recent.keep(Missed::PerViewer(Arc::new(event(seq))), 100);
        }
        let now = 20 + REPLAY_LIMIT as u64;
        assert_eq!(recent.events.len(), REPLAY_LIMIT);
        assert_eq!(seqs(recent.after(19, now)), None, "event 20 was dropped");
        assert_eq!(seqs(recent.after(20, now)), Some((21..=now).collect()));
        // And past the bytes: large minutes saves push the oldest out.
        let big = REPLAY_BYTES / 4;
        for seq in (now + 1)..=(now + 5) {
            recent.keep(Missed::PerViewer(Arc::new(event(seq))), big);
        }
        let now = now + 5;
        assert!(recent.bytes <= REPLAY_BYTES, "{} bytes kept", recent.bytes);
        assert_eq!(seqs(recent.after(now - 4, now)), Some(((now - 3)..=now).collect()), "the last four fit");
        assert_eq!(seqs(recent.after(now - 5, now)), None, "the first was dropped");
        // One event larger than the budget is still kept alone.
        recent.keep(Missed::PerViewer(Arc::new(event(now + 1))), REPLAY_BYTES * 2);
        assert_eq!(seqs(recent.after(now, now + 1)), Some(vec![now + 1]));
    }
}
