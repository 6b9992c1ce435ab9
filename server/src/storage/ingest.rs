//! Storing samples of any host: registration on first sight, batched idempotent writes, last-seen.
use super::samples::{self, SampleRow};
use app::models::Stats;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgPool;
use std::collections::{HashMap, HashSet};

/// Rows per transaction: big enough to amortise commits, small enough to keep locks short.
pub const ROWS_PER_TRANSACTION: usize = 5_000;

/// One sample of a named host, as agents send it (`POST /api/v1/ingest/samples`).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewSample {
    pub vm_id: String,
    pub name: Option<String>,
    pub group_id: Option<String>,
    pub cluster_id: Option<String>,
    pub sample: Stats,
    /// The busiest processes at the sample (`lookout agent` sends the top 5 by CPU and memory).
    #[serde(default)]
    pub processes: Option<Vec<app::models::ProcessInfo>>,
    /// The host's platform facts (agents send them; changes become `system_change` events).
    #[serde(default)]
    pub facts: Option<HostReport>,
    /// Which values the sample carries (the others are stored as absent).
    #[serde(skip)]
    pub present: super::samples::Present,
}

/// Platform facts an agent reports with its samples.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HostReport {
    pub hostname: String,
    pub platform: String,
    pub platform_version: String,
    pub architecture: String,
    pub cpu_model: String,
    pub cpu_cores: i32,
    pub memory_total: i64,
    pub boot_time: Option<DateTime<Utc>>,
    pub agent_version: String,
}

/// Registers hosts seen for the first time; returns the row id of every named host. Existing hosts
/// keep their name, group and cluster (those are edited with `PATCH /hosts/{vmId}`).
async fn register_hosts(
    pool: &PgPool,
    items: &[NewSample],
) -> Result<(HashMap<String, i32>, Vec<String>), sqlx::Error> {
    let mut newest: HashMap<&str, DateTime<Utc>> = HashMap::new();
    for item in items {
        let entry = newest
            .entry(item.vm_id.as_str())
            .or_insert(item.sample.timestamp);
        *entry = (*entry).max(item.sample.timestamp);
    }
    let mut seen = HashSet::new();
    let (mut ids, mut names, mut groups, mut clusters, mut last_seen) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for item in items {
        if seen.insert(item.vm_id.as_str()) {
            ids.push(item.vm_id.clone());
            names.push(item.name.clone().unwrap_or_else(|| item.vm_id.clone()));
            groups.push(item.group_id.clone());
            clusters.push(item.cluster_id.clone());
            last_seen.push(
                newest
                    .get(item.vm_id.as_str())
                    .copied()
                    .unwrap_or(item.sample.timestamp),
            );
        }
    }
    // DO NOTHING, then a plain read: known hosts are not rewritten (and not row-locked) on every batch.
    let created: Vec<String> = sqlx::query_scalar(
        "INSERT INTO hosts (vm_id, name, group_id, cluster_id, first_seen, last_seen)
         SELECT v, n, g, c, least(now(), l), l FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS t(v, n, g, c, l)
         ON CONFLICT (vm_id) DO NOTHING
         RETURNING vm_id",
    )
    .bind(&ids)
    .bind(&names)
    .bind(&groups)
    .bind(&clusters)
    .bind(&last_seen)
    .fetch_all(pool)
    .await?;
    let rows: Vec<(i32, String)> =
        sqlx::query_as("SELECT id, vm_id FROM hosts WHERE vm_id = ANY($1)")
            .bind(&ids)
            .fetch_all(pool)
            .await?;
    Ok((rows.into_iter().map(|(id, vm)| (vm, id)).collect(), created))
}

/// Stores validated samples; returns how many were new (the rest were already stored).
pub async fn store(pool: &PgPool, items: &[NewSample]) -> Result<u64, sqlx::Error> {
    Ok(store_with_hosts(pool, items).await?.0)
}

/// The same, also giving the host id of every `vmId` in the batch and the vmIds seen for the
/// first time.
pub async fn store_with_hosts(
    pool: &PgPool,
    items: &[NewSample],
) -> Result<(u64, HashMap<String, i32>, Vec<String>), sqlx::Error> {
    if items.is_empty() {
        return Ok((0, HashMap::new(), Vec::new()));
    }
    let (host_ids, created) = register_hosts(pool, items).await?;
    let rows: Vec<SampleRow> = items
        .iter()
        .filter_map(|item| {
            host_ids.get(&item.vm_id).map(|id| SampleRow {
                top_processes: item.processes.clone().map(sqlx::types::Json),
                ..SampleRow::from_stats(*id, &item.sample).keeping(item.present)
            })
        })
        .collect();
    let mut stored = 0;
    for chunk in rows.chunks(ROWS_PER_TRANSACTION) {
        stored += samples::insert_batch(pool, chunk).await?;
    }
    // Only rows whose last-seen actually moves are written, locked in id order so concurrent
    // batches for the same hosts queue behind each other instead of deadlocking.
    sqlx::query(
        "WITH t AS (SELECT host_id, max(ts) AS ts FROM unnest($1::int4[], $2::timestamptz[]) AS u(host_id, ts) GROUP BY host_id),
         moved AS (SELECT h.id, t.ts FROM hosts h JOIN t ON h.id = t.host_id WHERE h.last_seen < t.ts ORDER BY h.id FOR NO KEY UPDATE OF h)
         UPDATE hosts h SET last_seen = greatest(h.last_seen, moved.ts) FROM moved WHERE h.id = moved.id",
    )
    .bind(rows.iter().map(|r| r.host_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.ts).collect::<Vec<_>>())
    .execute(pool)
    .await?;
    Ok((stored, host_ids, created))
}
