//! Forecast accuracy against known growth: simulates a fleet (default 100 hosts × 90 days at
//! 15 min) whose ground truth gives each host's linear growth per metric, asks `/history/trends`
//! for every host over the 90 days, and compares growth rates and days until 80 % with the truth.
//!
//! Needs `DATABASE_URL` (scripts/bench.sh starts a throwaway PostgreSQL). The database
//! `lookout_bench_forecast` is recreated on every run.
#[path = "support/mod.rs"]
mod support;

use chrono::Utc;
use lookout::simulate;
use serde_json::{json, Value};
use support::{env_or, percentile, TOKEN};

const THRESHOLD: f64 = 80.0;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let hosts: usize = env_or("BENCH_HOSTS", 100);
    let days: u32 = env_or("BENCH_DAYS", 90);
    let url = support::database("lookout_bench_forecast").await?;
    let server = support::start(url).await?;
    sqlx::query("TRUNCATE samples, rollup_hourly, rollup_daily, rollup_queue_hourly, rollup_queue_daily, anomalies, timeline_events")
        .execute(&server.pool)
        .await?;
    sqlx::query("DELETE FROM hosts WHERE vm_id LIKE 'sim-%'").execute(&server.pool).await?;
    let until = Utc::now();
    let plan = simulate::Plan { hosts, days, interval_secs: 900, seed: 7, until };
    let (truth, written) = simulate::run(&server.pool, &plan, true).await?;
    println!("simulated {hosts} hosts × {days} days at 15 min: {written} samples");

    let client = reqwest::Client::new();
    // metric → (growth errors pp/day, relative growth errors, relative days-to-80 % errors, misses)
    let mut growth_abs: [Vec<f64>; 3] = Default::default();
    let mut growth_rel: [Vec<f64>; 3] = Default::default();
    let mut days_rel: [Vec<f64>; 3] = Default::default();
    let mut missed = [0usize; 3];
    let names = ["disk", "cpu", "memory"];
    for host in &truth.hosts {
        let response = client
            .post(format!("http://127.0.0.1:{}/api/v1/history/trends", server.port))
            .bearer_auth(TOKEN)
            .json(&json!({"vmIds": [host.vm_id], "startTime": truth.start, "endTime": until, "metrics": names,
                          "forecast": {"enabled": true, "horizon": 30, "method": "linear"}, "capacityThreshold": THRESHOLD}))
            .send()
            .await?;
        let body: Value = response.json().await?;
        let data = &body["data"];
        for (k, name) in names.iter().enumerate() {
            let (base, growth) = match *name {
                "disk" => (host.base.disk, host.growth_per_day.disk),
                "cpu" => (host.base.cpu, host.growth_per_day.cpu),
                _ => (host.base.memory, host.growth_per_day.memory),
            };
            let estimated = data["growthRates"][name]["daily"].as_f64().unwrap_or(f64::NAN);
            growth_abs[k].push((estimated - growth).abs());
            if growth.abs() >= 0.05 {
                growth_rel[k].push(((estimated - growth) / growth).abs());
            }
            // The true line's crossing, counted from the end of the history.
            let level_now = base + growth * f64::from(days);
            if growth <= 0.0 || level_now >= THRESHOLD {
                continue;
            }
            let true_days = (THRESHOLD - level_now) / growth;
            if true_days > 700.0 {
                continue;
            }
            match data["forecast"][name]["capacityExceedDate"].as_str().and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok()) {
                Some(date) => {
                    let estimated_days = (date.with_timezone(&Utc) - until).num_seconds() as f64 / 86_400.0;
                    days_rel[k].push(((estimated_days - true_days) / true_days).abs());
                }
                None => missed[k] += 1,
            }
        }
    }
    println!("{hosts} hosts, {days} days of history, threshold {THRESHOLD} %, linear method");
    for (k, name) in names.iter().enumerate() {
        let mut abs = growth_abs[k].clone();
        abs.sort_by(f64::total_cmp);
        let mut rel = growth_rel[k].clone();
        rel.sort_by(f64::total_cmp);
        let mut d = days_rel[k].clone();
        d.sort_by(f64::total_cmp);
        let within = d.iter().filter(|e| **e <= 0.10).count();
        let line = if d.is_empty() {
            "no host crosses within 700 days".to_string()
        } else {
            format!(
                "days to {THRESHOLD} %: {} hosts cross, relative error median {:.1} %, p90 {:.1} %, within 10 %: {within}/{} (no date given: {})",
                d.len() + missed[k],
                percentile(&d, 0.5) * 100.0,
                percentile(&d, 0.9) * 100.0,
                d.len() + missed[k],
                missed[k]
            )
        };
        println!(
            "  {name:<6} growth error median {:.4} pp/day (p90 {:.4}); relative, where |growth| ≥ 0.05: median {:.1} %; {line}",
            percentile(&abs, 0.5),
            percentile(&abs, 0.9),
            if rel.is_empty() { f64::NAN } else { percentile(&rel, 0.5) * 100.0 },
        );
    }
    server.stop().await
}
