//! `/api/v1/history`: queries over raw samples and rollups, choosing the cheapest exact tier.
use super::history_error::{history_success, HistoryError, HistoryJson};
use crate::api::history_error::Answer;
use crate::storage::hosts::HostRef;
use crate::{
    auth::{RequireScope, VmRead},
    history::{self, Aggregation, Func, Query},
    state::AppState,
    storage::catalog::Group,
};
use app::models::Pagination;
use axum::{extract::State, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use history::{HOURLY_RETENTION_DAYS, MAX_PAGE_SIZE, MAX_RANGE_DAYS, RAW_RETENTION_DAYS};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HistoryQueryRequest {
    vm_ids: Option<Vec<String>>,
    group_id: Option<String>,
    start_time: Option<Value>,
    end_time: Option<Value>,
    metrics: Option<Vec<String>>,
    aggregation: Option<String>,
    aggregation_func: Option<String>,
    page: Option<i64>,
    page_size: Option<i64>,
}

/// Parses an RFC 3339 instant (a date alone means its UTC midnight).
pub fn parse_instant(value: Option<&Value>, field: &str) -> Result<DateTime<Utc>, HistoryError> {
    let text = value.and_then(Value::as_str).ok_or_else(|| {
        HistoryError::InvalidTime(format!(
            "`{field}` is required as an RFC 3339 date-time string"
        ))
    })?;
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Ok(instant.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .ok_or_else(|| {
            HistoryError::InvalidTime(format!("`{field}` is not an RFC 3339 date-time: `{text}`"))
        })
}

/// `capacityThreshold` of `/trends` and `/what-if`: a percentage in (0, 100], 80 when absent.
pub fn parse_threshold(threshold: Option<f64>) -> Result<f64, HistoryError> {
    let threshold = threshold.unwrap_or(80.0);
    if threshold.is_finite() && threshold > 0.0 && threshold <= 100.0 {
        Ok(threshold)
    } else {
        Err(HistoryError::BadRequest(
            "`capacityThreshold` must be a percentage in (0, 100]".into(),
        ))
    }
}

/// A forecast's horizon in days (1 to 730; `default` when absent), named `field` in the error.
pub fn parse_horizon(horizon: Option<f64>, default: f64, field: &str) -> Result<f64, HistoryError> {
    let horizon = horizon.unwrap_or(default);
    if horizon.is_finite() && (1.0..=730.0).contains(&horizon) {
        Ok(horizon)
    } else {
        Err(HistoryError::BadRequest(format!(
            "`{field}` must be 1 to 730 days"
        )))
    }
}

/// The `customMetrics` extension of `/anomalies` and `/trends`: at most
/// `detect::MAX_CUSTOM_METRICS` names of 1 to 128 bytes (absent: none).
pub fn parse_custom_metric_names(names: Option<Vec<String>>) -> Result<Vec<String>, HistoryError> {
    let names = names.unwrap_or_default();
    if names.len() > crate::detect::MAX_CUSTOM_METRICS {
        return Err(HistoryError::BadRequest(format!(
            "`customMetrics` takes at most {} names",
            crate::detect::MAX_CUSTOM_METRICS
        )));
    }
    if let Some(name) = names.iter().find(|n| n.trim().is_empty() || n.len() > 128) {
        return Err(HistoryError::BadRequest(format!(
            "`customMetrics` names are 1 to 128 bytes, as stored; got `{name}`"
        )));
    }
    Ok(names)
}

/// `startTime` and `endTime` of a request body, parsed and checked with `history::check_range`.
pub fn parse_range(
    start_time: Option<&Value>,
    end_time: Option<&Value>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), HistoryError> {
    let start = parse_instant(start_time, "startTime")?;
    let end = parse_instant(end_time, "endTime")?;
    history::check_range(start, end, now)?;
    Ok((start, end))
}

/// The hosts a request names: `vmIds` xor `groupId` (and, where allowed, `clusterId`). Unknown ids → 404.
pub async fn resolve_hosts(
    state: &AppState,
    vm_ids: Option<&[String]>,
    group_id: Option<&str>,
    cluster_id: Option<&str>,
) -> Result<Vec<HostRef>, HistoryError> {
    Ok(history::resolve_hosts(&state.pool, vm_ids, group_id, cluster_id).await?)
}

/// Like `resolve_hosts`, but naming none of `vmIds`, `groupId` and `clusterId` means every host.
pub async fn resolve_hosts_or_all(
    state: &AppState,
    vm_ids: Option<&[String]>,
    group_id: Option<&str>,
    cluster_id: Option<&str>,
) -> Result<Vec<HostRef>, HistoryError> {
    Ok(history::resolve_hosts_or_all(&state.pool, vm_ids, group_id, cluster_id).await?)
}

pub fn parse_groups(metrics: Option<&[String]>) -> Result<Vec<Group>, HistoryError> {
    let Some(names) = metrics.filter(|m| !m.is_empty()) else {
        return Ok(Group::ALL.to_vec());
    };
    let mut groups = Vec::new();
    for name in names {
        let group = Group::parse(name).ok_or_else(|| {
            HistoryError::BadRequest(format!(
                "unknown metric `{name}`; use cpu, memory, disk or network"
            ))
        })?;
        if !groups.contains(&group) {
            groups.push(group);
        }
    }
    Ok(groups)
}

/// `POST /query`
pub async fn query(
    _: RequireScope<VmRead, HistoryError>,
    State(state): State<AppState>,
    HistoryJson(request): HistoryJson<HistoryQueryRequest>,
) -> Result<Json<Answer<QueryAnswer>>, HistoryError> {
    let now = Utc::now();
    let (start, end) = parse_range(request.start_time.as_ref(), request.end_time.as_ref(), now)?;
    let aggregation_text = request.aggregation.as_deref().unwrap_or("1h");
    let aggregation = Aggregation::parse(aggregation_text).ok_or_else(|| {
        HistoryError::BadRequest(format!(
            "unknown aggregation `{aggregation_text}`; use raw, 1m, 5m, 15m, 1h or 1d"
        ))
    })?;
    let func_text = request.aggregation_func.as_deref().unwrap_or("avg");
    let func = Func::parse(func_text).ok_or_else(|| {
        HistoryError::BadRequest(format!(
            "unknown aggregationFunc `{func_text}`; use avg, max, min, p95 or p99"
        ))
    })?;
    let groups = parse_groups(request.metrics.as_deref())?;
    let page = request.page.unwrap_or(1);
    let page_size = request.page_size.unwrap_or(100);
    if page < 1 {
        return Err(HistoryError::BadRequest("`page` starts at 1".into()));
    }
    if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
        return Err(HistoryError::BadRequest(format!(
            "`pageSize` must be 1 to {MAX_PAGE_SIZE}"
        )));
    }
    history::check_tier(aggregation, start, end, now)?;
    let hosts = resolve_hosts(
        &state,
        request.vm_ids.as_deref(),
        request.group_id.as_deref(),
        None,
    )
    .await?;
    let q = Query {
        hosts,
        groups,
        start,
        end,
        aggregation,
        func,
        page,
        page_size,
    };

    let (points, total) = history::points(&state.pool, &q).await?;
    Ok(history_success(QueryAnswer {
        data: points,
        meta: QueryMeta {
            start_time: start,
            end_time: end,
            aggregation: aggregation.name(),
            aggregation_func: func,
            total_points: total,
            vm_count: q.hosts.len(),
        },
        pagination: Pagination::new(page, page_size, total),
    }))
}

/// The `data` of `POST /query` (the history seed's shape).
#[derive(Serialize)]
pub struct QueryAnswer {
    data: Vec<history::Point>,
    meta: QueryMeta,
    pagination: Pagination,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QueryMeta {
    start_time: DateTime<Utc>,
    end_time: DateTime<Utc>,
    aggregation: &'static str,
    aggregation_func: Func,
    total_points: i64,
    vm_count: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("valid")
            .with_timezone(&Utc)
    }

    #[test]
    fn instants_parse_as_rfc3339_or_dates_and_fail_as_400_time() {
        assert_eq!(
            parse_instant(Some(&json!("2026-02-01T08:00:00+08:00")), "startTime").ok(),
            Some(at("2026-02-01T00:00:00Z"))
        );
        assert_eq!(
            parse_instant(Some(&json!("2026-02-01")), "startTime").ok(),
            Some(at("2026-02-01T00:00:00Z"))
        );
        for bad in [json!("yesterday"), json!(12345), json!(null)] {
            assert!(
                matches!(
                    parse_instant(Some(&bad), "startTime"),
                    Err(HistoryError::InvalidTime(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_instant(None, "endTime"),
            Err(HistoryError::InvalidTime(_))
        ));
    }

    #[test]
    fn metric_groups_default_to_all_and_reject_unknown_names() {
        assert_eq!(parse_groups(None).expect("default").len(), 4);
        assert_eq!(
            parse_groups(Some(&["cpu".into(), "cpu".into(), "disk".into()])).expect("valid"),
            vec![Group::Cpu, Group::Disk]
        );
        assert!(matches!(
            parse_groups(Some(&["gpu".into()])),
            Err(HistoryError::BadRequest(_))
        ));
        assert!(
            matches!(
                parse_groups(Some(&["system".into()])),
                Err(HistoryError::BadRequest(_))
            ),
            "not a seed group"
        );
    }
}
