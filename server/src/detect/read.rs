//! Which custom metrics a detection request judges, as series with their floors; their values
//! and the catalogue's are read by `storage::grids`.
use super::{custom_significance, Resolution, Series};
use crate::storage::grids::{self, SeriesData, Step};
use app::models::AnomalySkip;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::sync::Arc;

/// The asked custom metrics that have points, as series with ids -1, -2, … (their floor from the
/// unit of their newest point), and a skip for each name with none stored; a name asked twice
/// is judged once.
pub(super) async fn custom_series(
    pool: &PgPool,
    names: &[String],
) -> Result<(Vec<Arc<Series>>, Vec<AnomalySkip>), sqlx::Error> {
    let (mut series, mut skipped) = (Vec::new(), Vec::new());
    let mut seen = std::collections::HashSet::new();
    for name in names.iter().filter(|name| seen.insert(name.as_str())) {
        match crate::storage::custom_metrics::describe_any(pool, name).await? {
            Some(unit) => series.push(Arc::new(Series {
                group: None,
                metric_id: -1 - series.len() as i16,
                name: name.clone(),
                significance: custom_significance(&unit),
            })),
            None => skipped.push(AnomalySkip {
                vm_id: None,
                series: name.clone(),
                reason: "no custom metric of this name is stored".into(),
            }),
        }
    }
    Ok((series, skipped))
}

/// The custom `series`' averages per host on the grid of `resolution` (see
/// `storage::grids::custom_metric_series`), keyed by their (negative) ids.
pub(super) async fn custom_metric_series(
    pool: &PgPool,
    host_ids: &[i32],
    series: &[Arc<Series>],
    resolution: Resolution,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<SeriesData, sqlx::Error> {
    let named: Vec<(i16, &str)> = series
        .iter()
        .map(|s| (s.metric_id, s.name.as_str()))
        .collect();
    let step = match resolution {
        Resolution::Hourly => Step::Hour,
        Resolution::FiveMinutes => Step::FiveMinutes,
    };
    grids::custom_metric_series(pool, host_ids, &named, step, from, until).await
}
