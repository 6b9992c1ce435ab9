//! Anomaly-detector quality on labeled real data (Numenta Anomaly Benchmark series in
//! `benches/data/nab`, MIT licensed), through the path a user's data takes: each series becomes
//! one host, its points sent as partial samples to `POST /api/v1/ingest/samples` (or, for a
//! measure the catalogue has no series of, as a custom metric to `/performance/metrics/batch`)
//! with timestamps shifted by whole hours so the series ends an hour ago, rolled up by the
//! server's rollup code,
//! then judged by `POST /api/v1/history/anomalies` over the whole series at low, medium and high.
//! A labeled window counts as found when an event of the series overlaps it; every event outside
//! all windows is a false positive. One configuration for every series; the labels never reach
//! the server.
//!
//! The detector's thresholds were chosen on the first seven series (`TUNED_ON`); the other five
//! were added later and are reported apart as the held-out figure.
//!
//! Run: `DATABASE_URL=… cargo bench -p server --bench anomalies` (scripts/bench.sh starts a
//! throwaway PostgreSQL); the database `lookout_bench_nab` is recreated on every run. With
//! `NAB_EVENTS=1` every event is listed too, in the file's own time, inside a window or `OUT`.
#[path = "support/mod.rs"]
mod support;

use chrono::{DateTime, Duration, DurationRound, NaiveDateTime, Utc};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use support::TOKEN;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/nab");

/// The series the thresholds were chosen on; the rest are held out.
const TUNED_ON: [&str; 7] = [
    "ec2_cpu_utilization_24ae8d.csv",
    "ec2_cpu_utilization_53ea38.csv",
    "ec2_cpu_utilization_5f5533.csv",
    "ec2_cpu_utilization_77c1ca.csv",
    "ec2_cpu_utilization_825cc2.csv",
    "ec2_disk_write_bytes_1ef3de.csv",
    "ec2_network_in_257a54.csv",
];

/// Where a series goes.
enum Target {
    /// A catalogue series of a sample: group, sample field, factor to the field's unit, and the
    /// series the answer names.
    Sample {
        group: &'static str,
        field: &'static str,
        factor: f64,
        series: &'static str,
    },
    /// A custom metric (`/performance/metrics`) of this name and unit, for a measure the
    /// catalogue has no series of.
    Custom {
        name: &'static str,
        unit: &'static str,
    },
}

/// Request counts and the temperature (°F, 57–86) have no catalogue series: they are custom
/// metrics, as a user would send them — the requests as CloudWatch counts them (a count per five
/// minutes), the temperature in °F. Latency goes to the catalogue series of its unit
/// (milliseconds).
fn mapping(file: &str) -> Target {
    let per_second = 1.0 / 300.0; // the CloudWatch values are totals per 5 minutes
    let sample = |group, field, factor, series| Target::Sample {
        group,
        field,
        factor,
        series,
    };
    if file.starts_with("ec2_cpu") || file.starts_with("grok_asg") {
        sample("cpu", "percent", 1.0, "cpu.usagePercent")
    } else if file.starts_with("ec2_disk_write_bytes") {
        sample("disk", "write_bps", per_second, "disk.writeBps")
    } else if file.contains("network_in") || file.contains("NetworkIn") {
        sample("network", "in_bps", per_second, "network.inBps")
    } else if file.starts_with("elb_request_count") {
        Target::Custom {
            name: "elb_request_count",
            unit: "count",
        }
    } else if file.starts_with("ec2_request_latency") {
        sample("disk", "read_latency_ms", 1.0, "disk.readLatency")
    } else {
        Target::Custom {
            name: "ambient_temperature",
            unit: "°F",
        }
    }
}

fn parse_time(text: &str) -> anyhow::Result<DateTime<Utc>> {
    let text = text.get(..19).unwrap_or(text);
    Ok(NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")?.and_utc())
}

fn points(path: &str) -> anyhow::Result<Vec<(DateTime<Utc>, f64)>> {
    std::fs::read_to_string(path)?
        .lines()
        .skip(1)
        .map(|line| {
            let (time, value) = line
                .split_once(',')
                .ok_or_else(|| anyhow::anyhow!("bad line {line}"))?;
            Ok((parse_time(time)?, value.trim().parse::<f64>()?))
        })
        .collect()
}

#[derive(Default)]
struct Tally {
    found: usize,
    windows: usize,
    false_positives: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = support::fresh_database("lookout_bench_nab").await?;
    let server = support::start(url).await?;
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{}", server.port);
    let labels: BTreeMap<String, Vec<[String; 2]>> =
        serde_json::from_str(&std::fs::read_to_string(format!("{DATA}/labels.json"))?)?;
    let now = Utc::now().duration_trunc(Duration::hours(1))? - Duration::hours(1);

    // Ingest every series as its own host.
    struct Loaded {
        file: String,
        vm: String,
        target: Target,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        spans: Vec<(DateTime<Utc>, DateTime<Utc>)>,
        /// Added to the file's timestamps.
        shift: Duration,
    }
    let list_events = std::env::var_os("NAB_EVENTS").is_some_and(|v| v != "0");
    let mut loaded = Vec::new();
    let started = std::time::Instant::now();
    for (name, spans) in &labels {
        let file = name.rsplit('/').next().unwrap_or(name).to_string();
        let data = points(&format!("{DATA}/{file}"))?;
        let (Some(first), Some(last)) = (data.first(), data.last()) else {
            continue;
        };
        let shift = now - last.0.duration_trunc(Duration::hours(1))?;
        let vm = format!("nab-{}", file.trim_end_matches(".csv"));
        let target = mapping(&file);
        let (path, key, per_request, items): (&str, &str, usize, Vec<Value>) = match &target {
            Target::Sample {
                group,
                field,
                factor,
                ..
            } => (
                "ingest/samples",
                "samples",
                2000,
                data.iter()
                    .map(|(ts, value)| {
                        json!({"vmId": vm, "sample": {"timestamp": *ts + shift, *group: {*field: value * factor}}})
                    })
                    .collect(),
            ),
            Target::Custom { name, unit } => {
                // The host the metric belongs to, from one sample.
                let host = json!({"vmId": vm, "sample": {"timestamp": first.0 + shift, "cpu": {"percent": 0.0}}});
                let response = client
                    .post(format!("{base}/api/v1/ingest/samples"))
                    .bearer_auth(TOKEN)
                    .json(&json!({ "samples": [host] }))
                    .send()
                    .await?;
                anyhow::ensure!(response.status().is_success(), "host of {file}");
                (
                    "performance/metrics/batch",
                    "metrics",
                    1000,
                    data.iter()
                        .map(|(ts, value)| {
                            json!({"name": name, "value": value, "unit": unit, "host": vm, "timestamp": *ts + shift})
                        })
                        .collect(),
                )
            }
        };
        for chunk in items.chunks(per_request) {
            let response = client
                .post(format!("{base}/api/v1/{path}"))
                .bearer_auth(TOKEN)
                .json(&json!({ key: chunk }))
                .send()
                .await?;
            let status = response.status();
            let answer: Value = response.json().await?;
            anyhow::ensure!(
                status.is_success() && answer["data"]["rejected"].as_u64().unwrap_or(0) == 0,
                "ingest of {file}: {answer}"
            );
        }
        let spans = spans
            .iter()
            .map(|[a, b]| Ok((parse_time(a)? + shift, parse_time(b)? + shift)))
            .collect::<anyhow::Result<_>>()?;
        loaded.push(Loaded {
            file,
            vm,
            target,
            start: first.0 + shift,
            end: last.0 + shift,
            spans,
            shift,
        });
    }
    lookout::storage::rollups::run_once(&server.pool).await?;
    // As on a server that has run a few rounds since the data landed: the continuous detector's
    // catch-up has kept the last 30 days (done here, so that its rounds do not race the
    // requests below and the figures do not depend on which judged a day first).
    let mut after = 0;
    for _ in 0..1000 {
        let round = lookout::detect::catch_up(
            &server.pool,
            lookout::config::DEFAULT_DETECT_HISTORY_DAYS,
            after,
        )
        .await?;
        if round.hosts == 0 {
            break;
        }
        after = round.last;
    }
    println!(
        "NAB: {} series, {} labeled windows; ingested and rolled up in {:.1} s",
        loaded.len(),
        loaded.iter().map(|l| l.spans.len()).sum::<usize>(),
        started.elapsed().as_secs_f64()
    );

    for sensitivity in ["low", "medium", "high"] {
        // Each sensitivity starts from no stored events (stored ones would absorb its own).
        sqlx::query("DELETE FROM anomalies")
            .execute(&server.pool)
            .await?;
        let (mut tuned, mut held_out) = (Tally::default(), Tally::default());
        println!("\nsensitivity {sensitivity}");
        for l in &loaded {
            let (request, series) = match &l.target {
                Target::Sample { group, series, .. } => (
                    json!({"vmIds": [l.vm], "startTime": l.start, "endTime": l.end,
                           "metrics": [group], "sensitivity": sensitivity}),
                    *series,
                ),
                Target::Custom { name, .. } => (
                    json!({"vmIds": [l.vm], "startTime": l.start, "endTime": l.end,
                           "customMetrics": [name], "sensitivity": sensitivity}),
                    *name,
                ),
            };
            let answer: Value = client
                .post(format!("{base}/api/v1/history/anomalies"))
                .bearer_auth(TOKEN)
                .json(&request)
                .send()
                .await?
                .json()
                .await?;
            let anomalies: Vec<&Value> = answer["data"]["anomalies"]
                .as_array()
                .ok_or_else(|| anyhow::anyhow!("{}: {answer}", l.file))?
                .iter()
                .filter(|a| a["series"] == series)
                .collect();
            let mut hit = vec![false; l.spans.len()];
            let mut outside = 0;
            let mut listed = Vec::new();
            for a in anomalies {
                let start: DateTime<Utc> = serde_json::from_value(a["timestamp"].clone())?;
                let seconds = a["duration"].as_i64().unwrap_or(0);
                let end = start + Duration::seconds(seconds);
                let mut inside = false;
                for (k, (from, to)) in l.spans.iter().enumerate() {
                    if start <= *to && end > *from {
                        hit[k] = true;
                        inside = true;
                    }
                }
                if !inside {
                    outside += 1;
                }
                if list_events {
                    listed.push(format!(
                        "      {} {:>4} min  {:<13} {:<8} value {} baseline {}  {}",
                        (start - l.shift).format("%Y-%m-%d %H:%M"),
                        seconds / 60,
                        a["type"].as_str().unwrap_or("?"),
                        a["severity"].as_str().unwrap_or("?"),
                        a["value"],
                        a["baseline"],
                        if inside { "in" } else { "OUT" }
                    ));
                }
            }
            let found = hit.iter().filter(|h| **h).count();
            let tiers: Vec<String> = answer["data"]["judged"]
                .as_array()
                .map(|all| {
                    all.iter()
                        .filter(|j| j["series"] == series)
                        .map(|j| {
                            format!(
                                "{} {} points",
                                j["tier"].as_str().unwrap_or("?"),
                                j["points"]
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let tier = if tiers.is_empty() {
                "not judged".to_string()
            } else {
                tiers.join(", ")
            };
            let held = !TUNED_ON.contains(&l.file.as_str());
            println!(
                "  {:<44} {:<18} windows found {found}/{}  false-positive events {outside:>2}  ({tier}){}",
                l.file,
                series,
                l.spans.len(),
                if held { "  [held out]" } else { "" }
            );
            if list_events {
                for (from, to) in &l.spans {
                    println!(
                        "      window {} – {}",
                        (*from - l.shift).format("%Y-%m-%d %H:%M"),
                        (*to - l.shift).format("%Y-%m-%d %H:%M")
                    );
                }
                listed.sort();
                for line in &listed {
                    println!("{line}");
                }
            }
            let tally = if held { &mut held_out } else { &mut tuned };
            tally.found += found;
            tally.windows += l.spans.len();
            tally.false_positives += outside;
        }
        for (label, t) in [("tuned on", &tuned), ("held out", &held_out)] {
            println!(
                "  {label}: {}/{} windows found, {} false-positive events",
                t.found, t.windows, t.false_positives
            );
        }
        println!(
            "  total: {}/{} windows found, {} false-positive events",
            tuned.found + held_out.found,
            tuned.windows + held_out.windows,
            tuned.false_positives + held_out.false_positives
        );
    }
    server.stop().await
}
