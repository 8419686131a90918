//! A meeting's state and how events change it.
//!
//! The server keeps one [`MeetingState`] per meeting in memory and every
//! client keeps a copy; both fold the same events with
//! [`MeetingState::apply`], so they cannot disagree on what an event means.

use crate::decision::*;
use crate::minutes::{MinutesStatus, SectionKey};
use crate::model::*;
use crate::protocol::{Change, Event};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Everything a client shows about one meeting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
///
/// The collections that grow with a meeting (participants, documents, polls,
/// opinions) sit behind an `Arc`: the room copies its state for every batch
/// of commands, and a copy then shares what the batch does not change (an
/// agenda move in a meeting of 2,000 copied every participant before).
/// Changing one goes through [`Arc::make_mut`], which copies it only while
/// an older state still shares it.
pub struct MeetingState {
    pub meeting: Meeting,
    /// In the order they were added; see [`MeetingState::participants_sorted`].
    pub participants: Arc<Vec<Participant>>,
    /// In agenda order.
    pub agenda: Arc<Vec<AgendaItem>>,
    pub documents: Arc<Vec<Document>>,
    /// Polls, in creation order.
    #[serde(default)]
    pub polls: Arc<Vec<Poll>>,
    /// The speakers' list of the current item.
    #[serde(default)]
    pub speakers: Speakers,
    /// Written opinions (each viewer sees their own; the chair and secretary all).
    #[serde(default)]
    pub opinions: Arc<Vec<Opinion>>,
    #[serde(default)]
    pub opinion_requests: Arc<Vec<OpinionRequest>>,
    /// The minutes (draft text: the chair and secretary; approved or signed: everyone).
    #[serde(default)]
    pub minutes: Arc<crate::minutes::Minutes>,
    /// The `seq` of the last event folded in.
    pub seq: u64,
}

/// Why an event could not be applied: the copy is out of step and must be
/// refreshed from a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("event {got} does not follow {have}")]
    OutOfOrder { have: u64, got: u64 },
    #[error("event for meeting {got} applied to meeting {have}")]
    WrongMeeting { have: MeetingId, got: MeetingId },
}

impl MeetingState {
    /// A state holding only the meeting header, before any event.
    pub fn new(meeting: Meeting) -> Self {
        MeetingState {
            meeting,
            participants: Default::default(),
            agenda: Default::default(),
            documents: Default::default(),
            polls: Default::default(),
            speakers: Speakers::default(),
            opinions: Default::default(),
            opinion_requests: Default::default(),
            minutes: Default::default(),
            seq: 0,
        }
    }

    /// The poll with this id.
    pub fn poll(&self, id: PollId) -> Option<&Poll> {
        self.polls.iter().find(|p| p.id == id)
    }

    /// The open poll, if any (at most one is open at a time).
    pub fn open_poll(&self) -> Option<&Poll> {
        self.polls.iter().find(|p| p.status == PollStatus::Open)
    }

    /// Present members against all members under the meeting's rule.
    pub fn quorum(&self) -> Quorum {
        crate::decision::quorum(&self.participants, self.meeting.quorum)
    }

    /// The quorum a vote is counted with when it closes: the members
    /// present then, and those who voted in it and have left since (a ballot
    /// was cast in the room; marking its voter absent afterwards must not
    /// turn a vote held with a quorum into one without, nor push a share of
    /// the members present over 100%), and at least as many members as
    /// ballots and raised hands were counted. A show of hands counts the
    /// members present when it was counted (a raised hand is not named).
    pub fn poll_quorum(&self, p: &Poll) -> Quorum {
        let voted: std::collections::HashSet<ParticipantId> = p.voters.iter().copied().collect();
        let at_hands: std::collections::HashSet<ParticipantId> = p.hands_present.iter().copied().collect();
        let members: Vec<&Participant> = self.participants.iter().filter(|x| x.member).collect();
        let total = members.len() as u32;
        let was_here = |x: &&&Participant| x.attendance == Attendance::Present || voted.contains(&x.id) || at_hands.contains(&x.id);
        let here_or_voted = members.iter().filter(was_here).count();
        let counted = members.iter().filter(|x| voted.contains(&x.id)).count() + self.hand_voters(p);
        Quorum::of((here_or_voted.max(counted) as u32).min(total), total, self.meeting.quorum)
    }

    /// The voters a show of hands stands for. A poll of one choice a
    /// ballot: each raised hand is one voter ([`Poll::hand_voters`]). An
    /// election of several seats: the hands cannot tell how many people
    /// raised them (12 people naming one each of 2 seats, or 6 naming
    /// both), so they stand for every voter in the room when they were
    /// counted who had not voted otherwise. Counted as fewer, a candidate
    /// named by 6 of those 12 was "elected" with 6 of 6 ballots.
    pub fn hand_voters(&self, p: &Poll) -> usize {
        let counted = p.hand_voters();
        if p.choices_per_ballot() == 1 || !p.raised_hands() {
            return counted;
        }
        let voted: std::collections::HashSet<ParticipantId> = p.voters.iter().copied().collect();
        let in_room =
            p.hands_present.iter().filter(|id| !voted.contains(id) && self.participant(**id).is_some_and(Participant::votes)).count();
        counted.max(in_room)
    }

    /// The participants present who vote.
    pub fn voters_present(&self) -> usize {
        self.participants.iter().filter(|p| p.votes() && p.attendance == Attendance::Present).count()
    }

    /// The voters present who have not voted in `p`.
    pub fn waiting_voters<'a>(&'a self, p: &Poll) -> impl Iterator<Item = &'a Participant> {
        // A set: a tablet works this out at every ballot of 2,000 voters.
        let voted: std::collections::HashSet<ParticipantId> = p.voters.iter().copied().collect();
        self.participants.iter().filter(move |x| x.votes() && x.attendance == Attendance::Present && !voted.contains(&x.id))
    }

    /// How far a vote has got: the voters counted (by ballot, or by a show
    /// of hands: each raised hand's worth a voter) against those it can
    /// count (everyone who voted, whether still here or not, and the
    /// voters present who have not).
    pub fn vote_progress(&self, p: &Poll) -> (usize, usize) {
        if p.choices_per_ballot() > 1 && p.raised_hands() {
            // Counted by name: those in the room at the count, whether here
            // still or not, and those come in since, who have not voted.
            let at_count: std::collections::HashSet<ParticipantId> = p.hands_present.iter().copied().collect();
            let by_hand = self.hand_voters(p);
            let since = self.waiting_voters(p).filter(|x| !at_count.contains(&x.id)).count();
            return (p.voters.len() + by_hand, p.voters.len() + by_hand + since);
        }
        let waiting = self.waiting_voters(p).count();
        let by_hand = self.hand_voters(p).min(waiting);
        (p.voters.len() + by_hand, p.voters.len() + waiting)
    }

    /// The poll with this id, to change: copied only as [`Self::participant_mut`] is.
    fn poll_mut(&mut self, id: PollId) -> Option<&mut Poll> {
        let at = self.polls.iter().position(|p| p.id == id)?;
        Some(&mut Arc::make_mut(&mut self.polls)[at])
    }

    /// The participant with this id.
    pub fn participant(&self, id: ParticipantId) -> Option<&Participant> {
        // Kept in id order (loaded so, added with growing ids): found by
        // halving, since rights and filtering ask once per viewer per event.
        // A list out of order is still searched whole.
        match self.participants.binary_search_by_key(&id, |p| p.id) {
            Ok(at) => self.participants.get(at),
            Err(_) => self.participants.iter().find(|p| p.id == id),
        }
    }

    /// The participant with this id, to change: the list is copied only if
    /// they are in it and an older state shares it.
    fn participant_mut(&mut self, id: ParticipantId) -> Option<&mut Participant> {
        let at = self.participants.iter().position(|p| p.id == id)?;
        Some(&mut Arc::make_mut(&mut self.participants)[at])
    }

    /// The agenda item with this id.
    pub fn item(&self, id: ItemId) -> Option<&AgendaItem> {
        self.agenda.iter().find(|i| i.id == id)
    }

    /// The position of an item in the agenda.
    pub fn item_index(&self, id: ItemId) -> Option<usize> {
        self.agenda.iter().position(|i| i.id == id)
    }

    /// The document with this id.
    pub fn document(&self, id: DocumentId) -> Option<&Document> {
        self.documents.iter().find(|d| d.id == id)
    }

    /// The documents of one item, in upload order.
    pub fn documents_of(&self, item: ItemId) -> impl Iterator<Item = &Document> {
        self.documents.iter().filter(move |d| d.item == item)
    }

    /// The current agenda item.
    pub fn current_item(&self) -> Option<&AgendaItem> {
        self.meeting.current_item.and_then(|id| self.item(id))
    }

    /// Participants in Vietnamese name order (given name first).
    pub fn participants_sorted(&self) -> Vec<&Participant> {
        let mut v: Vec<&Participant> = self.participants.iter().collect();
        v.sort_by(|a, b| crate::text::compare_names(&a.name, &b.name));
        v
    }

    /// Folds one event in. Events must come in `seq` order with no gap.
    pub fn apply(&mut self, event: &Event) -> Result<(), ApplyError> {
        if event.meeting != self.meeting.id {
            return Err(ApplyError::WrongMeeting { have: self.meeting.id, got: event.meeting });
        }
        if event.seq != self.seq + 1 {
            return Err(ApplyError::OutOfOrder { have: self.seq, got: event.seq });
        }
        self.apply_change(&event.change);
        self.seq = event.seq;
        Ok(())
    }

    fn apply_change(&mut self, change: &Change) {
        match change {
            Change::MeetingCreated { header } => self.meeting = header.clone(),
            Change::MeetingUpdated { title, organisation, place, locality, starts_at } => {
                self.meeting.title = title.clone();
                self.meeting.organisation = organisation.clone();
                self.meeting.place = place.clone();
                self.meeting.locality = locality.clone();
                self.meeting.starts_at = *starts_at;
            }
            Change::MeetingOpened => self.meeting.status = MeetingStatus::Open,
            Change::MeetingClosed => {
                self.meeting.status = MeetingStatus::Closed;
                self.speakers.apply(change, self.meeting.current_item);
                if let Some(id) = self.meeting.current_item.take() {
                    self.set_item_status(id, ItemStatus::Done);
                }
            }
            Change::ItemAdded { item, position } => {
                let at = (*position).min(self.agenda.len());
                Arc::make_mut(&mut self.agenda).insert(at, item.clone());
            }
            Change::ItemUpdated { item } => {
                if let Some(i) = Arc::make_mut(&mut self.agenda).iter_mut().find(|i| i.id == item.id) {
                    *i = item.clone();
                }
            }
            Change::ItemRemoved { item } => {
                self.speakers.apply(change, self.meeting.current_item);
                Arc::make_mut(&mut self.agenda).retain(|i| i.id != *item);
                // As the store drops them with the item (a restart reads it so).
                if self.opinion_requests.iter().any(|r| r.item == *item) {
                    Arc::make_mut(&mut self.opinion_requests).retain(|r| r.item != *item);
                }
                if self.documents.iter().any(|d| d.item == *item) {
                    Arc::make_mut(&mut self.documents).retain(|d| d.item != *item);
                }
                if self.meeting.current_item == Some(*item) {
                    self.meeting.current_item = None;
                }
            }
            Change::ItemMoved { item, position } => {
                if let Some(from) = self.item_index(*item) {
                    let agenda = Arc::make_mut(&mut self.agenda);
                    let it = agenda.remove(from);
                    let at = (*position).min(agenda.len());
                    agenda.insert(at, it);
                }
            }
            Change::CurrentItemChanged { item, previous } => {
                if let Some(status) = previous.and_then(|prev| self.left_as(prev, *item)) {
                    self.set_item_status(previous.expect("left"), status);
                }
                self.meeting.current_item = *item;
                // The speakers' list belongs to an item.
                self.speakers.apply(change, self.meeting.current_item);
            }
            Change::ParticipantAdded { participant } => {
                let participants = Arc::make_mut(&mut self.participants);
                participants.retain(|p| p.id != participant.id);
                participants.push(participant.clone());
            }
            Change::ParticipantUpdated { participant } => {
                if let Some(p) = self.participant_mut(participant.id) {
                    *p = participant.clone();
                }
            }
            Change::ParticipantRemoved { participant } => {
                if self.participant(*participant).is_some() {
                    Arc::make_mut(&mut self.participants).retain(|p| p.id != *participant);
                }
                self.speakers.apply(change, self.meeting.current_item);
                if self.documents.iter().any(|d| d.readers.contains(participant)) {
                    for d in Arc::make_mut(&mut self.documents) {
                        d.readers.retain(|r| r != participant);
                    }
                }
            }
            Change::DocumentAdded { document } | Change::DocumentUpdated { document, .. } => {
                let documents = Arc::make_mut(&mut self.documents);
                match documents.iter_mut().find(|d| d.id == document.id) {
                    Some(d) => *d = document.clone(),
                    None => documents.push(document.clone()),
                }
            }
            Change::DocumentRemoved { document, .. } => Arc::make_mut(&mut self.documents).retain(|d| d.id != *document),
            Change::AttendanceChanged { participant, attendance, reason } => {
                if let Some(p) = self.participant_mut(*participant) {
                    p.attendance = *attendance;
                    p.excuse = reason.clone();
                }
                self.speakers.apply(change, self.meeting.current_item);
            }
            Change::QuorumRuleChanged { share } => self.meeting.quorum = *share,
            Change::SpeechLimitChanged { seconds } => self.meeting.speech_limit_secs = *seconds,
            Change::PollCreated { poll } => Arc::make_mut(&mut self.polls).push(poll.clone()),
            Change::PollOpened { poll } => {
                if let Some(p) = self.poll_mut(*poll) {
                    p.status = PollStatus::Open;
                }
            }
            Change::BallotCast { poll, voter, choices, by_secretary } => {
                // Kept in id order, as the store reads them back (and so
                // as not to keep the order of voting).
                if let Some(p) = self.poll_mut(*poll) {
                    if let Err(at) = p.voters.binary_search(voter) {
                        p.voters.insert(at, *voter);
                    }
                    if let Some(choices) = choices {
                        let ballot = NamedBallot { voter: *voter, choices: choices.clone(), by_secretary: *by_secretary };
                        match p.ballots.binary_search_by_key(voter, |b| b.voter) {
                            Ok(at) => p.ballots[at] = ballot,
                            Err(at) => p.ballots.insert(at, ballot),
                        }
                    }
                }
            }
            Change::HandsRecorded { poll, counts, present } => {
                if let Some(p) = self.poll_mut(*poll) {
                    p.hands = counts.clone();
                    p.hands_present = merged_ids(&p.hands_present, present);
                }
            }
            Change::PollClosed { poll, result, ballots } => {
                if let Some(p) = self.poll_mut(*poll) {
                    p.status = PollStatus::Closed;
                    p.result = Some(result.clone());
                    if !p.secret {
                        p.ballots = ballots.clone();
                    }
                }
            }
            Change::PollCancelled { poll, reason } => {
                if let Some(p) = self.poll_mut(*poll) {
                    p.status = PollStatus::Cancelled;
                    p.cancel_reason = Some(reason.clone());
                }
            }
            Change::SpeakRequested { .. } | Change::SpeakWithdrawn { .. } | Change::FloorGiven { .. } | Change::SpeechEnded { .. } => {
                self.speakers.apply(change, self.meeting.current_item)
            }
            Change::OpinionAdded { opinion } => Arc::make_mut(&mut self.opinions).push(opinion.clone()),
            Change::OpinionsRequested { request } => Arc::make_mut(&mut self.opinion_requests).push(request.clone()),
            Change::MinutesEdited { section, text } => Arc::make_mut(&mut self.minutes).set_text(*section, text.as_str()),
            Change::MinutesNumberSet { number } => Arc::make_mut(&mut self.minutes).number = number.clone(),
            Change::MinutesSentForComments { sections } => {
                Arc::make_mut(&mut self.minutes).status = MinutesStatus::InReview;
                self.publish_minutes(sections);
            }
            Change::MinutesCommented { comment } => Arc::make_mut(&mut self.minutes).comments.push(comment.clone()),
            Change::MinutesApproved { sections } => {
                Arc::make_mut(&mut self.minutes).status = MinutesStatus::Approved;
                self.publish_minutes(sections);
            }
            Change::MinutesSigned { signed } => {
                let minutes = Arc::make_mut(&mut self.minutes);
                minutes.status = MinutesStatus::Signed;
                minutes.signed.push(signed.clone());
            }
            Change::MinutesRevised { version } => {
                let minutes = Arc::make_mut(&mut self.minutes);
                minutes.version = *version;
                minutes.status = MinutesStatus::Draft;
            }
            Change::PinReset { .. } | Change::Hidden | Change::Unknown => {}
        }
    }

    /// The minutes' text as published with a change of status; a change
    /// written by an earlier room carries none and leaves the text as it is.
    fn publish_minutes(&mut self, sections: &[(SectionKey, String)]) {
        if !sections.is_empty() {
            Arc::make_mut(&mut self.minutes).sections = sections.iter().map(|(k, t)| (*k, Arc::from(t.as_str()))).collect();
        }
    }

    /// What the current item `left` becomes when the chair moves to
    /// `target`, if its status changes: done when the meeting moves on past
    /// it; as it was when the chair steps back to an earlier item (one only
    /// just opened stays pending, one finished before it was opened again
    /// stays done). Which item is current is the meeting's `current_item`,
    /// so an item's status says only whether it was discussed; `Current`
    /// is what rooms before this rule wrote, read as not yet finished. The
    /// room writes it and every copy folds it with this one rule, so they
    /// cannot disagree.
    pub fn left_as(&self, left: ItemId, target: Option<ItemId>) -> Option<ItemStatus> {
        let back = matches!((self.item_index(left), target.and_then(|t| self.item_index(t))), (Some(from), Some(to)) if to < from);
        match self.item(left)?.status {
            _ if !back => Some(ItemStatus::Done),
            ItemStatus::Current => Some(ItemStatus::Pending),
            _ => None,
        }
    }

    fn set_item_status(&mut self, id: ItemId, status: ItemStatus) {
        if let Some(i) = Arc::make_mut(&mut self.agenda).iter_mut().find(|i| i.id == id) {
            i.status = status;
        }
    }

    /// The role `actor` holds in this meeting as this state has it: a
    /// participant's role changed (or the participant removed) since they
    /// signed in counts at once, on connections already open too.
    pub fn role_of(&self, actor: &Actor) -> Option<Role> {
        self.current(actor)?.role_in(self.meeting.id)
    }

    /// `actor` with the role this state gives them; `None` for a participant
    /// no longer in the meeting.
    pub fn current(&self, actor: &Actor) -> Option<Actor> {
        match *actor {
            Actor::Participant { meeting, participant, .. } if meeting == self.meeting.id => {
                self.participant(participant).map(|p| Actor::Participant { meeting, participant, role: p.role })
            }
            other => Some(other),
        }
    }

    /// Does `viewer` see everything (the chair, the secretary, staff)?
    pub fn privileged(&self, viewer: &Actor) -> bool {
        matches!(self.role_of(viewer), Some(Role::Chair | Role::Secretary))
    }

    /// May `viewer` read members-only documents: a member, the chair, the
    /// secretary or staff? The signed minutes name such documents and
    /// reproduce the opinions written on them, so they are for them too.
    pub fn reads_members_documents(&self, viewer: &Actor) -> bool {
        match self.role_of(viewer) {
            None => false,
            Some(_) if viewer.is_staff() => true,
            Some(Role::Chair | Role::Secretary) => true,
            Some(_) => viewer.participant().and_then(|p| self.participant(p)).is_some_and(|p| p.member),
        }
    }

    /// May `viewer` read (and so list, fetch and cache) this document?
    pub fn can_read(&self, viewer: &Actor, doc: &Document) -> bool {
        if let Actor::Display { meeting } = viewer {
            return *meeting == self.meeting.id && doc.confidentiality == Confidentiality::Public;
        }
        match self.role_of(viewer) {
            None => false,
            Some(_) if viewer.is_staff() => true,
            Some(Role::Chair | Role::Secretary) => true,
            Some(_) => {
                let Some(pid) = viewer.participant() else { return false };
                match doc.confidentiality {
                    Confidentiality::Public => true,
                    Confidentiality::Members => self.participant(pid).is_some_and(|p| p.member),
                    Confidentiality::Named => doc.readers.contains(&pid),
                    // State secrets handed out at a meeting are collected at
                    // its end (Law on the Protection of State Secrets, 2018):
                    // once it is closed, only the chair and the secretary
                    // read them. Tablets drop them then too.
                    Confidentiality::Secret => self.meeting.status != MeetingStatus::Closed && doc.readers.contains(&pid),
                }
            }
        }
    }

    /// This state as `viewer` may see it: documents they may not read are
    /// left out, and so are other people's reader lists.
    /// Also hidden from others: named ballots while a poll is open (only
    /// who has voted shows), and other people's written opinions.
    pub fn visible_to(&self, viewer: &Actor) -> MeetingState {
        let mut s = self.clone();
        let privileged = self.privileged(viewer);
        if !privileged || !self.documents.iter().all(|d| self.can_read(viewer, d)) {
            s.documents = Arc::new(self.documents.iter().filter(|d| self.can_read(viewer, d)).cloned().collect());
        }
        if !privileged {
            let me = viewer.participant();
            for d in Arc::make_mut(&mut s.documents) {
                d.readers.retain(|r| Some(*r) == me);
            }
            // A cancelled vote's named ballots stay as hidden as while it
            // was open: followers never saw them, and it counts for nothing.
            let hidden = |p: &Poll| matches!(p.status, PollStatus::Open | PollStatus::Cancelled);
            if s.polls.iter().any(hidden) {
                for p in Arc::make_mut(&mut s.polls) {
                    if hidden(p) {
                        p.ballots.retain(|b| Some(b.voter) == me);
                        p.hands.clear();
                        p.hands_present.clear();
                    }
                }
            }
            s.opinions = Arc::new(self.opinions.iter().filter(|o| Some(o.author) == me).cloned().collect());
            if s.minutes.status == MinutesStatus::Draft {
                // A draft is the secretary's working text.
                Arc::make_mut(&mut s.minutes).sections.clear();
            }
        }
        s
    }

    /// An event as `viewer` may see it, given the state after the event: a
    /// document they may not read becomes `DocumentRemoved` (so a copy that
    /// had it drops it), and reader lists are trimmed as in [`Self::visible_to`].
    pub fn event_for(&self, viewer: &Actor, event: &Event) -> Event {
        // Written by a room before these changes carried the text: replayed,
        // they bring the text as published now (edits are never shown to
        // others, so without it their copy would stay empty).
        if let Change::MinutesSentForComments { sections } | Change::MinutesApproved { sections } = &event.change
            && sections.is_empty()
            && self.minutes.status != MinutesStatus::Draft
            && !self.minutes.sections.is_empty()
        {
            let sections = self.minutes.sections_owned();
            let change = match event.change {
                Change::MinutesSentForComments { .. } => Change::MinutesSentForComments { sections },
                _ => Change::MinutesApproved { sections },
            };
            return Event { change, ..event.clone() };
        }
        if same_for_everyone(&event.change) {
            return event.clone();
        }
        let privileged = self.privileged(viewer);
        let me = viewer.participant();
        let change = match &event.change {
            Change::BallotCast { poll, voter, choices: Some(_), by_secretary } if !privileged && me != Some(*voter) => {
                Change::BallotCast { poll: *poll, voter: *voter, choices: None, by_secretary: *by_secretary }
            }
            Change::HandsRecorded { .. } if !privileged => Change::Hidden,
            // Minutes are edited only as a draft, the secretary's working
            // text, whatever they became since (a replay of the log after
            // approval must not show what was written and then deleted):
            // others receive the text when it is sent for comments or approved.
            Change::MinutesEdited { .. } if !privileged => Change::Hidden,
            Change::OpinionAdded { opinion } if !privileged && me != Some(opinion.author) => Change::Hidden,
            Change::DocumentAdded { document } | Change::DocumentUpdated { document, .. } => {
                // Read as it was then and as it is now: a replay of the log
                // (the state now, events from long ago) must not show the
                // title and file of a document since narrowed or removed.
                let now = self.document(document.id);
                let unread = !self.can_read(viewer, document) || now.is_none_or(|d| !self.can_read(viewer, d));
                // Never in their copy: added unread, or changed while they
                // could not read it before either (a room before `was` was
                // kept cannot tell, and says it left their copy).
                let never = match &event.change {
                    Change::DocumentUpdated { was: Some(was), .. } => !self.can_read(viewer, was),
                    Change::DocumentUpdated { was: None, .. } => false,
                    _ => true,
                };
                if unread && never {
                    // Not even that it was added or changed, when, by whom,
                    // or its id ("as if it did not exist").
                    Change::Hidden
                } else if unread {
                    // Perhaps in their copy (narrowed since): it leaves it.
                    Change::DocumentRemoved { document: document.id, was: None }
                } else {
                    let mut d = document.clone();
                    if !privileged {
                        d.readers.retain(|r| Some(*r) == viewer.participant());
                    }
                    match &event.change {
                        Change::DocumentAdded { .. } => Change::DocumentAdded { document: d },
                        _ => Change::DocumentUpdated { document: d, was: None },
                    }
                }
            }
            Change::DocumentRemoved { document, was } => match was {
                Some(was) if !self.can_read(viewer, was) => Change::Hidden,
                _ => Change::DocumentRemoved { document: *document, was: None },
            },
            other => other.clone(),
        };
        Event { change, ..event.clone() }
    }
}

/// `a` and `b` together, in id order, each once.
pub fn merged_ids(a: &[ParticipantId], b: &[ParticipantId]) -> Vec<ParticipantId> {
    let mut all: Vec<ParticipantId> = a.iter().chain(b).copied().collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// True when [`MeetingState::event_for`] sends this change to every viewer
/// as it is: the server may then encode the event once for all of them.
pub fn same_for_everyone(change: &Change) -> bool {
    !matches!(
        change,
        Change::BallotCast { choices: Some(_), .. }
            | Change::HandsRecorded { .. }
            | Change::MinutesEdited { .. }
            | Change::OpinionAdded { .. }
            | Change::DocumentAdded { .. }
            | Change::DocumentUpdated { .. }
            | Change::DocumentRemoved { .. }
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use time::macros::datetime;

    pub fn sample() -> MeetingState {
        let mut s = MeetingState::new(Meeting {
            id: MeetingId(1),
            title: "Họp thường kỳ".into(),
            organisation: "UBND phường Láng Hạ".into(),
            place: "Phòng họp tầng 3".into(),
            locality: "Hà Nội".into(),
            starts_at: datetime!(2026-11-23 08:00 +07:00),
            status: MeetingStatus::Draft,
            current_item: None,
            quorum: Default::default(),
            speech_limit_secs: DEFAULT_SPEECH_LIMIT_SECS,
        });
        let people = [
            (1, "Nguyễn Văn An", Role::Chair, true, true),
            (2, "Trần Thị Bình", Role::Secretary, true, false),
            (3, "Lê Văn Cường", Role::Delegate, true, true),
            (4, "Phạm Thu Dung", Role::Delegate, false, false),
            (5, "Hoàng Minh Em", Role::Observer, false, false),
        ];
        for (id, name, role, member, voting) in people {
            std::sync::Arc::make_mut(&mut s.participants).push(Participant {
                id: ParticipantId(id),
                name: name.into(),
                position: String::new(),
                role,
                member,
                voting,
                attendance: Attendance::Present,
                excuse: String::new(),
            });
        }
        for (id, title) in [(10, "Khai mạc"), (11, "Báo cáo tình hình"), (12, "Bế mạc")] {
            Arc::make_mut(&mut s.agenda).push(AgendaItem {
                id: ItemId(id),
                title: title.into(),
                presenter: String::new(),
                summary: String::new(),
                status: ItemStatus::Pending,
            });
        }
        s.seq = 1;
        s
    }

    #[test]
    fn participants_are_found_in_order_or_not_and_roles_follow_the_state() {
        let mut s = sample();
        assert_eq!(s.participant(ParticipantId(4)).map(|p| p.name.as_str()), Some("Phạm Thu Dung"));
        assert!(s.participant(ParticipantId(9)).is_none());
        std::sync::Arc::make_mut(&mut s.participants).reverse();
        assert_eq!(s.participant(ParticipantId(4)).map(|p| p.name.as_str()), Some("Phạm Thu Dung"), "out of order too");
        // A session opened as chair acts as what the meeting says now.
        let claimed = Actor::Participant { meeting: s.meeting.id, participant: ParticipantId(3), role: Role::Chair };
        assert_eq!(s.role_of(&claimed), Some(Role::Delegate));
        assert!(!s.privileged(&claimed));
        let gone = Actor::Participant { meeting: s.meeting.id, participant: ParticipantId(9), role: Role::Chair };
        assert_eq!((s.role_of(&gone), s.current(&gone)), (None, None));
    }

    fn poll(voters: &[i64], status: PollStatus) -> Poll {
        Poll {
            id: PollId(1),
            item: ItemId(10),
            question: "Thông qua nghị quyết?".into(),
            kind: PollKind::YesNo,
            options: YES_NO_OPTIONS.iter().map(|o| o.to_string()).collect(),
            max_choices: 1,
            secret: false,
            allow_change: false,
            rule: MajorityRule { basis: Basis::MembersPresent, share: Share::MORE_THAN_HALF },
            status,
            voters: voters.iter().map(|v| ParticipantId(*v)).collect(),
            ballots: voters.iter().map(|v| NamedBallot { voter: ParticipantId(*v), choices: vec![0], by_secretary: false }).collect(),
            hands: vec![],
            hands_present: vec![],
            result: None,
            cancel_reason: None,
        }
    }

    #[test]
    fn a_vote_is_counted_with_the_members_who_voted_in_it_though_they_left_since() {
        // Members: 1, 2 and 3 (4 and 5 are not); 1 and 3 vote, then leave.
        let mut s = sample();
        let p = poll(&[1, 3], PollStatus::Open);
        for at in [0, 2] {
            Arc::make_mut(&mut s.participants)[at].attendance = Attendance::Absent;
        }
        assert_eq!((s.quorum().present, s.quorum().holds), (1, false), "the room now");
        let q = s.poll_quorum(&p);
        assert_eq!((q.present, q.members, q.holds), (3, 3, true), "the vote: {q:?}");
        let result = crate::decision::tally(&p, vec![2, 0, 0], 2, 0, q, time::OffsetDateTime::UNIX_EPOCH);
        assert!(result.adopted && result.base == 3, "2 of the 3 members present at the vote: {result:?}");

        // Hands counted for two members who then left: they were there.
        let mut by_hand = poll(&[], PollStatus::Open);
        by_hand.hands = vec![2, 0, 0];
        let q = s.poll_quorum(&by_hand);
        assert_eq!((q.present, q.holds), (2, true), "{q:?}");
        // Never more than the members.
        by_hand.hands = vec![9, 0, 0];
        assert_eq!(s.poll_quorum(&by_hand).present, 3);

        // Members 1, 2 and 3 present at the show of hands, 2 hands (one of
        // them abstained without a hand), then 1 and 3 leave: all 3 were
        // there for the vote, not the 2 the hands alone show.
        let mut s = sample();
        s.meeting.status = MeetingStatus::Open;
        Arc::make_mut(&mut s.polls).push(poll(&[], PollStatus::Open));
        let present: Vec<ParticipantId> = [1, 2, 3].map(ParticipantId).to_vec();
        let hands = |counts: Vec<u32>, present: Vec<ParticipantId>| Change::HandsRecorded { poll: PollId(1), counts, present };
        s.apply_change(&hands(vec![2, 0, 0], present.clone()));
        for at in [0, 2] {
            Arc::make_mut(&mut s.participants)[at].attendance = Attendance::Absent;
        }
        assert_eq!(s.poll_quorum(&s.polls[0]).present, 3, "{:?}", s.polls[0].hands_present);
        // A recount after 3 left still counts 3: they were there for the vote.
        s.apply_change(&hands(vec![1, 0, 0], present[..2].to_vec()));
        assert_eq!(s.polls[0].hands_present, present);
        assert_eq!(s.poll_quorum(&s.polls[0]).present, 3);
    }

    #[test]
    fn a_cancelled_votes_named_ballots_stay_hidden_from_delegates() {
        let mut s = sample();
        s.meeting.status = MeetingStatus::Open;
        Arc::make_mut(&mut s.polls).push(poll(&[1, 3], PollStatus::Cancelled));
        let seen = s.visible_to(&actor(&s, 3));
        let voters: Vec<i64> = seen.polls[0].ballots.iter().map(|b| b.voter.0).collect();
        assert_eq!(voters, vec![3], "their own ballot alone");
        assert_eq!(s.visible_to(&actor(&s, 1)).polls[0].ballots.len(), 2, "the chair");
        Arc::make_mut(&mut s.polls)[0].status = PollStatus::Closed;
        assert_eq!(s.visible_to(&actor(&s, 3)).polls[0].ballots.len(), 2, "a closed named vote is public");
    }

    pub fn actor(s: &MeetingState, id: i64) -> Actor {
        let p = s.participant(ParticipantId(id)).unwrap();
        Actor::Participant { meeting: s.meeting.id, participant: p.id, role: p.role }
    }

    fn doc(id: i64, c: Confidentiality, readers: &[i64]) -> Document {
        Document {
            id: DocumentId(id),
            item: ItemId(10),
            title: format!("Tài liệu {id}"),
            file_name: "a.pdf".into(),
            size: 10,
            sha256: "00".into(),
            confidentiality: c,
            readers: readers.iter().map(|r| ParticipantId(*r)).collect(),
            uploaded_at: datetime!(2026-11-20 08:00 UTC),
        }
    }

    fn ev(s: &MeetingState, change: Change) -> Event {
        Event { meeting: s.meeting.id, seq: s.seq + 1, at: datetime!(2026-11-23 08:05 UTC), by: Actor::System, change }
    }

    /// The store drops an item's opinion requests with the item (before the
    /// meeting, when an item asked about may still be removed): the live
    /// copy does too, so a restart shows the same.
    #[test]
    fn an_items_opinion_requests_go_with_it() {
        let mut s = sample();
        for (id, item) in [(1, 11), (2, 12)] {
            let request = OpinionRequest {
                id: OpinionRequestId(id),
                item: ItemId(item),
                deadline: datetime!(2026-11-24 08:00 UTC),
                asked_at: datetime!(2026-11-23 08:00 UTC),
            };
            s.apply(&ev(&s, Change::OpinionsRequested { request })).unwrap();
        }
        s.apply(&ev(&s, Change::ItemRemoved { item: ItemId(11) })).unwrap();
        assert_eq!(s.opinion_requests.iter().map(|r| r.id).collect::<Vec<_>>(), [OpinionRequestId(2)]);
    }

    /// The room copies its state for every batch and keeps the states of
    /// recent per-viewer events (ballots, minutes edits) for its followers:
    /// a copy must share the agenda and the minutes it did not change, or a
    /// named vote of 500 held 500 copies of every item's summary and of the
    /// whole minutes.
    #[test]
    fn a_change_shares_with_the_state_before_it_what_it_did_not_touch() {
        let mut s = sample();
        let minutes = Arc::make_mut(&mut s.minutes);
        minutes.set_text(SectionKey::Opening, "Đồng chí Chủ tịch tuyên bố lý do. ".repeat(1_000));
        minutes.set_text(SectionKey::Conclusion, "Kết luận");
        let opening = |st: &MeetingState| st.minutes.sections.iter().find(|(k, _)| *k == SectionKey::Opening).unwrap().1.clone();

        let before = s.clone();
        let away = Change::AttendanceChanged { participant: ParticipantId(4), attendance: Attendance::Absent, reason: String::new() };
        s.apply(&ev(&s, away)).unwrap();
        assert!(Arc::ptr_eq(&before.agenda, &s.agenda) && Arc::ptr_eq(&before.minutes, &s.minutes), "untouched: shared whole");

        let before = s.clone();
        s.apply(&ev(&s, Change::MinutesEdited { section: SectionKey::Conclusion, text: "Kết luận mới".into() })).unwrap();
        assert_eq!(s.minutes.text(SectionKey::Conclusion), "Kết luận mới");
        assert!(Arc::ptr_eq(&opening(&before), &opening(&s)), "another section's text is shared, not copied");
        assert!(Arc::ptr_eq(&before.agenda, &s.agenda));
    }

    #[test]
    fn a_votes_progress_counts_those_who_voted_and_left_and_the_hands() {
        let mut s = sample();
        // Voters: the chair (1) and delegate 3, both present.
        let mut p = crate::decision::tests::yes_no_poll();
        assert_eq!(s.vote_progress(&p), (0, 2));
        p.voters.push(ParticipantId(1));
        let away = Change::AttendanceChanged { participant: ParticipantId(1), attendance: Attendance::Absent, reason: String::new() };
        s.apply(&ev(&s, away)).unwrap();
        assert_eq!(s.vote_progress(&p), (1, 2), "the chair voted, then left: still counted, and still of the whole");
        p.hands = vec![1, 0, 0];
        assert_eq!(s.vote_progress(&p), (2, 2), "delegate 3 raised a hand");
    }

    #[test]
    fn an_election_of_two_seats_by_show_of_hands_is_counted_among_everyone_in_the_room() {
        // 12 voters present (the chair, delegate 3 and ten more), 2 seats;
        // each raises a hand for one name: An 6, Bình 4, Cường 2.
        let mut s = sample();
        s.meeting.status = MeetingStatus::Open;
        for id in 100..110 {
            let mut p = s.participants[2].clone();
            p.id = ParticipantId(id);
            Arc::make_mut(&mut s.participants).push(p);
        }
        assert_eq!(s.voters_present(), 12);
        let mut election = poll(&[], PollStatus::Open);
        election.kind = PollKind::Choice;
        election.options = vec!["An".into(), "Bình".into(), "Cường".into()];
        election.max_choices = 2;
        election.rule = MajorityRule { basis: Basis::VotesCast, share: Share::MORE_THAN_HALF };
        Arc::make_mut(&mut s.polls).push(election);
        let present: Vec<ParticipantId> = s.participants.iter().filter(|p| p.member).map(|p| p.id).collect();
        s.apply_change(&Change::HandsRecorded { poll: PollId(1), counts: vec![6, 4, 2], present });
        let p = s.polls[0].clone();
        assert_eq!(p.hand_voters(), 6, "the hands alone: 6 people naming two each would do");
        assert_eq!(s.hand_voters(&p), 12, "the 12 voters in the room, not the 6 the hands alone show");
        assert_eq!(s.vote_progress(&p), (12, 12));
        let r =
            crate::decision::tally(&p, p.hands.clone(), s.hand_voters(&p) as u32, 0, s.poll_quorum(&p), time::OffsetDateTime::UNIX_EPOCH);
        assert_eq!((r.base, r.needed), (12, 7));
        assert!(!r.passed.iter().any(|x| *x) && !r.adopted, "An's 6 of 12 is not more than half: {r:?}");
        // Nobody in the room when the hands were counted votes again on a tablet.
        let cast = crate::protocol::Command::CastBallot { poll: PollId(1), choices: vec![1] };
        let voter = Actor::Participant { meeting: s.meeting.id, participant: ParticipantId(100), role: Role::Delegate };
        assert_eq!(crate::rules::check(&s, &voter, &cast).unwrap_err().code(), "conflict");
        // One who came in after may.
        let mut late = s.participants[2].clone();
        late.id = ParticipantId(200);
        Arc::make_mut(&mut s.participants).push(late);
        let late = Actor::Participant { meeting: s.meeting.id, participant: ParticipantId(200), role: Role::Delegate };
        assert_eq!(crate::rules::check(&s, &late, &cast), Ok(()));
        assert_eq!(crate::rules::check(&s, &voter, &cast).unwrap_err().code(), "conflict", "still not those counted by hand");
        assert_eq!(s.vote_progress(&s.polls[0]), (12, 13), "the newcomer is still to vote");
        // One counted by hand leaves: still counted, and the newcomer still votes.
        let i = s.participants.iter().position(|x| x.id == ParticipantId(101)).unwrap();
        Arc::make_mut(&mut s.participants)[i].attendance = Attendance::Absent;
        assert_eq!(crate::rules::check(&s, &late, &cast), Ok(()));
        assert_eq!((s.hand_voters(&s.polls[0]), s.vote_progress(&s.polls[0])), (12, (12, 13)));

        // Counts of nought, saved by mistake, count nobody: tablets vote.
        s.apply_change(&Change::HandsRecorded { poll: PollId(1), counts: vec![0, 0, 0], present: vec![] });
        assert_eq!(s.hand_voters(&s.polls[0]), 0);
        assert_eq!(crate::rules::check(&s, &voter, &cast), Ok(()));
    }

    #[test]
    fn someone_who_leaves_or_is_removed_no_longer_waits_to_speak() {
        let mut s = sample();
        s.speakers.queue = vec![ParticipantId(3), ParticipantId(4), ParticipantId(5)];
        let away =
            Change::AttendanceChanged { participant: ParticipantId(3), attendance: Attendance::Excused, reason: "Công tác".into() };
        s.apply(&ev(&s, away)).unwrap();
        let back = Change::AttendanceChanged { participant: ParticipantId(4), attendance: Attendance::Present, reason: String::new() };
        s.apply(&ev(&s, back)).unwrap();
        s.apply(&ev(&s, Change::ParticipantRemoved { participant: ParticipantId(5) })).unwrap();
        assert_eq!(s.speakers.queue, vec![ParticipantId(4)]);
    }

    #[test]
    fn an_event_encoded_once_for_everyone_is_what_every_viewer_would_get() {
        let s = sample();
        let ev = |change| Event { meeting: MeetingId(1), seq: 9, at: time::OffsetDateTime::UNIX_EPOCH, by: Actor::System, change };
        let viewers = [actor(&s, 1), actor(&s, 2), actor(&s, 3), actor(&s, 5), Actor::Display { meeting: MeetingId(1) }];
        let moved = ev(Change::CurrentItemChanged { item: Some(ItemId(2)), previous: None });
        assert!(same_for_everyone(&moved.change));
        for v in &viewers {
            assert_eq!(s.event_for(v, &moved), moved);
        }
        // A ballot with its choice is not: others see that a vote was cast, not how.
        let ballot = ev(Change::BallotCast { poll: PollId(1), voter: ParticipantId(3), choices: Some(vec![0]), by_secretary: false });
        assert!(!same_for_everyone(&ballot.change));
        assert_ne!(s.event_for(&actor(&s, 5), &ballot), ballot);
    }

    #[test]
    fn events_apply_in_order_only() {
        let mut s = sample();
        let e = ev(&s, Change::MeetingOpened);
        s.apply(&e).unwrap();
        assert_eq!(s.meeting.status, MeetingStatus::Open);
        assert_eq!(s.apply(&e), Err(ApplyError::OutOfOrder { have: 2, got: 2 }));
        let mut gap = ev(&s, Change::MeetingClosed);
        gap.seq += 1;
        assert!(s.apply(&gap).is_err());
        assert_eq!(s.meeting.status, MeetingStatus::Open, "a refused event changes nothing");
    }

    #[test]
    fn moving_on_marks_the_item_left_done_and_stepping_back_leaves_it_pending() {
        let mut s = sample();
        s.apply(&ev(&s, Change::CurrentItemChanged { item: Some(ItemId(10)), previous: None })).unwrap();
        s.apply(&ev(&s, Change::CurrentItemChanged { item: Some(ItemId(11)), previous: Some(ItemId(10)) })).unwrap();
        assert_eq!(s.item(ItemId(10)).unwrap().status, ItemStatus::Done);
        assert_eq!(s.current_item().unwrap().id, ItemId(11));
        // Back to the first item: the second was only opened, not finished;
        // the first, finished before, stays so while it is open again.
        s.apply(&ev(&s, Change::CurrentItemChanged { item: Some(ItemId(10)), previous: Some(ItemId(11)) })).unwrap();
        assert_eq!(s.item(ItemId(11)).unwrap().status, ItemStatus::Pending, "an item stepped back from is marked done");
        assert_eq!(s.item(ItemId(10)).unwrap().status, ItemStatus::Done);
        assert_eq!(s.current_item().unwrap().id, ItemId(10));
        // On to the third, then two steps back: the second, finished, stays
        // done; the third, only opened, is pending.
        s.apply(&ev(&s, Change::CurrentItemChanged { item: Some(ItemId(11)), previous: Some(ItemId(10)) })).unwrap();
        s.apply(&ev(&s, Change::CurrentItemChanged { item: Some(ItemId(12)), previous: Some(ItemId(11)) })).unwrap();
        s.apply(&ev(&s, Change::CurrentItemChanged { item: Some(ItemId(11)), previous: Some(ItemId(12)) })).unwrap();
        s.apply(&ev(&s, Change::CurrentItemChanged { item: Some(ItemId(10)), previous: Some(ItemId(11)) })).unwrap();
        let statuses: Vec<ItemStatus> = s.agenda.iter().map(|i| i.status).collect();
        assert_eq!(statuses, [ItemStatus::Done, ItemStatus::Done, ItemStatus::Pending], "a finished item stepped back over");
        s.apply(&ev(&s, Change::CurrentItemChanged { item: Some(ItemId(11)), previous: Some(ItemId(10)) })).unwrap();
        s.apply(&ev(&s, Change::MeetingClosed)).unwrap();
        assert_eq!(s.item(ItemId(11)).unwrap().status, ItemStatus::Done);
        assert_eq!(s.meeting.current_item, None);
    }

    #[test]
    fn a_copy_shares_what_its_events_leave_alone() {
        let before = sample();
        let mut after = before.clone();
        after.apply(&ev(&after, Change::CurrentItemChanged { item: Some(ItemId(10)), previous: None })).unwrap();
        after.apply(&ev(&after, Change::MeetingOpened)).unwrap();
        assert!(Arc::ptr_eq(&before.participants, &after.participants), "an agenda move copied the participants");
        assert!(Arc::ptr_eq(&before.documents, &after.documents));
        assert!(Arc::ptr_eq(&before.polls, &after.polls));
        // A change to one participant copies the list, and the older state keeps its own.
        let change = Change::AttendanceChanged { participant: ParticipantId(3), attendance: Attendance::Absent, reason: "ốm".into() };
        after.apply(&ev(&after, change)).unwrap();
        assert!(!Arc::ptr_eq(&before.participants, &after.participants));
        assert_eq!(before.participant(ParticipantId(3)).unwrap().attendance, Attendance::Present);
        assert_eq!(after.participant(ParticipantId(3)).unwrap().attendance, Attendance::Absent);
        // An unknown participant changes nothing, and copies nothing.
        let shared = after.participants.clone();
        let change = Change::AttendanceChanged { participant: ParticipantId(99), attendance: Attendance::Absent, reason: String::new() };
        after.apply(&ev(&after, change)).unwrap();
        assert!(Arc::ptr_eq(&shared, &after.participants));
        // Nor does a ballot in an unknown poll, or removing an unknown participant.
        let polls = after.polls.clone();
        let ballot = Change::BallotCast { poll: PollId(99), voter: ParticipantId(3), choices: None, by_secretary: false };
        after.apply(&ev(&after, ballot)).unwrap();
        assert!(Arc::ptr_eq(&polls, &after.polls));
        after.apply(&ev(&after, Change::ParticipantRemoved { participant: ParticipantId(99) })).unwrap();
        assert!(Arc::ptr_eq(&shared, &after.participants));
        // The chair sees every document: their view shares the list.
        assert!(Arc::ptr_eq(&after.visible_to(&actor(&after, 1)).documents, &after.documents));
    }

    #[test]
    fn items_move_and_insert_at_positions() {
        let mut s = sample();
        s.apply(&ev(&s, Change::ItemMoved { item: ItemId(12), position: 0 })).unwrap();
        let ids: Vec<i64> = s.agenda.iter().map(|i| i.id.0).collect();
        assert_eq!(ids, [12, 10, 11]);
        let mut item = s.agenda[0].clone();
        item.id = ItemId(13);
        s.apply(&ev(&s, Change::ItemAdded { item, position: 99 })).unwrap();
        assert_eq!(s.agenda.last().unwrap().id, ItemId(13));
    }

    #[test]
    fn confidentiality_decides_who_reads() {
        let mut s = sample();
        s.documents = Arc::new(vec![
            doc(1, Confidentiality::Public, &[]),
            doc(2, Confidentiality::Members, &[]),
            doc(3, Confidentiality::Named, &[4]),
            doc(4, Confidentiality::Secret, &[3]),
        ]);
        let visible = |who: Actor| -> Vec<i64> { s.visible_to(&who).documents.iter().map(|d| d.id.0).collect() };
        assert_eq!(visible(actor(&s, 1)), [1, 2, 3, 4], "chair");
        assert_eq!(visible(actor(&s, 2)), [1, 2, 3, 4], "secretary");
        assert_eq!(visible(actor(&s, 3)), [1, 2, 4], "member delegate named on the secret one");
        assert_eq!(visible(actor(&s, 4)), [1, 3], "non-member named on doc 3");
        assert_eq!(visible(actor(&s, 5)), [1], "observer");
        let stranger = Actor::Participant { meeting: MeetingId(2), participant: ParticipantId(99), role: Role::Chair };
        assert!(visible(stranger).is_empty(), "a participant of another meeting");
        assert_eq!(visible(Actor::Staff { staff: StaffId(1) }).len(), 4);
        // Reader lists are not shown to those outside the chair and secretary.
        let seen = s.visible_to(&actor(&s, 4));
        assert_eq!(seen.document(DocumentId(3)).unwrap().readers, [ParticipantId(4)]);
    }

    #[test]
    fn events_about_unreadable_documents_become_removals() {
        let mut s = sample();
        let d = doc(7, Confidentiality::Named, &[3]);
        let e = ev(&s, Change::DocumentAdded { document: d.clone() });
        s.apply(&e).unwrap();
        assert_eq!(s.event_for(&actor(&s, 4), &e).change, Change::Hidden, "not even its id");
        assert_eq!(s.event_for(&actor(&s, 3), &e).change, e.change);
        assert_eq!(s.event_for(&actor(&s, 4), &e).seq, e.seq, "seq is kept, so the copy stays in step");

        // Replayed from the log after the document was narrowed: the event
        // as written said public, the document now says otherwise.
        let public = ev(&s, Change::DocumentAdded { document: doc(8, Confidentiality::Public, &[]) });
        s.apply(&public).unwrap();
        assert_eq!(s.event_for(&actor(&s, 5), &public).change, public.change, "the observer reads it while public");
        let narrowed = ev(&s, Change::DocumentUpdated { document: doc(8, Confidentiality::Members, &[]), was: None });
        s.apply(&narrowed).unwrap();
        assert_eq!(s.event_for(&actor(&s, 5), &public).change, Change::Hidden);
        assert_eq!(
            s.event_for(&actor(&s, 5), &narrowed).change,
            Change::DocumentRemoved { document: DocumentId(8), was: None },
            "out of its copy"
        );
        assert_eq!(s.event_for(&actor(&s, 3), &public).change, public.change, "a member still reads it");
        s.apply(&ev(&s, Change::DocumentRemoved { document: DocumentId(8), was: None })).unwrap();
        assert_eq!(s.event_for(&actor(&s, 3), &public).change, Change::Hidden);
    }

    /// A document someone never could read, changed or removed, reaches
    /// them as nothing, not as a removal naming its id; one they could read
    /// leaves their copy; what it was is never sent.
    #[test]
    fn changes_to_a_document_never_readable_say_nothing_of_it() {
        let mut s = sample();
        let before = doc(7, Confidentiality::Named, &[3]);
        s.apply(&ev(&s, Change::DocumentAdded { document: before.clone() })).unwrap();
        let was = Some(Box::new(before.clone()));
        let renamed =
            ev(&s, Change::DocumentUpdated { document: Document { title: "Đổi tên".into(), ..before.clone() }, was: was.clone() });
        s.apply(&renamed).unwrap();
        assert_eq!(s.event_for(&actor(&s, 4), &renamed).change, Change::Hidden, "a never-reader learns of it");
        let mut sent = s.event_for(&actor(&s, 3), &renamed);
        assert!(matches!(&sent.change, Change::DocumentUpdated { was: None, .. }), "what it was is sent: {sent:?}");
        sent = s.event_for(&actor(&s, 2), &renamed);
        assert!(matches!(&sent.change, Change::DocumentUpdated { was: None, .. }), "what it was is sent to the secretary");
        // Narrowed away from its reader: it leaves their copy, still unseen by others.
        let current = s.document(DocumentId(7)).cloned().unwrap();
        let narrowed =
            ev(&s, Change::DocumentUpdated { document: doc(7, Confidentiality::Named, &[1]), was: Some(Box::new(current.clone())) });
        s.apply(&narrowed).unwrap();
        assert_eq!(s.event_for(&actor(&s, 3), &narrowed).change, Change::DocumentRemoved { document: DocumentId(7), was: None });
        assert_eq!(s.event_for(&actor(&s, 4), &narrowed).change, Change::Hidden);
        let gone = ev(&s, Change::DocumentRemoved { document: DocumentId(7), was: s.document(DocumentId(7)).cloned().map(Box::new) });
        s.apply(&gone).unwrap();
        assert_eq!(s.event_for(&actor(&s, 3), &gone).change, Change::Hidden, "removed once no longer theirs");
        assert_eq!(s.event_for(&actor(&s, 1), &gone).change, Change::DocumentRemoved { document: DocumentId(7), was: None });
        assert!(!same_for_everyone(&gone.change));
        let wire = serde_json::to_string(&s.event_for(&actor(&s, 1), &gone)).unwrap();
        assert!(!wire.contains("was"), "{wire}");
    }

    #[test]
    fn the_minutes_draft_reaches_others_only_as_sent_for_comments_even_in_a_replay() {
        use crate::minutes::SectionKey;
        let mut s = sample();
        let draft = ev(&s, Change::MinutesEdited { section: SectionKey::Opening, text: "Nội dung sẽ xóa.".into() });
        s.apply(&draft).unwrap();
        let edit = ev(&s, Change::MinutesEdited { section: SectionKey::Opening, text: "Khai mạc.".into() });
        s.apply(&edit).unwrap();
        let sections = s.minutes.sections_owned();
        let sent = ev(&s, Change::MinutesSentForComments { sections });
        s.apply(&sent).unwrap();
        s.apply(&ev(&s, Change::MinutesApproved { sections: s.minutes.sections_owned() })).unwrap();
        // Long after: a delegate replaying the log sees no draft, and gets the text with the review.
        let delegate = actor(&s, 3);
        assert_eq!(s.event_for(&delegate, &draft).change, Change::Hidden);
        assert_eq!(s.event_for(&delegate, &edit).change, Change::Hidden);
        assert_eq!(s.event_for(&actor(&s, 2), &draft).change, draft.change, "the secretary sees every edit");
        let mut copy = sample().visible_to(&delegate);
        for e in [&draft, &edit, &sent] {
            copy.apply(&s.event_for(&delegate, e)).unwrap();
        }
        assert_eq!(copy.minutes.text(SectionKey::Opening), "Khai mạc.");
        // A change written by an earlier room, with no text, leaves the text as it was…
        copy.apply(&ev(&copy, Change::MinutesApproved { sections: vec![] })).unwrap();
        assert_eq!(copy.minutes.text(SectionKey::Opening), "Khai mạc.");
        // …and, replayed from such a room's log, brings the text as published now.
        let old = Event { change: Change::MinutesSentForComments { sections: vec![] }, ..sent.clone() };
        let mut fresh = sample().visible_to(&delegate);
        for e in [&draft, &edit, &old] {
            fresh.apply(&s.event_for(&delegate, e)).unwrap();
        }
        assert_eq!(fresh.minutes.text(SectionKey::Opening), "Khai mạc.");
    }

    #[test]
    fn participants_sort_the_vietnamese_way() {
        let s = sample();
        let names: Vec<&str> = s.participants_sorted().iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường", "Phạm Thu Dung", "Hoàng Minh Em"]);
    }
}
