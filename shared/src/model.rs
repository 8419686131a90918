//! The meeting model: what a meeting is made of, as every client sees it.

use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(/// A meeting, unique in the store.
    MeetingId);
id_type!(/// A participant of one meeting, unique in the store.
    ParticipantId);
id_type!(/// An agenda item, unique in the store.
    ItemId);
id_type!(/// A document attached to an agenda item, unique in the store.
    DocumentId);
id_type!(/// A staff account (administrator or secretary) at the server level.
    StaffId);
id_type!(/// A poll (biểu quyết), unique in the store.
    PollId);
id_type!(/// A written opinion, unique in the store.
    OpinionId);
id_type!(/// A request for written opinions, unique in the store.
    OpinionRequestId);

/// Where a meeting is in its life. It only moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingStatus {
    /// Being prepared by the secretary; participants may look at the pack.
    Draft,
    /// In session: the chair drives the agenda.
    Open,
    /// Over: only the minutes are finished, and written opinions asked
    /// for by a deadline still come in (`rules::opinions_taken`).
    Closed,
}

impl MeetingStatus {
    /// The stable name used in the database and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }

    /// Parses [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "draft" => Some(Self::Draft),
            "open" => Some(Self::Open),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

/// A participant's role in one meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Chairs the meeting: drives the agenda, opens and closes it.
    Chair,
    /// Prepares the meeting and keeps the minutes.
    Secretary,
    /// Takes part: reads, speaks, votes when entitled.
    Delegate,
    /// Follows the meeting without taking part in decisions.
    Observer,
}

impl Role {
    /// Every role, in the order lists show them.
    pub const ALL: [Role; 4] = [Role::Chair, Role::Secretary, Role::Delegate, Role::Observer];

    /// The stable name used in the database, CSV files and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Chair => "chair",
            Self::Secretary => "secretary",
            Self::Delegate => "delegate",
            Self::Observer => "observer",
        }
    }

    /// Parses a role name, English or Vietnamese (as a secretary types it in
    /// a CSV file), case- and accent-insensitive.
    pub fn parse(s: &str) -> Option<Self> {
        let s = crate::text::slug(s);
        match s.as_str() {
            "chair" | "chu-tri" | "chu-toa" | "chu-tich" => Some(Self::Chair),
            "secretary" | "thu-ky" => Some(Self::Secretary),
            "delegate" | "dai-bieu" | "thanh-vien" | "uy-vien" | "member" => Some(Self::Delegate),
            "observer" | "du-thinh" | "khach-moi" | "quan-sat" => Some(Self::Observer),
            _ => None,
        }
    }
}

/// Where an agenda item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Not finished: not reached yet, or being discussed for the first time
    /// (which item is current is the meeting's `current_item`).
    Pending,
    /// Under discussion, as rooms before the meeting's `current_item`
    /// alone said so wrote it; read as not yet finished.
    Current,
    /// Discussed.
    Done,
}

impl ItemStatus {
    /// The stable name used in the database and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Current => "current",
            Self::Done => "done",
        }
    }

    /// Parses [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "current" => Some(Self::Current),
            "done" => Some(Self::Done),
            _ => None,
        }
    }
}

/// Who may read a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Confidentiality {
    /// Everyone signed in to the meeting.
    Public,
    /// Members of the meeting (and its chair and secretary).
    Members,
    /// The participants named on the document (and the chair and secretary).
    Named,
    /// State secret ("mật"): the participants named on it, and the chair,
    /// the secretary and staff, who prepare and manage it (as for `Named`);
    /// refused at upload unless the room allows it.
    Secret,
}

impl Confidentiality {
    /// The stable name used in the database and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Members => "members",
            Self::Named => "named",
            Self::Secret => "secret",
        }
    }

    /// Parses [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(Self::Public),
            "members" => Some(Self::Members),
            "named" => Some(Self::Named),
            "secret" => Some(Self::Secret),
            _ => None,
        }
    }

    /// Read by the participants it names (`named`, `secret`), not by a
    /// whole group.
    pub fn lists_readers(self) -> bool {
        matches!(self, Self::Named | Self::Secret)
    }
}

/// One row of the lobby's meeting list (`GET /api/meetings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingSummary {
    pub id: MeetingId,
    pub title: String,
    pub organisation: String,
    pub status: MeetingStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
}

/// A meeting's header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meeting {
    pub id: MeetingId,
    pub title: String,
    /// The organisation holding the meeting (for the minutes' heading).
    pub organisation: String,
    pub place: String,
    /// The place name of the minutes' date line ("Hà Nội, ngày …"): the
    /// locality (địa danh) of Decree 30, not the room.
    #[serde(default)]
    pub locality: String,
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    pub status: MeetingStatus,
    /// The agenda item under discussion, if any.
    pub current_item: Option<ItemId>,
    /// The share of members that must be present (a new meeting's: two
    /// thirds; absent from events older than the field: more than half).
    #[serde(default)]
    pub quorum: crate::decision::Share,
    /// Speaking time per speech, in seconds (0: no limit).
    #[serde(default = "default_speech_limit")]
    pub speech_limit_secs: u32,
}

/// The default speaking time: five minutes.
pub const DEFAULT_SPEECH_LIMIT_SECS: u32 = 300;

fn default_speech_limit() -> u32 {
    DEFAULT_SPEECH_LIMIT_SECS
}

/// Someone taking part in one meeting.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Participant {
    pub id: ParticipantId,
    /// Full name, NFC ("Nguyễn Văn An").
    pub name: String,
    /// Position and unit ("Phó Chủ tịch UBND phường"), may be empty.
    pub position: String,
    pub role: Role,
    /// Counts for the quorum.
    pub member: bool,
    /// May vote (as a member only: see [`Participant::votes`]).
    pub voting: bool,
    /// In the room, absent, or excused.
    #[serde(default)]
    pub attendance: crate::decision::Attendance,
    /// Why an excused participant is away.
    #[serde(default)]
    pub excuse: String,
}

impl Participant {
    /// Whether they vote: the voting flag, on a member (a vote's base is
    /// counted in members; a voting non-member kept from before the rule
    /// does not vote).
    pub fn votes(&self) -> bool {
        self.voting && self.member
    }
}

/// One item of the agenda.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgendaItem {
    pub id: ItemId,
    pub title: String,
    /// Who presents it (free text: a name or a unit).
    pub presenter: String,
    pub summary: String,
    pub status: ItemStatus,
}

/// A document (PDF) attached to an agenda item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub id: DocumentId,
    pub item: ItemId,
    pub title: String,
    /// The name of the file as uploaded.
    pub file_name: String,
    pub size: u64,
    /// Lowercase hex SHA-256 of the content: its name in the store and its ETag.
    pub sha256: String,
    pub confidentiality: Confidentiality,
    /// The participants named on a `named` or `secret` document.
    pub readers: Vec<ParticipantId>,
    #[serde(with = "time::serde::rfc3339")]
    pub uploaded_at: OffsetDateTime,
}

/// Whoever sends a command or fetches a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// The server's administrator account.
    Admin { staff: StaffId },
    /// A secretary's staff account: prepares any meeting.
    Staff { staff: StaffId },
    /// A participant, signed in to their own meeting.
    Participant { meeting: MeetingId, participant: ParticipantId, role: Role },
    /// The server itself (the demo, imports run at start-up).
    System,
    /// A room display (projector, hall screen): follows one meeting, sends
    /// no commands, reads public documents only.
    Display { meeting: MeetingId },
}

impl Actor {
    /// The role this actor holds in `meeting`, for the rights table: staff
    /// accounts act as the meeting's secretary, a participant of another
    /// meeting has no role here.
    pub fn role_in(&self, meeting: MeetingId) -> Option<Role> {
        match *self {
            Actor::Admin { .. } | Actor::Staff { .. } | Actor::System => Some(Role::Secretary),
            Actor::Participant { meeting: m, role, .. } if m == meeting => Some(role),
            Actor::Participant { .. } | Actor::Display { .. } => None,
        }
    }

    /// May this actor follow the meeting (read its state and events)?
    pub fn can_follow(&self, meeting: MeetingId) -> bool {
        match *self {
            Actor::Display { meeting: m } => m == meeting,
            _ => self.role_in(meeting).is_some(),
        }
    }

    /// The participant behind this actor, if it is one.
    pub fn participant(&self) -> Option<ParticipantId> {
        match *self {
            Actor::Participant { participant, .. } => Some(participant),
            _ => None,
        }
    }

    /// True for the server's staff accounts and the server itself.
    pub fn is_staff(&self) -> bool {
        matches!(self, Actor::Admin { .. } | Actor::Staff { .. } | Actor::System)
    }
}
