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

/// The reasons given with refusals, in Vietnamese, by their English words:
/// the message a client gets holds them ("conflict: …", "your role may
/// not do this (…)"), and the web UI shows the Vietnamese instead of a
/// generic line with English in brackets.
pub const REASONS_VI: &[(&str, &str)] = &[
    ("a closed poll stands; it cannot be cancelled", "Biểu quyết đã kết thúc thì giữ nguyên kết quả, không hủy được."),
    (
        "a participant who voted or gave an opinion stays on record: mark them absent instead",
        "Người đã biểu quyết hoặc gửi ý kiến được giữ trong hồ sơ cuộc họp: hãy ghi vắng mặt thay vì xóa.",
    ),
    (
        "a member a closed vote was counted among stays a member on record: mark them absent instead",
        "Thành viên đã được tính trong một lần biểu quyết đã kết thúc được giữ là thành viên trong hồ sơ cuộc họp: hãy ghi vắng mặt thay vì xóa.",
    ),
    (
        "a member a closed vote was counted among stays a member on record",
        "Thành viên đã được tính trong một lần biểu quyết đã kết thúc phải giữ là thành viên trong hồ sơ cuộc họp.",
    ),
    (
        "a vote is open: close or cancel it before closing the meeting",
        "Đang có biểu quyết: hãy kết thúc hoặc hủy biểu quyết trước khi bế mạc cuộc họp.",
    ),
    (
        "an item with votes or written opinions stays on the agenda",
        "Nội dung đã có biểu quyết hoặc ý kiến bằng văn bản phải giữ trong chương trình.",
    ),
    (
        "an item with minutes written on it stays on the agenda",
        "Nội dung đã được ghi biên bản phải giữ trong chương trình: muốn xóa, hãy xóa phần biên bản của nội dung này trước.",
    ),
    ("an item already discussed stays on the agenda", "Nội dung đã được thảo luận phải giữ trong chương trình."),
    ("an item someone has spoken on stays on the agenda", "Nội dung đã có người phát biểu phải giữ trong chương trình."),
    ("an item put to the members for their opinions stays on the agenda", "Nội dung đã xin ý kiến thành viên phải giữ trong chương trình."),
    (
        "the organisation takes two lines at most: the governing body, then the organisation",
        "Tên cơ quan ghi tối đa hai dòng: cơ quan chủ quản, rồi đến cơ quan tổ chức cuộc họp.",
    ),
    ("another poll is open: close it first", "Đang có một biểu quyết khác: hãy kết thúc biểu quyết đó trước."),
    ("everyone present is already counted, by ballot or by show of hands", "Mọi người có mặt đã được tính, bằng phiếu hoặc giơ tay."),
    (
        "you were counted in the show of hands: a ballot would count you twice",
        "Bạn đã được tính khi biểu quyết bằng giơ tay: bỏ thêm phiếu sẽ tính bạn hai lần.",
    ),
    ("no item is under discussion", "Chưa có nội dung nào đang được thảo luận."),
    ("nobody has the floor", "Không có ai đang phát biểu."),
    ("nobody is waiting to speak", "Không có ai đang chờ phát biểu."),
    ("only a prepared poll can be opened", "Chỉ mở được biểu quyết đã chuẩn bị và chưa mở lần nào."),
    ("only participants present are given the floor", "Chỉ người có mặt mới được mời phát biểu."),
    ("only participants present ask to speak", "Chỉ người có mặt mới đăng ký phát biểu được."),
    ("the current item cannot be removed", "Không xóa được nội dung đang thảo luận."),
    ("the meeting needs a chair: name another chair first", "Cuộc họp cần có người chủ trì: hãy chỉ định người chủ trì khác trước."),
    ("the poll is not open", "Biểu quyết chưa mở hoặc đã kết thúc."),
    ("the quorum cannot change while a vote is open", "Không đổi được tỷ lệ túc số khi đang biểu quyết."),
    ("the floor changed meanwhile", "Người phát biểu vừa thay đổi; xem lại trước khi mời người tiếp theo."),
    ("the agenda moved meanwhile", "Chương trình vừa chuyển sang nội dung khác; xem lại trước khi chuyển tiếp."),
    (
        "you have given as many written opinions on this item as one person may",
        "Mỗi người chỉ gửi được tối đa 50 ý kiến bằng văn bản về một nội dung.",
    ),
    ("you have made as many comments on these minutes as one person may", "Mỗi người chỉ góp ý được tối đa 50 lần vào biên bản."),
    (
        "the meeting is closed: written opinions are taken only on an item they were asked for by a deadline",
        "Cuộc họp đã bế mạc: chỉ nhận ý kiến bằng văn bản về nội dung đã được đề nghị cho ý kiến có thời hạn.",
    ),
    ("the deadline for written opinions on this item has passed", "Đã hết hạn gửi ý kiến bằng văn bản về nội dung này."),
    (
        "the minutes are approved: no more written opinions are added to them",
        "Biên bản đã được phê duyệt: không nhận thêm ý kiến bằng văn bản.",
    ),
    (
        "this participant voted on their own tablet: only they can change their ballot",
        "Đại biểu này đã tự biểu quyết trên máy tính bảng: chỉ người đó mới đổi được phiếu của mình.",
    ),
    (
        "who votes and who counts for the quorum cannot change while a vote is open",
        "Không đổi được quyền biểu quyết hoặc tư cách thành viên khi đang biểu quyết.",
    ),
    ("you are already on the list", "Bạn đã đăng ký phát biểu hoặc đang phát biểu."),
    ("only the chair may do this", "Chỉ người chủ trì mới làm được việc này."),
    ("only the secretary may do this", "Chỉ thư ký mới làm được việc này."),
    ("only the chair or the secretary may do this", "Chỉ người chủ trì hoặc thư ký mới làm được việc này."),
    ("the signed minutes are for the meeting's members", "Biên bản đã ký chỉ dành cho thành viên cuộc họp."),
    ("already voted: a secret ballot cannot be changed", "Đã bỏ phiếu: phiếu kín không thay đổi được."),
    ("already voted", "Đã biểu quyết rồi."),
    ("the minutes are signed: start a correction", "Biên bản đã ký: hãy lập bản đính chính."),
    ("the minutes are approved", "Biên bản đã được phê duyệt."),
    ("the minutes are with the members for comments", "Biên bản đang được gửi lấy ý kiến thành viên."),
    ("the minutes are still a draft", "Biên bản vẫn là bản dự thảo."),
    ("not a participant of this meeting", "Bạn không thuộc thành phần cuộc họp này."),
    ("only participants ask to speak", "Chỉ thành phần cuộc họp mới đăng ký phát biểu."),
    ("only participants comment", "Chỉ thành phần cuộc họp mới góp ý biên bản."),
    ("only participants give opinions", "Chỉ thành phần cuộc họp mới gửi ý kiến."),
    ("only participants present vote", "Chỉ người có mặt mới được biểu quyết."),
    ("only participants vote", "Chỉ thành phần cuộc họp mới biểu quyết."),
    ("this participant does not vote", "Người này không có quyền biểu quyết."),
    (
        "only a member votes: tick “Member” too, or untick “Votes”",
        "Chỉ thành viên mới biểu quyết: hãy đánh dấu cả “Thành viên”, hoặc bỏ dấu “Biểu quyết”.",
    ),
    ("no participants given", "Chưa có người nào được nêu."),
    ("name each participant once", "Mỗi người chỉ được nêu một lần."),
    ("only an excused absence has a reason", "Chỉ vắng mặt có lý do mới ghi lý do."),
    ("the quorum must be a share between 0 and 1", "Tỷ lệ túc số phải nằm trong khoảng từ 0 đến 1."),
    ("a speech is limited to an hour at most", "Thời gian mỗi lượt phát biểu tối đa là một giờ."),
    ("a secret ballot cannot be changed", "Phiếu kín không thay đổi được."),
    ("the majority must be a share between 0 and 1", "Tỷ lệ thông qua phải nằm trong khoảng từ 0 đến 1."),
    ("a ballot picks between 1 and all of the options", "Mỗi phiếu chọn từ 1 đến tất cả các phương án."),
    ("one count per option", "Cần đúng một số đếm cho mỗi phương án."),
    ("unknown or repeated option", "Phương án không có trong danh sách hoặc bị chọn lặp lại."),
    ("only named and secret documents list readers", "Chỉ tài liệu mật hoặc tài liệu theo danh sách mới có danh sách người đọc."),
    ("not an agenda move", "Đây không phải thao tác chuyển nội dung."),
    // Refusals the room makes itself (`meeting.rs`, `auth.rs`).
    ("the deadline must be in the future", "Hạn trả lời phải sau thời điểm hiện tại."),
    ("the user name must be 1 to 64 characters without spaces", "Tên đăng nhập dài từ 1 đến 64 ký tự và không có dấu cách."),
    // Importing participants from a CSV file (the room's words in `http.rs`).
    ("the CSV needs a column 'name' (or 'Họ và tên')", "Tệp CSV cần có cột 'Họ và tên' (hoặc 'name')."),
    ("the CSV has no participants", "Tệp CSV không có người tham dự nào."),
    ("the meeting's date must fall between the years 2000 and 2100", "Ngày họp phải nằm trong khoảng từ năm 2000 đến năm 2100."),
    ("the deadline must fall between the years 2000 and 2100", "Hạn gửi ý kiến phải nằm trong khoảng từ năm 2000 đến năm 2100."),
];

/// Refusals that carry details: each `{}` of the English stands for one,
/// and the Vietnamese takes the same details in the same order. A detail
/// that names a field is said in Vietnamese too ([`FIELDS_VI`]).
pub const PATTERNS_VI: &[(&str, &str)] = &[
    ("{} must not be empty", "{} không được để trống."),
    ("{} is longer than {} characters", "{} dài quá {} ký tự."),
    ("{} contains control characters", "{} có ký tự điều khiển không hợp lệ."),
    ("at most {} participants at once", "Mỗi lần chỉ thêm được tối đa {} người."),
    ("the user name {} is taken", "Tên đăng nhập {} đã có người dùng."),
    ("an election needs 2 to {} options", "Bầu cử cần từ 2 đến {} phương án."),
    ("choose between 1 and {} options", "Hãy chọn từ 1 đến {} phương án."),
    (
        "the hands count the {} voters present who have not voted otherwise ({} present, {} ballots)",
        "Số giơ tay chỉ tính {} người có mặt chưa biểu quyết bằng cách khác ({} người có mặt, {} phiếu).",
    ),
    // Importing participants from a CSV file (the room's words in `http.rs`).
    ("line {}: not valid UTF-8", "Dòng {}: có ký tự không đọc được (tệp UTF-8 bị lỗi); hãy lưu lại tệp rồi nhập lại."),
    ("line {}: unknown role {}", "Dòng {}: không nhận ra vai trò {} (hãy ghi Chủ tọa, Thư ký, Đại biểu hoặc Dự thính)."),
    ("line {}: {} must be yes or no, not {}", "Dòng {}: cột {} phải ghi có hoặc không, không phải {}."),
    ("line {}: {}", "Dòng {}: tệp CSV có lỗi ({})."),
    // Exporting the minutes (the room's words in `http.rs`).
    ("unknown format {}: pdf, docx, csv or json", "Không có định dạng {}: hãy chọn pdf, docx, csv hoặc json."),
    // Signing in (the room's words in `error.rs`): how long to wait.
    ("too many wrong PINs: try again in {} s", "Nhập sai mã PIN quá nhiều lần: hãy thử lại sau {} giây."),
];

/// The fields named in refusals, in Vietnamese.
pub const FIELDS_VI: &[(&str, &str)] = &[
    ("title", "Tiêu đề"),
    ("name", "Họ và tên"),
    ("position", "Chức vụ"),
    ("presenter", "Người trình bày"),
    ("summary", "Tóm tắt"),
    ("organisation", "Tên cơ quan"),
    ("place", "Địa điểm"),
    ("locality", "Địa danh"),
    ("question", "Nội dung biểu quyết"),
    ("option", "Phương án"),
    ("reason", "Lý do"),
    ("opinion", "Ý kiến"),
    ("minutes", "Nội dung biên bản"),
    ("number", "Số biên bản"),
    ("comment", "Góp ý"),
    ("member", "Thành viên"),
    ("voting", "Biểu quyết"),
];

/// `message` matched against `pattern` as a whole: the details its `{}`
/// stand for, in order.
fn details<'a>(pattern: &str, message: &'a str) -> Option<Vec<&'a str>> {
    let parts: Vec<&str> = pattern.split("{}").collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    let mut rest = message.strip_prefix(first)?.strip_suffix(last)?;
    let mut found = vec![];
    for part in &parts[1..parts.len().saturating_sub(1)] {
        let at = rest.find(part).filter(|at| *at > 0)?;
        found.push(&rest[..at]);
        rest = &rest[at + part.len()..];
    }
    if parts.len() > 1 {
        found.push(rest.get(..).filter(|r| !r.is_empty())?);
    }
    Some(found)
}

/// The Vietnamese of the reason in a refusal's message, if it gives one of [`REASONS_VI`].
pub fn reason_vi(message: &str) -> Option<std::borrow::Cow<'static, str>> {
    // The longest that fits: some reasons hold others ("already voted").
    if let Some((_, vi)) = REASONS_VI.iter().filter(|(en, _)| message.contains(en)).max_by_key(|(en, _)| en.len()) {
        return Some(std::borrow::Cow::Borrowed(vi));
    }
    // With details: the message as the room words it ("invalid: title must
    // not be empty"), its code's prefix left out; the pattern that says most.
    let said =
        message.split_once(": ").filter(|(code, _)| code.bytes().all(|b| b.is_ascii_lowercase() || b == b' ')).map_or(message, |(_, m)| m);
    let (_, vi, found) = PATTERNS_VI
        .iter()
        .filter_map(|(en, vi)| Some((*en, *vi, details(en, said)?)))
        .max_by_key(|(en, _, _)| en.len() - en.matches("{}").count() * 2)?;
    let mut out = String::new();
    let mut pieces = vi.split("{}");
    out.push_str(pieces.next().unwrap_or_default());
    for (detail, piece) in found.iter().zip(pieces) {
        out.push_str(FIELDS_VI.iter().find(|(en, _)| en == detail).map_or(detail, |(_, v)| v));
        out.push_str(piece);
    }
    Some(std::borrow::Cow::Owned(out))
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
/// The most written opinions one participant gives on one agenda item, and
/// the most comments one makes on the minutes: far more than anyone writes
/// in a meeting, and few enough that a tablet sending and sending cannot
/// fill the room's memory (each opinion is kept, and sent to everyone).
pub const MAX_WRITINGS_EACH: usize = 50;
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
    Right { kind: CommandKind::DismissRequest, roles: &[Chair], statuses: &[Open] },
    Right { kind: CommandKind::GiveFloor, roles: &[Chair], statuses: &[Open] },
    Right { kind: CommandKind::EndSpeech, roles: &[Chair], statuses: &[Open] },
    // After the close, only where opinions were asked for by a deadline:
    // see [`opinions_taken`].
    Right { kind: CommandKind::AddOpinion, roles: EVERYONE, statuses: ANY },
    Right { kind: CommandKind::RequestOpinions, roles: CHAIR_OR_SECRETARY, statuses: PREPARING },
    // The minutes are written during the meeting and finished after it.
    Right { kind: CommandKind::EditMinutes, roles: &[Secretary], statuses: ANY },
    Right { kind: CommandKind::SetMinutesNumber, roles: &[Secretary], statuses: ANY },
    Right { kind: CommandKind::SendMinutesForComments, roles: &[Secretary], statuses: &[Closed] },
    Right { kind: CommandKind::CommentMinutes, roles: EVERYONE, statuses: &[Closed] },
    Right { kind: CommandKind::TakeBackMinutes, roles: &[Secretary], statuses: &[Closed] },
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
    // Noncharacters (U+FFFE, U+FFFF, U+FDD0…) too: pasted, they made the
    // minutes' DOCX invalid XML, which Word will not open.
    if value.chars().any(|c| (c.is_control() && c != '\n' && c != '\t') || crate::text::is_noncharacter(c)) {
        return Err(RuleError::Invalid(format!("{field} contains control characters")));
    }
    Ok(())
}

/// A date a meeting is held or an opinion is due: in this century. Far
/// dates cannot be written in the room's time zone (the year 9999 plus
/// seven hours is past what a date can hold), which failed every export of
/// the minutes and the page of every tablet showing it.
fn check_date(at: time::OffsetDateTime, refusal: &str) -> Result<(), RuleError> {
    match at.year() {
        2000..=2100 => Ok(()),
        _ => Err(RuleError::Invalid(refusal.into())),
    }
}

/// A meeting's header, as created or changed.
pub fn check_meeting_header(
    title: &str,
    organisation: &str,
    place: &str,
    locality: &str,
    starts_at: time::OffsetDateTime,
) -> Result<(), RuleError> {
    check_date(starts_at, "the meeting's date must fall between the years 2000 and 2100")?;
    text("title", title, MAX_TITLE, true)?;
    text("organisation", organisation, MAX_TITLE, false)?;
    if organisation.lines().count() > 2 {
        return Err(RuleError::Invalid("the organisation takes two lines at most: the governing body, then the organisation".into()));
    }
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
        Command::UpdateMeeting { title, organisation, place, locality, starts_at } => {
            check_meeting_header(title, organisation, place, locality, *starts_at)
        }
        Command::OpenMeeting => Ok(()),
        // A vote left open would stay open for good (nothing is voted,
        // closed or cancelled in a closed meeting), its ballots out of the
        // minutes.
        Command::CloseMeeting => match state.open_poll() {
            Some(_) => Err(RuleError::Conflict("a vote is open: close or cancel it before closing the meeting")),
            None => Ok(()),
        },
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
            // What was decided, said or written on it stays on record.
            if state.polls.iter().any(|p| p.item == *item) || state.opinions.iter().any(|o| o.item == *item) {
                return Err(RuleError::Conflict("an item with votes or written opinions stays on the agenda"));
            }
            if !state.minutes.text(SectionKey::Item(*item)).trim().is_empty() {
                return Err(RuleError::Conflict("an item with minutes written on it stays on the agenda"));
            }
            // Spoken on (the chair may have stepped back from it, which
            // leaves it pending), or put to the members for their opinions:
            // the minutes list the speeches and the requests under it.
            if state.speakers.spoken_on(*item).next().is_some() {
                return Err(RuleError::Conflict("an item someone has spoken on stays on the agenda"));
            }
            // (Before the meeting, a request asked by mistake goes with its
            // item; answers given to it keep the item, as opinions do.)
            if state.meeting.status != MeetingStatus::Draft && state.opinion_requests.iter().any(|r| r.item == *item) {
                return Err(RuleError::Conflict("an item put to the members for their opinions stays on the agenda"));
            }
            // Discussed, even with nothing yet written: the secretary's
            // notes may still be on paper, and the hall saw it on the agenda.
            if state.item(*item).is_some_and(|i| i.status == ItemStatus::Done) {
                return Err(RuleError::Conflict("an item already discussed stays on the agenda"));
            }
            Ok(())
        }
        Command::MoveItem { item, .. } => state.item(*item).map(|_| ()).ok_or(RuleError::NotFound("agenda item")),
        // `from` 0: no item was current (the meeting just opened).
        Command::NextItem { from: Some(from) } | Command::PreviousItem { from: Some(from) }
            if state.meeting.current_item.unwrap_or(ItemId(0)) != *from =>
        {
            Err(RuleError::Conflict("the agenda moved meanwhile"))
        }
        Command::GoToItem { .. } | Command::NextItem { .. } | Command::PreviousItem { .. } => agenda_target(state, cmd).map(|_| ()),
        Command::AddParticipants { participants } => {
            if participants.is_empty() {
                return Err(RuleError::Invalid("no participants given".into()));
            }
            if participants.len() > MAX_BATCH {
                return Err(RuleError::Invalid(format!("at most {MAX_BATCH} participants at once")));
            }
            participants.iter().try_for_each(|p| check_new_participant(&p.name, &p.position))?;
            participants.iter().try_for_each(|p| votes_as_member(p.member, p.voting))?;
            if state.open_poll().is_some() && participants.iter().any(|p| p.member || p.voting) {
                return Err(RuleError::Conflict("who votes and who counts for the quorum cannot change while a vote is open"));
            }
            Ok(())
        }
        Command::UpdateParticipant { participant, name, position, role, member, voting } => {
            let p = state.participant(*participant).ok_or(RuleError::NotFound("participant"))?;
            check_new_participant(name, position)?;
            // A voting non-member kept from before the rule may still be renamed.
            if (p.member, p.voting) != (*member, *voting) {
                votes_as_member(*member, *voting)?;
            }
            // Who votes and who counts for the quorum make a vote's base: fixed while one is open.
            if state.open_poll().is_some() && (p.member != *member || p.voting != *voting) {
                return Err(RuleError::Conflict("who votes and who counts for the quorum cannot change while a vote is open"));
            }
            if p.member && !*member {
                stays_a_member_if_counted(state, *participant, false)?;
            }
            if *role != Role::Chair {
                keeps_a_chair(state, *participant)?;
            }
            Ok(())
        }
        Command::RemoveParticipant { participant } => {
            let p = state.participant(*participant).ok_or(RuleError::NotFound("participant"))?;
            keeps_a_chair(state, *participant)?;
            // Someone who voted, wrote an opinion or commented on the minutes
            // is part of the record: marked absent, not removed.
            // So is one counted at a show of hands (present then, and in
            // the vote's quorum). One who spoke may go: the minutes keep the
            // speech, said as by someone no longer listed.
            let took_part = state.polls.iter().any(|p| p.voters.contains(participant) || p.hands_present.contains(participant))
                || state.opinions.iter().any(|o| o.author == *participant)
                || state.minutes.comments.iter().any(|c| c.author == *participant);
            if took_part {
                return Err(RuleError::Conflict("a participant who voted or gave an opinion stays on record: mark them absent instead"));
            }
            stays_a_member_if_counted(state, *participant, true)?;
            if state.open_poll().is_some() && (p.member || p.voting) {
                return Err(RuleError::Conflict("who votes and who counts for the quorum cannot change while a vote is open"));
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
            if state.open_poll().is_some() {
                return Err(RuleError::Conflict("the quorum cannot change while a vote is open"));
            }
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
        Command::CastBallotFor { poll, voter, choices } => {
            check_ballot(state, *poll, *voter, choices)?;
            // A ballot the voter cast on their own tablet is theirs to change.
            if state.poll(*poll).is_some_and(|p| p.ballots.iter().any(|b| b.voter == *voter && !b.by_secretary)) {
                return Err(RuleError::Conflict("this participant voted on their own tablet: only they can change their ballot"));
            }
            Ok(())
        }
        Command::RecordHands { poll, counts } => {
            let p = open_poll(state, *poll)?;
            if counts.len() != p.options.len() {
                return Err(RuleError::Invalid("one count per option".into()));
            }
            // Hands are the voters present who have not voted otherwise:
            // each count, and all of them together (a person raises a hand
            // for at most as many options as a ballot may choose), stay
            // within them, so nobody is counted twice.
            // Someone who voted and then left counts by their ballot, not
            // against those still in the room.
            let left = not_voted_present(state, p) as u64;
            let per_person = p.choices_per_ballot() as u64;
            if counts.iter().any(|c| u64::from(*c) > left) || counts.iter().map(|c| u64::from(*c)).sum::<u64>() > left * per_person {
                return Err(RuleError::Invalid(format!(
                    "the hands count the {left} voters present who have not voted otherwise ({} present, {} ballots)",
                    state.voters_present(),
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
            if state.participant(me).is_none_or(|p| p.attendance != Attendance::Present) {
                return Err(RuleError::Conflict("only participants present ask to speak"));
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
        Command::DismissRequest { participant } => {
            if state.speakers.queue.contains(participant) {
                Ok(())
            } else {
                Err(RuleError::NotFound("request to speak"))
            }
        }
        Command::GiveFloor { from: Some(from), .. } if state.speakers.floor.map_or(ParticipantId(0), |f| f.participant) != *from => {
            Err(RuleError::Conflict("the floor changed meanwhile"))
        }
        Command::GiveFloor { participant, .. } => match participant {
            Some(p) => match state.participant(*p) {
                None => Err(RuleError::NotFound("participant")),
                Some(p) if p.attendance != Attendance::Present => Err(RuleError::Conflict("only participants present are given the floor")),
                Some(_) => Ok(()),
            },
            // Those who left are off the queue; a list from before that
            // still holding only them has nobody to give the floor to.
            None if !state.speakers.queue.iter().any(|p| state.participant(*p).is_some_and(|x| x.attendance == Attendance::Present)) => {
                Err(RuleError::Conflict("nobody is waiting to speak"))
            }
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
            text("opinion", body, MAX_OPINION, *stance == Stance::Comment)?;
            let given = state.opinions.iter().filter(|o| Some(o.author) == actor.participant() && o.item == *item).count();
            if given >= MAX_WRITINGS_EACH {
                return Err(RuleError::Conflict("you have given as many written opinions on this item as one person may"));
            }
            Ok(())
        }
        Command::RequestOpinions { item, deadline, .. } => {
            check_date(*deadline, "the deadline must fall between the years 2000 and 2100")?;
            state.item(*item).map(|_| ()).ok_or(RuleError::NotFound("agenda item"))
        }
        Command::EditMinutes { section, text: body } => {
            minutes_status(state, &[MinutesStatus::Draft])?;
            if *section == SectionKey::Unknown {
                return Err(RuleError::NotFound("minutes section"));
            }
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
            if *section == SectionKey::Unknown {
                return Err(RuleError::NotFound("minutes section"));
            }
            if let SectionKey::Item(item) = section {
                state.item(*item).ok_or(RuleError::NotFound("agenda item"))?;
            }
            text("comment", body, MAX_OPINION, true)?;
            if state.minutes.comments.iter().filter(|c| Some(c.author) == actor.participant()).count() >= MAX_WRITINGS_EACH {
                return Err(RuleError::Conflict("you have made as many comments on these minutes as one person may"));
            }
            Ok(())
        }
        Command::ApproveMinutes => minutes_status(state, &[MinutesStatus::Draft, MinutesStatus::InReview]),
        Command::SignMinutes => minutes_status(state, &[MinutesStatus::Approved]),
        // Back to the draft from wherever it went: the members' comments are
        // worked into the text, which only a draft takes.
        Command::ReviseMinutes => minutes_status(state, &[MinutesStatus::Signed]),
        Command::TakeBackMinutes => minutes_status(state, &[MinutesStatus::InReview, MinutesStatus::Approved]),
        Command::Unknown => Err(RuleError::UnknownCommand),
    }
}

/// Whether written opinions on `item` are still taken at `now`: until the
/// meeting closes, and after it where the chair or the secretary asked for
/// them by a deadline (members away answer by their link, often after the
/// meeting), until the latest deadline and while the minutes, which list
/// them, are not yet approved (taken back to the draft before they were
/// ever signed, they take them again).
pub fn opinions_taken(state: &MeetingState, item: ItemId, now: time::OffsetDateTime) -> Result<(), RuleError> {
    if state.meeting.status != MeetingStatus::Closed {
        return Ok(());
    }
    let Some(deadline) = state.opinion_requests.iter().filter(|r| r.item == item).map(|r| r.deadline).max() else {
        return Err(RuleError::Conflict(
            "the meeting is closed: written opinions are taken only on an item they were asked for by a deadline",
        ));
    };
    if deadline <= now {
        return Err(RuleError::Conflict("the deadline for written opinions on this item has passed"));
    }
    // Signed once, the record is issued: a correction (a draft again) is
    // not a way in for late opinions.
    if matches!(state.minutes.status, MinutesStatus::Approved | MinutesStatus::Signed) || !state.minutes.signed.is_empty() {
        return Err(RuleError::Conflict("the minutes are approved: no more written opinions are added to them"));
    }
    Ok(())
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
    // A vote is counted against members (present, or all): a ballot from
    // anyone else would count for a motion outside its base.
    if !who.votes() {
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
    // Once hands are counted, a new ballot must not count someone twice:
    // the hands stand for voters present who had not voted, this one among them.
    // In an election of several seats, the hands stand for everyone in the
    // room when they were counted (see `MeetingState::hand_voters`): by
    // name, so one who came in after still votes, whoever left since.
    if p.choices_per_ballot() > 1 {
        // By name: the voter is told it is them who was counted (their
        // tablet does not see the hands while the vote is open).
        if !p.voters.contains(&voter) && p.raised_hands() && p.hands_present.contains(&voter) {
            return Err(RuleError::Conflict("you were counted in the show of hands: a ballot would count you twice"));
        }
    } else if !p.voters.contains(&voter) && p.raised_hands() && state.hand_voters(p) >= not_voted_present(state, p) {
        return Err(RuleError::Conflict("everyone present is already counted, by ballot or by show of hands"));
    }
    Ok(())
}

/// Only a member votes: a vote's base, its quorum and its majority, is
/// counted in members, and a guest's ballot would count for a motion outside
/// it (11 in favour of 20 members, 2 of them guests, passing with 9).
fn votes_as_member(member: bool, voting: bool) -> Result<(), RuleError> {
    if voting && !member {
        return Err(RuleError::Invalid("only a member votes: tick “Member” too, or untick “Votes”".into()));
    }
    Ok(())
}

/// The voters present who have not voted in `p`.
fn not_voted_present(state: &MeetingState, p: &Poll) -> usize {
    state.waiting_voters(p).count()
}

/// Refuses to take away a member a closed vote was counted among (absent
/// ones too: they are in its base, "of 5 members"); removed or made a
/// guest, the minutes would list fewer members than the vote counted.
fn stays_a_member_if_counted(state: &MeetingState, participant: ParticipantId, removing: bool) -> Result<(), RuleError> {
    if state.polls.iter().filter_map(|p| p.result.as_ref()).any(|r| r.members.contains(participant)) {
        return Err(RuleError::Conflict(if removing {
            "a member a closed vote was counted among stays a member on record: mark them absent instead"
        } else {
            "a member a closed vote was counted among stays a member on record"
        }));
    }
    Ok(())
}

/// An open meeting keeps a chair: without one, nobody could close a vote
/// or the meeting. `leaving` is about to stop being one.
fn keeps_a_chair(state: &MeetingState, leaving: ParticipantId) -> Result<(), RuleError> {
    let was_chair = state.participant(leaving).is_some_and(|p| p.role == Role::Chair);
    let another = state.participants.iter().any(|p| p.id != leaving && p.role == Role::Chair);
    if state.meeting.status == MeetingStatus::Open && was_chair && !another {
        return Err(RuleError::Conflict("the meeting needs a chair: name another chair first"));
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
/// chair pressed "next" with every other item discussed, "previous" on the
/// first), an error for an unknown item.
pub fn agenda_target(state: &MeetingState, cmd: &Command) -> Result<Option<ItemId>, RuleError> {
    let current = state.meeting.current_item.and_then(|id| state.item_index(id));
    match cmd {
        Command::GoToItem { item } => {
            state.item(*item).ok_or(RuleError::NotFound("agenda item"))?;
            Ok(if state.meeting.current_item == Some(*item) { None } else { Some(*item) })
        }
        // The next item not yet discussed: after the current one first,
        // passing over those already done (the chair stepped back to one
        // and goes on); then, from the top, one skipped or added above.
        Command::NextItem { .. } => {
            let after = current.map_or(0, |i| i + 1);
            let open = |i: &&AgendaItem| i.status != ItemStatus::Done;
            let ahead = state.agenda.iter().skip(after).find(open);
            let behind = || state.agenda.iter().take(current.unwrap_or(0)).find(open);
            Ok(ahead.or_else(behind).map(|i| i.id))
        }
        Command::PreviousItem { .. } => Ok(current.and_then(|i| i.checked_sub(1)).and_then(|i| state.agenda.get(i)).map(|i| i.id)),
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
    fn dates_fall_in_this_century() {
        let s = open(sample());
        let far = time::macros::datetime!(9999-12-31 23:00 UTC);
        let header = |starts_at| Command::UpdateMeeting {
            title: "Kỳ họp".into(),
            organisation: String::new(),
            place: String::new(),
            locality: String::new(),
            starts_at,
        };
        assert_eq!(check(&s, &actor(&s, 2), &header(far)).unwrap_err().code(), "invalid");
        assert_eq!(check(&s, &actor(&s, 2), &header(time::macros::datetime!(2026-11-23 01:00 UTC))), Ok(()));
        let ask = |deadline| Command::RequestOpinions { item: s.agenda[0].id, deadline };
        assert_eq!(check(&s, &actor(&s, 2), &ask(time::macros::datetime!(1900-01-01 0:00 UTC))).unwrap_err().code(), "invalid");
        assert_eq!(check(&s, &actor(&s, 2), &ask(time::macros::datetime!(2026-12-01 10:00 UTC))), Ok(()));
    }

    #[test]
    fn one_person_gives_at_most_so_many_written_opinions_on_an_item() {
        let mut s = open(sample());
        let item = s.agenda[0].id;
        let other_item = s.agenda[1].id;
        let opinion = |item| Command::AddOpinion { item, document: None, stance: Stance::Comment, text: "Ý kiến".into() };
        let (me, neighbour) = (actor(&s, 3), actor(&s, 4));
        for k in 0..MAX_WRITINGS_EACH {
            assert_eq!(check(&s, &me, &opinion(item)), Ok(()), "opinion {k}");
            std::sync::Arc::make_mut(&mut s.opinions).push(Opinion {
                id: OpinionId(k as i64),
                item,
                document: None,
                author: me.participant().unwrap(),
                stance: Stance::Comment,
                text: "Ý kiến".into(),
                remote: false,
                at: time::OffsetDateTime::UNIX_EPOCH,
            });
        }
        let refused = check(&s, &me, &opinion(item)).unwrap_err();
        assert_eq!(refused.code(), "conflict");
        assert!(reason_vi(&refused.to_string()).is_some(), "said in Vietnamese: {refused}");
        assert_eq!(check(&s, &me, &opinion(other_item)), Ok(()), "another item");
        assert_eq!(check(&s, &neighbour, &opinion(item)), Ok(()), "another person");
    }

    #[test]
    fn only_the_chair_moves_the_agenda() {
        let s = open(sample());
        let cmd = Command::NextItem { from: None };
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
        assert_eq!(check(&s, &actor(&s, 1), &Command::NextItem { from: None }).unwrap_err().code(), "wrong_status");
        assert_eq!(check(&s, &actor(&s, 1), &Command::OpenMeeting).unwrap_err().code(), "wrong_status");
        // Sign-in cards can still be printed, to read the record.
        assert_eq!(check(&s, &actor(&s, 2), &Command::ResetPins { participants: vec![ParticipantId(3)] }), Ok(()));
    }

    #[test]
    fn the_agenda_moves_only_while_open_and_status_moves_forward() {
        let s = sample();
        assert_eq!(check(&s, &actor(&s, 1), &Command::NextItem { from: None }).unwrap_err().code(), "wrong_status");
        assert_eq!(check(&s, &actor(&s, 1), &Command::CloseMeeting).unwrap_err().code(), "wrong_status");
        assert_eq!(check(&s, &actor(&s, 1), &Command::OpenMeeting), Ok(()));
    }

    #[test]
    fn a_participant_of_another_meeting_has_no_rights() {
        let s = open(sample());
        let stranger = Actor::Participant { meeting: MeetingId(9), participant: ParticipantId(1), role: Role::Chair };
        assert_eq!(check(&s, &stranger, &Command::NextItem { from: None }).unwrap_err().code(), "forbidden");
    }

    #[test]
    fn agenda_moves_land_where_expected() {
        let mut s = open(sample());
        assert_eq!(agenda_target(&s, &Command::NextItem { from: None }), Ok(Some(ItemId(10))));
        // Pressed on another device as the agenda moved: refused, not taken twice.
        let chair = actor(&s, 1);
        assert_eq!(check(&s, &chair, &Command::NextItem { from: Some(ItemId(10)) }).unwrap_err().code(), "conflict");
        assert_eq!(check(&s, &chair, &Command::PreviousItem { from: Some(ItemId(10)) }).unwrap_err().code(), "conflict");
        // Before the first item, "from no item" (0): taken once, not twice.
        assert_eq!(check(&s, &chair, &Command::NextItem { from: Some(ItemId(0)) }), Ok(()));
        let mut moved = s.clone();
        moved.meeting.current_item = Some(ItemId(10));
        assert_eq!(check(&moved, &chair, &Command::NextItem { from: Some(ItemId(0)) }).unwrap_err().code(), "conflict");
        assert_eq!(agenda_target(&s, &Command::PreviousItem { from: None }), Ok(None));
        s.meeting.current_item = Some(ItemId(12));
        for item in &mut std::sync::Arc::make_mut(&mut s.agenda)[..2] {
            item.status = ItemStatus::Done;
        }
        assert_eq!(agenda_target(&s, &Command::NextItem { from: None }), Ok(None), "next on the last item");
        assert_eq!(agenda_target(&s, &Command::PreviousItem { from: None }), Ok(Some(ItemId(11))));
        assert_eq!(check(&s, &actor(&s, 1), &Command::PreviousItem { from: Some(ItemId(12)) }), Ok(()));
        assert_eq!(agenda_target(&s, &Command::GoToItem { item: ItemId(10) }), Ok(Some(ItemId(10))));
        assert_eq!(agenda_target(&s, &Command::GoToItem { item: ItemId(12) }), Ok(None));
        assert_eq!(agenda_target(&s, &Command::GoToItem { item: ItemId(77) }).unwrap_err().code(), "not_found");
    }

    #[test]
    fn next_goes_to_the_next_item_not_yet_discussed_then_to_one_left_behind() {
        let mut s = open(sample());
        let done = |s: &mut MeetingState, id: i64| {
            std::sync::Arc::make_mut(&mut s.agenda).iter_mut().find(|i| i.id == ItemId(id)).unwrap().status = ItemStatus::Done
        };
        // Stepped back from the third item to the first, all before it done: on to the third.
        done(&mut s, 10);
        done(&mut s, 11);
        s.meeting.current_item = Some(ItemId(10));
        assert_eq!(agenda_target(&s, &Command::NextItem { from: None }), Ok(Some(ItemId(12))));
        // On the last item, with one added above the current one (or skipped): back to it.
        std::sync::Arc::make_mut(&mut s.agenda)[1].status = ItemStatus::Pending;
        s.meeting.current_item = Some(ItemId(12));
        assert_eq!(agenda_target(&s, &Command::NextItem { from: None }), Ok(Some(ItemId(11))));
        // Everything else discussed: nowhere to go.
        done(&mut s, 11);
        assert_eq!(agenda_target(&s, &Command::NextItem { from: None }), Ok(None));
        // "Previous" is still the item above.
        assert_eq!(agenda_target(&s, &Command::PreviousItem { from: None }), Ok(Some(ItemId(11))));
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
            hands_present: vec![],
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
    fn text_with_noncharacters_is_refused() {
        let s = sample();
        let item = |title: &str| Command::AddItem { title: title.into(), presenter: String::new(), summary: String::new(), position: None };
        for bad in ["Báo cáo\u{FFFF}", "Báo cáo\u{FFFE}", "\u{FDD0}Báo cáo", "Báo cáo\u{1FFFF}"] {
            assert_eq!(check(&s, &actor(&s, 2), &item(bad)).unwrap_err().code(), "invalid", "{bad:?}");
        }
        // A bullet pasted from Word (private use), tabs and line breaks are text.
        assert_eq!(check(&s, &actor(&s, 2), &item("\u{F0B7}\tBáo cáo")), Ok(()));
    }

    #[test]
    fn only_members_vote() {
        let mut s = with_poll(false, false, PollStatus::Open);
        // A guest given a vote before the rule (an older CSV import): refused at the ballot.
        std::sync::Arc::make_mut(&mut s.participants)[3].voting = true;
        let refused = check(&s, &actor(&s, 4), &vote(0)).unwrap_err();
        assert_eq!(refused.code(), "forbidden", "a voting non-member");
        // Nor counted as one who has yet to vote, and renamed as they are.
        assert_eq!(s.vote_progress(&s.polls[0]), (0, 2), "the chair and participant 3");
        std::sync::Arc::make_mut(&mut s.polls).clear();
        let rename = Command::UpdateParticipant {
            participant: ParticipantId(4),
            name: "Phạm Thu Dung".into(),
            position: "Khách mời".into(),
            role: Role::Delegate,
            member: false,
            voting: true,
        };
        assert_eq!(check(&s, &actor(&s, 2), &rename), Ok(()), "a row kept from before the rule is renamed");
        let guest =
            |member, voting| NewParticipant { name: "Khách mời".into(), position: String::new(), role: Role::Delegate, member, voting };
        let add = |member, voting| Command::AddParticipants { participants: vec![guest(member, voting)] };
        let refused = check(&s, &actor(&s, 2), &add(false, true)).unwrap_err();
        assert_eq!(refused.code(), "invalid");
        assert!(reason_vi(&refused.to_string()).is_some_and(|vi| vi.contains("Chỉ thành viên")), "said in Vietnamese: {refused}");
        for (member, voting) in [(true, true), (true, false), (false, false)] {
            assert_eq!(check(&s, &actor(&s, 2), &add(member, voting)), Ok(()), "member {member}, voting {voting}");
        }
        let update = |member, voting| Command::UpdateParticipant {
            participant: ParticipantId(3),
            name: "Lê Văn Cường".into(),
            position: String::new(),
            role: Role::Delegate,
            member,
            voting,
        };
        assert_eq!(check(&s, &actor(&s, 2), &update(false, true)).unwrap_err().code(), "invalid");
        assert_eq!(check(&s, &actor(&s, 2), &update(false, false)), Ok(()));
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
    fn every_reason_given_with_a_refusal_is_said_in_vietnamese() {
        let source = include_str!("rules.rs");
        let code = &source[..source.find("#[cfg(test)]").unwrap()];
        let table = code.find("pub const REASONS_VI").unwrap()..code.find("pub fn reason_vi").unwrap();
        let mut seen = 0;
        let mut at = 0;
        for line in code.lines() {
            let here = at;
            at += line.len() + 1;
            // Where a refusal is made (not where errors are matched, `Conflict(_)`).
            // A refusal's reason chosen by a `match` stands on its own line (`[Chair] => "…"`).
            let refusal = (line.contains("Conflict(") || line.contains("Forbidden(") || line.contains("] => \"")) && !line.contains("(_)");
            if table.contains(&here) || !(refusal || line.contains("=> \"the minutes")) {
                continue;
            }
            for (i, literal) in line.split('"').enumerate() {
                if i % 2 == 1 {
                    seen += 1;
                    let message = RuleError::Conflict("").to_string().replace("conflict: ", "") + literal;
                    assert!(
                        reason_vi(&message).is_some_and(|vi| REASONS_VI.iter().any(|(en, v)| *v == vi.as_ref() && *en == literal)),
                        "no Vietnamese for {literal:?}"
                    );
                }
            }
        }
        assert!(seen > 25, "only {seen} reasons found: the scan is broken");
        // As the server words them.
        assert_eq!(
            reason_vi(&RuleError::Forbidden("only participants vote").to_string()).as_deref(),
            Some("Chỉ thành phần cuộc họp mới biểu quyết.")
        );
        assert_eq!(reason_vi(&RuleError::Conflict("already voted").to_string()).as_deref(), Some("Đã biểu quyết rồi."));
        // A reason that holds another is said as itself.
        let removing = "a member a closed vote was counted among stays a member on record: mark them absent instead";
        assert!(reason_vi(&RuleError::Conflict(removing).to_string()).is_some_and(|vi| vi.ends_with("hãy ghi vắng mặt thay vì xóa.")));
    }

    #[test]
    fn every_invalid_input_is_said_in_vietnamese_with_its_details() {
        // Every `Invalid(…)` in the rules: a fixed reason, or a pattern.
        let source = include_str!("rules.rs");
        let code = &source[..source.find("#[cfg(test)]").unwrap()];
        let code = &code[code.find("pub fn reason_vi").unwrap()..];
        let mut seen = 0;
        for (at, _) in code.match_indices("Invalid(") {
            let after = &code[at..];
            let Some(open) = after.find('"') else { continue };
            let literal = &after[open + 1..open + 1 + after[open + 1..].find('"').unwrap()];
            seen += 1;
            // `{left}`, `{MAX_BATCH}`: a detail.
            let mut pattern = String::new();
            let mut inside = false;
            for c in literal.chars() {
                match c {
                    '{' => inside = true,
                    '}' => {
                        inside = false;
                        pattern.push_str("{}");
                    }
                    c if !inside => pattern.push(c),
                    _ => {}
                }
            }
            let known = if pattern.contains("{}") {
                PATTERNS_VI.iter().any(|(en, _)| *en == pattern)
            } else {
                REASONS_VI.iter().any(|(en, _)| *en == pattern)
            };
            assert!(known, "no Vietnamese for {pattern:?}");
        }
        assert!(seen > 15, "only {seen} reasons found: the scan is broken");
        // As the room words them, details and fields in Vietnamese.
        let said = |e: RuleError| reason_vi(&e.to_string()).map(|v| v.into_owned());
        assert_eq!(said(RuleError::Invalid("title must not be empty".into())).as_deref(), Some("Tiêu đề không được để trống."));
        assert_eq!(
            said(RuleError::Invalid("minutes is longer than 100000 characters".into())).as_deref(),
            Some("Nội dung biên bản dài quá 100000 ký tự.")
        );
        assert_eq!(
            reason_vi("line 3: unknown role \"Ủy viên\"").as_deref(),
            Some("Dòng 3: không nhận ra vai trò \"Ủy viên\" (hãy ghi Chủ tọa, Thư ký, Đại biểu hoặc Dự thính).")
        );
        assert_eq!(
            reason_vi("line 4: voting must be yes or no, not \"x\"").as_deref(),
            Some("Dòng 4: cột Biểu quyết phải ghi có hoặc không, không phải \"x\".")
        );
        assert_eq!(
            reason_vi("line 5: found record with 3 fields").as_deref(),
            Some("Dòng 5: tệp CSV có lỗi (found record with 3 fields).")
        );
        assert_eq!(reason_vi("title must be a poem"), None, "a message no pattern fits");
        assert_eq!(reason_vi("must not be empty"), None, "a detail left out");
    }

    #[test]
    fn an_item_with_minutes_written_on_it_stays_on_the_agenda() {
        let mut s = open(sample());
        let remove = Command::RemoveItem { item: ItemId(11) };
        assert_eq!(check(&s, &actor(&s, 2), &remove), Ok(()));
        std::sync::Arc::make_mut(&mut s.minutes).set_text(SectionKey::Item(ItemId(11)), "Đồng chí An báo cáo.");
        assert_eq!(check(&s, &actor(&s, 2), &remove).unwrap_err().code(), "conflict");
    }

    #[test]
    fn an_item_already_discussed_stays_on_the_agenda() {
        let mut s = open(sample());
        let remove = Command::RemoveItem { item: ItemId(11) };
        assert_eq!(check(&s, &actor(&s, 2), &remove), Ok(()));
        std::sync::Arc::make_mut(&mut s.agenda)[1].status = ItemStatus::Done;
        let refused = check(&s, &actor(&s, 2), &remove).unwrap_err();
        assert_eq!(refused.code(), "conflict");
        assert!(reason_vi(&refused.to_string()).is_some());
    }

    fn absent(s: &mut MeetingState, id: i64) {
        std::sync::Arc::make_mut(&mut s.participants).iter_mut().find(|p| p.id == ParticipantId(id)).unwrap().attendance =
            Attendance::Absent;
    }

    #[test]
    fn a_meeting_with_a_vote_open_is_not_closed() {
        let mut s = with_poll(false, false, PollStatus::Open);
        assert_eq!(check(&s, &actor(&s, 1), &Command::CloseMeeting).unwrap_err().code(), "conflict");
        std::sync::Arc::make_mut(&mut s.polls)[0].status = PollStatus::Closed;
        assert_eq!(check(&s, &actor(&s, 1), &Command::CloseMeeting), Ok(()));
    }

    #[test]
    fn a_voter_who_voted_and_left_does_not_count_against_those_still_present() {
        // The chair (1) voted on their tablet and left; delegate 3, present, has not voted.
        let mut s = with_poll(false, false, PollStatus::Open);
        std::sync::Arc::make_mut(&mut s.polls)[0].voters.push(ParticipantId(1));
        absent(&mut s, 1);
        let hands = |counts: Vec<u32>| Command::RecordHands { poll: PollId(1), counts };
        assert_eq!(check(&s, &actor(&s, 2), &hands(vec![1, 0, 0])), Ok(()), "delegate 3 raised a hand");
        assert_eq!(check(&s, &actor(&s, 2), &hands(vec![1, 1, 0])).unwrap_err().code(), "invalid", "only one is left to count");
        // Hands of nobody recorded: delegate 3 may still vote on the tablet.
        std::sync::Arc::make_mut(&mut s.polls)[0].hands = vec![0, 0, 0];
        assert_eq!(check(&s, &actor(&s, 3), &vote(0)), Ok(()));
        std::sync::Arc::make_mut(&mut s.polls)[0].hands = vec![1, 0, 0];
        assert_eq!(check(&s, &actor(&s, 3), &vote(0)).unwrap_err().code(), "conflict", "counted by hand already");
    }

    #[test]
    fn the_secretary_does_not_overwrite_a_ballot_cast_on_the_voters_tablet() {
        let mut s = with_poll(false, true, PollStatus::Open);
        let poll = &mut std::sync::Arc::make_mut(&mut s.polls)[0];
        poll.voters.push(ParticipantId(3));
        poll.ballots.push(NamedBallot { voter: ParticipantId(3), choices: vec![0], by_secretary: false });
        let enter = Command::CastBallotFor { poll: PollId(1), voter: ParticipantId(3), choices: vec![1] };
        assert_eq!(check(&s, &actor(&s, 2), &enter).unwrap_err().code(), "conflict");
        assert_eq!(check(&s, &actor(&s, 3), &vote(1)), Ok(()), "the voter changes it");
        // One the secretary entered, the secretary may correct.
        std::sync::Arc::make_mut(&mut s.polls)[0].ballots[0].by_secretary = true;
        assert_eq!(check(&s, &actor(&s, 2), &enter), Ok(()));
    }

    #[test]
    fn a_votes_base_and_the_chair_stay_while_it_matters() {
        let s = with_poll(false, false, PollStatus::Open);
        let update = |id: i64, role: Role, member: bool, voting: bool| {
            let p = s.participant(ParticipantId(id)).unwrap();
            Command::UpdateParticipant {
                participant: p.id, name: p.name.clone(), position: "Phó Chủ tịch".into(), role, member, voting
            }
        };
        let secretary = actor(&s, 2);
        assert_eq!(
            check(&s, &secretary, &update(3, Role::Delegate, true, false)).unwrap_err().code(),
            "conflict",
            "voting while a vote is open"
        );
        assert_eq!(
            check(&s, &secretary, &update(3, Role::Delegate, false, false)).unwrap_err().code(),
            "conflict",
            "member while a vote is open"
        );
        assert_eq!(check(&s, &secretary, &update(3, Role::Delegate, true, true)), Ok(()), "the position may change");
        let quorum = Command::SetQuorumRule { share: Share::TWO_THIRDS };
        assert_eq!(check(&s, &secretary, &quorum).unwrap_err().code(), "conflict");
        // The only chair of an open meeting stays one, and stays.
        assert_eq!(check(&s, &secretary, &update(1, Role::Delegate, true, true)).unwrap_err().code(), "conflict");
        let remove = Command::RemoveParticipant { participant: ParticipantId(1) };
        assert_eq!(check(&s, &secretary, &remove).unwrap_err().code(), "conflict");
        assert_eq!(check(&s, &secretary, &update(3, Role::Chair, true, true)), Ok(()), "a second chair may be named");
        // No vote open: all of it may change; being prepared, the chair too.
        let mut s = open(sample());
        assert_eq!(check(&s, &secretary, &Command::SetQuorumRule { share: Share::TWO_THIRDS }), Ok(()));
        s.meeting.status = MeetingStatus::Draft;
        let p = s.participant(ParticipantId(1)).unwrap();
        let demote = Command::UpdateParticipant {
            participant: p.id,
            name: p.name.clone(),
            position: String::new(),
            role: Role::Delegate,
            member: false,
            voting: false,
        };
        assert_eq!(check(&s, &secretary, &demote), Ok(()));
    }

    #[test]
    fn nobody_joins_or_leaves_the_base_of_an_open_vote() {
        let s = with_poll(false, false, PollStatus::Open);
        let new = |member: bool| Command::AddParticipants {
            participants: vec![NewParticipant {
                name: "Đỗ Văn Giang".into(),
                position: String::new(),
                role: Role::Delegate,
                member,
                voting: member,
            }],
        };
        assert_eq!(check(&s, &actor(&s, 2), &new(true)).unwrap_err().code(), "conflict");
        assert_eq!(check(&s, &actor(&s, 2), &new(false)), Ok(()), "a guest may be added");
        let remove = |id: i64| Command::RemoveParticipant { participant: ParticipantId(id) };
        assert_eq!(check(&s, &actor(&s, 2), &remove(3)).unwrap_err().code(), "conflict", "a voter");
        assert_eq!(check(&s, &actor(&s, 2), &remove(5)), Ok(()), "an observer");
    }

    #[test]
    fn a_show_of_hands_stands_for_its_largest_count_at_least() {
        let mut s = with_poll(false, false, PollStatus::Open);
        let p = &mut std::sync::Arc::make_mut(&mut s.polls)[0];
        p.kind = PollKind::Choice;
        p.options = vec!["An".into(), "Bình".into()];
        p.max_choices = 2;
        p.hands = vec![1, 0];
        assert_eq!(p.hand_voters(), 1);
        p.hands = vec![2, 2];
        assert_eq!(p.hand_voters(), 2, "two people, each raising a hand for both");
        p.hands = vec![3, 1];
        assert_eq!(p.hand_voters(), 3, "at least the three who raised a hand for An");
    }

    #[test]
    fn only_those_present_ask_to_speak_or_are_given_the_floor() {
        let mut s = open(sample());
        s.meeting.current_item = Some(ItemId(10));
        absent(&mut s, 3);
        assert_eq!(check(&s, &actor(&s, 3), &Command::RequestToSpeak).unwrap_err().code(), "conflict");
        let give = Command::GiveFloor { participant: Some(ParticipantId(3)), from: None };
        assert_eq!(check(&s, &actor(&s, 1), &give).unwrap_err().code(), "conflict");
        // "Next" with only someone who has left on the list: nobody to call.
        s.speakers.queue = vec![ParticipantId(3)];
        assert_eq!(check(&s, &actor(&s, 1), &Command::GiveFloor { participant: None, from: None }).unwrap_err().code(), "conflict");
        s.speakers.queue.push(ParticipantId(4));
        assert_eq!(check(&s, &actor(&s, 1), &Command::GiveFloor { participant: None, from: None }), Ok(()));
        // "Next speaker" as the chair saw it: nobody speaking (0), then taken.
        let next = Command::GiveFloor { participant: None, from: Some(ParticipantId(0)) };
        assert_eq!(check(&s, &actor(&s, 1), &next), Ok(()));
        s.speakers.floor = Some(crate::decision::Floor { participant: ParticipantId(3), since: s.meeting.starts_at, limit_secs: 0 });
        assert_eq!(check(&s, &actor(&s, 1), &next).unwrap_err().code(), "conflict", "pressed twice, taken twice");
    }

    #[test]
    fn the_speakers_list_needs_a_current_item_and_no_duplicates() {
        let mut s = open(sample());
        assert_eq!(check(&s, &actor(&s, 3), &Command::RequestToSpeak).unwrap_err().code(), "conflict");
        s.meeting.current_item = Some(ItemId(10));
        assert_eq!(check(&s, &actor(&s, 3), &Command::RequestToSpeak), Ok(()));
        s.speakers.queue.push(ParticipantId(3));
        assert_eq!(check(&s, &actor(&s, 3), &Command::RequestToSpeak).unwrap_err().code(), "conflict");
        assert_eq!(check(&s, &actor(&s, 3), &Command::GiveFloor { participant: None, from: None }).unwrap_err().code(), "forbidden");
        assert_eq!(check(&s, &actor(&s, 1), &Command::GiveFloor { participant: None, from: None }), Ok(()));
        assert_eq!(check(&s, &actor(&s, 1), &Command::EndSpeech).unwrap_err().code(), "conflict");
        // Only the chair takes someone else's request off the list.
        let dismiss = Command::DismissRequest { participant: ParticipantId(3) };
        assert_eq!(check(&s, &actor(&s, 1), &dismiss), Ok(()));
        assert_eq!(check(&s, &actor(&s, 4), &dismiss).unwrap_err().code(), "forbidden");
        let nobody = Command::DismissRequest { participant: ParticipantId(4) };
        assert_eq!(check(&s, &actor(&s, 1), &nobody).unwrap_err().code(), "not_found");
    }
}
