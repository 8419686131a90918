//! Who may do what, and when: the rights table, validation and agenda moves.
//!
//! The server calls [`check`] before it writes anything; clients call the
//! same function to grey out what the user may not do. Every refusal is a
//! [`RuleError`] with a stable code.

use crate::model::*;
use crate::protocol::{Command, CommandKind};
use crate::state::MeetingState;

/// Limits on what people type.
pub const MAX_TITLE: usize = 500;
/// The longest name accepted.
pub const MAX_NAME: usize = 200;
/// The longest summary accepted.
pub const MAX_SUMMARY: usize = 20_000;
/// The most participants one command may add.
pub const MAX_BATCH: usize = 2_000;

/// A refused command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("your role may not do this ({0})")]
    Forbidden(&'static str),
    #[error("not possible while the meeting is {0}")]
    WrongStatus(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("this server does not know that command")]
    UnknownCommand,
}

impl RuleError {
    /// The stable error code sent to clients.
    pub fn code(&self) -> &'static str {
        match self {
            RuleError::Forbidden(_) => "forbidden",
            RuleError::WrongStatus(_) => "wrong_status",
            RuleError::NotFound(_) => "not_found",
            RuleError::Invalid(_) => "invalid",
            RuleError::Conflict(_) => "conflict",
            RuleError::UnknownCommand => "unknown_command",
        }
    }
}

/// One row of the rights table: who may send a kind of command, and in which
/// meeting states.
#[derive(Debug, Clone, Copy)]
pub struct Right {
    pub kind: CommandKind,
    pub roles: &'static [Role],
    pub statuses: &'static [MeetingStatus],
}

use MeetingStatus::{Closed, Draft, Open};
use Role::{Chair, Secretary};

const PREPARING: &[MeetingStatus] = &[Draft, Open];
const ANY: &[MeetingStatus] = &[Draft, Open, Closed];

/// The rights table. Staff accounts act as the meeting's secretary.
pub const RIGHTS: &[Right] = &[
    Right { kind: CommandKind::UpdateMeeting, roles: &[Secretary], statuses: PREPARING },
    Right { kind: CommandKind::OpenMeeting, roles: &[Chair], statuses: &[Draft] },
    Right { kind: CommandKind::CloseMeeting, roles: &[Chair], statuses: &[Open] },
    Right { kind: CommandKind::AddItem, roles: &[Secretary], statuses: PREPARING },
    Right { kind: CommandKind::UpdateItem, roles: &[Secretary], statuses: PREPARING },
    Right { kind: CommandKind::RemoveItem, roles: &[Secretary], statuses: PREPARING },
    Right { kind: CommandKind::MoveItem, roles: &[Secretary], statuses: PREPARING },
    Right { kind: CommandKind::GoToItem, roles: &[Chair], statuses: &[Open] },
    Right { kind: CommandKind::NextItem, roles: &[Chair], statuses: &[Open] },
    Right { kind: CommandKind::PreviousItem, roles: &[Chair], statuses: &[Open] },
    Right { kind: CommandKind::AddParticipants, roles: &[Secretary], statuses: PREPARING },
    Right { kind: CommandKind::UpdateParticipant, roles: &[Secretary], statuses: PREPARING },
    Right { kind: CommandKind::RemoveParticipant, roles: &[Secretary], statuses: PREPARING },
    // A closed meeting's participants may still need to sign in to read it.
    Right { kind: CommandKind::ResetPins, roles: &[Secretary], statuses: ANY },
    Right { kind: CommandKind::UploadDocument, roles: &[Secretary], statuses: PREPARING },
    Right { kind: CommandKind::UpdateDocument, roles: &[Secretary], statuses: PREPARING },
    Right { kind: CommandKind::RemoveDocument, roles: &[Secretary], statuses: PREPARING },
];

/// The row of the rights table for a kind of command.
pub fn right(kind: CommandKind) -> Option<&'static Right> {
    RIGHTS.iter().find(|r| r.kind == kind)
}

/// May `actor` send a command of `kind` to this meeting now (role and
/// meeting status only)?
pub fn allowed(state: &MeetingState, actor: &Actor, kind: CommandKind) -> Result<(), RuleError> {
    let Some(right) = right(kind) else { return Err(RuleError::UnknownCommand) };
    let role = actor.role_in(state.meeting.id).ok_or(RuleError::Forbidden("not a participant of this meeting"))?;
    if !right.roles.contains(&role) {
        return Err(RuleError::Forbidden(match right.roles.first() {
            Some(Chair) => "only the chair may do this",
            _ => "only the secretary may do this",
        }));
    }
    if !right.statuses.contains(&state.meeting.status) {
        return Err(RuleError::WrongStatus(state.meeting.status.as_str()));
    }
    Ok(())
}

fn text(field: &str, value: &str, max: usize, required: bool) -> Result<(), RuleError> {
    if required && value.is_empty() {
        return Err(RuleError::Invalid(format!("{field} must not be empty")));
    }
    if value.chars().count() > max {
        return Err(RuleError::Invalid(format!("{field} is longer than {max} characters")));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(RuleError::Invalid(format!("{field} contains control characters")));
    }
    Ok(())
}

fn check_new_participant(name: &str, position: &str) -> Result<(), RuleError> {
    text("name", name, MAX_NAME, true)?;
    text("position", position, MAX_TITLE, false)
}

/// Checks a command (already [`Command::normalized`]) against the rights
/// table, the meeting's state and the limits. Nothing is written unless this
/// returns `Ok`.
pub fn check(state: &MeetingState, actor: &Actor, cmd: &Command) -> Result<(), RuleError> {
    allowed(state, actor, cmd.kind())?;
    match cmd {
        Command::UpdateMeeting { title, organisation, place, .. } => {
            text("title", title, MAX_TITLE, true)?;
            text("organisation", organisation, MAX_TITLE, false)?;
            text("place", place, MAX_TITLE, false)
        }
        Command::OpenMeeting | Command::CloseMeeting => Ok(()),
        Command::AddItem { title, presenter, summary, .. } => {
            text("title", title, MAX_TITLE, true)?;
            text("presenter", presenter, MAX_NAME, false)?;
            text("summary", summary, MAX_SUMMARY, false)
        }
        Command::UpdateItem { item, title, presenter, summary } => {
            state.item(*item).ok_or(RuleError::NotFound("agenda item"))?;
            text("title", title, MAX_TITLE, true)?;
            text("presenter", presenter, MAX_NAME, false)?;
            text("summary", summary, MAX_SUMMARY, false)
        }
        Command::RemoveItem { item } => {
            state.item(*item).ok_or(RuleError::NotFound("agenda item"))?;
            if state.meeting.current_item == Some(*item) {
                return Err(RuleError::Conflict("the current item cannot be removed"));
            }
            Ok(())
        }
        Command::MoveItem { item, .. } => state.item(*item).map(|_| ()).ok_or(RuleError::NotFound("agenda item")),
        Command::GoToItem { .. } | Command::NextItem | Command::PreviousItem => agenda_target(state, cmd).map(|_| ()),
        Command::AddParticipants { participants } => {
            if participants.is_empty() {
                return Err(RuleError::Invalid("no participants given".into()));
            }
            if participants.len() > MAX_BATCH {
                return Err(RuleError::Invalid(format!("at most {MAX_BATCH} participants at once")));
            }
            participants.iter().try_for_each(|p| check_new_participant(&p.name, &p.position))
        }
        Command::UpdateParticipant { participant, name, position, .. } => {
            state.participant(*participant).ok_or(RuleError::NotFound("participant"))?;
            check_new_participant(name, position)
        }
        Command::RemoveParticipant { participant } => state.participant(*participant).map(|_| ()).ok_or(RuleError::NotFound("participant")),
        Command::ResetPins { participants } => {
            if participants.is_empty() {
                return Err(RuleError::Invalid("no participants given".into()));
            }
            participants.iter().try_for_each(|p| state.participant(*p).map(|_| ()).ok_or(RuleError::NotFound("participant")))
        }
        Command::UpdateDocument { document, title, confidentiality, readers } => {
            state.document(*document).ok_or(RuleError::NotFound("document"))?;
            text("title", title, MAX_TITLE, true)?;
            check_readers(state, *confidentiality, readers)
        }
        Command::RemoveDocument { document } => state.document(*document).map(|_| ()).ok_or(RuleError::NotFound("document")),
        Command::Unknown => Err(RuleError::UnknownCommand),
    }
}

/// Checks a document's readers: only `named` and `secret` documents name
/// readers, and those must be participants of the meeting.
pub fn check_readers(state: &MeetingState, c: Confidentiality, readers: &[ParticipantId]) -> Result<(), RuleError> {
    match c {
        Confidentiality::Public | Confidentiality::Members if !readers.is_empty() => {
            Err(RuleError::Invalid("only named and secret documents list readers".into()))
        }
        _ => readers.iter().try_for_each(|r| state.participant(*r).map(|_| ()).ok_or(RuleError::NotFound("participant"))),
    }
}

/// Where an agenda move lands: `Ok(None)` when there is nowhere to go (the
/// chair pressed "next" on the last item), an error for an unknown item.
pub fn agenda_target(state: &MeetingState, cmd: &Command) -> Result<Option<ItemId>, RuleError> {
    let current = state.meeting.current_item.and_then(|id| state.item_index(id));
    match cmd {
        Command::GoToItem { item } => {
            state.item(*item).ok_or(RuleError::NotFound("agenda item"))?;
            Ok(if state.meeting.current_item == Some(*item) { None } else { Some(*item) })
        }
        Command::NextItem => {
            let next = current.map_or(0, |i| i + 1);
            Ok(state.agenda.get(next).map(|i| i.id))
        }
        Command::PreviousItem => Ok(current.and_then(|i| i.checked_sub(1)).and_then(|i| state.agenda.get(i)).map(|i| i.id)),
        _ => Err(RuleError::Invalid("not an agenda move".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::NewParticipant;
    use crate::state::tests::{actor, sample};

    fn open(mut s: MeetingState) -> MeetingState {
        s.meeting.status = MeetingStatus::Open;
        s
    }

    #[test]
    fn only_the_chair_moves_the_agenda() {
        let s = open(sample());
        let cmd = Command::NextItem;
        assert_eq!(check(&s, &actor(&s, 1), &cmd), Ok(()));
        for who in [2, 3, 5] {
            assert_eq!(check(&s, &actor(&s, who), &cmd).unwrap_err().code(), "forbidden", "participant {who}");
        }
        assert_eq!(check(&s, &Actor::Staff { staff: StaffId(1) }, &cmd).unwrap_err().code(), "forbidden");
    }

    #[test]
    fn only_the_secretary_edits_the_agenda_participants_and_documents() {
        let s = sample();
        let cmds = [
            Command::AddItem { title: "Mục mới".into(), presenter: String::new(), summary: String::new(), position: None },
            Command::RemoveItem { item: ItemId(11) },
            Command::MoveItem { item: ItemId(11), position: 0 },
            Command::AddParticipants {
                participants: vec![NewParticipant {
                    name: "Đỗ Văn Giang".into(),
                    position: String::new(),
                    role: Role::Delegate,
                    member: true,
                    voting: true,
                }],
            },
            Command::RemoveParticipant { participant: ParticipantId(5) },
        ];
        for cmd in &cmds {
            assert_eq!(check(&s, &actor(&s, 2), cmd), Ok(()), "{cmd:?}");
            assert_eq!(check(&s, &Actor::Staff { staff: StaffId(1) }, cmd), Ok(()), "staff {cmd:?}");
            for who in [1, 3, 4, 5] {
                assert_eq!(check(&s, &actor(&s, who), cmd).unwrap_err().code(), "forbidden");
            }
        }
    }

    #[test]
    fn nothing_edits_a_closed_meeting() {
        let mut s = sample();
        s.meeting.status = MeetingStatus::Closed;
        let edit = Command::AddItem { title: "Muộn".into(), presenter: String::new(), summary: String::new(), position: None };
        assert_eq!(check(&s, &actor(&s, 2), &edit).unwrap_err().code(), "wrong_status");
        assert_eq!(check(&s, &actor(&s, 1), &Command::NextItem).unwrap_err().code(), "wrong_status");
        assert_eq!(check(&s, &actor(&s, 1), &Command::OpenMeeting).unwrap_err().code(), "wrong_status");
        // Sign-in cards can still be printed, to read the record.
        assert_eq!(check(&s, &actor(&s, 2), &Command::ResetPins { participants: vec![ParticipantId(3)] }), Ok(()));
    }

    #[test]
    fn the_agenda_moves_only_while_open_and_status_moves_forward() {
        let s = sample();
        assert_eq!(check(&s, &actor(&s, 1), &Command::NextItem).unwrap_err().code(), "wrong_status");
        assert_eq!(check(&s, &actor(&s, 1), &Command::CloseMeeting).unwrap_err().code(), "wrong_status");
        assert_eq!(check(&s, &actor(&s, 1), &Command::OpenMeeting), Ok(()));
    }

    #[test]
    fn a_participant_of_another_meeting_has_no_rights() {
        let s = open(sample());
        let stranger = Actor::Participant { meeting: MeetingId(9), participant: ParticipantId(1), role: Role::Chair };
        assert_eq!(check(&s, &stranger, &Command::NextItem).unwrap_err().code(), "forbidden");
    }

    #[test]
    fn agenda_moves_land_where_expected() {
        let mut s = open(sample());
        assert_eq!(agenda_target(&s, &Command::NextItem), Ok(Some(ItemId(10))));
        assert_eq!(agenda_target(&s, &Command::PreviousItem), Ok(None));
        s.meeting.current_item = Some(ItemId(12));
        assert_eq!(agenda_target(&s, &Command::NextItem), Ok(None), "next on the last item");
        assert_eq!(agenda_target(&s, &Command::PreviousItem), Ok(Some(ItemId(11))));
        assert_eq!(agenda_target(&s, &Command::GoToItem { item: ItemId(10) }), Ok(Some(ItemId(10))));
        assert_eq!(agenda_target(&s, &Command::GoToItem { item: ItemId(12) }), Ok(None));
        assert_eq!(agenda_target(&s, &Command::GoToItem { item: ItemId(77) }).unwrap_err().code(), "not_found");
    }

    #[test]
    fn the_current_item_cannot_be_removed() {
        let mut s = sample();
        s.meeting.current_item = Some(ItemId(10));
        assert_eq!(check(&s, &actor(&s, 2), &Command::RemoveItem { item: ItemId(10) }).unwrap_err().code(), "conflict");
    }

    #[test]
    fn texts_are_validated() {
        let s = sample();
        let sec = actor(&s, 2);
        let empty = Command::AddItem { title: String::new(), presenter: String::new(), summary: String::new(), position: None };
        assert_eq!(check(&s, &sec, &empty).unwrap_err().code(), "invalid");
        let long = Command::AddItem { title: "x".repeat(MAX_TITLE + 1), presenter: String::new(), summary: String::new(), position: None };
        assert_eq!(check(&s, &sec, &long).unwrap_err().code(), "invalid");
        let ctrl = Command::AddItem { title: "a\u{0007}b".into(), presenter: String::new(), summary: String::new(), position: None };
        assert_eq!(check(&s, &sec, &ctrl).unwrap_err().code(), "invalid");
    }

    #[test]
    fn only_named_documents_list_readers() {
        let s = sample();
        assert!(check_readers(&s, Confidentiality::Public, &[ParticipantId(3)]).is_err());
        assert!(check_readers(&s, Confidentiality::Named, &[ParticipantId(3)]).is_ok());
        assert_eq!(check_readers(&s, Confidentiality::Named, &[ParticipantId(42)]).unwrap_err().code(), "not_found");
    }

    #[test]
    fn every_known_command_has_a_right() {
        use CommandKind::*;
        for k in [
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
        ] {
            assert!(right(k).is_some(), "{k:?}");
        }
        assert!(right(Unknown).is_none());
    }
}
