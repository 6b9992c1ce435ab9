//! Anomaly detection against stored data: the series of a request's range at each tier (`read`)
//! through the detectors of `analysis::anomaly` — or from the judgements kept for days already
//! judged (`kept`) — explained (`explain`) and stored with stable ids (`store`); the continuous
//! detector.
mod continuous;
mod explain;
mod kept;
mod read;
mod store;

pub use crate::storage::anomalies::{acknowledge, load, of_host, recent, resolve};
pub use continuous::{
    catch_up, catch_up_custom, detect_recent, live_window_start, CaughtUp, Detector,
};

use crate::storage::grids::{fine_series, hourly_series, SeriesData};
use crate::storage::hosts::HostRef;
use read::{custom_metric_series, custom_series};

use crate::{
    analysis::anomaly::{self, Detected, Kind, Profile, Sensitivity, Significance},
    storage::{
        catalog::{self, Group, Unit},
        judgements::Judgement,
    },
};
use app::models::{AnomalyCoverage, AnomalyEvent, AnomalySkip};
use chrono::{DateTime, Duration, DurationRound, Utc};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Arc;

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
        // No judged series is in bytes (the rollups keep sizes in MiB); the same floor in bytes.
        Unit::Bytes => (64.0 * 1_048_576.0, 0.10),
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

/// Why detection failed: the database, or a detection task (its maths runs on the blocking
/// pool) that panicked or was cancelled — not a database error, and not reported as one.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("a detection task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Points a series needs in the range and its baseline before it is judged.
const MIN_POINTS: usize = 12;

/// History before the asked range that teaches the baseline: three weeks make the
/// same-hour-of-week baseline possible.
pub const BASELINE_DAYS: i64 = 21;

/// Five-minute buckets before the asked range that teach their baseline: a week of them gives the
/// same-slot-of-day baseline and a settled scale; the hours carry the weekly shape.
pub const FINE_BASELINE_DAYS: i64 = 7;

pub struct Request {
    pub hosts: Vec<HostRef>,
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

/// Parses `anomaly_17` (or `17`) into the row id.
pub fn parse_id(text: &str) -> Option<i64> {
    text.strip_prefix("anomaly_")
        .unwrap_or(text)
        .parse()
        .ok()
        .filter(|id| *id > 0)
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
    /// Five-minute grids that start where their buckets are kept from: a series already
    /// reporting at the grid's start had history before it (at hours), and its first week of
    /// buckets is only its baseline — its points are reported from this slot on. Judged from
    /// the first bucket kept, the grid's first weekend met a baseline of weekdays only and was
    /// a spike on every host with a weekly rhythm. 0: no such week.
    warm_from: usize,
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
    /// In the first week of the five-minute buckets kept, which is the baseline of a series
    /// that was reporting before them (`Grid::warm_from`).
    Warming,
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

/// Where five-minute buckets are judged from as of `now`: they live with the hourly rollups, and
/// are judged from their window's first midnight. Every grid starts at a midnight, so a day is
/// judged alike whichever request or round judged it first: the scale is re-estimated and
/// pattern breaks are looked for per grid day.
fn fine_window_start(now: DateTime<Utc>) -> DateTime<Utc> {
    kept::day_of(now - Duration::days(crate::history::HOURLY_RETENTION_DAYS)) + Duration::days(1)
}

/// Detects, explains and stores; returns the events of the range and what was judged. Catalogue
/// series are read from kept judgements where a usable one exists for a host, tier and day, and
/// judged (at every sensitivity, then kept) where not; custom metrics are judged afresh.
pub async fn run(pool: &PgPool, request: &Request) -> Result<Outcome, DetectError> {
    let hour = Duration::hours(1);
    let now = Utc::now();
    let report_start = request.start.duration_trunc(hour).unwrap_or(request.start);
    let until = request.end.duration_trunc(hour).unwrap_or(request.end) + hour;
    let current_hour = now.duration_trunc(hour).unwrap_or(now);
    let fine_start = fine_window_start(now);
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
    // Before any data is read: a backfill after this keeps the judgements from being kept.
    let generations = if asked.is_empty() {
        HashMap::new()
    } else {
        let host_ids: Vec<i32> = request.hosts.iter().map(|h| h.id).collect();
        crate::storage::judgements::backfill_generations(pool, &host_ids).await?
    };
    if !asked.is_empty() {
        for window in windows {
            let tier = catalogue_tier(pool, request, window, &asked, now, fine_start).await?;
            result.found.extend(tier.found);
            result.points.extend(tier.points);
            result.fresh.extend(tier.fresh);
        }
    }
    if !custom.is_empty() {
        let tier = custom_tiers(
            pool,
            request,
            &custom,
            asked.len(),
            &windows,
            (now, fine_start),
        )
        .await?;
        result.found.extend(tier.found);
        result.points.extend(tier.points);
    }
    crate::storage::judgements::write(pool, &result.fresh, &generations).await?;
    let found = prefer_finest(result.found);
    let mut points = result.points;
    points.sort_unstable();
    let mut series = asked;
    series.extend(custom);
    let (judged, mut skipped) = coverage(request, &series, &points, &windows);
    skipped.append(&mut unknown_custom);
    let detected = started.elapsed();
    let thresholds = request.sensitivity.thresholds();
    let mut outcome = store::store(pool, request, &found, &thresholds).await?;
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
) -> Result<TierResult, DetectError> {
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
    let host_ids: Vec<i32> = request.hosts.iter().map(|h| h.id).collect();
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
        let (grid_from, warm_from) = match resolution {
            Resolution::Hourly => (first - Duration::days(BASELINE_DAYS), 0),
            Resolution::FiveMinutes => {
                let wanted = first - Duration::days(FINE_BASELINE_DAYS);
                if wanted < fine_start {
                    (
                        fine_start,
                        FINE_BASELINE_DAYS as usize * resolution.per_day(),
                    )
                } else {
                    (wanted, 0)
                }
            }
        };
        let grid_end = (last + day).min(limit).max(grid_from);
        let grid = Grid {
            resolution,
            from: grid_from,
            len: ((grid_end - grid_from).num_seconds() / resolution.step().num_seconds()) as usize,
            report_from: 0,
            warm_from,
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
                .map_err(DetectError::from)
            });
        }
        while let Some(done) = tasks.join_next().await {
            let judged = done??;
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
    for (host, HostRef { id: host_id, .. }) in request.hosts.iter().enumerate() {
        let mut tally = vec![Tally::default(); asked.len()];
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
                tally[index].add(coverage.status, || {
                    kept::points_within(coverage, j.day, step, (window.from, window.to))
                });
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
        for (index, tally) in tally.into_iter().enumerate() {
            result
                .points
                .push((host, index, resolution, tally.judged()));
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

/// One series' kept days within a request's window: the points judged, and whether a day was
/// too sparse or in the five-minute tier's warm-up week.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Tally {
    points: usize,
    sparse: bool,
    warming: bool,
}

impl Tally {
    /// Adds one kept day of the series (`points` counts its judged points in the window).
    fn add(&mut self, status: u8, points: impl FnOnce() -> usize) {
        match status {
            kept::JUDGED => self.points += points(),
            kept::SPARSE => self.sparse = true,
            kept::WARMING => self.warming = true,
            _ => {}
        }
    }

    /// What the answer's `judged` says: the points when there are any, else why not — too
    /// sparse before warming up, warming up before too few.
    fn judged(self) -> Judged {
        match self {
            Tally {
                points: 0,
                sparse: true,
                ..
            } => Judged::Sparse,
            Tally {
                points: 0,
                warming: true,
                ..
            } => Judged::Warming,
            Tally { points: 0, .. } => Judged::TooFew,
            Tally { points, .. } => Judged::Points(points),
        }
    }
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
    (now, fine_start): (DateTime<Utc>, DateTime<Utc>),
) -> Result<TierResult, DetectError> {
    let mut result = TierResult::default();
    let host_ids: Vec<i32> = request.hosts.iter().map(|h| h.id).collect();
    for window in windows {
        let resolution = window.resolution;
        let lead = match resolution {
            Resolution::Hourly => Duration::days(BASELINE_DAYS),
            Resolution::FiveMinutes => Duration::days(FINE_BASELINE_DAYS),
        };
        let window = match resolution {
            Resolution::Hourly => *window,
            Resolution::FiveMinutes => Window {
                from: window.from.max(custom_fine_from(now)),
                ..*window
            },
        };
        if resolution == Resolution::FiveMinutes && window.from >= window.to {
            continue;
        }
        let grid = custom_grid(&window, lead, fine_start);
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

/// Where a custom metric's five-minute tier starts judging: its buckets come from raw points,
/// kept for the raw window only, and in that window's first days there is no seasonal baseline
/// yet (three days of lags) — a short one follows a burst of more than half an hour and calls its
/// end a drop, even for a metric with months of history. Those days are the hourly tier's, which
/// has the whole history behind it; a metric newer than that is judged in five minutes from its
/// first point (on a short baseline, as any new series).
fn custom_fine_from(now: DateTime<Utc>) -> DateTime<Utc> {
    let raw_start = now - Duration::days(crate::storage::custom_metrics::RAW_DAYS);
    // The first whole day of the raw window, and the lags' days after it.
    kept::day_of(raw_start) + Duration::days(1 + crate::analysis::anomaly::SEASONAL_LAGS as i64)
}

/// A custom metric's grid for `window`: from the midnight at or before `lead` ahead of it (the
/// five-minute tier's not before `fine_start`, itself a midnight), as the catalogue's kept days
/// are. Daily steps of the detector (the scale's re-estimation, the week's record, pattern-break
/// days) then fall at midnights whatever hour the range starts at, so a live round and a request
/// judge the same hours alike.
fn custom_grid(window: &Window, lead: Duration, fine_start: DateTime<Utc>) -> Grid {
    let resolution = window.resolution;
    let from = kept::day_of(window.from - lead);
    let from = match resolution {
        Resolution::Hourly => from,
        Resolution::FiveMinutes => from.max(fine_start),
    };
    let step = resolution.step().num_seconds();
    Grid {
        resolution,
        from,
        len: ((window.to - from).num_seconds() / step).max(0) as usize,
        report_from: ((window.from - from).num_seconds() / step) as usize,
        // Custom metrics' five-minute tier starts where their lags exist (`custom_fine_from`).
        warm_from: 0,
    }
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
                    (Judged::Warming, _) => format!(
                        "in the first {FINE_BASELINE_DAYS} of the {} days of five-minute buckets kept, which are the baseline of a series reporting before them; judged hourly only",
                        crate::history::HOURLY_RETENTION_DAYS
                    ),
                };
                skipped.push(AnomalySkip {
                    vm_id: Some(request.hosts[*host].vm_id.clone()),
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

#[cfg(test)]
mod tests {
    use super::store::{HostEvents, RELATED_WITHIN};
    use super::*;
    use crate::storage::grids::push_run;

    #[test]
    fn a_series_kept_days_say_its_points_or_why_it_has_none() {
        let tally = |days: &[(u8, usize)]| {
            let mut t = Tally::default();
            for &(status, points) in days {
                t.add(status, || points);
            }
            t.judged()
        };
        assert_eq!(tally(&[]), Judged::TooFew);
        assert_eq!(
            tally(&[(kept::JUDGED, 12), (kept::JUDGED, 30)]),
            Judged::Points(42)
        );
        // Points win over any day without them; sparse over warming; judged days of no points
        // in the window are too few.
        assert_eq!(
            tally(&[(kept::SPARSE, 0), (kept::JUDGED, 5)]),
            Judged::Points(5)
        );
        assert_eq!(
            tally(&[(kept::WARMING, 0), (kept::SPARSE, 0)]),
            Judged::Sparse
        );
        assert_eq!(
            tally(&[(kept::WARMING, 0), (kept::JUDGED, 0)]),
            Judged::Warming
        );
        assert_eq!(tally(&[(kept::JUDGED, 0)]), Judged::TooFew);
        assert_eq!(
            tally(&[(kept::TOO_FEW, 7)]),
            Judged::TooFew,
            "a too-few day counts nothing"
        );
    }

    #[test]
    fn custom_grids_start_at_a_midnight_whatever_hour_the_range_starts_at() {
        let at = |text: &str| text.parse::<DateTime<Utc>>().expect("instant");
        let hours = Window {
            resolution: Resolution::Hourly,
            from: at("2026-03-10T13:00:00Z"),
            to: at("2026-03-10T16:00:00Z"),
        };
        let grid = custom_grid(&hours, Duration::days(28), at("2026-02-20T00:00:00Z"));
        assert_eq!(grid.from, at("2026-02-10T00:00:00Z"));
        // The range's first hour, 28 days and 13 hours in; three hours of it.
        assert_eq!(grid.report_from, 28 * 24 + 13);
        assert_eq!(grid.len, 28 * 24 + 16);
        let fine = Window {
            resolution: Resolution::FiveMinutes,
            from: at("2026-03-10T13:00:00Z"),
            to: at("2026-03-10T13:30:00Z"),
        };
        let grid = custom_grid(&fine, Duration::days(7), at("2026-02-20T00:00:00Z"));
        assert_eq!(grid.from, at("2026-03-03T00:00:00Z"));
        assert_eq!(grid.report_from, 7 * 288 + 13 * 12);
        // Not before the five-minute tier's first midnight.
        let grid = custom_grid(&fine, Duration::days(7), at("2026-03-08T00:00:00Z"));
        assert_eq!(grid.from, at("2026-03-08T00:00:00Z"));
        assert_eq!(grid.report_from, 2 * 288 + 13 * 12);
    }

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
