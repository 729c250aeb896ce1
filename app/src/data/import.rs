//! The CSV upload page (SPEC UI-5): pick what the file holds and the file, check a preview of
//! its first rows with a column mapping the user can change, upload it to
//! `POST /api/v1/imports`, and follow the server's progress to a summary with a link to the
//! error report. Reading the file and uploading it happen in the browser (the file goes as the
//! request body, streamed by the browser), so this page needs JavaScript and says so.

use leptos::prelude::*;

use super::pages::DataFrame;
use crate::account::Protected;
use crate::ui_error::UiError;

/// The first rows of the chosen file.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Preview {
    pub file_name: String,
    pub size: f64,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Where an import stands, as the server reports it.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Progress {
    pub id: String,
    pub status: String,
    pub rows_done: f64,
    pub rows_accepted: f64,
    pub rows_rejected: f64,
    pub fraction: f64,
    pub error: Option<String>,
}

/// Rows shown in the preview.
#[cfg(any(feature = "hydrate", test))]
const PREVIEW_ROWS: usize = 5;

/// The columns a file of `entity` may have, as the server defines them.
#[server(prefix = "/rpc", endpoint = "import-columns")]
pub async fn import_columns(entity: String) -> Result<Vec<String>, UiError> {
    use crate::backend::ingest::imports::Entity;
    let entity = Entity::parse(&entity).ok_or(UiError::NotFound)?;
    Ok(entity.columns().into_iter().map(str::to_owned).collect())
}

/// Splits the start of a file into a header and a few rows (a last, cut-off row is dropped).
#[cfg(any(feature = "hydrate", test))]
pub fn preview_rows(bytes: &[u8], complete: bool) -> (Vec<String>, Vec<Vec<String>>) {
    let mut splitter = csv_rows::RowSplitter::new();
    let mut rows = Vec::new();
    splitter.push(bytes, &mut rows);
    if complete {
        splitter.finish(&mut rows);
    }
    let mut cells = rows.into_iter().filter_map(|r| r.fields.ok());
    let header = cells.next().unwrap_or_default();
    (header, cells.take(PREVIEW_ROWS).collect())
}

/// The field a column maps to by default: its own name when that is a field, else ignored.
pub fn default_target(header: &str, columns: &[String]) -> String {
    let name = header.trim().to_ascii_lowercase();
    if columns.contains(&name) {
        name
    } else {
        String::new()
    }
}

const ENTITIES: [(&str, &str); 7] = [
    ("interactions", "Interactions"),
    ("customers", "Customers (profiles)"),
    ("orders", "Orders (one row per order line)"),
    ("products", "Products"),
    ("reviews", "Reviews"),
    ("competitor_prices", "Competitor prices"),
    ("inventory", "Inventory levels"),
];

#[component]
pub fn ImportPage() -> impl IntoView {
    view! {
        <Protected>
            <DataFrame title="Import a CSV file">
                <Importer />
            </DataFrame>
        </Protected>
    }
}

#[component]
fn Importer() -> impl IntoView {
    let entity = RwSignal::new("interactions".to_owned());
    let columns = Resource::new(move || entity.get(), import_columns);
    let preview = RwSignal::new(None::<Preview>);
    let mapping = RwSignal::new(Vec::<String>::new());
    let progress = RwSignal::new(None::<Progress>);
    let problem = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let file_input = NodeRef::<leptos::html::Input>::new();

    // The mapping starts from the header's names whenever the file or the entity changes.
    Effect::new(move |_| {
        let fields = columns.get().and_then(Result::ok).unwrap_or_default();
        let header = preview.with(|p| p.as_ref().map(|p| p.header.clone()).unwrap_or_default());
        mapping.set(header.iter().map(|h| default_target(h, &fields)).collect());
    });

    let on_file = move |_| {
        problem.set(None);
        progress.set(None);
        #[cfg(feature = "hydrate")]
        if let Some(file) = browser::chosen_file(file_input) {
            leptos::task::spawn_local(async move {
                match browser::read_preview(&file).await {
                    Ok(read) => preview.set(Some(read)),
                    Err(message) => problem.set(Some(message)),
                }
            });
        }
    };

    let on_upload = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let header = preview.with_untracked(|p| p.as_ref().map(|p| p.header.clone()));
        let Some(header) = header else {
            problem.set(Some("Choose a file first.".into()));
            return;
        };
        let targets = mapping.get_untracked();
        let pairs: Vec<(String, String)> = header.into_iter().zip(targets).collect();
        let entity = entity.get_untracked();
        busy.set(true);
        problem.set(None);
        #[cfg(feature = "hydrate")]
        if let Some(file) = browser::chosen_file(file_input) {
            leptos::task::spawn_local(async move {
                if let Err(message) = browser::upload_and_follow(file, entity, pairs, progress).await {
                    problem.set(Some(message));
                }
                busy.set(false);
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (pairs, entity);
    };

    view! {
        <noscript><p class="form-error">"Uploading a file from this page needs JavaScript. Without it, send the file to POST /api/v1/imports (see the README)."</p></noscript>
        <form class="stacked" on:submit=on_upload data-testid="import-form">
            <label for="import-entity">"The file holds"</label>
            <select id="import-entity" name="entity" on:change=move |ev| entity.set(event_target_value(&ev))>
                {ENTITIES.iter().map(|(value, label)| view! { <option value=*value>{*label}</option> }).collect_view()}
            </select>
            <label for="import-file">"CSV file (UTF-8, first row names the columns)"</label>
            <input id="import-file" name="file" type="file" accept=".csv,text/csv" node_ref=file_input on:change=on_file />
            {move || problem.get().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
            {move || preview.get().map(|p| {
                let fields = columns.get().and_then(Result::ok).unwrap_or_default();
                view! {
                    <h2>"Preview and columns"</h2>
                    <p>{format!("{} · {:.1} KB · first {} rows", p.file_name, p.size / 1024.0, p.rows.len())}</p>
                    <div class="table-scroll">
                        <table class="data" aria-label="Preview">
                            <thead>
                                <tr>{p.header.iter().map(|h| view! { <th>{h.clone()}</th> }).collect_view()}</tr>
                                <tr>
                                    {p.header.iter().enumerate().map(|(i, h)| {
                                        let fields = fields.clone();
                                        let id = format!("map-{i}");
                                        view! {
                                            <td>
                                                <label class="visually-hidden" for=id.clone()>{format!("Field for {h}")}</label>
                                                <select id=id data-column=h.clone()
                                                    on:change=move |ev| {
                                                        let value = event_target_value(&ev);
                                                        mapping.update(|m| if let Some(slot) = m.get_mut(i) { *slot = value; });
                                                    }>
                                                    <option value="" selected=move || mapping.with(|m| m.get(i).is_none_or(|t| t.is_empty()))>"(ignore)"</option>
                                                    {fields.iter().map(|f| {
                                                        let chosen = f.clone();
                                                        view! { <option value=f.clone() selected=move || mapping.with(|m| m.get(i) == Some(&chosen))>{f.clone()}</option> }
                                                    }).collect_view()}
                                                </select>
                                            </td>
                                        }
                                    }).collect_view()}
                                </tr>
                            </thead>
                            <tbody>
                                {p.rows.iter().map(|row| view! {
                                    <tr>{row.iter().map(|cell| view! { <td>{cell.clone()}</td> }).collect_view()}</tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }
            })}
            <button type="submit" class="button primary" disabled=move || busy.get() || preview.with(Option::is_none)>
                "Upload and import"
            </button>
        </form>
        {move || progress.get().map(|p| {
            let percent = (p.fraction * 100.0).round();
            let finished = p.status == "succeeded" || p.status == "failed";
            let report = format!("/api/v1/imports/{}/errors.csv", p.id);
            view! {
                <section class="import-progress" aria-live="polite" data-status=p.status.clone()>
                    <progress max="100" value=percent aria-label="Import progress"></progress>
                    <p data-testid="import-percent">{format!("{percent}% · {} rows read", p.rows_done)}</p>
                    {finished.then(|| view! {
                        <div class="notice" role="status" data-testid="import-summary">
                            <p>{if p.status == "succeeded" { "Import finished." } else { "Import stopped." }}
                               " " <strong data-testid="rows-accepted">{p.rows_accepted}</strong> " rows imported, "
                               <strong data-testid="rows-rejected">{p.rows_rejected}</strong> " rejected."</p>
                            {p.error.clone().map(|e| view! { <p class="form-error">{e}</p> })}
                            {(p.rows_rejected > 0.0).then(|| view! {
                                <p><a href=report.clone() download data-testid="error-report">"Download the error report (CSV: line, field, code, message)"</a></p>
                            })}
                        </div>
                    })}
                </section>
            }
        })}
    }
}

/// The browser side: reading the file, uploading it, following the import.
#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use js_sys::{Promise, Reflect, Uint8Array};
    use leptos::prelude::*;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{EventSource, File, MessageEvent, RequestInit, Response};

    use super::{preview_rows, Preview, Progress};

    /// Bytes read for the preview.
    const PREVIEW_BYTES: f64 = 64.0 * 1024.0;

    /// The file picked in `input`, if any.
    pub fn chosen_file(input: NodeRef<leptos::html::Input>) -> Option<File> {
        input.get()?.files()?.get(0)
    }

    fn text(error: JsValue) -> String {
        error.as_string().unwrap_or_else(|| format!("{error:?}"))
    }

    pub async fn read_preview(file: &File) -> Result<Preview, String> {
        let size = file.size();
        let slice = file.slice_with_f64_and_f64(0.0, PREVIEW_BYTES).map_err(text)?;
        let buffer = JsFuture::from(slice.array_buffer()).await.map_err(text)?;
        let bytes = Uint8Array::new(&buffer).to_vec();
        let (header, rows) = preview_rows(&bytes, size <= PREVIEW_BYTES);
        if header.is_empty() {
            return Err("The file has no header row.".into());
        }
        Ok(Preview {
            file_name: file.name(),
            size,
            header,
            rows,
        })
    }

    fn field(value: &JsValue, name: &str) -> JsValue {
        Reflect::get(value, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
    }

    async fn fetch(url: &str, init: &RequestInit) -> Result<(u16, JsValue), String> {
        let response: Response = JsFuture::from(window().fetch_with_str_and_init(url, init))
            .await
            .map_err(|_| "The server could not be reached.".to_string())?
            .dyn_into()
            .map_err(text)?;
        let status = response.status();
        let body = match response.json() {
            Ok(promise) => JsFuture::from(promise).await.unwrap_or(JsValue::NULL),
            Err(_) => JsValue::NULL,
        };
        Ok((status, body))
    }

    /// The messages of an error answer (`{"error": {message, details: {fields: [...]}}}`).
    fn error_message(body: &JsValue) -> String {
        let error = field(body, "error");
        let fields = js_sys::Array::from(&field(&field(&error, "details"), "fields"));
        let messages: Vec<String> = fields
            .iter()
            .filter_map(|f| field(&f, "message").as_string())
            .collect();
        if messages.is_empty() {
            field(&error, "message")
                .as_string()
                .unwrap_or_else(|| "The upload failed.".into())
        } else {
            messages.join(" ")
        }
    }

    /// Wakes the upload's progress loop when the server announces progress of its import
    /// (`import_progress` events over `/api/v1/events`); a timer wakes it anyway, in case the
    /// event stream is down.
    struct ProgressEvents {
        source: Option<EventSource>,
        wake: Rc<RefCell<Option<js_sys::Function>>>,
        /// An event came while nobody waited: the next wait returns at once.
        pending: Rc<Cell<bool>>,
        _listener: Closure<dyn Fn(MessageEvent)>,
    }

    impl ProgressEvents {
        fn open() -> ProgressEvents {
            let wake: Rc<RefCell<Option<js_sys::Function>>> = Rc::default();
            let pending: Rc<Cell<bool>> = Rc::default();
            let listener = {
                let (wake, pending) = (wake.clone(), pending.clone());
                Closure::<dyn Fn(MessageEvent)>::new(move |message: MessageEvent| {
                    let data = message.data().as_string().unwrap_or_default();
                    if data.contains("\"kind\":\"import_progress\"") {
                        match wake.borrow_mut().take() {
                            Some(resolve) => drop(resolve.call0(&JsValue::NULL)),
                            None => pending.set(true),
                        }
                    }
                })
            };
            let source = EventSource::new("/api/v1/events").ok();
            if let Some(source) = &source {
                let _ = source.add_event_listener_with_callback("events", listener.as_ref().unchecked_ref());
            }
            ProgressEvents {
                source,
                wake,
                pending,
                _listener: listener,
            }
        }

        /// Resolves at the next progress event, or after `ms` at the latest.
        async fn next(&self, ms: i32) {
            if self.pending.replace(false) {
                return;
            }
            let promise = Promise::new(&mut |resolve, _| {
                let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
                *self.wake.borrow_mut() = Some(resolve);
            });
            let _ = JsFuture::from(promise).await;
        }
    }

    impl Drop for ProgressEvents {
        fn drop(&mut self) {
            if let Some(source) = &self.source {
                source.close();
            }
        }
    }

    fn encode(value: &str) -> String {
        String::from(js_sys::encode_uri_component(value))
    }

    pub async fn upload_and_follow(
        file: File,
        entity: String,
        mapping: Vec<(String, String)>,
        progress: RwSignal<Option<Progress>>,
    ) -> Result<(), String> {
        let mapping_json = {
            let object = js_sys::Object::new();
            for (header, target) in &mapping {
                let _ = Reflect::set(&object, &JsValue::from_str(header), &JsValue::from_str(target));
            }
            js_sys::JSON::stringify(&object).map(String::from).map_err(text)?
        };
        let url = format!(
            "/api/v1/imports?entity={}&file_name={}&mapping={}",
            encode(&entity),
            encode(&file.name()),
            encode(&mapping_json)
        );
        let init = RequestInit::new();
        init.set_method("POST");
        let headers = web_sys::Headers::new().map_err(text)?;
        headers.set("content-type", "text/csv").map_err(text)?;
        init.set_headers(&headers);
        init.set_body(&file);
        let (status, body) = fetch(&url, &init).await?;
        if status != 202 {
            return Err(error_message(&body));
        }
        let id = field(&body, "import_id").as_string().unwrap_or_default();
        let events = ProgressEvents::open();
        let get = RequestInit::new();
        get.set_method("GET");
        loop {
            let (status, body) = fetch(&format!("/api/v1/imports/{id}"), &get).await?;
            if status != 200 {
                return Err(error_message(&body));
            }
            let number = |name: &str| field(&body, name).as_f64().unwrap_or(0.0);
            let total = number("bytes_total").max(1.0);
            let state = field(&body, "status").as_string().unwrap_or_default();
            let finished = state == "succeeded" || state == "failed";
            progress.set(Some(Progress {
                id: id.clone(),
                fraction: if state == "succeeded" {
                    1.0
                } else {
                    (number("bytes_done") / total).min(1.0)
                },
                status: state,
                rows_done: number("rows_done"),
                rows_accepted: number("rows_accepted"),
                rows_rejected: number("rows_rejected"),
                error: field(&body, "error").as_string(),
            }));
            if finished {
                return Ok(());
            }
            events.next(2000).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preview_shows_the_header_and_whole_rows_only() {
        let (header, rows) = preview_rows(b"sku,name\nA-1,\"Mug, blue\"\nB-2,Pl", false);
        assert_eq!(header, ["sku", "name"]);
        assert_eq!(rows, [vec!["A-1".to_string(), "Mug, blue".to_string()]]);
    }

    #[test]
    fn columns_named_like_fields_map_to_them_and_others_are_ignored() {
        let fields = vec!["sku".to_string(), "name".to_string()];
        assert_eq!(default_target(" SKU ", &fields), "sku");
        assert_eq!(default_target("Colour", &fields), "");
    }
}
