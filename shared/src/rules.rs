//! Who may do what, and when: the rights table, validation and agenda moves.
//!
//! The server calls [`check`] before it writes anything; clients call the
//! same function to grey out what the user may not do. Every refusal is a
//! [`RuleError`] with a stable code.

use crate::decision::*;
use crate::minutes::{MinutesStatus, SectionKey};
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
use Role::{Chair, Delegate, Observer, Secretary};

const EVERYONE: &[Role] = &[Chair, Secretary, Delegate, Observer];
const CHAIR_OR_SECRETARY: &[Role] = &[Chair, Secretary];

/// The longest written opinion accepted.
pub const MAX_OPINION: usize = 20_000;
/// The most options a poll may have.
pub const MAX_OPTIONS: usize = 50;

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
    Right { kind: CommandKind::SetAttendance, roles: &[Secretary], statuses: PREPARING },
    Right { kind: CommandKind::SetQuorumRule, roles: &[Secretary], statuses: PREPARING },
    Right { kind: CommandKind::SetSpeechLimit, roles: CHAIR_OR_SECRETARY, statuses: PREPARING },
    Right { kind: CommandKind::CreatePoll, roles: CHAIR_OR_SECRETARY, statuses: PREPARING },
    Right { kind: CommandKind::OpenPoll, roles: &[Chair], statuses: &[Open] },
    Right { kind: CommandKind::ClosePoll, roles: &[Chair], statuses: &[Open] },
    Right { kind: CommandKind::CancelPoll, roles: &[Chair], statuses: &[Open] },
    // Who votes is the *voting* flag and presence, checked per participant.
    Right { kind: CommandKind::CastBallot, roles: EVERYONE, statuses: &[Open] },
    Right { kind: CommandKind::CastBallotFor, roles: &[Secretary], statuses: &[Open] },
    Right { kind: CommandKind::RecordHands, roles: &[Secretary], statuses: &[Open] },
    Right { kind: CommandKind::RequestToSpeak, roles: EVERYONE, statuses: &[Open] },
    Right { kind: CommandKind::WithdrawRequest, roles: EVERYONE, statuses: &[Open] },
    Right { kind: CommandKind::GiveFloor, roles: &[Chair], statuses: &[Open] },
    Right { kind: CommandKind::EndSpeech, roles: &[Chair], statuses: &[Open] },
    Right { kind: CommandKind::AddOpinion, roles: EVERYONE, statuses: PREPARING },
    Right { kind: CommandKind::RequestOpinions, roles: CHAIR_OR_SECRETARY, statuses: PREPARING },
    // The minutes are written during the meeting and finished after it.
    Right { kind: CommandKind::EditMinutes, roles: &[Secretary], statuses: ANY },
    Right { kind: CommandKind::SetMinutesNumber, roles: &[Secretary], statuses: ANY },
    Right { kind: CommandKind::SendMinutesForComments, roles: &[Secretary], statuses: &[Closed] },
    Right { kind: CommandKind::CommentMinutes, roles: EVERYONE, statuses: &[Closed] },
    Right { kind: CommandKind::ApproveMinutes, roles: &[Chair], statuses: &[Closed] },
    Right { kind: CommandKind::SignMinutes, roles: &[Chair], statuses: &[Closed] },
    Right { kind: CommandKind::ReviseMinutes, roles: &[Secretary], statuses: &[Closed] },
];

/// The row of the rights table for a kind of command.
pub fn right(kind: CommandKind) -> Option<&'static Right> {
    RIGHTS.iter().find(|r| r.kind == kind)
}

/// May `actor` send a command of `kind` to this meeting now (role and
/// meeting status only)?
pub fn allowed(state: &MeetingState, actor: &Actor, kind: CommandKind) -> Result<(), RuleError> {
    let Some(right) = right(kind) else { return Err(RuleError::UnknownCommand) };
    let role = state.role_of(actor).ok_or(RuleError::Forbidden("not a participant of this meeting"))?;
    if !right.roles.contains(&role) {
        return Err(RuleError::Forbidden(match right.roles {
            [Chair] => "only the chair may do this",
            [Secretary] => "only the secretary may do this",
            _ => "only the chair or the secretary may do this",
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

/// A meeting's header, as created or changed.
pub fn check_meeting_header(title: &str, organisation: &str, place: &str, locality: &str) -> Result<(), RuleError> {
    text("title", title, MAX_TITLE, true)?;
    text("organisation", organisation, MAX_TITLE, false)?;
    text("place", place, MAX_TITLE, false)?;
    text("locality", locality, MAX_NAME, false)
}

/// A document's title, as given with its upload.
pub fn check_document_title(title: &str) -> Result<(), RuleError> {
    text("title", title, MAX_TITLE, true)
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
        Command::UpdateMeeting { title, organisation, place, locality, .. } => check_meeting_header(title, organisation, place, locality),
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
            // What was decided or said on it stays on record.
            if state.polls.iter().any(|p| p.item == *item) || state.opinions.iter().any(|o| o.item == *item) {
                return Err(RuleError::Conflict("an item with votes or written opinions stays on the agenda"));
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
        Command::RemoveParticipant { participant } => {
            state.participant(*participant).ok_or(RuleError::NotFound("participant"))?;
            // Someone who voted, wrote an opinion or commented on the minutes
            // is part of the record: marked absent, not removed.
            let took_part = state.polls.iter().any(|p| p.voters.contains(participant))
                || state.opinions.iter().any(|o| o.author == *participant)
                || state.minutes.comments.iter().any(|c| c.author == *participant);
            if took_part {
                return Err(RuleError::Conflict("a participant who voted or gave an opinion stays on record: mark them absent instead"));
            }
            Ok(())
        }
        Command::ResetPins { participants } => {
            if participants.is_empty() {
                return Err(RuleError::Invalid("no participants given".into()));
            }
            // Each is a PIN hashed: a list no longer than the meeting, each once.
            if participants.len() > state.participants.len()
                || participants.iter().collect::<std::collections::HashSet<_>>().len() != participants.len()
            {
                return Err(RuleError::Invalid("name each participant once".into()));
            }
            participants.iter().try_for_each(|p| state.participant(*p).map(|_| ()).ok_or(RuleError::NotFound("participant")))
        }
        Command::UpdateDocument { document, title, confidentiality, readers } => {
            state.document(*document).ok_or(RuleError::NotFound("document"))?;
            text("title", title, MAX_TITLE, true)?;
            check_readers(state, *confidentiality, readers)
        }
        Command::RemoveDocument { document } => state.document(*document).map(|_| ()).ok_or(RuleError::NotFound("document")),
        Command::SetAttendance { participant, attendance, reason } => {
            state.participant(*participant).ok_or(RuleError::NotFound("participant"))?;
            if *attendance != Attendance::Excused && !reason.is_empty() {
                return Err(RuleError::Invalid("only an excused absence has a reason".into()));
            }
            text("reason", reason, MAX_TITLE, false)
        }
        Command::SetQuorumRule { share } => {
            if share.is_valid() && share.num > 0 {
                Ok(())
            } else {
                Err(RuleError::Invalid("the quorum must be a share between 0 and 1".into()))
            }
        }
        Command::SetSpeechLimit { seconds } => {
            if *seconds <= 3600 {
                Ok(())
            } else {
                Err(RuleError::Invalid("a speech is limited to an hour at most".into()))
            }
        }
        Command::CreatePoll { item, question, kind, options, max_choices, secret, allow_change, rule } => {
            state.item(*item).ok_or(RuleError::NotFound("agenda item"))?;
            text("question", question, MAX_SUMMARY, true)?;
            if *secret && *allow_change {
                return Err(RuleError::Invalid("a secret ballot cannot be changed".into()));
            }
            if !rule.share.is_valid() || rule.share.num == 0 {
                return Err(RuleError::Invalid("the majority must be a share between 0 and 1".into()));
            }
            if *kind == PollKind::Choice {
                if options.len() < 2 || options.len() > MAX_OPTIONS {
                    return Err(RuleError::Invalid(format!("an election needs 2 to {MAX_OPTIONS} options")));
                }
                options.iter().try_for_each(|o| text("option", o, MAX_NAME, true))?;
                if *max_choices == 0 || usize::from(*max_choices) > options.len() {
                    return Err(RuleError::Invalid("a ballot picks between 1 and all of the options".into()));
                }
            }
            Ok(())
        }
        Command::OpenPoll { poll } => {
            let p = state.poll(*poll).ok_or(RuleError::NotFound("poll"))?;
            if p.status != PollStatus::Draft {
                return Err(RuleError::Conflict("only a prepared poll can be opened"));
            }
            if state.open_poll().is_some() {
                return Err(RuleError::Conflict("another poll is open: close it first"));
            }
            Ok(())
        }
        Command::ClosePoll { poll } => {
            let p = state.poll(*poll).ok_or(RuleError::NotFound("poll"))?;
            if p.status != PollStatus::Open { Err(RuleError::Conflict("the poll is not open")) } else { Ok(()) }
        }
        Command::CancelPoll { poll, reason } => {
            let p = state.poll(*poll).ok_or(RuleError::NotFound("poll"))?;
            if !matches!(p.status, PollStatus::Draft | PollStatus::Open) {
                return Err(RuleError::Conflict("a closed poll stands; it cannot be cancelled"));
            }
            text("reason", reason, MAX_TITLE, true)
        }
        Command::CastBallot { poll, choices } => {
            let voter = actor.participant().ok_or(RuleError::Forbidden("only participants vote"))?;
            check_ballot(state, *poll, voter, choices)
        }
        Command::CastBallotFor { poll, voter, choices } => check_ballot(state, *poll, *voter, choices),
        Command::RecordHands { poll, counts } => {
            let p = open_poll(state, *poll)?;
            if counts.len() != p.options.len() {
                return Err(RuleError::Invalid("one count per option".into()));
            }
            // Hands are the voters present who have not voted otherwise:
            // each count, and all of them together (a person raises a hand
            // for at most as many options as a ballot may choose), stay
            // within them, so nobody is counted twice.
            let eligible = state.voters_present();
            let left = eligible.saturating_sub(p.voters.len()) as u64;
            let per_person = p.choices_per_ballot() as u64;
            if counts.iter().any(|c| u64::from(*c) > left) || counts.iter().map(|c| u64::from(*c)).sum::<u64>() > left * per_person {
                return Err(RuleError::Invalid(format!(
                    "the hands count the {left} voters present who have not voted otherwise ({eligible} present, {} ballots)",
                    p.voters.len()
                )));
            }
            Ok(())
        }
        Command::RequestToSpeak => {
            let me = actor.participant().ok_or(RuleError::Forbidden("only participants ask to speak"))?;
            if state.meeting.current_item.is_none() {
                return Err(RuleError::Conflict("no item is under discussion"));
            }
            if state.speakers.queue.contains(&me) || state.speakers.floor.is_some_and(|f| f.participant == me) {
                return Err(RuleError::Conflict("you are already on the list"));
            }
            Ok(())
        }
        Command::WithdrawRequest => {
            let me = actor.participant().ok_or(RuleError::Forbidden("only participants ask to speak"))?;
            if state.speakers.queue.contains(&me) { Ok(()) } else { Err(RuleError::NotFound("request to speak")) }
        }
        Command::GiveFloor { participant } => match participant {
            Some(p) => state.participant(*p).map(|_| ()).ok_or(RuleError::NotFound("participant")),
            None if state.speakers.queue.is_empty() => Err(RuleError::Conflict("nobody is waiting to speak")),
            None => Ok(()),
        },
        Command::EndSpeech => state.speakers.floor.map(|_| ()).ok_or(RuleError::Conflict("nobody has the floor")),
        Command::AddOpinion { item, document, stance, text: body } => {
            actor.participant().ok_or(RuleError::Forbidden("only participants give opinions"))?;
            state.item(*item).ok_or(RuleError::NotFound("agenda item"))?;
            if let Some(d) = document {
                let doc = state.document(*d).filter(|doc| doc.item == *item && state.can_read(actor, doc));
                doc.ok_or(RuleError::NotFound("document"))?;
            }
            text("opinion", body, MAX_OPINION, *stance == Stance::Comment)
        }
        Command::RequestOpinions { item, .. } => state.item(*item).map(|_| ()).ok_or(RuleError::NotFound("agenda item")),
        Command::EditMinutes { section, text: body } => {
            minutes_status(state, &[MinutesStatus::Draft])?;
            if let SectionKey::Item(item) = section {
                state.item(*item).ok_or(RuleError::NotFound("agenda item"))?;
            }
            text("minutes", body, MAX_OPINION * 5, false)
        }
        Command::SetMinutesNumber { number } => {
            minutes_status(state, &[MinutesStatus::Draft])?;
            text("number", number, MAX_NAME, false)
        }
        Command::SendMinutesForComments => minutes_status(state, &[MinutesStatus::Draft]),
        Command::CommentMinutes { section, text: body } => {
            minutes_status(state, &[MinutesStatus::InReview])?;
            actor.participant().ok_or(RuleError::Forbidden("only participants comment"))?;
            if let SectionKey::Item(item) = section {
                state.item(*item).ok_or(RuleError::NotFound("agenda item"))?;
            }
            text("comment", body, MAX_OPINION, true)
        }
        Command::ApproveMinutes => minutes_status(state, &[MinutesStatus::Draft, MinutesStatus::InReview]),
        Command::SignMinutes => minutes_status(state, &[MinutesStatus::Approved]),
        Command::ReviseMinutes => minutes_status(state, &[MinutesStatus::Signed]),
        Command::Unknown => Err(RuleError::UnknownCommand),
    }
}

fn minutes_status(state: &MeetingState, allowed: &[MinutesStatus]) -> Result<(), RuleError> {
    if allowed.contains(&state.minutes.status) {
        Ok(())
    } else {
        Err(RuleError::Conflict(match state.minutes.status {
            MinutesStatus::Signed => "the minutes are signed: start a correction",
            MinutesStatus::Approved => "the minutes are approved",
            MinutesStatus::InReview => "the minutes are with the members for comments",
            MinutesStatus::Draft => "the minutes are still a draft",
        }))
    }
}

fn open_poll(state: &MeetingState, poll: PollId) -> Result<&Poll, RuleError> {
    let p = state.poll(poll).ok_or(RuleError::NotFound("poll"))?;
    if p.status != PollStatus::Open {
        return Err(RuleError::Conflict("the poll is not open"));
    }
    Ok(p)
}

/// May `voter` cast these choices in this poll now?
pub fn check_ballot(state: &MeetingState, poll: PollId, voter: ParticipantId, choices: &[u8]) -> Result<(), RuleError> {
    let p = open_poll(state, poll)?;
    let who = state.participant(voter).ok_or(RuleError::NotFound("participant"))?;
    if !who.voting {
        return Err(RuleError::Forbidden("this participant does not vote"));
    }
    if who.attendance != Attendance::Present {
        return Err(RuleError::Forbidden("only participants present vote"));
    }
    let max = p.choices_per_ballot();
    if choices.is_empty() || choices.len() > max {
        return Err(RuleError::Invalid(format!("choose between 1 and {max} options")));
    }
    let mut seen = choices.to_vec();
    seen.sort();
    seen.dedup();
    if seen.len() != choices.len() || choices.iter().any(|c| usize::from(*c) >= p.options.len()) {
        return Err(RuleError::Invalid("unknown or repeated option".into()));
    }
    if p.voters.contains(&voter) && (p.secret || !p.allow_change) {
        return Err(RuleError::Conflict(if p.secret { "already voted: a secret ballot cannot be changed" } else { "already voted" }));
    }
    // Once hands are counted, a new ballot must not count someone twice.
    if !p.voters.contains(&voter) && !p.hands.is_empty() {
        let by_hand = p.hands.iter().map(|c| *c as usize).sum::<usize>().div_ceil(p.choices_per_ballot());
        if p.voters.len() + by_hand >= state.voters_present() {
            return Err(RuleError::Conflict("everyone present is already counted, by ballot or by show of hands"));
        }
    }
    Ok(())
}

/// Checks a document's readers: only `named` and `secret` documents name
/// readers, and those must be participants of the meeting.
pub fn check_readers(state: &MeetingState, c: Confidentiality, readers: &[ParticipantId]) -> Result<(), RuleError> {
    if !c.lists_readers() && !readers.is_empty() {
        return Err(RuleError::Invalid("only named and secret documents list readers".into()));
    }
    readers.iter().try_for_each(|r| state.participant(*r).map(|_| ()).ok_or(RuleError::NotFound("participant")))
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

    fn with_poll(secret: bool, allow_change: bool, status: PollStatus) -> MeetingState {
        let mut s = open(sample());
        std::sync::Arc::make_mut(&mut s.polls).push(Poll {
            id: PollId(1),
            item: ItemId(10),
            question: "Thông qua chương trình?".into(),
            kind: PollKind::YesNo,
            options: YES_NO_OPTIONS.iter().map(|o| o.to_string()).collect(),
            max_choices: 1,
            secret,
            allow_change,
            rule: MajorityRule::default(),
            status,
            voters: vec![],
            ballots: vec![],
            hands: vec![],
            result: None,
            cancel_reason: None,
        });
        s
    }

    fn vote(choice: u8) -> Command {
        Command::CastBallot { poll: PollId(1), choices: vec![choice] }
    }

    #[test]
    fn a_voting_chair_votes_and_a_non_voting_observer_does_not() {
        let s = with_poll(false, false, PollStatus::Open);
        assert_eq!(check(&s, &actor(&s, 1), &vote(0)), Ok(()), "the chair has the voting flag");
        assert_eq!(check(&s, &actor(&s, 3), &vote(1)), Ok(()));
        assert_eq!(check(&s, &actor(&s, 5), &vote(0)).unwrap_err().code(), "forbidden", "observer");
        assert_eq!(check(&s, &actor(&s, 2), &vote(0)).unwrap_err().code(), "forbidden", "a non-voting secretary");
        assert_eq!(check(&s, &Actor::Staff { staff: StaffId(1) }, &vote(0)).unwrap_err().code(), "forbidden");
    }

    #[test]
    fn only_present_voters_vote() {
        let mut s = with_poll(false, false, PollStatus::Open);
        std::sync::Arc::make_mut(&mut s.participants)[2].attendance = Attendance::Absent;
        assert_eq!(check(&s, &actor(&s, 3), &vote(0)).unwrap_err().code(), "forbidden");
    }

    #[test]
    fn voting_before_open_or_after_close_is_refused() {
        for status in [PollStatus::Draft, PollStatus::Closed, PollStatus::Cancelled] {
            let s = with_poll(false, false, status);
            assert_eq!(check(&s, &actor(&s, 3), &vote(0)).unwrap_err().code(), "conflict", "{status:?}");
        }
    }

    #[test]
    fn a_named_vote_changes_only_when_allowed_and_a_secret_one_never() {
        let mut s = with_poll(false, true, PollStatus::Open);
        std::sync::Arc::make_mut(&mut s.polls)[0].voters.push(ParticipantId(3));
        assert_eq!(check(&s, &actor(&s, 3), &vote(1)), Ok(()), "named, changes allowed");
        let mut s = with_poll(false, false, PollStatus::Open);
        std::sync::Arc::make_mut(&mut s.polls)[0].voters.push(ParticipantId(3));
        assert_eq!(check(&s, &actor(&s, 3), &vote(1)).unwrap_err().code(), "conflict");
        let mut s = with_poll(true, false, PollStatus::Open);
        std::sync::Arc::make_mut(&mut s.polls)[0].voters.push(ParticipantId(3));
        assert_eq!(check(&s, &actor(&s, 3), &vote(1)).unwrap_err().code(), "conflict");
        let s = sample();
        let secret_changeable = Command::CreatePoll {
            item: ItemId(10),
            question: "?".into(),
            kind: PollKind::YesNo,
            options: vec![],
            max_choices: 1,
            secret: true,
            allow_change: true,
            rule: MajorityRule::default(),
        };
        assert_eq!(check(&s, &actor(&s, 1), &secret_changeable).unwrap_err().code(), "invalid");
    }

    #[test]
    fn ballots_must_name_known_options() {
        let s = with_poll(false, false, PollStatus::Open);
        let c = |choices: Vec<u8>| Command::CastBallot { poll: PollId(1), choices };
        for bad in [vec![], vec![3], vec![0, 1], vec![0, 0]] {
            assert_eq!(check(&s, &actor(&s, 3), &c(bad.clone())).unwrap_err().code(), "invalid", "{bad:?}");
        }
    }

    #[test]
    fn one_poll_open_at_a_time_and_only_the_chair_opens_it() {
        let mut s = with_poll(false, false, PollStatus::Draft);
        assert_eq!(check(&s, &actor(&s, 2), &Command::OpenPoll { poll: PollId(1) }).unwrap_err().code(), "forbidden");
        assert_eq!(check(&s, &actor(&s, 1), &Command::OpenPoll { poll: PollId(1) }), Ok(()));
        let mut other = s.polls[0].clone();
        other.id = PollId(2);
        other.status = PollStatus::Open;
        std::sync::Arc::make_mut(&mut s.polls).push(other);
        assert_eq!(check(&s, &actor(&s, 1), &Command::OpenPoll { poll: PollId(1) }).unwrap_err().code(), "conflict");
    }

    #[test]
    fn the_speakers_list_needs_a_current_item_and_no_duplicates() {
        let mut s = open(sample());
        assert_eq!(check(&s, &actor(&s, 3), &Command::RequestToSpeak).unwrap_err().code(), "conflict");
        s.meeting.current_item = Some(ItemId(10));
        assert_eq!(check(&s, &actor(&s, 3), &Command::RequestToSpeak), Ok(()));
        s.speakers.queue.push(ParticipantId(3));
        assert_eq!(check(&s, &actor(&s, 3), &Command::RequestToSpeak).unwrap_err().code(), "conflict");
        assert_eq!(check(&s, &actor(&s, 3), &Command::GiveFloor { participant: None }).unwrap_err().code(), "forbidden");
        assert_eq!(check(&s, &actor(&s, 1), &Command::GiveFloor { participant: None }), Ok(()));
        assert_eq!(check(&s, &actor(&s, 1), &Command::EndSpeech).unwrap_err().code(), "conflict");
    }
}
