//! `/api/v1/performance/alerts` and `/alerts/rules`: rule management, the alert list, manual resolve.
use crate::error::Success;
use crate::{
    alerts::{
        manage::{ChangeError, MissingSecret, SavedRule},
        rules,
        store::{self, AlertFilter},
    },
    auth::{AlertsWrite, RequireScope, VmRead},
    error::{success, ApiError, ApiJson, ApiQuery},
    state::AppState,
    storage::hosts,
};
use app::models::{
    AlertList, AlertResolved, AlertRule, RuleCreated, RuleDeleted, RuleList, RuleUpdated,
};
use axum::{
    extract::{Path, State},
    Json,
};
use serde::Deserialize;
use serde_json::Value;

const ALERT_TYPES: [&str; 6] = ["cpu", "memory", "disk", "network", "system", "custom"];
const MAX_LIMIT: i64 = 1000;

fn rule_id(text: &str) -> Result<i64, ApiError> {
    store::parse_id(text, "rule_")
        .ok_or_else(|| ApiError::RuleNotFound(format!("no alert rule with id `{text}`")))
}

impl From<ChangeError> for ApiError {
    fn from(error: ChangeError) -> Self {
        match error {
            ChangeError::InvalidRule(message) => ApiError::RuleCreationFailed(message),
            e @ ChangeError::RuleNotFound(_) => ApiError::RuleNotFound(e.to_string()),
            e @ ChangeError::SecretNeeded => ApiError::RuleCreationFailed(e.to_string()),
            e @ ChangeError::AlertNotFound(_) => ApiError::NotFound(e.to_string()),
            e @ ChangeError::AlreadyResolved(_) => ApiError::Conflict(e.to_string()),
            ChangeError::Database(e) => e.into(),
        }
    }
}

/// `POST /alerts/rules`
pub async fn create_rule(
    _: RequireScope<AlertsWrite>,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Success<RuleCreated>>, ApiError> {
    let SavedRule { id, secret, .. } = state
        .alerting()
        .apply_and_save(None, &body, MissingSecret::Generate)
        .await?;
    let rule = store::rule(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::RuleNotFound(format!("rule_{id} vanished")))?;
    Ok(success(RuleCreated {
        rule_id: format!("rule_{id}"),
        created_at: rule.created_at,
        rule: rule.to_model(),
        // Shown once: receivers need it to check the signature header.
        webhook_secret: secret,
    }))
}

/// `GET /alerts/rules`
pub async fn list_rules(
    _: RequireScope<VmRead>,
    State(state): State<AppState>,
) -> Result<Json<Success<RuleList>>, ApiError> {
    let rules: Vec<_> = store::rules(&state.pool)
        .await?
        .iter()
        .map(store::RuleRow::to_model)
        .collect();
    Ok(success(RuleList {
        rules,
        metrics: app::catalog::watchable()
            .map(|m| m.name.to_owned())
            .collect(),
    }))
}

/// `GET /alerts/rules/{rule_id}`
pub async fn get_rule(
    _: RequireScope<VmRead>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Success<AlertRule>>, ApiError> {
    let rule = store::rule(&state.pool, rule_id(&id)?)
        .await?
        .ok_or_else(|| ApiError::RuleNotFound(format!("no alert rule with id `{id}`")))?;
    Ok(success(rule.to_model()))
}

/// `PUT /alerts/rules/{rule_id}`: the fields given replace the stored ones.
pub async fn update_rule(
    _: RequireScope<AlertsWrite>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Success<RuleUpdated>>, ApiError> {
    let numeric = rule_id(&id)?;
    let SavedRule { secret, .. } = state
        .alerting()
        .apply_and_save(Some(numeric), &body, MissingSecret::Generate)
        .await?;
    let rule = store::rule(&state.pool, numeric)
        .await?
        .ok_or_else(|| ApiError::RuleNotFound(format!("no alert rule with id `{id}`")))?;
    Ok(success(RuleUpdated {
        rule: rule.to_model(),
        updated_at: rule.updated_at,
        webhook_secret: secret,
    }))
}

/// `DELETE /alerts/rules/{rule_id}`: its alerts stay, without a rule.
pub async fn delete_rule(
    _: RequireScope<AlertsWrite>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Success<RuleDeleted>>, ApiError> {
    state.alerting().delete_rule(rule_id(&id)?).await?;
    Ok(success(RuleDeleted {
        deleted: true,
        rule_id: id,
    }))
}

#[derive(Debug, Deserialize)]
pub struct AlertQuery {
    level: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    limit: Option<i64>,
    resolved: Option<bool>,
    host: Option<String>,
}

/// `GET /alerts?level&type&limit&resolved&host`: newest first; `resolved=true` includes resolved
/// alerts. The summary counts every alert matching level, type and host.
pub async fn list_alerts(
    _: RequireScope<VmRead>,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AlertQuery>,
) -> Result<Json<Success<AlertList>>, ApiError> {
    if let Some(level) = query
        .level
        .as_deref()
        .filter(|l| !rules::LEVELS.contains(l))
    {
        return Err(ApiError::Validation(format!(
            "`level` must be info, warning or critical, got `{level}`"
        )));
    }
    if let Some(kind) = query.kind.as_deref().filter(|k| !ALERT_TYPES.contains(k)) {
        return Err(ApiError::Validation(format!(
            "`type` must be one of {}, got `{kind}`",
            ALERT_TYPES.join(", ")
        )));
    }
    let limit = query.limit.unwrap_or(20);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::Validation(format!(
            "`limit` must be between 1 and {MAX_LIMIT}, got {limit}"
        )));
    }
    let host_id = match query.host.as_deref() {
        None => None,
        Some(vm_id) => Some(
            hosts::find(&state.pool, vm_id)
                .await?
                .ok_or_else(|| ApiError::HostNotFound(format!("no host with id `{vm_id}`")))?
                .id,
        ),
    };
    let filter = AlertFilter {
        level: query.level.as_deref(),
        kind: query.kind.as_deref(),
        host_id,
        include_resolved: query.resolved.unwrap_or(false),
        limit,
        most_severe_first: false,
    };
    let (rows, summary) = store::list_alerts(&state.pool, &filter).await?;
    Ok(success(AlertList {
        alerts: rows.iter().map(store::AlertRow::to_model).collect(),
        summary,
    }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    resolution: Option<String>,
    resolved_by: Option<String>,
}

/// `POST /alerts/{alert_id}/resolve`
pub async fn resolve_alert(
    RequireScope(principal, _): RequireScope<AlertsWrite>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Success<AlertResolved>>, ApiError> {
    // The body is optional: an empty one resolves with the defaults.
    let request: ResolveRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ResolveRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::Validation(format!("invalid JSON body: {e}")))?
    };
    let resolution = request
        .resolution
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .unwrap_or("resolved manually");
    let resolved_by = request
        .resolved_by
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .unwrap_or(&principal.name);
    if resolution.chars().count() > 2000 || resolved_by.chars().count() > 200 {
        return Err(ApiError::Validation(
            "`resolution` is limited to 2000 characters and `resolved_by` to 200".into(),
        ));
    }
    let numeric = store::parse_id(&id, "alert_")
        .ok_or_else(|| ApiError::NotFound(format!("no alert with id `{id}`")))?;
    let alert = state
        .alerting()
        .resolve(numeric, chrono::Utc::now(), resolution, resolved_by)
        .await?;
    Ok(success(AlertResolved {
        resolved: true,
        resolved_at: alert.resolved_at,
        alert,
    }))
}
