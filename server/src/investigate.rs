//! Investigate: which series of which hosts changed in a window, against the baseline just
//! before it (four times as long) — "what else moved when this did?" (Netdata's Metric
//! Correlations and Datadog's Watchdog Explains, for a host, a group or the fleet).
//!
//! Each host's series are read as its charts read them (`history::series`: one resolution for
//! baseline and window, at most [`POINTS`] buckets over both, so a 10-minute window is compared
//! on raw samples and a week's on hours), its custom metrics as its custom charts read them; each
//! series is compared by `analysis::change` against the floor anomaly detection uses for it, and
//! what changed by more than its floor is ranked by how different the window is.
use crate::{
    analysis::{
        anomaly::Significance,
        change::{self, Change},
    },
    detect::{custom_significance, significance, SERIES},
    history::{
        self, custom,
        series::{self as chart_series, List, Resolution, SeriesRequest},
        QueryError,
    },
    storage::{
        catalog::{self, Metric, Unit},
        hosts::HostRef,
    },
};
use app::models::{ChangeSide, HostChanges, Investigation, SeriesChange};
use chrono::{DateTime, Duration, Utc};
use futures_util::{StreamExt, TryStreamExt};
use sqlx::PgPool;

/// The baseline is this many times as long as the window (Netdata's choice: long enough to
/// hold the series' usual range, recent enough to be the same regime).
pub const BASELINE_FACTOR: i32 = 4;
/// Buckets over baseline and window together: the window gets a fifth of them.
pub const POINTS: i64 = 500;
/// The shortest window: a few raw samples.
pub const MIN_WINDOW: Duration = Duration::minutes(1);
/// Host-days of raw samples an investigation reads for file systems at most: they are kept only
/// inside raw samples (a JSON list each), and reading them costs 130–190 ms a host over five
/// days against 5 ms for all its rollup series. Past it (100 hosts over more than 2.4 hours, a
/// host over more than 10 days) each file system is not compared and `disk.usagePercent` (all
/// of them together) stands for them.
pub const FILESYSTEM_HOST_DAYS: f64 = 10.0;
/// Hosts read at once: each read waits on PostgreSQL as much as it computes, and a fleet must
/// not take every pooled connection.
const HOSTS_AT_ONCE: usize = 4;
/// Hosts one investigation may cover.
pub const MAX_HOSTS: usize = 200;
/// Changes listed when the caller names no limit, and at most.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;

/// A series' points: (epoch ms, value), `None` where it has no value.
pub type Points = Vec<(i64, Option<f64>)>;

/// What a window is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Baseline {
    /// The stretch just before it, four times as long.
    #[default]
    Before,
    /// The same hours a day earlier: a daily rhythm is not a change.
    Day,
    /// The same hours a week earlier: a weekly rhythm is not either.
    Week,
}

impl Baseline {
    pub const ALL: [Baseline; 3] = [Baseline::Before, Baseline::Day, Baseline::Week];

    pub fn name(self) -> &'static str {
        match self {
            Baseline::Before => "before",
            Baseline::Day => "day",
            Baseline::Week => "week",
        }
    }

    pub fn parse(name: &str) -> Option<Baseline> {
        Baseline::ALL.into_iter().find(|b| b.name() == name)
    }

    /// A request's or a link's choice: none (or empty) is the stretch before; anything else
    /// must be one of the names, or the answer says which there are.
    pub fn chosen(name: Option<&str>) -> Result<Baseline, String> {
        match name.filter(|n| !n.is_empty()) {
            None => Ok(Baseline::Before),
            Some(name) => Baseline::parse(name)
                .ok_or_else(|| format!("unknown baseline `{name}`; use before, day or week")),
        }
    }

    /// How far back the same window is taken from (none: the stretch before it).
    fn offset(self) -> Option<Duration> {
        match self {
            Baseline::Before => None,
            Baseline::Day => Some(Duration::days(1)),
            Baseline::Week => Some(Duration::days(7)),
        }
    }
}

/// The window asked about and the baseline it is compared with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub baseline: Baseline,
    pub baseline_start: DateTime<Utc>,
    pub baseline_end: DateTime<Utc>,
}

impl Window {
    /// Days of data read: baseline and window together, or the two windows.
    fn read_days(&self) -> f64 {
        let span = match self.baseline {
            Baseline::Before => self.end - self.baseline_start,
            _ => (self.end - self.start) * 2,
        };
        span.num_seconds() as f64 / 86_400.0
    }

    /// `start`…`end` with its baseline: the stretch before it, four times as long and cut
    /// where history ends (2 years), or the same window a day or a week earlier (no longer than
    /// that offset, so the two do not overlap).
    pub fn new(
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        baseline: Baseline,
        now: DateTime<Utc>,
    ) -> Result<Window, QueryError> {
        history::check_range(start, end, now)?;
        if end - start < MIN_WINDOW {
            return Err(QueryError::InvalidTime(
                "the window must be at least a minute long".into(),
            ));
        }
        let kept_from = now - Duration::days(history::MAX_RANGE_DAYS);
        let (baseline_start, baseline_end) = match baseline.offset() {
            None => (
                (start - (end - start) * BASELINE_FACTOR).max(kept_from),
                start,
            ),
            Some(offset) if end - start > offset => {
                return Err(QueryError::InvalidTime(format!(
                    "a window compared with the same time a {} earlier may be at most a {} long",
                    baseline.name(),
                    baseline.name()
                )))
            }
            Some(offset) => (start - offset, end - offset),
        };
        if baseline_start >= baseline_end || baseline_start < kept_from {
            return Err(QueryError::InvalidTime(
                "nothing before the window is kept (history goes back 2 years); choose a later window".into(),
            ));
        }
        Ok(Window {
            start,
            end,
            baseline,
            baseline_start,
            baseline_end,
        })
    }
}

/// An investigation and, for each listed change, its points over baseline and window (epoch
/// ms, value) for a chart of it.
pub struct Outcome {
    pub investigation: Investigation,
    pub points: Vec<Points>,
}

/// What changed on `hosts` in `window`, the `limit` most different series first.
pub async fn investigate(
    pool: &PgPool,
    hosts: &[HostRef],
    window: &Window,
    limit: usize,
    now: DateTime<Utc>,
) -> Result<Outcome, QueryError> {
    if hosts.len() > MAX_HOSTS {
        return Err(QueryError::LimitExceeded(format!(
            "an investigation covers at most {MAX_HOSTS} hosts ({} asked); choose a group",
            hosts.len()
        )));
    }
    let filesystems = hosts.len() as f64 * window.read_days() <= FILESYSTEM_HOST_DAYS;
    // Owned hosts: a stream of futures borrowing its items is not `Send` for every lifetime.
    let per_host: Vec<HostFindings> = futures_util::stream::iter(hosts.to_vec())
        .map(|host| async move { of_host(pool, &host, window, filesystems, now).await })
        .buffered(HOSTS_AT_ONCE)
        .try_collect()
        .await?;
    Ok(rank(per_host, window, limit, filesystems))
}

/// One host's compared series and the changed ones with their points.
struct HostFindings {
    summary: HostChanges,
    found: Vec<(SeriesChange, Points)>,
}

/// Most different first; among equally different ones (many series jump from 0 to 1 together
/// in an incident), the larger move in floors first.
fn order(a: &SeriesChange, b: &SeriesChange) -> std::cmp::Ordering {
    b.score
        .total_cmp(&a.score)
        .then(b.size.total_cmp(&a.size))
        .then_with(|| a.host_name.cmp(&b.host_name))
        .then_with(|| a.series.cmp(&b.series))
}

fn rank(
    per_host: Vec<HostFindings>,
    window: &Window,
    limit: usize,
    filesystems_compared: bool,
) -> Outcome {
    let compared = per_host.iter().map(|h| h.summary.compared).sum();
    let mut hosts: Vec<HostChanges> = per_host.iter().map(|h| h.summary.clone()).collect();
    hosts.sort_by(|a, b| {
        b.top_score
            .total_cmp(&a.top_score)
            .then(b.changed.cmp(&a.changed))
            .then_with(|| a.host_name.cmp(&b.host_name))
    });
    let mut found: Vec<(SeriesChange, Points)> =
        per_host.into_iter().flat_map(|h| h.found).collect();
    found.sort_by(|a, b| order(&a.0, &b.0));
    let more = found.len().saturating_sub(limit);
    found.truncate(limit);
    let (changes, points) = found.into_iter().unzip();
    Outcome {
        investigation: Investigation {
            start_time: window.start,
            end_time: window.end,
            baseline_start_time: window.baseline_start,
            baseline_end_time: window.baseline_end,
            baseline: window.baseline.name().into(),
            hosts,
            changes,
            more,
            compared,
            filesystems_compared,
        },
        points,
    }
}

/// A series to compare: its name, unit, floor, resolution and points.
struct Candidate {
    series: String,
    unit: String,
    significance: Significance,
    resolution: String,
    points: Points,
}

/// The catalogue series anomaly detection judges, as chart metrics.
fn judged_metrics() -> Vec<&'static Metric> {
    SERIES
        .iter()
        .filter(|s| s.group.is_some())
        .filter_map(|s| catalog::by_id(s.metric_id))
        .collect()
}

/// A host's series over one range, read as its charts read them: the catalogue series anomaly
/// detection judges, each file system, its custom metrics (the first 12 by name).
async fn read_candidates(
    pool: &PgPool,
    host: &HostRef,
    filesystems: bool,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    (points, resolution): (i64, Option<Resolution>),
    now: DateTime<Utc>,
) -> Result<(Vec<Candidate>, Resolution), QueryError> {
    let metrics = judged_metrics();
    let request = SeriesRequest {
        host_id: host.id,
        metrics: &metrics,
        lists: if filesystems {
            &[List::Filesystems]
        } else {
            &[]
        },
        start,
        end,
        points,
        bands: false,
        resolution,
    };
    let read = chart_series::read(pool, &request, now).await?;
    let column = |key: &str| -> Points {
        read.series
            .get(key)
            .map(|values| read.t.iter().copied().zip(values.iter().copied()).collect())
            .unwrap_or_default()
    };
    let mut candidates: Vec<Candidate> = metrics
        .iter()
        .map(|m| Candidate {
            series: m.name(),
            unit: m.unit.name().into(),
            significance: significance(m.unit),
            resolution: read.resolution.clone(),
            points: column(&format!("{}.avg", m.name())),
        })
        .collect();
    // Each file system on its own (never averaged), as on the host's charts.
    candidates.extend(read.series.keys().filter_map(|key| {
        let name = key.strip_prefix("fs:")?.strip_suffix(".avg")?;
        Some(Candidate {
            series: format!("fs:{name}"),
            unit: Unit::Percent.name().into(),
            significance: significance(Unit::Percent),
            resolution: read.resolution.clone(),
            points: column(key),
        })
    }));
    let own = custom::of_host(pool, host.id, None, (start, end), points, now).await?;
    let width = own.resolution_name();
    candidates.extend(own.metrics.into_iter().map(|m| Candidate {
        series: format!("{}{}", custom::CUSTOM_PREFIX, m.name),
        significance: custom_significance(&m.unit),
        unit: m.unit,
        resolution: width.clone(),
        points: m.buckets.iter().map(|b| (b.0, Some(b.1))).collect(),
    }));
    Ok((candidates, Resolution::of_step(read.step_seconds)))
}

/// For a range that starts past the raw window but within the hourly tier's 30 days, the
/// finest of the five-minute averages kept there (5, 15 minutes, an hour) that fits `points`:
/// the charts' choice would jump to hours, leaving an hour's window one point. `None` where
/// the charts' choice is right (raw and minute buckets within 7 days, days beyond 30).
fn past_raw(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    points: i64,
    now: DateTime<Utc>,
) -> Option<Resolution> {
    if Resolution::finest_held(start, now) != Resolution::Minutes(5) {
        return None;
    }
    [
        Resolution::Minutes(5),
        Resolution::Minutes(15),
        Resolution::Hour,
    ]
    .into_iter()
    .find(|r| {
        r.width()
            .is_some_and(|w| (end - start).num_seconds() / w.num_seconds().max(1) < points)
    })
}

/// A series' values before and during the window, and the points of its chart.
struct Sides {
    candidate: Candidate,
    before: Vec<f64>,
    during: Vec<f64>,
}

/// Values at instants in `from`…`until` (half-open, as buckets are: one starting at the end
/// lies after it).
fn values_in(points: &Points, (from, until): (i64, i64)) -> Vec<f64> {
    points
        .iter()
        .filter(|(t, _)| (from..until).contains(t))
        .filter_map(|(_, v)| *v)
        .collect()
}

/// Every series of the host with its two sides: one read over baseline and window when the
/// baseline is the stretch before; else the window's and the earlier window's reads at the
/// coarser resolution of the two tiers, the earlier one's points moved to lie just before the
/// window on its chart.
async fn sides(
    pool: &PgPool,
    host: &HostRef,
    window: &Window,
    filesystems: bool,
    now: DateTime<Utc>,
) -> Result<Vec<Sides>, QueryError> {
    let ms = |t: DateTime<Utc>| t.timestamp_millis();
    let during = (ms(window.start), ms(window.end));
    let before = (ms(window.baseline_start), ms(window.baseline_end));
    if window.baseline == Baseline::Before {
        let (candidates, _) = read_candidates(
            pool,
            host,
            filesystems,
            (window.baseline_start, window.end),
            (
                POINTS,
                past_raw(window.baseline_start, window.end, POINTS, now),
            ),
            now,
        )
        .await?;
        return Ok(candidates
            .into_iter()
            .map(|c| Sides {
                before: values_in(&c.points, before),
                during: values_in(&c.points, during),
                candidate: c,
            })
            .collect());
    }
    let half = POINTS / 2;
    let range = (window.start, window.end);
    let forced = past_raw(window.start, window.end, half, now);
    let (mut current, chosen) =
        read_candidates(pool, host, filesystems, range, (half, forced), now).await?;
    let resolution = chosen.coarser(Resolution::finest_held(window.baseline_start, now));
    if resolution != chosen {
        current = read_candidates(
            pool,
            host,
            filesystems,
            range,
            (half, Some(resolution)),
            now,
        )
        .await?
        .0;
    }
    let earlier_range = (window.baseline_start, window.baseline_end);
    let (earlier, _) = read_candidates(
        pool,
        host,
        filesystems,
        earlier_range,
        (half, Some(resolution)),
        now,
    )
    .await?;
    let shift = during.0 - before.1;
    Ok(current
        .into_iter()
        .map(|mut c| {
            let past: Points = earlier
                .iter()
                .find(|e| e.series == c.series)
                .map(|e| e.points.clone())
                .unwrap_or_default();
            let before_values = values_in(&past, before);
            let during_values = values_in(&c.points, during);
            // The chart: the earlier window, then a gap, then this one.
            let mut chart: Points = past.into_iter().map(|(t, v)| (t + shift, v)).collect();
            chart.push((during.0, None));
            chart.append(&mut c.points);
            c.points = chart;
            Sides {
                candidate: c,
                before: before_values,
                during: during_values,
            }
        })
        .collect())
}

async fn of_host(
    pool: &PgPool,
    host: &HostRef,
    window: &Window,
    filesystems: bool,
    now: DateTime<Utc>,
) -> Result<HostFindings, QueryError> {
    let mut compared = 0;
    let mut found = Vec::new();
    let (mut any_before, mut any_during) = (false, false);
    for side in sides(pool, host, window, filesystems, now).await? {
        any_before |= !side.before.is_empty();
        any_during |= !side.during.is_empty();
        let Some(change) = change::compare(&side.before, &side.during, side.candidate.significance)
        else {
            continue;
        };
        compared += 1;
        if change.matters() {
            found.push((
                series_change(host, &side.candidate, &change),
                side.candidate.points,
            ));
        }
    }
    found.sort_by(|a, b| order(&a.0, &b.0));
    let note = (compared == 0).then(|| {
        match (any_before, any_during) {
            (_, false) => "no data in the window",
            (false, true) => "no data in the baseline to compare with",
            (true, true) => "too few points to compare (a window of a few samples, or gaps)",
        }
        .to_owned()
    });
    Ok(HostFindings {
        summary: HostChanges {
            vm_id: host.vm_id.clone(),
            host_name: host.name.clone(),
            compared,
            changed: found.len(),
            top_score: found.first().map_or(0.0, |f| f.0.score),
            top_series: found.first().map(|f| f.0.series.clone()),
            note,
        },
        found,
    })
}

fn series_change(host: &HostRef, candidate: &Candidate, change: &Change) -> SeriesChange {
    let side = |s: &change::Summary| ChangeSide {
        mean: round(s.mean, 4),
        median: round(s.median, 4),
        min: round(s.min, 4),
        max: round(s.max, 4),
        points: s.points,
    };
    SeriesChange {
        vm_id: host.vm_id.clone(),
        host_name: host.name.clone(),
        series: candidate.series.clone(),
        unit: candidate.unit.clone(),
        direction: change.direction.name().into(),
        score: round(change.score, 3),
        // A floor of zero (a relative floor at zero) makes any move infinitely many floors.
        size: round(change.size.min(1e6), 1),
        baseline: side(&change.baseline),
        window: side(&change.window),
        resolution: candidate.resolution.clone(),
    }
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10_f64.powi(decimals);
    (value * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, hour, minute, 0)
            .single()
            .expect("a valid instant")
    }

    #[test]
    fn the_baseline_is_four_windows_long_and_cut_where_history_ends() {
        let now = at(23, 0);
        let before = Baseline::Before;
        let window = Window::new(at(10, 0), at(11, 0), before, now).expect("a window");
        assert_eq!(
            (window.baseline_start, window.baseline_end),
            (at(6, 0), at(10, 0))
        );
        assert!(
            (window.read_days() - 5.0 / 24.0).abs() < 1e-9,
            "baseline and window"
        );
        // A year-long window ending now: its baseline only goes back to what is kept.
        let start = now - Duration::days(365);
        let long = Window::new(start, now, before, now).expect("a window");
        assert_eq!(
            long.baseline_start,
            now - Duration::days(history::MAX_RANGE_DAYS)
        );
        assert!(Window::new(at(10, 0), at(10, 0) + Duration::seconds(30), before, now).is_err());
        assert!(
            Window::new(at(11, 0), at(10, 0), before, now).is_err(),
            "reversed"
        );
        let oldest = now - Duration::days(history::MAX_RANGE_DAYS);
        assert!(
            Window::new(oldest, oldest + Duration::hours(1), before, now).is_err(),
            "nothing kept before it"
        );
    }

    #[test]
    fn an_offset_baseline_is_the_same_window_earlier_and_no_longer_than_the_offset() {
        let now = at(23, 0);
        let day = Window::new(at(10, 0), at(11, 0), Baseline::Day, now).expect("a window");
        assert_eq!(
            (day.baseline_start, day.baseline_end),
            (at(10, 0) - Duration::days(1), at(11, 0) - Duration::days(1))
        );
        assert!(
            (day.read_days() - 2.0 / 24.0).abs() < 1e-9,
            "the two windows"
        );
        let week = Window::new(at(10, 0), at(11, 0), Baseline::Week, now).expect("a window");
        assert_eq!(week.baseline_start, at(10, 0) - Duration::days(7));
        assert!(
            Window::new(at(10, 0) - Duration::days(2), at(11, 0), Baseline::Day, now).is_err(),
            "two days against the day before would overlap"
        );
        let oldest = now - Duration::days(history::MAX_RANGE_DAYS);
        assert!(
            Window::new(oldest, oldest + Duration::hours(1), Baseline::Week, now).is_err(),
            "a week before what is kept"
        );
        assert_eq!(Baseline::parse("day"), Some(Baseline::Day));
        assert_eq!(Baseline::parse("month"), None);
        assert_eq!(Baseline::chosen(None), Ok(Baseline::Before));
        assert_eq!(Baseline::chosen(Some("")), Ok(Baseline::Before));
        assert_eq!(Baseline::chosen(Some("week")), Ok(Baseline::Week));
        assert!(Baseline::chosen(Some("month")).is_err_and(|e| e.contains("before, day or week")));
    }

    #[test]
    fn a_range_past_the_raw_window_is_read_at_five_minutes_where_they_fit() {
        let now = at(23, 0);
        let days = |d: i64| now - Duration::days(d);
        assert_eq!(
            past_raw(days(1), days(1) + Duration::hours(5), 500, now),
            None,
            "raw tier"
        );
        assert_eq!(
            past_raw(days(10), days(10) + Duration::hours(5), 500, now),
            Some(Resolution::Minutes(5))
        );
        assert_eq!(
            past_raw(days(10), days(5), 500, now),
            Some(Resolution::Minutes(15)),
            "5 days: 1 440 five-minute buckets, 480 of fifteen"
        );
        assert_eq!(
            past_raw(days(25), days(5), 500, now),
            Some(Resolution::Hour)
        );
        assert_eq!(past_raw(days(40), days(39), 500, now), None, "daily tier");
    }

    fn change(host: &str, series: &str, score: f64, size: f64) -> SeriesChange {
        SeriesChange {
            vm_id: host.into(),
            host_name: host.into(),
            series: series.into(),
            score,
            size,
            ..SeriesChange::default()
        }
    }

    fn findings(host: &str, changes: &[(&str, f64, f64)], compared: usize) -> HostFindings {
        let found: Vec<_> = changes
            .iter()
            .map(|(s, score, size)| (change(host, s, *score, *size), Vec::new()))
            .collect();
        HostFindings {
            summary: HostChanges {
                vm_id: host.into(),
                host_name: host.into(),
                compared,
                changed: found.len(),
                top_score: found.first().map_or(0.0, |f| f.0.score),
                top_series: found.first().map(|f| f.0.series.clone()),
                note: None,
            },
            found,
        }
    }

    #[test]
    fn changes_rank_by_score_then_size_and_hosts_by_their_top_change() {
        let window =
            Window::new(at(10, 0), at(11, 0), Baseline::Before, at(23, 0)).expect("a window");
        let outcome = rank(
            vec![
                findings("a", &[("cpu.usagePercent", 0.6, 9.0)], 20),
                findings(
                    "b",
                    &[("network.inBps", 1.0, 3.0), ("cpu.load1min", 1.0, 12.0)],
                    20,
                ),
                findings("c", &[], 18),
            ],
            &window,
            2,
            true,
        );
        let listed: Vec<(&str, &str)> = outcome
            .investigation
            .changes
            .iter()
            .map(|c| (c.vm_id.as_str(), c.series.as_str()))
            .collect();
        assert_eq!(listed, [("b", "cpu.load1min"), ("b", "network.inBps")]);
        assert_eq!(outcome.investigation.more, 1);
        assert_eq!(outcome.points.len(), 2);
        assert_eq!(outcome.investigation.compared, 58);
        let hosts: Vec<&str> = outcome
            .investigation
            .hosts
            .iter()
            .map(|h| h.vm_id.as_str())
            .collect();
        assert_eq!(hosts, ["b", "a", "c"]);
    }
}
