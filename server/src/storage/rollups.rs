//! Rollups: hourly rows computed from raw samples, daily rows merged from hourly ones, driven by
//! queues that the sample writer fills in the same transaction as the samples.
//!
//! Guarantees: a queue entry is deleted in the same transaction that writes its rollup rows, so a
//! crash leaves it queued and the next run recomputes it. Hourly rows are recomputed from all raw
//! samples of the hour and daily rows from all hourly rows of the day, so re-running gives the
//! same rows (idempotent) and a late backfill re-queues exactly the buckets it touched.
use super::{catalog, samples::SampleRow};
use crate::analysis::sketch::Sketch;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sqlx::PgPool;
use std::collections::BTreeMap;
use tokio_util::sync::CancellationToken;

/// Count, sum, extremes, sum of squares and a quantile sketch of one metric over one bucket.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricRollup {
    pub count: i64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub sumsq: f64,
    pub sketch: Sketch,
}

impl Default for MetricRollup {
    fn default() -> Self {
        MetricRollup {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sumsq: 0.0,
            sketch: Sketch::new(),
        }
    }
}

impl MetricRollup {
    pub fn add(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        self.count += 1;
        self.sum += value;
        self.sumsq += value * value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.sketch.add(value);
    }

    pub fn from_values(values: &[f64]) -> Self {
        let mut rollup = MetricRollup::default();
        for &v in values {
            rollup.add(v);
        }
        rollup
    }

    pub fn merge(&mut self, other: &MetricRollup) {
        self.count += other.count;
        self.sum += other.sum;
        self.sumsq += other.sumsq;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.sketch.merge(&other.sketch);
    }

    pub fn avg(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }

    /// Population standard deviation.
    pub fn std(&self) -> Option<f64> {
        let mean = self.avg()?;
        Some(
            (self.sumsq / self.count as f64 - mean * mean)
                .max(0.0)
                .sqrt(),
        )
    }

    /// A sketch quantile, clamped to the exact extremes (the sketch's bucket midpoints can
    /// otherwise lie a fraction of a percent outside them).
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count > 0 && q >= 1.0 {
            return Some(self.max);
        }
        if self.count > 0 && q <= 0.0 {
            return Some(self.min);
        }
        self.sketch.quantile(q).map(|v| v.clamp(self.min, self.max))
    }
}

/// The columns of a `StoredRollup`: readers name them instead of `*`, which would also fetch
/// the daily rows' hourly averages.
pub const ROLLUP_COLUMNS: &str = "host_id, bucket, metric, count, sum, min, max, sumsq, sketch";

/// A stored rollup row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StoredRollup {
    pub host_id: i32,
    pub bucket: DateTime<Utc>,
    pub metric: i16,
    pub count: i32,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub sumsq: f64,
    pub sketch: Vec<u8>,
}

impl StoredRollup {
    pub fn rollup(&self) -> Result<MetricRollup, crate::analysis::sketch::SketchDecodeError> {
        Ok(MetricRollup {
            count: i64::from(self.count),
            sum: self.sum,
            min: self.min,
            max: self.max,
            sumsq: self.sumsq,
            sketch: Sketch::decode(&self.sketch)?,
        })
    }
}

/// Rollups of every catalogue metric over a set of raw rows.
pub fn roll_up_rows(rows: &[SampleRow]) -> Vec<(i16, MetricRollup)> {
    let mut rollups: Vec<MetricRollup> = vec![MetricRollup::default(); catalog::METRICS.len()];
    for row in rows {
        for (rollup, value) in rollups.iter_mut().zip(catalog::values_of(row)) {
            rollup.add(value);
        }
    }
    catalog::METRICS
        .iter()
        .map(|m| m.id)
        .zip(rollups)
        .filter(|(_, r)| r.count > 0)
        .collect()
}

/// The width of the averages kept with each hourly bucket (`rollup_hourly.fine`), seconds.
pub const FINE_SLOT_SECONDS: i64 = 300;
/// Five-minute slots in an hour: the fine series kept with each hourly bucket.
pub const FINE_SLOTS: usize = (3600 / FINE_SLOT_SECONDS) as usize;

/// Five-minute averages of every catalogue metric over one hour's raw rows, in catalogue order
/// (`None` where a slot has no value).
pub fn fine_averages(rows: &[SampleRow]) -> Vec<(i16, [Option<f32>; FINE_SLOTS])> {
    let mut sums = vec![[(0.0f64, 0u32); FINE_SLOTS]; catalog::METRICS.len()];
    for row in rows {
        let slot = (row.ts.timestamp().rem_euclid(3600) / FINE_SLOT_SECONDS) as usize;
        for (metric, value) in sums.iter_mut().zip(catalog::values_of(row)) {
            if value.is_finite() {
                metric[slot].0 += value;
                metric[slot].1 += 1;
            }
        }
    }
    catalog::METRICS
        .iter()
        .zip(sums)
        .filter(|(_, slots)| slots.iter().any(|(_, n)| *n > 0))
        .map(|(m, slots)| {
            (
                m.id,
                slots.map(|(sum, n)| (n > 0).then(|| (sum / f64::from(n)) as f32)),
            )
        })
        .collect()
}

/// The table of whole days' five-minute averages, written by the daily rollup once a day has
/// ended and kept as long as the hourly tier they are copied from.
pub const FINE_DAYS_TABLE: &str = "rollup_fine_daily";
/// Five-minute slots in a day: one row of `rollup_fine_daily`.
pub const FINE_SLOTS_PER_DAY: usize = 24 * FINE_SLOTS;

/// One metric's five-minute averages over the day starting at `day`, from its hours' `fine`
/// arrays (bucket, 12 averages), laid out from midnight; `None` when no slot has a value.
/// Hours outside the day are ignored.
pub fn day_fine<'a>(
    day: DateTime<Utc>,
    hours: impl IntoIterator<Item = (DateTime<Utc>, &'a [Option<f32>])>,
) -> Option<Vec<Option<f32>>> {
    let mut slots = vec![None; FINE_SLOTS_PER_DAY];
    let mut any = false;
    for (bucket, fine) in hours {
        let Ok(hour) = usize::try_from((bucket - day).num_hours()) else {
            continue;
        };
        if hour >= 24 {
            continue;
        }
        for (slot, value) in slots[hour * FINE_SLOTS..(hour + 1) * FINE_SLOTS]
            .iter_mut()
            .zip(fine)
        {
            *slot = *value;
            any |= value.is_some();
        }
    }
    any.then_some(slots)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    Hourly,
    Daily,
}

impl Tier {
    pub fn table(self) -> &'static str {
        match self {
            Tier::Hourly => "rollup_hourly",
            Tier::Daily => "rollup_daily",
        }
    }
    fn queue(self) -> &'static str {
        match self {
            Tier::Hourly => "rollup_queue_hourly",
            Tier::Daily => "rollup_queue_daily",
        }
    }
    fn width(self) -> Duration {
        match self {
            Tier::Hourly => Duration::hours(1),
            Tier::Daily => Duration::days(1),
        }
    }
}

type RollupKey = (i32, i16, DateTime<Utc>);

/// Writes rollup rows. For daily rows, `hours` is their source hours and `hourly_avg` holds 24
/// hourly averages per row, flattened in row order; both are ignored for hourly rows.
/// `extra`: per row, flat, the hourly tier's 12 five-minute averages or the daily tier's 24
/// hourly averages.
async fn upsert(
    tx: &mut sqlx::PgConnection,
    tier: Tier,
    rows: &[(RollupKey, MetricRollup, i32)],
    extra: &[Option<f32>],
) -> Result<(), sqlx::Error> {
    let mut hosts = Vec::with_capacity(rows.len());
    let mut metrics = Vec::with_capacity(rows.len());
    let mut buckets = Vec::with_capacity(rows.len());
    let (mut counts, mut sums, mut mins, mut maxs, mut sumsqs, mut sketches) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let mut masks = Vec::with_capacity(rows.len());
    for ((host, metric, bucket), r, hours) in rows {
        masks.push(*hours);
        hosts.push(*host);
        metrics.push(*metric);
        buckets.push(*bucket);
        counts.push(i32::try_from(r.count).unwrap_or(i32::MAX));
        sums.push(r.sum);
        mins.push(r.min);
        maxs.push(r.max);
        sumsqs.push(r.sumsq);
        sketches.push(r.sketch.encode());
    }
    let sql = match tier {
        Tier::Hourly => format!("INSERT INTO rollup_hourly (host_id, metric, bucket, count, sum, min, max, sumsq, sketch, fine)
         SELECT h, m, b, c, s, mi, ma, sq, sk, g.slots
         FROM unnest($1::int4[], $2::int2[], $3::timestamptz[], $4::int4[], $5::float8[],
             $6::float8[], $7::float8[], $8::float8[], $9::bytea[], $10::int4[]) WITH ORDINALITY AS t(h, m, b, c, s, mi, ma, sq, sk, hours, n)
         JOIN {} g USING (n)
         ON CONFLICT (host_id, metric, bucket) DO UPDATE SET count = EXCLUDED.count, sum = EXCLUDED.sum,
             min = EXCLUDED.min, max = EXCLUDED.max, sumsq = EXCLUDED.sumsq, sketch = EXCLUDED.sketch, fine = EXCLUDED.fine",
            regrouped("$11", FINE_SLOTS)
        ),
        Tier::Daily => format!("INSERT INTO rollup_daily (host_id, metric, bucket, count, sum, min, max, sumsq, sketch, hours, hourly_avg)
         SELECT h, m, b, c, s, mi, ma, sq, sk, hours, g.slots
         FROM unnest($1::int4[], $2::int2[], $3::timestamptz[], $4::int4[], $5::float8[], $6::float8[], $7::float8[],
             $8::float8[], $9::bytea[], $10::int4[]) WITH ORDINALITY AS t(h, m, b, c, s, mi, ma, sq, sk, hours, n)
         JOIN {} g USING (n)
         ON CONFLICT (host_id, metric, bucket) DO UPDATE SET count = EXCLUDED.count, sum = EXCLUDED.sum,
             min = EXCLUDED.min, max = EXCLUDED.max, sumsq = EXCLUDED.sumsq, sketch = EXCLUDED.sketch, hours = EXCLUDED.hours,
             hourly_avg = EXCLUDED.hourly_avg",
            regrouped("$11", 24)
        ),
    };
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(hosts)
        .bind(metrics)
        .bind(buckets)
        .bind(counts)
        .bind(sums)
        .bind(mins)
        .bind(maxs)
        .bind(sumsqs)
        .bind(sketches)
        .bind(masks)
        .bind(extra)
        .execute(tx)
        .await?;
    Ok(())
}

async fn ensure_partitions(
    pool: &PgPool,
    table: &str,
    buckets: &[DateTime<Utc>],
) -> Result<(), sqlx::Error> {
    let mut days: Vec<NaiveDate> = buckets.iter().map(|b| b.date_naive()).collect();
    days.sort_unstable();
    days.dedup();
    // One transaction per day, as for samples (see `samples::ensure_partitions`).
    for day in days {
        sqlx::query("SELECT lookout_ensure_partition($1, $2)")
            .bind(table)
            .bind(day)
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Replaces the five-minute rows of the processed (host, day) entries with `rows` (their
/// `slots` flat, 288 per row): a day recomputed without any drops its old row.
async fn replace_fine_days(
    tx: &mut sqlx::PgConnection,
    hosts: &[i32],
    days: &[DateTime<Utc>],
    rows: &[RollupKey],
    slots: &[Option<f32>],
) -> Result<(), sqlx::Error> {
    let (Some(&first), Some(&last)) = (days.iter().min(), days.iter().max()) else {
        return Ok(());
    };
    // The outer bounds prune the partitions the per-entry join could not.
    sqlx::query(
        "DELETE FROM rollup_fine_daily f USING unnest($1::int4[], $2::timestamptz[]) AS e(h, b)
         WHERE f.host_id = e.h AND f.bucket = e.b AND f.bucket >= $3 AND f.bucket <= $4",
    )
    .bind(hosts)
    .bind(days)
    .bind(first)
    .bind(last)
    .execute(&mut *tx)
    .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let (mut row_hosts, mut metrics, mut buckets) = (Vec::new(), Vec::new(), Vec::new());
    for &(host, metric, bucket) in rows {
        row_hosts.push(host);
        metrics.push(metric);
        buckets.push(bucket);
    }
    let sql = format!(
        "INSERT INTO rollup_fine_daily (host_id, metric, bucket, fine)
         SELECT k.h, k.m, k.b, s.slots
         FROM unnest($1::int4[], $2::int2[], $3::timestamptz[]) WITH ORDINALITY AS k(h, m, b, n)
         JOIN {} s USING (n)",
        regrouped("$4", FINE_SLOTS_PER_DAY)
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(row_hosts)
        .bind(metrics)
        .bind(buckets)
        .bind(slots)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// SQL for a subquery regrouping a flat float4[] parameter into rows `(n, slots)` of `width`
/// values each, `n` counting rows from 1 — how a batch passes a fixed-length array per row (a 2-D
/// array cannot be unnested row by row). In one pass: slicing the flat array once per row walks
/// it from the start each time when it holds NULLs (3 800 rows of 288: 5 s; of 12: 0.3 s).
fn regrouped(param: &str, width: usize) -> String {
    format!(
        "(SELECT (i - 1) / {width} + 1 AS n, array_agg(v ORDER BY i) AS slots
          FROM unnest({param}::float4[]) WITH ORDINALITY AS u(v, i) GROUP BY 1)"
    )
}

/// An hourly rollup row with its five-minute averages.
#[derive(sqlx::FromRow)]
struct HourWithFine {
    #[sqlx(flatten)]
    rollup: StoredRollup,
    fine: Option<Vec<Option<f32>>>,
}

/// One metric's hours of a day: all merged, the hours present (bit mask), and each hour alone.
type DayParts = (MetricRollup, i32, Vec<(usize, MetricRollup)>);

/// One decoded hourly rollup of a day.
#[derive(Clone, Debug)]
pub struct HourPart {
    pub bucket: DateTime<Utc>,
    pub metric: i16,
    pub rollup: MetricRollup,
}

/// Decodes stored hourly rows, skipping (and logging) corrupt sketches.
fn decode_hours(rows: &[StoredRollup]) -> Vec<HourPart> {
    rows.iter()
        .filter_map(|row| match row.rollup() {
            Ok(rollup) => Some(HourPart { bucket: row.bucket, metric: row.metric, rollup }),
            Err(_) => {
                tracing::error!(host = row.host_id, metric = row.metric, bucket = %row.bucket, "Skipping a corrupt hourly sketch.");
                None
            }
        })
        .collect()
}

/// A stored daily row with the hours it was built from and its hourly averages.
#[derive(Clone, Debug)]
pub struct StoredDay {
    pub row: StoredRollup,
    pub hours: i32,
    pub hourly_avg: Option<Vec<Option<f32>>>,
}

/// A daily row to write.
#[derive(Debug, PartialEq)]
pub struct DayRow {
    pub metric: i16,
    pub rollup: MetricRollup,
    /// Bit h set = hour h (UTC) is in the row.
    pub hours: i32,
    /// The average of each hour, `None` where the hour had no data: the day's shape, kept with
    /// the daily row so anomaly detection reads 24 hours in one row (and past the hourly tier's
    /// retention).
    pub hourly_avg: [Option<f32>; 24],
}

/// The daily rows of one host and day, with the hours each was built from. Normally the day is
/// recomputed from all its hourly rows. When hours it was built from are gone (the hourly
/// partition expired and a late backfill brought some hours back), the hours not yet in it are
/// merged into the stored row and the hours already in it are left alone, so re-running gives the
/// same rows and nothing is counted twice.
pub fn roll_up_day(hourly: &[HourPart], existing: &[StoredDay], day: DateTime<Utc>) -> Vec<DayRow> {
    let hour_of = |bucket: DateTime<Utc>| (bucket - day).num_hours().clamp(0, 23) as usize;
    let mut present: BTreeMap<i16, DayParts> = BTreeMap::new();
    for part in hourly {
        let hour = hour_of(part.bucket);
        let entry = present.entry(part.metric).or_default();
        entry.0.merge(&part.rollup);
        entry.1 |= 1 << hour;
        entry.2.push((hour, part.rollup.clone()));
    }
    let average = |part: &MetricRollup| part.avg().map(|v| v as f32);
    let mut out = Vec::new();
    for (metric, (all, mask, parts)) in present {
        let mut hourly_avg = [None; 24];
        for (hour, part) in &parts {
            hourly_avg[*hour] = average(part);
        }
        let stored = existing.iter().find(|d| d.row.metric == metric);
        match stored {
            // Hours recorded in the stored row have expired: merge only the new hours.
            Some(d) if d.hours != 0 && d.hours & !mask != 0 => {
                let Ok(mut merged) = d.row.rollup() else {
                    out.push(DayRow {
                        metric,
                        rollup: all,
                        hours: mask,
                        hourly_avg,
                    });
                    continue;
                };
                let mut hours = d.hours;
                let mut kept = [None; 24];
                for (hour, slot) in kept.iter_mut().enumerate() {
                    *slot = d
                        .hourly_avg
                        .as_ref()
                        .and_then(|a| a.get(hour).copied().flatten());
                }
                for (hour, part) in parts.iter().filter(|(hour, _)| d.hours & (1 << hour) == 0) {
                    merged.merge(part);
                    hours |= 1 << hour;
                    kept[*hour] = average(part);
                }
                out.push(DayRow {
                    metric,
                    rollup: merged,
                    hours,
                    hourly_avg: kept,
                });
            }
            _ => out.push(DayRow {
                metric,
                rollup: all,
                hours: mask,
                hourly_avg,
            }),
        }
    }
    out
}

/// Rolls up at most `limit` queued buckets of `tier`; returns how many were processed.
/// Buckets still filling (the current hour or day) are refreshed at most once a minute.
pub async fn process_queue(pool: &PgPool, tier: Tier, limit: i64) -> Result<usize, sqlx::Error> {
    let mut attempt = 0;
    loop {
        match process_queue_once(pool, tier, limit).await {
            Err(Failure::MissingPartitions(table, buckets)) if attempt < 3 => {
                // DDL runs outside the transaction (which has rolled back): inside it, partition
                // creation would hold locks that concurrent writers queue behind.
                ensure_partitions(pool, table, &buckets).await?;
            }
            Err(Failure::Database(error))
                if super::samples::is_retryable(&error) && attempt < 3 => {}
            Err(Failure::MissingPartitions(..)) => {
                return Err(sqlx::Error::Protocol(
                    "rollup partitions could not be created".into(),
                ))
            }
            Err(Failure::Database(error)) => return Err(error),
            Ok(done) => return Ok(done),
        }
        attempt += 1;
    }
}

enum Failure {
    /// The table and the buckets whose partitions are missing.
    MissingPartitions(&'static str, Vec<DateTime<Utc>>),
    Database(sqlx::Error),
}

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Self {
        Failure::Database(error)
    }
}

async fn process_queue_once(pool: &PgPool, tier: Tier, limit: i64) -> Result<usize, Failure> {
    let mut tx = pool.begin().await?;
    let sql = format!(
        "SELECT host_id, bucket FROM {queue}
         WHERE bucket + $2 <= now() OR queued_at <= now() - interval '1 minute'
         ORDER BY bucket, host_id LIMIT $1 FOR UPDATE SKIP LOCKED",
        queue = tier.queue()
    );
    let entries: Vec<(i32, DateTime<Utc>)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(limit)
        .bind(tier.width())
        .fetch_all(&mut *tx)
        .await?;
    if entries.is_empty() {
        return Ok(0);
    }
    // One query per batch, not per bucket: a backfill queues hundreds of thousands of buckets.
    let (hosts, buckets): (Vec<i32>, Vec<DateTime<Utc>>) = entries.iter().copied().unzip();
    let (Some(&first), Some(&last)) = (buckets.iter().min(), buckets.iter().max()) else {
        return Ok(0);
    };
    let mut rows: Vec<(RollupKey, MetricRollup, i32)> = Vec::new();
    // Per row: the hourly tier's five-minute averages, or the daily tier's hourly ones.
    let mut extra: Vec<Option<f32>> = Vec::new();
    // Daily tier: the ended days' five-minute averages, (host, metric, day) and 288 slots each,
    // kept only for ended days within the hourly tier's window: a day still filling would be
    // rewritten every minute, and readers take its hourly rows anyway.
    let now = Utc::now();
    let fine_window =
        now - Duration::days(super::retention::HOURLY_DAYS)..=now - Tier::Daily.width();
    let (mut fine_rows, mut fine_slots): (Vec<RollupKey>, Vec<Option<f32>>) =
        (Vec::new(), Vec::new());
    match tier {
        Tier::Hourly => {
            for ((host, bucket), raw) in raw_by_hour(&mut tx, &hosts, &buckets, first, last).await?
            {
                let fine = fine_averages(&raw);
                for (metric, r) in roll_up_rows(&raw) {
                    rows.push(((host, metric, bucket), r, 0));
                    let slots = fine.iter().find(|(m, _)| *m == metric).map(|(_, s)| *s);
                    extra.extend(slots.unwrap_or([None; FINE_SLOTS]));
                }
            }
        }
        Tier::Daily => {
            let hourly: Vec<HourWithFine> = sqlx::query_as(
                "SELECT r.* FROM unnest($1::int4[], $2::timestamptz[]) AS e(h, b),
                 LATERAL (SELECT * FROM rollup_hourly WHERE host_id = e.h AND bucket >= e.b AND bucket < e.b + interval '1 day'
                          AND bucket >= $3 AND bucket < $4 OFFSET 0) r",
            )
            .bind(&hosts)
            .bind(&buckets)
            .bind(first)
            .bind(last + Tier::Daily.width())
            .fetch_all(&mut *tx)
            .await?;
            let existing = stored_days(&mut tx, &hosts, &buckets).await?;
            let mut hourly_by_day: BTreeMap<(i32, DateTime<Utc>), Vec<StoredRollup>> =
                BTreeMap::new();
            let mut fine_by_day: BTreeMap<(i32, DateTime<Utc>, i16), Vec<_>> = BTreeMap::new();
            for HourWithFine { rollup: row, fine } in hourly {
                let day = day_of(row.bucket);
                if let Some(fine) = fine {
                    fine_by_day
                        .entry((row.host_id, day, row.metric))
                        .or_default()
                        .push((row.bucket, fine));
                }
                hourly_by_day
                    .entry((row.host_id, day))
                    .or_default()
                    .push(row);
            }
            for ((host, day, metric), hours) in fine_by_day {
                if !fine_window.contains(&day) {
                    continue;
                }
                let hours = hours
                    .iter()
                    .map(|(bucket, fine)| (*bucket, fine.as_slice()));
                if let Some(slots) = day_fine(day, hours) {
                    fine_rows.push((host, metric, day));
                    fine_slots.extend(slots);
                }
            }
            for &(host, bucket) in &entries {
                let Some(day_rows) = hourly_by_day.get(&(host, bucket)) else {
                    continue;
                };
                let stored: Vec<StoredDay> = existing
                    .iter()
                    .filter(|d| d.row.host_id == host && d.row.bucket == bucket)
                    .cloned()
                    .collect();
                for day in roll_up_day(&decode_hours(day_rows), &stored, bucket) {
                    rows.push(((host, day.metric, bucket), day.rollup, day.hours));
                    extra.extend(day.hourly_avg);
                }
            }
        }
    }
    if !rows.is_empty() {
        if let Err(error) = upsert(&mut tx, tier, &rows, &extra).await {
            if super::samples::is_missing_partition(&error) {
                return Err(Failure::MissingPartitions(
                    tier.table(),
                    rows.iter().map(|((_, _, b), _, _)| *b).collect(),
                ));
            }
            return Err(error.into());
        }
    }
    if tier == Tier::Daily {
        let (fine_hosts, fine_days): (Vec<i32>, Vec<DateTime<Utc>>) = entries
            .iter()
            .filter(|(_, day)| fine_window.contains(day))
            .copied()
            .unzip();
        if let Err(error) =
            replace_fine_days(&mut tx, &fine_hosts, &fine_days, &fine_rows, &fine_slots).await
        {
            if super::samples::is_missing_partition(&error) {
                // Every day of the window at once: a backlog's next batch (or another worker's)
                // holds other days, and would miss their partitions in turn.
                let days = (0..=super::retention::HOURLY_DAYS)
                    .map(|back| day_of(now) - Duration::days(back))
                    .collect();
                return Err(Failure::MissingPartitions(FINE_DAYS_TABLE, days));
            }
            return Err(error.into());
        }
    }
    if tier == Tier::Hourly {
        // Locks the day's entry even when it exists, for the reason given at `samples::insert_batch`:
        // a daily worker holding it may have read the day's hours without the ones written here.
        sqlx::query(
            "INSERT INTO rollup_queue_daily (host_id, bucket)
             SELECT DISTINCT h, date_bin('1 day', b, timestamptz 'epoch') FROM unnest($1::int4[], $2::timestamptz[]) AS q(h, b)
             ORDER BY 1, 2
             ON CONFLICT (host_id, bucket) DO UPDATE SET queued_at = rollup_queue_daily.queued_at WHERE false",
        )
        .bind(&hosts)
        .bind(&buckets)
        .execute(&mut *tx)
        .await?;
    }
    let sql = format!(
        "DELETE FROM {} q USING unnest($1::int4[], $2::timestamptz[]) AS e(h, b) WHERE q.host_id = e.h AND q.bucket = e.b",
        tier.queue()
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&hosts)
        .bind(&buckets)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(entries.len())
}

fn hour_start(t: DateTime<Utc>) -> DateTime<Utc> {
    let secs = t.timestamp();
    DateTime::from_timestamp(secs - secs.rem_euclid(3600), 0).unwrap_or(t)
}

fn day_of(t: DateTime<Utc>) -> DateTime<Utc> {
    let secs = t.timestamp();
    DateTime::from_timestamp(secs - secs.rem_euclid(86_400), 0).unwrap_or(t)
}

type HourRollups = BTreeMap<(i32, DateTime<Utc>), Vec<(i16, MetricRollup)>>;

/// Rolls up the raw samples of the given (host, hour) buckets, `first`…`last` their extremes:
/// one primary-key range scan per bucket (LATERAL … OFFSET 0 keeps the planner from turning it
/// into a scan of whole partitions); the outer bounds prune partitions.
async fn hours_from_raw(
    conn: &mut sqlx::PgConnection,
    hosts: &[i32],
    buckets: &[DateTime<Utc>],
    first: DateTime<Utc>,
    last: DateTime<Utc>,
) -> Result<HourRollups, sqlx::Error> {
    Ok(raw_by_hour(conn, hosts, buckets, first, last)
        .await?
        .into_iter()
        .map(|(key, raw)| (key, roll_up_rows(&raw)))
        .collect())
}

/// The raw samples of the given (host, hour) buckets, grouped by bucket.
async fn raw_by_hour(
    conn: &mut sqlx::PgConnection,
    hosts: &[i32],
    buckets: &[DateTime<Utc>],
    first: DateTime<Utc>,
    last: DateTime<Utc>,
) -> Result<BTreeMap<(i32, DateTime<Utc>), Vec<SampleRow>>, sqlx::Error> {
    let raw: Vec<SampleRow> = sqlx::query_as(
        "SELECT s.* FROM unnest($1::int4[], $2::timestamptz[]) AS e(h, b),
         LATERAL (SELECT * FROM samples WHERE host_id = e.h AND ts >= e.b AND ts < e.b + interval '1 hour'
                  AND ts >= $3 AND ts < $4 OFFSET 0) s",
    )
    .bind(hosts)
    .bind(buckets)
    .bind(first)
    .bind(last + Tier::Hourly.width())
    .fetch_all(conn)
    .await?;
    let mut by_bucket: BTreeMap<(i32, DateTime<Utc>), Vec<SampleRow>> = BTreeMap::new();
    for row in raw {
        by_bucket
            .entry((row.host_id, hour_start(row.ts)))
            .or_default()
            .push(row);
    }
    Ok(by_bucket)
}

/// The stored daily rows of the given (host, day) buckets, with their source hours.
async fn stored_days(
    conn: &mut sqlx::PgConnection,
    hosts: &[i32],
    days: &[DateTime<Utc>],
) -> Result<Vec<StoredDay>, sqlx::Error> {
    type DayTuple = (
        i32,
        DateTime<Utc>,
        i16,
        i32,
        f64,
        f64,
        f64,
        f64,
        Vec<u8>,
        i32,
        Option<Vec<Option<f32>>>,
    );
    let (Some(&first), Some(&last)) = (days.iter().min(), days.iter().max()) else {
        return Ok(Vec::new());
    };
    Ok(sqlx::query_as::<_, DayTuple>(
        "SELECT d.host_id, d.bucket, d.metric, d.count, d.sum, d.min, d.max, d.sumsq, d.sketch, d.hours, d.hourly_avg
         FROM unnest($1::int4[], $2::timestamptz[]) AS e(h, b)
         JOIN rollup_daily d ON d.host_id = e.h AND d.bucket = e.b
         WHERE d.bucket >= $3 AND d.bucket <= $4",
    )
    .bind(hosts)
    .bind(days)
    .bind(first)
    .bind(last)
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(|(host_id, bucket, metric, count, sum, min, max, sumsq, sketch, hours, hourly_avg)| StoredDay {
        row: StoredRollup { host_id, bucket, metric, count, sum, min, max, sumsq, sketch },
        hours,
        hourly_avg,
    })
    .collect())
}

/// A rollup bucket as readers see it, decoded.
#[derive(Clone, Debug)]
pub struct RollupRow {
    pub host_id: i32,
    pub bucket: DateTime<Utc>,
    pub metric: i16,
    pub rollup: MetricRollup,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("a stored rollup sketch is corrupt")]
    Corrupt(#[from] crate::analysis::sketch::SketchDecodeError),
}

/// The (host, bucket) pairs of `tier` that are queued — stale or not yet stored — among hosts
/// `$1` with buckets from `$2` (aligned to the tier) to `$3`. A day is also stale while any of its
/// hours is queued.
pub fn stale_buckets_sql(tier: Tier) -> &'static str {
    match tier {
        Tier::Hourly => "SELECT host_id, bucket FROM rollup_queue_hourly WHERE host_id = ANY($1) AND bucket >= $2 AND bucket <= $3",
        Tier::Daily => {
            "SELECT host_id, bucket FROM rollup_queue_daily WHERE host_id = ANY($1) AND bucket >= $2 AND bucket <= $3
             UNION
             SELECT host_id, date_bin('1 day', bucket, timestamptz 'epoch') FROM rollup_queue_hourly
             WHERE host_id = ANY($1) AND bucket >= $2 AND date_bin('1 day', bucket, timestamptz 'epoch') <= $3"
        }
    }
}

/// The stored daily rows of `hosts` and `metrics` with buckets from `first` to `end` and before
/// `before` (what the trends read: complete days, as stored; a day still queued is left out
/// rather than computed, unlike [`read`]).
pub async fn stored_daily(
    pool: &PgPool,
    hosts: &[i32],
    metrics: &[i16],
    (first, end): (DateTime<Utc>, DateTime<Utc>),
    before: DateTime<Utc>,
) -> Result<Vec<StoredRollup>, sqlx::Error> {
    let sql = format!(
        "SELECT {ROLLUP_COLUMNS} FROM rollup_daily
         WHERE host_id = ANY($1) AND metric = ANY($2) AND bucket >= $3 AND bucket <= $4 AND bucket < $5"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(hosts)
        .bind(metrics)
        .bind(first)
        .bind(end)
        .bind(before)
        .fetch_all(pool)
        .await
}

/// Rollup rows of `tier` for `hosts` and `metrics` with buckets from `first` (aligned to the tier)
/// to `end`, as of now: buckets still queued — the hour or day filling now, a backfill the worker
/// has not reached — are computed from the tier below at read time (without writing), so a
/// reader never sees a bucket short of samples already stored. Rows are ordered by host, bucket
/// and metric.
pub async fn read(
    pool: &PgPool,
    tier: Tier,
    hosts: &[i32],
    metrics: &[i16],
    first: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<RollupRow>, ReadError> {
    // The stored rows, the queue and the tier below in one snapshot.
    let mut tx = super::read_snapshot(pool).await?;
    let conn = &mut *tx;
    let sql = format!("SELECT {ROLLUP_COLUMNS} FROM {} WHERE host_id = ANY($1) AND metric = ANY($2) AND bucket >= $3 AND bucket <= $4", tier.table());
    let stored: Vec<StoredRollup> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(hosts)
        .bind(metrics)
        .bind(first)
        .bind(end)
        .fetch_all(&mut *conn)
        .await?;
    let stale: Vec<(i32, DateTime<Utc>)> = sqlx::query_as(stale_buckets_sql(tier))
        .bind(hosts)
        .bind(first)
        .bind(end)
        .fetch_all(&mut *conn)
        .await?;
    let mut rows: BTreeMap<(i32, DateTime<Utc>, i16), MetricRollup> = BTreeMap::new();
    for row in &stored {
        rows.insert((row.host_id, row.bucket, row.metric), row.rollup()?);
    }
    if !stale.is_empty() {
        let fresh = match tier {
            Tier::Hourly => fresh_hours(&mut *conn, &stale).await?,
            Tier::Daily => fresh_days(&mut *conn, &stale).await?,
        };
        for ((host, bucket), parts) in fresh {
            for (metric, rollup) in parts.into_iter().filter(|(m, _)| metrics.contains(m)) {
                rows.insert((host, bucket, metric), rollup);
            }
        }
    }
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|((host_id, bucket, metric), rollup)| RollupRow {
            host_id,
            bucket,
            metric,
            rollup,
        })
        .collect())
}

async fn fresh_hours(
    conn: &mut sqlx::PgConnection,
    stale: &[(i32, DateTime<Utc>)],
) -> Result<HourRollups, sqlx::Error> {
    let (hosts, buckets): (Vec<i32>, Vec<DateTime<Utc>>) = stale.iter().copied().unzip();
    let (Some(&first), Some(&last)) = (buckets.iter().min(), buckets.iter().max()) else {
        return Ok(BTreeMap::new());
    };
    hours_from_raw(conn, &hosts, &buckets, first, last).await
}

/// Stale days recomputed as the worker would: their stored hourly rows, the stale hours among
/// them recomputed from raw samples, merged with what the stored daily row holds of expired hours.
async fn fresh_days(
    conn: &mut sqlx::PgConnection,
    stale: &[(i32, DateTime<Utc>)],
) -> Result<HourRollups, ReadError> {
    let (hosts, days): (Vec<i32>, Vec<DateTime<Utc>>) = stale.iter().copied().unzip();
    let (Some(&first), Some(&last)) = (days.iter().min(), days.iter().max()) else {
        return Ok(BTreeMap::new());
    };
    let hourly: Vec<StoredRollup> = sqlx::query_as(
        "SELECT r.* FROM unnest($1::int4[], $2::timestamptz[]) AS e(h, b),
         LATERAL (SELECT * FROM rollup_hourly WHERE host_id = e.h AND bucket >= e.b AND bucket < e.b + interval '1 day'
                  AND bucket >= $3 AND bucket < $4 OFFSET 0) r",
    )
    .bind(&hosts)
    .bind(&days)
    .bind(first)
    .bind(last + Tier::Daily.width())
    .fetch_all(&mut *conn)
    .await?;
    let stale_hours: Vec<(i32, DateTime<Utc>)> = sqlx::query_as(
        "SELECT q.host_id, q.bucket FROM unnest($1::int4[], $2::timestamptz[]) AS e(h, b)
         JOIN rollup_queue_hourly q ON q.host_id = e.h AND q.bucket >= e.b AND q.bucket < e.b + interval '1 day'",
    )
    .bind(&hosts)
    .bind(&days)
    .fetch_all(&mut *conn)
    .await?;
    let fresh = fresh_hours(conn, &stale_hours).await?;
    let existing = stored_days(conn, &hosts, &days).await?;
    let mut parts: BTreeMap<(i32, DateTime<Utc>), Vec<HourPart>> = BTreeMap::new();
    for row in &hourly {
        if fresh.contains_key(&(row.host_id, row.bucket)) {
            continue;
        }
        parts
            .entry((row.host_id, day_of(row.bucket)))
            .or_default()
            .push(HourPart {
                bucket: row.bucket,
                metric: row.metric,
                rollup: row.rollup()?,
            });
    }
    for ((host, bucket), metrics) in fresh {
        let day = parts.entry((host, day_of(bucket))).or_default();
        day.extend(metrics.into_iter().map(|(metric, rollup)| HourPart {
            bucket,
            metric,
            rollup,
        }));
    }
    let mut out = BTreeMap::new();
    for ((host, day), hours) in parts {
        let stored: Vec<StoredDay> = existing
            .iter()
            .filter(|d| d.row.host_id == host && d.row.bucket == day)
            .cloned()
            .collect();
        let rows = roll_up_day(&hours, &stored, day);
        out.insert(
            (host, day),
            rows.into_iter().map(|r| (r.metric, r.rollup)).collect(),
        );
    }
    Ok(out)
}

/// Drains both queues until they are empty (or only hold buckets still filling).
pub async fn run_once(pool: &PgPool) -> Result<usize, sqlx::Error> {
    let mut total = 0;
    for tier in [Tier::Hourly, Tier::Daily] {
        loop {
            let done = process_queue(pool, tier, 200).await?;
            total += done;
            if done == 0 {
                break;
            }
        }
    }
    Ok(total)
}

/// How long until the next queued bucket is due: the end of its hour or day, or a minute after
/// it was queued for a bucket still filling (`None`: both queues are empty).
pub async fn next_due(pool: &PgPool) -> Result<Option<std::time::Duration>, sqlx::Error> {
    // `least` skips the NULL of an empty queue.
    let seconds: Option<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM least(
             (SELECT min(least(bucket + interval '1 hour', queued_at + interval '1 minute')) FROM rollup_queue_hourly),
             (SELECT min(least(bucket + interval '1 day', queued_at + interval '1 minute')) FROM rollup_queue_daily)) - now())::float8",
    )
    .fetch_one(pool)
    .await?;
    Ok(crate::jobs::due_in(seconds))
}

/// Background worker: checks the rollups once after an upgrade, then drains the queues until
/// shutdown through [`crate::jobs::run`], waking when the next queued bucket is due, when `wake`
/// says ingest stored an hour that has ended, or after `LOOKOUT_JOB_POLL` (buckets queued through
/// other instances or by `lookout check rollups`) — never more often than `every`. Several
/// servers may run it against one database; SKIP LOCKED keeps them off each other's buckets.
pub async fn worker(
    pool: PgPool,
    every: std::time::Duration,
    wake: crate::jobs::Wake,
    shutdown: CancellationToken,
) {
    match super::consistency::run_once_after_upgrade(&pool).await {
        Ok(Some(check)) if check.hours + check.days > 0 => {
            tracing::warn!(
                hours = check.hours,
                days = check.days,
                "Rollup buckets disagreed with the tier below; queued them again."
            )
        }
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(%error, "Rollup consistency check failed; it runs again at the next start.")
        }
    }
    let pace = crate::jobs::Pace {
        min_gap: every,
        ..crate::jobs::Pace::queue(wake)
    };
    crate::jobs::run(Rollups { pool }, pace, shutdown).await;
}

/// The rollup queues for [`crate::jobs::run`]; retention is their upkeep, at most once an hour.
struct Rollups {
    pool: PgPool,
}

impl crate::jobs::Queue for Rollups {
    const NAME: &'static str = "rollup";
    const UPKEEP_EVERY: Option<std::time::Duration> = Some(std::time::Duration::from_secs(3600));

    async fn step(&self, _: &CancellationToken) -> anyhow::Result<crate::jobs::Step> {
        use anyhow::Context;
        let buckets = run_once(&self.pool).await.context("rollup run")?;
        if buckets > 0 {
            tracing::debug!(buckets, "Rolled up.");
        }
        let due = next_due(&self.pool)
            .await
            .context("cannot read the rollup queues")?;
        Ok(crate::jobs::Step::Idle(due))
    }

    async fn upkeep(&self) -> anyhow::Result<()> {
        super::retention::enforce(&self.pool).await?;
        super::judgements::expire(
            &self.pool,
            super::retention::HOURLY_DAYS,
            super::retention::DAILY_DAYS,
        )
        .await?;
        super::custom_metrics::expire(&self.pool).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn raw(minute: i64, cpu: Option<f32>) -> SampleRow {
        // 1 800 000 000 s after the epoch is exactly 500 000 hours: an hour boundary.
        let ts = DateTime::from_timestamp(1_800_000_000 + minute * 60, 0).expect("time");
        serde_json::from_value(serde_json::json!({"host_id": 1, "ts": ts, "cpu_percent": cpu}))
            .expect("row")
    }

    #[test]
    fn fine_averages_are_five_minute_means_with_gaps_left_empty() {
        let rows = [
            raw(0, Some(10.0)),
            raw(2, Some(20.0)),
            raw(7, Some(40.0)),
            raw(8, None),
            raw(59, Some(5.0)),
        ];
        let fine = fine_averages(&rows);
        // Only the CPU percent was ever present.
        assert_eq!(fine.len(), 1, "{fine:?}");
        let (metric, slots) = fine[0];
        assert_eq!(metric, catalog::CPU_PERCENT);
        let mut expected = [None; FINE_SLOTS];
        expected[0] = Some(15.0);
        expected[1] = Some(40.0);
        expected[11] = Some(5.0);
        assert_eq!(slots, expected);
    }

    #[test]
    fn a_days_fine_averages_lay_its_hours_out_from_midnight() {
        let day = DateTime::from_timestamp(20 * 86_400, 0).expect("day");
        let at = |hours: i64| day + Duration::hours(hours);
        let mut first = [None; FINE_SLOTS];
        first[0] = Some(1.0);
        first[11] = Some(2.0);
        let mut last = [None; FINE_SLOTS];
        last[5] = Some(3.0);
        let empty = [None; FINE_SLOTS];
        let hours = [
            (at(0), &first[..]),
            (at(23), &last[..]),
            (at(5), &empty[..]),
            // Outside the day: ignored.
            (at(24), &first[..]),
            (at(-1), &last[..]),
        ];
        let slots = day_fine(day, hours).expect("values");
        assert_eq!(slots.len(), 288);
        let filled: Vec<(usize, f32)> = slots
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (i, v)))
            .collect();
        // Hour 23, slot 5: 23 * 12 + 5 = 281.
        assert_eq!(filled, vec![(0, 1.0), (11, 2.0), (281, 3.0)]);
        assert_eq!(
            day_fine(day, [(at(3), &empty[..])]),
            None,
            "no values, no row"
        );
    }

    fn stored(bucket: DateTime<Utc>, values: &[f64]) -> StoredRollup {
        let r = MetricRollup::from_values(values);
        StoredRollup {
            host_id: 1,
            bucket,
            metric: 1,
            count: r.count as i32,
            sum: r.sum,
            min: r.min,
            max: r.max,
            sumsq: r.sumsq,
            sketch: r.sketch.encode(),
        }
    }

    #[test]
    fn a_day_is_recomputed_from_its_hours_or_merged_once_its_hours_expired() {
        let day =
            DateTime::from_timestamp(1_780_000_000 - 1_780_000_000 % 86_400, 0).expect("valid");
        let hour = |h: i64| day + Duration::hours(h);
        let stored_day = |values: &[f64], hours: i32, hourly_avg: &[(usize, f32)]| {
            let mut avg = vec![None; 24];
            for (h, v) in hourly_avg {
                avg[*h] = Some(*v);
            }
            StoredDay {
                row: stored(day, values),
                hours,
                hourly_avg: Some(avg),
            }
        };
        // Normal case: hours 0 and 1 present → recomputed, mask 0b11, each hour's average kept.
        let hourly = vec![stored(hour(0), &[1.0, 2.0]), stored(hour(1), &[3.0])];
        let hourly = decode_hours(&hourly);
        let first = roll_up_day(&hourly, &[], day);
        assert_eq!(
            (first[0].rollup.count, first[0].rollup.sum, first[0].hours),
            (3, 6.0, 0b11)
        );
        assert_eq!(&first[0].hourly_avg[..3], &[Some(1.5), Some(3.0), None]);
        let previous = stored_day(&[1.0, 2.0, 3.0], 0b11, &[(0, 1.5), (1, 3.0)]);
        // A late hour 5 while hours 0–1 are still there: a plain recompute.
        let mut with_late = hourly.clone();
        with_late.extend(decode_hours(&[stored(hour(5), &[10.0])]));
        let recomputed = roll_up_day(&with_late, std::slice::from_ref(&previous), day);
        assert_eq!(
            (recomputed[0].rollup.count, recomputed[0].hours),
            (4, 0b100011)
        );
        assert_eq!(recomputed[0].hourly_avg[5], Some(10.0));
        // Hours 0–1 expired; a backfill brings hour 5 and re-sends hour 0 (with other values):
        // hour 5 is merged in, hour 0 is already counted and keeps its stored average.
        let backfill = decode_hours(&[stored(hour(0), &[7.0, 8.0]), stored(hour(5), &[10.0])]);
        let merged = roll_up_day(&backfill, std::slice::from_ref(&previous), day);
        assert_eq!(
            (
                merged[0].rollup.count,
                merged[0].rollup.sum,
                merged[0].rollup.max,
                merged[0].hours
            ),
            (4, 16.0, 10.0, 0b100011)
        );
        assert_eq!(
            &merged[0].hourly_avg[..6],
            &[Some(1.5), Some(3.0), None, None, None, Some(10.0)]
        );
        // Running it again over the merged row changes nothing.
        let again = roll_up_day(
            &backfill,
            &[stored_day(
                &[1.0, 2.0, 3.0, 10.0],
                0b100011,
                &[(0, 1.5), (1, 3.0), (5, 10.0)],
            )],
            day,
        );
        assert_eq!(
            (again[0].rollup.count, again[0].rollup.sum, again[0].hours),
            (4, 16.0, 0b100011)
        );
        assert_eq!(again[0].hourly_avg, merged[0].hourly_avg);
    }

    #[test]
    fn a_rollup_has_exact_moments() {
        let r = MetricRollup::from_values(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(r.count, 8);
        assert_eq!(r.avg(), Some(5.0));
        assert_eq!(r.std(), Some(2.0));
        assert_eq!((r.min, r.max), (2.0, 9.0));
        assert_eq!(r.quantile(1.0), Some(9.0), "clamped to the exact maximum");
        assert_eq!(MetricRollup::default().avg(), None);
    }

    proptest! {
        /// Rolling up rollups equals rolling up the raw values, for count, sum, min and max
        /// (and sums of squares up to rounding), however the values are split into buckets.
        #[test]
        fn rollup_of_rollups_equals_rollup_of_raw(values in prop::collection::vec(-1e6..1e6_f64, 1..300), cuts in prop::collection::vec(0usize..300, 0..6)) {
            let mut bounds: Vec<usize> = cuts.into_iter().map(|c| c % values.len()).collect();
            bounds.push(0);
            bounds.push(values.len());
            bounds.sort_unstable();
            bounds.dedup();
            let mut merged = MetricRollup::default();
            for pair in bounds.windows(2) {
                merged.merge(&MetricRollup::from_values(&values[pair[0]..pair[1]]));
            }
            let direct = MetricRollup::from_values(&values);
            prop_assert_eq!(merged.count, direct.count);
            prop_assert_eq!(merged.min, direct.min);
            prop_assert_eq!(merged.max, direct.max);
            prop_assert!((merged.sum - direct.sum).abs() <= 1e-6 * direct.sum.abs().max(1.0));
            prop_assert!((merged.sumsq - direct.sumsq).abs() <= 1e-9 * direct.sumsq.max(1.0));
            prop_assert_eq!(merged.sketch, direct.sketch);
        }
    }
}
