//! The exports page: choose hosts, a range, a resolution and a format; watch each export's
//! progress bar fill; download the file when it is done. The form is a plain POST (it works
//! without JavaScript); the `ExportWatch` island follows running exports.
use super::{islands::ExportWatch, snapshot::load_exports, TopBar};
use crate::models::{ExportProgress, ExportsPageData};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn ExportsPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| load_exports());
    let query = use_query_map();
    view! {
        <Suspense fallback=super::loading>
            {move || Suspend::new(async move {
                let problem = query.get_untracked().get("error");
                match data.await {
                    Ok(data) => view! { <ExportsView data problem/> }.into_any(),
                    Err(error) => super::failed("the exports page", error.to_string()),
                }
            })}
        </Suspense>
    }
}

const RANGES: [(i64, &str); 5] = [
    (1, "last hour"),
    (6, "last 6 hours"),
    (24, "last 24 hours"),
    (168, "last 7 days"),
    (720, "last 30 days"),
];
const RESOLUTIONS: [(&str, &str); 6] = [
    ("raw", "raw samples"),
    ("1m", "1 minute"),
    ("5m", "5 minutes"),
    ("15m", "15 minutes"),
    ("1h", "1 hour"),
    ("1d", "1 day"),
];
const FORMATS: [(&str, &str); 3] = [("excel", "Excel (.xlsx)"), ("csv", "CSV"), ("json", "JSON")];

#[component]
fn ExportsView(data: ExportsPageData, problem: Option<String>) -> impl IntoView {
    let ExportsPageData {
        username,
        hosts,
        exports,
    } = data;
    let host_boxes = hosts
        .into_iter()
        .enumerate()
        .map(|(i, host)| {
            view! {
                <label class="check">
                    <input type="checkbox" name="host" value=host.vm_id.clone() checked=i == 0/>
                    {format!(" {} ({})", host.name, host.vm_id)}
                </label>
            }
        })
        .collect_view();
    let rows = exports
        .into_iter()
        .map(|task| view! { <ExportRow task/> })
        .collect_view();
    let top = view! { <TopBar active="/exports" username/> }.into_any();
    let host_boxes = host_boxes.into_any();
    view! {
        {top}
        <main class="page">
            <section class="panel">
                <h2>"New export"</h2>
                <form class="export-form" method="post" action="/exports">
                    <fieldset data-testid="export-hosts"><legend>"Hosts"</legend>{host_boxes}</fieldset>
                    <label>"Range "
                        <select name="hours" data-testid="export-range">
                            {RANGES.iter().map(|(h, label)| view! { <option value=h.to_string() selected=*h == 24>{*label}</option> }).collect_view()}
                        </select>
                    </label>
                    <label>"Resolution "
                        <select name="aggregation" data-testid="export-resolution">
                            {RESOLUTIONS.iter().map(|(v, label)| view! { <option value=*v selected=*v == "1h">{*label}</option> }).collect_view()}
                        </select>
                    </label>
                    <label>"Format "
                        <select name="format" data-testid="export-format">
                            {FORMATS.iter().map(|(v, label)| view! { <option value=*v selected=*v == "excel">{*label}</option> }).collect_view()}
                        </select>
                    </label>
                    <button type="submit" data-testid="export-start">"Export"</button>
                </form>
                <p class="muted">"At most 100 000 rows per export; raw and minute resolutions reach 7 days back, hourly 30 days."</p>
                {problem.map(|p| view! { <p class="error" data-testid="export-error">{p}</p> })}
            </section>
            <section class="panel">
                <h2>"Your exports"</h2>
                <ExportWatch>
                    <table data-testid="exports-table">
                        <thead><tr><th>"file"</th><th>"status"</th><th>"progress"</th><th></th></tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                </ExportWatch>
            </section>
        </main>
    }
}

#[component]
fn ExportRow(task: ExportProgress) -> impl IntoView {
    let detail = format!(
        "{} % · {} of {} rows",
        task.percentage, task.processed, task.total
    );
    let action = match (&task.file_url, &task.error) {
        (Some(url), _) => {
            view! { <a href=url.clone() data-testid="export-download" download>"Download"</a> }
                .into_any()
        }
        (None, Some(error)) => view! { <span class="error">{error.clone()}</span> }.into_any(),
        _ => view! { <span class="muted">"…"</span> }.into_any(),
    };
    view! {
        <tr data-testid="export-row" data-status=task.status.clone() data-id=task.id.clone()>
            <td>{task.filename.clone()}</td>
            <td class="status">{task.status.clone()}</td>
            <td><progress max="100" value=task.percentage.to_string()></progress> " " <span class="muted detail">{detail}</span></td>
            <td class="action">{action}</td>
        </tr>
    }
}
