//! The minutes on screen: the secretary writes each part during the meeting
//! (every save is a command, so nothing typed is lost), members comment when
//! asked, the chair approves and signs, everyone downloads the signed files.

use crate::app::{format_time, state, use_ctx, with_state};
use crate::i18n::use_i18n;
use crate::room::{run, run_then};
use gavel_shared::minutes::{MinutesStatus, SectionKey};
use gavel_shared::model::*;
use gavel_shared::protocol::Command;
use leptos::prelude::*;

/// A link's click that downloads its file without leaving the page, and
/// shows the room's refusal (an expired session, a failed export) in the
/// notice instead of a page of raw JSON.
fn in_page(url: String) -> impl Fn(leptos::ev::MouseEvent) + 'static {
    let i = use_i18n();
    let ctx = use_ctx();
    move |ev| {
        ev.prevent_default();
        let url = url.clone();
        leptos::task::spawn_local(async move {
            if let Err(e) = crate::api::download(&url).await {
                ctx.api_fail(i, &e);
            }
        });
    }
}

fn status_key(s: MinutesStatus) -> &'static str {
    match s {
        MinutesStatus::Draft => "min.status.draft",
        MinutesStatus::InReview => "min.status.in_review",
        MinutesStatus::Approved => "min.status.approved",
        MinutesStatus::Signed => "min.status.signed",
    }
}

/// The minutes of a meeting, for every role.
#[component]
pub fn MinutesPanel(meeting: MeetingId) -> impl IntoView {
    let i = use_i18n();
    let ctx = use_ctx();
    let role = move || ctx.live.actor.get().and_then(|a| a.role_in(meeting));
    let is_secretary = move || role() == Some(Role::Secretary);
    let is_chair = move || role() == Some(Role::Chair);
    let status = move || state().map(|s| s.minutes.status).unwrap_or_default();
    let closed = move || state().is_some_and(|s| s.meeting.status == MeetingStatus::Closed);
    // The sections change only with the agenda (or the language): kept in a
    // memo and drawn by key, so a section being typed in is never rebuilt
    // by whatever else the room does.
    let sections = Memo::new(move |_| {
        with_state(|s| {
            let mut v = vec![(SectionKey::Opening, i.t("min.opening").to_string())];
            v.extend(s.agenda.iter().enumerate().map(|(n, it)| (SectionKey::Item(it.id), format!("{}. {}", n + 1, it.title))));
            v.push((SectionKey::Conclusion, i.t("min.conclusion").to_string()));
            v.push((SectionKey::Recipients, i.t("min.recipients").to_string()));
            v
        })
        .unwrap_or_default()
    });
    let number = RwSignal::new(state().map(|s| s.minutes.number.clone()).unwrap_or_default());
    view! {
        <section class="minutes card" id="minutes">
            <h2>{move || i.t("min.title")}</h2>
            <p>
                <span class="tag" id="minutes-status">{move || i.t(status_key(status()))}</span>" "
                <span class="muted small">{move || format!("{} {}", i.t("min.version"), state().map(|s| s.minutes.version).unwrap_or(1))}</span>
            </p>
            <Show when=move || is_secretary() && status() == MinutesStatus::Draft>
                <div class="grid-form">
                    <label>{move || i.t("min.number")}
                        <input id="minutes-number" prop:value=move || number.get() on:input=move |ev| number.set(event_target_value(&ev))
                            on:change=move |_| run(Command::SetMinutesNumber { number: number.get_untracked() }, true)/>
                    </label>
                </div>
                <p class="muted small">{move || i.t("min.help")}</p>
            </Show>
            <For each=move || sections.get() key=|(key, _)| *key let((key, _))>
                <MinutesSection key label=Signal::derive(move || sections.with(|v| v.iter().find(|(k, _)| *k == key).map(|(_, l)| l.clone()).unwrap_or_default()))/>
            </For>
            <div class="console">
                <Show when=move || is_secretary() && status() == MinutesStatus::Draft && closed()>
                    <button id="minutes-send" on:click=move |_| run(Command::SendMinutesForComments, true)>{move || i.t("min.send")}</button>
                </Show>
                <Show when=move || is_chair() && matches!(status(), MinutesStatus::Draft | MinutesStatus::InReview) && closed()>
                    <button class="primary" id="minutes-approve" on:click=move |_| run(Command::ApproveMinutes, true)>{move || i.t("min.approve")}</button>
                </Show>
                <Show when=move || is_chair() && status() == MinutesStatus::Approved>
                    <button class="primary" id="minutes-sign" on:click=move |_| run(Command::SignMinutes, true)>{move || i.t("min.sign")}</button>
                </Show>
                <Show when=move || is_secretary() && matches!(status(), MinutesStatus::InReview | MinutesStatus::Approved)>
                    <button class="secondary" id="minutes-take-back" on:click=move |_| run(Command::TakeBackMinutes, true)>
                        {move || i.t("min.take_back")}
                    </button>
                </Show>
                <Show when=move || is_secretary() && status() == MinutesStatus::Signed>
                    <button class="secondary" id="minutes-revise" on:click=move |_| run(Command::ReviseMinutes, true)>{move || i.t("min.revise")}</button>
                </Show>
                <Show when=move || (is_secretary() || is_chair()) && !closed()>
                    <span class="muted small">{move || i.t("min.after_close")}</span>
                </Show>
            </div>
            <Show when=move || is_secretary() || is_chair()>
                <h3>{move || i.t("min.export")}</h3>
                <p class="downloads">
                    {[("pdf", "vi"), ("docx", "vi"), ("csv", "vi"), ("pdf", "en"), ("docx", "en"), ("csv", "en"), ("json", "")]
                        .into_iter()
                        .map(|(f, l)| {
                            let label = move || match l {
                                "vi" => format!("{} ({})", f.to_uppercase(), i.t("min.in_vi")),
                                "en" => format!("{} ({})", f.to_uppercase(), i.t("min.in_en")),
                                _ => f.to_uppercase(),
                            };
                            let lang = if l.is_empty() { "vi" } else { l };
                            let url = format!("/api/meetings/{meeting}/minutes/export?format={f}&lang={lang}");
                            view! { <a class="download" data-format=f data-lang=l href=url.clone() on:click=in_page(url)>{label}</a> }
                        })
                        .collect_view()}
                </p>
            </Show>
            {move || {
                let signed = state().map(|s| s.minutes.signed.clone()).unwrap_or_default();
                let officer = is_secretary() || is_chair() || ctx.live.actor.get().is_some_and(|a| a.is_staff());
                // The files name members-only documents: guests and observers are told so instead.
                let reads = ctx.live.actor.get().is_some_and(|a| with_state(|s| s.reads_members_documents(&a)).unwrap_or(false));
                if !signed.is_empty() && !reads {
                    return Some(view! { <p class="muted" id="signed-members-only">{i.t("min.signed_members_only")}</p> }.into_any());
                }
                (!signed.is_empty()).then(|| view! {
                    <h3>{i.t("min.signed_files")}</h3>
                    <ul class="signed">
                        {signed.into_iter().rev().map(|v| view! {
                            <li>
                                <strong>{format!("{} {}", i.t("min.version"), v.version)}</strong>
                                <span class="muted small">" · "{format_time(v.signed_at, i.0.get())}" · "{v.log_head[..16].to_string()}</span>
                                <div class="downloads">
                                    // The whole record (JSON) is the officers' alone.
                                    {v.files.iter().filter(|f| officer || !f.name.ends_with(".json")).map(|f| {
                                        let base = format!("/api/meetings/{meeting}/minutes/files/{}/{}", v.version, f.name);
                                        let sig = format!("{base}.sig");
                                        view! {
                                            <a class="download" href=base.clone() on:click=in_page(base.clone())>{f.name.clone()}</a>" "
                                            <a class="small" href=sig.clone() on:click=in_page(sig)>".sig"</a>
                                        }
                                    }).collect_view()}
                                </div>
                            </li>
                        }).collect_view()}
                    </ul>
                    <p class="muted small" id="sig-note">{i.t("min.sig_note")}</p>
                }.into_any())
            }}
        </section>
    }
}

#[component]
fn MinutesSection(key: SectionKey, label: Signal<String>) -> impl IntoView {
    let i = use_i18n();
    let ctx = use_ctx();
    let meeting = move || with_state(|s| s.meeting.id);
    let is_secretary = move || meeting().is_some_and(|m| ctx.live.actor.get().and_then(|a| a.role_in(m)) == Some(Role::Secretary));
    // The chair follows the draft (the room sends it to them) and approves it.
    let is_chair = move || meeting().is_some_and(|m| ctx.live.actor.get().and_then(|a| a.role_in(m)) == Some(Role::Chair));
    let status = move || with_state(|s| s.minutes.status).unwrap_or_default();
    let saved = Memo::new(move |_| with_state(|s| s.minutes.text(key).to_string()).unwrap_or_default());
    let text = RwSignal::new(saved.get_untracked());
    // What the room holds changed (this secretary's own save coming back, or
    // a revision): taken into the field unless something typed since the
    // last save would be overwritten.
    let known = StoredValue::new(saved.get_untracked());
    Effect::new(move |_| {
        let now = saved.get();
        if text.get_untracked() == known.get_value() {
            text.set(now.clone());
        }
        known.set_value(now);
    });
    let typed = RwSignal::new(0u32);
    let comment = RwSignal::new(String::new());
    let comments = move || {
        state()
            .map(|s| {
                s.minutes
                    .comments
                    .iter()
                    .filter(|c| c.section == key && c.version == s.minutes.version)
                    .map(|c| (s.participant(c.author).map(|p| p.name.clone()).unwrap_or_default(), c.text.clone()))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    // Leaving the section with something typed and not yet saved (the tab
    // changed before the pause that saves it) saves it.
    on_cleanup(move || {
        if let (Some(now), Some(before)) = (text.try_get_untracked(), saved.try_get_untracked())
            && now != before
        {
            run(Command::EditMinutes { section: key, text: now }, false);
        }
    });
    let editing = Memo::new(move |_| is_secretary() && status() == MinutesStatus::Draft);
    let slug = match key {
        SectionKey::Opening => "opening".to_string(),
        SectionKey::Item(id) => format!("item-{id}"),
        SectionKey::Conclusion => "conclusion".to_string(),
        SectionKey::Recipients => "recipients".to_string(),
        SectionKey::Unknown => "unknown".to_string(),
    };
    // What the exports write when the secretary names no one.
    let hint = (key == SectionKey::Recipients).then(|| i.t("min.recipients_hint"));
    view! {
        <div class="minutes-section" data-section=slug.clone()>
            <h3>{move || label.get()}</h3>
            {move || if editing.get() {
                view! {
                    <textarea class="minutes-text" rows="5" placeholder=hint prop:value=move || text.get() on:input=move |ev| {
                        text.set(event_target_value(&ev));
                        // Saved by itself after a pause in typing: a tablet that
                        // dies mid-sentence loses at most the last seconds.
                        typed.update(|n| *n += 1);
                        let mine = typed.get_untracked();
                        leptos::task::spawn_local(async move {
                            gloo_timers::future::sleep(std::time::Duration::from_millis(1500)).await;
                            // The section may be gone by then (the secretary
                            // left the tab, the item was removed): its
                            // signals with it, and then there is nothing to save.
                            let (Some(last), Some(now), Some(before)) = (typed.try_get_untracked(), text.try_get_untracked(), saved.try_get_untracked())
                            else {
                                return;
                            };
                            if last == mine && now != before {
                                run(Command::EditMinutes { section: key, text: now }, false);
                            }
                        });
                    }></textarea>
                    <button class="secondary save" disabled=move || text.get() == saved.get()
                        on:click=move |_| run(Command::EditMinutes { section: key, text: text.get_untracked() }, false)>{i.t("prep.save")}</button>
                }.into_any()
            } else {
                // A draft is the secretary's working text, which the room
                // sends to nobody but the chair: what the others were sent
                // before (minutes taken back, a correction begun) is not shown either.
                view! { <div class="minutes-view">{move || if status() == MinutesStatus::Draft && !is_chair() { String::new() } else { saved.get() }}</div> }.into_any()
            }}
            {move || {
                let c = comments();
                (!c.is_empty()).then(|| view! {
                    <ul class="comments">{c.into_iter().map(|(who, t)| view! { <li><strong>{who}</strong>": "{t}</li> }).collect_view()}</ul>
                })
            }}
            <Show when=move || status() == MinutesStatus::InReview && ctx.live.actor.get().and_then(|a| a.participant()).is_some()>
                <div class="grid-form">
                    <input placeholder=move || i.t("min.comment") prop:value=move || comment.get() on:input=move |ev| comment.set(event_target_value(&ev))/>
                    // Emptied once the room has taken it: refused, or sent
                    // on a dropped link, what was typed stays to send again.
                    <button class="send-comment" on:click=move |_| run_then(Command::CommentMinutes { section: key, text: comment.get_untracked() }, true, move || {
                        let _ = comment.try_set(String::new());
                    })>{move || i.t("min.comments")}</button>
                </div>
            </Show>
        </div>
    }
}
