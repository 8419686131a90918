//! Meetings in memory, and the one path every change takes.
//!
//! Each meeting has a [`MeetingHandle`]: its state behind an async mutex (one
//! writer at a time, so `seq` has no gaps) and a broadcast channel of its
//! events. [`MeetingHandle::execute`] checks a command against the rules in
//! `gavel-shared`, writes the new rows and the event in one transaction,
//! and only after the commit folds the event into the state and publishes it.

use crate::auth;
use crate::error::{Error, Result};
use crate::store::{self, Db, now, ts};
use gavel_shared::model::*;
use gavel_shared::protocol::{Change, Command, CommandKind, CommandResult, Event, IssuedPin, NewParticipant};
use gavel_shared::rules;
use gavel_shared::state::MeetingState;
use sqlx::Row;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;
use tokio::sync::broadcast;

/// How many events a subscriber may fall behind before it is sent the
/// missed events from the log instead.
const FANOUT_CAPACITY: usize = 1024;

/// The longest idempotency key accepted.
pub const MAX_KEY: usize = 128;

/// All meetings that have been touched since start-up.
pub struct Meetings {
    db: Db,
    open: Mutex<HashMap<MeetingId, Arc<MeetingHandle>>>,
}

impl Meetings {
    /// An empty registry over `db`.
    pub fn new(db: Db) -> Self {
        Meetings { db, open: Mutex::new(HashMap::new()) }
    }

    /// The handle of a meeting, loading it from the store on first use.
    pub async fn get(&self, id: MeetingId) -> Result<Arc<MeetingHandle>> {
        if let Some(h) = self.open.lock().expect("meeting registry poisoned").get(&id) {
            return Ok(h.clone());
        }
        let state = store::load_meeting(&self.db, id).await?.ok_or(Error::NotFound("meeting"))?;
        let handle = Arc::new(MeetingHandle::new(self.db.clone(), state));
        let mut open = self.open.lock().expect("meeting registry poisoned");
        Ok(open.entry(id).or_insert(handle).clone())
    }

    /// Creates a meeting (status draft) with its first event, `meeting_created`.
    pub async fn create(&self, by: Actor, header: NewMeeting) -> Result<Arc<MeetingHandle>> {
        let header = header.normalized();
        rules_for_header(&header)?;
        let mut tx = self.db.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO meetings (title, organisation, place, starts_at, status, is_demo, created_at) \
             VALUES (?, ?, ?, ?, 'draft', ?, ?) RETURNING id",
        )
        .bind(&header.title)
        .bind(&header.organisation)
        .bind(&header.place)
        .bind(ts(header.starts_at))
        .bind(header.demo)
        .bind(ts(now()))
        .fetch_one(&mut *tx)
        .await?;
        let meeting = Meeting {
            id: MeetingId(id),
            title: header.title,
            organisation: header.organisation,
            place: header.place,
            starts_at: header.starts_at,
            status: MeetingStatus::Draft,
            current_item: None,
        };
        let event = Event { meeting: meeting.id, seq: 1, at: now(), by, change: Change::MeetingCreated { header: meeting.clone() } };
        append(&mut tx, &event).await?;
        tx.commit().await?;
        let mut state = MeetingState::new(meeting);
        state.seq = 1;
        let handle = Arc::new(MeetingHandle::new(self.db.clone(), state));
        self.open.lock().expect("meeting registry poisoned").insert(MeetingId(id), handle.clone());
        Ok(handle)
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
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    #[serde(skip)]
    pub demo: bool,
}

impl NewMeeting {
    fn normalized(mut self) -> Self {
        use gavel_shared::text::clean;
        self.title = clean(&self.title);
        self.organisation = clean(&self.organisation);
        self.place = clean(&self.place);
        self
    }
}

fn rules_for_header(h: &NewMeeting) -> Result<()> {
    if h.title.is_empty() {
        return Err(gavel_shared::RuleError::Invalid("title must not be empty".into()).into());
    }
    if h.title.chars().count() > rules::MAX_TITLE || h.organisation.chars().count() > rules::MAX_TITLE {
        return Err(gavel_shared::RuleError::Invalid("title or organisation is too long".into()).into());
    }
    Ok(())
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
}

impl Op {
    fn kind(&self) -> CommandKind {
        match self {
            Op::Command(c) => c.kind(),
            Op::AttachDocument(_) => CommandKind::UploadDocument,
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

/// One meeting, live.
pub struct MeetingHandle {
    pub id: MeetingId,
    db: Db,
    state: tokio::sync::Mutex<MeetingState>,
    events: broadcast::Sender<Arc<Event>>,
}

impl MeetingHandle {
    fn new(db: Db, state: MeetingState) -> Self {
        let (events, _) = broadcast::channel(FANOUT_CAPACITY);
        MeetingHandle { id: state.meeting.id, db, state: tokio::sync::Mutex::new(state), events }
    }

    /// A copy of the current state.
    pub async fn state(&self) -> MeetingState {
        self.state.lock().await.clone()
    }

    /// Subscribes to this meeting's events, and returns the state at the
    /// moment of subscribing: every event after `state.seq` will arrive on
    /// the receiver.
    pub async fn subscribe(&self) -> (MeetingState, broadcast::Receiver<Arc<Event>>) {
        let state = self.state.lock().await;
        (state.clone(), self.events.subscribe())
    }

    /// How many connections follow this meeting.
    pub fn subscribers(&self) -> usize {
        self.events.receiver_count()
    }

    /// Checks and applies one change; see the module documentation.
    #[tracing::instrument(skip_all, fields(meeting = %self.id, kind = ?op.kind(), key = %key))]
    pub async fn execute(&self, actor: Actor, key: &str, op: Op) -> Result<Outcome> {
        if key.is_empty() || key.len() > MAX_KEY {
            return Err(Error::bad_request("bad_key", format!("the idempotency key must have 1 to {MAX_KEY} bytes")));
        }
        let op = match op {
            Op::Command(c) => Op::Command(c.normalized()),
            other => other,
        };
        let mut state = self.state.lock().await;
        if let Some(previous) = self.recorded(key).await? {
            return Ok(previous);
        }
        match &op {
            Op::Command(cmd) => rules::check(&state, &actor, cmd)?,
            Op::AttachDocument(d) => {
                rules::allowed(&state, &actor, CommandKind::UploadDocument)?;
                state.item(d.item).ok_or(Error::NotFound("agenda item"))?;
                rules::check_readers(&state, d.confidentiality, &d.readers)?;
            }
        }
        // Slow work (PIN hashing) happens before the transaction opens.
        let pins = match &op {
            Op::Command(Command::AddParticipants { participants }) => Some(new_pins(participants.len()).await?),
            Op::Command(Command::ResetPins { participants }) => Some(new_pins(participants.len()).await?),
            _ => None,
        };
        let mut tx = self.db.begin().await?;
        let (changes, result) = write(&mut tx, &state, &op, pins).await?;
        let at = now();
        let events: Vec<Event> = changes
            .into_iter()
            .enumerate()
            .map(|(i, change)| Event { meeting: self.id, seq: state.seq + 1 + i as u64, at, by: actor, change })
            .collect();
        for e in &events {
            append(&mut tx, e).await?;
        }
        let last = events.last().map(|e| e.seq);
        let result = if events.is_empty() && result == CommandResult::Done { CommandResult::Unchanged } else { result };
        let stored = match &result {
            CommandResult::Pins { pins } => {
                CommandResult::Pins { pins: pins.iter().map(|p| IssuedPin { pin: None, ..p.clone() }).collect() }
            }
            other => other.clone(),
        };
        sqlx::query("INSERT INTO commands (meeting_id, key, kind, last_seq, result) VALUES (?, ?, ?, ?, ?)")
            .bind(self.id.0)
            .bind(key)
            .bind(serde_json::to_string(&op.kind()).unwrap_or_default())
            .bind(last.map(|s| s as i64))
            .bind(serde_json::to_string(&stored).expect("results serialise"))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        for e in events {
            state.apply(&e).map_err(|err| Error::Internal(err.into()))?;
            // No subscriber is not an error: nobody is following the meeting.
            let _ = self.events.send(Arc::new(e));
        }
        Ok(Outcome { seq: last, result, repeated: false })
    }

    async fn recorded(&self, key: &str) -> Result<Option<Outcome>> {
        let row = sqlx::query("SELECT last_seq, result FROM commands WHERE meeting_id = ? AND key = ?")
            .bind(self.id.0)
            .bind(key)
            .fetch_optional(&self.db)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let result: String = row.get("result");
        Ok(Some(Outcome {
            seq: row.get::<Option<i64>, _>("last_seq").map(|s| s as u64),
            result: serde_json::from_str(&result).map_err(|e| Error::Internal(e.into()))?,
            repeated: true,
        }))
    }
}

async fn new_pins(n: usize) -> Result<Vec<(String, String)>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let pin = auth::generate_pin();
        let hash = auth::hash_secret_blocking(pin.clone()).await?;
        out.push((pin, hash));
    }
    Ok(out)
}

type Tx<'a> = sqlx::Transaction<'a, sqlx::Sqlite>;

async fn append(tx: &mut Tx<'_>, e: &Event) -> Result<()> {
    let body = serde_json::to_string(e).expect("events serialise");
    let kind = serde_json::to_value(&e.change).ok().and_then(|v| v["type"].as_str().map(String::from)).unwrap_or_default();
    sqlx::query("INSERT INTO events (meeting_id, seq, at, kind, body) VALUES (?, ?, ?, ?, ?)")
        .bind(e.meeting.0)
        .bind(e.seq as i64)
        .bind(ts(e.at))
        .bind(kind)
        .bind(body)
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
    state: &MeetingState,
    op: &Op,
    pins: Option<Vec<(String, String)>>,
) -> Result<(Vec<Change>, CommandResult)> {
    let m = state.meeting.id.0;
    let done = CommandResult::Done;
    let cmd = match op {
        Op::AttachDocument(d) => {
            let uploaded_at = now();
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO documents (meeting_id, item_id, title, file_name, size, sha256, confidentiality, uploaded_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )
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
        Command::UpdateMeeting { title, organisation, place, starts_at } => {
            sqlx::query("UPDATE meetings SET title = ?, organisation = ?, place = ?, starts_at = ? WHERE id = ?")
                .bind(title)
                .bind(organisation)
                .bind(place)
                .bind(ts(*starts_at))
                .bind(m)
                .execute(&mut **tx)
                .await?;
            let change = Change::MeetingUpdated {
                title: title.clone(),
                organisation: organisation.clone(),
                place: place.clone(),
                starts_at: *starts_at,
            };
            (vec![change], done)
        }
        Command::OpenMeeting => {
            sqlx::query("UPDATE meetings SET status = 'open' WHERE id = ?").bind(m).execute(&mut **tx).await?;
            (vec![Change::MeetingOpened], done)
        }
        Command::CloseMeeting => {
            if let Some(cur) = state.meeting.current_item {
                set_item_status(tx, cur, ItemStatus::Done).await?;
            }
            sqlx::query("UPDATE meetings SET status = 'closed', current_item = NULL WHERE id = ?").bind(m).execute(&mut **tx).await?;
            (vec![Change::MeetingClosed], done)
        }
        Command::AddItem { title, presenter, summary, position } => {
            let pos = position.unwrap_or(state.agenda.len()).min(state.agenda.len());
            sqlx::query("UPDATE agenda_items SET position = position + 1 WHERE meeting_id = ? AND position >= ?")
                .bind(m)
                .bind(pos as i64)
                .execute(&mut **tx)
                .await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO agenda_items (meeting_id, position, title, presenter, summary, status) \
                 VALUES (?, ?, ?, ?, ?, 'pending') RETURNING id",
            )
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
            (vec![Change::ItemRemoved { item: *item }], done)
        }
        Command::MoveItem { item, position } => {
            let from = state.item_index(*item).ok_or(Error::NotFound("agenda item"))?;
            let mut order = state.agenda.clone();
            let it = order.remove(from);
            let to = (*position).min(order.len());
            order.insert(to, it);
            if to == from {
                return Ok((vec![], done));
            }
            write_positions(tx, &order).await?;
            (vec![Change::ItemMoved { item: *item, position: to }], done)
        }
        Command::GoToItem { .. } | Command::NextItem | Command::PreviousItem => {
            let Some(target) = rules::agenda_target(state, cmd)? else { return Ok((vec![], done)) };
            let previous = state.meeting.current_item;
            if let Some(prev) = previous {
                set_item_status(tx, prev, ItemStatus::Done).await?;
            }
            set_item_status(tx, target, ItemStatus::Current).await?;
            sqlx::query("UPDATE meetings SET current_item = ? WHERE id = ?").bind(target.0).bind(m).execute(&mut **tx).await?;
            (vec![Change::CurrentItemChanged { item: Some(target), previous }], done)
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
            let participant = Participant {
                id: *participant,
                name: name.clone(),
                position: position.clone(),
                role: *role,
                member: *member,
                voting: *voting,
            };
            (vec![Change::ParticipantUpdated { participant }], done)
        }
        Command::RemoveParticipant { participant } => {
            sqlx::query("DELETE FROM participants WHERE id = ?").bind(participant.0).execute(&mut **tx).await?;
            (vec![Change::ParticipantRemoved { participant: *participant }], done)
        }
        Command::ResetPins { participants } => {
            let pins = pins.expect("PINs are made before the transaction");
            let mut changes = Vec::new();
            let mut issued = Vec::new();
            for (id, (pin, hash)) in participants.iter().zip(pins) {
                sqlx::query("UPDATE participants SET pin_hash = ? WHERE id = ?").bind(hash).bind(id.0).execute(&mut **tx).await?;
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
            let mut doc = state.document(*document).cloned().ok_or(Error::NotFound("document"))?;
            doc.title = title.clone();
            doc.confidentiality = *confidentiality;
            doc.readers = readers.clone();
            (vec![Change::DocumentUpdated { document: doc }], done)
        }
        Command::RemoveDocument { document } => {
            sqlx::query("DELETE FROM documents WHERE id = ?").bind(document.0).execute(&mut **tx).await?;
            (vec![Change::DocumentRemoved { document: *document }], done)
        }
        Command::Unknown => return Err(gavel_shared::RuleError::UnknownCommand.into()),
    })
}

async fn insert_participant(tx: &mut Tx<'_>, meeting: MeetingId, p: &NewParticipant, pin_hash: &str) -> Result<Participant> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO participants (meeting_id, name, position, role, member, voting, pin_hash, added_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
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
    })
}
