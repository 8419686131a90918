//! The secretary's tools: the meeting's details, the agenda, documents
//! (upload, access), participants (add, import CSV, edit, remove) and
//! sign-in cards with new PINs.

use crate::api;
use crate::app::{Ctx, may, state, use_ctx, with_state};
use crate::cards::Cards;
use crate::i18n::{I18n, use_i18n};
use crate::room::{conf_key, role_key, run, run_or_undo, run_then};
use gavel_shared::decision::{Attendance, Share};
use gavel_shared::model::*;
use gavel_shared::protocol::{Command, CommandKind, CommandResult, IssuedPin, NewParticipant};
use leptos::html::Input;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

/// Asks before something that cannot be undone; `text` says what.
fn confirmed(text: &str) -> bool {
    window().confirm_with_message(text).unwrap_or(false)
}

thread_local! {
    /// The participants file being imported whose answer has not come yet,
    /// with its key: kept for the page's life, since the preparation tab is
    /// built anew when the link comes back and its file field emptied.
    static PENDING_IMPORT: std::cell::RefCell<Option<(MeetingId, Vec<u8>, String)>> = const { std::cell::RefCell::new(None) };
}

/// The key for importing `bytes` into `meeting`: the pending import's if it
/// is the same file, else a new one (which becomes the pending import).
fn pending_import_key(meeting: MeetingId, bytes: Vec<u8>) -> String {
    PENDING_IMPORT.with(|p| {
        let mut p = p.borrow_mut();
        match p.as_ref() {
            Some((m, b, key)) if *m == meeting && *b == bytes => key.clone(),
            _ => {
                let key = api::new_key();
                *p = Some((meeting, bytes, key.clone()));
                key
            }
        }
    })
}

/// The import under `key` has been answered: the same file chosen again
/// later is a new import.
fn import_done(key: &str) {
    PENDING_IMPORT.with(|p| {
        let mut p = p.borrow_mut();
        if p.as_ref().is_some_and(|(_, _, k)| k == key) {
            *p = None;
        }
    });
}

/// The secretary's tools for one meeting.
#[component]
pub fn Prepare(meeting: MeetingId) -> impl IntoView {
    let i = use_i18n();
    let cards = RwSignal::new(None::<Vec<IssuedPin>>);
    // Once the meeting is closed its record is fixed: what the room would
    // refuse is not offered (PINs, unlocking and revoking still are).
    let fixed = move || !may(CommandKind::AddItem);
    view! {
        <div class="prepare">
            <Show when=fixed>
                <p class="card fixed-note" id="preparation-fixed">{move || i.t("prep.fixed")}</p>
            </Show>
            <fieldset class="plain" disabled=fixed>
                <MeetingForm/>
            </fieldset>
            <TabletJoin/>
            <fieldset class="plain" disabled=fixed>
                <AgendaEditor/>
                <DocumentsEditor meeting/>
            </fieldset>
            <ParticipantsEditor meeting cards/>
            {move || cards.get().map(|pins| view! { <Cards pins on_close=move || cards.set(None)/> })}
        </div>
    }
}

/// What `GET /api/room` answers.
#[derive(Debug, Clone, serde::Deserialize)]
struct RoomInfo {
    room: String,
    http_port: u16,
    quic_port: u16,
    fingerprint: String,
    addresses: Vec<String>,
    /// Whether the room is set up for state-secret ("mật") documents.
    #[serde(default)]
    secret_documents: bool,
}

/// The link a tablet agent joins with: `gavel://ADDR:QUIC/?fp=…&http=…&room=…`.
fn join_link(host: &str, r: &RoomInfo) -> String {
    let room: String = js_sys::encode_uri_component(&r.room).into();
    format!("gavel://{host}:{}/?fp={}&http={}&room={room}", r.quic_port, r.fingerprint, r.http_port)
}

/// The QR code tablets join with: the room's address, ports and certificate
/// fingerprint (never a PIN: that is on each person's card).
#[component]
fn TabletJoin() -> impl IntoView {
    let i = use_i18n();
    let info = RwSignal::new(None::<RoomInfo>);
    spawn_local(async move {
        if let Ok(r) = api::get::<RoomInfo>("/api/room").await {
            info.set(Some(r));
        }
    });
    view! {
        {move || info.get().map(|r| {
            // The address this browser reached the server by, unless that is
            // loopback (the secretary on the server itself): then a LAN one.
            let here = window().location().hostname().unwrap_or_default();
            let loopback = here == "localhost" || here.starts_with("127.") || here == "[::1]";
            let host = if loopback { r.addresses.first().cloned() } else { Some(here) };
            view! {
                <section class="card tablet-join">
                    <h2>{move || i.t("tablet.title")}</h2>
                    {match host {
                        Some(host) => {
                            let link = join_link(&host, &r);
                            let svg = crate::cards::qr_svg(&link);
                            view! {
                                <div class="tablet-join-body">
                                    <div class="qr" inner_html=svg></div>
                                    <div>
                                        <p>{move || i.t("tablet.help")}</p>
                                        <code class="join-link">{format!("gavel-agent join --link '{link}' --code …")}</code>
                                        <p class="muted">{move || i.t("tablet.fingerprint")}": "<code class="fingerprint">{r.fingerprint.clone()}</code></p>
                                    </div>
                                </div>
                            }.into_any()
                        }
                        None => view! { <p class="muted">{move || i.t("tablet.no_address")}</p> }.into_any(),
                    }}
                </section>
            }
        })}
    }
}

fn text_input(value: RwSignal<String>) -> impl IntoView {
    view! { <input prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/> }
}

/// A text field that says what it holds (as placeholder and label), for a
/// row of fields with no label above them.
fn named_input(value: RwSignal<String>, name: &'static str) -> impl IntoView {
    let i = use_i18n();
    view! {
        <input prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))
            placeholder=move || i.t(name) aria-label=move || i.t(name)/>
    }
}

/// The quorum rules offered: the list's value, its words, the share.
const QUORUM_RULES: [(&str, &str, Share); 3] = [
    ("more_than_half", "quorum.more_than_half", Share::MORE_THAN_HALF),
    ("half", "quorum.half", Share { num: 1, den: 2, strict: false }),
    ("two_thirds", "quorum.two_thirds", Share::TWO_THIRDS),
];

#[component]
fn MeetingForm() -> impl IntoView {
    let i = use_i18n();
    let s = use_ctx().live.state.get_untracked();
    let m = s.map(|s| s.meeting);
    let title = RwSignal::new(m.as_ref().map(|m| m.title.clone()).unwrap_or_default());
    let org = RwSignal::new(m.as_ref().map(|m| m.organisation.clone()).unwrap_or_default());
    let place = RwSignal::new(m.as_ref().map(|m| m.place.clone()).unwrap_or_default());
    let locality = RwSignal::new(m.as_ref().map(|m| m.locality.clone()).unwrap_or_default());
    let starts = RwSignal::new(m.as_ref().map(|m| gavel_shared::clock::to_input(m.starts_at)).unwrap_or_default());
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(starts_at) = gavel_shared::clock::from_input(&starts.get_untracked()) else { return };
        run(
            Command::UpdateMeeting {
                title: title.get_untracked(),
                organisation: org.get_untracked(),
                place: place.get_untracked(),
                locality: locality.get_untracked(),
                starts_at,
            },
            true,
        );
    };
    view! {
        <section class="card">
            <h2>{move || i.t("prep.meeting")}</h2>
            <form class="grid-form" on:submit=save>
                <label>{move || i.t("meeting.title")}{text_input(title)}</label>
                // Two lines at most: the governing body above the organisation, as the minutes' heading prints them.
                <label>{move || i.t("meeting.organisation")}<textarea id="meeting-organisation" rows="2" placeholder=move || i.t("meeting.organisation_hint")
                    prop:value=move || org.get() on:input=move |ev| org.set(event_target_value(&ev))></textarea></label>
                <label>{move || i.t("meeting.place")}{text_input(place)}</label>
                <label>{move || i.t("meeting.locality")}<input id="meeting-locality" placeholder=move || i.t("meeting.locality_hint")
                    prop:value=move || locality.get() on:input=move |ev| locality.set(event_target_value(&ev))/></label>
                <label>{move || i.t("meeting.starts")}{move || i.t("time.room_zone")}<input id="meeting-starts" type="datetime-local" prop:value=move || starts.get() on:input=move |ev| starts.set(event_target_value(&ev))/></label>
                <button id="save-meeting" type="submit">{move || i.t("prep.save")}</button>
            </form>
            <div class="grid-form">
                <label>{move || i.t("prep.quorum_rule")}
                    <select id="quorum-rule" on:change=move |ev| {
                        let chosen = event_target_value(&ev);
                        let share = QUORUM_RULES.iter().find(|(v, _, _)| *v == chosen).map_or(Share::MORE_THAN_HALF, |r| r.2);
                        // Refused (a vote is open, the meeting is over): the
                        // list shows the rule the room holds, not the one refused.
                        let target: web_sys::HtmlSelectElement = event_target(&ev);
                        run_or_undo(Command::SetQuorumRule { share }, move || {
                            let held = with_state(|s| s.meeting.quorum);
                            if let Some((value, _, _)) = QUORUM_RULES.iter().find(|r| Some(r.2) == held) {
                                target.set_value(value);
                            }
                        });
                    }>
                        {QUORUM_RULES
                            .into_iter()
                            .map(|(v, k, share)| view! { <option value=v selected=m.as_ref().is_some_and(|m| m.quorum == share)>{move || i.t(k)}</option> })
                            .collect_view()}
                    </select>
                </label>
                <label>{move || i.t("prep.speech_limit")}
                    <input type="number" min="0" max="60" id="speech-limit" prop:value=m.as_ref().map(|m| (m.speech_limit_secs / 60).to_string()).unwrap_or_default()
                        on:change=crate::decide::change_speech_limit/>
                </label>
            </div>
        </section>
    }
}

#[component]
fn AgendaEditor() -> impl IntoView {
    let i = use_i18n();
    let items = move || state().map(|s| s.agenda.to_vec()).unwrap_or_default();
    let (title, presenter, summary) = (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()));
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        run_then(
            Command::AddItem {
                title: title.get_untracked(),
                presenter: presenter.get_untracked(),
                summary: summary.get_untracked(),
                position: None,
            },
            false,
            move || {
                let _ = title.try_set(String::new());
                let _ = presenter.try_set(String::new());
                let _ = summary.try_set(String::new());
            },
        );
    };
    view! {
        <section class="card">
            <h2>{move || i.t("prep.agenda")}</h2>
            <ol class="agenda-editor">
                <For each=items key=|it| (it.id, it.title.clone(), it.presenter.clone(), it.summary.clone()) let(item)>
                    <AgendaRow item/>
                </For>
            </ol>
            <form class="grid-form" id="add-item" on:submit=add>
                <label>{move || i.t("prep.item_title")}<input id="new-item-title" required prop:value=move || title.get() on:input=move |ev| title.set(event_target_value(&ev))/></label>
                <label>{move || i.t("prep.presenter")}{text_input(presenter)}</label>
                <label class="wide">{move || i.t("prep.summary")}<textarea prop:value=move || summary.get() on:input=move |ev| summary.set(event_target_value(&ev))></textarea></label>
                <button type="submit">{move || i.t("prep.add_item")}</button>
            </form>
        </section>
    }
}

#[component]
fn AgendaRow(item: AgendaItem) -> impl IntoView {
    let i = use_i18n();
    let id = item.id;
    let title = RwSignal::new(item.title.clone());
    let presenter = RwSignal::new(item.presenter.clone());
    let summary = RwSignal::new(item.summary.clone());
    let index = move || state().and_then(|s| s.item_index(id)).unwrap_or(0);
    view! {
        <li class="agenda-row" data-item=id.0>
            {named_input(title, "prep.item_title")}
            {named_input(presenter, "prep.presenter")}
            <textarea prop:value=move || summary.get() on:input=move |ev| summary.set(event_target_value(&ev))
                placeholder=move || i.t("prep.summary") aria-label=move || i.t("prep.summary")></textarea>
            <div class="row-actions">
                <button on:click=move |_| run(Command::UpdateItem { item: id, title: title.get_untracked(), presenter: presenter.get_untracked(), summary: summary.get_untracked() }, true)>{move || i.t("prep.save")}</button>
                <button class="secondary" on:click=move |_| { if index() > 0 { run(Command::MoveItem { item: id, position: index() - 1 }, false) } }>{move || i.t("prep.up")}</button>
                <button class="secondary" on:click=move |_| run(Command::MoveItem { item: id, position: index() + 1 }, false)>{move || i.t("prep.down")}</button>
                <button class="danger remove" on:click=move |_| {
                    if confirmed(&format!("{} «{}»", i.t("prep.remove_item_confirm"), title.get_untracked())) {
                        run(Command::RemoveItem { item: id }, false)
                    }
                }>{move || i.t("prep.remove")}</button>
            </div>
        </li>
    }
}

#[component]
fn DocumentsEditor(meeting: MeetingId) -> impl IntoView {
    let i = use_i18n();
    let ctx = use_ctx();
    let file: NodeRef<Input> = NodeRef::new();
    let item = RwSignal::new(None::<ItemId>);
    let title = RwSignal::new(String::new());
    let conf = RwSignal::new(Confidentiality::Public);
    let readers = RwSignal::new(Vec::<ParticipantId>::new());
    let busy = RwSignal::new(false);
    // Memos: a speech request or a ballot leaves the lists, and the rows and
    // readers' lists open under them, as they are.
    let items =
        Memo::new(move |_| with_state(|s| s.agenda.iter().map(|i| (i.id, i.title.clone())).collect::<Vec<_>>()).unwrap_or_default());
    let items = move || items.get();
    let docs = Memo::new(move |_| with_state(|s| s.documents.to_vec()).unwrap_or_default());
    // The item a new document goes under: the one chosen, while it exists.
    let target = move || item.get().filter(|id| items().iter().any(|(i, _)| i == id)).or_else(|| items().first().map(|(i, _)| *i));
    let upload = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(item) = untrack(target) else { return };
        let Some(f) = file.get().and_then(|input| input.files()).and_then(|l| l.get(0)) else { return };
        let Ok(form) = web_sys::FormData::new() else { return };
        let _ = form.append_with_str("title", &title.get_untracked());
        let _ = form.append_with_str("confidentiality", conf.get_untracked().as_str());
        let r: Vec<String> = readers.get_untracked().iter().map(|r| r.0.to_string()).collect();
        let _ = form.append_with_str("readers", &r.join(","));
        let _ = form.append_with_blob_and_filename("file", &f, &f.name());
        busy.set(true);
        spawn_local(async move {
            let url = format!("/api/meetings/{meeting}/items/{item}/documents");
            let sent = api::post_form::<serde_json::Value>(&url, form, &api::new_key()).await;
            // The secretary may have left the tab while the file went up:
            // this form is gone then, and only the notice is left to give.
            match sent {
                Ok(_) => {
                    let _ = title.try_set(String::new());
                    let _ = readers.try_set(vec![]);
                    if let Some(input) = file.try_get_untracked().flatten() {
                        input.set_value("");
                    }
                    ctx.notice.set(Some((false, i.t("done").to_string())));
                }
                Err(e) => ctx.api_fail(i, &e),
            }
            let _ = busy.try_set(false);
        });
    };
    let conf_options = [Confidentiality::Public, Confidentiality::Members, Confidentiality::Named, Confidentiality::Secret];
    // "Mật" is offered for upload only in a room set up for state secrets.
    let secrets = RwSignal::new(false);
    spawn_local(async move {
        if let Ok(r) = api::get::<RoomInfo>("/api/room").await {
            let _ = secrets.try_set(r.secret_documents);
        }
    });
    view! {
        <section class="card">
            <h2>{move || i.t("docs")}</h2>
            <ul class="documents-editor">
                <For each=move || docs.get() key=|d| (d.id, d.title.clone(), d.confidentiality, d.readers.clone()) let(d)>
                    {
                        let under = d.item;
                        let item_title = Signal::derive(move || with_state(|s| s.item(under).map(|i| i.title.clone())).flatten().unwrap_or_default());
                        view! { <DocumentRow d item_title secrets/> }
                    }
                </For>
            </ul>
            <h3>{move || i.t("prep.upload")}</h3>
            <form class="grid-form" id="upload-form" on:submit=upload>
                <label>{move || i.t("prep.item_title")}
                    <select id="upload-item" on:change=move |ev| item.set(event_target_value(&ev).parse().ok().map(ItemId))>
                        <For each=items key=|it| it.clone() let((id, title))>
                            <option value=id.0 prop:selected=move || target() == Some(id)>{title}</option>
                        </For>
                    </select>
                </label>
                <label>{move || i.t("prep.pdf_file")}<input type="file" accept="application/pdf,.pdf" node_ref=file required/></label>
                <label>{move || i.t("prep.doc_title")}{text_input(title)}</label>
                <label>{move || i.t("prep.confidentiality")}
                    <select on:change=move |ev| conf.set(Confidentiality::parse(&event_target_value(&ev)).unwrap_or(Confidentiality::Public))>
                        {move || conf_options.into_iter().filter(|c| *c != Confidentiality::Secret || secrets.get()).map(|c| view! { <option value=c.as_str()>{move || i.t(conf_key(c))}</option> }).collect_view()}
                    </select>
                </label>
                <Show when=move || conf.get().lists_readers()>
                    <ReadersPicker readers/>
                </Show>
                <button type="submit" disabled=move || busy.get()>{move || if busy.get() { i.t("prep.uploading") } else { i.t("prep.upload") }}</button>
            </form>
        </section>
    }
}

/// One uploaded document: its access, who may read it when that is a list
/// of names, and its removal. Choosing "named" or "secret" for a document
/// that had no list opens the list first; nothing is sent until it is saved.
#[component]
fn DocumentRow(d: Document, item_title: Signal<String>, secrets: RwSignal<bool>) -> impl IntoView {
    let i = use_i18n();
    let id = d.id;
    // The access being given a list of readers, while the list is open.
    let editing = RwSignal::new(None::<Confidentiality>);
    let readers = RwSignal::new(d.readers.clone());
    let select: NodeRef<leptos::html::Select> = NodeRef::new();
    let (was, shown) = (StoredValue::new(d.readers.clone()), d.confidentiality);
    let names = move || {
        let s = state()?;
        let names: Vec<String> = was.with_value(|w| w.iter().filter_map(|r| s.participant(*r).map(|p| p.name.clone())).collect());
        Some(names)
    };
    let reset = move || {
        editing.set(None);
        readers.set(was.get_value());
        if let Some(s) = select.get_untracked() {
            s.set_value(shown.as_str());
        }
    };
    let title = d.title.clone();
    let save = move |_| {
        let Some(c) = editing.get_untracked() else { return };
        let mut chosen = readers.get_untracked();
        chosen.sort();
        run_then(Command::UpdateDocument { document: id, title: title.clone(), confidentiality: c, readers: chosen }, false, move || {
            let _ = editing.try_set(None);
        });
    };
    let d5 = d.clone();
    let change = move |ev: leptos::ev::Event| {
        let Some(c) = Confidentiality::parse(&event_target_value(&ev)) else { return };
        if c.lists_readers() && !d5.confidentiality.lists_readers() {
            // Narrowing to a list of names: the list is chosen first.
            readers.set(vec![]);
            editing.set(Some(c));
            return;
        }
        // Opening a restricted document to more people is asked first.
        let wider = |c: Confidentiality| match c {
            Confidentiality::Public => 3,
            Confidentiality::Members => 2,
            Confidentiality::Named | Confidentiality::Secret => 1,
        };
        if wider(c) > wider(d5.confidentiality)
            && !confirmed(&format!("{} «{}»: {}?", i.t("prep.widen_confirm"), d5.title, i.t(conf_key(c))))
        {
            reset();
            return;
        }
        editing.set(None);
        // Refused, the list goes back to the access the document still has.
        // Answered later, the row may be gone by then (another tab, the
        // document removed): nothing of it is touched then.
        let undo = move || {
            let _ = editing.try_set(None);
            if let Some(w) = was.try_get_value() {
                let _ = readers.try_set(w);
            }
            if let Some(Some(s)) = select.try_get_untracked() {
                s.set_value(shown.as_str());
            }
        };
        let readers = if c.lists_readers() { d5.readers.clone() } else { vec![] };
        run_or_undo(Command::UpdateDocument { document: id, title: d5.title.clone(), confidentiality: c, readers }, undo);
    };
    let conf_options = [Confidentiality::Public, Confidentiality::Members, Confidentiality::Named, Confidentiality::Secret];
    let has_list = d.confidentiality.lists_readers();
    view! {
        <li data-document=id.0>
            <span class="doc-title">{d.title.clone()}</span>
            <span class="muted">{item_title}</span>
            <select class="access" node_ref=select on:change=change>
                {move || conf_options.into_iter().filter(|c| *c != Confidentiality::Secret || shown == *c || secrets.get()).map(|c| view! {
                    <option value=c.as_str() selected=c == shown>{move || i.t(conf_key(c))}</option>
                }).collect_view()}
            </select>
            <Show when=move || has_list && editing.get().is_none()>
                <span class="doc-readers">
                    {move || match names() {
                        Some(n) if !n.is_empty() => format!("{}: {}", i.t("prep.readers"), n.join(", ")),
                        _ => i.t("prep.no_readers").to_string(),
                    }}
                </span>
                <button class="edit-readers" on:click=move |_| {
                    readers.set(was.get_value());
                    editing.set(Some(shown));
                }>{move || i.t("prep.edit_readers")}</button>
            </Show>
            <button class="danger remove" on:click=move |_| {
                if confirmed(&format!("{} «{}»", i.t("prep.remove_doc_confirm"), d.title)) {
                    run(Command::RemoveDocument { document: id }, false)
                }
            }>{move || i.t("prep.remove")}</button>
            <Show when=move || editing.get().is_some()>
                <div class="wide reader-list">
                    <ReadersPicker readers/>
                    <button class="save-readers" on:click=save.clone()>{move || i.t("prep.save_readers")}</button>
                    <button class="cancel-readers" on:click=move |_| reset()>{move || i.t("cancel")}</button>
                </div>
            </Show>
        </li>
    }
}

/// A tick box per participant, for a named or secret document's readers.
#[component]
fn ReadersPicker(readers: RwSignal<Vec<ParticipantId>>) -> impl IntoView {
    let i = use_i18n();
    // A Memo: a speech request or a ballot does not walk the list again.
    let people = Memo::new(move |_| with_state(|s| s.participants_sorted().into_iter().cloned().collect::<Vec<_>>()).unwrap_or_default());
    view! {
        <fieldset class="wide readers">
            <legend>{move || i.t("prep.readers")}</legend>
            <For each=move || people.get() key=|p| (p.id, p.name.clone()) let(p)>
                {
                    let id = p.id;
                    view! {
                        <label class="check"><input type="checkbox" prop:checked=move || readers.get().contains(&id)
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                readers.update(|r| { r.retain(|x| *x != id); if on { r.push(id) } });
                            }/>{p.name}</label>
                    }
                }
            </For>
        </fieldset>
    }
}

/// Shows the sign-in cards of the PINs the room answered with. A command
/// sent again after its answer was lost with the link is answered with what
/// was done, without the PINs (the room keeps only their hashes): nobody has
/// seen those, so the secretary is asked and new ones are issued for the
/// same people, rather than cards with blank PINs.
fn show_pins(i: I18n, ctx: Ctx, cards: RwSignal<Option<Vec<IssuedPin>>>, r: Result<CommandResult, (String, String)>) {
    match r {
        Ok(CommandResult::Pins { pins }) if pins.iter().any(|p| p.pin.is_none()) => {
            let ids: Vec<ParticipantId> =
                pins.iter().map(|p| p.participant).filter(|p| with_state(|s| s.participant(*p).is_some()).unwrap_or(false)).collect();
            if !ids.is_empty() && window().confirm_with_message(i.t("prep.pins_lost")).unwrap_or(false) {
                crate::live::send(Command::ResetPins { participants: ids }, move |r| show_pins(i, ctx, cards, r));
            }
        }
        Ok(CommandResult::Pins { pins }) => {
            let _ = cards.try_set(Some(pins));
        }
        Ok(_) => {}
        Err((code, message)) => ctx.fail(i, &code, &message),
    }
}

#[component]
fn ParticipantsEditor(meeting: MeetingId, cards: RwSignal<Option<Vec<IssuedPin>>>) -> impl IntoView {
    let i = use_i18n();
    let ctx = use_ctx();
    // A Memo, and rows keyed by what they show: a speech request or a ballot
    // redraws no row, and a change to one person redraws only theirs (a
    // role list left open on another row stays open).
    let people = Memo::new(move |_| with_state(|s| s.participants_sorted().into_iter().cloned().collect::<Vec<_>>()).unwrap_or_default());
    let chosen = RwSignal::new(Vec::<ParticipantId>::new());
    let (name, position) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let role = RwSignal::new(Role::Delegate);
    let show_pins = move |r: Result<CommandResult, (String, String)>| show_pins(i, ctx, cards, r);
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let voting = matches!(role.get_untracked(), Role::Chair | Role::Delegate);
        let p = NewParticipant {
            name: name.get_untracked(),
            position: position.get_untracked(),
            role: role.get_untracked(),
            member: voting,
            voting,
        };
        // Emptied once the room took it: on a dropped link what was typed stays.
        crate::live::send(Command::AddParticipants { participants: vec![p] }, move |r| {
            if r.is_ok() {
                let _ = name.try_set(String::new());
                let _ = position.try_set(String::new());
            }
            show_pins(r)
        });
    };
    let csv: NodeRef<Input> = NodeRef::new();
    // The import whose PIN cards are on screen, by its key, and how many
    // imports are waiting for their answer.
    let cards_of = StoredValue::new(None::<String>);
    let in_flight = StoredValue::new(0u32);
    let import = move |_| {
        let Some(f) = csv.get().and_then(|input| input.files()).and_then(|l| l.get(0)) else { return };
        spawn_local(async move {
            // The bytes as Excel wrote them: a CSV saved on a Vietnamese
            // Windows is in Windows-1258, which the browser would read as
            // broken UTF-8; the room tells the two apart.
            let url = format!("/api/meetings/{meeting}/participants/import");
            let Ok(bytes) = wasm_bindgen_futures::JsFuture::from(f.array_buffer()).await.map(|b| js_sys::Uint8Array::new(&b).to_vec())
            else {
                return;
            };
            // The same file as an import whose answer never came (pressed
            // twice, or again after the link dropped, even with the file
            // chosen anew): the same key, so its people are added once.
            let key = pending_import_key(meeting, bytes);
            // The tab may be built anew while the answer is on its way (the
            // link came back): this one's signals are then gone, and the
            // import stays pending so the same file chosen again is
            // answered "already done" and gets its cards there.
            let _ = in_flight.try_update_value(|n| *n += 1);
            let answer = api::post_file::<serde_json::Value>(&url, "text/csv", &f, &key).await;
            let _ = in_flight.try_update_value(|n| *n -= 1);
            let Some(waiting) = in_flight.try_get_value() else { return };
            let shown = key.clone();
            let show = move |pins: Vec<IssuedPin>| {
                if cards.try_set(Some(pins)).is_none() {
                    let _ = cards_of.try_update_value(|c| *c = Some(shown.clone()));
                    if let Some(input) = csv.get_untracked() {
                        input.set_value("");
                    }
                    import_done(&shown);
                }
            };
            match answer {
                // The same file again: taken once, and its answer has no
                // PINs to show (the room keeps only their hashes); the cards
                // of the first answer stay. If that first answer never
                // reached this page (the link dropped), nobody has seen
                // those PINs: the secretary is asked, and new ones are
                // issued for the same people and their cards shown.
                Ok(v) if v["repeated"] == serde_json::json!(true) => {
                    let ids: Vec<ParticipantId> = match serde_json::from_value::<CommandResult>(v["result"].clone()) {
                        // Those still in the meeting.
                        Ok(CommandResult::Pins { pins }) => pins
                            .iter()
                            .map(|p| p.participant)
                            .filter(|p| with_state(|s| s.participant(*p).is_some()).unwrap_or(false))
                            .collect(),
                        _ => vec![],
                    };
                    // (Pressed twice, the first press's answer is still on its way.)
                    if waiting > 0 || cards_of.try_get_value().flatten().as_ref() == Some(&key) {
                        return;
                    }
                    if ids.is_empty() || !window().confirm_with_message(i.t("prep.import_pins_lost")).unwrap_or(false) {
                        import_done(&key);
                        return;
                    }
                    // Over HTTP, which needs no live link, with a new key
                    // each time: PINs issued and never seen are replaced
                    // again. The import stays pending until the cards show,
                    // so pressing Import again tries again.
                    let body = serde_json::json!({ "key": api::new_key(), "command": Command::ResetPins { participants: ids } });
                    match api::post::<_, serde_json::Value>(&format!("/api/meetings/{meeting}/commands"), &body).await {
                        Ok(v) => {
                            if let Ok(CommandResult::Pins { pins }) = serde_json::from_value::<CommandResult>(v["result"].clone()) {
                                show(pins);
                            }
                        }
                        Err(e) => ctx.api_fail(i, &e),
                    }
                }
                Ok(v) => {
                    if let Ok(CommandResult::Pins { pins }) = serde_json::from_value::<CommandResult>(v["result"].clone()) {
                        show(pins);
                    }
                }
                Err(e) => ctx.api_fail(i, &e),
            }
        });
    };
    // Lifting a sign-in lock, revoking a lost tablet's sessions.
    let manage = move |id: ParticipantId, what: &'static str, done: &'static str| {
        spawn_local(async move {
            let url = format!("/api/meetings/{meeting}/participants/{id}/{what}");
            match api::post::<_, serde_json::Value>(&url, &serde_json::json!({})).await {
                Ok(_) => ctx.notice.set(Some((false, i.t(done).to_string()))),
                Err(e) => ctx.api_fail(i, &e),
            }
        });
    };
    let fixed = move || !may(CommandKind::UpdateParticipant);
    let print_cards = move |_| {
        let mut ids = chosen.get_untracked();
        // Nobody ticked means everyone: said so, with how many, since every
        // tablet signed in with an old PIN then has to be joined again.
        let question = if ids.is_empty() {
            ids = people.with_untracked(|p| p.iter().map(|p| p.id).collect());
            format!("{} ({})", i.t("prep.cards_confirm_all"), ids.len())
        } else {
            format!("{} ({})", i.t("prep.cards_confirm"), ids.len())
        };
        if !ids.is_empty() && window().confirm_with_message(&question).unwrap_or(false) {
            crate::live::send(Command::ResetPins { participants: ids }, show_pins);
        }
    };
    view! {
        <section class="card">
            <h2>{move || i.t("prep.participants")}</h2>
            <table class="participants">
                <thead><tr>
                    <th></th><th>{move || i.t("prep.name")}</th><th>{move || i.t("prep.position")}</th><th>{move || i.t("prep.role")}</th>
                    <th>{move || i.t("prep.member")}</th><th>{move || i.t("prep.voting")}</th><th>{move || i.t("attendance")}</th><th></th>
                </tr></thead>
                <tbody>
                    <For each=move || people.get() key=|p| p.clone() let(p)>{
                        let id = p.id;
                        let p1 = p.clone();
                        let p2 = p.clone();
                        let p3 = p.clone();
                        let p4 = p.clone();
                        let p5 = p.name.clone();
                        let attendance = p.attendance;
                        // A refused change puts its control back: the row is
                        // drawn anew only when the participant changes.
                        let update = move |p: Participant, undo: Box<dyn FnOnce()>| run_or_undo(Command::UpdateParticipant { participant: p.id, name: p.name, position: p.position, role: p.role, member: p.member, voting: p.voting }, undo);
                        let tick = |ev: &leptos::ev::Event, was: bool| -> Box<dyn FnOnce()> {
                            let el: web_sys::HtmlInputElement = ev.target().unwrap().unchecked_into();
                            Box::new(move || el.set_checked(was))
                        };
                        view! {
                            <tr data-participant=id.0>
                                <td><input type="checkbox" prop:checked=move || chosen.get().contains(&id) on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    chosen.update(|c| { c.retain(|x| *x != id); if on { c.push(id) } });
                                }/></td>
                                <td>{p.name.clone()}</td>
                                <td>{p.position.clone()}</td>
                                <td><select disabled=fixed on:change=move |ev| {
                                    let target: web_sys::HtmlSelectElement = ev.target().unwrap().unchecked_into();
                                    if let Some(r) = Role::parse(&target.value()) {
                                        let was = p1.role;
                                        update(Participant { role: r, ..p1.clone() }, Box::new(move || target.set_value(was.as_str())))
                                    }
                                }>
                                    {Role::ALL.into_iter().map(|r| view! { <option value=r.as_str() selected=r == p.role>{move || i.t(role_key(r))}</option> }).collect_view()}
                                </select></td>
                                <td><input type="checkbox" class="member" disabled=fixed prop:checked=p.member on:change=move |ev| update({ let member = event_target_checked(&ev); Participant { member, voting: p2.voting && member, ..p2.clone() } }, tick(&ev, p2.member))/></td>
                                <td><input type="checkbox" class="voting" disabled=fixed prop:checked=p.voting on:change=move |ev| update({ let voting = event_target_checked(&ev); Participant { voting, member: p3.member || voting, ..p3.clone() } }, tick(&ev, p3.voting))/></td>
                                <td class="attendance">
                                    <select disabled=fixed on:change=move |ev| {
                                        let a = Attendance::parse(&event_target_value(&ev)).unwrap_or_default();
                                        let target: web_sys::HtmlSelectElement = ev.target().unwrap().unchecked_into();
                                        let was = attendance;
                                        let reason = if a == Attendance::Excused {
                                            // Cancelled: nothing is recorded, and the list says what it did.
                                            match window().prompt_with_message(i.t("att.reason")).ok().flatten() {
                                                Some(reason) => reason,
                                                None => {
                                                    target.set_value(was.as_str());
                                                    return;
                                                }
                                            }
                                        } else {
                                            String::new()
                                        };
                                        run_or_undo(Command::SetAttendance { participant: id, attendance: a, reason }, move || target.set_value(was.as_str()));
                                    }>
                                        {[Attendance::Present, Attendance::Absent, Attendance::Excused].into_iter().map(|a| view! {
                                            <option value=a.as_str() selected=a == p.attendance>{move || i.t(match a {
                                                Attendance::Present => "att.present", Attendance::Absent => "att.absent", Attendance::Excused => "att.excused" })}</option>
                                        }).collect_view()}
                                    </select>
                                    <span class="muted small">{p.excuse.clone()}</span>
                                </td>
                                <td class="row-actions">
                                    <button class="secondary" on:click=move |_| {
                                        if confirmed(&format!("{} «{}»", i.t("prep.reset_pin_confirm"), p5)) {
                                            crate::live::send(Command::ResetPins { participants: vec![id] }, show_pins)
                                        }
                                    }>{move || i.t("prep.reset_pin")}</button>
                                    <button class="secondary unlock" on:click=move |_| manage(id, "unlock", "prep.unlocked")>{move || i.t("prep.unlock")}</button>
                                    <button class="danger revoke" on:click=move |_| {
                                        if window().confirm_with_message(i.t("prep.revoke_confirm")).unwrap_or(false) {
                                            manage(id, "revoke", "prep.revoked");
                                        }
                                    }>{move || i.t("prep.revoke")}</button>
                                    <button class="danger remove" disabled=fixed on:click=move |_| {
                                        if confirmed(&format!("{} «{}»", i.t("prep.remove_person_confirm"), p4.name)) {
                                            run(Command::RemoveParticipant { participant: id }, false)
                                        }
                                    }>{move || i.t("prep.remove")}</button>
                                </td>
                            </tr>
                        }
                    }</For>
                </tbody>
            </table>
            <button id="print-cards" on:click=print_cards>{move || i.t("prep.cards")}</button>
            <fieldset class="plain" disabled=fixed>
            <h3>{move || i.t("prep.add_participant")}</h3>
            <form class="grid-form" on:submit=add>
                <label>{move || i.t("prep.name")}<input id="new-participant-name" required prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/></label>
                <label>{move || i.t("prep.position")}{text_input(position)}</label>
                <label>{move || i.t("prep.role")}
                    <select on:change=move |ev| role.set(Role::parse(&event_target_value(&ev)).unwrap_or(Role::Delegate))>
                        {Role::ALL.into_iter().map(|r| view! { <option value=r.as_str() selected=r == Role::Delegate>{move || i.t(role_key(r))}</option> }).collect_view()}
                    </select>
                </label>
                <button type="submit" id="add-participant">{move || i.t("prep.add_participant")}</button>
            </form>
            <h3>{move || i.t("prep.import")}</h3>
            <p class="muted">{move || i.t("prep.import_help")}</p>
            <div class="grid-form">
                <input type="file" id="import-file" accept=".csv,text/csv" node_ref=csv/>
                <button id="import" on:click=import>{move || i.t("prep.import")}</button>
            </div>
            </fieldset>
        </section>
    }
}
