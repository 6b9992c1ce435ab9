//! `POST /api/v1/history/anomalies` (detect over a range) and the acknowledge/resolve lifecycle.
use super::{
    history::{parse_custom_metric_names, parse_groups, parse_range, resolve_hosts_or_all},
    history_error::{history_success, HistoryError, HistoryJson},
};
use crate::api::history_error::Answer;
use crate::{
    analysis::anomaly::{Kind, Sensitivity},
    auth::{AlertsWrite, RequireScope, VmRead},
    detect,
    state::AppState,
};
use app::models::{AnomalyAnswer, AnomalyEvent, SeverityCounts};
use axum::{
    extract::{Path, State},
    Json,
};
use chrono::Utc;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnomalyRequest {
    vm_ids: Option<Vec<String>>,
    group_id: Option<String>,
    start_time: Option<Value>,
    end_time: Option<Value>,
    metrics: Option<Vec<String>>,
    /// Custom metrics by name (an extension); without `metrics`, only these are judged.
    custom_metrics: Option<Vec<String>>,
    sensitivity: Option<String>,
    anomaly_types: Option<Vec<String>>,
}

/// `POST /anomalies`
pub async fn detect_anomalies(
    _: RequireScope<VmRead, HistoryError>,
    State(state): State<AppState>,
    HistoryJson(request): HistoryJson<AnomalyRequest>,
) -> Result<Json<Answer<AnomalyAnswer>>, HistoryError> {
    let now = Utc::now();
    let (start, end) = parse_range(request.start_time.as_ref(), request.end_time.as_ref(), now)?;
    let custom_metrics = parse_custom_metric_names(request.custom_metrics)?;
    let groups = match (&request.metrics, custom_metrics.is_empty()) {
        (None, false) => Vec::new(),
        (metrics, _) => parse_groups(metrics.as_deref())?,
    };
    let sensitivity = match request.sensitivity.as_deref() {
        None | Some("medium") => Sensitivity::Medium,
        Some("low") => Sensitivity::Low,
        Some("high") => Sensitivity::High,
        Some(other) => {
            return Err(HistoryError::BadRequest(format!(
                "unknown sensitivity `{other}`; use low, medium or high"
            )))
        }
    };
    let kinds = match request.anomaly_types.as_deref() {
        None | Some([]) => Kind::ALL.to_vec(),
        Some(names) => names
            .iter()
            .map(|n| {
                Kind::parse(n).ok_or_else(|| {
                    HistoryError::BadRequest(format!("unknown anomaly type `{n}`; use spike, drop, trend_change or pattern_break"))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let hosts = resolve_hosts_or_all(
        &state,
        request.vm_ids.as_deref(),
        request.group_id.as_deref(),
        None,
    )
    .await?;
    let outcome = detect::run(
        &state.pool,
        &detect::Request {
            hosts,
            start,
            end,
            groups,
            custom_metrics,
            sensitivity,
            kinds,
            kept_within: Some(detect::kept_within(state.settings.detect_interval)),
        },
    )
    .await?;
    Ok(history_success(AnomalyAnswer {
        total: outcome.events.len(),
        by_severity: SeverityCounts::of(&outcome.events),
        anomalies: outcome.events,
        judged: outcome.judged,
        skipped: outcome.skipped,
    }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResolveRequest {
    resolution: Option<String>,
}

fn anomaly_id(text: &str) -> Result<i64, HistoryError> {
    detect::parse_id(text).ok_or_else(|| HistoryError::NotFound(format!("no anomaly `{text}`")))
}

/// `POST /anomalies/{id}/acknowledge`: records who and when; acknowledging twice keeps the first.
pub async fn acknowledge(
    RequireScope(principal, _): RequireScope<AlertsWrite, HistoryError>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Answer<AnomalyEvent>>, HistoryError> {
    let row = anomaly_id(&id)?;
    detect::acknowledge(&state.pool, row, &principal.name)
        .await?
        .map(history_success)
        .ok_or_else(|| HistoryError::NotFound(format!("no anomaly `{id}`")))
}

/// `POST /anomalies/{id}/resolve` with an optional `{"resolution": "…"}`; resolving twice is a
/// no-op that answers the stored state.
pub async fn resolve(
    RequireScope(principal, _): RequireScope<AlertsWrite, HistoryError>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Answer<AnomalyEvent>>, HistoryError> {
    let row = anomaly_id(&id)?;
    // The body is optional: an empty one resolves without a note.
    let request: ResolveRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ResolveRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| HistoryError::BadRequest(format!("invalid JSON body: {e}")))?
    };
    let resolution = request.resolution;
    if resolution
        .as_ref()
        .is_some_and(|r| r.chars().count() > 2000)
    {
        return Err(HistoryError::BadRequest(
            "`resolution` is limited to 2000 characters".into(),
        ));
    }
    detect::resolve(&state.pool, row, &principal.name, resolution.as_deref())
        .await?
        .map(history_success)
        .ok_or_else(|| HistoryError::NotFound(format!("no anomaly `{id}`")))
}
