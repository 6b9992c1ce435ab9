//! The runway of every host group: how long until the group as a whole (its hosts' average, the
//! level a load balancer spreads) and its first host reach the threshold — the capacity page's
//! overview of the fleet, soonest first (vROps's time remaining per cluster).
use super::{
    analyse_with_lines,
    whatif::{self, Planned},
    TrendOptions,
};
use crate::{history::QueryError, storage::hosts};
use app::{
    models::{CapacityPlan, GroupRunway, RunwayHost, TrendReport},
    view_state::CapacityQuery,
};
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt};

/// Groups analysed at once.
const GROUPS_AT_ONCE: usize = 3;

/// The runway of each group under `view`'s history and threshold, the shortest first (groups
/// reaching nothing within two years last, by name).
pub async fn of_groups(
    pool: &sqlx::PgPool,
    view: &CapacityQuery,
    now: DateTime<Utc>,
) -> Result<Vec<GroupRunway>, QueryError> {
    let options = TrendOptions::of_view(view, now);
    let groups = hosts::group_sizes(pool).await?;
    let plans = whatif::all_plans(pool).await?;
    // A few groups at once (each analysis waits on PostgreSQL as much as it computes), not all:
    // a fleet of many groups must not take every pooled connection.
    let mut out: Vec<GroupRunway> = futures_util::stream::iter(groups)
        .map(|(group, _)| {
            let options = &options;
            let plans: Vec<CapacityPlan> = plans
                .iter()
                .filter(|p| p.group_id.as_deref() == Some(group.as_str()))
                .cloned()
                .collect();
            async move {
                let members = crate::history::resolve_hosts(pool, None, Some(&group), None).await?;
                let (trends, lines) = analyse_with_lines(pool, &members, options).await?;
                // A group's committed plans move its runway (the what-if page lists them).
                let planned = (!plans.is_empty())
                    .then(|| whatif::planned(&members, &lines, &plans, options.threshold));
                Ok::<_, QueryError>(runway(group, members.len(), &trends, planned.as_ref()))
            }
        })
        .buffer_unordered(GROUPS_AT_ONCE)
        .try_collect()
        .await?;
    let soonest = |r: &GroupRunway| {
        [
            r.cpu_days,
            r.memory_days,
            r.disk_days,
            r.first_host.as_ref().map(|h| h.days),
        ]
        .into_iter()
        .flatten()
        .fold(f64::INFINITY, f64::min)
    };
    out.sort_by(|a, b| {
        soonest(a)
            .total_cmp(&soonest(b))
            .then_with(|| a.group.cmp(&b.group))
    });
    Ok(out)
}

/// A group's runway from its trends answer: the days from its newest complete day to each
/// forecast crossing, and its first host's crossing — or, with committed plans, to the
/// crossings under them.
pub fn runway(
    group: String,
    hosts: usize,
    trends: &TrendReport,
    planned: Option<&Planned>,
) -> GroupRunway {
    let newest = trends.historical.last().map(|d| d.date);
    let days_to = |at: DateTime<Utc>| {
        newest.map(|last| ((at - last).num_hours() as f64 / 24.0).max(0.0).round())
    };
    let resource = |metric: &str| match planned {
        Some(planned) => planned.resources.get(metric).copied().and_then(days_to),
        None => trends
            .forecast
            .as_ref()?
            .get(metric)?
            .capacity_exceed_date
            .and_then(days_to),
    };
    let (cpu_days, memory_days, disk_days) =
        (resource("cpu"), resource("memory"), resource("disk"));
    let constrained = [
        ("cpu", cpu_days),
        ("memory", memory_days),
        ("disk", disk_days),
    ]
    .into_iter()
    .filter_map(|(name, days)| Some((name, days?)))
    .min_by(|a, b| a.1.total_cmp(&b.1))
    .map(|(name, _)| name.to_owned());
    let first_host = match planned {
        Some(planned) => planned.first_host.as_ref().and_then(|(host, metric, at)| {
            Some(RunwayHost {
                vm_id: host.vm_id.clone(),
                vm_name: host.name.clone(),
                metric: (*metric).to_owned(),
                days: days_to(*at)?,
            })
        }),
        None => trends
            .capacity_alerts
            .iter()
            .filter_map(|a| {
                let vm_id = a.vm_id.clone()?;
                Some(RunwayHost {
                    vm_name: a.vm_name.clone().unwrap_or_else(|| vm_id.clone()),
                    vm_id,
                    metric: a.metric.clone(),
                    days: days_to(a.predicted_exceed_date)?,
                })
            })
            .min_by(|a, b| a.days.total_cmp(&b.days)),
    };
    GroupRunway {
        group,
        hosts,
        cpu_days,
        memory_days,
        disk_days,
        constrained,
        first_host,
        plans: planned.map_or(0, |p| p.plans),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::models::{CapacityAlert, DailyUsage, MetricForecast};
    use chrono::{Duration, TimeZone};

    #[test]
    fn the_runway_counts_days_from_the_newest_day_and_names_what_runs_out_first() {
        let last = Utc
            .with_ymd_and_hms(2026, 12, 6, 0, 0, 0)
            .single()
            .expect("date");
        let forecast = |days: Option<i64>| MetricForecast {
            predicted_value: 50.0,
            confidence: 0.9,
            capacity_exceed_date: days.map(|d| last + Duration::days(d)),
            method: "linear".into(),
            level_shifts: Vec::new(),
            if_shifts_recur: None,
        };
        let alert = |vm: &str, metric: &str, days: i64| CapacityAlert {
            metric: metric.into(),
            vm_id: Some(vm.into()),
            vm_name: Some(format!("{vm}-name")),
            current_usage: 70.0,
            threshold: 80.0,
            predicted_exceed_date: last + Duration::days(days),
            severity: "medium".into(),
        };
        let trends = TrendReport {
            historical: vec![DailyUsage {
                date: last,
                ..Default::default()
            }],
            forecast: Some(
                [
                    ("cpu".to_string(), forecast(None)),
                    ("memory".to_string(), forecast(Some(120))),
                    ("disk".to_string(), forecast(Some(300))),
                ]
                .into_iter()
                .collect(),
            ),
            capacity_alerts: vec![alert("a", "disk", 200), alert("b", "memory", 45)],
            ..Default::default()
        };
        let r = runway("grp".into(), 2, &trends, None);
        assert_eq!(
            (r.cpu_days, r.memory_days, r.disk_days),
            (None, Some(120.0), Some(300.0))
        );
        assert_eq!(r.constrained.as_deref(), Some("memory"));
        let first = r.first_host.expect("a host crosses");
        assert_eq!(
            (first.vm_id.as_str(), first.metric.as_str(), first.days),
            ("b", "memory", 45.0)
        );
        // Nothing forecast: no runway, nothing constrained.
        let empty = runway("none".into(), 0, &TrendReport::default(), None);
        assert_eq!((empty.constrained, empty.first_host), (None, None));
    }
}
