//! Planned changes committed for a group or the fleet (`capacity_plans`): what the runway and
//! every what-if of the same scope include until a person removes them.
use app::models::{CapacityPlan, WhatIfChanges};
use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool};

#[derive(FromRow)]
struct Row {
    id: i64,
    group_name: Option<String>,
    title: String,
    add_hosts: i32,
    hosts_from: Option<DateTime<Utc>>,
    add_load_percent: f64,
    load_from: Option<DateTime<Utc>>,
    growth_monthly_percent: f64,
    created_by: String,
    created_at: DateTime<Utc>,
}

impl From<Row> for CapacityPlan {
    fn from(row: Row) -> Self {
        CapacityPlan {
            id: row.id,
            group_id: row.group_name,
            title: row.title,
            changes: WhatIfChanges {
                add_hosts: i64::from(row.add_hosts),
                hosts_from: row.hosts_from,
                add_load_percent: row.add_load_percent,
                load_from: row.load_from,
                growth_monthly_percent: row.growth_monthly_percent,
            },
            created_by: row.created_by,
            created_at: row.created_at,
        }
    }
}

/// The plans of one scope (a group; `None`: the whole fleet's), oldest first.
pub async fn of_scope(
    pool: &PgPool,
    group: Option<&str>,
) -> Result<Vec<CapacityPlan>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, group_name, title, add_hosts, hosts_from, add_load_percent, load_from,
                growth_monthly_percent, created_by, created_at
         FROM capacity_plans WHERE group_name IS NOT DISTINCT FROM $1 ORDER BY id",
    )
    .bind(group)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(CapacityPlan::from).collect())
}

/// Every plan, by scope then age (the runway reads them all at once).
pub async fn all(pool: &PgPool) -> Result<Vec<CapacityPlan>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, group_name, title, add_hosts, hosts_from, add_load_percent, load_from,
                growth_monthly_percent, created_by, created_at
         FROM capacity_plans ORDER BY group_name NULLS FIRST, id",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(CapacityPlan::from).collect())
}

/// Stores a plan (checked by the caller) and gives it back with its id.
pub async fn insert(
    pool: &PgPool,
    group: Option<&str>,
    title: &str,
    changes: &WhatIfChanges,
    created_by: &str,
) -> Result<CapacityPlan, sqlx::Error> {
    let add_hosts = i32::try_from(changes.add_hosts).unwrap_or(i32::MAX);
    let row: Row = sqlx::query_as(
        "INSERT INTO capacity_plans (group_name, title, add_hosts, hosts_from, add_load_percent,
             load_from, growth_monthly_percent, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         RETURNING id, group_name, title, add_hosts, hosts_from, add_load_percent, load_from,
                   growth_monthly_percent, created_by, created_at",
    )
    .bind(group)
    .bind(title)
    .bind(add_hosts)
    .bind(changes.hosts_from)
    .bind(changes.add_load_percent)
    .bind(changes.load_from)
    .bind(changes.growth_monthly_percent)
    .bind(created_by)
    .fetch_one(pool)
    .await?;
    Ok(row.into())
}

/// Removes a plan; `false` when there was none of that id.
pub async fn delete(pool: &PgPool, id: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM capacity_plans WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}
