//! `/api/v1/performance/alerts` and `/alerts/rules`: rule management, the alert list, manual resolve.
use crate::error::Success;
use crate::{
    alerts::{
        payload,
        rules::{self, RuleSpec},
        store::{self, AlertFilter},
        webhook,
    },
    auth::{AlertsWrite, RequireScope, VmRead},
    error::{success, ApiError, ApiJson, ApiQuery},
    state::AppState,
    storage::hosts,
};
use app::models::{
    AlertList, AlertResolved, AlertRule, LiveEvent, RuleCreated, RuleDeleted, RuleList, RuleUpdated,
};
use axum::{
    extract::{Path, State},
    Json,
};
use rand::{distributions::Alphanumeric, Rng};
use serde::Deserialize;
use serde_json::Value;

const ALERT_TYPES: [&str; 6] = ["cpu", "memory", "disk", "network", "system", "custom"];
const MAX_LIMIT: i64 = 1000;

fn rule_id(text: &str) -> Result<i64, ApiError> {
    store::parse_id(text, "rule_")
        .ok_or_else(|| ApiError::RuleNotFound(format!("no alert rule with id `{text}`")))
}

/// Checks what only the server can check (the host exists, the webhook may be reached), adds a
/// webhook secret when one is needed, and stores the rule.
async fn save(
    state: &AppState,
    id: Option<i64>,
    mut spec: RuleSpec,
) -> Result<(i64, Option<String>), ApiError> {
    let host_id = match &spec.host {
        None => None,
        Some(vm_id) => Some(
            hosts::find(&state.pool, vm_id)
                .await?
                .ok_or_else(|| {
                    ApiError::RuleCreationFailed(format!("`host` `{vm_id}` is not a known host"))
                })?
                .id,
        ),
    };
    if let Some(url) = &spec.webhook_url {
        webhook::check_destination(url, state.settings.webhooks.allow_private)
            .await
            .map_err(|e| ApiError::RuleCreationFailed(format!("`webhook_url`: {e}")))?;
    }
    let mut new_secret = None;
    if spec.webhook_url.is_some() && spec.webhook_secret.is_none() {
        let secret: String = rand::thread_rng()
            .sample_iter(&Alphanumeric)
            .take(40)
            .map(char::from)
            .collect();
        spec.webhook_secret = Some(secret.clone());
        new_secret = Some(secret);
    }
    match store::save_rule(&state.pool, id, &spec, host_id).await {
        Ok(Some(saved)) => {
            state.alerts.rules_changed().await;
            Ok((saved, new_secret))
        }
        Ok(None) => Err(ApiError::RuleNotFound(format!(
            "no alert rule with id `rule_{}`",
            id.unwrap_or_default()
        ))),
        Err(e) if store::is_unique_violation(&e) => Err(ApiError::RuleCreationFailed(format!(
            "`name`: a rule named `{}` already exists",
            spec.name
        ))),
        Err(e) => Err(e.into()),
    }
}

/// `POST /alerts/rules`
pub async fn create_rule(
    _: RequireScope<AlertsWrite>,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Success<RuleCreated>>, ApiError> {
    let spec = rules::apply(RuleSpec::default(), &body).map_err(ApiError::RuleCreationFailed)?;
    let (id, secret) = save(&state, None, spec).await?;
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
    let stored = store::rule(&state.pool, numeric)
        .await?
        .ok_or_else(|| ApiError::RuleNotFound(format!("no alert rule with id `{id}`")))?;
    let spec = rules::apply(stored.to_spec(), &body).map_err(ApiError::RuleCreationFailed)?;
    let (_, secret) = save(&state, Some(numeric), spec).await?;
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
    if !store::delete_rule(&state.pool, rule_id(&id)?).await? {
        return Err(ApiError::RuleNotFound(format!(
            "no alert rule with id `{id}`"
        )));
    }
    state.alerts.rules_changed().await;
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
    let mut tx = state.pool.begin().await?;
    let Some(row) = store::resolve_alert(
        &mut *tx,
        numeric,
        chrono::Utc::now(),
        resolution,
        resolved_by,
    )
    .await?
    else {
        tx.rollback().await?;
        return match store::alert(&state.pool, numeric).await? {
            Some(_) => Err(ApiError::Conflict(format!(
                "alert `{id}` is already resolved"
            ))),
            None => Err(ApiError::NotFound(format!("no alert with id `{id}`"))),
        };
    };
    let alert = row.to_model();
    let rule = match row.rule_id {
        Some(rule_id) => store::rule(&state.pool, rule_id).await?,
        None => None,
    };
    if let Some(rule) = &rule {
        store::queue_delivery(
            &mut *tx,
            row.id,
            "alert_resolved",
            rule,
            &payload("alert_resolved", &alert, rule),
        )
        .await?;
    }
    tx.commit().await?;
    if let Some(rule_id) = row.rule_id {
        state.alerts.resolved(rule_id, row.host_id).await;
    }
    state.alerts.deliveries.notify_one();
    tracing::info!(target: "lookout::alert", alert = alert.id, resolved_by, resolution, "Alert resolved by a person.");
    state.hub.publish(&LiveEvent::AlertResolved {
        alert: alert.clone(),
    });
    Ok(success(AlertResolved {
        resolved: true,
        resolved_at: alert.resolved_at,
        alert,
    }))
}
