//! The REST API: routes under `/api/v1`, health checks, and the API's own 404.
mod agents;
mod aggregate;
mod alerts;
mod anomalies;
pub mod export;
mod health;
pub mod history;
pub mod history_error;
mod hosts;
mod ingest;
mod metrics;
mod performance;
mod reports;
mod series;
mod summary;
mod timeline;
pub mod trends;

use crate::{error::ApiError, state::AppState};
use axum::{
    extract::DefaultBodyLimit,
    middleware,
    routing::{get, patch, post},
    Router,
};

pub use health::{healthz, metrics, readyz};

pub fn router(ingest_body_limit: usize) -> Router<AppState> {
    // The history API and the routes that share its envelope answer in the caller's language.
    let history = Router::new()
        .route("/api/v1/history/query", post(history::query))
        .route("/api/v1/history/aggregate", post(aggregate::aggregate))
        .route("/api/v1/history/trends", post(trends::trends))
        .route(
            "/api/v1/history/anomalies",
            post(anomalies::detect_anomalies),
        )
        .route(
            "/api/v1/history/anomalies/{id}/acknowledge",
            post(anomalies::acknowledge),
        )
        .route(
            "/api/v1/history/anomalies/{id}/resolve",
            post(anomalies::resolve),
        )
        .route("/api/v1/history/export", post(export::create))
        .route("/api/v1/history/export/{id}", get(export::status))
        .route(
            "/api/v1/history/export/{id}/download",
            get(export::download),
        )
        .route(
            "/api/v1/history/timeline/{vm_id}",
            get(timeline::list).post(timeline::add),
        )
        .route("/api/v1/history/series", get(series::series))
        .route("/api/v1/hosts", get(hosts::list))
        .route("/api/v1/hosts/{vm_id}", patch(hosts::update))
        .route("/api/v1/hosts/{vm_id}/reassign", post(agents::reassign))
        .route("/api/v1/agents/enrol", post(agents::enrol))
        .route(
            "/api/v1/tokens",
            get(agents::list_tokens).post(agents::create_token),
        )
        .route(
            "/api/v1/tokens/{id}",
            axum::routing::delete(agents::revoke_token),
        )
        .route(
            "/api/v1/ingest/samples",
            post(ingest::samples).layer(DefaultBodyLimit::max(ingest_body_limit)),
        )
        .layer(middleware::from_fn(history_error::with_language));
    Router::new()
        .route("/api/v1/performance/stats", get(performance::stats))
        .route("/api/v1/performance/system", get(performance::system))
        .route("/api/v1/performance/history", get(performance::history))
        .route("/api/v1/performance/summary", get(summary::summary))
        .route("/api/v1/performance/reports", post(reports::create))
        .route("/api/v1/performance/reports/{id}", get(reports::status))
        .route(
            "/api/v1/performance/reports/{id}/download",
            get(reports::download),
        )
        .route("/api/v1/performance/metrics", post(metrics::add))
        .route(
            "/api/v1/performance/metrics/batch",
            post(metrics::add_batch),
        )
        .route("/api/v1/performance/metrics/{name}", get(metrics::read))
        .route("/api/v1/performance/alerts", get(alerts::list_alerts))
        .route(
            "/api/v1/performance/alerts/rules",
            get(alerts::list_rules).post(alerts::create_rule),
        )
        .route(
            "/api/v1/performance/alerts/rules/{rule_id}",
            get(alerts::get_rule)
                .put(alerts::update_rule)
                .delete(alerts::delete_rule),
        )
        .route(
            "/api/v1/performance/alerts/{alert_id}/resolve",
            post(alerts::resolve_alert),
        )
        .merge(history)
        .route("/api/{*rest}", axum::routing::any(not_found))
}

/// Answers `429` with `Retry-After` when a caller exceeds `LOOKOUT_RATE_LIMIT`, in the envelope of
/// the API it called.
pub async fn throttle(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match state.throttle.check_api(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let secs = crate::auth::throttle::retry_after_secs(wait);
            let path = request.uri().path();
            if [
                "/api/v1/history",
                "/api/v1/hosts",
                "/api/v1/ingest",
                "/api/v1/agents",
                "/api/v1/tokens",
            ]
            .iter()
            .any(|p| path.starts_with(p))
            {
                history_error::HistoryError::RateLimited(secs).into_response()
            } else {
                ApiError::RateLimited(secs).into_response()
            }
        }
    }
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no API route at {}", uri.path()))
}
