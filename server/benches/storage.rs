//! Storage benchmark: batch-insert throughput of raw samples and bytes per stored sample, with the
//! (host_id, ts) B-tree primary key compared against a BRIN index on the same columns.
//!
//! Needs `DATABASE_URL` (scripts/bench.sh starts a throwaway PostgreSQL). Prints figures only.
use app::models::{FilesystemUsage, Stats};
use chrono::{Duration, TimeZone, Utc};
use lookout::storage::{
    hosts::{self, HostFacts},
    samples::{self, SampleRow},
    MIGRATOR,
};
use sqlx::{postgres::PgPoolOptions, PgPool};
use std::time::Instant;

const SAMPLES: usize = 100_000;
/// The sampler writes small batches; ingest writes up to 5 000 rows per transaction.
const BATCHES: [usize; 2] = [500, 5_000];

fn synthetic(i: usize) -> Stats {
    let t = i as f64;
    let mut s = Stats {
        timestamp: Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("valid")
            + Duration::seconds(10 * i as i64),
        ..Default::default()
    };
    // Smooth daily shape plus jitter: realistic entropy for the storage figures.
    let day = (t * 10.0 / 86_400.0 * std::f64::consts::TAU).sin();
    let jitter = ((i * 7919) % 1000) as f64 / 1000.0;
    s.cpu.percent = 35.0 + 20.0 * day + 5.0 * jitter;
    s.cpu.cores = 8;
    s.cpu.frequency = 2600;
    s.cpu.usage_mhz = s.cpu.percent / 100.0 * 2600.0 * 8.0;
    s.cpu.load1 = 2.0 + day + jitter;
    s.cpu.load5 = 2.0 + day;
    s.cpu.load15 = 2.0 + day * 0.8;
    s.memory.total = 32 << 30;
    s.memory.used = ((12.0 + 4.0 * day + jitter) * (1u64 << 30) as f64) as u64;
    s.memory.available = s.memory.total - s.memory.used;
    s.memory.free = s.memory.available / 2;
    s.memory.cached = s.memory.available / 3;
    s.memory.percent = s.memory.used as f64 / s.memory.total as f64 * 100.0;
    s.disk.total = 500 << 30;
    s.disk.used = (200 << 30) + (i as u64) * 4096;
    s.disk.free = s.disk.total - s.disk.used;
    s.disk.percent = s.disk.used as f64 / s.disk.total as f64 * 100.0;
    s.disk.read_bytes = (i as u64) * 81_920;
    s.disk.write_bytes = (i as u64) * 163_840;
    s.disk.read_bps = 8192.0 * (1.0 + jitter);
    s.disk.write_bps = 16384.0 * (1.0 + jitter);
    s.disk.read_iops = 2.0 + jitter;
    s.disk.write_iops = 4.0 + jitter;
    s.disk.read_latency_ms = 0.4 + jitter;
    s.disk.write_latency_ms = 0.9 + jitter;
    s.disk.filesystems = vec![FilesystemUsage {
        device: "/dev/sda1".into(),
        mountpoint: "/".into(),
        total: s.disk.total,
        free: s.disk.free,
        percent: s.disk.percent,
    }];
    s.network.bytes_recv = (i as u64) * 1_250_000;
    s.network.bytes_sent = (i as u64) * 600_000;
    s.network.packets_recv = (i as u64) * 900;
    s.network.packets_sent = (i as u64) * 500;
    s.network.in_bps = 125_000.0 * (1.0 + day.abs());
    s.network.out_bps = 60_000.0 * (1.0 + jitter);
    s.processes.total = 240 + (i % 7) as u32;
    s.processes.running = 2 + (i % 3) as u32;
    s.processes.sleeping = s.processes.total - s.processes.running;
    s.connections.active = 40 + (i % 11) as u32;
    s.connections.listening = 12;
    s.connections.established = 35 + (i % 9) as u32;
    s
}

async fn scalar(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, Option<i64>>(sql)
        .fetch_one(pool)
        .await
        .expect("size query")
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let base = std::env::var("DATABASE_URL")
        .map_err(|_| anyhow::anyhow!("set DATABASE_URL (scripts/bench.sh does)"))?;
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&base)
        .await?;
    sqlx::query("DROP DATABASE IF EXISTS lookout_bench")
        .execute(&admin)
        .await?;
    sqlx::query("CREATE DATABASE lookout_bench")
        .execute(&admin)
        .await?;
    let (head, query) = base
        .split_once('?')
        .map(|(h, q)| (h, format!("?{q}")))
        .unwrap_or((&base, String::new()));
    let url = format!(
        "{}/lookout_bench{query}",
        head.rsplit_once('/').map(|(s, _)| s).unwrap_or(head)
    );
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(&url)
        .await?;
    MIGRATOR.run(&pool).await?;
    let mut throughput = Vec::new();
    let mut rows = Vec::new();
    let mut host_id = 0;
    for batch in BATCHES {
        let vm_id = format!("bench-{batch}");
        host_id = hosts::upsert(
            &pool,
            &HostFacts {
                vm_id: vm_id.clone(),
                name: vm_id,
                ..Default::default()
            },
        )
        .await?
        .0;
        rows = (0..SAMPLES)
            .map(|i| SampleRow::from_stats(host_id, &synthetic(i)))
            .collect::<Vec<SampleRow>>();
        let started = Instant::now();
        for (n, chunk) in rows.chunks(batch).enumerate() {
            samples::insert_batch(&pool, chunk).await?;
            if (n + 1) * batch % 10_000 == 0 {
                eprint!(
                    "\rbatches of {batch}: {:>3} %",
                    (n + 1) * batch * 100 / SAMPLES
                );
            }
        }
        throughput.push((batch, SAMPLES as f64 / started.elapsed().as_secs_f64()));
        eprintln!();
    }
    let again = Instant::now();
    let duplicates = samples::insert_batch(&pool, &rows[..500]).await?;
    let resend_ms = again.elapsed().as_secs_f64() * 1000.0;
    sqlx::query("VACUUM ANALYZE samples").execute(&pool).await?;

    let heap = scalar(&pool, "SELECT sum(pg_relation_size(inhrelid))::int8 FROM pg_inherits WHERE inhparent = 'samples'::regclass").await;
    let toast = scalar(
        &pool,
        "SELECT sum(pg_table_size(inhrelid) - pg_relation_size(inhrelid))::int8 FROM pg_inherits WHERE inhparent = 'samples'::regclass",
    )
    .await;
    let btree = scalar(&pool, "SELECT sum(pg_indexes_size(inhrelid))::int8 FROM pg_inherits WHERE inhparent = 'samples'::regclass").await;
    sqlx::query("CREATE INDEX samples_brin ON samples USING brin (host_id, ts)")
        .execute(&pool)
        .await?;
    let both = scalar(&pool, "SELECT sum(pg_indexes_size(inhrelid))::int8 FROM pg_inherits WHERE inhparent = 'samples'::regclass").await;
    let brin = both - btree;
    let total = samples::table_bytes(&pool).await? - brin;
    let values_per_sample = 42.0; // typed metric columns per row, excluding host and time

    let n = (SAMPLES * BATCHES.len()) as f64;
    println!("raw samples: {SAMPLES} rows per host at 10 s, one host per batch size, default durability (fsync on)");
    for (batch, rate) in &throughput {
        println!("insert throughput, binary COPY into samples, one writer, rows per transaction {batch}: {rate:.0} samples/s");
    }
    println!("re-sending a batch of 500 already stored: {duplicates} new rows, {resend_ms:.1} ms");
    println!("bytes per sample: {:.1} total (heap {:.1}, TOAST/FSM/VM {:.1}, (host_id, ts) B-tree {:.1})", total as f64 / n, heap as f64 / n, toast as f64 / n, btree as f64 / n);
    println!(
        "bytes per value: {:.1} ({values_per_sample} typed values per sample)",
        total as f64 / n / values_per_sample
    );
    println!(
        "BRIN (host_id, ts) for comparison: {:.3} bytes per sample ({brin} bytes in all)",
        brin as f64 / n
    );

    // The query the live page and /history issue: the last hour of one host, bucketed by minute.
    let until = rows.last().map(|r| r.ts).expect("rows");
    let mut timings = Vec::new();
    for _ in 0..50 {
        let start = Instant::now();
        sqlx::query("SELECT date_bin('60 s', ts, timestamptz 'epoch'), avg(cpu_percent) FROM samples WHERE host_id = $1 AND ts > $2 GROUP BY 1")
            .bind(host_id)
            .bind(until - Duration::hours(1))
            .fetch_all(&pool)
            .await?;
        timings.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    timings.sort_by(f64::total_cmp);
    println!(
        "last hour by minute (B-tree + BRIN present): p50 {:.2} ms, p99 {:.2} ms",
        timings[25], timings[49]
    );
    pool.close().await;
    sqlx::query("DROP DATABASE lookout_bench")
        .execute(&admin)
        .await?;
    Ok(())
}
