//! Forecast accuracy against known growth: simulates a fleet (default 100 hosts × 90 days at
//! 15 min) whose ground truth gives each host's linear growth per metric and its incidents, asks
//! `/history/trends` for every host over the 90 days, and compares growth rates and days until
//! 80 % with the truth. The true line includes the lasting level shifts injected before the end
//! (memory): today's true level grown at the true rate. Where steps are reported, the planning
//! view `ifShiftsRecur` is also compared with it (it is meant to come earlier).
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
    // The server's workers are already running and may hold locks the TRUNCATE needs in
    // another order: a deadlock there is retried.
    let mut attempt = 0;
    while let Err(error) =
        sqlx::query("TRUNCATE samples, rollup_hourly, rollup_daily, rollup_queue_hourly, rollup_queue_daily, anomalies, timeline_events")
            .execute(&server.pool)
            .await
    {
        attempt += 1;
        if attempt >= 5 {
            return Err(error.into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    sqlx::query("DELETE FROM hosts WHERE vm_id LIKE 'sim-%'")
        .execute(&server.pool)
        .await?;
    let until = Utc::now();
    let plan = simulate::Plan {
        hosts,
        days,
        interval_secs: 900,
        seed: 7,
        until,
    };
    let (truth, written) = simulate::run(&server.pool, &plan, true).await?;
    println!("simulated {hosts} hosts × {days} days at 15 min: {written} samples");

    let client = reqwest::Client::new();
    // metric → (growth errors pp/day, relative growth errors, relative days-to-80 % errors, misses)
    let mut growth_abs: [Vec<f64>; 3] = Default::default();
    let mut growth_rel: [Vec<f64>; 3] = Default::default();
    let mut days_rel: [Vec<f64>; 3] = Default::default();
    // `ifShiftsRecur` against the same truth, where steps were reported.
    let mut overall_rel: [Vec<f64>; 3] = Default::default();
    let mut missed = [0usize; 3];
    let mut with_steps = [0usize; 3];
    // Injected memory shifts, and reported steps matching one within two days (size within 30 %).
    let (mut injected, mut reported, mut matched) = (0usize, 0usize, 0usize);
    let names = ["disk", "cpu", "memory"];
    let date_of = |v: &Value| {
        v.as_str()
            .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
            .map(|d| d.with_timezone(&Utc))
    };
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
            let shifts: Vec<&simulate::Incident> = host
                .incidents
                .iter()
                .filter(|i| i.kind == "level_shift" && i.metric == *name && i.start < until)
                .collect();
            let forecast = &data["forecast"][name];
            let steps = forecast["levelShifts"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let recurring = &forecast["ifShiftsRecur"];
            if *name == "memory" {
                injected += shifts.len();
                reported += steps.len();
                matched += shifts
                    .iter()
                    .filter(|i| {
                        steps.iter().any(|s| {
                            let close = date_of(&s["date"])
                                .is_some_and(|d| (d - i.start).num_hours().abs() <= 48);
                            close
                                && ((s["change"].as_f64().unwrap_or(0.0) - i.magnitude)
                                    / i.magnitude)
                                    .abs()
                                    <= 0.3
                        })
                    })
                    .count();
            }
            if !steps.is_empty() {
                with_steps[k] += 1;
            }
            let estimated = data["growthRates"][name]["daily"]
                .as_f64()
                .unwrap_or(f64::NAN);
            growth_abs[k].push((estimated - growth).abs());
            if growth.abs() >= 0.05 {
                growth_rel[k].push(((estimated - growth) / growth).abs());
            }
            // The true line's crossing, counted from the end of the history.
            let level_now =
                base + growth * f64::from(days) + shifts.iter().map(|i| i.magnitude).sum::<f64>();
            if growth <= 0.0 || level_now >= THRESHOLD {
                continue;
            }
            let true_days = (THRESHOLD - level_now) / growth;
            if true_days > 700.0 {
                continue;
            }
            let relative = |date: chrono::DateTime<Utc>| {
                ((((date - until).num_seconds() as f64 / 86_400.0) - true_days) / true_days).abs()
            };
            match date_of(&forecast["capacityExceedDate"]) {
                Some(date) => days_rel[k].push(relative(date)),
                None => missed[k] += 1,
            }
            if let Some(date) = date_of(&recurring["capacityExceedDate"]) {
                overall_rel[k].push(relative(date));
            }
        }
    }
    println!("{hosts} hosts, {days} days of history, threshold {THRESHOLD} %, linear method");
    println!("  memory level shifts: {injected} injected, {reported} reported, {matched} injected ones found (within 2 days and 30 % of their size)");
    for (k, name) in names.iter().enumerate() {
        let mut abs = growth_abs[k].clone();
        abs.sort_by(f64::total_cmp);
        let mut rel = growth_rel[k].clone();
        rel.sort_by(f64::total_cmp);
        let mut d = days_rel[k].clone();
        d.sort_by(f64::total_cmp);
        let mut overall = overall_rel[k].clone();
        overall.sort_by(f64::total_cmp);
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
            "  {name:<6} growth error median {:.4} pp/day (p90 {:.4}); relative, where |growth| ≥ 0.05: median {:.1} %; {line}; hosts with steps reported: {}",
            percentile(&abs, 0.5),
            percentile(&abs, 0.9),
            if rel.is_empty() { f64::NAN } else { percentile(&rel, 0.5) * 100.0 },
            with_steps[k],
        );
        if !overall.is_empty() {
            println!(
                "         ifShiftsRecur on those hosts: relative error median {:.1} %, p90 {:.1} % (it expects more steps, so it comes earlier)",
                percentile(&overall, 0.5) * 100.0,
                percentile(&overall, 0.9) * 100.0
            );
        }
    }
    server.stop().await
}
