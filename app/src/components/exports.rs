//! The exports page: choose hosts, a range, a resolution and a format; watch each export's progress
//! bar fill; download the file when it is done.
use super::snapshot::{load_exports, start_export};
use crate::models::{ExportForm, ExportProgress, ExportsPageData};
use leptos::prelude::*;

#[component]
pub fn ExportsPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| load_exports());
    view! {
        <Suspense fallback=|| view! { <main class="centered"><p class="muted">"Loading…"</p></main> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(data) => view! { <ExportsView data/> }.into_any(),
                    Err(error) => view! {
                        <main class="centered">
                            <p class="error">"Could not load the exports page: " {error.to_string()}</p>
                            <a href="/login">"Sign in again"</a>
                        </main>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

const RANGES: [(i64, &str); 5] = [(1, "last hour"), (6, "last 6 hours"), (24, "last 24 hours"), (168, "last 7 days"), (720, "last 30 days")];
const RESOLUTIONS: [(&str, &str); 6] = [("raw", "raw samples"), ("1m", "1 minute"), ("5m", "5 minutes"), ("15m", "15 minutes"), ("1h", "1 hour"), ("1d", "1 day")];
const FORMATS: [(&str, &str); 3] = [("excel", "Excel (.xlsx)"), ("csv", "CSV"), ("json", "JSON")];

#[component]
fn ExportsView(data: ExportsPageData) -> impl IntoView {
    let ExportsPageData { username, hosts, exports } = data;
    let selected = RwSignal::new(hosts.first().map(|h| vec![h.vm_id.clone()]).unwrap_or_default());
    let hours = RwSignal::new(24_i64);
    let aggregation = RwSignal::new("1h".to_owned());
    let format = RwSignal::new("excel".to_owned());
    let tasks = RwSignal::new(exports);
    let problem = RwSignal::new(None::<String>);
    let start = Action::new(move |form: &ExportForm| start_export(form.clone()));
    Effect::new(move |_| {
        if let Some(result) = start.value().get() {
            match result {
                Ok(task) => {
                    problem.set(None);
                    tasks.update(|t| t.insert(0, task));
                }
                Err(error) => problem.set(Some(error.to_string())),
            }
        }
    });
    follow_exports(tasks);

    let host_boxes = hosts
        .into_iter()
        .map(|host| {
            let id = host.vm_id.clone();
            let checked = selected.get_untracked().contains(&id);
            view! {
                <label class="check">
                    <input type="checkbox" value=id.clone() checked=checked on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        selected.update(|s| {
                            s.retain(|x| x != &id);
                            if on { s.push(id.clone()); }
                        });
                    }/>
                    {format!(" {} ({})", host.name, host.vm_id)}
                </label>
            }
        })
        .collect_view();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if selected.get_untracked().is_empty() {
            problem.set(Some("Choose at least one host.".into()));
            return;
        }
        start.dispatch(ExportForm { vm_ids: selected.get_untracked(), hours: hours.get_untracked(), aggregation: aggregation.get_untracked(), format: format.get_untracked() });
    };
    // Type-erased pieces keep the view type shallow enough for the compiler's layout queries.
    let header = view! {
        <header class="topbar">
            <strong class="brand">"Lookout"</strong>
            <nav class="nav"><a href="/">"Live"</a><a href="/capacity">"Capacity"</a><a href="/exports" aria-current="page">"Exports"</a></nav>
            <span class="spacer"></span>
            <span class="muted">{username}</span>
        </header>
    }
    .into_any();
    let form = view! {
            <section class="panel">
                <h2>"New export"</h2>
                <form class="export-form" on:submit=submit>
                    <fieldset data-testid="export-hosts"><legend>"Hosts"</legend>{host_boxes}</fieldset>
                    <label>"Range "
                        <select data-testid="export-range" on:change=move |ev| hours.set(event_target_value(&ev).parse().unwrap_or(24))>
                            {RANGES.iter().map(|(h, label)| view! { <option value=h.to_string() selected=*h == 24>{*label}</option> }).collect_view()}
                        </select>
                    </label>
                    <label>"Resolution "
                        <select data-testid="export-resolution" on:change=move |ev| aggregation.set(event_target_value(&ev))>
                            {RESOLUTIONS.iter().map(|(v, label)| view! { <option value=*v selected=*v == "1h">{*label}</option> }).collect_view()}
                        </select>
                    </label>
                    <label>"Format "
                        <select data-testid="export-format" on:change=move |ev| format.set(event_target_value(&ev))>
                            {FORMATS.iter().map(|(v, label)| view! { <option value=*v selected=*v == "excel">{*label}</option> }).collect_view()}
                        </select>
                    </label>
                    <button type="submit" data-testid="export-start" disabled=move || start.pending().get()>"Export"</button>
                </form>
                <p class="muted">"At most 100 000 rows per export; raw and minute resolutions reach 7 days back, hourly 30 days."</p>
                {move || problem.get().map(|p| view! { <p class="error" data-testid="export-error">{p}</p> })}
            </section>
    }
    .into_any();
    let list = view! {
            <section class="panel">
                <h2>"Your exports"</h2>
                <table data-testid="exports-table">
                    <thead><tr><th>"file"</th><th>"status"</th><th>"progress"</th><th></th></tr></thead>
                    <tbody>
                        {move || tasks.get().into_iter().map(|task| view! { <ExportRow task/> }).collect_view()}
                    </tbody>
                </table>
            </section>
    }
    .into_any();
    view! { {header} <main class="live">{form} {list}</main> }
}

#[component]
fn ExportRow(task: ExportProgress) -> impl IntoView {
    let detail = format!("{} % · {} of {} rows", task.percentage, task.processed, task.total);
    let action = match (&task.file_url, &task.error) {
        (Some(url), _) => view! { <a href=url.clone() data-testid="export-download" download>"Download"</a> }.into_any(),
        (None, Some(error)) => view! { <span class="error">{error.clone()}</span> }.into_any(),
        _ => view! { <span class="muted">"…"</span> }.into_any(),
    };
    view! {
        <tr data-testid="export-row" data-status=task.status.clone()>
            <td>{task.filename.clone()}</td>
            <td>{task.status.clone()}</td>
            <td><progress max="100" value=task.percentage.to_string()></progress> " " <span class="muted">{detail}</span></td>
            <td>{action}</td>
        </tr>
    }
}

#[cfg(not(feature = "hydrate"))]
fn follow_exports(_: RwSignal<Vec<ExportProgress>>) {}

/// Asks for the progress of every running export once a second while the page is open.
#[cfg(feature = "hydrate")]
fn follow_exports(tasks: RwSignal<Vec<ExportProgress>>) {
    use super::snapshot::follow_export;
    use std::time::Duration;

    fn tick(tasks: RwSignal<Vec<ExportProgress>>) {
        // The page was left: stop.
        let Some(list) = tasks.try_get_untracked() else { return };
        for task in list.into_iter().filter(ExportProgress::is_running) {
            leptos::task::spawn_local(async move {
                if let Ok(progress) = follow_export(task.id).await {
                    tasks.try_update(|all| {
                        if let Some(slot) = all.iter_mut().find(|t| t.id == progress.id) {
                            *slot = progress;
                        }
                    });
                }
            });
        }
        set_timeout(move || tick(tasks), Duration::from_secs(1));
    }
    Effect::new(move |_| tick(tasks));
}
