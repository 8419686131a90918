//! The demo meeting behind `--demo`: a ward People's Committee's monthly
//! meeting in Vietnamese, with five agenda items, real multi-page PDFs
//! (made here with [`crate::pdf`]) and participants of every role.
//!
//! It is created once per data directory through the same command path as
//! everything else; each start gives its participants fresh PINs, printed
//! on stdout, since PINs are only kept hashed.

use crate::AppState;
use crate::meeting::{NewDocument, NewMeeting, Op};
use crate::pdf::{Align, Layout, mm};
use gavel_shared::model::*;
use gavel_shared::protocol::{Command, CommandResult, NewParticipant};
use time::OffsetDateTime;

/// One demo participant and the PIN given at this start.
#[derive(Debug, Clone)]
pub struct DemoPin {
    pub meeting: MeetingId,
    pub participant: ParticipantId,
    pub role: Role,
    pub name: String,
    pub pin: String,
}

impl DemoPin {
    /// The stdout line: `pin meeting=ID participant=ID role=ROLE name="…" pin=DIGITS`.
    pub fn line(&self) -> String {
        let name = self.name.replace('\\', "\\\\").replace('"', "\\\"");
        format!(
            "pin meeting={} participant={} role={} name=\"{}\" pin={}",
            self.meeting,
            self.participant,
            self.role.as_str(),
            name,
            self.pin
        )
    }
}

const ORGANISATION: &str = "Ủy ban nhân dân phường Hòa Bình";
/// The minutes' place name: for a ward's body, the ward (Decree 30).
const LOCALITY: &str = "Hòa Bình";

struct DemoDoc {
    item: usize,
    title: &'static str,
    file: &'static str,
    confidentiality: Confidentiality,
    /// Indexes into PEOPLE of the named readers.
    readers: &'static [usize],
    sections: &'static [(&'static str, &'static str)],
    /// How many times the body is repeated, to make a document of several pages.
    pages: usize,
}

const PEOPLE: &[(&str, &str, Role, bool, bool)] = &[
    ("Nguyễn Văn Hùng", "Chủ tịch UBND phường", Role::Chair, true, true),
    ("Trần Thị Mai", "Chánh Văn phòng HĐND - UBND phường", Role::Secretary, false, false),
    ("Lê Minh Tuấn", "Phó Chủ tịch UBND phường", Role::Delegate, true, true),
    ("Phạm Thị Lan", "Phó Chủ tịch UBND phường", Role::Delegate, true, true),
    ("Hoàng Đức Anh", "Trưởng Công an phường", Role::Delegate, true, true),
    ("Vũ Thị Hồng", "Công chức Tài chính - Kế toán", Role::Delegate, true, true),
    ("Đặng Quốc Bảo", "Chủ tịch Ủy ban MTTQ Việt Nam phường", Role::Observer, false, false),
];

const AGENDA: &[(&str, &str, &str)] = &[
    (
        "Khai mạc, thông qua chương trình phiên họp",
        "Đồng chí Nguyễn Văn Hùng, Chủ tịch UBND phường",
        "Tuyên bố lý do, giới thiệu đại biểu, thông qua chương trình.",
    ),
    (
        "Báo cáo tình hình kinh tế - xã hội tháng 11 và nhiệm vụ trọng tâm tháng 12 năm 2026",
        "Đồng chí Lê Minh Tuấn, Phó Chủ tịch UBND phường",
        "Kết quả thu ngân sách, an sinh xã hội, cải cách hành chính; các nhiệm vụ còn tồn đọng.",
    ),
    (
        "Dự toán thu, chi ngân sách phường năm 2027",
        "Đồng chí Vũ Thị Hồng, công chức Tài chính - Kế toán",
        "Trình dự thảo dự toán để các thành viên cho ý kiến trước khi trình HĐND.",
    ),
    (
        "Kế hoạch chỉnh trang đô thị và lập lại trật tự vỉa hè quý I năm 2027",
        "Đồng chí Phạm Thị Lan, Phó Chủ tịch UBND phường",
        "Phân công các tổ dân phố, lộ trình và phương án xử lý vi phạm.",
    ),
    ("Kết luận và bế mạc phiên họp", "Đồng chí Nguyễn Văn Hùng, Chủ tịch UBND phường", "Chủ tọa kết luận, giao nhiệm vụ."),
];

const DOCS: &[DemoDoc] = &[
    DemoDoc {
        item: 0,
        title: "Chương trình phiên họp thường kỳ tháng 11",
        file: "chuong-trinh-phien-hop.pdf",
        confidentiality: Confidentiality::Public,
        readers: &[],
        sections: &[
            (
                "Thời gian, địa điểm",
                "Phiên họp bắt đầu lúc 8 giờ 00, tại phòng họp tầng 2, trụ sở Ủy ban nhân dân phường. Đại biểu có mặt trước 15 phút để ổn định chỗ ngồi và nhận máy tính bảng.",
            ),
            (
                "Nội dung",
                "Một là, báo cáo tình hình kinh tế - xã hội tháng 11. Hai là, dự toán ngân sách phường năm 2027. Ba là, kế hoạch chỉnh trang đô thị quý I năm 2027. Bốn là, kết luận của Chủ tọa.",
            ),
        ],
        pages: 1,
    },
    DemoDoc {
        item: 1,
        title: "Báo cáo tình hình kinh tế - xã hội tháng 11 năm 2026",
        file: "bao-cao-kt-xh-thang-11.pdf",
        confidentiality: Confidentiality::Public,
        readers: &[],
        sections: &[
            (
                "Về kinh tế và thu ngân sách",
                "Tổng thu ngân sách trên địa bàn ước đạt 92,4% dự toán năm, tăng 8,1% so với cùng kỳ. Các hộ kinh doanh cá thể được hướng dẫn kê khai thuế điện tử; số hộ nộp thuế qua ứng dụng tăng mạnh.",
            ),
            (
                "Về văn hóa - xã hội",
                "Chi trả đầy đủ, kịp thời trợ cấp cho người có công và đối tượng bảo trợ xã hội. Tổ chức thăm hỏi, tặng quà các gia đình có hoàn cảnh khó khăn; vận động quỹ \"Vì người nghèo\" đạt kế hoạch.",
            ),
            (
                "Về cải cách hành chính",
                "Bộ phận một cửa tiếp nhận 1.248 hồ sơ, giải quyết đúng hạn 99,2%. Tỷ lệ hồ sơ trực tuyến toàn trình đạt 76%. Tiếp tục số hóa hồ sơ, kết quả giải quyết thủ tục hành chính.",
            ),
            (
                "Về quốc phòng - an ninh",
                "Tình hình an ninh chính trị, trật tự an toàn xã hội được giữ vững. Hoàn thành công tác tuyển chọn, gọi công dân nhập ngũ đợt bổ sung.",
            ),
            (
                "Nhiệm vụ trọng tâm tháng 12",
                "Tập trung thu ngân sách những tháng cuối năm; chuẩn bị tổng kết năm 2026; bảo đảm trật tự đô thị, an toàn phòng cháy, chữa cháy dịp cuối năm và Tết Nguyên đán.",
            ),
        ],
        pages: 3,
    },
    DemoDoc {
        item: 2,
        title: "Dự thảo dự toán thu, chi ngân sách phường năm 2027",
        file: "du-toan-ngan-sach-2027.pdf",
        confidentiality: Confidentiality::Members,
        readers: &[],
        sections: &[
            (
                "Căn cứ xây dựng dự toán",
                "Căn cứ Luật Ngân sách nhà nước và các văn bản hướng dẫn; căn cứ tình hình thực hiện dự toán năm 2026 và nhiệm vụ phát triển kinh tế - xã hội năm 2027 của phường.",
            ),
            (
                "Dự toán thu",
                "Tổng thu ngân sách phường được hưởng theo phân cấp dự kiến 18.650 triệu đồng, trong đó thu bổ sung cân đối từ ngân sách cấp trên 11.200 triệu đồng.",
            ),
            (
                "Dự toán chi",
                "Chi thường xuyên 16.900 triệu đồng; dự phòng ngân sách 2% tổng chi cân đối; ưu tiên chi cho an sinh xã hội, chuyển đổi số và chỉnh trang đô thị.",
            ),
        ],
        pages: 2,
    },
    DemoDoc {
        item: 3,
        title: "Kế hoạch chỉnh trang đô thị, lập lại trật tự vỉa hè quý I năm 2027",
        file: "ke-hoach-chinh-trang-do-thi.pdf",
        confidentiality: Confidentiality::Public,
        readers: &[],
        sections: &[
            (
                "Mục đích, yêu cầu",
                "Lập lại trật tự lòng đường, vỉa hè trên các tuyến phố chính; bảo đảm mỹ quan đô thị và an toàn giao thông; huy động sự tham gia của các tổ dân phố.",
            ),
            (
                "Lộ trình thực hiện",
                "Tháng 1: tuyên truyền, vận động. Tháng 2: ra quân kiểm tra, nhắc nhở. Tháng 3: xử lý dứt điểm các trường hợp vi phạm kéo dài.",
            ),
        ],
        pages: 2,
    },
    DemoDoc {
        item: 3,
        title: "Phương án xử lý các trường hợp vi phạm kéo dài (tài liệu hạn chế)",
        file: "phuong-an-xu-ly-vi-pham.pdf",
        confidentiality: Confidentiality::Named,
        readers: &[0, 2, 4],
        sections: &[
            ("Phạm vi", "Tài liệu chỉ gửi các thành viên được phân công; không sao chụp, không chuyển tiếp."),
            (
                "Phương án",
                "Lập biên bản, ấn định thời hạn tự khắc phục; quá thời hạn thì tổ chức cưỡng chế theo quy định, có sự phối hợp của lực lượng công an phường.",
            ),
        ],
        pages: 1,
    },
];

/// The demo's participants (the same people sit in both demo meetings).
fn demo_people() -> Vec<NewParticipant> {
    PEOPLE
        .iter()
        .map(|(name, position, role, member, voting)| NewParticipant {
            name: name.to_string(),
            position: position.to_string(),
            role: *role,
            member: *member,
            voting: *voting,
        })
        .collect()
}

/// The text of a demo document, as a PDF.
fn render(doc: &DemoDoc) -> anyhow::Result<Vec<u8>> {
    let mut l = Layout::new();
    l.footer(doc.title);
    l.paragraph("ỦY BAN NHÂN DÂN PHƯỜNG HÒA BÌNH", 12.0, true, Align::Left, 0.0);
    l.space(-12.0 * 1.35);
    l.paragraph("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", 12.0, true, Align::Right, 0.0);
    l.paragraph("Độc lập - Tự do - Hạnh phúc", 13.0, true, Align::Right, 0.0);
    l.space(10.0);
    l.paragraph("DỰ THẢO - TÀI LIỆU PHIÊN HỌP", 11.0, false, Align::Left, 0.0);
    l.space(16.0);
    l.paragraph(&doc.title.to_uppercase(), 14.0, true, Align::Center, 0.0);
    l.space(12.0);
    for round in 0..doc.pages {
        for (n, (heading, body)) in doc.sections.iter().enumerate() {
            let number = round * doc.sections.len() + n + 1;
            l.paragraph(&format!("{number}. {heading}"), 13.0, true, Align::Left, 0.0);
            l.paragraph(body, 13.0, false, Align::Left, mm(10.0));
            l.space(6.0);
        }
        if round + 1 < doc.pages {
            l.page_break();
        }
    }
    l.space(20.0);
    l.paragraph("TM. ỦY BAN NHÂN DÂN", 13.0, true, Align::Right, 0.0);
    l.paragraph("CHỦ TỊCH", 13.0, true, Align::Right, 0.0);
    l.render(doc.title, "vi")
}

/// Makes sure the demo meetings exist (one in session, one finished with
/// signed minutes) and gives their participants new PINs.
pub async fn ensure(app: &AppState) -> anyhow::Result<Vec<DemoPin>> {
    let existing: Vec<i64> = sqlx::query_scalar("SELECT id FROM meetings WHERE is_demo ORDER BY id").fetch_all(&app.db).await?;
    let live = match existing.first() {
        Some(id) => app.meetings.get(MeetingId(*id)).await?,
        None => create(app).await?,
    };
    let finished = match existing.get(1) {
        Some(id) => app.meetings.get(MeetingId(*id)).await?,
        None => create_finished(app).await?,
    };
    let mut pins = new_pins(&live).await?;
    pins.extend(new_pins(&finished).await?);
    Ok(pins)
}

/// Gives a demo meeting's participants new PINs.
async fn new_pins(handle: &crate::meeting::MeetingHandle) -> anyhow::Result<Vec<DemoPin>> {
    let state = handle.state().await;
    let ids: Vec<ParticipantId> = state.participants_sorted().iter().map(|p| p.id).collect();
    let key = format!("demo-pins-{}", hex::encode(rand::random::<[u8; 8]>()));
    let outcome = handle.execute_unpaced(Actor::System, &key, Op::Command(Command::ResetPins { participants: ids })).await?;
    let CommandResult::Pins { pins } = outcome.result else { anyhow::bail!("unexpected result {:?}", outcome.result) };
    Ok(pins
        .into_iter()
        .filter_map(|p| {
            let who = state.participant(p.participant)?;
            Some(DemoPin { meeting: state.meeting.id, participant: p.participant, role: who.role, name: who.name.clone(), pin: p.pin? })
        })
        .collect())
}

/// Last month's meeting, finished: attendance, opinions, a named and a
/// secret vote, minutes approved and signed.
async fn create_finished(app: &AppState) -> anyhow::Result<std::sync::Arc<crate::meeting::MeetingHandle>> {
    use gavel_shared::decision::*;
    use gavel_shared::minutes::SectionKey;
    let starts_at = (OffsetDateTime::now_utc() - time::Duration::days(30))
        .to_offset(gavel_shared::clock::ROOM_OFFSET)
        .replace_time(time::macros::time!(8:00));
    let header = NewMeeting {
        title: "Phiên họp thường kỳ tháng 10 năm 2026".into(),
        organisation: ORGANISATION.into(),
        place: "Phòng họp tầng 2, trụ sở UBND phường".into(),
        locality: LOCALITY.into(),
        starts_at,
        demo: true,
    };
    let h = app.meetings.create(Actor::System, header).await?;
    let sys = |key: &str, cmd: Command| {
        let h = h.clone();
        let key = key.to_string();
        async move { h.execute_unpaced(Actor::System, &key, Op::Command(cmd)).await }
    };
    sys("f-people", Command::AddParticipants { participants: demo_people() }).await?;
    let items = [
        ("Khai mạc, thông qua chương trình", "Đồng chí Nguyễn Văn Hùng, Chủ tịch UBND phường"),
        ("Báo cáo kết quả thu ngân sách 9 tháng năm 2026", "Đồng chí Vũ Thị Hồng, công chức Tài chính - Kế toán"),
        ("Kiện toàn Tổ công tác chuyển đổi số cộng đồng", "Đồng chí Lê Minh Tuấn, Phó Chủ tịch UBND phường"),
    ];
    let mut ids = vec![];
    for (n, (title, presenter)) in items.iter().enumerate() {
        let o = sys(
            &format!("f-item-{n}"),
            Command::AddItem { title: title.to_string(), presenter: presenter.to_string(), summary: String::new(), position: None },
        )
        .await?;
        let CommandResult::Created { id } = o.result else { anyhow::bail!("no item id") };
        ids.push(ItemId(id));
    }
    let state = h.state().await;
    let who = |role: Role, n: usize| {
        let p = state.participants.iter().filter(|p| p.role == role).nth(n).expect("demo participant");
        Actor::Participant { meeting: h.id, participant: p.id, role }
    };
    let (chair, secretary) = (who(Role::Chair, 0), who(Role::Secretary, 0));
    let delegates: Vec<Actor> = (0..4).map(|n| who(Role::Delegate, n)).collect();
    let run = |actor: Actor, key: String, op: Op| {
        let h = h.clone();
        async move { h.execute_unpaced(actor, &key, op).await }
    };
    // Present once the meeting is open, as the room counts them.
    run(chair, "f-open".into(), Op::Command(Command::OpenMeeting)).await?;
    for (n, a) in [chair, secretary, delegates[0], delegates[1], delegates[2]].into_iter().enumerate() {
        run(a, format!("f-present-{n}"), Op::MarkPresent).await?;
    }
    let excused = delegates[3].participant().expect("a participant");
    run(
        secretary,
        "f-excused".into(),
        Op::Command(Command::SetAttendance {
            participant: excused,
            attendance: Attendance::Excused,
            reason: "Đi công tác tại quận".into(),
        }),
    )
    .await?;
    run(chair, "f-next-1".into(), Op::Command(Command::NextItem { from: None })).await?;
    run(chair, "f-next-2".into(), Op::Command(Command::NextItem { from: None })).await?;
    run(
        delegates[0],
        "f-op-1".into(),
        Op::Command(Command::AddOpinion {
            item: ids[1],
            document: None,
            stance: Stance::AgreeWithComments,
            text: "Đề nghị làm rõ nguyên nhân hụt thu phí, lệ phí.".into(),
        }),
    )
    .await?;
    run(
        delegates[2],
        "f-op-2".into(),
        Op::Command(Command::AddOpinion { item: ids[1], document: None, stance: Stance::Agree, text: String::new() }),
    )
    .await?;
    let poll = |q: &str, secret: bool, item: ItemId| Command::CreatePoll {
        item,
        question: q.into(),
        kind: PollKind::YesNo,
        options: vec![],
        max_choices: 1,
        secret,
        allow_change: false,
        rule: MajorityRule { basis: Basis::AllMembers, share: Share::MORE_THAN_HALF },
    };
    let votes = [
        (poll("Thông qua báo cáo thu ngân sách 9 tháng năm 2026", false, ids[1]), [0u8, 0, 0, 1]),
        (poll("Thống nhất danh sách Tổ công tác chuyển đổi số cộng đồng", true, ids[2]), [0u8, 0, 1, 0]),
    ];
    for (n, (create, choices)) in votes.into_iter().enumerate() {
        if n == 1 {
            run(chair, "f-next-3".into(), Op::Command(Command::NextItem { from: None })).await?;
        }
        let o = run(chair, format!("f-poll-{n}"), Op::Command(create)).await?;
        let CommandResult::Created { id } = o.result else { anyhow::bail!("no poll id") };
        let poll = PollId(id);
        run(chair, format!("f-poll-open-{n}"), Op::Command(Command::OpenPoll { poll })).await?;
        for (k, voter) in [chair, delegates[0], delegates[1], delegates[2]].into_iter().enumerate() {
            run(voter, format!("f-vote-{n}-{k}"), Op::Command(Command::CastBallot { poll, choices: vec![choices[k]] })).await?;
        }
        run(chair, format!("f-poll-close-{n}"), Op::Command(Command::ClosePoll { poll })).await?;
    }
    let texts = [
        (
            SectionKey::Opening,
            "Đồng chí **Nguyễn Văn Hùng**, Chủ tịch UBND phường, tuyên bố lý do, giới thiệu thành phần và chủ trì phiên họp.",
        ),
        (
            SectionKey::Item(ids[1]),
            "Đồng chí Vũ Thị Hồng trình bày báo cáo. Thu ngân sách 9 tháng đạt **78,6%** dự toán năm.\n\n- Thu thuế ngoài quốc doanh đạt 81%.\n- Thu phí, lệ phí đạt 64%, thấp hơn cùng kỳ.",
        ),
        (
            SectionKey::Item(ids[2]),
            "Thống nhất kiện toàn Tổ công tác chuyển đổi số cộng đồng gồm 12 thành viên, do đồng chí Lê Minh Tuấn làm Tổ trưởng.",
        ),
        (
            SectionKey::Conclusion,
            "Chủ tọa kết luận: giao bộ phận Tài chính - Kế toán phối hợp Chi cục Thuế đôn đốc thu; giao Văn phòng ban hành quyết định kiện toàn Tổ công tác trước ngày 31/10/2026.",
        ),
        (SectionKey::Recipients, "- Thường trực Đảng ủy phường;\n- Thành viên UBND phường;\n- Lưu: VT, hồ sơ."),
    ];
    for (n, (section, text)) in texts.into_iter().enumerate() {
        run(secretary, format!("f-min-{n}"), Op::Command(Command::EditMinutes { section, text: text.into() })).await?;
    }
    run(secretary, "f-min-number".into(), Op::Command(Command::SetMinutesNumber { number: "42/BB-UBND".into() })).await?;
    run(chair, "f-close".into(), Op::Command(Command::CloseMeeting)).await?;
    run(chair, "f-approve".into(), Op::Command(Command::ApproveMinutes)).await?;
    run(chair, "f-sign".into(), Op::Command(Command::SignMinutes)).await?;
    tracing::info!(meeting = %h.id, "finished demo meeting created");
    Ok(h)
}

async fn create(app: &AppState) -> anyhow::Result<std::sync::Arc<crate::meeting::MeetingHandle>> {
    let today = OffsetDateTime::now_utc().to_offset(gavel_shared::clock::ROOM_OFFSET);
    let starts_at = today.replace_time(time::macros::time!(8:00));
    let header = NewMeeting {
        title: "Phiên họp thường kỳ tháng 11 năm 2026".into(),
        organisation: ORGANISATION.into(),
        place: "Phòng họp tầng 2, trụ sở UBND phường".into(),
        locality: LOCALITY.into(),
        starts_at,
        demo: true,
    };
    let handle = app.meetings.create(Actor::System, header).await?;
    let run = |key: &'static str, cmd: Command| {
        let handle = handle.clone();
        async move { handle.execute_unpaced(Actor::System, key, Op::Command(cmd)).await }
    };
    run("demo-participants", Command::AddParticipants { participants: demo_people() }).await?;
    let mut items = Vec::new();
    for (i, (title, presenter, summary)) in AGENDA.iter().enumerate() {
        let cmd =
            Command::AddItem { title: title.to_string(), presenter: presenter.to_string(), summary: summary.to_string(), position: None };
        let outcome = handle.execute_unpaced(Actor::System, &format!("demo-item-{i}"), Op::Command(cmd)).await?;
        let CommandResult::Created { id } = outcome.result else { anyhow::bail!("no item id") };
        items.push(ItemId(id));
    }
    let state = handle.state().await;
    let people: Vec<ParticipantId> = state.participants.iter().map(|p| p.id).collect();
    for (i, doc) in DOCS.iter().enumerate() {
        let bytes = tokio::task::spawn_blocking(move || render(&DOCS[i])).await??;
        let sha256 = app.documents.put(&bytes).await?;
        let new = NewDocument {
            item: items[doc.item],
            title: doc.title.to_string(),
            file_name: doc.file.to_string(),
            size: bytes.len() as u64,
            sha256,
            confidentiality: doc.confidentiality,
            readers: doc.readers.iter().map(|r| people[*r]).collect(),
        };
        handle.execute_unpaced(Actor::System, &format!("demo-doc-{i}"), Op::AttachDocument(new)).await?;
    }
    // The chair's own commands, as the demo starts in session on item 1.
    let chair = state.participants.iter().find(|p| p.role == Role::Chair).expect("the demo has a chair");
    let as_chair = Actor::Participant { meeting: handle.id, participant: chair.id, role: Role::Chair };
    handle.execute_unpaced(as_chair, "demo-open", Op::Command(Command::OpenMeeting)).await?;
    handle.execute_unpaced(as_chair, "demo-first-item", Op::Command(Command::NextItem { from: None })).await?;
    tracing::info!(meeting = %handle.id, "demo meeting created");
    Ok(handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_lines_quote_names() {
        let p = DemoPin {
            meeting: MeetingId(1),
            participant: ParticipantId(2),
            role: Role::Chair,
            name: "Nguyễn \"Văn\" Hùng".into(),
            pin: "012345".into(),
        };
        assert_eq!(p.line(), r#"pin meeting=1 participant=2 role=chair name="Nguyễn \"Văn\" Hùng" pin=012345"#);
    }

    #[test]
    fn demo_documents_render_with_several_pages() {
        let pdf = render(&DOCS[1]).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(crate::documents::looks_like_pdf(&pdf[..64], &pdf[pdf.len() - 64..]));
    }
}
