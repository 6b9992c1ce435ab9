//! The detector's own cost, without the database: `analysis::anomaly::detect` over one series
//! at each tier `/history/anomalies` judges — 7 days of 5-minute buckets, 35 days of hours (7 days
//! asked, 28 of baseline) and 393 days of hours (a year asked) — on a daily wave with noise and a
//! few bursts. Prints the median time per series of 200 runs; a request over 100 hosts judges
//! 14 series per host at each tier.
use lookout::analysis::anomaly::{detect, Profile, Sensitivity, Significance};
use std::time::Instant;

/// A daily wave of `per_day` points a day around 40 with deterministic noise, and a 20-point
/// burst every 3 days.
fn series(days: usize, per_day: usize) -> Vec<Option<f64>> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..days * per_day)
        .map(|i| {
            // xorshift: the same series on every run.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state % 1000) as f64 / 1000.0 - 0.5;
            let phase = (i % per_day) as f64 / per_day as f64 * std::f64::consts::TAU;
            let burst = i % (3 * per_day) < 20.min(per_day / 4);
            Some(if burst {
                95.0
            } else {
                40.0 + 15.0 * phase.sin() + 4.0 * noise
            })
        })
        .collect()
}

fn main() {
    let thresholds = Sensitivity::Medium.thresholds();
    let significance = Significance {
        absolute: 3.0,
        relative: 0.0,
    };
    for (label, days, per_day, report_days) in [
        ("5-minute buckets, 7 days", 7, 288, 7),
        ("hours, 35 days (7 asked)", 35, 24, 7),
        ("hours, 393 days (365 asked)", 393, 24, 365),
    ] {
        let data = series(days, per_day);
        let profile = Profile {
            per_day,
            significance,
        };
        let report_from = (days - report_days) * per_day;
        let mut timings = Vec::new();
        let mut events = 0;
        for _ in 0..200 {
            let started = Instant::now();
            events = detect(&data, &profile, &thresholds, report_from).len();
            timings.push(started.elapsed().as_secs_f64() * 1e6);
        }
        timings.sort_by(f64::total_cmp);
        println!(
            "detector, {label}: {:.0} µs per series (median of 200; {} points, {events} events)",
            timings[timings.len() / 2],
            data.len()
        );
    }
}
