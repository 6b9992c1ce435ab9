//! Agents joining the fleet: an enrolment token (scope `agents:enrol`, an expiry and a use
//! count) is exchanged for a per-host token bound to the host; the host remembers the machine
//! key it enrolled with, so another machine cannot take over its vmId (an admin re-assigns a
//! reinstalled host, which revokes its tokens and lets the next enrolment bind it anew).
use crate::{
    auth::{credentials, Scope},
    live::Hub,
};
use app::models::LiveEvent;
use sqlx::PgPool;

pub struct Enrolment {
    pub vm_id: String,
    pub name: Option<String>,
    pub group_id: Option<String>,
    pub cluster_id: Option<String>,
    pub machine_key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum EnrolError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("this enrolment token has no uses left")]
    Exhausted,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

fn valid_vm_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'))
}

/// Exchanges one use of the enrolment token `token_id` for a per-host token (returned once).
pub async fn enrol(
    pool: &PgPool,
    hub: &Hub,
    token_id: i32,
    e: &Enrolment,
) -> Result<String, EnrolError> {
    if !valid_vm_id(&e.vm_id) {
        return Err(EnrolError::Invalid(
            "`vmId` must be 1–128 characters of A–Z, a–z, 0–9, `.`, `_`, `:` or `-`".into(),
        ));
    }
    if e.machine_key.len() < 16 || e.machine_key.len() > 128 {
        return Err(EnrolError::Invalid(
            "`machineKey` must be 16–128 characters".into(),
        ));
    }
    let mut tx = pool.begin().await?;
    let uses: Option<Option<i32>> =
        sqlx::query_scalar("SELECT uses_left FROM api_tokens WHERE id = $1 FOR UPDATE")
            .bind(token_id)
            .fetch_optional(&mut *tx)
            .await?;
    if matches!(uses, Some(Some(0)) | None) {
        return Err(EnrolError::Exhausted);
    }
    let (host_id, known_key, created): (i32, Option<String>, bool) = sqlx::query_as(
        "INSERT INTO hosts (vm_id, name, group_id, cluster_id) VALUES ($1, coalesce($2, $1), $3, $4)
         ON CONFLICT (vm_id) DO UPDATE SET vm_id = EXCLUDED.vm_id
         RETURNING id, machine_key, xmax = 0",
    )
    .bind(&e.vm_id)
    .bind(&e.name)
    .bind(&e.group_id)
    .bind(&e.cluster_id)
    .fetch_one(&mut *tx)
    .await?;
    if known_key.as_deref().is_some_and(|k| k != e.machine_key) {
        return Err(EnrolError::Conflict(format!(
            "`{}` is enrolled from another machine; if it was reinstalled, an admin re-assigns it (POST /api/v1/hosts/{}/reassign)",
            e.vm_id, e.vm_id
        )));
    }
    sqlx::query("UPDATE hosts SET machine_key = $2 WHERE id = $1")
        .bind(host_id)
        .bind(&e.machine_key)
        .execute(&mut *tx)
        .await?;
    // One live token per host: enrolling again (the same machine) replaces the old one.
    sqlx::query(
        "UPDATE api_tokens SET revoked_at = now() WHERE host_id = $1 AND revoked_at IS NULL",
    )
    .bind(host_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE api_tokens SET uses_left = uses_left - 1 WHERE id = $1 AND uses_left IS NOT NULL",
    )
    .bind(token_id)
    .execute(&mut *tx)
    .await?;
    let name = format!("agent {}", e.vm_id);
    let token = credentials::create_in(
        &mut *tx,
        &credentials::NewToken {
            name: &name,
            scopes: &[Scope::MetricsWrite],
            host_id: Some(host_id),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(vm = %e.vm_id, new_host = created, "An agent enrolled.");
    if created {
        hub.publish(&LiveEvent::SystemChange {
            host: e.vm_id.clone(),
            change: "appeared".into(),
            timestamp: chrono::Utc::now(),
        });
    }
    Ok(token)
}

/// Forgets the machine a host enrolled from and revokes its tokens: the next enrolment (a
/// reinstalled machine) binds it anew. `false` for an unknown vmId.
pub async fn reassign(pool: &PgPool, vm_id: &str) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let host: Option<i32> =
        sqlx::query_scalar("UPDATE hosts SET machine_key = NULL WHERE vm_id = $1 RETURNING id")
            .bind(vm_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(host) = host else { return Ok(false) };
    sqlx::query(
        "UPDATE api_tokens SET revoked_at = now() WHERE host_id = $1 AND revoked_at IS NULL",
    )
    .bind(host)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}
