//! What-if: a scenario's changes (hosts added or taken away, load added, extra growth) on the
//! straight CPU, memory and disk forecasts of a group or the fleet, and the runway they give
//! beside the forecast's own (`analysis::whatif` over `analyse`'s forecast lines).
use super::{analyse_with_lines, date_after, round, ForecastLines, TrendOptions, METRICS};
use crate::analysis::trend::LinearTrend;
use crate::{
    analysis::whatif::{self, Changes, HostChange, LoadChange},
    history::QueryError,
    storage::{self, hosts::HostRef},
};
use app::models::{
    CapacityPlan, WhatIf, WhatIfChanges, WhatIfHost, WhatIfOutcome, WhatIfPoint, WhatIfResource,
};
use chrono::{DateTime, Duration, Utc};
use std::{collections::BTreeMap, ops::RangeInclusive};

/// Hosts a scenario may add (taking away stops at one host left).
pub const MAX_ADD_HOSTS: i64 = 10_000;
/// Load added, percent of the load on its day: from 90 % less to eleven times as much.
pub const LOAD_PERCENT: RangeInclusive<f64> = -90.0..=1_000.0;
/// Extra growth, percent a month.
pub const GROWTH_PERCENT: RangeInclusive<f64> = -50.0..=100.0;
/// How far ahead a change may be dated (the crossing search's two years).
const MAX_DAYS_AHEAD: i64 = 730;

/// Which committed plans a what-if includes: none (hosts named one by one, a cluster — plans
/// are made for a group or the fleet), or those of a group (`None`: the whole fleet's).
#[derive(Clone, Copy, Debug)]
pub enum Plans<'a> {
    Left,
    Of(Option<&'a str>),
}

/// A scenario's changes as the model takes them, their days counted from `last_day` (a line's
/// last day; a change dated before it is at once, one left undated too).
fn model(changes: &WhatIfChanges, hosts_now: usize, last_day: DateTime<Utc>) -> Changes {
    let days_after = |day: Option<DateTime<Utc>>| {
        day.map_or(0.0, |d| {
            ((d - last_day).num_hours() as f64 / 24.0).max(0.0).ceil()
        })
    };
    Changes::one(
        hosts_now,
        HostChange {
            from: days_after(changes.hosts_from),
            added: changes.add_hosts,
        },
        LoadChange {
            from: days_after(changes.load_from),
            added: changes.add_load_percent / 100.0,
        },
        changes.growth_monthly_percent / 100.0,
    )
}

/// Committed plans and, when given, a scenario's changes as one model, their days counted from
/// `last_day`.
fn combined(
    plans: &[CapacityPlan],
    changes: Option<&WhatIfChanges>,
    hosts_now: usize,
    last_day: DateTime<Utc>,
) -> Changes {
    plans
        .iter()
        .map(|p| &p.changes)
        .chain(changes)
        .fold(Changes::none(hosts_now), |all, c| {
            all.with(&model(c, hosts_now, last_day))
        })
}

/// The host and resource that reach `threshold` first under `changes_for` (the changes, their
/// days counted from a line's last day), from each host's own line: its line, last day and the
/// days. Hosts pushed over on the same day (a load added to all of them) are ordered by how soon
/// they would get there without the changes.
fn first_to_cross<'h>(
    hosts: &'h [HostRef],
    lines: &ForecastLines,
    changes_for: impl Fn(DateTime<Utc>) -> Changes,
    threshold: f64,
) -> Option<(&'h HostRef, &'static str, DateTime<Utc>, LinearTrend, f64)> {
    let unchanged = Changes::none(hosts.len());
    hosts
        .iter()
        .flat_map(|host| METRICS.iter().map(move |(name, _)| (host, *name)))
        .filter_map(|(host, name)| {
            let (last_day, line) = lines.hosts.get(&(host.id, name))?;
            let days = whatif::days_to(line, &changes_for(*last_day), threshold)?;
            let without = whatif::days_to(line, &unchanged, threshold).unwrap_or(f64::INFINITY);
            Some((host, name, *last_day, *line, days, without))
        })
        .min_by(|a, b| a.4.total_cmp(&b.4).then(a.5.total_cmp(&b.5)))
        .map(|(host, name, last_day, line, days, _)| (host, name, last_day, line, days))
}

/// The runway's crossings with a group's committed plans: the day each resource of the group
/// reaches the threshold (those that do within two years), and its first host's.
pub struct Planned {
    pub plans: usize,
    pub resources: BTreeMap<&'static str, DateTime<Utc>>,
    pub first_host: Option<(HostRef, &'static str, DateTime<Utc>)>,
}

/// `hosts`' crossings of `threshold` under `plans`, from `analyse`'s lines.
pub fn planned(
    hosts: &[HostRef],
    lines: &ForecastLines,
    plans: &[CapacityPlan],
    threshold: f64,
) -> Planned {
    let planned_from = |last_day: DateTime<Utc>| combined(plans, None, hosts.len(), last_day);
    let resources = lines
        .selection
        .iter()
        .filter_map(|(name, (last_day, line))| {
            let days = whatif::days_to(line, &planned_from(*last_day), threshold)?;
            Some((*name, date_after(*last_day, days)))
        })
        .collect();
    let first_host = first_to_cross(hosts, lines, planned_from, threshold)
        .map(|(host, name, last_day, _, days)| (host.clone(), name, date_after(last_day, days)));
    Planned {
        plans: plans.len(),
        resources,
        first_host,
    }
}

/// The plans committed for a group (`None`: the whole fleet), oldest first.
pub async fn plans(
    pool: &sqlx::PgPool,
    group: Option<&str>,
) -> Result<Vec<CapacityPlan>, QueryError> {
    Ok(storage::plans::of_scope(pool, group).await?)
}

/// Every committed plan, by scope (the fleet's first) then age.
pub async fn all_plans(pool: &sqlx::PgPool) -> Result<Vec<CapacityPlan>, QueryError> {
    Ok(storage::plans::all(pool).await?)
}

/// Longest plan title.
pub const MAX_TITLE: usize = 200;

/// Commits a scenario as a plan of a group (`None`: the whole fleet), checked as a what-if's
/// changes are (against the scope's hosts now) and given a title.
pub async fn commit(
    pool: &sqlx::PgPool,
    group: Option<&str>,
    title: &str,
    changes: &WhatIfChanges,
    by: &str,
    now: DateTime<Utc>,
) -> Result<CapacityPlan, QueryError> {
    let title = title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE {
        return Err(QueryError::BadRequest(format!(
            "a plan needs a title of 1 to {MAX_TITLE} characters"
        )));
    }
    if *changes == WhatIfChanges::default() {
        return Err(QueryError::BadRequest(
            "a plan needs a change: hosts, load or growth".into(),
        ));
    }
    let hosts = match group {
        Some(group) => crate::history::resolve_hosts(pool, None, Some(group), None).await?,
        None => storage::hosts::all(pool).await?,
    };
    check(changes, hosts.len(), now).map_err(QueryError::BadRequest)?;
    Ok(storage::plans::insert(pool, group, title, changes, by).await?)
}

/// Removes a plan; an unknown id is `NotFound`.
pub async fn remove(pool: &sqlx::PgPool, id: i64) -> Result<(), QueryError> {
    if storage::plans::delete(pool, id).await? {
        Ok(())
    } else {
        Err(QueryError::NotFound(format!("no plan {id}")))
    }
}

/// What is wrong with a scenario for `hosts` hosts as of `now`, in the words of its fields.
pub fn check(changes: &WhatIfChanges, hosts: usize, now: DateTime<Utc>) -> Result<(), String> {
    let fewest = 1 - hosts as i64;
    if !(fewest..=MAX_ADD_HOSTS).contains(&changes.add_hosts) {
        return Err(if changes.add_hosts < fewest {
            format!(
                "`addHosts` {} would leave no host of {hosts}: at least one must stay",
                changes.add_hosts
            )
        } else {
            format!("`addHosts` must be at most {MAX_ADD_HOSTS}")
        });
    }
    let bounded = |name: &str, value: f64, range: &RangeInclusive<f64>| {
        if value.is_finite() && range.contains(&value) {
            Ok(())
        } else {
            Err(format!(
                "`{name}` must be {} to {} (percent), got {value}",
                range.start(),
                range.end()
            ))
        }
    };
    bounded("addLoadPercent", changes.add_load_percent, &LOAD_PERCENT)?;
    bounded(
        "growthMonthlyPercent",
        changes.growth_monthly_percent,
        &GROWTH_PERCENT,
    )?;
    // The newest complete day is yesterday: a change dated before it is not a plan.
    let earliest = now - Duration::days(2);
    let latest = now + Duration::days(MAX_DAYS_AHEAD);
    for (name, day) in [
        ("hostsFrom", changes.hosts_from),
        ("loadFrom", changes.load_from),
    ] {
        if let Some(day) = day {
            if day < earliest || day > latest {
                return Err(format!(
                    "`{name}` must be from yesterday to {MAX_DAYS_AHEAD} days ahead, got {}",
                    day.format("%Y-%m-%d")
                ));
            }
        }
    }
    Ok(())
}

/// The scenario on `hosts`' forecasts over `options` (history, horizon, threshold; a straight
/// forecast whatever `options.method` says, since the scenario is drawn on the line).
pub async fn what_if(
    pool: &sqlx::PgPool,
    hosts: &[HostRef],
    plans: Plans<'_>,
    options: &TrendOptions,
    changes: &WhatIfChanges,
    now: DateTime<Utc>,
) -> Result<WhatIf, QueryError> {
    check(changes, hosts.len(), now).map_err(QueryError::BadRequest)?;
    let plans = match plans {
        Plans::Left => Vec::new(),
        Plans::Of(group) => storage::plans::of_scope(pool, group).await?,
    };
    let options = TrendOptions {
        metrics: METRICS.to_vec(),
        forecast_enabled: true,
        method: crate::analysis::trend::Method::Linear,
        ..*options
    };
    let (trends, lines) = analyse_with_lines(pool, hosts, &options).await?;
    let horizon = options.horizon;
    let threshold = options.threshold;
    let hosts_now = hosts.len();
    // The plans and the request's changes, their days counted from a line's last day.
    let scenario_from =
        |last_day: DateTime<Utc>| combined(&plans, Some(changes), hosts_now, last_day);
    let unchanged = Changes::none(hosts_now);
    let outcome = |line: &LinearTrend, last_day: DateTime<Utc>, changes: &Changes| {
        let days = whatif::days_to(line, changes, threshold);
        WhatIfOutcome {
            predicted_value: round(changes.usage(line, horizon).clamp(0.0, 100.0), 2),
            days_to_threshold: days,
            capacity_exceed_date: days.map(|d| date_after(last_day, d)),
        }
    };
    let mut resources = Vec::new();
    let mut unforecast = Vec::new();
    for (name, _) in METRICS {
        let Some((last_day, line)) = lines.selection.get(name) else {
            unforecast.push(name);
            continue;
        };
        let scenario = scenario_from(*last_day);
        let projection = whatif::projection(line, &unchanged, horizon)
            .into_iter()
            .zip(whatif::projection(line, &scenario, horizon))
            .map(|((day, forecast), (_, scenario))| WhatIfPoint {
                date: *last_day + Duration::days(day as i64),
                forecast: round(forecast, 2),
                scenario: round(scenario, 2),
            })
            .collect();
        resources.push(WhatIfResource {
            metric: name.into(),
            now: round(line.level_now.clamp(0.0, 100.0), 2),
            growth_monthly: round(line.slope * 30.0, 3),
            forecast: outcome(line, *last_day, &unchanged),
            scenario: outcome(line, *last_day, &scenario),
            hosts_needed: whatif::hosts_needed(line, &scenario, threshold, horizon),
            room_for_hosts: whatif::room_for_hosts(line, &scenario, threshold, horizon),
            projection,
        });
    }
    // The first host to reach the threshold under the scenario: its load grows by the same
    // factors, since the model spreads the load evenly.
    let first_host = first_to_cross(hosts, &lines, scenario_from, threshold).map(
        |(host, name, last_day, line, _)| WhatIfHost {
            vm_id: host.vm_id.clone(),
            vm_name: host.name.clone(),
            metric: name.into(),
            forecast: outcome(&line, last_day, &unchanged),
            scenario: outcome(&line, last_day, &scenario_from(last_day)),
        },
    );
    let warning = trends.warning.clone().or_else(|| {
        (!unforecast.is_empty()).then(|| {
            format!(
                "no forecast of {}: fewer than 7 days of it in the history",
                unforecast.join(", ")
            )
        })
    });
    Ok(WhatIf {
        hosts: hosts.len(),
        hosts_after: scenario_from(now).hosts_after(),
        horizon: horizon.round() as i64,
        capacity_threshold: threshold,
        newest_day: trends.historical.last().map(|d| d.date),
        changes: changes.clone(),
        plans,
        resources,
        first_host,
        historical: trends.historical,
        warning,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenario_out_of_bounds_is_refused_in_its_fields_words() {
        let now = Utc::now();
        let ok = WhatIfChanges {
            add_hosts: -3,
            add_load_percent: 50.0,
            growth_monthly_percent: 2.0,
            load_from: Some(now + Duration::days(30)),
            ..Default::default()
        };
        assert_eq!(check(&ok, 4, now), Ok(()));
        let refused = |changes: WhatIfChanges| check(&changes, 4, now).expect_err("refused");
        assert!(refused(WhatIfChanges {
            add_hosts: -4,
            ..ok.clone()
        })
        .contains("at least one must stay"));
        assert!(refused(WhatIfChanges {
            add_load_percent: f64::NAN,
            ..ok.clone()
        })
        .starts_with("`addLoadPercent` must be -90 to 1000"));
        assert!(refused(WhatIfChanges {
            growth_monthly_percent: 500.0,
            ..ok.clone()
        })
        .starts_with("`growthMonthlyPercent`"));
        assert!(refused(WhatIfChanges {
            hosts_from: Some(now - Duration::days(10)),
            ..ok.clone()
        })
        .starts_with("`hostsFrom` must be from yesterday"));
        assert!(refused(WhatIfChanges {
            load_from: Some(now + Duration::days(800)),
            ..ok
        })
        .starts_with("`loadFrom`"));
    }
}
