//! The exports page: choose hosts, a range, a resolution and a format; watch each export's
//! progress bar fill; download the file when it is done. Below it, reports: one host's summary
//! or detailed report of a period as PDF, CSV or JSON. The forms are plain POSTs (they work
//! without JavaScript); the `ExportWatch` island follows running exports and reports.
use super::{islands::ExportWatch, snapshot::load_exports, TopBar};
use crate::models::{ExportProgress, ExportsPageData, ReportStatus};
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
                let report_problem = query.get_untracked().get("report_error");
                match data.await {
                    Ok(data) => view! { <ExportsView data problem report_problem/> }.into_any(),
                    Err(error) => super::failed("the exports page", error, "/exports".into()),
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
const REPORT_PERIODS: [(&str, &str); 4] = [
    ("1h", "last hour"),
    ("6h", "last 6 hours"),
    ("24h", "last 24 hours"),
    ("7d", "last 7 days"),
];
const REPORT_TYPES: [(&str, &str); 2] = [
    ("summary", "summary"),
    ("detailed", "detailed (with the series)"),
];
const REPORT_FORMATS: [(&str, &str); 3] = [("pdf", "PDF"), ("csv", "CSV"), ("json", "JSON")];

#[component]
fn ExportsView(
    data: ExportsPageData,
    problem: Option<String>,
    report_problem: Option<String>,
) -> impl IntoView {
    let ExportsPageData {
        viewer,
        hosts,
        exports,
        reports,
    } = data;
    let report_hosts = hosts
        .iter()
        .map(|host| {
            view! { <option value=host.vm_id.clone()>{format!("{} ({})", host.name, host.vm_id)}</option> }
        })
        .collect_view()
        .into_any();
    let report_rows = reports
        .into_iter()
        .map(|report| view! { <ReportRow report/> })
        .collect_view()
        .into_any();
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
    let top = view! { <TopBar active="/exports" viewer/> }.into_any();
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
            <ExportWatch>
                <section class="panel">
                    <h2>"Your exports"</h2>
                    <table data-testid="exports-table">
                        <thead><tr><th>"file"</th><th>"status"</th><th>"progress"</th><th></th></tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                </section>
                <section class="panel" id="reports">
                    <h2>"New report"</h2>
                    <form class="export-form" method="post" action="/reports">
                        <label>"Host "
                            <select name="host" data-testid="report-host">{report_hosts}</select>
                        </label>
                        <label>"Period "
                            <select name="period" data-testid="report-period">
                                {REPORT_PERIODS.iter().map(|(v, label)| view! { <option value=*v selected=*v == "24h">{*label}</option> }).collect_view()}
                            </select>
                        </label>
                        <label>"Type "
                            <select name="type" data-testid="report-type">
                                {REPORT_TYPES.iter().map(|(v, label)| view! { <option value=*v>{*label}</option> }).collect_view()}
                            </select>
                        </label>
                        <label>"Format "
                            <select name="format" data-testid="report-format">
                                {REPORT_FORMATS.iter().map(|(v, label)| view! { <option value=*v>{*label}</option> }).collect_view()}
                            </select>
                        </label>
                        <label class="check"><input type="checkbox" name="alerts" value="on" checked/>" alerts of the period"</label>
                        <label class="check"><input type="checkbox" name="recommendations" value="on" checked/>" recommendations"</label>
                        <button type="submit" data-testid="report-start">"Create report"</button>
                    </form>
                    <p class="muted">"CPU, memory, disk and network of the period from the host's samples: current, average, maximum, minimum and p95 each, a chart (PDF), the alerts and sizing advice. Kept 7 days."</p>
                    {report_problem.map(|p| view! { <p class="error" data-testid="report-error">{p}</p> })}
                    <h2>"Your reports"</h2>
                    <table data-testid="reports-table">
                        <thead><tr><th>"file"</th><th>"status"</th><th>"asked"</th><th></th></tr></thead>
                        <tbody>{report_rows}</tbody>
                    </table>
                </section>
            </ExportWatch>
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
    let watch = format!(
        "/api/v1/history/export/{}",
        crate::view_state::encode(&task.id)
    );
    view! {
        <tr data-testid="export-row" data-status=task.status.clone() data-id=task.id.clone() data-watch=watch data-kind="export">
            <td>{task.filename.clone()}</td>
            <td class="status">{task.status.clone()}</td>
            <td><progress max="100" value=task.percentage.to_string()></progress> " " <span class="muted detail">{detail}</span></td>
            <td class="action">{action}</td>
        </tr>
    }
}

#[component]
fn ReportRow(report: ReportStatus) -> impl IntoView {
    let action = match (report.status.as_str(), &report.error) {
        ("completed", _) => view! { <a href=report.download_url.clone() data-testid="report-download" download>"Download"</a> }
            .into_any(),
        (_, Some(error)) => {
            view! { <span class="error">{error.message.clone().unwrap_or_else(|| error.code.clone())}</span> }
                .into_any()
        }
        _ => view! { <span class="muted">"…"</span> }.into_any(),
    };
    let watch = format!(
        "/api/v1/performance/reports/{}",
        crate::view_state::encode(&report.report_id)
    );
    view! {
        <tr data-testid="report-row" data-status=report.status.clone() data-id=report.report_id.clone() data-watch=watch data-kind="report">
            <td>{report.filename.clone()}</td>
            <td class="status">{report.status.clone()}</td>
            <td class="muted small">{report.created_at.format("%Y-%m-%d %H:%M").to_string()}</td>
            <td class="action">{action}</td>
        </tr>
    }
}
