//! Finds rollup buckets whose counts disagree with the tier below and queues them again.
//!
//! Before issue 12's fix a writer could commit samples into an hour that a rollup worker was
//! finishing, and the worker then deleted the queue entry those samples needed: the hour (and
//! its day) kept too few samples for as long as the rows lived. The writers no longer lose
//! entries; this check heals databases written before the fix, runs once by itself after the
//! upgrade (see `run_once_after_upgrade`) and on demand as `lookout check rollups`.
//!
//! What is compared, per bucket not already queued:
//! - an hour with raw samples: the number of samples with a CPU value against the hourly CPU
//!   rollup's count (a missing hourly row counts as 0);
//! - a day with hourly rows: the sum of their CPU counts against the daily CPU row's count, where
//!   the daily row was built from exactly those hours. A daily row built from hours whose hourly
//!   rows have since expired is left alone (it legitimately holds more than the hours left), but
//!   an hour present and missing from the daily row is a disagreement.
use sqlx::PgPool;

/// Identifies the one-time run after the upgrade in `lookout_maintenance`.
const AFTER_UPGRADE: &str = "rollup_counts_after_issue_12";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RollupCheck {
    /// Hours whose hourly rollup disagreed with the raw samples (now queued again).
    pub hours: u64,
    /// Days whose daily rollup disagreed with the hourly rows (now queued again).
    pub days: u64,
}

/// Compares every bucket with the tier below and queues the ones that disagree: by the CPU
/// metric's rows, which every rolled-up bucket has.
#[tracing::instrument(skip_all, err)]
pub async fn check_rollups(pool: &PgPool) -> Result<RollupCheck, sqlx::Error> {
    let hours = sqlx::query(
        "INSERT INTO rollup_queue_hourly (host_id, bucket)
         SELECT s.host_id, s.bucket FROM (
             SELECT host_id, date_bin('1 hour', ts, timestamptz 'epoch') AS bucket, count(cpu_percent) AS n
             FROM samples GROUP BY 1, 2
         ) s
         LEFT JOIN rollup_hourly r ON r.host_id = s.host_id AND r.bucket = s.bucket AND r.metric = $1
         WHERE coalesce(r.count, 0) <> s.n
           AND NOT EXISTS (SELECT 1 FROM rollup_queue_hourly q WHERE q.host_id = s.host_id AND q.bucket = s.bucket)
         ORDER BY 1, 2
         ON CONFLICT DO NOTHING",
    )
    .bind(super::catalog::CPU_PERCENT)
    .execute(pool)
    .await?
    .rows_affected();
    let days = sqlx::query(
        "INSERT INTO rollup_queue_daily (host_id, bucket)
         SELECT h.host_id, h.day FROM (
             SELECT host_id, date_bin('1 day', bucket, timestamptz 'epoch') AS day, sum(count) AS n,
                    bit_or(1 << extract(hour FROM bucket AT TIME ZONE 'UTC')::int) AS mask
             FROM rollup_hourly WHERE metric = $1 GROUP BY 1, 2
         ) h
         LEFT JOIN rollup_daily d ON d.host_id = h.host_id AND d.bucket = h.day AND d.metric = $1
         WHERE (d.host_id IS NULL OR h.mask & ~d.hours <> 0 OR (d.hours = h.mask AND d.count <> h.n))
           AND NOT EXISTS (SELECT 1 FROM rollup_queue_daily q WHERE q.host_id = h.host_id AND q.bucket = h.day)
           AND NOT EXISTS (SELECT 1 FROM rollup_queue_hourly q WHERE q.host_id = h.host_id
                           AND q.bucket >= h.day AND q.bucket < h.day + interval '1 day')
         ORDER BY 1, 2
         ON CONFLICT DO NOTHING",
    )
    .bind(super::catalog::CPU_PERCENT)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(RollupCheck { hours, days })
}

/// Runs `check_rollups` once per database (recorded in `lookout_maintenance`), so databases
/// written before the fix heal on the first start after the upgrade without a scan at every start.
pub async fn run_once_after_upgrade(pool: &PgPool) -> Result<Option<RollupCheck>, sqlx::Error> {
    let done: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM lookout_maintenance WHERE name = $1)")
            .bind(AFTER_UPGRADE)
            .fetch_one(pool)
            .await?;
    if done {
        return Ok(None);
    }
    let result = check_rollups(pool).await?;
    sqlx::query("INSERT INTO lookout_maintenance (name) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(AFTER_UPGRADE)
        .execute(pool)
        .await?;
    Ok(Some(result))
}
