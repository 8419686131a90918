//! How the room decides, on screen: quorum, the speakers' list with its
//! timer, votes (buttons, the chair's console, results as bars), written
//! opinions, and the room display for the projector.

use crate::api;
use crate::app::{format_time, may, ms, state, use_ctx, with_state};
use crate::i18n::{I18n, use_i18n};
use crate::room::{run, run_or_undo, run_then};
use gavel_shared::decision::*;
use gavel_shared::model::*;
use gavel_shared::protocol::{Command, CommandKind};
use gavel_shared::state::MeetingState;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// An option of a poll in the viewer's language: a yes/no poll's options are
/// the room's fixed three, kept in Vietnamese.
fn option_label(i: I18n, poll: &Poll, n: usize) -> String {
    let key = ["vote.yes", "vote.no", "vote.abstain"];
    match (poll.kind, key.get(n)) {
        (PollKind::YesNo, Some(key)) if poll.options.get(n).map(String::as_str) == YES_NO_OPTIONS.get(n).copied() => i.t(key).to_string(),
        _ => poll.options.get(n).cloned().unwrap_or_default(),
    }
}

fn name_in(s: &MeetingState, id: ParticipantId) -> String {
    s.participant(id).map(|p| p.name.clone()).unwrap_or_else(|| format!("#{id}"))
}

/// Seconds left in a speech (negative once over), by the server's clock.
fn seconds_left(floor: &Floor) -> i64 {
    let ctx = use_ctx();
    ctx.tick.get();
    let elapsed = ((ctx.live.server_now_ms() - ms(floor.since)) / 1000.0).floor() as i64;
    i64::from(floor.limit_secs) - elapsed
}

fn mm_ss(secs: i64) -> String {
    let sign = if secs < 0 { "-" } else { "" };
    let s = secs.abs();
    format!("{sign}{:02}:{:02}", s / 60, s % 60)
}

/// A speech's time left, "time is up" and the time over once it is.
fn timer_text(i: I18n, f: &Floor) -> String {
    match (f.limit_secs, seconds_left(f)) {
        (0, _) => String::new(),
        (_, left) if left < 0 => format!("{} {}", i.t("speak.over"), mm_ss(left)),
        (_, left) => mm_ss(left),
    }
}

/// Present members against all members, and whether there is a quorum.
#[component]
pub fn QuorumBadge() -> impl IntoView {
    let i = use_i18n();
    let q = move || state().map(|s| s.quorum());
    view! {
        {move || q().map(|q| view! {
            <div id="quorum" class="quorum" class:ok=q.holds class:missing=!q.holds>
                <span class="label">{i.t("quorum")}": "</span>
                <strong>{format!("{}/{}", q.present, q.members)}</strong>" "{i.t("quorum.present")}
                " — "<span class="verdict">{if q.holds { i.t("quorum.holds") } else { i.t("quorum.missing") }}</span>
            </div>
        })}
    }
}

/// The person picked from `people`, while still among them: one who has
/// left the list since (voted on their own tablet, left the room) is no
/// longer picked, nor acted for.
fn still_listed(
    picked: RwSignal<Option<ParticipantId>>,
    people: Memo<Vec<(ParticipantId, String)>>,
) -> impl Fn() -> Option<ParticipantId> + Copy {
    move || picked.get().filter(|v| people.with(|l| l.iter().any(|(id, _)| id == v)))
}

/// One person picked from a list that changes as the room does. Its options
/// are keyed, so a change redraws none under the user's finger, and the
/// pick shown is [`still_listed`]'s.
#[component]
fn PersonPicker(
    people: Memo<Vec<(ParticipantId, String)>>,
    picked: RwSignal<Option<ParticipantId>>,
    #[prop(optional)] id: Option<&'static str>,
    #[prop(optional)] class: Option<&'static str>,
) -> impl IntoView {
    let chosen = still_listed(picked, people);
    view! {
        <select id=id class=class on:change=move |ev| picked.set(event_target_value(&ev).parse().ok().map(ParticipantId))>
            <option value="" prop:selected=move || chosen().is_none()>"—"</option>
            <For each=move || people.get() key=|v| v.clone() let((id, name))>
                <option value=id.0 prop:selected=move || chosen() == Some(id)>{name}</option>
            </For>
        </select>
    }
}

/// The speakers' list of the current item, with the speaking timer.
#[component]
pub fn SpeakersPanel(#[prop(into)] chair: Signal<bool>) -> impl IntoView {
    let i = use_i18n();
    let ctx = use_ctx();
    let me = move || ctx.live.actor.get().and_then(|a| a.participant());
    let has_item = move || state().is_some_and(|s| s.meeting.current_item.is_some() && s.meeting.status == MeetingStatus::Open);
    let waiting = move || state().map(|s| s.speakers.queue.clone()).unwrap_or_default();
    let floor = move || state().and_then(|s| s.speakers.floor);
    // Who the chair sees speaking (0: nobody), sent with the floor given:
    // the same press on another device meanwhile is not taken twice.
    let seen = move || Some(with_state(|s| s.speakers.floor.map(|f| f.participant)).flatten().unwrap_or(ParticipantId(0)));
    let in_queue = move || me().is_some_and(|m| waiting().contains(&m));
    // Only those present ask to speak (the room refuses the others).
    let present = move || {
        me().is_some_and(|m| with_state(|s| s.participant(m).is_some_and(|p| p.attendance == Attendance::Present)).unwrap_or(false))
    };
    // Read once per change of the limit, not at every event: written back
    // into the field at each one, it undid what the chair was typing.
    let limit = Memo::new(move |_| with_state(|s| s.meeting.speech_limit_secs / 60));
    let speaking = move || me().is_some_and(|m| floor().is_some_and(|f| f.participant == m));
    // The chair may invite anyone present who has not asked (a presenter,
    // a department head called to explain), as well as those waiting.
    let invited = RwSignal::new(None::<ParticipantId>);
    let invitable = Memo::new(move |_| {
        with_state(|s| {
            s.participants_sorted()
                .into_iter()
                .filter(|p| p.attendance == Attendance::Present && s.speakers.floor.is_none_or(|f| f.participant != p.id))
                .map(|p| (p.id, p.name.clone()))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
    });
    let chosen = still_listed(invited, invitable);
    let invite = move |_| {
        if let Some(p) = untrack(chosen) {
            run_then(Command::GiveFloor { participant: Some(p), from: seen() }, false, move || {
                let _ = invited.try_set(None);
            });
        }
    };
    view! {
        <section class="speakers card">
            <h2>{move || i.t("speak")}</h2>
            {move || floor().map(|f| {
                let name = state().map(|s| name_in(&s, f.participant)).unwrap_or_default();
                view! {
                    <div class="floor" id="floor">
                        <span class="label">{i.t("speak.floor")}": "</span><strong>{name}</strong>
                        <span class="timer" class:over=move || { f.limit_secs > 0 && seconds_left(&f) < 0 } id="speech-timer">
                            {move || timer_text(i, &f)}
                        </span>
                        <Show when=move || chair.get()>
                            <button class="danger" id="end-speech" on:click=move |_| run(Command::EndSpeech, false)>{move || i.t("speak.end")}</button>
                        </Show>
                    </div>
                }
            })}
            <h3>{move || i.t("speak.queue")}</h3>
            {move || {
                let q = waiting();
                if q.is_empty() {
                    view! { <p class="muted">{i.t("speak.none")}</p> }.into_any()
                } else {
                    let s = state();
                    view! {
                        <ol class="queue" id="speaker-queue">
                            {q.into_iter().map(|p| {
                                let name = s.as_ref().map(|s| name_in(s, p)).unwrap_or_default();
                                view! {
                                    <li data-participant=p.0>{name}
                                        <Show when=move || chair.get()>
                                            <button class="goto" on:click=move |_| run(Command::GiveFloor { participant: Some(p), from: seen() }, false)>{move || i.t("speak.give")}</button>
                                            <button class="secondary dismiss" title=move || i.t("speak.dismiss_hint")
                                                on:click=move |_| run(Command::DismissRequest { participant: p }, false)>{move || i.t("speak.dismiss")}</button>
                                        </Show>
                                    </li>
                                }
                            }).collect_view()}
                        </ol>
                    }.into_any()
                }
            }}
            // Who has spoken on this item, in order: the chair sees who has not yet.
            {move || {
                let names: Vec<String> = with_state(|s| {
                    let Some(item) = s.meeting.current_item else { return vec![] };
                    s.speakers.spoken_on(item).filter(|p| s.participant(*p).is_some()).map(|p| name_in(s, p)).collect()
                })
                .unwrap_or_default();
                (!names.is_empty()).then(|| view! {
                    <p class="spoken small muted" id="spoken">{move || i.t("speak.spoken")}": "{names.join(", ")}</p>
                })
            }}
            <Show when=move || chair.get() && !waiting().is_empty()>
                <button class="primary" id="next-speaker" on:click=move |_| run(Command::GiveFloor { participant: None, from: seen() }, false)>{move || i.t("speak.next")}</button>
            </Show>
            <Show when=move || chair.get() && has_item()>
                <div class="invite">
                    <label>{move || i.t("speak.invite")}
                        <PersonPicker people=invitable picked=invited id="invite-speaker"/>
                    </label>
                    <button id="invite" disabled=move || chosen().is_none() on:click=invite>{move || i.t("speak.give")}</button>
                </div>
                // The time each speech may take, changed from the room (from the next speech on).
                <label class="speech-limit">{move || i.t("speak.limit")}
                    <input type="number" min="0" max="60" id="room-speech-limit"
                        prop:value=move || limit.get().map(|m| m.to_string()).unwrap_or_default()
                        on:change=change_speech_limit/>
                </label>
            </Show>
            // The one speaking does not ask to speak.
            <Show when=move || !chair.get() && me().is_some() && has_item() && !speaking()>
                {move || if in_queue() {
                    view! { <button class="secondary" id="withdraw" on:click=move |_| run(Command::WithdrawRequest, false)>{i.t("speak.withdraw")}</button> }.into_any()
                } else {
                    present().then(|| view! { <button class="primary big" id="ask-to-speak" on:click=move |_| run(Command::RequestToSpeak, false)>{i.t("speak.ask")}</button> }).into_any()
                }}
            </Show>
        </section>
    }
}

/// A speech-limit field (in minutes) changed, from the room or while
/// preparing: sent, and if refused or offline the field shows the limit
/// the room holds.
pub fn change_speech_limit(ev: leptos::ev::Event) {
    let target: web_sys::HtmlInputElement = event_target(&ev);
    if let Ok(min) = event_target_value(&ev).parse::<u32>() {
        run_or_undo(Command::SetSpeechLimit { seconds: min.saturating_mul(60) }, move || {
            target.set_value(&with_state(|s| (s.meeting.speech_limit_secs / 60).to_string()).unwrap_or_default());
        });
    }
}

/// A poll's rule in words, as the minutes say it ("Quá nửa số phiếu bầu"
/// for an election, whatever its share), capitalised.
fn rule_label(i: I18n, kind: PollKind, rule: &MajorityRule) -> String {
    let text = rule.text(kind, i.0.get() == crate::i18n::Lang::Vi);
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The rules the new-poll form offers, by the names it keeps them under.
const RULES: [(&str, MajorityRule); 4] = [
    ("all_half", MajorityRule { basis: Basis::AllMembers, share: Share::MORE_THAN_HALF }),
    ("present_half", MajorityRule { basis: Basis::MembersPresent, share: Share::MORE_THAN_HALF }),
    ("cast_half", MajorityRule { basis: Basis::VotesCast, share: Share::MORE_THAN_HALF }),
    ("all_two_thirds", MajorityRule { basis: Basis::AllMembers, share: Share::TWO_THIRDS }),
];

/// Votes per option as bars, with the verdict.
#[component]
fn ResultChart(poll: Poll) -> impl IntoView {
    let i = use_i18n();
    let Some(r) = poll.result.clone() else { return view! { <span></span> }.into_any() };
    let max = r.counts.iter().copied().max().unwrap_or(0).max(1);
    // A vote that failed for want of a quorum says so, as the minutes do:
    // the hall may see most votes in favour and "not adopted".
    let verdict = match (poll.kind, r.adopted) {
        (PollKind::YesNo, true) => i.t("poll.passed").to_string(),
        (PollKind::YesNo, false) if !r.quorum.holds => format!("{} ({})", i.t("poll.failed"), i.t("poll.no_quorum")),
        (PollKind::YesNo, false) => i.t("poll.failed").to_string(),
        (PollKind::Choice, _) if !r.quorum.holds => format!("{} ({})", i.t("poll.none_elected"), i.t("poll.no_quorum")),
        (PollKind::Choice, true) => i.t("poll.results").to_string(),
        (PollKind::Choice, false) => i.t("poll.none_elected").to_string(),
    };
    view! {
        <div class="result" data-poll=poll.id.0 class:adopted=r.adopted>
            <div class="verdict" id=format!("verdict-{}", poll.id.0)>{verdict}</div>
            <ul class="bars">
                {(0..poll.options.len()).map(|n| {
                    let o = option_label(i, &poll, n);
                    let count = r.counts.get(n).copied().unwrap_or(0);
                    let pct = if r.base > 0 { f64::from(count) * 100.0 / f64::from(r.base) } else { 0.0 };
                    // Counted against the votes for and against, an
                    // abstention is outside the base: no share of it.
                    let share = if !poll.in_share(n) {
                        i.t("poll.not_in_share").to_string()
                    } else {
                        // Two decimals, as the minutes: 1,001 of 2,001 is 50,02%, not a "50,0%" beside "adopted".
                        format!("{}%", i.number(pct, 2))
                    };
                    let width = f64::from(count) * 100.0 / f64::from(max);
                    let elected = poll.kind == PollKind::Choice && r.passed.get(n).copied().unwrap_or(false);
                    let tied = r.tied.get(n).copied().unwrap_or(false);
                    view! {
                        <li class="bar-row" data-option=n>
                            <span class="bar-label">{o.clone()}{elected.then(|| format!(" ✓ {}", i.t("poll.elected")))}{tied.then(|| format!(" — {}", i.t("poll.tied")))}</span>
                            <span class="bar"><span class=format!("fill opt-{n}") style=format!("width:{width:.1}%")></span></span>
                            <span class="bar-count">{count}" ("{share}")"</span>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <p class="muted small">
                {format!("{}: {} · {} {} {} {} · {}", i.t("poll.ballots"), r.ballots, i.t("poll.needed"), r.needed, i.t("poll.base"), r.base, rule_label(i, poll.kind, &poll.rule))}
                {(r.by_secretary > 0).then(|| format!(" · {} {}", r.by_secretary, i.t("poll.by_secretary")))}
                " · "{i.t("quorum")}" "{format!("{}/{}", r.quorum.present, r.quorum.members)}
            </p>
        </div>
    }
    .into_any()
}

/// The live counts of an open named poll, for the chair and secretary,
/// following each ballot.
#[component]
fn LiveCounts(poll: Memo<Option<Poll>>) -> impl IntoView {
    let i = use_i18n();
    view! {
        <ul class="bars live" id="live-counts">
            {move || poll.with(|p| p.as_ref().map(|poll| {
                let counts = poll.live_counts();
                let max = counts.iter().copied().max().unwrap_or(0).max(1);
                (0..poll.options.len()).map(|n| {
                    let c = counts.get(n).copied().unwrap_or(0);
                    view! {
                        <li class="bar-row" data-option=n>
                            <span class="bar-label">{option_label(i, poll, n)}</span>
                            <span class="bar"><span class=format!("fill opt-{n}") style=format!("width:{:.1}%", f64::from(c) * 100.0 / f64::from(max))></span></span>
                            <span class="bar-count count">{c}</span>
                        </li>
                    }
                }).collect_view()
            }))}
        </ul>
    }
}

/// The voting buttons of an open poll, and the confirmation once voted.
/// Drawn again when this viewer's own ballot changes, not on others'.
#[component]
fn Ballot(poll: Poll) -> impl IntoView {
    let i = use_i18n();
    let ctx = use_ctx();
    let me = ctx.live.actor.get_untracked().and_then(|a| a.participant());
    let eligible = Memo::new(move |_| {
        with_state(|s| me.and_then(|me| s.participant(me)).is_some_and(|p| p.votes() && p.attendance == Attendance::Present))
            .unwrap_or(false)
    });
    let voted = me.is_some_and(|m| poll.voters.contains(&m));
    let mine = me.and_then(|m| poll.ballots.iter().find(|b| b.voter == m).cloned());
    let can_change = voted && !poll.secret && poll.allow_change;
    let picked = RwSignal::new(Vec::<u8>::new());
    // A ballot on its way: the buttons wait for the room's answer, so a
    // second tap on a slow link is not a second ballot.
    let sending = RwSignal::new(false);
    let id = poll.id;
    let multi = poll.kind == PollKind::Choice && poll.max_choices > 1;
    let max = poll.max_choices;
    let labels: Vec<String> = (0..poll.options.len()).map(|n| option_label(i, &poll, n)).collect();
    // A ballot that cannot be taken back is confirmed first.
    let final_ballot = !poll.allow_change || poll.secret;
    let secret = poll.secret;
    let cast = move |choices: Vec<u8>, names: String| {
        if sending.get_untracked() {
            return;
        }
        if final_ballot {
            let key = if secret { "poll.confirm_secret" } else { "poll.confirm" };
            if !window().confirm_with_message(&format!("{}\n\n{names}", i.t(key))).unwrap_or(false) {
                return;
            }
        }
        sending.set(true);
        crate::live::send(Command::CastBallot { poll: id, choices }, move |r| {
            let _ = sending.try_set(false);
            if let Err((code, message)) = r {
                ctx.fail(i, &code, &message);
            }
        });
    };
    let confirmation = voted.then(|| {
        if poll.secret {
            i.t("poll.secret_recorded").to_string()
        } else {
            let chosen: Vec<String> = mine.iter().flat_map(|b| b.choices.iter()).map(|c| option_label(i, &poll, usize::from(*c))).collect();
            format!("{}: {}", i.t("poll.recorded"), chosen.join(", "))
        }
    });
    let show_buttons = !voted || can_change;
    let buttons = move || {
        let labels = labels.clone();
        let names = labels.clone();
        view! {
            <div class="vote-buttons" class:multi=multi aria-busy=move || sending.get().to_string()>
                {labels.into_iter().enumerate().map(|(n, o)| {
                    let n = n as u8;
                    if multi {
                        view! {
                            <label class="vote-option check" data-option=n>
                                <input type="checkbox" prop:checked=move || picked.get().contains(&n) on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    picked.update(|p| { p.retain(|x| *x != n); if on && p.len() < usize::from(max) { p.push(n) } });
                                }/>{o}
                            </label>
                        }.into_any()
                    } else {
                        let name = o.clone();
                        view! {
                            <button class=format!("vote-option opt-{n}") data-option=n disabled=move || sending.get()
                                on:click=move |_| cast(vec![n], name.clone())>{o}</button>
                        }.into_any()
                    }
                }).collect_view()}
                {multi.then(|| view! {
                    <button class="primary" id="cast-ballot" disabled=move || sending.get() on:click=move |_| {
                        let choices = picked.get_untracked();
                        let chosen: Vec<String> = choices.iter().filter_map(|c| names.get(usize::from(*c)).cloned()).collect();
                        cast(choices, chosen.join(", "))
                    }>{i.t("poll")}</button>
                })}
                {move || sending.get().then(|| view! { <span class="muted small" id="ballot-sending">{i.t("poll.sending")}</span> })}
            </div>
        }
    };
    view! {
        <div class="ballot">
            // A ballot cast stays confirmed to its voter when they leave the
            // room (it counts): only the buttons go.
            {move || {
                let confirmation = confirmation.clone().map(|text| view! { <div class="confirm" id="vote-confirmation">"✔ "{text}</div> });
                if eligible.get() {
                    view! { {confirmation}{show_buttons.then(buttons.clone())} }.into_any()
                } else if confirmation.is_some() {
                    confirmation.into_any()
                } else {
                    view! { <p class="muted" id="not-voting">{i.t("poll.not_voting")}</p> }.into_any()
                }
            }}
        </div>
    }
}

/// The chair's controls and the secretary's manual entries for one poll.
#[component]
fn PollConsole(poll: Poll, chair: bool, secretary: bool) -> impl IntoView {
    let i = use_i18n();
    let id = poll.id;
    let status = poll.status;
    let voter = RwSignal::new(None::<ParticipantId>);
    // Empty until the secretary picks: a ballot entered for someone is
    // never the first option by default. An election may take several.
    let per_ballot = poll.choices_per_ballot();
    let choice = RwSignal::new(Vec::<u8>::new());
    // A show of hands is entered whole, each time replacing the last: the
    // form starts from the counts the room holds, so that a correction of
    // one count (or a page loaded again) does not wipe out the others.
    let hands = RwSignal::new(if poll.hands.len() == poll.options.len() { poll.hands.clone() } else { vec![0u32; poll.options.len()] });
    // Who may still have a ballot entered for them, as ballots come in.
    // A Memo, its options keyed: each ballot takes one voter out of the list
    // without redrawing the others under the secretary's choice.
    let eligible = Memo::new(move |_| {
        with_state(|s| {
            let voted: std::collections::HashSet<ParticipantId> =
                s.poll(id).map(|p| p.voters.iter().copied().collect()).unwrap_or_default();
            s.participants_sorted()
                .into_iter()
                .filter(|p| p.votes() && p.attendance == Attendance::Present && !voted.contains(&p.id))
                .map(|p| (p.id, p.name.clone()))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
    });
    // The voter chosen, while still owed a ballot: one who has since voted
    // on their own tablet is no longer shown, nor saved for.
    let chosen = still_listed(voter, eligible);
    let options: Vec<String> = (0..poll.options.len()).map(|n| option_label(i, &poll, n)).collect();
    let options2 = options.clone();
    let labels = options.clone();
    // Entered once asked: the voter's name and choice, as a ballot of their own is.
    let enter = move |_| {
        let (Some(v), mut c) = (untrack(chosen), choice.get_untracked()) else { return };
        if c.is_empty() {
            return;
        }
        c.sort_unstable();
        let name = eligible.with_untracked(|l| l.iter().find(|(id, _)| *id == v).map(|(_, n)| n.clone())).unwrap_or_default();
        let label = c.iter().filter_map(|n| labels.get(usize::from(*n)).cloned()).collect::<Vec<_>>().join(", ");
        if window().confirm_with_message(&format!("{}\n\n{name}: {label}", i.t("poll.enter_confirm"))).unwrap_or(false) {
            run_then(Command::CastBallotFor { poll: id, voter: v, choices: c }, true, move || {
                let _ = choice.try_set(Vec::new());
            });
        }
    };
    view! {
        <div class="console">
            {move || (chair && status == PollStatus::Draft && may(CommandKind::OpenPoll)).then(|| view! {
                <button class="primary" id=format!("open-poll-{}", id.0) on:click=move |_| run(Command::OpenPoll { poll: id }, false)>{i.t("poll.open")}</button>
            })}
            {(chair && status == PollStatus::Open).then(|| view! {
                // Asked first: the button takes the place of "open" under the
                // chair's finger, and a vote closed is closed for good.
                <button class="primary" id=format!("close-poll-{}", id.0) on:click=move |_| {
                    if window().confirm_with_message(i.t("poll.close_confirm")).unwrap_or(false) {
                        run(Command::ClosePoll { poll: id }, false)
                    }
                }>{i.t("poll.close")}</button>
            })}
            {move || (chair && matches!(status, PollStatus::Draft | PollStatus::Open) && may(CommandKind::CancelPoll)).then(|| view! {
                <button class="danger" on:click=move |_| {
                    if let Ok(Some(reason)) = window().prompt_with_message(i.t("poll.cancel_reason")) {
                        run(Command::CancelPoll { poll: id, reason }, false);
                    }
                }>{i.t("poll.cancel")}</button>
            })}
            {(secretary && status == PollStatus::Open).then(|| view! {
                <details class="manual">
                    <summary>{i.t("poll.enter_for")}</summary>
                    <div class="grid-form">
                        <label>{i.t("poll.voter")}
                            <PersonPicker people=eligible picked=voter class="enter-voter"/>
                        </label>
                        {if per_ballot == 1 {
                            view! {
                                <label>{i.t("poll.choice")}
                                    <select class="enter-choice" on:change=move |ev| choice.set(event_target_value(&ev).parse().ok().into_iter().collect())>
                                        <option value="" prop:selected=move || choice.with(Vec::is_empty)>"—"</option>
                                        {options.into_iter().enumerate().map(|(n, o)| {
                                            let n = n as u8;
                                            view! { <option value=n prop:selected=move || choice.with(|c| c.contains(&n))>{o}</option> }
                                        }).collect_view()}
                                    </select>
                                </label>
                            }.into_any()
                        } else {
                            // An election: as many names as the ballot allows.
                            view! {
                                <fieldset class="enter-choices">
                                    <legend>{format!("{} ({} {per_ballot})", i.t("poll.choice"), i.t("poll.at_most"))}</legend>
                                    {options.into_iter().enumerate().map(|(n, o)| {
                                        let n = n as u8;
                                        let on = move || choice.with(|c| c.contains(&n));
                                        view! {
                                            <label class="check">
                                                <input type="checkbox" value=n prop:checked=on
                                                    disabled=move || !on() && choice.with(|c| c.len() >= per_ballot)
                                                    on:change=move |_| choice.update(|c| if c.contains(&n) { c.retain(|x| *x != n) } else { c.push(n) })/>
                                                {o}
                                            </label>
                                        }
                                    }).collect_view()}
                                </fieldset>
                            }.into_any()
                        }}
                        <button class="enter-ballot" disabled=move || chosen().is_none() || choice.with(Vec::is_empty) on:click=enter>{i.t("prep.save")}</button>
                    </div>
                </details>
                <details class="manual">
                    <summary>{i.t("poll.hands")}</summary>
                    <div class="grid-form">
                        {options2.into_iter().enumerate().map(|(n, o)| view! {
                            <label>{o}<input type="number" min="0" prop:value=move || hands.get().get(n).copied().unwrap_or(0).to_string()
                                on:input=move |ev| { let v = event_target_value(&ev).parse().unwrap_or(0); hands.update(|h| if let Some(x) = h.get_mut(n) { *x = v }) }/></label>
                        }).collect_view()}
                        {(per_ballot > 1).then(|| view! { <p class="muted small wide hands-note">{i.t("poll.hands_election")}</p> })}
                        <button on:click=move |_| run(Command::RecordHands { poll: id, counts: hands.get_untracked() }, true)>{i.t("prep.save")}</button>
                    </div>
                </details>
            })}
        </div>
    }
}

/// What a poll is drawn anew for: its status, the viewer's own ballot and
/// language. Anyone else's ballot only moves its counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PollKey {
    id: PollId,
    lang: crate::i18n::Lang,
    status: PollStatus,
    mine: Option<Vec<u8>>,
    voted: bool,
}

/// The polls of an item: voting, live counts, results, and (for the chair
/// and secretary) the console and a form for a new poll.
#[component]
pub fn PollsPanel(item: ItemId, #[prop(into)] chair: Signal<bool>, #[prop(into)] secretary: Signal<bool>) -> impl IntoView {
    let i = use_i18n();
    let ctx = use_ctx();
    let polls = Memo::new(move |_| {
        let me = ctx.live.actor.get().and_then(|a| a.participant());
        let lang = i.0.get();
        with_state(|s| {
            s.polls
                .iter()
                .filter(|p| p.item == item || p.status == PollStatus::Open)
                .map(|p| PollKey {
                    id: p.id,
                    lang,
                    status: p.status,
                    mine: me.and_then(|me| p.ballots.iter().find(|b| b.voter == me).map(|b| b.choices.clone())),
                    voted: me.is_some_and(|me| p.voters.contains(&me)),
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
    });
    let privileged = move || chair.get() || secretary.get();
    let shown = move || privileged() || !polls.with(Vec::is_empty);
    view! {
        <Show when=shown>
        <section class="polls card" id="polls">
            <h2>{move || i.t("poll")}</h2>
            <For each=move || polls.get() key=|k| k.clone() let(k)>
                <PollView id=k.id chair secretary/>
            </For>
            <Show when=move || privileged() && may(CommandKind::CreatePoll)>
                <NewPoll item/>
            </Show>
        </section>
        </Show>
    }
}

/// One poll, drawn for its status; its progress and live counts follow the
/// ballots.
#[component]
fn PollView(id: PollId, chair: Signal<bool>, secretary: Signal<bool>) -> impl IntoView {
    let i = use_i18n();
    let current = Memo::new(move |_| with_state(|s| s.poll(id).cloned()).flatten());
    let Some(p) = current.get_untracked() else { return ().into_any() };
    let status_text = match p.status {
        PollStatus::Draft => i.t("poll.draft"),
        PollStatus::Open | PollStatus::Closed => "",
        PollStatus::Cancelled => i.t("poll.cancelled"),
    };
    let open = p.status == PollStatus::Open;
    let kind = if p.secret { i.t("poll.secret") } else { i.t("poll.named") };
    let secret = p.secret;
    // Counted, of those it can count: voters who left after voting stay in
    // both, and a show of hands counts.
    let progress = Memo::new(move |_| with_state(|s| s.poll(id).map(|p| s.vote_progress(p))).flatten().unwrap_or((0, 0)));
    let voted = move || progress.get().0;
    let voters_present = move || progress.get().1;
    let (p2, p3, p4) = (p.clone(), p.clone(), p.clone());
    view! {
        <div class="poll" class:open=open data-poll=p.id.0 data-status=p.status.as_str()>
            <div class="poll-head"><span class="tag">{kind}</span>" "{(!status_text.is_empty()).then(|| view! { <span class="tag">{status_text}</span> })}</div>
            <p class="question">{p.question.clone()}</p>
            {p.cancel_reason.clone().map(|r| view! { <p class="muted">{i.t("poll.cancel_reason")}": "{r}</p> })}
            {open.then(|| view! {
                <p class="progress" id="poll-progress"><strong>{voted}</strong>" / "{voters_present}" "{i.t("poll.voted")}</p>
            })}
            {open.then(|| view! { <Ballot poll=p2/> })}
            {move || (open && !secret && (chair.get() || secretary.get())).then(|| view! { <LiveCounts poll=current/> })}
            {(p.status == PollStatus::Closed).then(|| view! { <ResultChart poll=p3/> })}
            {move || {
                let (is_chair, is_sec) = (chair.get(), secretary.get());
                (is_chair || is_sec).then(|| view! { <PollConsole poll=p4.clone() chair=is_chair secretary=is_sec/> })
            }}
        </div>
    }
    .into_any()
}

#[component]
fn NewPoll(item: ItemId) -> impl IntoView {
    let i = use_i18n();
    let d = POLL_DRAFTS.with(|p| p.borrow().get(&item).cloned()).unwrap_or_default();
    let question = RwSignal::new(d.question);
    let election = RwSignal::new(d.election);
    let options = RwSignal::new(d.options);
    let max_choices = RwSignal::new(d.max_choices);
    let secret = RwSignal::new(d.secret);
    let allow_change = RwSignal::new(d.allow_change);
    let rule = RwSignal::new(d.rule.clone());
    let opened = RwSignal::new(d.open);
    // Kept as it is typed: the form is built anew when the chair moves on.
    Effect::new(move |_| {
        let draft = PollDraft {
            question: question.get(),
            election: election.get(),
            options: options.get(),
            max_choices: max_choices.get(),
            secret: secret.get(),
            allow_change: allow_change.get(),
            rule: rule.get(),
            open: opened.get(),
        };
        POLL_DRAFTS.with(|p| p.borrow_mut().insert(item, draft));
    });
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let rule = RULES.iter().find(|(name, _)| *name == rule.get_untracked()).map_or_else(MajorityRule::default, |(_, r)| *r);
        let kind = if election.get_untracked() { PollKind::Choice } else { PollKind::YesNo };
        let options: Vec<String> = options.get_untracked().lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
        run_then(
            Command::CreatePoll {
                item,
                question: question.get_untracked(),
                kind,
                options,
                max_choices: max_choices.get_untracked(),
                secret: secret.get_untracked(),
                allow_change: allow_change.get_untracked() && !secret.get_untracked(),
                rule,
            },
            false,
            move || {
                let _ = question.try_set(String::new());
                // Created, it is no longer a draft, even if the chair moved
                // on before the room answered (the form is gone then).
                POLL_DRAFTS.with(|p| p.borrow_mut().remove(&item));
            },
        );
    };
    view! {
        <details class="new-poll" prop:open=move || opened.get()
            on:toggle=move |ev| opened.set(event_target::<web_sys::Element>(&ev).has_attribute("open"))>
            <summary>{move || i.t("poll.new")}</summary>
            <form class="grid-form" id="new-poll" on:submit=create>
                <label class="wide">{move || i.t("poll.question")}<textarea id="poll-question" required prop:value=move || question.get() on:input=move |ev| question.set(event_target_value(&ev))></textarea></label>
                <label class="check"><input type="checkbox" id="poll-secret" prop:checked=move || secret.get() on:change=move |ev| secret.set(event_target_checked(&ev))/>{move || i.t("poll.secret")}</label>
                <label class="check"><input type="checkbox" prop:checked=move || allow_change.get() disabled=move || secret.get() on:change=move |ev| allow_change.set(event_target_checked(&ev))/>{move || i.t("poll.allow_change")}</label>
                <label class="check"><input type="checkbox" prop:checked=move || election.get() on:change=move |ev| election.set(event_target_checked(&ev))/>{move || i.t("poll.election")}</label>
                <Show when=move || election.get()>
                    <label class="wide">{move || i.t("poll.options")}<textarea prop:value=move || options.get() on:input=move |ev| options.set(event_target_value(&ev))></textarea></label>
                    <label>{move || i.t("poll.max_choices")}<input type="number" min="1" prop:value=move || max_choices.get().to_string() on:input=move |ev| max_choices.set(event_target_value(&ev).parse().unwrap_or(1))/></label>
                </Show>
                <label>{move || i.t("poll.rule")}
                    <select on:change=move |ev| rule.set(event_target_value(&ev))>
                        {RULES.map(|(r, rule)| view! {
                            <option value=r selected=d.rule == r>{move || {
                                let kind = if election.get() { PollKind::Choice } else { PollKind::YesNo };
                                rule_label(i, kind, &rule)
                            }}</option>
                        })}
                    </select>
                </label>
                <button type="submit" id="create-poll">{move || i.t("poll.create")}</button>
            </form>
        </details>
    }
}

/// A vote being prepared on an item and not yet created. The polls panel
/// is built anew at each agenda move, and the question typed for the item
/// left was lost with it (opinions being written were kept already).
#[derive(Clone)]
struct PollDraft {
    question: String,
    election: bool,
    options: String,
    max_choices: u8,
    secret: bool,
    allow_change: bool,
    rule: String,
    /// The form was open.
    open: bool,
}

impl Default for PollDraft {
    fn default() -> Self {
        PollDraft {
            question: String::new(),
            election: false,
            options: String::new(),
            max_choices: 1,
            secret: false,
            allow_change: false,
            rule: "all_half".into(),
            open: false,
        }
    }
}

thread_local! {
    /// The page's unfinished votes, by item (forgotten at sign-out).
    static POLL_DRAFTS: std::cell::RefCell<std::collections::HashMap<ItemId, PollDraft>> = Default::default();
}

fn stance_key(s: Stance) -> &'static str {
    match s {
        Stance::Agree => "stance.agree",
        Stance::Disagree => "stance.disagree",
        Stance::AgreeWithComments => "stance.agree_with_comments",
        Stance::Comment => "stance.comment",
    }
}

/// Opinions being written and not yet sent, per agenda item, with their
/// stance and document. They outlive the opinion form: a delegate following
/// the meeting sees the form change item when the chair moves on, and an old
/// tablet's browser may reload the page when another app is opened; neither
/// may lose the text. Kept in the tab's session storage (gone with the tab)
/// under the writer's participant id: the next person signed in on a shared
/// tablet never sees them, and they are deleted then.
#[derive(Clone, Copy)]
pub struct Drafts {
    /// Whose drafts these are; none for staff accounts, who write no opinion.
    owner: Option<ParticipantId>,
    /// Items with an unsent opinion.
    items: RwSignal<Vec<ItemId>>,
    /// The room's choice of item, to open one with a draft.
    open: RwSignal<Option<ItemId>>,
}

/// One unsent opinion.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct Draft {
    text: String,
    stance: Option<Stance>,
    document: Option<DocumentId>,
}

const DRAFT_PREFIX: &str = "gavel.opinion-draft.";

fn draft_storage() -> Option<web_sys::Storage> {
    window().session_storage().ok().flatten()
}

/// The keys of every draft in this tab, with whose and which item's they are.
fn draft_keys() -> Vec<(String, ParticipantId, ItemId)> {
    let Some(s) = draft_storage() else { return vec![] };
    (0..s.length().unwrap_or(0))
        .filter_map(|n| s.key(n).ok().flatten())
        .filter_map(|k| {
            let (who, item) = k.strip_prefix(DRAFT_PREFIX)?.split_once('.')?;
            let (who, item) = (ParticipantId(who.parse().ok()?), ItemId(item.parse().ok()?));
            Some((k, who, item))
        })
        .collect()
}

/// Forgets every unsent opinion in this tab: at signing out, or when the
/// room ends the session.
pub fn forget_drafts() {
    POLL_DRAFTS.with(|p| p.borrow_mut().clear());
    if let Some(s) = draft_storage() {
        for (k, _, _) in draft_keys() {
            let _ = s.remove_item(&k);
        }
    }
}

impl Drafts {
    /// The drafts of `owner` in this tab (anyone else's are deleted);
    /// `open` is the room's choice of item.
    pub fn new(owner: Option<ParticipantId>, open: RwSignal<Option<ItemId>>) -> Drafts {
        let mut items = vec![];
        for (k, who, item) in draft_keys() {
            if Some(who) == owner {
                items.push(item);
            } else if let Some(s) = draft_storage() {
                let _ = s.remove_item(&k);
            }
        }
        items.sort();
        Drafts { owner, items: RwSignal::new(items), open }
    }

    fn key(self, item: ItemId) -> Option<String> {
        self.owner.map(|p| format!("{DRAFT_PREFIX}{}.{}", p.0, item.0))
    }

    fn get(self, item: ItemId) -> Draft {
        let stored = self.key(item).and_then(|k| draft_storage()?.get_item(&k).ok().flatten());
        stored.and_then(|json| serde_json::from_str(&json).ok()).unwrap_or_default()
    }

    /// Keeps `draft` for `item`; one with no text is no draft.
    fn keep(self, item: ItemId, draft: &Draft) {
        let Some(key) = self.key(item) else { return };
        let blank = draft.text.trim().is_empty();
        if let Some(s) = draft_storage() {
            let _ = if blank { s.remove_item(&key) } else { s.set_item(&key, &serde_json::to_string(draft).unwrap_or_default()) };
        }
        let listed = self.items.try_with_untracked(|l| l.contains(&item));
        if listed.is_some_and(|listed| listed == blank) {
            self.items.try_update(|l| {
                l.retain(|x| *x != item);
                if !blank {
                    l.push(item);
                    l.sort();
                }
            });
        }
    }
}

/// Written opinions on an item: write one; the chair and secretary see all,
/// ask members by a deadline, and see who has answered.
#[component]
pub fn OpinionsPanel(item: ItemId, #[prop(into)] privileged: Signal<bool>) -> impl IntoView {
    let i = use_i18n();
    let ctx = use_ctx();
    let drafts = use_context::<Drafts>();
    let draft = drafts.map(|d| d.get(item)).unwrap_or_default();
    let stance = RwSignal::new(draft.stance.unwrap_or(Stance::Agree));
    let text = RwSignal::new(draft.text);
    let document = RwSignal::new(draft.document);
    let deadline = RwSignal::new(String::new());
    // Why opinions on this item are no longer taken (the meeting closed
    // with no request for it, its deadline passed, the minutes approved):
    // checked each second, with the room's clock.
    let not_taken = Memo::new(move |_| {
        ctx.tick.get();
        let now = crate::app::time_of_ms(ctx.live.server_now_ms());
        with_state(|s| gavel_shared::rules::opinions_taken(s, item, now).err().map(|e| (e.code(), e.to_string()))).flatten()
    });
    // What is being written is kept as it changes.
    let keep = move || {
        if let Some(d) = drafts {
            d.keep(item, &Draft { text: text.get_untracked(), stance: Some(stance.get_untracked()), document: document.get_untracked() });
        }
    };
    // Unsent opinions on other items, each a button that opens its item.
    let elsewhere = Memo::new(move |_| {
        let Some(d) = drafts else { return vec![] };
        let others: Vec<ItemId> = d.items.get().into_iter().filter(|x| *x != item).collect();
        with_state(|s| others.iter().filter_map(|x| s.item(*x).map(|it| (*x, it.title.clone()))).collect::<Vec<_>>()).unwrap_or_default()
    });
    let docs =
        Memo::new(move |_| with_state(|s| s.documents_of(item).map(|d| (d.id, d.title.clone())).collect::<Vec<_>>()).unwrap_or_default());
    let is_participant = move || ctx.live.actor.get().and_then(|a| a.participant()).is_some();
    let send = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let sent = text.get_untracked();
        run_then(
            Command::AddOpinion { item, document: document.get_untracked(), stance: stance.get_untracked(), text: sent.clone() },
            true,
            move || {
                // What was typed after sending stays, to send next.
                if text.try_get_untracked().is_some_and(|now| now == sent) {
                    let _ = text.try_set(String::new());
                    if let Some(d) = drafts {
                        d.keep(item, &Draft::default());
                    }
                }
            },
        );
    };
    let ask = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if let Some(deadline) = gavel_shared::clock::from_input(&deadline.get_untracked()) {
            run(Command::RequestOpinions { item, deadline }, true);
        }
    };
    // Memos: the opinions and requests of this item, with the names they
    // show, drawn again when they change, not at every ballot or speech
    // request of the meeting.
    let opinions = Memo::new(move |_| {
        with_state(|s| {
            s.opinions
                .iter()
                .filter(|o| o.item == item)
                .map(|o| (o.clone(), name_in(s, o.author), o.document.and_then(|d| s.document(d)).map(|d| d.title.clone())))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
    });
    // Each request's deadline, and the members who answered and who did not.
    let requests = Memo::new(move |_| {
        with_state(|s| {
            let requests: Vec<_> = s.opinion_requests.iter().filter(|r| r.item == item).map(|r| r.deadline).collect();
            if requests.is_empty() {
                return vec![];
            }
            let answered: std::collections::HashSet<ParticipantId> =
                s.opinions.iter().filter(|o| o.item == item).map(|o| o.author).collect();
            let (yes, no): (Vec<&Participant>, Vec<&Participant>) =
                s.participants_sorted().into_iter().filter(|p| p.member).partition(|p| answered.contains(&p.id));
            let names = |v: Vec<&Participant>| v.into_iter().map(|p| p.name.clone()).collect::<Vec<_>>();
            let (yes, no) = (names(yes), names(no));
            requests.into_iter().map(|deadline| (deadline, yes.clone(), no.clone())).collect::<Vec<_>>()
        })
        .unwrap_or_default()
    });
    let stances = [Stance::Agree, Stance::Disagree, Stance::AgreeWithComments, Stance::Comment];
    view! {
        <section class="opinions card">
            <h2>{move || i.t("opinion")}</h2>
            {move || requests.get().into_iter().map(|(deadline, yes, no)| {
                view! {
                    <div class="request">
                        <p>{i.t("opinion.deadline")}": "<strong>{format_time(deadline, i.0.get())}</strong></p>
                        <Show when=move || privileged.get()>
                            <p class="small">{i.t("opinion.answered")}" ("{yes.len()}"): "{yes.join(", ")}</p>
                            <p class="small" id="not-answered">{i.t("opinion.waiting")}" ("{no.len()}"): "{no.join(", ")}</p>
                        </Show>
                    </div>
                }
            }).collect_view()}
            <ul class="opinion-list">
                {move || {
                    opinions.get().into_iter().map(|(o, author, document)| {
                        view! {
                            <li class="opinion">
                                <strong>{author}</strong>" · "<span class="tag">{i.t(stance_key(o.stance))}</span>
                                {o.remote.then(|| view! { " · "<span class="tag">{i.t("opinion.remote")}</span> })}
                                <span class="muted small">" · "{format_time(o.at, i.0.get())}</span>
                                {document.map(|t| view! { <span class="muted small">" · "{t}</span> })}
                                <p>{o.text.clone()}</p>
                            </li>
                        }
                    }).collect_view()
                }}
            </ul>
            <Show when=is_participant>
                {move || {
                    let others = elsewhere.get();
                    (!others.is_empty()).then(|| view! {
                        <p class="drafts-elsewhere">{i.t("opinion.unsent")}" "
                            {others.into_iter().map(|(id, title)| view! {
                                <button type="button" class="link open-draft" data-item=id.0
                                    on:click=move |_| if let Some(d) = drafts { d.open.set(Some(id)) }>{title}</button>" "
                            }).collect_view()}
                        </p>
                    })
                }}
                // After the close, only on an item asked about by a deadline
                // not yet past, and why not otherwise.
                {move || not_taken.get().filter(|_| may(CommandKind::AddOpinion)).map(|(code, message)| view! {
                    <p class="muted" id="opinions-closed">{i.error(code, &message)}</p>
                })}
                <Show when=move || may(CommandKind::AddOpinion) && not_taken.get().is_none()>
                <form class="grid-form" id="opinion-form" on:submit=send>
                    <label>{move || i.t("opinion.stance")}
                        <select id="opinion-stance" on:change=move |ev| {
                            stance.set(match event_target_value(&ev).as_str() {
                                "disagree" => Stance::Disagree, "agree_with_comments" => Stance::AgreeWithComments, "comment" => Stance::Comment, _ => Stance::Agree });
                            keep();
                        }>
                            {stances.into_iter().map(|s| {
                                let v = serde_json::to_value(s).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
                                view! { <option value=v prop:selected=move || stance.get() == s>{move || i.t(stance_key(s))}</option> }
                            }).collect_view()}
                        </select>
                    </label>
                    <label>{move || i.t("opinion.document")}
                        <select on:change=move |ev| {
                            document.set(event_target_value(&ev).parse().ok().map(DocumentId));
                            keep();
                        }>
                            <option value="" prop:selected=move || document.get().is_none()>"—"</option>
                            {move || docs.get().into_iter().map(|(id, title)| view! { <option value=id.0 prop:selected=move || document.get() == Some(id)>{title}</option> }).collect_view()}
                        </select>
                    </label>
                    <label class="wide">{move || i.t("opinion.text")}<textarea prop:value=move || text.get() on:input=move |ev| {
                        text.set(event_target_value(&ev));
                        keep();
                    }></textarea></label>
                    <button type="submit">{move || i.t("opinion.write")}</button>
                </form>
                </Show>
            </Show>
            <Show when=move || privileged.get() && may(CommandKind::RequestOpinions)>
                <form class="grid-form" id="request-opinions" on:submit=ask>
                    <label>{move || i.t("opinion.deadline")}{move || i.t("time.room_zone")}<input type="datetime-local" required prop:value=move || deadline.get() on:input=move |ev| deadline.set(event_target_value(&ev))/></label>
                    <button type="submit">{move || i.t("opinion.request")}</button>
                </form>
            </Show>
        </section>
    }
}

/// A button that makes a one-time code for the room display and shows its address.
#[component]
pub fn DisplayLink(meeting: MeetingId) -> impl IntoView {
    let i = use_i18n();
    let ctx = use_ctx();
    let link = RwSignal::new(None::<String>);
    let make = move |_| {
        spawn_local(async move {
            match api::post::<_, serde_json::Value>(&format!("/api/meetings/{meeting}/display-code"), &serde_json::json!({})).await {
                Ok(v) => {
                    let origin = window().location().origin().unwrap_or_default();
                    link.set(v["code"].as_str().map(|c| format!("{origin}/#/display/{c}")));
                }
                Err(e) => ctx.api_fail(i, &e),
            }
        });
    };
    view! {
        <div class="display-link">
            <button class="secondary" id="make-display-code" on:click=make>{move || i.t("display.make")}</button>
            {move || link.get().map(|l| view! {
                <p class="small">{i.t("display.help")}": "<code id="display-url">{l.clone()}</code></p>
                <div class="qr" inner_html=crate::cards::qr_svg(&l)></div>
            })}
        </div>
    }
}

/// The room display: large type for the projector or the hall screen.
#[component]
pub fn RoomDisplay() -> impl IntoView {
    let i = use_i18n();
    let s = move || state();
    view! {
        <div class="room-display">
            {move || s().map(|s| {
                let current = s.current_item().map(|it| (s.item_index(it.id).unwrap_or(0) + 1, it.title.clone()));
                let floor = s.speakers.floor;
                let floor_name = floor.map(|f| name_in(&s, f.participant));
                let q = s.quorum();
                let open = s.open_poll().cloned();
                // The vote closed last, not the one created last.
                let last_closed = s
                    .polls
                    .iter()
                    .filter(|p| p.status == PollStatus::Closed)
                    .max_by_key(|p| p.result.as_ref().map(|r| r.closed_at))
                    .cloned();
                let progress = open.as_ref().map(|p| s.vote_progress(p)).unwrap_or((0, 0));
                view! {
                    <div class="d-org">{s.meeting.organisation.clone()}</div>
                    <h1 class="d-title">{s.meeting.title.clone()}</h1>
                    <div class="d-current" id="display-current">
                        {current.map(|(n, t)| format!("{n}. {t}")).unwrap_or_else(|| i.t("agenda.none").to_string())}
                    </div>
                    <div class="d-row">
                        <div class="d-quorum" class:ok=q.holds>{i.t("quorum")}": "{format!("{}/{}", q.present, q.members)}" — "{if q.holds { i.t("quorum.holds") } else { i.t("quorum.missing") }}</div>
                        {floor.zip(floor_name).map(|(f, name)| view! {
                            <div class="d-floor">{i.t("speak.floor")}": "<strong>{name}</strong>" "
                                <span class="timer" class:over=move || { f.limit_secs > 0 && seconds_left(&f) < 0 }>{move || timer_text(i, &f)}</span>
                            </div>
                        })}
                    </div>
                    {match (open, last_closed) {
                        (Some(p), _) => view! {
                            <div class="d-poll">
                                // A vote left open while the meeting moved on
                                // says which item it decides.
                                {(s.meeting.current_item != Some(p.item)).then(|| s.item(p.item).map(|it| view! {
                                    <div class="d-poll-item" id="display-poll-item">{format!("{}. {}", s.item_index(it.id).unwrap_or(0) + 1, it.title)}</div>
                                }))}
                                <div class="d-question">{p.question.clone()}</div>
                                <div class="d-progress" id="display-progress">{format!("{} / {} ", progress.0, progress.1)}{i.t("poll.voted")}</div>
                            </div>
                        }.into_any(),
                        (None, Some(p)) => view! { <div class="d-poll"><div class="d-question">{p.question.clone()}</div><ResultChart poll=p/></div> }.into_any(),
                        (None, None) => view! { <span></span> }.into_any(),
                    }}
                }
            })}
        </div>
    }
}
