//! The REST API: routes under `/api/v1`, health checks, and the API's own 404.
mod agents;
mod aggregate;
mod alerts;
mod anomalies;
mod capacity_reports;
pub mod export;
mod health;
pub mod history;
pub mod history_error;
mod hosts;
mod ingest;
mod investigate;
mod metrics;
mod performance;
mod reports;
mod series;
mod summary;
mod timeline;
pub mod trends;
mod whatif;

use crate::{error::ApiError, state::AppState};
use axum::{
    extract::{DefaultBodyLimit, Request, State},
    http::{Method, Uri},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, patch, post, put},
    Router,
};
use history_error::HistoryError;
use std::{any::Any, time::Duration};
use tower_http::catch_panic::CatchPanicLayer;

pub use health::{healthz, metrics, readyz};

/// The REST routes, each API behind the rate limit and the request deadline, which answer in its
/// own envelope (the history API's also in the caller's language).
pub fn router(state: &AppState) -> Router<AppState> {
    let settings = &state.settings;
    let history = history_routes(settings.ingest_body_limit);
    let history = limited::<HistoryError>(history, state, settings.request_timeout)
        .layer(middleware::from_fn(history_error::with_language));
    let performance = limited::<ApiError>(performance_routes(), state, settings.request_timeout);
    performance.merge(history)
}

/// `routes` behind the rate limit (outermost) and the deadline, which answer as `E`, as do its
/// routes asked with a method they do not take.
fn limited<E: Envelope>(
    routes: Router<AppState>,
    state: &AppState,
    deadline: Duration,
) -> Router<AppState> {
    guarded::<E, AppState>(routes)
        .layer(middleware::from_fn_with_state(deadline, within::<E>))
        .layer(middleware::from_fn_with_state(state.clone(), throttle::<E>))
}

/// `routes` whose panics and wrong methods answer as `E` (the server-wide panic layer answers in
/// the performance API's envelope, which a history client would not expect).
fn guarded<E: Envelope, S: Clone + Send + Sync + 'static>(routes: Router<S>) -> Router<S> {
    routes
        .method_not_allowed_fallback(wrong_method::<E>)
        .layer(CatchPanicLayer::custom(panicked::<E>))
}

/// A handler's panic as the API's internal error, which logs it once with its message.
fn panicked<E: Envelope>(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = crate::error::panic_message(panic.as_ref());
    E::internal(anyhow::anyhow!("a request handler panicked: {message}")).into_response()
}

/// An API's error type, as the request-wide layers answer in it.
trait Envelope: IntoResponse + 'static {
    fn timed_out() -> Self;
    fn rate_limited(retry_after_secs: u64) -> Self;
    fn method_not_allowed(detail: String) -> Self;
    fn internal(error: anyhow::Error) -> Self;
}

impl Envelope for ApiError {
    fn timed_out() -> Self {
        ApiError::Timeout
    }
    fn rate_limited(retry_after_secs: u64) -> Self {
        ApiError::RateLimited(retry_after_secs)
    }
    fn method_not_allowed(detail: String) -> Self {
        ApiError::MethodNotAllowed(detail)
    }
    fn internal(error: anyhow::Error) -> Self {
        ApiError::Internal(error)
    }
}

impl Envelope for HistoryError {
    fn timed_out() -> Self {
        HistoryError::Timeout
    }
    fn rate_limited(retry_after_secs: u64) -> Self {
        HistoryError::RateLimited(retry_after_secs)
    }
    fn method_not_allowed(detail: String) -> Self {
        HistoryError::MethodNotAllowed(detail)
    }
    fn internal(error: anyhow::Error) -> Self {
        HistoryError::Internal(error)
    }
}

/// `405` for a route that exists without the request's method (axum adds `Allow`).
async fn wrong_method<E: Envelope>(method: Method, uri: Uri) -> E {
    E::method_not_allowed(format!("{} does not take {method}", uri.path()))
}

/// Answers `408` when a request takes longer than `LOOKOUT_REQUEST_TIMEOUT`.
async fn within<E: Envelope>(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => E::timed_out().into_response(),
    }
}

/// Answers `429` with `Retry-After` when a caller exceeds `LOOKOUT_RATE_LIMIT`.
async fn throttle<E: Envelope>(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match state.throttle.check_api(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(wait) => E::rate_limited(crate::auth::throttle::retry_after_secs(wait)).into_response(),
    }
}

/// The history API and the routes that share its envelope.
fn history_routes(ingest_body_limit: usize) -> Router<AppState> {
    Router::new()
        .route("/api/v1/history/query", post(history::query))
        .route("/api/v1/history/aggregate", post(aggregate::aggregate))
        .route("/api/v1/history/trends", post(trends::trends))
        .route("/api/v1/history/rightsizing", post(trends::rightsizing))
        .route(
            "/api/v1/history/rightsizing/prices",
            get(trends::prices)
                .put(trends::set_prices)
                .delete(trends::clear_prices),
        )
        .route(
            "/api/v1/history/investigate",
            post(investigate::investigate),
        )
        .route("/api/v1/history/what-if", post(whatif::what_if))
        .route(
            "/api/v1/history/what-if/plans",
            get(whatif::list_plans).post(whatif::commit_plan),
        )
        .route(
            "/api/v1/history/what-if/plans/{id}",
            axum::routing::delete(whatif::remove_plan),
        )
        .route("/api/v1/history/capacity-plan", get(capacity_reports::plan))
        .route(
            "/api/v1/history/capacity-reports",
            get(capacity_reports::list),
        )
        .route(
            "/api/v1/history/capacity-reports/{id}",
            get(capacity_reports::download),
        )
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
}

/// The performance API, and the API's own 404 for any other path under `/api`.
fn performance_routes() -> Router<AppState> {
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
        .route(
            "/api/v1/performance/metrics/{name}/capacity",
            get(metrics::capacity)
                .put(metrics::set_capacity)
                .delete(metrics::clear_capacity),
        )
        .route(
            "/api/v1/performance/metrics/{name}/capacity/hosts/{vm_id}",
            put(metrics::set_host_capacity).delete(metrics::clear_host_capacity),
        )
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
        .route("/api/{*rest}", axum::routing::any(not_found))
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no API route at {}", uri.path()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{body::Body, http::StatusCode};
    use tower::ServiceExt;

    async fn panicking() -> &'static str {
        panic!("index out of bounds")
    }

    /// The status, body and whether the response is marked logged, of a request to `/boom`.
    async fn ask<E: Envelope>(method: Method) -> (StatusCode, serde_json::Value, bool) {
        let routes = guarded::<E, ()>(Router::new().route("/boom", get(panicking)));
        let request = axum::http::Request::builder()
            .method(method)
            .uri("/boom")
            .body(Body::empty())
            .expect("request");
        let response = routes.oneshot(request).await.expect("infallible");
        let status = response.status();
        let logged = response
            .extensions()
            .get::<crate::error::Logged>()
            .is_some();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .expect("body");
        (
            status,
            serde_json::from_slice(&bytes).expect("JSON"),
            logged,
        )
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_in_its_apis_envelope_logged_once() {
        let (status, body, logged) = ask::<HistoryError>(Method::GET).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            (body["code"].as_u64(), body["error"].as_str()),
            (Some(500), Some("500"))
        );
        assert!(body.get("status").is_none(), "{body}");
        assert!(
            logged,
            "the panic is logged where it is answered, not again by the trace"
        );

        let (status, body, logged) = ask::<ApiError>(Method::GET).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["status"], "error");
        assert_eq!(body["error"]["code"], "INTERNAL");
        // The panic's text is for the log, not the client.
        assert!(!body.to_string().contains("index out of bounds"), "{body}");
        assert!(logged);

        let (status, body, _) = ask::<HistoryError>(Method::DELETE).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(body["error"], "405");
    }
}
