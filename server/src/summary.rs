//! The performance summary of one host over a period (`GET /api/v1/performance/summary`):
//! current/average/max/min and direction per resource, network throughput and totals, and alert
//! counts, from the raw samples (`storage::period`).
use crate::{
    alerts::store as alert_store,
    analysis::trend::direction,
    storage::{catalog::Group, period::Spread},
};
use app::models::{AlertCounts, NetworkSummary, PerformanceSummary, ResourceSummary};
use chrono::{Duration, Utc};
use sqlx::PgPool;

/// Buckets the period is cut into for the direction test.
const TREND_BUCKETS: i64 = 60;
/// A resource is increasing/decreasing only if its fitted change over the period is at least this
/// many percentage points (see `analysis::trend::direction`).
const MIN_TREND_CHANGE_PP: f64 = 2.0;

/// The resources a summary may be asked for: the metric groups, CPU, memory and disk first (the
/// order of `storage::period`'s figures).
pub const RESOURCES: [Group; 4] = Group::ALL;

fn round2(value: Option<f64>) -> Option<f64> {
    value.map(|v| (v * 100.0).round() / 100.0)
}

fn whole(value: Option<f64>) -> i64 {
    value.map_or(0, |v| v.round() as i64)
}

/// One resource's figures and its direction over the trend buckets' means (`None` where a
/// bucket had no value), in bucket order.
fn resource(current: Option<f64>, spread: &Spread, means: &[Option<f64>]) -> ResourceSummary {
    ResourceSummary {
        current: round2(current),
        average: round2(spread.average),
        maximum: round2(spread.maximum),
        minimum: round2(spread.minimum),
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

    let figures = crate::storage::period::figures(pool, host_id, (start, end), bucket_secs).await?;
    let alerts = alert_counts(&alert_store::counts_since(pool, Some(host_id), start).await?);
    let asked = |name: &str| wanted.iter().any(|w| w == name);
    let mut resources = [None, None, None];
    for (index, slot) in resources.iter_mut().enumerate() {
        if !asked(RESOURCES[index].name()) {
            continue;
        }
        let mut means = vec![None; TREND_BUCKETS as usize + 1];
        for (bucket, bucket_means) in &figures.buckets {
            if let Some(mean) = usize::try_from(*bucket).ok().and_then(|b| means.get_mut(b)) {
                *mean = bucket_means[index];
            }
        }
        *slot = Some(resource(
            figures.newest[index],
            &figures.spreads[index],
            &means,
        ));
    }
    let [cpu, memory, disk] = resources;
    let network = asked("network").then(|| NetworkSummary {
        throughput_upload: whole(figures.average_bps.0),
        throughput_download: whole(figures.average_bps.1),
        current_upload: whole(figures.newest_bps.0),
        current_download: whole(figures.newest_bps.1),
        total_upload: whole(figures.bytes_moved.0),
        total_download: whole(figures.bytes_moved.1),
    });
    Ok(PerformanceSummary {
        period: period_name.to_owned(),
        cpu,
        memory,
        disk,
        network,
        alerts,
        samples: figures.samples,
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
        let summary = resource(
            Some(46.004),
            &Spread {
                average: Some(43.005),
                maximum: Some(46.0),
                minimum: None,
            },
            &climb,
        );
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
        assert_eq!(resource(None, &Spread::default(), &flat).trend, "stable");
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
