//! `/api/v1/performance/metrics`: custom metric points pushed by clients, one or many at a time,
//! and reading a metric back. Points also feed the alert engine.
use crate::error::Success;
use crate::{
    alerts::rules,
    auth::{AlertsWrite, MetricsWrite, Principal, RequireScope, VmRead},
    capacity::app_metrics::{self, CapacityError},
    error::{success, ApiError, ApiJson, ApiQuery},
    history,
    state::AppState,
    storage::{
        custom_metrics::{self, NewPoint},
        hosts,
    },
};
use app::models::{
    CustomMetricBatch, CustomMetricCapacity, CustomMetricCreated, CustomMetricReadout,
    CustomMetricRejection,
};
use axum::{
    extract::{Path, State},
    Json,
};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashMap;

pub const MAX_BATCH: usize = 1000;
pub const MAX_TAGS: usize = 20;
const MAX_FUTURE_SECS: i64 = 300;
/// Backfill reaches as far back as the rollups keep (a point older than the raw window is rolled
/// up; its raw copy goes at the next retention pass).
const MAX_AGE_DAYS: i64 = custom_metrics::DAILY_DAYS;
const MAX_READ_MINUTES: i64 = 2 * 365 * 24 * 60;
const MAX_RAW_POINTS: i64 = 10_000;
const ITEM_FIELDS: [&str; 7] = [
    "name",
    "value",
    "unit",
    "category",
    "tags",
    "host",
    "timestamp",
];

fn short_text(item: &Map<String, Value>, field: &str, max: usize) -> Result<String, String> {
    match item.get(field) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(s.trim().to_owned()),
        Some(Value::String(_)) => Err(format!("`{field}` is too long (at most {max} characters)")),
        Some(other) => Err(format!("`{field}` must be a string, got {other}")),
    }
}

fn valid_tag_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'))
}

/// Checks one item; `Ok` holds the point (host still as a `vmId`).
fn parse_item(item: &Value, now: DateTime<Utc>) -> Result<(NewPoint, Option<String>), String> {
    let Value::Object(item) = item else {
        return Err("each metric must be a JSON object".into());
    };
    if let Some(unknown) = item.keys().find(|k| !ITEM_FIELDS.contains(&k.as_str())) {
        return Err(crate::error::unknown_field_message(unknown, &ITEM_FIELDS));
    }
    let name = match item.get("name") {
        None | Some(Value::Null) => return Err("`name` is missing".into()),
        Some(Value::String(name)) => name.trim().to_owned(),
        Some(other) => return Err(format!("`name` must be a string, got {other}")),
    };
    if name.len() > 128 {
        return Err("`name` is too long (at most 128 characters)".into());
    }
    if !rules::valid_metric_name(&name) {
        return Err(format!("`name` `{name}` is not a metric name (letters, digits, _ . : -, starting with a letter or _)"));
    }
    if app::catalog::sample_metric(&name).is_some() {
        return Err(format!(
            "`name` `{name}` is a built-in sample metric; choose another name"
        ));
    }
    let value = match item.get("value") {
        None | Some(Value::Null) => return Err("`value` is missing".into()),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|v| v.is_finite())
            .ok_or("`value` must be a finite number")?,
        // "NaN", "Infinity" and numbers in strings are refused rather than guessed at.
        Some(other) => return Err(format!("`value` must be a finite number, got {other}")),
    };
    let unit = short_text(item, "unit", 32)?;
    let category = short_text(item, "category", 64)?;
    let tags = match item.get("tags") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(tags)) => {
            if tags.len() > MAX_TAGS {
                return Err(format!(
                    "too many tags: {} (at most {MAX_TAGS})",
                    tags.len()
                ));
            }
            for (key, value) in tags {
                if !valid_tag_key(key) {
                    return Err(format!(
                        "bad tag key `{key}` (1–64 of letters, digits, _ . - /)"
                    ));
                }
                match value {
                    Value::String(v) if v.chars().count() <= 256 => {}
                    Value::String(_) => {
                        return Err(format!("tag `{key}` is too long (at most 256 characters)"))
                    }
                    other => {
                        return Err(format!(
                            "bad tags: the value of `{key}` must be a string, got {other}"
                        ))
                    }
                }
            }
            tags.clone()
        }
        Some(other) => {
            return Err(format!(
                "bad tags: `tags` must be an object of strings, got {other}"
            ))
        }
    };
    let ts = match item.get("timestamp") {
        None | Some(Value::Null) => now,
        Some(Value::String(text)) => DateTime::parse_from_rfc3339(text)
            .map_err(|e| format!("`timestamp` `{text}` is not an RFC 3339 time: {e}"))?
            .with_timezone(&Utc),
        Some(other) => {
            return Err(format!(
                "`timestamp` must be an RFC 3339 string, got {other}"
            ))
        }
    };
    if ts > now + Duration::seconds(MAX_FUTURE_SECS) {
        return Err(format!(
            "`timestamp` is more than {MAX_FUTURE_SECS} s in the future"
        ));
    }
    if ts < now - Duration::days(MAX_AGE_DAYS) {
        return Err(format!(
            "`timestamp` is older than the {MAX_AGE_DAYS} days custom metrics are kept"
        ));
    }
    let host = short_text(item, "host", 128)?;
    let point = NewPoint {
        name,
        ts,
        value,
        unit,
        category,
        tags: Value::Object(tags),
        host_id: None,
    };
    Ok((point, (!host.is_empty()).then_some(host)))
}

/// A per-host token's points are its own host's: one naming no host is given it, one naming
/// another host refuses the request, as `/ingest/samples` does.
fn bind_to_token_host(
    principal: &Principal,
    parsed: &mut [(usize, NewPoint, Option<String>)],
) -> Result<(), ApiError> {
    for (index, _, host) in parsed.iter_mut() {
        match principal.host_for_write(host.as_deref()) {
            Ok(bound) => *host = bound.map(str::to_owned),
            Err(own) => {
                return Err(ApiError::Forbidden(format!(
                    "this token writes metrics of `{own}` only; item {index} is for `{}`",
                    host.as_deref().unwrap_or_default()
                )))
            }
        }
    }
    Ok(())
}

/// Resolves the hosts named by the points; a point naming an unknown host is rejected.
async fn resolve_hosts(
    state: &AppState,
    parsed: &mut [(usize, NewPoint, Option<String>)],
) -> Result<Vec<(usize, String)>, ApiError> {
    let mut known: HashMap<String, Option<i32>> = HashMap::new();
    let mut rejected = Vec::new();
    for (index, point, host) in parsed.iter_mut() {
        let Some(vm_id) = host else { continue };
        if !known.contains_key(vm_id.as_str()) {
            let id = hosts::find(&state.pool, vm_id).await?.map(|h| h.id);
            known.insert(vm_id.clone(), id);
        }
        match known.get(vm_id.as_str()).copied().flatten() {
            Some(id) => point.host_id = Some(id),
            None => rejected.push((*index, format!("`host` `{vm_id}` is not a known host"))),
        }
    }
    Ok(rejected)
}

async fn store(state: &AppState, points: Vec<NewPoint>) -> Result<Vec<i64>, ApiError> {
    Ok(crate::ingest::accept_custom(&state.pool, &state.alerts, points).await?)
}

/// `POST /metrics`: one point → `metric_id`.
pub async fn add(
    RequireScope(principal, _): RequireScope<MetricsWrite>,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Success<CustomMetricCreated>>, ApiError> {
    let now = Utc::now();
    let (point, host) = parse_item(&body, now).map_err(ApiError::InvalidMetricValue)?;
    let mut parsed = vec![(0, point, host)];
    bind_to_token_host(&principal, &mut parsed)?;
    if let Some((_, reason)) = resolve_hosts(&state, &mut parsed).await?.pop() {
        return Err(ApiError::InvalidMetricValue(reason));
    }
    let Some((_, point, _)) = parsed.pop() else {
        return Err(ApiError::InvalidMetricValue("no metric".into()));
    };
    let created_at = point.ts;
    let ids = store(&state, vec![point]).await?;
    Ok(success(CustomMetricCreated {
        metric_id: format!("metric_{}", ids.first().copied().unwrap_or_default()),
        created_at,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    metrics: Vec<Value>,
}

/// `POST /metrics/batch`: stores the valid items and says why each other one was refused.
pub async fn add_batch(
    RequireScope(principal, _): RequireScope<MetricsWrite>,
    State(state): State<AppState>,
    ApiJson(request): ApiJson<BatchRequest>,
) -> Result<Json<Success<CustomMetricBatch>>, ApiError> {
    let now = Utc::now();
    let mut rejected: Vec<(usize, String)> = Vec::new();
    let mut parsed = Vec::new();
    for (index, item) in request.metrics.iter().enumerate() {
        if index >= MAX_BATCH {
            rejected.push((
                index,
                format!("too many metrics in one batch (at most {MAX_BATCH})"),
            ));
            continue;
        }
        match parse_item(item, now) {
            Ok((point, host)) => parsed.push((index, point, host)),
            Err(reason) => rejected.push((index, reason)),
        }
    }
    bind_to_token_host(&principal, &mut parsed)?;
    let unknown_hosts = resolve_hosts(&state, &mut parsed).await?;
    parsed.retain(|(index, _, _)| !unknown_hosts.iter().any(|(i, _)| i == index));
    rejected.extend(unknown_hosts);
    rejected.sort_by_key(|(index, _)| *index);
    let accepted: Vec<usize> = parsed.iter().map(|(index, _, _)| *index).collect();
    let ids = store(
        &state,
        parsed.into_iter().map(|(_, point, _)| point).collect(),
    )
    .await?;
    let name_of = |index: usize| {
        request
            .metrics
            .get(index)
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Ok(success(CustomMetricBatch {
        accepted: ids.len(),
        rejected: rejected.len(),
        metric_ids: ids.iter().map(|id| format!("metric_{id}")).collect(),
        accepted_indexes: accepted,
        errors: rejected
            .into_iter()
            .map(|(index, reason)| CustomMetricRejection {
                index,
                name: name_of(index),
                reason,
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize)]
pub struct ReadQuery {
    minutes: Option<i64>,
    tags: Option<String>,
    host: Option<String>,
}

/// `tags=service:api,endpoint:/v1` → `{"service":"api","endpoint":"/v1"}`.
fn parse_tag_filter(text: Option<&str>) -> Result<Value, ApiError> {
    let mut tags = Map::new();
    for pair in text
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once(':').ok_or_else(|| {
            ApiError::Validation(format!(
                "tag filter `{pair}` must be key:value (several separated by commas)"
            ))
        })?;
        tags.insert(
            key.trim().to_owned(),
            Value::String(value.trim().to_owned()),
        );
    }
    Ok(Value::Object(tags))
}

/// `GET /metrics/{name}?minutes&tags&host`: raw points up to 7 days back, hourly rollups up to 30
/// days, daily beyond; `summary` over what is returned.
pub async fn read(
    _: RequireScope<VmRead>,
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiQuery(query): ApiQuery<ReadQuery>,
) -> Result<Json<Success<CustomMetricReadout>>, ApiError> {
    let minutes = query.minutes.unwrap_or(60);
    if !(1..=MAX_READ_MINUTES).contains(&minutes) {
        return Err(ApiError::Validation(format!(
            "`minutes` must be between 1 and {MAX_READ_MINUTES} (2 years), got {minutes}"
        )));
    }
    let tags = parse_tag_filter(query.tags.as_deref())?;
    if !rules::valid_metric_name(&name) || !custom_metrics::exists(&state.pool, &name).await? {
        return Err(ApiError::MetricNotFound(format!(
            "no custom metric named `{name}` has been stored"
        )));
    }
    let host_id = match query.host.as_deref() {
        None => None,
        Some(vm_id) => Some(
            hosts::find(&state.pool, vm_id)
                .await?
                .ok_or_else(|| ApiError::HostNotFound(format!("no host with id `{vm_id}`")))?
                .id,
        ),
    };
    let (unit, category) = custom_metrics::describe(&state.pool, &name)
        .await?
        .unwrap_or_default();
    let read =
        history::custom::read(&state.pool, &name, minutes, &tags, host_id, MAX_RAW_POINTS).await?;
    Ok(success(CustomMetricReadout {
        name,
        unit,
        category,
        minutes,
        resolution: read.resolution,
        tags,
        points: read.points,
        truncated: read.truncated,
        summary: read.summary,
    }))
}

impl From<CapacityError> for ApiError {
    fn from(error: CapacityError) -> Self {
        match error {
            CapacityError::Invalid(message) => ApiError::Validation(message),
            e @ CapacityError::UnknownMetric(_) => ApiError::MetricNotFound(e.to_string()),
            e @ CapacityError::UnknownHost(_) => ApiError::HostNotFound(e.to_string()),
            CapacityError::Database(e) => e.into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityBody {
    capacity: f64,
}

/// `GET /metrics/{name}/capacity`: the level the metric must stay below (`null` when unset).
pub async fn capacity(
    _: RequireScope<VmRead>,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Success<CustomMetricCapacity>>, ApiError> {
    Ok(success(app_metrics::capacity_of(&state.pool, &name).await?))
}

/// `PUT /metrics/{name}/capacity` `{"capacity": 5000}`: in the metric's unit, for every host
/// that sends it; the capacity page plans against it.
pub async fn set_capacity(
    RequireScope(principal, _): RequireScope<AlertsWrite>,
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<CapacityBody>,
) -> Result<Json<Success<CustomMetricCapacity>>, ApiError> {
    Ok(success(
        app_metrics::set_capacity(&state.pool, &name, body.capacity, &principal.name).await?,
    ))
}

/// `PUT /metrics/{name}/capacity/hosts/{vmId}` `{"capacity": 500}`: that host's own capacity,
/// which replaces the metric's for it (a bigger or smaller node than the rest).
pub async fn set_host_capacity(
    RequireScope(principal, _): RequireScope<AlertsWrite>,
    State(state): State<AppState>,
    Path((name, vm_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<CapacityBody>,
) -> Result<Json<Success<CustomMetricCapacity>>, ApiError> {
    Ok(success(
        app_metrics::set_host_capacity(&state.pool, &name, &vm_id, body.capacity, &principal.name)
            .await?,
    ))
}

/// `DELETE /metrics/{name}/capacity/hosts/{vmId}`: the metric's capacity applies to the host
/// again.
pub async fn clear_host_capacity(
    RequireScope(principal, _): RequireScope<AlertsWrite>,
    State(state): State<AppState>,
    Path((name, vm_id)): Path<(String, String)>,
) -> Result<Json<Success<CustomMetricCapacity>>, ApiError> {
    Ok(success(
        app_metrics::clear_host_capacity(&state.pool, &name, &vm_id, &principal.name).await?,
    ))
}

/// `DELETE /metrics/{name}/capacity`: the metric is planned without a capacity again.
pub async fn clear_capacity(
    RequireScope(principal, _): RequireScope<AlertsWrite>,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Success<CustomMetricCapacity>>, ApiError> {
    Ok(success(
        app_metrics::clear_capacity(&state.pool, &name, &principal.name).await?,
    ))
}
