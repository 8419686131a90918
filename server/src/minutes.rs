//! The minutes as documents: assembled from the record and the secretary's
//! text, then written as PDF (krilla, through [`crate::pdf`]), DOCX
//! (docx-rs), CSV (poll results) and JSON (the whole record), in Vietnamese
//! or English, in the layout of Vietnamese administrative documents (Decree
//! 30/2020/ND-CP: national heading, Times New Roman 13 pt, numbered parts,
//! signature blocks).

use crate::pdf::{Align, Layout, Piece, Style, mm};
use gavel_shared::clock::in_room;
use gavel_shared::decision::*;
use gavel_shared::minutes::{Block, MinutesStatus, SectionKey, parse_text};
use gavel_shared::model::*;
use gavel_shared::protocol::Event;
use gavel_shared::state::MeetingState;
use time::OffsetDateTime;

/// The language of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    /// `vi` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }
}

fn t(lang: Lang, vi: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Vi => vi,
        Lang::En => en,
    }
}

/// What the minutes are made from, besides the state.
#[derive(Debug, Clone)]
pub struct Record {
    /// SHA-256 chain head of the event log, and the `seq` it covers.
    pub log_head: String,
    pub log_seq: u64,
    /// When the meeting was opened and closed (from the log).
    pub opened_at: Option<OffsetDateTime>,
    pub closed_at: Option<OffsetDateTime>,
    /// Who had the floor, in order, from the log.
    pub speeches: Vec<Speech>,
    /// When each participant was last marked away after being present
    /// (from the log).
    pub left: std::collections::HashMap<ParticipantId, OffsetDateTime>,
}

/// One speech, read from the log: the floor given and its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Speech {
    /// The agenda item current when the floor was given (none before the first).
    pub item: Option<ItemId>,
    pub participant: ParticipantId,
    pub from: OffsetDateTime,
    /// None when the log ends while the person is still speaking.
    pub to: Option<OffsetDateTime>,
}

/// The speeches in a log, each under the item current when it began. A
/// speech ends with `SpeechEnded`, with the floor given to someone else, or
/// when the meeting closes (rooms before session 15 wrote no end for a
/// speech cut short by an agenda move, which ends it too).
fn speeches_in(events: &[(String, Event)]) -> Vec<Speech> {
    use gavel_shared::Change;
    let mut out: Vec<Speech> = vec![];
    let mut current = None;
    let mut open: Option<usize> = None;
    for (_, e) in events {
        let end = |out: &mut Vec<Speech>, open: &mut Option<usize>| {
            if let Some(n) = open.take() {
                out[n].to = Some(e.at);
            }
        };
        match &e.change {
            Change::FloorGiven { floor } => {
                end(&mut out, &mut open);
                open = Some(out.len());
                out.push(Speech { item: current, participant: floor.participant, from: floor.since, to: None });
            }
            // An end for someone else (a stale one) leaves the speech open.
            Change::SpeechEnded { participant } if open.is_some_and(|n| out[n].participant == *participant) => end(&mut out, &mut open),
            Change::CurrentItemChanged { item, .. } => {
                end(&mut out, &mut open);
                current = *item;
            }
            Change::MeetingClosed => end(&mut out, &mut open),
            _ => {}
        }
    }
    out
}

/// When each participant was last marked away after being present.
fn left_at(events: &[(String, Event)]) -> std::collections::HashMap<ParticipantId, OffsetDateTime> {
    use gavel_shared::Change;
    let (mut present, mut left) = (std::collections::HashSet::new(), std::collections::HashMap::new());
    for (_, e) in events {
        match &e.change {
            Change::AttendanceChanged { participant, attendance: Attendance::Present, .. } => {
                present.insert(*participant);
                left.remove(participant);
            }
            Change::AttendanceChanged { participant, .. } if present.remove(participant) => {
                left.insert(*participant, e.at);
            }
            // Its number may be given to someone added later.
            Change::ParticipantRemoved { participant } => {
                present.remove(participant);
                left.remove(participant);
            }
            _ => {}
        }
    }
    left
}

/// The head of the SHA-256 chain over events: h0 = 32 zero bytes,
/// h(n) = SHA-256(h(n-1) ‖ body(n)).
pub fn log_head<'a>(bodies: impl IntoIterator<Item = &'a str>) -> String {
    use sha2::{Digest, Sha256};
    let mut head = [0u8; 32];
    for b in bodies {
        let mut h = Sha256::new();
        h.update(head);
        h.update(b.as_bytes());
        head = h.finalize().into();
    }
    hex::encode(head)
}

/// Reads what the minutes need from a meeting's event log.
pub fn record_from(events: &[(String, Event)]) -> Record {
    let opened_at = events.iter().find(|(_, e)| matches!(e.change, gavel_shared::Change::MeetingOpened)).map(|(_, e)| e.at);
    let closed_at = events.iter().find(|(_, e)| matches!(e.change, gavel_shared::Change::MeetingClosed)).map(|(_, e)| e.at);
    Record {
        log_head: log_head(events.iter().map(|(b, _)| b.as_str())),
        log_seq: events.last().map(|(_, e)| e.seq).unwrap_or(0),
        opened_at,
        closed_at,
        speeches: speeches_in(events),
        left: left_at(events),
    }
}

/// A month as Decree 30 writes it: a zero before 1 and 2 only ("tháng 02", "tháng 3").
fn vi_month(d: OffsetDateTime) -> String {
    let month = u8::from(d.month());
    if month <= 2 { format!("{month:02}") } else { month.to_string() }
}

fn date_line(lang: Lang, place: &str, t: OffsetDateTime) -> String {
    let d = in_room(t);
    match lang {
        // Decree 30: a zero before days below 10 and the months 1 and 2 only.
        Lang::Vi => {
            format!("{}, ngày {:02} tháng {} năm {}", place, d.day(), vi_month(d), d.year())
        }
        Lang::En => format!("{}, {} {} {}", place, d.day(), d.month(), d.year()),
    }
}

fn clock(lang: Lang, t: OffsetDateTime) -> String {
    let d = in_room(t);
    match lang {
        // The form's "… giờ …, ngày … tháng … năm …".
        Lang::Vi => format!("{:02} giờ {:02} phút, ngày {:02} tháng {} năm {}", d.hour(), d.minute(), d.day(), vi_month(d), d.year()),
        Lang::En => format!("{:02}:{:02} on {} {} {}", d.hour(), d.minute(), d.day(), d.month(), d.year()),
    }
}

/// When a member left, for the attendance list: the time only on the day
/// the meeting opened, the date too on a later day of a session that runs
/// over several ("vắng từ 08 giờ 30, ngày 03 tháng 12").
fn left_at_text(lang: Lang, at: OffsetDateTime, opened: OffsetDateTime) -> String {
    let (d, same_day) = (in_room(at), in_room(at).date() == in_room(opened).date());
    match (lang, same_day) {
        (Lang::Vi, true) => format!("vắng từ {:02} giờ {:02}", d.hour(), d.minute()),
        (Lang::Vi, false) => format!("vắng từ {:02} giờ {:02}, ngày {:02} tháng {}", d.hour(), d.minute(), d.day(), vi_month(d)),
        (Lang::En, true) => format!("left at {:02}:{:02}", d.hour(), d.minute()),
        (Lang::En, false) => format!("left at {:02}:{:02} on {} {}", d.hour(), d.minute(), d.day(), d.month()),
    }
}

/// A speech's length, to the second ("2 phút 05 giây", "45 giây").
fn duration(lang: Lang, secs: i64) -> String {
    let secs = secs.max(0);
    let (m, s) = (secs / 60, secs % 60);
    match (lang, m) {
        (Lang::Vi, 0) => format!("{s} giây"),
        (Lang::Vi, _) => format!("{m} phút {s:02} giây"),
        (Lang::En, 0) => format!("{s} s"),
        (Lang::En, _) => format!("{m} min {s:02} s"),
    }
}

/// One element of the body.
#[derive(Debug, Clone)]
pub enum Element {
    /// "I. THỜI GIAN, ĐỊA ĐIỂM"
    Heading(String),
    /// "1. Báo cáo …"
    Subheading(String),
    Paragraph(Vec<(String, bool)>),
    Bullet(Vec<(String, bool)>),
}

/// The minutes, laid out in parts, ready for any format.
#[derive(Debug, Clone)]
pub struct Doc {
    pub lang: Lang,
    pub title: String,
    pub heading_left: Vec<(String, bool)>,
    pub heading_right: Vec<(String, Style)>,
    pub draft: Option<String>,
    pub body: Vec<Element>,
    pub signatures: [(String, String); 2],
    /// "Nơi nhận", one line each, under the signatures.
    pub recipients: Vec<String>,
    pub footer: String,
}

fn plain(text: impl Into<String>) -> Vec<(String, bool)> {
    vec![(text.into(), false)]
}

fn labelled(label: &str, text: impl Into<String>) -> Vec<(String, bool)> {
    vec![(format!("{label}: "), true), (text.into(), false)]
}

fn typed(blocks: Vec<Block>, out: &mut Vec<Element>) {
    for b in blocks {
        match b {
            Block::Paragraph(spans) => out.push(Element::Paragraph(spans.into_iter().map(|s| (s.text, s.bold)).collect())),
            Block::Bullet(spans) => out.push(Element::Bullet(spans.into_iter().map(|s| (s.text, s.bold)).collect())),
        }
    }
}

fn names(s: &MeetingState, ps: &[&Participant]) -> String {
    let _ = s;
    ps.iter()
        .map(|p| if p.position.is_empty() { p.name.clone() } else { format!("{} ({})", p.name, p.position) })
        .collect::<Vec<_>>()
        .join("; ")
}

fn stance(lang: Lang, st: Stance) -> &'static str {
    match st {
        Stance::Agree => t(lang, "đồng ý", "agrees"),
        Stance::Disagree => t(lang, "không đồng ý", "disagrees"),
        Stance::AgreeWithComments => t(lang, "đồng ý, có góp ý", "agrees with comments"),
        Stance::Comment => t(lang, "góp ý", "comments"),
    }
}

/// A share in percent with two decimals, with the decimal comma in Vietnamese.
fn percent(lang: Lang, count: u32, base: u32) -> String {
    let pct = if base > 0 { f64::from(count) * 100.0 / f64::from(base) } else { 0.0 };
    format!("{}%", gavel_shared::text::number(pct, 2, lang == Lang::Vi))
}

/// The poll paragraphs of the minutes.
fn poll_elements(lang: Lang, p: &Poll, out: &mut Vec<Element>) {
    let kind = if p.secret { t(lang, "bỏ phiếu kín", "secret ballot") } else { t(lang, "biểu quyết công khai", "open vote") };
    out.push(Element::Paragraph(vec![
        (format!("{}: ", t(lang, "Biểu quyết", "Vote")), true),
        // One line, as the PDF joins it: a break kept in a justified
        // paragraph, Word spreads the line before it across the page.
        (
            format!(
                "{} ({kind}; {}: {}).",
                p.question.split_whitespace().collect::<Vec<_>>().join(" "),
                t(lang, "tỷ lệ thông qua", "majority"),
                p.rule.text(p.kind, lang == Lang::Vi)
            ),
            false,
        ),
    ]));
    match (&p.status, &p.result) {
        (PollStatus::Closed, Some(r)) => {
            // Each share says what it is of; an abstention counted against
            // the votes for and against is outside that base, and says so.
            let of = basis_text(p.kind, r.basis, lang == Lang::Vi);
            for (n, o) in p.options.iter().enumerate() {
                // The room's own yes/no options, in the export's language.
                let o = option_text(lang, p, n, o);
                let c = r.counts.get(n).copied().unwrap_or(0);
                let elected = if p.kind == PollKind::Choice && r.passed.get(n).copied().unwrap_or(false) {
                    t(lang, " — trúng cử", " — elected")
                } else if r.tied.get(n).copied().unwrap_or(false) {
                    t(lang, " — bằng phiếu, bầu lại", " — tied, a new round")
                } else {
                    ""
                };
                let line = if !p.in_share(n) {
                    format!("{o}: {c} ({})", t(lang, "không tính vào tỷ lệ", "not counted in the shares"))
                } else {
                    format!("{o}: {c}/{} ({} {of}){elected}", r.base, percent(lang, c, r.base))
                };
                out.push(Element::Bullet(plain(line)));
            }
            let no_quorum = t(lang, " (không đủ túc số)", " (no quorum)");
            let verdict = match (p.kind, r.adopted) {
                (PollKind::YesNo, true) => t(lang, "THÔNG QUA", "ADOPTED").to_string(),
                (PollKind::YesNo, false) if !r.quorum.holds => format!("{}{no_quorum}", t(lang, "KHÔNG THÔNG QUA", "NOT ADOPTED")),
                (PollKind::YesNo, false) => t(lang, "KHÔNG THÔNG QUA", "NOT ADOPTED").to_string(),
                (PollKind::Choice, _) if !r.quorum.holds => format!("{}{no_quorum}", t(lang, "không ai trúng cử", "no one elected")),
                (PollKind::Choice, true) => t(lang, "đã kiểm phiếu", "counted").to_string(),
                (PollKind::Choice, false) => t(lang, "không ai trúng cử", "no one elected").to_string(),
            };
            let mut line = format!(
                "{} {}; {} {} {} {}; {} {}/{}.",
                t(lang, "Số phiếu:", "Ballots:"),
                r.ballots,
                t(lang, "cần", "needed"),
                r.needed,
                t(lang, "trên", "of"),
                r.base,
                t(lang, "túc số khi biểu quyết", "quorum at the vote"),
                r.quorum.present,
                r.quorum.members
            );
            if r.by_secretary > 0 {
                line.push_str(&format!(" {} {}.", r.by_secretary, t(lang, "phiếu do thư ký nhập", "votes entered by the secretary")));
            }
            out.push(Element::Paragraph(plain(line)));
            out.push(Element::Paragraph(labelled(t(lang, "Kết quả", "Result"), verdict)));
        }
        (PollStatus::Cancelled, _) => out.push(Element::Paragraph(plain(format!(
            "{}: {}",
            t(lang, "Đã hủy", "Cancelled"),
            p.cancel_reason.clone().unwrap_or_default()
        )))),
        (PollStatus::Open, _) => out.push(Element::Paragraph(plain(t(lang, "(Đang biểu quyết.)", "(Voting in progress.)")))),
        // Prepared, never opened: not a vote the meeting held.
        _ => out.push(Element::Paragraph(plain(t(lang, "(Không đưa ra biểu quyết.)", "(Not put to the vote.)")))),
    }
}

/// Builds the minutes from a meeting's full state and its record.
pub fn assemble(s: &MeetingState, record: &Record, lang: Lang) -> Doc {
    let m = &s.meeting;
    let chair = s.participants_sorted().into_iter().find(|p| p.role == Role::Chair).cloned();
    let secretary = s.participants_sorted().into_iter().find(|p| p.role == Role::Secretary).cloned();
    let mut body = vec![];

    body.push(Element::Heading(t(lang, "I. THỜI GIAN, ĐỊA ĐIỂM", "I. TIME AND PLACE").into()));
    // When it was opened (from the log); the time it was called for until then.
    let start = record.opened_at.unwrap_or(m.starts_at);
    body.push(Element::Bullet(labelled(t(lang, "Thời gian bắt đầu", "Began at"), format!("{}.", clock(lang, start)))));
    body.push(Element::Bullet(labelled(t(lang, "Địa điểm", "Place"), format!("{}.", if m.place.is_empty() { "…" } else { &m.place }))));

    body.push(Element::Heading(t(lang, "II. THÀNH PHẦN THAM DỰ", "II. ATTENDANCE").into()));
    if let Some(c) = &chair {
        body.push(Element::Bullet(labelled(t(lang, "Chủ trì", "Chair"), names(s, &[c]))));
    }
    if let Some(c) = &secretary {
        body.push(Element::Bullet(labelled(t(lang, "Thư ký", "Secretary"), names(s, &[c]))));
    }
    // In the order of the secretary's list (added or imported, which
    // follows rank), the chair first: official minutes list attendance by
    // rank, where by name a chairman called Tùng came after a member called An.
    let mut sorted: Vec<&Participant> = s.participants.iter().collect();
    sorted.sort_by_key(|p| (p.role != Role::Chair, p.id));
    let members: Vec<&Participant> = sorted.iter().copied().filter(|p| p.member).collect();
    // Members present at the end, and those who voted and left before it
    // (their ballots are in section III), with the time they left; the
    // others are absent or excused as the secretary marked them. (Not
    // everyone ever marked present: the marks made when the meeting opens
    // are corrected by hand, and a correction is not a departure.) Those
    // in the room at a show of hands count as the vote's quorum counted
    // them: present, as section III says.
    let voted: std::collections::HashSet<ParticipantId> =
        s.polls.iter().flat_map(|p| p.voters.iter().chain(&p.hands_present).copied()).collect();
    let was_here = |p: &Participant| p.attendance == Attendance::Present || voted.contains(&p.id);
    let present: Vec<&Participant> = members.iter().copied().filter(|p| was_here(p)).collect();
    let excused: Vec<&Participant> = members.iter().copied().filter(|p| !was_here(p) && p.attendance == Attendance::Excused).collect();
    let absent: Vec<&Participant> = members.iter().copied().filter(|p| !was_here(p) && p.attendance == Attendance::Absent).collect();
    let present_names = present
        .iter()
        .map(|p| {
            let name = names(s, &[p]);
            match record.left.get(&p.id).filter(|_| p.attendance != Attendance::Present) {
                Some(at) => format!("{name} ({})", left_at_text(lang, *at, start)),
                None => name,
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    let guests: Vec<&Participant> =
        sorted.iter().copied().filter(|p| !p.member && p.attendance == Attendance::Present && p.role != Role::Secretary).collect();
    // The count with the label: "Thành viên có mặt (4/5): …", one colon.
    let counted = |label: &str, n: String| format!("{label} ({n})");
    body.push(Element::Bullet(labelled(
        &counted(t(lang, "Thành viên có mặt", "Members present"), format!("{}/{}", present.len(), members.len())),
        format!("{present_names}."),
    )));
    if !excused.is_empty() {
        // The reason in brackets, when one was given.
        let list = excused
            .iter()
            .map(|p| if p.excuse.trim().is_empty() { p.name.clone() } else { format!("{} ({})", p.name, p.excuse) })
            .collect::<Vec<_>>()
            .join("; ");
        body.push(Element::Bullet(labelled(&counted(t(lang, "Vắng có lý do", "Excused"), excused.len().to_string()), format!("{list}."))));
    }
    if !absent.is_empty() {
        body.push(Element::Bullet(labelled(
            &counted(t(lang, "Vắng", "Absent"), absent.len().to_string()),
            format!("{}.", names(s, &absent)),
        )));
    }
    if !guests.is_empty() {
        body.push(Element::Bullet(labelled(t(lang, "Khách mời", "Guests"), format!("{}.", names(s, &guests)))));
    }
    // Of the members listed present above (each vote's own quorum is with its result).
    let q = Quorum::of(present.len() as u32, members.len() as u32, s.meeting.quorum);
    let verdict = if q.holds { t(lang, "đủ túc số", "a quorum") } else { t(lang, "không đủ túc số", "no quorum") };
    body.push(Element::Bullet(labelled(
        t(lang, "Túc số", "Quorum"),
        format!("{}/{} {} ({}).", q.present, q.members, t(lang, "thành viên có mặt", "members present"), verdict),
    )));

    body.push(Element::Heading(t(lang, "III. NỘI DUNG CUỘC HỌP", "III. PROCEEDINGS").into()));
    typed(parse_text(s.minutes.text(SectionKey::Opening)), &mut body);
    for (n, item) in s.agenda.iter().enumerate() {
        body.push(Element::Subheading(format!("{}. {}", n + 1, item.title)));
        if !item.presenter.is_empty() {
            body.push(Element::Paragraph(labelled(t(lang, "Trình bày", "Presented by"), item.presenter.clone())));
        }
        let docs: Vec<String> = s
            .documents_of(item.id)
            .map(|d| match d.confidentiality {
                Confidentiality::Public | Confidentiality::Members => d.title.clone(),
                Confidentiality::Named => t(lang, "(tài liệu hạn chế)", "(restricted document)").to_string(),
                Confidentiality::Secret => t(lang, "(tài liệu mật)", "(secret document)").to_string(),
            })
            .collect();
        if !docs.is_empty() {
            body.push(Element::Paragraph(labelled(t(lang, "Tài liệu", "Documents"), format!("{}.", docs.join("; ")))));
        }
        typed(parse_text(s.minutes.text(SectionKey::Item(item.id))), &mut body);
        // An opinion on a document with named readers is theirs: the
        // minutes, which every member receives, neither reproduce it nor
        // name who gave it (only that document's readers could, so a name
        // and a stance would tell the others who reads it and how they
        // stand). They count such opinions. One on a document since
        // removed is counted too: what it was about cannot be known any more.
        let restricted = |o: &Opinion| o.document.is_some_and(|d| s.document(d).is_none_or(|d| d.confidentiality.lists_readers()));
        let (kept, open): (Vec<&Opinion>, Vec<&Opinion>) = s.opinions.iter().filter(|o| o.item == item.id).partition(|o| restricted(o));
        if !open.is_empty() || !kept.is_empty() {
            body.push(Element::Paragraph(vec![(t(lang, "Ý kiến bằng văn bản:", "Written opinions:").to_string(), true)]));
            for o in open {
                let who = s.participant(o.author).map(|p| p.name.clone()).unwrap_or_default();
                let remote = if o.remote { t(lang, " (gửi từ xa)", " (sent from outside the room)") } else { "" };
                let text = if o.text.is_empty() { String::new() } else { format!(": {}", o.text.replace('\n', " ")) };
                body.push(Element::Bullet(vec![(format!("{who}{remote}"), true), (format!(" — {}{text}", stance(lang, o.stance)), false)]));
            }
            if !kept.is_empty() {
                let n = kept.len();
                let line = match lang {
                    Lang::Vi => {
                        format!("{n} ý kiến về tài liệu hạn chế, tài liệu mật hoặc tài liệu đã rút (không ghi người gửi và nội dung).")
                    }
                    Lang::En if n == 1 => {
                        "1 opinion on a restricted, secret or withdrawn document (its author and content not reproduced).".to_string()
                    }
                    Lang::En => {
                        format!("{n} opinions on restricted, secret or withdrawn documents (their authors and content not reproduced).")
                    }
                };
                body.push(Element::Bullet(vec![(line, false)]));
            }
        }
        let spoke: Vec<String> = record
            .speeches
            .iter()
            .filter(|sp| sp.item == Some(item.id))
            .map(|sp| {
                // Taken off the list since: the speech is still on record.
                let who = s
                    .participant(sp.participant)
                    .map_or_else(|| t(lang, "(người không còn trong danh sách)", "(no longer listed)").to_string(), |p| p.name.clone());
                match sp.to {
                    Some(to) => format!("{who} ({})", duration(lang, (to - sp.from).whole_seconds())),
                    None => who,
                }
            })
            .collect();
        if !spoke.is_empty() {
            body.push(Element::Paragraph(labelled(t(lang, "Phát biểu", "Spoke"), format!("{}.", spoke.join("; ")))));
        }
        for p in s.polls.iter().filter(|p| p.item == item.id) {
            poll_elements(lang, p, &mut body);
        }
    }
    body.push(Element::Heading(t(lang, "IV. KẾT LUẬN", "IV. CONCLUSION").into()));
    typed(parse_text(s.minutes.text(SectionKey::Conclusion)), &mut body);
    if let Some(end) = record.closed_at {
        // Decree 30 ends the text with "./.".
        body.push(Element::Paragraph(plain(format!(
            "{} {}{}",
            t(lang, "Cuộc họp kết thúc vào lúc", "The meeting closed at"),
            clock(lang, end),
            t(lang, "./.", ".")
        ))));
    }

    let date = start;
    // Decree 30's place name; left as dots to fill in when the meeting has none.
    let town = m.locality.clone();
    let number = if s.minutes.number.is_empty() { "…/BB-…".to_string() } else { s.minutes.number.clone() };
    let draft = (s.minutes.status != MinutesStatus::Signed && s.minutes.status != MinutesStatus::Approved)
        .then(|| t(lang, "DỰ THẢO", "DRAFT").to_string());
    Doc {
        lang,
        title: m.title.clone(),
        heading_left: {
            // Decree 30: the governing body above, not bold; the organisation bold.
            let lines: Vec<&str> = m.organisation.lines().collect();
            let mut left: Vec<(String, bool)> = lines.iter().enumerate().map(|(n, l)| (l.to_uppercase(), n + 1 == lines.len())).collect();
            left.push((format!("{} {number}", t(lang, "Số:", "No.")), false));
            left
        },
        heading_right: vec![
            (t(lang, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "SOCIALIST REPUBLIC OF VIETNAM").to_string(), Style::Bold),
            (t(lang, "Độc lập - Tự do - Hạnh phúc", "Independence - Freedom - Happiness").to_string(), Style::Bold),
            (date_line(lang, if town.is_empty() { "…" } else { &town }, date), Style::Italic),
        ],
        draft,
        body,
        signatures: [
            (t(lang, "THƯ KÝ", "SECRETARY").to_string(), secretary.map(|p| p.name).unwrap_or_default()),
            // The form's title for the one who presided.
            (t(lang, "CHỦ TỌA", "CHAIR").to_string(), chair.map(|p| p.name).unwrap_or_default()),
        ],
        recipients: {
            let text = s.minutes.text(SectionKey::Recipients);
            // The archive's copy is always one of them.
            let text = if text.trim().is_empty() { t(lang, "- Lưu: VT, hồ sơ.", "- File: office, meeting record.") } else { text };
            let line = |spans: Vec<gavel_shared::minutes::Span>| spans.into_iter().map(|s| s.text).collect::<String>();
            parse_text(text)
                .into_iter()
                .map(|b| match b {
                    Block::Paragraph(spans) => line(spans),
                    Block::Bullet(spans) => format!("- {}", line(spans)),
                })
                .collect()
        },
        footer: format!(
            "{} {} · {} #{} · {}",
            t(lang, "Biên bản phiên bản", "Minutes version"),
            s.minutes.version,
            t(lang, "nhật ký đến sự kiện", "event log to event"),
            record.log_seq,
            &record.log_head[..16.min(record.log_head.len())]
        ),
    }
}

/// Decree 30's sizes for the heading, in half-points: the national name and
/// the organisation's 12.5 (12–13), the motto, the place and date and the
/// number 13 (13–14, 13).
fn heading_size(first: bool) -> usize {
    if first { 25 } else { 26 }
}

/// The size of the `n`th line of the heading's left column: the governing
/// body and the organisation as the national name, the number as the motto.
fn left_size(doc: &Doc, n: usize) -> usize {
    heading_size(n + 1 < doc.heading_left.len())
}

fn recipients_label(lang: Lang) -> &'static str {
    t(lang, "Nơi nhận:", "Recipients:")
}

fn main_title(lang: Lang) -> &'static str {
    t(lang, "BIÊN BẢN", "MINUTES")
}

/// The minutes as a PDF.
pub fn pdf(doc: &Doc) -> anyhow::Result<Vec<u8>> {
    let mut l = Layout::new();
    l.footer(doc.footer.clone());
    let left: Vec<(Piece, f32)> = doc
        .heading_left
        .iter()
        // The organisation's name is ruled under, a third of its width.
        .enumerate()
        .map(|(n, (t, b))| {
            let piece = Piece::new(t.clone(), if *b { Style::Bold } else { Style::Regular });
            (if *b { piece.ruled(0.35) } else { piece }, left_size(doc, n) as f32 / 2.0)
        })
        .collect();
    // The motto is ruled under, its whole width.
    let right: Vec<(Piece, f32)> = doc
        .heading_right
        .iter()
        .enumerate()
        .map(|(n, (t, s))| {
            let piece = Piece::new(t.clone(), *s);
            (if n == 1 { piece.ruled(1.0) } else { piece }, heading_size(n == 0) as f32 / 2.0)
        })
        .collect();
    l.columns(&left, &right, 0.42);
    l.space(18.0);
    if let Some(d) = &doc.draft {
        l.paragraph(d, 12.0, true, Align::Right, 0.0);
    }
    // The title, and a short rule under what the minutes are of.
    l.columns(
        &[],
        &[(Piece::new(main_title(doc.lang), Style::Bold), 14.0), (Piece::new(doc.title.clone(), Style::Bold).ruled(0.4), 14.0)],
        0.0,
    );
    l.space(14.0);
    let size = 13.0;
    let element = |l: &mut Layout, e: &Element| match e {
        // Kept with two lines of what follows, as the DOCX keeps them (keepNext).
        Element::Heading(h) => l.heading(h, size, 0.0, 6.0, 2),
        Element::Subheading(h) => l.heading(h, size, mm(5.0), 3.0, 2),
        // Decree 30: justified, the first line indented 1 cm, 6 pt between paragraphs.
        Element::Paragraph(spans) => {
            l.space(3.0);
            l.rich(&pieces(spans), size, mm(10.0), false);
            l.space(3.0);
        }
        Element::Bullet(spans) => {
            l.space(3.0);
            l.rich(&pieces(spans), size, mm(5.0), true);
            l.space(3.0);
        }
    };
    let [(a, an), (b, bn)] = &doc.signatures;
    // The title, room to sign, the name: nothing printed in between.
    let col = |title: &str, name: &str| -> Vec<(Piece, f32)> {
        vec![
            (Piece::new(title, Style::Bold), 13.0),
            (Piece::new(" ", Style::Regular), 13.0),
            (Piece::new(" ", Style::Regular), 13.0),
            (Piece::new(" ", Style::Regular), 13.0),
            (Piece::new(name, Style::Bold), 13.0),
        ]
    };
    let signatures = |l: &mut Layout| {
        l.space(20.0);
        l.columns(&col(a, an), &col(b, bn), 0.5);
    };
    let (last, rest) = doc.body.split_last().map_or((None, &[][..]), |(e, rest)| (Some(e), rest));
    for e in rest {
        element(&mut l, e);
    }
    if let Some(e) = last {
        // The signatures never stand alone on the last page (a page that
        // could be put in front of another text): when they would, the
        // text's last paragraph goes over with them, as Word keeps it there.
        let mut trial = l.clone();
        element(&mut trial, e);
        let ended = trial.page_count();
        signatures(&mut trial);
        if trial.page_count() > ended {
            l.page_break();
        }
        element(&mut l, e);
    }
    signatures(&mut l);
    // "Nơi nhận:" in 12 pt, the list in 11 pt, at the left (Decree 30 sets
    // the label in bold italic, as the DOCX does; the PDF's font has no bold
    // italic, and bold is the nearer).
    l.space(12.0);
    l.paragraph(recipients_label(doc.lang), 12.0, true, Align::Left, 0.0);
    for r in &doc.recipients {
        l.paragraph(r, 11.0, false, Align::Left, 0.0);
    }
    l.render(&format!("{} — {}", main_title(doc.lang), doc.title), doc.lang.code())
}

fn pieces(spans: &[(String, bool)]) -> Vec<Piece> {
    spans.iter().map(|(t, b)| Piece::new(t.clone(), if *b { Style::Bold } else { Style::Regular })).collect()
}

/// The minutes as a DOCX (Times New Roman 13 pt, A4, margins 20/15/20/30 mm).
pub fn docx(doc: &Doc) -> anyhow::Result<Vec<u8>> {
    use docx_rs::*;
    const FONT: &str = "Times New Roman";
    let fonts = || RunFonts::new().ascii(FONT).hi_ansi(FONT).east_asia(FONT).cs(FONT);
    // A line break typed in the room (a question on two lines) is a break
    // in the run: docx-rs drops a "\n" in a text, running the words together.
    let run = |text: &str, bold: bool, size: usize| {
        let mut r = Run::new().size(size).fonts(fonts());
        for (n, line) in text.split('\n').enumerate() {
            if n > 0 {
                r = r.add_break(BreakType::TextWrapping);
            }
            // No XML holds a noncharacter (U+FFFE…): one stored before the
            // rules refused them would make the whole document unreadable.
            r = r.add_text(line.chars().filter(|c| !gavel_shared::text::is_noncharacter(*c)).collect::<String>());
        }
        if bold { r.bold() } else { r }
    };
    let centered = |runs: Vec<Run>| {
        let mut p = Paragraph::new().align(AlignmentType::Center);
        for r in runs {
            p = p.add_run(r);
        }
        p
    };
    let no_borders = |t: Table| t.clear_all_border();
    // Decree 30 rules the organisation (a third of its width), the motto
    // (its whole width) and the title with a short solid line, as the PDF
    // draws them: here the bottom border of an empty paragraph 3 pt high,
    // narrowed by its indents and centred in its column (an underline would
    // cut through the dots under "lập" and "Hạnh").
    let rule = |column: i32, text: &str, size: usize, share: f32| {
        let width = (crate::pdf::text_width(text, size as f32 / 2.0, true) * share * 20.0) as i32;
        let side = ((column - width) / 2).max(0);
        let mut p = Paragraph::new()
            .indent(Some(side), None, Some(side), None)
            .line_spacing(LineSpacing::new().before(0).after(0).line(60).line_rule(LineSpacingType::Exact));
        let line = ParagraphBorder::new(ParagraphBorderPosition::Bottom).val(BorderType::Single).size(6);
        p.property = p.property.set_borders(ParagraphBorders::with_empty().set(line));
        p
    };
    let mut left_cell = TableCell::new().width(3800, WidthType::Dxa);
    for (n, (text, bold)) in doc.heading_left.iter().enumerate() {
        left_cell = left_cell.add_paragraph(centered(vec![run(text, *bold, left_size(doc, n))]));
        if *bold {
            left_cell = left_cell.add_paragraph(rule(3800, text, left_size(doc, n), 0.35));
        }
    }
    let mut right_cell = TableCell::new().width(5500, WidthType::Dxa);
    for (n, (text, style)) in doc.heading_right.iter().enumerate() {
        let r = run(text, *style == crate::pdf::Style::Bold, heading_size(n == 0));
        let r = if *style == crate::pdf::Style::Italic { r.italic() } else { r };
        right_cell = right_cell.add_paragraph(centered(vec![r]));
        // The motto, the second line.
        if n == 1 {
            right_cell = right_cell.add_paragraph(rule(5500, text, heading_size(false), 1.0));
        }
    }
    let heading = no_borders(Table::new(vec![TableRow::new(vec![left_cell, right_cell])]).set_grid(vec![3800, 5500]));
    let mut d = Docx::new()
        .page_size(11906, 16838)
        .page_margin(PageMargin::new().top(1134).bottom(1134).left(1701).right(850))
        .default_fonts(fonts())
        .default_size(26)
        // Decree 30: page numbers centred at the top, from the second page.
        .header(Header::new().add_paragraph(Paragraph::new().align(AlignmentType::Center).add_page_num(PageNum::new())))
        .first_header(Header::new())
        .add_table(heading)
        .add_paragraph(Paragraph::new());
    if let Some(draft) = &doc.draft {
        d = d.add_paragraph(Paragraph::new().align(AlignmentType::Right).add_run(run(draft, true, 24)));
    }
    d = d
        .add_paragraph(centered(vec![run(main_title(doc.lang), true, 28)]))
        .add_paragraph(centered(vec![run(&doc.title, true, 28)]))
        .add_paragraph(rule(9355, &doc.title, 28, 0.4));
    let spacing = LineSpacing::new().before(60).after(60);
    for (n, e) in doc.body.iter().enumerate() {
        let p = match e {
            // A heading stays on the page of what follows it, as in the PDF.
            Element::Heading(h) => {
                Paragraph::new().add_run(run(h, true, 26)).keep_next(true).line_spacing(LineSpacing::new().before(160).after(60))
            }
            Element::Subheading(h) => Paragraph::new()
                .add_run(run(h, true, 26))
                .keep_next(true)
                .indent(Some(283), None, None, None)
                .line_spacing(LineSpacing::new().before(100).after(40)),
            Element::Paragraph(spans) | Element::Bullet(spans) => {
                let bullet = matches!(e, Element::Bullet(_));
                let mut p = Paragraph::new().align(AlignmentType::Both).line_spacing(spacing.clone());
                p = if bullet {
                    p.indent(Some(567), Some(SpecialIndentType::Hanging(284)), None, None).add_run(run("-", false, 26).add_tab())
                } else {
                    p.indent(None, Some(SpecialIndentType::FirstLine(567)), None, None)
                };
                for (text, bold) in spans {
                    p = p.add_run(run(text, *bold, 26));
                }
                // The last one stays on the signatures' page: they never
                // stand alone on it.
                if n + 1 == doc.body.len() {
                    p = p.keep_next(true).keep_lines(true);
                }
                p
            }
        };
        d = d.add_paragraph(p);
    }
    let block = |title: &str, name: &str| {
        TableCell::new()
            .width(4650, WidthType::Dxa)
            .add_paragraph(centered(vec![run(title, true, 26)]))
            .add_paragraph(Paragraph::new())
            .add_paragraph(Paragraph::new())
            .add_paragraph(Paragraph::new())
            .add_paragraph(centered(vec![run(name, true, 26)]))
    };
    let [(a, an), (b, bn)] = &doc.signatures;
    d = d
        .add_paragraph(Paragraph::new().keep_next(true))
        // The signatures are one row that Word may not cut across pages.
        .add_table(no_borders(Table::new(vec![TableRow::new(vec![block(a, an), block(b, bn)]).cant_split()]).set_grid(vec![4650, 4650])));
    d = d.add_paragraph(Paragraph::new()).add_paragraph(Paragraph::new().add_run(run(recipients_label(doc.lang), true, 24).italic()));
    for r in &doc.recipients {
        d = d.add_paragraph(Paragraph::new().add_run(run(r, false, 22)));
    }
    // What the minutes were made from, at the foot of every page as in the
    // PDF, not in the text where a secretary would have to delete it.
    let foot = || Footer::new().add_paragraph(centered(vec![run(&doc.footer, false, 18).italic()]));
    d = d.footer(foot()).first_footer(foot());
    let mut out = std::io::Cursor::new(Vec::new());
    d.build().pack(&mut out).map_err(|e| anyhow::anyhow!("cannot write the DOCX: {e}"))?;
    Ok(out.into_inner())
}

/// The room's own yes/no option `o` (the `n`th of a yes/no poll) in
/// `lang`; any other option as written.
fn option_text<'a>(lang: Lang, p: &'a Poll, n: usize, o: &'a str) -> &'a str {
    match YES_NO_OPTIONS.iter().position(|y| *y == o) {
        Some(k) if p.kind == PollKind::YesNo && k == n => t(lang, YES_NO_OPTIONS[k], ["In favour", "Against", "Abstain"][k]),
        _ => o,
    }
}

/// A CSV cell a spreadsheet would run as a formula ("=…", "+…", "-…",
/// "@…"), be it a question typed so or a bullet "- Báo cáo", kept as text.
fn spreadsheet_text(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_string() }
}

/// The poll results as CSV, one line per option: UTF-8 with a BOM (so the
/// diacritics are read). In Vietnamese for a spreadsheet on a Vietnamese
/// Windows: ";" between fields, a decimal comma, headings and words in
/// Vietnamese. In English the machine-readable columns they always were.
/// Times are the room's; text that would run as a formula is kept as text.
pub fn polls_csv(s: &MeetingState, lang: Lang) -> anyhow::Result<Vec<u8>> {
    let vi = lang == Lang::Vi;
    let mut w = csv::WriterBuilder::new().delimiter(if vi { b';' } else { b',' }).from_writer(vec![0xEF, 0xBB, 0xBF]);
    let head: [(&str, &str); 18] = [
        ("Mã biểu quyết", "poll"),
        ("Nội dung", "item"),
        ("Vấn đề biểu quyết", "question"),
        ("Hình thức", "ballot"),
        ("Trạng thái", "status"),
        ("Phương án", "option"),
        ("Số phiếu", "votes"),
        ("Tỷ lệ (%)", "percent_of_base"),
        ("Số làm căn cứ tính tỷ lệ", "base"),
        ("Căn cứ tính tỷ lệ", "basis"),
        ("Phương án đạt", "option_passed"),
        ("Thông qua", "adopted"),
        ("Số phiếu đã bỏ", "ballots"),
        ("Do thư ký nhập", "by_secretary"),
        ("Thành viên có mặt", "quorum_present"),
        ("Tổng số thành viên", "quorum_members"),
        ("Kết thúc lúc", "closed_at"),
        // An election's candidates tied for the last seats: not elected,
        // a new round decides (the minutes say "bằng phiếu, bầu lại").
        // Last, so that the columns before keep their places.
        ("Bằng phiếu, bầu lại", "tied"),
    ];
    w.write_record(head.iter().map(|(v, e)| if vi { *v } else { *e }))?;
    let yes_no = |b: bool| match (vi, b) {
        (true, true) => "có",
        (true, false) => "không",
        (false, true) => "true",
        (false, false) => "false",
    };
    let cell = spreadsheet_text;
    for p in s.polls.iter() {
        let item = s.item(p.item).map(|i| i.title.as_str()).unwrap_or("");
        let Some(r) = &p.result else { continue };
        let closed = in_room(r.closed_at);
        let closed_at = if vi {
            format!("{:02}/{:02}/{} {}", closed.day(), u8::from(closed.month()), closed.year(), gavel_shared::clock::clock(r.closed_at))
        } else {
            closed.format(&time::format_description::well_known::Rfc3339)?
        };
        for (n, o) in p.options.iter().enumerate() {
            let votes = r.counts.get(n).copied().unwrap_or(0);
            let share = match (r.base, vi) {
                // Outside the base (an abstention against the votes for and against): no share.
                _ if !p.in_share(n) => String::new(),
                (0, _) => String::new(),
                (base, true) => gavel_shared::text::number(f64::from(votes) * 100.0 / f64::from(base), 2, true),
                (base, false) => format!("{:.2}", f64::from(votes) * 100.0 / f64::from(base)),
            };
            let ballot = match (p.secret, vi) {
                (true, true) => "bỏ phiếu kín",
                (false, true) => "công khai",
                (true, false) => "secret",
                (false, false) => "named",
            };
            let status = match (p.status, vi) {
                (PollStatus::Closed, true) => "đã kết thúc",
                (PollStatus::Cancelled, true) => "đã hủy",
                (PollStatus::Open, true) => "đang mở",
                (PollStatus::Draft, true) => "chưa mở",
                (status, false) => status.as_str(),
            };
            let basis = if vi {
                basis_text(p.kind, r.basis, vi)
            } else {
                match r.basis {
                    Basis::VotesCast => "votes_cast",
                    Basis::MembersPresent => "members_present",
                    Basis::AllMembers => "all_members",
                }
            };
            w.write_record([
                p.id.0.to_string().as_str(),
                &cell(item),
                &cell(&p.question),
                ballot,
                status,
                // In English the option as stored, as the columns always were.
                &cell(if vi { option_text(lang, p, n, o) } else { o }),
                &votes.to_string(),
                &share,
                &r.base.to_string(),
                basis,
                yes_no(r.passed.get(n).copied().unwrap_or(false)),
                yes_no(r.adopted),
                &r.ballots.to_string(),
                &r.by_secretary.to_string(),
                &r.quorum.present.to_string(),
                &r.quorum.members.to_string(),
                &closed_at,
                yes_no(r.tied.get(n).copied().unwrap_or(false)),
            ])?;
        }
    }
    Ok(w.into_inner()?)
}

/// The whole record as JSON: the state, the event log and its head.
pub fn record_json(s: &MeetingState, record: &Record, events: &[(String, Event)]) -> anyhow::Result<Vec<u8>> {
    let events: Vec<&Event> = events.iter().map(|(_, e)| e).collect();
    Ok(serde_json::to_vec_pretty(&serde_json::json!({
        "format": "gavel-record/1",
        "meeting": s,
        "log_head": record.log_head,
        "log_seq": record.log_seq,
        "events": events,
    }))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_a_spreadsheet_would_run_as_a_formula_is_kept_as_text() {
        for formula in ["=HYPERLINK(\"http://x\")", "+1", "- Báo cáo tài chính", "@SUM(A1)"] {
            assert_eq!(spreadsheet_text(formula), format!("'{formula}"));
        }
        assert_eq!(spreadsheet_text("Thông qua dự toán"), "Thông qua dự toán");
    }

    #[test]
    fn each_speech_is_read_from_the_log_under_its_item_and_ends_where_the_floor_moves_on() {
        use gavel_shared::Change;
        let t0 = time::macros::datetime!(2026-12-01 02:00 UTC);
        let (a, b, c) = (ParticipantId(1), ParticipantId(2), ParticipantId(3));
        let floor =
            |p, secs| Change::FloorGiven { floor: Floor { participant: p, since: t0 + time::Duration::seconds(secs), limit_secs: 0 } };
        let log: Vec<(String, Event)> = [
            (0, floor(a, 0)),
            (10, Change::CurrentItemChanged { item: Some(ItemId(7)), previous: None }),
            (20, floor(b, 20)),
            // An end for someone else leaves b speaking.
            (50, Change::SpeechEnded { participant: c }),
            (140, floor(c, 140)),
            (185, Change::SpeechEnded { participant: c }),
            (200, floor(a, 200)),
        ]
        .into_iter()
        .enumerate()
        .map(|(n, (secs, change))| {
            let e = Event { meeting: MeetingId(1), seq: n as u64 + 1, at: t0 + time::Duration::seconds(secs), by: Actor::System, change };
            (String::new(), e)
        })
        .collect();
        let at = |secs| Some(t0 + time::Duration::seconds(secs));
        let got: Vec<_> = speeches_in(&log).into_iter().map(|s| (s.item, s.participant, s.to)).collect();
        assert_eq!(got, vec![(None, a, at(10)), (Some(ItemId(7)), b, at(140)), (Some(ItemId(7)), c, at(185)), (Some(ItemId(7)), a, None)]);
        assert_eq!(duration(Lang::Vi, 120), "2 phút 00 giây");
        assert_eq!(duration(Lang::Vi, 45), "45 giây");
        assert_eq!(duration(Lang::En, 65), "1 min 05 s");
    }

    #[test]
    fn the_log_head_chains_every_event() {
        let a = log_head(["{\"seq\":1}", "{\"seq\":2}"]);
        let b = log_head(["{\"seq\":1}", "{\"seq\":3}"]);
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(log_head([]), "0".repeat(64));
    }

    #[test]
    fn the_date_line_pads_days_below_ten_and_only_the_first_two_months() {
        let at = |m: time::Month, d: u8| time::Date::from_calendar_date(2026, m, d).unwrap().with_hms(9, 0, 0).unwrap().assume_utc();
        assert_eq!(date_line(Lang::Vi, "Hà Nội", at(time::Month::March, 5)), "Hà Nội, ngày 05 tháng 3 năm 2026");
        assert_eq!(date_line(Lang::Vi, "Hà Nội", at(time::Month::February, 15)), "Hà Nội, ngày 15 tháng 02 năm 2026");
        assert_eq!(date_line(Lang::Vi, "Huế", at(time::Month::November, 30)), "Huế, ngày 30 tháng 11 năm 2026");
        // The body's times too: "ngày 05 tháng 3", never "tháng 03".
        assert_eq!(clock(Lang::Vi, at(time::Month::March, 5)), "16 giờ 00 phút, ngày 05 tháng 3 năm 2026");
        assert_eq!(clock(Lang::Vi, at(time::Month::January, 5)), "16 giờ 00 phút, ngày 05 tháng 01 năm 2026");
    }

    #[test]
    fn a_member_who_left_on_a_later_day_of_the_session_has_the_date_beside_the_time() {
        let opened = time::macros::datetime!(2026-12-01 01:30 UTC); // 08:30 in the room
        let same = time::macros::datetime!(2026-12-01 03:45 UTC);
        let later = time::macros::datetime!(2026-12-03 02:05 UTC);
        assert_eq!(left_at_text(Lang::Vi, same, opened), "vắng từ 10 giờ 45");
        assert_eq!(left_at_text(Lang::Vi, later, opened), "vắng từ 09 giờ 05, ngày 03 tháng 12");
        assert_eq!(left_at_text(Lang::En, later, opened), "left at 09:05 on 3 December");
        // Past midnight in the room is the next day, though not in UTC.
        let night = time::macros::datetime!(2026-12-01 17:10 UTC);
        assert_eq!(left_at_text(Lang::Vi, night, opened), "vắng từ 00 giờ 10, ngày 02 tháng 12");
    }

    fn closed(kind: PollKind, options: &[&str], basis: Basis, counts: Vec<u32>, ballots: u32, quorum: Quorum) -> Poll {
        let mut p = Poll {
            id: PollId(1),
            item: ItemId(1),
            question: "Thông qua".into(),
            kind,
            options: options.iter().map(|o| o.to_string()).collect(),
            max_choices: 1,
            secret: false,
            allow_change: false,
            rule: MajorityRule { basis, share: Share::MORE_THAN_HALF },
            status: PollStatus::Closed,
            voters: vec![],
            ballots: vec![],
            hands: vec![],
            hands_present: vec![],
            result: None,
            cancel_reason: None,
        };
        p.result = Some(tally(&p, counts, ballots, 0, quorum, OffsetDateTime::UNIX_EPOCH));
        p
    }

    fn text_of(lang: Lang, p: &Poll) -> String {
        let mut out = vec![];
        poll_elements(lang, p, &mut out);
        out.iter()
            .map(|e| match e {
                Element::Paragraph(s) | Element::Bullet(s) => s.iter().map(|(t, _)| t.as_str()).collect::<String>(),
                Element::Heading(s) | Element::Subheading(s) => s.clone(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn vote_shares_say_what_they_are_of_and_never_put_abstentions_over_the_votes_for_and_against() {
        let holds = Quorum { present: 17, members: 20, needed: 11, holds: true };
        let p = closed(PollKind::YesNo, &["Tán thành", "Không tán thành", "Không biểu quyết"], Basis::VotesCast, vec![4, 3, 10], 17, holds);
        let text = text_of(Lang::Vi, &p);
        assert!(text.contains("Tán thành: 4/7 (57,14% số phiếu tán thành và không tán thành)"), "{text}");
        assert!(text.contains("Không biểu quyết: 10 (không tính vào tỷ lệ)"), "{text}");
        assert!(!text.contains("142"), "an abstention is not a share of the votes for and against: {text}");
        assert!(text.contains("THÔNG QUA") && !text.contains("KHÔNG THÔNG QUA"), "{text}");
        let en = text_of(Lang::En, &p);
        assert!(en.contains("In favour: 4/7 (57.14% of the votes for and against)"), "{en}");
        assert!(!en.contains("Tán thành"), "the room's own options in English: {en}");

        // Counted against the members present, the share says so.
        let p =
            closed(PollKind::YesNo, &["Tán thành", "Không tán thành", "Không biểu quyết"], Basis::MembersPresent, vec![9, 3, 5], 17, holds);
        assert!(text_of(Lang::Vi, &p).contains("Tán thành: 9/17 (52,94% số thành viên có mặt)"));

        // Enough votes without a quorum: not adopted, and the minutes say why.
        let none = Quorum { present: 9, members: 20, needed: 11, holds: false };
        let p = closed(PollKind::YesNo, &["Tán thành", "Không tán thành", "Không biểu quyết"], Basis::VotesCast, vec![8, 1, 0], 9, none);
        assert!(text_of(Lang::Vi, &p).contains("KHÔNG THÔNG QUA (không đủ túc số)"), "{}", text_of(Lang::Vi, &p));
        let e = closed(PollKind::Choice, &["Ông A", "Bà B"], Basis::VotesCast, vec![8, 1], 9, none);
        assert!(text_of(Lang::Vi, &e).contains("không ai trúng cử (không đủ túc số)"));
        // An election's shares are of the ballots cast.
        let e = closed(PollKind::Choice, &["Ông A", "Bà B"], Basis::VotesCast, vec![12, 5], 17, holds);
        let text = text_of(Lang::Vi, &e);
        assert!(text.contains("Ông A: 12/17 (70,59% số phiếu bầu) — trúng cử"), "{text}");
        // Two candidates over half for one seat, tied: neither, a new round.
        let e = closed(PollKind::Choice, &["Ông A", "Bà B", "Ông C"], Basis::VotesCast, vec![9, 9, 1], 17, holds);
        let text = text_of(Lang::Vi, &e);
        assert!(text.contains("Ông A: 9/17 (52,94% số phiếu bầu) — bằng phiếu, bầu lại"), "{text}");
        assert!(!text.contains("— trúng cử") && text.contains("Kết quả: không ai trúng cử"), "{text}");
        assert!(text_of(Lang::En, &e).contains("— tied, a new round"));
    }

    #[test]
    fn an_election_no_one_won_says_so_and_a_vote_never_held_is_not_called_one() {
        let holds = Quorum { present: 17, members: 20, needed: 11, holds: true };
        let e = closed(PollKind::Choice, &["Ông A", "Bà B"], Basis::VotesCast, vec![8, 6], 17, holds);
        let text = text_of(Lang::Vi, &e);
        assert!(text.contains("Kết quả: không ai trúng cử") && !text.contains("đã kiểm phiếu"), "{text}");
        assert!(text.contains("tỷ lệ thông qua: quá nửa số phiếu bầu"), "{text}");
        let e = closed(PollKind::Choice, &["Ông A", "Bà B"], Basis::VotesCast, vec![12, 5], 17, holds);
        assert!(text_of(Lang::Vi, &e).contains("Kết quả: đã kiểm phiếu"));
        let mut prepared = e.clone();
        (prepared.status, prepared.result) = (PollStatus::Draft, None);
        assert!(text_of(Lang::Vi, &prepared).contains("(Không đưa ra biểu quyết.)"), "{}", text_of(Lang::Vi, &prepared));
    }

    #[test]
    fn the_votes_csv_gives_no_share_to_what_is_outside_the_base() {
        let holds = Quorum { present: 17, members: 20, needed: 11, holds: true };
        let mut s = crate::meeting::tests::open_meeting(MeetingId(1));
        let p = closed(PollKind::YesNo, &["Tán thành", "Không tán thành", "Không biểu quyết"], Basis::VotesCast, vec![4, 3, 10], 17, holds);
        s.polls = std::sync::Arc::new(vec![p]);
        let bytes = polls_csv(&s, Lang::Vi).unwrap();
        let mut r = csv::ReaderBuilder::new().delimiter(b';').from_reader(&bytes[3..]);
        let shares: Vec<String> = r.records().map(|r| r.unwrap()[7].to_string()).collect();
        assert_eq!(shares, vec!["57,14", "42,86", ""], "an abstention is not 10 of the 7 votes for and against");
    }

    #[test]
    fn the_votes_csv_marks_candidates_tied_for_the_last_seat() {
        let holds = Quorum { present: 17, members: 20, needed: 11, holds: true };
        let mut s = crate::meeting::tests::open_meeting(MeetingId(1));
        let e = closed(PollKind::Choice, &["Ông A", "Bà B", "Ông C"], Basis::VotesCast, vec![9, 9, 1], 17, holds);
        s.polls = std::sync::Arc::new(vec![e]);
        for (lang, tied, no, yes) in [(Lang::Vi, "Bằng phiếu, bầu lại", "không", "có"), (Lang::En, "tied", "false", "true")] {
            let bytes = polls_csv(&s, lang).unwrap();
            let mut r = csv::ReaderBuilder::new().delimiter(if lang == Lang::Vi { b';' } else { b',' }).from_reader(&bytes[3..]);
            let head = r.headers().unwrap().clone();
            let col = head.iter().position(|h| h == tied).expect("a tied column");
            assert_eq!(col, head.len() - 1, "last, the columns before keep their places");
            let passed = 10;
            let rows: Vec<_> = r.records().map(|r| r.unwrap()).collect();
            let got: Vec<_> = rows.iter().map(|r| (&r[5], &r[passed], &r[col])).collect();
            assert_eq!(got, vec![("Ông A", no, yes), ("Bà B", no, yes), ("Ông C", no, no)], "{lang:?}");
        }
    }
}
