//! Anomaly detection over an evenly spaced series (5-minute buckets, hours or days): a robust
//! seasonal baseline, point excursions (spike/drop), CUSUM level shifts (trend_change) and loss of
//! the daily shape (pattern_break).
//!
//! The series is a dense grid (`None` where no data). Every decision at point `i` uses only points
//! before `i` (baseline and scale), so re-running over a longer range finds the same events.
//! A series is judged from its first dozen points: until a seasonal baseline and three days of
//! residuals exist, against a short robust baseline (the recent median), with a higher bar and
//! the event marked as judged on a short baseline. Nothing is reported that is smaller than the
//! series' practical-significance floor, however many sigmas it is, nor a burst no larger than
//! one the series had in the week its scale was learnt on.
use super::robust::{median, median_in_place, median_sorted, quantile_sorted, rank_correlation};
use super::window::SortedWindow;

/// Residual points needed before anything is judged (the short baseline's minimum).
const COLD_MIN: usize = 12;
/// Days of residuals after which the scale, and so a judgement, has full confidence.
const WARM_DAYS: usize = 3;
/// Extra robust sigmas an excursion needs while the baseline is short.
const SHORT_EXTRA_Z: f64 = 0.5;

/// How a series is judged: its cadence and the smallest change that matters in its unit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Profile {
    /// Points per day: 288 for 5-minute buckets, 24 for hours, 1 for days.
    pub per_day: usize,
    pub significance: Significance,
}

/// The practical-significance floor: a deviation smaller than both is never an anomaly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Significance {
    /// In the series' unit (e.g. 3 percentage points).
    pub absolute: f64,
    /// As a share of the baseline (0.25: a rate must move by a quarter of its usual value).
    pub relative: f64,
}

impl Significance {
    /// The smallest change from `baseline` that matters.
    pub fn min_change(&self, baseline: f64) -> f64 {
        self.absolute.max(self.relative * baseline.abs())
    }

    /// The smallest robust sigma: a constant series does not divide by zero, and jitter far below
    /// what matters does not become the scale everything is measured in.
    fn sigma_floor(&self) -> f64 {
        (self.absolute / 20.0).max(1e-9)
    }
}

impl Profile {
    fn week(&self) -> usize {
        7 * self.per_day
    }

    /// `hours` as a number of points, at least `min`.
    fn points(&self, hours: usize, min: usize) -> usize {
        (hours * self.per_day / 24).max(min)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    Low,
    Medium,
    High,
}

impl Sensitivity {
    pub const ALL: [Sensitivity; 3] = [Sensitivity::Low, Sensitivity::Medium, Sensitivity::High];

    /// Its place in `ALL`, as kept judgements store it.
    pub fn code(self) -> u8 {
        match self {
            Sensitivity::Low => 0,
            Sensitivity::Medium => 1,
            Sensitivity::High => 2,
        }
    }
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

impl Thresholds {
    /// The same thresholds for a series of `per_day` points a day, with the excursion bar raised
    /// so that it flags as many points a day as `excursion_z` does at `reference_per_day` on
    /// Gaussian noise: twelve times the points (five-minute buckets against hours) would
    /// otherwise mean twelve times the false alarms. Medium's 4 at hours is 4.55 at five
    /// minutes.
    pub fn at_cadence(&self, per_day: usize, reference_per_day: usize) -> Thresholds {
        if per_day <= reference_per_day || reference_per_day == 0 {
            return *self;
        }
        let target = two_sided_tail(self.excursion_z) * reference_per_day as f64 / per_day as f64;
        Thresholds {
            excursion_z: z_of_two_sided_tail(target),
            ..*self
        }
    }
}

/// The z whose two-sided normal tail P(|Z| > z) is `tail` (in (0, 1)), by bisection: the tail
/// falls monotonically in z.
fn z_of_two_sided_tail(tail: f64) -> f64 {
    let (mut low, mut high) = (0.0f64, 40.0f64);
    for _ in 0..80 {
        let mid = (low + high) / 2.0;
        if two_sided_tail(mid) > tail {
            low = mid;
        } else {
            high = mid;
        }
    }
    (low + high) / 2.0
}

/// P(|Z| > z) for a standard normal Z: erfc(z / √2), by the Chebyshev fit of Numerical Recipes'
/// `erfcc` (relative error below 1.2e-7 everywhere, tails included).
fn two_sided_tail(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x);
    let poly = -x * x - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    t * poly.exp()
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

    /// Its place in `ALL`, as kept judgements store it.
    pub fn code(self) -> u8 {
        match self {
            Kind::Spike => 0,
            Kind::Drop => 1,
            Kind::TrendChange => 2,
            Kind::PatternBreak => 3,
        }
    }

    pub fn from_code(code: u8) -> Option<Kind> {
        Kind::ALL.get(usize::from(code)).copied()
    }
}

/// One detected event, in grid indices (points from the series start), `end` inclusive.
#[derive(Clone, Debug, PartialEq)]
pub struct Detected {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
    /// The most deviant point and its value and baseline.
    pub peak: usize,
    pub value: f64,
    pub baseline: f64,
    /// Above the baseline (spikes, upward shifts) or below it.
    pub rising: bool,
    /// Strength in robust sigmas: peak |z| for excursions, the mean shift for level shifts,
    /// (1 − correlation) × 10 for pattern breaks. Severity is derived from it.
    pub score: f64,
    /// Judged against the short baseline (too little history for the seasonal one, or for a
    /// settled scale): lower confidence.
    pub short_baseline: bool,
}

/// `f64::total_cmp`'s order as an integer: keys sort as their values would under `total_cmp`,
/// and `from_order_key` gives the value back bit for bit. The per-point medians sort these:
/// an integer compare instead of `total_cmp`'s bit twiddling on every step.
#[inline]
fn order_key(value: f64) -> i64 {
    let bits = value.to_bits() as i64;
    bits ^ (((bits >> 63) as u64) >> 1) as i64
}

#[inline]
fn from_order_key(key: i64) -> f64 {
    // The mask depends on the sign bit only, which the transform leaves alone: it undoes itself.
    f64::from_bits((key ^ (((key >> 63) as u64) >> 1) as i64) as u64)
}

/// Median of a few values (at most a dozen: the seasonal lags) given as `order_key`s, in place,
/// no allocation. An insertion sort: for so few values it beats the general sort's set-up, and
/// this runs for every point of every series.
fn median_of_keys(keys: &mut [i64]) -> f64 {
    for i in 1..keys.len() {
        let key = keys[i];
        let mut j = i;
        while j > 0 && key < keys[j - 1] {
            keys[j] = keys[j - 1];
            j -= 1;
        }
        keys[j] = key;
    }
    let n = keys.len();
    if n % 2 == 1 {
        from_order_key(keys[n / 2])
    } else {
        (from_order_key(keys[n / 2 - 1]) + from_order_key(keys[n / 2])) / 2.0
    }
}

/// Expected value at `i` from earlier points and whether it is seasonal: the same slot in the
/// last 4 weeks when 3 of them exist, else the same slot on the last 7 days when 3 exist, else
/// (short) the median of the last hour's points (at least three) when 3 values exist.
/// How many same-slot values (days or weeks back) a seasonal baseline needs: a series has a daily
/// one from its fourth day.
pub const SEASONAL_LAGS: usize = 3;

fn baseline_at(series: &[Option<f64>], i: usize, profile: &Profile) -> Option<(f64, bool)> {
    let mut buffer = [0i64; 7];
    let mut same_slot = |step: usize, count: usize| -> Option<f64> {
        // Three lags are needed: none of them can exist this early in the series (two weeks of
        // five-minute buckets never have three weeks).
        if i < SEASONAL_LAGS * step {
            return None;
        }
        let mut n = 0;
        for k in 1..=count {
            if let Some(v) = i.checked_sub(k * step).and_then(|j| series[j]) {
                buffer[n] = order_key(v);
                n += 1;
            }
        }
        (n >= SEASONAL_LAGS).then(|| median_of_keys(&mut buffer[..n]))
    };
    if let Some(weekly) = same_slot(profile.week(), 4) {
        return Some((weekly, true));
    }
    if let Some(daily) = same_slot(profile.per_day, 7) {
        return Some((daily, true));
    }
    // Without a seasonal baseline, the level of the last hour (three points at least): it
    // follows the daily shape closely enough that a burst still stands out against it.
    let window = profile.points(1, 3);
    let mut recent = [0i64; 12];
    let mut n = 0;
    for v in series[i.saturating_sub(window)..i].iter().flatten() {
        if n < recent.len() {
            recent[n] = order_key(*v);
            n += 1;
        }
    }
    (n >= 3).then(|| (median_of_keys(&mut recent[..n]), false))
}

/// The share of residuals in each tail of the scale's quantile spread, at every cadence. A week
/// of five-minute buckets holds ~20 points in each 1 % tail, so the quantile is an estimate and
/// not the week's one or two most extreme points: those are the record, which a burst must beat
/// on its own (a tail as thin as 1 %/12 at five minutes made one incident on a host's first day
/// the scale of everything after it, and counted a bursty series' bursts twice).
const SCALE_TAIL: f64 = 0.01;

/// How wide the scale's quantile spread is: the share of residuals in each tail
/// (`SCALE_TAIL`) and the spread, in sigmas, between those quantiles of a normal distribution.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Spread {
    tail: f64,
    sigmas: f64,
}

impl Spread {
    fn standard() -> Spread {
        Spread::with_tail(SCALE_TAIL)
    }

    fn with_tail(tail: f64) -> Spread {
        Spread {
            tail,
            sigmas: 2.0 * z_of_two_sided_tail(2.0 * tail),
        }
    }
}

/// Robust sigma of residuals: the larger of 1.4826·MAD and the spread between the `tail` and
/// `1 − tail` quantiles over that spread's width in sigmas (both equal σ for normal data; at
/// hours the 1–99 % spread over 2 × 2.326). The second keeps bursty series, whose MAD is ~0,
/// from flagging every burst. `floor` stops a constant series from dividing by zero.
/// Reorders `residuals`; `scratch` holds the absolute deviations.
fn robust_sigma(residuals: &mut [f64], scratch: &mut Vec<f64>, floor: f64, spread: Spread) -> f64 {
    let tail = spread.tail;
    let (median, q_low, q_high) = if residuals.len() < 64 {
        // Few values: a sort is as quick, and the quantiles' ranks need no case analysis.
        residuals.sort_unstable_by(f64::total_cmp);
        (
            median_sorted(residuals),
            quantile_sorted(residuals, tail),
            quantile_sorted(residuals, 1.0 - tail),
        )
    } else {
        // Selection instead of a sort (this runs once an hour per series while the scale
        // settles): the median partitions the values, then each quantile's two neighbouring
        // ranks are found within its half — the low tail's ranks lie below the middle, the
        // high tail's above.
        let n = residuals.len();
        let mid = n / 2;
        let (lower, &mut upper, higher) = residuals.select_nth_unstable_by(mid, f64::total_cmp);
        let median = if n % 2 == 1 {
            upper
        } else {
            (largest(lower) + upper) / 2.0
        };
        let q_low = interpolated(lower, (n - 1) as f64 * tail, upper);
        let above = (n - 1) as f64 * (1.0 - tail) - (mid + 1) as f64;
        let q_high = interpolated(higher, above, f64::NAN);
        (median, q_low, q_high)
    };
    scratch.clear();
    scratch.extend(residuals.iter().map(|r| (r - median).abs()));
    let mad_sigma = 1.4826 * median_in_place(scratch);
    let spread_sigma = (q_high - q_low) / spread.sigmas;
    mad_sigma.max(spread_sigma).max(floor)
}

/// `robust_sigma` of the values in a sorted window, equal to it bit for bit: the median and
/// quantiles are read off, the MAD found by bisection.
fn robust_sigma_of_window(window: &SortedWindow, floor: f64, spread: Spread) -> f64 {
    let sorted = window.sorted();
    if sorted.is_empty() {
        return floor;
    }
    let median = window.median();
    let mad_sigma = 1.4826 * window.median_deviation(median);
    let spread_sigma = (quantile_sorted(sorted, 1.0 - spread.tail)
        - quantile_sorted(sorted, spread.tail))
        / spread.sigmas;
    mad_sigma.max(spread_sigma).max(floor)
}

fn largest(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// The type-7 quantile at fractional rank `position` within `values` (unordered), as
/// `quantile_sorted` would give it on them sorted; `next` is the value ranked just after all of
/// them (used when the rank's upper neighbour lies past the end).
fn interpolated(values: &mut [f64], position: f64, next: f64) -> f64 {
    let low = position.floor() as usize;
    let (_, &mut at, rest) = values.select_nth_unstable_by(low, f64::total_cmp);
    let after = if rest.is_empty() {
        if next.is_nan() {
            at
        } else {
            next
        }
    } else {
        rest.iter().copied().fold(f64::INFINITY, f64::min)
    };
    at + (after - at) * (position - low as f64)
}

/// Per-point baseline and robust z-score (`None` before the warm-up or without data), which
/// points were judged on a short baseline, and the lowest and highest residual of the week each
/// point's scale was learnt on (`(∞, −∞)` before there is one).
#[derive(Clone, Debug, Default)]
pub struct Scores {
    pub baseline: Vec<Option<f64>>,
    pub z: Vec<Option<f64>>,
    pub short: Vec<bool>,
    pub record: Vec<(f64, f64)>,
}

pub fn score(series: &[Option<f64>], profile: &Profile) -> Scores {
    let n = series.len();
    let week = profile.week();
    let spread = Spread::standard();
    let mut baseline = vec![None; n];
    let mut seasonal = vec![false; n];
    for i in 0..n {
        if series[i].is_some() {
            if let Some((b, s)) = baseline_at(series, i, profile) {
                baseline[i] = Some(b);
                seasonal[i] = s;
            }
        }
    }
    let residual: Vec<Option<f64>> = (0..n).map(|i| Some(series[i]? - baseline[i]?)).collect();
    // How many points before each index were judged on a seasonal baseline (all have a
    // residual): whether a week holds days of them is then a subtraction.
    let mut seasonal_before = Vec::with_capacity(n + 1);
    seasonal_before.push(0usize);
    for s in &seasonal {
        seasonal_before.push(seasonal_before.last().copied().unwrap_or(0) + usize::from(*s));
    }
    let no_record = (f64::INFINITY, f64::NEG_INFINITY);
    let mut z = vec![None; n];
    let mut short = vec![false; n];
    let mut record = vec![no_record; n];
    let mut scale: Option<(f64, bool)> = None;
    let mut week_record = no_record;
    let mut history: Vec<f64> = Vec::with_capacity(week);
    let mut scratch: Vec<f64> = Vec::with_capacity(week);
    let mut unsettled_week = SortedWindow::default();
    let floor = profile.significance.sigma_floor();
    let hour = profile.points(1, 1);
    for i in 0..n {
        // The scale moves slowly: re-estimate it once a day from the previous week's residuals,
        // every hour while it is still settling.
        let settling = scale.is_none_or(|(_, settled)| !settled);
        if i % profile.per_day == 0 || (settling && i % hour == 0) {
            // Residuals of seasonal baselines once there are days of them: the short baseline's
            // residuals carry the daily shape it cannot know and would inflate the scale.
            let window = i.saturating_sub(week)..i;
            let settled =
                seasonal_before[i] - seasonal_before[window.start] >= WARM_DAYS * profile.per_day;
            if settled {
                // Once a day: a selection over the week's seasonal residuals.
                history.clear();
                let (seasonal, residual) = (&seasonal[window.clone()], &residual[window]);
                for (r, _) in residual.iter().zip(seasonal).filter(|(_, s)| **s) {
                    history.extend(*r);
                }
                week_record = history
                    .iter()
                    .fold(no_record, |(low, high), r| (low.min(*r), high.max(*r)));
                scale = (history.len() >= COLD_MIN).then(|| {
                    (
                        robust_sigma(&mut history, &mut scratch, floor, spread),
                        true,
                    )
                });
            } else {
                // Every hour: the week's residuals, kept sorted from one estimate to the next.
                unsettled_week.slide(&residual, window);
                let sorted = unsettled_week.sorted();
                week_record = match (sorted.first(), sorted.last()) {
                    (Some(low), Some(high)) => (*low, *high),
                    _ => no_record,
                };
                scale = (sorted.len() >= COLD_MIN).then(|| {
                    (
                        robust_sigma_of_window(&unsettled_week, floor, spread),
                        false,
                    )
                });
            }
        }
        // Residuals are not re-centred: after a level shift their recent median is biased and
        // would turn the return to normal into a shift of its own.
        if let (Some(r), Some((sigma, settled))) = (residual[i], scale) {
            z[i] = Some(r / sigma);
            short[i] = !settled || !seasonal[i];
            record[i] = week_record;
        }
    }
    Scores {
        baseline,
        z,
        short,
        record,
    }
}

/// Runs every detector; events ending before `report_from` are left out (that part of the
/// series only teaches the baseline).
pub fn detect(
    series: &[Option<f64>],
    profile: &Profile,
    thresholds: &Thresholds,
    report_from: usize,
) -> Vec<Detected> {
    detect_kinds(series, profile, thresholds, report_from, &Kind::ALL)
}

/// `detect`, keeping only events of `kinds`: the same events of those kinds as `detect` finds,
/// without judging pattern breaks when they are not wanted. Excursions and level shifts always
/// run, since each suppresses the other.
pub fn detect_kinds(
    series: &[Option<f64>],
    profile: &Profile,
    thresholds: &Thresholds,
    report_from: usize,
    kinds: &[Kind],
) -> Vec<Detected> {
    detect_scored(
        series,
        &score(series, profile),
        profile,
        thresholds,
        report_from,
        kinds,
    )
}

/// `detect_kinds` on scores already worked out: the scores do not depend on the thresholds, so
/// one scoring serves every sensitivity.
pub fn detect_scored(
    series: &[Option<f64>],
    scores: &Scores,
    profile: &Profile,
    thresholds: &Thresholds,
    report_from: usize,
    kinds: &[Kind],
) -> Vec<Detected> {
    let mut shifts = level_shifts(series, scores, profile, thresholds);
    let mut events = excursions(series, scores, profile, thresholds.excursion_z);
    let long = profile.points(6, 2);
    // A shift that lies within a short excursion of the same direction is that burst again.
    shifts.retain(|s| {
        !events.iter().any(|e| {
            e.end - e.start + 1 < long
                && e.rising == s.rising
                && e.start <= s.start + 3
                && s.end <= e.end + 3
        })
    });
    // A long excursion inside a level shift of the same direction is that shift, not a spike.
    events.retain(|e| {
        e.end - e.start + 1 < long
            || !shifts
                .iter()
                .any(|s| s.rising == e.rising && s.start <= e.end && e.start <= s.end)
    });
    events.extend(shifts);
    if kinds.contains(&Kind::PatternBreak) {
        events.extend(pattern_breaks(
            series,
            scores,
            profile,
            thresholds.pattern_correlation,
            report_from,
        ));
    }
    events.retain(|e| e.end >= report_from && kinds.contains(&e.kind));
    events.sort_by_key(|e| (e.start, e.kind.name()));
    events
}

fn event(
    kind: Kind,
    series: &[Option<f64>],
    scores: &Scores,
    (start, end, peak): (usize, usize, usize),
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
        short_baseline: scores.short[start..=end].iter().any(|s| *s),
    }
}

/// Points beyond ±`limit` sigmas (one more on a short baseline) that also move by at least the
/// practical floor and beat the week's record by it too — a spike above the highest residual of
/// the week its scale was learnt on, a drop below the lowest, each by the floor at that record's
/// size (what happened last week without being an incident is this series' ordinary burst,
/// whatever its sigmas, and 1.51 MB/s after a week that reached 1.50 is the same burst again,
/// not news). A point right after a flagged one of the same sign continues that burst on its
/// sigmas and the floor alone: the record re-read at midnight holds the burst's own first points,
/// which its continuation need not beat. Runs of one sign with gaps of
/// less than three hours (two points at hours) are one event — in time, so that five-minute
/// buckets, flagged one by one, do not split a burst the hours see as one.
fn excursions(
    series: &[Option<f64>],
    scores: &Scores,
    profile: &Profile,
    limit: f64,
) -> Vec<Detected> {
    // `beyond_record` is false for a point right after a flagged one: the burst in progress is
    // already news, and the record re-read at midnight may hold its own first points.
    let sign_of = |i: usize, beyond_record: bool| {
        let (Some(z), Some(value), Some(baseline)) = (scores.z[i], series[i], scores.baseline[i])
        else {
            return 0;
        };
        let limit = if scores.short[i] {
            limit + SHORT_EXTRA_Z
        } else {
            limit
        };
        let residual = value - baseline;
        let (lowest, highest) = scores.record[i];
        // A record must be beaten by the floor at its own size; before there is one (±∞), by
        // anything.
        let margin = |record: f64| {
            if record.is_finite() {
                profile.significance.min_change(record)
            } else {
                0.0
            }
        };
        if residual.abs() < profile.significance.min_change(baseline) {
            0
        } else if z > limit && (!beyond_record || residual > highest + margin(highest)) {
            1
        } else if z < -limit && (!beyond_record || residual < lowest - margin(lowest)) {
            -1
        } else {
            0
        }
    };
    let sign = |i: usize| sign_of(i, true);
    let gap = profile.points(3, 3);
    let mut events = Vec::new();
    let mut i = 0;
    while i < series.len() {
        let s = sign(i);
        if s == 0 {
            i += 1;
            continue;
        }
        let (start, mut last, mut j) = (i, i, i + 1);
        while j < series.len() && j - last <= gap {
            match sign(j) {
                x if x == s => last = j,
                x if x == -s => break,
                _ if j == last + 1 && sign_of(j, false) == s => last = j,
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
            (start, last, peak),
            scores.z[peak].unwrap_or(0.0).abs(),
        ));
        i = last + 1;
    }
    events
}

/// Two-sided CUSUM over z-scores clipped to ±4 (a single spike cannot raise the alarm alone).
/// An alarm starts where the sum last left zero; alarms of the same direction within a week of
/// the previous one extend it: the baseline takes days to weeks to learn the new level (the
/// same-slot medians of 7 days, then of 4 weeks, which on its first days still sees mostly the
/// old level and re-raises the alarm for the same step). An alarm whose mean move is below the
/// practical floor is not reported; short-baseline points are not judged for shifts.
fn level_shifts(
    series: &[Option<f64>],
    scores: &Scores,
    profile: &Profile,
    t: &Thresholds,
) -> Vec<Detected> {
    let mut events: Vec<Detected> = Vec::new();
    let mut sums = [0.0f64; 2]; // upward, downward (as a positive number)
    let mut starts: [Option<usize>; 2] = [None, None];
    let mut last_alarm: [Option<usize>; 2] = [None, None];
    let mut open: [Option<usize>; 2] = [None, None]; // index into `events`
    for i in 0..series.len() {
        // A short baseline does not know the daily shape: its residuals swing with the time of
        // day, which CUSUM would take for a shift.
        let Some(z) = scores.z[i].filter(|_| !scores.short[i]) else {
            continue;
        };
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
            let continuing = last_alarm[side].is_some_and(|last| i - last <= profile.week());
            match (continuing, open[side]) {
                (true, Some(index)) => events[index].end = i,
                _ => {
                    let (mut moved, mut usual, mut count, mut z_sum) = (0.0, 0.0, 0usize, 0.0);
                    let span = series[start..=i]
                        .iter()
                        .zip(&scores.baseline[start..=i])
                        .zip(&scores.z[start..=i]);
                    for ((v, b), zk) in span {
                        if let (Some(v), Some(b), Some(zk)) = (*v, *b, *zk) {
                            moved += v - b;
                            usual += b;
                            z_sum += zk.clamp(-4.0, 4.0);
                            count += 1;
                        }
                    }
                    let count_f = count.max(1) as f64;
                    if (moved / count_f).abs() < profile.significance.min_change(usual / count_f) {
                        // Too small to matter: forget it, so a later, larger move starts afresh.
                        sums[side] = 0.0;
                        starts[side] = None;
                        continue;
                    }
                    open[side] = Some(events.len());
                    let mut shift = event(
                        Kind::TrendChange,
                        series,
                        scores,
                        (start, i, i),
                        z_sum.abs() / count_f,
                    );
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

/// Whole days whose shape does not follow the usual daily profile (the baselines), judged only
/// where there is a daily shape to lose: its swing must exceed four robust sigmas and the
/// practical floor, and the day must stray from it by at least the floor somewhere. Needs a
/// seasonal baseline (never on a short one) and at least 12 points a day.
fn pattern_breaks(
    series: &[Option<f64>],
    scores: &Scores,
    profile: &Profile,
    min_correlation: f64,
    report_from: usize,
) -> Vec<Detected> {
    let mut events = Vec::new();
    let per_day = profile.per_day;
    if per_day < 12 {
        return events;
    }
    let first_day = report_from / per_day;
    for day in first_day..series.len() / per_day {
        let points = day * per_day..(day + 1) * per_day;
        if scores.short[points.clone()].iter().any(|s| *s) {
            continue;
        }
        let pairs: Vec<(f64, f64, f64)> = points
            .clone()
            .filter_map(|i| Some((series[i]?, scores.baseline[i]?, scores.z[i]?)))
            .collect();
        if pairs.len() * 6 < per_day * 5 {
            continue;
        }
        let actual: Vec<f64> = pairs.iter().map(|p| p.0).collect();
        let usual: Vec<f64> = pairs.iter().map(|p| p.1).collect();
        let swing = usual.iter().copied().fold(f64::MIN, f64::max)
            - usual.iter().copied().fold(f64::MAX, f64::min);
        let mean_usual = usual.iter().sum::<f64>() / usual.len() as f64;
        let floor = profile.significance.min_change(mean_usual);
        let largest_gap = pairs.iter().map(|p| (p.0 - p.1).abs()).fold(0.0, f64::max);
        if swing < floor || largest_gap < floor {
            continue;
        }
        // Sigma implied by the z-scores of this day's points.
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
        // Rank correlation: one wild point (already a spike) does not break the day's shape.
        let r = rank_correlation(&actual, &usual).unwrap_or(0.0);
        if r < min_correlation {
            let peak = points
                .clone()
                .max_by(|a, b| {
                    scores.z[*a]
                        .unwrap_or(0.0)
                        .abs()
                        .total_cmp(&scores.z[*b].unwrap_or(0.0).abs())
                })
                .unwrap_or(points.start);
            events.push(event(
                Kind::PatternBreak,
                series,
                scores,
                (points.start, points.end - 1, peak),
                (1.0 - r) * 10.0,
            ));
        }
    }
    events
}

/// Severity bands over the score (robust sigmas) relative to its threshold unit, documented in
/// the README. A spike or drop is also capped by the size of its move in practical floors: on a
/// quiet series a move just past the floor is many sigmas, yet a small matter.
pub fn severity(
    detected: &Detected,
    significance: &Significance,
    thresholds: &Thresholds,
) -> &'static str {
    let unit = match detected.kind {
        Kind::Spike | Kind::Drop => thresholds.excursion_z,
        Kind::TrendChange => 2.0,
        Kind::PatternBreak => 10.0 * (1.0 - thresholds.pattern_correlation.min(0.9)),
    };
    let mut ratio = detected.score / unit;
    if matches!(detected.kind, Kind::Spike | Kind::Drop) {
        let floor = significance.min_change(detected.baseline);
        if floor > 0.0 {
            ratio = ratio.min((detected.value - detected.baseline).abs() / floor);
        }
    }
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

    const DAY: usize = 24;

    /// Hours, with a floor well below the test series' features.
    fn hourly() -> Profile {
        Profile {
            per_day: DAY,
            significance: Significance {
                absolute: 0.2,
                relative: 0.0,
            },
        }
    }

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
        let events = detect(&daily(21), &hourly(), &medium(), 0);
        assert!(events.is_empty(), "{events:?}");
        let events = detect(&daily(21), &hourly(), &Sensitivity::High.thresholds(), 0);
        assert!(events.is_empty(), "{events:?}");
    }

    #[test]
    fn a_clean_spike_is_one_spike_with_its_value_and_baseline() {
        let mut series = daily(14);
        let at = 10 * DAY + 5;
        series[at] = series[at].map(|v| v + 30.0);
        let events = detect(&series, &hourly(), &medium(), 0);
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
        let events = detect(&series, &hourly(), &medium(), 0);
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
        let events = detect(&series, &hourly(), &medium(), 0);
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
        let events = detect(&series, &hourly(), &medium(), 0);
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
        let events = detect(&series, &hourly(), &medium(), 0);
        let breaks: Vec<&Detected> = events
            .iter()
            .filter(|e| e.kind == Kind::PatternBreak)
            .collect();
        assert_eq!(breaks.len(), 1, "{events:?}");
        assert_eq!((breaks[0].start, breaks[0].end), (10 * DAY, 11 * DAY - 1));
    }

    #[test]
    fn a_spike_on_the_first_day_is_found_against_a_short_baseline() {
        let mut series = daily(2);
        series[30] = Some(500.0);
        let events = detect(&series, &hourly(), &medium(), 0);
        assert_eq!(kinds(&events), [Kind::Spike], "{events:?}");
        assert_eq!(events[0].start, 30);
        assert!(events[0].short_baseline, "{events:?}");
        // With weeks of history the same spike is judged on the seasonal baseline.
        let mut series = daily(21);
        series[20 * DAY + 6] = Some(500.0);
        let events = detect(&series, &hourly(), &medium(), 0);
        assert_eq!(kinds(&events), [Kind::Spike], "{events:?}");
        assert!(!events[0].short_baseline);
    }

    #[test]
    fn nothing_is_judged_on_fewer_than_a_dozen_points_and_gaps_are_tolerated() {
        let mut series = daily(1);
        series.truncate(15);
        series[12] = Some(500.0);
        assert!(detect(&series, &hourly(), &medium(), 0).is_empty());
        let mut series = daily(10);
        for v in series[5 * DAY..5 * DAY + 10].iter_mut() {
            *v = None;
        }
        assert!(detect(&series, &hourly(), &medium(), 0).is_empty());
    }

    #[test]
    fn the_short_baseline_is_the_recent_median() {
        let series: Vec<Option<f64>> = (0..20).map(|i| Some(f64::from(i % 3))).collect();
        let scores = score(&series, &hourly());
        // Before 3 values there is no baseline; then the median of the last three.
        assert_eq!(scores.baseline[2], None);
        assert_eq!(scores.baseline[3], Some(1.0));
        assert_eq!(scores.baseline[18], Some(1.0));
        assert!(scores.short[18]);
    }

    /// An idle host: 0.07 % CPU with jitter, then hours at 0.09–0.2 % and a different shape.
    fn idle_host() -> Vec<Option<f64>> {
        (0..21 * DAY)
            .map(|i| {
                let jitter = (((i * 7919 + 13) % 101) as f64 / 100.0 - 0.5) * 0.01;
                let busy = (14 * DAY..14 * DAY + 30).contains(&i);
                Some(if busy {
                    0.09 + (i % 7) as f64 * 0.02
                } else {
                    0.07 + jitter
                })
            })
            .collect()
    }

    #[test]
    fn an_idle_host_moving_by_less_than_the_floor_is_never_anomalous() {
        let percent = Profile {
            per_day: DAY,
            significance: Significance {
                absolute: 3.0,
                relative: 0.0,
            },
        };
        for sensitivity in [Sensitivity::Low, Sensitivity::Medium, Sensitivity::High] {
            let events = detect(&idle_host(), &percent, &sensitivity.thresholds(), 0);
            assert!(events.is_empty(), "{sensitivity:?}: {events:?}");
        }
        // Without the floor the same moves are many sigmas: the floor is what silences them.
        let no_floor = Profile {
            per_day: DAY,
            significance: Significance {
                absolute: 1e-6,
                relative: 0.0,
            },
        };
        assert!(!detect(&idle_host(), &no_floor, &medium(), 0).is_empty());
    }

    #[test]
    fn a_rate_needs_a_relative_move() {
        let rate = Profile {
            per_day: DAY,
            significance: Significance {
                absolute: 1.0,
                relative: 0.25,
            },
        };
        let steady = |bump: f64| -> Vec<Option<f64>> {
            (0..14 * DAY)
                .map(|i| {
                    let noise = (((i * 7919 + 13) % 101) as f64 / 100.0 - 0.5) * 4.0;
                    Some(1000.0 + noise + if i == 10 * DAY { bump } else { 0.0 })
                })
                .collect()
        };
        // +15 % is dozens of sigmas here, but below a quarter of the usual rate.
        assert!(detect(&steady(150.0), &rate, &medium(), 0).is_empty());
        let events = detect(&steady(500.0), &rate, &medium(), 0);
        assert_eq!(kinds(&events), [Kind::Spike], "{events:?}");
        assert_eq!(rate.significance.min_change(1000.0), 250.0);
        assert_eq!(rate.significance.min_change(2.0), 1.0);
    }

    #[test]
    fn five_minute_buckets_find_a_twenty_minute_burst() {
        let per_day = 288;
        let profile = Profile {
            per_day,
            significance: Significance {
                absolute: 3.0,
                relative: 0.0,
            },
        };
        let mut series: Vec<Option<f64>> = (0..8 * per_day)
            .map(|i| {
                let noise = (((i * 7919 + 13) % 101) as f64 / 100.0 - 0.5) * 2.0;
                Some(
                    40.0 + 10.0 * (i as f64 / per_day as f64 * std::f64::consts::TAU).sin() + noise,
                )
            })
            .collect();
        let burst = 7 * per_day + 100;
        for v in series[burst..burst + 4].iter_mut() {
            *v = v.map(|x| x + 20.0);
        }
        let events = detect(&series, &profile, &medium(), 7 * per_day);
        assert_eq!(kinds(&events), [Kind::Spike], "{events:?}");
        assert_eq!((events[0].start, events[0].end), (burst, burst + 3));
        assert!(!events[0].short_baseline);
    }

    #[test]
    fn events_before_the_reported_range_are_left_out() {
        let mut series = daily(14);
        series[8 * DAY] = Some(200.0);
        // Larger than the first: a spike no larger within a week is no new record.
        series[12 * DAY] = Some(300.0);
        let events = detect(&series, &hourly(), &medium(), 10 * DAY);
        assert_eq!(
            events.iter().map(|e| e.start).collect::<Vec<_>>(),
            [12 * DAY]
        );
    }

    fn scored(kind: Kind, score: f64, value: f64, baseline: f64) -> Detected {
        Detected {
            kind,
            start: 0,
            end: 0,
            peak: 0,
            value,
            baseline,
            rising: value >= baseline,
            score,
            short_baseline: false,
        }
    }

    #[test]
    fn severity_grows_with_the_score() {
        let t = medium();
        let floor = hourly().significance; // 0.2 points
        let spike = |score| severity(&scored(Kind::Spike, score, 50.0, 10.0), &floor, &t);
        assert_eq!(spike(4.5), "low");
        assert_eq!(spike(6.0), "medium");
        assert_eq!(spike(8.0), "high");
        assert_eq!(spike(12.0), "critical");
    }

    #[test]
    fn a_move_just_past_the_floor_is_low_however_many_sigmas() {
        let t = medium();
        let percent = Significance {
            absolute: 3.0,
            relative: 0.0,
        };
        // Disk usage 62.5 → 65.5 %: 30 sigmas on a quiet series, one floor of move.
        let small = scored(Kind::Spike, 30.0, 65.5, 62.5);
        assert_eq!(severity(&small, &percent, &t), "low");
        // 2.1 floors (6.3 points) → high; 3 floors and more → critical; a drop alike.
        assert_eq!(
            severity(&scored(Kind::Spike, 30.0, 68.8, 62.5), &percent, &t),
            "high"
        );
        assert_eq!(
            severity(&scored(Kind::Drop, 30.0, 40.0, 62.5), &percent, &t),
            "critical"
        );
        // A rate's floor is relative: 100 → 150 is two floors of 25.
        let rate = Significance {
            absolute: 0.0,
            relative: 0.25,
        };
        assert_eq!(
            severity(&scored(Kind::Spike, 30.0, 150.0, 100.0), &rate, &t),
            "high"
        );
        // The score still caps a large move, and shapes are judged on their score alone.
        assert_eq!(
            severity(&scored(Kind::Spike, 4.5, 90.0, 10.0), &percent, &t),
            "low"
        );
        assert_eq!(
            severity(&scored(Kind::PatternBreak, 15.0, 65.5, 62.5), &percent, &t),
            "high"
        );
    }

    /// The spread every cadence uses (1 % tails) and a thin one (1 % / 12), whose quantiles fall
    /// at other ranks of the selection.
    fn spreads() -> [Spread; 2] {
        [Spread::standard(), Spread::with_tail(0.01 / 12.0)]
    }

    /// The scale as it was computed before selection replaced the sort.
    fn robust_sigma_by_sorting(residuals: &[f64], floor: f64, spread: Spread) -> f64 {
        let mut sorted = residuals.to_vec();
        sorted.sort_unstable_by(f64::total_cmp);
        let mad_sigma = 1.4826 * crate::analysis::robust::mad(&sorted).unwrap_or(0.0);
        let spread_sigma = (quantile_sorted(&sorted, 1.0 - spread.tail)
            - quantile_sorted(&sorted, spread.tail))
            / spread.sigmas;
        mad_sigma.max(spread_sigma).max(floor)
    }

    #[test]
    fn the_spread_is_as_many_sigmas_as_its_tails_are_on_normal_data() {
        let [standard, thin] = spreads();
        // Φ⁻¹(0.99) = 2.32635 (tables): the 1–99 % spread is 4.6527 σ, not 2 × 2.576 (that is
        // the 0.5–99.5 % spread).
        assert!((standard.tail - 0.01).abs() < 1e-15);
        assert!(
            (standard.sigmas - 2.0 * 2.326_35).abs() < 1e-4,
            "{standard:?}"
        );
        // A thin tail: 1/1200 in each, Φ⁻¹(1 − 1/1200) = 3.14398 (Python's
        // statistics.NormalDist().inv_cdf).
        assert!((thin.tail - 0.01 / 12.0).abs() < 1e-15);
        assert!((thin.sigmas - 2.0 * 3.143_98).abs() < 1e-4, "{thin:?}");
    }

    #[test]
    fn the_scale_of_hand_checked_residuals() {
        let [standard, thin] = spreads();
        // 1..=100: median 50.5, MAD 25 → 37.07; quantiles 1.99 and 99.01 → 97.02 / 4.65 = 20.9;
        // the MAD wins.
        let mut values: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let sigma = robust_sigma(&mut values, &mut Vec::new(), 0.0, standard);
        assert!((sigma - 1.4826 * 25.0).abs() < 1e-12, "{sigma}");
        // 99 zeros and one burst: MAD 0, so the 1–99 % spread decides: the 99 % quantile sits
        // at rank 98.01, a hundredth of the way from 0 to 50, so 0.5 / 4.6527.
        let mut bursty = vec![0.0; 99];
        bursty.push(50.0);
        let sigma = robust_sigma(&mut bursty.clone(), &mut Vec::new(), 0.01, standard);
        assert!((sigma - 0.5 / standard.sigmas).abs() < 1e-12, "{sigma}");
        // With a thin tail the rank is 99 − 99/1200 = 98.9175: 91.75 % of the way to 50, over
        // 6.2841: the one burst sets the scale.
        let sigma = robust_sigma(&mut bursty, &mut Vec::new(), 0.01, thin);
        assert!(
            (sigma - 50.0 * (1.0 - 99.0 / 1200.0) / thin.sigmas).abs() < 1e-9,
            "{sigma}"
        );
    }

    #[test]
    fn a_spike_must_beat_the_weeks_record() {
        // A quiet series with a burst of 30 on day 8; a smaller one on day 12 is no new record
        // (its scale was learnt on the week holding the first), one of 45 is.
        let with_bursts = |second: f64| {
            let mut series = daily(16);
            series[8 * DAY + 5] = series[8 * DAY + 5].map(|v| v + 30.0);
            series[12 * DAY + 5] = series[12 * DAY + 5].map(|v| v + second);
            series
        };
        let starts = |series: &[Option<f64>]| {
            let events = detect(series, &hourly(), &medium(), 0);
            assert!(events.iter().all(|e| e.kind == Kind::Spike), "{events:?}");
            events.iter().map(|e| e.start).collect::<Vec<_>>()
        };
        assert_eq!(starts(&with_bursts(27.0)), [8 * DAY + 5]);
        assert_eq!(starts(&with_bursts(45.0)), [8 * DAY + 5, 12 * DAY + 5]);
        let scores = score(&with_bursts(27.0), &hourly());
        let (lowest, highest) = scores.record[12 * DAY + 5];
        assert!(
            highest > 25.0 && lowest > -5.0,
            "{:?}",
            scores.record[12 * DAY + 5]
        );
        // Before any scale: no record.
        assert_eq!(scores.record[0], (f64::INFINITY, f64::NEG_INFINITY));
    }

    #[test]
    fn a_burst_running_past_midnight_is_one_event_to_its_end() {
        // +30 from 22:00 to 01:59. At midnight the scale and the week's record are re-read from
        // a week that now holds the burst's first two hours: its continuation is the same
        // incident, not a new one that has to beat itself.
        let mut series = daily(14);
        let start = 10 * DAY + 22;
        for v in series[start..start + 4].iter_mut() {
            *v = v.map(|x| x + 30.0);
        }
        let events = detect(&series, &hourly(), &medium(), 0);
        assert_eq!(kinds(&events), [Kind::Spike], "{events:?}");
        assert_eq!((events[0].start, events[0].end), (start, start + 3));
        // A later burst of the same size is still no new record.
        series[12 * DAY + 5] = series[12 * DAY + 5].map(|v| v + 30.0);
        let events = detect(&series, &hourly(), &medium(), 0);
        assert_eq!(events.len(), 1, "{events:?}");
    }

    #[test]
    fn a_new_record_must_beat_the_old_one_by_the_floor_at_its_size() {
        // Flat at 10 (floor: 1 or a quarter), a burst of +20 on day 8. On day 12 a burst of +24
        // beats that record by 4, less than a quarter of 20 (5): the same burst again; +26
        // beats it by 6 and is reported.
        let profile = Profile {
            per_day: DAY,
            significance: Significance {
                absolute: 1.0,
                relative: 0.25,
            },
        };
        let with_bursts = |second: f64| {
            let mut series = vec![Some(10.0); 16 * DAY];
            series[8 * DAY + 5] = Some(30.0);
            series[12 * DAY + 5] = Some(10.0 + second);
            series
        };
        let starts = |series: &[Option<f64>]| {
            let events = detect(series, &profile, &medium(), 0);
            assert!(events.iter().all(|e| e.kind == Kind::Spike), "{events:?}");
            events.iter().map(|e| e.start).collect::<Vec<_>>()
        };
        assert_eq!(
            score(&with_bursts(24.0), &profile).record[12 * DAY + 5],
            (0.0, 20.0)
        );
        assert_eq!(starts(&with_bursts(24.0)), [8 * DAY + 5]);
        assert_eq!(starts(&with_bursts(26.0)), [8 * DAY + 5, 12 * DAY + 5]);
    }

    #[test]
    fn a_step_is_one_trend_change_while_the_baselines_learn_it() {
        // A step of +4 on day 14 of six weeks. The 7-day same-slot median learns it in four
        // days; on day 21 the 4-week median takes over, still sees mostly the old level and
        // alarms again, and again on day 28: under a one-day merge that was three events.
        let mut series = daily(42);
        for v in series[14 * DAY..].iter_mut() {
            *v = v.map(|x| x + 4.0);
        }
        let events = detect(&series, &hourly(), &medium(), 0);
        let shifts: Vec<&Detected> = events
            .iter()
            .filter(|e| e.kind == Kind::TrendChange)
            .collect();
        assert_eq!(shifts.len(), 1, "{events:?}");
        assert!(
            shifts[0].rising && shifts[0].start.abs_diff(14 * DAY) <= 3,
            "{shifts:?}"
        );
        assert!(shifts[0].end >= 21 * DAY, "{shifts:?}");
    }

    /// `score` as it was before the settling week was kept sorted: the week's residuals gathered
    /// and selected afresh at every estimate.
    fn score_by_gathering(series: &[Option<f64>], profile: &Profile) -> Scores {
        let n = series.len();
        let spread = Spread::standard();
        let mut out = Scores {
            baseline: vec![None; n],
            z: vec![None; n],
            short: vec![false; n],
            record: vec![(f64::INFINITY, f64::NEG_INFINITY); n],
        };
        let mut seasonal = vec![false; n];
        for i in 0..n {
            if series[i].is_some() {
                if let Some((b, s)) = baseline_at(series, i, profile) {
                    out.baseline[i] = Some(b);
                    seasonal[i] = s;
                }
            }
        }
        let residual: Vec<Option<f64>> = (0..n)
            .map(|i| Some(series[i]? - out.baseline[i]?))
            .collect();
        let (mut scale, mut week_record) = (None, (f64::INFINITY, f64::NEG_INFINITY));
        for i in 0..n {
            let settling = scale.is_none_or(|(_, settled): (f64, bool)| !settled);
            if i % profile.per_day == 0 || (settling && i % profile.points(1, 1) == 0) {
                let window = i.saturating_sub(profile.week())..i;
                let mut history: Vec<f64> = window
                    .clone()
                    .filter(|k| seasonal[*k])
                    .filter_map(|k| residual[k])
                    .collect();
                let settled = history.len() >= WARM_DAYS * profile.per_day;
                if !settled {
                    history = residual[window].iter().flatten().copied().collect();
                }
                week_record = history
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), r| {
                        (low.min(*r), high.max(*r))
                    });
                let floor = profile.significance.sigma_floor();
                scale = (history.len() >= COLD_MIN).then(|| {
                    (
                        robust_sigma(&mut history, &mut Vec::new(), floor, spread),
                        settled,
                    )
                });
            }
            if let (Some(r), Some((sigma, settled))) = (residual[i], scale) {
                out.z[i] = Some(r / sigma);
                out.short[i] = !settled || !seasonal[i];
                out.record[i] = week_record;
            }
        }
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn the_sorted_settling_week_scores_as_gathering_it_afresh(
            days in 1usize..14,
            per_day in proptest::sample::select(vec![1usize, 12, 24, 48]),
            gaps in proptest::collection::vec(0usize..4000, 0..8),
            gap_length in 1usize..200,
            seed in 0u64..1000,
        ) {
            let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            let mut series: Vec<Option<f64>> = (0..days * per_day)
                .map(|i| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let phase = (i % per_day) as f64 / per_day as f64 * std::f64::consts::TAU;
                    // Coarse noise: ties among the residuals too.
                    Some(30.0 + 10.0 * phase.sin() + (state % 40) as f64 / 4.0)
                })
                .collect();
            // Gaps: a scale that settles, loses its seasonal days and settles again.
            for start in gaps {
                let n = series.len();
                series[start.min(n)..(start + gap_length).min(n)].fill(None);
            }
            let profile = Profile { per_day, ..hourly() };
            let got = score(&series, &profile);
            let expected = score_by_gathering(&series, &profile);
            proptest::prop_assert_eq!(got.baseline, expected.baseline);
            proptest::prop_assert_eq!(got.z, expected.z);
            proptest::prop_assert_eq!(got.short, expected.short);
            proptest::prop_assert_eq!(got.record, expected.record);
        }
    }

    #[test]
    fn detecting_some_kinds_finds_those_events_of_detecting_all() {
        let mut series = daily(21);
        series[15 * DAY + 10] = Some(95.0);
        for v in series[17 * DAY..].iter_mut().flatten() {
            *v += 8.0;
        }
        for v in series[12 * DAY..13 * DAY].iter_mut() {
            *v = Some(50.0);
        }
        let all = detect(&series, &hourly(), &medium(), 0);
        assert!(kinds(&all).len() >= 2, "{all:?}");
        for wanted in [
            vec![Kind::Spike, Kind::Drop],
            vec![Kind::TrendChange],
            vec![Kind::PatternBreak],
            vec![],
        ] {
            let expected: Vec<Detected> = all
                .iter()
                .filter(|e| wanted.contains(&e.kind))
                .cloned()
                .collect();
            let got = detect_kinds(&series, &hourly(), &medium(), 0, &wanted);
            assert_eq!(got, expected, "{wanted:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_scale_of_a_sorted_window_equals_the_scale_by_selection(
            values in proptest::collection::vec(-1e6..1e6_f64, 1..3000),
            thin in proptest::bool::ANY,
        ) {
            let spread = spreads()[usize::from(thin)];
            let series: Vec<Option<f64>> = values.iter().copied().map(Some).collect();
            let mut window = SortedWindow::default();
            window.slide(&series, 0..series.len());
            let expected = robust_sigma(&mut values.clone(), &mut Vec::new(), 1e-9, spread);
            proptest::prop_assert_eq!(robust_sigma_of_window(&window, 1e-9, spread), expected);
        }

        #[test]
        fn the_scale_by_selection_equals_the_scale_by_sorting(
            values in proptest::collection::vec(-1e6..1e6_f64, 1..3000),
            repeats in 0usize..4,
            thin in proptest::bool::ANY,
        ) {
            // Ties too: repeat a prefix.
            let mut values = values;
            let tied: Vec<f64> = values.iter().take(repeats * 10).copied().collect();
            values.extend(tied);
            let spread = spreads()[usize::from(thin)];
            let expected = robust_sigma_by_sorting(&values, 1e-9, spread);
            let got = robust_sigma(&mut values.clone(), &mut Vec::new(), 1e-9, spread);
            proptest::prop_assert_eq!(got, expected);
        }

        #[test]
        fn the_small_median_equals_the_general_one(values in proptest::collection::vec(-1e3..1e3_f64, 1..12)) {
            let expected = median(&values).expect("non-empty");
            let mut keys: Vec<i64> = values.iter().map(|v| order_key(*v)).collect();
            let got = median_of_keys(&mut keys);
            proptest::prop_assert_eq!(got.to_bits(), expected.to_bits());
        }

        #[test]
        fn order_keys_sort_as_total_cmp_does_and_give_the_value_back(a in proptest::num::f64::ANY, b in proptest::num::f64::ANY) {
            proptest::prop_assert_eq!(order_key(a).cmp(&order_key(b)), a.total_cmp(&b));
            proptest::prop_assert_eq!(from_order_key(order_key(a)).to_bits(), a.to_bits());
        }
    }

    #[test]
    fn the_normal_tail_and_the_cadence_matched_bar() {
        // erfc(1/√2·z) at z = 1.96, 3, 4: 0.05, 0.0026998, 6.3342e-5 (tables).
        for (z, expected) in [(1.96, 0.049_995_8), (3.0, 0.002_699_8), (4.0, 6.334_2e-5)] {
            let tail = two_sided_tail(z);
            assert!((tail / expected - 1.0).abs() < 1e-4, "{z}: {tail}");
        }
        let medium = Sensitivity::Medium.thresholds();
        let fine = medium.at_cadence(288, 24);
        // 6.3342e-5 / 12 = 5.2785e-6, the tail at 4.5534 (math.erfc, bisected).
        assert!((fine.excursion_z - 4.5534).abs() < 1e-3, "{fine:?}");
        assert!((two_sided_tail(fine.excursion_z) * 12.0 / two_sided_tail(4.0) - 1.0).abs() < 1e-6);
        assert_eq!(fine.cusum_limit, medium.cusum_limit);
        // The inverse: the z of a tail, at the tables' points.
        for (tail, z) in [(0.05, 1.959_96), (0.02, 2.326_35), (0.002_699_8, 3.0)] {
            assert!((z_of_two_sided_tail(tail) - z).abs() < 1e-4, "{tail}");
        }
        // Hours against hours, or a coarser series: unchanged.
        assert_eq!(medium.at_cadence(24, 24), medium);
        assert_eq!(medium.at_cadence(1, 24), medium);
    }
}
