//! Anomaly detection against stored data: hourly series from the rollups through the detectors
//! of `analysis::anomaly`, explained and persisted with stable ids; the continuous detector.
mod kept;

use crate::{
    analysis::anomaly::{self, Detected, Kind, Profile, Sensitivity, Significance},
    live::Hub,
    storage::{
        catalog::{self, Group, Unit},
        judgements::Judgement,
    },
};
use app::models::{AnomalyCoverage, AnomalyEvent, AnomalySkip, LiveEvent};
use chrono::{DateTime, Duration, DurationRound, Utc};
use sqlx::{FromRow, PgPool};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// One judged series with its practical-significance floor: a catalogue metric, or a custom
/// metric asked for by name.
pub struct Series {
    /// The catalogue group; `None` for a custom metric.
    pub group: Option<Group>,
    /// The catalogue id; custom metrics get negative ids, per request, so both share one key.
    pub metric_id: i16,
    /// `cpu.usagePercent`, or the custom metric's name, as answers and stored events name it.
    pub name: String,
    pub significance: Significance,
}

impl Series {
    /// What stored events call the series' group (`cpu`, …, or `custom`).
    fn group_name(&self) -> &'static str {
        self.group.map_or("custom", Group::name)
    }
}

/// Catalogue series that are not judged, and why: each is another view of a judged one.
pub const REDUNDANT: [(i16, &str); 3] = [
    (
        catalog::CPU_MHZ,
        "the same measure as cpu.usagePercent (in MHz); judged there",
    ),
    (
        catalog::MEMORY_USED_MB,
        "the same measure as memory.usagePercent (in MiB); judged there",
    ),
    (
        catalog::MEMORY_FREE_MB,
        "the complement of memory.usagePercent (in MiB); judged there",
    ),
];

/// The smallest change that matters, by unit (documented in the README): a few percentage
/// points; for rates, latencies and counts both an absolute amount and a share of the baseline.
/// Latencies take the rates' quarter: a request time going from 45 to 60 ms is felt by users.
pub fn significance(unit: Unit) -> Significance {
    let (absolute, relative) = match unit {
        Unit::Percent => (3.0, 0.0),
        Unit::Load => (0.5, 0.25),
        Unit::Mebibytes => (64.0, 0.10),
        Unit::Milliseconds => (2.0, 0.25),
        Unit::PerSecond => (5.0, 0.25),
        Unit::BytesPerSecond => (10_240.0, 0.25),
        Unit::Count => (5.0, 0.2),
        Unit::Mhz => (100.0, 0.1),
    };
    Significance { absolute, relative }
}

/// The floor for a custom metric, from the unit it was sent with: the catalogue's unit of the
/// same kind where the text names one; for temperatures 2 °C (3.6 °F) and nothing relative (a
/// share of 20 °C means nothing: the scale's zero is arbitrary); otherwise a quarter of the
/// baseline.
pub fn custom_significance(unit: &str) -> Significance {
    let degrees = |absolute| Significance {
        absolute,
        relative: 0.0,
    };
    match unit.trim().to_lowercase().as_str() {
        "°c" | "c" | "degc" | "celsius" | "k" | "kelvin" => degrees(2.0),
        "°f" | "f" | "degf" | "fahrenheit" => degrees(3.6),
        other => Unit::parse(other).map_or(
            Significance {
                absolute: 0.0,
                relative: 0.25,
            },
            significance,
        ),
    }
}

/// Every judged series: each catalogue metric of the seed's groups but the redundant ones.
pub static SERIES: std::sync::LazyLock<Vec<Arc<Series>>> = std::sync::LazyLock::new(|| {
    catalog::METRICS
        .iter()
        .filter(|m| Group::ALL.contains(&m.group))
        .filter(|m| REDUNDANT.iter().all(|(id, _)| *id != m.id))
        .map(|m| {
            Arc::new(Series {
                group: Some(m.group),
                metric_id: m.id,
                name: m.name(),
                significance: significance(m.unit),
            })
        })
        .collect()
});

/// How old today's kept judgement may be for a request to use it, when the continuous detector
/// runs every `interval`: a round waits up to a quarter longer (jitter) and takes a while.
pub fn kept_within(interval: std::time::Duration) -> Duration {
    let round = interval.as_secs_f64() * 1.25 + 30.0;
    Duration::milliseconds((round * 1000.0) as i64)
}

/// Custom metrics judged per request, at most.
pub const MAX_CUSTOM_METRICS: usize = 20;

/// Custom metrics the continuous detector judges each round, at most: the busiest of those sent
/// for a host in its window.
const CONTINUOUS_CUSTOM_METRICS: i64 = 50;

/// Points a series needs in the range and its baseline before it is judged.
const MIN_POINTS: usize = 12;

/// History before the asked range that teaches the baseline: three weeks make the
/// same-hour-of-week baseline possible.
pub const BASELINE_DAYS: i64 = 21;

/// Five-minute buckets before the asked range that teach their baseline: a week of them gives the
/// same-slot-of-day baseline and a settled scale; the hours carry the weekly shape.
pub const FINE_BASELINE_DAYS: i64 = 7;

pub struct Request {
    /// (row id, vmId, name)
    pub hosts: Vec<(i32, String, String)>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub groups: Vec<Group>,
    /// Custom metrics by name, judged per host (their tag sets merged).
    pub custom_metrics: Vec<String>,
    pub sensitivity: Sensitivity,
    pub kinds: Vec<Kind>,
    /// How old the kept judgement of the day still going on may be to be used (the continuous
    /// detector keeps it at most a round old); `None`: that day is always judged afresh.
    pub kept_within: Option<Duration>,
}

pub struct Outcome {
    /// Every event found in the range, as stored (ids and lifecycle status included).
    pub events: Vec<AnomalyEvent>,
    /// Ids of the events stored for the first time by this run.
    pub new: Vec<String>,
    /// What was judged, per series and tier.
    pub judged: Vec<AnomalyCoverage>,
    /// Series not judged, and why.
    pub skipped: Vec<AnomalySkip>,
}

/// One found event before it is stored.
struct Found {
    host: usize,
    series: Arc<Series>,
    detected: Detected,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    resolution: Resolution,
}

#[derive(Clone, PartialEq, FromRow)]
struct StoredAnomaly {
    id: i64,
    host_id: i32,
    metric: String,
    series: String,
    kind: String,
    started_at: DateTime<Utc>,
    ended_at: DateTime<Utc>,
    value: f64,
    baseline: f64,
    deviation: f64,
    score: f64,
    severity: String,
    related_vms: Vec<String>,
    possible_causes: Vec<String>,
    suggested_actions: Vec<String>,
    status: String,
    acknowledged_by: Option<String>,
    acknowledged_at: Option<DateTime<Utc>>,
    resolved_by: Option<String>,
    resolved_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    confidence: String,
}

impl StoredAnomaly {
    fn into_event(self, vm_id: &str, vm_name: &str) -> AnomalyEvent {
        AnomalyEvent {
            id: format!("anomaly_{}", self.id),
            vm_id: vm_id.into(),
            vm_name: vm_name.into(),
            timestamp: self.started_at,
            metric: self.metric,
            series: self.series,
            kind: self.kind,
            severity: self.severity,
            value: round2(self.value),
            baseline: round2(self.baseline),
            deviation: round2(self.deviation),
            duration: (self.ended_at - self.started_at).num_seconds(),
            related_vms: self.related_vms,
            possible_causes: self.possible_causes,
            suggested_actions: self.suggested_actions,
            status: self.status,
            confidence: self.confidence,
            acknowledged_by: self.acknowledged_by,
            acknowledged_at: self.acknowledged_at,
            resolved_by: self.resolved_by,
            resolved_at: self.resolved_at,
            created_at: self.created_at,
        }
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Percent away from the baseline; robust sigmas when the baseline is zero.
fn deviation(d: &Detected) -> f64 {
    if d.baseline.abs() > 1e-9 {
        (d.value - d.baseline) / d.baseline.abs() * 100.0
    } else {
        d.score.copysign(d.value - d.baseline)
    }
}

/// Parses `anomaly_17` (or `17`) into the row id.
pub fn parse_id(text: &str) -> Option<i64> {
    text.strip_prefix("anomaly_")
        .unwrap_or(text)
        .parse()
        .ok()
        .filter(|id| *id > 0)
}

/// The rule table of likely causes and suggested actions (documented in the README): what else
/// was abnormal on the same host at the same time decides the explanation.
fn explain(
    found: &Found,
    same_host: &[&Found],
) -> (&'static [&'static str], &'static [&'static str]) {
    let group = found.series.group;
    let kind = found.detected.kind;
    let rising = found.detected.rising;
    let with = |g: Group, up: bool| {
        same_host.iter().any(|o| {
            o.series.group == Some(g)
                && o.detected.rising == up
                && o.detected.kind != Kind::PatternBreak
        })
    };
    let (causes, actions): (&[&str], &[&str]) = match (group, kind) {
        (_, Kind::PatternBreak) => (
            &["the workload's schedule changed (a job moved, a holiday, a deploy)"],
            &["confirm the change with the application owners", "update schedules or expectations if it is intended"],
        ),
        (Some(Group::Cpu), Kind::Spike) if with(Group::Network, true) => (
            &["a traffic surge: more requests arrived"],
            &["check request rates and the load balancer", "scale out if the load persists"],
        ),
        (Some(Group::Cpu), Kind::Spike) if with(Group::Disk, true) => (
            &["a batch job or backup (CPU and disk busy together)"],
            &["check scheduled jobs (cron, backups) at that time", "move batch work off-peak"],
        ),
        (Some(Group::Cpu), Kind::Spike) => (
            &["a runaway or newly started process", "a scheduled task"],
            &["inspect the top processes at that time", "check the application logs"],
        ),
        (Some(Group::Memory), Kind::TrendChange) if rising => (
            &["a memory leak or a growing cache"],
            &["compare process memory over the last days", "fix the leak or plan restarts; add memory if the growth is legitimate"],
        ),
        (Some(Group::Memory), Kind::Spike) => (
            &["a large allocation or a burst of load"],
            &["check the application's heap and recent deploys"],
        ),
        (Some(Group::Disk), Kind::TrendChange | Kind::Spike) if found.series.metric_id == 8 => (
            &["log or data growth"],
            &["rotate or clean up logs and temporary data", "expand the volume before it fills"],
        ),
        (Some(Group::Disk), Kind::Spike) => (
            &["an I/O burst (backup, compaction, batch import)"],
            &["find the writing process (iotop, pidstat -d)", "schedule heavy I/O off-peak"],
        ),
        (Some(Group::Network), Kind::Spike) if !with(Group::Cpu, true) => (
            &["a bulk transfer, backup or replication"],
            &["check the largest flows", "rate-limit bulk jobs"],
        ),
        (Some(Group::Network), Kind::Spike) => (
            &["a traffic surge: more requests arrived"],
            &["check request rates and the load balancer"],
        ),
        (Some(Group::System), Kind::Spike) => (
            &["a burst of processes or connections (a fork storm, a connection leak, a traffic surge)"],
            &["list the processes and connections at that time", "check connection pools and limits"],
        ),
        (None, Kind::Spike) => (
            &["a burst in what the custom metric measures"],
            &["check what reports the metric at that time (its tags say where)", "compare with the host's CPU, disk and network"],
        ),
        (_, Kind::Drop) if with(Group::Cpu, false) && with(Group::Network, false) => (
            &["the service stopped or lost its traffic"],
            &["check the service's health and its upstream routing"],
        ),
        (_, Kind::Drop) => (&["lower demand or a stalled service"], &["confirm the service is healthy"]),
        (_, Kind::TrendChange) if rising => (
            &["a lasting increase in load (new workload, release or users)"],
            &["check recent releases and traffic", "review the capacity forecast (/history/trends)"],
        ),
        (_, Kind::TrendChange) => (
            &["load moved away or demand fell"],
            &["check whether capacity can be reclaimed"],
        ),
    };
    (causes, actions)
}

/// `texts` as owned strings.
fn owned(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|t| (*t).to_string()).collect()
}

/// Whether stored strings say the same as `texts`.
fn same_texts(stored: &[String], texts: &[&str]) -> bool {
    stored.iter().map(String::as_str).eq(texts.iter().copied())
}

/// (host, metric) → (grid indices, values) of one tier's series.
type SeriesData = HashMap<(i32, i16), (Vec<i32>, Vec<f32>)>;

/// Hourly averages of the asked series as (host, metric) → (grid index from `from`, value);
/// a later entry for the same index replaces an earlier one.
/// Settled days come from the daily rows' hourly averages (one row per day, not 24); the hours
/// since the start of yesterday come from the hourly rows, which the rollup worker keeps current
/// while today's (and, just after midnight, yesterday's) daily row may still lag behind. Older
/// days still queued for their daily rollup (a backfill the worker has not reached) also take
/// their hourly rows, over the daily row's possibly stale averages.
async fn hourly_series(
    pool: &PgPool,
    host_ids: &[i32],
    metric_ids: &[i16],
    (from, until): (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
) -> Result<SeriesData, sqlx::Error> {
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
        .fetch_all(pool)
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
    .fetch_all(pool)
    .await?;
    for (host, metric, index, value) in rows {
        let (indices, values) = series.entry((host, metric)).or_default();
        indices.push(index);
        values.push(value);
    }
    Ok(series)
}

// The queries below index in the slots of `rollup_hourly.fine` (`/ 300`).
const _: () = assert!(crate::storage::rollups::FINE_SLOT_SECONDS == 300);

/// Host, metric, where (a bucket or a grid index) and five-minute averages.
type FineRow<At> = (i32, i16, At, Vec<Option<f32>>);

/// Five-minute averages of the asked series from `from` (an hour) to `until`, indexed in
/// five-minute slots from `from`; a later entry for the same index replaces an earlier one.
/// Ended days come from their whole-day rows (288 averages in one row, not 24 rows of 12); days
/// without one (today, a day still queued for its daily rollup, a day whose rollup last ran
/// before it ended) from the `fine` averages of their hourly rows; hours still queued (the hour
/// filling now, a backfill the worker has not reached) from the raw samples, replacing those.
async fn fine_series(
    pool: &PgPool,
    host_ids: &[i32],
    metric_ids: &[i16],
    (from, until): (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
) -> Result<SeriesData, sqlx::Error> {
    use sqlx::Row;
    let day = Duration::days(1);
    let slot = Duration::seconds(crate::storage::rollups::FINE_SLOT_SECONDS);
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
        .fetch_all(pool)
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
    .fetch_all(pool)
    .await?;
    let end = (until - from).num_seconds() / slot.num_seconds();
    for (host, metric, first, slots) in hours {
        push_run(series.entry((host, metric)).or_default(), first, slots, end);
    }
    let metrics: Vec<&catalog::Metric> = metric_ids
        .iter()
        .filter_map(|id| catalog::by_id(*id))
        .collect();
    if metrics.is_empty() {
        return Ok(series);
    }
    let columns: Vec<String> = metrics
        .iter()
        .map(|m| format!("avg({})::float4", m.raw_sql))
        .collect();
    let sql = format!(
        "SELECT s.host_id, ((extract(epoch FROM s.ts) - extract(epoch FROM $2::timestamptz))::int8 / 300)::int4, {}
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
        .fetch_all(pool)
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
    Ok(series)
}

/// The asked custom metrics that have points, as series with ids -1, -2, … (their floor from the
/// unit of their newest point), and a skip for each name with none stored; a name asked twice
/// is judged once.
async fn custom_series(
    pool: &PgPool,
    names: &[String],
) -> Result<(Vec<Arc<Series>>, Vec<AnomalySkip>), sqlx::Error> {
    let (mut series, mut skipped) = (Vec::new(), Vec::new());
    let mut seen = std::collections::HashSet::new();
    for name in names.iter().filter(|name| seen.insert(name.as_str())) {
        match crate::storage::custom_metrics::describe_any(pool, name).await? {
            Some(unit) => series.push(Arc::new(Series {
                group: None,
                metric_id: -1 - series.len() as i16,
                name: name.clone(),
                significance: custom_significance(&unit),
            })),
            None => skipped.push(AnomalySkip {
                vm_id: None,
                series: name.clone(),
                reason: "no custom metric of this name is stored".into(),
            }),
        }
    }
    Ok((series, skipped))
}

/// Hourly or five-minute averages of custom metrics per host (every tag set of a name merged),
/// keyed like the catalogue's by the series' (negative) ids: hours from their hourly rollups
/// (kept two years), five-minute buckets from their raw points (kept 7 days).
async fn custom_metric_series(
    pool: &PgPool,
    host_ids: &[i32],
    series: &[Arc<Series>],
    resolution: Resolution,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<SeriesData, sqlx::Error> {
    use crate::storage::custom_metrics::{HOURLY_DAYS, RAW_DAYS};
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    // Each tier is read within what it keeps: backfilled points older than the raw window stay
    // until the next retention pass, and five-minute buckets must not depend on when that ran.
    let (sql, kept_days) = match resolution {
        Resolution::Hourly => (
            "SELECT host_key, name, ((extract(epoch FROM bucket) - extract(epoch FROM $3::timestamptz)) / 3600)::int4,
                    (sum(sum) / greatest(sum(count), 1))::float4
             FROM custom_metric_rollups
             WHERE resolution = 'hour' AND host_key = ANY($1) AND name = ANY($2) AND bucket >= $3 AND bucket < $4
               AND bucket >= now() - make_interval(days => $5)
             GROUP BY 1, 2, 3",
            HOURLY_DAYS,
        ),
        Resolution::FiveMinutes => (
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
        let Some(s) = series.iter().find(|s| s.name == name) else {
            continue;
        };
        let (indices, values) = data.entry((host, s.metric_id)).or_default();
        indices.push(index);
        values.push(value);
    }
    Ok(data)
}

/// Appends one stored row's run of averages, the first at grid index `first`: those present and
/// before `end` (a day row reaches past the range it was read for).
fn push_run(
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

/// Fills `grid` (cleared first) from one series' indices and values.
fn fill(grid: &mut [Option<f64>], indices: &[i32], values: &[f32]) {
    grid.iter_mut().for_each(|slot| *slot = None);
    for (i, v) in indices.iter().zip(values) {
        if let Some(slot) = usize::try_from(*i).ok().and_then(|i| grid.get_mut(i)) {
            *slot = v.is_finite().then_some(f64::from(*v));
        }
    }
}

/// A tier detection runs at: hours over the whole range; five-minute buckets, for bursts
/// (spikes and drops), over the part where the hourly rollups keep them (30 days).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Resolution {
    FiveMinutes,
    Hourly,
}

/// The asked kinds judged on a grid of `per_day` points a day: buckets finer than an hour look
/// for bursts (spikes and drops); shifts and shapes are judged on the hours.
pub fn kinds_judged(per_day: usize, asked: &[Kind]) -> Vec<Kind> {
    let bursts_only = per_day > Resolution::Hourly.per_day();
    asked
        .iter()
        .copied()
        .filter(|k| !bursts_only || matches!(k, Kind::Spike | Kind::Drop))
        .collect()
}

impl Resolution {
    fn name(self) -> &'static str {
        match self {
            Resolution::FiveMinutes => "5m",
            Resolution::Hourly => "hourly",
        }
    }

    fn step(self) -> Duration {
        match self {
            Resolution::FiveMinutes => Duration::minutes(5),
            Resolution::Hourly => Duration::hours(1),
        }
    }

    fn per_day(self) -> usize {
        match self {
            Resolution::FiveMinutes => 288,
            Resolution::Hourly => 24,
        }
    }

    /// How kept judgements name the tier.
    fn code(self) -> i16 {
        match self {
            Resolution::FiveMinutes => 0,
            Resolution::Hourly => 1,
        }
    }

    /// A sensitivity's thresholds at this tier: twelve five-minute buckets an hour are twelve
    /// chances of a false alarm, so their bar is matched to the hours' rate per day.
    fn thresholds(self, sensitivity: Sensitivity) -> anomaly::Thresholds {
        sensitivity
            .thresholds()
            .at_cadence(self.per_day(), Resolution::Hourly.per_day())
    }
}

/// One tier's grid: where it starts, its length, and where the asked range begins in it.
#[derive(Clone, Copy)]
struct Grid {
    resolution: Resolution,
    from: DateTime<Utc>,
    len: usize,
    report_from: usize,
}

/// Hosts per fetch and per detection task: both cores (and PostgreSQL's) work on one request.
const HOSTS_PER_TASK: usize = 25;

/// What judging one series at one tier came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Judged {
    /// The points judged within the asked range.
    Points(usize),
    /// Too few points to judge.
    TooFew,
    /// Sampled less often than the tier's step (five-minute buckets of a series sent every
    /// half hour add nothing to the hours).
    Sparse,
}

/// Judges one series of one host at one tier (`thresholds` already those of its cadence),
/// pushing what it finds.
#[allow(clippy::too_many_arguments)]
fn judge(
    grid: &Grid,
    buffer: &mut Vec<Option<f64>>,
    data: Option<&(Vec<i32>, Vec<f32>)>,
    host: usize,
    series: &Arc<Series>,
    kinds: &[Kind],
    thresholds: &anomaly::Thresholds,
    found: &mut Vec<Found>,
) -> Judged {
    let judged = match load_series(grid, buffer, data, grid.report_from) {
        Loaded::Judged(points) => points,
        Loaded::TooFew => return Judged::TooFew,
        Loaded::Sparse => return Judged::Sparse,
    };
    let profile = Profile {
        per_day: grid.resolution.per_day(),
        significance: series.significance,
    };
    let step = grid.resolution.step();
    if kinds.is_empty() {
        return Judged::Points(judged);
    }
    for detected in anomaly::detect_kinds(buffer, &profile, thresholds, grid.report_from, kinds) {
        found.push(Found {
            host,
            series: series.clone(),
            start: grid.from + step * detected.start as i32,
            end: grid.from + step * (detected.end as i32 + 1),
            detected,
            resolution: grid.resolution,
        });
    }
    Judged::Points(judged)
}

/// How a series loaded onto a grid: judged (with its points from where the report starts), or
/// not, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Loaded {
    Judged(usize),
    TooFew,
    Sparse,
}

/// Puts one series on `grid` in `buffer` (cleared first) — at five minutes only from where it is
/// dense: a host's hourly backfill before its agent's samples is one point an hour there, so it
/// is judged from where the series is dense and called sparse only if it is dense nowhere.
fn load_series(
    grid: &Grid,
    buffer: &mut Vec<Option<f64>>,
    data: Option<&(Vec<i32>, Vec<f32>)>,
    report_from: usize,
) -> Loaded {
    buffer.clear();
    buffer.resize(grid.len, None);
    if let Some((indices, values)) = data {
        fill(buffer, indices, values);
    }
    let mut sparse = false;
    if grid.resolution == Resolution::FiveMinutes {
        let first = buffer.iter().position(Option::is_some).unwrap_or(0);
        let dense_from = dense_suffix_start(buffer);
        sparse = dense_from > first;
        buffer[..dense_from].iter_mut().for_each(|v| *v = None);
    }
    let filled = buffer.iter().flatten().count();
    let judged = buffer[report_from.min(grid.len)..].iter().flatten().count();
    match (filled >= MIN_POINTS && judged > 0, sparse) {
        (true, _) => Loaded::Judged(judged),
        (false, true) => Loaded::Sparse,
        (false, false) => Loaded::TooFew,
    }
}

/// Where the longest stretch that ends at the series' last point and is at least half filled
/// begins (at a filled point); 0 for an empty series. A series filled throughout begins at its
/// first point.
fn dense_suffix_start(series: &[Option<f64>]) -> usize {
    let Some(last) = series.iter().rposition(Option::is_some) else {
        return 0;
    };
    let (mut start, mut filled) = (last, 0usize);
    for k in (0..=last).rev() {
        if series[k].is_some() {
            filled += 1;
            if filled * 2 > last - k {
                start = k;
            }
        }
    }
    start
}

/// The part of the asked range a tier judges: hours from the range's start to the last complete
/// hour; five-minute buckets from where the hourly rollups keep them to the range's end.
#[derive(Clone, Copy, Debug)]
struct Window {
    resolution: Resolution,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

/// What one tier came to: events, per (host index, series index, tier) how judging went, and the
/// judgements made afresh (to keep).
#[derive(Default)]
struct TierResult {
    found: Vec<Found>,
    points: Vec<(usize, usize, Resolution, Judged)>,
    fresh: Vec<Judgement>,
}

/// Detects, explains and stores; returns the events of the range and what was judged. Catalogue
/// series are read from kept judgements where a usable one exists for a host, tier and day, and
/// judged (at every sensitivity, then kept) where not; custom metrics are judged afresh.
pub async fn run(pool: &PgPool, request: &Request) -> Result<Outcome, sqlx::Error> {
    let hour = Duration::hours(1);
    let now = Utc::now();
    let report_start = request.start.duration_trunc(hour).unwrap_or(request.start);
    let until = request.end.duration_trunc(hour).unwrap_or(request.end) + hour;
    let current_hour = now.duration_trunc(hour).unwrap_or(now);
    // Five-minute buckets live with the hourly rollups: from their window's first whole hour.
    let fine_start = (now - Duration::days(crate::history::HOURLY_RETENTION_DAYS))
        .duration_trunc(hour)
        .unwrap_or(now)
        + hour;
    // Hours are judged once complete (a partial hour's mean is not comparable); the hour
    // filling now is judged in five-minute buckets only.
    let windows = [
        Window {
            resolution: Resolution::Hourly,
            from: report_start,
            to: until.min(current_hour),
        },
        Window {
            resolution: Resolution::FiveMinutes,
            from: report_start.max(fine_start),
            to: until,
        },
    ];
    let asked: Vec<Arc<Series>> = SERIES
        .iter()
        .filter(|s| s.group.is_some_and(|g| request.groups.contains(&g)))
        .cloned()
        .collect();
    let (custom, mut unknown_custom) = custom_series(pool, &request.custom_metrics).await?;
    let started = std::time::Instant::now();
    let mut result = TierResult::default();
    if !asked.is_empty() {
        for window in windows {
            let tier = catalogue_tier(pool, request, window, &asked, now, fine_start).await?;
            result.found.extend(tier.found);
            result.points.extend(tier.points);
            result.fresh.extend(tier.fresh);
        }
    }
    if !custom.is_empty() {
        let tier = custom_tiers(pool, request, &custom, asked.len(), &windows, fine_start).await?;
        result.found.extend(tier.found);
        result.points.extend(tier.points);
    }
    crate::storage::judgements::write(pool, &result.fresh).await?;
    let found = prefer_finest(result.found);
    let mut points = result.points;
    points.sort_unstable();
    let mut series = asked;
    series.extend(custom);
    let (judged, mut skipped) = coverage(request, &series, &points, &windows);
    skipped.append(&mut unknown_custom);
    let detected = started.elapsed();
    let thresholds = request.sensitivity.thresholds();
    let mut outcome = store(pool, request, &found, &thresholds).await?;
    tracing::debug!(
        hosts = request.hosts.len(),
        series = points.len(),
        events = found.len(),
        judged_afresh = result.fresh.len(),
        detect_ms = detected.as_millis(),
        store_ms = (started.elapsed() - detected).as_millis(),
        "Anomaly detection ran."
    );
    outcome.judged = judged;
    outcome.skipped = skipped;
    Ok(outcome)
}

/// The catalogue series of one tier: each host's days from its kept judgements where one is
/// usable (complete, or today's no older than the request allows), the rest — from a host's first
/// day without one to its last — judged afresh in one grid per tier, with the baseline's days
/// before it.
async fn catalogue_tier(
    pool: &PgPool,
    request: &Request,
    window: Window,
    asked: &[Arc<Series>],
    now: DateTime<Utc>,
    fine_start: DateTime<Utc>,
) -> Result<TierResult, sqlx::Error> {
    let resolution = window.resolution;
    let mut result = TierResult::default();
    if window.from >= window.to {
        // No complete hour in the range: every series has too few (the five-minute buckets of a
        // range older than their tier are simply not judged).
        if resolution == Resolution::Hourly {
            for host in 0..request.hosts.len() {
                for index in 0..asked.len() {
                    result
                        .points
                        .push((host, index, resolution, Judged::TooFew));
                }
            }
        }
        return Ok(result);
    }
    let day = Duration::days(1);
    let days: Vec<DateTime<Utc>> = {
        let (first, last) = (
            kept::day_of(window.from),
            kept::day_of(window.to - Duration::seconds(1)),
        );
        (0..=(last - first).num_days())
            .map(|d| first + day * d as i32)
            .collect()
    };
    let (Some(&first_day), Some(&last_day)) = (days.first(), days.last()) else {
        return Ok(result);
    };
    let host_ids: Vec<i32> = request.hosts.iter().map(|h| h.0).collect();
    let today = kept::day_of(now);
    let reading = std::time::Instant::now();
    let usable = |j: &Judgement| {
        j.complete
            || (j.day == today
                && request
                    .kept_within
                    .is_some_and(|age| j.judged_at >= now - age))
    };
    let mut days_of: HashMap<i32, HashMap<DateTime<Utc>, Judgement>> = HashMap::new();
    for j in
        crate::storage::judgements::read(pool, &host_ids, resolution.code(), (first_day, last_day))
            .await?
            .into_iter()
            .filter(|j| usable(j))
    {
        days_of.entry(j.host_id).or_default().insert(j.day, j);
    }
    let read_ms = reading.elapsed().as_millis();
    // Each host's days to judge: from its first day without a usable judgement to its last.
    let mut spans: Vec<(i32, Vec<DateTime<Utc>>)> = Vec::new();
    for &host_id in &host_ids {
        let have = days_of.get(&host_id);
        let missing = |d: &&DateTime<Utc>| !have.is_some_and(|h| h.contains_key(*d));
        if let (Some(first), Some(last)) = (
            days.iter().position(|d| missing(&d)),
            days.iter().rposition(|d| missing(&d)),
        ) {
            spans.push((host_id, days[first..=last].to_vec()));
        }
    }
    if !spans.is_empty() {
        let first = spans
            .iter()
            .filter_map(|(_, d)| d.first())
            .min()
            .copied()
            .unwrap_or(first_day);
        let last = spans
            .iter()
            .filter_map(|(_, d)| d.last())
            .max()
            .copied()
            .unwrap_or(last_day);
        let current_hour = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
        // Hours up to the last complete one, five-minute buckets up to now.
        let limit = match resolution {
            Resolution::Hourly => current_hour,
            Resolution::FiveMinutes => current_hour + Duration::hours(1),
        };
        let grid_from = match resolution {
            Resolution::Hourly => first - Duration::days(BASELINE_DAYS),
            Resolution::FiveMinutes => (first - Duration::days(FINE_BASELINE_DAYS)).max(fine_start),
        };
        let grid_end = (last + day).min(limit).max(grid_from);
        let grid = Grid {
            resolution,
            from: grid_from,
            len: ((grid_end - grid_from).num_seconds() / resolution.step().num_seconds()) as usize,
            report_from: 0,
        };
        let metric_ids: Vec<i16> = SERIES.iter().map(|s| s.metric_id).collect();
        let mut tasks = tokio::task::JoinSet::new();
        for chunk in spans.chunks(HOSTS_PER_TASK) {
            let pool = pool.clone();
            let chunk = chunk.to_vec();
            let metric_ids = metric_ids.clone();
            tasks.spawn(async move {
                let ids: Vec<i32> = chunk.iter().map(|(h, _)| *h).collect();
                let range = (grid.from, grid_end);
                let data = match resolution {
                    Resolution::Hourly => {
                        hourly_series(&pool, &ids, &metric_ids, range, now).await?
                    }
                    Resolution::FiveMinutes => {
                        fine_series(&pool, &ids, &metric_ids, range, now).await?
                    }
                };
                // The maths is CPU-bound: off the async workers.
                tokio::task::spawn_blocking(move || {
                    let mut buffer = Vec::new();
                    chunk
                        .iter()
                        .flat_map(|(host_id, days)| {
                            kept::judge_days(
                                &grid,
                                *host_id,
                                &SERIES,
                                &data,
                                days,
                                now,
                                limit,
                                &mut buffer,
                            )
                        })
                        .collect::<Vec<Judgement>>()
                })
                .await
                .map_err(|e| sqlx::Error::Protocol(format!("detection task failed: {e}")))
            });
        }
        while let Some(done) = tasks.join_next().await {
            let judged =
                done.map_err(|e| sqlx::Error::Protocol(format!("detection task failed: {e}")))??;
            for j in judged {
                result.fresh.push(j.clone());
                days_of.entry(j.host_id).or_default().insert(j.day, j);
            }
        }
    }

    let judged_ms = reading.elapsed().as_millis() - read_ms;
    // The asked series' events and points from each host's days.
    let index_of: HashMap<i16, usize> = asked
        .iter()
        .enumerate()
        .map(|(i, s)| (s.metric_id, i))
        .collect();
    let sensitivity = request.sensitivity.code();
    let step = resolution.step();
    for (host, (host_id, _, _)) in request.hosts.iter().enumerate() {
        let mut tally = vec![(0usize, false); asked.len()];
        // One event is kept in every day it overlaps: each is taken once, at its longest.
        let mut events: HashMap<
            (usize, u8, DateTime<Utc>),
            &crate::storage::judgements::KeptEvent,
        > = HashMap::new();
        for j in days
            .iter()
            .filter_map(|d| days_of.get(host_id).and_then(|h| h.get(d)))
        {
            for coverage in &j.series {
                let Some(&index) = index_of.get(&coverage.metric) else {
                    continue;
                };
                match coverage.status {
                    kept::JUDGED => {
                        tally[index].0 +=
                            kept::points_within(coverage, j.day, step, (window.from, window.to))
                    }
                    kept::SPARSE => tally[index].1 = true,
                    _ => {}
                }
            }
            for e in &j.events {
                let Some(&index) = index_of.get(&e.metric) else {
                    continue;
                };
                let wanted = e.sensitivity == sensitivity
                    && Kind::from_code(e.kind).is_some_and(|k| request.kinds.contains(&k))
                    && e.end > window.from
                    && e.start < window.to;
                if wanted {
                    let longest = events.entry((index, e.kind, e.start)).or_insert(e);
                    if e.end > longest.end {
                        *longest = e;
                    }
                }
            }
        }
        for ((index, _, _), e) in events {
            if let Some(detected) = kept::detected_of(e) {
                result.found.push(Found {
                    host,
                    series: asked[index].clone(),
                    detected,
                    start: e.start,
                    end: e.end,
                    resolution,
                });
            }
        }
        for (index, (count, sparse)) in tally.into_iter().enumerate() {
            let judged = match (count, sparse) {
                (0, true) => Judged::Sparse,
                (0, false) => Judged::TooFew,
                (n, _) => Judged::Points(n),
            };
            result.points.push((host, index, resolution, judged));
        }
    }
    tracing::debug!(
        tier = resolution.name(),
        days = days.len(),
        judged_afresh = result.fresh.len(),
        read_ms,
        judged_ms,
        assembled_ms = reading.elapsed().as_millis() - read_ms - judged_ms,
        "Kept judgements read."
    );
    Ok(result)
}

/// The asked custom metrics, judged afresh at the request's sensitivity on both tiers (their
/// hours from their hourly rollups, their five-minute buckets from the raw points of the last
/// 7 days); their series indices start at `first_index`.
async fn custom_tiers(
    pool: &PgPool,
    request: &Request,
    custom: &[Arc<Series>],
    first_index: usize,
    windows: &[Window; 2],
    fine_start: DateTime<Utc>,
) -> Result<TierResult, sqlx::Error> {
    let mut result = TierResult::default();
    let host_ids: Vec<i32> = request.hosts.iter().map(|h| h.0).collect();
    for window in windows {
        let resolution = window.resolution;
        let lead = match resolution {
            Resolution::Hourly => Duration::days(BASELINE_DAYS),
            Resolution::FiveMinutes => Duration::days(FINE_BASELINE_DAYS),
        };
        if resolution == Resolution::FiveMinutes && window.from >= window.to {
            continue;
        }
        let from = match resolution {
            Resolution::Hourly => window.from - lead,
            Resolution::FiveMinutes => (window.from - lead).max(fine_start),
        };
        let step = resolution.step().num_seconds();
        let grid = Grid {
            resolution,
            from,
            len: ((window.to - from).num_seconds() / step).max(0) as usize,
            report_from: ((window.from - from).num_seconds() / step) as usize,
        };
        let data =
            custom_metric_series(pool, &host_ids, custom, resolution, grid.from, window.to).await?;
        let thresholds = resolution.thresholds(request.sensitivity);
        let kinds = kinds_judged(resolution.per_day(), &request.kinds);
        let mut buffer = Vec::new();
        for (host, host_id) in host_ids.iter().enumerate() {
            for (offset, s) in custom.iter().enumerate() {
                let judged = judge(
                    &grid,
                    &mut buffer,
                    data.get(&(*host_id, s.metric_id)),
                    host,
                    s,
                    &kinds,
                    &thresholds,
                    &mut result.found,
                );
                result
                    .points
                    .push((host, first_index + offset, resolution, judged));
            }
        }
    }
    Ok(result)
}

/// An hourly spike or drop that a five-minute one of the same host, series and kind overlaps is
/// the same burst, seen coarser: the five-minute event, with its exact start and length, stays.
fn prefer_finest(mut found: Vec<Found>) -> Vec<Found> {
    // The bursts by host, series and kind: a year's hourly events each look only at their own.
    type Span = (DateTime<Utc>, DateTime<Utc>);
    let mut bursts: HashMap<(usize, i16, Kind), Vec<Span>> = HashMap::new();
    for f in found
        .iter()
        .filter(|f| f.resolution == Resolution::FiveMinutes)
    {
        bursts
            .entry((f.host, f.series.metric_id, f.detected.kind))
            .or_default()
            .push((f.start, f.end));
    }
    found.retain(|f| {
        f.resolution == Resolution::FiveMinutes
            || !bursts
                .get(&(f.host, f.series.metric_id, f.detected.kind))
                .is_some_and(|spans| {
                    spans
                        .iter()
                        .any(|(start, end)| *start < f.end && f.start < *end)
                })
    });
    found.sort_by_key(|f| (f.host, f.series.metric_id, f.start));
    found
}

/// What was judged (per series and tier: hosts and points) and what was not (per host, series
/// and tier, and the redundant series of the asked groups), for the answer.
fn coverage(
    request: &Request,
    series: &[Arc<Series>],
    points: &[(usize, usize, Resolution, Judged)],
    windows: &[Window],
) -> (Vec<AnomalyCoverage>, Vec<AnomalySkip>) {
    let mut judged: Vec<AnomalyCoverage> = Vec::new();
    let mut skipped = Vec::new();
    // The five-minute tier is left out of a range older than it; the hours never are.
    let judged_windows = windows
        .iter()
        .filter(|w| w.resolution == Resolution::Hourly || w.from < w.to);
    for window in judged_windows {
        let (from, to) = (window.from, window.to.min(request.end));
        for (index, s) in series.iter().enumerate() {
            let of_series = points
                .iter()
                .filter(|(_, i, r, _)| *i == index && *r == window.resolution);
            let (mut hosts, mut count) = (0, 0);
            for (host, _, _, judged_points) in of_series {
                let reason = match (judged_points, window.resolution) {
                    (Judged::Points(n), _) => {
                        hosts += 1;
                        count += n;
                        continue;
                    }
                    (Judged::TooFew, Resolution::Hourly) => format!(
                        "fewer than {MIN_POINTS} hourly points in the range and the {BASELINE_DAYS} days before it"
                    ),
                    (Judged::TooFew, Resolution::FiveMinutes) => format!(
                        "fewer than {MIN_POINTS} five-minute points in the range (kept {} days) and the {FINE_BASELINE_DAYS} days before it; judged hourly only",
                        crate::history::HOURLY_RETENTION_DAYS
                    ),
                    (Judged::Sparse, _) => {
                        "sampled less often than every five minutes; judged hourly only".into()
                    }
                };
                skipped.push(AnomalySkip {
                    vm_id: Some(request.hosts[*host].1.clone()),
                    series: s.name.clone(),
                    reason,
                });
            }
            if hosts > 0 {
                judged.push(AnomalyCoverage {
                    series: s.name.clone(),
                    tier: window.resolution.name().into(),
                    from,
                    to,
                    hosts,
                    points: count,
                });
            }
        }
    }
    for (id, reason) in REDUNDANT {
        if let Some(metric) = catalog::by_id(id).filter(|m| request.groups.contains(&m.group)) {
            skipped.push(AnomalySkip {
                vm_id: None,
                series: metric.name(),
                reason: reason.into(),
            });
        }
    }
    (judged, skipped)
}

/// How close two events' starts must be for their hosts to be related: anomalous at the same
/// time, as a fleet-wide incident's hosts are. (Overlap alone made every host of a fleet related
/// to every week-long trend change.)
const RELATED_WITHIN: Duration = Duration::hours(1);

/// Found events (indices into `found`) in start order, each host's and all of them: a host's
/// events and the hosts whose events began near a time are binary searches.
struct HostEvents {
    by_host: std::collections::BTreeMap<usize, Vec<usize>>,
    /// (start, host) of every event, in start order.
    onsets: Vec<(DateTime<Utc>, usize)>,
}

impl HostEvents {
    fn new(found: &[Found]) -> Self {
        let mut by_host: std::collections::BTreeMap<usize, Vec<usize>> =
            std::collections::BTreeMap::new();
        for (i, f) in found.iter().enumerate() {
            by_host.entry(f.host).or_default().push(i);
        }
        for indices in by_host.values_mut() {
            indices.sort_by_key(|i| found[*i].start);
        }
        let mut onsets: Vec<(DateTime<Utc>, usize)> =
            found.iter().map(|f| (f.start, f.host)).collect();
        onsets.sort_unstable();
        Self { by_host, onsets }
    }

    fn of_host(&self, host: usize) -> &[usize] {
        self.by_host.get(&host).map_or(&[], Vec::as_slice)
    }

    /// Hosts with an event that began within `RELATED_WITHIN` of `start`, ascending, once each.
    fn started_near(&self, start: DateTime<Utc>) -> Vec<usize> {
        let from = self
            .onsets
            .partition_point(|(at, _)| *at < start - RELATED_WITHIN);
        let mut hosts: Vec<usize> = self.onsets[from..]
            .iter()
            .take_while(|(at, _)| *at <= start + RELATED_WITHIN)
            .map(|(_, host)| *host)
            .collect();
        hosts.sort_unstable();
        hosts.dedup();
        hosts
    }
}

/// A found event to insert: its index in `found`, severity, related VMs, causes, actions.
type NewRow = (usize, String, Vec<String>, Vec<String>, Vec<String>);

fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

/// Stores found events in one transaction of four statements: hosts locked (in id order, so a
/// request and the continuous detector cannot both insert one event), overlapping stored events
/// read, matches updated in one batch, the rest inserted in one batch.
async fn store(
    pool: &PgPool,
    request: &Request,
    found: &[Found],
    thresholds: &anomaly::Thresholds,
) -> Result<Outcome, sqlx::Error> {
    if found.is_empty() {
        return Ok(Outcome {
            events: Vec::new(),
            new: Vec::new(),
            judged: Vec::new(),
            skipped: Vec::new(),
        });
    }
    let mut tx = pool.begin().await?;
    let mut host_ids: Vec<i32> = found.iter().map(|f| request.hosts[f.host].0).collect();
    host_ids.sort_unstable();
    host_ids.dedup();
    sqlx::query("SELECT pg_advisory_xact_lock(872211, h) FROM unnest($1::int4[]) AS h ORDER BY h")
        .bind(&host_ids)
        .execute(&mut *tx)
        .await?;
    let earliest = found.iter().map(|f| f.start).min().unwrap_or(request.start);
    let latest = found.iter().map(|f| f.end).max().unwrap_or(request.end);
    let mut stored: Vec<StoredAnomaly> = sqlx::query_as(
        "SELECT * FROM anomalies WHERE host_id = ANY($1) AND started_at < $3 AND ended_at > $2 ORDER BY started_at, id",
    )
    .bind(&host_ids)
    .bind(earliest)
    .bind(latest)
    .fetch_all(&mut *tx)
    .await?;

    // Match each found event to the earliest stored one of the same host, series and kind that it
    // overlaps, and fold it in; what matches nothing is new.
    let mut matched: Vec<Option<usize>> = Vec::with_capacity(found.len());
    let mut changed = vec![false; stored.len()];
    let mut inserts: Vec<NewRow> = Vec::new();
    // Look-ups that keep this loop from comparing every pair (a year of a fleet finds tens of
    // thousands of events): each host's events in start order, and the stored events by host,
    // series and kind in their stored order (earliest first).
    let by_host = HostEvents::new(found);
    let mut stored_by_key: HashMap<(i32, String, String), Vec<usize>> = HashMap::new();
    for (k, e) in stored.iter().enumerate() {
        stored_by_key
            .entry((e.host_id, e.series.clone(), e.kind.clone()))
            .or_default()
            .push(k);
    }
    for (index, f) in found.iter().enumerate() {
        let host_id = request.hosts[f.host].0;
        let series = f.series.name.clone();
        let related: BTreeSet<&str> = by_host
            .started_near(f.start)
            .into_iter()
            .filter(|host| *host != f.host)
            .map(|host| request.hosts[host].1.as_str())
            .collect();
        let same_host: Vec<&Found> = by_host
            .of_host(f.host)
            .iter()
            .map(|i| &found[*i])
            .filter(|o| !std::ptr::eq(*o, f) && o.start < f.end && f.start < o.end)
            .collect();
        let (causes, actions) = explain(f, &same_host);
        let severity =
            anomaly::severity(&f.detected, &f.series.significance, thresholds).to_string();
        let position = stored_by_key
            .get(&(host_id, series.clone(), f.detected.kind.name().to_owned()))
            .and_then(|ks| {
                ks.iter().copied().find(|k| {
                    let e = &stored[*k];
                    e.started_at < f.end && e.ended_at > f.start
                })
            });
        match position {
            Some(k) => {
                // Re-running over a range finds the same events again: only what moved is
                // written, and nothing is copied to find out.
                let e = &mut stored[k];
                let mut moved = f.start < e.started_at || f.end > e.ended_at;
                e.started_at = e.started_at.min(f.start);
                e.ended_at = e.ended_at.max(f.end);
                if f.detected.score > e.score {
                    e.value = f.detected.value;
                    e.baseline = f.detected.baseline;
                    e.deviation = deviation(&f.detected);
                    e.severity = severity;
                    e.score = f.detected.score;
                    moved = true;
                }
                // Stored related hosts are kept sorted (they were collected from a set).
                let missing: Vec<&str> = related
                    .iter()
                    .filter(|vm| {
                        e.related_vms
                            .binary_search_by(|r| r.as_str().cmp(vm))
                            .is_err()
                    })
                    .copied()
                    .collect();
                if !missing.is_empty() {
                    let mut all: BTreeSet<String> = e.related_vms.drain(..).collect();
                    all.extend(missing.into_iter().map(str::to_string));
                    e.related_vms = all.into_iter().collect();
                    moved = true;
                }
                if !same_texts(&e.possible_causes, causes) {
                    e.possible_causes = owned(causes);
                    moved = true;
                }
                if !same_texts(&e.suggested_actions, actions) {
                    e.suggested_actions = owned(actions);
                    moved = true;
                }
                if !f.detected.short_baseline && e.confidence != "normal" {
                    e.confidence = "normal".into();
                    moved = true;
                }
                changed[k] |= moved;
                matched.push(Some(k));
            }
            None => {
                matched.push(None);
                inserts.push((
                    index,
                    severity,
                    related.into_iter().map(str::to_string).collect(),
                    owned(causes),
                    owned(actions),
                ));
            }
        }
    }

    let updates: Vec<&StoredAnomaly> = stored
        .iter()
        .zip(&changed)
        .filter(|(_, c)| **c)
        .map(|(e, _)| e)
        .collect();
    if !updates.is_empty() {
        sqlx::query(
            "UPDATE anomalies a SET started_at = u.s, ended_at = u.e, value = u.v, baseline = u.b, deviation = u.d,
                 severity = u.sev, score = u.sc,
                 related_vms = ARRAY(SELECT jsonb_array_elements_text(u.rel::jsonb)),
                 possible_causes = ARRAY(SELECT jsonb_array_elements_text(u.causes::jsonb)),
                 suggested_actions = ARRAY(SELECT jsonb_array_elements_text(u.actions::jsonb)), confidence = u.conf
             FROM unnest($1::int8[], $2::timestamptz[], $3::timestamptz[], $4::float8[], $5::float8[], $6::float8[], $7::text[],
                         $8::float8[], $9::text[], $10::text[], $11::text[], $12::text[])
                  AS u(id, s, e, v, b, d, sev, sc, rel, causes, actions, conf)
             WHERE a.id = u.id",
        )
        .bind(updates.iter().map(|e| e.id).collect::<Vec<_>>())
        .bind(updates.iter().map(|e| e.started_at).collect::<Vec<_>>())
        .bind(updates.iter().map(|e| e.ended_at).collect::<Vec<_>>())
        .bind(updates.iter().map(|e| e.value).collect::<Vec<_>>())
        .bind(updates.iter().map(|e| e.baseline).collect::<Vec<_>>())
        .bind(updates.iter().map(|e| e.deviation).collect::<Vec<_>>())
        .bind(updates.iter().map(|e| e.severity.clone()).collect::<Vec<_>>())
        .bind(updates.iter().map(|e| e.score).collect::<Vec<_>>())
        .bind(updates.iter().map(|e| json_list(&e.related_vms)).collect::<Vec<_>>())
        .bind(updates.iter().map(|e| json_list(&e.possible_causes)).collect::<Vec<_>>())
        .bind(updates.iter().map(|e| json_list(&e.suggested_actions)).collect::<Vec<_>>())
        .bind(updates.iter().map(|e| e.confidence.clone()).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }
    let mut inserted: Vec<StoredAnomaly> = Vec::new();
    if !inserts.is_empty() {
        let f = |i: &NewRow| &found[i.0];
        inserted = sqlx::query_as(
            "INSERT INTO anomalies (host_id, metric, series, kind, started_at, ended_at, value, baseline, deviation, score,
                                    severity, related_vms, possible_causes, suggested_actions, confidence)
             SELECT h, m, se, k, s, e, v, b, d, sc, sev, ARRAY(SELECT jsonb_array_elements_text(rel::jsonb)),
                    ARRAY(SELECT jsonb_array_elements_text(causes::jsonb)), ARRAY(SELECT jsonb_array_elements_text(actions::jsonb)), conf
             FROM unnest($1::int4[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::float8[], $8::float8[],
                         $9::float8[], $10::float8[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[])
                  AS t(h, m, se, k, s, e, v, b, d, sc, sev, rel, causes, actions, conf)
             RETURNING *",
        )
        .bind(inserts.iter().map(|i| request.hosts[f(i).host].0).collect::<Vec<_>>())
        .bind(inserts.iter().map(|i| f(i).series.group_name()).collect::<Vec<_>>())
        .bind(inserts.iter().map(|i| f(i).series.name.as_str()).collect::<Vec<_>>())
        .bind(inserts.iter().map(|i| f(i).detected.kind.name().to_string()).collect::<Vec<_>>())
        .bind(inserts.iter().map(|i| f(i).start).collect::<Vec<_>>())
        .bind(inserts.iter().map(|i| f(i).end).collect::<Vec<_>>())
        .bind(inserts.iter().map(|i| f(i).detected.value).collect::<Vec<_>>())
        .bind(inserts.iter().map(|i| f(i).detected.baseline).collect::<Vec<_>>())
        .bind(inserts.iter().map(|i| deviation(&f(i).detected)).collect::<Vec<_>>())
        .bind(inserts.iter().map(|i| f(i).detected.score).collect::<Vec<_>>())
        .bind(inserts.iter().map(|i| i.1.clone()).collect::<Vec<_>>())
        .bind(inserts.iter().map(|i| json_list(&i.2)).collect::<Vec<_>>())
        .bind(inserts.iter().map(|i| json_list(&i.3)).collect::<Vec<_>>())
        .bind(inserts.iter().map(|i| json_list(&i.4)).collect::<Vec<_>>())
        .bind(
            inserts
                .iter()
                .map(|i| if f(i).detected.short_baseline { "low" } else { "normal" })
                .collect::<Vec<_>>(),
        )
        .fetch_all(&mut *tx)
        .await?;
    }
    tx.commit().await?;

    let names: HashMap<i32, (&str, &str)> = request
        .hosts
        .iter()
        .map(|h| (h.0, (h.1.as_str(), h.2.as_str())))
        .collect();
    let name_of = |host_id: i32| names.get(&host_id).copied().unwrap_or(("", ""));
    let mut events: Vec<AnomalyEvent> = Vec::with_capacity(found.len());
    // One stored event may have been matched by several detections: each is answered once.
    let mut answered: Vec<usize> = matched.iter().flatten().copied().collect();
    answered.sort_unstable();
    answered.dedup();
    let mut stored: Vec<Option<StoredAnomaly>> = stored.into_iter().map(Some).collect();
    for k in answered {
        if let Some(e) = stored[k].take() {
            let (vm_id, vm_name) = name_of(e.host_id);
            events.push(e.into_event(vm_id, vm_name));
        }
    }
    let new: Vec<String> = inserted
        .iter()
        .map(|e| format!("anomaly_{}", e.id))
        .collect();
    for e in inserted {
        let (vm_id, vm_name) = name_of(e.host_id);
        events.push(e.into_event(vm_id, vm_name));
    }
    // One stored event may have been matched by several detections.
    events.sort_by(|a, b| b.timestamp.cmp(&a.timestamp).then_with(|| a.id.cmp(&b.id)));
    events.dedup_by(|a, b| a.id == b.id);
    Ok(Outcome {
        events,
        new,
        judged: Vec::new(),
        skipped: Vec::new(),
    })
}

#[derive(FromRow)]
struct AnomalyWithHost {
    #[sqlx(flatten)]
    anomaly: StoredAnomaly,
    vm_id: String,
    name: String,
}

impl AnomalyWithHost {
    fn into_event(self) -> AnomalyEvent {
        self.anomaly.into_event(&self.vm_id, &self.name)
    }
}

/// One stored event by row id.
pub async fn load(pool: &PgPool, id: i64) -> Result<Option<AnomalyEvent>, sqlx::Error> {
    let row: Option<AnomalyWithHost> =
        sqlx::query_as("SELECT a.*, h.vm_id, h.name FROM anomalies a JOIN hosts h ON h.id = a.host_id WHERE a.id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(AnomalyWithHost::into_event))
}

/// Acknowledges a stored event (who and when; acknowledging twice keeps the first) and answers
/// it, or `None` for an unknown id.
pub async fn acknowledge(
    pool: &PgPool,
    id: i64,
    by: &str,
) -> Result<Option<AnomalyEvent>, sqlx::Error> {
    let row: Option<AnomalyWithHost> = sqlx::query_as(
        "WITH a AS (
             UPDATE anomalies SET
                 status = CASE WHEN status = 'active' THEN 'acknowledged' ELSE status END,
                 acknowledged_by = coalesce(acknowledged_by, $2), acknowledged_at = coalesce(acknowledged_at, now())
             WHERE id = $1 RETURNING *)
         SELECT a.*, h.vm_id, h.name FROM a JOIN hosts h ON h.id = a.host_id",
    )
    .bind(id)
    .bind(by)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(AnomalyWithHost::into_event))
}

/// Resolves a stored event with an optional note; resolving twice keeps the first resolution.
/// `None` for an unknown id.
pub async fn resolve(
    pool: &PgPool,
    id: i64,
    by: &str,
    resolution: Option<&str>,
) -> Result<Option<AnomalyEvent>, sqlx::Error> {
    let row: Option<AnomalyWithHost> = sqlx::query_as(
        "WITH a AS (
             UPDATE anomalies SET status = 'resolved',
                 resolved_by = CASE WHEN status = 'resolved' THEN resolved_by ELSE $2 END,
                 resolved_at = CASE WHEN status = 'resolved' THEN resolved_at ELSE now() END,
                 resolution = CASE WHEN status = 'resolved' THEN resolution ELSE $3 END
             WHERE id = $1 RETURNING *)
         SELECT a.*, h.vm_id, h.name FROM a JOIN hosts h ON h.id = a.host_id",
    )
    .bind(id)
    .bind(by)
    .bind(resolution)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(AnomalyWithHost::into_event))
}

/// The newest stored anomalies of every host still going on after `since`, newest first.
pub async fn recent(
    pool: &PgPool,
    since: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<AnomalyEvent>, sqlx::Error> {
    let rows: Vec<AnomalyWithHost> = sqlx::query_as(
        "SELECT a.*, h.vm_id, h.name FROM anomalies a JOIN hosts h ON h.id = a.host_id
         WHERE a.ended_at > $1 ORDER BY a.started_at DESC, a.id LIMIT $2",
    )
    .bind(since)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(AnomalyWithHost::into_event).collect())
}

/// Anomalies of one host overlapping a range, for the timeline.
pub async fn of_host(
    pool: &PgPool,
    host_id: i32,
    vm_id: &str,
    vm_name: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<AnomalyEvent>, sqlx::Error> {
    let rows: Vec<StoredAnomaly> =
        sqlx::query_as("SELECT * FROM anomalies WHERE host_id = $1 AND started_at <= $3 AND ended_at > $2 ORDER BY started_at")
            .bind(host_id)
            .bind(start)
            .bind(end)
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|r| r.into_event(vm_id, vm_name))
        .collect())
}

/// Runs detection at medium sensitivity over the last three hours of every host seen recently
/// (complete hours, and five-minute buckets up to now) — every catalogue series and the custom
/// metrics sent for those hosts in that time — and publishes events stored for the first time.
pub async fn worker(
    pool: PgPool,
    hub: Hub,
    every: std::time::Duration,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(crate::state::jittered(every)) => {}
        }
        if let Err(error) = detect_recent(&pool, &hub).await {
            tracing::warn!(%error, "Continuous anomaly detection failed; retrying next round.");
        }
    }
}

pub async fn detect_recent(pool: &PgPool, hub: &Hub) -> Result<usize, sqlx::Error> {
    let now = Utc::now();
    let hosts: Vec<(i32, String, String)> =
        sqlx::query_as("SELECT id, vm_id, name FROM hosts WHERE last_seen > $1 ORDER BY id")
            .bind(now - Duration::hours(3))
            .fetch_all(pool)
            .await?;
    if hosts.is_empty() {
        return Ok(0);
    }
    let current_hour = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
    let start = current_hour - Duration::hours(3);
    // The custom metrics sent for these hosts in the judged hours, the busiest first.
    let host_ids: Vec<i32> = hosts.iter().map(|(id, _, _)| *id).collect();
    let custom_metrics: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM custom_metrics WHERE ts >= $1 AND host_id = ANY($2)
         GROUP BY name ORDER BY count(*) DESC, name LIMIT $3",
    )
    .bind(start)
    .bind(&host_ids)
    .bind(CONTINUOUS_CUSTOM_METRICS)
    .fetch_all(pool)
    .await?;
    let request = Request {
        hosts,
        start,
        end: now,
        groups: Group::ALL.to_vec(),
        custom_metrics,
        sensitivity: Sensitivity::Medium,
        kinds: Kind::ALL.to_vec(),
        // Today's judgement is what this round refreshes.
        kept_within: None,
    };
    let outcome = run(pool, &request).await?;
    for event in outcome
        .events
        .iter()
        .filter(|e| outcome.new.contains(&e.id))
    {
        tracing::info!(id = %event.id, vm = %event.vm_id, kind = %event.kind, metric = %event.series, severity = %event.severity, "Anomaly detected.");
        hub.publish(&LiveEvent::AnomalyDetected {
            anomaly: event.clone(),
        });
    }
    Ok(outcome.new.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(host: usize, start_hour: i64, hours: i64) -> Found {
        let origin = DateTime::<Utc>::UNIX_EPOCH;
        Found {
            host,
            series: SERIES[0].clone(),
            detected: Detected {
                kind: Kind::Spike,
                start: 0,
                end: 0,
                peak: 0,
                value: 1.0,
                baseline: 0.0,
                rising: true,
                score: 5.0,
                short_baseline: false,
            },
            start: origin + Duration::hours(start_hour),
            end: origin + Duration::hours(start_hour + hours),
            resolution: Resolution::Hourly,
        }
    }

    #[test]
    fn related_hosts_are_the_ones_every_pair_compared_would_give() {
        // Pseudo-random events over 6 hosts, long ones among them: only onsets within an hour
        // relate hosts, however long the events.
        let found: Vec<Found> = (0..300i64)
            .map(|i| event((i * 7 % 6) as usize, (i * 7919) % 500, 1 + (i * 31) % 40))
            .collect();
        let by_host = HostEvents::new(&found);
        for f in &found {
            let fast = by_host.started_near(f.start);
            let mut pairs: Vec<usize> = found
                .iter()
                .filter(|o| (o.start - f.start).abs() <= RELATED_WITHIN)
                .map(|o| o.host)
                .collect();
            pairs.sort_unstable();
            pairs.dedup();
            assert_eq!(fast, pairs);
            assert!(by_host
                .of_host(f.host)
                .iter()
                .all(|i| found[*i].host == f.host));
        }
        assert_eq!(
            (0..6).map(|h| by_host.of_host(h).len()).sum::<usize>(),
            found.len()
        );
    }

    #[test]
    fn five_minute_buckets_are_judged_from_where_the_series_is_dense() {
        let grid = |pattern: &dyn Fn(usize) -> bool, len: usize| -> Vec<Option<f64>> {
            (0..len).map(|i| pattern(i).then_some(1.0)).collect()
        };
        // Filled throughout (gaps included): from the first point.
        assert_eq!(dense_suffix_start(&grid(&|i| i >= 5 && i % 3 != 0, 100)), 5);
        // An hourly backfill (one bucket in 12) for 20 days, then 2 days of buckets: the stretch
        // that is half filled reaches x buckets back into the backfill while d + x/12 ≥ (d + x)/2,
        // x ≤ 1.2 d, and starts at a backfill point.
        let (backfill, dense) = (20 * 288, 2 * 288);
        let series = grid(&|i| i >= backfill || i % 12 == 0, backfill + dense);
        let start = dense_suffix_start(&series);
        assert!(start < backfill && start.is_multiple_of(12), "{start}");
        let filled = series[start..].iter().flatten().count();
        assert!(filled * 2 >= series.len() - start, "{start}");
        assert!(backfill - start <= dense * 6 / 5, "{start}");
        // Sparse everywhere (every sixth bucket): only the last point; empty: 0.
        let sparse = grid(&|i| i % 6 == 0, 600);
        assert_eq!(dense_suffix_start(&sparse), 594);
        assert_eq!(dense_suffix_start(&[None, None]), 0);
    }

    #[test]
    fn an_hourly_burst_gives_way_only_to_an_overlapping_five_minute_one_of_its_kind() {
        let fine = |host, start_hour, hours| Found {
            resolution: Resolution::FiveMinutes,
            ..event(host, start_hour, hours)
        };
        let drop = |mut f: Found| {
            f.detected.kind = Kind::Drop;
            f
        };
        let other_series = |mut f: Found| {
            f.series = SERIES[1].clone();
            f
        };
        let found = vec![
            event(0, 10, 2),               // overlapped by the burst at hour 11: goes
            fine(0, 11, 1),                // stays
            event(0, 12, 1),               // touches the burst's end only: stays
            event(1, 10, 2),               // another host: stays
            drop(event(0, 10, 2)),         // another kind: stays
            other_series(event(0, 10, 2)), // another series: stays
        ];
        // Sorted by host, series and start, as the answer is.
        let kept: Vec<_> = prefer_finest(found)
            .iter()
            .map(|f| {
                (
                    f.host,
                    f.series.metric_id,
                    f.detected.kind,
                    f.start,
                    f.resolution,
                )
            })
            .collect();
        let at = |hour| DateTime::<Utc>::UNIX_EPOCH + Duration::hours(hour);
        let (first, second) = (SERIES[0].metric_id, SERIES[1].metric_id);
        let mut expected = vec![
            (0, first, Kind::Drop, at(10), Resolution::Hourly),
            (0, first, Kind::Spike, at(11), Resolution::FiveMinutes),
            (0, first, Kind::Spike, at(12), Resolution::Hourly),
            (0, second, Kind::Spike, at(10), Resolution::Hourly),
            (1, first, Kind::Spike, at(10), Resolution::Hourly),
        ];
        expected.sort_by_key(|e| (e.0, e.1, e.3));
        assert_eq!(kept, expected);
    }

    #[test]
    fn a_stored_run_keeps_its_present_values_inside_the_grid() {
        let mut series = (Vec::new(), Vec::new());
        // Starts one slot before the grid, has a gap, and reaches past its end (3).
        let run = vec![Some(1.0), None, Some(3.0), Some(4.0), Some(5.0)];
        push_run(&mut series, -1, run, 3);
        assert_eq!(series, (vec![1, 2], vec![3.0, 4.0]));
        // A later run is appended after, so it replaces the earlier values when filled.
        push_run(&mut series, 2_i32, vec![Some(9.0)], 3);
        let mut grid = vec![None; 3];
        fill(&mut grid, &series.0, &series.1);
        assert_eq!(grid, vec![None, Some(3.0), Some(9.0)]);
    }

    #[test]
    fn a_custom_metric_takes_the_floor_of_the_unit_it_names() {
        let percent = custom_significance(" % ");
        assert_eq!((percent.absolute, percent.relative), (3.0, 0.0));
        let latency = custom_significance("ms");
        assert_eq!((latency.absolute, latency.relative), (2.0, 0.25));
        let count = custom_significance("Count");
        assert_eq!((count.absolute, count.relative), (5.0, 0.2));
        // Anything else: a quarter of the baseline (so a level of 40 must move by 10).
        let other = custom_significance("widgets");
        assert_eq!((other.absolute, other.relative), (0.0, 0.25));
        assert_eq!(other.min_change(40.0), 10.0);
    }

    #[test]
    fn a_temperature_must_move_by_degrees_whatever_its_level() {
        for unit in ["°C", "celsius", " C "] {
            let s = custom_significance(unit);
            assert_eq!((s.absolute, s.relative), (2.0, 0.0), "{unit}");
        }
        let fahrenheit = custom_significance("°F");
        assert_eq!(fahrenheit.min_change(72.0), 3.6);
        assert_eq!(fahrenheit.min_change(-10.0), 3.6);
    }
}
