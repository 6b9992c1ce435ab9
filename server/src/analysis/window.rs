//! A sorted window over a series that slides forward: the detector re-estimates its scale from
//! the last week's residuals every hour while the scale settles, and keeping them sorted between
//! estimates turns each one from selections over the whole week into a few insertions, with the
//! median and quantiles read off directly and the median absolute deviation found in
//! logarithmic time. Every figure equals what sorting the window afresh would give, bit for bit
//! (property-tested).
use super::robust::median_sorted;
use std::ops::Range;

/// The present values of `series[covers]`, sorted by `f64::total_cmp`.
#[derive(Clone, Debug, Default)]
pub struct SortedWindow {
    sorted: Vec<f64>,
    covers: Range<usize>,
}

impl SortedWindow {
    /// Makes the window hold the present values of `series[range]`. A range that moves forward
    /// (neither end going back) and overlaps the last one only adds and removes the points that
    /// entered and left; any other range is rebuilt from scratch. `series` must be the one the
    /// window was slid over before: values that leave are found by their bits.
    pub fn slide(&mut self, series: &[Option<f64>], range: Range<usize>) {
        let forward = range.start >= self.covers.start
            && range.end >= self.covers.end
            && range.start < self.covers.end;
        if !forward {
            self.sorted.clear();
            self.sorted.extend(series[range.clone()].iter().flatten());
            self.sorted.sort_unstable_by(f64::total_cmp);
            self.covers = range;
            return;
        }
        for value in series[self.covers.start..range.start].iter().flatten() {
            let at = self.rank_of(*value);
            debug_assert!(self
                .sorted
                .get(at)
                .is_some_and(|v| v.total_cmp(value).is_eq()));
            self.sorted.remove(at);
        }
        for value in series[self.covers.end..range.end].iter().flatten() {
            let at = self.rank_of(*value);
            self.sorted.insert(at, *value);
        }
        self.covers = range;
    }

    /// The number of values ordered before `value`.
    fn rank_of(&self, value: f64) -> usize {
        self.sorted.partition_point(|v| v.total_cmp(&value).is_lt())
    }

    pub fn sorted(&self) -> &[f64] {
        &self.sorted
    }

    /// The median (mean of the two middle values for an even count); 0 when empty.
    pub fn median(&self) -> f64 {
        median_sorted(&self.sorted)
    }

    /// The median of `|v − center|` over the window; 0 when empty. The deviations of the values
    /// below `center`, read from `center` outwards, rise, and so do those of the values from
    /// `center` up: the median is the middle of two sorted runs, found by bisection.
    pub fn median_deviation(&self, center: f64) -> f64 {
        let n = self.sorted.len();
        if n == 0 {
            return 0.0;
        }
        let split = self.rank_of(center);
        let upper = self.deviation_ranked(center, split, n / 2);
        if n % 2 == 1 {
            upper
        } else {
            (self.deviation_ranked(center, split, n / 2 - 1) + upper) / 2.0
        }
    }

    /// The `k`-th smallest (from 0) of the deviations from `center`, the values below `split`
    /// being those ordered before it.
    fn deviation_ranked(&self, center: f64, split: usize, k: usize) -> f64 {
        let below = |i: usize| (self.sorted[split - 1 - i] - center).abs();
        let above = |j: usize| (self.sorted[split + j] - center).abs();
        let (below_len, above_len) = (split, self.sorted.len() - split);
        // Take `taken` of the k + 1 smallest from below and the rest from above; the right count
        // is the smallest for which the next one below is no smaller than the last one above.
        let wanted = k + 1;
        let (mut low, mut high) = (wanted.saturating_sub(above_len), wanted.min(below_len));
        while low < high {
            let taken = (low + high) / 2;
            let rest = wanted - taken;
            if rest > 0 && below(taken) < above(rest - 1) {
                low = taken + 1;
            } else {
                high = taken;
            }
        }
        let taken = low;
        let rest = wanted - taken;
        let last_below = (taken > 0).then(|| below(taken - 1));
        let last_above = (rest > 0).then(|| above(rest - 1));
        match (last_below, last_above) {
            (Some(b), Some(a)) => b.max(a),
            (Some(b), None) => b,
            (None, Some(a)) => a,
            (None, None) => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::robust::median;

    #[test]
    fn hand_checked_median_and_deviation() {
        let series: Vec<Option<f64>> = [1.0, 2.0, 3.0, 4.0, 100.0].map(Some).to_vec();
        let mut window = SortedWindow::default();
        window.slide(&series, 0..5);
        assert_eq!(window.median(), 3.0);
        // |v − 3|: 2, 1, 0, 1, 97 → median 1.
        assert_eq!(window.median_deviation(3.0), 1.0);
        window.slide(&series, 1..5);
        // 2, 3, 4, 100: median 3.5; deviations 1.5, 0.5, 0.5, 96.5 → (0.5 + 1.5) / 2.
        assert_eq!(window.median(), 3.5);
        assert_eq!(window.median_deviation(3.5), 1.0);
        assert_eq!(window.sorted(), &[2.0, 3.0, 4.0, 100.0]);
    }

    proptest::proptest! {
        #[test]
        fn sliding_equals_sorting_afresh(
            series in proptest::collection::vec(proptest::option::weighted(0.8, -50i32..50), 0..400),
            steps in proptest::collection::vec((0usize..40, 0usize..40), 1..30),
        ) {
            // Small integers: ties and repeated values are common.
            let series: Vec<Option<f64>> = series.iter().map(|v| v.map(f64::from)).collect();
            let n = series.len();
            let mut window = SortedWindow::default();
            let (mut start, mut end) = (0usize, 0usize);
            for (grow, shrink) in steps {
                end = (end + grow).min(n);
                start = (start + shrink).min(end);
                window.slide(&series, start..end);
                let mut expected: Vec<f64> = series[start..end].iter().flatten().copied().collect();
                expected.sort_by(f64::total_cmp);
                proptest::prop_assert_eq!(window.sorted(), expected.as_slice());
                let center = median(&expected).unwrap_or(0.0);
                proptest::prop_assert_eq!(window.median(), center);
                let deviations: Vec<f64> = expected.iter().map(|v| (v - center).abs()).collect();
                proptest::prop_assert_eq!(
                    window.median_deviation(center),
                    median(&deviations).unwrap_or(0.0)
                );
            }
        }

        #[test]
        fn the_deviation_median_equals_selection_on_reals(
            values in proptest::collection::vec(-1e6..1e6_f64, 1..500),
            center in -1e6..1e6_f64,
        ) {
            let series: Vec<Option<f64>> = values.iter().copied().map(Some).collect();
            let mut window = SortedWindow::default();
            window.slide(&series, 0..series.len());
            let deviations: Vec<f64> = values.iter().map(|v| (v - center).abs()).collect();
            proptest::prop_assert_eq!(
                window.median_deviation(center),
                median(&deviations).unwrap_or(0.0)
            );
        }
    }
}
