//! `GET/POST /api/v1/history/timeline/{vmId}`: one VM's anomalies, power changes (data gaps and
//! reboots), manual notes and maintenance, newest first and paginated.
use super::{
    history::{resolve_hosts, MAX_PAGE_SIZE},
    history_error::{history_success, HistoryError, HistoryJson},
};
use crate::api::history_error::Answer;
use crate::storage::hosts::HostRef;
use crate::{
    auth::{AlertsWrite, RequireScope, VmRead},
    state::AppState,
    storage::timeline::{self, NewEvent},
};
use app::models::{Pagination, TimelineEvent, TimelinePage};
use axum::{
    extract::{rejection::QueryRejection, Path, Query, State},
    Json,
};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::timeline::TYPES;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineQuery {
    start_time: Option<String>,
    end_time: Option<String>,
    types: Option<String>,
    page: Option<i64>,
    page_size: Option<i64>,
}

fn instant(
    text: Option<&str>,
    field: &str,
    default: DateTime<Utc>,
) -> Result<DateTime<Utc>, HistoryError> {
    match text {
        None => Ok(default),
        Some(t) => super::history::parse_instant(Some(&json!(t)), field),
    }
}

/// `GET /timeline/{vmId}?startTime&endTime&types&page&pageSize`
pub async fn list(
    _: RequireScope<VmRead, HistoryError>,
    State(state): State<AppState>,
    Path(vm_id): Path<String>,
    query: Result<Query<TimelineQuery>, QueryRejection>,
) -> Result<Json<Answer<TimelinePage>>, HistoryError> {
    let Query(query) = query.map_err(|e| HistoryError::BadRequest(e.body_text()))?;
    let now = Utc::now();
    let end = instant(query.end_time.as_deref(), "endTime", now)?;
    let start = instant(
        query.start_time.as_deref(),
        "startTime",
        end - Duration::days(7),
    )?;
    crate::history::check_range(start, end, now)?;
    let types: Vec<String> = match query
        .types
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        None => TYPES.iter().map(|t| (*t).to_string()).collect(),
        Some(list) => list
            .split(',')
            .map(|t| {
                let t = t.trim();
                if TYPES.contains(&t) {
                    Ok(t.to_string())
                } else {
                    Err(HistoryError::BadRequest(format!(
                        "unknown event type `{t}`; use {}",
                        TYPES.join(", ")
                    )))
                }
            })
            .collect::<Result<_, _>>()?,
    };
    let page = query.page.unwrap_or(1);
    let page_size = query.page_size.unwrap_or(100);
    if page < 1 || !(1..=MAX_PAGE_SIZE).contains(&page_size) {
        return Err(HistoryError::BadRequest(format!(
            "`page` starts at 1 and `pageSize` is 1 to {MAX_PAGE_SIZE}"
        )));
    }
    let hosts = resolve_hosts(&state, Some(std::slice::from_ref(&vm_id)), None, None).await?;
    let host = hosts
        .into_iter()
        .next()
        .ok_or_else(|| HistoryError::NotFound(format!("unknown vmIds: {vm_id}")))?;
    let types: Vec<&str> = types.iter().map(String::as_str).collect();
    let events = crate::timeline::events(&state.pool, &host, start, end, &types, now).await?;
    let total = events.len();
    let skip = usize::try_from((page - 1) * page_size).unwrap_or(usize::MAX);
    let page_events: Vec<TimelineEvent> = events
        .into_iter()
        .skip(skip)
        .take(page_size as usize)
        .collect();
    Ok(history_success(TimelinePage {
        events: page_events,
        total: total as i64,
        pagination: Pagination::new(page, page_size, total as i64),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewTimelineEvent {
    #[serde(rename = "type")]
    kind: String,
    title: String,
    description: Option<String>,
    timestamp: Option<Value>,
    /// Where a span ends (an extension: a maintenance window, a selection on a chart).
    end_time: Option<Value>,
    severity: Option<String>,
}

/// `POST /timeline/{vmId}`: a manual note or a maintenance window, by the caller.
pub async fn add(
    RequireScope(principal, _): RequireScope<AlertsWrite, HistoryError>,
    State(state): State<AppState>,
    Path(vm_id): Path<String>,
    HistoryJson(request): HistoryJson<NewTimelineEvent>,
) -> Result<Json<Answer<TimelineEvent>>, HistoryError> {
    if request.kind != "manual" && request.kind != "maintenance" {
        return Err(HistoryError::BadRequest(
            "`type` must be manual or maintenance (other events are recorded by the server)".into(),
        ));
    }
    let title = request.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(HistoryError::BadRequest(
            "`title` must be 1 to 200 characters".into(),
        ));
    }
    if request
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 2000)
    {
        return Err(HistoryError::BadRequest(
            "`description` is limited to 2000 characters".into(),
        ));
    }
    if let Some(severity) = &request.severity {
        if !["low", "medium", "high", "critical"].contains(&severity.as_str()) {
            return Err(HistoryError::BadRequest(
                "`severity` must be low, medium, high or critical".into(),
            ));
        }
    }
    let now = Utc::now();
    let ts = match &request.timestamp {
        None => now,
        Some(value) => super::history::parse_instant(Some(value), "timestamp")?,
    };
    // Maintenance may be planned ahead, up to a year.
    if ts < now - Duration::days(730) || ts > now + Duration::days(366) {
        return Err(HistoryError::InvalidTime(
            "`timestamp` must be within two years back and one year ahead".into(),
        ));
    }
    let ends_at = match &request.end_time {
        None | Some(Value::Null) => None,
        Some(value) => Some(super::history::parse_instant(Some(value), "endTime")?),
    };
    if let Some(ends) = ends_at {
        if ends < ts || ends - ts > Duration::days(366) {
            return Err(HistoryError::InvalidTime(
                "`endTime` must be after `timestamp` and at most a year later".into(),
            ));
        }
    }
    let hosts = resolve_hosts(&state, Some(std::slice::from_ref(&vm_id)), None, None).await?;
    let HostRef {
        id: host_id, vm_id, ..
    } = hosts
        .into_iter()
        .next()
        .ok_or_else(|| HistoryError::NotFound(format!("unknown vmIds: {vm_id}")))?;
    let event = timeline::add(
        &state.pool,
        &vm_id,
        &NewEvent {
            host_id,
            ts,
            kind: &request.kind,
            title,
            description: request.description.as_deref(),
            severity: request.severity.as_deref(),
            state: None,
            created_by: Some(&principal.name),
            ends_at,
        },
    )
    .await?;
    Ok(history_success(event))
}
