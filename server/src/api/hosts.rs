//! `/api/v1/hosts`: the inventory of monitored hosts (the local one and every host that sent samples).
use super::history_error::{history_success, HistoryError, HistoryJson};
use crate::api::history_error::Answer;
use crate::{
    auth::{AdminOnly, RequireScope, VmRead},
    state::AppState,
};
use app::models::Pagination;
use axum::{
    extract::{Path, Query, State},
    Json,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `data` of `GET /api/v1/hosts`.
#[derive(Debug, Serialize)]
pub struct HostList {
    hosts: Vec<HostView>,
    pagination: Pagination,
}

/// A host whose last sample is older than this is reported powered off.
use crate::storage::hosts::POWERED_OFF_AFTER_SECS;

#[derive(Debug, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct HostView {
    vm_id: String,
    name: String,
    group_id: Option<String>,
    cluster_id: Option<String>,
    hostname: Option<String>,
    platform: Option<String>,
    platform_version: Option<String>,
    architecture: Option<String>,
    cpu_model: Option<String>,
    cpu_cores: Option<i32>,
    memory_total: Option<i64>,
    boot_time: Option<DateTime<Utc>>,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    power_state: String,
    /// Server receipt minus the agent's send time of its last batch (agents only).
    clock_skew_ms: Option<i32>,
    /// `|clockSkewMs|` above 5 minutes.
    clock_skew_flagged: bool,
    /// Since when the host has been silent (no sample for 5 minutes), if it is.
    silent_since: Option<DateTime<Utc>>,
    agent_version: Option<String>,
    /// Enrolled through `lookout agent` (bound to the machine it enrolled from).
    enrolled: bool,
}

const SELECT_HOST: &str = "SELECT vm_id, name, group_id, cluster_id, hostname, platform, platform_version, architecture,
    cpu_model, cpu_cores, memory_total, boot_time, first_seen, last_seen,
    CASE WHEN last_seen >= now() - make_interval(secs => $1) THEN 'poweredOn' ELSE 'poweredOff' END AS power_state,
    clock_skew_ms, coalesce(abs(clock_skew_ms) > 300000, false) AS clock_skew_flagged, silent_since, agent_version,
    machine_key IS NOT NULL AS enrolled
    FROM hosts";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    group_id: Option<String>,
    cluster_id: Option<String>,
    page: Option<i64>,
    page_size: Option<i64>,
}

/// `GET /api/v1/hosts?groupId=&clusterId=&page=&pageSize=`
pub async fn list(
    _: RequireScope<VmRead, HistoryError>,
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Answer<HostList>>, HistoryError> {
    let Query(query) = query.map_err(|e| {
        HistoryError::BadRequest(format!("invalid query string: {}", e.body_text()))
    })?;
    let page = query.page.unwrap_or(1);
    let page_size = query.page_size.unwrap_or(100);
    if page < 1 || !(1..=1000).contains(&page_size) {
        return Err(HistoryError::BadRequest(
            "`page` starts at 1 and `pageSize` must be 1 to 1000".into(),
        ));
    }
    let filter =
        "WHERE ($2::text IS NULL OR group_id = $2) AND ($3::text IS NULL OR cluster_id = $3)";
    let sql = format!("{SELECT_HOST} {filter} ORDER BY vm_id LIMIT $4 OFFSET $5");
    let hosts: Vec<HostView> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(POWERED_OFF_AFTER_SECS as f64)
        .bind(&query.group_id)
        .bind(&query.cluster_id)
        .bind(page_size)
        .bind((page - 1) * page_size)
        .fetch_all(&state.pool)
        .await?;
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM hosts WHERE ($1::text IS NULL OR group_id = $1) AND ($2::text IS NULL OR cluster_id = $2)",
    )
    .bind(&query.group_id)
    .bind(&query.cluster_id)
    .fetch_one(&state.pool)
    .await?;
    Ok(history_success(HostList {
        hosts,
        pagination: Pagination::new(page, page_size, total),
    }))
}

/// Reads an optional nullable text field of a PATCH body: absent → keep, null → clear.
fn patch_field(
    body: &Map<String, Value>,
    key: &str,
    nullable: bool,
) -> Result<Option<Option<String>>, HistoryError> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::Null) if nullable => Ok(Some(None)),
        Some(Value::String(text)) if !text.trim().is_empty() && text.len() <= 128 => {
            Ok(Some(Some(text.trim().to_string())))
        }
        Some(_) => Err(HistoryError::BadRequest(format!(
            "`{key}` must be a non-empty string of at most 128 characters{}",
            if nullable { " or null" } else { "" }
        ))),
    }
}

/// `PATCH /api/v1/hosts/{vmId}`: rename a host or move it between groups and clusters (admin).
pub async fn update(
    _: RequireScope<AdminOnly, HistoryError>,
    State(state): State<AppState>,
    Path(vm_id): Path<String>,
    HistoryJson(body): HistoryJson<Map<String, Value>>,
) -> Result<Json<Answer<HostView>>, HistoryError> {
    const FIELDS: &[&str] = &["name", "groupId", "clusterId"];
    if let Some(unknown) = body.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(HistoryError::BadRequest(
            crate::error::unknown_field_message(unknown, FIELDS),
        ));
    }
    let name = patch_field(&body, "name", false)?.flatten();
    let group = patch_field(&body, "groupId", true)?;
    let cluster = patch_field(&body, "clusterId", true)?;
    let updated = sqlx::query(
        "UPDATE hosts SET name = coalesce($2, name),
             group_id = CASE WHEN $3 THEN $4 ELSE group_id END,
             cluster_id = CASE WHEN $5 THEN $6 ELSE cluster_id END
         WHERE vm_id = $1",
    )
    .bind(&vm_id)
    .bind(name)
    .bind(group.is_some())
    .bind(group.flatten())
    .bind(cluster.is_some())
    .bind(cluster.flatten())
    .execute(&state.pool)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(HistoryError::NotFound(format!(
            "no host with vmId `{vm_id}`"
        )));
    }
    let host: HostView = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_HOST} WHERE vm_id = $2"
    )))
    .bind(POWERED_OFF_AFTER_SECS as f64)
    .bind(&vm_id)
    .fetch_one(&state.pool)
    .await?;
    Ok(history_success(host))
}
