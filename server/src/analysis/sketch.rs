//! A mergeable quantile sketch with bounded relative error (DDSketch, Masson et al., VLDB 2019).
//!
//! Values are counted in logarithmic buckets: bucket `i` holds values in (γ^(i-1), γ^i] with
//! γ = (1+α)/(1-α), so any quantile is returned within relative error α of the true sample value at
//! that rank. Sketches merge by adding bucket counts, which is exact and associative: p95/p99 over
//! any range can be computed from hourly or daily sketches after the raw samples are gone.

/// Relative accuracy of every quantile: 1 %.
pub const RELATIVE_ACCURACY: f64 = 0.01;
/// Magnitudes below this count as zero (metrics here are percentages, rates and sizes).
const MIN_MAGNITUDE: f64 = 1e-9;
const ENCODING_VERSION: u8 = 1;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sketch {
    /// Sorted (bucket index, count) pairs of positive values.
    positive: Vec<(i32, u64)>,
    /// Sorted (bucket index, count) pairs of negative values, by magnitude.
    negative: Vec<(i32, u64)>,
    zero: u64,
}

fn gamma() -> f64 {
    (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)
}

fn bucket_of(magnitude: f64) -> i32 {
    (magnitude.ln() / gamma().ln()).ceil() as i32
}

/// The representative value of a bucket: within α of every value the bucket can hold.
fn value_of(bucket: i32) -> f64 {
    let g = gamma();
    2.0 * g.powi(bucket) / (g + 1.0)
}

fn add_to(store: &mut Vec<(i32, u64)>, bucket: i32, count: u64) {
    match store.binary_search_by_key(&bucket, |&(b, _)| b) {
        Ok(i) => store[i].1 += count,
        Err(i) => store.insert(i, (bucket, count)),
    }
}

fn merge_stores(into: &mut Vec<(i32, u64)>, from: &[(i32, u64)]) {
    let mut merged = Vec::with_capacity(into.len() + from.len());
    let (mut a, mut b) = (into.iter().peekable(), from.iter().peekable());
    loop {
        match (a.peek(), b.peek()) {
            (Some(&&(ia, ca)), Some(&&(ib, cb))) => {
                if ia == ib {
                    merged.push((ia, ca + cb));
                    a.next();
                    b.next();
                } else if ia < ib {
                    merged.push((ia, ca));
                    a.next();
                } else {
                    merged.push((ib, cb));
                    b.next();
                }
            }
            (Some(&&x), None) => {
                merged.push(x);
                a.next();
            }
            (None, Some(&&x)) => {
                merged.push(x);
                b.next();
            }
            (None, None) => break,
        }
    }
    *into = merged;
}

impl Sketch {
    pub fn new() -> Self {
        Sketch::default()
    }

    /// Adds one value; NaN and ±∞ are ignored (they carry no rank).
    pub fn add(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        let magnitude = value.abs();
        if magnitude < MIN_MAGNITUDE {
            self.zero += 1;
        } else if value > 0.0 {
            add_to(&mut self.positive, bucket_of(magnitude), 1);
        } else {
            add_to(&mut self.negative, bucket_of(magnitude), 1);
        }
    }

    pub fn from_values(values: &[f64]) -> Self {
        let mut sketch = Sketch::new();
        for &v in values {
            sketch.add(v);
        }
        sketch
    }

    pub fn merge(&mut self, other: &Sketch) {
        merge_stores(&mut self.positive, &other.positive);
        merge_stores(&mut self.negative, &other.negative);
        self.zero += other.zero;
    }

    pub fn count(&self) -> u64 {
        self.zero
            + self.positive.iter().map(|&(_, c)| c).sum::<u64>()
            + self.negative.iter().map(|&(_, c)| c).sum::<u64>()
    }

    /// The value at rank ⌊q·(n−1)⌋ of the sorted values, within the relative accuracy; `None` when empty
    /// or `q` is outside 0–1.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = (q * (n - 1) as f64).floor() as u64;
        let mut seen = 0_u64;
        // Negative values, most negative (largest magnitude) first.
        for &(bucket, count) in self.negative.iter().rev() {
            seen += count;
            if seen > rank {
                return Some(-value_of(bucket));
            }
        }
        seen += self.zero;
        if seen > rank {
            return Some(0.0);
        }
        for &(bucket, count) in &self.positive {
            seen += count;
            if seen > rank {
                return Some(value_of(bucket));
            }
        }
        None
    }

    /// Compact binary form: version, zero count, then each store as (index delta, count) varints.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 3 * (self.positive.len() + self.negative.len()));
        out.push(ENCODING_VERSION);
        put_varint(&mut out, self.zero);
        for store in [&self.positive, &self.negative] {
            put_varint(&mut out, store.len() as u64);
            let mut previous = 0_i64;
            for &(bucket, count) in store.iter() {
                let delta = i64::from(bucket) - previous;
                put_varint(&mut out, ((delta << 1) ^ (delta >> 63)) as u64); // zigzag
                put_varint(&mut out, count);
                previous = i64::from(bucket);
            }
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, SketchDecodeError> {
        let mut input = bytes;
        let version = *input.first().ok_or(SketchDecodeError)?;
        if version != ENCODING_VERSION {
            return Err(SketchDecodeError);
        }
        input = &input[1..];
        let zero = get_varint(&mut input)?;
        let mut stores = [Vec::new(), Vec::new()];
        for store in &mut stores {
            let len = get_varint(&mut input)?;
            let mut previous = 0_i64;
            for _ in 0..len {
                let zigzag = get_varint(&mut input)?;
                let delta = ((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64);
                previous += delta;
                let bucket = i32::try_from(previous).map_err(|_| SketchDecodeError)?;
                store.push((bucket, get_varint(&mut input)?));
            }
        }
        if !input.is_empty() {
            return Err(SketchDecodeError);
        }
        let [positive, negative] = stores;
        Ok(Sketch {
            positive,
            negative,
            zero,
        })
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("corrupt quantile sketch")]
pub struct SketchDecodeError;

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn get_varint(input: &mut &[u8]) -> Result<u64, SketchDecodeError> {
    let mut value = 0_u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first().ok_or(SketchDecodeError)?;
        *input = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(SketchDecodeError)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn exact_quantile(values: &[f64], q: f64) -> f64 {
        let mut sorted: Vec<f64> = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        sorted[(q * (sorted.len() - 1) as f64).floor() as usize]
    }

    #[test]
    fn quantiles_of_1_to_100_are_within_one_percent() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        let sketch = Sketch::from_values(&values);
        assert_eq!(sketch.count(), 100);
        for (q, exact) in [
            (0.0, 1.0),
            (0.5, 50.0),
            (0.95, 95.0),
            (0.99, 99.0),
            (1.0, 100.0),
        ] {
            let estimate = sketch.quantile(q).expect("non-empty");
            assert!(
                (estimate - exact).abs() <= RELATIVE_ACCURACY * exact,
                "q={q}: {estimate} vs {exact}"
            );
        }
        assert_eq!(sketch.quantile(1.5), None);
        assert_eq!(Sketch::new().quantile(0.5), None);
    }

    #[test]
    fn zeros_negatives_and_non_finite_values() {
        let sketch = Sketch::from_values(&[0.0, 0.0, -5.0, 10.0, f64::NAN, f64::INFINITY]);
        assert_eq!(sketch.count(), 4);
        assert!((sketch.quantile(0.0).expect("min") + 5.0).abs() <= 0.05);
        assert_eq!(sketch.quantile(0.5), Some(0.0)); // rank 1 of [-5, 0, 0, 10]
        assert!((sketch.quantile(1.0).expect("max") - 10.0).abs() <= 0.1);
    }

    #[test]
    fn corrupt_encodings_are_refused() {
        assert_eq!(Sketch::decode(&[]), Err(SketchDecodeError));
        assert_eq!(Sketch::decode(&[9, 0, 0, 0]), Err(SketchDecodeError));
        let mut bytes = Sketch::from_values(&[1.0, 2.0]).encode();
        bytes.push(0);
        assert_eq!(Sketch::decode(&bytes), Err(SketchDecodeError));
        assert_eq!(
            Sketch::decode(&bytes[..bytes.len() - 3]),
            Err(SketchDecodeError)
        );
    }

    #[test]
    fn an_hour_of_cpu_samples_encodes_small() {
        let values: Vec<f64> = (0..360)
            .map(|i| 30.0 + 20.0 * ((i as f64) / 57.0).sin())
            .collect();
        let bytes = Sketch::from_values(&values).encode();
        assert!(bytes.len() < 200, "{} bytes", bytes.len());
    }

    fn values() -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(
            prop_oneof![0.0..100.0, 1e-3..1e9, -1e6..1e6, Just(0.0)],
            1..400,
        )
    }

    proptest! {
        #[test]
        fn quantiles_stay_within_the_relative_accuracy(values in values(), q in 0.0..=1.0) {
            let estimate = Sketch::from_values(&values).quantile(q).expect("non-empty");
            let exact = exact_quantile(&values, q);
            let tolerance = RELATIVE_ACCURACY * exact.abs() * (1.0 + 1e-9) + MIN_MAGNITUDE;
            prop_assert!((estimate - exact).abs() <= tolerance, "q={} estimate={} exact={}", q, estimate, exact);
        }

        #[test]
        fn merging_is_associative_and_equals_sketching_everything(a in values(), b in values(), c in values()) {
            let (sa, sb, sc) = (Sketch::from_values(&a), Sketch::from_values(&b), Sketch::from_values(&c));
            let mut left = sa.clone();
            left.merge(&sb);
            left.merge(&sc);
            let mut right_tail = sb.clone();
            right_tail.merge(&sc);
            let mut right = sa.clone();
            right.merge(&right_tail);
            prop_assert_eq!(&left, &right);
            let all: Vec<f64> = a.iter().chain(&b).chain(&c).copied().collect();
            prop_assert_eq!(&left, &Sketch::from_values(&all));
        }

        #[test]
        fn encoding_round_trips(values in values()) {
            let sketch = Sketch::from_values(&values);
            prop_assert_eq!(Sketch::decode(&sketch.encode()).expect("decodes"), sketch);
        }
    }
}
