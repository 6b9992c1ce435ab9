//! How much a window of a series differs from the baseline just before it: the ranking of an
//! investigation. The score is the two-sample Kolmogorov–Smirnov statistic of the window's values
//! against the baseline's (as Netdata's Metric Correlations rank metrics): the largest gap between
//! the two distributions, 0 when they are alike, 1 when every window value lies beyond every
//! baseline value. It is blind to units, so a change counts only when it also passes the series'
//! practical-significance floor (the detectors' own): the window's median moved from the
//! baseline's, or the window reached a new high or low beyond the baseline's, by at least the
//! floor — an idle host going from 0.1 % to 0.2 % CPU is never a finding, however separated.
use super::anomaly::Significance;
use super::robust::median_sorted;

/// Points a window needs to be compared at all.
pub const MIN_WINDOW_POINTS: usize = 3;
/// Points a baseline needs to be compared against: as many, since a baseline of the same
/// window a day earlier is no longer than the window (one before it is four times as long).
pub const MIN_BASELINE_POINTS: usize = 3;

/// A side of the comparison in the series' unit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub mean: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub points: usize,
}

impl Summary {
    /// Of sorted, finite values (at least one).
    fn of_sorted(sorted: &[f64]) -> Summary {
        Summary {
            mean: sorted.iter().sum::<f64>() / sorted.len() as f64,
            median: median_sorted(sorted),
            min: sorted[0],
            max: sorted[sorted.len() - 1],
            points: sorted.len(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
}

/// How a window differs from its baseline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Change {
    /// The Kolmogorov–Smirnov statistic, 0–1.
    pub score: f64,
    /// Where the largest move (in floors) went.
    pub direction: Direction,
    /// The largest of the three moves — the median's, a new high's, a new low's — in multiples
    /// of the series' floor at the level it moved from: 1 or more matters.
    pub size: f64,
    pub baseline: Summary,
    pub window: Summary,
}

impl Change {
    /// Large enough to report.
    pub fn matters(&self) -> bool {
        self.size >= 1.0
    }
}

/// The window against the baseline; `None` when either has too few finite values to tell.
pub fn compare(baseline: &[f64], window: &[f64], significance: Significance) -> Option<Change> {
    let sorted = |values: &[f64]| {
        let mut v: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let (before, during) = (sorted(baseline), sorted(window));
    if before.len() < MIN_BASELINE_POINTS || during.len() < MIN_WINDOW_POINTS {
        return None;
    }
    let (b, w) = (Summary::of_sorted(&before), Summary::of_sorted(&during));
    // Each move in floors at the level it starts from; a zero floor (a relative one at zero)
    // makes any move count, as it should for a series that sat at exactly zero.
    let in_floors = |moved: f64, from: f64| {
        let floor = significance.min_change(from);
        if moved <= 0.0 {
            0.0
        } else if floor > 0.0 {
            moved / floor
        } else {
            f64::MAX
        }
    };
    let level = w.median - b.median;
    let moves = [
        (
            in_floors(level.abs(), b.median),
            if level >= 0.0 {
                Direction::Up
            } else {
                Direction::Down
            },
        ),
        (in_floors(w.max - b.max, b.max), Direction::Up),
        (in_floors(b.min - w.min, b.min), Direction::Down),
    ];
    let (size, direction) =
        moves.into_iter().fold(
            (0.0, Direction::Up),
            |best, m| if m.0 > best.0 { m } else { best },
        );
    Some(Change {
        score: kolmogorov_smirnov(&before, &during),
        direction,
        size,
        baseline: b,
        window: w,
    })
}

/// The two-sample Kolmogorov–Smirnov statistic of two sorted samples: the largest difference
/// between their empirical distribution functions, evaluated after each distinct value.
pub fn kolmogorov_smirnov(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (n, m) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut largest) = (0, 0, 0.0_f64);
    // Once one sample is used up its function is 1 and the other's only climbs towards it.
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        largest = largest.max((i as f64 / n - j as f64 / m).abs());
    }
    largest
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PERCENT: Significance = Significance {
        absolute: 3.0,
        relative: 0.0,
    };
    const RATE: Significance = Significance {
        absolute: 5.0,
        relative: 0.25,
    };

    #[test]
    fn the_statistic_is_the_largest_gap_between_the_two_distributions() {
        // F_a(2) = 2/4, F_b(2) = 0: the gap is a half, and nowhere larger.
        assert_eq!(
            kolmogorov_smirnov(&[1.0, 2.0, 3.0, 4.0], &[3.0, 4.0, 5.0, 6.0]),
            0.5
        );
        assert_eq!(kolmogorov_smirnov(&[1.0, 2.0], &[1.0, 2.0]), 0.0);
        assert_eq!(kolmogorov_smirnov(&[1.0, 2.0], &[5.0, 6.0, 7.0]), 1.0);
        // Ties: after 2, F_a = 3/3 and F_b = 1/3.
        let gap = kolmogorov_smirnov(&[2.0, 2.0, 2.0], &[2.0, 5.0, 6.0]);
        assert!((gap - 2.0 / 3.0).abs() < 1e-12, "{gap}");
        assert_eq!(kolmogorov_smirnov(&[], &[1.0]), 0.0);
    }

    #[test]
    fn a_step_up_past_the_floor_is_a_change_and_says_how_big() {
        let baseline = [20.0, 21.0, 19.0, 20.0, 22.0, 18.0, 20.0, 21.0];
        let window = [60.0, 62.0, 58.0, 61.0];
        let change = compare(&baseline, &window, PERCENT).expect("enough points");
        assert_eq!(change.score, 1.0);
        assert_eq!(change.direction, Direction::Up);
        // Medians 20 → 60.5: 40.5 points over a 3-point floor.
        assert!((change.size - 13.5).abs() < 1e-9, "{}", change.size);
        assert!(change.matters());
        assert_eq!(change.baseline.points, 8);
        assert_eq!(change.window.max, 62.0);
        assert!((change.window.mean - 60.25).abs() < 1e-9);
    }

    #[test]
    fn an_idle_host_moving_a_tenth_of_a_point_does_not_matter() {
        let baseline = [0.07, 0.08, 0.07, 0.09, 0.08, 0.07, 0.08];
        let window = [0.18, 0.2, 0.22, 0.19];
        let change = compare(&baseline, &window, PERCENT).expect("enough points");
        assert_eq!(change.score, 1.0, "fully separated");
        assert!(!change.matters(), "but far below 3 points: {}", change.size);
    }

    #[test]
    fn a_drop_and_a_new_low_point_down() {
        // A rate at 100/s falling to 40: the floor is a quarter of 100.
        let baseline = [100.0, 98.0, 102.0, 101.0, 99.0, 100.0];
        let window = [40.0, 42.0, 38.0];
        let change = compare(&baseline, &window, RATE).expect("enough points");
        assert_eq!(change.direction, Direction::Down);
        assert!(change.matters());
        // The same level with one point far below everything the baseline had: a new low.
        let dip = [100.0, 99.0, 20.0, 101.0];
        let change = compare(&baseline, &dip, RATE).expect("enough points");
        assert_eq!(change.direction, Direction::Down);
        // min 98 → 20 against a floor of 24.5.
        assert!((change.size - 78.0 / 24.5).abs() < 1e-9, "{}", change.size);
        assert!(change.score < 0.5, "one point of four: {}", change.score);
    }

    #[test]
    fn too_few_points_or_values_that_are_not_numbers_are_not_compared() {
        let baseline = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert!(compare(&baseline, &[1.0, 2.0], PERCENT).is_none());
        assert!(compare(&baseline[..2], &[1.0, 2.0, 3.0], PERCENT).is_none());
        assert!(compare(&baseline[..3], &[1.0, 2.0, 3.0], PERCENT).is_some());
        assert!(compare(&baseline, &[1.0, f64::NAN, 2.0, f64::INFINITY], PERCENT).is_none());
        let change = compare(&baseline, &[1.0, 2.0, 3.0, f64::NAN], PERCENT).expect("3 finite");
        assert_eq!(change.window.points, 3);
    }

    #[test]
    fn a_series_that_sat_at_zero_counts_any_move_under_a_relative_floor() {
        let zero = [0.0; 8];
        let relative = Significance {
            absolute: 0.0,
            relative: 0.25,
        };
        let change = compare(&zero, &[3.0, 4.0, 5.0], relative).expect("enough points");
        assert!(change.matters());
        assert!(!compare(&zero, &[0.0, 0.0, 0.0], relative)
            .expect("enough")
            .matters());
    }

    proptest! {
        #[test]
        fn the_statistic_is_symmetric_bounded_and_zero_for_the_same_sample(
            mut a in prop::collection::vec(-1e6..1e6_f64, 1..40),
            mut b in prop::collection::vec(-1e6..1e6_f64, 1..40),
        ) {
            a.sort_by(f64::total_cmp);
            b.sort_by(f64::total_cmp);
            let d = kolmogorov_smirnov(&a, &b);
            prop_assert!((0.0..=1.0).contains(&d));
            prop_assert_eq!(d, kolmogorov_smirnov(&b, &a));
            prop_assert_eq!(kolmogorov_smirnov(&a, &a), 0.0);
        }

        #[test]
        fn shifting_both_sides_by_the_same_amount_changes_nothing_but_the_levels(
            baseline in prop::collection::vec(0.0..50.0_f64, 6..30),
            window in prop::collection::vec(0.0..50.0_f64, 3..30),
            shift in 0.0..40.0_f64,
        ) {
            let moved = |v: &[f64]| v.iter().map(|x| x + shift).collect::<Vec<_>>();
            let here = compare(&baseline, &window, PERCENT).expect("enough points");
            let there = compare(&moved(&baseline), &moved(&window), PERCENT).expect("enough points");
            prop_assert!((here.score - there.score).abs() < 1e-9);
            prop_assert!((here.size - there.size).abs() < 1e-6);
        }
    }
}
