//! The history read path: one engine for every reader of stored history — the REST history API,
//! the exports, the pages and the chart series — returning typed points, never JSON to be parsed
//! back. It chooses the tier (raw samples, minute buckets computed from them, hourly or daily
//! rollups) and enforces each tier's window.
pub mod custom;
pub mod series;

use crate::storage::hosts::HostRef;
use crate::storage::{
    catalog::{self, Group, Metric},
    rollups::{MetricRollup, Tier},
};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::{PgPool, Row};
use std::collections::BTreeMap;

/// Why a history read was refused or failed; each API maps it onto its own envelope.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// A range or instant that cannot be answered (the seed's `400-TIME`).
    #[error("{0}")]
    InvalidTime(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// More records than a caller allows (the seed's `400-LIMIT`).
    #[error("{0}")]
    LimitExceeded(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl From<crate::storage::rollups::ReadError> for QueryError {
    fn from(error: crate::storage::rollups::ReadError) -> Self {
        match error {
            crate::storage::rollups::ReadError::Database(error) => QueryError::Database(error),
            corrupt => QueryError::Internal(corrupt.into()),
        }
    }
}

/// One point of a history query: a host at an instant (raw) or over a bucket starting then.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub timestamp: DateTime<Utc>,
    pub vm_id: String,
    /// Every metric asked for, `None` where the bucket has no value.
    pub values: Vec<(&'static Metric, Option<f64>)>,
    /// Bytes received and sent: the interface counters on raw points, the bytes moved in the
    /// bucket (average rate × its length) on aggregated ones.
    pub network_bytes: Option<(f64, f64)>,
}

impl Point {
    /// A value by its column name (`cpu.usagePercent`, …, `network.inBytes`, `network.outBytes`)
    /// as the API gives it: two decimals, byte totals whole.
    pub fn value(&self, column: &str) -> Option<f64> {
        match column {
            "network.inBytes" => self.network_bytes.map(|b| b.0.round()),
            "network.outBytes" => self.network_bytes.map(|b| b.1.round()),
            _ => {
                let (group, field) = column.split_once('.')?;
                self.values
                    .iter()
                    .find(|(m, _)| m.group.name() == group && m.field == field)
                    .and_then(|(_, v)| *v)
                    .map(|v| (v * 100.0).round() / 100.0)
            }
        }
    }
}

/// The seed's point shape: `{timestamp, vmId, cpu:{…}, …}` with the groups asked for, values to
/// two decimals, byte totals as whole numbers.
impl Serialize for Point {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut object = serde_json::Map::new();
        object.insert("timestamp".into(), serde_json::json!(self.timestamp));
        object.insert("vmId".into(), serde_json::json!(self.vm_id));
        for (metric, value) in &self.values {
            let Some(value) = value else { continue };
            let group = object
                .entry(metric.group.name())
                .or_insert_with(|| serde_json::json!({}));
            group[metric.field] = serde_json::json!((value * 100.0).round() / 100.0);
        }
        if let Some((in_bytes, out_bytes)) = self.network_bytes {
            if let Some(network) = object.get_mut("network") {
                network["inBytes"] = serde_json::json!(in_bytes.round() as i64);
                network["outBytes"] = serde_json::json!(out_bytes.round() as i64);
            }
        }
        object.serialize(serializer)
    }
}

/// How long each tier keeps data (spec §5).
pub const RAW_RETENTION_DAYS: i64 = 7;
pub const HOURLY_RETENTION_DAYS: i64 = 30;
pub const MAX_RANGE_DAYS: i64 = 731; // two years, leap day included
pub const MAX_PAGE_SIZE: i64 = 1000;
const MAX_VMS: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregation {
    Raw,
    Minutes(i64),
    Hour,
    Day,
}

impl Aggregation {
    pub fn name(self) -> &'static str {
        match self {
            Aggregation::Raw => "raw",
            Aggregation::Minutes(1) => "1m",
            Aggregation::Minutes(5) => "5m",
            Aggregation::Minutes(_) => "15m",
            Aggregation::Hour => "1h",
            Aggregation::Day => "1d",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "raw" => Aggregation::Raw,
            "1m" => Aggregation::Minutes(1),
            "5m" => Aggregation::Minutes(5),
            "15m" => Aggregation::Minutes(15),
            "1h" => Aggregation::Hour,
            "1d" => Aggregation::Day,
            _ => return None,
        })
    }
    pub fn width(self) -> Option<Duration> {
        match self {
            Aggregation::Raw => None,
            Aggregation::Minutes(m) => Some(Duration::minutes(m)),
            Aggregation::Hour => Some(Duration::hours(1)),
            Aggregation::Day => Some(Duration::days(1)),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Func {
    Avg,
    Max,
    Min,
    P95,
    P99,
}

impl Func {
    pub fn name(self) -> &'static str {
        match self {
            Func::Avg => "avg",
            Func::Max => "max",
            Func::Min => "min",
            Func::P95 => "p95",
            Func::P99 => "p99",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "avg" => Func::Avg,
            "max" => Func::Max,
            "min" => Func::Min,
            "p95" => Func::P95,
            "p99" => Func::P99,
            _ => return None,
        })
    }
    fn sql(self, expr: &str) -> String {
        match self {
            Func::Avg => format!("avg({expr})::float8"),
            Func::Max => format!("max({expr})::float8"),
            Func::Min => format!("min({expr})::float8"),
            Func::P95 => format!("percentile_cont(0.95) WITHIN GROUP (ORDER BY {expr})::float8"),
            Func::P99 => format!("percentile_cont(0.99) WITHIN GROUP (ORDER BY {expr})::float8"),
        }
    }
    fn of(self, rollup: &MetricRollup) -> Option<f64> {
        match self {
            Func::Avg => rollup.avg(),
            Func::Max => (rollup.count > 0).then_some(rollup.max),
            Func::Min => (rollup.count > 0).then_some(rollup.min),
            Func::P95 => rollup.quantile(0.95),
            Func::P99 => rollup.quantile(0.99),
        }
    }
}

/// Checks a time range against the two-year limit and the tier that must hold it.
pub fn check_range(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), QueryError> {
    if end <= start {
        return Err(QueryError::InvalidTime(
            "`endTime` must be after `startTime`".into(),
        ));
    }
    if end - start > Duration::days(MAX_RANGE_DAYS) {
        return Err(QueryError::InvalidTime(
            "the range may span at most 2 years".into(),
        ));
    }
    if start < now - Duration::days(MAX_RANGE_DAYS) {
        return Err(QueryError::InvalidTime(
            "history is kept for 2 years; `startTime` is older".into(),
        ));
    }
    Ok(())
}

/// Validates the aggregation against the range: raw and minute buckets come from raw samples
/// (7 days), hourly buckets from hourly rollups (30 days), daily ones from daily rollups (2 years).
pub fn check_tier(
    aggregation: Aggregation,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), QueryError> {
    match aggregation {
        Aggregation::Raw | Aggregation::Minutes(_) => {
            if end - start > Duration::days(RAW_RETENTION_DAYS) {
                return Err(QueryError::InvalidTime(format!(
                    "raw and minute resolutions cover at most {RAW_RETENTION_DAYS} days; use 1h or 1d"
                )));
            }
            if start < now - Duration::days(RAW_RETENTION_DAYS) {
                return Err(QueryError::InvalidTime(format!(
                    "raw samples are kept {RAW_RETENTION_DAYS} days; use 1h (30 days) or 1d (2 years) for older data"
                )));
            }
        }
        Aggregation::Hour if start < now - Duration::days(HOURLY_RETENTION_DAYS) => {
            return Err(QueryError::InvalidTime(format!(
                "hourly data is kept {HOURLY_RETENTION_DAYS} days; use 1d for older data"
            )));
        }
        _ => {}
    }
    Ok(())
}

/// The hosts a request names: `vmIds` xor `groupId` (and, where allowed, `clusterId`). Unknown ids → 404.
pub async fn resolve_hosts(
    pool: &PgPool,
    vm_ids: Option<&[String]>,
    group_id: Option<&str>,
    cluster_id: Option<&str>,
) -> Result<Vec<HostRef>, QueryError> {
    let named = [vm_ids.is_some(), group_id.is_some(), cluster_id.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if named > 1 {
        return Err(QueryError::BadRequest(
            "give only one of `vmIds`, `groupId` and `clusterId`".into(),
        ));
    }
    if let Some(ids) = vm_ids {
        if ids.is_empty() || ids.len() > MAX_VMS {
            return Err(QueryError::BadRequest(format!(
                "`vmIds` must list 1 to {MAX_VMS} ids"
            )));
        }
        let rows: Vec<HostRef> = sqlx::query_as(
            "SELECT id, vm_id, name FROM hosts WHERE vm_id = ANY($1) ORDER BY vm_id",
        )
        .bind(ids)
        .fetch_all(pool)
        .await?;
        let missing: Vec<&str> = ids
            .iter()
            .filter(|id| !rows.iter().any(|r| &r.vm_id == *id))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(QueryError::NotFound(format!(
                "unknown vmIds: {}",
                missing.join(", ")
            )));
        }
        return Ok(rows);
    }
    let (column, value) = match (group_id, cluster_id) {
        (Some(g), _) => ("group_id", g),
        (_, Some(c)) => ("cluster_id", c),
        _ => return Err(QueryError::BadRequest("give `vmIds` or `groupId`".into())),
    };
    let sql = format!("SELECT id, vm_id, name FROM hosts WHERE {column} = $1 ORDER BY vm_id");
    let rows: Vec<HostRef> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(value)
        .fetch_all(pool)
        .await?;
    if rows.is_empty() {
        return Err(QueryError::NotFound(format!(
            "no hosts with {} `{value}`",
            if column == "group_id" {
                "groupId"
            } else {
                "clusterId"
            }
        )));
    }
    Ok(rows)
}

/// Like `resolve_hosts`, but naming none of `vmIds`, `groupId` and `clusterId` means every host.
pub async fn resolve_hosts_or_all(
    pool: &PgPool,
    vm_ids: Option<&[String]>,
    group_id: Option<&str>,
    cluster_id: Option<&str>,
) -> Result<Vec<HostRef>, QueryError> {
    if vm_ids.is_none() && group_id.is_none() && cluster_id.is_none() {
        return Ok(crate::storage::hosts::all(pool).await?);
    }
    resolve_hosts(pool, vm_ids, group_id, cluster_id).await
}

/// A history query over resolved hosts; pages are `page_size` points.
pub struct Query {
    pub hosts: Vec<HostRef>,
    pub groups: Vec<Group>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub aggregation: Aggregation,
    pub func: Func,
    pub page: i64,
    pub page_size: i64,
}

pub fn selected_metrics(groups: &[Group]) -> Vec<&'static Metric> {
    catalog::METRICS
        .iter()
        .filter(|m| groups.contains(&m.group))
        .collect()
}

/// One page of points of a query, and how many points the whole query has.
pub async fn points(pool: &PgPool, q: &Query) -> Result<(Vec<Point>, i64), QueryError> {
    match q.aggregation {
        Aggregation::Raw => raw_points(pool, q).await,
        Aggregation::Minutes(_) => bucketed_raw_points(pool, q).await,
        Aggregation::Hour => rollup_points(pool, q, Tier::Hourly).await,
        Aggregation::Day => rollup_points(pool, q, Tier::Daily).await,
    }
}

pub fn host_ids(q: &Query) -> Vec<i32> {
    q.hosts.iter().map(|h| h.id).collect()
}

fn vm_id_of(q: &Query, host_id: i32) -> &str {
    q.hosts
        .iter()
        .find(|h| h.id == host_id)
        .map(|h| h.vm_id.as_str())
        .unwrap_or_default()
}

/// The statement giving every point of a raw or minute-bucket query in order, and the factor its
/// two byte columns are multiplied by (1 for counters, the bucket's seconds for rates). `$1` host
/// ids, `$2`/`$3` the range, `$4` the bucket width (bucketed only). `None` for rollup tiers.
pub fn sample_statement(q: &Query) -> Option<(String, f64)> {
    let metrics = selected_metrics(&q.groups);
    match q.aggregation {
        Aggregation::Raw => {
            let columns: Vec<String> = metrics
                .iter()
                .map(|m| format!("({})::float8", m.raw_sql))
                .collect();
            let sql = format!(
                "SELECT host_id, ts, net_bytes_recv::float8, net_bytes_sent::float8, {} FROM samples
                 WHERE host_id = ANY($1) AND ts >= $2 AND ts <= $3
                 ORDER BY array_position($1, host_id), ts",
                columns.join(", ")
            );
            Some((sql, 1.0))
        }
        Aggregation::Minutes(_) => {
            let width = q.aggregation.width().unwrap_or(Duration::minutes(1));
            let columns: Vec<String> = metrics.iter().map(|m| q.func.sql(m.raw_sql)).collect();
            let sql = format!(
                "SELECT host_id, date_bin($4, ts, timestamptz 'epoch') AS bucket, avg(net_in_bps)::float8, avg(net_out_bps)::float8, {}
                 FROM samples WHERE host_id = ANY($1) AND ts >= $2 AND ts <= $3
                 GROUP BY 1, 2 ORDER BY array_position($1, host_id), bucket",
                columns.join(", ")
            );
            // Bytes moved in a bucket: the average rate times the bucket's length.
            Some((sql, width.num_seconds() as f64))
        }
        Aggregation::Hour | Aggregation::Day => None,
    }
}

async fn raw_points(pool: &PgPool, q: &Query) -> Result<(Vec<Point>, i64), QueryError> {
    let metrics = selected_metrics(&q.groups);
    let Some((sql, scale)) = sample_statement(q) else {
        return Ok((Vec::new(), 0));
    };
    let ids = host_ids(q);
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("{sql} LIMIT $4 OFFSET $5")))
        .bind(&ids)
        .bind(q.start)
        .bind(q.end)
        .bind(q.page_size)
        .bind((q.page - 1) * q.page_size)
        .fetch_all(pool)
        .await?;
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM samples WHERE host_id = ANY($1) AND ts >= $2 AND ts <= $3",
    )
    .bind(&ids)
    .bind(q.start)
    .bind(q.end)
    .fetch_one(pool)
    .await?;
    let points = rows
        .iter()
        .map(|row| sample_point(row, &metrics, q, scale))
        .collect::<Result<_, _>>()?;
    Ok((points, total))
}

/// A point from a row of `sample_statement`: `host_id, time, inbound, outbound, <one column per metric>`.
pub fn sample_point(
    row: &sqlx::postgres::PgRow,
    metrics: &[&'static Metric],
    q: &Query,
    byte_scale: f64,
) -> Result<Point, QueryError> {
    let host: i32 = row.try_get(0)?;
    let time: DateTime<Utc> = row.try_get(1)?;
    let inbound = row.try_get::<Option<f64>, _>(2)?.unwrap_or(0.0);
    let outbound = row.try_get::<Option<f64>, _>(3)?.unwrap_or(0.0);
    let mut values = Vec::with_capacity(metrics.len());
    for (i, metric) in metrics.iter().enumerate() {
        values.push((*metric, row.try_get::<Option<f64>, _>(i + 4)?));
    }
    Ok(Point {
        timestamp: time,
        vm_id: vm_id_of(q, host).to_owned(),
        values,
        network_bytes: Some((inbound * byte_scale, outbound * byte_scale)),
    })
}

async fn bucketed_raw_points(pool: &PgPool, q: &Query) -> Result<(Vec<Point>, i64), QueryError> {
    let metrics = selected_metrics(&q.groups);
    let Some((sql, scale)) = sample_statement(q) else {
        return Ok((Vec::new(), 0));
    };
    let width = q.aggregation.width().unwrap_or(Duration::minutes(1));
    let ids = host_ids(q);
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("{sql} LIMIT $5 OFFSET $6")))
        .bind(&ids)
        .bind(q.start)
        .bind(q.end)
        .bind(width)
        .bind(q.page_size)
        .bind((q.page - 1) * q.page_size)
        .fetch_all(pool)
        .await?;
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT DISTINCT host_id, date_bin($4, ts, timestamptz 'epoch') FROM samples
         WHERE host_id = ANY($1) AND ts >= $2 AND ts <= $3) AS buckets",
    )
    .bind(&ids)
    .bind(q.start)
    .bind(q.end)
    .bind(width)
    .fetch_one(pool)
    .await?;
    let points = rows
        .iter()
        .map(|row| sample_point(row, &metrics, q, scale))
        .collect::<Result<_, _>>()?;
    Ok((points, total))
}

async fn rollup_points(
    pool: &PgPool,
    q: &Query,
    tier: Tier,
) -> Result<(Vec<Point>, i64), QueryError> {
    let metrics = selected_metrics(&q.groups);
    let metric_ids: Vec<i16> = metrics.iter().map(|m| m.id).collect();
    let width = q.aggregation.width().unwrap_or(Duration::hours(1));
    let ids = host_ids(q);
    // A bucket is included when it overlaps the range; buckets are aligned to UTC hours or days.
    let first_bucket = chrono::DurationRound::duration_trunc(q.start, width).unwrap_or(q.start);
    // The buckets of a host: the stored ones (every rolled-up bucket has the CPU metric, id 1,
    // read by an index-only range scan) and the queued ones not stored yet (the hour filling
    // now). Counting them per host tells which hosts and which of their buckets the page
    // covers; only those rows are then read.
    let buckets_sql = format!(
        "SELECT host_id, bucket FROM {table} WHERE host_id = ANY($1) AND metric = {cpu} AND bucket >= $2 AND bucket <= $3
         UNION {stale}",
        table = tier.table(),
        cpu = crate::storage::catalog::CPU_PERCENT,
        stale = crate::storage::rollups::stale_buckets_sql(tier),
    );
    let count_sql = format!("SELECT host_id, count(*) FROM ({buckets_sql}) b GROUP BY host_id");
    let counts: std::collections::HashMap<i32, i64> =
        sqlx::query_as(sqlx::AssertSqlSafe(count_sql))
            .bind(&ids)
            .bind(first_bucket)
            .bind(q.end)
            .fetch_all(pool)
            .await?
            .into_iter()
            .collect();
    let total: i64 = counts.values().sum();
    let mut skip = (q.page - 1) * q.page_size;
    let mut wanted = q.page_size;
    let mut rows: Vec<crate::storage::rollups::RollupRow> = Vec::new();
    for &host in &ids {
        let available = counts.get(&host).copied().unwrap_or(0);
        if skip >= available {
            skip -= available;
            continue;
        }
        let take = wanted.min(available - skip);
        let slice_sql = format!("SELECT min(bucket), max(bucket) FROM (SELECT bucket FROM ({buckets_sql}) b ORDER BY bucket OFFSET $4 LIMIT $5) s");
        let (from, to): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) =
            sqlx::query_as(sqlx::AssertSqlSafe(slice_sql))
                .bind(vec![host])
                .bind(first_bucket)
                .bind(q.end)
                .bind(skip)
                .bind(take)
                .fetch_one(pool)
                .await?;
        if let (Some(from), Some(to)) = (from, to) {
            rows.extend(
                crate::storage::rollups::read(pool, tier, &[host], &metric_ids, from, to).await?,
            );
        }
        skip = 0;
        wanted -= take;
        if wanted == 0 {
            break;
        }
    }

    let seconds = width.num_seconds() as f64;
    type BucketKey = (i32, DateTime<Utc>);
    let mut grouped: Vec<(BucketKey, BTreeMap<i16, MetricRollup>)> = Vec::new();
    for row in rows {
        match grouped.last_mut() {
            Some((key, map)) if *key == (row.host_id, row.bucket) => {
                map.insert(row.metric, row.rollup);
            }
            _ => grouped.push((
                (row.host_id, row.bucket),
                BTreeMap::from([(row.metric, row.rollup)]),
            )),
        }
    }
    let points = grouped
        .into_iter()
        .map(|((host, bucket), map)| {
            let values: Vec<(&'static Metric, Option<f64>)> = metrics
                .iter()
                .map(|m| (*m, map.get(&m.id).and_then(|r| q.func.of(r))))
                .collect();
            let rate = |id: i16| map.get(&id).and_then(MetricRollup::avg).unwrap_or(0.0) * seconds;
            Point {
                timestamp: bucket,
                vm_id: vm_id_of(q, host).to_owned(),
                values,
                network_bytes: Some((rate(catalog::NET_IN_BPS), rate(catalog::NET_OUT_BPS))),
            }
        })
        .collect();
    Ok((points, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("valid")
            .with_timezone(&Utc)
    }

    #[test]
    fn ranges_must_be_ordered_and_at_most_two_years() {
        let now = at("2026-11-22T00:00:00Z");
        assert!(check_range(at("2026-11-01T00:00:00Z"), at("2026-11-02T00:00:00Z"), now).is_ok());
        assert!(matches!(
            check_range(at("2026-11-02T00:00:00Z"), at("2026-11-01T00:00:00Z"), now),
            Err(QueryError::InvalidTime(_))
        ));
        assert!(matches!(
            check_range(at("2024-01-01T00:00:00Z"), at("2026-11-01T00:00:00Z"), now),
            Err(QueryError::InvalidTime(_))
        ));
    }

    #[test]
    fn each_resolution_is_limited_to_its_tier() {
        let now = at("2026-11-22T00:00:00Z");
        let week_ago = at("2026-11-15T12:00:00Z");
        assert!(check_tier(Aggregation::Raw, week_ago, now, now).is_ok());
        assert!(
            check_tier(Aggregation::Raw, at("2026-11-10T00:00:00Z"), now, now).is_err(),
            "more than 7 days of raw"
        );
        assert!(
            check_tier(
                Aggregation::Minutes(5),
                at("2026-11-01T00:00:00Z"),
                at("2026-11-02T00:00:00Z"),
                now
            )
            .is_err(),
            "older than raw retention"
        );
        assert!(check_tier(Aggregation::Hour, at("2026-11-01T00:00:00Z"), now, now).is_ok());
        assert!(check_tier(Aggregation::Hour, at("2026-09-01T00:00:00Z"), now, now).is_err());
        assert!(check_tier(Aggregation::Day, at("2025-01-01T00:00:00Z"), now, now).is_ok());
    }

    #[test]
    fn points_hold_only_the_asked_groups_with_two_decimals_and_are_read_by_column() {
        let cpu = catalog::by_id(catalog::CPU_PERCENT).expect("cpu");
        let p = Point {
            timestamp: at("2026-02-01T00:00:00Z"),
            vm_id: "vm_001".into(),
            values: vec![(cpu, Some(35.234))],
            network_bytes: None,
        };
        assert_eq!(
            serde_json::to_value(&p).ok(),
            Some(
                serde_json::json!({"timestamp": "2026-02-01T00:00:00Z", "vmId": "vm_001", "cpu": {"usagePercent": 35.23}})
            )
        );
        assert_eq!(p.value("cpu.usagePercent"), Some(35.23));
        assert_eq!(p.value("memory.usagePercent"), None);
    }
}
