//! `GET/POST /api/v1/history/timeline/{vmId}`: one VM's anomalies, power changes (data gaps and
//! reboots), manual notes and maintenance, newest first and paginated.
use super::{
    history::{resolve_hosts, MAX_PAGE_SIZE, RAW_RETENTION_DAYS},
    history_error::{history_success, HistoryError, HistoryJson},
};
use crate::{
    auth::{AlertsWrite, RequireScope, VmRead},
    detect,
    state::AppState,
    storage::timeline::{self, NewEvent, GAP_INTERVALS},
};
use app::models::{StateChange, TimelineEvent, TimelineMetric};
use axum::{
    extract::{rejection::QueryRejection, Path, Query, State},
    Json,
};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

const TYPES: [&str; 5] = ["metric_alert", "power_change", "anomaly", "manual", "maintenance"];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineQuery {
    start_time: Option<String>,
    end_time: Option<String>,
    types: Option<String>,
    page: Option<i64>,
    page_size: Option<i64>,
}

fn instant(text: Option<&str>, field: &str, default: DateTime<Utc>) -> Result<DateTime<Utc>, HistoryError> {
    match text {
        None => Ok(default),
        Some(t) => super::history::parse_instant(Some(&json!(t)), field),
    }
}

fn power_event(vm_id: &str, at: DateTime<Utc>, off: bool, gap: Option<(DateTime<Utc>, DateTime<Utc>)>) -> TimelineEvent {
    let (from, to) = if off { ("poweredOn", "poweredOff") } else { ("poweredOff", "poweredOn") };
    let description = match gap {
        Some((a, b)) => {
            let minutes = (b - a).num_minutes();
            format!("no data for {} h {} min ({} – {})", minutes / 60, minutes % 60, a.format("%Y-%m-%d %H:%M"), b.format("%Y-%m-%d %H:%M"))
        }
        None => "no data since this time".to_string(),
    };
    TimelineEvent {
        id: format!("power_{}_{}", at.timestamp(), if off { "off" } else { "on" }),
        vm_id: vm_id.into(),
        timestamp: at,
        kind: "power_change".into(),
        title: if off { "VM stopped reporting".into() } else { "VM reporting again".into() },
        description: Some(description),
        metric_data: None,
        state_change: Some(StateChange { from: from.into(), to: to.into() }),
        severity: None,
        acknowledged: false,
        created_by: None,
        created_at: at,
    }
}

/// `GET /timeline/{vmId}?startTime&endTime&types&page&pageSize`
pub async fn list(
    _: RequireScope<VmRead, HistoryError>,
    State(state): State<AppState>,
    Path(vm_id): Path<String>,
    query: Result<Query<TimelineQuery>, QueryRejection>,
) -> Result<Json<Value>, HistoryError> {
    let Query(query) = query.map_err(|e| HistoryError::BadRequest(e.body_text()))?;
    let now = Utc::now();
    let end = instant(query.end_time.as_deref(), "endTime", now)?;
    let start = instant(query.start_time.as_deref(), "startTime", end - Duration::days(7))?;
    crate::history::check_range(start, end, now)?;
    let types: Vec<String> = match query.types.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => TYPES.iter().map(|t| (*t).to_string()).collect(),
        Some(list) => list
            .split(',')
            .map(|t| {
                let t = t.trim();
                if TYPES.contains(&t) {
                    Ok(t.to_string())
                } else {
                    Err(HistoryError::BadRequest(format!("unknown event type `{t}`; use {}", TYPES.join(", "))))
                }
            })
            .collect::<Result<_, _>>()?,
    };
    let page = query.page.unwrap_or(1);
    let page_size = query.page_size.unwrap_or(100);
    if page < 1 || !(1..=MAX_PAGE_SIZE).contains(&page_size) {
        return Err(HistoryError::BadRequest(format!("`page` starts at 1 and `pageSize` is 1 to {MAX_PAGE_SIZE}")));
    }
    let hosts = resolve_hosts(&state, Some(std::slice::from_ref(&vm_id)), None, None).await?;
    let (host_id, vm_id, vm_name) = hosts.into_iter().next().ok_or_else(|| HistoryError::NotFound(format!("unknown vmIds: {vm_id}")))?;
    let wants = |t: &str| types.iter().any(|x| x == t);

    let mut events: Vec<TimelineEvent> = Vec::new();
    if wants("anomaly") {
        for a in detect::of_host(&state.pool, host_id, &vm_id, &vm_name, start, end).await? {
            let minutes = a.duration / 60;
            events.push(TimelineEvent {
                id: a.id.clone(),
                vm_id: vm_id.clone(),
                timestamp: a.timestamp,
                kind: "anomaly".into(),
                title: format!("{} {}", a.series, a.kind.replace('_', " ")),
                description: Some(format!("{} at {} against a usual {} ({:+.0} %), {minutes} min", a.series, a.value, a.baseline, a.deviation)),
                metric_data: Some(TimelineMetric { metric: a.metric.clone(), value: a.value, threshold: None, baseline: Some(a.baseline) }),
                state_change: None,
                severity: Some(a.severity.clone()),
                acknowledged: a.status != "active",
                created_by: None,
                created_at: a.created_at,
            });
        }
    }
    let stored = timeline::stored(&state.pool, host_id, &vm_id, start, end).await?;
    events.extend(stored.into_iter().filter(|e| wants(&e.kind)));
    if wants("power_change") {
        let raw_since = now - Duration::days(RAW_RETENTION_DAYS);
        let (gaps, typical, last) = timeline::gaps(&state.pool, host_id, start, end, raw_since).await?;
        for (before, after) in gaps {
            for (at, off) in [(before, true), (after, false)] {
                if at >= start && at <= end {
                    events.push(power_event(&vm_id, at, off, Some((before, after))));
                }
            }
        }
        // Silent now for longer than the gap rule allows: it is off (or unreachable) at present.
        if let (Some(last), Some(typical)) = (last, typical) {
            if last >= start && (end.min(now) - last).num_milliseconds() as f64 / 1000.0 > GAP_INTERVALS * typical {
                events.push(power_event(&vm_id, last, true, None));
            }
        }
    }
    if wants("metric_alert") {
        for row in crate::alerts::store::of_host(&state.pool, host_id, start, end).await? {
            let alert = row.to_model();
            events.push(TimelineEvent {
                id: alert.id.clone(),
                vm_id: vm_id.clone(),
                timestamp: row.triggered_at,
                kind: "metric_alert".into(),
                title: alert.title.clone(),
                description: Some(match &alert.resolved_at {
                    Some(at) => format!("{} — resolved at {} ({})", alert.message, at.to_rfc3339(), alert.resolution.clone().unwrap_or_default()),
                    None => alert.message.clone(),
                }),
                metric_data: Some(TimelineMetric { metric: alert.metric.clone(), value: alert.value, threshold: Some(alert.threshold), baseline: None }),
                state_change: None,
                severity: Some(match alert.level.as_str() { "critical" => "critical", "warning" => "medium", _ => "low" }.into()),
                acknowledged: alert.status == "resolved",
                created_by: alert.resolved_by.clone(),
                created_at: alert.created_at,
            });
        }
    }
    events.sort_by(|a, b| b.timestamp.cmp(&a.timestamp).then_with(|| a.id.cmp(&b.id)));
    let total = events.len();
    let skip = usize::try_from((page - 1) * page_size).unwrap_or(usize::MAX);
    let page_events: Vec<TimelineEvent> = events.into_iter().skip(skip).take(page_size as usize).collect();
    Ok(history_success(json!({
        "events": page_events,
        "total": total,
        "pagination": {"page": page, "pageSize": page_size, "total": total},
    })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewTimelineEvent {
    #[serde(rename = "type")]
    kind: String,
    title: String,
    description: Option<String>,
    timestamp: Option<Value>,
    severity: Option<String>,
}

/// `POST /timeline/{vmId}`: a manual note or a maintenance window, by the caller.
pub async fn add(
    RequireScope(principal, _): RequireScope<AlertsWrite, HistoryError>,
    State(state): State<AppState>,
    Path(vm_id): Path<String>,
    HistoryJson(request): HistoryJson<NewTimelineEvent>,
) -> Result<Json<Value>, HistoryError> {
    if request.kind != "manual" && request.kind != "maintenance" {
        return Err(HistoryError::BadRequest("`type` must be manual or maintenance (other events are recorded by the server)".into()));
    }
    let title = request.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(HistoryError::BadRequest("`title` must be 1 to 200 characters".into()));
    }
    if request.description.as_ref().is_some_and(|d| d.chars().count() > 2000) {
        return Err(HistoryError::BadRequest("`description` is limited to 2000 characters".into()));
    }
    if let Some(severity) = &request.severity {
        if !["low", "medium", "high", "critical"].contains(&severity.as_str()) {
            return Err(HistoryError::BadRequest("`severity` must be low, medium, high or critical".into()));
        }
    }
    let now = Utc::now();
    let ts = match &request.timestamp {
        None => now,
        Some(value) => super::history::parse_instant(Some(value), "timestamp")?,
    };
    // Maintenance may be planned ahead, up to a year.
    if ts < now - Duration::days(730) || ts > now + Duration::days(366) {
        return Err(HistoryError::InvalidTime("`timestamp` must be within two years back and one year ahead".into()));
    }
    let hosts = resolve_hosts(&state, Some(std::slice::from_ref(&vm_id)), None, None).await?;
    let (host_id, vm_id, _) = hosts.into_iter().next().ok_or_else(|| HistoryError::NotFound(format!("unknown vmIds: {vm_id}")))?;
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
        },
    )
    .await?;
    Ok(history_success(event))
}
