//! One host's raw samples over a period, summed up for the performance summary (aggregates, the
//! newest value of each resource, means per trend bucket and the bytes moved) and for reports
//! (each metric's figures with its 95th percentile, and a series) — each read in one snapshot,
//! so the figures agree with each other.
use super::catalog::Metric;
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};

/// Average, maximum and minimum of one column over the period.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Spread {
    pub average: Option<f64>,
    pub maximum: Option<f64>,
    pub minimum: Option<f64>,
}

/// What the period's samples come to. CPU, memory and disk are percent; network bytes/s.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PeriodFigures {
    pub samples: i64,
    /// CPU, memory, disk.
    pub spreads: [Spread; 3],
    /// The newest value of CPU, memory and disk (a partial sample may carry only some).
    pub newest: [Option<f64>; 3],
    /// Average upload and download.
    pub average_bps: (Option<f64>, Option<f64>),
    /// Newest upload and download.
    pub newest_bps: (Option<f64>, Option<f64>),
    /// Per trend bucket from the period's start: its index and the CPU, memory and disk means.
    pub buckets: Vec<(i64, [Option<f64>; 3])>,
    /// Bytes sent and received: the sum of positive counter steps (a reboot resets counters).
    pub bytes_moved: (Option<f64>, Option<f64>),
}

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

type Newest = (
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
);

/// A trend bucket's index and its CPU, memory and disk means.
type BucketRow = (i64, Option<f64>, Option<f64>, Option<f64>);

/// The figures of `host_id`'s samples in `(start, end]`, with trend buckets `bucket_secs` long.
pub async fn figures(
    pool: &PgPool,
    host_id: i32,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    bucket_secs: i64,
) -> Result<PeriodFigures, sqlx::Error> {
    let mut tx = super::read_snapshot(pool).await?;
    let a: Aggregates = sqlx::query_as(
        "SELECT count(*) AS count, avg(cpu_percent)::float8 AS cpu_avg, max(cpu_percent)::float8 AS cpu_max, min(cpu_percent)::float8 AS cpu_min,
                avg(mem_percent)::float8 AS mem_avg, max(mem_percent)::float8 AS mem_max, min(mem_percent)::float8 AS mem_min,
                avg(disk_percent)::float8 AS disk_avg, max(disk_percent)::float8 AS disk_max, min(disk_percent)::float8 AS disk_min,
                avg(net_out_bps)::float8 AS out_bps, avg(net_in_bps)::float8 AS in_bps
         FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3",
    )
    .bind(host_id)
    .bind(start)
    .bind(end)
    .fetch_one(&mut *tx)
    .await?;
    let newest: Newest = sqlx::query_as(
        "SELECT (SELECT cpu_percent::float8 FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3 AND cpu_percent IS NOT NULL ORDER BY ts DESC LIMIT 1),
                (SELECT mem_percent::float8 FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3 AND mem_percent IS NOT NULL ORDER BY ts DESC LIMIT 1),
                (SELECT disk_percent::float8 FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3 AND disk_percent IS NOT NULL ORDER BY ts DESC LIMIT 1),
                (SELECT net_out_bps::float8 FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3 AND net_out_bps IS NOT NULL ORDER BY ts DESC LIMIT 1),
                (SELECT net_in_bps::float8 FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3 AND net_in_bps IS NOT NULL ORDER BY ts DESC LIMIT 1)",
    )
    .bind(host_id)
    .bind(start)
    .bind(end)
    .fetch_one(&mut *tx)
    .await?;
    let buckets: Vec<BucketRow> = sqlx::query_as(
        "SELECT floor(extract(epoch FROM ts - $2) / $4)::int8 AS b, avg(cpu_percent)::float8, avg(mem_percent)::float8, avg(disk_percent)::float8
         FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3 GROUP BY b ORDER BY b",
    )
    .bind(host_id)
    .bind(start)
    .bind(end)
    .bind(bucket_secs as f64)
    .fetch_all(&mut *tx)
    .await?;
    let bytes_moved: (Option<f64>, Option<f64>) = sqlx::query_as(
        "SELECT sum(greatest(sent, 0))::float8, sum(greatest(recv, 0))::float8 FROM (
             SELECT net_bytes_sent - lag(net_bytes_sent) OVER w AS sent, net_bytes_recv - lag(net_bytes_recv) OVER w AS recv
             FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3 WINDOW w AS (ORDER BY ts)) steps",
    )
    .bind(host_id)
    .bind(start)
    .bind(end)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let spread = |average, maximum, minimum| Spread {
        average,
        maximum,
        minimum,
    };
    Ok(PeriodFigures {
        samples: a.count,
        spreads: [
            spread(a.cpu_avg, a.cpu_max, a.cpu_min),
            spread(a.mem_avg, a.mem_max, a.mem_min),
            spread(a.disk_avg, a.disk_max, a.disk_min),
        ],
        newest: [newest.0, newest.1, newest.2],
        average_bps: (a.out_bps, a.in_bps),
        newest_bps: (newest.3, newest.4),
        buckets: buckets
            .into_iter()
            .map(|(b, cpu, memory, disk)| (b, [cpu, memory, disk]))
            .collect(),
        bytes_moved,
    })
}

/// One metric's figures over a report's period.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MetricFigures {
    pub spread: Spread,
    /// Exact (`percentile_cont`).
    pub p95: Option<f64>,
    /// The newest value in the period.
    pub newest: Option<f64>,
}

/// What a report's period of samples comes to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportFigures {
    pub samples: i64,
    /// In the order of the metrics asked for.
    pub metrics: Vec<MetricFigures>,
    /// Per series bucket: its start and the CPU, memory and disk percent means.
    pub series: Vec<(DateTime<Utc>, [Option<f64>; 3])>,
}

/// A series bucket's start and its CPU, memory and disk means.
type SeriesRow = (DateTime<Utc>, Option<f64>, Option<f64>, Option<f64>);

/// The figures of `host_id`'s samples in `(start, end]` for a report: each of `metrics` (catalogue
/// metrics, read from the samples through their `raw_sql`) in one aggregate, their newest values,
/// and CPU, memory and disk means per bucket of `series_width` from `start` — one snapshot, so
/// the figures agree with each other.
pub async fn report_figures(
    pool: &PgPool,
    host_id: i32,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    metrics: &[&Metric],
    series_width: chrono::Duration,
) -> Result<ReportFigures, sqlx::Error> {
    let mut aggregates = String::from("SELECT count(*)");
    let mut newest = String::from("SELECT 0::int4");
    for metric in metrics {
        let c = metric.raw_sql;
        aggregates.push_str(&format!(
            ", avg({c})::float8, max({c})::float8, min({c})::float8, percentile_cont(0.95) WITHIN GROUP (ORDER BY {c})::float8"
        ));
        newest.push_str(&format!(
            ", (SELECT {c}::float8 FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3 AND {c} IS NOT NULL ORDER BY ts DESC LIMIT 1)"
        ));
    }
    aggregates.push_str(" FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3");
    let mut tx = super::read_snapshot(pool).await?;
    // Only catalogue expressions are interpolated; values are bound.
    let totals = sqlx::query(sqlx::AssertSqlSafe(aggregates))
        .bind(host_id)
        .bind(start)
        .bind(end)
        .fetch_one(&mut *tx)
        .await?;
    let newest = sqlx::query(sqlx::AssertSqlSafe(newest))
        .bind(host_id)
        .bind(start)
        .bind(end)
        .fetch_one(&mut *tx)
        .await?;
    let series: Vec<SeriesRow> = sqlx::query_as(
        "SELECT date_bin($4, ts, $2), avg(cpu_percent)::float8, avg(mem_percent)::float8, avg(disk_percent)::float8
         FROM samples WHERE host_id = $1 AND ts > $2 AND ts <= $3 GROUP BY 1 ORDER BY 1",
    )
    .bind(host_id)
    .bind(start)
    .bind(end)
    .bind(series_width)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut figures = Vec::with_capacity(metrics.len());
    for index in 0..metrics.len() {
        let at = 1 + 4 * index;
        figures.push(MetricFigures {
            spread: Spread {
                average: totals.try_get(at)?,
                maximum: totals.try_get(at + 1)?,
                minimum: totals.try_get(at + 2)?,
            },
            p95: totals.try_get(at + 3)?,
            newest: newest.try_get(1 + index)?,
        });
    }
    Ok(ReportFigures {
        samples: totals.try_get(0)?,
        metrics: figures,
        series: series
            .into_iter()
            .map(|(at, cpu, memory, disk)| (at, [cpu, memory, disk]))
            .collect(),
    })
}
