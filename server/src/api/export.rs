//! `/api/v1/history/export`: create an export task (checked and counted before any work), follow
//! its progress, download the file. Only the creator or an admin may see a task.
use super::{
    history::{parse_groups, parse_range, resolve_hosts},
    history_error::{history_accepted, history_success, HistoryError, HistoryJson},
};
use crate::api::history_error::Answer;
use crate::{
    auth::{Principal, RequireScope, Scope, VmRead},
    export::{
        format::FileFormat,
        tasks::{self, Order},
        JobRow,
    },
    history::{self, Aggregation, Func},
    state::AppState,
};
use app::models::ExportTask;
use axum::{
    body::Body,
    extract::{Path, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use chrono::Utc;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportRequest {
    vm_ids: Option<Vec<String>>,
    group_id: Option<String>,
    start_time: Option<Value>,
    end_time: Option<Value>,
    metrics: Option<Vec<String>>,
    aggregation: Option<String>,
    aggregation_func: Option<String>,
    format: Option<String>,
    filename: Option<String>,
    fields: Option<Vec<String>>,
    #[serde(default)]
    options: ExportOptions,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportOptions {
    include_headers: Option<bool>,
    timezone: Option<String>,
    date_format: Option<String>,
    number_format: Option<String>,
}

/// `POST /export` → 202 with the task.
pub async fn create(
    RequireScope(principal, _): RequireScope<VmRead, HistoryError>,
    State(state): State<AppState>,
    HistoryJson(request): HistoryJson<ExportRequest>,
) -> Result<impl IntoResponse, HistoryError> {
    Ok(history_accepted(
        create_task(&state, &principal, request).await?.to_task(),
    ))
}

/// The API's request as an export order: every field parsed, hosts resolved.
async fn order(state: &AppState, request: ExportRequest) -> Result<Order, HistoryError> {
    let now = Utc::now();
    let format_text = request.format.as_deref().unwrap_or_default();
    let format = FileFormat::parse(format_text).ok_or_else(|| {
        HistoryError::BadRequest(format!(
            "`format` must be csv, excel or json, got `{format_text}`"
        ))
    })?;
    let (start, end) = parse_range(request.start_time.as_ref(), request.end_time.as_ref(), now)?;
    let aggregation_text = request.aggregation.as_deref().unwrap_or("1h");
    let aggregation = Aggregation::parse(aggregation_text).ok_or_else(|| {
        HistoryError::BadRequest(format!(
            "unknown aggregation `{aggregation_text}`; use raw, 1m, 5m, 15m, 1h or 1d"
        ))
    })?;
    let func_text = request.aggregation_func.as_deref().unwrap_or("avg");
    let func = Func::parse(func_text).ok_or_else(|| {
        HistoryError::BadRequest(format!("unknown aggregationFunc `{func_text}`"))
    })?;
    history::check_tier(aggregation, start, end, now)?;
    let groups = parse_groups(request.metrics.as_deref())?;
    let hosts = resolve_hosts(
        state,
        request.vm_ids.as_deref(),
        request.group_id.as_deref(),
        None,
    )
    .await?;
    let options = request.options;
    Ok(Order {
        hosts,
        groups,
        start,
        end,
        aggregation,
        func,
        format,
        fields: request.fields,
        filename: request.filename,
        include_headers: options.include_headers.unwrap_or(true),
        timezone: options.timezone.unwrap_or_else(|| "UTC".into()),
        date_format: options
            .date_format
            .unwrap_or_else(|| "YYYY-MM-DD HH:mm:ss".into()),
        number_format: options.number_format.unwrap_or_else(|| "0.00".into()),
    })
}

async fn create_task(
    state: &AppState,
    principal: &Principal,
    request: ExportRequest,
) -> Result<JobRow, HistoryError> {
    let order = order(state, request).await?;
    Ok(tasks::queue(
        &state.pool,
        &state.jobs.exports,
        &principal.name,
        order,
        Utc::now(),
    )
    .await?)
}

async fn visible_job(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<JobRow, HistoryError> {
    Ok(tasks::visible(
        &state.pool,
        &principal.name,
        principal.has(Scope::Admin),
        id,
    )
    .await?)
}

/// `GET /export/{id}`
pub async fn status(
    RequireScope(principal, _): RequireScope<VmRead, HistoryError>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Answer<ExportTask>>, HistoryError> {
    Ok(history_success(
        visible_job(&state, &principal, &id).await?.to_task(),
    ))
}

/// `GET /export/{id}/download`: the file, streamed.
pub async fn download(
    RequireScope(principal, _): RequireScope<VmRead, HistoryError>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, HistoryError> {
    let job = visible_job(&state, &principal, &id).await?;
    if job.status != "completed" {
        return Err(HistoryError::BadRequest(format!(
            "export `{id}` is {} ({} of {} records); download it once it is completed",
            job.status, job.processed, job.total
        )));
    }
    let format = FileFormat::parse(&job.format)
        .ok_or_else(|| HistoryError::Internal(anyhow::anyhow!("stored format `{}`", job.format)))?;
    let path = job.file_path.as_deref().ok_or_else(|| {
        HistoryError::Internal(anyhow::anyhow!("completed export without a file"))
    })?;
    let file = match tokio::fs::File::open(path).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(HistoryError::ExportNotFound(format!(
                "the file of export `{id}` is gone"
            )))
        }
        Err(e) => return Err(HistoryError::Internal(e.into())),
    };
    let length = file
        .metadata()
        .await
        .map_err(|e| HistoryError::Internal(e.into()))?
        .len();
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    // The stored name is already restricted to [A-Za-z0-9._-], so it needs no escaping.
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", job.filename))
    {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
