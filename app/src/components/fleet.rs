//! The fleet page: every host with its group and cluster, power state, newest CPU, memory and
//! disk, a CPU sparkline of the last hours, active alerts and open anomalies, and the newest
//! values of the application metrics it sends (custom metrics) — filterable by
//! group, cluster and name, sortable, and as tiles grouped by group and coloured by a metric.
//! Server-rendered only: filters and sorting are links and a GET form, so it works without
//! JavaScript and every view is a link.
use super::{snapshot::load_fleet, TopBar};
use crate::{
    models::{AppMetricValue, FleetHost, FleetPageData},
    panels::{custom_unit_display, format_value},
    view_state::{encode, host_link, Range},
};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use std::collections::BTreeMap;

#[component]
pub fn FleetPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| load_fleet());
    let query = use_query_map();
    view! {
        <Suspense fallback=super::loading>
            {move || Suspend::new(async move {
                let params = query.get_untracked();
                let get = |k: &str| params.get(k).unwrap_or_default();
                let options = FleetOptions::new(&get("q"), &get("group"), &get("cluster"), &get("sort"), &get("dir"), &get("color"));
                match data.await {
                    Ok(data) => view! { <FleetView data options/> }.into_any(),
                    Err(error) => super::failed("the fleet", error, "/".into()),
                }
            })}
        </Suspense>
    }
}

/// What the URL asks of the fleet page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FleetOptions {
    pub q: String,
    pub group: String,
    pub cluster: String,
    /// name, group, power, cpu, memory, disk, alerts or anomalies.
    pub sort: &'static str,
    pub descending: bool,
    /// cpu, memory or disk: what colours the tiles.
    pub color: &'static str,
}

const SORTS: [&str; 8] = [
    "name",
    "group",
    "power",
    "cpu",
    "memory",
    "disk",
    "alerts",
    "anomalies",
];
const COLOURS: [(&str, &str); 3] = [("cpu", "CPU"), ("memory", "memory"), ("disk", "disk")];

impl FleetOptions {
    pub fn new(q: &str, group: &str, cluster: &str, sort: &str, dir: &str, color: &str) -> Self {
        let sort = SORTS.iter().copied().find(|s| *s == sort).unwrap_or("name");
        // Usage and counts are most useful worst first.
        let default_desc = !matches!(sort, "name" | "group");
        FleetOptions {
            q: q.trim().to_owned(),
            group: group.to_owned(),
            cluster: cluster.to_owned(),
            sort,
            descending: match dir {
                "asc" => false,
                "desc" => true,
                _ => default_desc,
            },
            color: COLOURS
                .iter()
                .map(|c| c.0)
                .find(|c| *c == color)
                .unwrap_or("cpu"),
        }
    }

    /// The hosts matching the filters, sorted.
    pub fn apply(&self, hosts: &[FleetHost]) -> Vec<FleetHost> {
        let q = self.q.to_lowercase();
        let mut shown: Vec<FleetHost> = hosts
            .iter()
            .filter(|h| self.group.is_empty() || h.group_id.as_deref() == Some(self.group.as_str()))
            .filter(|h| {
                self.cluster.is_empty() || h.cluster_id.as_deref() == Some(self.cluster.as_str())
            })
            .filter(|h| {
                q.is_empty()
                    || h.name.to_lowercase().contains(&q)
                    || h.vm_id.to_lowercase().contains(&q)
            })
            .cloned()
            .collect();
        let number = |v: Option<f64>| v.unwrap_or(-1.0);
        shown.sort_by(|a, b| {
            let order = match self.sort {
                "group" => a
                    .group_id
                    .cmp(&b.group_id)
                    .then_with(|| a.name.cmp(&b.name)),
                "power" => a.power_state.cmp(&b.power_state),
                "cpu" => number(a.cpu).total_cmp(&number(b.cpu)),
                "memory" => number(a.memory).total_cmp(&number(b.memory)),
                "disk" => number(a.disk).total_cmp(&number(b.disk)),
                "alerts" => a.active_alerts.cmp(&b.active_alerts),
                "anomalies" => a.open_anomalies.cmp(&b.open_anomalies),
                _ => a.name.cmp(&b.name),
            };
            let order = if self.descending {
                order.reverse()
            } else {
                order
            };
            order.then_with(|| a.vm_id.cmp(&b.vm_id))
        });
        shown
    }

    /// This page's link with one parameter changed.
    pub fn link(&self, sort: &str, descending: bool, color: &str) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("q", self.q.as_str()),
            ("group", self.group.as_str()),
            ("cluster", self.cluster.as_str()),
        ] {
            if !v.is_empty() {
                parts.push(format!("{k}={}", encode(v)));
            }
        }
        parts.push(format!("sort={sort}"));
        parts.push(format!("dir={}", if descending { "desc" } else { "asc" }));
        parts.push(format!("color={color}"));
        format!("/?{}", parts.join("&"))
    }
}

/// Green through amber to red for 0–100 %.
fn heat(percent: Option<f64>) -> String {
    match percent {
        None => "hsl(0 0% 85%)".into(),
        Some(p) => format!("hsl({:.0} 70% 45%)", 120.0 - 1.2 * p.clamp(0.0, 100.0)),
    }
}

fn percent(value: Option<f64>) -> String {
    value
        .map(|v| format!("{v:.1} %"))
        .unwrap_or_else(|| "–".into())
}

/// How many of a host's application metrics its row shows; the rest are counted.
const APP_METRICS_SHOWN: usize = 3;

/// "api.requests 142/s": a custom metric's newest value as its chart on the host page shows it,
/// with the unit as sent where it names none the charts know.
pub fn app_metric_text(metric: &AppMetricValue) -> String {
    let value = match custom_unit_display(&metric.unit) {
        "number" => format!("{} {}", format_value(metric.value, "number"), metric.unit),
        unit => format_value(metric.value, unit),
    };
    format!("{} {}", metric.name, value.trim_end())
}

/// A 0–100 % polyline in a 120 × 24 box; gaps split it.
pub fn sparkline(values: &[Option<f64>]) -> String {
    if values.is_empty() {
        return String::new();
    }
    let step = 120.0 / (values.len().max(2) - 1) as f64;
    let mut runs: Vec<Vec<String>> = vec![Vec::new()];
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => runs
                .last_mut()
                .map(|r| {
                    r.push(format!(
                        "{:.1},{:.1}",
                        i as f64 * step,
                        23.0 - v.clamp(0.0, 100.0) * 0.22
                    ))
                })
                .unwrap_or_default(),
            None => runs.push(Vec::new()),
        }
    }
    let lines: String = runs
        .into_iter()
        .filter(|r| !r.is_empty())
        .map(|r| format!("<polyline points=\"{}\"/>", r.join(" ")))
        .collect();
    format!("<svg viewBox=\"0 0 120 24\" width=\"120\" height=\"24\" class=\"spark\" aria-hidden=\"true\">{lines}</svg>")
}

#[component]
fn FleetView(data: FleetPageData, options: FleetOptions) -> impl IntoView {
    let FleetPageData {
        viewer,
        hosts,
        local_vm,
    } = data;
    let groups: Vec<String> = {
        let mut g: Vec<String> = hosts.iter().filter_map(|h| h.group_id.clone()).collect();
        g.sort();
        g.dedup();
        g
    };
    let clusters: Vec<String> = {
        let mut c: Vec<String> = hosts.iter().filter_map(|h| h.cluster_id.clone()).collect();
        c.sort();
        c.dedup();
        c
    };
    let shown = options.apply(&hosts);
    let down = hosts
        .iter()
        .filter(|h| h.power_state != "poweredOn")
        .count();
    let alerting = hosts.iter().filter(|h| h.active_alerts > 0).count();
    let summary = format!(
        "{} hosts · {} shown · {down} off · ",
        hosts.len(),
        shown.len()
    );
    // The count leads to the alerts page, where they are listed and resolved.
    let alerting_link = view! { <a href="/alerts" data-testid="fleet-alerting">{format!("{alerting} with active alerts")}</a> };

    let option_list = |values: &[String], chosen: &str| {
        values
            .iter()
            .map(|v| {
                let selected = v == chosen;
                view! { <option value=v.clone() selected=selected>{v.clone()}</option> }
            })
            .collect_view()
    };
    let filters = view! {
        <form class="filters" method="get" action="/" data-testid="fleet-filters">
            <label>"Name " <input type="search" name="q" value=options.q.clone() placeholder="web, sim-0…" data-testid="fleet-q"/></label>
            <label>"Group "
                <select name="group" data-testid="fleet-group"><option value="">"all"</option>{option_list(&groups, &options.group)}</select>
            </label>
            <label>"Cluster "
                <select name="cluster" data-testid="fleet-cluster"><option value="">"all"</option>{option_list(&clusters, &options.cluster)}</select>
            </label>
            <input type="hidden" name="sort" value=options.sort/>
            <input type="hidden" name="dir" value=if options.descending { "desc" } else { "asc" }/>
            <label>"Tiles by "
                <select name="color" data-testid="fleet-color">
                    {COLOURS.iter().map(|(v, l)| view! { <option value=*v selected=*v == options.color>{*l}</option> }).collect_view()}
                </select>
            </label>
            <button type="submit" data-testid="fleet-apply">"Apply"</button>
            <a href="/">"Reset"</a>
        </form>
    }
    .into_any();

    // Tiles grouped by group, coloured by the chosen metric.
    // Hosts without a group last.
    let mut by_group: BTreeMap<(bool, String), Vec<&FleetHost>> = BTreeMap::new();
    for host in &shown {
        by_group
            .entry((
                host.group_id.is_none(),
                host.group_id.clone().unwrap_or_default(),
            ))
            .or_default()
            .push(host);
    }
    let color = options.color;
    let tiles = by_group
        .into_iter()
        .map(|((_, group), members)| {
            let tiles = members
                .into_iter()
                .map(|h| {
                    let value = match color {
                        "memory" => h.memory,
                        "disk" => h.disk,
                        _ => h.cpu,
                    };
                    let off = h.power_state != "poweredOn";
                    let style = format!("background:{}", if off { "hsl(0 0% 70%)".into() } else { heat(value) });
                    let title = format!("{} ({}) · {color} {}", h.name, h.vm_id, percent(value));
                    view! {
                        <a class="tile" class:off=off href=format!("/hosts/{}", encode(&h.vm_id)) style=style title=title data-testid="fleet-tile">
                            <span class="tile-name">{h.name.clone()}</span>
                            <span class="tile-value">{if off { "off".to_string() } else { percent(value) }}</span>
                        </a>
                    }
                })
                .collect_view();
            // A real group links to its hosts compared and to its capacity plan.
            let links = (!group.is_empty()).then(|| {
                let g = encode(&group);
                view! {
                    <span class="small group-links">
                        <a href=format!("/compare?group={g}") data-testid="group-compare">"compare"</a>
                        " · "
                        <a href=format!("/capacity?group={g}") data-testid="group-plan">"capacity plan"</a>
                    </span>
                }
            });
            let title = if group.is_empty() { "no group".to_string() } else { group.clone() };
            view! { <div class="tile-group"><h3>{title} " " {links}</h3><div class="tiles">{tiles}</div></div> }
        })
        .collect_view()
        .into_any();

    let header = |label: &'static str, key: &'static str| {
        let active = options.sort == key;
        let descending = if active {
            !options.descending
        } else {
            !matches!(key, "name" | "group")
        };
        let arrow = if active {
            if options.descending {
                " ▼"
            } else {
                " ▲"
            }
        } else {
            ""
        };
        let href = options.link(key, descending, options.color);
        view! { <th><a href=href data-testid=format!("sort-{key}")>{label}{arrow}</a></th> }
    };
    let rows = shown
        .iter()
        .map(|h| {
            let on = h.power_state == "poweredOn";
            let link = format!("/hosts/{}", encode(&h.vm_id));
            let event_link = h.newest_event.as_ref().map(|(id, at)| host_link(&h.vm_id, &Range::around(at.timestamp_millis()), Some(id)));
            let alerts = h.active_alerts;
            let anomalies = h.open_anomalies;
            let badge = move |n: i64, class: &'static str, testid: &'static str, link: Option<String>| match (n, link) {
                (0, _) | (_, None) => view! { <span class="muted">"0"</span> }.into_any(),
                (n, Some(href)) => view! { <a class=format!("badge {class}") href=href data-testid=testid>{n}</a> }.into_any(),
            };
            let local = (h.vm_id == local_vm).then(|| view! { <span class="muted">" (this server)"</span> });
            let hidden = h.app_metrics.len().saturating_sub(APP_METRICS_SHOWN);
            let app_metrics = h
                .app_metrics
                .iter()
                .take(APP_METRICS_SHOWN)
                .map(|m| view! { <a class="app-metric" href=link.clone() data-testid="fleet-app-metric">{app_metric_text(m)}</a> })
                .collect_view();
            let more = (hidden > 0).then(|| view! { <span class="muted small">{format!("+{hidden} more")}</span> });
            view! {
                <tr data-testid="fleet-row" data-vm=h.vm_id.clone() data-group=h.group_id.clone().unwrap_or_default()>
                    <td><a href=link data-testid="fleet-host">{h.name.clone()}</a><br/><span class="muted small">{h.vm_id.clone()}{local}</span></td>
                    <td>{h.group_id.clone().unwrap_or_else(|| "–".into())}<br/><span class="muted small">{h.cluster_id.clone().unwrap_or_default()}</span></td>
                    <td><span class=if on { "power on" } else { "power off" } data-testid="fleet-power">{if on { "up" } else { "down" }}</span></td>
                    <td class="num">{percent(h.cpu)}</td>
                    <td class="num">{percent(h.memory)}</td>
                    <td class="num">{percent(h.disk)}</td>
                    <td inner_html=sparkline(&h.spark)></td>
                    <td class="num">{badge(alerts, "alert", "fleet-alerts", event_link.clone())}</td>
                    <td class="num">{badge(anomalies, "anomaly", "fleet-anomalies", event_link)}</td>
                    <td class="app-metrics">{app_metrics}{more}</td>
                </tr>
            }
        })
        .collect_view()
        .into_any();
    // Type-erased pieces keep the view type shallow enough for the compiler's layout queries.
    let top = view! {
        <TopBar active="/" viewer>
            <span class="muted" data-testid="fleet-summary">{summary}{alerting_link}</span>
        </TopBar>
    }
    .into_any();
    let head = view! {
        <thead><tr>
            {header("host", "name")}{header("group · cluster", "group")}{header("state", "power")}
            {header("CPU", "cpu")}{header("memory", "memory")}{header("disk", "disk")}
            <th>"CPU, last 3 h"</th>{header("alerts", "alerts")}{header("anomalies", "anomalies")}
            <th title="The newest value of each custom metric the host sent in the last 15 minutes">"app metrics"</th>
        </tr></thead>
    }
    .into_any();
    let table = view! {
        <section class="panel table-wrap">
            <table class="fleet" data-testid="fleet-table">{head}<tbody>{rows}</tbody></table>
        </section>
    }
    .into_any();
    let tiles = view! {
        <section class="panel">
            <h2>"Tiles, by group"</h2>
            <div class="tile-groups" data-testid="fleet-tiles">{tiles}</div>
        </section>
    }
    .into_any();
    view! {
        {top}
        <main class="page">
            <section class="panel">{filters}</section>
            {tiles}
            {table}
        </main>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(vm: &str, group: &str, cpu: f64) -> FleetHost {
        FleetHost {
            vm_id: vm.into(),
            name: format!("n-{vm}"),
            group_id: Some(group.into()),
            cpu: Some(cpu),
            power_state: "poweredOn".into(),
            ..Default::default()
        }
    }

    #[test]
    fn filters_and_sorting_follow_the_url() {
        let hosts = vec![
            host("a", "g1", 10.0),
            host("b", "g2", 90.0),
            host("c", "g1", 50.0),
        ];
        let by_cpu = FleetOptions::new("", "", "", "cpu", "", "");
        assert_eq!(
            by_cpu
                .apply(&hosts)
                .iter()
                .map(|h| h.vm_id.as_str())
                .collect::<Vec<_>>(),
            ["b", "c", "a"],
            "worst first by default"
        );
        let g1 = FleetOptions::new("", "g1", "", "name", "", "memory");
        assert_eq!(
            g1.apply(&hosts)
                .iter()
                .map(|h| h.vm_id.as_str())
                .collect::<Vec<_>>(),
            ["a", "c"]
        );
        assert_eq!(g1.color, "memory");
        assert_eq!(
            FleetOptions::new("N-B", "", "", "", "", "")
                .apply(&hosts)
                .len(),
            1,
            "names match case-insensitively"
        );
        assert_eq!(
            g1.link("cpu", true, "cpu"),
            "/?group=g1&sort=cpu&dir=desc&color=cpu"
        );
        assert_eq!(
            FleetOptions::new("", "", "", "bogus", "", "bogus").sort,
            "name"
        );
    }

    #[test]
    fn app_metrics_read_as_their_charts_do() {
        let metric = |name: &str, value: f64, unit: &str| AppMetricValue {
            name: name.into(),
            value,
            unit: unit.into(),
        };
        for (name, value, unit, text) in [
            ("api.requests", 142.4, "req/s", "api.requests 142/s"),
            ("api.latency_p95", 87.25, "ms", "api.latency_p95 87.2 ms"),
            ("queue", 1234.0, "jobs", "queue 1234 jobs"),
            ("ratio", 0.01234, "", "ratio 0.0123"),
        ] {
            assert_eq!(app_metric_text(&metric(name, value, unit)), text);
        }
    }

    #[test]
    fn sparklines_scale_percent_and_break_at_gaps() {
        let svg = sparkline(&[Some(0.0), Some(100.0), None, Some(50.0), Some(50.0)]);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("0.0,23.0 30.0,1.0"));
        assert_eq!(sparkline(&[]), "");
    }
}
