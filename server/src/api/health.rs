//! Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the database answers).
use crate::error::{success, ApiError};
use axum::{extract::State, Json};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::time::Duration;

pub async fn healthz() -> Json<Value> {
    success(json!({ "status": "ok" }))
}

pub async fn readyz(State(pool): State<PgPool>) -> Result<Json<Value>, ApiError> {
    let ping = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&pool);
    match tokio::time::timeout(Duration::from_secs(2), ping).await {
        Ok(Ok(_)) => Ok(success(json!({ "status": "ready", "database": "ok" }))),
        Ok(Err(error)) => {
            tracing::warn!(%error, "Readiness check: database unreachable.");
            Err(ApiError::StorageUnavailable)
        }
        Err(_) => Err(ApiError::StorageUnavailable),
    }
}
