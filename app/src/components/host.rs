//! The host view: the newest sample as cards, then every chart of the host on one time range
//! with one crosshair, the event lane above them, and the events listed. The charts are drawn in
//! the browser (uPlot, driven by the `Explorer` island); the server draws the same charts as
//! SVG for browsers without JavaScript.
use super::snapshot::PageError;
use super::{format_bytes, islands::Explorer, snapshot::load_host, TopBar};
use crate::{
    models::{CustomPanel, HostPageData, Stats, TimelineEvent, TrendReport},
    panels::{custom_unit_display, format_value, HOST_PANELS},
    view_state::{encode, host_link, investigate_link, CapacityQuery, Range},
};
use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_params_map};

#[component]
pub fn HostPage() -> impl IntoView {
    let params = use_params_map();
    let location = use_location();
    let vm = params.get_untracked().get("vm").unwrap_or_default();
    let query = location.search.get_untracked();
    let pathname = location.pathname;
    let data = Resource::new(move || (), move |_| load_host(vm.clone(), query.clone()));
    view! {
        <Suspense fallback=super::loading>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(data) => view! { <HostView data/> }.into_any(),
                    Err(error) => {
                        // A host that is not there has no page to fall back to.
                        let plain = match error {
                            PageError::NotFound(_) => "/".to_owned(),
                            _ => pathname.get_untracked(),
                        };
                        super::failed("this host", error, plain)
                    },
                }
            })}
        </Suspense>
    }
}

/// A card whose value the live stream keeps current (`data-stat` = catalogue name | unit).
fn card(
    title: &'static str,
    testid: &'static str,
    stat: &'static str,
    value: String,
    detail: String,
) -> impl IntoView {
    view! {
        <article class="card" data-testid=testid>
            <h2>{title}</h2>
            <p class="value" data-testid=format!("{testid}-value") data-stat=stat>{value}</p>
            <p class="detail">{detail}</p>
        </article>
    }
}

fn cards(latest: Option<&Stats>) -> AnyView {
    let Some(s) = latest else {
        return view! { <p class="muted" data-testid="no-sample">"No sample from this host yet."</p> }.into_any();
    };
    let filesystems = s
        .disk
        .filesystems
        .iter()
        .map(|f| format!("{} {:.1} %", f.mountpoint, f.percent))
        .collect::<Vec<_>>()
        .join(" · ");
    view! {
        <section class="cards">
            {card("CPU", "card-cpu", "cpu.usagePercent|percent", format!("{:.1} %", s.cpu.percent),
                format!("{} cores · load {:.2} {:.2} {:.2} · steal {:.1} %", s.cpu.cores, s.cpu.load1, s.cpu.load5, s.cpu.load15, s.cpu.ready_percent))}
            {card("Memory", "card-memory", "memory.usagePercent|percent", format!("{:.1} %", s.memory.percent),
                format!("{} of {} · swap {} of {}", format_bytes(s.memory.used as f64), format_bytes(s.memory.total as f64),
                    format_bytes(s.memory.swap_used as f64), format_bytes(s.memory.swap_total as f64)))}
            {card("Disk", "card-disk", "disk.usagePercent|percent", format!("{:.1} %", s.disk.percent),
                if filesystems.is_empty() { format!("{} free", format_bytes(s.disk.free as f64)) } else { filesystems })}
            {card("Network in", "card-network", "network.inBps|bytes/s", format!("{}/s", format_bytes(s.network.in_bps)),
                format!("out {}/s", format_bytes(s.network.out_bps)))}
            {card("Processes", "card-processes", "system.processes|count", s.processes.total.to_string(),
                format!("{} running · {} zombie", s.processes.running, s.processes.zombie))}
            {card("Connections", "card-connections", "system.connections|count", s.connections.active.to_string(),
                format!("{} established · {} listening", s.connections.established, s.connections.listening))}
        </section>
    }
    .into_any()
}

/// The events as a list: readable without JavaScript, and the place to find one by its text.
fn event_list(vm: &str, events: &[TimelineEvent]) -> AnyView {
    if events.is_empty() {
        return view! { <p class="muted">"No events in this range."</p> }.into_any();
    }
    let rows = events
        .iter()
        .take(200)
        .map(|e| {
            let at = e.timestamp.timestamp_millis();
            let link = host_link(vm, &Range::around(at), Some(&e.id));
            let end = e.end_time.map(|t| t.format("– %m-%d %H:%M").to_string()).unwrap_or_default();
            let investigate = investigate_link(vm, at, e.end_time.map(|t| t.timestamp_millis()));
            view! {
                <tr data-testid="event-row" data-type=e.kind.clone() class=format!("severity-{}", e.severity.clone().unwrap_or_default())>
                    <td><a href=link>{e.timestamp.format("%Y-%m-%d %H:%M").to_string()}</a> " " <span class="muted small">{end}</span></td>
                    <td><span class=format!("dot event-{}", e.kind)></span>{e.kind.replace('_', " ")}</td>
                    <td>{e.title.clone()}</td>
                    <td>{e.severity.clone().unwrap_or_default()}</td>
                    <td class="muted small">{e.description.clone().unwrap_or_default()}</td>
                    <td><a class="small" href=investigate data-testid="event-investigate" title="what else changed on this host then">"what changed"</a></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table data-testid="events-table">
            <thead><tr><th>"when"</th><th>"type"</th><th>"event"</th><th>"severity"</th><th>"details"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

/// The custom metrics the host sent in the range: a chart each beside the catalogue's (drawn
/// by the same island from `custom:<name>` series, server-drawn without JavaScript), titled with
/// the unit and the newest value.
fn custom_charts(custom: Vec<CustomPanel>, more: usize) -> AnyView {
    if custom.is_empty() {
        return ().into_any();
    }
    let more = (more > 0).then(|| format!(" · {more} more not shown"));
    let panels = custom
        .into_iter()
        .map(|panel| {
            let display = custom_unit_display(&panel.unit);
            let latest = panel
                .latest
                .map(|v| format_value(v, display))
                .unwrap_or_else(|| "–".into());
            let title = if panel.unit.is_empty() {
                panel.name.clone()
            } else {
                format!("{} ({})", panel.name, panel.unit)
            };
            let heading = title.clone();
            view! {
                <section class="chart-panel custom-panel" data-testid="custom-metric" data-custom="1" data-name=panel.name.clone()
                    data-panel=format!("custom-{}", panel.name) data-title=title
                    data-metrics=format!("custom:{}", panel.name) data-labels=panel.name.clone() data-unit=display
                    data-alerts=panel.name.clone()>
                    <h3>{heading} <span class="custom-latest" data-testid="custom-metric-latest">{latest}</span></h3>
                    <div class="plot"></div>
                    <noscript><div class="static-chart" inner_html=panel.svg></div></noscript>
                </section>
            }
        })
        .collect_view();
    view! {
        <h3 class="panels-heading" data-testid="custom-metrics">"Custom metrics "
            <span class="muted small">"what this host's agent or scripts sent (" <code>"/api/v1/performance/metrics/batch"</code> ")" {more}</span></h3>
        {panels}
    }
    .into_any()
}

#[component]
fn HostView(data: HostPageData) -> impl IntoView {
    let HostPageData {
        viewer,
        vm_id,
        name,
        group_id,
        cluster_id,
        power_state,
        platform,
        latest,
        from,
        to,
        resolution,
        panels,
        events,
        custom,
        custom_more,
        outlook,
    } = data;
    let on = power_state == "poweredOn";
    let updated = latest
        .as_ref()
        .map(|s| s.timestamp.format("%H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "–".into());
    let place = [group_id.clone(), cluster_id.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
    let compare = format!(
        "/compare?hosts={}&{}",
        encode(&vm_id),
        Range::Fixed { from, to }.query()
    );
    let investigate = format!("/investigate?host={}&from={from}&to={to}", encode(&vm_id));
    // Containers and GPUs only where the host has them: in its newest sample, or in the range
    // (the server drew a static chart of them).
    let has = |list: &str| {
        latest.as_ref().is_some_and(|s| match list {
            "containers" => !s.containers.is_empty(),
            "gpus" => !s.gpus.is_empty(),
            _ => true,
        })
    };
    let charts = HOST_PANELS
        .iter()
        .filter(|p| p.list.is_none_or(|l| l.always() || has(l.list)) || panels.iter().any(|s| s.id == p.id))
        .map(|p| {
            let svg = panels.iter().find(|s| s.id == p.id).map(|s| s.svg.clone()).unwrap_or_default();
            view! {
                <section class="chart-panel" data-testid=format!("chart-{}", p.id) data-panel=p.id data-title=p.title
                    data-metrics=p.metrics.join(",") data-labels=p.labels.join(",") data-unit=p.unit
                    data-list=p.list.map(|l| l.list).unwrap_or_default() data-prefix=p.list.map(|l| l.prefix).unwrap_or_default()
                    data-field=p.list.map(|l| l.field).unwrap_or_default() data-alerts=p.alert_metrics.join(",")>
                    <h3>{p.title}</h3>
                    <div class="plot"></div>
                    <noscript><div class="static-chart" inner_html=svg></div></noscript>
                </section>
            }
        })
        .collect_view();
    let list = event_list(&vm_id, &events);
    // The island's children are a closure: what they show is copied in.
    let (chart_vm, chart_resolution) = (vm_id.clone(), resolution.clone());
    let static_resolution = format!("server-drawn at {resolution} resolution");
    // Type-erased pieces keep the view type shallow enough for the compiler's layout queries.
    let top = view! {
        <TopBar active="" viewer>
            <span class="host" data-testid="host-name">{name.clone()}</span>
            <span class=if on { "power on" } else { "power off" } data-testid="host-power">{if on { "up" } else { "down" }}</span>
            <span class="muted">{place}</span>
            <span class="muted">{platform}</span>
            <span class="muted">"updated " <span data-testid="updated-at">{updated}</span></span>
        </TopBar>
    }
    .into_any();
    let events = view! {
        <section class="panel">
            <h2>"Events in this range " <a class="small" href=compare data-testid="compare-link">"compare with other hosts →"</a>
                " " <a class="small" href=investigate data-testid="investigate-link" title="every series of this host that changed in this range, against the four times longer stretch before it">"what changed in this range →"</a></h2>
            <p class="muted small" data-testid="static-resolution">{static_resolution}</p>
            {list}
        </section>
    }
    .into_any();
    let charts = charts.into_any();
    let custom = custom_charts(custom, custom_more);
    let outlook = outlook_panel(&outlook, group_id.as_deref());
    view! {
        {top}
        <main class="page host" data-vm=vm_id.clone()>
            {cards(latest.as_ref())}
            <Explorer>
                <div class="charts" data-testid="charts" data-view="host" data-vm=chart_vm.clone() data-from=from.to_string() data-to=to.to_string() data-server-resolution=chart_resolution.clone()>
                    <div class="lane-row">
                        <div class="event-lane" data-testid="event-lane" aria-label="events"></div>
                        <div class="event-tooltip" data-testid="event-tooltip" hidden></div>
                    </div>
                    <div class="event-popup panel" data-testid="event-popup" hidden></div>
                    <p class="chart-error error" data-testid="chart-error"></p>
                    <div class="panels">{charts}{custom}</div>
                </div>
            </Explorer>
            {events}
            {outlook}
        </main>
    }
}

/// The host's capacity outlook: the capacity page's forecast table for this host alone, with
/// a link to its group's plan.
fn outlook_panel(outlook: &TrendReport, group_id: Option<&str>) -> AnyView {
    let view = CapacityQuery::default();
    let plan = group_id.map_or_else(
        || "/capacity".to_string(),
        |g| format!("/capacity?group={}", encode(g)),
    );
    let table = outlook
        .forecast
        .as_ref()
        .is_some_and(|f| !f.is_empty())
        .then(|| super::capacity::forecast_table(outlook, view.horizon_days));
    view! {
        <section class="panel" data-testid="host-outlook">
            <h2>"Capacity outlook " <a class="small" href=plan>{if group_id.is_some() { "plan its group →" } else { "plan the fleet →" }}</a></h2>
            <p class="muted small">{format!("This host's last {} days by day, forecast {} days against {} %.", view.history_days, view.horizon_days, view.threshold)}</p>
            {outlook.warning.clone().map(|w| view! { <p class="warning">{w}</p> })}
            {table}
        </section>
    }
    .into_any()
}
