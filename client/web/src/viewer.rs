//! The document reader: the PDF drawn page by page in the app (pdf.js,
//! through the glue in `client/web/pdf-viewer.js`), with its progress, the
//! page being read, zoom, and the room's refusal in words when it refuses.

use crate::i18n::use_i18n;
use leptos::html::Div;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// What `gavelPdf.open` returns.
    type PdfView;

    #[wasm_bindgen(js_namespace = gavelPdf, js_name = open)]
    fn pdf_open(root: &web_sys::HtmlElement, url: &str, page_label: &str, report: &Closure<dyn Fn(String)>) -> PdfView;

    #[wasm_bindgen(method)]
    fn zoom(this: &PdfView, factor: f64);

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

/// Shows the PDF at `url`, fetched once when shown, freed when gone.
#[component]
pub fn PdfViewer(url: String) -> impl IntoView {
    let i = use_i18n();
    let pages = NodeRef::<Div>::new();
    let shown = RwSignal::new(Shown::Loading { received: 0, total: 0 });
    let view_handle = StoredValue::new_local(None::<(PdfView, Closure<dyn Fn(String)>)>);
    pages.on_load(move |root| {
        let report = Closure::<dyn Fn(String)>::new(move |json: String| {
            shown.set(
                serde_json::from_str::<Shown>(&json)
                    .unwrap_or_else(|e| Shown::Error { code: "viewer_failed".into(), message: format!("{e}: {json}") }),
            );
        });
        let view = pdf_open(&root, &url, i.t("docs.page"), &report);
        view_handle.set_value(Some((view, report)));
    });
    on_cleanup(move || {
        if let Some(Some((view, _report))) = view_handle.try_update_value(Option::take) {
            view.close();
        }
    });
    let zoom = move |factor: f64| {
        view_handle.with_value(|v| {
            if let Some((view, _)) = v {
                view.zoom(factor)
            }
        })
    };
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
            <span class="pdf-zoom">
                <button class="secondary zoom-out" disabled=move || !ready() aria-label=move || i.t("docs.zoom_out") on:click=move |_| zoom(0.8)>"−"</button>
                <button class="secondary zoom-in" disabled=move || !ready() aria-label=move || i.t("docs.zoom_in") on:click=move |_| zoom(1.25)>"+"</button>
            </span>
        </div>
        <div class="pdf-pages" node_ref=pages></div>
    }
}
