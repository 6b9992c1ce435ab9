//! The investigate page: a window of one host, a group or the fleet, and every series that
//! changed in it against the baseline before it (four times as long), the most different first,
//! each with a small chart of baseline and window and a link to its host's charts over both.
//! A plain GET form chooses the hosts and the window; the host view links here with its range.
use super::{snapshot::load_investigate, TopBar};
use crate::{
    models::{InvestigatePageData, SeriesChange},
    panels::{any_series_unit, format_value},
    view_state::{duration, encode, local_input, Range},
};
use leptos::prelude::*;
use leptos_router::hooks::use_location;

#[component]
pub fn InvestigatePage() -> impl IntoView {
    let location = use_location();
    let query = location.search.get_untracked();
    let data = Resource::new(move || (), move |_| load_investigate(query.clone()));
    view! {
        <Suspense fallback=super::loading>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(data) => view! { <InvestigateView data/> }.into_any(),
                    Err(error) => super::failed("the investigation", error, "/investigate".into()),
                }
            })}
        </Suspense>
    }
}

fn utc(ms: i64) -> String {
    local_input(ms).replace('T', " ")
}

/// "62.0 %", "4.1 MiB/s": a value in the series' unit.
fn value(change: &SeriesChange, v: f64) -> String {
    format_value(v, any_series_unit(&change.series, &change.unit))
}

/// The hosts and baseline of a link, ready for a range (`range=…` or `from=…&to=…`) to follow.
fn subject_query(host: &Option<String>, group: &Option<String>, baseline: &str) -> String {
    let subject = match (host, group) {
        (Some(vm), _) => format!("host={}&", encode(vm)),
        (None, Some(g)) => format!("group={}&", encode(g)),
        _ => String::new(),
    };
    match baseline {
        "" | "before" => subject,
        other => format!("{subject}baseline={}&", encode(other)),
    }
}

/// What a window can be compared with: (value, label).
const BASELINES: [(&str, &str); 3] = [
    ("before", "the 4× longer stretch before it"),
    ("day", "the same time a day earlier"),
    ("week", "the same time a week earlier"),
];

/// `charts_from`: where a row's link to its host's charts starts (the baseline's start when it
/// lies just before the window).
fn change_rows(changes: &[SeriesChange], sparks: &[String], charts_from: i64, to: i64) -> AnyView {
    let rows = changes
        .iter()
        .zip(sparks.iter().map(String::as_str).chain(std::iter::repeat("")))
        .enumerate()
        .map(|(i, (c, svg))| {
            let charts = format!(
                "/hosts/{}?{}",
                encode(&c.vm_id),
                Range::Fixed { from: charts_from, to }.query()
            );
            let arrow = if c.direction == "up" { "▲" } else { "▼" };
            let before = format!("{} ({} – {})", value(c, c.baseline.median), value(c, c.baseline.min), value(c, c.baseline.max));
            let during = format!("{} ({} – {})", value(c, c.window.median), value(c, c.window.min), value(c, c.window.max));
            let width = format!("width: {:.0}%", c.score * 100.0);
            let title = format!(
                "{:.0} % of the window's values lie where the baseline's do not (Kolmogorov–Smirnov {:.2}); the largest move is {:.1}× the series' floor; {} points before, {} during, at {}",
                c.score * 100.0, c.score, c.size, c.baseline.points, c.window.points, c.resolution
            );
            view! {
                <tr data-testid="change-row" data-vm=c.vm_id.clone() data-series=c.series.clone() data-direction=c.direction.clone()>
                    <td class="muted">{i + 1}</td>
                    <td><a href=charts.clone() data-testid="change-host">{c.host_name.clone()}</a></td>
                    <td><code>{c.series.clone()}</code></td>
                    <td class="spark-cell" inner_html=svg.to_owned()></td>
                    <td>{before}</td>
                    <td class=format!("moved {}", c.direction)>{arrow} " " {during}</td>
                    <td title=title>
                        <span class="score-bar"><span style=width></span></span>
                        " " <span data-testid="change-score">{format!("{:.2}", c.score)}</span>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table data-testid="changes-table" class="changes">
            <thead><tr>
                <th>"#"</th><th>"host"</th><th>"series"</th><th>"baseline · window (shaded)"</th>
                <th>"baseline: median (range)"</th><th>"window: median (range)"</th><th>"how different"</th>
            </tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

#[component]
fn InvestigateView(data: InvestigatePageData) -> impl IntoView {
    let InvestigatePageData {
        viewer,
        choices,
        host,
        group,
        from,
        to,
        result,
        sparks,
        notice,
    } = data;
    let baseline_from = result.baseline_start_time.timestamp_millis();
    let before = matches!(result.baseline.as_str(), "" | "before");
    let subject = subject_query(&host, &group, &result.baseline);
    let compared_with = if before {
        format!("the {} before it", duration(from - baseline_from))
    } else {
        BASELINES
            .iter()
            .find(|b| b.0 == result.baseline)
            .map_or_else(String::new, |b| b.1.to_owned())
    };
    let who = match (&host, &group) {
        (Some(vm), _) => choices
            .iter()
            .find(|c| &c.0 == vm)
            .map_or(vm.clone(), |c| c.1.clone()),
        (None, Some(g)) => format!("group {g}"),
        _ => "every host".into(),
    };
    let changed: usize = result.hosts.iter().map(|h| h.changed).sum();
    let summary = format!(
        "{who} · {} – {} UTC ({}) against {compared_with} · {} series compared on {} host{} · {} changed",
        utc(from),
        utc(to),
        duration(to - from),
        result.compared,
        result.hosts.len(),
        if result.hosts.len() == 1 { "" } else { "s" },
        changed
    );
    let host_options = choices
        .iter()
        .map(|(vm, name, g)| {
            let label = match g {
                Some(g) => format!("{name} ({g})"),
                None => name.clone(),
            };
            view! { <option value=vm.clone() selected=host.as_deref() == Some(vm.as_str())>{label}</option> }
        })
        .collect_view();
    let mut groups: Vec<String> = choices.iter().filter_map(|c| c.2.clone()).collect();
    groups.sort();
    groups.dedup();
    let group_options = groups
        .iter()
        .map(|g| view! { <option value=g.clone() selected=group.as_deref() == Some(g.as_str())>{g.clone()}</option> })
        .collect_view();
    let baseline_options = BASELINES
        .iter()
        .map(|(value, label)| {
            let selected = *value == result.baseline || (before && *value == "before");
            view! { <option value=*value selected=selected>{*label}</option> }
        })
        .collect_view();
    let presets = [("15m", "last 15 min"), ("1h", "last hour"), ("6h", "last 6 h"), ("24h", "last 24 h")]
        .into_iter()
        .map(|(range, label)| view! { <a href=format!("/investigate?{subject}range={range}") data-testid=format!("investigate-{range}")>{label}</a> " · " })
        .collect_view();
    // Earlier and later windows of the same length.
    let span = to - from;
    let earlier = format!("/investigate?{subject}from={}&to={}", from - span, from);
    let later = format!("/investigate?{subject}from={}&to={}", to, to + span);
    let form = view! {
        <section class="panel">
            <form class="filters" method="get" action="/investigate" data-testid="investigate-form">
                <label>"Host "
                    <select name="host" data-testid="investigate-host">
                        <option value="">"— every host of the group —"</option>
                        {host_options}
                    </select>
                </label>
                <label>"or group "
                    <select name="group" data-testid="investigate-group">
                        <option value="">"every group"</option>
                        {group_options}
                    </select>
                </label>
                <label>"compared with "
                    <select name="baseline" data-testid="investigate-baseline">{baseline_options}</select>
                </label>
                <label>"window from " <input type="datetime-local" name="from" value=local_input(from) data-testid="investigate-from"/></label>
                <label>"to " <input type="datetime-local" name="to" value=local_input(to) data-testid="investigate-to"/></label>
                <button type="submit" data-testid="investigate-apply">"Investigate"</button>
            </form>
            <p class="muted small">{presets} <a href=earlier data-testid="investigate-earlier">"◀ the window before"</a> " · " <a href=later>"the window after ▶"</a>
                " · times in UTC; a host chosen wins over a group"</p>
        </section>
    }
    .into_any();
    let hosts_table = (result.hosts.len() > 1).then(|| {
        let rows = result
            .hosts
            .iter()
            .map(|h| {
                let subject = subject_query(&Some(h.vm_id.clone()), &None, &result.baseline);
                let link = format!("/investigate?{subject}from={from}&to={to}");
                let width = format!("width: {:.0}%", h.top_score * 100.0);
                view! {
                    <tr data-testid="investigate-host-row" data-vm=h.vm_id.clone()>
                        <td><a href=link>{h.host_name.clone()}</a></td>
                        <td>{h.changed} " of " {h.compared}</td>
                        <td><code>{h.top_series.clone().unwrap_or_default()}</code></td>
                        <td><span class="score-bar"><span style=width></span></span> " " {format!("{:.2}", h.top_score)}</td>
                        <td class="muted small">{h.note.clone().unwrap_or_default()}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <section class="panel">
                <h2>"Hosts, the most changed first"</h2>
                <table data-testid="investigate-hosts">
                    <thead><tr><th>"host"</th><th>"series changed"</th><th>"most changed"</th><th>"how different"</th><th></th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </section>
        }
    });
    let filesystems = (!result.filesystems_compared && result.compared > 0).then_some(
        "File systems were not compared one by one over this many hosts and days (they are kept only with the raw samples); disk.usagePercent, all of them together, was. Choose fewer hosts or a shorter window to see each.",
    );
    let more =
        (result.more > 0).then(|| format!("{} more changed series are not listed.", result.more));
    let note = result
        .hosts
        .first()
        .filter(|_| result.hosts.len() == 1)
        .and_then(|h| h.note.clone());
    let changes = if let Some(notice) = notice {
        view! { <p class="warning" data-testid="investigate-notice">{notice}</p> }.into_any()
    } else if result.changes.is_empty() {
        view! {
            <p class="muted" data-testid="no-changes">
                {note.map_or_else(
                    || "Nothing changed by more than its floor in this window: every series stayed within what it did before.".to_owned(),
                    |n| format!("Nothing to compare: {n}."),
                )}
            </p>
        }
        .into_any()
    } else {
        change_rows(
            &result.changes,
            &sparks,
            if before { baseline_from } else { from },
            to,
        )
    };
    let top_label = format!("investigating {who}");
    let top = view! {
        <TopBar active="/investigate" viewer>
            <span class="muted">{top_label}</span>
        </TopBar>
    }
    .into_any();
    view! {
        {top}
        <main class="page investigate">
            {form}
            <section class="panel">
                <h2>"What changed " <span class="muted small" data-testid="investigate-summary">{summary}</span></h2>
                <p class="muted small">
                    "Each series of each host — CPU, memory, each file system, disk, network, processes and its custom metrics — as its charts read it, the window against the four times longer stretch before it, or against the same window a day or a week earlier (where a daily or weekly rhythm would otherwise look like a change). "
                    "Listed when the window's median moved, or it reached a new high or low, by more than the series' floor (3 points of a percentage; a quarter of a rate), "
                    "ranked by how little the window's values overlap the baseline's (1.00: not at all)."
                </p>
                {changes}
                {more.map(|m| view! { <p class="muted small">{m}</p> })}
                {filesystems.map(|f| view! { <p class="muted small" data-testid="investigate-no-filesystems">{f}</p> })}
            </section>
            {hosts_table}
        </main>
    }
}
