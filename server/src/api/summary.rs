//! `GET /api/v1/performance/summary`: current/average/max/min and direction per resource over a
//! period, network throughput and totals, and alert counts (computed by `crate::summary`).
use super::performance::resolve_host;
use crate::error::Success;
use crate::{
    auth::{RequireScope, VmRead},
    error::{success, ApiError, ApiQuery},
    state::AppState,
    summary::{self, RESOURCES},
};
use app::models::PerformanceSummary;
use axum::{extract::State, Json};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct SummaryQuery {
    period: Option<String>,
    metrics: Option<String>,
    host: Option<String>,
}

pub async fn summary(
    _: RequireScope<VmRead>,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<SummaryQuery>,
) -> Result<Json<Success<PerformanceSummary>>, ApiError> {
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
        None => RESOURCES.map(|g| g.name().to_owned()).to_vec(),
        Some(list) => list
            .split(',')
            .map(|m| m.trim().to_owned())
            .filter(|m| !m.is_empty())
            .collect(),
    };
    if let Some(unknown) = wanted
        .iter()
        .find(|m| !RESOURCES.iter().any(|g| g.name() == m.as_str()))
    {
        return Err(ApiError::Validation(format!(
            "unknown metric `{unknown}`; choose from cpu, memory, disk, network"
        )));
    }
    let (host_id, _) = resolve_host(&state, query.host.as_deref()).await?;
    let answer = summary::summarize(&state.pool, host_id, period_text, period, &wanted).await?;
    Ok(success(answer))
}
