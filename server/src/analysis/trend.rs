//! Growth rates, forecasts and capacity dates over a daily series of a percent metric.
//!
//! Definitions (also in the README): growth is the Theil–Sen slope of the daily averages in
//! percentage points per day (×7 per week, ×30 per month). The linear forecast extends that
//! robust line; the polynomial one is a least-squares parabola, used only when it fits clearly
//! better and stays near the line (otherwise the answer says it fell back to linear).
//!
//! When the history has lasting level shifts (`shifts::level_shifts`), a line through all of it
//! would describe the old level (Theil–Sen follows the majority of pairs), so growth is measured
//! between the steps and the forecast starts from the current level (the caller passes
//! `shifts::step_free_trend`);
//! it is then always linear.
use super::{
    robust::{self, least_squares, quadratic_fit, r_squared, theil_sen, Line},
    shifts::StepFreeTrend,
};

/// Fewer daily points than this and no growth or forecast is given: a number would be invented.
pub const MIN_POINTS: usize = 7;
/// Forecasts are trusted from this much history; below it confidence is scaled down and the
/// answer carries a warning.
pub const ADVISED_DAYS: f64 = 90.0;
/// How far ahead a capacity crossing is looked for.
pub const CROSSING_SEARCH_DAYS: f64 = 730.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Linear,
    Polynomial,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Growth {
    pub daily: f64,
    pub weekly: f64,
    pub monthly: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Forecast {
    /// The method actually used (polynomial falls back to linear when it is not justified).
    pub method: Method,
    pub predicted_value: f64,
    /// 0–1: see `confidence`.
    pub confidence: f64,
    /// Days after the last point when the forecast first reaches the threshold; 0 when the
    /// current fitted level is already at or above it; `None` when it does not within two years.
    pub days_to_threshold: Option<f64>,
    pub fitted_now: f64,
    /// The straight line forecast from the last point (not clamped to 0–100), for scenarios
    /// drawn on top of it (`analysis::whatif`); `None` when the forecast is a curve.
    pub line: Option<LinearTrend>,
}

/// A straight forecast: its level at the last point and its change per day.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinearTrend {
    pub level_now: f64,
    pub slope: f64,
}

impl LinearTrend {
    /// The level `days` after the last point.
    pub fn at(&self, days: f64) -> f64 {
        self.level_now + self.slope * days
    }
}

/// Theil–Sen is quadratic in the number of points: beyond this many days it runs on the
/// medians of equal runs of consecutive days (two years → 122 points, 7 381 pairs).
const ROBUST_FIT_POINTS: usize = 128;

/// The robust line, fitted on run medians when the series is long.
fn robust_line(days: &[f64], values: &[f64]) -> Option<Line> {
    if days.len() <= ROBUST_FIT_POINTS {
        return theil_sen(days, values);
    }
    let run = days.len().div_ceil(ROBUST_FIT_POINTS);
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for (d, v) in days.chunks(run).zip(values.chunks(run)) {
        xs.push(d.iter().sum::<f64>() / d.len() as f64);
        ys.push(super::robust::median(v)?);
    }
    theil_sen(&xs, &ys)
}

/// Growth per day/week/month from the robust slope (the step-free trend's, when the series has
/// level shifts); `None` below `MIN_POINTS`.
pub fn growth(days: &[f64], values: &[f64], step_free: Option<&StepFreeTrend>) -> Option<Growth> {
    if days.len() < MIN_POINTS {
        return None;
    }
    let slope = match step_free {
        Some(free) => free.slope,
        None => robust_line(days, values)?.slope,
    };
    Some(Growth {
        daily: slope,
        weekly: slope * 7.0,
        monthly: slope * 30.0,
    })
}

/// Confidence in 0–1: the share of the 0–100 % scale left outside the 95 % prediction interval
/// at the horizon (a ±5 pp interval gives 0.9), times min(1, history / 90 days).
fn confidence(days: &[f64], values: &[f64], predicted: &[f64], horizon_x: f64) -> f64 {
    let n = days.len() as f64;
    let residual_var = days
        .iter()
        .enumerate()
        .map(|(i, _)| (values[i] - predicted[i]).powi(2))
        .sum::<f64>()
        / (n - 2.0).max(1.0);
    let mean_x = days.iter().sum::<f64>() / n;
    let sxx: f64 = days.iter().map(|x| (x - mean_x).powi(2)).sum();
    let leverage = if sxx > 0.0 {
        (horizon_x - mean_x).powi(2) / sxx
    } else {
        0.0
    };
    let interval = 1.96 * (residual_var * (1.0 + 1.0 / n + leverage)).sqrt();
    let span = days.last().unwrap_or(&0.0) - days.first().unwrap_or(&0.0) + 1.0;
    ((1.0 - interval / 100.0).clamp(0.0, 1.0) * (span / ADVISED_DAYS).min(1.0) * 1000.0).round()
        / 1000.0
}

/// First x after `from` where `f(x) >= threshold`, stepping by a day then refining by bisection.
pub(crate) fn first_crossing(f: impl Fn(f64) -> f64, from: f64, threshold: f64) -> Option<f64> {
    if f(from) >= threshold {
        return Some(from);
    }
    let mut previous = from;
    let mut x = from + 1.0;
    while x <= from + CROSSING_SEARCH_DAYS {
        if f(x) >= threshold {
            let (mut low, mut high) = (previous, x);
            for _ in 0..30 {
                let mid = (low + high) / 2.0;
                if f(mid) >= threshold {
                    high = mid
                } else {
                    low = mid
                }
            }
            return Some(high);
        }
        previous = x;
        x += 1.0;
    }
    None
}

/// Forecast `horizon` days after the last point; `None` below `MIN_POINTS`.
/// `days` are day numbers (any origin), ascending; values in percent; `step_free` is
/// `shifts::step_free_trend` of the same series when it has level shifts.
pub fn forecast(
    days: &[f64],
    values: &[f64],
    step_free: Option<&StepFreeTrend>,
    horizon: f64,
    method: Method,
    threshold: f64,
) -> Option<Forecast> {
    if days.len() < MIN_POINTS {
        return None;
    }
    let last = *days.last()?;
    let clamp = |v: f64| v.clamp(0.0, 100.0);
    if let Some(free) = step_free {
        let model = |x: f64| free.level_now + free.slope * (x - last);
        return Some(Forecast {
            method: Method::Linear,
            predicted_value: (clamp(model(last + horizon)) * 100.0).round() / 100.0,
            confidence: confidence(days, values, &free.fitted, last + horizon),
            days_to_threshold: first_crossing(model, last, threshold)
                .map(|x| ((x - last) * 10.0).round() / 10.0),
            fitted_now: clamp(free.level_now),
            line: Some(LinearTrend {
                level_now: free.level_now,
                slope: free.slope,
            }),
        });
    }
    let line: Line = robust_line(days, values)?;
    let linear_fit: Vec<f64> = days.iter().map(|x| line.at(*x)).collect();
    let mut used = Method::Linear;
    let mut model: Box<dyn Fn(f64) -> f64> = Box::new(move |x| line.at(x));
    let mut fitted = linear_fit.clone();
    if method == Method::Polynomial {
        if let Some([c0, c1, c2]) = quadratic_fit(days, values) {
            let curve = move |x: f64| c0 + c1 * x + c2 * x * x;
            let curve_fit: Vec<f64> = days.iter().map(|x| curve(*x)).collect();
            // Least squares for the line too, so the two R² compare like with like.
            let ls = least_squares(days, values)?;
            let ls_fit: Vec<f64> = days.iter().map(|x| ls.at(*x)).collect();
            let gain = r_squared(values, &curve_fit) - r_squared(values, &ls_fit);
            let (low, high) = values
                .iter()
                .fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
            let range = (high - low).max(1.0);
            let apart = (curve(last + horizon) - line.at(last + horizon)).abs();
            // Guard against wild extrapolation: the bend must earn its keep and stay within one
            // historical range of the straight line at the horizon.
            if gain >= 0.02 && apart <= range {
                used = Method::Polynomial;
                model = Box::new(curve);
                fitted = curve_fit;
            }
        }
    }
    let fitted_now = clamp(model(last));
    let straight = (used == Method::Linear).then(|| LinearTrend {
        level_now: line.at(last),
        slope: line.slope,
    });
    let days_to_threshold =
        first_crossing(&model, last, threshold).map(|x| ((x - last) * 10.0).round() / 10.0);
    Some(Forecast {
        method: used,
        predicted_value: (clamp(model(last + horizon)) * 100.0).round() / 100.0,
        confidence: confidence(days, values, &fitted, last + horizon),
        days_to_threshold,
        fitted_now,
        line: straight,
    })
}

/// The trend of a series in its own unit — an application metric, with no 0–100 scale: the
/// robust line's level at the last day, its change per month (30 days), that change as a share
/// of the level, and the line's value `horizon` days after the last point (never below zero:
/// rates, counts and latencies are not negative). With a capacity (the level the series must
/// stay below, set by a person), the days from the last point until the line reaches it.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitTrend {
    pub level_now: f64,
    pub monthly: f64,
    /// `monthly / level_now`; `None` when the level is not above zero.
    pub monthly_relative: Option<f64>,
    pub predicted: f64,
    /// Days until the line reaches the capacity: 0 when it is there already, `None` without a
    /// capacity or when the line does not reach it within [`CROSSING_SEARCH_DAYS`].
    pub days_to_capacity: Option<f64>,
}

/// `None` below `MIN_POINTS`.
pub fn unit_trend(
    days: &[f64],
    values: &[f64],
    horizon: f64,
    capacity: Option<f64>,
) -> Option<UnitTrend> {
    if days.len() < MIN_POINTS {
        return None;
    }
    let line = robust_line(days, values)?;
    let last = *days.last()?;
    let level_now = line.at(last).max(0.0);
    let monthly = line.slope * 30.0;
    let days_to_capacity = capacity.and_then(|limit| {
        first_crossing(|x| line.at(x).max(0.0), last, limit)
            .map(|x| ((x - last) * 10.0).round() / 10.0)
    });
    Some(UnitTrend {
        level_now,
        monthly,
        monthly_relative: (level_now > 0.0).then(|| monthly / level_now),
        predicted: line.at(last + horizon).max(0.0),
        days_to_capacity,
    })
}

/// Capacity alert severity by days until the threshold (README): ≤ 30 high, ≤ 90 medium,
/// ≤ 365 low, later none.
pub fn capacity_severity(days_to_threshold: f64) -> Option<&'static str> {
    if days_to_threshold <= 30.0 {
        Some("high")
    } else if days_to_threshold <= 90.0 {
        Some("medium")
    } else if days_to_threshold <= 365.0 {
        Some("low")
    } else {
        None
    }
}

/// Direction of a short series (the summary's `trend`): stable, increasing or decreasing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Stable,
    Increasing,
    Decreasing,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Stable => "stable",
            Direction::Increasing => "increasing",
            Direction::Decreasing => "decreasing",
        }
    }
}

/// Fewer equally spaced bucket means than this say nothing about direction.
pub const MIN_TREND_POINTS: usize = 6;

/// The slope test of the summary: over equally spaced bucket means (gaps as `None`), the
/// Theil–Sen line's change across the whole span must reach `min_change` (in the metric's
/// units) and the Spearman rank correlation with time must be at least 0.5 in the same
/// direction. A steady climb passes both; noise or one spike passes neither.
pub fn direction(means: &[Option<f64>], min_change: f64) -> Direction {
    let (x, y): (Vec<f64>, Vec<f64>) = means
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i as f64, v)))
        .unzip();
    if y.len() < MIN_TREND_POINTS {
        return Direction::Stable;
    }
    let (Some(line), Some(rho)) = (robust::theil_sen(&x, &y), robust::rank_correlation(&x, &y))
    else {
        return Direction::Stable;
    };
    let change = line.slope * (means.len().saturating_sub(1)) as f64;
    if change >= min_change && rho >= 0.5 {
        Direction::Increasing
    } else if change <= -min_change && rho <= -0.5 {
        Direction::Decreasing
    } else {
        Direction::Stable
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_unit_trend_reads_the_robust_line_in_the_series_own_unit() {
        // 100 requests/s growing by 2 a day for 30 days, with two outlier days the robust line
        // ignores: level 158 at day 29, +60 a month (38 % of 158), 158 + 2 × 90 = 338 in 90 days.
        let days: Vec<f64> = (0..30).map(f64::from).collect();
        let mut values: Vec<f64> = days.iter().map(|d| 100.0 + 2.0 * d).collect();
        values[10] = 900.0;
        values[20] = 0.0;
        let t = unit_trend(&days, &values, 90.0, None).expect("30 days");
        assert!((t.level_now - 158.0).abs() < 1e-9, "{t:?}");
        assert!((t.monthly - 60.0).abs() < 1e-9);
        assert!((t.monthly_relative.expect("positive level") - 60.0 / 158.0).abs() < 1e-12);
        assert!((t.predicted - 338.0).abs() < 1e-9);
        assert_eq!(t.days_to_capacity, None);
        // A capacity of 250 is (250 − 158) / 2 = 46 days away; one of 150 is passed already; one
        // of 2000 needs (2000 − 158) / 2 = 921 days, beyond the two years searched.
        let reach = |limit: f64| {
            unit_trend(&days, &values, 90.0, Some(limit))
                .expect("30 days")
                .days_to_capacity
        };
        assert_eq!(reach(250.0), Some(46.0));
        assert_eq!(reach(150.0), Some(0.0));
        assert_eq!(reach(1500.0), Some(671.0));
        assert_eq!(reach(2000.0), None);
        // A falling series stops at zero and never reaches a capacity; six days are too few.
        let falling: Vec<f64> = days.iter().map(|d| 50.0 - 2.0 * d).collect();
        let t = unit_trend(&days, &falling, 90.0, Some(60.0)).expect("30 days");
        assert_eq!(
            (
                t.level_now,
                t.predicted,
                t.monthly_relative,
                t.days_to_capacity
            ),
            (0.0, 0.0, None, None)
        );
        assert!(unit_trend(&days[..6], &values[..6], 90.0, None).is_none());
    }

    use super::*;

    fn series(n: usize, f: impl Fn(f64) -> f64) -> (Vec<f64>, Vec<f64>) {
        let days: Vec<f64> = (0..n).map(|d| d as f64).collect();
        let values = days.iter().map(|d| f(*d)).collect();
        (days, values)
    }

    #[test]
    fn growth_is_the_robust_slope_per_period() {
        let (days, mut values) = series(90, |d| 40.0 + 0.1 * d);
        values[45] = 95.0; // an incident does not bend it
        let g = growth(&days, &values, None).expect("enough points");
        assert!(
            (g.daily - 0.1).abs() < 1e-9
                && (g.weekly - 0.7).abs() < 1e-9
                && (g.monthly - 3.0).abs() < 1e-9
        );
        assert_eq!(growth(&days[..6], &values[..6], None), None);
        // Two years take the run-median path and still give the exact slope.
        let (days, values) = series(730, |d| 10.0 + 0.05 * d);
        assert!((growth(&days, &values, None).expect("enough points").daily - 0.05).abs() < 1e-9);
    }

    #[test]
    fn a_linear_trend_crosses_the_threshold_on_the_hand_computed_day() {
        // 40 % growing 0.2 pp/day: at day 89 the level is 57.8; 80 % is reached 111 days later.
        let (days, values) = series(90, |d| 40.0 + 0.2 * d);
        let f = forecast(&days, &values, None, 30.0, Method::Linear, 80.0).expect("forecast");
        assert_eq!(f.method, Method::Linear);
        assert!((f.predicted_value - 63.8).abs() < 1e-9, "{f:?}");
        assert!(
            (f.days_to_threshold.expect("crosses") - 111.0).abs() < 0.05,
            "{f:?}"
        );
        assert!(f.confidence > 0.99, "perfect fit over 90 days: {f:?}");
        assert_eq!(capacity_severity(111.0), Some("low"));
    }

    #[test]
    fn after_a_lasting_step_the_forecast_starts_from_the_new_level() {
        // 40 % + 0.1 pp/day with +20 pp from day 60 of 90: a line through all of it follows the
        // majority of pairs (the old level); the step-aware forecast starts from today's level.
        let (days, values) = series(90, |d| 40.0 + 0.1 * d + if d >= 60.0 { 20.0 } else { 0.0 });
        let steps = super::super::shifts::level_shifts(&days, &values);
        assert_eq!(steps.len(), 1);
        let free = super::super::shifts::step_free_trend(&days, &values, &steps);
        let plain = forecast(&days, &values, None, 30.0, Method::Linear, 80.0).expect("forecast");
        let aware = forecast(
            &days,
            &values,
            free.as_ref(),
            30.0,
            Method::Polynomial,
            80.0,
        )
        .expect("forecast");
        // Day 89: 40 + 8.9 + 20 = 68.9; in 30 days 71.9; 80 % after 111 days.
        assert!((aware.predicted_value - 71.9).abs() < 1e-6, "{aware:?}");
        assert!(
            (aware.days_to_threshold.expect("crosses") - 111.0).abs() < 0.05,
            "{aware:?}"
        );
        assert_eq!(aware.method, Method::Linear, "steps make it linear");
        assert!(
            aware.confidence > 0.95,
            "the step model fits exactly: {aware:?}"
        );
        assert!(
            plain.predicted_value < 60.0,
            "the plain line stays at the old level: {plain:?}"
        );
        assert!((growth(&days, &values, free.as_ref()).expect("growth").daily - 0.1).abs() < 1e-9);
    }

    #[test]
    fn flat_or_falling_series_never_cross_and_values_stay_in_range() {
        let (days, values) = series(60, |d| 70.0 - 0.5 * d);
        let f = forecast(&days, &values, None, 200.0, Method::Linear, 80.0).expect("forecast");
        assert_eq!(f.days_to_threshold, None);
        assert_eq!(f.predicted_value, 0.0, "clamped at 0 %");
        // 60 days of history: confidence scaled by 60/90.
        assert!(f.confidence <= 60.0 / 90.0 + 1e-3, "{f:?}");
    }

    #[test]
    fn already_over_the_threshold_is_zero_days() {
        let (days, values) = series(30, |_| 85.0);
        assert_eq!(
            forecast(&days, &values, None, 30.0, Method::Linear, 80.0)
                .expect("forecast")
                .days_to_threshold,
            Some(0.0)
        );
    }

    #[test]
    fn polynomial_follows_a_real_curve_and_falls_back_on_a_line() {
        let (days, values) = series(120, |d| 20.0 + 0.002 * d * d);
        let f = forecast(&days, &values, None, 30.0, Method::Polynomial, 80.0).expect("forecast");
        assert_eq!(f.method, Method::Polynomial);
        assert!(
            (f.predicted_value - (20.0 + 0.002 * 149.0 * 149.0)).abs() < 0.01,
            "{f:?}"
        );
        let (days, values) = series(120, |d| {
            30.0 + 0.1 * d
                + if (d as usize).is_multiple_of(2) {
                    1.0
                } else {
                    -1.0
                }
        });
        assert_eq!(
            forecast(&days, &values, None, 30.0, Method::Polynomial, 80.0)
                .expect("forecast")
                .method,
            Method::Linear
        );
    }

    #[test]
    fn noisy_history_lowers_confidence() {
        let (days, clean) = series(120, |d| 40.0 + 0.1 * d);
        let (_, noisy) = series(120, |d| {
            40.0 + 0.1 * d + ((d as usize * 7919 % 23) as f64 - 11.0)
        });
        let a = forecast(&days, &clean, None, 30.0, Method::Linear, 80.0)
            .expect("forecast")
            .confidence;
        let b = forecast(&days, &noisy, None, 30.0, Method::Linear, 80.0)
            .expect("forecast")
            .confidence;
        assert!(a > b && b > 0.5, "{a} vs {b}");
        assert_eq!(capacity_severity(10.0), Some("high"));
        assert_eq!(capacity_severity(60.0), Some("medium"));
        assert_eq!(capacity_severity(400.0), None);
    }

    #[test]
    fn direction_needs_both_a_large_enough_change_and_a_consistent_order() {
        let climb: Vec<Option<f64>> = (0..60).map(|i| Some(40.0 + i as f64 * 0.1)).collect(); // +5.9 over the span
        assert_eq!(direction(&climb, 2.0), Direction::Increasing);
        let fall: Vec<Option<f64>> = climb.iter().rev().copied().collect();
        assert_eq!(direction(&fall, 2.0), Direction::Decreasing);
        let small: Vec<Option<f64>> = (0..60).map(|i| Some(40.0 + i as f64 * 0.01)).collect(); // +0.59: too small
        assert_eq!(direction(&small, 2.0), Direction::Stable);
        // Alternating noise of ±10 with one spike: no direction.
        let mut noise: Vec<Option<f64>> = (0..60)
            .map(|i| Some(if i % 2 == 0 { 30.0 } else { 50.0 }))
            .collect();
        noise[59] = Some(100.0);
        assert_eq!(direction(&noise, 2.0), Direction::Stable);
        let sparse = vec![Some(1.0), None, Some(50.0), None, Some(90.0)];
        assert_eq!(direction(&sparse, 2.0), Direction::Stable, "too few points");
    }
}
