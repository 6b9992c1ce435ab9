//! `/api/v1/performance/reports`: request a report, follow it, download it.
use super::performance::resolve_host;
use crate::error::Success;
use crate::{
    auth::{Principal, RequireScope, Scope, VmRead},
    error::{success, ApiError, ApiJson},
    report::{self, ReportRow},
    state::AppState,
};
use app::models::{ReportCreated, ReportStatus};
use axum::{
    extract::{Path, State},
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
    Json,
};
use chrono::Utc;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    #[serde(rename = "type")]
    kind: Option<String>,
    period: Option<String>,
    format: Option<String>,
    metrics: Option<Vec<String>>,
    include_alerts: Option<bool>,
    include_recommendations: Option<bool>,
    host: Option<String>,
}

/// `POST /reports`
pub async fn create(
    RequireScope(principal, _): RequireScope<VmRead>,
    State(state): State<AppState>,
    ApiJson(request): ApiJson<ReportRequest>,
) -> Result<Json<Success<ReportCreated>>, ApiError> {
    let asked = report::Asked {
        kind: request.kind.as_deref(),
        period: request.period.as_deref(),
        format: request.format.as_deref(),
        metrics: request.metrics.as_deref(),
        include_alerts: request.include_alerts,
        include_recommendations: request.include_recommendations,
    }
    .check()
    .map_err(ApiError::Validation)?;
    let (host_id, _) = resolve_host(&state, request.host.as_deref()).await?;
    let row = report::queue(&state.pool, host_id, asked, &principal.name)
        .await?
        .ok_or_else(|| ApiError::HostNotFound("the host was removed meanwhile".into()))?;
    state.jobs.reports.notify_one();
    Ok(success(row.to_created()))
}

async fn visible(state: &AppState, principal: &Principal, id: &str) -> Result<ReportRow, ApiError> {
    let not_found = || {
        ApiError::NotFound(format!(
            "no report `{id}` (unknown, or expired after {} days)",
            report::KEEP_DAYS
        ))
    };
    let row = report::report(&state.pool, id)
        .await?
        .ok_or_else(not_found)?;
    if row.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(not_found());
    }
    if row.created_by != principal.name && !principal.has(Scope::Admin) {
        return Err(ApiError::Forbidden(
            "only the creator of a report or an admin may read it".into(),
        ));
    }
    Ok(row)
}

/// `GET /reports/{id}`
pub async fn status(
    RequireScope(principal, _): RequireScope<VmRead>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Success<ReportStatus>>, ApiError> {
    Ok(success(visible(&state, &principal, &id).await?.to_status()))
}

/// `GET /reports/{id}/download`
pub async fn download(
    RequireScope(principal, _): RequireScope<VmRead>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = visible(&state, &principal, &id).await?;
    match row.status.as_str() {
        "completed" => {}
        "failed" => {
            return Err(ApiError::ReportGenerationFailed(
                row.error_message.unwrap_or_else(|| "unknown reason".into()),
            ))
        }
        other => {
            return Err(ApiError::Conflict(format!(
                "report `{id}` is {other}; it should be ready at {}",
                row.estimated_ready_at.to_rfc3339()
            )))
        }
    }
    let path = row
        .file_path
        .as_deref()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("completed report without a file")))?;
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let mut response = bytes.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(row.content_type()),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", row.filename))
    {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
