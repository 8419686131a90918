//! The wire protocol: commands in, events out.
//!
//! Every message is one JSON object with a `type` field, sent as a WebSocket
//! text frame (and, later, a QUIC control-stream frame). Messages larger than
//! [`MAX_MESSAGE_BYTES`] are refused before they are parsed. Unknown message
//! and command types decode to an `Unknown` variant, so an older server
//! answers a newer client with a clear error instead of dropping the line.
//! `docs/protocol.md` shows every message with an example.

use crate::decision::*;
use crate::minutes::*;
use crate::model::*;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// The largest message accepted, in bytes, checked before decoding. Every
/// text the rules take must fit, or a valid command (a minutes section of
/// 100,000 characters) could never be sent: at up to 4 bytes a character it
/// is under this. (Participants in their thousands are imported over
/// HTTP.) The room's transports read frames of up to 4 MiB before this
/// check, so it costs the room no memory; a tablet agent's queue of
/// commands for the room is bounded by it.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// A change a client asks for. The server answers each with an
/// [`ServerMessage::Ack`] or an [`ServerMessage::Error`] carrying the
/// client's idempotency key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// Secretary: edit the meeting's header.
    UpdateMeeting {
        title: String,
        organisation: String,
        place: String,
        /// The minutes' place name (địa danh); see [`Meeting::locality`].
        #[serde(default)]
        locality: String,
        #[serde(with = "time::serde::rfc3339")]
        starts_at: OffsetDateTime,
    },
    /// Chair: open the session (draft → open).
    OpenMeeting,
    /// Chair: close the session (open → closed). Final.
    CloseMeeting,
    /// Secretary: add an agenda item, at the end or at `position` (0-based).
    AddItem {
        title: String,
        #[serde(default)]
        presenter: String,
        #[serde(default)]
        summary: String,
        #[serde(default)]
        position: Option<usize>,
    },
    /// Secretary: edit an agenda item.
    UpdateItem { item: ItemId, title: String, presenter: String, summary: String },
    /// Secretary: remove an agenda item that is not current (and its documents).
    RemoveItem { item: ItemId },
    /// Secretary: move an agenda item to `position` (0-based).
    MoveItem { item: ItemId, position: usize },
    /// Chair: make `item` the current item.
    GoToItem { item: ItemId },
    /// Chair: move to the item after the current one (or the first).
    /// `from`, when given, is the item the chair saw current (0: none, the
    /// meeting just opened): if the agenda moved meanwhile (another chair's
    /// device, pressed at the same moment), the move is refused rather than
    /// taken a second time, which passed over an item and marked it discussed.
    NextItem {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<ItemId>,
    },
    /// Chair: move back to the item before the current one (`from` as for
    /// [`Command::NextItem`]).
    PreviousItem {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<ItemId>,
    },
    /// Secretary: add participants; the acknowledgement carries their PINs.
    AddParticipants { participants: Vec<NewParticipant> },
    /// Secretary: edit a participant.
    UpdateParticipant {
        participant: ParticipantId,
        name: String,
        #[serde(default)]
        position: String,
        role: Role,
        member: bool,
        voting: bool,
    },
    /// Secretary: remove a participant (and their sessions).
    RemoveParticipant { participant: ParticipantId },
    /// Secretary: give participants new PINs (to print sign-in cards); the
    /// acknowledgement carries them, and only it.
    ResetPins { participants: Vec<ParticipantId> },
    /// Secretary: edit a document's title and who may read it.
    UpdateDocument {
        document: DocumentId,
        title: String,
        confidentiality: Confidentiality,
        #[serde(default)]
        readers: Vec<ParticipantId>,
    },
    /// Secretary: remove a document.
    RemoveDocument { document: DocumentId },
    /// Secretary: mark a participant present, absent or excused (with a reason).
    SetAttendance {
        participant: ParticipantId,
        attendance: Attendance,
        #[serde(default)]
        reason: String,
    },
    /// Secretary: the share of members that makes a quorum.
    SetQuorumRule { share: Share },
    /// Chair or secretary: the speaking time per speech (0: no limit).
    SetSpeechLimit { seconds: u32 },
    /// Chair or secretary: prepare a poll on an agenda item.
    CreatePoll {
        item: ItemId,
        question: String,
        kind: PollKind,
        /// Ignored for yes/no polls (their options are fixed).
        #[serde(default)]
        options: Vec<String>,
        #[serde(default = "one")]
        max_choices: u8,
        secret: bool,
        #[serde(default)]
        allow_change: bool,
        #[serde(default)]
        rule: MajorityRule,
    },
    /// Chair: open a poll for voting.
    OpenPoll { poll: PollId },
    /// Chair: close a poll; its result is published and never changes.
    ClosePoll { poll: PollId },
    /// Chair: cancel a poll, with a reason.
    CancelPoll { poll: PollId, reason: String },
    /// A present participant with the voting flag: vote.
    CastBallot { poll: PollId, choices: Vec<u8> },
    /// Secretary: record the vote of a present voter whose tablet failed.
    CastBallotFor { poll: PollId, voter: ParticipantId, choices: Vec<u8> },
    /// Secretary: record the counts of a show of hands, per option.
    RecordHands { poll: PollId, counts: Vec<u32> },
    /// A participant: ask to speak on the current item.
    RequestToSpeak,
    /// A participant: withdraw the request.
    WithdrawRequest,
    /// Chair: take someone's request to speak off the list (they stepped
    /// out, or forgot to withdraw it once answered).
    DismissRequest { participant: ParticipantId },
    /// Chair: give the floor (to the first in the queue when none is named).
    /// `from`, when given, is who the chair saw speaking (0: nobody): if the
    /// floor changed meanwhile ("next speaker" pressed on two devices at
    /// once), refused rather than taken twice, which cut the first speaker
    /// off at once.
    GiveFloor {
        #[serde(default)]
        participant: Option<ParticipantId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<ParticipantId>,
    },
    /// Chair: end the current speech.
    EndSpeech,
    /// A participant: a written opinion on an item or one of its documents.
    AddOpinion {
        item: ItemId,
        #[serde(default)]
        document: Option<DocumentId>,
        stance: Stance,
        #[serde(default)]
        text: String,
    },
    /// Chair or secretary: ask every member for written opinions on an item
    /// by a deadline (server time).
    RequestOpinions {
        item: ItemId,
        #[serde(with = "time::serde::rfc3339")]
        deadline: OffsetDateTime,
    },
    /// Secretary: write a section of the minutes (while they are a draft).
    EditMinutes { section: SectionKey, text: String },
    /// Secretary: the minutes' number and symbol ("15/BB-UBND").
    SetMinutesNumber { number: String },
    /// Secretary: send the draft to the members for comments.
    SendMinutesForComments,
    /// A participant: comment on a section of minutes in review.
    CommentMinutes { section: SectionKey, text: String },
    /// Chair: approve the minutes (after the meeting is closed).
    ApproveMinutes,
    /// Chair: have the server export and sign the approved minutes. Fixed after.
    SignMinutes,
    /// Secretary: start a correction of signed minutes (a new version; the
    /// signed one is kept).
    ReviseMinutes,
    /// Secretary: minutes sent for comments or approved back to the draft,
    /// the same version, to work the members' comments in or fix what the
    /// chair found (approved again after). Not a correction: a command of
    /// its own, so that one sent as the chair signs is refused rather than
    /// starting a new version.
    TakeBackMinutes,
    /// A command this server does not know (sent by a newer client).
    #[serde(other)]
    Unknown,
}

fn one() -> u8 {
    1
}

/// A document's number as Decree 30 writes it: below 10 with a leading
/// zero ("5/BB-UBND" is "05/BB-UBND"); anything else as typed.
fn document_number(number: &str) -> String {
    let mut chars = number.chars();
    match (chars.next(), chars.next()) {
        (Some(d), Some('/')) if d.is_ascii_digit() => format!("0{number}"),
        _ => number.to_string(),
    }
}

/// A participant to add.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewParticipant {
    pub name: String,
    #[serde(default)]
    pub position: String,
    pub role: Role,
    pub member: bool,
    pub voting: bool,
}

/// The name of a command's kind, for the rights table, logs and errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    UpdateMeeting,
    OpenMeeting,
    CloseMeeting,
    AddItem,
    UpdateItem,
    RemoveItem,
    MoveItem,
    GoToItem,
    NextItem,
    PreviousItem,
    AddParticipants,
    UpdateParticipant,
    RemoveParticipant,
    ResetPins,
    UploadDocument,
    UpdateDocument,
    RemoveDocument,
    SetAttendance,
    SetQuorumRule,
    SetSpeechLimit,
    CreatePoll,
    OpenPoll,
    ClosePoll,
    CancelPoll,
    CastBallot,
    CastBallotFor,
    RecordHands,
    RequestToSpeak,
    WithdrawRequest,
    DismissRequest,
    GiveFloor,
    EndSpeech,
    AddOpinion,
    RequestOpinions,
    EditMinutes,
    SetMinutesNumber,
    SendMinutesForComments,
    CommentMinutes,
    ApproveMinutes,
    SignMinutes,
    ReviseMinutes,
    TakeBackMinutes,
    Unknown,
}

impl Command {
    /// This command's kind.
    pub fn kind(&self) -> CommandKind {
        match self {
            Command::UpdateMeeting { .. } => CommandKind::UpdateMeeting,
            Command::OpenMeeting => CommandKind::OpenMeeting,
            Command::CloseMeeting => CommandKind::CloseMeeting,
            Command::AddItem { .. } => CommandKind::AddItem,
            Command::UpdateItem { .. } => CommandKind::UpdateItem,
            Command::RemoveItem { .. } => CommandKind::RemoveItem,
            Command::MoveItem { .. } => CommandKind::MoveItem,
            Command::GoToItem { .. } => CommandKind::GoToItem,
            Command::NextItem { .. } => CommandKind::NextItem,
            Command::PreviousItem { .. } => CommandKind::PreviousItem,
            Command::AddParticipants { .. } => CommandKind::AddParticipants,
            Command::UpdateParticipant { .. } => CommandKind::UpdateParticipant,
            Command::RemoveParticipant { .. } => CommandKind::RemoveParticipant,
            Command::ResetPins { .. } => CommandKind::ResetPins,
            Command::UpdateDocument { .. } => CommandKind::UpdateDocument,
            Command::RemoveDocument { .. } => CommandKind::RemoveDocument,
            Command::SetAttendance { .. } => CommandKind::SetAttendance,
            Command::SetQuorumRule { .. } => CommandKind::SetQuorumRule,
            Command::SetSpeechLimit { .. } => CommandKind::SetSpeechLimit,
            Command::CreatePoll { .. } => CommandKind::CreatePoll,
            Command::OpenPoll { .. } => CommandKind::OpenPoll,
            Command::ClosePoll { .. } => CommandKind::ClosePoll,
            Command::CancelPoll { .. } => CommandKind::CancelPoll,
            Command::CastBallot { .. } => CommandKind::CastBallot,
            Command::CastBallotFor { .. } => CommandKind::CastBallotFor,
            Command::RecordHands { .. } => CommandKind::RecordHands,
            Command::RequestToSpeak => CommandKind::RequestToSpeak,
            Command::WithdrawRequest => CommandKind::WithdrawRequest,
            Command::DismissRequest { .. } => CommandKind::DismissRequest,
            Command::GiveFloor { .. } => CommandKind::GiveFloor,
            Command::EndSpeech => CommandKind::EndSpeech,
            Command::AddOpinion { .. } => CommandKind::AddOpinion,
            Command::RequestOpinions { .. } => CommandKind::RequestOpinions,
            Command::EditMinutes { .. } => CommandKind::EditMinutes,
            Command::SetMinutesNumber { .. } => CommandKind::SetMinutesNumber,
            Command::SendMinutesForComments => CommandKind::SendMinutesForComments,
            Command::CommentMinutes { .. } => CommandKind::CommentMinutes,
            Command::ApproveMinutes => CommandKind::ApproveMinutes,
            Command::SignMinutes => CommandKind::SignMinutes,
            Command::ReviseMinutes => CommandKind::ReviseMinutes,
            Command::TakeBackMinutes => CommandKind::TakeBackMinutes,
            Command::Unknown => CommandKind::Unknown,
        }
    }

    /// The command with every text in Unicode NFC and trimmed, as it will be
    /// stored (see [`crate::text`]).
    pub fn normalized(mut self) -> Self {
        use crate::text::{clean, clean_lines, clean_multiline};
        match &mut self {
            Command::UpdateMeeting { title, organisation, place, locality, .. } => {
                *title = clean(title);
                // Decree 30 heads a document with the governing body on a
                // line above the organisation: the lines are kept.
                *organisation = clean_lines(organisation);
                *place = clean(place);
                *locality = clean(locality);
            }
            Command::AddItem { title, presenter, summary, .. } | Command::UpdateItem { title, presenter, summary, .. } => {
                *title = clean(title);
                *presenter = clean(presenter);
                *summary = clean_multiline(summary);
            }
            Command::AddParticipants { participants } => {
                for p in participants {
                    p.name = clean(&p.name);
                    p.position = clean(&p.position);
                }
            }
            Command::UpdateParticipant { name, position, .. } => {
                *name = clean(name);
                *position = clean(position);
            }
            Command::UpdateDocument { title, readers, .. } => {
                *title = clean(title);
                readers.sort();
                readers.dedup();
            }
            Command::SetAttendance { reason, .. } => *reason = clean(reason),
            Command::CreatePoll { question, options, .. } => {
                *question = clean_multiline(question);
                for o in options.iter_mut() {
                    *o = clean(o);
                }
            }
            Command::CancelPoll { reason, .. } => *reason = clean(reason),
            Command::AddOpinion { text, .. } | Command::EditMinutes { text, .. } | Command::CommentMinutes { text, .. } => {
                *text = clean_multiline(text)
            }
            Command::SetMinutesNumber { number } => *number = document_number(&clean(number)),
            _ => {}
        }
        self
    }
}

/// One change to a meeting, as recorded in its event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    /// The meeting's first event. (Not `meeting`: that name is the event's
    /// own field, and the change is flattened into the event.)
    MeetingCreated {
        header: Meeting,
    },
    MeetingUpdated {
        title: String,
        organisation: String,
        place: String,
        #[serde(default)]
        locality: String,
        #[serde(with = "time::serde::rfc3339")]
        starts_at: OffsetDateTime,
    },
    MeetingOpened,
    MeetingClosed,
    ItemAdded {
        item: AgendaItem,
        position: usize,
    },
    ItemUpdated {
        item: AgendaItem,
    },
    ItemRemoved {
        item: ItemId,
    },
    ItemMoved {
        item: ItemId,
        position: usize,
    },
    /// The current item changed; the previous one (if any) is now done.
    CurrentItemChanged {
        item: Option<ItemId>,
        previous: Option<ItemId>,
    },
    ParticipantAdded {
        participant: Participant,
    },
    ParticipantUpdated {
        participant: Participant,
    },
    ParticipantRemoved {
        participant: ParticipantId,
    },
    /// A participant was given a new PIN (the PIN itself is never an event).
    PinReset {
        participant: ParticipantId,
    },
    DocumentAdded {
        document: Document,
    },
    DocumentUpdated {
        document: Document,
        /// The document as it was, kept in the room's log to tell who could
        /// read it before: never sent to a client.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        was: Option<Box<Document>>,
    },
    /// A document was removed, or is no longer readable by this viewer.
    DocumentRemoved {
        document: DocumentId,
        /// As for [`Change::DocumentUpdated`]: who could read it, in the log only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        was: Option<Box<Document>>,
    },
    AttendanceChanged {
        participant: ParticipantId,
        attendance: Attendance,
        reason: String,
    },
    QuorumRuleChanged {
        share: Share,
    },
    SpeechLimitChanged {
        seconds: u32,
    },
    PollCreated {
        poll: Poll,
    },
    PollOpened {
        poll: PollId,
    },
    /// Someone voted. `choices` only in named polls, and only for the chair
    /// and secretary while the poll is open; never in secret polls.
    BallotCast {
        poll: PollId,
        voter: ParticipantId,
        choices: Option<Vec<u8>>,
        by_secretary: bool,
    },
    HandsRecorded {
        poll: PollId,
        counts: Vec<u32>,
        /// The members present when they were counted (absent from events
        /// written before it was kept).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        present: Vec<ParticipantId>,
    },
    /// The result, fixed; for a named poll, every ballot (now public).
    PollClosed {
        poll: PollId,
        result: PollResult,
        ballots: Vec<NamedBallot>,
    },
    PollCancelled {
        poll: PollId,
        reason: String,
    },
    SpeakRequested {
        participant: ParticipantId,
    },
    SpeakWithdrawn {
        participant: ParticipantId,
    },
    FloorGiven {
        floor: Floor,
    },
    SpeechEnded {
        participant: ParticipantId,
    },
    OpinionAdded {
        opinion: Opinion,
    },
    OpinionsRequested {
        request: OpinionRequest,
    },
    MinutesEdited {
        section: SectionKey,
        text: String,
    },
    MinutesNumberSet {
        number: String,
    },
    /// The draft goes to the members: its text, which only the chair and
    /// the secretary saw while it was written, comes with it (rooms before
    /// this carried none).
    MinutesSentForComments {
        #[serde(default)]
        sections: Vec<(SectionKey, String)>,
    },
    MinutesCommented {
        comment: MinutesComment,
    },
    /// Approved; the text as approved, as with [`Change::MinutesSentForComments`].
    MinutesApproved {
        #[serde(default)]
        sections: Vec<(SectionKey, String)>,
    },
    MinutesSigned {
        signed: SignedVersion,
    },
    /// The minutes are a draft again as version `version`: a correction
    /// began (a new version), or they were taken back (the same one).
    MinutesRevised {
        version: u32,
    },
    /// An event this client may not see the content of; it still advances `seq`.
    Hidden,
    /// An event of a kind this client does not know; it still advances `seq`.
    #[serde(other)]
    Unknown,
}

impl Change {
    /// The participant whose own view of the meeting this may change (their
    /// role, membership or place in it): they are sent a fresh snapshot
    /// rather than this event applied to a copy made for the old view.
    pub fn view_of(&self) -> Option<ParticipantId> {
        match self {
            Change::ParticipantUpdated { participant } => Some(participant.id),
            Change::ParticipantRemoved { participant } => Some(*participant),
            _ => None,
        }
    }
}

/// One entry of a meeting's event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub meeting: MeetingId,
    /// Strictly increasing per meeting, starting at 1, no gaps.
    pub seq: u64,
    /// Server time of the commit.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who caused it.
    pub by: Actor,
    #[serde(flatten)]
    pub change: Change,
}

/// What a successful command returns to its sender only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CommandResult {
    /// Applied; nothing to return.
    Done,
    /// Applied, and nothing needed changing (for example `NextItem` at the end).
    Unchanged,
    /// Created an object.
    Created { id: i64 },
    /// New PINs, shown once (to print sign-in cards). A repeated command
    /// returns the same participants with `pin: null`: PINs are kept only
    /// hashed.
    Pins { pins: Vec<IssuedPin> },
}

/// A PIN given to one participant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedPin {
    pub participant: ParticipantId,
    pub name: String,
    pub pin: Option<String>,
}

/// What a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// First message: which meeting to follow and the last `seq` the client
    /// holds (none for a fresh copy).
    Hello {
        meeting: MeetingId,
        #[serde(default)]
        last_seq: Option<u64>,
        #[serde(default = "default_version")]
        version: u32,
    },
    /// A command, with a client-made idempotency key (unique per meeting;
    /// a repeated key returns the first result and changes nothing).
    Command { key: String, command: Command },
    /// Signs a participant in on this connection (native clients over QUIC,
    /// which carry no cookie); answered with [`ServerMessage::SignedIn`].
    SignIn {
        meeting: MeetingId,
        participant: ParticipantId,
        pin: String,
        /// Signing in from outside the room: not marked present.
        #[serde(default)]
        remote: bool,
    },
    /// Resumes a session with the token a sign-in returned.
    Resume { token: String },
    /// Asks for the server's clock (answered with [`ServerMessage::Pong`]).
    Ping {
        #[serde(default)]
        nonce: u64,
    },
    #[serde(other)]
    Unknown,
}

fn default_version() -> u32 {
    PROTOCOL_VERSION
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Answer to `hello`: who the server thinks you are, and its clock.
    Welcome {
        version: u32,
        actor: Actor,
        #[serde(with = "time::serde::rfc3339")]
        server_time: OffsetDateTime,
    },
    /// Signed in on this connection; `token` (after `sign_in`) resumes the
    /// session on a later connection.
    SignedIn {
        actor: Actor,
        name: String,
        #[serde(default)]
        token: Option<String>,
    },
    /// The whole state as this client may see it; events follow from `state.seq + 1`.
    Snapshot { state: crate::state::MeetingState },
    /// One event, in `seq` order.
    Event { event: Event },
    /// A command was applied (or had been, for a repeated key).
    Ack {
        key: String,
        /// The `seq` of the last event the command appended, if any.
        seq: Option<u64>,
        result: CommandResult,
    },
    /// Something went wrong; `key` names the command, if it was one.
    Error {
        #[serde(default)]
        key: Option<String>,
        code: String,
        message: String,
    },
    /// The server's clock.
    Pong {
        nonce: u64,
        #[serde(with = "time::serde::rfc3339")]
        server_time: OffsetDateTime,
    },
    /// Sent by a tablet agent to the tablet's browser only: whether the agent
    /// reaches the room now. While it does not, the browser shows the last
    /// known state and the cached documents, and commands are refused
    /// with `offline`.
    RoomLink {
        online: bool,
        /// Why the room refuses this tablet, while it does (a new
        /// certificate, a locked sign-in, another version): someone must
        /// act, and meanwhile the tablet shows what it keeps.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refused: Option<String>,
        /// The refusal's code (the room's, or the agent's own:
        /// `wrong_room`, `agent_version`, `pin_needed`), for the browser to
        /// say it in the user's language.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refused_code: Option<String>,
    },
    /// Sent by a tablet agent to the tablet's browser only: how many of the
    /// documents the participant may read the tablet holds, and, when it
    /// cannot keep them (its storage is full or failing), why; and the
    /// documents the room would not give it, each with the room's words.
    TabletPack {
        docs_done: usize,
        docs_total: usize,
        problem: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        refused: Vec<NotGiven>,
    },
}

/// A document the room would not give a tablet, as its agent tells the
/// tablet's browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotGiven {
    pub document: DocumentId,
    /// The room's code for why, which the page says in its language;
    /// empty when the tablet itself failed.
    #[serde(default)]
    pub code: String,
    /// The room's words (or the tablet's, without a code).
    pub why: String,
}

/// Why a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("message of {size} bytes is larger than the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("malformed message: {0}")]
    Malformed(String),
}

impl ProtocolError {
    /// The stable error code sent to clients.
    pub fn code(&self) -> &'static str {
        match self {
            ProtocolError::TooLarge { .. } => "message_too_large",
            ProtocolError::Malformed(_) => "malformed_message",
        }
    }
}

/// Decodes a client message, checking its size before parsing.
pub fn decode_client(text: &str) -> Result<ClientMessage, ProtocolError> {
    check_size(text.len())?;
    serde_json::from_str(text).map_err(|e| ProtocolError::Malformed(e.to_string()))
}

/// The key of a command that could not be decoded (a field of the wrong
/// kind, one missing), so its refusal reaches the one waiting on that key
/// instead of leaving it waiting for an answer that never names it.
pub fn command_key(text: &str) -> Option<String> {
    check_size(text.len()).ok()?;
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    (v.get("type")?.as_str()? == "command").then(|| v.get("key")?.as_str().map(String::from)).flatten()
}

/// Decodes a server message, checking its size before parsing. Snapshots may
/// be large, so the limit is the caller's.
pub fn decode_server(text: &str, limit: usize) -> Result<ServerMessage, ProtocolError> {
    if text.len() > limit {
        return Err(ProtocolError::TooLarge { size: text.len(), limit });
    }
    serde_json::from_str(text).map_err(|e| ProtocolError::Malformed(e.to_string()))
}

/// Fails when a message of `size` bytes is over [`MAX_MESSAGE_BYTES`].
pub fn check_size(size: usize) -> Result<(), ProtocolError> {
    if size > MAX_MESSAGE_BYTES { Err(ProtocolError::TooLarge { size, limit: MAX_MESSAGE_BYTES }) } else { Ok(()) }
}

/// Encodes any message as JSON.
pub fn encode<T: Serialize>(msg: &T) -> String {
    serde_json::to_string(msg).expect("protocol messages always serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip_with_a_type_tag() {
        let cmd = Command::GoToItem { item: ItemId(7) };
        let json = encode(&cmd);
        assert_eq!(json, r#"{"type":"go_to_item","item":7}"#);
        assert_eq!(serde_json::from_str::<Command>(&json).unwrap(), cmd);
    }

    #[test]
    fn unknown_command_and_message_types_decode_to_unknown() {
        let msg = decode_client(r#"{"type":"command","key":"k1","command":{"type":"launch_rocket"}}"#).unwrap();
        assert_eq!(msg, ClientMessage::Command { key: "k1".into(), command: Command::Unknown });
        assert_eq!(decode_client(r#"{"type":"subscribe_v9"}"#).unwrap(), ClientMessage::Unknown);
    }

    #[test]
    fn oversized_messages_are_refused_before_parsing() {
        let big = format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(MAX_MESSAGE_BYTES));
        let err = decode_client(&big).unwrap_err();
        assert_eq!(err.code(), "message_too_large");
    }

    #[test]
    fn the_longest_texts_the_rules_take_fit_in_one_message() {
        use crate::minutes::SectionKey;
        use crate::model::{ItemId, PollId};
        use crate::rules::{MAX_NAME, MAX_OPINION, MAX_OPTIONS, MAX_SUMMARY, MAX_TITLE};
        // The widest characters UTF-8 has: 4 bytes each (an escaped quote
        // or newline takes 2). A batch of participants goes over HTTP.
        let text = |n: usize| "𝔸".repeat(n);
        let longest = [
            Command::EditMinutes { section: SectionKey::Item(ItemId(1)), text: text(MAX_OPINION * 5) },
            Command::CommentMinutes { section: SectionKey::Opening, text: text(MAX_OPINION) },
            Command::AddOpinion { item: ItemId(1), document: None, stance: Stance::Comment, text: text(MAX_OPINION) },
            Command::CreatePoll {
                item: ItemId(1),
                question: text(MAX_SUMMARY),
                kind: PollKind::Choice,
                options: vec![text(MAX_NAME); MAX_OPTIONS],
                max_choices: 1,
                secret: false,
                allow_change: false,
                rule: Default::default(),
            },
            Command::AddItem { title: text(MAX_TITLE), presenter: text(200), summary: text(MAX_SUMMARY), position: None },
            Command::CancelPoll { poll: PollId(1), reason: text(MAX_TITLE) },
        ];
        for command in longest {
            let size = encode(&ClientMessage::Command { key: "k".repeat(64), command }).len();
            assert!(check_size(size).is_ok(), "a valid command of {size} bytes cannot be sent");
        }
    }

    #[test]
    fn malformed_messages_have_a_code() {
        assert_eq!(decode_client("{not json").unwrap_err().code(), "malformed_message");
        assert_eq!(decode_client(r#"{"type":"hello"}"#).unwrap_err().code(), "malformed_message");
    }

    #[test]
    fn events_flatten_their_change() {
        let ev = Event {
            meeting: MeetingId(1),
            seq: 3,
            at: time::macros::datetime!(2026-11-23 08:00 UTC),
            by: Actor::System,
            change: Change::CurrentItemChanged { item: Some(ItemId(2)), previous: None },
        };
        let v: serde_json::Value = serde_json::from_str(&encode(&ev)).unwrap();
        assert_eq!(v["type"], "current_item_changed");
        assert_eq!(v["seq"], 3);
        assert_eq!(v["at"], "2026-11-23T08:00:00Z");
        assert_eq!(serde_json::from_value::<Event>(v).unwrap(), ev);
    }

    #[test]
    fn normalization_applies_nfc_to_every_text() {
        let cmd = Command::AddItem {
            title: "  Ba\u{0301}o ca\u{0301}o  ".into(),
            presenter: "Vu\u{0303}".into(),
            summary: String::new(),
            position: None,
        }
        .normalized();
        match cmd {
            Command::AddItem { title, presenter, .. } => {
                assert_eq!(title, "Báo cáo");
                assert_eq!(presenter, "Vũ");
            }
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_minutes_number_below_ten_gets_its_leading_zero() {
        let number = |n: &str| match (Command::SetMinutesNumber { number: n.into() }).normalized() {
            Command::SetMinutesNumber { number } => number,
            _ => unreachable!(),
        };
        assert_eq!(number(" 5/BB-UBND "), "05/BB-UBND");
        assert_eq!(number("05/BB-UBND"), "05/BB-UBND");
        assert_eq!(number("15/BB-UBND"), "15/BB-UBND");
        assert_eq!(number("BB-UBND"), "BB-UBND");
        assert_eq!(number(""), "");
    }
}

#[cfg(test)]
mod roundtrip {
    use super::*;

    #[test]
    fn every_kind_of_event_round_trips_through_json() {
        let at = time::macros::datetime!(2026-11-23 08:00 UTC);
        let header = Meeting {
            id: MeetingId(1),
            title: "Họp".into(),
            organisation: String::new(),
            place: String::new(),
            locality: String::new(),
            starts_at: at,
            status: MeetingStatus::Draft,
            current_item: None,
            quorum: Default::default(),
            speech_limit_secs: DEFAULT_SPEECH_LIMIT_SECS,
        };
        let changes = vec![
            Change::MeetingCreated { header },
            Change::MeetingUpdated {
                title: "Họp".into(),
                organisation: "UBND".into(),
                place: "P1".into(),
                locality: "Hà Nội".into(),
                starts_at: at,
            },
            Change::MeetingOpened,
            Change::ItemMoved { item: ItemId(1), position: 2 },
            Change::PinReset { participant: ParticipantId(3) },
            Change::Hidden,
        ];
        for change in changes {
            let ev = Event { meeting: MeetingId(1), seq: 2, at, by: Actor::Staff { staff: StaffId(1) }, change };
            let json = encode(&ev);
            let back: Event = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(back, ev);
        }
    }
}
