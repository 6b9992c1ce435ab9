//! History benchmark: simulated fleet ingest through the ingest path, then end-to-end latency of
//! `/history/query` and `/history/aggregate` over HTTP against the real server.
//!
//! Needs `DATABASE_URL` (scripts/bench.sh starts a throwaway PostgreSQL). The fleet is written once
//! into the database `lookout_bench_history` and reused by later runs. Size with BENCH_HOSTS
//! (default 100), BENCH_DAYS (90) and BENCH_INTERVAL (300 s); the last BENCH_FINE_DAYS (1) of
//! them are written at 10 s instead (BENCH_FINE_DAYS=30 gives the 100 hosts × 30 days × 10 s fleet).
use chrono::{Duration, Utc};
use lookout::{
    config::{DatabaseArgs, Settings},
    simulate, Application,
};
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use std::time::Instant;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let base = std::env::var("DATABASE_URL").map_err(|_| anyhow::anyhow!("set DATABASE_URL (scripts/bench.sh does)"))?;
    let hosts: usize = env_or("BENCH_HOSTS", 100);
    let days: u32 = env_or("BENCH_DAYS", 90);
    let interval: u64 = env_or("BENCH_INTERVAL", 300);
    let fine_days: u32 = env_or::<u32>("BENCH_FINE_DAYS", 1).min(days);
    let admin = PgPoolOptions::new().max_connections(1).connect(&base).await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'lookout_bench_history')").fetch_one(&admin).await?;
    if !exists {
        sqlx::query("CREATE DATABASE lookout_bench_history").execute(&admin).await?;
    }
    let (head, query) = base.split_once('?').map(|(h, q)| (h, format!("?{q}"))).unwrap_or((&base, String::new()));
    let url = format!("{}/lookout_bench_history{query}", head.rsplit_once('/').map(|(s, _)| s).unwrap_or(head));

    let token = "lk_bench_token_0123456789abcdef".to_string();
    let settings = Settings {
        listen: "127.0.0.1:0".parse()?,
        database: DatabaseArgs { database_url: Some(url), data_dir: "unused".into() },
        sample_interval: std::time::Duration::from_secs(10),
        buffer: std::time::Duration::from_secs(3600),
        admin_password: Some("bench-password".into()),
        bootstrap_token: Some(token.clone()),
        site_root: "target/site".into(),
        body_limit: 1 << 20,
        ingest_body_limit: 16 << 20,
        rollup_interval: std::time::Duration::from_secs(10),
        detect_interval: std::time::Duration::from_secs(300),
        request_timeout: std::time::Duration::from_secs(60),
        trusted_origins: vec![],
        secure_cookie: false,
        demo: false,
    };
    let app = Application::build(settings).await?;
    let pool = app.state().pool.clone();
    let port = app.port();
    let shutdown = app.shutdown_token();
    let server = tokio::spawn(app.run_until_stopped());

    let simulated: i64 = sqlx::query_scalar("SELECT count(*) FROM hosts WHERE vm_id LIKE 'sim-%'").fetch_one(&pool).await?;
    if simulated < hosts as i64 {
        let now = Utc::now();
        let fine_start = now - Duration::days(i64::from(fine_days));
        for (days, interval, until, label) in [(days - fine_days, interval, fine_start, "history"), (fine_days, 10, now, "recent days at 10 s")] {
            if days == 0 {
                continue;
            }
            let plan = simulate::Plan { hosts, days, interval_secs: interval, seed: 1, until };
            let started = Instant::now();
            let (_, written) = simulate::run(&pool, &plan, true).await?;
            let secs = started.elapsed().as_secs_f64();
            println!("simulate {label}: {hosts} hosts × {days} days at {interval} s: {written} samples, {secs:.1} s including rollups ({:.0} samples/s)", written as f64 / secs);
        }
        // As autovacuum would do shortly after a bulk load; measured queries should not race it.
        let started = Instant::now();
        sqlx::query("VACUUM ANALYZE samples, rollup_hourly, rollup_daily").execute(&pool).await?;
        println!("VACUUM ANALYZE after the load: {:.1} s", started.elapsed().as_secs_f64());
    } else {
        println!("reusing the simulated fleet in lookout_bench_history ({simulated} hosts)");
    }

    let client = reqwest::Client::new();
    let now = Utc::now();
    let all: Vec<String> = (0..hosts).map(|h| format!("sim-{h:03}")).collect();
    let cases = [
        ("query: 1 host, 24 h raw (page of 1000)", "/api/v1/history/query",
            json!({"vmIds": ["sim-000"], "startTime": now - Duration::hours(24), "endTime": now, "aggregation": "raw", "pageSize": 1000})),
        ("query: all hosts, 30 days, 1h avg (page of 1000)", "/api/v1/history/query",
            json!({"vmIds": all, "startTime": now - Duration::days(29), "endTime": now, "aggregation": "1h", "aggregationFunc": "avg", "pageSize": 1000})),
        ("query: all hosts, 30 days, 1h p99 (page of 1000)", "/api/v1/history/query",
            json!({"vmIds": all, "startTime": now - Duration::days(29), "endTime": now, "aggregation": "1h", "aggregationFunc": "p99", "pageSize": 1000})),
        ("aggregate: all hosts, 90 days by day, p95", "/api/v1/history/aggregate",
            json!({"vmIds": all, "startTime": now - Duration::days(90), "endTime": now, "metrics": ["cpu", "memory", "disk"], "dimensions": ["avg", "max", "p95"], "groupBy": "day"})),
    ];
    for (label, path, body) in cases {
        let mut timings = Vec::new();
        let mut points = 0;
        // Five warm-up runs (caches, plans), then thirty measured ones.
        for run in 0..35 {
            let started = Instant::now();
            let response = client.post(format!("http://127.0.0.1:{port}{path}")).bearer_auth(&token).json(&body).send().await?;
            let status = response.status();
            let value: Value = response.json().await?;
            if run >= 5 {
                timings.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            anyhow::ensure!(status.is_success(), "{label}: {status} {value}");
            points = value["data"]["data"].as_array().map(Vec::len).or_else(|| value["data"]["timeGroups"].as_array().map(Vec::len)).unwrap_or(0);
        }
        timings.sort_by(f64::total_cmp);
        println!("{label}: p50 {:.1} ms, p99 {:.1} ms ({points} points or groups per answer, 30 runs)", percentile(&timings, 0.5), percentile(&timings, 0.99));
    }

    let sizes: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT p.relname::text, sum(pg_total_relation_size(i.inhrelid))::int8, sum(coalesce(s.n_live_tup, 0))::int8
         FROM pg_class p JOIN pg_inherits i ON i.inhparent = p.oid LEFT JOIN pg_stat_user_tables s ON s.relid = i.inhrelid
         WHERE p.relname IN ('samples', 'rollup_hourly', 'rollup_daily') GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&pool)
    .await?;
    for (table, bytes, rows) in sizes {
        let per_row = if rows > 0 { bytes as f64 / rows as f64 } else { 0.0 };
        println!("storage {table}: {:.1} MiB, {rows} rows, {per_row:.0} bytes per row", bytes as f64 / 1048576.0);
    }
    shutdown.cancel();
    server.await??;
    Ok(())
}
