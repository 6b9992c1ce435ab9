//! `POST /api/v1/history/trends`: parses the request and answers with the capacity service's report.
use super::{
    history::{
        parse_custom_metric_names, parse_horizon, parse_range, parse_threshold,
        resolve_hosts_or_all,
    },
    history_error::{history_success, HistoryError, HistoryJson},
};
use crate::api::history_error::Answer;
use crate::{
    analysis::trend::Method,
    auth::{AlertsWrite, RequireScope, VmRead},
    capacity::{analyse, app_metrics, rightsize, TrendOptions, METRICS},
    state::AppState,
};
use app::models::{Prices, RightSizing, TrendReport};
use axum::{extract::State, Json};
use chrono::Utc;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrendRequest {
    vm_ids: Option<Vec<String>>,
    group_id: Option<String>,
    cluster_id: Option<String>,
    start_time: Option<Value>,
    end_time: Option<Value>,
    metrics: Option<Vec<String>>,
    forecast: Option<ForecastRequest>,
    capacity_threshold: Option<f64>,
    /// An extension: application metrics (custom metrics by name) to plan too, each host's own.
    custom_metrics: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ForecastRequest {
    enabled: Option<bool>,
    horizon: Option<f64>,
    method: Option<String>,
}

/// `POST /trends`
pub async fn trends(
    _: RequireScope<VmRead, HistoryError>,
    State(state): State<AppState>,
    HistoryJson(request): HistoryJson<TrendRequest>,
) -> Result<Json<Answer<TrendReport>>, HistoryError> {
    let now = Utc::now();
    let (start, end) = parse_range(request.start_time.as_ref(), request.end_time.as_ref(), now)?;
    let custom_metrics = parse_custom_metric_names(request.custom_metrics)?;
    let metrics: Vec<(&'static str, i16)> = match request.metrics.as_deref() {
        None | Some([]) => METRICS.to_vec(),
        Some(names) => {
            let mut chosen = Vec::new();
            for name in names {
                let metric = METRICS.iter().find(|(n, _)| n == name).ok_or_else(|| {
                    HistoryError::BadRequest(format!(
                        "unknown trend metric `{name}`; use cpu, memory or disk"
                    ))
                })?;
                if !chosen.contains(metric) {
                    chosen.push(*metric);
                }
            }
            chosen
        }
    };
    let threshold = parse_threshold(request.capacity_threshold)?;
    let forecast_enabled = request
        .forecast
        .as_ref()
        .is_some_and(|f| f.enabled.unwrap_or(true));
    let horizon = parse_horizon(
        request.forecast.as_ref().and_then(|f| f.horizon),
        30.0,
        "forecast.horizon",
    )?;
    let method = match request.forecast.as_ref().and_then(|f| f.method.as_deref()) {
        None | Some("linear") => Method::Linear,
        Some("polynomial") => Method::Polynomial,
        Some(other) => {
            return Err(HistoryError::BadRequest(format!(
                "unknown forecast method `{other}`; use linear or polynomial"
            )))
        }
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
        metrics,
        forecast_enabled,
        horizon,
        method,
        threshold,
    };
    let mut report = analyse(&state.pool, &hosts, &options).await?;
    if !custom_metrics.is_empty() {
        let (planned, skipped) =
            app_metrics::asked(&state.pool, &hosts, (start, end), horizon, &custom_metrics).await?;
        report.custom_metrics = planned;
        report.custom_metrics_skipped = skipped;
    }
    Ok(history_success(report))
}

/// The hosts of a right-sizing request (none named: every host).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RightSizingRequest {
    vm_ids: Option<Vec<String>>,
    group_id: Option<String>,
    cluster_id: Option<String>,
}

/// `POST /rightsizing`: each host's vCPUs and memory against its last 30 complete days, and
/// the size that would fit it (`capacity::rightsize`).
pub async fn rightsizing(
    _: RequireScope<VmRead, HistoryError>,
    State(state): State<AppState>,
    HistoryJson(request): HistoryJson<RightSizingRequest>,
) -> Result<Json<Answer<RightSizing>>, HistoryError> {
    let hosts = resolve_hosts_or_all(
        &state,
        request.vm_ids.as_deref(),
        request.group_id.as_deref(),
        request.cluster_id.as_deref(),
    )
    .await?;
    let sizing = crate::capacity::rightsize::of(&state.pool, &hosts, Utc::now()).await?;
    Ok(history_success(sizing))
}

/// The prices right-sizing counts in, as `PUT /rightsizing/prices` takes them.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PricesRequest {
    currency: String,
    vcpu_month: f64,
    gib_month: f64,
}

/// `GET /rightsizing/prices`: the prices set, or `null`.
pub async fn prices(
    _: RequireScope<VmRead, HistoryError>,
    State(state): State<AppState>,
) -> Result<Json<Answer<Option<Prices>>>, HistoryError> {
    Ok(history_success(rightsize::prices(&state.pool).await?))
}

/// `PUT /rightsizing/prices` (`alerts:write`, the scope that sets thresholds and capacities).
pub async fn set_prices(
    RequireScope(principal, _): RequireScope<AlertsWrite, HistoryError>,
    State(state): State<AppState>,
    HistoryJson(request): HistoryJson<PricesRequest>,
) -> Result<Json<Answer<Prices>>, HistoryError> {
    let prices = rightsize::set_prices(
        &state.pool,
        &request.currency,
        request.vcpu_month,
        request.gib_month,
        &principal.name,
    )
    .await?;
    Ok(history_success(prices))
}

/// `DELETE /rightsizing/prices`: right-sizing counts in vCPUs and bytes only again.
pub async fn clear_prices(
    _: RequireScope<AlertsWrite, HistoryError>,
    State(state): State<AppState>,
) -> Result<Json<Answer<Option<()>>>, HistoryError> {
    rightsize::clear_prices(&state.pool).await?;
    Ok(history_success(None))
}
