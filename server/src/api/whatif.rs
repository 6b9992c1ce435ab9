//! `POST /api/v1/history/what-if` (an extension): a scenario's changes on the CPU, memory and
//! disk forecasts of hosts, a group, a cluster or the fleet, and the runway they give
//! (`capacity::whatif`).
use super::{
    history::{parse_horizon, parse_instant, parse_range, parse_threshold, resolve_hosts_or_all},
    history_error::{history_success, Answer, HistoryError, HistoryJson},
};
use crate::{
    analysis::trend::Method,
    auth::{AlertsWrite, RequireScope, VmRead},
    capacity::{
        whatif::{self, Plans},
        TrendOptions, METRICS,
    },
    state::AppState,
};
use app::models::{CapacityPlan, WhatIf, WhatIfChanges};
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    Json,
};
use chrono::{Duration, Utc};
use serde::Deserialize;
use serde_json::Value;

/// Days of history when the request names no range: the capacity page's default.
const DEFAULT_HISTORY_DAYS: i64 = 180;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WhatIfRequest {
    vm_ids: Option<Vec<String>>,
    group_id: Option<String>,
    cluster_id: Option<String>,
    /// The history the forecasts are drawn from (both or neither; default: the last 180 days).
    start_time: Option<Value>,
    end_time: Option<Value>,
    /// Days forecast (1–730, default 90) and the threshold in percent (default 80).
    horizon: Option<f64>,
    capacity_threshold: Option<f64>,
    changes: Option<ChangesRequest>,
    /// Include the plans committed for the group or the fleet (default true; hosts named one by
    /// one or a cluster have none).
    include_plans: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ChangesRequest {
    add_hosts: Option<i64>,
    hosts_from: Option<Value>,
    add_load_percent: Option<f64>,
    load_from: Option<Value>,
    growth_monthly_percent: Option<f64>,
}

impl ChangesRequest {
    /// The changes, their days parsed (RFC 3339 or `YYYY-MM-DD`); bounds are the service's.
    fn parsed(self) -> Result<WhatIfChanges, HistoryError> {
        let day = |value: Option<&Value>, field: &str| {
            value
                .filter(|v| !v.is_null())
                .map(|v| parse_instant(Some(v), field))
                .transpose()
        };
        Ok(WhatIfChanges {
            add_hosts: self.add_hosts.unwrap_or(0),
            hosts_from: day(self.hosts_from.as_ref(), "changes.hostsFrom")?,
            add_load_percent: self.add_load_percent.unwrap_or(0.0),
            load_from: day(self.load_from.as_ref(), "changes.loadFrom")?,
            growth_monthly_percent: self.growth_monthly_percent.unwrap_or(0.0),
        })
    }
}

/// A plan to commit: its group (absent: the whole fleet), title and changes.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewPlan {
    group_id: Option<String>,
    title: String,
    changes: ChangesRequest,
}

/// `?groupId=` of the plan list (absent: every plan).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanFilter {
    group_id: Option<String>,
}

/// `GET /what-if/plans`: the committed plans, of one group when `groupId` is given.
pub async fn list_plans(
    _: RequireScope<VmRead, HistoryError>,
    State(state): State<AppState>,
    Query(filter): Query<PlanFilter>,
) -> Result<Json<Answer<Vec<CapacityPlan>>>, HistoryError> {
    let plans = match filter.group_id.as_deref() {
        Some(group) => whatif::plans(&state.pool, Some(group)).await?,
        None => whatif::all_plans(&state.pool).await?,
    };
    Ok(history_success(plans))
}

/// `POST /what-if/plans`: commits a scenario for a group or the fleet (`alerts:write`, the
/// scope that sets thresholds and capacities).
pub async fn commit_plan(
    RequireScope(principal, _): RequireScope<AlertsWrite, HistoryError>,
    State(state): State<AppState>,
    HistoryJson(request): HistoryJson<NewPlan>,
) -> Result<(StatusCode, Json<Answer<CapacityPlan>>), HistoryError> {
    let changes = request.changes.parsed()?;
    let plan = whatif::commit(
        &state.pool,
        request.group_id.as_deref(),
        &request.title,
        &changes,
        &principal.name,
        Utc::now(),
    )
    .await?;
    Ok((StatusCode::CREATED, history_success(plan)))
}

/// `DELETE /what-if/plans/{id}`
pub async fn remove_plan(
    _: RequireScope<AlertsWrite, HistoryError>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Answer<Option<()>>>, HistoryError> {
    // Parsed here, so that a malformed id is the API's own 404 rather than the router's text.
    let id = id
        .parse::<i64>()
        .map_err(|_| HistoryError::NotFound(format!("no plan {id}")))?;
    whatif::remove(&state.pool, id).await?;
    Ok(history_success(None))
}

/// `POST /what-if`
pub async fn what_if(
    _: RequireScope<VmRead, HistoryError>,
    State(state): State<AppState>,
    HistoryJson(request): HistoryJson<WhatIfRequest>,
) -> Result<Json<Answer<WhatIf>>, HistoryError> {
    let now = Utc::now();
    let (start, end) = match (&request.start_time, &request.end_time) {
        (None, None) => (now - Duration::days(DEFAULT_HISTORY_DAYS), now),
        (start, end) => parse_range(start.as_ref(), end.as_ref(), now)?,
    };
    let horizon = parse_horizon(request.horizon, 90.0, "horizon")?;
    let threshold = parse_threshold(request.capacity_threshold)?;
    let changes = request.changes.unwrap_or_default().parsed()?;
    let hosts = resolve_hosts_or_all(
        &state,
        request.vm_ids.as_deref(),
        request.group_id.as_deref(),
        request.cluster_id.as_deref(),
    )
    .await?;
    let options = TrendOptions {
        start,
        end,
        metrics: METRICS.to_vec(),
        forecast_enabled: true,
        horizon,
        method: Method::Linear,
        threshold,
    };
    let plans = match (
        request.include_plans.unwrap_or(true),
        &request.vm_ids,
        &request.cluster_id,
    ) {
        (true, None, None) => Plans::Of(request.group_id.as_deref()),
        _ => Plans::Left,
    };
    let answer = whatif::what_if(&state.pool, &hosts, plans, &options, &changes, now).await?;
    Ok(history_success(answer))
}
