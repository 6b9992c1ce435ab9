//! Anomaly detection over an hourly series: a robust seasonal baseline, point excursions
//! (spike/drop), CUSUM level shifts (trend_change) and loss of the daily shape (pattern_break).
//!
//! The series is a dense hourly grid (`None` where no data). Every decision at hour `i` uses only
//! hours before `i` (baseline and scale), so re-running over a longer range finds the same events.
use super::robust::{mad, median, quantile_sorted, rank_correlation};

const DAY: usize = 24;
const WEEK: usize = 168;
/// Hours of residuals needed before anything is judged: three days of what is normal.
const WARM_UP: usize = 72;
/// Excursions at least this many hours long that coincide with a level shift are reported as it.
const LONG_EXCURSION: usize = 6;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    Low,
    Medium,
    High,
}

/// What a sensitivity means; documented in the README.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// Robust z-score beyond which one hour is a spike or a drop.
    pub excursion_z: f64,
    /// CUSUM slack (in robust sigmas) and decision threshold for a level shift.
    pub cusum_slack: f64,
    pub cusum_limit: f64,
    /// A day whose profile correlates with the usual daily shape below this is a pattern break.
    pub pattern_correlation: f64,
}

impl Sensitivity {
    pub fn thresholds(self) -> Thresholds {
        match self {
            Sensitivity::Low => Thresholds {
                excursion_z: 5.0,
                cusum_slack: 1.0,
                cusum_limit: 10.0,
                pattern_correlation: 0.0,
            },
            Sensitivity::Medium => Thresholds {
                excursion_z: 4.0,
                cusum_slack: 1.0,
                cusum_limit: 6.0,
                pattern_correlation: 0.3,
            },
            Sensitivity::High => Thresholds {
                excursion_z: 3.0,
                cusum_slack: 0.5,
                cusum_limit: 4.0,
                pattern_correlation: 0.5,
            },
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Spike,
    Drop,
    TrendChange,
    PatternBreak,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Spike,
        Kind::Drop,
        Kind::TrendChange,
        Kind::PatternBreak,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Spike => "spike",
            Kind::Drop => "drop",
            Kind::TrendChange => "trend_change",
            Kind::PatternBreak => "pattern_break",
        }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// One detected event, in grid indices (hours from the series start), `end` inclusive.
#[derive(Clone, Debug, PartialEq)]
pub struct Detected {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
    /// The most deviant hour and its value and baseline.
    pub peak: usize,
    pub value: f64,
    pub baseline: f64,
    /// Above the baseline (spikes, upward shifts) or below it.
    pub rising: bool,
    /// Strength in robust sigmas: peak |z| for excursions, the mean shift for level shifts,
    /// (1 − correlation) × 10 for pattern breaks. Severity is derived from it.
    pub score: f64,
}

/// Expected value at `i` from earlier hours: the same hour in the last 4 weeks when 3 of them
/// exist, else the same hour on the last 7 days when 3 exist, else the median of the last day.
fn baseline_at(series: &[Option<f64>], i: usize) -> Option<f64> {
    let same_hour = |step: usize, count: usize| -> Vec<f64> {
        (1..=count)
            .filter_map(|k| i.checked_sub(k * step).and_then(|j| series[j]))
            .collect()
    };
    let weekly = same_hour(WEEK, 4);
    if weekly.len() >= 3 {
        return median(&weekly);
    }
    let daily = same_hour(DAY, 7);
    if daily.len() >= 3 {
        return median(&daily);
    }
    let recent: Vec<f64> = series[i.saturating_sub(DAY)..i]
        .iter()
        .flatten()
        .copied()
        .collect();
    if recent.len() >= 6 {
        median(&recent)
    } else {
        None
    }
}

/// Robust sigma of residuals: the larger of 1.4826·MAD and the 1–99 % quantile spread over
/// 2·2.576 (both equal σ for normal data). The second keeps bursty series, whose MAD is ~0,
/// from flagging every burst. `floor` stops a constant series from dividing by zero.
fn robust_sigma(residuals: &[f64], floor: f64) -> f64 {
    let mut sorted = residuals.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mad_sigma = 1.4826 * mad(&sorted).unwrap_or(0.0);
    let spread_sigma =
        (quantile_sorted(&sorted, 0.99) - quantile_sorted(&sorted, 0.01)) / (2.0 * 2.576);
    mad_sigma.max(spread_sigma).max(floor)
}

/// Per-hour baseline, residual and robust z-score (`None` before the warm-up or without data).
#[derive(Clone, Debug, Default)]
pub struct Scores {
    pub baseline: Vec<Option<f64>>,
    pub z: Vec<Option<f64>>,
}

/// `floor` is the smallest meaningful sigma in the metric's unit (e.g. 0.01 percentage points).
pub fn score(series: &[Option<f64>], floor: f64) -> Scores {
    let n = series.len();
    let baseline: Vec<Option<f64>> = (0..n)
        .map(|i| series[i].and(baseline_at(series, i)))
        .collect();
    let residual: Vec<Option<f64>> = (0..n).map(|i| Some(series[i]? - baseline[i]?)).collect();
    let mut z = vec![None; n];
    let mut scale: Option<f64> = None;
    for i in 0..n {
        // The scale moves slowly: re-estimate it once a day from the previous week's residuals.
        if i % DAY == 0 || scale.is_none() {
            let history: Vec<f64> = residual[i.saturating_sub(WEEK)..i]
                .iter()
                .flatten()
                .copied()
                .collect();
            scale = (history.len() >= WARM_UP.min(WEEK / 2)).then(|| robust_sigma(&history, floor));
        }
        // Residuals are not re-centred: after a level shift their recent median is biased and
        // would turn the return to normal into a shift of its own.
        if let (Some(r), Some(sigma)) = (residual[i], scale) {
            if i >= WARM_UP {
                z[i] = Some(r / sigma);
            }
        }
    }
    Scores { baseline, z }
}

/// Runs every detector; events ending before `report_from` are left out (that part of the
/// series only teaches the baseline).
pub fn detect(
    series: &[Option<f64>],
    floor: f64,
    thresholds: &Thresholds,
    report_from: usize,
) -> Vec<Detected> {
    let scores = score(series, floor);
    let shifts = level_shifts(series, &scores, thresholds);
    let mut events = excursions(series, &scores, thresholds.excursion_z);
    // A long excursion inside a level shift of the same direction is that shift, not a spike.
    events.retain(|e| {
        e.end - e.start + 1 < LONG_EXCURSION
            || !shifts
                .iter()
                .any(|s| s.rising == e.rising && s.start <= e.end && e.start <= s.end)
    });
    events.extend(shifts);
    events.extend(pattern_breaks(
        series,
        &scores,
        thresholds.pattern_correlation,
        report_from,
    ));
    events.retain(|e| e.end >= report_from);
    events.sort_by_key(|e| (e.start, e.kind.name()));
    events
}

fn event(
    kind: Kind,
    series: &[Option<f64>],
    scores: &Scores,
    start: usize,
    end: usize,
    peak: usize,
    score: f64,
) -> Detected {
    let value = series[peak].unwrap_or(0.0);
    let baseline = scores.baseline[peak].unwrap_or(0.0);
    Detected {
        kind,
        rising: value >= baseline,
        start,
        end,
        peak,
        value,
        baseline,
        score,
    }
}

/// Hours beyond ±`limit` sigmas; runs of one sign with gaps of at most two hours are one event.
fn excursions(series: &[Option<f64>], scores: &Scores, limit: f64) -> Vec<Detected> {
    let sign = |i: usize| match scores.z[i] {
        Some(z) if z > limit => 1,
        Some(z) if z < -limit => -1,
        _ => 0,
    };
    let mut events = Vec::new();
    let mut i = 0;
    while i < series.len() {
        let s = sign(i);
        if s == 0 {
            i += 1;
            continue;
        }
        let (start, mut last, mut j) = (i, i, i + 1);
        while j < series.len() && j - last <= 3 {
            match sign(j) {
                x if x == s => last = j,
                x if x == -s => break,
                _ => {}
            }
            j += 1;
        }
        let peak = (start..=last)
            .max_by(|a, b| {
                scores.z[*a]
                    .unwrap_or(0.0)
                    .abs()
                    .total_cmp(&scores.z[*b].unwrap_or(0.0).abs())
            })
            .unwrap_or(start);
        let kind = if s > 0 { Kind::Spike } else { Kind::Drop };
        events.push(event(
            kind,
            series,
            scores,
            start,
            last,
            peak,
            scores.z[peak].unwrap_or(0.0).abs(),
        ));
        i = last + 1;
    }
    events
}

/// Two-sided CUSUM over z-scores clipped to ±4 (a single spike cannot raise the alarm alone).
/// An alarm starts where the sum last left zero; alarms of the same direction within a day of
/// the previous one extend it, since the baseline takes days to learn the new level.
fn level_shifts(series: &[Option<f64>], scores: &Scores, t: &Thresholds) -> Vec<Detected> {
    let mut events: Vec<Detected> = Vec::new();
    let mut sums = [0.0f64; 2]; // upward, downward (as a positive number)
    let mut starts: [Option<usize>; 2] = [None, None];
    let mut last_alarm: [Option<usize>; 2] = [None, None];
    let mut open: [Option<usize>; 2] = [None, None]; // index into `events`
    for i in 0..series.len() {
        let Some(z) = scores.z[i] else { continue };
        let clipped = z.clamp(-4.0, 4.0);
        for (side, direction) in [(0usize, 1.0f64), (1, -1.0)] {
            sums[side] = (sums[side] + direction * clipped - t.cusum_slack).max(0.0);
            if sums[side] == 0.0 {
                starts[side] = None;
                continue;
            }
            let start = *starts[side].get_or_insert(i);
            if sums[side] <= t.cusum_limit {
                continue;
            }
            let continuing = last_alarm[side].is_some_and(|last| i - last <= DAY);
            match (continuing, open[side]) {
                (true, Some(index)) => events[index].end = i,
                _ => {
                    let mean_shift = (start..=i)
                        .filter_map(|k| scores.z[k])
                        .map(|v| v.clamp(-4.0, 4.0))
                        .sum::<f64>()
                        .abs()
                        / ((i - start + 1) as f64);
                    open[side] = Some(events.len());
                    let mut shift =
                        event(Kind::TrendChange, series, scores, start, i, i, mean_shift);
                    shift.rising = side == 0;
                    events.push(shift);
                }
            }
            last_alarm[side] = Some(i);
            sums[side] = 0.0;
            starts[side] = None;
        }
    }
    events
}

/// Whole days whose hourly shape does not follow the usual daily profile (the baselines), judged
/// only where there is a daily shape to lose: its swing must exceed four robust sigmas.
fn pattern_breaks(
    series: &[Option<f64>],
    scores: &Scores,
    min_correlation: f64,
    report_from: usize,
) -> Vec<Detected> {
    let mut events = Vec::new();
    let first_day = report_from / DAY;
    for day in first_day..series.len() / DAY {
        let hours = day * DAY..(day + 1) * DAY;
        let pairs: Vec<(f64, f64, f64)> = hours
            .clone()
            .filter_map(|i| Some((series[i]?, scores.baseline[i]?, scores.z[i]?)))
            .collect();
        if pairs.len() < 20 {
            continue;
        }
        let actual: Vec<f64> = pairs.iter().map(|p| p.0).collect();
        let usual: Vec<f64> = pairs.iter().map(|p| p.1).collect();
        let swing = usual.iter().copied().fold(f64::MIN, f64::max)
            - usual.iter().copied().fold(f64::MAX, f64::min);
        // Sigma implied by the z-scores of this day's hours.
        let sigmas: Vec<f64> = pairs
            .iter()
            .filter(|p| p.2.abs() > 1e-9)
            .map(|p| ((p.0 - p.1) / p.2).abs())
            .collect();
        let Some(sigma) = median(&sigmas) else {
            continue;
        };
        if swing < 4.0 * sigma {
            continue;
        }
        // Rank correlation: one wild hour (already a spike) does not break the day's shape.
        let r = rank_correlation(&actual, &usual).unwrap_or(0.0);
        if r < min_correlation {
            let peak = hours
                .clone()
                .max_by(|a, b| {
                    scores.z[*a]
                        .unwrap_or(0.0)
                        .abs()
                        .total_cmp(&scores.z[*b].unwrap_or(0.0).abs())
                })
                .unwrap_or(hours.start);
            events.push(event(
                Kind::PatternBreak,
                series,
                scores,
                hours.start,
                hours.end - 1,
                peak,
                (1.0 - r) * 10.0,
            ));
        }
    }
    events
}

/// Severity bands over the score (robust sigmas), documented in the README.
pub fn severity(kind: Kind, score: f64, thresholds: &Thresholds) -> &'static str {
    let unit = match kind {
        Kind::Spike | Kind::Drop => thresholds.excursion_z,
        Kind::TrendChange => 2.0,
        Kind::PatternBreak => 10.0 * (1.0 - thresholds.pattern_correlation.min(0.9)),
    };
    let ratio = score / unit;
    if ratio >= 3.0 {
        "critical"
    } else if ratio >= 2.0 {
        "high"
    } else if ratio >= 1.4 {
        "medium"
    } else {
        "low"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A daily sine (amplitude 10 around 50) with deterministic pseudo-noise of about ±1.
    fn daily(days: usize) -> Vec<Option<f64>> {
        (0..days * DAY)
            .map(|i| {
                let noise = (((i * 7919 + 13) % 101) as f64 / 100.0 - 0.5) * 2.0;
                Some(50.0 + 10.0 * (i as f64 / DAY as f64 * std::f64::consts::TAU).sin() + noise)
            })
            .collect()
    }

    fn kinds(events: &[Detected]) -> Vec<Kind> {
        events.iter().map(|e| e.kind).collect()
    }

    fn medium() -> Thresholds {
        Sensitivity::Medium.thresholds()
    }

    #[test]
    fn pure_noise_with_a_daily_shape_has_no_events() {
        assert!(detect(&daily(21), 0.01, &medium(), 0).is_empty());
        assert!(detect(&daily(21), 0.01, &Sensitivity::High.thresholds(), 0).is_empty());
    }

    #[test]
    fn a_clean_spike_is_one_spike_with_its_value_and_baseline() {
        let mut series = daily(14);
        let at = 10 * DAY + 5;
        series[at] = series[at].map(|v| v + 30.0);
        let events = detect(&series, 0.01, &medium(), 0);
        assert_eq!(kinds(&events), [Kind::Spike], "{events:?}");
        let spike = &events[0];
        assert_eq!((spike.start, spike.end, spike.peak), (at, at, at));
        assert!(
            (spike.value - spike.baseline - 30.0).abs() < 3.0,
            "{spike:?}"
        );
        assert!(spike.score > 10.0);
    }

    #[test]
    fn a_drop_is_typed_as_a_drop() {
        let mut series = daily(14);
        for v in series[10 * DAY + 3..10 * DAY + 5].iter_mut() {
            *v = v.map(|x| x - 25.0);
        }
        let events = detect(&series, 0.01, &medium(), 0);
        assert_eq!(kinds(&events), [Kind::Drop], "{events:?}");
        assert_eq!(
            (events[0].start, events[0].end),
            (10 * DAY + 3, 10 * DAY + 4)
        );
    }

    #[test]
    fn a_level_shift_is_a_trend_change_starting_near_the_shift() {
        let mut series = daily(21);
        let shift = 12 * DAY + 6;
        for v in series[shift..].iter_mut() {
            *v = v.map(|x| x + 4.0);
        }
        let events = detect(&series, 0.01, &medium(), 0);
        let trend: Vec<&Detected> = events
            .iter()
            .filter(|e| e.kind == Kind::TrendChange)
            .collect();
        assert_eq!(trend.len(), 1, "{events:?}");
        assert!(
            trend[0].start.abs_diff(shift) <= 3,
            "starts at {} for a shift at {shift}",
            trend[0].start
        );
        assert!(events.iter().all(|e| e.kind != Kind::Drop));
    }

    #[test]
    fn a_slope_change_is_a_trend_change() {
        let mut series = daily(21);
        let bend = 12 * DAY;
        for (i, v) in series.iter_mut().enumerate().skip(bend) {
            *v = v.map(|x| x + (i - bend) as f64 * 0.15);
        }
        let events = detect(&series, 0.01, &medium(), 0);
        let first = events
            .iter()
            .find(|e| e.kind == Kind::TrendChange)
            .expect("a trend change");
        assert!(
            first.start >= bend && first.start < bend + DAY,
            "{events:?}"
        );
    }

    #[test]
    fn a_flattened_day_is_a_pattern_break() {
        let mut series = daily(14);
        for v in series[10 * DAY..11 * DAY].iter_mut() {
            *v = Some(50.0);
        }
        let events = detect(&series, 0.01, &medium(), 0);
        let breaks: Vec<&Detected> = events
            .iter()
            .filter(|e| e.kind == Kind::PatternBreak)
            .collect();
        assert_eq!(breaks.len(), 1, "{events:?}");
        assert_eq!((breaks[0].start, breaks[0].end), (10 * DAY, 11 * DAY - 1));
    }

    #[test]
    fn nothing_is_judged_before_three_days_and_gaps_are_tolerated() {
        let mut series = daily(10);
        series[30] = Some(500.0);
        for v in series[5 * DAY..5 * DAY + 10].iter_mut() {
            *v = None;
        }
        assert!(detect(&series, 0.01, &medium(), 0).is_empty());
    }

    #[test]
    fn events_before_the_reported_range_are_left_out() {
        let mut series = daily(14);
        series[8 * DAY] = Some(200.0);
        series[12 * DAY] = Some(200.0);
        let events = detect(&series, 0.01, &medium(), 10 * DAY);
        assert_eq!(
            events.iter().map(|e| e.start).collect::<Vec<_>>(),
            [12 * DAY]
        );
    }

    #[test]
    fn severity_grows_with_the_score() {
        let t = medium();
        assert_eq!(severity(Kind::Spike, 4.5, &t), "low");
        assert_eq!(severity(Kind::Spike, 6.0, &t), "medium");
        assert_eq!(severity(Kind::Spike, 8.0, &t), "high");
        assert_eq!(severity(Kind::Spike, 12.0, &t), "critical");
    }
}
