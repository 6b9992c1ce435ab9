//! `POST /api/v1/history/what-if` (an extension): a scenario's changes on the CPU, memory and
//! disk forecasts of hosts, a group, a cluster or the fleet, and the runway they give
//! (`capacity::whatif`).
use super::{
    history::{parse_instant, parse_range, resolve_hosts_or_all},
    history_error::{history_success, Answer, HistoryError, HistoryJson},
};
use crate::{
    analysis::trend::Method,
    auth::{RequireScope, VmRead},
    capacity::{whatif, TrendOptions, METRICS},
    state::AppState,
};
use app::models::{WhatIf, WhatIfChanges};
use axum::{extract::State, Json};
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
    let horizon = request.horizon.unwrap_or(90.0);
    if !(horizon.is_finite() && (1.0..=730.0).contains(&horizon)) {
        return Err(HistoryError::BadRequest(
            "`horizon` must be 1 to 730 days".into(),
        ));
    }
    let threshold = request.capacity_threshold.unwrap_or(80.0);
    if !(threshold.is_finite() && threshold > 0.0 && threshold <= 100.0) {
        return Err(HistoryError::BadRequest(
            "`capacityThreshold` must be a percentage in (0, 100]".into(),
        ));
    }
    let asked = request.changes.unwrap_or_default();
    let day = |value: Option<&Value>, field: &str| {
        value
            .filter(|v| !v.is_null())
            .map(|v| parse_instant(Some(v), field))
            .transpose()
    };
    let changes = WhatIfChanges {
        add_hosts: asked.add_hosts.unwrap_or(0),
        hosts_from: day(asked.hosts_from.as_ref(), "changes.hostsFrom")?,
        add_load_percent: asked.add_load_percent.unwrap_or(0.0),
        load_from: day(asked.load_from.as_ref(), "changes.loadFrom")?,
        growth_monthly_percent: asked.growth_monthly_percent.unwrap_or(0.0),
    };
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
    let answer = whatif::what_if(&state.pool, &hosts, &options, &changes, now).await?;
    Ok(history_success(answer))
}
