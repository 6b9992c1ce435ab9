//! The REST API: routes under `/api/v1`, health checks, and the API's own 404.
mod health;
mod performance;

use crate::{error::ApiError, state::AppState};
use axum::{routing::get, Router};

pub use health::{healthz, readyz};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/performance/stats", get(performance::stats))
        .route("/api/v1/performance/system", get(performance::system))
        .route("/api/v1/performance/history", get(performance::history))
        .route("/api/{*rest}", axum::routing::any(not_found))
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no API route at {}", uri.path()))
}
