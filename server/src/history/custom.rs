//! The custom-metric read path: which tier answers a read of the last `minutes` (raw points up to
//! the raw window, hourly rollups up to 30 days, daily beyond) and the summary over what is
//! returned, for `GET /performance/metrics/{name}`.
use super::series::Series;
use crate::storage::custom_metrics;
use app::models::{
    CustomMetricBucket, CustomMetricPoint, CustomMetricReading, CustomMetricResolution,
    CustomMetricSummary,
};
use chrono::{Duration, Utc};
use serde_json::Value;
use sqlx::PgPool;
use std::collections::BTreeMap;

/// What one read returns.
pub struct CustomRead {
    pub resolution: CustomMetricResolution,
    pub points: Vec<CustomMetricReading>,
    /// More raw points matched than `max_raw_points`; the newest are returned.
    pub truncated: bool,
    pub summary: CustomMetricSummary,
}

/// The tier that answers a read of the last `minutes`.
pub fn resolution_for(minutes: i64) -> CustomMetricResolution {
    if minutes <= custom_metrics::RAW_DAYS * 1440 {
        CustomMetricResolution::Raw
    } else if minutes <= custom_metrics::HOURLY_READ_DAYS * 1440 {
        CustomMetricResolution::Hour
    } else {
        CustomMetricResolution::Day
    }
}

/// Count, mean and extremes over parts that each carry (count, sum, min, max): a raw point is
/// (1, v, v, v), a rollup bucket its own figures. Nothing counted gives the empty summary.
pub fn summarize(parts: impl IntoIterator<Item = (i64, f64, f64, f64)>) -> CustomMetricSummary {
    let (mut count, mut sum) = (0i64, 0.0f64);
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    for (n, s, low, high) in parts.into_iter().filter(|part| part.0 > 0) {
        count += n;
        sum += s;
        min = min.min(low);
        max = max.max(high);
    }
    if count == 0 {
        return CustomMetricSummary::default();
    }
    CustomMetricSummary {
        count,
        avg: Some(sum / count as f64),
        min: Some(min),
        max: Some(max),
    }
}

/// The points of `name` over the last `minutes` whose tags contain `tags` (and of one host), from
/// the tier `resolution_for` picks, with their summary.
pub async fn read(
    pool: &PgPool,
    name: &str,
    minutes: i64,
    tags: &Value,
    host_id: Option<i32>,
    max_raw_points: i64,
) -> Result<CustomRead, sqlx::Error> {
    let since = Utc::now() - Duration::minutes(minutes);
    let resolution = resolution_for(minutes);
    if resolution == CustomMetricResolution::Raw {
        let rows =
            custom_metrics::raw(pool, name, since, tags, host_id, max_raw_points + 1).await?;
        let truncated = rows.len() as i64 > max_raw_points;
        let rows = &rows[usize::from(truncated)..];
        let summary = summarize(rows.iter().map(|r| (1, r.value, r.value, r.value)));
        let points = rows
            .iter()
            .map(|r| {
                CustomMetricReading::Point(CustomMetricPoint {
                    metric_id: format!("metric_{}", r.id),
                    timestamp: r.ts,
                    value: r.value,
                    unit: r.unit.clone(),
                    category: r.category.clone(),
                    tags: r.tags.clone(),
                    host: r.vm_id.clone(),
                })
            })
            .collect();
        return Ok(CustomRead {
            resolution,
            points,
            truncated,
            summary,
        });
    }
    let rows =
        custom_metrics::rollups(pool, name, resolution.as_str(), since, tags, host_id).await?;
    let summary = summarize(rows.iter().map(|r| (r.count, r.sum, r.min, r.max)));
    let points = rows
        .iter()
        .map(|r| {
            CustomMetricReading::Bucket(CustomMetricBucket {
                timestamp: r.bucket,
                value: r.sum / r.count.max(1) as f64,
                min: r.min,
                max: r.max,
                count: r.count,
            })
        })
        .collect();
    Ok(CustomRead {
        resolution,
        points,
        truncated: false,
        summary,
    })
}

/// Buckets the host view's server-drawn chart of a custom metric has over its range (raw points
/// are bucketed to this many; rollups are what they are).
pub const HOST_CHART_BUCKETS: i64 = 240;
/// Custom metrics the host view shows at most (by name); the rest are counted.
pub const HOST_CHART_METRICS: usize = 12;

/// One custom metric of a host over a range: (epoch ms, mean, min, max) per bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct HostMetric {
    pub name: String,
    /// As its newest point gives it (empty when it sent none within the raw window).
    pub unit: String,
    pub buckets: Vec<(i64, f64, f64, f64)>,
}

/// A host's custom metrics over a range.
#[derive(Debug, Clone, PartialEq)]
pub struct HostMetrics {
    pub resolution: CustomMetricResolution,
    /// Bucket width of raw points (rollups are an hour or a day).
    pub width: Duration,
    /// The first [`HOST_CHART_METRICS`] by name (all of those asked for by name).
    pub metrics: Vec<HostMetric>,
    /// How many more there are.
    pub more: usize,
}

impl HostMetrics {
    /// Seconds per bucket: the raw points' bucket width, or the rollups' hour or day.
    pub fn step_seconds(&self) -> i64 {
        match self.resolution {
            CustomMetricResolution::Raw => self.width.num_seconds().max(1),
            CustomMetricResolution::Hour => 3_600,
            CustomMetricResolution::Day => 86_400,
        }
    }

    /// The step as chart resolutions are named: `10s`, `5m`, `1h`, `1d`.
    pub fn resolution_name(&self) -> String {
        match self.step_seconds() {
            86_400 => "1d".to_owned(),
            3_600 => "1h".to_owned(),
            s if s % 60 == 0 => format!("{}m", s / 60),
            s => format!("{s}s"),
        }
    }
}

/// The custom metrics `host_id` sent in `[start, end]` (those of `names`, or all), merged over
/// their tag sets: raw points in at most `buckets` buckets over the range ([`bucket_width`]) while
/// the range is in the raw window, hourly rollups up to 30 days back, daily beyond — the tiers
/// `resolution_for` picks for reads of one metric.
pub async fn of_host(
    pool: &PgPool,
    host_id: i32,
    names: Option<&[String]>,
    (start, end): (chrono::DateTime<Utc>, chrono::DateTime<Utc>),
    buckets: i64,
    now: chrono::DateTime<Utc>,
) -> Result<HostMetrics, sqlx::Error> {
    let resolution = resolution_for((now - start).num_minutes());
    let width = bucket_width(end - start, buckets);
    let rows = custom_metrics::host_buckets(
        pool,
        host_id,
        names,
        (start, end),
        resolution.as_str(),
        width,
    )
    .await?;
    let units = custom_metrics::host_units(pool, host_id).await?;
    let mut metrics: Vec<HostMetric> = Vec::new();
    for row in rows {
        if metrics.last().is_none_or(|m| m.name != row.name) {
            let unit = units
                .iter()
                .find(|(name, _)| *name == row.name)
                .map(|(_, unit)| unit.clone())
                .unwrap_or_default();
            metrics.push(HostMetric {
                name: row.name.clone(),
                unit,
                buckets: Vec::new(),
            });
        }
        if let Some(metric) = metrics.last_mut() {
            metric
                .buckets
                .push((row.bucket.timestamp_millis(), row.avg, row.min, row.max));
        }
    }
    let keep = if names.is_some() {
        metrics.len()
    } else {
        HOST_CHART_METRICS
    };
    let more = metrics.len().saturating_sub(keep);
    metrics.truncate(keep);
    Ok(HostMetrics {
        resolution,
        width,
        metrics,
        more,
    })
}

/// The custom metrics of `metrics` as one chart's columns (the history series shape): `t` the
/// union of their buckets, `custom:<name>.avg`, `.min` and `.max` aligned on it (null where a
/// metric has no bucket).
pub fn columns(metrics: &[HostMetric]) -> (Vec<i64>, BTreeMap<String, Vec<Option<f64>>>) {
    let mut t: Vec<i64> = metrics
        .iter()
        .flat_map(|m| m.buckets.iter().map(|b| b.0))
        .collect();
    t.sort_unstable();
    t.dedup();
    let mut series = BTreeMap::new();
    for metric in metrics {
        let mut avg = vec![None; t.len()];
        let mut min = vec![None; t.len()];
        let mut max = vec![None; t.len()];
        for &(at, mean, low, high) in &metric.buckets {
            if let Ok(index) = t.binary_search(&at) {
                avg[index] = Some(mean);
                min[index] = Some(low);
                max[index] = Some(high);
            }
        }
        let name = format!("{CUSTOM_PREFIX}{}", metric.name);
        series.insert(format!("{name}.avg"), avg);
        series.insert(format!("{name}.min"), min);
        series.insert(format!("{name}.max"), max);
    }
    (t, series)
}

/// Bucket widths of raw points, in seconds: from a minute up the catalogue's (1, 5, 15 minutes,
/// an hour, a day), aligned to the epoch as its buckets are, so a crosshair on the host view finds
/// the same instant on every chart; whole seconds below (which also suit PostgreSQL's intervals,
/// stopping at microseconds).
const WIDTHS: [i64; 11] = [1, 2, 5, 10, 15, 30, 60, 300, 900, 3_600, 86_400];

/// The narrowest of [`WIDTHS`] that cuts `range` into at most `buckets` (a day at the most).
pub fn bucket_width(range: Duration, buckets: i64) -> Duration {
    let per_bucket = range.num_milliseconds() as f64 / 1000.0 / buckets.max(1) as f64;
    let seconds = WIDTHS
        .into_iter()
        .find(|&w| w as f64 >= per_bucket)
        .unwrap_or(86_400);
    Duration::seconds(seconds)
}

/// A chart of custom metrics of one host (`GET /history/series?metrics=custom:<name>,…`), in the
/// history series' shape: `points` buckets over the range from the raw points in the raw window,
/// else hourly or daily rollups; a note for each metric without a point in the range.
pub async fn chart(
    pool: &PgPool,
    host_id: i32,
    names: &[String],
    (start, end): (chrono::DateTime<Utc>, chrono::DateTime<Utc>),
    points: i64,
    now: chrono::DateTime<Utc>,
) -> Result<Series, sqlx::Error> {
    let read = of_host(pool, host_id, Some(names), (start, end), points, now).await?;
    let (step, resolution) = (read.step_seconds(), read.resolution_name());
    let notes = names
        .iter()
        .filter(|name| !read.metrics.iter().any(|m| &m.name == *name))
        .map(|name| format!("no point of `{name}` from this host in this range"))
        .collect();
    let (t, series) = columns(&read.metrics);
    Ok(Series {
        resolution,
        step_seconds: Some(step),
        start,
        end,
        t,
        series,
        notes,
    })
}

/// How a chart request names a custom metric: `custom:<name>`.
pub const CUSTOM_PREFIX: &str = "custom:";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_named_like_chart_resolutions() {
        let named = |resolution, seconds| {
            HostMetrics {
                resolution,
                width: Duration::seconds(seconds),
                metrics: Vec::new(),
                more: 0,
            }
            .resolution_name()
        };
        assert_eq!(named(CustomMetricResolution::Raw, 10), "10s");
        assert_eq!(named(CustomMetricResolution::Raw, 300), "5m");
        assert_eq!(named(CustomMetricResolution::Hour, 300), "1h");
        assert_eq!(named(CustomMetricResolution::Day, 300), "1d");
    }

    #[test]
    fn raw_buckets_are_the_narrowest_epoch_aligned_width_giving_at_most_the_points_asked() {
        // An hour over 573 pixels: 6.28 s → 10 s; a day: 150.8 s → 5 minutes, the catalogue's.
        assert_eq!(bucket_width(Duration::hours(1), 573), Duration::seconds(10));
        assert_eq!(bucket_width(Duration::days(1), 573), Duration::minutes(5));
        assert_eq!(bucket_width(Duration::days(7), 573), Duration::hours(1));
        assert_eq!(
            bucket_width(Duration::seconds(100), 600),
            Duration::seconds(1)
        );
        assert_eq!(bucket_width(Duration::days(7), 1), Duration::days(1));
        assert_eq!(bucket_width(Duration::hours(1), 0), Duration::hours(1));
    }

    #[test]
    fn metrics_with_different_buckets_share_one_time_axis_with_gaps_where_one_has_none() {
        let metric = |name: &str, buckets: Vec<(i64, f64, f64, f64)>| HostMetric {
            name: name.into(),
            unit: String::new(),
            buckets,
        };
        let (t, series) = columns(&[
            metric("a", vec![(1_000, 1.0, 0.5, 2.0), (3_000, 3.0, 3.0, 3.0)]),
            metric(
                "b",
                vec![(2_000, 20.0, 10.0, 30.0), (3_000, 30.0, 30.0, 30.0)],
            ),
        ]);
        assert_eq!(t, [1_000, 2_000, 3_000]);
        assert_eq!(series["custom:a.avg"], [Some(1.0), None, Some(3.0)]);
        assert_eq!(series["custom:a.min"], [Some(0.5), None, Some(3.0)]);
        assert_eq!(series["custom:b.max"], [None, Some(30.0), Some(30.0)]);
        assert_eq!(series.len(), 6);
    }

    #[test]
    fn the_summary_weighs_buckets_by_their_counts_and_is_empty_without_any() {
        // Two buckets: 3 points summing 30 (5..15) and 1 point of 50: mean 80 / 4 = 20.
        let summary = summarize([(3, 30.0, 5.0, 15.0), (1, 50.0, 50.0, 50.0)]);
        assert_eq!(
            summary,
            CustomMetricSummary {
                count: 4,
                avg: Some(20.0),
                min: Some(5.0),
                max: Some(50.0),
            }
        );
        assert_eq!(summarize([]), CustomMetricSummary::default());
        // An empty bucket changes nothing (its min/max are not figures).
        assert_eq!(
            summarize([(0, 0.0, 0.0, 0.0), (2, 4.0, 1.0, 3.0)]),
            summarize([(2, 4.0, 1.0, 3.0)])
        );
    }

    #[test]
    fn a_read_takes_raw_points_for_a_week_hours_for_a_month_and_days_beyond() {
        let day = 1440;
        assert_eq!(resolution_for(60), CustomMetricResolution::Raw);
        assert_eq!(
            resolution_for(custom_metrics::RAW_DAYS * day),
            CustomMetricResolution::Raw
        );
        assert_eq!(
            resolution_for(custom_metrics::RAW_DAYS * day + 1),
            CustomMetricResolution::Hour
        );
        assert_eq!(resolution_for(30 * day), CustomMetricResolution::Hour);
        assert_eq!(resolution_for(30 * day + 1), CustomMetricResolution::Day);
    }
}
