//! Columnar series for charts: one host, any catalogue metrics, a range and a point budget → one
//! array of epoch milliseconds and one array per metric and statistic, from the finest tier
//! that covers the range without exceeding the budget (never more points than pixels).
//!
//! Tiers, finest first: raw samples, 1/5/15-minute buckets computed from them (raw window: 7
//! days), hourly rollups (30 days), daily rollups (2 years). Raw points carry the value itself
//! (`.avg`); buckets carry `.avg`, `.min`, `.max` and `.p95` (exact over raw samples for minute
//! buckets, from the merged sketches — within 1 % — for rollups). Per-file-system usage exists
//! only in raw samples (a JSON list per sample), so it is charted on the raw and minute tiers.
use super::{QueryError, HOURLY_RETENTION_DAYS, RAW_RETENTION_DAYS};
use crate::storage::{
    catalog::Metric,
    rollups::{self, Tier},
};
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::Serialize;
use sqlx::{PgPool, Row};
use std::collections::BTreeMap;

/// The resolution a series was read at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    Raw,
    Minutes(i64),
    Hour,
    Day,
}

impl Resolution {
    pub fn name(self) -> String {
        match self {
            Resolution::Raw => "raw".into(),
            Resolution::Minutes(m) => format!("{m}m"),
            Resolution::Hour => "1h".into(),
            Resolution::Day => "1d".into(),
        }
    }

    pub fn width(self) -> Option<Duration> {
        match self {
            Resolution::Raw => None,
            Resolution::Minutes(m) => Some(Duration::minutes(m)),
            Resolution::Hour => Some(Duration::hours(1)),
            Resolution::Day => Some(Duration::days(1)),
        }
    }
}

impl Resolution {
    /// The finest resolution whose tier still holds data from `start` at `now`: raw within the
    /// raw window, five-minute averages (kept with the hourly rollups) within 30 days, days
    /// beyond.
    pub fn finest_held(start: DateTime<Utc>, now: DateTime<Utc>) -> Resolution {
        if start >= now - Duration::days(RAW_RETENTION_DAYS) {
            Resolution::Raw
        } else if start >= now - Duration::days(HOURLY_RETENTION_DAYS) {
            Resolution::Minutes(FINE_MINUTES)
        } else {
            Resolution::Day
        }
    }

    /// The resolution of a bucket width in seconds (none: raw samples).
    pub fn of_step(step_seconds: Option<i64>) -> Resolution {
        match step_seconds {
            None => Resolution::Raw,
            Some(86_400) => Resolution::Day,
            Some(3_600) => Resolution::Hour,
            Some(seconds) => Resolution::Minutes(seconds / 60),
        }
    }

    /// The coarser of two resolutions (raw is the finest).
    pub fn coarser(self, other: Resolution) -> Resolution {
        let width = |r: Resolution| r.width().map_or(0, |w| w.num_seconds());
        if width(other) > width(self) {
            other
        } else {
            self
        }
    }
}

/// Bucket tiers from finest to coarsest.
const BUCKETS: [Resolution; 5] = [
    Resolution::Minutes(1),
    Resolution::Minutes(5),
    Resolution::Minutes(15),
    Resolution::Hour,
    Resolution::Day,
];

/// The finest resolution for `start`…`end` within `points`: raw when the range holds at most
/// `points` samples (`raw_count`, known only where raw data can answer), else the first bucket
/// width that gives at most `points` buckets and whose tier still holds `start`. Daily is the
/// fallback (at most 731 buckets over two years).
pub fn choose(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
    points: i64,
    raw_count: Option<i64>,
) -> Resolution {
    let in_raw_window = start >= now - Duration::days(RAW_RETENTION_DAYS);
    if in_raw_window && raw_count.is_some_and(|n| n <= points) {
        return Resolution::Raw;
    }
    let span = end - start;
    for resolution in BUCKETS {
        let Some(width) = resolution.width() else {
            continue;
        };
        let held = match resolution {
            Resolution::Minutes(_) => in_raw_window,
            Resolution::Hour => start >= now - Duration::days(HOURLY_RETENTION_DAYS),
            _ => true,
        };
        // Buckets are aligned to UTC, so the range can touch one more than span / width.
        let buckets = span.num_seconds() / width.num_seconds().max(1) + 1;
        if held && buckets <= points {
            return resolution;
        }
    }
    Resolution::Day
}

/// Lists a raw sample carries, charted one line per member (never averaged together): file
/// systems by mount point, containers by name, GPUs by index. Kept with the raw samples only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum List {
    Filesystems,
    Containers,
    Gpus,
}

impl List {
    pub const ALL: [List; 3] = [List::Filesystems, List::Containers, List::Gpus];

    /// Its name in `metrics` lists.
    pub fn name(self) -> &'static str {
        match self {
            List::Filesystems => "filesystems",
            List::Containers => "containers",
            List::Gpus => "gpus",
        }
    }

    /// (samples column, member key, series prefix)
    fn source(self) -> (&'static str, &'static str, &'static str) {
        match self {
            List::Filesystems => ("filesystems", "mountpoint", "fs"),
            List::Containers => ("containers", "name", "container"),
            List::Gpus => ("gpus", "index", "gpu"),
        }
    }

    /// (field in the series name, SQL over a member `f`); file systems keep their short names
    /// (`fs:/var.avg`), the others name the field (`container:web.cpuPercent.avg`).
    pub fn fields(self) -> &'static [(&'static str, &'static str)] {
        match self {
            List::Filesystems => &[("", "(f->>'percent')::float8")],
            List::Containers => &[
                ("cpuPercent", "(f->>'cpu_percent')::float8"),
                ("memoryMB", "(f->>'memory_bytes')::float8 / 1048576"),
                ("readBps", "(f->>'read_bps')::float8"),
                ("writeBps", "(f->>'write_bps')::float8"),
            ],
            List::Gpus => &[
                ("utilizationPercent", "(f->>'utilization_percent')::float8"),
                (
                    "memoryUsedMB",
                    "(f->>'memory_used_bytes')::float8 / 1048576",
                ),
                ("temperatureC", "(f->>'temperature_celsius')::float8"),
                ("powerW", "(f->>'power_watts')::float8"),
            ],
        }
    }

    pub fn parse(name: &str) -> Option<List> {
        List::ALL.into_iter().find(|l| l.name() == name)
    }
}

/// What a chart asks for.
pub struct SeriesRequest<'a> {
    pub host_id: i32,
    pub metrics: &'a [&'static Metric],
    pub lists: &'a [List],
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub points: i64,
    /// With each bucket's band (`.min`, `.max`, `.p95`), as charts draw it; without, only
    /// `.avg` (and lists' `.max`) — what a comparison of levels needs, for a fraction of the
    /// work (no percentile per bucket, no sketch decoded per hour).
    pub bands: bool,
    /// A resolution to read at instead of the one `choose` picks (a comparison reads two ranges
    /// at one resolution); it must be one whose tier holds the range.
    pub resolution: Option<Resolution>,
}

/// One chart's data, columnar: `t` in epoch milliseconds, one array per `metric.statistic`
/// (`cpu.usagePercent.avg`, `….min`, `….max`, `….p95`; file systems as `fs:<mountpoint>.avg`…).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Series {
    pub resolution: String,
    /// Bucket width in seconds (absent for raw samples).
    pub step_seconds: Option<i64>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub t: Vec<i64>,
    pub series: BTreeMap<String, Vec<Option<f64>>>,
    /// What could not be given and why (e.g. file systems beyond the raw window).
    pub notes: Vec<String>,
}

/// Values to two decimals, as the rest of the history API: charts need no more, and the JSON
/// stays small.
fn round2(v: f64) -> Option<f64> {
    v.is_finite().then(|| (v * 100.0).round() / 100.0)
}

pub async fn read(
    pool: &PgPool,
    request: &SeriesRequest<'_>,
    now: DateTime<Utc>,
) -> Result<Series, QueryError> {
    let in_raw_window = request.start >= now - Duration::days(RAW_RETENTION_DAYS);
    // Counting is an index-only range scan; worth it only where raw could fit the budget at
    // one sample a minute or faster.
    let raw_count =
        if in_raw_window && (request.end - request.start) <= Duration::minutes(request.points) {
            Some(
                sqlx::query_scalar::<_, i64>(
                    "SELECT count(*) FROM samples WHERE host_id = $1 AND ts >= $2 AND ts <= $3",
                )
                .bind(request.host_id)
                .bind(request.start)
                .bind(request.end)
                .fetch_one(pool)
                .await?,
            )
        } else {
            None
        };
    let resolution = request
        .resolution
        .unwrap_or_else(|| choose(request.start, request.end, now, request.points, raw_count));
    let mut series = Series {
        resolution: resolution.name(),
        step_seconds: resolution.width().map(|w| w.num_seconds()),
        start: request.start,
        end: request.end,
        t: Vec::new(),
        series: BTreeMap::new(),
        notes: Vec::new(),
    };
    match resolution {
        // Over more than a day, 5- and 15-minute buckets come from the five-minute averages kept
        // with the hourly rollups (a scan and sort of the raw tier there is what a 7-day chart
        // would wait for); hours still queued, and shorter ranges, from the raw samples.
        // Also any range older than the raw window, which only a forced resolution asks for.
        Resolution::Minutes(m)
            if m % FINE_MINUTES == 0
                && (request.end - request.start > Duration::days(1) || !in_raw_window) =>
        {
            from_fine(pool, request, resolution, &mut series).await?
        }
        Resolution::Raw | Resolution::Minutes(_) => {
            from_samples(pool, request, resolution, request.start, &mut series).await?
        }
        Resolution::Hour => from_rollups(pool, request, Tier::Hourly, &mut series).await?,
        Resolution::Day => from_rollups(pool, request, Tier::Daily, &mut series).await?,
    }
    for list in request.lists {
        match resolution {
            Resolution::Raw | Resolution::Minutes(_) => members(pool, request, *list, resolution, &mut series).await?,
            _ => series.notes.push(format!(
                "{} are kept with the raw samples ({RAW_RETENTION_DAYS} days); choose a range within them",
                list.name()
            )),
        }
    }
    Ok(series)
}

/// The width of the averages kept with each hourly rollup (`rollup_hourly.fine`).
const FINE_MINUTES: i64 = rollups::FINE_SLOT_SECONDS / 60;

/// 5- or 15-minute buckets from the hourly rollups' five-minute averages: the bucket's average
/// is the mean of its five-minute averages, and its band (min, max, p95) is its hour's, said so
/// in `notes`. Hours from the first one still queued for its rollup on (the hour filling now, a
/// backfill the worker has not reached) are read from the raw samples as usual.
async fn from_fine(
    pool: &PgPool,
    request: &SeriesRequest<'_>,
    resolution: Resolution,
    out: &mut Series,
) -> Result<(), QueryError> {
    let Some(width) = resolution.width() else {
        return from_samples(pool, request, resolution, request.start, out).await;
    };
    let hour = Duration::hours(1);
    let first_hour = request.start.duration_trunc(hour).unwrap_or(request.start);
    let first_queued: Option<DateTime<Utc>> = sqlx::query_scalar(
        "SELECT min(bucket) FROM rollup_queue_hourly WHERE host_id = $1 AND bucket >= $2 AND bucket <= $3",
    )
    .bind(request.host_id)
    .bind(first_hour)
    .bind(request.end)
    .fetch_one(pool)
    .await?;
    let fine_until = first_queued.unwrap_or(request.end + hour);
    let ids: Vec<i16> = request.metrics.iter().map(|m| m.id).collect();
    let stored: Vec<FineRow> = sqlx::query_as(
        "SELECT host_id, bucket, metric, count, sum, min, max, sumsq, sketch, fine FROM rollup_hourly
         WHERE host_id = $1 AND metric = ANY($2) AND bucket >= $3 AND bucket < $4 ORDER BY bucket",
    )
    .bind(request.host_id)
    .bind(&ids)
    .bind(first_hour)
    .bind(fine_until)
    .fetch_all(pool)
    .await?;
    let slots_per_bucket = (width.num_minutes() / FINE_MINUTES).max(1) as usize;
    // bucket start (ms) → metric → (average, the hour's rollup)
    let mut buckets: BTreeMap<i64, BTreeMap<i16, (f64, usize)>> = BTreeMap::new();
    let mut hours: BTreeMap<(i64, i16), rollups::MetricRollup> = BTreeMap::new();
    for row in stored {
        let Some(fine) = &row.fine else { continue };
        let hour_ms = row.rollup.bucket.timestamp_millis();
        // The band is the hour's: its sketch is decoded only when a band is drawn.
        match request.bands.then(|| row.rollup.rollup()).transpose() {
            Ok(None) => {}
            Ok(Some(rollup)) => {
                hours.insert((hour_ms, row.rollup.metric), rollup);
            }
            Err(error) => {
                tracing::error!(%error, bucket = %row.rollup.bucket, "Skipping a corrupt hourly sketch.");
                continue;
            }
        }
        for (slot, value) in fine.iter().enumerate() {
            let Some(value) = value.filter(|v| v.is_finite()) else {
                continue;
            };
            let start = hour_ms
                + (slot / slots_per_bucket * slots_per_bucket) as i64 * FINE_MINUTES * 60_000;
            let end_ms = start + width.num_milliseconds();
            if end_ms <= request.start.timestamp_millis() || start > request.end.timestamp_millis()
            {
                continue;
            }
            let entry = buckets
                .entry(start)
                .or_default()
                .entry(row.rollup.metric)
                .or_default();
            entry.0 += f64::from(value);
            entry.1 += 1;
        }
    }
    out.t = buckets.keys().copied().collect();
    let hour_ms = hour.num_milliseconds();
    for metric in request.metrics {
        let name = metric.name();
        let of_hour = |t: i64| hours.get(&(t - t.rem_euclid(hour_ms), metric.id));
        let avg: Vec<Option<f64>> = buckets
            .values()
            .map(|b| {
                b.get(&metric.id)
                    .map(|(sum, n)| sum / *n as f64)
                    .and_then(round2)
            })
            .collect();
        let band = |f: &dyn Fn(&rollups::MetricRollup) -> Option<f64>| -> Vec<Option<f64>> {
            buckets
                .iter()
                .map(|(t, b)| {
                    b.get(&metric.id)
                        .and(of_hour(*t))
                        .and_then(f)
                        .and_then(round2)
                })
                .collect()
        };
        out.series.insert(format!("{name}.avg"), avg);
        if !request.bands {
            continue;
        }
        out.series.insert(
            format!("{name}.min"),
            band(&|r| (r.count > 0).then_some(r.min)),
        );
        out.series.insert(
            format!("{name}.max"),
            band(&|r| (r.count > 0).then_some(r.max)),
        );
        out.series
            .insert(format!("{name}.p95"), band(&|r| r.quantile(0.95)));
    }
    out.notes.push(format!(
        "{} buckets over more than a day average the five-minute averages kept with the hourly rollups; their min, max and p95 are their hour's",
        resolution.name()
    ));
    if fine_until <= request.end {
        // The rest, from the raw samples: appended after the buckets above.
        let mut rest = Series {
            resolution: out.resolution.clone(),
            step_seconds: out.step_seconds,
            start: fine_until,
            end: request.end,
            t: Vec::new(),
            series: BTreeMap::new(),
            notes: Vec::new(),
        };
        from_samples(
            pool,
            request,
            resolution,
            fine_until.max(request.start),
            &mut rest,
        )
        .await?;
        out.t.extend(rest.t);
        for (name, values) in rest.series {
            out.series.entry(name).or_default().extend(values);
        }
    }
    Ok(())
}

/// An hourly rollup row with its five-minute averages.
#[derive(sqlx::FromRow)]
struct FineRow {
    #[sqlx(flatten)]
    rollup: rollups::StoredRollup,
    fine: Option<Vec<Option<f32>>>,
}

/// Raw points or minute buckets from `from` to the request's end, one statement.
async fn from_samples(
    pool: &PgPool,
    request: &SeriesRequest<'_>,
    resolution: Resolution,
    from: DateTime<Utc>,
    out: &mut Series,
) -> Result<(), QueryError> {
    let width = resolution.width();
    let banded = width.is_some() && request.bands;
    let statistics: &[&str] = if banded {
        &["avg", "min", "max", "p95"]
    } else {
        &["avg"]
    };
    let mut columns = Vec::new();
    for metric in request.metrics {
        let expr = format!("({})::float8", metric.raw_sql);
        match width {
            None => columns.push(expr),
            Some(_) if !banded => columns.push(format!("avg({expr})")),
            Some(_) => {
                columns.push(format!("avg({expr})"));
                columns.push(format!("min({expr})"));
                columns.push(format!("max({expr})"));
                columns.push(format!(
                    "percentile_cont(0.95) WITHIN GROUP (ORDER BY {expr})"
                ));
            }
        }
    }
    let select = if columns.is_empty() {
        String::new()
    } else {
        format!(", {}", columns.join(", "))
    };
    let sql = match width {
        None => format!("SELECT (extract(epoch FROM ts) * 1000)::int8 AS t{select} FROM samples WHERE host_id = $1 AND ts >= $2 AND ts <= $3 ORDER BY ts"),
        Some(_) => format!(
            "SELECT (extract(epoch FROM date_bin($4, ts, timestamptz 'epoch')) * 1000)::int8 AS t{select}
             FROM samples WHERE host_id = $1 AND ts >= $2 AND ts <= $3 GROUP BY 1 ORDER BY 1"
        ),
    };
    let query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(request.host_id)
        .bind(from)
        .bind(request.end);
    let query = match width {
        Some(width) => query.bind(width),
        None => query,
    };
    let rows = query.fetch_all(pool).await?;
    out.t.reserve(rows.len());
    let names: Vec<String> = request
        .metrics
        .iter()
        .flat_map(|m| statistics.iter().map(move |s| format!("{}.{s}", m.name())))
        .collect();
    let mut arrays: Vec<Vec<Option<f64>>> = names
        .iter()
        .map(|_| Vec::with_capacity(rows.len()))
        .collect();
    for row in &rows {
        out.t.push(row.try_get(0)?);
        for (i, array) in arrays.iter_mut().enumerate() {
            array.push(row.try_get::<Option<f64>, _>(i + 1)?.and_then(round2));
        }
    }
    out.series.extend(names.into_iter().zip(arrays));
    Ok(())
}

/// Hourly or daily rollups, with the buckets still queued computed at read time.
async fn from_rollups(
    pool: &PgPool,
    request: &SeriesRequest<'_>,
    tier: Tier,
    out: &mut Series,
) -> Result<(), QueryError> {
    let width = match tier {
        Tier::Hourly => Duration::hours(1),
        Tier::Daily => Duration::days(1),
    };
    let first = request.start.duration_trunc(width).unwrap_or(request.start);
    let ids: Vec<i16> = request.metrics.iter().map(|m| m.id).collect();
    let rows = rollups::read(pool, tier, &[request.host_id], &ids, first, request.end).await?;
    let mut buckets: BTreeMap<i64, BTreeMap<i16, rollups::MetricRollup>> = BTreeMap::new();
    for row in rows {
        buckets
            .entry(row.bucket.timestamp_millis())
            .or_default()
            .insert(row.metric, row.rollup);
    }
    out.t = buckets.keys().copied().collect();
    for metric in request.metrics {
        let name = metric.name();
        let column = |f: &dyn Fn(&rollups::MetricRollup) -> Option<f64>| -> Vec<Option<f64>> {
            buckets
                .values()
                .map(|b| b.get(&metric.id).and_then(f).and_then(round2))
                .collect()
        };
        out.series
            .insert(format!("{name}.avg"), column(&|r| r.avg()));
        if !request.bands {
            continue;
        }
        out.series.insert(
            format!("{name}.min"),
            column(&|r| (r.count > 0).then_some(r.min)),
        );
        out.series.insert(
            format!("{name}.max"),
            column(&|r| (r.count > 0).then_some(r.max)),
        );
        out.series
            .insert(format!("{name}.p95"), column(&|r| r.quantile(0.95)));
    }
    Ok(())
}

/// Each member of a list on the same time axis (`fs:<mountpoint>.avg`,
/// `container:<name>.cpuPercent.avg`, `gpu:<index>.powerW.avg`, and `.max` for buckets: a
/// file system filling up shows at its fullest).
async fn members(
    pool: &PgPool,
    request: &SeriesRequest<'_>,
    list: List,
    resolution: Resolution,
    out: &mut Series,
) -> Result<(), QueryError> {
    let bucket = match resolution.width() {
        Some(_) => "date_bin($4, s.ts, timestamptz 'epoch')",
        None => "s.ts",
    };
    let (column, key, prefix) = list.source();
    let fields = list.fields();
    let aggregates: Vec<String> = fields
        .iter()
        .map(|(_, expr)| format!("avg({expr}), max({expr})"))
        .collect();
    // Only the fixed names above are interpolated; values are bound.
    let sql = format!(
        "SELECT (extract(epoch FROM {bucket}) * 1000)::int8 AS t, f->>'{key}' AS member, {}
         FROM samples s, jsonb_array_elements(s.{column}) f
         WHERE s.host_id = $1 AND s.ts >= $2 AND s.ts <= $3 AND s.{column} IS NOT NULL GROUP BY 1, 2",
        aggregates.join(", ")
    );
    let query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(request.host_id)
        .bind(request.start)
        .bind(request.end);
    let query = match resolution.width() {
        Some(width) => query.bind(width),
        None => query,
    };
    let rows = query.fetch_all(pool).await?;
    let index: BTreeMap<i64, usize> = out.t.iter().enumerate().map(|(i, t)| (*t, i)).collect();
    let bucketed = resolution.width().is_some();
    let blank = || vec![None; out.t.len()];
    for row in rows {
        let t: i64 = row.try_get(0)?;
        let member: Option<String> = row.try_get(1)?;
        let Some(&i) = index.get(&t) else { continue };
        let member = member.unwrap_or_default();
        for (k, (field, _)) in fields.iter().enumerate() {
            let name = if field.is_empty() {
                format!("{prefix}:{member}")
            } else {
                format!("{prefix}:{member}.{field}")
            };
            let avg = row.try_get::<Option<f64>, _>(2 + 2 * k)?.and_then(round2);
            out.series
                .entry(format!("{name}.avg"))
                .or_insert_with(blank)[i] = avg;
            if bucketed {
                let max = row.try_get::<Option<f64>, _>(3 + 2 * k)?.and_then(round2);
                out.series
                    .entry(format!("{name}.max"))
                    .or_insert_with(blank)[i] = max;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("valid")
            .with_timezone(&Utc)
    }

    #[test]
    fn a_comparison_reads_both_sides_at_the_coarser_of_what_each_tier_holds() {
        let now = at("2026-12-01T12:00:00Z");
        let held = |days: i64| Resolution::finest_held(now - Duration::days(days), now);
        assert_eq!(held(1), Resolution::Raw);
        assert_eq!(
            held(8),
            Resolution::Minutes(5),
            "a week ago: the five-minute averages"
        );
        assert_eq!(held(31), Resolution::Day);
        assert_eq!(
            Resolution::Raw.coarser(Resolution::Minutes(1)),
            Resolution::Minutes(1)
        );
        assert_eq!(
            Resolution::Minutes(15).coarser(Resolution::Minutes(5)),
            Resolution::Minutes(15)
        );
        assert_eq!(Resolution::Hour.coarser(Resolution::Day), Resolution::Day);
    }

    #[test]
    fn the_resolution_follows_the_range_the_budget_and_each_tiers_window() {
        let now = at("2026-12-01T12:00:00Z");
        let ago = |h: i64| now - Duration::hours(h);
        // 15 minutes of 10 s samples (90) in 800 pixels: raw.
        assert_eq!(
            choose(now - Duration::minutes(15), now, now, 800, Some(90)),
            Resolution::Raw
        );
        // A day of 10 s samples (8 640) in 800 pixels: 5-minute buckets (289 ≤ 800; 1-minute gives 1 441).
        assert_eq!(
            choose(ago(24), now, now, 800, Some(8640)),
            Resolution::Minutes(5)
        );
        assert_eq!(
            choose(ago(24), now, now, 10_000, Some(8640)),
            Resolution::Raw,
            "a budget as large as the samples"
        );
        // 6 days: 15-minute buckets (577) fit 800.
        assert_eq!(
            choose(ago(24 * 6), now, now, 800, None),
            Resolution::Minutes(15)
        );
        // The 7-day boundary: starting just past it, minute buckets are gone → hourly.
        assert_eq!(
            choose(ago(24 * 7) - Duration::minutes(1), now, now, 800, None),
            Resolution::Hour
        );
        assert_eq!(
            choose(ago(24 * 7) + Duration::minutes(1), now, now, 800, None),
            Resolution::Minutes(15)
        );
        // The 30-day boundary: hourly up to 30 days (if the budget allows), daily beyond.
        assert_eq!(
            choose(ago(24 * 30) + Duration::minutes(1), now, now, 800, None),
            Resolution::Hour,
            "720 hourly buckets fit 800"
        );
        assert_eq!(
            choose(ago(24 * 30) - Duration::minutes(1), now, now, 2000, None),
            Resolution::Day,
            "older than the hourly tier"
        );
        assert_eq!(
            choose(ago(24 * 29), now, now, 300, None),
            Resolution::Day,
            "697 hours do not fit 300 pixels"
        );
        // Two years: daily.
        assert_eq!(
            choose(now - Duration::days(730), now, now, 800, None),
            Resolution::Day
        );
    }
}
