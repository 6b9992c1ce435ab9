//! The detector's own cost, without the database: `analysis::anomaly::detect` over one series
//! at each tier `/history/anomalies` judges for a 7-day and a 1-year request — 14 days of
//! 5-minute buckets (7 asked, a week of baseline), 28 days of hours (7 asked, 21 of baseline),
//! 30 days of 5-minute buckets (all asked: the hourly rollups keep them 30 days) and 386 days of
//! hours (365 asked) — on a daily wave with noise and a few bursts, at the cadence's thresholds.
//! Prints the median time per series of 200 runs; a request over 100 hosts judges 14 series per
//! host at each tier. Each grid is timed for the kinds `/history/anomalies` judges on it
//! (`detect::kinds_judged`), and five-minute grids also for every kind.
use lookout::analysis::anomaly::{detect_kinds, Kind, Profile, Sensitivity, Significance};
use lookout::detect::kinds_judged;
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
        ("5-minute buckets, 14 days (7 asked)", 14, 288, 7),
        ("hours, 28 days (7 asked)", 28, 24, 7),
        ("5-minute buckets, 30 days (all asked)", 30, 288, 30),
        ("hours, 386 days (365 asked)", 386, 24, 365),
    ] {
        let thresholds = thresholds.at_cadence(per_day, 24);
        let data = series(days, per_day);
        let profile = Profile {
            per_day,
            significance,
        };
        let report_from = (days - report_days) * per_day;
        // What `/anomalies` judges at this resolution, and every kind where that is fewer.
        let as_judged = kinds_judged(per_day, &Kind::ALL);
        let mut judged = vec![("as judged", as_judged.as_slice())];
        if as_judged.len() < Kind::ALL.len() {
            judged.insert(0, ("every kind", &Kind::ALL[..]));
        }
        for (which, kinds) in judged {
            let mut timings = Vec::new();
            let mut events = 0;
            for _ in 0..200 {
                let started = Instant::now();
                events = detect_kinds(&data, &profile, &thresholds, report_from, kinds).len();
                timings.push(started.elapsed().as_secs_f64() * 1e6);
            }
            timings.sort_by(f64::total_cmp);
            println!(
                "detector, {label}, {which}: {:.0} µs per series (median of 200; {} points, {events} events)",
                timings[timings.len() / 2],
                data.len()
            );
        }
    }
}
