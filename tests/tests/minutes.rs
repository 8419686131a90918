//! Minutes: written during the meeting, approved, signed, exported (DOCX,
//! PDF, CSV, JSON) and verified with no server running.

use anyhow::Context;
use gavel_shared::decision::*;
use gavel_shared::minutes::{MinutesStatus, SectionKey};
use gavel_shared::model::*;
use gavel_shared::protocol::Command;
use gavel_tests::*;
use serde_json::json;
use std::process::Command as Process;

/// A scripted meeting: attendance, two items, opinions, a named and a
/// secret poll, minutes text; closed. Returns the polls.
async fn scripted(s: &Assembly) -> anyhow::Result<(Http, Http, PollId, PollId)> {
    let chair = s.sign_in(&s.chair).await?;
    let secretary = s.sign_in(&s.secretary).await?;
    let voters: Vec<Http> = s.sign_in_each(s.voters.iter().take(3)).await?;
    // Marked present by mistake, then corrected: excused in the minutes, not one who left.
    let here = Command::SetAttendance { participant: s.voters[3].0, attendance: Attendance::Present, reason: String::new() };
    assert_eq!(secretary.command(s.meeting, "mistake", &here).await?.status, 200);
    secretary
        .command(
            s.meeting,
            "exc",
            &Command::SetAttendance { participant: s.voters[3].0, attendance: Attendance::Excused, reason: "Đi học tập trung".into() },
        )
        .await?;
    let item2 = s
        .admin
        .command(
            s.meeting,
            "item2",
            &Command::AddItem {
                title: "Kế hoạch chỉnh trang đô thị".into(),
                presenter: "Phó Chủ tịch Phạm Thị Lan".into(),
                summary: String::new(),
                position: None,
            },
        )
        .await?;
    let item2 = ItemId(item2.body["result"]["id"].as_i64().unwrap());
    voters[0]
        .command(
            s.meeting,
            "op1",
            &Command::AddOpinion {
                item: s.item,
                document: None,
                stance: Stance::AgreeWithComments,
                text: "Đề nghị bổ sung số liệu thu ngân sách quý IV.".into(),
            },
        )
        .await?;
    // Two speak on the first item: one to the end, one cut short by the move to the next.
    for (n, v) in voters[1..3].iter().enumerate() {
        v.command(s.meeting, &format!("ask{n}"), &Command::RequestToSpeak).await?;
    }
    for (n, c) in
        [Command::GiveFloor { participant: None, from: None }, Command::EndSpeech, Command::GiveFloor { participant: None, from: None }]
            .iter()
            .enumerate()
    {
        let a = chair.command(s.meeting, &format!("floor{n}"), c).await?;
        assert_eq!(a.status, 200, "{a:?}");
    }
    let mk = |secret: bool, q: &str| Command::CreatePoll {
        item: s.item,
        question: q.into(),
        kind: PollKind::YesNo,
        options: vec![],
        max_choices: 1,
        secret,
        allow_change: false,
        rule: MajorityRule { basis: Basis::MembersPresent, share: Share::MORE_THAN_HALF },
    };
    let named = PollId(
        chair.command(s.meeting, "p1", &mk(false, "Thông qua dự toán ngân sách năm 2027")).await?.body["result"]["id"].as_i64().unwrap(),
    );
    let secret = PollId(
        chair.command(s.meeting, "p2", &mk(true, "Tín nhiệm Trưởng ban\nQuản lý đô thị")).await?.body["result"]["id"].as_i64().unwrap(),
    );
    for (poll, choices) in [(named, [0u8, 0, 1]), (secret, [0u8, 1, 1])] {
        chair.command(s.meeting, &format!("open-{poll}"), &Command::OpenPoll { poll }).await?;
        for (i, v) in voters.iter().enumerate() {
            let a = v.command(s.meeting, &format!("vote-{poll}-{i}"), &Command::CastBallot { poll, choices: vec![choices[i]] }).await?;
            assert_eq!(a.status, 200, "{a:?}");
        }
        chair.command(s.meeting, &format!("chair-vote-{poll}"), &Command::CastBallot { poll, choices: vec![0] }).await?;
        chair.command(s.meeting, &format!("close-{poll}"), &Command::ClosePoll { poll }).await?;
    }
    // One who voted leaves before the end: present in the minutes, with the time they left.
    let left = Command::SetAttendance { participant: s.voters[2].0, attendance: Attendance::Absent, reason: String::new() };
    assert_eq!(secretary.command(s.meeting, "left", &left).await?.status, 200);
    chair.command(s.meeting, "next", &Command::NextItem { from: None }).await?;
    let texts = [
        (SectionKey::Opening, "Đồng chí **Chủ tịch** tuyên bố lý do, giới thiệu thành phần."),
        (
            SectionKey::Item(s.item),
            "Các đại biểu thảo luận:\n\n- Thu ngân sách đạt **92,4%** dự toán.\n- Cần đẩy nhanh giải ngân vốn đầu tư công.",
        ),
        (SectionKey::Item(item2), "Thống nhất lộ trình ba tháng, giao Công an phường phối hợp."),
        (SectionKey::Conclusion, "Chủ tọa kết luận, giao Văn phòng hoàn thiện hồ sơ."),
        (SectionKey::Recipients, "- Thường trực HĐND phường;\n- Lưu: VT, hồ sơ."),
    ];
    for (n, (section, text)) in texts.iter().enumerate() {
        let a = secretary.command(s.meeting, &format!("m{n}"), &Command::EditMinutes { section: *section, text: text.to_string() }).await?;
        assert_eq!(a.status, 200, "{a:?}");
    }
    secretary.command(s.meeting, "num", &Command::SetMinutesNumber { number: "15/BB-UBND".into() }).await?;
    // The organisation under its governing body, on two lines (Decree 30);
    // a third line is refused.
    let m = secretary.state(s.meeting).await?.meeting;
    let header = |organisation: &str| Command::UpdateMeeting {
        title: m.title.clone(),
        organisation: organisation.into(),
        place: m.place.clone(),
        locality: m.locality.clone(),
        starts_at: m.starts_at,
    };
    let a = secretary.command(s.meeting, "org3", &header("UBND quận Hoàn Kiếm\nPhường Hàng Trống\nTổ dân phố 5")).await?;
    assert_eq!(a.code(), "invalid", "{a:?}");
    let a = secretary.command(s.meeting, "org", &header("  UBND quận Hoàn Kiếm \n\n Ủy ban nhân dân phường Hàng Trống ")).await?;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(secretary.state(s.meeting).await?.meeting.organisation, "UBND quận Hoàn Kiếm\nỦy ban nhân dân phường Hàng Trống");
    chair.command(s.meeting, "close-meeting", &Command::CloseMeeting).await?;
    Ok((chair, secretary, named, secret))
}

#[tokio::test]
async fn exports_open_in_libreoffice_pass_qpdf_and_keep_every_diacritic() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start_in(dir.path(), |_| {}).await?;
    let s = Assembly::build(&server.url(""), 4).await?;
    let (_chair, secretary, named, secret) = scripted(&s).await?;
    let out = tempfile::tempdir()?;
    let get = |format: &str| {
        let secretary = secretary.clone();
        let path = format!("/api/meetings/{}/minutes/export?format={format}&lang=vi", s.meeting);
        async move { anyhow::Ok(secretary.raw_get(&path).send().await?.error_for_status()?.bytes().await?.to_vec()) }
    };
    let pdf = out.path().join("bien-ban.pdf");
    std::fs::write(&pdf, get("pdf").await?)?;
    let docx = out.path().join("bien-ban.docx");
    std::fs::write(&docx, get("docx").await?)?;

    let qpdf = Process::new("qpdf")
        .arg("--check")
        .arg(&pdf)
        .output()
        .map_err(|e| anyhow::anyhow!("qpdf ({e}): install qpdf (scripts/test does)"))?;
    assert!(qpdf.status.success(), "qpdf --check: {}", String::from_utf8_lossy(&qpdf.stdout));
    let text = pdftotext(&pdf)?;
    for want in [
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "BIÊN BẢN",
        "Kỳ họp Hội đồng",
        "Số: 15/BB-UBND",
        "Đại biểu 0003 (Đi học tập trung)",
        "Thông qua dự toán ngân sách năm 2027",
        "Tín nhiệm Trưởng ban Quản lý đô thị",
        "Đề nghị bổ sung số liệu thu ngân sách quý IV.",
        "Kế hoạch chỉnh trang đô thị",
        "THÔNG QUA",
        "92,4%",
        "THƯ KÝ",
        "CHỦ TỌA",
        "Thư Ký",
        "Chủ Tọa",
    ] {
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains(want), "the PDF text lacks {want:?}:\n{text}");
    }
    // The governing body above the organisation, each on its line.
    let (above, org) = (text.find("UBND QUẬN HOÀN KIẾM"), text.find("HÀNG TRỐNG"));
    assert!(above.zip(org).is_some_and(|(a, o)| a < o), "{text}");
    // Who spoke on the first item, in order, each with the length of the speech.
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    // Attendance as the meeting went: the voter who left before its end is
    // present, with the time they left, not absent beside the votes they cast.
    // In the order of the secretary's list, the chair first (by name, the
    // chair, "Tọa", came after "Đại biểu 0000").
    assert!(flat.contains("Thành viên có mặt (4/5): Chủ Tọa; Đại biểu 0000; Đại biểu 0001"), "{flat}");
    assert!(flat.contains("Đại biểu 0002 (vắng từ ") && !flat.contains("Vắng (1)"), "{flat}");
    assert!(flat.contains("Túc số: 4/5 thành viên có mặt (đủ túc số)"), "{flat}");
    let spoke = flat.find("Phát biểu: ").map(|n| &flat[n..]).ok_or_else(|| anyhow::anyhow!("no speakers:\n{text}"))?;
    let spoke = &spoke[..spoke.find("Biểu quyết").unwrap_or(spoke.len())];
    assert!(spoke.starts_with("Phát biểu: Đại biểu 0001 (") && spoke.contains(" giây); Đại biểu 0002 ("), "{spoke}");
    // Under the signatures, who receives a copy, as the secretary listed them;
    // nothing printed between a signature's title and the name.
    let after = &flat[flat.rfind("THƯ KÝ").unwrap_or(0)..];
    assert!(after.contains("Nơi nhận: - Thường trực HĐND phường; - Lưu: VT, hồ sơ."), "{after}");
    assert!(!flat.contains("Ký, ghi rõ"), "{after}");
    // The text ends as Decree 30 ends it.
    let end = text.find("Cuộc họp kết thúc vào lúc").ok_or_else(|| anyhow::anyhow!("no closing sentence"))?;
    assert!(text[end..].lines().next().is_some_and(|l| l.trim_end().ends_with("./.")), "{}", &text[end..]);

    // LibreOffice opens the DOCX and converts it; the text survives.
    let lo = Process::new("libreoffice")
        .args(["--headless", "--norestore", "--convert-to", "pdf", "--outdir"])
        .arg(out.path().join("lo"))
        .arg(&docx)
        .env("HOME", out.path())
        .output()
        .map_err(|e| anyhow::anyhow!("libreoffice ({e}): install libreoffice-writer-nogui (scripts/test does)"))?;
    assert!(lo.status.success(), "libreoffice: {}", String::from_utf8_lossy(&lo.stderr));
    let converted = out.path().join("lo").join("bien-ban.pdf");
    let text = pdftotext(&converted)?;
    for want in ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "BIÊN BẢN", "Kỳ họp Hội đồng", "Tín nhiệm Trưởng ban Quản lý đô thị", "THÔNG QUA"]
    {
        // A question typed on two lines keeps its words apart.
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains(want), "the DOCX (through LibreOffice) lacks {want:?}:\n{text}");
    }
    // Kept for looking at (pdftoppm), beside the other test pictures.
    let keep = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::copy(&pdf, keep.join("minutes.pdf"))?;
    std::fs::copy(&converted, keep.join("minutes-docx.pdf"))?;
    // The DOCX names Times New Roman.
    let unzip = Process::new("unzip").arg("-p").arg(&docx).arg("word/document.xml").output();
    if let Ok(u) = unzip
        && u.status.success()
    {
        let xml = String::from_utf8_lossy(&u.stdout).to_string();
        assert!(xml.contains("Times New Roman"));
        // The organisation, the motto and the title are ruled with a line, not underlined.
        assert!(xml.matches("<w:pBdr>").count() >= 3 && !xml.contains("<w:u "), "rules under the heading");
        // Headings stay with what follows them, and the signatures stay whole, as in the PDF.
        assert!(xml.contains("w:keepNext") && xml.contains("w:cantSplit"), "headings or signatures may be cut across pages");
        // Page numbers from the second page (Decree 30): a numbered header, none on the first.
        assert!(xml.contains("w:titlePg"), "the first page has a header of its own");
        let headers = Process::new("unzip").arg("-p").arg(&docx).arg("word/header*.xml").output()?;
        assert!(String::from_utf8_lossy(&headers.stdout).contains("PAGE"), "a PAGE field in a header");
    }

    // The counts in the exports equal those in the database.
    let db = open_store(dir.path(), true).await?;
    let csv = String::from_utf8(get("csv").await?)?;
    // For a spreadsheet on a Vietnamese Windows: ";" between fields, a
    // decimal comma, words in Vietnamese, the room's time.
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert!(lines[0].starts_with("Mã biểu quyết;Nội dung;Vấn đề biểu quyết;"), "{}", lines[0]);
    let first = lines.iter().find(|l| l.starts_with(&format!("{};", named.0))).context("no line for the named poll")?;
    for word in ["Thông qua dự toán ngân sách năm 2027", "công khai", "đã kết thúc", "Tán thành", ";có;"] {
        assert!(first.contains(word), "{word:?} not in {first}");
    }
    assert!(first.split(';').nth(7).is_some_and(|share| share.contains(',')), "no decimal comma: {first}");
    let english = {
        let path = format!("/api/meetings/{}/minutes/export?format=csv&lang=en", s.meeting);
        String::from_utf8(secretary.raw_get(&path).send().await?.error_for_status()?.bytes().await?.to_vec())?
    };
    let first_en = english.lines().find(|l| l.starts_with(&format!("{},", named.0))).context("no English line")?;
    for word in ["Tán thành", "named", "closed", ",true,"] {
        assert!(first_en.contains(word), "{word:?} not in {first_en}");
    }
    // The close's time, then whether the option tied for a last seat.
    let (tied, closed_at) = first_en.rsplit_once(',').and_then(|(rest, tied)| Some((tied, rest.rsplit_once(',')?.1))).context("columns")?;
    assert!(closed_at.ends_with("+07:00"), "not in the room's time: {first_en}");
    assert_eq!(tied, "false", "{first_en}");
    let json: serde_json::Value = serde_json::from_slice(&get("json").await?)?;
    for poll in [named, secret] {
        let mut db_counts = [0u32; 3];
        let rows: Vec<String> = if poll == secret {
            sqlx::query_scalar("SELECT choices FROM secret_ballots WHERE poll_id = ?").bind(poll.0).fetch_all(&db).await?
        } else {
            sqlx::query_scalar("SELECT choices FROM named_ballots WHERE poll_id = ?").bind(poll.0).fetch_all(&db).await?
        };
        for r in rows {
            let c: Vec<u8> = serde_json::from_str(&r)?;
            db_counts[c[0] as usize] += 1;
        }
        // Read as a spreadsheet reads it: a question on two lines is one quoted cell.
        let records: Vec<csv::StringRecord> = csv::ReaderBuilder::new()
            .delimiter(b';')
            .from_reader(csv.trim_start_matches('\u{feff}').as_bytes())
            .records()
            .collect::<Result<_, _>>()?;
        let csv_counts: Vec<u32> =
            records.iter().filter(|r| r.get(0) == Some(&poll.0.to_string())).map(|r| r[6].parse().unwrap()).collect();
        assert_eq!(csv_counts, db_counts.to_vec(), "CSV of poll {poll}");
        let polls = json["meeting"]["polls"].as_array().unwrap();
        let p = polls.iter().find(|p| p["id"] == json!(poll.0)).unwrap();
        assert_eq!(p["result"]["counts"], json!(db_counts), "JSON of poll {poll}");
    }
    assert!(json["events"].as_array().unwrap().len() > 10);
    Ok(())
}

/// Signing renders and writes a dozen files, long for a big meeting. The
/// database has one write lock, which every meeting's commands and every
/// sign-in share: it is not held meanwhile. The test holds it, as another
/// meeting's writer would, and the signed files are still made; the
/// signature is recorded once the lock is free.
#[tokio::test]
async fn signing_the_minutes_renders_them_without_holding_the_database_write_lock() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start_in(dir.path(), |_| {}).await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    let chair = s.sign_in(&s.chair).await?;
    chair.command(s.meeting, "close", &Command::CloseMeeting).await?;
    chair.command(s.meeting, "approve", &Command::ApproveMinutes).await?;

    let other = open_store(dir.path(), false).await?;
    let lock = other.begin_with("BEGIN IMMEDIATE").await?;
    let files = dir.path().join("minutes").join(s.meeting.to_string()).join("v1");
    let signatures = || {
        std::fs::read_dir(&files).map(|d| d.flatten().filter(|f| f.file_name().to_string_lossy().ends_with(".sig")).count()).unwrap_or(0)
    };
    let sign = chair.command(s.meeting, "sign", &Command::SignMinutes);
    tokio::pin!(sign);
    let waiting = std::time::Instant::now();
    loop {
        tokio::select! {
            answer = &mut sign => anyhow::bail!("answered, with no signed file made, while another writer held the lock: {answer:?}"),
            _ = tokio::time::sleep(std::time::Duration::from_millis(20)) => {}
        }
        if signatures() == 7 {
            break;
        }
        anyhow::ensure!(waiting.elapsed().as_secs() < 120, "no signed file was made while another writer held the lock");
    }
    lock.rollback().await?;
    let answer = sign.await?;
    assert_eq!(answer.status, 200, "{answer:?}");
    let st = chair.state(s.meeting).await?;
    assert_eq!(st.minutes.status, MinutesStatus::Signed);
    let v = &st.minutes.signed[0];
    for f in &v.files {
        use sha2::Digest;
        let on_disk = hex::encode(sha2::Sha256::digest(std::fs::read(files.join(&f.name))?));
        assert_eq!(on_disk, f.sha256, "{} is the file recorded", f.name);
    }
    Ok(())
}

#[tokio::test]
async fn signed_minutes_verify_offline_and_fail_when_anything_differs() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start_in(dir.path(), |_| {}).await?;
    let s = Assembly::build(&server.url(""), 4).await?;
    let (chair, secretary, _, _) = scripted(&s).await?;
    assert_eq!(chair.command(s.meeting, "sign-early", &Command::SignMinutes).await?.code(), "conflict", "approve first");
    secretary.command(s.meeting, "send", &Command::SendMinutesForComments).await?;
    let member = s.sign_in(&s.voters[0]).await?;
    let c = member
        .command(s.meeting, "comment", &Command::CommentMinutes { section: SectionKey::Item(s.item), text: "Đề nghị ghi rõ tỷ lệ.".into() })
        .await?;
    assert_eq!(c.status, 200, "{c:?}");
    assert_eq!(
        secretary
            .command(s.meeting, "edit-in-review", &Command::EditMinutes { section: SectionKey::Opening, text: "x".into() })
            .await?
            .code(),
        "conflict"
    );
    chair.command(s.meeting, "approve", &Command::ApproveMinutes).await?;
    let signed = chair.command(s.meeting, "sign", &Command::SignMinutes).await?;
    assert_eq!(signed.status, 200, "{signed:?}");
    let st = member.state(s.meeting).await?;
    assert_eq!(st.minutes.status, MinutesStatus::Signed);
    assert!(!st.minutes.sections.is_empty(), "members read the signed minutes");
    let v = st.minutes.signed.last().unwrap().clone();
    assert_eq!(v.files.len(), 7, "PDF, DOCX and CSV in each language, and the record: {:?}", v.files);
    // Signed minutes cannot change; a correction is a new version.
    assert_eq!(
        secretary.command(s.meeting, "late-edit", &Command::EditMinutes { section: SectionKey::Opening, text: "x".into() }).await?.code(),
        "conflict"
    );

    let out = tempfile::tempdir()?;
    let pdf_name = v.files.iter().find(|f| f.name.ends_with("-vi.pdf")).unwrap().name.clone();
    for name in [pdf_name.clone(), format!("{pdf_name}.sig")] {
        let bytes = member
            .raw_get(&format!("/api/meetings/{}/minutes/files/{}/{name}", s.meeting, v.version))
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        std::fs::write(out.path().join(&name), bytes)?;
    }
    // The whole record (every opinion, every restricted document's title and
    // readers) is the officers': a member gets the minutes, not the record.
    let record = v.files.iter().find(|f| f.name.ends_with(".json")).unwrap().name.clone();
    for name in [record.clone(), format!("{record}.sig")] {
        let url = format!("/api/meetings/{}/minutes/files/{}/{name}", s.meeting, v.version);
        assert_eq!(member.raw_get(&url).send().await?.status(), 403, "{name}");
        assert!(secretary.raw_get(&url).send().await?.status().is_success(), "{name}");
    }
    let key = server.client().get("/api/signing-key").await?.body["public_key"].as_str().unwrap().to_string();
    std::fs::write(out.path().join("org.pub"), format!("# Ed25519\n{key}\n"))?;
    let verify = |file: &std::path::Path, extra: &[&str]| -> anyhow::Result<(bool, String)> {
        let o = Process::new(server_binary()?).arg("verify-minutes").arg(file).args(extra).current_dir(out.path()).output()?;
        Ok((o.status.success(), String::from_utf8_lossy(&o.stdout).to_string()))
    };
    let pdf = out.path().join(&pdf_name);
    let pubkey = out.path().join("org.pub");
    let (ok, text) = verify(&pdf, &["--public-key", pubkey.to_str().unwrap()])?;
    assert!(ok, "{text}");
    assert!(text.contains(&format!("meeting={}", s.meeting)) && text.contains("minutes_version=1"), "{text}");

    // One byte changed.
    let mut bytes = std::fs::read(&pdf)?;
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    let changed = out.path().join("changed.pdf");
    std::fs::write(&changed, &bytes)?;
    let (ok, text) = verify(&changed, &["--sig", out.path().join(format!("{pdf_name}.sig")).to_str().unwrap()])?;
    assert!(!ok && text.contains("INVALID"), "{text}");

    // A .sig from another meeting, made by the same server.
    let s2 = Assembly::build(&server.url(""), 2).await?;
    let chair2 = s2.sign_in(&s2.chair).await?;
    chair2.command(s2.meeting, "close", &Command::CloseMeeting).await?;
    chair2.command(s2.meeting, "approve", &Command::ApproveMinutes).await?;
    chair2.command(s2.meeting, "sign", &Command::SignMinutes).await?;
    let other = chair2.state(s2.meeting).await?.minutes.signed[0].clone();
    let other_pdf = other.files.iter().find(|f| f.name.ends_with("-vi.pdf")).unwrap().name.clone();
    let other_sig = chair2.raw_get(&format!("/api/meetings/{}/minutes/files/1/{other_pdf}.sig", s2.meeting)).send().await?.bytes().await?;
    std::fs::write(out.path().join("other.sig"), other_sig)?;
    let (ok, text) = verify(&pdf, &["--sig", out.path().join("other.sig").to_str().unwrap()])?;
    assert!(!ok, "another meeting's signature: {text}");

    // Another public key.
    std::fs::write(out.path().join("wrong.pub"), "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29\n")?;
    let (ok, text) = verify(&pdf, &["--public-key", out.path().join("wrong.pub").to_str().unwrap()])?;
    assert!(!ok, "another key: {text}");

    // A correction keeps the signed version.
    secretary.command(s.meeting, "revise", &Command::ReviseMinutes).await?;
    let st = secretary.state(s.meeting).await?;
    assert_eq!((st.minutes.version, st.minutes.status), (2, MinutesStatus::Draft));
    assert_eq!(st.minutes.signed.len(), 1);
    assert!(member.raw_get(&format!("/api/meetings/{}/minutes/files/1/{pdf_name}", s.meeting)).send().await?.status().is_success());
    Ok(())
}

/// Sent to the members, the minutes come back to the secretary's draft to
/// work in their comments (and approved ones, to fix what the chair found),
/// as the same version; only a signed version is fixed.
#[tokio::test]
async fn the_secretary_takes_the_minutes_back_to_work_in_the_members_comments() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    let (chair, secretary, member) = (s.sign_in(&s.chair).await?, s.sign_in(&s.secretary).await?, s.sign_in(&s.voters[0]).await?);
    let section = SectionKey::Item(s.item);
    let edit = |text: &str| Command::EditMinutes { section, text: text.into() };
    assert_eq!(secretary.command(s.meeting, "e1", &edit("Thông qua với 2/2 phiếu.")).await?.status, 200);
    assert_eq!(chair.command(s.meeting, "close", &Command::CloseMeeting).await?.status, 200);
    assert_eq!(secretary.command(s.meeting, "send", &Command::SendMinutesForComments).await?.status, 200);
    let comment = Command::CommentMinutes { section, text: "Đề nghị ghi rõ tỷ lệ phần trăm.".into() };
    assert_eq!(member.command(s.meeting, "c1", &comment).await?.status, 200);

    // Taken back: a draft again, the same version, the comment kept.
    assert_eq!(secretary.command(s.meeting, "back", &Command::TakeBackMinutes).await?.status, 200);
    let st = secretary.state(s.meeting).await?;
    assert_eq!((st.minutes.status, st.minutes.version), (MinutesStatus::Draft, 1));
    assert_eq!(st.minutes.comments.len(), 1, "{:?}", st.minutes.comments);
    let a = secretary.command(s.meeting, "e2", &edit("Thông qua với 2/2 phiếu (100%).")).await?;
    assert_eq!(a.status, 200, "{a:?}");
    // Members see what was sent, never the draft being worked on.
    assert!(member.state(s.meeting).await?.minutes.sections.is_empty(), "a draft reached a member");
    assert_eq!(secretary.command(s.meeting, "send2", &Command::SendMinutesForComments).await?.status, 200);
    assert_eq!(member.state(s.meeting).await?.minutes.text(section), "Thông qua với 2/2 phiếu (100%).");

    // Approved, then taken back for a typo: the chair approves again.
    assert_eq!(chair.command(s.meeting, "approve", &Command::ApproveMinutes).await?.status, 200);
    assert_eq!(secretary.command(s.meeting, "back2", &Command::TakeBackMinutes).await?.status, 200);
    assert_eq!(chair.command(s.meeting, "sign-unapproved", &Command::SignMinutes).await?.code(), "conflict");
    assert_eq!(secretary.command(s.meeting, "e3", &edit("Thông qua với 2/2 phiếu (100%), không có ý kiến khác.")).await?.status, 200);
    assert_eq!(chair.command(s.meeting, "approve2", &Command::ApproveMinutes).await?.status, 200);
    assert_eq!(chair.command(s.meeting, "sign", &Command::SignMinutes).await?.status, 200);
    let st = member.state(s.meeting).await?;
    assert_eq!((st.minutes.status, st.minutes.version), (MinutesStatus::Signed, 1));
    assert_eq!(st.minutes.text(section), "Thông qua với 2/2 phiếu (100%), không có ý kiến khác.");
    // Signed minutes are not taken back (a take-back sent as the chair signed
    // starts no new version): a correction is asked for by name.
    assert_eq!(secretary.command(s.meeting, "back3", &Command::TakeBackMinutes).await?.code(), "conflict");
    assert_eq!(member.command(s.meeting, "m-revise", &Command::ReviseMinutes).await?.code(), "forbidden");
    assert_eq!(secretary.command(s.meeting, "revise", &Command::ReviseMinutes).await?.status, 200);
    assert_eq!(secretary.state(s.meeting).await?.minutes.version, 2);
    // Nor is a draft, nor revised again.
    assert_eq!(secretary.command(s.meeting, "back4", &Command::TakeBackMinutes).await?.code(), "conflict");
    assert_eq!(secretary.command(s.meeting, "revise-draft", &Command::ReviseMinutes).await?.code(), "conflict");
    Ok(())
}

#[tokio::test]
async fn nothing_typed_is_lost_when_the_server_restarts() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start_in(dir.path(), |_| {}).await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let secretary = s.sign_in(&s.secretary).await?;
    let mut ws = secretary.follow(s.meeting, None).await?;
    let mut acked = String::new();
    for n in 0..30 {
        let text = format!("Đoạn {n}: thư ký ghi biên bản có dấu tiếng Việt.");
        if let gavel_shared::ServerMessage::Ack { .. } =
            ws.command(Command::EditMinutes { section: SectionKey::Item(s.item), text: text.clone() }).await?
        {
            acked = text;
        }
    }
    server.stop().await?;
    let server = TestServer::start_in(dir.path(), |_| {}).await?;
    let secretary = Http { base: server.url(""), ..secretary };
    let st = secretary.state(s.meeting).await?;
    assert_eq!(st.minutes.text(SectionKey::Item(s.item)), acked, "the last acknowledged text survived");
    Ok(())
}

/// An opinion on a restricted document removed since stays to itself after
/// the room restarts, and the next document uploaded does not take the
/// removed one's id (SQLite gives the highest id + 1): before, either made
/// the minutes quote it to everyone.
#[tokio::test]
async fn an_opinion_on_a_removed_restricted_document_stays_out_of_the_minutes_after_a_restart() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start_in(dir.path(), |_| {}).await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    let (chair, secretary, reader) = (s.sign_in(&s.chair).await?, s.sign_in(&s.secretary).await?, s.sign_in(&s.voters[0]).await?);
    let named = [("confidentiality", "named"), ("readers", &s.voters[0].0.0.to_string() as &str)];
    let withdrawn = s.upload_document("Hồ sơ kỷ luật.pdf", tiny_pdf("ky luat"), &named).await?;
    let opinion = Command::AddOpinion {
        item: s.item,
        document: Some(withdrawn.id),
        stance: Stance::Comment,
        text: "Ý kiến riêng về hồ sơ kỷ luật".into(),
    };
    assert_eq!(reader.command(s.meeting, "op", &opinion).await?.status, 200);
    let a = secretary.command(s.meeting, "withdraw", &Command::RemoveDocument { document: withdrawn.id }).await?;
    assert_eq!(a.status, 200, "{a:?}");
    // The corrected version goes up for everyone.
    let public = s.upload_document("Tờ trình.pdf", tiny_pdf("to trinh"), &[]).await?;
    assert_ne!(public.id, withdrawn.id, "a removed document's id given again");
    let addrs = server.addrs();
    server.stop().await?;
    let server = TestServer::start_again(dir.path(), addrs).await?;
    let (chair, secretary) = (Http { base: server.url(""), ..chair }, Http { base: server.url(""), ..secretary });
    assert_eq!(chair.command(s.meeting, "close", &Command::CloseMeeting).await?.status, 200);
    let bytes = secretary.raw_get(&format!("/api/meetings/{}/minutes/export?format=pdf&lang=vi", s.meeting)).send().await?.bytes().await?;
    let out = tempfile::tempdir()?;
    let pdf = out.path().join("draft.pdf");
    std::fs::write(&pdf, bytes)?;
    let text = pdftotext(&pdf)?.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(!text.contains("Ý kiến riêng"), "{text}");
    assert!(text.contains("1 ý kiến về tài liệu hạn chế, tài liệu mật hoặc tài liệu đã rút (không ghi người gửi và nội dung)."), "{text}");
    Ok(())
}

#[tokio::test]
async fn the_minutes_sign_on_the_page_and_keep_restricted_documents_to_their_readers() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 3).await?;
    let (chair, secretary) = (s.sign_in(&s.chair).await?, s.sign_in(&s.secretary).await?);
    let reader = s.sign_in(&s.voters[0]).await?;
    // Excused with no reason given: named, with no empty brackets.
    let excused = Command::SetAttendance { participant: s.voters[2].0, attendance: Attendance::Excused, reason: String::new() };
    assert_eq!(secretary.command(s.meeting, "excused", &excused).await?.status, 200);
    let doc = s
        .upload_document(
            "Hồ sơ kỷ luật đồng chí Xuân.pdf",
            tiny_pdf("ky luat"),
            &[("confidentiality", "named"), ("readers", &s.voters[0].0.0.to_string())],
        )
        .await?;
    let opinion = Command::AddOpinion {
        item: s.item,
        document: Some(doc.id),
        stance: Stance::Disagree,
        text: "Ý kiến riêng về hồ sơ kỷ luật".into(),
    };
    assert_eq!(reader.command(s.meeting, "op", &opinion).await?.status, 200);
    // An opinion on a restricted document removed since stays its reader's too.
    let withdrawn = s
        .upload_document(
            "Hồ sơ rút lại.pdf",
            tiny_pdf("rut lai"),
            &[("confidentiality", "named"), ("readers", &s.voters[0].0.0.to_string())],
        )
        .await?;
    let on_withdrawn =
        Command::AddOpinion {
            item: s.item, document: Some(withdrawn.id), stance: Stance::Comment, text: "Ý kiến về hồ sơ đã rút".into()
        };
    assert_eq!(reader.command(s.meeting, "op2", &on_withdrawn).await?.status, 200);
    let a = secretary.command(s.meeting, "withdraw", &Command::RemoveDocument { document: withdrawn.id }).await?;
    assert_eq!(a.status, 200, "{a:?}");
    // The date line names the locality (Decree 30's địa danh), not the room.
    let header = Command::UpdateMeeting {
        title: "Kỳ họp Hội đồng".into(),
        organisation: "Ủy ban nhân dân phường Hòa Bình".into(),
        place: "Phòng họp tầng 2".into(),
        locality: "Hòa Bình".into(),
        starts_at: time::macros::datetime!(2026-11-23 08:00 +7),
    };
    assert_eq!(secretary.command(s.meeting, "header", &header).await?.status, 200);
    // One of them only observes: the minutes name members-only documents.
    s.demote(&secretary, 1, Role::Observer).await?;
    chair.command(s.meeting, "close", &Command::CloseMeeting).await?;

    // However long the minutes, the signatures stand whole on a page, above
    // its bottom margin (20 mm), under their titles, with the text's last
    // paragraph.
    let out = tempfile::tempdir()?;
    let pdf = out.path().join("draft.pdf");
    for k in 0..48 {
        let text = (0..k).map(|n| format!("Dòng kết luận số {n}.")).collect::<Vec<_>>().join("\n\n");
        let a = secretary.command(s.meeting, &format!("c{k}"), &Command::EditMinutes { section: SectionKey::Conclusion, text }).await?;
        assert_eq!(a.status, 200, "{a:?}");
        let bytes =
            secretary.raw_get(&format!("/api/meetings/{}/minutes/export?format=pdf&lang=vi", s.meeting)).send().await?.bytes().await?;
        std::fs::write(&pdf, bytes)?;
        let w = pdf_words(&pdf)?;
        let title = w.iter().rposition(|w| w.text == "TỌA").expect("the chair's signature title");
        let name = w.iter().rposition(|w| w.text == "Tọa").expect("the chair's name");
        let (tp, name) = (w[title].page, &w[name]);
        assert!(
            name.page == tp && name.y_max <= name.page_height - 56.0,
            "{k} lines: the chair's name at {name:?}, its title on page {tp}"
        );
        // Never alone on their page: the closing sentence goes with them.
        let closing = w.iter().rposition(|w| w.text == "thúc").expect("the closing sentence");
        assert_eq!(w[closing].page, tp, "{k} lines: the signatures alone on page {tp}");
        // Pages after the first carry their number centred in the top margin;
        // the first none, and no page another number anywhere else.
        let pages = w.last().map_or(1, |w| w.page);
        // (In the bottom margin: "2/3" in the text is a quorum.)
        let foot: Vec<&String> =
            w.iter().filter(|w| w.text.ends_with(&format!("/{pages}")) && w.y_max > w.page_height - 56.0).map(|w| &w.text).collect();
        assert!(foot.is_empty(), "{k} lines: a page numbered at its foot: {foot:?}");
        for page in 1..=pages {
            let top: Vec<&String> = w.iter().filter(|w| w.page == page && w.y_max < 56.0).map(|w| &w.text).collect();
            let want: Vec<String> = if page == 1 { vec![] } else { vec![page.to_string()] };
            assert_eq!(top.into_iter().cloned().collect::<Vec<_>>(), want, "{k} lines, page {page}");
        }
    }

    // The signed minutes every participant receives name neither the
    // restricted document nor what its reader wrote about it.
    chair.command(s.meeting, "approve", &Command::ApproveMinutes).await?;
    assert_eq!(chair.command(s.meeting, "sign", &Command::SignMinutes).await?.status, 200);
    let observer = s.sign_in(&s.voters[1]).await?;
    let v = observer.state(s.meeting).await?.minutes.signed.last().cloned().expect("signed");
    let name = v.files.iter().find(|f| f.name.ends_with("-vi.pdf")).expect("a PDF").name.clone();
    let path = format!("/api/meetings/{}/minutes/files/{}/{name}", s.meeting, v.version);
    for p in [path.clone(), format!("{path}.sig")] {
        let refused = observer.get(&p).await?;
        assert_eq!((refused.status, refused.code()), (403, "forbidden"), "an observer fetched {p}");
    }
    let bytes = reader.raw_get(&path).send().await?;
    std::fs::write(&pdf, bytes.error_for_status()?.bytes().await?)?;
    let text = pdftotext(&pdf)?;
    assert!(text.contains("(tài liệu hạn chế)") && text.contains("Đại biểu 0000"), "{text}");
    assert!(text.contains("Hòa Bình, ngày") && !text.contains("Phòng họp tầng 2, ngày"), "{text}");
    assert!(!text.contains("kỷ luật"), "the restricted title or opinion is in the minutes:\n{text}");
    assert!(!text.contains("hồ sơ đã rút"), "the opinion on a removed restricted document is in the minutes:\n{text}");
    // Nor who gave them, nor how they stand: only that document's readers
    // could, so a name would tell the others who reads it.
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("2 ý kiến về tài liệu hạn chế, tài liệu mật hoặc tài liệu đã rút (không ghi người gửi và nội dung)."), "{text}");
    assert!(!flat.contains("Đại biểu 0000 —") && !flat.contains("không đồng ý"), "a restricted document's reader is named:\n{text}");
    assert!(text.contains("Vắng có lý do (1): Đại biểu 0002.") && !text.contains("()"), "{text}");
    // They say when the meeting began, not when it was called for.
    assert!(!text.contains("08 giờ 00 phút, ngày 23 tháng 11 năm 2026"), "{text}");
    // With no one named, the minutes go to the archive.
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("Nơi nhận: - Lưu: VT, hồ sơ."), "{text}");
    Ok(())
}

#[tokio::test]
async fn the_longest_minutes_section_the_rules_take_goes_over_websocket_and_quic() -> anyhow::Result<()> {
    use gavel_shared::protocol::{ClientMessage, PROTOCOL_VERSION, ServerMessage};
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let secretary = s.sign_in(&s.secretary).await?;
    let token = secretary.token.clone().ok_or_else(|| anyhow::anyhow!("no token"))?;
    // 100,000 characters, the rules' limit, of 3 bytes each: 300 KB.
    let long = |c: char| std::iter::repeat_n(c, 100_000).collect::<String>();

    let mut ws = Ws::connect(server.addr, Some(&token)).await?;
    ws.hello(s.meeting, None).await?;
    let edit = Command::EditMinutes { section: SectionKey::Item(s.item), text: long('ễ') };
    let answer = tokio::time::timeout(std::time::Duration::from_secs(20), ws.command(edit))
        .await
        .map_err(|_| anyhow::anyhow!("no answer over WebSocket"))??;
    assert!(matches!(answer, ServerMessage::Ack { .. }), "{answer:?}");

    let mut q = QuicClient::connect(server.quic_addr, &server.fingerprint, b"gavel/1").await?;
    q.send(&ClientMessage::Resume { token }).await?;
    anyhow::ensure!(matches!(q.recv().await?, ServerMessage::SignedIn { .. }), "resume");
    q.send(&ClientMessage::Hello { meeting: s.meeting, last_seq: None, version: PROTOCOL_VERSION }).await?;
    let edit = Command::EditMinutes { section: SectionKey::Conclusion, text: long('ự') };
    q.send(&ClientMessage::Command { key: "long-quic".into(), command: edit }).await?;
    let answer = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            match q.recv().await? {
                m @ (ServerMessage::Ack { .. } | ServerMessage::Error { .. }) => return anyhow::Ok(m),
                _ => continue,
            }
        }
    })
    .await
    .map_err(|_| anyhow::anyhow!("no answer over QUIC"))??;
    assert!(matches!(answer, ServerMessage::Ack { .. }), "{answer:?}");

    let st = secretary.state(s.meeting).await?;
    assert_eq!(st.minutes.text(SectionKey::Item(s.item)).chars().count(), 100_000);
    assert_eq!(st.minutes.text(SectionKey::Conclusion).chars().count(), 100_000);
    Ok(())
}

#[tokio::test]
async fn members_following_live_read_the_minutes_sent_to_them_but_never_a_draft_even_replayed() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let chair = s.sign_in(&s.chair).await?;
    let secretary = s.sign_in(&s.secretary).await?;
    let member = s.sign_in(&s.voters[0]).await?;
    let mut live = member.follow(s.meeting, None).await?;
    for (n, text) in ["Đoạn nháp có nhắc hồ sơ kỷ luật.", "Đồng chí Chủ tọa khai mạc."].into_iter().enumerate() {
        let edit = Command::EditMinutes { section: SectionKey::Opening, text: text.into() };
        assert_eq!(secretary.command(s.meeting, &format!("edit{n}"), &edit).await?.status, 200);
    }
    assert_eq!(chair.command(s.meeting, "close", &Command::CloseMeeting).await?.status, 200);
    let sent = secretary.command(s.meeting, "send", &Command::SendMinutesForComments).await?;
    assert_eq!(sent.status, 200, "{sent:?}");

    // The member's copy, kept from the events as a tablet keeps it, holds
    // the text sent for comments; before, it stayed empty until a reload.
    live.wait_seq(sent.body["seq"].as_u64().unwrap()).await?;
    let copy = live.copy()?;
    assert_eq!(copy.minutes.status, MinutesStatus::InReview);
    assert_eq!(copy.minutes.text(SectionKey::Opening), "Đồng chí Chủ tọa khai mạc.");

    // Approved, then the whole log replayed: over HTTP and over a WebSocket
    // resuming from the start, the draft deleted before review is nowhere.
    assert_eq!(chair.command(s.meeting, "approve", &Command::ApproveMinutes).await?.status, 200);
    let log = member.get(&format!("/api/meetings/{}/events?after=0", s.meeting)).await?;
    assert_eq!(log.status, 200);
    assert!(log.body.as_array().is_some_and(|a| a.len() > 5), "{log:?}");
    assert!(!log.body.to_string().contains("kỷ luật"), "the draft in the log replayed over HTTP");
    let mut replay = member.follow(s.meeting, Some(0)).await?;
    let head = replay.snapshot.as_ref().map(|st| st.seq);
    let last = member.state(s.meeting).await?.seq;
    replay.wait_seq(last).await?;
    assert!(head.is_none() && !replay.events.is_empty(), "the follower was replayed the log, not sent a snapshot");
    let replayed = serde_json::to_string(&replay.events)?;
    assert!(!replayed.contains("kỷ luật"), "the draft in the log replayed over the WebSocket");
    assert!(replayed.contains("Đồng chí Chủ tọa khai mạc."), "the text as sent for comments");
    Ok(())
}

/// The event log over HTTP comes in pages of about 4 MiB: forty drafts of
/// long minutes (each saved whole as the secretary types) are more than a
/// page, and paging from the last event given reads every event once, in
/// order. (Before, one request could make the room read and hold 5,000
/// events whatever their size: gigabytes.)
#[tokio::test]
async fn the_event_log_over_http_comes_in_pages_of_bounded_size() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let secretary = s.sign_in(&s.secretary).await?;
    for n in 0..40 {
        let text = format!("Phiên bản {n}: ") + &"Hội đồng nhân dân thảo luận kỹ lưỡng. ".repeat(2_400);
        let a = secretary.command(s.meeting, &format!("draft-{n}"), &Command::EditMinutes { section: SectionKey::Opening, text }).await?;
        assert_eq!(a.status, 200, "{a:?}");
    }
    let head = secretary.state(s.meeting).await?.seq;
    let (mut after, mut pages, mut seen) = (0, 0, vec![]);
    loop {
        let a = secretary.get(&format!("/api/meetings/{}/events?after={after}&limit=5000", s.meeting)).await?;
        assert_eq!(a.status, 200, "{a:?}");
        let page: Vec<u64> = a.body.as_array().context("a list")?.iter().filter_map(|e| e["seq"].as_u64()).collect();
        let Some(&last) = page.last() else { break };
        pages += 1;
        seen.extend(page);
        after = last;
    }
    assert!(pages >= 2, "{pages} page(s) for forty long drafts");
    assert_eq!(seen, (1..=head).collect::<Vec<_>>(), "every event once, in order");
    Ok(())
}

/// Files of minutes being signed when the room stopped (written before the
/// commit that records a version) were never removed: the next start does,
/// and leaves the signed files alone.
#[tokio::test]
async fn half_written_minutes_files_are_removed_at_start() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let version = dir.path().join("minutes").join("1").join("v1");
    std::fs::create_dir_all(&version)?;
    for name in ["bien-ban-1-v1-vi.pdf.part", "bien-ban-1-v1-vi.pdf", "bien-ban-1-v1-vi.pdf.sig.part"] {
        std::fs::write(version.join(name), b"%PDF-1.7")?;
    }
    let server = TestServer::start_in(dir.path(), |_| {}).await?;
    let mut left: Vec<String> =
        std::fs::read_dir(&version)?.map(|e| Ok(e?.file_name().to_string_lossy().into_owned())).collect::<anyhow::Result<_>>()?;
    left.sort();
    assert_eq!(left, ["bien-ban-1-v1-vi.pdf"]);
    server.stop().await?;
    Ok(())
}
