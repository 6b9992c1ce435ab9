//! The only parts of the UI that run in the browser. Islands take no props (props would bring
//! serde_json into the WASM): they read their state from the URL and the page's `data-*`
//! attributes, and hand the charts to `public/js/lookout.js` (uPlot).
//!
//! - `Explorer`: the time controls of the host and compare views — presets, step back and
//!   forward, zoom out, a custom range, `t z` / `t ←` / `t →`, drag-zoom on any chart — with the
//!   range kept in the URL, and "add note" from a selection on a chart.
//! - `ExportWatch`: follows running exports and reports, fills the exports' progress bars and
//!   gives each its download link when it is done.
use crate::view_state::{
    decode, describe, encode, local_input, param, parse_query, with_range, Range, PRESETS,
};
use leptos::prelude::*;

/// The page's path and query string: from the router while rendering on the server, from the
/// window in the browser (islands have no router there).
fn current_url() -> (String, String) {
    #[cfg(feature = "hydrate")]
    {
        let location = web_sys::window().map(|w| w.location());
        let path = location
            .as_ref()
            .and_then(|l| l.pathname().ok())
            .unwrap_or_default();
        let search = location
            .as_ref()
            .and_then(|l| l.search().ok())
            .unwrap_or_default();
        (path, search)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let location = leptos_router::hooks::use_location();
        let search = location.search.get_untracked();
        (
            location.pathname.get_untracked(),
            if search.is_empty() {
                String::new()
            } else {
                format!("?{search}")
            },
        )
    }
}

fn now_ms() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        chrono::Utc::now().timestamp_millis()
    }
}

#[island]
pub fn Explorer(children: Children) -> impl IntoView {
    let (path, search) = current_url();
    let pairs = parse_query(&search);
    let initial = Range::from_query(
        param(&pairs, "range"),
        param(&pairs, "from"),
        param(&pairs, "to"),
    );
    let is_host = path.starts_with("/hosts/");
    let range = RwSignal::new(initial.clone());
    let noting = RwSignal::new(false);
    let selection = RwSignal::new(None::<(i64, i64)>);
    let note_status = RwSignal::new(None::<String>);
    let page = StoredValue::new((path.clone(), search.clone()));
    let (from, to) = initial.bounds(now_ms());
    // Parameters other than the range, kept by the custom-range form when it is sent without JavaScript.
    let kept: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(k, _)| !matches!(k.as_str(), "range" | "from" | "to" | "event"))
        .collect();

    let controls = browser::Controls::new(range, noting, selection, note_status, page);
    controls.mount(param(&parse_query(&search), "event").map(str::to_owned));

    let presets = PRESETS
        .iter()
        .map(|(name, label, _)| {
            let target = Range::Preset(name);
            let href = format!("{path}{}", with_range(&search, &target));
            let active = { let target = target.clone(); move || range.get() == target };
            view! {
                <a class="preset" class:active=active href=href data-testid=format!("preset-{name}")
                    on:click=move |ev| { ev.prevent_default(); controls.apply(target.clone(), true); }>{*label}</a>
            }
        })
        .collect_view();
    let step = move |direction: i64| {
        let target = initial.shifted(direction, now_ms());
        let href = format!(
            "{}{}",
            page.with_value(|p| p.0.clone()),
            with_range(&page.with_value(|p| p.1.clone()), &target)
        );
        (href, move |ev: leptos::ev::MouseEvent| {
            ev.prevent_default();
            controls.apply(range.get_untracked().shifted(direction, now_ms()), true);
        })
    };
    let (back_href, back) = step(-1);
    let (forward_href, forward) = step(1);
    let zoom_out = move |_| controls.apply(range.get_untracked().zoomed_out(now_ms()), true);
    let custom = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        controls.apply_custom();
    };
    let hidden = kept
        .into_iter()
        .map(|(k, v)| view! { <input type="hidden" name=k value=v/> })
        .collect_view();
    let label = move || describe(&range.get(), now_ms());
    // The host view's range, investigated: follows zooms and steps.
    let investigate_href = {
        let vm = path
            .strip_prefix("/hosts/")
            .map(|v| encode(&decode(v)))
            .unwrap_or_default();
        move || {
            let (from, to) = range.get().bounds(now_ms());
            format!("/investigate?host={vm}&from={from}&to={to}")
        }
    };
    let toggle_note = move |_| controls.toggle_noting();
    let submit_note = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        controls.submit_note();
    };
    let note_form = move || {
        selection.get().map(|(from, to)| {
            let span = format!("{} – {}", local_input(from).replace('T', " "), local_input(to).replace('T', " "));
            view! {
                <form class="note-form panel" data-testid="note-form" on:submit=submit_note>
                    <strong>"Add a note for " {span} " UTC"</strong>
                    <select name="note-type" data-testid="note-type">
                        <option value="manual">"note"</option>
                        <option value="maintenance">"maintenance window"</option>
                    </select>
                    <input name="note-title" placeholder="what happened" required maxlength="200" data-testid="note-title"/>
                    <input name="note-description" placeholder="details (optional)" maxlength="2000" data-testid="note-description"/>
                    <button type="submit" data-testid="note-save">"Save note"</button>
                    <button type="button" on:click=move |_| selection.set(None)>"Cancel"</button>
                </form>
            }
        })
    };
    // Type-erased pieces keep the view type shallow enough for the compiler's layout queries.
    let toolbar = view! {
            <div class="toolbar panel" role="toolbar" aria-label="time range" data-testid="range-bar">
                <a class="step" href=back_href title="back half a range (t ←)" data-testid="range-back" on:click=back>"◀"</a>
                <span class="presets">{presets}</span>
                <a class="step" href=forward_href title="forward half a range (t →)" data-testid="range-forward" on:click=forward>"▶"</a>
                <button type="button" title="twice as wide (t z)" data-testid="range-zoom-out" on:click=zoom_out>"zoom out"</button>
                <form class="custom-range" method="get" action=path.clone() on:submit=custom data-testid="range-custom">
                    {hidden}
                    <input type="datetime-local" name="from" value=local_input(from) data-testid="range-from" aria-label="from (UTC)"/>
                    <input type="datetime-local" name="to" value=local_input(to) data-testid="range-to" aria-label="to (UTC)"/>
                    <button type="submit">"go"</button>
                </form>
                {is_host.then(|| view! {
                    <a class="investigate" href=investigate_href data-testid="range-investigate"
                        title="every series of this host that changed in this range, against the four times longer stretch before it">"what changed?"</a>
                })}
                {is_host.then(|| view! {
                    <button type="button" class="note-toggle" class:active=move || noting.get() data-testid="note-toggle" on:click=toggle_note
                        title="drag across a chart to select the time the note covers">"add note"</button>
                })}
                <span class="range-label muted" data-testid="range-label">{label}</span>
            </div>
    }
    .into_any();
    view! {
        <div class="explorer">
            {toolbar}
            {note_form}
            {move || note_status.get().map(|s| view! { <p class="note-status muted" data-testid="note-status">{s}</p> })}
            {move || noting.get().then(|| view! { <p class="muted small" data-testid="note-hint">"Drag across a chart to select the time the note covers."</p> })}
            {children()}
        </div>
    }
    .into_any()
}

#[island]
pub fn ExportWatch(children: Children) -> impl IntoView {
    browser::watch_exports();
    view! { <div class="export-watch">{children()}</div> }
}

/// What the islands do in the browser; on the server the same calls do nothing.
#[cfg(not(feature = "hydrate"))]
mod browser {
    use crate::view_state::Range;
    use leptos::prelude::*;

    #[derive(Clone, Copy)]
    pub struct Controls;

    impl Controls {
        pub fn new(
            _: RwSignal<Range>,
            _: RwSignal<bool>,
            _: RwSignal<Option<(i64, i64)>>,
            _: RwSignal<Option<String>>,
            _: StoredValue<(String, String)>,
        ) -> Self {
            Controls
        }
        pub fn mount(&self, _: Option<String>) {}
        pub fn apply(&self, _: Range, _: bool) {}
        pub fn apply_custom(&self) {}
        pub fn toggle_noting(&self) {}
        pub fn submit_note(&self) {}
    }

    pub fn watch_exports() {}
}

#[cfg(feature = "hydrate")]
mod browser {
    use crate::view_state::{instant, param, parse_query, with_range, Range};
    use leptos::prelude::*;
    use wasm_bindgen::{prelude::*, JsCast};

    #[wasm_bindgen]
    extern "C" {
        /// `public/js/lookout.js`'s chart explorer.
        pub type ChartsHandle;

        #[wasm_bindgen(js_namespace = Lookout, js_name = mountCharts, catch)]
        fn mount_charts(
            root: &web_sys::Element,
            from: f64,
            to: f64,
            live: bool,
            highlight: Option<String>,
            on_range: &js_sys::Function,
            on_select: &js_sys::Function,
        ) -> Result<JsValue, JsValue>;

        #[wasm_bindgen(js_namespace = Lookout, js_name = postJson)]
        fn post_json(url: &str, body: &JsValue) -> js_sys::Promise;

        #[wasm_bindgen(method, js_name = setRange)]
        fn set_range(this: &ChartsHandle, from: f64, to: f64, live: bool);

        #[wasm_bindgen(method, js_name = setSelectMode)]
        fn set_select_mode(this: &ChartsHandle, on: bool);

        #[wasm_bindgen(method, js_name = refreshEvents)]
        fn refresh_events(this: &ChartsHandle);
    }

    fn now() -> i64 {
        js_sys::Date::now() as i64
    }

    fn document() -> Option<web_sys::Document> {
        web_sys::window()?.document()
    }

    fn iso(ms: i64) -> String {
        js_sys::Date::new(&JsValue::from_f64(ms as f64))
            .to_iso_string()
            .into()
    }

    /// A message from a JavaScript error or a string.
    fn message(error: &JsValue) -> String {
        error
            .as_string()
            .or_else(|| {
                js_sys::Reflect::get(error, &"message".into())
                    .ok()
                    .and_then(|m| m.as_string())
            })
            .unwrap_or_else(|| "failed".into())
    }

    #[derive(Clone, Copy)]
    pub struct Controls {
        range: RwSignal<Range>,
        noting: RwSignal<bool>,
        selection: RwSignal<Option<(i64, i64)>>,
        status: RwSignal<Option<String>>,
        page: StoredValue<(String, String)>,
        handle: StoredValue<Option<ChartsHandle>, LocalStorage>,
        /// When `t` was pressed (ms), for the two-key shortcuts.
        t_pressed: StoredValue<f64>,
    }

    impl Controls {
        pub fn new(
            range: RwSignal<Range>,
            noting: RwSignal<bool>,
            selection: RwSignal<Option<(i64, i64)>>,
            status: RwSignal<Option<String>>,
            page: StoredValue<(String, String)>,
        ) -> Self {
            Controls {
                range,
                noting,
                selection,
                status,
                page,
                handle: StoredValue::new_local(None),
                t_pressed: StoredValue::new(0.0),
            }
        }

        fn root() -> Option<web_sys::Element> {
            document()?.query_selector(".charts").ok().flatten()
        }

        /// Starts the charts once the island is in the page, and listens for the keyboard and
        /// the browser's back and forward buttons.
        pub fn mount(self, highlight: Option<String>) {
            Effect::new(move |_| {
                let Some(root) = Self::root() else { return };
                let (from, to) = self.range.get_untracked().bounds(now());
                let live = self.range.get_untracked().is_live();
                let on_range = Closure::<dyn Fn(f64, f64)>::new(move |from: f64, to: f64| {
                    self.apply(Range::zoomed_in(from as i64, to as i64), true);
                });
                let on_select = Closure::<dyn Fn(f64, f64)>::new(move |from: f64, to: f64| {
                    self.selection.set(Some((from as i64, to as i64)));
                });
                match mount_charts(
                    &root,
                    from as f64,
                    to as f64,
                    live,
                    highlight.clone(),
                    on_range.as_ref().unchecked_ref(),
                    on_select.as_ref().unchecked_ref(),
                ) {
                    Ok(handle) => self.handle.set_value(Some(handle.unchecked_into())),
                    Err(error) => {
                        let _ = root.set_attribute("data-error", &message(&error));
                    }
                }
                // They live as long as the page.
                on_range.forget();
                on_select.forget();
                self.listen();
            });
        }

        fn listen(self) {
            let Some(window) = web_sys::window() else {
                return;
            };
            let keys = Closure::<dyn Fn(web_sys::KeyboardEvent)>::new(
                move |ev: web_sys::KeyboardEvent| {
                    let typing = ev
                        .target()
                        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                        .is_some_and(|e| {
                            matches!(e.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                        });
                    if typing || ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
                        return;
                    }
                    let recent = js_sys::Date::now() - self.t_pressed.get_value() < 1500.0;
                    match ev.key().as_str() {
                        "t" => self.t_pressed.set_value(js_sys::Date::now()),
                        "z" if recent => {
                            self.t_pressed.set_value(0.0);
                            self.apply(self.range.get_untracked().zoomed_out(now()), true);
                        }
                        "ArrowLeft" if recent => {
                            self.t_pressed.set_value(0.0);
                            ev.prevent_default();
                            self.apply(self.range.get_untracked().shifted(-1, now()), true);
                        }
                        "ArrowRight" if recent => {
                            self.t_pressed.set_value(0.0);
                            ev.prevent_default();
                            self.apply(self.range.get_untracked().shifted(1, now()), true);
                        }
                        _ => {}
                    }
                },
            );
            let _ =
                window.add_event_listener_with_callback("keydown", keys.as_ref().unchecked_ref());
            keys.forget();
            let back = Closure::<dyn Fn()>::new(move || {
                let search = web_sys::window()
                    .and_then(|w| w.location().search().ok())
                    .unwrap_or_default();
                let pairs = parse_query(&search);
                let range = Range::from_query(
                    param(&pairs, "range"),
                    param(&pairs, "from"),
                    param(&pairs, "to"),
                );
                self.page.update_value(|p| p.1 = search);
                self.apply(range, false);
            });
            let _ =
                window.add_event_listener_with_callback("popstate", back.as_ref().unchecked_ref());
            back.forget();
        }

        /// Shows `range`: the controls, the URL (a new history entry when `push`), the charts.
        pub fn apply(self, range: Range, push: bool) {
            self.range.set(range.clone());
            if push {
                let (path, search) = self.page.get_value();
                let search = with_range(&search, &range);
                self.page.update_value(|p| p.1 = search.clone());
                if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
                    let _ = history.push_state_with_url(
                        &JsValue::NULL,
                        "",
                        Some(&format!("{path}{search}")),
                    );
                }
            }
            let (from, to) = range.bounds(now());
            for id in ["range-from", "range-to"] {
                let value =
                    crate::view_state::local_input(if id == "range-from" { from } else { to });
                if let Some(input) = document()
                    .and_then(|d| {
                        d.query_selector(&format!("[data-testid={id}]"))
                            .ok()
                            .flatten()
                    })
                    .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
                {
                    input.set_value(&value);
                }
            }
            self.handle.with_value(|h| {
                if let Some(h) = h {
                    h.set_range(from as f64, to as f64, range.is_live());
                }
            });
        }

        /// The custom-range form's two inputs (UTC).
        pub fn apply_custom(self) {
            let value = |id: &str| {
                document()
                    .and_then(|d| {
                        d.query_selector(&format!("[data-testid={id}]"))
                            .ok()
                            .flatten()
                    })
                    .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
                    .map(|i| i.value())
                    .unwrap_or_default()
            };
            match (instant(&value("range-from")), instant(&value("range-to"))) {
                (Some(from), Some(to)) if to > from => self.apply(Range::Fixed { from, to }, true),
                _ => self.status.set(Some("Give a start before the end.".into())),
            }
        }

        pub fn toggle_noting(self) {
            let on = !self.noting.get_untracked();
            self.noting.set(on);
            if !on {
                self.selection.set(None);
            }
            self.handle.with_value(|h| {
                if let Some(h) = h {
                    h.set_select_mode(on);
                }
            });
        }

        pub fn submit_note(self) {
            let Some((from, to)) = self.selection.get_untracked() else {
                return;
            };
            let Some(vm) = Self::root().and_then(|r| r.get_attribute("data-vm")) else {
                return;
            };
            let field = |name: &str| -> String {
                let Some(element) = document()
                    .and_then(|d| d.query_selector(&format!("[name={name}]")).ok().flatten())
                else {
                    return String::new();
                };
                if let Some(input) = element.dyn_ref::<web_sys::HtmlInputElement>() {
                    input.value()
                } else if let Some(select) = element.dyn_ref::<web_sys::HtmlSelectElement>() {
                    select.value()
                } else {
                    String::new()
                }
            };
            let body = js_sys::Object::new();
            let set = |k: &str, v: &str| {
                let _ = js_sys::Reflect::set(&body, &k.into(), &v.into());
            };
            set("type", &field("note-type"));
            set("title", &field("note-title"));
            let description = field("note-description");
            if !description.is_empty() {
                set("description", &description);
            }
            set("timestamp", &iso(from));
            set("endTime", &iso(to));
            let url = format!(
                "/api/v1/history/timeline/{}",
                crate::view_state::encode(&vm)
            );
            let promise = post_json(&url, &body);
            leptos::task::spawn_local(async move {
                match wasm_bindgen_futures::JsFuture::from(promise).await {
                    Ok(_) => {
                        self.status.set(Some("Note added to the timeline.".into()));
                        self.selection.set(None);
                        self.noting.set(false);
                        self.handle.with_value(|h| {
                            if let Some(h) = h {
                                h.set_select_mode(false);
                                h.refresh_events();
                            }
                        });
                    }
                    Err(error) => self
                        .status
                        .set(Some(format!("The note was not saved: {}", message(&error)))),
                }
            });
        }
    }

    /// Polls each running export (rows with `data-status` pending or processing) once a second
    /// and updates its row: status, progress bar, row count, download link.
    pub fn watch_exports() {
        Effect::new(move |_| tick());
    }

    fn tick() {
        let Some(document) = document() else { return };
        // Rows of running exports and reports name the URL of their status.
        let Ok(rows) = document.query_selector_all("tr[data-watch]") else {
            return;
        };
        let mut running = false;
        for i in 0..rows.length() {
            let Some(row) = rows
                .item(i)
                .and_then(|n| n.dyn_into::<web_sys::Element>().ok())
            else {
                continue;
            };
            let status = row.get_attribute("data-status").unwrap_or_default();
            if status != "pending" && status != "processing" {
                continue;
            }
            running = true;
            let Some(url) = row.get_attribute("data-watch") else {
                continue;
            };
            leptos::task::spawn_local(async move {
                if let Ok(task) = fetch_task(&url).await {
                    if row.get_attribute("data-kind").as_deref() == Some("report") {
                        update_report_row(&row, &task);
                    } else {
                        update_row(&row, &task);
                    }
                }
            });
        }
        if running || rows.length() == 0 {
            set_timeout(tick, std::time::Duration::from_secs(1));
        }
    }

    async fn fetch_task(url: &str) -> Result<JsValue, JsValue> {
        let window = web_sys::window().ok_or(JsValue::NULL)?;
        let response: web_sys::Response =
            wasm_bindgen_futures::JsFuture::from(window.fetch_with_str(url))
                .await?
                .dyn_into()?;
        let text = wasm_bindgen_futures::JsFuture::from(response.text()?).await?;
        let body = js_sys::JSON::parse(&text.as_string().unwrap_or_default())?;
        js_sys::Reflect::get(&body, &"data".into())
    }

    fn get(value: &JsValue, path: &[&str]) -> JsValue {
        path.iter().fold(value.clone(), |v, k| {
            js_sys::Reflect::get(&v, &(*k).into()).unwrap_or(JsValue::UNDEFINED)
        })
    }

    fn update_row(row: &web_sys::Element, task: &JsValue) {
        let status = get(task, &["status"]).as_string().unwrap_or_default();
        let percentage = get(task, &["progress", "percentage"])
            .as_f64()
            .unwrap_or(0.0);
        let processed = get(task, &["progress", "processed"])
            .as_f64()
            .unwrap_or(0.0);
        let total = get(task, &["progress", "total"]).as_f64().unwrap_or(0.0);
        let _ = row.set_attribute("data-status", &status);
        let select = |selector: &str| row.query_selector(selector).ok().flatten();
        if let Some(cell) = select(".status") {
            cell.set_text_content(Some(&status));
        }
        if let Some(bar) = select("progress") {
            let _ = bar.set_attribute("value", &format!("{percentage:.0}"));
        }
        if let Some(detail) = select(".detail") {
            detail.set_text_content(Some(&format!(
                "{percentage:.0} % · {processed:.0} of {total:.0} rows"
            )));
        }
        let url = get(task, &["result", "fileUrl"]).as_string();
        let error = get(task, &["error", "message"]).as_string();
        finish_row(row, url, error, "export-download");
    }

    /// A report has no progress to show: its status, then its file or why it failed.
    fn update_report_row(row: &web_sys::Element, report: &JsValue) {
        let status = get(report, &["status"]).as_string().unwrap_or_default();
        let _ = row.set_attribute("data-status", &status);
        if let Some(cell) = row.query_selector(".status").ok().flatten() {
            cell.set_text_content(Some(&status));
        }
        let url = (status == "completed")
            .then(|| get(report, &["download_url"]).as_string())
            .flatten();
        let error = (status == "failed")
            .then(|| get(report, &["error", "message"]).as_string())
            .flatten();
        finish_row(row, url, error, "report-download");
    }

    /// The row's action cell: a download link once there is a file, or the error.
    fn finish_row(
        row: &web_sys::Element,
        url: Option<String>,
        error: Option<String>,
        testid: &str,
    ) {
        let cell = row.query_selector(".action").ok().flatten();
        if let (Some(cell), Some(document)) = (cell, document()) {
            if let Some(url) = url {
                if let Ok(link) = document.create_element("a") {
                    let _ = link.set_attribute("href", &url);
                    let _ = link.set_attribute("download", "");
                    let _ = link.set_attribute("data-testid", testid);
                    link.set_text_content(Some("Download"));
                    cell.set_text_content(None);
                    let _ = cell.append_child(&link);
                }
            } else if let Some(error) = error {
                cell.set_text_content(Some(&error));
            }
        }
    }
}
