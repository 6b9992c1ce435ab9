//! Lasting level shifts in a daily series (a deploy that holds 10 pp more memory from one day on),
//! and the trend that remains once they are taken out.
//!
//! A capacity forecast over a series with steps answers two questions: where the overall trend
//! (steps included) leads — the conservative answer, since steps tend to recur — and where the
//! current level leads if no further step comes. The second needs the steps found and the growth
//! measured between them, which is what this module does.
//!
//! Method (also in the README): binary segmentation under a model with one common slope and one
//! level per segment, fitted by least squares over prefix sums (each candidate split costs O(1)).
//! The best split is kept when its step is at least `MIN_SHIFT_PP` and `SHIFT_SIGMAS` robust
//! sigmas of the day-to-day noise (MAD of first differences / √2), each side has `MIN_SEGMENT_DAYS` points, and the step is
//! abrupt: the detrended medians of the three days either side differ by at least half of it
//! (smooth curvature fits a step model too, but has no jump at the split).
use super::robust::{mad, median};

/// Points each side of a shift: a shorter excursion is an incident, not a new level.
pub const MIN_SEGMENT_DAYS: usize = 7;
/// Smallest step reported, in percentage points.
pub const MIN_SHIFT_PP: f64 = 3.0;
/// A step must also stand this many robust sigmas above the residual noise.
pub const SHIFT_SIGMAS: f64 = 6.0;
const MAX_SHIFTS: usize = 12;
/// Days either side of a split whose detrended medians must show the jump.
const EDGE_DAYS: usize = 3;

/// A lasting change of level starting at `index` (the first point of the new level).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shift {
    pub index: usize,
    /// New level minus old level, in the series' units.
    pub change: f64,
}

/// The trend between shifts, projected from the current level.
#[derive(Clone, Debug, PartialEq)]
pub struct StepFreeTrend {
    /// Growth per day measured within segments.
    pub slope: f64,
    /// The current segment's level at the last point.
    pub level_now: f64,
    /// The model at each point (each segment's level plus the common slope), for residuals.
    pub fitted: Vec<f64>,
}

impl StepFreeTrend {
    /// Value `days_ahead` after the last point.
    pub fn at(&self, days_ahead: f64) -> f64 {
        self.level_now + self.slope * days_ahead
    }

    /// Days after the last point when the level reaches `threshold`: 0 when it is there already,
    /// `None` when it never does within `limit` days.
    pub fn days_to(&self, threshold: f64, limit: f64) -> Option<f64> {
        if self.level_now >= threshold {
            return Some(0.0);
        }
        if self.slope <= 0.0 {
            return None;
        }
        let days = (threshold - self.level_now) / self.slope;
        (days <= limit).then_some(days)
    }
}

/// Running sums for O(1) least-squares statistics of any range.
struct Prefix {
    x: Vec<f64>,
    y: Vec<f64>,
    xx: Vec<f64>,
    xy: Vec<f64>,
    yy: Vec<f64>,
}

/// Centred sums of one segment: count, Sxx, Sxy, Syy (about the segment's own means).
#[derive(Clone, Copy, Default)]
struct Centred {
    xx: f64,
    xy: f64,
    yy: f64,
}

impl std::ops::Add for Centred {
    type Output = Centred;
    fn add(self, o: Centred) -> Centred {
        Centred {
            xx: self.xx + o.xx,
            xy: self.xy + o.xy,
            yy: self.yy + o.yy,
        }
    }
}

impl std::ops::Sub for Centred {
    type Output = Centred;
    fn sub(self, o: Centred) -> Centred {
        Centred {
            xx: self.xx - o.xx,
            xy: self.xy - o.xy,
            yy: self.yy - o.yy,
        }
    }
}

impl Centred {
    /// Residual sum of squares with one common slope.
    fn sse(self) -> f64 {
        if self.xx > 0.0 {
            self.yy - self.xy * self.xy / self.xx
        } else {
            self.yy
        }
    }
}

impl Prefix {
    fn new(days: &[f64], values: &[f64]) -> Prefix {
        let mut p = Prefix {
            x: vec![0.0],
            y: vec![0.0],
            xx: vec![0.0],
            xy: vec![0.0],
            yy: vec![0.0],
        };
        for (x, y) in days.iter().zip(values) {
            p.x.push(p.x.last().unwrap_or(&0.0) + x);
            p.y.push(p.y.last().unwrap_or(&0.0) + y);
            p.xx.push(p.xx.last().unwrap_or(&0.0) + x * x);
            p.xy.push(p.xy.last().unwrap_or(&0.0) + x * y);
            p.yy.push(p.yy.last().unwrap_or(&0.0) + y * y);
        }
        p
    }

    fn centred(&self, a: usize, b: usize) -> Centred {
        let n = (b - a) as f64;
        if n == 0.0 {
            return Centred::default();
        }
        let (sx, sy) = (self.x[b] - self.x[a], self.y[b] - self.y[a]);
        Centred {
            xx: self.xx[b] - self.xx[a] - sx * sx / n,
            xy: self.xy[b] - self.xy[a] - sx * sy / n,
            yy: self.yy[b] - self.yy[a] - sy * sy / n,
        }
    }
}

/// Segment bounds from sorted split indices: [0, s1), [s1, s2), …, [sk, n).
fn segments(splits: &[usize], n: usize) -> Vec<(usize, usize)> {
    let mut bounds = vec![0];
    bounds.extend_from_slice(splits);
    bounds.push(n);
    bounds.windows(2).map(|w| (w[0], w[1])).collect()
}

/// Candidate splits judged per round, best fit first: a short incident at the edge of a segment
/// can fit a step model best yet fail the tests while a real step ranks second.
const CANDIDATES_PER_ROUND: usize = 20;

/// Lasting level shifts of a daily series (`days` ascending), oldest first.
pub fn level_shifts(days: &[f64], values: &[f64]) -> Vec<Shift> {
    let n = days.len().min(values.len());
    if n < 2 * MIN_SEGMENT_DAYS {
        return Vec::new();
    }
    let (days, values) = (&days[..n], &values[..n]);
    let prefix = Prefix::new(days, values);
    // Day-to-day noise from first differences: levels, steps not yet found and the trend do not
    // inflate it (a step is one outlier among the differences).
    let differences: Vec<f64> = values.windows(2).map(|w| w[1] - w[0]).collect();
    let sigma = 1.4826 * mad(&differences).unwrap_or(0.0) / std::f64::consts::SQRT_2;
    let floor = MIN_SHIFT_PP.max(SHIFT_SIGMAS * sigma);
    let mut splits: Vec<usize> = Vec::new();
    'rounds: while splits.len() < MAX_SHIFTS {
        let parts = segments(&splits, n);
        let total = parts.iter().fold(Centred::default(), |acc, &(a, b)| {
            acc + prefix.centred(a, b)
        });
        let mut candidates: Vec<(f64, usize)> = Vec::new();
        for &(a, b) in &parts {
            let whole = prefix.centred(a, b);
            for k in (a + MIN_SEGMENT_DAYS)..=(b.saturating_sub(MIN_SEGMENT_DAYS)) {
                candidates.push((
                    (total - whole + prefix.centred(a, k) + prefix.centred(k, b)).sse(),
                    k,
                ));
            }
        }
        candidates.sort_by(|x, y| x.0.total_cmp(&y.0));
        for &(_, k) in candidates.iter().take(CANDIDATES_PER_ROUND) {
            // Cheap test first (most series have no step): the raw three-day medians either side
            // must already differ by half the floor.
            let raw = |range: std::ops::Range<usize>| median(&values[range]).unwrap_or(0.0);
            if (raw(k..k + EDGE_DAYS) - raw(k - EDGE_DAYS..k)).abs() < 0.5 * floor {
                continue;
            }
            let mut trial = splits.clone();
            trial.push(k);
            trial.sort_unstable();
            let slope = lagged_slope(days, values, &trial).unwrap_or(0.0);
            let Some(position) = trial.iter().position(|s| *s == k) else {
                continue;
            };
            let change = local_steps(days, values, &trial, slope)[position];
            let detrended = |range: std::ops::Range<usize>| {
                median(
                    &range
                        .map(|i| values[i] - slope * days[i])
                        .collect::<Vec<_>>(),
                )
            };
            let jump = match (detrended(k - EDGE_DAYS..k), detrended(k..k + EDGE_DAYS)) {
                (Some(left), Some(right)) => right - left,
                _ => 0.0,
            };
            let abrupt = jump * change > 0.0 && jump.abs() >= 0.5 * change.abs();
            if change.abs() >= floor && abrupt {
                splits = trial;
                continue 'rounds;
            }
        }
        break;
    }
    let slope = within_segment_slope(days, values, &splits).unwrap_or(0.0);
    let steps = local_steps(days, values, &splits, slope);
    splits
        .into_iter()
        .zip(steps)
        .map(|(index, change)| Shift { index, change })
        .collect()
}

/// Days either side of a split over which its step is measured: long enough that an incident
/// shorter than a week is outvoted, short enough that steps further away (found or not) do not
/// count.
const STEP_WINDOW: usize = 14;

/// The step at each split: the median detrended level of up to `STEP_WINDOW` days after it minus
/// that of the days before it, each window stopping at the neighbouring splits.
fn local_steps(days: &[f64], values: &[f64], splits: &[usize], slope: f64) -> Vec<f64> {
    let detrended = |range: std::ops::Range<usize>| {
        median(
            &range
                .map(|i| values[i] - slope * days[i])
                .collect::<Vec<_>>(),
        )
        .unwrap_or(0.0)
    };
    (0..splits.len())
        .map(|j| {
            let k = splits[j];
            let low = if j == 0 { 0 } else { splits[j - 1] };
            let high = splits.get(j + 1).copied().unwrap_or(days.len());
            detrended(k..high.min(k + STEP_WINDOW))
                - detrended(low.max(k.saturating_sub(STEP_WINDOW))..k)
        })
        .collect()
}

/// Days between the points of the pairs `lagged_slope` compares: a week, so the weekly rhythm
/// cancels out.
const LAG: usize = 7;

/// A linear-time robust slope for judging candidate splits: the median slope of the pairs of
/// points `LAG` apart within one segment (an incident touches only the few pairs spanning it).
/// The reported growth uses the full within-segment Theil–Sen instead.
fn lagged_slope(days: &[f64], values: &[f64], splits: &[usize]) -> Option<f64> {
    let mut slopes = Vec::with_capacity(days.len());
    for (a, b) in segments(splits, days.len()) {
        let lag = LAG.min((b - a).saturating_sub(1)).max(1);
        for i in a..b.saturating_sub(lag) {
            let dx = days[i + lag] - days[i];
            if dx != 0.0 {
                slopes.push((values[i + lag] - values[i]) / dx);
            }
        }
    }
    median(&slopes)
}

/// Theil–Sen is quadratic in points: longer segments are cut into runs and fitted on run medians.
const FIT_POINTS_PER_SEGMENT: usize = 64;

/// The median of the pairwise slopes of points in the same segment (Theil–Sen that never pairs
/// points across a split, so a step never counts as growth). `None` when no segment has two
/// points.
fn within_segment_slope(days: &[f64], values: &[f64], splits: &[usize]) -> Option<f64> {
    let mut slopes = Vec::new();
    for (a, b) in segments(splits, days.len()) {
        let run = (b - a).div_ceil(FIT_POINTS_PER_SEGMENT).max(1);
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for (d, v) in days[a..b].chunks(run).zip(values[a..b].chunks(run)) {
            xs.push(d.iter().sum::<f64>() / d.len() as f64);
            ys.push(median(v)?);
        }
        for i in 0..xs.len() {
            for j in i + 1..xs.len() {
                if xs[j] != xs[i] {
                    slopes.push((ys[j] - ys[i]) / (xs[j] - xs[i]));
                }
            }
        }
    }
    median(&slopes)
}

/// The growth between shifts and the current segment's level at the last point; `None` without
/// shifts (the plain fit applies) or when no segment has two points.
pub fn step_free_trend(days: &[f64], values: &[f64], shifts: &[Shift]) -> Option<StepFreeTrend> {
    if shifts.is_empty() {
        return None;
    }
    let n = days.len().min(values.len());
    let (days, values) = (&days[..n], &values[..n]);
    let splits: Vec<usize> = shifts.iter().map(|s| s.index).filter(|i| *i < n).collect();
    let slope = within_segment_slope(days, values, &splits)?;
    let mut fitted = Vec::with_capacity(n);
    let mut level_now = None;
    for (a, b) in segments(&splits, n) {
        let level = median(
            &(a..b)
                .map(|i| values[i] - slope * days[i])
                .collect::<Vec<_>>(),
        )?;
        fitted.extend((a..b).map(|i| level + slope * days[i]));
        level_now = Some(level + slope * days[n - 1]);
    }
    Some(StepFreeTrend {
        slope,
        level_now: level_now?,
        fitted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(n: usize) -> Vec<f64> {
        (0..n).map(|d| d as f64).collect()
    }

    /// A small deterministic wobble (±0.3) so fits are not degenerate.
    fn wobble(d: usize) -> f64 {
        ((d * 7919 % 13) as f64 - 6.0) * 0.05
    }

    #[test]
    fn two_steps_on_a_slope_are_found_with_their_sizes_and_the_growth_between_them() {
        // 40 % + 0.05 pp/day, +12 pp from day 30, +8 pp from day 61; 90 days.
        let x = days(90);
        let y: Vec<f64> = (0..90)
            .map(|d| {
                40.0 + 0.05 * d as f64
                    + if d >= 30 { 12.0 } else { 0.0 }
                    + if d >= 61 { 8.0 } else { 0.0 }
                    + wobble(d)
            })
            .collect();
        let shifts = level_shifts(&x, &y);
        assert_eq!(
            shifts.iter().map(|s| s.index).collect::<Vec<_>>(),
            vec![30, 61],
            "{shifts:?}"
        );
        assert!(
            (shifts[0].change - 12.0).abs() < 0.5 && (shifts[1].change - 8.0).abs() < 0.5,
            "{shifts:?}"
        );
        let trend = step_free_trend(&x, &y, &shifts).expect("trend");
        assert!((trend.slope - 0.05).abs() < 0.01, "{trend:?}");
        // Level at day 89 without the wobble: 40 + 4.45 + 20 = 64.45.
        assert!((trend.level_now - 64.45).abs() < 0.4, "{trend:?}");
        // 80 % is (80 − 64.45) / 0.05 = 311 days away.
        let days_to = trend.days_to(80.0, 730.0).expect("crosses");
        assert!((days_to - 311.0).abs() / 311.0 < 0.1, "{days_to}");
        assert_eq!(trend.days_to(50.0, 730.0), Some(0.0));
    }

    #[test]
    fn straight_lines_curves_short_excursions_and_weekly_rhythm_are_not_shifts() {
        let x = days(120);
        let line: Vec<f64> = (0..120)
            .map(|d| 30.0 + 0.2 * d as f64 + wobble(d))
            .collect();
        assert_eq!(level_shifts(&x, &line), vec![]);
        // A parabola bending 29 pp over the span: a step model fits it, but nothing jumps.
        let curve: Vec<f64> = (0..120)
            .map(|d| 20.0 + 0.002 * (d * d) as f64 + wobble(d))
            .collect();
        assert_eq!(level_shifts(&x, &curve), vec![]);
        // A five-day incident of +30 pp returns to the old level: an incident, not a new level.
        let incident: Vec<f64> = (0..120)
            .map(|d| 40.0 + if (50..55).contains(&d) { 30.0 } else { 0.0 } + wobble(d))
            .collect();
        assert_eq!(level_shifts(&x, &incident), vec![]);
        // Weekends 2.4 pp lower, every week.
        let weekly: Vec<f64> = (0..120)
            .map(|d| 35.0 + 0.05 * d as f64 - if d % 7 >= 5 { 2.4 } else { 0.0 })
            .collect();
        assert_eq!(level_shifts(&x, &weekly), vec![]);
        // A small step (2 pp) stays under the 3 pp floor.
        let small: Vec<f64> = (0..120)
            .map(|d| 40.0 + if d >= 60 { 2.0 } else { 0.0 })
            .collect();
        assert_eq!(level_shifts(&x, &small), vec![]);
    }

    #[test]
    fn a_step_down_is_found_and_short_series_have_none() {
        let x = days(60);
        let y: Vec<f64> = (0..60)
            .map(|d| 70.0 + if d >= 40 { -15.0 } else { 0.0 } + wobble(d))
            .collect();
        let shifts = level_shifts(&x, &y);
        assert_eq!(shifts.len(), 1);
        assert_eq!(shifts[0].index, 40);
        assert!((shifts[0].change + 15.0).abs() < 0.5);
        let trend = step_free_trend(&x, &y, &shifts).expect("trend");
        assert!(
            trend.slope.abs() < 0.02 && (trend.level_now - 55.0).abs() < 0.4,
            "{trend:?}"
        );
        assert_eq!(trend.days_to(80.0, 730.0), None, "flat never crosses");
        assert_eq!(
            level_shifts(&x[..13], &y[..13]),
            vec![],
            "fewer than two segments of 7 days"
        );
    }
}
