//! `/api/v1/history/export`: create an export task (checked and counted before any work), follow
//! its progress, download the file. Only the creator or an admin may see a task.
use super::{
    history::{self, check_tier, parse_groups, parse_range, resolve_hosts, Aggregation, Func, Query},
    history_error::{history_accepted, history_success, HistoryError, HistoryJson},
};
use crate::{
    auth::{Principal, RequireScope, Scope, VmRead},
    export::{
        self,
        format::{columns, sanitize_filename, DateFormat, FileFormat, NumberFormat},
        ExportSpec, JobRow, NewJob,
    },
    state::AppState,
};
use axum::{
    body::Body,
    extract::{Path, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use chrono::Utc;
use rand::{distributions::Alphanumeric, Rng};
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
    Ok(history_accepted(create_task(&state, &principal, request).await?.to_task()))
}

/// Checks an export request, counts its records and queues it (also used by the exports page).
pub async fn create_task(state: &AppState, principal: &Principal, request: ExportRequest) -> Result<JobRow, HistoryError> {
    let now = Utc::now();
    let format_text = request.format.as_deref().unwrap_or_default();
    let format = FileFormat::parse(format_text).ok_or_else(|| HistoryError::BadRequest(format!("`format` must be csv, excel or json, got `{format_text}`")))?;
    let (start, end) = parse_range(request.start_time.as_ref(), request.end_time.as_ref(), now)?;
    let aggregation_text = request.aggregation.as_deref().unwrap_or("1h");
    let aggregation = Aggregation::parse(aggregation_text)
        .ok_or_else(|| HistoryError::BadRequest(format!("unknown aggregation `{aggregation_text}`; use raw, 1m, 5m, 15m, 1h or 1d")))?;
    let func_text = request.aggregation_func.as_deref().unwrap_or("avg");
    let func = Func::parse(func_text).ok_or_else(|| HistoryError::BadRequest(format!("unknown aggregationFunc `{func_text}`")))?;
    check_tier(aggregation, start, end, now)?;
    let groups = parse_groups(request.metrics.as_deref())?;
    let available = columns(&groups);
    let selected = match request.fields.as_deref().filter(|f| !f.is_empty()) {
        None => available.clone(),
        Some(fields) => {
            let mut selected = Vec::new();
            for field in fields {
                if !available.contains(field) {
                    return Err(HistoryError::BadRequest(format!("unknown field `{field}`; available: {}", available.join(", "))));
                }
                if !selected.contains(field) {
                    selected.push(field.clone());
                }
            }
            selected
        }
    };
    let options = &request.options;
    let timezone = options.timezone.as_deref().unwrap_or("UTC");
    timezone.parse::<chrono_tz::Tz>().map_err(|_| HistoryError::BadRequest(format!("`options.timezone` `{timezone}` is not an IANA time zone (e.g. Asia/Shanghai)")))?;
    let date = DateFormat::parse(options.date_format.as_deref().unwrap_or("YYYY-MM-DD HH:mm:ss")).map_err(HistoryError::BadRequest)?;
    let number = NumberFormat::parse(options.number_format.as_deref().unwrap_or("0.00")).map_err(HistoryError::BadRequest)?;
    let hosts = resolve_hosts(state, request.vm_ids.as_deref(), request.group_id.as_deref(), None).await?;

    // Counted before any work: one point's page also returns the total.
    let probe = Query { hosts: hosts.clone(), groups: groups.clone(), start, end, aggregation, func, page: 1, page_size: 1 };
    let (_, total) = history::points(&state.pool, &probe).await?;
    if total > export::MAX_RECORDS {
        return Err(HistoryError::LimitExceeded(format!(
            "the export would have {total} records; at most {} are allowed (narrow the range, the hosts or use a coarser aggregation)",
            export::MAX_RECORDS
        )));
    }
    let id = format!("export_{}_{}", now.format("%Y%m%d"), rand::thread_rng().sample_iter(&Alphanumeric).take(10).map(char::from).collect::<String>().to_lowercase());
    let fallback = format!("vm_history_{}_{}", start.format("%Y%m%d"), end.format("%Y%m%d"));
    let filename = sanitize_filename(request.filename.as_deref(), format, &fallback);
    let spec = ExportSpec {
        hosts,
        groups: groups.iter().map(|g| g.name().to_owned()).collect(),
        start,
        end,
        aggregation: aggregation_text.to_owned(),
        func: func_text.to_owned(),
        format,
        columns: selected,
        include_headers: options.include_headers.unwrap_or(true),
        timezone: timezone.to_owned(),
        date,
        number,
    };
    let job = export::create(&state.pool, &NewJob { id: &id, spec: &spec, filename: &filename, total, created_by: &principal.name }).await?;
    state.jobs.exports.notify_one();
    Ok(job)
}

/// The job if it exists, has not expired and the caller may see it.
pub async fn visible_job(state: &AppState, principal: &Principal, id: &str) -> Result<JobRow, HistoryError> {
    let not_found = || HistoryError::ExportNotFound(format!("no export task `{id}` (unknown, or expired after {} days)", export::KEEP_DAYS));
    let job = export::job(&state.pool, id).await?.ok_or_else(not_found)?;
    if job.is_expired(Utc::now()) {
        return Err(not_found());
    }
    if job.created_by != principal.name && !principal.has(Scope::Admin) {
        return Err(HistoryError::Forbidden("only the creator of an export or an admin may read it".into()));
    }
    Ok(job)
}

/// `GET /export/{id}`
pub async fn status(
    RequireScope(principal, _): RequireScope<VmRead, HistoryError>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, HistoryError> {
    Ok(history_success(visible_job(&state, &principal, &id).await?.to_task()))
}

/// `GET /export/{id}/download`: the file, streamed.
pub async fn download(
    RequireScope(principal, _): RequireScope<VmRead, HistoryError>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, HistoryError> {
    let job = visible_job(&state, &principal, &id).await?;
    if job.status != "completed" {
        return Err(HistoryError::BadRequest(format!("export `{id}` is {} ({} of {} records); download it once it is completed", job.status, job.processed, job.total)));
    }
    let format = FileFormat::parse(&job.format).ok_or_else(|| HistoryError::Internal(anyhow::anyhow!("stored format `{}`", job.format)))?;
    let path = job.file_path.as_deref().ok_or_else(|| HistoryError::Internal(anyhow::anyhow!("completed export without a file")))?;
    let file = match tokio::fs::File::open(path).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(HistoryError::ExportNotFound(format!("the file of export `{id}` is gone"))),
        Err(e) => return Err(HistoryError::Internal(e.into())),
    };
    let length = file.metadata().await.map_err(|e| HistoryError::Internal(e.into()))?.len();
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    // The stored name is already restricted to [A-Za-z0-9._-], so it needs no escaping.
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", job.filename)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
