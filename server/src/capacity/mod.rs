//! Capacity planning: daily history, growth rates, forecasts, capacity alerts and
//! recommendations for CPU, memory and disk of a fleet, a group, a cluster or listed hosts —
//! the `/history/trends` answer and the capacity page.
pub mod app_metrics;
pub mod csv;
pub mod monthly;
pub mod pdf;
pub mod report;
pub mod rightsize;
pub mod runway;
pub mod whatif;

use crate::storage::hosts::HostRef;
use crate::{
    analysis::{
        shifts,
        trend::{self, capacity_severity, Method, ADVISED_DAYS, MIN_POINTS},
    },
    history::QueryError,
    storage::rollups::{self, MetricRollup, StoredRollup},
};
use app::models::{
    AppMetricTrend, CapacityAlert, DailyUsage, GrowthRate, LevelShift, MetricForecast,
    Recommendation, ShiftScenario, TrendReport,
};
use chrono::{DateTime, Duration, DurationRound, Utc};
use std::collections::BTreeMap;

/// The trends' resources by name, each a catalogue metric.
pub const METRICS: [(&str, i16); 3] = [
    ("cpu", app::catalog::CPU_PERCENT),
    ("memory", app::catalog::MEMORY_PERCENT),
    ("disk", app::catalog::DISK_PERCENT),
];
/// Scale-down is suggested when the period's p95 stays below this (percent).
const IDLE_P95: f64 = 20.0;
/// Optimisation is suggested for bursty load: p95 at least this while the average is at most
/// `BURSTY_AVG`.
const BURSTY_P95: f64 = 80.0;
const BURSTY_AVG: f64 = 40.0;
/// Scale-up is suggested when the threshold is reached within this many days.
const SCALE_UP_WITHIN_DAYS: f64 = 90.0;

fn round(v: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (v * scale).round() / scale
}

/// What the capacity page plans for a view: its hosts (the group's, or every host), the trends
/// answer over them, their application metrics' trends and their right-sizing.
pub struct Plan {
    pub hosts: Vec<HostRef>,
    pub trends: TrendReport,
    pub app_metrics: Vec<AppMetricTrend>,
    pub right_sizing: app::models::RightSizing,
}

impl TrendOptions {
    /// What the capacity page asks of the trends for a view: CPU, memory and disk over its days
    /// of history up to `now`, a linear forecast of its horizon against its threshold.
    pub fn of_view(view: &app::view_state::CapacityQuery, now: DateTime<Utc>) -> Self {
        TrendOptions {
            start: now - Duration::days(view.history_days),
            end: now,
            metrics: METRICS.to_vec(),
            forecast_enabled: true,
            horizon: view.horizon_days as f64,
            method: Method::Linear,
            threshold: view.threshold as f64,
        }
    }
}

/// The plan of `view` (a group or the fleet, days of history, horizon, threshold) as of `now`.
pub async fn plan(
    pool: &sqlx::PgPool,
    view: &app::view_state::CapacityQuery,
    now: DateTime<Utc>,
) -> Result<Plan, QueryError> {
    let hosts = match view.group.as_deref() {
        None => crate::storage::hosts::all(pool).await?,
        Some(group) => crate::history::resolve_hosts(pool, None, Some(group), None).await?,
    };
    let options = TrendOptions::of_view(view, now);
    let trends = analyse(pool, &hosts, &options).await?;
    let app_metrics =
        app_metrics::trends(pool, &hosts, (options.start, now), options.horizon, None).await?;
    let right_sizing = rightsize::of(pool, &hosts, now).await?;
    Ok(Plan {
        hosts,
        trends,
        app_metrics,
        right_sizing,
    })
}

/// One host's outlook as the capacity page plans by default (`app::view_state::CapacityQuery`'s
/// history, horizon and threshold), for the host view.
pub async fn outlook(
    pool: &sqlx::PgPool,
    host: &HostRef,
    now: DateTime<Utc>,
) -> Result<TrendReport, QueryError> {
    let options = TrendOptions::of_view(&app::view_state::CapacityQuery::default(), now);
    analyse(pool, std::slice::from_ref(host), &options).await
}

/// "is forecast to reach 80% on 2027-01-03", or — when the trend line is at the threshold on
/// the last day already (the crossing is that day, which is in the past) — "has reached 80% by
/// its trend", so that no recommendation dates a crossing before today as a forecast.
fn reaching(threshold: f64, days: f64, date: DateTime<Utc>) -> String {
    if days <= 0.0 {
        format!("has reached {threshold}% by its trend")
    } else {
        format!(
            "is forecast to reach {threshold}% on {}",
            date.format("%Y-%m-%d")
        )
    }
}

/// The day (midnight UTC) `days` after `last_day`: a crossing is dated to its day, for the
/// catalogue's metrics and the applications' alike.
pub(crate) fn date_after(last_day: DateTime<Utc>, days: f64) -> DateTime<Utc> {
    let at = last_day + Duration::seconds((days * 86_400.0).round() as i64);
    at.duration_trunc(Duration::days(1)).unwrap_or(at)
}

/// One metric's daily series: day numbers since the first day, daily averages.
struct Daily {
    days: Vec<f64>,
    values: Vec<f64>,
}

impl Daily {
    /// The lasting level shifts in the series, and the trend with them taken out (none without
    /// shifts): what growth and forecasts are drawn from.
    fn shifts(&self) -> (Vec<shifts::Shift>, Option<shifts::StepFreeTrend>) {
        let steps = shifts::level_shifts(&self.days, &self.values);
        let step_free = shifts::step_free_trend(&self.days, &self.values, &steps);
        (steps, step_free)
    }
}

/// A daily average in the making.
#[derive(Clone, Copy, Debug, Default)]
struct SumCount {
    sum: f64,
    count: i64,
}

impl SumCount {
    fn add(&mut self, other: SumCount) {
        self.sum += other.sum;
        self.count += other.count;
    }
    fn avg(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }
}

/// Hosts per query and summary task in `analyse`.
const HOSTS_PER_TASK: usize = 25;

/// What `analyse` needs from the daily rows: fleet and per-host daily sums and counts, and the
/// whole period's merged rollup per metric (for its p95).
#[derive(Default)]
struct Summary {
    fleet: BTreeMap<i16, BTreeMap<DateTime<Utc>, SumCount>>,
    per_host: BTreeMap<(i32, i16), BTreeMap<DateTime<Utc>, SumCount>>,
    period: BTreeMap<i16, MetricRollup>,
    rows: usize,
}

impl Summary {
    fn of(rows: &[StoredRollup]) -> Result<Summary, QueryError> {
        let mut summary = Summary {
            rows: rows.len(),
            ..Default::default()
        };
        for row in rows {
            let part = SumCount {
                sum: row.sum,
                count: i64::from(row.count),
            };
            summary
                .fleet
                .entry(row.metric)
                .or_default()
                .entry(row.bucket)
                .or_default()
                .add(part);
            summary
                .per_host
                .entry((row.host_id, row.metric))
                .or_default()
                .insert(row.bucket, part);
            let rollup = row.rollup().map_err(|e| QueryError::Internal(e.into()))?;
            summary.period.entry(row.metric).or_default().merge(&rollup);
        }
        Ok(summary)
    }

    /// Adds another chunk's summary (chunks hold disjoint hosts).
    fn absorb(&mut self, other: Summary) {
        for (metric, days) in other.fleet {
            let mine = self.fleet.entry(metric).or_default();
            for (day, part) in days {
                mine.entry(day).or_default().add(part);
            }
        }
        self.per_host.extend(other.per_host);
        for (metric, rollup) in other.period {
            self.period.entry(metric).or_default().merge(&rollup);
        }
        self.rows += other.rows;
    }
}

fn daily_series(per_day: &BTreeMap<DateTime<Utc>, SumCount>, first_day: DateTime<Utc>) -> Daily {
    let mut series = Daily {
        days: Vec::new(),
        values: Vec::new(),
    };
    for (day, rollup) in per_day {
        if let Some(avg) = rollup.avg() {
            series.days.push((*day - first_day).num_days() as f64);
            series.values.push(avg);
        }
    }
    series
}

/// What to analyse, validated.
pub struct TrendOptions {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub metrics: Vec<(&'static str, i16)>,
    pub forecast_enabled: bool,
    pub horizon: f64,
    pub method: Method,
    pub threshold: f64,
}

/// The `/trends` answer's `data` for these hosts (also drawn by the capacity page).
/// What a recommendation to add capacity saves.
const SATURATION_SAVINGS: &str = "avoids saturation and the incidents it causes";

pub async fn analyse(
    pool: &sqlx::PgPool,
    hosts: &[HostRef],
    options: &TrendOptions,
) -> Result<TrendReport, QueryError> {
    Ok(analyse_with_lines(pool, hosts, options).await?.0)
}

/// Each metric's straight forecast of the selection (by name) and of each of its hosts (by host
/// id and name; with more than one host): the day of its last point and the line from there —
/// what a what-if scenario is drawn on.
#[derive(Default)]
pub struct ForecastLines {
    pub selection: BTreeMap<&'static str, (DateTime<Utc>, trend::LinearTrend)>,
    pub hosts: BTreeMap<(i32, &'static str), (DateTime<Utc>, trend::LinearTrend)>,
}

/// One host's forecast of one metric, as `analyse` keeps it for its alerts and lines.
#[derive(Clone, Copy)]
struct HostForecast {
    days_to_threshold: Option<f64>,
    /// Day number (since the first day) and value of its last point.
    last_day: f64,
    current: f64,
    line: Option<trend::LinearTrend>,
}

/// `analyse`, with the straight forecast lines its answer's forecasts were drawn from.
pub async fn analyse_with_lines(
    pool: &sqlx::PgPool,
    hosts: &[HostRef],
    options: &TrendOptions,
) -> Result<(TrendReport, ForecastLines), QueryError> {
    let TrendOptions {
        start,
        end,
        ref metrics,
        forecast_enabled,
        horizon,
        method,
        threshold,
    } = *options;
    let host_ids: Vec<i32> = hosts.iter().map(|h| h.id).collect();
    let metric_ids: Vec<i16> = metrics.iter().map(|m| m.1).collect();
    let first_day = start.duration_trunc(Duration::days(1)).unwrap_or(start);
    // Only complete days: today's partial average (a night without its afternoon) would bend
    // the last point and every forecast drawn from it. And none from the day an `end` in the
    // past starts (a monthly report as of 00:00 on the 1st must not read the 1st).
    let before = end
        .min(Utc::now())
        .duration_trunc(Duration::days(1))
        .unwrap_or(end);
    // Hosts are read and summarised in chunks on concurrent tasks: PostgreSQL and the sketch
    // decoding then use both cores (one query over a year of 100 hosts took ~120 ms to fetch and
    // ~60 ms to decode, one after the other).
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in host_ids.chunks(HOSTS_PER_TASK) {
        let (pool, chunk, metric_ids) = (pool.clone(), chunk.to_vec(), metric_ids.clone());
        tasks.spawn(async move {
            let rows =
                rollups::stored_daily(&pool, &chunk, &metric_ids, (first_day, end), before).await?;
            tokio::task::spawn_blocking(move || Summary::of(&rows))
                .await
                .map_err(|e| {
                    QueryError::Internal(anyhow::anyhow!("trend summary task failed: {e}"))
                })?
        });
    }
    let mut summary = Summary::default();
    while let Some(done) = tasks.join_next().await {
        summary.absorb(done.map_err(|e| {
            QueryError::Internal(anyhow::anyhow!("trend summary task failed: {e}"))
        })??);
    }
    let Summary {
        fleet,
        per_host,
        period,
        rows,
    } = summary;
    // Per-host crossings (days to the threshold, last day, last value), computed up front on
    // both cores: 100 hosts × 3 metrics of a year each, with level-shift search, are the bulk
    // of the maths.
    let mut host_forecasts: BTreeMap<(i32, i16), HostForecast> = BTreeMap::new();
    if forecast_enabled && hosts.len() > 1 {
        let keys: Vec<(i32, i16)> = hosts
            .iter()
            .flat_map(|h| metrics.iter().map(move |m| (h.id, m.1)))
            .collect();
        // On the blocking pool, not a Tokio worker: the maths takes tens of milliseconds, split
        // over two threads there.
        let found = tokio::task::spawn_blocking(move || {
            let crossing = |key: &(i32, i16)| {
                let series = daily_series(per_host.get(key)?, first_day);
                let (_, step_free) = series.shifts();
                let f = trend::forecast(
                    &series.days,
                    &series.values,
                    step_free.as_ref(),
                    horizon,
                    method,
                    threshold,
                )?;
                Some((
                    *key,
                    HostForecast {
                        days_to_threshold: f.days_to_threshold,
                        last_day: *series.days.last()?,
                        current: *series.values.last()?,
                        line: f.line,
                    },
                ))
            };
            let (first_half, second_half) = keys.split_at(keys.len().div_ceil(2));
            std::thread::scope(|scope| {
                let other =
                    scope.spawn(|| second_half.iter().filter_map(crossing).collect::<Vec<_>>());
                let mut found: Vec<_> = first_half.iter().filter_map(crossing).collect();
                found.extend(other.join().map_err(|_| {
                    QueryError::Internal(anyhow::anyhow!("a forecast thread panicked"))
                })?);
                Ok::<_, QueryError>(found)
            })
        })
        .await
        .map_err(|e| QueryError::Internal(anyhow::anyhow!("forecast task failed: {e}")))?;
        host_forecasts.extend(found?);
    }

    let mut historical: BTreeMap<DateTime<Utc>, DailyUsage> = BTreeMap::new();
    let (mut growth_rates, mut forecasts) = (BTreeMap::new(), BTreeMap::new());
    let (mut alerts, mut recommendations): (Vec<(f64, CapacityAlert)>, Vec<Recommendation>) =
        (Vec::new(), Vec::new());
    let mut span_days: f64 = 0.0;
    let mut lines = ForecastLines::default();
    for ((host_id, metric), forecast) in &host_forecasts {
        let name = metrics.iter().find(|m| m.1 == *metric).map(|m| m.0);
        if let (Some(name), Some(line)) = (name, forecast.line) {
            let last_day = first_day + Duration::days(forecast.last_day as i64);
            lines.hosts.insert((*host_id, name), (last_day, line));
        }
    }
    for (name, id) in metrics.iter() {
        let Some(days) = fleet.get(id) else { continue };
        for (day, rollup) in days {
            if let Some(avg) = rollup.avg() {
                let usage = historical.entry(*day).or_insert_with(|| DailyUsage {
                    date: *day,
                    ..Default::default()
                });
                let slot = match *name {
                    "cpu" => &mut usage.cpu,
                    "memory" => &mut usage.memory,
                    _ => &mut usage.disk,
                };
                *slot = Some(round(avg, 2));
            }
        }
        let series = daily_series(days, first_day);
        let (Some(first), Some(last)) = (series.days.first(), series.days.last()) else {
            continue;
        };
        span_days = span_days.max(last - first + 1.0);
        let last_day = first_day + Duration::days(*last as i64);
        let current = *series.values.last().unwrap_or(&0.0);
        let (steps, step_free) = series.shifts();
        let growth = trend::growth(&series.days, &series.values, step_free.as_ref());
        if let Some(g) = growth {
            growth_rates.insert(
                (*name).to_owned(),
                GrowthRate {
                    daily: round(g.daily, 3),
                    weekly: round(g.weekly, 3),
                    monthly: round(g.monthly, 3),
                },
            );
        }
        if forecast_enabled {
            if let Some(f) = trend::forecast(
                &series.days,
                &series.values,
                step_free.as_ref(),
                horizon,
                method,
                threshold,
            ) {
                if let Some(line) = f.line {
                    lines.selection.insert(*name, (last_day, line));
                }
                let mut forecast = MetricForecast {
                    predicted_value: f.predicted_value,
                    confidence: f.confidence,
                    capacity_exceed_date: None,
                    method: if f.method == Method::Linear {
                        "linear"
                    } else {
                        "polynomial"
                    }
                    .into(),
                    ..Default::default()
                };
                if !steps.is_empty() {
                    forecast.level_shifts = steps
                        .iter()
                        .map(|s| LevelShift {
                            date: first_day + Duration::days(series.days[s.index] as i64),
                            change: round(s.change, 2),
                        })
                        .collect();
                    // Steps at their past pace: their net rise per day of history joins the growth.
                    let rise: f64 =
                        steps.iter().map(|s| s.change).sum::<f64>() / (last - first + 1.0);
                    let scenario = shifts::StepFreeTrend {
                        slope: growth.map_or(0.0, |g| g.daily) + rise,
                        level_now: f.fitted_now,
                        fitted: Vec::new(),
                    };
                    let recurring_days = scenario.days_to(threshold, trend::CROSSING_SEARCH_DAYS);
                    forecast.if_shifts_recur = Some(ShiftScenario {
                        growth_daily: round(scenario.slope, 3),
                        predicted_value: round(scenario.at(horizon).clamp(0.0, 100.0), 2),
                        capacity_exceed_date: recurring_days.map(|d| date_after(last_day, d)),
                    });
                    // The main forecast is far off but the steps, if they keep coming, are not:
                    // worth planning for, so say so (the main forecast's own case is below).
                    let main_soon = f
                        .days_to_threshold
                        .is_some_and(|d| d <= SCALE_UP_WITHIN_DAYS);
                    if let (false, Some(d)) = (
                        main_soon,
                        recurring_days.filter(|d| *d <= SCALE_UP_WITHIN_DAYS),
                    ) {
                        let total: f64 = steps.iter().map(|s| s.change).sum();
                        recommendations.push(Recommendation { kind: "scale_up".into(), metric: (*name).into(), vm_id: None,
                            description: format!(
                                "{name} stepped up {} time(s) ({total:+.1} pp in all; now {:.1}%): if such steps keep coming at this pace it reaches {threshold}% on {} — plan capacity for the next step or find what causes them",
                                steps.len(), f.fitted_now, date_after(last_day, d).format("%Y-%m-%d")),
                            potential_savings: Some(SATURATION_SAVINGS.into()) });
                    }
                }
                if let Some(d) = f.days_to_threshold {
                    let date = date_after(last_day, d);
                    forecast.capacity_exceed_date = Some(date);
                    if let Some(severity) = capacity_severity(d) {
                        alerts.push((
                            d,
                            CapacityAlert {
                                metric: (*name).into(),
                                vm_id: None,
                                vm_name: None,
                                current_usage: round(current, 2),
                                threshold,
                                predicted_exceed_date: date,
                                severity: severity.into(),
                            },
                        ));
                    }
                    if d <= SCALE_UP_WITHIN_DAYS {
                        // Two weeks of lead time; less than that left means now.
                        let order_by = if d <= 14.0 {
                            "now".to_owned()
                        } else {
                            format!("by {}", date_after(last_day, d - 14.0).format("%Y-%m-%d"))
                        };
                        let monthly = growth.map(|g| g.monthly).unwrap_or(0.0);
                        let mut description = format!(
                            "{name} {} (now {:.1}%, {:+.2} pp per month): add capacity {order_by}",
                            reaching(threshold, d, date),
                            current,
                            monthly
                        );
                        if let Some(recurring) = &forecast.if_shifts_recur {
                            let total: f64 = forecast.level_shifts.iter().map(|s| s.change).sum();
                            description.push_str(&format!(
                                "; the history has {} lasting step(s) ({total:+.1} pp in all): if they recur, {threshold}% is reached {}",
                                forecast.level_shifts.len(),
                                recurring.capacity_exceed_date.map_or_else(|| "not within two years".to_owned(), |d| format!("on {}", d.format("%Y-%m-%d")))
                            ));
                        }
                        recommendations.push(Recommendation {
                            kind: "scale_up".into(),
                            metric: (*name).into(),
                            vm_id: None,
                            description,
                            potential_savings: Some(SATURATION_SAVINGS.into()),
                        });
                    }
                }
                forecasts.insert((*name).to_owned(), forecast);
            }
        }
        // Per-host crossings: a group average can hide one host running out.
        if forecast_enabled && hosts.len() > 1 {
            for HostRef {
                id: host_id,
                vm_id,
                name: vm_name,
            } in hosts
            {
                let Some(&HostForecast {
                    days_to_threshold: Some(d),
                    last_day: last,
                    current: host_current,
                    ..
                }) = host_forecasts.get(&(*host_id, *id))
                else {
                    continue;
                };
                let Some(severity) = capacity_severity(d) else {
                    continue;
                };
                let date = date_after(first_day + Duration::days(last as i64), d);
                alerts.push((
                    d,
                    CapacityAlert {
                        metric: (*name).into(),
                        vm_id: Some(vm_id.clone()),
                        vm_name: Some(vm_name.clone()),
                        current_usage: round(host_current, 2),
                        threshold,
                        predicted_exceed_date: date,
                        severity: severity.into(),
                    },
                ));
                if d <= SCALE_UP_WITHIN_DAYS {
                    recommendations.push(Recommendation { kind: "scale_up".into(), metric: (*name).into(), vm_id: Some(vm_id.clone()),
                        description: format!("{name} of {vm_name} {} (now {host_current:.1}%): add capacity to this host",
                            reaching(threshold, d, date)),
                        potential_savings: Some(SATURATION_SAVINGS.into()) });
                }
            }
        }
        if let Some(whole) = period.get(id) {
            let (p95, avg) = (
                whole.quantile(0.95).unwrap_or(0.0),
                whole.avg().unwrap_or(0.0),
            );
            if p95 < IDLE_P95 && (*name == "cpu" || *name == "memory") {
                // Right-sizing so that p95 would sit at 50 % frees this share of the allocation.
                let freed = ((1.0 - p95 / 50.0) * 100.0).round();
                recommendations.push(Recommendation { kind: "scale_down".into(), metric: (*name).into(), vm_id: None,
                    description: format!("{name} p95 over the period was {p95:.1}% (average {avg:.1}%): the allocation can shrink"),
                    potential_savings: Some(format!("about {freed}% of the allocated {name}")) });
            } else if p95 >= BURSTY_P95 && avg <= BURSTY_AVG {
                recommendations.push(Recommendation { kind: "optimize".into(), metric: (*name).into(), vm_id: None,
                    description: format!("{name} peaks at p95 {p95:.1}% against a {avg:.1}% average: spread batch work or autoscale instead of sizing for peaks"),
                    potential_savings: None });
            }
        }
    }
    alerts.sort_by(|a, b| a.0.total_cmp(&b.0));

    let warning = if rows == 0 {
        Some("no daily history for these hosts in the range: nothing to analyse".to_owned())
    } else if span_days < (MIN_POINTS as f64) {
        Some(format!("only {span_days:.0} days of daily history: at least {MIN_POINTS} are needed for growth rates and forecasts"))
    } else if span_days < ADVISED_DAYS {
        Some(format!(
            "only {span_days:.0} days of daily history ({ADVISED_DAYS:.0} advised): growth rates and forecasts are less certain and confidence is scaled down"
        ))
    } else {
        None
    };
    let report = TrendReport {
        historical: historical.into_values().collect(),
        growth_rates,
        forecast: forecast_enabled.then_some(forecasts),
        capacity_alerts: alerts.into_iter().map(|a| a.1).collect(),
        recommendations,
        warning,
        custom_metrics: Vec::new(),
        custom_metrics_skipped: Vec::new(),
    };
    Ok((report, lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crossing_the_trend_has_made_is_not_dated_as_a_forecast() {
        let day = chrono::TimeZone::with_ymd_and_hms(&Utc, 2027, 1, 3, 0, 0, 0)
            .single()
            .expect("date");
        assert_eq!(
            reaching(80.0, 27.0, day),
            "is forecast to reach 80% on 2027-01-03"
        );
        assert_eq!(reaching(80.0, 0.0, day), "has reached 80% by its trend");
    }
}
