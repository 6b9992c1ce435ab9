//! Custom metric points and their hourly/daily rollups, updated in the same transaction as the
//! points so a rollup never misses or double-counts a point.
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgPool};

/// Raw points are kept as long as raw samples, daily rollups as long as theirs. Hourly rollups
/// are kept as long too: they are what anomaly detection judges a custom metric on over a range
/// of up to two years (the catalogue's metrics keep their hours inside the daily rows).
pub const RAW_DAYS: i64 = super::retention::RAW_DAYS;
pub const HOURLY_DAYS: i64 = super::retention::DAILY_DAYS;
pub const DAILY_DAYS: i64 = super::retention::DAILY_DAYS;
/// Reads of a longer range answer daily buckets, so a two-year read is not 17 520 points.
pub const HOURLY_READ_DAYS: i64 = 30;

#[derive(Clone, Debug)]
pub struct NewPoint {
    pub name: String,
    pub ts: DateTime<Utc>,
    pub value: f64,
    pub unit: String,
    pub category: String,
    /// A JSON object of string values.
    pub tags: Value,
    pub host_id: Option<i32>,
}

/// Stores points; returns their ids in input order. A host's points older than `unseen_before`
/// (hours the live detection rounds no longer look at) queue their days for the detector's
/// catch-up ([`unjudged`]), in the same transaction.
pub async fn insert(
    pool: &PgPool,
    points: &[NewPoint],
    unseen_before: DateTime<Utc>,
) -> Result<Vec<i64>, sqlx::Error> {
    if points.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = pool.begin().await?;
    let ids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO custom_metrics (name, ts, value, unit, category, tags, host_id)
         SELECT name, ts, value, unit, category, tags, host_id FROM unnest($1::text[], $2::timestamptz[], $3::float8[], $4::text[], $5::text[], $6::jsonb[], $7::int4[])
         WITH ORDINALITY AS u(name, ts, value, unit, category, tags, host_id, n) ORDER BY n
         RETURNING id",
    )
    .bind(points.iter().map(|p| p.name.as_str()).collect::<Vec<_>>())
    .bind(points.iter().map(|p| p.ts).collect::<Vec<_>>())
    .bind(points.iter().map(|p| p.value).collect::<Vec<_>>())
    .bind(points.iter().map(|p| p.unit.as_str()).collect::<Vec<_>>())
    .bind(points.iter().map(|p| p.category.as_str()).collect::<Vec<_>>())
    .bind(points.iter().map(|p| p.tags.clone()).collect::<Vec<_>>())
    .bind(points.iter().map(|p| p.host_id).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await?;
    for resolution in ["hour", "day"] {
        // Sorted by key so concurrent batches lock rollup rows in the same order (no deadlocks).
        sqlx::query(
            "INSERT INTO custom_metric_rollups AS r (name, resolution, host_key, tags, bucket, count, sum, sum_sq, min, max)
             SELECT name, $6, coalesce(host_id, 0), tags, date_trunc($6, ts, 'UTC'), count(*), sum(value), sum(value * value), min(value), max(value)
             FROM unnest($1::text[], $2::timestamptz[], $3::float8[], $4::jsonb[], $5::int4[]) AS u(name, ts, value, tags, host_id)
             GROUP BY 1, 3, 4, 5 ORDER BY 1, 3, 4, 5
             ON CONFLICT (name, resolution, host_key, tags, bucket) DO UPDATE SET
                count = r.count + excluded.count, sum = r.sum + excluded.sum, sum_sq = r.sum_sq + excluded.sum_sq,
                min = least(r.min, excluded.min), max = greatest(r.max, excluded.max)",
        )
        .bind(points.iter().map(|p| p.name.as_str()).collect::<Vec<_>>())
        .bind(points.iter().map(|p| p.ts).collect::<Vec<_>>())
        .bind(points.iter().map(|p| p.value).collect::<Vec<_>>())
        .bind(points.iter().map(|p| p.tags.clone()).collect::<Vec<_>>())
        .bind(points.iter().map(|p| p.host_id).collect::<Vec<_>>())
        .bind(resolution)
        .execute(&mut *tx)
        .await?;
    }
    // Sorted, as above, so concurrent batches take the queue's rows in one order.
    sqlx::query(
        "INSERT INTO custom_metric_unjudged (host_id, name, day)
         SELECT DISTINCT host_id, name, date_trunc('day', ts, 'UTC')
         FROM unnest($1::text[], $2::timestamptz[], $3::int4[]) AS u(name, ts, host_id)
         WHERE host_id IS NOT NULL AND ts < $4
         ORDER BY 1, 2, 3
         ON CONFLICT (host_id, name, day) DO UPDATE SET queued_at = clock_timestamp()",
    )
    .bind(points.iter().map(|p| p.name.as_str()).collect::<Vec<_>>())
    .bind(points.iter().map(|p| p.ts).collect::<Vec<_>>())
    .bind(points.iter().map(|p| p.host_id).collect::<Vec<_>>())
    .bind(unseen_before)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ids)
}

/// Days of a host's custom metric that wait for the catch-up.
#[derive(Debug, FromRow)]
pub struct Unjudged {
    pub host_id: i32,
    pub vm_id: String,
    pub host_name: String,
    pub name: String,
    pub day: DateTime<Utc>,
    /// When the day was last written to: [`judged`] removes it only if that has not changed.
    pub queued_at: DateTime<Utc>,
}

/// Up to `limit` waiting days from `since` on, by host, metric and day; days before `since` are
/// dropped (out of the catch-up's reach). Nothing is locked: a write while they are judged
/// re-queues its day (see [`judged`]).
pub async fn unjudged(
    pool: &PgPool,
    since: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Unjudged>, sqlx::Error> {
    sqlx::query("DELETE FROM custom_metric_unjudged WHERE day < $1")
        .bind(since)
        .execute(pool)
        .await?;
    sqlx::query_as(
        "SELECT u.host_id, h.vm_id, h.name AS host_name, u.name, u.day, u.queued_at
         FROM custom_metric_unjudged u JOIN hosts h ON h.id = u.host_id
         ORDER BY u.host_id, u.name, u.day LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Forgets every waiting day (the catch-up is off: nothing will judge them).
pub async fn forget_unjudged(pool: &PgPool) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM custom_metric_unjudged")
        .execute(pool)
        .await?
        .rows_affected())
}

/// Removes days the catch-up has judged, unless written to since they were read.
pub async fn judged(pool: &PgPool, days: &[Unjudged]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM custom_metric_unjudged u
         USING unnest($1::int4[], $2::text[], $3::timestamptz[], $4::timestamptz[]) AS d(host_id, name, day, queued_at)
         WHERE u.host_id = d.host_id AND u.name = d.name AND u.day = d.day AND u.queued_at = d.queued_at",
    )
    .bind(days.iter().map(|d| d.host_id).collect::<Vec<_>>())
    .bind(days.iter().map(|d| d.name.as_str()).collect::<Vec<_>>())
    .bind(days.iter().map(|d| d.day).collect::<Vec<_>>())
    .bind(days.iter().map(|d| d.queued_at).collect::<Vec<_>>())
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn exists(pool: &PgPool, name: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM custom_metrics WHERE name = $1) OR EXISTS (SELECT 1 FROM custom_metric_rollups WHERE name = $1)",
    )
    .bind(name)
    .fetch_one(pool)
    .await
}

#[derive(Debug, FromRow)]
pub struct RawPoint {
    pub id: i64,
    pub ts: DateTime<Utc>,
    pub value: f64,
    pub unit: String,
    pub category: String,
    pub tags: Value,
    pub vm_id: Option<String>,
}

/// The newest `limit` raw points since `since` whose tags contain `tags`, oldest first.
pub async fn raw(
    pool: &PgPool,
    name: &str,
    since: DateTime<Utc>,
    tags: &Value,
    host_id: Option<i32>,
    limit: i64,
) -> Result<Vec<RawPoint>, sqlx::Error> {
    sqlx::query_as(
        "SELECT * FROM (SELECT m.id, m.ts, m.value, m.unit, m.category, m.tags, h.vm_id FROM custom_metrics m LEFT JOIN hosts h ON h.id = m.host_id
         WHERE m.name = $1 AND m.ts >= $2 AND m.tags @> $3 AND ($4::int4 IS NULL OR m.host_id = $4) ORDER BY m.ts DESC, m.id DESC LIMIT $5) p
         ORDER BY ts, id",
    )
    .bind(name)
    .bind(since)
    .bind(tags)
    .bind(host_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

#[derive(Debug, FromRow)]
pub struct RollupPoint {
    pub bucket: DateTime<Utc>,
    pub count: i64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

/// Rollup buckets since `since`, merged over every series matching `tags` (and host).
pub async fn rollups(
    pool: &PgPool,
    name: &str,
    resolution: &str,
    since: DateTime<Utc>,
    tags: &Value,
    host_id: Option<i32>,
) -> Result<Vec<RollupPoint>, sqlx::Error> {
    sqlx::query_as(
        "SELECT bucket, sum(count)::int8 AS count, sum(sum) AS sum, min(min) AS min, max(max) AS max FROM custom_metric_rollups
         WHERE name = $1 AND resolution = $2 AND bucket >= date_trunc($2, $3::timestamptz, 'UTC') AND tags @> $4 AND ($5::int4 IS NULL OR host_key = $5)
         GROUP BY bucket ORDER BY bucket",
    )
    .bind(name)
    .bind(resolution)
    .bind(since)
    .bind(tags)
    .bind(host_id)
    .fetch_all(pool)
    .await
}

/// One bucket of one of a host's custom metrics, merged over its tag sets.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct HostBucket {
    pub name: String,
    pub bucket: DateTime<Utc>,
    pub avg: f64,
    pub min: f64,
    pub max: f64,
}

/// Buckets of `host_id`'s custom metrics (those of `names`, or all) in `[start, end]` for
/// charts: of the raw points, in buckets `width` wide aligned to the epoch (`resolution` `raw`),
/// or the `hour`/`day` rollups.
pub async fn host_buckets(
    pool: &PgPool,
    host_id: i32,
    names: Option<&[String]>,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    resolution: &str,
    width: chrono::Duration,
) -> Result<Vec<HostBucket>, sqlx::Error> {
    if resolution == "raw" {
        return sqlx::query_as(
            "SELECT name, date_bin($4, ts, timestamptz 'epoch') AS bucket, avg(value) AS avg, min(value) AS min, max(value) AS max
             FROM custom_metrics WHERE host_id = $1 AND ts >= $2 AND ts <= $3 AND ($5::text[] IS NULL OR name = ANY($5))
             GROUP BY 1, 2 ORDER BY 1, 2",
        )
        .bind(host_id)
        .bind(start)
        .bind(end)
        .bind(width)
        .bind(names)
        .fetch_all(pool)
        .await;
    }
    sqlx::query_as(
        "SELECT name, bucket, sum(sum) / sum(count) AS avg, min(min) AS min, max(max) AS max FROM custom_metric_rollups
         WHERE host_key = $1 AND resolution = $4 AND bucket >= date_trunc($4, $2::timestamptz, 'UTC') AND bucket <= $3 AND count > 0
           AND ($5::text[] IS NULL OR name = ANY($5))
         GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .bind(host_id)
    .bind(start)
    .bind(end)
    .bind(resolution)
    .bind(names)
    .fetch_all(pool)
    .await
}

/// The unit of each custom metric `host_id` sent a point of within the raw window, as its newest
/// point gives it.
pub async fn host_units(pool: &PgPool, host_id: i32) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT DISTINCT ON (name) name, unit FROM custom_metrics WHERE host_id = $1 ORDER BY name, ts DESC",
    )
    .bind(host_id)
    .fetch_all(pool)
    .await
}

/// The custom metrics hosts sent points of since `since` (the day rollups say which), with the
/// unit of each one's newest raw point ("" once none is left), by name.
pub async fn sent_by_hosts(
    pool: &PgPool,
    since: DateTime<Utc>,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT n.name, coalesce((SELECT unit FROM custom_metrics m WHERE m.name = n.name ORDER BY ts DESC LIMIT 1), '')
         FROM (SELECT DISTINCT name FROM custom_metric_rollups
               WHERE resolution = 'day' AND bucket >= date_trunc('day', $1::timestamptz, 'UTC') AND host_key <> 0) n
         ORDER BY n.name",
    )
    .bind(since)
    .fetch_all(pool)
    .await
}

/// The newest value of each custom metric each host sent since `since`: `(host id, name, value,
/// unit)` by host and name. A name sent with several tag sets has the mean of their newest
/// points, as its chart merges them (bucket means over every tag set), and the newest point's
/// unit.
pub async fn newest_per_host(
    pool: &PgPool,
    since: DateTime<Utc>,
) -> Result<Vec<(i32, String, f64, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT host_id, name, avg(value), (array_agg(unit ORDER BY ts DESC))[1]
         FROM (SELECT DISTINCT ON (host_id, name, tags) host_id, name, value, unit, ts FROM custom_metrics
               WHERE ts >= $1 AND host_id IS NOT NULL
               ORDER BY host_id, name, tags, ts DESC) newest
         GROUP BY host_id, name
         ORDER BY host_id, name",
    )
    .bind(since)
    .fetch_all(pool)
    .await
}

/// Names of the custom metrics `hosts` sent since `since`, the most points first, at most `limit`.
pub async fn busiest_sent_by(
    pool: &PgPool,
    hosts: &[i32],
    since: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT name FROM custom_metrics WHERE ts >= $1 AND host_id = ANY($2)
         GROUP BY name ORDER BY count(*) DESC, name LIMIT $3",
    )
    .bind(since)
    .bind(hosts)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Unit and category of the newest point of a metric.
pub async fn describe(pool: &PgPool, name: &str) -> Result<Option<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT unit, category FROM custom_metrics WHERE name = $1 ORDER BY ts DESC LIMIT 1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await
}

/// The unit of the newest raw point of a metric, `""` when only its rollups remain (they keep no
/// unit), `None` when nothing of it is stored.
pub async fn describe_any(pool: &PgPool, name: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT coalesce(
             (SELECT unit FROM custom_metrics WHERE name = $1 ORDER BY ts DESC LIMIT 1),
             (SELECT '' FROM custom_metric_rollups WHERE name = $1 LIMIT 1))",
    )
    .bind(name)
    .fetch_one(pool)
    .await
}

/// Deletes points and rollups past their tier's age; returns the rows removed.
pub async fn expire(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let raw =
        sqlx::query("DELETE FROM custom_metrics WHERE ts < now() - make_interval(days => $1)")
            .bind(RAW_DAYS as i32)
            .execute(pool)
            .await?;
    let rolled = sqlx::query(
        "DELETE FROM custom_metric_rollups WHERE (resolution = 'hour' AND bucket < now() - make_interval(days => $1))
            OR (resolution = 'day' AND bucket < now() - make_interval(days => $2))",
    )
    .bind(HOURLY_DAYS as i32)
    .bind(DAILY_DAYS as i32)
    .execute(pool)
    .await?;
    Ok(raw.rows_affected() + rolled.rows_affected())
}

/// One host's daily mean of one custom metric (merged over its tag sets).
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct DailyMean {
    pub name: String,
    pub host_id: i32,
    pub day: DateTime<Utc>,
    pub mean: f64,
}

/// Every host's daily means of the custom metrics `names` (`None`: all) on the UTC days in
/// `[since, until)`, by name, host and day (points sent without a host are left out).
pub async fn daily_means_by_host(
    pool: &PgPool,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    names: Option<&[String]>,
) -> Result<Vec<DailyMean>, sqlx::Error> {
    sqlx::query_as(
        "SELECT name, host_key AS host_id, bucket AS day, sum(sum) / sum(count) AS mean
         FROM custom_metric_rollups
         WHERE resolution = 'day' AND host_key <> 0 AND bucket >= $1 AND bucket < $2
           AND ($3::text[] IS NULL OR name = ANY($3))
         GROUP BY name, host_key, bucket ORDER BY name, host_key, bucket",
    )
    .bind(since)
    .bind(until)
    .bind(names)
    .fetch_all(pool)
    .await
}

/// A metric's capacity as a person set it.
#[derive(Clone, Debug, FromRow)]
pub struct Capacity {
    pub name: String,
    pub capacity: f64,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

/// Every capacity set, by metric name.
pub async fn capacities(pool: &PgPool) -> Result<Vec<Capacity>, sqlx::Error> {
    sqlx::query_as(
        "SELECT name, capacity, updated_at, updated_by FROM custom_metric_capacities ORDER BY name",
    )
    .fetch_all(pool)
    .await
}

pub async fn capacity(pool: &PgPool, name: &str) -> Result<Option<Capacity>, sqlx::Error> {
    sqlx::query_as(
        "SELECT name, capacity, updated_at, updated_by FROM custom_metric_capacities WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await
}

/// Sets (or replaces) a metric's capacity. `only_if_unset` leaves a capacity already set alone
/// (the demo's seeding, which must not undo a person's setting).
pub async fn set_capacity(
    pool: &PgPool,
    name: &str,
    capacity: f64,
    updated_by: &str,
    only_if_unset: bool,
) -> Result<Capacity, sqlx::Error> {
    let sql = if only_if_unset {
        // A no-op update, so that RETURNING gives the row that stays.
        "INSERT INTO custom_metric_capacities (name, capacity, updated_by) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET name = custom_metric_capacities.name
         RETURNING name, capacity, updated_at, updated_by"
    } else {
        "INSERT INTO custom_metric_capacities (name, capacity, updated_by) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET capacity = excluded.capacity,
             updated_at = excluded.updated_at, updated_by = excluded.updated_by
         RETURNING name, capacity, updated_at, updated_by"
    };
    sqlx::query_as(sql)
        .bind(name)
        .bind(capacity)
        .bind(updated_by)
        .fetch_one(pool)
        .await
}

/// Removes a metric's capacity; `false` when none was set.
pub async fn clear_capacity(pool: &PgPool, name: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM custom_metric_capacities WHERE name = $1")
        .bind(name)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// A host's own capacity of a metric, as a person set it.
#[derive(Clone, Debug, FromRow)]
pub struct HostCapacity {
    pub name: String,
    pub host_id: i32,
    pub vm_id: String,
    pub vm_name: String,
    pub capacity: f64,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

/// Every host's own capacity (`name`: of that metric only), by metric and host.
pub async fn host_capacities(
    pool: &PgPool,
    name: Option<&str>,
) -> Result<Vec<HostCapacity>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.name, c.host_id, h.vm_id, h.name AS vm_name, c.capacity, c.updated_at,
                c.updated_by
         FROM custom_metric_host_capacities c JOIN hosts h ON h.id = c.host_id
         WHERE $1::text IS NULL OR c.name = $1 ORDER BY c.name, h.vm_id",
    )
    .bind(name)
    .fetch_all(pool)
    .await
}

/// Sets (or replaces) the capacity of metric `name` for one host.
pub async fn set_host_capacity(
    pool: &PgPool,
    name: &str,
    host_id: i32,
    capacity: f64,
    updated_by: &str,
) -> Result<HostCapacity, sqlx::Error> {
    sqlx::query_as(
        "WITH c AS (
             INSERT INTO custom_metric_host_capacities (name, host_id, capacity, updated_by)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (name, host_id) DO UPDATE SET capacity = excluded.capacity,
                 updated_at = excluded.updated_at, updated_by = excluded.updated_by
             RETURNING *)
         SELECT c.name, c.host_id, h.vm_id, h.name AS vm_name, c.capacity, c.updated_at,
                c.updated_by
         FROM c JOIN hosts h ON h.id = c.host_id",
    )
    .bind(name)
    .bind(host_id)
    .bind(capacity)
    .bind(updated_by)
    .fetch_one(pool)
    .await
}

/// Removes a host's own capacity of `name` (the metric's applies to it again); `false` when
/// none was set.
pub async fn clear_host_capacity(
    pool: &PgPool,
    name: &str,
    host_id: i32,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("DELETE FROM custom_metric_host_capacities WHERE name = $1 AND host_id = $2")
            .bind(name)
            .bind(host_id)
            .execute(pool)
            .await?;
    Ok(done.rows_affected() > 0)
}
