//! `POST /api/v1/history/aggregate`: statistics over hosts and time, merged from rollups.
use super::{
    history::{parse_groups, parse_range, resolve_hosts_or_all, HOURLY_RETENTION_DAYS},
    history_error::{history_success, HistoryError, HistoryJson},
};
use crate::api::history_error::Answer;
use crate::storage::hosts::HostRef;
use crate::{
    auth::{RequireScope, VmRead},
    state::AppState,
    storage::{
        catalog::Group,
        rollups::{self, MetricRollup, Tier},
    },
};
use axum::{extract::State, Json};
use chrono::{DateTime, Datelike, Duration, DurationRound, TimeZone, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AggregateRequest {
    vm_ids: Option<Vec<String>>,
    group_id: Option<String>,
    cluster_id: Option<String>,
    start_time: Option<Value>,
    end_time: Option<Value>,
    metrics: Option<Vec<String>>,
    dimensions: Option<Vec<String>>,
    group_by: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dimension {
    Avg,
    Max,
    Min,
    P95,
    P99,
    Std,
}

impl Dimension {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "avg" => Dimension::Avg,
            "max" => Dimension::Max,
            "min" => Dimension::Min,
            "p95" => Dimension::P95,
            "p99" => Dimension::P99,
            "std" => Dimension::Std,
            _ => return None,
        })
    }
    fn name(self) -> &'static str {
        match self {
            Dimension::Avg => "avg",
            Dimension::Max => "max",
            Dimension::Min => "min",
            Dimension::P95 => "p95",
            Dimension::P99 => "p99",
            Dimension::Std => "std",
        }
    }
    fn of(self, r: &MetricRollup) -> Option<f64> {
        if r.count == 0 {
            return None;
        }
        match self {
            Dimension::Avg => r.avg(),
            Dimension::Max => Some(r.max),
            Dimension::Min => Some(r.min),
            Dimension::P95 => r.quantile(0.95),
            Dimension::P99 => r.quantile(0.99),
            Dimension::Std => r.std(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    Hour,
    Day,
    Week,
    Month,
}

impl GroupBy {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "hour" => GroupBy::Hour,
            "day" => GroupBy::Day,
            "week" => GroupBy::Week,
            "month" => GroupBy::Month,
            _ => return None,
        })
    }

    /// The start of the period holding `t`: UTC hours and days, ISO weeks (Monday), calendar months.
    pub fn period_of(self, t: DateTime<Utc>) -> DateTime<Utc> {
        let day = t.duration_trunc(Duration::days(1)).unwrap_or(t);
        match self {
            GroupBy::Hour => t.duration_trunc(Duration::hours(1)).unwrap_or(t),
            GroupBy::Day => day,
            GroupBy::Week => day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
            GroupBy::Month => Utc
                .with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0)
                .single()
                .unwrap_or(day),
        }
    }
}

const PERCENT_METRIC: [(Group, i16); 3] = [(Group::Cpu, 1), (Group::Memory, 5), (Group::Disk, 8)];
const IN_BPS: i16 = 13;
const OUT_BPS: i16 = 14;

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn stats(rollup: Option<&MetricRollup>, dimensions: &[Dimension]) -> Option<Value> {
    let rollup = rollup.filter(|r| r.count > 0)?;
    let mut object = Map::new();
    for d in dimensions {
        if let Some(v) = d.of(rollup) {
            object.insert(d.name().into(), json!(round2(v)));
        }
    }
    Some(Value::Object(object))
}

/// Per-metric rollups of one slice (overall, a period or a host) plus its network byte total.
#[derive(Default)]
struct Slice {
    metrics: BTreeMap<i16, MetricRollup>,
    in_bytes: f64,
    out_bytes: f64,
}

impl Slice {
    fn add(&mut self, metric: i16, rollup: &MetricRollup, bucket_seconds: f64) {
        if let Some(avg) = rollup.avg() {
            match metric {
                IN_BPS => self.in_bytes += avg * bucket_seconds,
                OUT_BPS => self.out_bytes += avg * bucket_seconds,
                _ => {}
            }
        }
        self.metrics.entry(metric).or_default().merge(rollup);
    }

    fn render(
        &self,
        groups: &[Group],
        dimensions: &[Dimension],
        full_network: bool,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        for (group, metric) in PERCENT_METRIC {
            if groups.contains(&group) {
                if let Some(value) = stats(self.metrics.get(&metric), dimensions) {
                    out.insert(group.name().into(), value);
                }
            }
        }
        if groups.contains(&Group::Network) {
            let (input, output) = (self.metrics.get(&IN_BPS), self.metrics.get(&OUT_BPS));
            let mut network = Map::new();
            if let Some(v) = input.and_then(MetricRollup::avg) {
                network.insert("avgInBps".into(), json!(round2(v)));
            }
            if let Some(v) = output.and_then(MetricRollup::avg) {
                network.insert("avgOutBps".into(), json!(round2(v)));
            }
            if full_network {
                if let Some(r) = input.filter(|r| r.count > 0) {
                    network.insert("maxInBps".into(), json!(round2(r.max)));
                }
                if let Some(r) = output.filter(|r| r.count > 0) {
                    network.insert("maxOutBps".into(), json!(round2(r.max)));
                }
                network.insert("totalInBytes".into(), json!(self.in_bytes.round() as i64));
                network.insert("totalOutBytes".into(), json!(self.out_bytes.round() as i64));
            }
            if !network.is_empty() {
                out.insert("network".into(), Value::Object(network));
            }
        }
        out
    }
}

/// `POST /aggregate`
pub async fn aggregate(
    _: RequireScope<VmRead, HistoryError>,
    State(state): State<AppState>,
    HistoryJson(request): HistoryJson<AggregateRequest>,
) -> Result<Json<Answer<Value>>, HistoryError> {
    let now = Utc::now();
    let (start, end) = parse_range(request.start_time.as_ref(), request.end_time.as_ref(), now)?;
    let groups = parse_groups(request.metrics.as_deref())?;
    let dimensions: Vec<Dimension> = match request.dimensions.as_deref() {
        None | Some([]) => vec![Dimension::Avg, Dimension::Max, Dimension::Min],
        Some(names) => names
            .iter()
            .map(|n| {
                Dimension::parse(n).ok_or_else(|| {
                    HistoryError::BadRequest(format!(
                        "unknown dimension `{n}`; use avg, max, min, p95, p99 or std"
                    ))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let group_by = request
        .group_by
        .as_deref()
        .map(|g| {
            GroupBy::parse(g).ok_or_else(|| {
                HistoryError::BadRequest(format!(
                    "unknown groupBy `{g}`; use hour, day, week or month"
                ))
            })
        })
        .transpose()?;
    let hourly_window = start >= now - Duration::days(HOURLY_RETENTION_DAYS);
    if group_by == Some(GroupBy::Hour) && !hourly_window {
        return Err(HistoryError::InvalidTime(format!(
            "groupBy hour needs hourly data, kept {HOURLY_RETENTION_DAYS} days"
        )));
    }
    // Hourly rollups where they exist (finer edges), daily ones beyond.
    let tier = if hourly_window {
        Tier::Hourly
    } else {
        Tier::Daily
    };
    let width = if tier == Tier::Hourly {
        Duration::hours(1)
    } else {
        Duration::days(1)
    };
    let hosts = resolve_hosts_or_all(
        &state,
        request.vm_ids.as_deref(),
        request.group_id.as_deref(),
        request.cluster_id.as_deref(),
    )
    .await?;
    let mut metric_ids: Vec<i16> = PERCENT_METRIC
        .iter()
        .filter(|(g, _)| groups.contains(g))
        .map(|(_, id)| *id)
        .collect();
    if groups.contains(&Group::Network) {
        metric_ids.extend([IN_BPS, OUT_BPS]);
    }
    let first_bucket = start.duration_trunc(width).unwrap_or(start);
    let host_ids: Vec<i32> = hosts.iter().map(|h| h.id).collect();
    let rows = rollups::read(&state.pool, tier, &host_ids, &metric_ids, first_bucket, end).await?;

    let seconds = width.num_seconds() as f64;
    let mut overall = Slice::default();
    let mut periods: BTreeMap<DateTime<Utc>, Slice> = BTreeMap::new();
    let mut per_host: BTreeMap<i32, Slice> = BTreeMap::new();
    for row in &rows {
        overall.add(row.metric, &row.rollup, seconds);
        if let Some(g) = group_by {
            periods.entry(g.period_of(row.bucket)).or_default().add(
                row.metric,
                &row.rollup,
                seconds,
            );
        }
        per_host
            .entry(row.host_id)
            .or_default()
            .add(row.metric, &row.rollup, seconds);
    }

    let mut data = Map::new();
    data.insert(
        "overall".into(),
        Value::Object(overall.render(&groups, &dimensions, true)),
    );
    if group_by.is_some() {
        let time_groups: Vec<Value> = periods
            .iter()
            .map(|(time, slice)| {
                let mut object = slice.render(&groups, &dimensions, false);
                object.insert("time".into(), json!(time));
                Value::Object(object)
            })
            .collect();
        data.insert("timeGroups".into(), json!(time_groups));
    }
    let vm_groups: Vec<Value> = hosts
        .iter()
        .filter_map(|HostRef { id, vm_id, name }| {
            let slice = per_host.get(id)?;
            let mut object = Map::new();
            object.insert("vmId".into(), json!(vm_id));
            object.insert("vmName".into(), json!(name));
            object.extend(slice.render(&groups, &dimensions, false));
            Some(Value::Object(object))
        })
        .collect();
    data.insert("vmGroups".into(), json!(vm_groups));
    Ok(history_success(Value::Object(data)))
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
    fn periods_start_at_utc_hours_days_iso_weeks_and_months() {
        let t = at("2026-02-05T13:45:00Z"); // a Thursday
        assert_eq!(GroupBy::Hour.period_of(t), at("2026-02-05T13:00:00Z"));
        assert_eq!(GroupBy::Day.period_of(t), at("2026-02-05T00:00:00Z"));
        assert_eq!(GroupBy::Week.period_of(t), at("2026-02-02T00:00:00Z"));
        assert_eq!(GroupBy::Month.period_of(t), at("2026-02-01T00:00:00Z"));
        assert_eq!(
            GroupBy::Week.period_of(at("2026-02-02T00:00:00Z")),
            at("2026-02-02T00:00:00Z"),
            "a Monday starts its own week"
        );
    }

    #[test]
    fn network_totals_are_rate_times_time() {
        let mut slice = Slice::default();
        slice.add(IN_BPS, &MetricRollup::from_values(&[100.0, 300.0]), 3600.0);
        slice.add(IN_BPS, &MetricRollup::from_values(&[50.0]), 3600.0);
        let out = slice.render(&[Group::Network], &[Dimension::Avg], true);
        assert_eq!(
            out["network"]["totalInBytes"],
            json!(200 * 3600 + 50 * 3600)
        );
        assert_eq!(out["network"]["maxInBps"], json!(300.0));
        assert_eq!(out["network"]["avgInBps"], json!(150.0));
    }
}
