//! Export speed and memory: 100 000 raw rows (10 hosts × 10 000 samples) exported to CSV, XLSX
//! and JSON through the API; prints each job's time (started → completed, from the task) and the
//! process's peak extra resident memory while it ran (sampled every 10 ms from /proc).
//!
//! Needs `DATABASE_URL` (scripts/bench.sh starts a throwaway PostgreSQL). The database
//! `lookout_bench_export` is refilled on every run.
#[path = "support/mod.rs"]
mod support;

use chrono::{DateTime, Duration, DurationRound, Utc};
use lookout::storage::ingest::NewSample;
use serde_json::{json, Value};
use std::sync::{
    atomic::{AtomicBool, AtomicU64, Ordering},
    Arc,
};
use support::TOKEN;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = support::database("lookout_bench_export").await?;
    let server = support::start(url).await?;
    sqlx::query("TRUNCATE samples, rollup_hourly, rollup_daily, rollup_queue_hourly, rollup_queue_daily, export_jobs").execute(&server.pool).await?;
    let end = (Utc::now() - Duration::hours(1)).duration_trunc(Duration::seconds(10))?;
    let start = end - Duration::seconds(10 * 9_999);
    for host in 0..10 {
        let items: Vec<NewSample> = (0..10_000)
            .map(|i| {
                let mut stats = app::models::Stats {
                    timestamp: start + Duration::seconds(10 * i),
                    ..Default::default()
                };
                stats.cpu.percent = (i % 100) as f64 + 0.25;
                stats.memory.percent = 50.0;
                NewSample {
                    vm_id: format!("bench-export-{host:02}"),
                    name: None,
                    group_id: None,
                    cluster_id: None,
                    sample: stats,
                    processes: None,
                    facts: None,
                    present: Default::default(),
                }
            })
            .collect();
        lookout::storage::ingest::store(&server.pool, &items).await?;
    }
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{}", server.port);
    let vm_ids: Vec<String> = (0..10).map(|h| format!("bench-export-{h:02}")).collect();
    println!("format  records  seconds  peak extra RSS (MiB)  file (MiB)");
    for format in ["csv", "excel", "json"] {
        let baseline = rss_kib();
        let peak = Arc::new(AtomicU64::new(baseline));
        let running = Arc::new(AtomicBool::new(true));
        let sampler = {
            let (peak, running) = (peak.clone(), running.clone());
            tokio::spawn(async move {
                while running.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_kib(), Ordering::Relaxed);
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            })
        };
        let request = json!({"vmIds": vm_ids, "startTime": start, "endTime": end, "aggregation": "raw", "format": format});
        let created: Value = client
            .post(format!("{base}/api/v1/history/export"))
            .bearer_auth(TOKEN)
            .json(&request)
            .send()
            .await?
            .json()
            .await?;
        let id = created["data"]["id"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no task: {created}"))?
            .to_owned();
        let task = loop {
            let body: Value = client
                .get(format!("{base}/api/v1/history/export/{id}"))
                .bearer_auth(TOKEN)
                .send()
                .await?
                .json()
                .await?;
            match body["data"]["status"].as_str() {
                Some("completed") => break body["data"].clone(),
                Some("failed") => anyhow::bail!("export failed: {body}"),
                _ => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        };
        running.store(false, Ordering::Relaxed);
        sampler.await?;
        let at = |field: &str| {
            task[field]
                .as_str()
                .and_then(|t| t.parse::<DateTime<Utc>>().ok())
        };
        let seconds = match (at("startedAt"), at("completedAt")) {
            (Some(a), Some(b)) => (b - a).num_milliseconds() as f64 / 1000.0,
            _ => f64::NAN,
        };
        let extra = peak.load(Ordering::Relaxed).saturating_sub(baseline) as f64 / 1024.0;
        let size = task["result"]["fileSize"].as_f64().unwrap_or(0.0) / 1_048_576.0;
        println!(
            "{format:<7} {:>7}  {seconds:>7.2}  {extra:>20.1}  {size:>10.1}",
            task["result"]["recordCount"]
        );
    }
    server.stop().await
}
