//! The fleet overview: every host with its power state, newest usage, a CPU sparkline of the
//! last hours, its active alerts and open anomalies, and the newest values of the custom metrics
//! it sends — what the fleet page lists.
use crate::storage::hosts::POWERED_OFF_AFTER_SECS;
use app::models::{AppMetricValue, FleetHost};
use chrono::{DateTime, Duration, DurationRound, Utc};
use sqlx::PgPool;
use std::collections::HashMap;

/// The sparkline covers this many hours in 5-minute means.
pub const SPARK_HOURS: i64 = 3;
const SPARK_STEP_SECS: i64 = 300;
/// Anomalies count as open while active and at most this old.
const OPEN_ANOMALY_DAYS: i64 = 7;
/// A custom metric is shown with its newest value when that is at most this old (agents and
/// scripts push every minute or so).
const APP_METRIC_MINUTES: i64 = 15;

type HostRow = (
    i32,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<DateTime<Utc>>,
    bool,
    Option<f64>,
    Option<f64>,
    Option<f64>,
);

pub async fn overview(pool: &PgPool, now: DateTime<Utc>) -> Result<Vec<FleetHost>, sqlx::Error> {
    let rows: Vec<HostRow> = sqlx::query_as(
        "SELECT h.id, h.vm_id, h.name, h.group_id, h.cluster_id, h.last_seen,
                coalesce(h.last_seen >= $1 - make_interval(secs => $2), false),
                l.cpu_percent::float8, l.mem_percent::float8, l.disk_percent::float8
         FROM hosts h
         LEFT JOIN LATERAL (SELECT cpu_percent, mem_percent, disk_percent FROM samples
                            WHERE host_id = h.id AND ts >= $1 - interval '7 days' ORDER BY ts DESC LIMIT 1) l ON true
         ORDER BY h.vm_id",
    )
    .bind(now)
    .bind(POWERED_OFF_AFTER_SECS as f64)
    .fetch_all(pool)
    .await?;
    let since = (now - Duration::hours(SPARK_HOURS))
        .duration_trunc(Duration::seconds(SPARK_STEP_SECS))
        .unwrap_or(now);
    let slots = (SPARK_HOURS * 3600 / SPARK_STEP_SECS + 1) as usize;
    let spark_rows: Vec<(i32, i64, Option<f64>)> = sqlx::query_as(
        "SELECT host_id, extract(epoch FROM date_bin('5 minutes', ts, timestamptz 'epoch'))::int8, avg(cpu_percent)::float8
         FROM samples WHERE ts >= $1 AND ts <= $2 AND cpu_percent IS NOT NULL GROUP BY 1, 2",
    )
    .bind(since)
    .bind(now)
    .fetch_all(pool)
    .await?;
    let mut sparks: HashMap<i32, Vec<Option<f64>>> = HashMap::new();
    for (host, at, cpu) in spark_rows {
        let slot =
            usize::try_from((at - since.timestamp()) / SPARK_STEP_SECS).unwrap_or(usize::MAX);
        if let Some(value) = sparks
            .entry(host)
            .or_insert_with(|| vec![None; slots])
            .get_mut(slot)
        {
            *value = cpu;
        }
    }
    // Newest first, so the first seen per host is its newest event.
    let events: Vec<(Option<i32>, String, DateTime<Utc>, bool)> = sqlx::query_as(
        "SELECT host_id, 'alert_' || id, triggered_at, true FROM alerts WHERE status = 'active'
         UNION ALL
         SELECT host_id, 'anomaly_' || id, started_at, false FROM anomalies WHERE status = 'active' AND started_at >= $1
         ORDER BY 3 DESC",
    )
    .bind(now - Duration::days(OPEN_ANOMALY_DAYS))
    .fetch_all(pool)
    .await?;
    /// Per host: active alerts, open anomalies, and the newest of them (id, instant).
    type Counts = (i64, i64, Option<(String, DateTime<Utc>)>);
    let mut counts: HashMap<i32, Counts> = HashMap::new();
    for (host, id, at, alert) in events {
        let Some(host) = host else { continue };
        let entry = counts.entry(host).or_default();
        if alert {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
        entry.2.get_or_insert((id, at));
    }
    let mut app_metrics: HashMap<i32, Vec<AppMetricValue>> = HashMap::new();
    for (host, name, value, unit) in crate::storage::custom_metrics::newest_per_host(
        pool,
        now - Duration::minutes(APP_METRIC_MINUTES),
    )
    .await?
    {
        app_metrics
            .entry(host)
            .or_default()
            .push(AppMetricValue { name, value, unit });
    }
    Ok(rows
        .into_iter()
        .map(
            |(id, vm_id, name, group_id, cluster_id, last_seen, on, cpu, memory, disk)| {
                let (active_alerts, open_anomalies, newest_event) =
                    counts.remove(&id).unwrap_or_default();
                FleetHost {
                    vm_id,
                    name,
                    group_id,
                    cluster_id,
                    power_state: if on { "poweredOn" } else { "poweredOff" }.into(),
                    last_seen,
                    cpu,
                    memory,
                    disk,
                    spark: sparks.remove(&id).unwrap_or_default(),
                    active_alerts,
                    open_anomalies,
                    newest_event,
                    app_metrics: app_metrics.remove(&id).unwrap_or_default(),
                }
            },
        )
        .collect())
}
