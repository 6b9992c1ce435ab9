//! `GET /api/v1/performance/summary`: current/average/max/min and direction per resource over a
//! period, network throughput and totals, and alert counts.
use super::performance::resolve_host;
use crate::{
    alerts::store as alert_store,
    analysis::trend::direction,
    auth::{RequireScope, VmRead},
    error::{success, ApiError, ApiQuery},
    state::AppState,
};
use axum::{extract::State, Json};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Buckets the period is cut into for the direction test.
const TREND_BUCKETS: i64 = 60;
/// A resource is increasing/decreasing only if its fitted change over the period is at least this
/// many percentage points (see `analysis::trend::direction`).
const MIN_TREND_CHANGE_PP: f64 = 2.0;
const RESOURCES: [(&str, &str); 3] = [
    ("cpu", "cpu_percent"),
    ("memory", "mem_percent"),
    ("disk", "disk_percent"),
];

#[derive(sqlx::FromRow)]
struct Aggregates {
    count: i64,
    cpu_avg: Option<f64>,
    cpu_max: Option<f64>,
    cpu_min: Option<f64>,
    mem_avg: Option<f64>,
    mem_max: Option<f64>,
    mem_min: Option<f64>,
    disk_avg: Option<f64>,
    disk_max: Option<f64>,
    disk_min: Option<f64>,
    out_bps: Option<f64>,
    in_bps: Option<f64>,
}

/// The newest value of CPU, memory, disk, upload and download (each may be absent).
type Newest = (
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
);
/// A trend bucket: its index and the CPU, memory and disk averages.
type Bucket = (i64, Option<f64>, Option<f64>, Option<f64>);

#[derive(Debug, Deserialize)]
pub struct SummaryQuery {
    period: Option<String>,
    metrics: Option<String>,
    host: Option<String>,
}

fn round2(value: Option<f64>) -> Value {
    value.map_or(Value::Null, |v| json!((v * 100.0).round() / 100.0))
}

pub async fn summary(
    _: RequireScope<VmRead>,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<SummaryQuery>,
) -> Result<Json<Value>, ApiError> {
    let period_text = query.period.as_deref().unwrap_or("1h");
    let period = crate::report::period_of(period_text).ok_or_else(|| {
        ApiError::Validation(format!(
            "`period` must be 1h, 6h, 24h or 7d, got `{period_text}`"
        ))
    })?;
    let wanted: Vec<String> = match query
        .metrics
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        None => ["cpu", "memory", "disk", "network"]
            .map(String::from)
            .to_vec(),
        Some(list) => list
            .split(',')
            .map(|m| m.trim().to_owned())
            .filter(|m| !m.is_empty())
            .collect(),
    };
    if let Some(unknown) = wanted
        .iter()
        .find(|m| !["cpu", "memory", "disk", "network"].contains(&m.as_str()))
    {
        return Err(ApiError::Validation(format!(
            "unknown metric `{unknown}`; choose from cpu, memory, disk, network"
        )));
    }
    let (host_id, _) = resolve_host(&state, query.host.as_deref()).await?;
    let end = Utc::now();
    let start = end - period;
    let bucket_secs = (period.num_seconds() / TREND_BUCKETS).max(1);

    let aggregates: Aggregates = sqlx::query_as(
        "SELECT count(*) AS count, avg(cpu_percent)::float8 AS cpu_avg, max(cpu_percent)::float8 AS cpu_max, min(cpu_percent)::float8 AS cpu_min,
                avg(mem_percent)::float8 AS mem_avg, max(mem_percent)::float8 AS mem_max, min(mem_percent)::float8 AS mem_min,
                avg(disk_percent)::float8 AS disk_avg, max(disk_percent)::float8 AS disk_max, min(disk_percent)::float8 AS disk_min,
                avg(net_out_bps)::float8 AS out_bps, avg(net_in_bps)::float8 AS in_bps
         FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3",
    )
    .bind(host_id)
    .bind(start)
    .bind(end)
    .fetch_one(&state.pool)
    .await?;
    // The newest value of each column (a partial sample may carry only some of them).
    let current: Newest = sqlx::query_as(
        "SELECT (SELECT cpu_percent::float8 FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3 AND cpu_percent IS NOT NULL ORDER BY ts DESC LIMIT 1),
                (SELECT mem_percent::float8 FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3 AND mem_percent IS NOT NULL ORDER BY ts DESC LIMIT 1),
                (SELECT disk_percent::float8 FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3 AND disk_percent IS NOT NULL ORDER BY ts DESC LIMIT 1),
                (SELECT net_out_bps::float8 FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3 AND net_out_bps IS NOT NULL ORDER BY ts DESC LIMIT 1),
                (SELECT net_in_bps::float8 FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3 AND net_in_bps IS NOT NULL ORDER BY ts DESC LIMIT 1)",
    )
    .bind(host_id)
    .bind(start)
    .bind(end)
    .fetch_one(&state.pool)
    .await?;
    let buckets: Vec<Bucket> = sqlx::query_as(
        "SELECT floor(extract(epoch FROM ts - $2) / $4)::int8 AS b, avg(cpu_percent)::float8, avg(mem_percent)::float8, avg(disk_percent)::float8
         FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3 GROUP BY b ORDER BY b",
    )
    .bind(host_id)
    .bind(start)
    .bind(end)
    .bind(bucket_secs as f64)
    .fetch_all(&state.pool)
    .await?;
    // Bytes moved in the period: the sum of positive counter steps (a reboot resets the counters).
    let (sent, received): (Option<f64>, Option<f64>) = sqlx::query_as(
        "SELECT sum(greatest(sent, 0))::float8, sum(greatest(recv, 0))::float8 FROM (
             SELECT net_bytes_sent - lag(net_bytes_sent) OVER w AS sent, net_bytes_recv - lag(net_bytes_recv) OVER w AS recv
             FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3 WINDOW w AS (ORDER BY ts)) steps",
    )
    .bind(host_id)
    .bind(start)
    .bind(end)
    .fetch_one(&state.pool)
    .await?;
    let alert_counts = alert_store::counts_since(&state.pool, Some(host_id), start).await?;
    let level_count = |level: &str| {
        alert_counts
            .iter()
            .filter(|(l, _)| l == level)
            .map(|c| c.1)
            .sum::<i64>()
    };

    let mut data = Map::new();
    data.insert("period".into(), json!(period_text));
    let a = &aggregates;
    let stats = [
        (a.cpu_avg, a.cpu_max, a.cpu_min),
        (a.mem_avg, a.mem_max, a.mem_min),
        (a.disk_avg, a.disk_max, a.disk_min),
    ];
    for (index, (name, _)) in RESOURCES.iter().enumerate() {
        if !wanted.iter().any(|w| w == name) {
            continue;
        }
        let mut means = vec![None; TREND_BUCKETS as usize + 1];
        for bucket in &buckets {
            let value = [bucket.1, bucket.2, bucket.3][index];
            if let Some(slot) = usize::try_from(bucket.0)
                .ok()
                .and_then(|b| means.get_mut(b))
            {
                *slot = value;
            }
        }
        let (average, maximum, minimum) = stats[index];
        let now_value = [current.0, current.1, current.2][index];
        data.insert(
            (*name).into(),
            json!({
                "current": round2(now_value), "average": round2(average), "maximum": round2(maximum), "minimum": round2(minimum),
                "trend": direction(&means, MIN_TREND_CHANGE_PP).as_str(),
            }),
        );
    }
    if wanted.iter().any(|w| w == "network") {
        data.insert(
            "network".into(),
            json!({
                "throughput_upload": aggregates.out_bps.map_or(0, |v| v.round() as i64),
                "throughput_download": aggregates.in_bps.map_or(0, |v| v.round() as i64),
                "current_upload": current.3.map_or(0, |v| v.round() as i64),
                "current_download": current.4.map_or(0, |v| v.round() as i64),
                "total_upload": sent.map_or(0, |v| v.round() as i64),
                "total_download": received.map_or(0, |v| v.round() as i64),
            }),
        );
    }
    data.insert(
        "alerts".into(),
        json!({
            "total": alert_counts.iter().map(|c| c.1).sum::<i64>(),
            "critical": level_count("critical"), "warning": level_count("warning"), "info": level_count("info"),
        }),
    );
    data.insert("samples".into(), json!(aggregates.count));
    data.insert("start".into(), json!(start));
    data.insert("end".into(), json!(end));
    Ok(success(Value::Object(data)))
}
