//! The document reader: the PDF drawn page by page in the app (pdf.js,
//! through the glue in `client/web/pdf-viewer.js`), with its progress, the
//! page being read, a page to go to, words to find (typed with or without
//! Vietnamese marks), zoom, and the room's refusal in words when it
//! refuses.

use crate::i18n::use_i18n;
use leptos::html::Div;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// What `gavelPdf.open` returns.
    type PdfView;

    #[wasm_bindgen(js_namespace = gavelPdf, js_name = open)]
    fn pdf_open(
        root: &web_sys::HtmlElement,
        url: &str,
        page_label: &str,
        report: &Closure<dyn Fn(String)>,
        found: &Closure<dyn Fn(String)>,
    ) -> PdfView;

    #[wasm_bindgen(method)]
    fn zoom(this: &PdfView, factor: f64);

    #[wasm_bindgen(method, js_name = goTo)]
    fn go_to(this: &PdfView, page: f64);

    #[wasm_bindgen(method)]
    fn find(this: &PdfView, query: &str);

    #[wasm_bindgen(method)]
    fn step(this: &PdfView, by: i32);

    #[wasm_bindgen(method)]
    fn close(this: &PdfView);
}

/// What the glue reports.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
enum Shown {
    Loading { received: u64, total: u64 },
    Ready { pages: u32, page: u32 },
    Error { code: String, message: String },
}

/// What the glue reports of finding words.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
enum Finding {
    Idle,
    /// Still reading pages, nothing found yet: `page` pages of `pages`.
    Searching {
        page: u32,
        pages: u32,
    },
    /// Match `index` of `total` shown; `done`: every page was searched.
    Found {
        total: u32,
        index: u32,
        page: u32,
        done: bool,
    },
    /// Nothing found; `text`: whether the document has any text (a scan has
    /// none); `unreadable`: no page's text could be read.
    None {
        text: bool,
        unreadable: bool,
    },
}

/// Shows the PDF at `url`, fetched once when shown, freed when gone.
#[component]
pub fn PdfViewer(url: String) -> impl IntoView {
    let i = use_i18n();
    let pages = NodeRef::<Div>::new();
    let shown = RwSignal::new(Shown::Loading { received: 0, total: 0 });
    let found = RwSignal::new(Finding::Idle);
    // The query last searched for: Enter again goes to the next match.
    let searched = RwSignal::new(String::new());
    let query = RwSignal::new(String::new());
    let go_to = RwSignal::new(String::new());
    type Handle = (PdfView, Closure<dyn Fn(String)>, Closure<dyn Fn(String)>);
    let view_handle = StoredValue::new_local(None::<Handle>);
    pages.on_load(move |root| {
        let report = Closure::<dyn Fn(String)>::new(move |json: String| {
            shown.set(
                serde_json::from_str::<Shown>(&json)
                    .unwrap_or_else(|e| Shown::Error { code: "viewer_failed".into(), message: format!("{e}: {json}") }),
            );
        });
        let on_found = Closure::<dyn Fn(String)>::new(move |json: String| {
            if let Ok(f) = serde_json::from_str::<Finding>(&json) {
                found.set(f);
            }
        });
        let view = pdf_open(&root, &url, i.t("docs.page"), &report, &on_found);
        view_handle.set_value(Some((view, report, on_found)));
    });
    on_cleanup(move || {
        if let Some(Some((view, _, _))) = view_handle.try_update_value(Option::take) {
            view.close();
        }
    });
    let with_view = move |f: &dyn Fn(&PdfView)| {
        view_handle.with_value(|v| {
            if let Some((view, _, _)) = v {
                f(view)
            }
        })
    };
    let zoom = move |factor: f64| with_view(&|view| view.zoom(factor));
    let search = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let q = query.get_untracked();
        if q.trim().is_empty() {
            searched.set(String::new());
            with_view(&|view| view.find(""));
        } else if searched.get_untracked() == q && matches!(found.get_untracked(), Finding::Found { .. }) {
            with_view(&|view| view.step(1));
        } else {
            searched.set(q.clone());
            with_view(&|view| view.find(&q));
        }
    };
    let step = move |by: i32| with_view(&|view| view.step(by));
    let jump = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if let Ok(n) = go_to.get_untracked().trim().parse::<u32>() {
            with_view(&|view| view.go_to(n as f64));
        }
    };
    let find_status = move || match found.get() {
        Finding::Idle => String::new(),
        Finding::Searching { page, pages } => format!("{} {page}/{pages}", i.t("docs.finding")),
        Finding::Found { total, index, done: true, .. } => format!("{index} / {total}"),
        Finding::Found { total, index, done: false, .. } => format!("{index} / {total}…"),
        Finding::None { unreadable: true, .. } => i.t("docs.find_unreadable").to_string(),
        Finding::None { text: true, .. } => i.t("docs.find_none").to_string(),
        Finding::None { text: false, .. } => i.t("docs.find_no_text").to_string(),
    };
    let searching = move || matches!(found.get(), Finding::Searching { .. } | Finding::Found { done: false, .. });
    // Stepping walks the matches of the words searched, not of words typed since.
    let can_step = move || matches!(found.get(), Finding::Found { total, .. } if total > 1) && query.get() == searched.get();
    let status = move || match shown.get() {
        Shown::Loading { received, total } if total > 0 => {
            format!("{} {}%", i.t("docs.loading"), (received * 100 / total).min(100))
        }
        Shown::Loading { .. } => i.t("docs.loading").to_string(),
        Shown::Ready { pages, page } => format!("{} {page} / {pages}", i.t("docs.page")),
        Shown::Error { code, message } => i.error(&code, &message),
    };
    let ready = move || matches!(shown.get(), Shown::Ready { .. });
    let failed = move || matches!(shown.get(), Shown::Error { .. });
    view! {
        <div class="pdf-tools">
            <span class="pdf-status" class:error=failed role="status">{status}</span>
            // No validation by the browser: a page past the end goes to the
            // last one, rather than a bubble in the browser's language.
            <form class="pdf-go" novalidate on:submit=jump>
                <input type="number" class="go-page" min="1" inputmode="numeric" disabled=move || !ready()
                    aria-label=move || i.t("docs.go_to") placeholder=move || i.t("docs.page")
                    prop:value=move || go_to.get() on:input=move |ev| go_to.set(event_target_value(&ev))/>
                <button type="submit" class="secondary go" disabled=move || !ready()>{move || i.t("docs.go")}</button>
            </form>
            <form class="pdf-find" role="search" on:submit=search>
                <input type="search" class="find-text" disabled=move || !ready() aria-label=move || i.t("docs.find")
                    placeholder=move || i.t("docs.find") prop:value=move || query.get() on:input=move |ev| query.set(event_target_value(&ev))/>
                <button type="submit" class="secondary find-go" disabled=move || !ready()>{move || i.t("docs.find_go")}</button>
                <button type="button" class="secondary find-prev" disabled=move || !can_step() aria-label=move || i.t("docs.find_prev")
                    on:click=move |_| step(-1)>"▲"</button>
                <button type="button" class="secondary find-next" disabled=move || !can_step() aria-label=move || i.t("docs.find_next")
                    on:click=move |_| step(1)>"▼"</button>
                // Told to screen readers once the search is over, not at every page.
                <span class="find-status" role="status" aria-busy=move || searching().to_string()>{find_status}</span>
            </form>
            <span class="pdf-zoom">
                <button class="secondary zoom-out" disabled=move || !ready() aria-label=move || i.t("docs.zoom_out") on:click=move |_| zoom(0.8)>"−"</button>
                <button class="secondary zoom-in" disabled=move || !ready() aria-label=move || i.t("docs.zoom_in") on:click=move |_| zoom(1.25)>"+"</button>
            </span>
        </div>
        <div class="pdf-pages" node_ref=pages></div>
    }
}
