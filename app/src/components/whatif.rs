//! The what-if page: a scenario on a group's (or the fleet's) capacity forecast — hosts added or
//! taken away, load added from a day, extra growth — and the runway it gives beside the
//! forecast's own: a chart of both, a row per resource, the hosts needed and the room left.
//! A plain GET form, so a scenario is a link (vROps's what-if, without committing anything).
use super::{
    capacity::{view_fields, view_selects},
    snapshot::load_what_if,
    TopBar,
};
use crate::{
    chart::capacity::{render_what_if, SERIES},
    models::{CapacityPlan, WhatIf, WhatIfOutcome, WhatIfPageData},
    panels::{changes_text, plan_text, plural, reaches_text, scope_text},
    view_state::WhatIfQuery,
};
use leptos::prelude::*;
use leptos_router::hooks::use_location;

#[component]
pub fn WhatIfPage() -> impl IntoView {
    let query = use_location().search.get_untracked();
    let data = Resource::new(move || (), move |_| load_what_if(query.clone()));
    view! {
        <Suspense fallback=super::loading>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(data) => view! { <WhatIfView data/> }.into_any(),
                    Err(error) => super::failed("the what-if", error, "/capacity/what-if".into()),
                }
            })}
        </Suspense>
    }
}

/// The scenario typed on the page, in words.
fn scenario_text(q: &WhatIfQuery) -> String {
    changes_text(
        q.add_hosts,
        q.hosts_from,
        q.load_percent,
        q.load_from,
        q.growth_percent,
    )
}

/// "2027-04-05 (in 120 days)", "now (trend)", "not within 2 years".
fn reaches(outcome: &WhatIfOutcome) -> String {
    reaches_text(outcome.days_to_threshold, outcome.capacity_exceed_date)
}

/// The row class of a crossing, graded as the capacity page grades: within the horizon, a year.
fn grade(outcome: &WhatIfOutcome, horizon: i64) -> &'static str {
    match outcome.days_to_threshold {
        Some(d) if d <= horizon as f64 => "severity-high",
        Some(d) if d <= 365.0 => "severity-medium",
        _ => "",
    }
}

/// The resource that runs out first under the scenario, and the sentence that says so.
fn headline(result: &WhatIf) -> String {
    let first = |pick: fn(&crate::models::WhatIfResource) -> &WhatIfOutcome| {
        result
            .resources
            .iter()
            .filter_map(|r| Some((r, pick(r).days_to_threshold?)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    };
    let threshold = result.capacity_threshold;
    match (first(|r| &r.scenario), first(|r| &r.forecast)) {
        (None, None) => format!("Nothing reaches {threshold:.0} % within two years, with or without the changes."),
        (None, Some((r, _))) => format!(
            "With the changes nothing reaches {threshold:.0} % within two years; without them {} does: {}.",
            r.metric,
            reaches(&r.forecast)
        ),
        (Some((r, _)), forecast) => format!(
            "With the changes {} reaches {threshold:.0} % first: {}; without them {}.",
            r.metric,
            reaches(&r.scenario),
            forecast.map_or_else(
                || "nothing does within two years".to_owned(),
                |(f, _)| format!("{} does first: {}", f.metric, reaches(&f.forecast))
            )
        ),
    }
}

#[component]
fn WhatIfView(data: WhatIfPageData) -> impl IntoView {
    let WhatIfPageData {
        viewer,
        query,
        groups,
        result,
        problem,
        can_commit,
        notice,
        error,
    } = data;
    let view = query.view.clone();
    let horizon = result.horizon;
    let scope = view.group.as_ref().map_or_else(
        || {
            format!(
                "the fleet · {}",
                plural(result.hosts as i64, "host", "hosts")
            )
        },
        |g| {
            format!(
                "group {g} · {}",
                plural(result.hosts as i64, "host", "hosts")
            )
        },
    );
    let described = scenario_text(&query);
    let chart = render_what_if(&result);
    let day = |d: Option<chrono::NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    let number = |v: f64| {
        if v == 0.0 {
            String::new()
        } else {
            v.to_string()
        }
    };
    let hosts_value = if query.add_hosts == 0 {
        String::new()
    } else {
        query.add_hosts.to_string()
    };
    let plan = format!("/capacity?{}", view.to_query());
    let reset = format!("/capacity/what-if?{}", view.to_query());
    let form = view! {
        <form method="get" action="/capacity/what-if" class="filters panel what-if-form" data-testid="what-if-form">
            {view_selects(&groups, &view)}
            <fieldset>
                <legend>"Scenario"</legend>
                <label>"Hosts " <input type="number" name="hosts" step="1" value=hosts_value placeholder="+2 or -1" data-testid="what-if-hosts"/></label>
                <label>"from " <input type="date" name="hostsFrom" value=day(query.hosts_from) data-testid="what-if-hosts-from"/></label>
                <label>"Load " <input type="number" name="load" step="any" value=number(query.load_percent) placeholder="+30" data-testid="what-if-load"/> " %"</label>
                <label>"from " <input type="date" name="loadFrom" value=day(query.load_from) data-testid="what-if-load-from"/></label>
                <label>"Extra growth " <input type="number" name="growth" step="any" value=number(query.growth_percent) placeholder="+2" data-testid="what-if-growth"/> " % a month"</label>
            </fieldset>
            <button type="submit" data-testid="what-if-apply">"Recompute"</button>
            <a href=reset class="small" data-testid="what-if-reset">"Clear the scenario"</a>
            <a href=plan class="small">"Back to the plan"</a>
        </form>
    }
    .into_any();
    let rows = SERIES
        .iter()
        .filter_map(|(metric, label, _, _)| {
            let r = result.resources.iter().find(|r| r.metric == *metric)?;
            let room = match r.room_for_hosts {
                None => "no load".to_string(),
                Some(m) if m < 0 => format!("over by {}", plural(-m, "host's load", "hosts' load")),
                Some(m) => plural(m, "host's load", "hosts' load"),
            };
            let needed_title = format!(
                "Hosts of the group's average size that keep {label} below {:.0} % up to the horizon under the scenario's load ({} planned)",
                result.capacity_threshold, result.hosts_after
            );
            let short = r.hosts_needed > result.hosts_after;
            Some(view! {
                <tr data-testid=format!("what-if-{metric}") class=grade(&r.scenario, horizon)>
                    <td>{*label}</td>
                    <td class="num">{format!("{:.1} %", r.now)}</td>
                    <td class="num">{format!("{:+.2} pp", r.growth_monthly)}</td>
                    <td class="num">{format!("{:.1} %", r.forecast.predicted_value)}</td>
                    <td class="num" data-testid="what-if-scenario-value"><strong>{format!("{:.1} %", r.scenario.predicted_value)}</strong></td>
                    <td>{reaches(&r.forecast)}</td>
                    <td data-testid="what-if-scenario-reaches"><strong>{reaches(&r.scenario)}</strong></td>
                    <td class="num" title=needed_title data-testid="what-if-hosts-needed">
                        {r.hosts_needed} {short.then(|| view! { <span class="moved up">{format!(" ({} more)", r.hosts_needed - result.hosts_after)}</span> })}
                    </td>
                    <td class="num" data-testid="what-if-room">{room}</td>
                </tr>
            })
        })
        .collect_view();
    let none = result.resources.is_empty();
    let plans = match result.plans.len() {
        1 => "the 1 plan committed below".to_owned(),
        n => format!("the {n} plans committed below"),
    };
    let summary = match (described.is_empty(), result.plans.is_empty()) {
        (true, true) => "No change entered: the forecast alone. Enter hosts, load or growth above and recompute.".to_owned(),
        (true, false) => format!("The forecast with {plans}. Enter hosts, load or growth above to try more on top of them."),
        (false, true) => format!("Scenario: {described}."),
        (false, false) => format!("Scenario: {described}, on top of {plans}."),
    };
    let plans_section = plans_section(&result, &query, &described, can_commit);
    let hosts_line = (result.hosts_after != result.hosts as i64).then(|| {
        format!(
            "{} now, {} after the change.",
            plural(result.hosts as i64, "host", "hosts"),
            result.hosts_after
        )
    });
    let headline = (!none).then(|| headline(&result));
    let first_host = result.first_host.as_ref().map(|h| {
        let href = format!("/hosts/{}?range=90d", crate::view_state::encode(&h.vm_id));
        view! {
            <p data-testid="what-if-first-host">
                {format!("First host to reach {:.0} %: ", result.capacity_threshold)}
                <a href=href>{h.vm_name.clone()}</a>
                {format!(" ({}) — with the changes {}; without them {}.", h.metric, reaches(&h.scenario), reaches(&h.forecast))}
            </p>
        }
    });
    view! {
        <TopBar active="/capacity" viewer>
            <span class="muted" data-testid="what-if-scope">{format!("What if · {scope} · last {} days", view.history_days)}</span>
        </TopBar>
        <main class="live">
            {form}
            {notice.map(|n| view! { <p class="notice" data-testid="what-if-notice">{n}</p> })}
            {error.map(|e| view! { <p class="warning" data-testid="what-if-error">{e}</p> })}
            {problem.map(|p| view! { <p class="warning" data-testid="what-if-problem">{format!("The scenario was not computed: {p}. Below: the forecast alone.")}</p> })}
            {result.warning.clone().map(|w| view! { <p class="warning" data-testid="what-if-warning">{w}</p> })}
            <section class="panel">
                <h2>"Runway under the scenario"</h2>
                <p data-testid="what-if-summary">{summary} " " {hosts_line}</p>
                <p data-testid="what-if-headline"><strong>{headline}</strong></p>
                {first_host}
                <div class="chart" data-testid="what-if-chart" inner_html=chart></div>
                <p class="muted small">{format!(
                    "The group's average, as the runway plans it: the load spread evenly over hosts of the group's average size. Dashed: the straight forecast; solid after today: with the changes. Load added is a share of the load on its day; extra growth compounds monthly on top of the trend; hosts added or taken away change the capacity from their day. Red line: {:.0} %.",
                    result.capacity_threshold
                )}</p>
                {none.then(|| view! { <p class="muted">"No forecast: at least 7 complete days of history are needed."</p> })}
                <div class="table-wrap">
                    <table data-testid="what-if-table">
                        <thead><tr>
                            <th>"resource"</th><th>"now"</th><th>"per month"</th>
                            <th>{format!("in {horizon} days")}</th><th>"with the changes"</th>
                            <th>{format!("reaches {:.0} %", result.capacity_threshold)}</th><th>"with the changes"</th>
                            <th>"hosts needed"</th><th>"room for more"</th>
                        </tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
                <p class="muted small">"Hosts needed: hosts of the group's average size that keep the resource below the threshold up to the horizon under the scenario's load. Room for more: how many more average hosts' load (growing as the group's does) fit before it is reached within the horizon."</p>
            </section>
            {plans_section}
        </main>
    }
}

/// The plans committed for the view's group (or the fleet), each removable, and the form that
/// commits the scenario typed above as one more.
fn plans_section(
    result: &WhatIf,
    query: &WhatIfQuery,
    described: &str,
    can_commit: bool,
) -> AnyView {
    let view = &query.view;
    let scope = scope_text(view.group.as_deref());
    let newest = result.newest_day;
    let rows = result
        .plans
        .iter()
        .map(|plan: &CapacityPlan| {
            // A change whose day is past is in the history from then on, or soon: the plan
            // would count it twice once the trend shows it.
            let latest = [plan.changes.hosts_from, plan.changes.load_from]
                .into_iter()
                .flatten()
                .max();
            let passed = match (latest, newest) {
                (Some(day), Some(newest)) if day <= newest => Some(format!(
                    "its day ({}) has passed: remove it once the history shows it",
                    day.format("%Y-%m-%d")
                )),
                _ => None,
            };
            let remove = can_commit.then(|| {
                view! {
                    <form method="post" action=format!("/capacity/plans/{}/delete", plan.id) class="inline">
                        {view_fields(view)}
                        <button type="submit" class="small" data-testid="plan-remove">"Remove"</button>
                    </form>
                }
                .into_any()
            });
            view! {
                <tr data-testid="plan-row" data-plan=plan.id.to_string()>
                    <td><strong>{plan.title.clone()}</strong></td>
                    <td>{plan_text(&plan.changes)}
                        {passed.map(|p| view! { <div class="muted small" data-testid="plan-passed">{p}</div> })}
                    </td>
                    <td class="muted small">{format!("{} · {}", plan.created_by, plan.created_at.format("%Y-%m-%d"))}</td>
                    <td>{remove}</td>
                </tr>
            }
            .into_any()
        })
        .collect_view();
    let none = result.plans.is_empty();
    let commit = (can_commit && !described.is_empty()).then(|| {
        view! {
            <form method="post" action="/capacity/plans" class="filters" data-testid="plan-form">
                {view_fields(view)}
                <input type="hidden" name="hosts" value=query.add_hosts.to_string()/>
                <input type="hidden" name="hostsFrom" value=query.hosts_from.map(|d| d.to_string()).unwrap_or_default()/>
                <input type="hidden" name="load" value=query.load_percent.to_string()/>
                <input type="hidden" name="loadFrom" value=query.load_from.map(|d| d.to_string()).unwrap_or_default()/>
                <input type="hidden" name="growth" value=query.growth_percent.to_string()/>
                <label>"Commit the scenario (" {described.to_owned()} ") as "
                    <input type="text" name="title" required maxlength="200" placeholder="what it is: a launch, a migration" data-testid="plan-title"/>
                </label>
                <button type="submit" data-testid="plan-commit">"Commit as a plan"</button>
            </form>
        }
        .into_any()
    });
    view! {
        <section class="panel" data-testid="plans">
            <h2>{format!("Planned changes — {scope}")}</h2>
            <p class="muted small">"Changes committed for this group (or the fleet): every what-if of it includes them, and so does its runway on the capacity page, until they are removed."</p>
            {none.then(|| view! { <p class="muted">"None committed."</p> })}
            {(!none).then(|| view! {
                <table data-testid="plans-table">
                    <thead><tr><th>"plan"</th><th>"changes"</th><th>"committed"</th><th></th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            }.into_any())}
            {commit}
        </section>
    }
    .into_any()
}
