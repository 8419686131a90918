//! The meeting room: the agenda with the current item followed live, the
//! item's documents and a reader, the chair's controls, and (for the
//! secretary) the preparation tools.

use crate::app::{format_time, status_key, use_ctx, with_state};
use crate::i18n::use_i18n;
use crate::live::{self, Conn};
use crate::prepare::Prepare;
use crate::viewer::PdfViewer;
use gavel_shared::model::*;
use gavel_shared::protocol::Command;
use leptos::prelude::*;

/// Sends a command and reports failure (or, with `confirm`, success) in the banner.
pub fn run(cmd: Command, confirm: bool) {
    run_then(cmd, confirm, || {});
}

/// Sends a command and, once the room has taken it, runs `done` (a form
/// is emptied only then: on a dropped link what was typed stays to send
/// again). A refusal is reported in the banner.
pub fn run_then(cmd: Command, confirm: bool, done: impl FnOnce() + 'static) {
    send_then(cmd, confirm, done, || {});
}

/// Sends a command whose control already shows what it asks (a tick box,
/// a list): if the room refuses it, or the link is down, `undo` puts the
/// control back to what the room holds, and the refusal is reported.
pub fn run_or_undo(cmd: Command, undo: impl FnOnce() + 'static) {
    send_then(cmd, false, || {}, undo);
}

fn send_then(cmd: Command, confirm: bool, done: impl FnOnce() + 'static, undo: impl FnOnce() + 'static) {
    let ctx = use_ctx();
    let i = use_i18n();
    live::send(cmd, move |r| match r {
        Ok(_) => {
            if confirm {
                ctx.notice.set(Some((false, i.t("done").to_string())));
            }
            done();
        }
        Err((code, message)) => {
            undo();
            ctx.fail(i, &code, &message);
        }
    });
}

/// Why the room would not give this document to the tablet, as its agent
/// says; none in a browser without an agent.
fn not_given(document: DocumentId) -> Option<String> {
    let i = use_i18n();
    use_ctx().live.pack.with(|p| {
        let r = p.as_ref()?.refused.iter().find(|r| r.document == document)?;
        // The room's reason in the page's language; the tablet's own failure as it says it.
        Some(if r.code.is_empty() { r.why.clone() } else { i.error(&r.code, &r.why) })
    })
}

/// The confidentiality level, in words.
pub fn conf_key(c: Confidentiality) -> &'static str {
    match c {
        Confidentiality::Public => "conf.public",
        Confidentiality::Members => "conf.members",
        Confidentiality::Named => "conf.named",
        Confidentiality::Secret => "conf.secret",
    }
}

/// A role, in words.
pub fn role_key(r: Role) -> &'static str {
    match r {
        Role::Chair => "role.chair",
        Role::Secretary => "role.secretary",
        Role::Delegate => "role.delegate",
        Role::Observer => "role.observer",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tab {
    Room,
    Prepare,
    Minutes,
}

/// The room of one meeting.
#[component]
pub fn Room(meeting: MeetingId) -> impl IntoView {
    let ctx = use_ctx();
    let i = use_i18n();
    let state = ctx.live.state;
    // Memos: the views below are built anew only when who this is changes,
    // not each time the room says it again.
    let role = Memo::new(move |_| ctx.live.actor.get().and_then(|a| a.role_in(meeting)));
    let is_chair = Memo::new(move |_| role.get() == Some(Role::Chair) && !ctx.live.actor.get().is_some_and(|a| a.is_staff()));
    let is_secretary = Memo::new(move |_| role.get() == Some(Role::Secretary));
    let is_chair = move || is_chair.get();
    let is_secretary = move || is_secretary.get();
    let tab = RwSignal::new(Tab::Room);
    // The page under the tabs: a secretary's tab falls back to the room
    // if the role is taken away.
    let page = Memo::new(move |_| match tab.get() {
        Tab::Prepare | Tab::Minutes if !is_secretary() => Tab::Room,
        t => t,
    });
    // None: follow the current item as the chair moves it.
    let selected = RwSignal::new(None::<ItemId>);
    let viewing = RwSignal::new(None::<DocumentId>);
    // A document taken away while it is read (removed, narrowed, the
    // reader's right withdrawn) closes, with a word why: before, a loaded
    // one stayed on screen until another was chosen.
    Effect::new(move |_| {
        if let Some(d) = viewing.get()
            && with_state(|s| s.document(d).is_none()).unwrap_or(false)
        {
            viewing.set(None);
            ctx.notice.set(Some((false, i.t("docs.withdrawn").to_string())));
        }
    });
    let loaded = move || state.with(|s| s.is_some());
    // The item shown changes with the chair's moves, not with every event:
    // the panels under it (a vote being drafted, an opinion being written)
    // are built again only when it does.
    let shown = Memo::new(move |_| shown_item(selected));
    let writer = ctx.session.get_untracked().and_then(|s| s.actor.participant());
    provide_context(crate::decide::Drafts::new(writer, selected));
    view! {
        <Show when=loaded fallback=move || view! { <p class="loading">{move || i.t("conn.connecting")}</p> }>
            <div class="room">
                <MeetingHeader/>
                <Show when=is_secretary>
                    <nav class="tabs">
                        <button id="tab-room" class:active=move || tab.get() == Tab::Room on:click=move |_| tab.set(Tab::Room)>{move || i.t("tab.room")}</button>
                        <button id="tab-prepare" class:active=move || tab.get() == Tab::Prepare on:click=move |_| tab.set(Tab::Prepare)>{move || i.t("tab.prepare")}</button>
                        <button id="tab-minutes" class:active=move || tab.get() == Tab::Minutes on:click=move |_| tab.set(Tab::Minutes)>{move || i.t("tab.minutes")}</button>
                    </nav>
                </Show>
                {move || if page.get() == Tab::Prepare {
                    view! { <Prepare meeting/> }.into_any()
                } else if page.get() == Tab::Minutes {
                    view! { <crate::minutes::MinutesPanel meeting/> }.into_any()
                } else {
                    view! {
                        <CurrentBanner/>
                        <crate::decide::QuorumBadge/>
                        <Show when=is_chair><ChairBar/></Show>
                        <div class="room-grid">
                            <div class="left">
                                <AgendaList selected chair=Signal::derive(is_chair)/>
                                <crate::decide::SpeakersPanel chair=Signal::derive(is_chair)/>
                                <Show when=move || is_chair() || is_secretary()>
                                    <crate::decide::DisplayLink meeting/>
                                </Show>
                            </div>
                            <div class="right">
                                {move || shown.get().map(|item| view! {
                                    <crate::decide::PollsPanel item chair=Signal::derive(is_chair) secretary=Signal::derive(is_secretary)/>
                                })}
                                <ItemPanel meeting selected viewing/>
                                {move || shown.get().map(|item| view! {
                                    <crate::decide::OpinionsPanel item privileged=Signal::derive(move || is_chair() || is_secretary())/>
                                })}
                            </div>
                        </div>
                        <Show when=move || !is_secretary() && (is_chair() || minutes_shared())>
                            <crate::minutes::MinutesPanel meeting/>
                        </Show>
                    }.into_any()
                }}
            </div>
        </Show>
        <Show when=move || ctx.live.conn.get() == Conn::Offline && loaded()>
            <div class="offline-hint">{move || i.t("conn.offline")}</div>
        </Show>
    }
}

/// Have the minutes left the secretary's draft (so members see them), or
/// been shared before (taken back, or a correction under way: the signed
/// files and the comments given stay in view)?
fn minutes_shared() -> bool {
    with_state(|s| {
        s.minutes.status != gavel_shared::minutes::MinutesStatus::Draft || !s.minutes.signed.is_empty() || !s.minutes.comments.is_empty()
    })
    .unwrap_or(false)
}

/// The item shown on the right: the one picked, else the current one, else the first.
fn shown_item(selected: RwSignal<Option<ItemId>>) -> Option<ItemId> {
    with_state(|s| selected.get().filter(|id| s.item(*id).is_some()).or(s.meeting.current_item).or(s.agenda.first().map(|i| i.id)))
        .flatten()
}

#[component]
fn MeetingHeader() -> impl IntoView {
    let i = use_i18n();
    let ctx = use_ctx();
    let state = ctx.live.state;
    let m = move || state.with(|s| s.as_ref().map(|s| s.meeting.clone()));
    view! {
        {move || m().map(|m| view! {
            <section class="meeting-header" data-status=m.status.as_str()>
                <div class="org">{m.organisation.clone()}</div>
                <h1 id="meeting-title">{m.title.clone()}</h1>
                <div class="meta">
                    <span>{format_time(m.starts_at, i.0.get())}</span>
                    {(!m.place.is_empty()).then(|| view! { " · " <span>{m.place.clone()}</span> })}
                    " · " <span class="status" id="meeting-status">{i.t(status_key(m.status))}</span>
                </div>
            </section>
        })}
    }
}

#[component]
fn CurrentBanner() -> impl IntoView {
    let i = use_i18n();
    let current = move || with_state(|s| s.current_item().map(|it| (s.item_index(it.id).unwrap_or(0) + 1, it.title.clone()))).flatten();
    view! {
        <div class="current-banner">
            <span class="label">{move || i.t("agenda.current")}": "</span>
            <strong id="current-title">{move || current().map(|(n, t)| format!("{n}. {t}")).unwrap_or_else(|| i.t("agenda.none").to_string())}</strong>
        </div>
    }
}

#[component]
fn ChairBar() -> impl IntoView {
    let i = use_i18n();
    let status = move || with_state(|s| s.meeting.status).unwrap_or(MeetingStatus::Draft);
    // Nowhere to go: before the first item, or past the last.
    let at_end = move |back: bool| {
        with_state(|s| {
            let cmd = if back { Command::PreviousItem { from: None } } else { Command::NextItem { from: None } };
            gavel_shared::rules::agenda_target(s, &cmd).ok().flatten().is_none()
        })
        .unwrap_or(true)
    };
    // The item the chair sees current, sent with "next" and "previous": a
    // move another device made meanwhile is not made twice (0: none yet).
    let current = move || Some(with_state(|s| s.meeting.current_item).flatten().unwrap_or(ItemId(0)));
    let close = move |_| {
        if window().confirm_with_message(i.t("chair.confirm_close")).unwrap_or(false) {
            run(Command::CloseMeeting, false);
        }
    };
    view! {
        <div class="chair-bar">
            {move || match status() {
                MeetingStatus::Draft => view! {
                    <button id="open-meeting" on:click=move |_| run(Command::OpenMeeting, false)>{move || i.t("chair.open")}</button>
                }.into_any(),
                MeetingStatus::Open => view! {
                    <button id="previous-item" disabled=move || at_end(true) on:click=move |_| move_agenda(i, Command::PreviousItem { from: current() })>{move || i.t("chair.prev")}</button>
                    <button id="next-item" class="primary" disabled=move || at_end(false) on:click=move |_| move_agenda(i, Command::NextItem { from: current() })>{move || i.t("chair.next")}</button>
                    <button id="close-meeting" class="danger" on:click=close>{move || i.t("chair.close")}</button>
                }.into_any(),
                MeetingStatus::Closed => view! { <span></span> }.into_any(),
            }}
        </div>
    }
}

/// An agenda move, asked about first when it ends something under way:
/// the speech and the waiting list (both belong to the item left), or a
/// vote that would stay open under another item.
fn move_agenda(i: crate::i18n::I18n, cmd: Command) {
    let under_way = with_state(|s| {
        let target = gavel_shared::rules::agenda_target(s, &cmd).ok().flatten();
        let mut lines = vec![];
        if let Some(f) = s.speakers.floor {
            let name = s.participant(f.participant).map(|p| p.name.clone()).unwrap_or_default();
            lines.push(format!("{name} {}", i.t("chair.move_ends_speech")));
        }
        if !s.speakers.queue.is_empty() {
            lines.push(format!("{} {}", s.speakers.queue.len(), i.t("chair.move_clears_queue")));
        }
        // A vote open on the item moved to is not left behind.
        if let Some(p) = s.open_poll().filter(|p| Some(p.item) != target) {
            lines.push(format!("{} “{}”", i.t("chair.move_poll_open"), p.question));
        }
        lines
    })
    .unwrap_or_default();
    if under_way.is_empty()
        || window().confirm_with_message(&format!("{}\n\n{}", i.t("chair.confirm_move"), under_way.join("\n"))).unwrap_or(false)
    {
        run(cmd, false);
    }
}

#[component]
fn AgendaList(selected: RwSignal<Option<ItemId>>, chair: Signal<bool>) -> impl IntoView {
    let i = use_i18n();
    let items = move || with_state(|s| s.agenda.to_vec()).unwrap_or_default();
    let current = move || with_state(|s| s.meeting.current_item).flatten();
    let open = move || with_state(|s| s.meeting.status == MeetingStatus::Open).unwrap_or(false);
    view! {
        <nav class="agenda card">
            <h2>{move || i.t("agenda")}</h2>
            <ol>
                <For each=items key=|it| (it.id, it.status, it.title.clone(), it.presenter.clone()) let(item)>
                    {
                        let id = item.id;
                        let status = item.status;
                        view! {
                            <li class="agenda-item" data-item=id.0
                                class:current=move || current() == Some(id)
                                class:done=status == ItemStatus::Done
                                class:selected=move || selected.get() == Some(id)>
                                <button class="item-open" on:click=move |_| selected.set(Some(id))>
                                    <span class="item-title">{item.title.clone()}</span>
                                    <span class="item-presenter">{item.presenter.clone()}</span>
                                </button>
                                <Show when=move || chair.get() && open() && current() != Some(id)>
                                    <button class="goto" on:click=move |_| move_agenda(i, Command::GoToItem { item: id })>{move || i.t("chair.goto")}</button>
                                </Show>
                            </li>
                        }
                    }
                </For>
            </ol>
        </nav>
    }
}

#[component]
fn ItemPanel(meeting: MeetingId, selected: RwSignal<Option<ItemId>>, viewing: RwSignal<Option<DocumentId>>) -> impl IntoView {
    let i = use_i18n();
    let shown = move || {
        with_state(|s| {
            let id = selected.get().filter(|id| s.item(*id).is_some()).or(s.meeting.current_item).or(s.agenda.first().map(|i| i.id))?;
            let item = s.item(id)?.clone();
            let docs: Vec<Document> = s.documents_of(id).cloned().collect();
            Some((item, docs, s.meeting.current_item == Some(id)))
        })
        .flatten()
    };
    let following = move || selected.get().is_none();
    view! {
        <article class="item card">
            <Show when=move || !following()>
                <button class="link follow" on:click=move |_| selected.set(None)>{move || i.t("agenda.follow")}</button>
            </Show>
            {move || shown().map(|(item, docs, is_current)| view! {
                <h2 id="item-title" class:current=is_current>{item.title.clone()}</h2>
                <p class="presenter">{move || i.t("agenda.presenter")}": "{item.presenter.clone()}</p>
                <p class="summary">{item.summary.clone()}</p>
                <h3>{move || i.t("docs")}</h3>
                {if docs.is_empty() {
                    view! { <p class="muted">{move || i.t("docs.none")}</p> }.into_any()
                } else {
                    view! {
                        <ul class="documents">
                            {docs.into_iter().map(|d| {
                                let id = d.id;
                                view! {
                                    <li class="document" data-document=id.0>
                                        <button on:click=move |_| viewing.set(Some(id))>
                                            <span class="doc-title">{d.title.clone()}</span>
                                            <span class="doc-meta">{move || i.size(d.size)}" · "{move || i.t(conf_key(d.confidentiality))}</span>
                                        </button>
                                        // Through a tablet agent: a document the room would not
                                        // give the tablet cannot be read from it offline.
                                        {move || not_given(id).map(|why| view! {
                                            <p class="not-given small">{i.t("pack.not_given")}": "{why}</p>
                                        })}
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            })}
            // Rebuilt only when another document is chosen: the meeting's
            // events (attendance, ballots, the speakers) leave the reader,
            // its page and its zoom as they are.
            {move || viewing.get().map(|d| {
                let url = format!("/api/meetings/{meeting}/documents/{d}");
                let link = url.clone();
                // A restricted document (anything above public: each reader's
                // copy is stamped) is read here only: opened on its own, a
                // tablet's browser hands it to the downloads folder, outside
                // the tablet's encrypted cache. Unknown counts as restricted.
                let restricted = Memo::new(move |_| {
                    with_state(|s| s.document(d).map(|doc| doc.confidentiality != Confidentiality::Public)).flatten().unwrap_or(true)
                });
                let title = Memo::new(move |_| with_state(|s| s.document(d).map(|doc| doc.title.clone())).flatten().unwrap_or_default());
                view! {
                    <div class="viewer" data-document=d.0>
                        <div class="viewer-bar">
                            <strong class="viewer-title">{move || title.get()}</strong>
                            <Show when=move || !restricted.get()>
                                <a href=link.clone() target="_blank" rel="noopener">{move || i.t("docs.open")}</a>
                            </Show>
                            <button class="secondary close-viewer" on:click=move |_| viewing.set(None)>{move || i.t("docs.close")}</button>
                        </div>
                        <PdfViewer url=url/>
                    </div>
                }
            })}
        </article>
    }
}
