//! The series anomaly detection judges, read on a tier's grid: hourly averages (the daily rows'
//! hourly averages for settled days, the hourly rows since, raw samples for hours still queued)
//! and five-minute averages (whole-day rows, the hourly rows' `fine` slots, raw samples) per
//! host and catalogue metric, and custom metrics' hours or five-minute buckets per host — each
//! as grid indices from the range's start and values, as one snapshot of the tiers.
use crate::storage::catalog;
use chrono::{DateTime, Duration, DurationRound, Utc};
use sqlx::PgPool;
use std::collections::HashMap;

/// (host, metric) → (grid indices, values) of one tier's series. Custom metrics take the
/// (negative) ids their caller gives them.
pub type SeriesData = HashMap<(i32, i16), (Vec<i32>, Vec<f32>)>;

/// Hourly averages of the asked series as (host, metric) → (grid index from `from`, value);
/// a later entry for the same index replaces an earlier one.
/// Settled days come from the daily rows' hourly averages (one row per day, not 24); the hours
/// since the start of yesterday come from the hourly rows, which the rollup worker keeps current
/// while today's (and, just after midnight, yesterday's) daily row may still lag behind. Older
/// days still queued for their daily rollup (a backfill the worker has not reached) also take
/// their hourly rows, over the daily row's possibly stale averages; hours still queued for their
/// own rollup (an hour just ended, a backfill the worker has not reached) from their raw samples,
/// over both — as every other reader answers them.
pub async fn hourly_series(
    pool: &PgPool,
    host_ids: &[i32],
    metric_ids: &[i16],
    (from, until): (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
) -> Result<SeriesData, sqlx::Error> {
    // The rows, the queues and the samples of queued hours in one snapshot.
    let mut tx = super::read_snapshot(pool).await?;
    let day = Duration::days(1);
    let settled_until = (now.duration_trunc(day).unwrap_or(until) - day).clamp(from, until);
    let mut series: SeriesData = HashMap::new();
    if settled_until > from {
        let days: Vec<(i32, i16, i32, Vec<Option<f32>>)> = sqlx::query_as(
            "SELECT host_id, metric, ((extract(epoch FROM bucket) - extract(epoch FROM $3::timestamptz)) / 3600)::int4, hourly_avg
             FROM rollup_daily
             WHERE host_id = ANY($1) AND metric = ANY($2) AND bucket > $3 - interval '1 day' AND bucket < $4 AND hourly_avg IS NOT NULL",
        )
        .bind(host_ids)
        .bind(metric_ids)
        .bind(from)
        .bind(settled_until)
        .fetch_all(&mut *tx)
        .await?;
        let end = (settled_until - from).num_hours();
        for (host, metric, first_hour, averages) in days {
            push_run(
                series.entry((host, metric)).or_default(),
                first_hour,
                averages,
                end,
            );
        }
    }
    // Hourly rows after the daily averages, so they replace them: older days still queued for
    // their daily rollup, and everything from the start of yesterday.
    let rows: Vec<(i32, i16, i32, f32)> = sqlx::query_as(
        "SELECT r.host_id, r.metric, ((extract(epoch FROM r.bucket) - extract(epoch FROM $3::timestamptz)) / 3600)::int4,
                (r.sum / greatest(r.count, 1))::float4
         FROM rollup_queue_daily q,
              LATERAL (SELECT * FROM rollup_hourly WHERE host_id = q.host_id AND metric = ANY($2)
                       AND bucket >= greatest(q.bucket, $3) AND bucket < least(q.bucket + interval '1 day', $4) OFFSET 0) r
         WHERE q.host_id = ANY($1) AND q.bucket > $3 - interval '1 day' AND q.bucket < $4
         UNION ALL
         SELECT host_id, metric, ((extract(epoch FROM bucket) - extract(epoch FROM $3::timestamptz)) / 3600)::int4,
                (sum / greatest(count, 1))::float4
         FROM rollup_hourly WHERE host_id = ANY($1) AND metric = ANY($2) AND bucket >= $4 AND bucket < $5",
    )
    .bind(host_ids)
    .bind(metric_ids)
    .bind(from)
    .bind(settled_until)
    .bind(until)
    .fetch_all(&mut *tx)
    .await?;
    for (host, metric, index, value) in rows {
        let (indices, values) = series.entry((host, metric)).or_default();
        indices.push(index);
        values.push(value);
    }
    let hour = Duration::hours(1);
    queued_from_samples(
        &mut tx,
        &mut series,
        host_ids,
        metric_ids,
        (from, until),
        hour,
    )
    .await?;
    tx.commit().await?;
    Ok(series)
}

/// Appends to `series` the averages per `slot` (from `from`) of the hours from `from` to `until`
/// still queued for their hourly rollup — the hour filling now, a backfill the worker has not
/// reached —, computed from their raw samples as the rollup will, so that they replace the
/// stored rows' (missing or stale) averages of those slots.
async fn queued_from_samples(
    conn: &mut sqlx::PgConnection,
    series: &mut SeriesData,
    host_ids: &[i32],
    metric_ids: &[i16],
    (from, until): (DateTime<Utc>, DateTime<Utc>),
    slot: Duration,
) -> Result<(), sqlx::Error> {
    use sqlx::Row;
    let metrics: Vec<&catalog::Metric> = metric_ids
        .iter()
        .filter_map(|id| catalog::by_id(*id))
        .collect();
    if metrics.is_empty() {
        return Ok(());
    }
    let columns: Vec<String> = metrics
        .iter()
        .map(|m| format!("avg({})::float4", m.raw_sql))
        .collect();
    let sql = format!(
        "SELECT s.host_id, ((extract(epoch FROM s.ts) - extract(epoch FROM $2::timestamptz))::int8 / $4)::int4, {}
         FROM rollup_queue_hourly q,
              LATERAL (SELECT * FROM samples WHERE host_id = q.host_id AND ts >= greatest(q.bucket, $2)
                       AND ts < least(q.bucket + interval '1 hour', $3) OFFSET 0) s
         WHERE q.host_id = ANY($1) AND q.bucket >= $2 AND q.bucket < $3
         GROUP BY 1, 2",
        columns.join(", ")
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(host_ids)
        .bind(from)
        .bind(until)
        .bind(slot.num_seconds())
        .fetch_all(conn)
        .await?;
    for row in rows {
        let host: i32 = row.try_get(0)?;
        let index: i32 = row.try_get(1)?;
        for (k, metric) in metrics.iter().enumerate() {
            if let Some(value) = row.try_get::<Option<f32>, _>(k + 2)? {
                let (indices, values) = series.entry((host, metric.id)).or_default();
                indices.push(index);
                values.push(value);
            }
        }
    }
    Ok(())
}

// The queries below index in the slots of `rollup_hourly.fine` (`/ 300`).
const _: () = assert!(super::rollups::FINE_SLOT_SECONDS == 300);

/// Host, metric, where (a bucket or a grid index) and five-minute averages.
type FineRow<At> = (i32, i16, At, Vec<Option<f32>>);

/// Five-minute averages of the asked series from `from` (an hour) to `until`, indexed in
/// five-minute slots from `from`; a later entry for the same index replaces an earlier one.
/// Ended days come from their whole-day rows (288 averages in one row, not 24 rows of 12); days
/// without one (today, a day still queued for its daily rollup, a day whose rollup last ran
/// before it ended) from the `fine` averages of their hourly rows; hours still queued (the hour
/// filling now, a backfill the worker has not reached) from the raw samples, replacing those.
pub async fn fine_series(
    pool: &PgPool,
    host_ids: &[i32],
    metric_ids: &[i16],
    (from, until): (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
) -> Result<SeriesData, sqlx::Error> {
    // The rows, the queues and the samples of queued hours in one snapshot.
    let mut tx = super::read_snapshot(pool).await?;
    let day = Duration::days(1);
    let slot = Duration::seconds(super::rollups::FINE_SLOT_SECONDS);
    let ended_until = now.duration_trunc(day).unwrap_or(until).clamp(from, until);
    let mut series: SeriesData = HashMap::new();
    let mut whole_days: std::collections::HashSet<(i32, DateTime<Utc>)> = Default::default();
    if ended_until > from {
        let days: Vec<FineRow<DateTime<Utc>>> = sqlx::query_as(
            "SELECT host_id, metric, bucket, fine FROM rollup_fine_daily f
             WHERE host_id = ANY($1) AND metric = ANY($2) AND bucket > $3 - interval '1 day' AND bucket < $4
               AND NOT EXISTS (SELECT 1 FROM rollup_queue_daily q WHERE q.host_id = f.host_id AND q.bucket = f.bucket)",
        )
        .bind(host_ids)
        .bind(metric_ids)
        .bind(from)
        .bind(ended_until)
        .fetch_all(&mut *tx)
        .await?;
        let end = (ended_until - from).num_seconds() / slot.num_seconds();
        for (host, metric, bucket, slots) in days {
            whole_days.insert((host, bucket));
            let first = (bucket - from).num_seconds() / slot.num_seconds();
            push_run(series.entry((host, metric)).or_default(), first, slots, end);
        }
    }
    // The hourly rows of every stretch no whole-day row covers, per host.
    let (mut span_hosts, mut span_starts, mut span_ends) = (Vec::new(), Vec::new(), Vec::new());
    for &host in host_ids {
        let mut start = from;
        while start < until {
            let day_start = start.duration_trunc(day).unwrap_or(start);
            let day_end = (day_start + day).min(until);
            if !whole_days.contains(&(host, day_start)) {
                match (span_hosts.last(), span_ends.last_mut()) {
                    (Some(&last_host), Some(end)) if last_host == host && *end == start => {
                        *end = day_end
                    }
                    _ => {
                        span_hosts.push(host);
                        span_starts.push(start);
                        span_ends.push(day_end);
                    }
                }
            }
            start = day_end;
        }
    }
    let hours: Vec<FineRow<i32>> = sqlx::query_as(
        "SELECT r.host_id, r.metric, ((extract(epoch FROM r.bucket) - extract(epoch FROM $3::timestamptz)) / 300)::int4, r.fine
         FROM unnest($1::int4[], $4::timestamptz[], $5::timestamptz[]) AS e(h, s, u),
              LATERAL (SELECT host_id, metric, bucket, fine FROM rollup_hourly
                       WHERE host_id = e.h AND metric = ANY($2) AND bucket >= e.s AND bucket < e.u AND fine IS NOT NULL
                         AND bucket >= $3 AND bucket < $6 OFFSET 0) r",
    )
    .bind(&span_hosts)
    .bind(metric_ids)
    .bind(from)
    .bind(&span_starts)
    .bind(&span_ends)
    .bind(until)
    .fetch_all(&mut *tx)
    .await?;
    let end = (until - from).num_seconds() / slot.num_seconds();
    for (host, metric, first, slots) in hours {
        push_run(series.entry((host, metric)).or_default(), first, slots, end);
    }
    queued_from_samples(
        &mut tx,
        &mut series,
        host_ids,
        metric_ids,
        (from, until),
        slot,
    )
    .await?;
    tx.commit().await?;
    Ok(series)
}

/// The grid step of a custom metric's series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Hour,
    FiveMinutes,
}

/// Hourly or five-minute averages of custom metrics per host (every tag set of a name merged),
/// keyed like the catalogue's by the ids given with the names: hours from their hourly rollups
/// (kept two years), five-minute buckets from their raw points (kept 7 days).
pub async fn custom_metric_series(
    pool: &PgPool,
    host_ids: &[i32],
    series: &[(i16, &str)],
    step: Step,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<SeriesData, sqlx::Error> {
    use super::custom_metrics::{HOURLY_DAYS, RAW_DAYS};
    let names: Vec<&str> = series.iter().map(|(_, name)| *name).collect();
    // Each tier is read within what it keeps: backfilled points older than the raw window stay
    // until the next retention pass, and five-minute buckets must not depend on when that ran.
    let (sql, kept_days) = match step {
        Step::Hour => (
            "SELECT host_key, name, ((extract(epoch FROM bucket) - extract(epoch FROM $3::timestamptz)) / 3600)::int4,
                    (sum(sum) / greatest(sum(count), 1))::float4
             FROM custom_metric_rollups
             WHERE resolution = 'hour' AND host_key = ANY($1) AND name = ANY($2) AND bucket >= $3 AND bucket < $4
               AND bucket >= now() - make_interval(days => $5)
             GROUP BY 1, 2, 3",
            HOURLY_DAYS,
        ),
        Step::FiveMinutes => (
            "SELECT host_id, name, ((extract(epoch FROM ts) - extract(epoch FROM $3::timestamptz))::int8 / 300)::int4,
                    avg(value)::float4
             FROM custom_metrics
             WHERE host_id = ANY($1) AND name = ANY($2) AND ts >= $3 AND ts < $4
               AND ts >= now() - make_interval(days => $5)
             GROUP BY 1, 2, 3",
            RAW_DAYS,
        ),
    };
    let rows: Vec<(i32, String, i32, f32)> = sqlx::query_as(sql)
        .bind(host_ids)
        .bind(&names)
        .bind(from)
        .bind(until)
        .bind(kept_days as i32)
        .fetch_all(pool)
        .await?;
    let mut data: SeriesData = HashMap::new();
    for (host, name, index, value) in rows {
        let Some((id, _)) = series.iter().find(|(_, n)| *n == name) else {
            continue;
        };
        let (indices, values) = data.entry((host, *id)).or_default();
        indices.push(index);
        values.push(value);
    }
    Ok(data)
}

/// Appends one stored row's run of averages, the first at grid index `first`: those present and
/// before `end` (a day row reaches past the range it was read for).
pub fn push_run(
    (indices, values): &mut (Vec<i32>, Vec<f32>),
    first: impl Into<i64>,
    run: Vec<Option<f32>>,
    end: i64,
) {
    let first = first.into();
    for (index, value) in (first..).zip(run).take_while(|(index, _)| *index < end) {
        if let (Some(value), Ok(index @ 0..)) = (value, i32::try_from(index)) {
            indices.push(index);
            values.push(value);
        }
    }
}
