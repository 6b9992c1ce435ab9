//! What-if: a scenario's changes (hosts added or taken away, load added, extra growth) on the
//! straight CPU, memory and disk forecasts of a group or the fleet, and the runway they give
//! beside the forecast's own (`analysis::whatif` over `analyse`'s forecast lines).
use super::{analyse_with_lines, date_after, round, TrendOptions, METRICS};
use crate::{
    analysis::whatif::{self, Changes},
    history::QueryError,
    storage::hosts::HostRef,
};
use app::models::{WhatIf, WhatIfChanges, WhatIfOutcome, WhatIfPoint, WhatIfResource};
use chrono::{DateTime, Duration, Utc};
use std::ops::RangeInclusive;

/// Hosts a scenario may add (taking away stops at one host left).
pub const MAX_ADD_HOSTS: i64 = 10_000;
/// Load added, percent of the load on its day: from 90 % less to eleven times as much.
pub const LOAD_PERCENT: RangeInclusive<f64> = -90.0..=1_000.0;
/// Extra growth, percent a month.
pub const GROWTH_PERCENT: RangeInclusive<f64> = -50.0..=100.0;
/// How far ahead a change may be dated (the crossing search's two years).
const MAX_DAYS_AHEAD: i64 = 730;

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
    options: &TrendOptions,
    changes: &WhatIfChanges,
    now: DateTime<Utc>,
) -> Result<WhatIf, QueryError> {
    check(changes, hosts.len(), now).map_err(QueryError::BadRequest)?;
    let options = TrendOptions {
        metrics: METRICS.to_vec(),
        forecast_enabled: true,
        method: crate::analysis::trend::Method::Linear,
        ..*options
    };
    let (trends, lines) = analyse_with_lines(pool, hosts, &options).await?;
    let horizon = options.horizon;
    let threshold = options.threshold;
    let mut resources = Vec::new();
    let mut unforecast = Vec::new();
    for (name, _) in METRICS {
        let Some((last_day, line)) = lines.get(name) else {
            unforecast.push(name);
            continue;
        };
        let days_after = |day: Option<DateTime<Utc>>| {
            day.map_or(0.0, |d| {
                ((d - *last_day).num_hours() as f64 / 24.0).max(0.0).ceil()
            })
        };
        let scenario = Changes {
            hosts_now: hosts.len(),
            add_hosts: changes.add_hosts,
            hosts_from: days_after(changes.hosts_from),
            add_load: changes.add_load_percent / 100.0,
            load_from: days_after(changes.load_from),
            growth_monthly: changes.growth_monthly_percent / 100.0,
        };
        let unchanged = Changes::none(hosts.len());
        let outcome = |changes: &Changes| {
            let days = whatif::days_to(line, changes, threshold);
            WhatIfOutcome {
                predicted_value: round(changes.usage(line, horizon).clamp(0.0, 100.0), 2),
                days_to_threshold: days,
                capacity_exceed_date: days.map(|d| date_after(*last_day, d)),
            }
        };
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
            forecast: outcome(&unchanged),
            scenario: outcome(&scenario),
            hosts_needed: whatif::hosts_needed(line, &scenario, threshold, horizon),
            room_for_hosts: whatif::room_for_hosts(line, &scenario, threshold, horizon),
            projection,
        });
    }
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
        hosts_after: hosts.len() as i64 + changes.add_hosts,
        horizon: horizon.round() as i64,
        capacity_threshold: threshold,
        newest_day: trends.historical.last().map(|d| d.date),
        changes: changes.clone(),
        resources,
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
