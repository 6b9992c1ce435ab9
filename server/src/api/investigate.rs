//! `POST /api/v1/history/investigate` (an extension): what changed on the named hosts in a
//! window, against the baseline before it (`investigate`).
use super::{
    history::{parse_range, resolve_hosts_or_all},
    history_error::{history_success, Answer, HistoryError, HistoryJson},
};
use crate::{
    auth::{RequireScope, VmRead},
    investigate::{self, Baseline, Window},
    state::AppState,
};
use app::models::Investigation;
use axum::{extract::State, Json};
use chrono::Utc;
use serde::Deserialize;
use serde_json::Value;

/// The window (`startTime`, `endTime`), the hosts (none named: every host) and how many
/// changed series to list.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InvestigateRequest {
    vm_ids: Option<Vec<String>>,
    group_id: Option<String>,
    cluster_id: Option<String>,
    start_time: Option<Value>,
    end_time: Option<Value>,
    /// `before` (default), `day` or `week`.
    baseline: Option<String>,
    limit: Option<usize>,
}

/// `POST /investigate`
pub async fn investigate(
    _: RequireScope<VmRead, HistoryError>,
    State(state): State<AppState>,
    HistoryJson(request): HistoryJson<InvestigateRequest>,
) -> Result<Json<Answer<Investigation>>, HistoryError> {
    let now = Utc::now();
    let (start, end) = parse_range(request.start_time.as_ref(), request.end_time.as_ref(), now)?;
    let baseline =
        Baseline::chosen(request.baseline.as_deref()).map_err(HistoryError::BadRequest)?;
    let window = Window::new(start, end, baseline, now)?;
    let limit = request.limit.unwrap_or(investigate::DEFAULT_LIMIT);
    if !(1..=investigate::MAX_LIMIT).contains(&limit) {
        return Err(HistoryError::BadRequest(format!(
            "`limit` must be 1 to {}",
            investigate::MAX_LIMIT
        )));
    }
    let hosts = resolve_hosts_or_all(
        &state,
        request.vm_ids.as_deref(),
        request.group_id.as_deref(),
        request.cluster_id.as_deref(),
    )
    .await?;
    let outcome = investigate::investigate(&state.pool, &hosts, &window, limit, now).await?;
    Ok(history_success(outcome.investigation))
}
