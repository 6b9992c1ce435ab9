//! The capacity page: its data (`/history/trends` over the fleet, application metrics, recent
//! anomalies) and its form that sets an application metric's capacity.
use super::{signed_in, unreachable};
use crate::{
    auth::{AlertsWrite, RequireScope, Scope},
    capacity::app_metrics::{self, CapacityError},
    state::AppState,
    storage::hosts,
};
use app::{
    components::snapshot::ssr::{Answer, CapacitySource},
    models::CapacityReport,
    view_state::{encode, param, parse_query},
};
use axum::{
    extract::State,
    http::HeaderMap,
    response::{IntoResponse, Redirect, Response},
};
use chrono::Utc;
use std::sync::Arc;

/// What the capacity page shows: `/history/trends` over every host for the last 180 days with a
/// 90-day forecast against 80 %, the custom metrics' trends over the same days, and the newest
/// anomalies of the last 7 days.
pub fn source(state: AppState) -> CapacitySource {
    const HISTORY_DAYS: i64 = 180;
    const HORIZON_DAYS: i64 = 90;
    const THRESHOLD: f64 = 80.0;
    CapacitySource(Arc::new(
        move |headers: HeaderMap| -> Answer<CapacityReport> {
            let state = state.clone();
            Box::pin(async move {
                let (principal, viewer) = signed_in(&state, &headers).await?;
                let hosts = hosts::all(&state.pool).await.map_err(unreachable)?;
                let now = Utc::now();
                let options = crate::capacity::TrendOptions {
                    start: now - chrono::Duration::days(HISTORY_DAYS),
                    end: now,
                    metrics: crate::capacity::METRICS.to_vec(),
                    forecast_enabled: true,
                    horizon: HORIZON_DAYS as f64,
                    method: crate::analysis::trend::Method::Linear,
                    threshold: THRESHOLD,
                };
                let trends = crate::capacity::analyse(&state.pool, &hosts, &options)
                    .await
                    .map_err(|e| e.to_string())?;
                // Enough events for the page's twenty incidents (several events each).
                let anomalies =
                    crate::detect::recent(&state.pool, now - chrono::Duration::days(7), 100)
                        .await
                        .map_err(unreachable)?;
                let app_metrics = crate::capacity::app_metrics::trends(
                    &state.pool,
                    &hosts,
                    (options.start, now),
                    options.horizon,
                    None,
                )
                .await
                .map_err(unreachable)?;
                Ok(CapacityReport {
                    viewer,
                    hosts: hosts.len(),
                    history_days: HISTORY_DAYS,
                    horizon_days: HORIZON_DAYS,
                    threshold: THRESHOLD,
                    trends,
                    anomalies,
                    app_metrics,
                    can_set_capacity: principal.has(Scope::AlertsWrite),
                })
            })
        },
    ))
}

/// `POST /capacity/metrics`: the capacity form (`name`, `capacity`; an empty capacity clears
/// it), checked as `PUT /api/v1/performance/metrics/{name}/capacity` checks it. Answers with a
/// redirect back to the page's application metrics, with `?notice=` or `?error=`.
pub async fn set_capacity(
    RequireScope(principal, _): RequireScope<AlertsWrite>,
    State(state): State<AppState>,
    body: String,
) -> Response {
    let pairs = parse_query(&body);
    let outcome = async {
        let name = param(&pairs, "name")
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .ok_or("Choose a metric.")?;
        let typed = param(&pairs, "capacity").map(str::trim).unwrap_or_default();
        let problem = |e: CapacityError| match e {
            CapacityError::Database(e) => unreachable(e),
            other => other.to_string(),
        };
        if typed.is_empty() {
            app_metrics::clear_capacity(&state.pool, name, &principal.name)
                .await
                .map_err(problem)?;
            return Ok(format!("{name} has no capacity now."));
        }
        let value: f64 = typed
            .parse()
            .map_err(|_| format!("`capacity` must be a number, got `{typed}`"))?;
        let set = app_metrics::set_capacity(&state.pool, name, value, &principal.name)
            .await
            .map_err(problem)?;
        let unit = if set.unit.is_empty() {
            String::new()
        } else {
            format!(" {}", set.unit)
        };
        Ok::<_, String>(format!("{name}: capacity {value}{unit}."))
    }
    .await;
    let (key, text) = match outcome {
        Ok(notice) => ("notice", notice),
        Err(problem) => ("error", problem),
    };
    Redirect::to(&format!("/capacity?{key}={}#app-metrics", encode(&text))).into_response()
}
