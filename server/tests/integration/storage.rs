use crate::common::fresh_database;
use app::models::{FilesystemUsage, Stats};
use chrono::{Duration, DurationRound, TimeZone, Utc};
use lookout::storage::{
    hosts::{self, HostFacts},
    samples::{self, SampleRow},
    MIGRATOR,
};
use sqlx::{postgres::PgPoolOptions, PgPool};

/// A pool of `connections` on a fresh, migrated database.
async fn migrated_pool(connections: u32) -> PgPool {
    let pool = PgPoolOptions::new()
        .max_connections(connections)
        .connect(&fresh_database().await)
        .await
        .expect("connect");
    MIGRATOR.run(&pool).await.expect("migrations");
    pool
}

/// A row whose every column holds a distinct value, so a column written in the wrong place or
/// with the wrong encoding shows up when it is read back.
fn distinctive(host_id: i32, minute: i64) -> SampleRow {
    let mut stats = Stats {
        timestamp: Utc
            .with_ymd_and_hms(2026, 3, 4, 5, 6, 7)
            .single()
            .expect("valid")
            + Duration::minutes(minute)
            + Duration::microseconds(123_456),
        ..Default::default()
    };
    stats.cpu.percent = 12.5;
    stats.cpu.cores = 6;
    stats.cpu.frequency = 3_100;
    stats.cpu.usage_mhz = 2_325.25;
    stats.cpu.ready_percent = 0.75;
    (stats.cpu.load1, stats.cpu.load5, stats.cpu.load15) = (1.25, 2.5, 3.75);
    (stats.memory.total, stats.memory.used, stats.memory.free) =
        (64 << 30, 5_000_000_001, 5_000_000_002);
    (
        stats.memory.available,
        stats.memory.cached,
        stats.memory.percent,
    ) = (5_000_000_003, 5_000_000_004, 45.5);
    (stats.memory.swap_total, stats.memory.swap_used) = (5_000_000_005, 5_000_000_006);
    (
        stats.disk.total,
        stats.disk.used,
        stats.disk.free,
        stats.disk.percent,
    ) = (6_000_000_001, 6_000_000_002, 6_000_000_003, 66.25);
    (stats.disk.read_bytes, stats.disk.write_bytes) = (6_000_000_004, 6_000_000_005);
    (
        stats.disk.read_bps,
        stats.disk.write_bps,
        stats.disk.read_iops,
        stats.disk.write_iops,
    ) = (101.5, 102.5, 103.5, 104.5);
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
    (
        stats.processes.total,
        stats.processes.running,
        stats.processes.sleeping,
        stats.processes.zombie,
    ) = (301, 3, 297, 1);
    (
        stats.connections.active,
        stats.connections.listening,
        stats.connections.established,
    ) = (41, 13, 37);
    SampleRow::from_stats(host_id, &stats)
}

#[tokio::test]
async fn batches_round_trip_every_column_and_resending_stores_only_the_new_rows() {
    let pool = migrated_pool(2).await;
    let (host_id, _) = hosts::upsert(
        &pool,
        &HostFacts {
            vm_id: "copy-test".into(),
            name: "copy-test".into(),
            ..Default::default()
        },
    )
    .await
    .expect("host");

    // Out of order on purpose: the writer sorts before it copies.
    let first: Vec<SampleRow> = [2, 0, 1].iter().map(|m| distinctive(host_id, *m)).collect();
    assert_eq!(
        samples::insert_batch(&pool, &first)
            .await
            .expect("first batch"),
        3
    );
    let stored = samples::since(&pool, host_id, first[1].ts)
        .await
        .expect("read back");
    assert_eq!(
        stored,
        vec![first[1].clone(), first[2].clone(), first[0].clone()]
    );

    // A re-sent batch with one new row (an hour later) stores that row only and queues its hour.
    let mut again = first.clone();
    again.push(distinctive(host_id, 60));
    assert_eq!(
        samples::insert_batch(&pool, &again)
            .await
            .expect("re-sent batch"),
        1
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM samples")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(count, 4);
    let queued: Vec<chrono::DateTime<Utc>> = sqlx::query_scalar(
        "SELECT bucket FROM rollup_queue_hourly WHERE host_id = $1 ORDER BY bucket",
    )
    .bind(host_id)
    .fetch_all(&pool)
    .await
    .expect("queue");
    let hour = Utc
        .with_ymd_and_hms(2026, 3, 4, 5, 0, 0)
        .single()
        .expect("valid");
    assert_eq!(queued, vec![hour, hour + Duration::hours(1)]);

    // A batch repeating one instant inside itself keeps one row, not an error.
    let repeated = vec![distinctive(host_id, 120), distinctive(host_id, 120)];
    assert_eq!(
        samples::insert_batch(&pool, &repeated)
            .await
            .expect("repeated"),
        1
    );
    pool.close().await;
}

/// A row of host `host_id` at `ts` with CPU `cpu`.
fn at(host_id: i32, ts: chrono::DateTime<Utc>, cpu: f32) -> SampleRow {
    let mut row = distinctive(host_id, 0);
    row.ts = ts;
    row.cpu_percent = Some(cpu);
    row
}

/// Counts per (host, hour) that disagree between the raw samples and the hourly CPU rollup, and
/// per (host, day) between the hourly rows and the daily one.
async fn disagreeing_buckets(pool: &sqlx::PgPool) -> (i64, i64) {
    let hourly: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT host_id, date_bin('1 hour', ts, timestamptz 'epoch') AS b, count(*) AS n FROM samples GROUP BY 1, 2) s
         FULL JOIN (SELECT host_id, bucket AS b, count AS n FROM rollup_hourly WHERE metric = 1) r USING (host_id, b)
         WHERE s.n IS DISTINCT FROM r.n",
    )
    .fetch_one(pool)
    .await
    .expect("hourly check");
    let daily: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT host_id, date_bin('1 day', bucket, timestamptz 'epoch') AS b, sum(count) AS n
                               FROM rollup_hourly WHERE metric = 1 GROUP BY 1, 2) h
         FULL JOIN (SELECT host_id, bucket AS b, count::int8 AS n FROM rollup_daily WHERE metric = 1) d USING (host_id, b)
         WHERE h.n IS DISTINCT FROM d.n",
    )
    .fetch_one(pool)
    .await
    .expect("daily check");
    (hourly, daily)
}

#[tokio::test]
async fn every_committed_sample_reaches_the_rollups_whatever_the_interleaving_with_the_worker() {
    use lookout::storage::rollups::{self, Tier};
    let pool = migrated_pool(12).await;
    let mut host_ids = Vec::new();
    for h in 0..3 {
        let facts = HostFacts {
            vm_id: format!("race-{h}"),
            name: format!("race-{h}"),
            ..Default::default()
        };
        host_ids.push(hosts::upsert(&pool, &facts).await.expect("host").0);
    }
    // Complete hours two days ago: their buckets are eligible for the worker at once.
    let base =
        chrono::DurationRound::duration_trunc(Utc::now() - Duration::days(2), Duration::hours(1))
            .expect("hour");
    let stop = tokio_util::sync::CancellationToken::new();
    let mut workers = tokio::task::JoinSet::new();
    for tier in [Tier::Hourly, Tier::Hourly, Tier::Daily] {
        let (pool, stop) = (pool.clone(), stop.clone());
        workers.spawn(async move {
            while !stop.is_cancelled() {
                rollups::process_queue(&pool, tier, 50)
                    .await
                    .expect("rollup run");
            }
        });
    }
    // Writers fill one hour after another, as a fleet (or the simulator) does: an hour gets a
    // burst of batches and then nothing more, so a batch lost by the queue is never healed by a
    // later one. Millisecond offsets make hours of thousands of rows, which keeps the worker's
    // transaction open long enough for commits to land between its read and its commit.
    const HOURS: i64 = 12;
    const ROUNDS: i64 = 6;
    const PER_ROUND: i64 = 150;
    const WRITERS: i64 = 4;
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        let (pool, host_ids) = (pool.clone(), host_ids.clone());
        writers.spawn(async move {
            for hour in 0..HOURS {
                for round in 0..ROUNDS {
                    let rows: Vec<SampleRow> = host_ids
                        .iter()
                        .flat_map(|&h| {
                            (0..PER_ROUND).map(move |i| {
                                let offset = (round * PER_ROUND + i) * WRITERS + w;
                                at(
                                    h,
                                    base + Duration::hours(hour) + Duration::milliseconds(offset),
                                    10.0,
                                )
                            })
                        })
                        .collect();
                    samples::insert_batch(&pool, &rows).await.expect("batch");
                }
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.expect("writer");
    }
    stop.cancel();
    while let Some(done) = workers.join_next().await {
        done.expect("worker");
    }
    rollups::run_once(&pool).await.expect("drain");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM samples")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(stored, 3 * HOURS * ROUNDS * PER_ROUND * WRITERS);
    assert_eq!(
        disagreeing_buckets(&pool).await,
        (0, 0),
        "rollup counts equal the raw rows once the queues drain"
    );
    pool.close().await;
}

#[tokio::test]
async fn the_rollup_check_finds_and_requeues_buckets_whose_counts_disagree() {
    use lookout::storage::rollups;
    let url = fresh_database().await;
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(&url)
        .await
        .expect("connect");
    MIGRATOR.run(&pool).await.expect("migrations");
    let facts = HostFacts {
        vm_id: "check-1".into(),
        name: "check-1".into(),
        ..Default::default()
    };
    let host = hosts::upsert(&pool, &facts).await.expect("host").0;
    let day =
        chrono::DurationRound::duration_trunc(Utc::now() - Duration::days(3), Duration::days(1))
            .expect("day");
    let rows: Vec<SampleRow> = [
        day + Duration::hours(2),
        day + Duration::days(1) + Duration::hours(5),
    ]
    .iter()
    .flat_map(|&hour| (0..30).map(move |i| at(host, hour + Duration::seconds(i * 60), 20.0)))
    .collect();
    samples::insert_batch(&pool, &rows).await.expect("batch");
    rollups::run_once(&pool).await.expect("roll up");
    assert_eq!(disagreeing_buckets(&pool).await, (0, 0));

    // What the race left behind: an hour short of samples, a day with no daily row.
    sqlx::query("UPDATE rollup_hourly SET count = count - 7 WHERE bucket = $1")
        .bind(day + Duration::hours(2))
        .execute(&pool)
        .await
        .expect("tamper");
    sqlx::query("DELETE FROM rollup_daily WHERE bucket = $1")
        .bind(day + Duration::days(1))
        .execute(&pool)
        .await
        .expect("tamper");
    assert_eq!(
        disagreeing_buckets(&pool).await,
        (1, 2),
        "the short hour makes its day disagree too"
    );

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_lookout"))
        .args(["check", "rollups"])
        .env("DATABASE_URL", &url)
        .output()
        .expect("lookout runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The short hour's day waits for the hour (its queue entry is the hour's); the day without a
    // daily row is queued itself.
    assert!(stdout.contains("1 hours and 1 days disagreed"), "{stdout}");
    rollups::run_once(&pool).await.expect("roll up again");
    assert_eq!(disagreeing_buckets(&pool).await, (0, 0), "healed");
    let again = lookout::storage::consistency::check_rollups(&pool)
        .await
        .expect("check");
    assert_eq!((again.hours, again.days), (0, 0), "nothing left to queue");
    pool.close().await;
}

#[tokio::test]
async fn idle_workers_have_nothing_due_on_an_empty_database_and_wake_when_work_is_queued() {
    use lookout::{alerts::webhook, storage::rollups};
    let pool = migrated_pool(2).await;
    // Nothing queued: nothing due (an empty table once read as "due now", and the worker spun).
    assert_eq!(webhook::next_due(&pool).await.expect("webhooks"), None);
    assert_eq!(rollups::next_due(&pool).await.expect("rollups"), None);

    // An hour still filling, queued now: due a minute after it was queued. The hour is the one
    // holding now + 2 minutes, so it ends at least two minutes from now whatever the clock reads
    // (taking "now − 1 minute" picked the hour that had just ended when run in an hour's first
    // minute, and CI did once).
    let facts = HostFacts {
        vm_id: "due-01".into(),
        name: "due-01".into(),
        ..Default::default()
    };
    let host = hosts::upsert(&pool, &facts).await.expect("host").0;
    sqlx::query("INSERT INTO rollup_queue_hourly (host_id, bucket) VALUES ($1, date_trunc('hour', now() + interval '2 minutes'))")
        .bind(host)
        .execute(&pool)
        .await
        .expect("queue");
    let due = rollups::next_due(&pool)
        .await
        .expect("rollups")
        .expect("due");
    assert!(
        due > std::time::Duration::from_secs(50) && due <= std::time::Duration::from_secs(60),
        "{due:?}"
    );
    // A bucket of an hour that has ended: due at once.
    sqlx::query("INSERT INTO rollup_queue_hourly (host_id, bucket) VALUES ($1, date_trunc('hour', now()) - interval '3 hours')")
        .bind(host)
        .execute(&pool)
        .await
        .expect("queue");
    assert_eq!(
        rollups::next_due(&pool).await.expect("rollups"),
        Some(std::time::Duration::ZERO)
    );
}

#[tokio::test]
async fn a_shared_round_is_claimed_by_one_server_per_gap() {
    use lookout::storage::rounds::claim;
    let pool = migrated_pool(1).await;
    let hour = std::time::Duration::from_secs(3600);
    assert!(
        claim(&pool, "r", hour).await.expect("claim"),
        "the first claim"
    );
    // Another server (or this one) asking within the gap does not get it; another round does.
    assert!(!claim(&pool, "r", hour).await.expect("claim"));
    assert!(claim(&pool, "other", hour).await.expect("claim"));
    // Once the gap has passed since the last start, it is claimed again.
    sqlx::query(
        "UPDATE shared_rounds SET started_at = now() - interval '61 minutes' WHERE name = 'r'",
    )
    .execute(&pool)
    .await
    .expect("age the round");
    assert!(claim(&pool, "r", hour).await.expect("claim"));
    assert!(!claim(&pool, "r", hour).await.expect("claim"));
}

#[tokio::test]
async fn a_custom_metric_day_written_to_while_it_is_judged_stays_queued() {
    use lookout::storage::custom_metrics::{self, NewPoint};
    let pool = migrated_pool(2).await;
    let (host_id, _) = hosts::upsert(
        &pool,
        &HostFacts {
            vm_id: "late".into(),
            name: "late".into(),
            ..Default::default()
        },
    )
    .await
    .expect("host");
    let now = Utc::now();
    let point = |ts| NewPoint {
        name: "orders".into(),
        ts,
        value: 1.0,
        unit: String::new(),
        category: "custom".into(),
        tags: serde_json::json!({}),
        host_id: Some(host_id),
    };
    let live_from = now - Duration::hours(3);
    let two_days_ago = now - Duration::days(2);
    custom_metrics::insert(&pool, &[point(two_days_ago), point(now)], live_from)
        .await
        .expect("insert");
    let since = now - Duration::days(30);
    let read = custom_metrics::unjudged(&pool, since, 100)
        .await
        .expect("read");
    // Only the old point's day waits; the live rounds judge the new one.
    assert_eq!(read.len(), 1, "{read:?}");
    assert_eq!(
        read[0].day,
        two_days_ago.duration_trunc(Duration::days(1)).expect("day")
    );
    // Written to again while being judged: it stays for the next round.
    custom_metrics::insert(
        &pool,
        &[point(two_days_ago + Duration::minutes(1))],
        live_from,
    )
    .await
    .expect("insert");
    custom_metrics::judged(&pool, &read).await.expect("judged");
    let again = custom_metrics::unjudged(&pool, since, 100)
        .await
        .expect("read");
    assert_eq!(again.len(), 1);
    custom_metrics::judged(&pool, &again).await.expect("judged");
    assert!(custom_metrics::unjudged(&pool, since, 100)
        .await
        .expect("read")
        .is_empty());
}
