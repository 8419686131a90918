//! The rights table (`gavel_shared::rules::RIGHTS`) walked whole, over every
//! transport: for each kind of command, in each state of a meeting (draft,
//! open, closed), sent by each kind of sender (chair, secretary, delegate,
//! observer, a participant of another meeting, no sign-in) over HTTP,
//! WebSocket and QUIC.
//!
//! - Everything the table does not allow is refused with the code that says
//!   why (`unauthorized`, `forbidden`, `wrong_status`) and changes nothing:
//!   the meeting's `seq` stays where it was.
//! - Everything it allows works: each allowed command is sent with real
//!   arguments, its preconditions set up first (a poll open to vote in, a
//!   participant to remove, minutes in the stage that step needs), and is
//!   acknowledged. The one refusal left is not the table's: a participant
//!   who does not vote (the secretary, an observer) may not cast a ballot.
//!
//! Documents too: each level (public, members, named, secret) is listed and
//! served to exactly those the level names, over each transport.

use anyhow::Context;
use gavel_shared::decision::*;
use gavel_shared::minutes::SectionKey;
use gavel_shared::model::*;
use gavel_shared::protocol::{ClientMessage, Command, CommandKind, NewParticipant, PROTOCOL_VERSION, ServerMessage};
use gavel_shared::rules::{RIGHTS, right};
use gavel_tests::*;
use std::collections::BTreeMap;
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Via {
    Http,
    Ws,
    Quic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Sender {
    Chair,
    Secretary,
    Delegate,
    Observer,
    /// A delegate of another meeting.
    Outsider,
    /// No sign-in at all.
    Nobody,
}

const SENDERS: [Sender; 6] = [Sender::Chair, Sender::Secretary, Sender::Delegate, Sender::Observer, Sender::Outsider, Sender::Nobody];

impl Sender {
    fn role(self) -> Option<Role> {
        match self {
            Sender::Chair => Some(Role::Chair),
            Sender::Secretary => Some(Role::Secretary),
            Sender::Delegate => Some(Role::Delegate),
            Sender::Observer => Some(Role::Observer),
            Sender::Outsider | Sender::Nobody => None,
        }
    }
}

/// What the table says about a command of `kind` from `sender` to a meeting in `status`.
fn expected(kind: CommandKind, status: MeetingStatus, sender: Sender) -> Result<(), &'static [&'static str]> {
    let row = right(kind).expect("every kind has a row");
    match sender.role() {
        None if sender == Sender::Nobody => Err(&["unauthorized"]),
        None => Err(&["forbidden", "not_found"]),
        Some(role) if !row.roles.contains(&role) => Err(&["forbidden"]),
        Some(_) if !row.statuses.contains(&status) => Err(&["wrong_status"]),
        Some(_) => Ok(()),
    }
}

/// A meeting in one state, its people signed in, and a way to talk to it.
struct Room {
    meeting: MeetingId,
    status: MeetingStatus,
    items: Vec<ItemId>,
    people: BTreeMap<Sender, (ParticipantId, String)>,
    /// A delegate who sends nothing in the walk (whose PIN may be reset).
    spare: ParticipantId,
    admin: Http,
}

/// The [`Scenario`] meeting (a chair, a secretary, two delegates, an
/// observer, three items) brought to `status`, its people signed in, and a
/// delegate of another meeting as the outsider.
async fn room(server: &TestServer, status: MeetingStatus) -> anyhow::Result<Room> {
    let s = if status == MeetingStatus::Draft { Scenario::prepare(server).await? } else { Scenario::build(server).await? };
    if status == MeetingStatus::Closed {
        let chair = s.http_as(server, Role::Chair, 0).await?;
        // Written opinions after the close are taken where they were asked
        // for by a deadline (the rule beside the table's).
        let deadline = OffsetDateTime::now_utc() + time::Duration::days(2);
        let a = chair.command(s.meeting, "ask", &Command::RequestOpinions { item: s.items[0], deadline }).await?;
        anyhow::ensure!(a.status == 200, "{a:?}");
        let a = chair.command(s.meeting, "close", &Command::CloseMeeting).await?;
        anyhow::ensure!(a.status == 200, "{a:?}");
    }
    let mut people = BTreeMap::new();
    for (who, role) in [
        (Sender::Chair, Role::Chair),
        (Sender::Secretary, Role::Secretary),
        (Sender::Delegate, Role::Delegate),
        (Sender::Observer, Role::Observer),
    ] {
        let (id, _) = s.person(role, 0);
        people.insert(who, (id, s.http_as(server, role, 0).await?.token.unwrap()));
    }
    // A delegate of another meeting.
    let other = Assembly::build(&server.url(""), 1).await?;
    let token = other.sign_in(&other.voters[0]).await?.token.unwrap();
    people.insert(Sender::Outsider, (other.voters[0].0, token));
    Ok(Room { meeting: s.meeting, status, items: s.items.clone(), people, spare: s.person(Role::Delegate, 1).0, admin: s.admin })
}

/// A command of each kind, aimed at this meeting. Destructive ones name
/// things that do not exist, so the walk can go on after them.
fn sample(kind: CommandKind, r: &Room) -> Option<Command> {
    let missing_poll = PollId(9_999_999);
    let me = r.people[&Sender::Delegate].0;
    Some(match kind {
        CommandKind::UpdateMeeting => Command::UpdateMeeting {
            title: "Họp giao ban tuần".into(),
            organisation: "UBND phường".into(),
            place: "Phòng 201".into(),
            locality: "Hà Nội".into(),
            starts_at: OffsetDateTime::now_utc(),
        },
        CommandKind::OpenMeeting => Command::OpenMeeting,
        CommandKind::CloseMeeting => Command::CloseMeeting,
        CommandKind::AddItem => {
            Command::AddItem { title: "Mục thêm".into(), presenter: String::new(), summary: String::new(), position: None }
        }
        CommandKind::UpdateItem => {
            Command::UpdateItem { item: r.items[0], title: "Khai mạc".into(), presenter: String::new(), summary: String::new() }
        }
        CommandKind::RemoveItem => Command::RemoveItem { item: ItemId(9_999_999) },
        CommandKind::MoveItem => Command::MoveItem { item: r.items[2], position: 2 },
        CommandKind::GoToItem => Command::GoToItem { item: r.items[1] },
        CommandKind::NextItem => Command::NextItem { from: None },
        CommandKind::PreviousItem => Command::PreviousItem { from: None },
        CommandKind::AddParticipants => Command::AddParticipants {
            participants: vec![NewParticipant {
                name: "Khách mời".into(),
                position: String::new(),
                role: Role::Observer,
                member: false,
                voting: false,
            }],
        },
        CommandKind::UpdateParticipant => Command::UpdateParticipant {
            participant: ParticipantId(9_999_999),
            name: "Không có".into(),
            position: String::new(),
            role: Role::Delegate,
            member: true,
            voting: true,
        },
        CommandKind::RemoveParticipant => Command::RemoveParticipant { participant: ParticipantId(9_999_999) },
        CommandKind::ResetPins => Command::ResetPins { participants: vec![ParticipantId(9_999_999)] },
        CommandKind::UploadDocument | CommandKind::Unknown => return None,
        CommandKind::UpdateDocument => Command::UpdateDocument {
            document: DocumentId(9_999_999),
            title: "Không có".into(),
            confidentiality: Confidentiality::Public,
            readers: vec![],
        },
        CommandKind::RemoveDocument => Command::RemoveDocument { document: DocumentId(9_999_999) },
        CommandKind::SetAttendance => Command::SetAttendance { participant: me, attendance: Attendance::Present, reason: String::new() },
        CommandKind::SetQuorumRule => Command::SetQuorumRule { share: Share::MORE_THAN_HALF },
        CommandKind::SetSpeechLimit => Command::SetSpeechLimit { seconds: 300 },
        CommandKind::CreatePoll => Command::CreatePoll {
            item: r.items[0],
            question: "Thông qua?".into(),
            kind: PollKind::YesNo,
            options: vec![],
            max_choices: 1,
            secret: false,
            allow_change: false,
            rule: Default::default(),
        },
        CommandKind::OpenPoll => Command::OpenPoll { poll: missing_poll },
        CommandKind::ClosePoll => Command::ClosePoll { poll: missing_poll },
        CommandKind::CancelPoll => Command::CancelPoll { poll: missing_poll, reason: "thử".into() },
        CommandKind::CastBallot => Command::CastBallot { poll: missing_poll, choices: vec![0] },
        CommandKind::CastBallotFor => Command::CastBallotFor { poll: missing_poll, voter: me, choices: vec![0] },
        CommandKind::RecordHands => Command::RecordHands { poll: missing_poll, counts: vec![1, 0, 0] },
        CommandKind::RequestToSpeak => Command::RequestToSpeak,
        CommandKind::WithdrawRequest => Command::WithdrawRequest,
        CommandKind::DismissRequest => Command::DismissRequest { participant: ParticipantId(9_999_999) },
        CommandKind::GiveFloor => Command::GiveFloor { participant: Some(ParticipantId(9_999_999)), from: None },
        CommandKind::EndSpeech => Command::EndSpeech,
        CommandKind::AddOpinion => {
            Command::AddOpinion { item: r.items[0], document: None, stance: Stance::Agree, text: "Đồng ý.".into() }
        }
        CommandKind::RequestOpinions => {
            Command::RequestOpinions { item: r.items[0], deadline: OffsetDateTime::now_utc() + time::Duration::days(2) }
        }
        CommandKind::EditMinutes => Command::EditMinutes { section: SectionKey::Opening, text: "Khai mạc lúc 8 giờ.".into() },
        CommandKind::SetMinutesNumber => Command::SetMinutesNumber { number: "12/BB-UBND".into() },
        CommandKind::SendMinutesForComments => Command::SendMinutesForComments,
        CommandKind::CommentMinutes => Command::CommentMinutes { section: SectionKey::Opening, text: "Sửa giờ.".into() },
        CommandKind::ApproveMinutes => Command::ApproveMinutes,
        CommandKind::SignMinutes => Command::SignMinutes,
        CommandKind::ReviseMinutes => Command::ReviseMinutes,
        CommandKind::TakeBackMinutes => Command::TakeBackMinutes,
    })
}

/// An allowed command of `kind` for `sender`, with real arguments, after
/// setting up what it needs.
async fn prepare(kind: CommandKind, sender: Sender, r: &Room, chair: &Http, n: &mut u32) -> anyhow::Result<Command> {
    *n += 1;
    let key = |what: &str| format!("prep-{}-{kind:?}-{sender:?}-{what}-{n}", r.meeting.0);
    let run = |who: &Http, k: String, cmd: Command| {
        let who = who.clone();
        let meeting = r.meeting;
        async move {
            let a = who.command(meeting, &k, &cmd).await?;
            anyhow::ensure!(a.status == 200, "setting up with {cmd:?}: {a:?}");
            anyhow::Ok(a.body["result"].clone())
        }
    };
    let admin = &r.admin;
    let new_participant = || async {
        let participants =
            vec![NewParticipant {
                name: "Người thử".into(), position: String::new(), role: Role::Delegate, member: true, voting: true
            }];
        let res = run(admin, key("participant"), Command::AddParticipants { participants }).await?;
        anyhow::Ok(ParticipantId(res["pins"][0]["participant"].as_i64().unwrap()))
    };
    // Any open poll closed: the meeting is not closed, nor its quorum changed, while one is.
    let no_open_poll = || async {
        let state = admin.get(&format!("/api/meetings/{}/state", r.meeting)).await?;
        for p in state.body["polls"].as_array().into_iter().flatten() {
            if p["status"] == "open" {
                run(chair, key("close-open"), Command::ClosePoll { poll: PollId(p["id"].as_i64().unwrap()) }).await?;
            }
        }
        anyhow::Ok(())
    };
    // A poll of its own, open unless `open` is false (any other open poll closed first).
    let poll = |open: bool| async move {
        no_open_poll().await?;
        let res = run(admin, key("poll"), sample(CommandKind::CreatePoll, r).unwrap()).await?;
        let id = PollId(res["id"].as_i64().unwrap());
        if open {
            run(chair, key("open"), Command::OpenPoll { poll: id }).await?;
        }
        anyhow::Ok(id)
    };
    let me = r.people.get(&sender).map(|p| p.0);
    let delegate = r.people[&Sender::Delegate].0;
    Ok(match kind {
        CommandKind::CloseMeeting | CommandKind::SetQuorumRule => {
            no_open_poll().await?;
            sample(kind, r).expect("a command")
        }
        CommandKind::RemoveItem => {
            let cmd = Command::AddItem { title: "Mục tạm".into(), presenter: String::new(), summary: String::new(), position: None };
            Command::RemoveItem { item: ItemId(run(admin, key("item"), cmd).await?["id"].as_i64().unwrap()) }
        }
        CommandKind::UpdateParticipant => Command::UpdateParticipant {
            participant: new_participant().await?,
            name: "Người thử đã sửa".into(),
            position: String::new(),
            role: Role::Delegate,
            member: true,
            voting: true,
        },
        CommandKind::RemoveParticipant => Command::RemoveParticipant { participant: new_participant().await? },
        CommandKind::ResetPins => Command::ResetPins { participants: vec![r.spare] },
        CommandKind::UpdateDocument | CommandKind::RemoveDocument => {
            let a = admin.upload(r.meeting, r.items[0], "Tạm.pdf", tiny_pdf("tam"), &[]).await?;
            anyhow::ensure!(a.status == 201, "{a:?}");
            let document = DocumentId(a.body["id"].as_i64().unwrap());
            if kind == CommandKind::RemoveDocument {
                Command::RemoveDocument { document }
            } else {
                Command::UpdateDocument { document, title: "Đã sửa".into(), confidentiality: Confidentiality::Public, readers: vec![] }
            }
        }
        CommandKind::OpenPoll => Command::OpenPoll { poll: poll(false).await? },
        CommandKind::ClosePoll => Command::ClosePoll { poll: poll(true).await? },
        CommandKind::CancelPoll => Command::CancelPoll { poll: poll(true).await?, reason: "Nhầm câu hỏi".into() },
        CommandKind::CastBallot => Command::CastBallot { poll: poll(true).await?, choices: vec![0] },
        CommandKind::CastBallotFor => Command::CastBallotFor { poll: poll(true).await?, voter: delegate, choices: vec![1] },
        CommandKind::RecordHands => Command::RecordHands { poll: poll(true).await?, counts: vec![1, 0, 0] },
        CommandKind::WithdrawRequest => {
            // The sender asks to speak first (over HTTP), unless already waiting.
            let token = &r.people[&sender].1;
            let _ = Http::for_base(&admin.base).with_token(token).command(r.meeting, &key("ask"), &Command::RequestToSpeak).await?;
            Command::WithdrawRequest
        }
        CommandKind::DismissRequest => {
            // The delegate asks to speak (over HTTP), unless already waiting.
            let token = &r.people[&Sender::Delegate].1;
            let _ = Http::for_base(&admin.base).with_token(token).command(r.meeting, &key("ask"), &Command::RequestToSpeak).await?;
            Command::DismissRequest { participant: delegate }
        }
        CommandKind::GiveFloor => Command::GiveFloor { participant: Some(delegate), from: None },
        CommandKind::EndSpeech => {
            run(chair, key("floor"), Command::GiveFloor { participant: Some(delegate), from: None }).await?;
            Command::EndSpeech
        }
        CommandKind::SetAttendance => {
            Command::SetAttendance { participant: me.unwrap_or(delegate), attendance: Attendance::Present, reason: String::new() }
        }
        _ => sample(kind, r).expect("a command"),
    })
}

/// One sender's connection to the meeting over one transport (a handful
/// per test: their sizes do not matter).
#[allow(clippy::large_enum_variant)]
enum Conn {
    Http(Http),
    Ws(Ws),
    Quic(QuicClient),
    /// The connection itself was refused, with this code.
    Refused(String),
}

async fn connect(server: &TestServer, r: &Room, sender: Sender, via: Via) -> anyhow::Result<Conn> {
    let token = r.people.get(&sender).map(|p| p.1.clone());
    Ok(match via {
        Via::Http => Conn::Http(match &token {
            Some(t) => Http::for_base(&server.url("")).with_token(t),
            None => Http::for_base(&server.url("")),
        }),
        Via::Ws => match Ws::connect(server.addr, token.as_deref()).await {
            Err(e) => {
                anyhow::ensure!(format!("{e:#}").contains("401"), "{sender:?}: {e:#}");
                Conn::Refused("unauthorized".into())
            }
            Ok(mut ws) => {
                ws.send(&ClientMessage::Hello { meeting: r.meeting, last_seq: None, version: PROTOCOL_VERSION }).await?;
                match ws.recv().await? {
                    ServerMessage::Welcome { .. } => Conn::Ws(ws),
                    ServerMessage::Error { code, .. } => Conn::Refused(code),
                    other => anyhow::bail!("{other:?}"),
                }
            }
        },
        Via::Quic => {
            let mut q = QuicClient::connect(server.quic_addr, &server.fingerprint, b"gavel/1").await?;
            if let Some(t) = &token {
                q.send(&ClientMessage::Resume { token: t.clone() }).await?;
                anyhow::ensure!(matches!(q.recv().await?, ServerMessage::SignedIn { .. }), "resume");
            }
            q.send(&ClientMessage::Hello { meeting: r.meeting, last_seq: None, version: PROTOCOL_VERSION }).await?;
            match q.recv().await? {
                ServerMessage::Welcome { .. } => Conn::Quic(q),
                ServerMessage::Error { code, .. } => Conn::Refused(code),
                other => anyhow::bail!("{other:?}"),
            }
        }
    })
}

/// Sends `cmd`; `Ok(())` if acknowledged, else the error code.
async fn send(conn: &mut Conn, meeting: MeetingId, key: &str, cmd: &Command) -> anyhow::Result<Result<(), String>> {
    Ok(match conn {
        Conn::Refused(code) => Err(code.clone()),
        Conn::Http(h) => {
            let a = h.command(meeting, key, cmd).await?;
            if a.status == 200 { Ok(()) } else { Err(a.code().to_string()) }
        }
        Conn::Ws(ws) => match ws.command_with_key(key, cmd.clone()).await? {
            ServerMessage::Ack { .. } => Ok(()),
            ServerMessage::Error { code, .. } => Err(code),
            other => anyhow::bail!("{other:?}"),
        },
        Conn::Quic(q) => {
            q.send(&ClientMessage::Command { key: key.into(), command: cmd.clone() }).await?;
            loop {
                match q.recv().await? {
                    ServerMessage::Ack { key: k, .. } if k == key => break Ok(()),
                    ServerMessage::Error { key: Some(k), code, .. } if k == key => break Err(code),
                    _ => continue,
                }
            }
        }
    })
}

async fn seq(r: &Room) -> anyhow::Result<u64> {
    Ok(r.admin.get(&format!("/api/meetings/{}/state", r.meeting)).await?.body["seq"].as_u64().unwrap_or(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_of_the_rights_table_from_every_sender_in_every_state_over_every_transport() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let (mut checked, mut refused, mut allowed, mut prepared) = (0, 0, 0, 0u32);
    for via in [Via::Http, Via::Ws, Via::Quic] {
        for status in [MeetingStatus::Draft, MeetingStatus::Open, MeetingStatus::Closed] {
            // A meeting of its own for each transport and state: allowed
            // commands change it.
            let r = room(&server, status).await?;
            let chair = Http::for_base(&server.url("")).with_token(&r.people[&Sender::Chair].1);
            let mut conns = BTreeMap::new();
            for sender in SENDERS {
                conns.insert(sender, connect(&server, &r, sender, via).await?);
            }
            // The table's order, with the two that change the meeting's
            // state last: closing (which the table allows only in an open
            // meeting), then opening (only in a draft), so neither meets a
            // meeting the other has just moved.
            let mut kinds: Vec<CommandKind> = RIGHTS.iter().map(|row| row.kind).collect();
            kinds.sort_by_key(|k| match k {
                CommandKind::CloseMeeting => 1,
                CommandKind::OpenMeeting => 2,
                _ => 0,
            });
            for kind in kinds {
                let Some(cmd) = sample(kind, &r) else { continue };
                assert_eq!(cmd.kind(), kind);
                // Refusals first, and they change nothing.
                let before = seq(&r).await?;
                for sender in SENDERS {
                    let Err(codes) = expected(kind, r.status, sender) else { continue };
                    let key = format!("{via:?}-{status:?}-{kind:?}-{sender:?}");
                    let got = send(conns.get_mut(&sender).unwrap(), r.meeting, &key, &cmd).await?;
                    match got {
                        Err(code) if codes.contains(&code.as_str()) => refused += 1,
                        other => {
                            panic!("{kind:?} from {sender:?} to a {status:?} meeting over {via:?}: {other:?}, expected one of {codes:?}")
                        }
                    }
                    checked += 1;
                }
                assert_eq!(seq(&r).await?, before, "{kind:?} in a {status:?} meeting over {via:?}: a refusal changed the meeting");
                for sender in SENDERS {
                    if expected(kind, r.status, sender).is_err() {
                        continue;
                    }
                    let cmd = prepare(kind, sender, &r, &chair, &mut prepared).await?;
                    let key = format!("{via:?}-{status:?}-{kind:?}-{sender:?}");
                    let got = send(conns.get_mut(&sender).unwrap(), r.meeting, &key, &cmd).await?;
                    // Not the table's refusal: who votes is the participant's own flag.
                    let non_voter = matches!(sender, Sender::Secretary | Sender::Observer);
                    let want = if kind == CommandKind::CastBallot && non_voter { Err("forbidden".to_string()) } else { Ok(()) };
                    assert_eq!(got, want, "{kind:?} from {sender:?} to a {status:?} meeting over {via:?}, allowed by the table");
                    checked += 1;
                    allowed += 1;
                }
            }
        }
    }
    // 40 kinds less the upload (HTTP only, below) × 3 states × 6 senders × 3 transports.
    assert_eq!(checked, (RIGHTS.len() - 1) * 3 * 6 * 3);
    assert!(refused > checked / 2, "most of the table is refusals: {refused} of {checked}");
    assert_eq!(refused + allowed, checked);

    // The upload, HTTP only (multipart), from every sender in every state.
    for status in [MeetingStatus::Draft, MeetingStatus::Open, MeetingStatus::Closed] {
        let r = room(&server, status).await?;
        for sender in SENDERS {
            let http = match r.people.get(&sender) {
                Some(p) => Http::for_base(&server.url("")).with_token(&p.1),
                None => Http::for_base(&server.url("")),
            };
            let before = seq(&r).await?;
            let a = http.upload(r.meeting, r.items[0], "Tờ trình.pdf", tiny_pdf("to trinh"), &[]).await?;
            match expected(CommandKind::UploadDocument, status, sender) {
                Ok(()) => assert_eq!(a.status, 201, "upload from {sender:?} to a {status:?} meeting: {a:?}"),
                Err(codes) => {
                    assert!(codes.contains(&a.code()), "upload from {sender:?} to a {status:?} meeting: {a:?}");
                    assert_eq!(seq(&r).await?, before);
                }
            }
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_document_level_reaches_exactly_its_readers_over_every_transport() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start_in(dir.path(), |c| c.allow_secret_documents = true).await?;
    let r = room(&server, MeetingStatus::Open).await?;
    let delegate = r.people[&Sender::Delegate].0.to_string();
    let mut docs = vec![];
    for (level, readers) in [("public", ""), ("members", ""), ("named", delegate.as_str()), ("secret", delegate.as_str())] {
        let fields: Vec<(&str, &str)> =
            [("confidentiality", level)].into_iter().chain((!readers.is_empty()).then_some(("readers", readers))).collect();
        let a = r.admin.upload(r.meeting, r.items[0], &format!("{level}.pdf"), tiny_pdf(level), &fields).await?;
        assert_eq!(a.status, 201, "{a:?}");
        docs.push((level, DocumentId(a.body["id"].as_i64().unwrap())));
    }
    // Who the model says may read each level (the delegate is a member and named; the observer is neither).
    let may_read = |sender: Sender, level: &str, closed: bool| match sender {
        Sender::Chair | Sender::Secretary => true,
        Sender::Delegate => !(closed && level == "secret"),
        Sender::Observer => level == "public",
        Sender::Outsider | Sender::Nobody => false,
    };
    // Again once the meeting is closed: its state secrets are collected.
    for closed in [false, true] {
        if closed {
            // A delegate away at the close, whose copy comes from before it.
            let mut away = Ws::connect(server.addr, Some(&r.people[&Sender::Delegate].1)).await?;
            away.send(&ClientMessage::Hello { meeting: r.meeting, last_seq: None, version: PROTOCOL_VERSION }).await?;
            while away.snapshot.is_none() {
                away.recv().await?;
            }
            let kept = away.copy()?;
            drop(away);
            // A delegate following when it closes has the secret one taken
            // from their copy.
            let mut live = Ws::connect(server.addr, Some(&r.people[&Sender::Delegate].1)).await?;
            live.send(&ClientMessage::Hello { meeting: r.meeting, last_seq: None, version: PROTOCOL_VERSION }).await?;
            while live.snapshot.is_none() {
                live.recv().await?;
            }
            let secret = docs.iter().find(|(level, _)| *level == "secret").map(|d| d.1).unwrap();
            assert!(live.copy()?.document(secret).is_some());
            let chair = Http::for_base(&server.url("")).with_token(&r.people[&Sender::Chair].1);
            let a = chair.command(r.meeting, "close", &Command::CloseMeeting).await?;
            assert_eq!(a.status, 200, "{a:?}");
            while !live.copy().is_ok_and(|c| c.meeting.status == MeetingStatus::Closed && c.document(secret).is_none()) {
                live.recv().await.context("the secret document stayed in the live copy")?;
            }
            // The one away comes back after the close with its copy, and
            // has the secret one taken from it too.
            assert!(kept.document(secret).is_some());
            let mut back = Ws::connect(server.addr, Some(&r.people[&Sender::Delegate].1)).await?;
            back.send(&ClientMessage::Hello { meeting: r.meeting, last_seq: Some(kept.seq), version: PROTOCOL_VERSION }).await?;
            back.snapshot = Some(kept);
            while !back.copy().is_ok_and(|c| c.meeting.status == MeetingStatus::Closed) {
                back.recv().await?;
            }
            assert!(back.copy()?.document(secret).is_none(), "the secret document stayed in a copy made before the close");
        }
        for sender in SENDERS {
            let token = r.people.get(&sender).map(|p| p.1.clone());
            for via in [Via::Http, Via::Ws, Via::Quic] {
                // Listed: in the state the sender is given.
                let listed: Option<Vec<DocumentId>> = match connect(&server, &r, sender, via).await? {
                    Conn::Refused(_) => None,
                    Conn::Http(h) => {
                        let a = h.get(&format!("/api/meetings/{}/state", r.meeting)).await?;
                        (a.status == 200).then(|| {
                            a.body["documents"].as_array().unwrap().iter().map(|d| DocumentId(d["id"].as_i64().unwrap())).collect()
                        })
                    }
                    Conn::Ws(mut ws) => {
                        while ws.snapshot.is_none() {
                            ws.recv().await?;
                        }
                        Some(ws.snapshot.unwrap().documents.iter().map(|d| d.id).collect())
                    }
                    Conn::Quic(mut q) => loop {
                        if let ServerMessage::Snapshot { state } = q.recv().await? {
                            break Some(state.documents.iter().map(|d| d.id).collect());
                        }
                    },
                };
                for (level, id) in &docs {
                    let want = may_read(sender, level, closed);
                    assert_eq!(
                        listed.as_ref().is_some_and(|l| l.contains(id)),
                        want,
                        "{level} listed to {sender:?} over {via:?} (closed: {closed})"
                    );
                    // Fetched: over HTTP (the browser and the agent's relay) and as a QUIC manifest.
                    let fetched = match via {
                        Via::Http | Via::Ws => {
                            let h = match &token {
                                Some(t) => Http::for_base(&server.url("")).with_token(t),
                                None => Http::for_base(&server.url("")),
                            };
                            h.raw_get(&format!("/api/meetings/{}/documents/{}", r.meeting, id.0)).send().await?.status().as_u16()
                        }
                        Via::Quic => {
                            let link = gavel_agent::link::Link::connect(server.quic_addr, &server.fingerprint, b"gavel/1").await?;
                            let req = gavel_shared::pack::StreamRequest::Manifest {
                                token: token.clone().unwrap_or_default(),
                                meeting: r.meeting,
                                document: *id,
                            };
                            let (_s, mut recv) = gavel_agent::link::open_request(&link.connection, &req).await?;
                            match gavel_agent::link::read_reply(&mut recv).await? {
                                gavel_shared::pack::StreamReply::Manifest { .. } => 200,
                                gavel_shared::pack::StreamReply::Error { code, .. } if code == "not_found" => 404,
                                gavel_shared::pack::StreamReply::Error { code, .. } if code == "unauthorized" => 401,
                                other => anyhow::bail!("{other:?}"),
                            }
                        }
                    };
                    let expected = if want {
                        200
                    } else if sender == Sender::Nobody {
                        401
                    } else {
                        404
                    };
                    assert_eq!(fetched, expected, "{level} fetched by {sender:?} over {via:?} (closed: {closed})");
                }
            }
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_new_role_or_a_removal_counts_on_connections_already_open() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Scenario::build(&server).await?;
    let (chair_id, _) = s.person(Role::Chair, 0);
    let mut chair = s.ws_as(&server, Role::Chair, 0, None).await?;
    while chair.snapshot.is_none() {
        chair.recv().await?;
    }
    let mut delegate = s.ws_as(&server, Role::Delegate, 0, None).await?;
    while delegate.snapshot.is_none() {
        delegate.recv().await?;
    }
    // The only chair of an open meeting is not made a delegate: nobody
    // could close a vote or the meeting.
    let demote = Command::UpdateParticipant {
        participant: chair_id,
        name: "Nguyễn Văn Chủ".into(),
        position: String::new(),
        role: Role::Delegate,
        member: true,
        voting: true,
    };
    let a = s.admin.command(s.meeting, "demote-alone", &demote).await?;
    assert_eq!((a.status, a.code()), (409, "conflict"), "{a:?}");
    // The delegate made chair may act as chair at once.
    let (d, _) = s.person(Role::Delegate, 0);
    let promote = Command::UpdateParticipant {
        participant: d,
        name: "Lê Văn Một".into(),
        position: String::new(),
        role: Role::Chair,
        member: true,
        voting: true,
    };
    assert_eq!(s.admin.command(s.meeting, "promote", &promote).await?.status, 200);
    let moved = delegate.command(Command::NextItem { from: None }).await?;
    assert!(matches!(moved, ServerMessage::Ack { .. }), "{moved:?}");
    // And the other way, now that the meeting has another chair: the
    // secretary makes the chair a delegate while the chair's tablet is
    // connected; the tablet is told its new role, with the meeting as that
    // role sees it, and its next chair's command is refused.
    assert_eq!(s.admin.command(s.meeting, "demote", &demote).await?.status, 200);
    loop {
        if let ServerMessage::Welcome { actor, .. } = chair.recv().await? {
            assert_eq!(actor.role_in(s.meeting), Some(Role::Delegate));
            break;
        }
    }
    chair.snapshot = None;
    while chair.snapshot.is_none() {
        chair.recv().await?;
    }
    let refused = chair.command(Command::NextItem { from: None }).await?;
    assert!(matches!(&refused, ServerMessage::Error { code, .. } if code == "forbidden"), "{refused:?}");

    // A participant removed is told their session ended, and the connection closes.
    let (observer, _) = s.person(Role::Observer, 0);
    let mut watching = s.ws_as(&server, Role::Observer, 0, None).await?;
    while watching.snapshot.is_none() {
        watching.recv().await?;
    }
    assert_eq!(s.admin.command(s.meeting, "remove", &Command::RemoveParticipant { participant: observer }).await?.status, 200);
    assert_eq!(watching.next_error().await.context("closed before saying why")?, "revoked");
    assert!(watching.recv().await.is_err(), "the connection closes");
    Ok(())
}

#[tokio::test]
async fn a_list_of_pins_to_make_is_checked_before_any_is_hashed() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Scenario::build(&server).await?;
    let (d, _) = s.person(Role::Delegate, 0);
    // An observer asks for 30,000 PINs: refused at once, not after minutes of
    // argon2 that every sign-in would wait behind.
    let mut observer = s.ws_as(&server, Role::Observer, 0, None).await?;
    let started = std::time::Instant::now();
    let a = observer.command(Command::ResetPins { participants: vec![d; 30_000] }).await?;
    assert!(matches!(&a, ServerMessage::Error { code, .. } if code == "forbidden"), "{a:?}");
    // The secretary repeating an id is refused too, before hashing.
    let secretary = s.http_as(&server, Role::Secretary, 0).await?;
    let a = secretary.command(s.meeting, "many", &Command::ResetPins { participants: vec![d; 30_000] }).await?;
    assert_eq!((a.status, a.code()), (422, "invalid"), "{a:?}");
    // Sign-ins still answer (a generous bound: the refused lists cost no hashing).
    let _ = s.http_as(&server, Role::Delegate, 1).await?;
    eprintln!("refusals and a sign-in took {:?}", started.elapsed());
    Ok(())
}
