//! Raw samples: the flat row type, batched idempotent inserts, and reads for the API and the live page.
use anyhow::Context;
use app::models::{
    ConnectionStats, CpuStats, DiskStats, FilesystemUsage, MemoryStats, NetworkStats, ProcessStats, Stats,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use super::copy::BinaryCopy;
use sqlx::{types::Json, FromRow, PgPool};

/// One `samples` row. Field names are the column names: the batch insert maps JSON to
/// columns by name (`jsonb_populate_recordset`), so this struct is the single source of truth.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, FromRow)]
pub struct SampleRow {
    pub host_id: i32,
    pub ts: DateTime<Utc>,
    pub cpu_percent: f32,
    pub cpu_cores: i16,
    pub cpu_frequency_mhz: i32,
    pub cpu_usage_mhz: f32,
    pub cpu_ready_percent: f32,
    pub load1: f32,
    pub load5: f32,
    pub load15: f32,
    pub mem_total: i64,
    pub mem_used: i64,
    pub mem_free: i64,
    pub mem_available: i64,
    pub mem_cached: i64,
    pub mem_percent: f32,
    pub swap_total: i64,
    pub swap_used: i64,
    pub disk_total: i64,
    pub disk_used: i64,
    pub disk_free: i64,
    pub disk_percent: f32,
    pub disk_read_bytes: i64,
    pub disk_write_bytes: i64,
    pub disk_read_bps: f32,
    pub disk_write_bps: f32,
    pub disk_read_iops: f32,
    pub disk_write_iops: f32,
    pub disk_read_latency_ms: f32,
    pub disk_write_latency_ms: f32,
    pub net_bytes_recv: i64,
    pub net_bytes_sent: i64,
    pub net_packets_recv: i64,
    pub net_packets_sent: i64,
    pub net_in_bps: f32,
    pub net_out_bps: f32,
    pub proc_total: i32,
    pub proc_running: i32,
    pub proc_sleeping: i32,
    pub proc_zombie: i32,
    pub conn_active: i32,
    pub conn_listening: i32,
    pub conn_established: i32,
    pub filesystems: Json<Vec<FilesystemUsage>>,
    /// The busiest processes at the sample (agents send them; the local sampler does not store
    /// them: its alerts read them live).
    pub top_processes: Option<Json<Vec<app::models::ProcessInfo>>>,
}

/// Counters beyond i64 would need 292 years of traffic; clamp rather than fail a sample.
fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
/// NaN or ∞ would serialize as JSON null and fail the whole batch on a NOT NULL column.
fn finite(v: f64) -> f32 {
    if v.is_finite() { v as f32 } else { 0.0 }
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
            cpu_percent: finite(s.cpu.percent),
            cpu_cores: i16::try_from(s.cpu.cores).unwrap_or(i16::MAX),
            cpu_frequency_mhz: i32::try_from(s.cpu.frequency).unwrap_or(i32::MAX),
            cpu_usage_mhz: finite(s.cpu.usage_mhz),
            cpu_ready_percent: finite(s.cpu.ready_percent),
            load1: s.cpu.load1 as f32,
            load5: s.cpu.load5 as f32,
            load15: s.cpu.load15 as f32,
            mem_total: i64_of(s.memory.total),
            mem_used: i64_of(s.memory.used),
            mem_free: i64_of(s.memory.free),
            mem_available: i64_of(s.memory.available),
            mem_cached: i64_of(s.memory.cached),
            mem_percent: finite(s.memory.percent),
            swap_total: i64_of(s.memory.swap_total),
            swap_used: i64_of(s.memory.swap_used),
            disk_total: i64_of(s.disk.total),
            disk_used: i64_of(s.disk.used),
            disk_free: i64_of(s.disk.free),
            disk_percent: finite(s.disk.percent),
            disk_read_bytes: i64_of(s.disk.read_bytes),
            disk_write_bytes: i64_of(s.disk.write_bytes),
            disk_read_bps: finite(s.disk.read_bps),
            disk_write_bps: finite(s.disk.write_bps),
            disk_read_iops: finite(s.disk.read_iops),
            disk_write_iops: finite(s.disk.write_iops),
            disk_read_latency_ms: finite(s.disk.read_latency_ms),
            disk_write_latency_ms: finite(s.disk.write_latency_ms),
            net_bytes_recv: i64_of(s.network.bytes_recv),
            net_bytes_sent: i64_of(s.network.bytes_sent),
            net_packets_recv: i64_of(s.network.packets_recv),
            net_packets_sent: i64_of(s.network.packets_sent),
            net_in_bps: finite(s.network.in_bps),
            net_out_bps: finite(s.network.out_bps),
            proc_total: i32_of(s.processes.total),
            proc_running: i32_of(s.processes.running),
            proc_sleeping: i32_of(s.processes.sleeping),
            proc_zombie: i32_of(s.processes.zombie),
            conn_active: i32_of(s.connections.active),
            conn_listening: i32_of(s.connections.listening),
            conn_established: i32_of(s.connections.established),
            filesystems: Json(s.disk.filesystems.clone()),
            top_processes: None,
        }
    }

    pub fn to_stats(&self) -> Stats {
        Stats {
            cpu: CpuStats {
                percent: f64::from(self.cpu_percent),
                cores: u32::try_from(self.cpu_cores).unwrap_or(0),
                frequency: u64::try_from(self.cpu_frequency_mhz).unwrap_or(0),
                usage_mhz: f64::from(self.cpu_usage_mhz),
                ready_percent: f64::from(self.cpu_ready_percent),
                load1: f64::from(self.load1),
                load5: f64::from(self.load5),
                load15: f64::from(self.load15),
            },
            memory: MemoryStats {
                total: u64_of(self.mem_total),
                available: u64_of(self.mem_available),
                used: u64_of(self.mem_used),
                free: u64_of(self.mem_free),
                percent: f64::from(self.mem_percent),
                cached: u64_of(self.mem_cached),
                swap_total: u64_of(self.swap_total),
                swap_used: u64_of(self.swap_used),
            },
            disk: DiskStats {
                total: u64_of(self.disk_total),
                free: u64_of(self.disk_free),
                used: u64_of(self.disk_used),
                percent: f64::from(self.disk_percent),
                read_bytes: u64_of(self.disk_read_bytes),
                write_bytes: u64_of(self.disk_write_bytes),
                read_bps: f64::from(self.disk_read_bps),
                write_bps: f64::from(self.disk_write_bps),
                read_iops: f64::from(self.disk_read_iops),
                write_iops: f64::from(self.disk_write_iops),
                read_latency_ms: f64::from(self.disk_read_latency_ms),
                write_latency_ms: f64::from(self.disk_write_latency_ms),
                filesystems: self.filesystems.0.clone(),
            },
            network: NetworkStats {
                bytes_sent: u64_of(self.net_bytes_sent),
                bytes_recv: u64_of(self.net_bytes_recv),
                packets_sent: u64_of(self.net_packets_sent),
                packets_recv: u64_of(self.net_packets_recv),
                in_bps: f64::from(self.net_in_bps),
                out_bps: f64::from(self.net_out_bps),
            },
            processes: ProcessStats {
                total: u32_of(self.proc_total),
                running: u32_of(self.proc_running),
                sleeping: u32_of(self.proc_sleeping),
                zombie: u32_of(self.proc_zombie),
            },
            connections: ConnectionStats {
                active: u32_of(self.conn_active),
                listening: u32_of(self.conn_listening),
                established: u32_of(self.conn_established),
            },
            timestamp: self.ts,
        }
    }
}

/// Creates the day partitions the given instants fall in, one transaction per day: a statement
/// creating several would hold the parent's lock from the first while waiting for the next
/// day's advisory lock, and two writers with overlapping days deadlocked that way.
pub async fn ensure_partitions(pool: &PgPool, days: &[NaiveDate]) -> Result<(), sqlx::Error> {
    for day in days {
        sqlx::query("SELECT lookout_ensure_partition('samples', $1)").bind(day).execute(pool).await?;
    }
    Ok(())
}

/// The rows as a binary COPY payload, columns in table order (the struct's field order).
fn to_copy(rows: &[&SampleRow]) -> Result<Vec<u8>, serde_json::Error> {
    const COLUMNS: i16 = 45;
    let mut copy = BinaryCopy::with_capacity(rows.len() * 360);
    for r in rows {
        copy.row(COLUMNS)
            .int4(r.host_id)
            .timestamptz(r.ts)
            .float4(r.cpu_percent)
            .int2(r.cpu_cores)
            .int4(r.cpu_frequency_mhz)
            .float4(r.cpu_usage_mhz)
            .float4(r.cpu_ready_percent)
            .float4(r.load1)
            .float4(r.load5)
            .float4(r.load15)
            .int8(r.mem_total)
            .int8(r.mem_used)
            .int8(r.mem_free)
            .int8(r.mem_available)
            .int8(r.mem_cached)
            .float4(r.mem_percent)
            .int8(r.swap_total)
            .int8(r.swap_used)
            .int8(r.disk_total)
            .int8(r.disk_used)
            .int8(r.disk_free)
            .float4(r.disk_percent)
            .int8(r.disk_read_bytes)
            .int8(r.disk_write_bytes)
            .float4(r.disk_read_bps)
            .float4(r.disk_write_bps)
            .float4(r.disk_read_iops)
            .float4(r.disk_write_iops)
            .float4(r.disk_read_latency_ms)
            .float4(r.disk_write_latency_ms)
            .int8(r.net_bytes_recv)
            .int8(r.net_bytes_sent)
            .int8(r.net_packets_recv)
            .int8(r.net_packets_sent)
            .float4(r.net_in_bps)
            .float4(r.net_out_bps)
            .int4(r.proc_total)
            .int4(r.proc_running)
            .int4(r.proc_sleeping)
            .int4(r.proc_zombie)
            .int4(r.conn_active)
            .int4(r.conn_listening)
            .int4(r.conn_established)
            .jsonb(&r.filesystems.0)?
            .jsonb_or_null(r.top_processes.as_ref().map(|p| &p.0))?;
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
    let mut hours: Vec<(i32, DateTime<Utc>)> = sorted.iter().map(|r| (r.host_id, hour_of(r.ts))).collect();
    hours.dedup();
    let mut attempt = 0;
    let mut fresh = true;
    loop {
        let result = if fresh {
            copy_direct(pool, &payload, &hours).await.map(|()| rows.len() as u64)
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
    error.as_database_error().and_then(|e| e.code()).is_some_and(|code| code == "23505")
}

/// 23514: a row falls in no partition (the partition is missing).
pub fn is_missing_partition(error: &sqlx::Error) -> bool {
    error.as_database_error().and_then(|e| e.code()).is_some_and(|code| code == "23514")
}

/// Deadlock victims and serialization failures succeed when simply run again.
pub fn is_retryable(error: &sqlx::Error) -> bool {
    error.as_database_error().and_then(|e| e.code()).is_some_and(|code| code == "40P01" || code == "40001")
}

async fn copy_direct(pool: &PgPool, payload: &[u8], hours: &[(i32, DateTime<Utc>)]) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut copy = tx.copy_in_raw("COPY samples FROM STDIN (FORMAT binary)").await?;
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
    let mut copy = tx.copy_in_raw("COPY samples_staging FROM STDIN (FORMAT binary)").await?;
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
pub async fn top_processes_near(pool: &PgPool, host_id: i32, at: DateTime<Utc>) -> Result<Vec<app::models::ProcessInfo>, sqlx::Error> {
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
pub async fn since(pool: &PgPool, host_id: i32, since: DateTime<Utc>) -> Result<Vec<SampleRow>, sqlx::Error> {
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
