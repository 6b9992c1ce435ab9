//! Order statistics and fits shared by the detectors and forecasts: median, MAD, quantiles,
//! least squares and Theil–Sen.

/// Median of the values (NaN-free input); `None` when empty. Linear-time selection, not a sort:
/// the fits take medians of thousands of pairwise slopes per host.
pub fn median(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| median_in_place(&mut values.to_vec()))
}

/// `median` without the copy: reorders `values`; 0 when empty.
pub fn median_in_place(values: &mut [f64]) -> f64 {
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    let (lower, &mut upper, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        return upper;
    }
    // Even count: the mean of the two middle values; the lower one is the largest of the lower part.
    let below = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (below + upper) / 2.0
}

/// Linear-interpolated quantile (type 7, as numpy and R default); `None` when empty.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(quantile_sorted(&sorted, q))
}

/// The median of sorted values (mean of the two middle ones for an even count); 0 when empty.
pub fn median_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let position = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let low = position.floor() as usize;
    let high = (low + 1).min(sorted.len() - 1);
    sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
}

/// Median absolute deviation from the median.
pub fn mad(values: &[f64]) -> Option<f64> {
    let center = median(values)?;
    let deviations: Vec<f64> = values.iter().map(|v| (v - center).abs()).collect();
    median(&deviations)
}

/// A fitted line `intercept + slope * x`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Line {
    pub intercept: f64,
    pub slope: f64,
}

impl Line {
    pub fn at(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }
}

/// Ordinary least squares; `None` with fewer than two distinct x.
pub fn least_squares(x: &[f64], y: &[f64]) -> Option<Line> {
    let n = x.len().min(y.len());
    if n < 2 {
        return None;
    }
    let (mx, my) = (
        x[..n].iter().sum::<f64>() / n as f64,
        y[..n].iter().sum::<f64>() / n as f64,
    );
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for i in 0..n {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
    }
    if sxx == 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    Some(Line {
        intercept: my - slope * mx,
        slope,
    })
}

/// Theil–Sen: the median of pairwise slopes, intercept the median of `y - slope·x`. Outliers up
/// to ~29 % of the points do not move it, so one incident does not bend a growth rate.
pub fn theil_sen(x: &[f64], y: &[f64]) -> Option<Line> {
    let n = x.len().min(y.len());
    let mut slopes = Vec::with_capacity(n * n.saturating_sub(1) / 2);
    for i in 0..n {
        for j in i + 1..n {
            if x[j] != x[i] {
                slopes.push((y[j] - y[i]) / (x[j] - x[i]));
            }
        }
    }
    let slope = median(&slopes)?;
    let residuals: Vec<f64> = (0..n).map(|i| y[i] - slope * x[i]).collect();
    Some(Line {
        intercept: median(&residuals)?,
        slope,
    })
}

/// Least-squares parabola `c0 + c1·x + c2·x²`; `None` when the system is singular.
pub fn quadratic_fit(x: &[f64], y: &[f64]) -> Option<[f64; 3]> {
    let n = x.len().min(y.len());
    if n < 3 {
        return None;
    }
    // Centre x for conditioning; convert back at the end.
    let mx = x[..n].iter().sum::<f64>() / n as f64;
    let mut s = [0.0f64; 5];
    let mut t = [0.0f64; 3];
    for i in 0..n {
        let u = x[i] - mx;
        let mut p = 1.0;
        for k in 0..5 {
            s[k] += p;
            if k < 3 {
                t[k] += p * y[i];
            }
            p *= u;
        }
    }
    let m = [[s[0], s[1], s[2]], [s[1], s[2], s[3]], [s[2], s[3], s[4]]];
    let det = |a: [[f64; 3]; 3]| {
        a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1])
            - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
            + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0])
    };
    let d = det(m);
    if d.abs() < 1e-12 * s[0].max(1.0).powi(3) {
        return None;
    }
    let mut coefficients = [0.0; 3];
    for (k, c) in coefficients.iter_mut().enumerate() {
        let mut replaced = m;
        for row in 0..3 {
            replaced[row][k] = t[row];
        }
        *c = det(replaced) / d;
    }
    // c0 + c1 (x - mx) + c2 (x - mx)² expanded in x.
    let [a, b, c] = coefficients;
    Some([a - b * mx + c * mx * mx, b - 2.0 * c * mx, c])
}

/// Coefficient of determination of predictions against observations (1 = perfect; can go below 0).
pub fn r_squared(y: &[f64], predicted: &[f64]) -> f64 {
    let n = y.len().min(predicted.len());
    if n == 0 {
        return 0.0;
    }
    let mean = y[..n].iter().sum::<f64>() / n as f64;
    let total: f64 = y[..n].iter().map(|v| (v - mean).powi(2)).sum();
    let residual: f64 = (0..n).map(|i| (y[i] - predicted[i]).powi(2)).sum();
    if total == 0.0 {
        return if residual == 0.0 { 1.0 } else { 0.0 };
    }
    1.0 - residual / total
}

/// Pearson correlation; `None` when either side is constant.
pub fn correlation(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len().min(b.len());
    if n < 2 {
        return None;
    }
    let (ma, mb) = (
        a[..n].iter().sum::<f64>() / n as f64,
        b[..n].iter().sum::<f64>() / n as f64,
    );
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for i in 0..n {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma).powi(2);
        sbb += (b[i] - mb).powi(2);
    }
    if saa == 0.0 || sbb == 0.0 {
        return None;
    }
    Some(sab / (saa * sbb).sqrt())
}

/// Ranks from 1, ties sharing their average rank.
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|a, b| values[*a].total_cmp(&values[*b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let average = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            ranks[order[k]] = average;
        }
        i = j + 1;
    }
    ranks
}

/// Spearman's rank correlation; `None` when either side is constant.
pub fn rank_correlation(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len().min(b.len());
    correlation(&ranks(&a[..n]), &ranks(&b[..n]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_statistics_match_hand_computed_values() {
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        // |x - 3| = 2, 1, 0, 1, 97 → median 1.
        assert_eq!(mad(&[1.0, 2.0, 3.0, 4.0, 100.0]), Some(1.0));
        // Type 7: position 0.9 × 4 = 3.6 between 4 and 100.
        assert!((quantile(&[1.0, 2.0, 3.0, 4.0, 100.0], 0.9).expect("some") - 61.6).abs() < 1e-9);
    }

    #[test]
    fn fits_recover_known_lines_and_parabolas() {
        let x: Vec<f64> = (0..10).map(f64::from).collect();
        let y: Vec<f64> = x.iter().map(|v| 2.0 + 0.5 * v).collect();
        let line = least_squares(&x, &y).expect("fit");
        assert!((line.slope - 0.5).abs() < 1e-12 && (line.intercept - 2.0).abs() < 1e-12);
        // One wild outlier bends least squares but not Theil–Sen.
        let mut spiked = y.clone();
        spiked[9] = 100.0;
        assert_eq!(theil_sen(&x, &spiked).expect("fit").slope, 0.5);
        assert!(least_squares(&x, &spiked).expect("fit").slope > 2.0);
        let parabola: Vec<f64> = x.iter().map(|v| 1.0 - 2.0 * v + 0.25 * v * v).collect();
        let [c0, c1, c2] = quadratic_fit(&x, &parabola).expect("fit");
        assert!((c0 - 1.0).abs() < 1e-9 && (c1 + 2.0).abs() < 1e-9 && (c2 - 0.25).abs() < 1e-9);
        assert_eq!(r_squared(&y, &y), 1.0);
        assert_eq!(correlation(&x, &y), Some(1.0));
        assert_eq!(correlation(&x, &[1.0; 10]), None);
        // Monotonic but not linear: rank correlation 1; ties share ranks.
        let cubes: Vec<f64> = x.iter().map(|v| v * v * v).collect();
        assert!((rank_correlation(&x, &cubes).expect("some") - 1.0).abs() < 1e-12);
        assert_eq!(ranks(&[10.0, 20.0, 10.0]), [1.5, 3.0, 1.5]);
    }
}
