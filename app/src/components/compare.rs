//! The compare view: one metric overlaid for several hosts or a whole group, on the same time
//! controls as the host view. Which hosts, which metric and the range all live in the URL.
use super::{islands::Explorer, snapshot::load_compare, TopBar};
use crate::{
    models::ComparePageData,
    panels::{custom_unit_display, COMPARE_METRICS},
    view_state::{encode, Range},
};
use leptos::prelude::*;
use leptos_router::hooks::use_location;

#[component]
pub fn ComparePage() -> impl IntoView {
    let location = use_location();
    let query = location.search.get_untracked();
    let data = Resource::new(move || (), move |_| load_compare(query.clone()));
    view! {
        <Suspense fallback=super::loading>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(data) => view! { <CompareView data/> }.into_any(),
                    Err(error) => super::failed("the comparison", error, "/compare".into()),
                }
            })}
        </Suspense>
    }
}

#[component]
fn CompareView(data: ComparePageData) -> impl IntoView {
    let ComparePageData {
        viewer,
        choices,
        hosts,
        metric,
        from,
        to,
        svg,
        custom_choices,
    } = data;
    let custom = metric
        .strip_prefix("custom:")
        .and_then(|name| custom_choices.iter().find(|c| c.0 == name));
    let (label, unit): (String, &'static str) = match custom {
        Some((name, unit)) if unit.is_empty() => (name.clone(), custom_unit_display(unit)),
        Some((name, unit)) => (format!("{name} ({unit})"), custom_unit_display(unit)),
        None => COMPARE_METRICS
            .iter()
            .find(|m| m.0 == metric)
            .map(|m| (m.1.to_owned(), m.2))
            .unwrap_or_default(),
    };
    let custom_options = (!custom_choices.is_empty()).then(|| {
        let options = custom_choices
            .iter()
            .map(|(name, _)| {
                let value = format!("custom:{name}");
                let selected = value == metric;
                view! { <option value=value selected=selected>{name.clone()}</option> }
            })
            .collect_view();
        view! { <optgroup label="Custom metrics">{options}</optgroup> }.into_any()
    });
    // Type-erased, as the other pieces: the view type stays shallow enough for the compiler.
    let catalogue_options = COMPARE_METRICS
        .iter()
        .map(|(v, l, _)| view! { <option value=*v selected=*v == metric>{*l}</option> })
        .collect_view()
        .into_any();
    let chosen: Vec<String> = hosts.iter().map(|h| h.0.clone()).collect();
    // The chart's legend names the hosts as the page does (names may hold commas: JSON).
    let names: Vec<&str> = hosts.iter().map(|h| h.1.as_str()).collect();
    let names = serde_json::to_string(&names).unwrap_or_else(|_| "[]".into());
    let mut groups: Vec<String> = choices.iter().filter_map(|c| c.2.clone()).collect();
    groups.sort();
    groups.dedup();
    let boxes = choices
        .iter()
        .map(|(vm, name, group)| {
            let checked = chosen.contains(vm);
            view! {
                <label class="check" data-group=group.clone().unwrap_or_default()>
                    <input type="checkbox" name="host" value=vm.clone() checked=checked data-testid="compare-host"/>
                    {format!(" {name}")}
                </label>
            }
        })
        .collect_view();
    let range = Range::Fixed { from, to };
    let group_links = groups
        .iter()
        .map(|g| view! { <a href=format!("/compare?group={}&metric={}&{}", encode(g), encode(&metric), range.query()) data-testid="compare-group">{g.clone()}</a> " " })
        .collect_view();
    let legend = hosts.iter().map(|(vm, name)| view! { <li><a href=format!("/hosts/{}?{}", encode(vm), range.query())>{name.clone()}</a></li> }).collect_view();
    let summary = format!("{label} · {} hosts", hosts.len());
    let (title, heading) = (label.clone(), label);
    let top = view! {
        <TopBar active="/compare" viewer>
            <span class="muted" data-testid="compare-summary">{summary}</span>
        </TopBar>
    }
    .into_any();
    let boxes = boxes.into_any();
    view! {
        {top}
        <main class="page">
            <section class="panel">
                <form class="filters" method="get" action="/compare" data-testid="compare-form">
                    <label>"Metric "
                        <select name="metric" data-testid="compare-metric">
                            {catalogue_options}
                            {custom_options}
                        </select>
                    </label>
                    <fieldset class="hosts"><legend>"Hosts"</legend>{boxes}</fieldset>
                    <input type="hidden" name="from" value=from.to_string()/>
                    <input type="hidden" name="to" value=to.to_string()/>
                    <button type="submit" data-testid="compare-apply">"Compare"</button>
                </form>
                <p class="muted small">"A whole group: " {group_links}</p>
            </section>
            <Explorer>
                <div class="charts" data-testid="charts" data-view="compare" data-hosts=chosen.join(",") data-names=names data-metric=metric.clone() data-from=from.to_string() data-to=to.to_string()>
                    <p class="chart-error error" data-testid="chart-error"></p>
                    <div class="panels">
                        <section class="chart-panel wide" data-testid="chart-compare" data-panel="compare" data-title=title data-metrics=metric.clone() data-labels="" data-unit=unit data-fs="0" data-alerts="">
                            <h3>{heading}</h3>
                            <div class="plot"></div>
                            <noscript><div class="static-chart" inner_html=svg></div></noscript>
                        </section>
                    </div>
                </div>
            </Explorer>
            <section class="panel"><h2>"Hosts"</h2><ul>{legend}</ul></section>
        </main>
    }
}
