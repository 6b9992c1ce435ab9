//! `/api/v1/performance`: current stats, system description and recent history of a host.
use crate::error::Success;
use crate::{
    auth::{RequireScope, VmRead},
    error::{success, ApiError, ApiQuery},
    state::AppState,
    storage::{hosts, samples},
};
use app::catalog::{self, SampleMetric};
use app::models::{HistoryData, HistoryPoint, MetricValue, Stats, SystemInfo};
use axum::{extract::State, Json};
use serde::Deserialize;
use sqlx::Row;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
pub struct HostQuery {
    host: Option<String>,
}

/// The host a request names (`?host=`), defaulting to the local one: `(host_id, is_local)`.
pub(crate) async fn resolve_host(
    state: &AppState,
    host: Option<&str>,
) -> Result<(i32, bool), ApiError> {
    match host.map(str::trim).filter(|h| !h.is_empty()) {
        None => Ok((state.local.host_id, true)),
        Some(vm_id) if vm_id == &*state.local.vm_id => Ok((state.local.host_id, true)),
        Some(vm_id) => match hosts::find(&state.pool, vm_id).await? {
            Some(row) => Ok((row.id, false)),
            None => Err(ApiError::HostNotFound(format!("no host with id `{vm_id}`"))),
        },
    }
}

/// `GET /stats`: the newest sample of a host.
pub async fn stats(
    _: RequireScope<VmRead>,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<HostQuery>,
) -> Result<Json<Success<Stats>>, ApiError> {
    let (host_id, local) = resolve_host(&state, query.host.as_deref()).await?;
    if local {
        if let Some(stats) = state.local.latest() {
            return Ok(success(stats));
        }
    }
    match samples::latest(&state.pool, host_id).await? {
        Some(row) => Ok(success(row.to_stats())),
        None => Err(ApiError::SystemInfoUnavailable(
            "no sample of this host has been taken yet; retry in a few seconds".into(),
        )),
    }
}

/// `GET /system`: hardware and OS description of the local host.
pub async fn system(
    _: RequireScope<VmRead>,
    State(state): State<AppState>,
) -> Result<Json<Success<SystemInfo>>, ApiError> {
    let info = state.local.system_info().await.map_err(|e| {
        ApiError::SystemInfoUnavailable(format!("cannot read system information: {e:#}"))
    })?;
    Ok(success(info))
}

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    host: Option<String>,
    minutes: Option<i64>,
    interval: Option<i64>,
    metrics: Option<String>,
}

/// The seed's default set when `metrics` is not given.
const DEFAULT_METRICS: &[&str] = &[
    "cpu_percent",
    "memory_percent",
    "disk_usage_percent",
    "network_bytes_sent",
    "network_bytes_recv",
];

/// Summary statistics over the raw samples of the range: `(metric, prefix)` gives
/// avg_/max_/min_<prefix> of the metric when it is asked for.
const SUMMARIES: &[(&str, &str)] = &[
    ("cpu_percent", "cpu"),
    ("memory_percent", "memory"),
    ("disk_usage_percent", "disk"),
];

const MAX_MINUTES: i64 = 7 * 24 * 60;
const MAX_POINTS: i64 = 10_000;

fn selected_metrics(list: Option<&str>) -> Result<Vec<&'static SampleMetric>, ApiError> {
    let names: Vec<&str> = match list.map(str::trim).filter(|l| !l.is_empty()) {
        None => DEFAULT_METRICS.to_vec(),
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect(),
    };
    let mut selected: Vec<&'static SampleMetric> = Vec::new();
    for name in names {
        let metric = catalog::sample_metric(name).ok_or_else(|| {
            let known: Vec<&str> = catalog::SAMPLE_METRICS.iter().map(|m| m.name).collect();
            ApiError::Validation(format!(
                "unknown metric `{name}`; known metrics: {}",
                known.join(", ")
            ))
        })?;
        if !selected.iter().any(|m| m.name == metric.name) {
            selected.push(metric);
        }
    }
    Ok(selected)
}

/// `GET /history`: bucketed points over the last `minutes` plus avg/max/min of the raw samples.
pub async fn history(
    _: RequireScope<VmRead>,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<Success<HistoryData>>, ApiError> {
    let minutes = query.minutes.unwrap_or(60);
    if !(1..=MAX_MINUTES).contains(&minutes) {
        return Err(ApiError::Validation(format!(
            "minutes must be between 1 and {MAX_MINUTES} (7 days), got {minutes}"
        )));
    }
    let interval = query.interval.unwrap_or(60);
    if !(1..=86_400).contains(&interval) {
        return Err(ApiError::Validation(format!(
            "interval must be between 1 and 86400 seconds, got {interval}"
        )));
    }
    if minutes * 60 / interval > MAX_POINTS {
        return Err(ApiError::Validation(format!(
            "{minutes} minutes at {interval} s would be more than {MAX_POINTS} points; use a larger interval"
        )));
    }
    let metrics = selected_metrics(query.metrics.as_deref())?;
    let (host_id, _) = resolve_host(&state, query.host.as_deref()).await?;
    let since = chrono::Utc::now() - chrono::Duration::minutes(minutes);

    // Only expressions from the fixed catalogue above are interpolated; values are bound.
    let columns: Vec<String> = metrics
        .iter()
        .map(|m| format!("{}::float8", m.bucket_sql()))
        .collect();
    let sql = format!(
        "SELECT date_bin(make_interval(secs => $3), ts, timestamptz 'epoch') AS bucket, {}
         FROM samples WHERE host_id = $1 AND ts >= $2 GROUP BY 1 ORDER BY 1",
        columns.join(", ")
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(host_id)
        .bind(since)
        .bind(interval as f64)
        .fetch_all(&state.pool)
        .await?;
    let mut points = Vec::with_capacity(rows.len());
    for row in rows {
        let mut values = BTreeMap::new();
        for (i, metric) in metrics.iter().enumerate() {
            if let Some(value) = row
                .try_get::<Option<f64>, _>(i + 1)
                .map_err(|e| ApiError::Internal(e.into()))?
            {
                values.insert(metric.name.to_string(), MetricValue(round2(value)));
            }
        }
        points.push(HistoryPoint {
            timestamp: row
                .try_get("bucket")
                .map_err(|e| ApiError::Internal(e.into()))?,
            values,
        });
    }

    let wanted: Vec<(&str, &SampleMetric)> = SUMMARIES
        .iter()
        .filter_map(|(name, prefix)| {
            let metric = metrics.iter().find(|m| m.name == *name)?;
            Some((*prefix, *metric))
        })
        .collect();
    let mut summary = BTreeMap::new();
    if !wanted.is_empty() {
        let parts: Vec<String> = wanted
            .iter()
            .map(|(_, metric)| {
                let value = metric.sql;
                format!("avg({value})::float8, max({value})::float8, min({value})::float8")
            })
            .collect();
        let sql = format!(
            "SELECT {} FROM samples WHERE host_id = $1 AND ts >= $2",
            parts.join(", ")
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(host_id)
            .bind(since)
            .fetch_one(&state.pool)
            .await?;
        for (i, (prefix, _)) in wanted.iter().enumerate() {
            for (j, stat) in ["avg", "max", "min"].iter().enumerate() {
                if let Some(value) = row
                    .try_get::<Option<f64>, _>(i * 3 + j)
                    .map_err(|e| ApiError::Internal(e.into()))?
                {
                    summary.insert(format!("{stat}_{prefix}"), round2(value));
                }
            }
        }
    }
    Ok(success(HistoryData {
        metrics: points,
        summary,
    }))
}

/// Two decimals, as in the seed; float4 storage has no more real precision than that for percentages.
fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_metrics_are_the_seeds_five() {
        let names: Vec<_> = selected_metrics(None)
            .expect("valid")
            .iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, DEFAULT_METRICS);
    }

    #[test]
    fn metric_lists_are_trimmed_deduplicated_and_checked() {
        let names: Vec<_> = selected_metrics(Some(" cpu_percent, load1,cpu_percent "))
            .expect("valid")
            .iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, ["cpu_percent", "load1"]);
        let error =
            selected_metrics(Some("cpu_percent,bogus")).expect_err("unknown metric refused");
        assert!(error.to_string().contains("bogus"));
    }

    #[test]
    fn rounding_keeps_two_decimals() {
        assert_eq!(round2(45.2349), 45.23);
        assert_eq!(round2(2.5551), 2.56);
    }
}
