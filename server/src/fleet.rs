//! The fleet overview: every host with its power state, newest usage, a CPU sparkline of the
//! last hours, its active alerts and open anomalies, and the newest values of the custom metrics
//! it sends — what the fleet page lists.
use crate::storage;
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

/// Every host as the fleet page lists it, as of `now`.
pub async fn overview(pool: &PgPool, now: DateTime<Utc>) -> Result<Vec<FleetHost>, sqlx::Error> {
    let rows = storage::fleet::hosts(pool, now).await?;
    let since = (now - Duration::hours(SPARK_HOURS))
        .duration_trunc(Duration::seconds(SPARK_STEP_SECS))
        .unwrap_or(now);
    let slots = (SPARK_HOURS * 3600 / SPARK_STEP_SECS + 1) as usize;
    let mut sparks: HashMap<i32, Vec<Option<f64>>> = HashMap::new();
    for (host, at, cpu) in storage::fleet::cpu_by_five_minutes(pool, since, now).await? {
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
    /// Per host: active alerts, open anomalies, and the newest of them (id, instant).
    type Counts = (i64, i64, Option<(String, DateTime<Utc>)>);
    let mut counts: HashMap<i32, Counts> = HashMap::new();
    // Newest first, so the first seen per host is its newest event.
    for event in storage::fleet::open_events(pool, now, OPEN_ANOMALY_DAYS).await? {
        let Some(host) = event.host_id else { continue };
        let entry = counts.entry(host).or_default();
        if event.alert {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
        entry.2.get_or_insert((event.id, event.at));
    }
    let mut app_metrics: HashMap<i32, Vec<AppMetricValue>> = HashMap::new();
    for (host, name, value, unit) in
        storage::custom_metrics::newest_per_host(pool, now - Duration::minutes(APP_METRIC_MINUTES))
            .await?
    {
        app_metrics
            .entry(host)
            .or_default()
            .push(AppMetricValue { name, value, unit });
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let (active_alerts, open_anomalies, newest_event) =
                counts.remove(&row.id).unwrap_or_default();
            FleetHost {
                power_state: if row.powered_on {
                    "poweredOn"
                } else {
                    "poweredOff"
                }
                .into(),
                spark: sparks.remove(&row.id).unwrap_or_default(),
                app_metrics: app_metrics.remove(&row.id).unwrap_or_default(),
                vm_id: row.vm_id,
                name: row.name,
                group_id: row.group_id,
                cluster_id: row.cluster_id,
                last_seen: row.last_seen,
                cpu: row.cpu,
                memory: row.memory,
                disk: row.disk,
                active_alerts,
                open_anomalies,
                newest_event,
            }
        })
        .collect())
}
