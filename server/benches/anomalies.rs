//! Anomaly-detector quality on labeled real data (Numenta Anomaly Benchmark, AWS CloudWatch
//! series in `benches/data/nab`, MIT licensed). Each series becomes one host's metric at the
//! resolution the server detects on: hourly means, as the hourly rollups store them. A labeled
//! window counts as found when a detected event overlaps it; every event outside all windows is a
//! false positive. One configuration for every series; the labels never reach the detector.
//!
//! Run: `cargo bench -p server --bench anomalies` (no database needed).
use chrono::{DateTime, NaiveDateTime, Utc};
use lookout::analysis::anomaly::{detect, Sensitivity};
use std::collections::BTreeMap;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/nab");

fn parse_time(text: &str) -> anyhow::Result<DateTime<Utc>> {
    let text = text.get(..19).unwrap_or(text);
    Ok(NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")?.and_utc())
}

/// Hourly means on a dense grid starting at the first hour.
fn hourly(path: &str) -> anyhow::Result<(i64, Vec<Option<f64>>)> {
    let mut sums: BTreeMap<i64, (f64, u32)> = BTreeMap::new();
    for line in std::fs::read_to_string(path)?.lines().skip(1) {
        let (time, value) = line
            .split_once(',')
            .ok_or_else(|| anyhow::anyhow!("bad line {line}"))?;
        let hour = parse_time(time)?.timestamp().div_euclid(3600);
        let entry = sums.entry(hour).or_default();
        entry.0 += value.trim().parse::<f64>()?;
        entry.1 += 1;
    }
    let first = *sums
        .keys()
        .next()
        .ok_or_else(|| anyhow::anyhow!("empty series"))?;
    let last = *sums.keys().last().unwrap_or(&first);
    let mut grid = vec![None; (last - first + 1) as usize];
    for (hour, (sum, count)) in sums {
        grid[(hour - first) as usize] = Some(sum / f64::from(count));
    }
    Ok((first, grid))
}

fn main() -> anyhow::Result<()> {
    let labels: BTreeMap<String, Vec<[String; 2]>> =
        serde_json::from_str(&std::fs::read_to_string(format!("{DATA}/labels.json"))?)?;
    println!(
        "NAB realAWSCloudwatch: {} series, {} labeled windows",
        labels.len(),
        labels.values().map(Vec::len).sum::<usize>()
    );
    for sensitivity in [Sensitivity::Low, Sensitivity::Medium, Sensitivity::High] {
        let thresholds = sensitivity.thresholds();
        let (mut found, mut windows, mut false_positives) = (0, 0, 0);
        println!("\nsensitivity {sensitivity:?}");
        for (name, spans) in &labels {
            let file = name.rsplit('/').next().unwrap_or(name);
            let (first_hour, series) = hourly(&format!("{DATA}/{file}"))?;
            let spans: Vec<(i64, i64)> = spans
                .iter()
                .map(|[a, b]| Ok((parse_time(a)?.timestamp(), parse_time(b)?.timestamp())))
                .collect::<anyhow::Result<_>>()?;
            // Units differ per series (percent, bytes): the sigma floor only guards constant data.
            let events = detect(&series, 1e-6, &thresholds, 0);
            let mut hit = vec![false; spans.len()];
            let mut outside = 0;
            for event in &events {
                let start = (first_hour + event.start as i64) * 3600;
                let end = (first_hour + event.end as i64 + 1) * 3600;
                let mut inside = false;
                for (k, (a, b)) in spans.iter().enumerate() {
                    if start <= *b && end > *a {
                        hit[k] = true;
                        inside = true;
                    }
                }
                if !inside {
                    outside += 1;
                }
            }
            let n = hit.iter().filter(|h| **h).count();
            println!("  {file:<36} windows found {n}/{}  false-positive events {outside:>2}  (events {})", spans.len(), events.len());
            found += n;
            windows += spans.len();
            false_positives += outside;
        }
        println!(
            "  total: {found}/{windows} windows found, {false_positives} false-positive events"
        );
    }

    // Detector cost at the size of `/anomalies` for 100 hosts over 7 days: 600 series (six per
    // host) of 28 days of hours (three weeks of baseline before the week asked for).
    let series: Vec<Vec<Option<f64>>> = (0..600)
        .map(|s| {
            (0..28 * 24)
                .map(|h| {
                    let noise = (((h * 7919 + s * 104_729) % 1000) as f64 / 1000.0 - 0.5) * 4.0;
                    Some(40.0 + 15.0 * (h as f64 / 24.0 * std::f64::consts::TAU).sin() + noise)
                })
                .collect()
        })
        .collect();
    let thresholds = Sensitivity::Medium.thresholds();
    let mut timings = Vec::new();
    for _ in 0..10 {
        let started = std::time::Instant::now();
        let events: usize = series
            .iter()
            .map(|s| detect(s, 0.01, &thresholds, 21 * 24).len())
            .sum();
        timings.push(started.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(events);
    }
    timings.sort_by(f64::total_cmp);
    println!("\ndetector cost: 600 series × 672 hours, medium: median {:.1} ms per run (one core, 10 runs)", timings[5]);
    Ok(())
}
