//! Raw samples: the flat row type, batched idempotent inserts, and reads for the API and the live page.
use super::copy::BinaryCopy;
use anyhow::Context;
use app::models::{
    ConnectionStats, CpuStats, DiskStats, FilesystemUsage, MemoryStats, NetworkStats, ProcessStats,
    Stats,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{types::Json, FromRow, PgPool};

/// One `samples` row. Field names are the column names: the batch insert maps JSON to
/// columns by name (`jsonb_populate_recordset`), so this struct is the single source of truth.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, FromRow)]
pub struct SampleRow {
    pub host_id: i32,
    pub ts: DateTime<Utc>,
    pub cpu_percent: Option<f32>,
    pub cpu_cores: Option<i16>,
    pub cpu_frequency_mhz: Option<i32>,
    pub cpu_usage_mhz: Option<f32>,
    pub cpu_ready_percent: Option<f32>,
    pub load1: Option<f32>,
    pub load5: Option<f32>,
    pub load15: Option<f32>,
    pub mem_total: Option<i64>,
    pub mem_used: Option<i64>,
    pub mem_free: Option<i64>,
    pub mem_available: Option<i64>,
    pub mem_cached: Option<i64>,
    pub mem_percent: Option<f32>,
    pub swap_total: Option<i64>,
    pub swap_used: Option<i64>,
    pub disk_total: Option<i64>,
    pub disk_used: Option<i64>,
    pub disk_free: Option<i64>,
    pub disk_percent: Option<f32>,
    pub disk_read_bytes: Option<i64>,
    pub disk_write_bytes: Option<i64>,
    pub disk_read_bps: Option<f32>,
    pub disk_write_bps: Option<f32>,
    pub disk_read_iops: Option<f32>,
    pub disk_write_iops: Option<f32>,
    pub disk_read_latency_ms: Option<f32>,
    pub disk_write_latency_ms: Option<f32>,
    pub net_bytes_recv: Option<i64>,
    pub net_bytes_sent: Option<i64>,
    pub net_packets_recv: Option<i64>,
    pub net_packets_sent: Option<i64>,
    pub net_in_bps: Option<f32>,
    pub net_out_bps: Option<f32>,
    pub proc_total: Option<i32>,
    pub proc_running: Option<i32>,
    pub proc_sleeping: Option<i32>,
    pub proc_zombie: Option<i32>,
    pub conn_active: Option<i32>,
    pub conn_listening: Option<i32>,
    pub conn_established: Option<i32>,
    pub filesystems: Option<Json<Vec<FilesystemUsage>>>,
    /// The busiest processes at the sample (agents send them; the local sampler does not store
    /// them: its alerts read them live).
    pub top_processes: Option<Json<Vec<app::models::ProcessInfo>>>,
    /// cgroup v2 containers and NVIDIA GPUs; NULL when the host has none.
    pub containers: Option<Json<Vec<app::models::ContainerStats>>>,
    pub gpus: Option<Json<Vec<app::models::GpuStats>>>,
}

/// The fields a sample may carry: their path in the `/performance/stats` shape and their column.
pub const FIELDS: [(&str, &str); 42] = [
    ("cpu.percent", "cpu_percent"),
    ("cpu.cores", "cpu_cores"),
    ("cpu.frequency", "cpu_frequency_mhz"),
    ("cpu.usage_mhz", "cpu_usage_mhz"),
    ("cpu.ready_percent", "cpu_ready_percent"),
    ("cpu.load1", "load1"),
    ("cpu.load5", "load5"),
    ("cpu.load15", "load15"),
    ("memory.total", "mem_total"),
    ("memory.used", "mem_used"),
    ("memory.free", "mem_free"),
    ("memory.available", "mem_available"),
    ("memory.cached", "mem_cached"),
    ("memory.percent", "mem_percent"),
    ("memory.swap_total", "swap_total"),
    ("memory.swap_used", "swap_used"),
    ("disk.total", "disk_total"),
    ("disk.used", "disk_used"),
    ("disk.free", "disk_free"),
    ("disk.percent", "disk_percent"),
    ("disk.read_bytes", "disk_read_bytes"),
    ("disk.write_bytes", "disk_write_bytes"),
    ("disk.read_bps", "disk_read_bps"),
    ("disk.write_bps", "disk_write_bps"),
    ("disk.read_iops", "disk_read_iops"),
    ("disk.write_iops", "disk_write_iops"),
    ("disk.read_latency_ms", "disk_read_latency_ms"),
    ("disk.write_latency_ms", "disk_write_latency_ms"),
    ("disk.filesystems", "filesystems"),
    ("network.bytes_recv", "net_bytes_recv"),
    ("network.bytes_sent", "net_bytes_sent"),
    ("network.packets_recv", "net_packets_recv"),
    ("network.packets_sent", "net_packets_sent"),
    ("network.in_bps", "net_in_bps"),
    ("network.out_bps", "net_out_bps"),
    ("processes.total", "proc_total"),
    ("processes.running", "proc_running"),
    ("processes.sleeping", "proc_sleeping"),
    ("processes.zombie", "proc_zombie"),
    ("connections.active", "conn_active"),
    ("connections.listening", "conn_listening"),
    ("connections.established", "conn_established"),
];

/// Which of `FIELDS` a sample carries (bit i = `FIELDS[i]`); the local sampler's carry all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Present(pub u64);

impl Default for Present {
    fn default() -> Self {
        Present::ALL
    }
}

impl Present {
    pub const ALL: Present = Present((1 << FIELDS.len()) - 1);
    pub const NONE: Present = Present(0);

    fn index(path: &str) -> Option<usize> {
        FIELDS.iter().position(|(p, c)| *p == path || *c == path)
    }

    /// By the field's path (`cpu.percent`) or its column (`cpu_percent`).
    pub fn has(self, field: &str) -> bool {
        Present::index(field).is_some_and(|i| self.0 & (1 << i) != 0)
    }

    pub fn insert(&mut self, field: &str) {
        if let Some(i) = Present::index(field) {
            self.0 |= 1 << i;
        }
    }

    /// The paths a sample does not carry.
    pub fn absent(self) -> Vec<&'static str> {
        FIELDS
            .iter()
            .enumerate()
            .filter(|(i, _)| self.0 & (1 << i) == 0)
            .map(|(_, (p, _))| *p)
            .collect()
    }
}

/// Clears the columns a sample does not carry.
macro_rules! keep_present {
    ($row:ident, $present:ident, $($column:ident),* $(,)?) => {
        $( if !$present.has(stringify!($column)) { $row.$column = None; } )*
    };
}

/// Counters beyond i64 would need 292 years of traffic; clamp rather than fail a sample.
fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
/// NaN or ∞ would serialize as JSON null and fail the whole batch on a NOT NULL column.
fn finite(v: f64) -> f32 {
    if v.is_finite() {
        v as f32
    } else {
        0.0
    }
}
fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
fn u32_of(v: i32) -> u32 {
    u32::try_from(v).unwrap_or(0)
}
fn i32_of(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

impl SampleRow {
    pub fn from_stats(host_id: i32, s: &Stats) -> Self {
        SampleRow {
            host_id,
            ts: s.timestamp,
            cpu_percent: Some(finite(s.cpu.percent)),
            cpu_cores: Some(i16::try_from(s.cpu.cores).unwrap_or(i16::MAX)),
            cpu_frequency_mhz: Some(i32::try_from(s.cpu.frequency).unwrap_or(i32::MAX)),
            cpu_usage_mhz: Some(finite(s.cpu.usage_mhz)),
            cpu_ready_percent: Some(finite(s.cpu.ready_percent)),
            load1: Some(s.cpu.load1 as f32),
            load5: Some(s.cpu.load5 as f32),
            load15: Some(s.cpu.load15 as f32),
            mem_total: Some(i64_of(s.memory.total)),
            mem_used: Some(i64_of(s.memory.used)),
            mem_free: Some(i64_of(s.memory.free)),
            mem_available: Some(i64_of(s.memory.available)),
            mem_cached: Some(i64_of(s.memory.cached)),
            mem_percent: Some(finite(s.memory.percent)),
            swap_total: Some(i64_of(s.memory.swap_total)),
            swap_used: Some(i64_of(s.memory.swap_used)),
            disk_total: Some(i64_of(s.disk.total)),
            disk_used: Some(i64_of(s.disk.used)),
            disk_free: Some(i64_of(s.disk.free)),
            disk_percent: Some(finite(s.disk.percent)),
            disk_read_bytes: Some(i64_of(s.disk.read_bytes)),
            disk_write_bytes: Some(i64_of(s.disk.write_bytes)),
            disk_read_bps: Some(finite(s.disk.read_bps)),
            disk_write_bps: Some(finite(s.disk.write_bps)),
            disk_read_iops: Some(finite(s.disk.read_iops)),
            disk_write_iops: Some(finite(s.disk.write_iops)),
            disk_read_latency_ms: Some(finite(s.disk.read_latency_ms)),
            disk_write_latency_ms: Some(finite(s.disk.write_latency_ms)),
            net_bytes_recv: Some(i64_of(s.network.bytes_recv)),
            net_bytes_sent: Some(i64_of(s.network.bytes_sent)),
            net_packets_recv: Some(i64_of(s.network.packets_recv)),
            net_packets_sent: Some(i64_of(s.network.packets_sent)),
            net_in_bps: Some(finite(s.network.in_bps)),
            net_out_bps: Some(finite(s.network.out_bps)),
            proc_total: Some(i32_of(s.processes.total)),
            proc_running: Some(i32_of(s.processes.running)),
            proc_sleeping: Some(i32_of(s.processes.sleeping)),
            proc_zombie: Some(i32_of(s.processes.zombie)),
            conn_active: Some(i32_of(s.connections.active)),
            conn_listening: Some(i32_of(s.connections.listening)),
            conn_established: Some(i32_of(s.connections.established)),
            filesystems: Some(Json(s.disk.filesystems.clone())),
            top_processes: None,
            containers: (!s.containers.is_empty()).then(|| Json(s.containers.clone())),
            gpus: (!s.gpus.is_empty()).then(|| Json(s.gpus.clone())),
        }
    }

    /// The same row with the values the sample does not carry absent (NULL).
    pub fn keeping(mut self, present: Present) -> Self {
        if present == Present::ALL {
            return self;
        }
        let row = &mut self;
        keep_present!(
            row,
            present,
            cpu_percent,
            cpu_cores,
            cpu_frequency_mhz,
            cpu_usage_mhz,
            cpu_ready_percent,
            load1,
            load5,
            load15,
            mem_total,
            mem_used,
            mem_free,
            mem_available,
            mem_cached,
            mem_percent,
            swap_total,
            swap_used,
            disk_total,
            disk_used,
            disk_free,
            disk_percent,
            disk_read_bytes,
            disk_write_bytes,
            disk_read_bps,
            disk_write_bps,
            disk_read_iops,
            disk_write_iops,
            disk_read_latency_ms,
            disk_write_latency_ms,
            filesystems,
            net_bytes_recv,
            net_bytes_sent,
            net_packets_recv,
            net_packets_sent,
            net_in_bps,
            net_out_bps,
            proc_total,
            proc_running,
            proc_sleeping,
            proc_zombie,
            conn_active,
            conn_listening,
            conn_established,
        );
        self
    }

    pub fn to_stats(&self) -> Stats {
        Stats {
            cpu: CpuStats {
                percent: f64::from(self.cpu_percent.unwrap_or_default()),
                cores: u32::try_from(self.cpu_cores.unwrap_or_default()).unwrap_or(0),
                frequency: u64::try_from(self.cpu_frequency_mhz.unwrap_or_default()).unwrap_or(0),
                usage_mhz: f64::from(self.cpu_usage_mhz.unwrap_or_default()),
                ready_percent: f64::from(self.cpu_ready_percent.unwrap_or_default()),
                load1: f64::from(self.load1.unwrap_or_default()),
                load5: f64::from(self.load5.unwrap_or_default()),
                load15: f64::from(self.load15.unwrap_or_default()),
            },
            memory: MemoryStats {
                total: u64_of(self.mem_total.unwrap_or_default()),
                available: u64_of(self.mem_available.unwrap_or_default()),
                used: u64_of(self.mem_used.unwrap_or_default()),
                free: u64_of(self.mem_free.unwrap_or_default()),
                percent: f64::from(self.mem_percent.unwrap_or_default()),
                cached: u64_of(self.mem_cached.unwrap_or_default()),
                swap_total: u64_of(self.swap_total.unwrap_or_default()),
                swap_used: u64_of(self.swap_used.unwrap_or_default()),
            },
            disk: DiskStats {
                total: u64_of(self.disk_total.unwrap_or_default()),
                free: u64_of(self.disk_free.unwrap_or_default()),
                used: u64_of(self.disk_used.unwrap_or_default()),
                percent: f64::from(self.disk_percent.unwrap_or_default()),
                read_bytes: u64_of(self.disk_read_bytes.unwrap_or_default()),
                write_bytes: u64_of(self.disk_write_bytes.unwrap_or_default()),
                read_bps: f64::from(self.disk_read_bps.unwrap_or_default()),
                write_bps: f64::from(self.disk_write_bps.unwrap_or_default()),
                read_iops: f64::from(self.disk_read_iops.unwrap_or_default()),
                write_iops: f64::from(self.disk_write_iops.unwrap_or_default()),
                read_latency_ms: f64::from(self.disk_read_latency_ms.unwrap_or_default()),
                write_latency_ms: f64::from(self.disk_write_latency_ms.unwrap_or_default()),
                filesystems: self
                    .filesystems
                    .as_ref()
                    .map(|f| f.0.clone())
                    .unwrap_or_default(),
            },
            network: NetworkStats {
                bytes_sent: u64_of(self.net_bytes_sent.unwrap_or_default()),
                bytes_recv: u64_of(self.net_bytes_recv.unwrap_or_default()),
                packets_sent: u64_of(self.net_packets_sent.unwrap_or_default()),
                packets_recv: u64_of(self.net_packets_recv.unwrap_or_default()),
                in_bps: f64::from(self.net_in_bps.unwrap_or_default()),
                out_bps: f64::from(self.net_out_bps.unwrap_or_default()),
            },
            processes: ProcessStats {
                total: u32_of(self.proc_total.unwrap_or_default()),
                running: u32_of(self.proc_running.unwrap_or_default()),
                sleeping: u32_of(self.proc_sleeping.unwrap_or_default()),
                zombie: u32_of(self.proc_zombie.unwrap_or_default()),
            },
            connections: ConnectionStats {
                active: u32_of(self.conn_active.unwrap_or_default()),
                listening: u32_of(self.conn_listening.unwrap_or_default()),
                established: u32_of(self.conn_established.unwrap_or_default()),
            },
            timestamp: self.ts,
            containers: self
                .containers
                .as_ref()
                .map(|c| c.0.clone())
                .unwrap_or_default(),
            gpus: self.gpus.as_ref().map(|g| g.0.clone()).unwrap_or_default(),
        }
    }
}

/// Creates the day partitions the given instants fall in, one transaction per day: a statement
/// creating several would hold the parent's lock from the first while waiting for the next
/// day's advisory lock, and two writers with overlapping days deadlocked that way.
pub async fn ensure_partitions(pool: &PgPool, days: &[NaiveDate]) -> Result<(), sqlx::Error> {
    for day in days {
        sqlx::query("SELECT lookout_ensure_partition('samples', $1)")
            .bind(day)
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// The rows as a binary COPY payload, columns in table order (the struct's field order).
fn to_copy(rows: &[&SampleRow]) -> Result<Vec<u8>, serde_json::Error> {
    const COLUMNS: i16 = 47;
    let mut copy = BinaryCopy::with_capacity(rows.len() * 360);
    for r in rows {
        copy.row(COLUMNS)
            .int4(r.host_id)
            .timestamptz(r.ts)
            .float4_or_null(r.cpu_percent)
            .int2_or_null(r.cpu_cores)
            .int4_or_null(r.cpu_frequency_mhz)
            .float4_or_null(r.cpu_usage_mhz)
            .float4_or_null(r.cpu_ready_percent)
            .float4_or_null(r.load1)
            .float4_or_null(r.load5)
            .float4_or_null(r.load15)
            .int8_or_null(r.mem_total)
            .int8_or_null(r.mem_used)
            .int8_or_null(r.mem_free)
            .int8_or_null(r.mem_available)
            .int8_or_null(r.mem_cached)
            .float4_or_null(r.mem_percent)
            .int8_or_null(r.swap_total)
            .int8_or_null(r.swap_used)
            .int8_or_null(r.disk_total)
            .int8_or_null(r.disk_used)
            .int8_or_null(r.disk_free)
            .float4_or_null(r.disk_percent)
            .int8_or_null(r.disk_read_bytes)
            .int8_or_null(r.disk_write_bytes)
            .float4_or_null(r.disk_read_bps)
            .float4_or_null(r.disk_write_bps)
            .float4_or_null(r.disk_read_iops)
            .float4_or_null(r.disk_write_iops)
            .float4_or_null(r.disk_read_latency_ms)
            .float4_or_null(r.disk_write_latency_ms)
            .int8_or_null(r.net_bytes_recv)
            .int8_or_null(r.net_bytes_sent)
            .int8_or_null(r.net_packets_recv)
            .int8_or_null(r.net_packets_sent)
            .float4_or_null(r.net_in_bps)
            .float4_or_null(r.net_out_bps)
            .int4_or_null(r.proc_total)
            .int4_or_null(r.proc_running)
            .int4_or_null(r.proc_sleeping)
            .int4_or_null(r.proc_zombie)
            .int4_or_null(r.conn_active)
            .int4_or_null(r.conn_listening)
            .int4_or_null(r.conn_established)
            .jsonb_or_null(r.filesystems.as_ref().map(|f| &f.0))?
            .jsonb_or_null(r.top_processes.as_ref().map(|p| &p.0))?
            .jsonb_or_null(r.containers.as_ref().map(|c| &c.0))?
            .jsonb_or_null(r.gpus.as_ref().map(|g| &g.0))?;
    }
    Ok(copy.finish())
}

/// Stores rows in one transaction; rows already stored for (host, ts) are left as they are and
/// the hours that received new rows are queued for rollup in the same transaction. Returns how
/// many rows were new.
///
/// Queueing locks the queue row even when it exists (`DO UPDATE … WHERE false` locks without
/// writing): a rollup worker holding the entry has read the hour's samples without these rows,
/// so the writer must wait for it to delete the entry and then queue the hour again. `DO
/// NOTHING` does not wait for a row lock, and the worker then deleted the entry these rows
/// needed (issue 12: hours that kept a third of their samples out of the rollups for good).
///
/// Most batches are new data, so the rows are first COPied straight into `samples`; only when
/// that hits a duplicate (a re-sent batch) does the batch go through a staging table and
/// `INSERT … ON CONFLICT DO NOTHING` (COPY alone cannot skip duplicates), which costs about
/// twice as much. A transaction chosen as a deadlock victim (concurrent writers and the rollup
/// worker) is retried.
pub async fn insert_batch(pool: &PgPool, rows: &[SampleRow]) -> Result<u64, sqlx::Error> {
    if rows.is_empty() {
        return Ok(0);
    }
    // One lock order for every writer: index entries and queue rows in (host, ts) order.
    let mut sorted: Vec<&SampleRow> = rows.iter().collect();
    sorted.sort_unstable_by_key(|r| (r.host_id, r.ts));
    let mut days: Vec<NaiveDate> = sorted.iter().map(|r| r.ts.date_naive()).collect();
    days.sort_unstable();
    days.dedup();
    ensure_partitions(pool, &days).await?;
    let payload = to_copy(&sorted).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let mut hours: Vec<(i32, DateTime<Utc>)> =
        sorted.iter().map(|r| (r.host_id, hour_of(r.ts))).collect();
    hours.dedup();
    let mut attempt = 0;
    let mut fresh = true;
    loop {
        let result = if fresh {
            copy_direct(pool, &payload, &hours)
                .await
                .map(|()| rows.len() as u64)
        } else {
            copy_and_insert(pool, &payload).await
        };
        match result {
            Err(error) if fresh && is_duplicate(&error) => fresh = false,
            Err(error) if is_retryable(&error) && attempt < 3 => {
                attempt += 1;
                tracing::debug!(%error, attempt, "Sample write conflicted; retrying.");
                tokio::time::sleep(std::time::Duration::from_millis(20 * attempt)).await;
            }
            // Retention dropped an expired day partition this backfill writes to: recreate it.
            Err(error) if is_missing_partition(&error) && attempt < 3 => {
                attempt += 1;
                ensure_partitions(pool, &days).await?;
            }
            other => return other,
        }
    }
}

fn hour_of(ts: DateTime<Utc>) -> DateTime<Utc> {
    let secs = ts.timestamp();
    DateTime::from_timestamp(secs - secs.rem_euclid(3600), 0).unwrap_or(ts)
}

/// 23505: a row with this (host, ts) is already stored (or the batch repeats one).
fn is_duplicate(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "23505")
}

/// 23514: a row falls in no partition (the partition is missing).
pub fn is_missing_partition(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "23514")
}

/// Deadlock victims and serialization failures succeed when simply run again.
pub fn is_retryable(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "40P01" || code == "40001")
}

async fn copy_direct(
    pool: &PgPool,
    payload: &[u8],
    hours: &[(i32, DateTime<Utc>)],
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut copy = tx
        .copy_in_raw("COPY samples FROM STDIN (FORMAT binary)")
        .await?;
    copy.send(payload).await?;
    copy.finish().await?;
    let (hosts, buckets): (Vec<i32>, Vec<DateTime<Utc>>) = hours.iter().copied().unzip();
    sqlx::query(
        "INSERT INTO rollup_queue_hourly (host_id, bucket)
         SELECT * FROM unnest($1::int4[], $2::timestamptz[]) ORDER BY 1, 2
         ON CONFLICT (host_id, bucket) DO UPDATE SET queued_at = rollup_queue_hourly.queued_at WHERE false",
    )
    .bind(&hosts)
    .bind(&buckets)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

async fn copy_and_insert(pool: &PgPool, payload: &[u8]) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("CREATE TEMP TABLE IF NOT EXISTS samples_staging (LIKE samples INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
        .execute(&mut *tx)
        .await?;
    let mut copy = tx
        .copy_in_raw("COPY samples_staging FROM STDIN (FORMAT binary)")
        .await?;
    copy.send(payload).await?;
    copy.finish().await?;
    let new: i64 = sqlx::query_scalar(
        "WITH new AS (
             INSERT INTO samples SELECT * FROM samples_staging ORDER BY host_id, ts
             ON CONFLICT (host_id, ts) DO NOTHING RETURNING host_id, ts
         ), queued AS (
             INSERT INTO rollup_queue_hourly (host_id, bucket)
             SELECT DISTINCT host_id, date_bin('1 hour', ts, timestamptz 'epoch') FROM new
             ORDER BY 1, 2 -- one lock order for every writer
             ON CONFLICT (host_id, bucket) DO UPDATE SET queued_at = rollup_queue_hourly.queued_at WHERE false
         )
         SELECT count(*) FROM new",
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(u64::try_from(new).unwrap_or(0))
}

/// The top processes an agent sent with the sample of `host_id` nearest before `at` (within 5
/// minutes), busiest by CPU first.
pub async fn top_processes_near(
    pool: &PgPool,
    host_id: i32,
    at: DateTime<Utc>,
) -> Result<Vec<app::models::ProcessInfo>, sqlx::Error> {
    let found: Option<Json<Vec<app::models::ProcessInfo>>> = sqlx::query_scalar(
        "SELECT top_processes FROM samples WHERE host_id = $1 AND ts <= $2 AND ts >= $2 - interval '5 minutes' AND top_processes IS NOT NULL
         ORDER BY ts DESC LIMIT 1",
    )
    .bind(host_id)
    .bind(at)
    .fetch_optional(pool)
    .await?
    .flatten();
    let mut processes = found.map(|j| j.0).unwrap_or_default();
    processes.sort_by(|a, b| b.cpu_percent.total_cmp(&a.cpu_percent));
    Ok(processes)
}

pub async fn latest(pool: &PgPool, host_id: i32) -> Result<Option<SampleRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM samples WHERE host_id = $1 ORDER BY ts DESC LIMIT 1")
        .bind(host_id)
        .fetch_optional(pool)
        .await
}

/// Samples of one host since `since`, oldest first.
pub async fn since(
    pool: &PgPool,
    host_id: i32,
    since: DateTime<Utc>,
) -> Result<Vec<SampleRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM samples WHERE host_id = $1 AND ts >= $2 ORDER BY ts")
        .bind(host_id)
        .bind(since)
        .fetch_all(pool)
        .await
}

/// Total on-disk bytes of the samples table (all partitions, indexes and TOAST).
pub async fn table_bytes(pool: &PgPool) -> anyhow::Result<i64> {
    let bytes: Option<i64> = sqlx::query_scalar(
        "SELECT sum(pg_total_relation_size(inhrelid))::int8 FROM pg_inherits WHERE inhparent = 'samples'::regclass",
    )
    .fetch_one(pool)
    .await
    .context("cannot measure the samples table")?;
    Ok(bytes.unwrap_or(0))
}
