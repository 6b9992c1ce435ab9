//! History benchmark: simulated fleet ingest through the ingest path, then end-to-end latency of
//! the history API's reads (`/history/query`, `/aggregate`, `/trends`, `/what-if`, `/rightsizing`,
//! `/investigate`, `/anomalies`) and the capacity plan as a PDF, over HTTP against the real server.
//!
//! Needs `DATABASE_URL` (scripts/bench.sh starts a throwaway PostgreSQL). The fleet is written once
//! into the database `lookout_bench_history` and reused by later runs. Size with BENCH_HOSTS
//! (default 100), BENCH_DAYS (90) and BENCH_INTERVAL (300 s); the last BENCH_FINE_DAYS (1) of
//! them are written at 10 s instead (BENCH_FINE_DAYS=30 gives the 100 hosts × 30 days × 10 s fleet).
//! BENCH_CASES=anomalies measures only the cases whose label contains that text (for profiling).
#[path = "support/mod.rs"]
mod support;

use chrono::{Duration, Utc};
use lookout::simulate;
use serde_json::{json, Value};
use std::time::Instant;
use support::{env_or, percentile, TOKEN};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let hosts: usize = env_or("BENCH_HOSTS", 100);
    let days: u32 = env_or("BENCH_DAYS", 90);
    let interval: u64 = env_or("BENCH_INTERVAL", 300);
    let fine_days: u32 = env_or::<u32>("BENCH_FINE_DAYS", 1).min(days);
    let server = support::start(support::database("lookout_bench_history").await?).await?;
    let (pool, port, token) = (server.pool.clone(), server.port, TOKEN.to_string());

    let simulated: i64 = sqlx::query_scalar("SELECT count(*) FROM hosts WHERE vm_id LIKE 'sim-%'")
        .fetch_one(&pool)
        .await?;
    if simulated < hosts as i64 {
        let now = Utc::now();
        let fine_start = now - Duration::days(i64::from(fine_days));
        for (days, interval, until, label) in [
            (days - fine_days, interval, fine_start, "history"),
            (fine_days, 10, now, "recent days at 10 s"),
        ] {
            if days == 0 {
                continue;
            }
            let plan = simulate::Plan {
                hosts,
                days,
                interval_secs: interval,
                seed: 1,
                until,
            };
            let truth = simulate::plan_hosts(&plan);
            let started = Instant::now();
            let written = simulate::write(&pool, &plan, &truth, true).await?;
            let ingest = started.elapsed().as_secs_f64();
            let rolling = Instant::now();
            simulate::roll_up_all(&pool, true).await?;
            println!(
                "simulate {label}: {hosts} hosts × {days} days at {interval} s: {written} samples; ingest {ingest:.1} s ({:.0} samples/s through the ingest path), rollups {:.1} s",
                written as f64 / ingest,
                rolling.elapsed().as_secs_f64()
            );
        }
        // As autovacuum would do shortly after a bulk load; measured queries should not race it.
        let started = Instant::now();
        sqlx::query("VACUUM ANALYZE samples, rollup_hourly, rollup_daily, rollup_fine_daily")
            .execute(&pool)
            .await?;
        println!(
            "VACUUM ANALYZE after the load: {:.1} s",
            started.elapsed().as_secs_f64()
        );
    } else {
        println!("reusing the simulated fleet in lookout_bench_history ({simulated} hosts)");
        // Buckets an upgrade queued again (a migration that adds a rollup column) are rolled up
        // before measuring, so the queries do not race the worker's backlog.
        let rolling = Instant::now();
        simulate::roll_up_all(&pool, true).await?;
        sqlx::query("VACUUM ANALYZE rollup_daily, rollup_fine_daily")
            .execute(&pool)
            .await?;
        println!(
            "queued rollups before measuring: {:.1} s",
            rolling.elapsed().as_secs_f64()
        );
    }

    let client = reqwest::Client::new();
    let now = Utc::now();
    let all: Vec<String> = (0..hosts).map(|h| format!("sim-{h:03}")).collect();
    let cases = [
        (
            "query: 1 host, 24 h raw (page of 1000)",
            "/api/v1/history/query",
            json!({"vmIds": ["sim-000"], "startTime": now - Duration::hours(24), "endTime": now, "aggregation": "raw", "pageSize": 1000}),
        ),
        (
            "query: all hosts, 30 days, 1h avg (page of 1000)",
            "/api/v1/history/query",
            json!({"vmIds": all, "startTime": now - Duration::days(29), "endTime": now, "aggregation": "1h", "aggregationFunc": "avg", "pageSize": 1000}),
        ),
        (
            "query: all hosts, 30 days, 1h p99 (page of 1000)",
            "/api/v1/history/query",
            json!({"vmIds": all, "startTime": now - Duration::days(29), "endTime": now, "aggregation": "1h", "aggregationFunc": "p99", "pageSize": 1000}),
        ),
        (
            "aggregate: all hosts, 90 days by day, p95",
            "/api/v1/history/aggregate",
            json!({"vmIds": all, "startTime": now - Duration::days(90), "endTime": now, "metrics": ["cpu", "memory", "disk"], "dimensions": ["avg", "max", "p95"], "groupBy": "day"}),
        ),
        (
            "trends: all hosts, 12 months, forecast and per-host capacity",
            "/api/v1/history/trends",
            json!({"vmIds": all, "startTime": now - Duration::days(365), "endTime": now, "forecast": {"enabled": true, "horizon": 30, "method": "linear"}}),
        ),
        (
            "what-if: all hosts, 12 months, 30 % more load and 5 hosts more, 90-day projection",
            "/api/v1/history/what-if",
            json!({"vmIds": all, "startTime": now - Duration::days(365), "endTime": now, "horizon": 90,
                   "changes": {"addLoadPercent": 30, "addHosts": 5, "hostsFrom": (now + Duration::days(30)).format("%Y-%m-%d").to_string()}}),
        ),
        (
            "rightsizing: all hosts, last 30 days",
            "/api/v1/history/rightsizing",
            json!({"vmIds": all}),
        ),
        (
            "investigate: 1 host, the last hour against the 4 before",
            "/api/v1/history/investigate",
            json!({"vmIds": ["sim-000"], "startTime": now - Duration::hours(1), "endTime": now}),
        ),
        (
            "investigate: all hosts, the last hour against the 4 before",
            "/api/v1/history/investigate",
            json!({"vmIds": all, "startTime": now - Duration::hours(1), "endTime": now}),
        ),
        (
            "investigate: all hosts, the last day against the 4 before",
            "/api/v1/history/investigate",
            json!({"vmIds": all, "startTime": now - Duration::days(1), "endTime": now}),
        ),
        (
            "anomalies: all hosts, 7 days, medium (hourly, and 5-minute buckets with a week of them before)",
            "/api/v1/history/anomalies",
            json!({"vmIds": all, "startTime": now - Duration::days(7), "endTime": now}),
        ),
        (
            "anomalies: all hosts, 1 year, medium",
            "/api/v1/history/anomalies",
            json!({"vmIds": all, "startTime": now - Duration::days(365), "endTime": now}),
        ),
    ];
    let only: String = env_or("BENCH_CASES", String::new());
    for (label, path, body) in cases
        .into_iter()
        .filter(|(label, _, _)| label.contains(&only))
    {
        let mut timings = Vec::new();
        let mut first = 0.0;
        let mut points = 0;
        // Five warm-up runs (caches, plans, kept anomaly judgements), then thirty measured ones;
        // the first is reported on its own: what a request costs with nothing kept.
        for run in 0..35 {
            let started = Instant::now();
            let response = client
                .post(format!("http://127.0.0.1:{port}{path}"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await?;
            let status = response.status();
            let value: Value = response.json().await?;
            let elapsed = started.elapsed().as_secs_f64() * 1000.0;
            if run == 0 {
                first = elapsed;
            } else if run >= 5 {
                timings.push(elapsed);
            }
            anyhow::ensure!(status.is_success(), "{label}: {status} {value}");
            points = [
                "data",
                "timeGroups",
                "historical",
                "anomalies",
                "changes",
                "hosts",
            ]
            .iter()
            .find_map(|key| value["data"][key].as_array().map(Vec::len))
            .unwrap_or(0);
        }
        timings.sort_by(f64::total_cmp);
        println!(
            "{label}: p50 {:.1} ms, p99 {:.1} ms ({points} points or groups per answer, 30 runs; the first run {first:.1} ms)",
            percentile(&timings, 0.5),
            percentile(&timings, 0.99)
        );
    }

    // The capacity plan of the whole fleet as a PDF (the page's link and the monthly report's
    // work): the plan, the runway of every group, the charts drawn and the document compressed.
    let label = "capacity PDF: all hosts, 12 months, 90-day forecast, the runway of every group";
    if label.contains(&only) {
        let mut timings = Vec::new();
        let mut bytes = 0;
        for run in 0..35 {
            let started = Instant::now();
            let response = client
                .get(format!(
                    "http://127.0.0.1:{port}/api/v1/history/capacity-plan?history=365&horizon=90&threshold=80"
                ))
                .bearer_auth(&token)
                .send()
                .await?;
            let status = response.status();
            let body = response.bytes().await?;
            anyhow::ensure!(
                status.is_success() && body.starts_with(b"%PDF"),
                "{label}: {status}"
            );
            if run >= 5 {
                timings.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            bytes = body.len();
        }
        timings.sort_by(f64::total_cmp);
        println!(
            "{label}: p50 {:.1} ms, p99 {:.1} ms ({bytes} bytes, 30 runs)",
            percentile(&timings, 0.5),
            percentile(&timings, 0.99)
        );
    }

    let sizes: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT p.relname::text, sum(pg_total_relation_size(i.inhrelid))::int8, sum(coalesce(s.n_live_tup, 0))::int8
         FROM pg_class p JOIN pg_inherits i ON i.inhparent = p.oid LEFT JOIN pg_stat_user_tables s ON s.relid = i.inhrelid
         WHERE p.relname IN ('samples', 'rollup_hourly', 'rollup_daily', 'rollup_fine_daily') GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&pool)
    .await?;
    for (table, bytes, rows) in sizes {
        let per_row = if rows > 0 {
            bytes as f64 / rows as f64
        } else {
            0.0
        };
        println!(
            "storage {table}: {:.1} MiB, {rows} rows, {per_row:.0} bytes per row",
            bytes as f64 / 1048576.0
        );
    }
    server.stop().await
}
