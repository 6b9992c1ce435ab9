//! The fleet page's reads: every host with its newest usage, five-minute CPU means of the last
//! hours, and the active alerts and open anomalies per host.
use super::hosts::POWERED_OFF_AFTER_SECS;
use chrono::{DateTime, Duration, Utc};
use sqlx::{FromRow, PgPool};

/// A host with its power state and its newest sample's usage (of the last 7 days).
#[derive(Clone, Debug, FromRow)]
pub struct FleetRow {
    pub id: i32,
    pub vm_id: String,
    pub name: String,
    pub group_id: Option<String>,
    pub cluster_id: Option<String>,
    pub last_seen: Option<DateTime<Utc>>,
    pub powered_on: bool,
    pub cpu: Option<f64>,
    pub memory: Option<f64>,
    pub disk: Option<f64>,
}

/// Every host, by `vm_id`.
pub async fn hosts(pool: &PgPool, now: DateTime<Utc>) -> Result<Vec<FleetRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT h.id, h.vm_id, h.name, h.group_id, h.cluster_id, h.last_seen,
                coalesce(h.last_seen >= $1 - make_interval(secs => $2), false) AS powered_on,
                l.cpu_percent::float8 AS cpu, l.mem_percent::float8 AS memory,
                l.disk_percent::float8 AS disk
         FROM hosts h
         LEFT JOIN LATERAL (SELECT cpu_percent, mem_percent, disk_percent FROM samples
                            WHERE host_id = h.id AND ts >= $1 - interval '7 days' ORDER BY ts DESC LIMIT 1) l ON true
         ORDER BY h.vm_id",
    )
    .bind(now)
    .bind(POWERED_OFF_AFTER_SECS as f64)
    .fetch_all(pool)
    .await
}

/// Per host, the mean CPU percent of each five-minute bucket in `[since, until]` that has one:
/// (host id, bucket start in Unix seconds, mean).
pub async fn cpu_by_five_minutes(
    pool: &PgPool,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<(i32, i64, Option<f64>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT host_id, extract(epoch FROM date_bin('5 minutes', ts, timestamptz 'epoch'))::int8, avg(cpu_percent)::float8
         FROM samples WHERE ts >= $1 AND ts <= $2 AND cpu_percent IS NOT NULL GROUP BY 1, 2",
    )
    .bind(since)
    .bind(until)
    .fetch_all(pool)
    .await
}

/// An active alert or an open anomaly of a host.
#[derive(Clone, Debug, FromRow)]
pub struct OpenEvent {
    pub host_id: Option<i32>,
    /// `alert_…` or `anomaly_…`.
    pub id: String,
    pub at: DateTime<Utc>,
    pub alert: bool,
}

/// Active alerts, and active anomalies started at most `anomaly_days` before `now`; newest first.
pub async fn open_events(
    pool: &PgPool,
    now: DateTime<Utc>,
    anomaly_days: i64,
) -> Result<Vec<OpenEvent>, sqlx::Error> {
    sqlx::query_as(
        "SELECT host_id, 'alert_' || id AS id, triggered_at AS at, true AS alert FROM alerts WHERE status = 'active'
         UNION ALL
         SELECT host_id, 'anomaly_' || id, started_at, false FROM anomalies WHERE status = 'active' AND started_at >= $1
         ORDER BY 3 DESC",
    )
    .bind(now - Duration::days(anomaly_days))
    .fetch_all(pool)
    .await
}
