//! How a meeting decides: attendance and quorum, polls (biểu quyết) and
//! their majority rules, written opinions and the speakers' list.
//!
//! Counting is pure: [`tally`] turns ballots into a [`PollResult`] under a
//! [`MajorityRule`], and the same function runs on the server when a poll
//! closes and in tests against a count made from the database.

use crate::model::*;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A share such as "more than 1/2" or "at least 2/3".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    pub num: u32,
    pub den: u32,
    /// `true`: more than num/den; `false`: at least num/den.
    pub strict: bool,
}

impl Share {
    /// More than half.
    pub const MORE_THAN_HALF: Share = Share { num: 1, den: 2, strict: true };
    /// At least two thirds.
    pub const TWO_THIRDS: Share = Share { num: 2, den: 3, strict: false };

    /// Is `part` of `whole` enough? Never with a whole of 0.
    pub fn met(&self, part: u32, whole: u32) -> bool {
        if whole == 0 || self.den == 0 {
            return false;
        }
        let (lhs, rhs) = (u64::from(part) * u64::from(self.den), u64::from(self.num) * u64::from(whole));
        if self.strict { lhs > rhs } else { lhs >= rhs }
    }

    /// The smallest `part` of `whole` that meets the share.
    pub fn needed(&self, whole: u32) -> u32 {
        (0..=whole).find(|p| self.met(*p, whole)).unwrap_or(whole + 1)
    }

    /// Valid shares are between 0 and 1 with a non-zero denominator, and
    /// can be met: "more than all" cannot (no quorum, no vote passing, ever).
    pub fn is_valid(&self) -> bool {
        self.den > 0 && (self.num < self.den || (self.num == self.den && !self.strict))
    }

    /// The share in words ("quá nửa", "ít nhất hai phần ba", "trên 3/5").
    pub fn text(&self, vietnamese: bool) -> String {
        let t = |vi: &str, en: &str| if vietnamese { vi.to_string() } else { en.to_string() };
        match (self.num, self.den, self.strict) {
            (1, 2, true) => t("quá nửa", "more than half"),
            (2, 3, false) => t("ít nhất hai phần ba", "at least two thirds"),
            (n, d, true) => format!("{} {n}/{d}", t("trên", "more than")),
            (n, d, false) => format!("{} {n}/{d}", t("ít nhất", "at least")),
        }
    }
}

impl Default for Share {
    fn default() -> Self {
        Share::MORE_THAN_HALF
    }
}

/// Whether a participant is in the meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Attendance {
    /// Not (yet) signed in.
    #[default]
    Absent,
    /// In the room (signed in there, or marked by the secretary).
    Present,
    /// Excused by the secretary, with a reason.
    Excused,
}

impl Attendance {
    /// The stable name used in the database and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Attendance::Absent => "absent",
            Attendance::Present => "present",
            Attendance::Excused => "excused",
        }
    }

    /// Parses [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "absent" => Some(Attendance::Absent),
            "present" => Some(Attendance::Present),
            "excused" => Some(Attendance::Excused),
            _ => None,
        }
    }
}

/// Present members against all members, and whether that is a quorum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quorum {
    pub present: u32,
    pub members: u32,
    /// How many present members the rule needs.
    pub needed: u32,
    pub holds: bool,
}

impl Quorum {
    /// `present` members of `members` under `rule`.
    pub fn of(present: u32, members: u32, rule: Share) -> Quorum {
        Quorum { present, members, needed: rule.needed(members), holds: rule.met(present, members) }
    }
}

/// The quorum of participants under a rule: only *members* count.
pub fn quorum(participants: &[Participant], rule: Share) -> Quorum {
    let members = participants.iter().filter(|p| p.member).count() as u32;
    let present = participants.iter().filter(|p| p.member && p.attendance == Attendance::Present).count() as u32;
    Quorum::of(present, members, rule)
}

/// What a majority is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The votes for and against (abstentions are not counted); for an
    /// election, the ballots cast.
    VotesCast,
    /// The members present when the poll closes.
    MembersPresent,
    /// All members of the meeting, present or not.
    AllMembers,
}

/// When a poll passes: `share` of `basis` in favour (and a quorum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MajorityRule {
    pub basis: Basis,
    pub share: Share,
}

impl MajorityRule {
    /// The rule in words, as the minutes and the room both say it ("quá nửa
    /// số phiếu bầu"): an election's base is its ballots, a yes/no vote's
    /// the votes for and against.
    pub fn text(&self, kind: PollKind, vietnamese: bool) -> String {
        format!("{} {}", self.share.text(vietnamese), basis_text(kind, self.basis, vietnamese))
    }
}

/// What a poll's shares are counted against, in words.
pub fn basis_text(kind: PollKind, basis: Basis, vietnamese: bool) -> &'static str {
    let (vi, en) = match (basis, kind) {
        (Basis::VotesCast, PollKind::YesNo) => ("số phiếu tán thành và không tán thành", "of the votes for and against"),
        (Basis::VotesCast, PollKind::Choice) => ("số phiếu bầu", "of the ballots cast"),
        (Basis::MembersPresent, _) => ("số thành viên có mặt", "of the members present"),
        (Basis::AllMembers, _) => ("tổng số thành viên", "of all members"),
    };
    if vietnamese { vi } else { en }
}

impl Default for MajorityRule {
    /// More than half of all members: the usual rule of people's committees
    /// and councils.
    fn default() -> Self {
        MajorityRule { basis: Basis::AllMembers, share: Share::MORE_THAN_HALF }
    }
}

/// What kind of question a poll asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PollKind {
    /// Tán thành / Không tán thành / Không biểu quyết; passes on the first.
    YesNo,
    /// Custom options (an election); each option is elected if it meets the
    /// rule; a ballot picks up to `max_choices`.
    Choice,
}

/// The default options of a yes/no poll.
pub const YES_NO_OPTIONS: [&str; 3] = ["Tán thành", "Không tán thành", "Không biểu quyết"];

/// Where a poll is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PollStatus {
    Draft,
    Open,
    Closed,
    Cancelled,
}

impl PollStatus {
    /// The stable name used in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            PollStatus::Draft => "draft",
            PollStatus::Open => "open",
            PollStatus::Closed => "closed",
            PollStatus::Cancelled => "cancelled",
        }
    }

    /// Parses [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "draft" => Some(PollStatus::Draft),
            "open" => Some(PollStatus::Open),
            "closed" => Some(PollStatus::Closed),
            "cancelled" => Some(PollStatus::Cancelled),
            _ => None,
        }
    }
}

/// A ballot of a named poll: who chose what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedBallot {
    pub voter: ParticipantId,
    /// Indexes into the poll's options.
    pub choices: Vec<u8>,
    /// Entered by the secretary for the voter (a failed tablet).
    pub by_secretary: bool,
}

/// A poll (biểu quyết) on an agenda item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Poll {
    pub id: PollId,
    pub item: ItemId,
    pub question: String,
    pub kind: PollKind,
    pub options: Vec<String>,
    /// How many options one ballot may pick (1 for yes/no).
    pub max_choices: u8,
    /// Secret: nobody, not even the server's records, links a voter to a choice.
    pub secret: bool,
    /// Named polls only: a voter may change their ballot while it is open.
    pub allow_change: bool,
    pub rule: MajorityRule,
    pub status: PollStatus,
    /// Who has voted (everyone sees this, in secret polls too).
    pub voters: Vec<ParticipantId>,
    /// Named polls: the ballots (the chair and secretary see them while
    /// open, everyone after close). Secret polls: always empty.
    pub ballots: Vec<NamedBallot>,
    /// Counts of a show of hands entered by the secretary, per option.
    pub hands: Vec<u32>,
    /// The members present when the hands were counted (each count's, all
    /// together): they were in the room for the vote though they may have
    /// left before its close. Empty with no show of hands.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hands_present: Vec<ParticipantId>,
    pub result: Option<PollResult>,
    pub cancel_reason: Option<String>,
}

impl Poll {
    /// Whether a show of hands counted anyone (counts of 0 count nobody).
    pub fn raised_hands(&self) -> bool {
        self.hands.iter().any(|c| *c > 0)
    }

    /// Whether option `n`'s votes are a share of the base: an abstention in
    /// a yes/no vote counted against the votes for and against is not
    /// (4 for, 3 against, 10 abstaining is not "10/7, 142.86%").
    pub fn in_share(&self, n: usize) -> bool {
        !(self.kind == PollKind::YesNo && self.rule.basis == Basis::VotesCast && n >= 2)
    }

    /// How many options one ballot (or one raised hand's worth) may choose.
    pub fn choices_per_ballot(&self) -> usize {
        if self.kind == PollKind::YesNo { 1 } else { usize::from(self.max_choices.max(1)) }
    }

    /// The fewest voters a show of hands stands for: at least the largest
    /// count, and at least every raised hand shared out at the most a
    /// ballot may choose. Exact for a poll of one choice a ballot; the
    /// result, the progress and the rules use
    /// [`crate::state::MeetingState::hand_voters`], which knows who was in
    /// the room for an election of several seats.
    pub fn hand_voters(&self) -> usize {
        let sum: usize = self.hands.iter().map(|c| *c as usize).sum();
        let most = self.hands.iter().copied().max().unwrap_or(0) as usize;
        sum.div_ceil(self.choices_per_ballot()).max(most)
    }

    /// Counts per option of a named poll's ballots plus the show of hands.
    pub fn live_counts(&self) -> Vec<u32> {
        let mut counts = vec![0u32; self.options.len()];
        for b in &self.ballots {
            for c in &b.choices {
                if let Some(n) = counts.get_mut(*c as usize) {
                    *n += 1;
                }
            }
        }
        for (n, h) in counts.iter_mut().zip(&self.hands) {
            *n += h;
        }
        counts
    }
}

/// The result of a closed poll, fixed forever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollResult {
    /// Votes per option.
    pub counts: Vec<u32>,
    /// Ballots cast (tablets and the secretary's entries; a show of hands
    /// counts its largest option total).
    pub ballots: u32,
    /// What the majority was counted against, and its size.
    pub basis: Basis,
    pub base: u32,
    /// How many votes an option needed.
    pub needed: u32,
    /// Per option: did it meet the rule? (Yes/no polls: only the first can.)
    /// An election elects at most as many as a ballot may choose (its
    /// seats): those with the most votes among the options that met it.
    pub passed: Vec<bool>,
    /// Per option, for an election: it met the rule but tied with others
    /// for the last seats, more of them than seats left; none of them is
    /// elected, and a new round among them decides. Empty when none tied
    /// (and in results counted before ties were).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tied: Vec<bool>,
    /// For a yes/no poll: passed or not. For an election: any option elected.
    pub adopted: bool,
    /// The quorum when the poll closed (no quorum: nothing passes).
    pub quorum: Quorum,
    /// Votes entered by the secretary (ballots for others and hands).
    pub by_secretary: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub closed_at: OffsetDateTime,
    /// The members the vote was counted among (`quorum.members` of them),
    /// absent ones too: they stay members on record, so the minutes' list
    /// of members keeps matching every vote's base. Empty in results
    /// counted before it was kept.
    #[serde(default, skip_serializing_if = "IdRuns::is_empty")]
    pub members: IdRuns,
}

/// Participant ids kept as runs of consecutive ids (`[[1, 2000]]`): a
/// meeting's members are one run or a few, where 2,000 numbers in every
/// closed vote made each snapshot and each copy of the polls larger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRuns(Vec<(ParticipantId, ParticipantId)>);

impl IdRuns {
    /// The runs of these ids, in any order, each counted once.
    pub fn of(ids: impl IntoIterator<Item = ParticipantId>) -> IdRuns {
        let mut ids: Vec<i64> = ids.into_iter().map(|p| p.0).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut runs: Vec<(ParticipantId, ParticipantId)> = vec![];
        for id in ids {
            match runs.last_mut() {
                Some((_, last)) if last.0 + 1 == id => last.0 = id,
                _ => runs.push((ParticipantId(id), ParticipantId(id))),
            }
        }
        IdRuns(runs)
    }

    pub fn contains(&self, id: ParticipantId) -> bool {
        let at = self.0.partition_point(|(_, last)| last.0 < id.0);
        self.0.get(at).is_some_and(|(first, _)| first.0 <= id.0)
    }

    /// How many ids.
    pub fn len(&self) -> u64 {
        self.0.iter().map(|(a, b)| (b.0 - a.0 + 1) as u64).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Counts a poll under its rule. `counts` are votes per option (from
/// ballots and hands), `ballots` the number of ballots.
pub fn tally(poll: &Poll, counts: Vec<u32>, ballots: u32, by_secretary: u32, quorum: Quorum, closed_at: OffsetDateTime) -> PollResult {
    let base = match poll.rule.basis {
        Basis::VotesCast => match poll.kind {
            PollKind::YesNo => counts.first().copied().unwrap_or(0) + counts.get(1).copied().unwrap_or(0),
            PollKind::Choice => ballots,
        },
        Basis::MembersPresent => quorum.present,
        Basis::AllMembers => quorum.members,
    };
    let needed = poll.rule.share.needed(base);
    let mut passed: Vec<bool> = counts
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let eligible = match poll.kind {
                PollKind::YesNo => i == 0,
                PollKind::Choice => true,
            };
            eligible && quorum.holds && poll.rule.share.met(*n, base)
        })
        .collect();
    // More candidates met the rule than there are seats: those with the
    // most votes are elected; those tied for the last seats, more of them
    // than seats left, are not (the law's new round among them).
    let mut tied = vec![];
    let seats = poll.choices_per_ballot();
    if poll.kind == PollKind::Choice && passed.iter().filter(|p| **p).count() > seats {
        let mut met: Vec<u32> = counts.iter().zip(&passed).filter(|(_, p)| **p).map(|(c, _)| *c).collect();
        met.sort_unstable_by(|a, b| b.cmp(a));
        let (last, next) = (met[seats - 1], met[seats]);
        if last == next {
            tied = counts.iter().zip(&passed).map(|(c, p)| *p && *c == last).collect();
        }
        for (p, c) in passed.iter_mut().zip(&counts) {
            *p = *p && *c > next;
        }
    }
    let adopted = passed.iter().any(|p| *p);
    PollResult {
        counts,
        ballots,
        basis: poll.rule.basis,
        base,
        needed,
        passed,
        tied,
        adopted,
        quorum,
        by_secretary,
        closed_at,
        members: IdRuns::default(),
    }
}

/// A participant's stance in a written opinion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stance {
    Agree,
    Disagree,
    AgreeWithComments,
    /// A comment with no stance.
    Comment,
}

/// A written opinion (góp ý) on an item or one of its documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opinion {
    pub id: OpinionId,
    pub item: ItemId,
    pub document: Option<DocumentId>,
    pub author: ParticipantId,
    pub stance: Stance,
    pub text: String,
    /// Sent from outside the room (an electronic review by written opinion).
    pub remote: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// A request to all members for written opinions on an item by a deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpinionRequest {
    pub id: OpinionRequestId,
    pub item: ItemId,
    #[serde(with = "time::serde::rfc3339")]
    pub deadline: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub asked_at: OffsetDateTime,
}

/// Who has the floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Floor {
    pub participant: ParticipantId,
    /// Server time the speech started; every screen counts from it.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    /// The speaking time allowed, in seconds (0: no limit).
    pub limit_secs: u32,
}

/// The speakers' list of the current item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Speakers {
    /// Waiting, in the order they asked.
    pub queue: Vec<ParticipantId>,
    pub floor: Option<Floor>,
    /// Who has been given the floor, on which item, in order, once per
    /// speech (the one speaking included): kept for the whole meeting, so
    /// the chair sees who has not spoken yet on an item, returned to or not.
    #[serde(default)]
    pub spoken: Vec<(ItemId, ParticipantId)>,
}

impl Speakers {
    /// The list as a new item (or the close) leaves it: nobody waiting or
    /// speaking, who spoke kept.
    pub fn for_next_item(&self) -> Speakers {
        Speakers { spoken: self.spoken.clone(), ..Speakers::default() }
    }

    /// Who has spoken on `item`, in order, once per speech.
    pub fn spoken_on(&self, item: ItemId) -> impl Iterator<Item = ParticipantId> + '_ {
        self.spoken.iter().filter(move |(i, _)| *i == item).map(|(_, p)| *p)
    }

    /// Folds in the changes that touch the speakers' list; `item` is the
    /// current item when the change is made.
    pub fn apply(&mut self, change: &crate::protocol::Change, item: Option<ItemId>) {
        use crate::protocol::Change;
        match change {
            Change::SpeakRequested { participant } if !self.queue.contains(participant) => {
                self.queue.push(*participant);
            }
            Change::SpeakWithdrawn { participant } => self.queue.retain(|p| p != participant),
            Change::FloorGiven { floor } => {
                self.queue.retain(|p| *p != floor.participant);
                self.floor = Some(*floor);
                if let Some(item) = item {
                    self.spoken.push((item, floor.participant));
                }
            }
            Change::SpeechEnded { participant } if self.floor.is_some_and(|f| f.participant == *participant) => {
                self.floor = None;
            }
            // The queue and the floor belong to an item; who spoke is kept.
            Change::CurrentItemChanged { .. } | Change::MeetingClosed => *self = self.for_next_item(),
            // Nobody gone waits to speak, or is listed as having spoken (a
            // later participant or item may be given the same id).
            Change::ParticipantRemoved { participant } => {
                self.queue.retain(|p| p != participant);
                self.spoken.retain(|(_, p)| p != participant);
            }
            Change::ItemRemoved { item } => self.spoken.retain(|(i, _)| i != item),
            Change::AttendanceChanged { participant, attendance, .. } if *attendance != Attendance::Present => {
                self.queue.retain(|p| p != participant)
            }
            _ => {}
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_speakers_list_keeps_who_spoke_on_the_item_in_order() {
        use crate::protocol::Change;
        let floor = |p: i64| Change::FloorGiven {
            floor: Floor { participant: ParticipantId(p), since: datetime!(2026-12-01 08:00 UTC), limit_secs: 0 },
        };
        let mut s = Speakers::default();
        let one = Some(ItemId(1));
        for c in [floor(3), Change::SpeechEnded { participant: ParticipantId(3) }, floor(5), floor(3)] {
            s.apply(&c, one);
        }
        let on = |s: &Speakers, item: i64| s.spoken_on(ItemId(item)).map(|p| p.0).collect::<Vec<_>>();
        assert_eq!(on(&s, 1), [3, 5, 3], "each speech, in order");
        s.apply(&Change::CurrentItemChanged { item: Some(ItemId(2)), previous: one }, Some(ItemId(2)));
        assert!(s.floor.is_none() && s.queue.is_empty());
        s.apply(&floor(7), Some(ItemId(2)));
        // Back on the first item, who spoke there is still known.
        s.apply(&Change::CurrentItemChanged { item: one, previous: Some(ItemId(2)) }, one);
        assert_eq!((on(&s, 1), on(&s, 2)), (vec![3, 5, 3], vec![7]));
        // Someone removed, an item removed: gone from the list, so a later
        // participant or item given the same id does not inherit them.
        s.apply(&Change::ParticipantRemoved { participant: ParticipantId(5) }, one);
        s.apply(&Change::ItemRemoved { item: ItemId(2) }, one);
        assert_eq!((on(&s, 1), on(&s, 2)), (vec![3, 3], vec![]));
        // A list saved before it was kept reads as empty.
        let old: Speakers = serde_json::from_str(r#"{"queue":[4],"floor":null}"#).unwrap();
        assert_eq!((old.queue, old.spoken), (vec![ParticipantId(4)], vec![]));
    }

    /// An open yes/no poll on item 1, by default rules, nobody voted.
    pub(crate) fn yes_no_poll() -> Poll {
        poll(PollKind::YesNo, Basis::AllMembers, Share::MORE_THAN_HALF)
    }

    fn poll(kind: PollKind, basis: Basis, share: Share) -> Poll {
        let options: Vec<String> = match kind {
            PollKind::YesNo => YES_NO_OPTIONS.iter().map(|s| s.to_string()).collect(),
            PollKind::Choice => vec!["An".into(), "Bình".into(), "Cường".into()],
        };
        Poll {
            id: PollId(1),
            item: ItemId(1),
            question: "Thông qua dự toán?".into(),
            kind,
            options,
            max_choices: 1,
            secret: false,
            allow_change: false,
            rule: MajorityRule { basis, share },
            status: PollStatus::Open,
            voters: vec![],
            ballots: vec![],
            hands: vec![],
            hands_present: vec![],
            result: None,
            cancel_reason: None,
        }
    }

    fn q(present: u32, members: u32) -> Quorum {
        Quorum::of(present, members, Share::MORE_THAN_HALF)
    }

    const AT: OffsetDateTime = datetime!(2026-11-23 09:00 UTC);

    #[test]
    fn shares_and_ties() {
        assert!(!Share::MORE_THAN_HALF.met(5, 10), "a tie is not more than half");
        assert!(Share::MORE_THAN_HALF.met(6, 10));
        assert!(Share::TWO_THIRDS.met(2, 3));
        assert!(!Share::TWO_THIRDS.met(6, 10));
        assert!(Share::TWO_THIRDS.met(7, 10));
        assert_eq!(Share::MORE_THAN_HALF.needed(10), 6);
        assert_eq!(Share::MORE_THAN_HALF.needed(9), 5);
        assert_eq!(Share::TWO_THIRDS.needed(9), 6);
        assert!(!Share::MORE_THAN_HALF.met(0, 0), "nothing of nothing is never enough");
    }

    #[test]
    fn quorum_counts_present_members_only() {
        let mk = |id, member, attendance| Participant {
            id: ParticipantId(id),
            name: format!("P{id}"),
            position: String::new(),
            role: Role::Delegate,
            member,
            voting: member,
            attendance,
            excuse: String::new(),
        };
        let people = vec![
            mk(1, true, Attendance::Present),
            mk(2, true, Attendance::Present),
            mk(3, true, Attendance::Excused),
            mk(4, true, Attendance::Absent),
            mk(5, false, Attendance::Present),
        ];
        let qu = quorum(&people, Share::MORE_THAN_HALF);
        assert_eq!((qu.present, qu.members, qu.needed, qu.holds), (2, 4, 3, false), "2 of 4 is not more than half");
        let qu = quorum(&people, Share { num: 1, den: 2, strict: false });
        assert!(qu.holds, "at least half");
    }

    #[test]
    fn votes_cast_leave_abstentions_out() {
        let p = poll(PollKind::YesNo, Basis::VotesCast, Share::MORE_THAN_HALF);
        let r = tally(&p, vec![4, 3, 10], 17, 0, q(17, 20), AT);
        assert_eq!(r.base, 7);
        assert!(r.adopted, "4 of 7 votes cast, abstentions aside");
        let r = tally(&p, vec![4, 4, 1], 9, 0, q(17, 20), AT);
        assert!(!r.adopted, "a tie fails");
    }

    #[test]
    fn members_present_and_all_members_count_abstentions_against() {
        let p = poll(PollKind::YesNo, Basis::MembersPresent, Share::MORE_THAN_HALF);
        let r = tally(&p, vec![8, 2, 5], 15, 0, q(15, 20), AT);
        assert_eq!((r.base, r.needed), (15, 8));
        assert!(r.adopted);
        let p = poll(PollKind::YesNo, Basis::AllMembers, Share::MORE_THAN_HALF);
        let r = tally(&p, vec![10, 0, 5], 15, 0, q(15, 20), AT);
        assert_eq!((r.base, r.needed), (20, 11));
        assert!(!r.adopted, "10 of 20 members is not more than half");
        let p = poll(PollKind::YesNo, Basis::AllMembers, Share::TWO_THIRDS);
        assert!(tally(&p, vec![14, 0, 0], 14, 0, q(15, 20), AT).adopted);
        assert!(!tally(&p, vec![13, 0, 0], 13, 0, q(15, 20), AT).adopted);
    }

    #[test]
    fn ids_are_kept_as_runs() {
        let ids = |v: &[i64]| IdRuns::of(v.iter().map(|i| ParticipantId(*i)));
        let runs = ids(&[7, 1, 2, 3, 9, 8, 2, 20]);
        assert_eq!(serde_json::to_string(&runs).unwrap(), "[[1,3],[7,9],[20,20]]");
        assert_eq!(runs.len(), 7);
        for (id, is) in
            [(0, false), (1, true), (3, true), (4, false), (6, false), (7, true), (9, true), (10, false), (20, true), (21, false)]
        {
            assert_eq!(runs.contains(ParticipantId(id)), is, "{id}");
        }
        assert!(ids(&[]).is_empty() && !ids(&[]).contains(ParticipantId(1)));
        assert_eq!(serde_json::to_string(&ids(&(1..=2000).collect::<Vec<_>>())).unwrap(), "[[1,2000]]");
    }

    #[test]
    fn a_share_nothing_can_meet_is_not_a_rule() {
        let share = |num, den, strict| Share { num, den, strict };
        assert!(!share(1, 1, true).is_valid(), "more than all of them: never met");
        assert!(!share(3, 2, false).is_valid() && !share(1, 0, false).is_valid());
        assert!(share(1, 1, false).is_valid() && share(1, 2, true).is_valid() && share(2, 3, false).is_valid());
        assert_eq!(share(3, 5, true).text(true), "trên 3/5");
        let rule = MajorityRule { basis: Basis::VotesCast, share: Share::MORE_THAN_HALF };
        assert_eq!(rule.text(PollKind::Choice, true), "quá nửa số phiếu bầu", "an election counts ballots, not votes for and against");
        assert_eq!(rule.text(PollKind::YesNo, false), "more than half of the votes for and against");
    }

    #[test]
    fn no_votes_and_no_quorum_never_pass() {
        let p = poll(PollKind::YesNo, Basis::VotesCast, Share::MORE_THAN_HALF);
        let r = tally(&p, vec![0, 0, 0], 0, 0, q(15, 20), AT);
        assert_eq!(r.base, 0);
        assert!(!r.adopted);
        let r = tally(&p, vec![5, 0, 0], 5, 0, q(5, 20), AT);
        assert!(!r.quorum.holds);
        assert!(!r.adopted, "without a quorum nothing passes");
    }

    #[test]
    fn elections_elect_every_option_that_meets_the_rule() {
        let mut p = poll(PollKind::Choice, Basis::VotesCast, Share::MORE_THAN_HALF);
        p.max_choices = 2;
        let r = tally(&p, vec![9, 6, 3], 10, 0, q(10, 12), AT);
        assert_eq!(r.passed, vec![true, true, false]);
        assert!(r.adopted);
    }

    #[test]
    fn an_election_elects_no_more_than_its_seats_and_a_tie_for_the_last_goes_to_a_new_round() {
        // Two seats, four candidates, 10 ballots of up to two names: more
        // than half of the ballots is 6.
        let mut p = poll(PollKind::Choice, Basis::VotesCast, Share::MORE_THAN_HALF);
        p.options.push("Dũng".into());
        p.max_choices = 2;
        let r = tally(&p, vec![9, 8, 6, 2], 10, 0, q(10, 12), AT);
        assert_eq!(r.passed, vec![true, true, false, false], "the two with the most votes, not all three over half");
        assert!(r.tied.is_empty());
        let r = tally(&p, vec![9, 7, 7, 2], 10, 0, q(10, 12), AT);
        assert_eq!(r.passed, vec![true, false, false, false], "tied for the last seat: neither");
        assert_eq!(r.tied, vec![false, true, true, false]);
        let r = tally(&p, vec![7, 7, 7, 0], 10, 0, q(10, 12), AT);
        assert_eq!(r.passed, vec![false; 4]);
        assert_eq!(r.tied, vec![true, true, true, false]);
        assert!(!r.adopted);
        // A result counted before ties were reads with none.
        let old: PollResult =
            serde_json::from_str(&serde_json::to_string(&tally(&p, vec![9, 8, 0, 0], 10, 0, q(10, 12), AT)).unwrap()).unwrap();
        assert!(old.tied.is_empty() && !serde_json::to_string(&old).unwrap().contains("tied"));
    }

    #[test]
    fn only_yes_can_pass_a_yes_no_poll() {
        let p = poll(PollKind::YesNo, Basis::VotesCast, Share::MORE_THAN_HALF);
        let r = tally(&p, vec![1, 9, 0], 10, 0, q(10, 12), AT);
        assert_eq!(r.passed, vec![false, false, false], "a majority against does not 'pass' option 2");
    }

    #[test]
    fn live_counts_add_hands_to_ballots() {
        let mut p = poll(PollKind::YesNo, Basis::VotesCast, Share::MORE_THAN_HALF);
        p.ballots = vec![
            NamedBallot { voter: ParticipantId(1), choices: vec![0], by_secretary: false },
            NamedBallot { voter: ParticipantId(2), choices: vec![1], by_secretary: true },
        ];
        p.hands = vec![3, 0, 1];
        assert_eq!(p.live_counts(), vec![4, 1, 1]);
    }
}
