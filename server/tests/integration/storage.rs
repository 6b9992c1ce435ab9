use crate::common::fresh_database;
use app::models::{FilesystemUsage, Stats};
use chrono::{Duration, TimeZone, Utc};
use lookout::storage::{
    hosts::{self, HostFacts},
    samples::{self, SampleRow},
    MIGRATOR,
};
use sqlx::postgres::PgPoolOptions;

/// A row whose every column holds a distinct value, so a column written in the wrong place or
/// with the wrong encoding shows up when it is read back.
fn distinctive(host_id: i32, minute: i64) -> SampleRow {
    let mut stats = Stats {
        timestamp: Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).single().expect("valid") + Duration::minutes(minute)
            + Duration::microseconds(123_456),
        ..Default::default()
    };
    stats.cpu.percent = 12.5;
    stats.cpu.cores = 6;
    stats.cpu.frequency = 3_100;
    stats.cpu.usage_mhz = 2_325.25;
    stats.cpu.ready_percent = 0.75;
    (stats.cpu.load1, stats.cpu.load5, stats.cpu.load15) = (1.25, 2.5, 3.75);
    (stats.memory.total, stats.memory.used, stats.memory.free) = (64 << 30, 5_000_000_001, 5_000_000_002);
    (stats.memory.available, stats.memory.cached, stats.memory.percent) = (5_000_000_003, 5_000_000_004, 45.5);
    (stats.memory.swap_total, stats.memory.swap_used) = (5_000_000_005, 5_000_000_006);
    (stats.disk.total, stats.disk.used, stats.disk.free, stats.disk.percent) = (6_000_000_001, 6_000_000_002, 6_000_000_003, 66.25);
    (stats.disk.read_bytes, stats.disk.write_bytes) = (6_000_000_004, 6_000_000_005);
    (stats.disk.read_bps, stats.disk.write_bps, stats.disk.read_iops, stats.disk.write_iops) = (101.5, 102.5, 103.5, 104.5);
    (stats.disk.read_latency_ms, stats.disk.write_latency_ms) = (0.125, 0.375);
    stats.disk.filesystems = vec![FilesystemUsage {
        device: "/dev/nvme0n1p2".into(),
        mountpoint: "/var/lib/\"quoted\", comma".into(),
        total: 6_000_000_001,
        free: 6_000_000_003,
        percent: 66.25,
    }];
    (stats.network.bytes_recv, stats.network.bytes_sent) = (7_000_000_001, 7_000_000_002);
    (stats.network.packets_recv, stats.network.packets_sent) = (7_000_000_003, 7_000_000_004);
    (stats.network.in_bps, stats.network.out_bps) = (7_500.5, 8_500.5);
    (stats.processes.total, stats.processes.running, stats.processes.sleeping, stats.processes.zombie) = (301, 3, 297, 1);
    (stats.connections.active, stats.connections.listening, stats.connections.established) = (41, 13, 37);
    SampleRow::from_stats(host_id, &stats)
}

#[tokio::test]
async fn batches_round_trip_every_column_and_resending_stores_only_the_new_rows() {
    let url = fresh_database().await;
    let pool = PgPoolOptions::new().max_connections(2).connect(&url).await.expect("connect");
    MIGRATOR.run(&pool).await.expect("migrations");
    let (host_id, _) = hosts::upsert(&pool, &HostFacts { vm_id: "copy-test".into(), name: "copy-test".into(), ..Default::default() })
        .await
        .expect("host");

    // Out of order on purpose: the writer sorts before it copies.
    let first: Vec<SampleRow> = [2, 0, 1].iter().map(|m| distinctive(host_id, *m)).collect();
    assert_eq!(samples::insert_batch(&pool, &first).await.expect("first batch"), 3);
    let stored = samples::since(&pool, host_id, first[1].ts).await.expect("read back");
    assert_eq!(stored, vec![first[1].clone(), first[2].clone(), first[0].clone()]);

    // A re-sent batch with one new row (an hour later) stores that row only and queues its hour.
    let mut again = first.clone();
    again.push(distinctive(host_id, 60));
    assert_eq!(samples::insert_batch(&pool, &again).await.expect("re-sent batch"), 1);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM samples").fetch_one(&pool).await.expect("count");
    assert_eq!(count, 4);
    let queued: Vec<chrono::DateTime<Utc>> =
        sqlx::query_scalar("SELECT bucket FROM rollup_queue_hourly WHERE host_id = $1 ORDER BY bucket")
            .bind(host_id)
            .fetch_all(&pool)
            .await
            .expect("queue");
    let hour = Utc.with_ymd_and_hms(2026, 3, 4, 5, 0, 0).single().expect("valid");
    assert_eq!(queued, vec![hour, hour + Duration::hours(1)]);

    // A batch repeating one instant inside itself keeps one row, not an error.
    let repeated = vec![distinctive(host_id, 120), distinctive(host_id, 120)];
    assert_eq!(samples::insert_batch(&pool, &repeated).await.expect("repeated"), 1);
    pool.close().await;
}
