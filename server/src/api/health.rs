//! Liveness (`/healthz`: the process answers), readiness (`/readyz`: the database answers) and
//! Lookout's own counters (`/metrics`, Prometheus' text format, `vm:read`).
use crate::error::Success;
use crate::error::{success, ApiError};
use app::models::HealthStatus;
use axum::{extract::State, Json};
use sqlx::PgPool;
use std::time::Duration;

pub async fn healthz() -> Json<Success<HealthStatus>> {
    success(HealthStatus {
        status: "ok".into(),
        database: None,
    })
}

pub async fn readyz(State(pool): State<PgPool>) -> Result<Json<Success<HealthStatus>>, ApiError> {
    let ping = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&pool);
    match tokio::time::timeout(Duration::from_secs(2), ping).await {
        Ok(Ok(_)) => Ok(success(HealthStatus {
            status: "ready".into(),
            database: Some("ok".into()),
        })),
        Ok(Err(error)) => {
            tracing::warn!(%error, "Readiness check: database unreachable.");
            Err(ApiError::StorageUnavailable)
        }
        Err(_) => Err(ApiError::StorageUnavailable),
    }
}

/// `GET /metrics`: Lookout's own counters (`crate::counters`) for a Prometheus scrape with a
/// `vm:read` token.
pub async fn metrics(
    _: crate::auth::RequireScope<crate::auth::VmRead>,
) -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::counters::render(),
    )
}
