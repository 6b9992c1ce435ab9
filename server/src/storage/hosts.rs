//! The host inventory: registration of hosts, look-ups by `vmId` and the lists pages choose from.
use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool};

/// A host whose newest sample is older than this is shown powered off (`powerState`).
pub const POWERED_OFF_AFTER_SECS: i64 = 300;

/// Facts recorded about a host when it registers.
#[derive(Clone, Debug, Default)]
pub struct HostFacts {
    pub vm_id: String,
    pub name: String,
    pub hostname: String,
    pub platform: String,
    pub platform_version: String,
    pub architecture: String,
    pub cpu_model: String,
    pub cpu_cores: i32,
    pub memory_total: i64,
    pub boot_time: Option<DateTime<Utc>>,
}

/// A host as requests and answers name it: its row id, `vmId` and display name. Kept in stored
/// export specs as the `[id, vmId, name]` array it always was.
#[derive(Clone, Debug, PartialEq, Eq, FromRow, serde::Serialize, serde::Deserialize)]
#[serde(from = "(i32, String, String)", into = "(i32, String, String)")]
pub struct HostRef {
    pub id: i32,
    pub vm_id: String,
    pub name: String,
}

impl From<(i32, String, String)> for HostRef {
    fn from((id, vm_id, name): (i32, String, String)) -> Self {
        HostRef { id, vm_id, name }
    }
}

impl From<HostRef> for (i32, String, String) {
    fn from(host: HostRef) -> Self {
        (host.id, host.vm_id, host.name)
    }
}

#[derive(Clone, Debug, FromRow)]
pub struct HostRow {
    pub id: i32,
    pub vm_id: String,
    pub name: String,
    pub boot_time: Option<DateTime<Utc>>,
}

/// Inserts or refreshes a host; returns its row id and the boot time stored before (to detect reboots).
pub async fn upsert(
    pool: &PgPool,
    facts: &HostFacts,
) -> Result<(i32, Option<DateTime<Utc>>), sqlx::Error> {
    let previous_boot: Option<Option<DateTime<Utc>>> =
        sqlx::query_scalar("SELECT boot_time FROM hosts WHERE vm_id = $1")
            .bind(&facts.vm_id)
            .fetch_optional(pool)
            .await?;
    let id = sqlx::query_scalar(
        "INSERT INTO hosts (vm_id, name, hostname, platform, platform_version, architecture, cpu_model, cpu_cores, memory_total, boot_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (vm_id) DO UPDATE SET
            hostname = EXCLUDED.hostname, platform = EXCLUDED.platform, platform_version = EXCLUDED.platform_version,
            architecture = EXCLUDED.architecture, cpu_model = EXCLUDED.cpu_model, cpu_cores = EXCLUDED.cpu_cores,
            memory_total = EXCLUDED.memory_total, boot_time = EXCLUDED.boot_time, last_seen = now()
         RETURNING id",
    )
    .bind(&facts.vm_id)
    .bind(&facts.name)
    .bind(&facts.hostname)
    .bind(&facts.platform)
    .bind(&facts.platform_version)
    .bind(&facts.architecture)
    .bind(&facts.cpu_model)
    .bind(facts.cpu_cores)
    .bind(facts.memory_total)
    .bind(facts.boot_time)
    .fetch_one(pool)
    .await?;
    Ok((id, previous_boot.flatten()))
}

pub async fn find(pool: &PgPool, vm_id: &str) -> Result<Option<HostRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, vm_id, name, boot_time FROM hosts WHERE vm_id = $1")
        .bind(vm_id)
        .fetch_optional(pool)
        .await
}

pub async fn by_id(pool: &PgPool, id: i32) -> Result<Option<HostRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, vm_id, name, boot_time FROM hosts WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn touch(pool: &PgPool, host_id: i32, seen: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE hosts SET last_seen = greatest(last_seen, $2) WHERE id = $1")
        .bind(host_id)
        .bind(seen)
        .execute(pool)
        .await?;
    Ok(())
}

/// Marks the hosts whose newest sample is older than [`POWERED_OFF_AFTER_SECS`] and that were not
/// marked yet as silent since that sample; returns their `vmId`s (each once per silence).
pub async fn mark_silent(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE hosts SET silent_since = last_seen WHERE silent_since IS NULL AND last_seen < now() - make_interval(secs => $1)
         RETURNING vm_id",
    )
    .bind(POWERED_OFF_AFTER_SECS as f64)
    .fetch_all(pool)
    .await
}

/// What the host view says about a host beside its charts.
#[derive(Clone, Debug, FromRow)]
pub struct Placement {
    pub group_id: Option<String>,
    pub cluster_id: Option<String>,
    pub last_seen: Option<DateTime<Utc>>,
    pub platform: String,
    pub platform_version: String,
}

pub async fn placement(pool: &PgPool, id: i32) -> Result<Option<Placement>, sqlx::Error> {
    sqlx::query_as(
        "SELECT group_id, cluster_id, last_seen, coalesce(platform, '') AS platform,
                coalesce(platform_version, '') AS platform_version
         FROM hosts WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Every host, by `vmId`.
pub async fn all(pool: &PgPool) -> Result<Vec<HostRef>, sqlx::Error> {
    sqlx::query_as("SELECT id, vm_id, name FROM hosts ORDER BY vm_id")
        .fetch_all(pool)
        .await
}

/// Every host as `(vmId, name, groupId)`, by group (ungrouped last), then `vmId`.
pub async fn by_group(pool: &PgPool) -> Result<Vec<(String, String, Option<String>)>, sqlx::Error> {
    sqlx::query_as("SELECT vm_id, name, group_id FROM hosts ORDER BY group_id NULLS LAST, vm_id")
        .fetch_all(pool)
        .await
}

/// Every host group with its number of hosts, by name.
pub async fn group_sizes(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT group_id, count(*) FROM hosts WHERE group_id IS NOT NULL GROUP BY group_id ORDER BY group_id",
    )
    .fetch_all(pool)
    .await
}

/// Hosts with a sample after `since`, by id.
pub async fn seen_since(pool: &PgPool, since: DateTime<Utc>) -> Result<Vec<HostRef>, sqlx::Error> {
    sqlx::query_as("SELECT id, vm_id, name FROM hosts WHERE last_seen > $1 ORDER BY id")
        .bind(since)
        .fetch_all(pool)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_ref_is_stored_as_the_array_export_specs_always_held() {
        let host = HostRef {
            id: 7,
            vm_id: "web-01".into(),
            name: "Web 1".into(),
        };
        let stored = serde_json::to_value(&host).expect("serialises");
        assert_eq!(stored, serde_json::json!([7, "web-01", "Web 1"]));
        let read: HostRef = serde_json::from_value(stored).expect("deserialises");
        assert_eq!(read, host);
    }
}

/// What a host is given, as its agent last told (or, for a host that sends samples only, as its
/// newest raw sample says), and when it was last heard from.
#[derive(Clone, Debug, FromRow)]
pub struct Allocation {
    pub id: i32,
    pub cores: Option<i32>,
    pub memory_total: Option<i64>,
    pub last_seen: DateTime<Utc>,
}

/// The allocations of `ids` (zero counts as unknown).
pub async fn allocations(pool: &PgPool, ids: &[i32]) -> Result<Vec<Allocation>, sqlx::Error> {
    sqlx::query_as(
        "SELECT h.id,
                coalesce(nullif(h.cpu_cores, 0), nullif(s.cpu_cores::int, 0)) AS cores,
                coalesce(nullif(h.memory_total, 0), nullif(s.mem_total, 0)) AS memory_total,
                h.last_seen
         FROM hosts h
         LEFT JOIN LATERAL (
             SELECT cpu_cores, mem_total FROM samples
             WHERE host_id = h.id AND cpu_cores IS NOT NULL AND mem_total IS NOT NULL
             ORDER BY ts DESC LIMIT 1
         ) s ON true
         WHERE h.id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(pool)
    .await
}
