//! The performance summary of one host over a period (`GET /api/v1/performance/summary`):
//! current/average/max/min and direction per resource, network throughput and totals, and alert
//! counts, from the raw samples.
use crate::{alerts::store as alert_store, analysis::trend::direction};
use app::models::{AlertCounts, NetworkSummary, PerformanceSummary, ResourceSummary};
use chrono::{Duration, Utc};
use sqlx::PgPool;

/// Buckets the period is cut into for the direction test.
const TREND_BUCKETS: i64 = 60;
/// A resource is increasing/decreasing only if its fitted change over the period is at least this
/// many percentage points (see `analysis::trend::direction`).
const MIN_TREND_CHANGE_PP: f64 = 2.0;

/// The resources a summary may be asked for.
pub const RESOURCES: [&str; 4] = ["cpu", "memory", "disk", "network"];

#[derive(sqlx::FromRow)]
struct Aggregates {
    count: i64,
    cpu_avg: Option<f64>,
    cpu_max: Option<f64>,
    cpu_min: Option<f64>,
    mem_avg: Option<f64>,
    mem_max: Option<f64>,
    mem_min: Option<f64>,
    disk_avg: Option<f64>,
    disk_max: Option<f64>,
    disk_min: Option<f64>,
    out_bps: Option<f64>,
    in_bps: Option<f64>,
}

/// The newest value of CPU, memory, disk, upload and download (each may be absent).
type Newest = (
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
);
/// A trend bucket: its index and the CPU, memory and disk averages.
type Bucket = (i64, Option<f64>, Option<f64>, Option<f64>);

fn round2(value: Option<f64>) -> Option<f64> {
    value.map(|v| (v * 100.0).round() / 100.0)
}

fn whole(value: Option<f64>) -> i64 {
    value.map_or(0, |v| v.round() as i64)
}

/// One resource's figures and its direction over the trend buckets' means (`None` where a
/// bucket had no value), in bucket order.
fn resource(
    (current, average, maximum, minimum): (Option<f64>, Option<f64>, Option<f64>, Option<f64>),
    means: &[Option<f64>],
) -> ResourceSummary {
    ResourceSummary {
        current: round2(current),
        average: round2(average),
        maximum: round2(maximum),
        minimum: round2(minimum),
        trend: direction(means, MIN_TREND_CHANGE_PP).as_str().to_owned(),
    }
}

/// Alert counts by level from (level, count) rows.
fn alert_counts(rows: &[(String, i64)]) -> AlertCounts {
    let of = |level: &str| rows.iter().filter(|(l, _)| l == level).map(|c| c.1).sum();
    AlertCounts {
        total: rows.iter().map(|c| c.1).sum(),
        critical: of("critical"),
        warning: of("warning"),
        info: of("info"),
    }
}

/// The summary of `host_id` over the `period` ending now, for the `wanted` resources (names of
/// `RESOURCES`); `period_name` is echoed.
pub async fn summarize(
    pool: &PgPool,
    host_id: i32,
    period_name: &str,
    period: Duration,
    wanted: &[String],
) -> Result<PerformanceSummary, sqlx::Error> {
    let end = Utc::now();
    let start = end - period;
    let bucket_secs = (period.num_seconds() / TREND_BUCKETS).max(1);

    let aggregates: Aggregates = sqlx::query_as(
        "SELECT count(*) AS count, avg(cpu_percent)::float8 AS cpu_avg, max(cpu_percent)::float8 AS cpu_max, min(cpu_percent)::float8 AS cpu_min,
                avg(mem_percent)::float8 AS mem_avg, max(mem_percent)::float8 AS mem_max, min(mem_percent)::float8 AS mem_min,
                avg(disk_percent)::float8 AS disk_avg, max(disk_percent)::float8 AS disk_max, min(disk_percent)::float8 AS disk_min,
                avg(net_out_bps)::float8 AS out_bps, avg(net_in_bps)::float8 AS in_bps
         FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3",
    )
    .bind(host_id)
    .bind(start)
    .bind(end)
    .fetch_one(pool)
    .await?;
    // The newest value of each column (a partial sample may carry only some of them).
    let current: Newest = sqlx::query_as(
        "SELECT (SELECT cpu_percent::float8 FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3 AND cpu_percent IS NOT NULL ORDER BY ts DESC LIMIT 1),
                (SELECT mem_percent::float8 FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3 AND mem_percent IS NOT NULL ORDER BY ts DESC LIMIT 1),
                (SELECT disk_percent::float8 FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3 AND disk_percent IS NOT NULL ORDER BY ts DESC LIMIT 1),
                (SELECT net_out_bps::float8 FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3 AND net_out_bps IS NOT NULL ORDER BY ts DESC LIMIT 1),
                (SELECT net_in_bps::float8 FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3 AND net_in_bps IS NOT NULL ORDER BY ts DESC LIMIT 1)",
    )
    .bind(host_id)
    .bind(start)
    .bind(end)
    .fetch_one(pool)
    .await?;
    let buckets: Vec<Bucket> = sqlx::query_as(
        "SELECT floor(extract(epoch FROM ts - $2) / $4)::int8 AS b, avg(cpu_percent)::float8, avg(mem_percent)::float8, avg(disk_percent)::float8
         FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3 GROUP BY b ORDER BY b",
    )
    .bind(host_id)
    .bind(start)
    .bind(end)
    .bind(bucket_secs as f64)
    .fetch_all(pool)
    .await?;
    // Bytes moved in the period: the sum of positive counter steps (a reboot resets the counters).
    let (sent, received): (Option<f64>, Option<f64>) = sqlx::query_as(
        "SELECT sum(greatest(sent, 0))::float8, sum(greatest(recv, 0))::float8 FROM (
             SELECT net_bytes_sent - lag(net_bytes_sent) OVER w AS sent, net_bytes_recv - lag(net_bytes_recv) OVER w AS recv
             FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3 WINDOW w AS (ORDER BY ts)) steps",
    )
    .bind(host_id)
    .bind(start)
    .bind(end)
    .fetch_one(pool)
    .await?;
    let alerts = alert_counts(&alert_store::counts_since(pool, Some(host_id), start).await?);
    let a = &aggregates;
    let stats = [
        (current.0, a.cpu_avg, a.cpu_max, a.cpu_min),
        (current.1, a.mem_avg, a.mem_max, a.mem_min),
        (current.2, a.disk_avg, a.disk_max, a.disk_min),
    ];
    let asked = |name: &str| wanted.iter().any(|w| w == name);
    let mut resources = [None, None, None];
    for (index, slot) in resources.iter_mut().enumerate() {
        if !asked(RESOURCES[index]) {
            continue;
        }
        let mut means = vec![None; TREND_BUCKETS as usize + 1];
        for bucket in &buckets {
            if let Some(mean) = usize::try_from(bucket.0)
                .ok()
                .and_then(|b| means.get_mut(b))
            {
                *mean = [bucket.1, bucket.2, bucket.3][index];
            }
        }
        *slot = Some(resource(stats[index], &means));
    }
    let [cpu, memory, disk] = resources;
    let network = asked("network").then(|| NetworkSummary {
        throughput_upload: whole(aggregates.out_bps),
        throughput_download: whole(aggregates.in_bps),
        current_upload: whole(current.3),
        current_download: whole(current.4),
        total_upload: whole(sent),
        total_download: whole(received),
    });
    Ok(PerformanceSummary {
        period: period_name.to_owned(),
        cpu,
        memory,
        disk,
        network,
        alerts,
        samples: aggregates.count,
        start,
        end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_have_two_decimals_and_a_direction() {
        let climb: Vec<Option<f64>> = (0..61).map(|i| Some(40.0 + i as f64 * 0.1)).collect();
        let summary = resource((Some(46.004), Some(43.005), Some(46.0), None), &climb);
        assert_eq!(
            (
                summary.current,
                summary.average,
                summary.maximum,
                summary.minimum
            ),
            (Some(46.0), Some(43.01), Some(46.0), None)
        );
        assert_eq!(summary.trend, "increasing");
        let flat = vec![Some(40.0); 61];
        assert_eq!(resource((None, None, None, None), &flat).trend, "stable");
    }

    #[test]
    fn alerts_are_counted_by_level_and_in_total() {
        let rows = [
            ("critical".to_string(), 2),
            ("warning".to_string(), 3),
            ("info".to_string(), 1),
        ];
        assert_eq!(
            alert_counts(&rows),
            AlertCounts {
                total: 6,
                critical: 2,
                warning: 3,
                info: 1
            }
        );
        assert_eq!(alert_counts(&[]), AlertCounts::default());
    }
}
