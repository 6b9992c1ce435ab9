//! The capacity page: fleet CPU, memory and disk by day with forecasts, capacity alerts,
//! recommendations, the trends of the hosts' application metrics and the newest anomalies —
//! the `/history/trends` answer, drawn.
use super::{format_bytes, snapshot::load_capacity, TopBar};
use crate::{
    chart::capacity,
    incidents::incidents,
    models::{
        AppMetricTrend, CapacityReport, CapacityReportFile, GroupRunway, HostSizing,
        MetricForecast, Prices, RightSizing, TrendReport,
    },
    panels::{change_text, custom_unit_display, format_series_value, format_value, money_text},
    view_state::{
        host_link, investigate_link, CapacityQuery, Range, CAPACITY_HISTORY_DAYS,
        CAPACITY_HORIZON_DAYS, CAPACITY_THRESHOLDS,
    },
};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Incidents listed: the newest, each one host's overlapping events.
const INCIDENT_ROWS: usize = 20;
/// Application metrics listed: the fastest growing host series.
const APP_METRIC_ROWS: usize = 20;

#[component]
pub fn CapacityPage() -> impl IntoView {
    let search = leptos_router::hooks::use_location().search.get_untracked();
    let report = Resource::new(move || (), move |_| load_capacity(search.clone()));
    let query = use_query_map();
    view! {
        <Suspense fallback=super::loading>
            {move || Suspend::new(async move {
                // What a form's redirect says: `?notice=` when done, `?error=` not; `?form=prices`
                // for the prices form, else the capacity form.
                let notice = query.get_untracked().get("notice");
                let problem = query.get_untracked().get("error");
                let for_prices = query.get_untracked().get("form").as_deref() == Some("prices");
                match report.await {
                    Ok(report) => view! { <CapacityView report notice problem for_prices/> }.into_any(),
                    Err(error) => super::failed("the capacity report", error, "/capacity".into()),
                }
            })}
        </Suspense>
    }
}

fn date(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// The forecast's lasting steps in a cell: how many, the last one, and when the threshold is
/// reached if they recur (the forecast itself starts after the last step).
fn steps_text(f: &MetricForecast) -> String {
    match (f.level_shifts.last(), &f.if_shifts_recur) {
        (Some(last), Some(recurring)) => format!(
            "{} (last {:+.1} pp on {}); if they recur: {}",
            f.level_shifts.len(),
            last.change,
            date(last.date),
            recurring
                .capacity_exceed_date
                .map(date)
                .unwrap_or_else(|| "not within 2 years".into())
        ),
        _ => "none".into(),
    }
}

#[component]
fn CapacityView(
    report: CapacityReport,
    notice: Option<String>,
    problem: Option<String>,
    /// The notice or problem is the prices form's.
    for_prices: bool,
) -> impl IntoView {
    let (notice, problem, prices_said) = if for_prices {
        (None, None, (notice, problem))
    } else {
        (notice, problem, (None, None))
    };
    let CapacityReport {
        viewer,
        group,
        groups,
        hosts,
        history_days,
        horizon_days,
        threshold,
        trends,
        anomalies,
        app_metrics,
        can_set_capacity,
        metric_capacities,
        right_sizing,
        runway,
        plans,
        monthly_reports,
    } = report;
    let capacity_form = can_set_capacity.then(|| {
        // The view the form returns to after the change.
        let view = CapacityQuery {
            group: group.clone(),
            history_days,
            horizon_days,
            threshold: threshold.round() as i64,
        };
        capacity_form(
            &app_metrics,
            &metric_capacities,
            &view,
            notice.clone(),
            problem.clone(),
        )
    });
    // The view as shown, for the forms that come back to it.
    let shown_view = CapacityQuery {
        group: group.clone(),
        history_days,
        horizon_days,
        threshold: threshold.round() as i64,
    };
    let view_form = view_form(
        &groups,
        group.as_deref(),
        history_days,
        horizon_days,
        threshold,
    );
    let scope = group.as_ref().map_or_else(
        || format!("{hosts} host{}", if hosts == 1 { "" } else { "s" }),
        |g| {
            format!(
                "group {g} · {hosts} host{}",
                if hosts == 1 { "" } else { "s" }
            )
        },
    );
    let app_count = app_metrics.len();
    let app_rows: Vec<_> = app_metrics
        .iter()
        .take(APP_METRIC_ROWS)
        .map(|t| app_metric_row(t, horizon_days))
        .collect();
    let no_app_metrics = app_rows.is_empty();
    let app_more = (app_count > APP_METRIC_ROWS)
        .then(|| view! { <p class="muted small">{format!("{} more, reaching capacity later or growing less.", app_count - APP_METRIC_ROWS)}</p> });
    // A crossing on the newest day of the history is one the trend has made already.
    let newest_day = trends.historical.last().map(|d| d.date);
    let crossing = move |when: chrono::DateTime<chrono::Utc>| crossing_text(when, newest_day);
    let chart = capacity::render(&trends, horizon_days, threshold);
    let forecasts = forecast_table(&trends, horizon_days);
    // What a crossing of the whole selection is called.
    let whole = group
        .as_ref()
        .map_or_else(|| "the fleet".to_string(), |g| format!("group {g}"));
    let whole_title = whole.clone();
    let alerts: Vec<_> = trends
        .capacity_alerts
        .iter()
        .map(|a| {
            // A host's own crossing links to its view over the last 90 days.
            let scope = match &a.vm_id {
                Some(vm) => {
                    let href = format!("/hosts/{}?range=90d", crate::view_state::encode(vm));
                    let label = a.vm_name.clone().unwrap_or_else(|| vm.clone());
                    view! { <a href=href>{label}</a> }.into_any()
                }
                None => whole.clone().into_any(),
            };
            view! {
                <tr class=format!("severity-{}", a.severity)>
                    <td>{a.severity.clone()}</td><td>{scope}</td><td>{a.metric.clone()}</td>
                    <td>{format!("{:.1} %", a.current_usage)}</td><td title=CROSSING_NOTE>{crossing(a.predicted_exceed_date)}</td>
                </tr>
            }
        })
        .collect();
    let recommendations: Vec<_> = trends
        .recommendations
        .iter()
        .map(|r| view! { <li><strong>{r.kind.replace('_', " ")}</strong> " · " {r.description.clone()}</li> })
        .collect();
    let anomaly_rows: Vec<_> = incidents(&anomalies)
        .into_iter()
        .take(INCIDENT_ROWS)
        .map(|incident| {
            let a = incident.lead;
            let with = (!incident.with.is_empty()).then(|| {
                let others: Vec<String> = incident
                    .with
                    .iter()
                    .map(|e| format!("{} {}", e.series, e.kind.replace('_', " ")))
                    .collect();
                view! { <div class="muted small" data-testid="incident-with">{format!("with {}", others.join(", "))}</div> }
            });
            let start = incident.start();
            view! {
                <tr class=format!("severity-{}", a.severity) data-testid="incident">
                    <td><a href=host_link(&a.vm_id, &Range::around(start.timestamp_millis()), Some(&a.id))>{start.format("%Y-%m-%d %H:%M").to_string()}</a></td><td>{a.vm_name.clone()}</td>
                    <td>{a.series.clone()}{with}</td><td>{a.kind.replace('_', " ")}</td><td>{a.severity.clone()}</td>
                    <td>{format!("{} vs {} usual", format_series_value(&a.series, a.value), format_series_value(&a.series, a.baseline))}</td><td>{a.status.clone()}</td>
                    <td><a class="small" href=investigate_link(&a.vm_id, start.timestamp_millis(), Some(incident.end().timestamp_millis())) data-testid="incident-investigate">"what changed"</a></td>
                </tr>
            }
        })
        .collect();
    let no_alerts = alerts.is_empty();
    let no_recommendations = recommendations.is_empty();
    let no_anomalies = anomaly_rows.is_empty();
    // Type-erased sections keep the view type shallow enough for the compiler's layout queries
    // (a release build overflowed them with the page as one type).
    let top = view! {
        <TopBar active="/capacity" viewer>
            // The view form below shows the horizon and threshold; the bar says what is planned.
            <span class="muted" data-testid="capacity-scope">{format!("{scope} · last {history_days} days")}</span>
        </TopBar>
    }
    .into_any();
    let usage = view! {
        {trends.warning.clone().map(|w| view! { <p class="warning" data-testid="capacity-warning">{w}</p> })}
        <section class="panel">
            <h2>{format!("Usage by day — {}", whole_title)}</h2>
            <p class="muted small">{format!("Complete days only; dashed: the forecast over {horizon_days} days; red: {threshold:.0} %.")}</p>
            <div class="chart" data-testid="capacity-chart" inner_html=chart></div>
        </section>
        <section class="panel">
            <h2>"Forecast"</h2>
            {forecasts}
        </section>
    }
    .into_any();
    let crossings = view! {
        <section class="panel">
            <h2>"Capacity alerts"</h2>
            {no_alerts.then(|| view! { <p class="muted">"No host is forecast to reach the threshold within a year."</p> })}
            <table data-testid="alerts-table">
                <thead><tr><th>"severity"</th><th>"scope"</th><th>"metric"</th><th>"now"</th><th>"reaches threshold"</th></tr></thead>
                <tbody>{alerts}</tbody>
            </table>
            <h2>"Recommendations"</h2>
            {no_recommendations.then(|| view! { <p class="muted">"None."</p> })}
            <ul data-testid="recommendations">{recommendations}</ul>
        </section>
    }
    .into_any();
    let applications = view! {
        <section class="panel" id="app-metrics">
            <h2>"Application metrics"</h2>
            <p class="muted small">"The custom metrics each host sends (requests, latencies, queues…), by day: the trend in the metric's own unit and, for a metric whose capacity is set (the level it must stay below, for every host that sends it), when the trend reaches it — the soonest first, then the fastest growing."</p>
            {no_app_metrics.then(|| view! { <p class="muted">"No host has sent a custom metric on 7 days or more of this history."</p> })}
            <div class="table-wrap">
                <table data-testid="app-metrics-table">
                    <thead><tr><th>"metric"</th><th>"host"</th><th>"now"</th><th>"per month"</th><th>"in " {horizon_days} " days"</th><th>"capacity"</th><th>"reaches it"</th><th>"days of data"</th></tr></thead>
                    <tbody>{app_rows}</tbody>
                </table>
            </div>
            {app_more}
            {capacity_form}
        </section>
    }
    .into_any();
    let incident_section = view! {
        <section class="panel">
            <h2>"Anomalies, last 7 days"</h2>
            <p class="muted small">"One row per incident: a host's overlapping bursts, led by the most severe."</p>
            {no_anomalies.then(|| view! { <p class="muted">"None detected."</p> })}
            <table data-testid="anomalies-table">
                <thead><tr><th>"when"</th><th>"host"</th><th>"series"</th><th>"type"</th><th>"severity"</th><th>"value"</th><th>"status"</th><th></th></tr></thead>
                <tbody>{anomaly_rows}</tbody>
            </table>
        </section>
    }
    .into_any();
    let planned = (!plans.is_empty()).then(|| {
        let shown = CapacityQuery {
            group: group.clone(),
            history_days,
            horizon_days,
            threshold: threshold.round() as i64,
        };
        let titles: Vec<String> = plans.iter().map(|p| p.title.clone()).collect();
        view! {
            <p class="muted small" data-testid="capacity-plans">
                {format!("Planned changes for {whole_title}: {} — ", titles.join(", "))}
                <a href=format!("/capacity/what-if?{}", shown.to_query())>"its what-if"</a>
                " and the runway include them; the forecasts below do not."
            </p>
        }
        .into_any()
    });
    view! {
        {top}
        <main class="live">
            {view_form}
            {planned}
            {runway_section(&runway, history_days, horizon_days, threshold)}
            {usage}
            {crossings}
            {right_sizing_section(&right_sizing, can_set_capacity.then_some(&shown_view), prices_said)}
            {applications}
            {incident_section}
            {monthly_section(&monthly_reports, &whole_title)}
        </main>
    }
}

/// Every group's runway (the fleet's view): the days until the group's average and its first
/// host reach the threshold, graded like the capacity alerts; each group opens its own plan.
fn runway_section(
    runway: &[GroupRunway],
    history_days: i64,
    horizon_days: i64,
    threshold: f64,
) -> Option<AnyView> {
    if runway.is_empty() {
        return None;
    }
    let grade = move |days: Option<f64>| match days {
        Some(d) if d <= horizon_days as f64 => "severity-high",
        Some(d) if d <= 365.0 => "severity-medium",
        _ => "",
    };
    let days_text = |days: Option<f64>| match days {
        None => "–".to_string(),
        Some(d) if d <= 0.0 => "now".to_string(),
        Some(d) => format!("{d:.0} days"),
    };
    let rows: Vec<_> = runway
        .iter()
        .map(|r| {
            let view = CapacityQuery {
                group: Some(r.group.clone()),
                history_days,
                horizon_days,
                threshold: threshold.round() as i64,
            };
            let href = format!("/capacity?{}", view.to_query());
            let what_if = format!("/capacity/what-if?{}", view.to_query());
            let cell = |days: Option<f64>| {
                view! { <td class=format!("num {}", grade(days))>{days_text(days)}</td> }
            };
            let first = r.first_host.as_ref().map_or_else(
                || "–".to_string(),
                |h| format!("{} · {} · {}", h.vm_name, h.metric, days_text(Some(h.days))),
            );
            let first_grade = grade(r.first_host.as_ref().map(|h| h.days));
            view! {
                <tr data-testid="runway-row" data-group=r.group.clone()>
                    <td><a href=href>{r.group.clone()}</a>
                        {(r.plans > 0).then(|| view! {
                            <a class="muted small" href=what_if.clone() data-testid="runway-plans" title="The days include the plans committed for this group (see them on its what-if)">
                                {format!(" · {} plan{}", r.plans, if r.plans == 1 { "" } else { "s" })}
                            </a>
                        })}
                    </td>
                    <td class="num">{r.hosts}</td>
                    {cell(r.cpu_days)}
                    {cell(r.memory_days)}
                    {cell(r.disk_days)}
                    <td>{r.constrained.clone().unwrap_or_else(|| "–".into())}</td>
                    <td class=first_grade data-testid="runway-first">{first}</td>
                    <td><a class="small" href=what_if data-testid="runway-what-if">"what if…"</a></td>
                </tr>
            }
        })
        .collect();
    Some(
        view! {
            <section class="panel" data-testid="runway">
                <h2>"Runway by group"</h2>
                <p class="muted small">{format!("Days from the newest complete day until each group's average (what its hosts share when load is spread over them) reaches {threshold:.0} %, and until its first host does — with the plans committed for the group, where it has any; – : not within two years. Red within the {horizon_days}-day forecast, amber within a year.")}</p>
                <div class="table-wrap">
                    <table data-testid="runway-table">
                        <thead><tr><th>"group"</th><th>"hosts"</th><th>"CPU"</th><th>"memory"</th><th>"disk"</th><th>"runs out first"</th><th>"first host to reach it"</th><th></th></tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
            </section>
        }
        .into_any(),
    )
}

/// The monthly reports of the view's scope: the capacity plan as of each month's first day, as
/// PDFs, newest first.
fn monthly_section(reports: &[CapacityReportFile], whole: &str) -> AnyView {
    let rows: Vec<_> = reports
        .iter()
        .map(|r| {
            let month = r.month.format("%B %Y").to_string();
            let size = format!("{:.0} KB", r.bytes as f64 / 1024.0);
            // What ran out first in it: "memory in 64 days", or nothing within two years.
            let first = [
                ("CPU", r.runway.cpu_days),
                ("memory", r.runway.memory_days),
                ("disk", r.runway.disk_days),
            ]
            .into_iter()
            .filter_map(|(label, days)| days.map(|d| (label, d)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map_or_else(
                || "nothing within 2 years".to_string(),
                |(label, d)| if d <= 0.0 { format!("{label} now") } else { format!("{label} in {d:.0} days") },
            );
            view! {
                <tr>
                    <td><a href=r.download_url.clone() download>{month}</a></td>
                    <td>{format!("{} hosts", r.hosts)}</td>
                    <td data-testid="monthly-first">{first}</td>
                    <td>{format!("{} days of history, {} ahead, {} %", r.history_days, r.horizon_days, r.threshold)}</td>
                    <td class="muted">{size}</td>
                </tr>
            }
        })
        .collect();
    let none = rows.is_empty();
    view! {
        <section class="panel" id="monthly-reports" data-testid="monthly-reports">
            <h2>"Monthly reports"</h2>
            <p class="muted small">{format!("The capacity plan of {whole} as of the first day of each month (00:00 UTC), with this page's default view, as a PDF to file or send on; kept for 24 months. The link above the page makes one of the view shown now.")}</p>
            {none.then(|| view! { <p class="muted">"None yet: a month's report is made when it begins (or when the server next starts) for a scope with daily history in the 180 days before it."</p> })}
            <table data-testid="monthly-reports-table">
                <thead><tr><th>"month"</th><th>"hosts"</th><th>"runs out first"</th><th>"view"</th><th>"size"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
    .into_any()
}

/// Hosts listed in the right-sizing table: those needing a change first.
const SIZING_ROWS: usize = 25;

/// Each planned host's vCPUs and memory against its last 30 days, and the size that fits it.
/// Hidden fields that bring a form's redirect back to `view` (the capacity page's forms, the
/// what-if page's plan forms).
pub(super) fn view_fields(view: &CapacityQuery) -> AnyView {
    view! {
        <input type="hidden" name="group" value=view.group.clone().unwrap_or_default()/>
        <input type="hidden" name="history" value=view.history_days.to_string()/>
        <input type="hidden" name="horizon" value=view.horizon_days.to_string()/>
        <input type="hidden" name="threshold" value=view.threshold.to_string()/>
    }
    .into_any()
}

/// The prices form (for people who may set them, coming back to `view`): currency and what a
/// vCPU and a GiB of memory cost a month; with prices set, a button that clears them.
fn prices_form(
    prices: Option<&Prices>,
    view: &CapacityQuery,
    (notice, problem): (Option<String>, Option<String>),
) -> AnyView {
    let value = |pick: fn(&Prices) -> String| prices.map(pick).unwrap_or_default();
    let clear = prices.is_some().then(|| {
        view! { <button type="submit" name="clear" value="1" data-testid="prices-clear">"Clear"</button> }
    });
    view! {
        <form method="post" action="/capacity/prices" class="filters" id="prices-form" data-testid="prices-form">
            {notice.map(|n| view! { <p class="notice" data-testid="prices-notice">{n}</p> })}
            {problem.map(|p| view! { <p class="error" data-testid="prices-error">{p}</p> })}
            <label>"Prices: currency " <input name="currency" size="5" placeholder="EUR" value=value(|p| p.currency.clone()) data-testid="prices-currency"/></label>
            <label>"a vCPU a month " <input name="vcpu" type="text" inputmode="decimal" size="7" value=value(|p| p.vcpu_month.to_string()) data-testid="prices-vcpu"/></label>
            <label>"a GiB of memory a month " <input name="gib" type="text" inputmode="decimal" size="7" value=value(|p| p.gib_month.to_string()) data-testid="prices-gib"/></label>
            {view_fields(view)}
            <button type="submit" data-testid="prices-save">"Set prices"</button>
            {clear}
        </form>
    }
    .into_any()
}

fn right_sizing_section(
    sizing: &RightSizing,
    can_set_prices: Option<&CapacityQuery>,
    prices_said: (Option<String>, Option<String>),
) -> AnyView {
    let priced = sizing.prices.is_some();
    let listed: Vec<&HostSizing> = sizing
        .hosts
        .iter()
        .filter(|h| h.verdict != "fits")
        .take(SIZING_ROWS)
        .collect();
    let fitting = sizing.hosts.iter().filter(|h| h.verdict == "fits").count();
    let others = sizing.hosts.len() - fitting - listed.len();
    let cores = |now: Option<i64>, fit: Option<i64>| match (now, fit) {
        (Some(now), Some(fit)) if fit != now => format!("{now} → {fit}"),
        (Some(now), _) => now.to_string(),
        (None, _) => "–".into(),
    };
    let memory = |now: Option<i64>, fit: Option<i64>| match (now, fit) {
        (Some(now), Some(fit)) if fit != now => {
            format!(
                "{} → {}",
                format_bytes(now as f64),
                format_bytes(fit as f64)
            )
        }
        (Some(now), _) => format_bytes(now as f64),
        (None, _) => "–".into(),
    };
    let percent = |v: Option<f64>| v.map_or_else(|| "–".into(), |v| format!("{v:.1} %"));
    let rows: Vec<_> = listed
        .iter()
        .map(|h| {
            let href = format!("/hosts/{}?range=30d", crate::view_state::encode(&h.vm_id));
            let class = match h.verdict.as_str() {
                "undersized" => "severity-high",
                "powered off" | "idle" => "severity-medium",
                _ => "",
            };
            view! {
                <tr data-testid="sizing-row" data-vm=h.vm_id.clone() data-verdict=h.verdict.clone() class=class>
                    <td><a href=href>{h.vm_name.clone()}</a></td>
                    <td>{h.verdict.clone()}</td>
                    <td class="num" data-testid="sizing-cores">{cores(h.cores, h.recommended_cores)}</td>
                    <td class="num" data-testid="sizing-memory">{memory(h.memory_bytes, h.recommended_memory_bytes)}</td>
                    <td class="num">{percent(h.cpu_p95)}</td>
                    <td class="num">{percent(h.memory_p99)}</td>
                    {priced.then(|| view! { <td class="num" data-testid="sizing-money">{h.monthly_change.map_or_else(|| "–".to_string(), |m| change_text(m, sizing.prices.as_ref().map_or("", |p| p.currency.as_str())))}</td> })}
                    <td class="small">{h.reason.clone()}</td>
                </tr>
            }
        })
        .collect();
    // "12 vCPUs and 22.0 GiB", "3 vCPUs", "nothing".
    let amount = |cores: i64, bytes: i64| {
        let mut parts = Vec::new();
        if cores > 0 {
            parts.push(format!("{cores} vCPU{}", if cores == 1 { "" } else { "s" }));
        }
        if bytes > 0 {
            parts.push(format_bytes(bytes as f64));
        }
        if parts.is_empty() {
            "nothing".to_string()
        } else {
            parts.join(" and ")
        }
    };
    let totals = format!(
        "Following them gives back {} (oversized, idle and powered-off hosts) and adds {} (undersized); {fitting} host{} fit{}.",
        amount(sizing.freed_cores, sizing.freed_memory_bytes),
        amount(sizing.added_cores, sizing.added_memory_bytes),
        if fitting == 1 { "" } else { "s" },
        if fitting == 1 { "s" } else { "" },
    );
    let money = match (&sizing.prices, sizing.monthly_savings, sizing.monthly_added) {
        (Some(prices), Some(saved), Some(added)) => format!(
            " At the prices set ({} a vCPU, {} a GiB a month), that saves {} a month and adds {}.",
            money_text(prices.vcpu_month, &prices.currency),
            money_text(prices.gib_month, &prices.currency),
            money_text(saved, &prices.currency),
            money_text(added, &prices.currency),
        ),
        _ => String::new(),
    };
    let totals = format!("{totals}{money}");
    let prices_line = match (can_set_prices, &sizing.prices) {
        (Some(view), prices) => Some(prices_form(prices.as_ref(), view, prices_said)),
        (None, None) => Some(view! { <p class="muted small">"No prices are set: a person who may set thresholds can set what a vCPU and a GiB cost a month, and this section then says what its changes save."</p> }.into_any()),
        (None, Some(_)) => None,
    };
    let more = (others > 0).then(|| view! { <p class="muted small">{format!("{others} more needing a change, smaller ones.")}</p> });
    let none = rows.is_empty();
    view! {
        <section class="panel" id="right-sizing">
            <h2>{format!("Right-sizing — last {} days", sizing.window_days)}</h2>
            <p class="muted small">"Each host's vCPUs and memory against what it used: a fitting size puts CPU's 95th percentile at 70 % and memory's 99th at 80 %. Undersized above 85 % CPU or 90 % memory; idle below 5 % CPU; powered off after 7 days without data; a change under a quarter of the allocation is not suggested."</p>
            <p data-testid="sizing-totals">{totals}</p>
            {none.then(|| view! { <p class="muted">"Every host with enough history fits its size."</p> })}
            <div class="table-wrap">
                <table data-testid="sizing-table">
                    <thead><tr><th>"host"</th><th>"verdict"</th><th>"vCPUs"</th><th>"memory"</th><th>"CPU p95"</th><th>"memory p99"</th>{priced.then(|| view! { <th>"a month"</th> })}<th>"why"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            {more}
            {prices_line}
        </section>
    }
    .into_any()
}

/// The forecast of CPU, memory and disk of a trends answer: growth a month, the level at the
/// horizon, the confidence, when the threshold is reached and the lasting steps (the capacity
/// page's and the host view's outlook).
pub fn forecast_table(trends: &TrendReport, horizon_days: i64) -> AnyView {
    let newest_day = trends.historical.last().map(|d| d.date);
    let rows: Vec<_> = capacity::SERIES
        .iter()
        .filter_map(|(metric, label, _, _)| {
            let f = trends.forecast.as_ref()?.get(*metric)?;
            let growth = trends
                .growth_rates
                .get(*metric)
                .map(|g| format!("{:+.2} pp/month", g.monthly))
                .unwrap_or_else(|| "–".into());
            let crossing = f
                .capacity_exceed_date
                .map(|when| crossing_text(when, newest_day))
                .unwrap_or_else(|| "not within 2 years".into());
            let steps = steps_text(f);
            Some(view! {
                <tr data-testid=format!("forecast-{metric}")>
                    <td>{*label}</td><td>{growth}</td>
                    <td>{format!("{:.1} %", f.predicted_value)}</td>
                    <td>{format!("{:.2}", f.confidence)}</td><td title=CROSSING_NOTE>{crossing}</td><td>{steps}</td>
                </tr>
            })
        })
        .collect();
    view! {
        <table data-testid="forecast-table">
            <thead><tr><th>"metric"</th><th>"growth"</th><th>"in " {horizon_days} " days"</th><th>"confidence"</th><th>"reaches threshold"</th><th>"lasting steps"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

/// A forecast's crossing date, or "now (trend)" when it is the history's newest day or before:
/// the trend line is at the threshold already, though the last day's value may be below it.
/// What a crossing date means, on hover: "now (trend)" needs it most.
const CROSSING_NOTE: &str = "When the trend line reaches the threshold; \"now (trend)\": the line is at it on the newest complete day, though that day's own value may be below it.";

fn crossing_text(
    when: chrono::DateTime<chrono::Utc>,
    newest_day: Option<chrono::DateTime<chrono::Utc>>,
) -> String {
    match newest_day {
        Some(newest) if when.date_naive() <= newest.date_naive() => "now (trend)".into(),
        _ => date(when),
    }
}

/// "+12.0 %": a monthly change relative to the level.
fn relative_text(relative: Option<f64>) -> String {
    relative.map_or_else(|| "–".into(), |r| format!("{:+.1} %", r * 100.0))
}

fn app_metric_row(t: &AppMetricTrend, horizon_days: i64) -> AnyView {
    let unit = custom_unit_display(&t.unit);
    let value = move |v: f64| format_value(v, unit);
    let change = format!(
        "{}{} ({})",
        if t.monthly_change >= 0.0 { "+" } else { "-" },
        value(t.monthly_change.abs()),
        relative_text(t.monthly_relative)
    );
    let href = format!("/hosts/{}?range=90d", crate::view_state::encode(&t.vm_id));
    let unit_note = (!t.unit.is_empty())
        .then(|| view! { <span class="muted small">{format!(" {}", t.unit)}</span> });
    let capacity = t.capacity.map_or_else(
        || "–".to_string(),
        |c| {
            let used = (c > 0.0).then(|| format!(" ({:.0} % used)", t.level_now / c * 100.0));
            format!("{}{}", value(c), used.unwrap_or_default())
        },
    );
    // A host's own capacity is marked: it is not the one the other rows are planned against.
    let own = (t.capacity_scope.as_deref() == Some("host")).then(|| {
        view! { <span class="muted small" title="This host's own capacity; it replaces the metric's for this host.">" · this host"</span> }
    });
    let (reaches, urgency) = reaches_text(t, horizon_days);
    view! {
        <tr data-testid="app-metric" data-name=t.name.clone() data-vm=t.vm_id.clone() class=urgency>
            <td>{t.name.clone()}{unit_note}</td>
            <td><a href=href>{t.vm_name.clone()}</a></td>
            <td class="num">{value(t.level_now)}</td>
            <td class="num">{change}</td>
            <td class="num" title=format!("the trend line {horizon_days} days after the newest day")>{value(t.predicted)}</td>
            <td class="num" data-testid="app-metric-capacity">{capacity}{own}</td>
            <td data-testid="app-metric-reaches">{reaches}</td>
            <td class="num">{t.days}</td>
        </tr>
    }
    .into_any()
}

/// When a row's trend reaches its capacity, and the row's class: `severity-high` when within
/// the horizon (or already), `severity-medium` within a year, as the capacity alerts grade.
fn reaches_text(t: &AppMetricTrend, horizon_days: i64) -> (String, &'static str) {
    match (t.capacity, t.days_to_capacity, t.capacity_date) {
        (None, _, _) => ("–".into(), ""),
        (Some(_), Some(days), _) if days <= 0.0 => ("now".into(), "severity-high"),
        (Some(_), Some(days), Some(when)) => (
            format!("{} (in {days:.0} days)", date(when)),
            if days <= horizon_days as f64 {
                "severity-high"
            } else if days <= 365.0 {
                "severity-medium"
            } else {
                ""
            },
        ),
        (Some(_), _, _) => ("not within 2 years".into(), ""),
    }
}

/// What the page plans: a host group or the whole fleet, the history, the forecast's horizon
/// and the threshold — a GET form, so the view is a link and works without JavaScript.
fn view_form(
    groups: &[(String, usize)],
    group: Option<&str>,
    history_days: i64,
    horizon_days: i64,
    threshold: f64,
) -> AnyView {
    // The plan shown, as a spreadsheet and as a what-if: the same view's query.
    let shown = CapacityQuery {
        group: group.map(str::to_owned),
        history_days,
        horizon_days,
        threshold: threshold.round() as i64,
    };
    let csv = format!("/capacity.csv?{}", shown.to_query());
    let pdf = format!("/capacity.pdf?{}", shown.to_query());
    let what_if = format!("/capacity/what-if?{}", shown.to_query());
    view! {
        <form method="get" action="/capacity" class="filters panel" data-testid="capacity-view">
            {view_selects(groups, &shown)}
            <button type="submit" data-testid="capacity-apply">"Plan"</button>
            <a href=csv class="small" data-testid="capacity-csv" download>"Download this plan (CSV)"</a>
            <a href=pdf class="small" data-testid="capacity-pdf" download>"(PDF)"</a>
            <a href=what_if class="small" data-testid="capacity-what-if">"What if…"</a>
        </form>
    }
    .into_any()
}

/// A capacity view's choices as form fields (`group`, `history`, `horizon`, `threshold`): the
/// capacity page's form and the what-if page's.
pub(super) fn view_selects(groups: &[(String, usize)], view: &CapacityQuery) -> AnyView {
    let group = view.group.as_deref();
    let group_options: Vec<_> = groups
        .iter()
        .map(|(name, count)| {
            let selected = group == Some(name.as_str());
            view! { <option value=name.clone() selected=selected>{format!("{name} ({count} hosts)")}</option> }
        })
        .collect();
    let days = |choices: &[i64], chosen: i64, label: fn(i64) -> String| -> Vec<AnyView> {
        choices
            .iter()
            .map(|d| {
                view! { <option value=d.to_string() selected=*d == chosen>{label(*d)}</option> }
                    .into_any()
            })
            .collect()
    };
    let history = days(&CAPACITY_HISTORY_DAYS, view.history_days, |d| match d {
        365 => "1 year".into(),
        730 => "2 years".into(),
        d => format!("{d} days"),
    });
    let horizon = days(&CAPACITY_HORIZON_DAYS, view.horizon_days, |d| match d {
        365 => "1 year".into(),
        d => format!("{d} days"),
    });
    let thresholds = days(&CAPACITY_THRESHOLDS, view.threshold, |t| format!("{t} %"));
    view! {
        <label>"Hosts"
            <select name="group" data-testid="capacity-group">
                <option value="" selected=group.is_none()>"the whole fleet"</option>
                {group_options}
            </select>
        </label>
        <label>"History" <select name="history" data-testid="capacity-history">{history}</select></label>
        <label>"Forecast" <select name="horizon" data-testid="capacity-horizon">{horizon}</select></label>
        <label>"Threshold" <select name="threshold" data-testid="capacity-threshold">{thresholds}</select></label>
    }
    .into_any()
}

/// The form that sets (or, left empty, clears) one metric's capacity: for every host that sends
/// it, or one host's own, which replaces it for that host.
fn capacity_form(
    app_metrics: &[AppMetricTrend],
    metric_capacities: &[(String, f64)],
    view: &CapacityQuery,
    notice: Option<String>,
    problem: Option<String>,
) -> AnyView {
    let mut names: Vec<(String, String)> = app_metrics
        .iter()
        .map(|t| (t.name.clone(), t.unit.clone()))
        .collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    names.dedup_by(|a, b| a.0 == b.0);
    let options: Vec<_> = names
        .into_iter()
        .map(|(name, unit)| {
            let unit = custom_unit_display(&unit);
            let every = metric_capacities
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, c)| *c);
            let now = every.map_or_else(
                || "no capacity".to_string(),
                |c| format!("capacity {}", format_value(c, unit)),
            );
            view! { <option value=name.clone()>{format!("{name} ({now})")}</option> }
        })
        .collect();
    let mut hosts: Vec<(String, String)> = app_metrics
        .iter()
        .map(|t| (t.vm_name.clone(), t.vm_id.clone()))
        .collect();
    hosts.sort();
    hosts.dedup();
    let host_options: Vec<_> = hosts
        .into_iter()
        .map(|(name, vm_id)| {
            let label = if name == vm_id {
                name
            } else {
                format!("{name} ({vm_id})")
            };
            view! { <option value=vm_id>{label}</option> }
        })
        .collect();
    view! {
        <form method="post" action="/capacity/metrics" class="filters capacity-form" id="capacity-form" data-testid="capacity-form">
            {notice.map(|n| view! { <p class="notice" data-testid="capacity-notice">{n}</p> })}
            {problem.map(|p| view! { <p class="error" data-testid="capacity-error">{p}</p> })}
            <label>"Metric " <select name="name" data-testid="capacity-metric">{options}</select></label>
            <label>"capacity, in its unit " <input name="capacity" type="text" inputmode="decimal" size="10" placeholder="empty: clear" data-testid="capacity-value"/></label>
            <label>"for "
                <select name="host" data-testid="capacity-host">
                    <option value="" selected>"every host that sends it"</option>
                    {host_options}
                </select>
            </label>
            {view_fields(view)}
            <button type="submit" data-testid="capacity-save">"Set"</button>
        </form>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{LevelShift, ShiftScenario};
    use chrono::{TimeZone, Utc};

    #[test]
    fn the_capacity_cell_dates_the_crossing_and_grades_it_like_the_capacity_alerts() {
        let mut t = AppMetricTrend::default();
        assert_eq!(reaches_text(&t, 90), ("–".to_string(), ""));
        t.capacity = Some(135.0);
        assert_eq!(reaches_text(&t, 90), ("not within 2 years".to_string(), ""));
        t.days_to_capacity = Some(0.0);
        assert_eq!(reaches_text(&t, 90), ("now".to_string(), "severity-high"));
        let when = Utc
            .with_ymd_and_hms(2027, 2, 20, 0, 0, 0)
            .single()
            .expect("date");
        t.capacity_date = Some(when);
        for (days, text, class) in [
            (75.6, "2027-02-20 (in 76 days)", "severity-high"),
            (90.0, "2027-02-20 (in 90 days)", "severity-high"),
            (353.0, "2027-02-20 (in 353 days)", "severity-medium"),
            (500.0, "2027-02-20 (in 500 days)", ""),
        ] {
            t.days_to_capacity = Some(days);
            assert_eq!(reaches_text(&t, 90), (text.to_string(), class), "{days}");
        }
    }

    #[test]
    fn a_crossing_on_the_newest_day_or_before_reads_as_now() {
        let day = |d: u32| {
            Utc.with_ymd_and_hms(2026, 12, d, 0, 0, 0)
                .single()
                .expect("date")
        };
        assert_eq!(crossing_text(day(6), Some(day(6))), "now (trend)");
        assert_eq!(crossing_text(day(5), Some(day(6))), "now (trend)");
        assert_eq!(crossing_text(day(7), Some(day(6))), "2026-12-07");
        assert_eq!(crossing_text(day(7), None), "2026-12-07");
    }

    #[test]
    fn monthly_growth_reads_as_a_signed_percentage() {
        assert_eq!(relative_text(Some(0.125)), "+12.5 %");
        assert_eq!(relative_text(Some(-0.04)), "-4.0 %");
        assert_eq!(relative_text(None), "–");
    }

    #[test]
    fn the_steps_cell_names_the_last_step_and_the_date_if_they_recur() {
        let mut f = MetricForecast::default();
        assert_eq!(steps_text(&f), "none");
        let day = |d: u32| {
            Utc.with_ymd_and_hms(2026, 10, d, 0, 0, 0)
                .single()
                .expect("date")
        };
        f.level_shifts = vec![
            LevelShift {
                date: day(3),
                change: 9.0,
            },
            LevelShift {
                date: day(24),
                change: 15.0,
            },
        ];
        f.if_shifts_recur = Some(ShiftScenario {
            growth_daily: 0.2,
            predicted_value: 66.0,
            capacity_exceed_date: Some(day(31)),
        });
        assert_eq!(
            steps_text(&f),
            "2 (last +15.0 pp on 2026-10-24); if they recur: 2026-10-31"
        );
        f.if_shifts_recur = Some(ShiftScenario {
            capacity_exceed_date: None,
            ..Default::default()
        });
        assert_eq!(
            steps_text(&f),
            "2 (last +15.0 pp on 2026-10-24); if they recur: not within 2 years"
        );
    }
}
