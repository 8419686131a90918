//! Property tests of what hostile input reaches first: the message decoder
//! and the command rules. A bounded number of cases, so they run in CI.
//!
//! - No input makes the decoder panic; anything over the size limit is
//!   refused before it is parsed.
//! - A command that decodes encodes back to itself.
//! - The rules never panic, never let anyone act on a meeting they are not
//!   part of, and never accept a command the rights table does not allow to
//!   that role in that state of the meeting. The role is the one the
//!   meeting gives the participant now, whatever role the sender's session
//!   was opened with.

use gavel_shared::decision::Attendance;
use gavel_shared::model::*;
use gavel_shared::protocol::{self, ClientMessage, Command, MAX_MESSAGE_BYTES, ProtocolError};
use gavel_shared::rules;
use gavel_shared::state::MeetingState;
use proptest::prelude::*;
use time::OffsetDateTime;

fn state(status: MeetingStatus) -> MeetingState {
    let mut s = MeetingState::new(Meeting {
        id: MeetingId(1),
        title: "Kỳ họp".into(),
        organisation: String::new(),
        place: String::new(),
        locality: String::new(),
        starts_at: OffsetDateTime::UNIX_EPOCH,
        status,
        current_item: (status == MeetingStatus::Open).then_some(ItemId(10)),
        quorum: Default::default(),
        speech_limit_secs: 300,
    });
    for (id, role) in [(1, Role::Chair), (2, Role::Secretary), (3, Role::Delegate), (4, Role::Observer)] {
        std::sync::Arc::make_mut(&mut s.participants).push(Participant {
            id: ParticipantId(id),
            name: format!("Người {id}"),
            position: String::new(),
            role,
            member: role != Role::Observer,
            voting: matches!(role, Role::Chair | Role::Delegate),
            attendance: Attendance::Present,
            excuse: String::new(),
        });
    }
    for id in [10, 11] {
        std::sync::Arc::make_mut(&mut s.agenda).push(AgendaItem {
            id: ItemId(id),
            title: format!("Mục {id}"),
            presenter: String::new(),
            summary: String::new(),
            status: ItemStatus::Pending,
        });
    }
    s
}

fn actor() -> impl Strategy<Value = Actor> {
    prop_oneof![
        (1i64..=2, 1i64..=6, prop::sample::select(Role::ALL.to_vec())).prop_map(|(m, p, role)| Actor::Participant {
            meeting: MeetingId(m),
            participant: ParticipantId(p),
            role
        }),
        (1i64..=3).prop_map(|s| Actor::Staff { staff: StaffId(s) }),
        (1i64..=2).prop_map(|m| Actor::Display { meeting: MeetingId(m) }),
    ]
}

/// Text a hostile client might send in a field: any Unicode, long or empty.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![".{0,40}", "[a-zA-Zàáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễ ]{0,80}", Just(String::new())]
}

/// Commands built from the wire format, with ids that may or may not exist.
fn command_json() -> impl Strategy<Value = String> {
    let id = -2i64..40;
    prop_oneof![
        Just(r#"{"type":"next_item"}"#.to_string()),
        Just(r#"{"type":"previous_item"}"#.to_string()),
        Just(r#"{"type":"open_meeting"}"#.to_string()),
        Just(r#"{"type":"close_meeting"}"#.to_string()),
        Just(r#"{"type":"request_to_speak"}"#.to_string()),
        id.clone().prop_map(|i| format!(r#"{{"type":"go_to_item","item":{i}}}"#)),
        id.clone().prop_map(|i| format!(r#"{{"type":"remove_item","item":{i}}}"#)),
        (id.clone(), 0usize..5).prop_map(|(i, p)| format!(r#"{{"type":"move_item","item":{i},"position":{p}}}"#)),
        (text(), text()).prop_map(|(t, s)| serde_json::json!({"type": "add_item", "title": t, "presenter": "", "summary": s}).to_string()),
        (id.clone(), prop::collection::vec(0u8..4, 0..4))
            .prop_map(|(p, c)| serde_json::json!({"type": "cast_ballot", "poll": p, "choices": c}).to_string()),
        id.clone().prop_map(|p| format!(r#"{{"type":"open_poll","poll":{p}}}"#)),
        id.clone().prop_map(|p| format!(r#"{{"type":"remove_participant","participant":{p}}}"#)),
        (id.clone(), text()).prop_map(|(p, r)| {
            serde_json::json!({"type": "set_attendance", "participant": p, "attendance": "excused", "reason": r}).to_string()
        }),
        text().prop_map(|t| serde_json::json!({"type": "edit_minutes", "section": "opening", "text": t}).to_string()),
        (text(), text()).prop_map(|(t, body)| {
            serde_json::json!({"type": "add_opinion", "stance": "agree", "text": body, "document": null, "title": t}).to_string()
        }),
        (1u32..20_000).prop_map(|s| format!(r#"{{"type":"set_speech_limit","seconds":{s}}}"#)),
        Just(r#"{"type":"sign_minutes"}"#.to_string()),
        Just(r#"{"type":"launch_missiles"}"#.to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_decoder_never_panics_on_any_text(s in ".{0,300}") {
        let _ = protocol::decode_client(&s);
    }

    #[test]
    fn the_decoder_never_panics_on_json_shaped_noise(s in r#"\{("[a-z_]{0,12}":(-?[0-9]{1,20}|"[^"]{0,10}"|null|true|\[\]|\{\}),?){0,6}\}"#) {
        let _ = protocol::decode_client(&s);
    }

    #[test]
    fn oversized_messages_are_refused_before_parsing(pad in 0usize..1000) {
        let text = format!(r#"{{"type":"ping","nonce":1,"x":"{}"}}"#, "a".repeat(MAX_MESSAGE_BYTES + pad));
        let refused = matches!(protocol::decode_client(&text), Err(ProtocolError::TooLarge { .. }));
        prop_assert!(refused);
    }

    #[test]
    fn commands_round_trip_and_the_rules_follow_the_rights_table(
        json in command_json(),
        who in actor(),
        status in prop::sample::select(vec![MeetingStatus::Draft, MeetingStatus::Open, MeetingStatus::Closed]),
    ) {
        let msg = format!(r#"{{"type":"command","key":"k","command":{json}}}"#);
        let Ok(ClientMessage::Command { command, .. }) = protocol::decode_client(&msg) else { return Ok(()) };
        let again = protocol::decode_client(&protocol::encode(&ClientMessage::Command { key: "k".into(), command: command.clone() }));
        let same = matches!(again, Ok(ClientMessage::Command { command: ref c, .. }) if *c == command);
        prop_assert!(same, "{:?} did not survive encoding", command);
        if matches!(command, Command::Unknown) {
            prop_assert!(rules::check(&state(status), &who, &command).is_err());
            return Ok(());
        }
        let s = state(status);
        let verdict = rules::check(&s, &who, &command);
        if verdict.is_ok() {
            let right = rules::right(command.kind());
            prop_assert!(right.is_some(), "accepted a command outside the table: {:?}", command);
            let right = right.unwrap();
            prop_assert!(who.role_in(s.meeting.id).is_some(), "{:?} acted on a meeting it is not part of: {:?}", who, command);
            let role = s.role_of(&who);
            prop_assert!(role.is_some(), "{:?} is no longer in the meeting: {:?}", who, command);
            prop_assert!(right.roles.contains(&role.unwrap()), "{:?} may not send {:?}", who, command);
            prop_assert!(right.statuses.contains(&status), "{:?} is not allowed while {:?}", command, status);
        }
    }
}

/// The property above is not vacuous: its commands decode, and the rules
/// both accept and refuse some of them.
#[test]
fn the_generated_commands_are_both_accepted_and_refused() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut decoded, mut accepted, mut refused) = (0, 0, 0);
    for _ in 0..2000 {
        let json = command_json().new_tree(&mut runner).unwrap().current();
        let who = actor().new_tree(&mut runner).unwrap().current();
        let msg = format!(r#"{{"type":"command","key":"k","command":{json}}}"#);
        if let Ok(ClientMessage::Command { command, .. }) = protocol::decode_client(&msg) {
            decoded += 1;
            match rules::check(&state(MeetingStatus::Open), &who, &command) {
                Ok(()) => accepted += 1,
                Err(_) => refused += 1,
            }
        }
    }
    // Fewer are accepted since the meeting's roles count rather than the
    // session's (a sender claiming a role it no longer holds is refused).
    assert!(decoded > 1500 && accepted > 25 && refused > 50, "decoded {decoded}, accepted {accepted}, refused {refused}");
}
