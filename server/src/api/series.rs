//! `GET /api/v1/history/series`: one chart's data in one request, columnar (see `history::series`).
use super::history_error::{history_success, HistoryError};
use crate::api::history_error::Answer;
use crate::history::series::Series;
use crate::{
    auth::{RequireScope, VmRead},
    history::{
        self,
        series::{self as chart_series, List, SeriesRequest},
    },
    state::AppState,
    storage::catalog::{self, Group, Metric},
};
use axum::{
    extract::{rejection::QueryRejection, Query, State},
    Json,
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

/// Points per chart when the caller does not say (about a laptop chart's width in pixels).
const DEFAULT_POINTS: i64 = 800;
const MAX_POINTS: i64 = 20_000;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeriesQuery {
    vm_id: Option<String>,
    /// Comma-separated: catalogue names (`cpu.usagePercent`), whole groups (`cpu`, `system`) and
    /// the lists `filesystems`, `containers`, `gpus`; or only custom metrics (`custom:<name>`).
    metrics: Option<String>,
    start: Option<String>,
    end: Option<String>,
    points: Option<i64>,
}

/// The metrics a `metrics` list names, and the lists (file systems, containers, GPUs) it asks for.
pub fn parse_metrics(
    list: Option<&str>,
) -> Result<(Vec<&'static Metric>, Vec<List>), HistoryError> {
    let mut metrics: Vec<&'static Metric> = Vec::new();
    let mut lists: Vec<List> = Vec::new();
    let names: Vec<&str> = list
        .unwrap_or("cpu,memory,disk,network,system,filesystems,containers,gpus")
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return Err(HistoryError::BadRequest("`metrics` names no metric".into()));
    }
    let groups = [
        Group::Cpu,
        Group::Memory,
        Group::Disk,
        Group::Network,
        Group::System,
    ];
    for name in names {
        let found: Vec<&'static Metric> = if let Some(list) = List::parse(name) {
            if !lists.contains(&list) {
                lists.push(list);
            }
            Vec::new()
        } else if let Some(group) = groups.iter().find(|g| g.name() == name) {
            catalog::of_group(*group).collect()
        } else if let Some(metric) = catalog::by_name(name) {
            vec![metric]
        } else {
            let mut known: Vec<String> = groups.iter().map(|g| g.name().to_string()).collect();
            known.extend(List::ALL.iter().map(|l| l.name().to_string()));
            known.extend(catalog::METRICS.iter().map(Metric::name));
            let known: Vec<&str> = known.iter().map(String::as_str).collect();
            let hint = crate::error::closest(name, &known)
                .map(|k| format!("; did you mean `{k}`?"))
                .unwrap_or_default();
            return Err(HistoryError::BadRequest(format!(
                "unknown metric `{name}`{hint} (use groups cpu, memory, disk, network, system, lists filesystems, containers, gpus or names such as cpu.usagePercent)"
            )));
        };
        for metric in found {
            if !metrics.contains(&metric) {
                metrics.push(metric);
            }
        }
    }
    Ok((metrics, lists))
}

/// The custom metrics a `metrics` list names (`custom:<name>`); they are charted on their own,
/// so a list naming one names nothing else.
fn custom_names(list: Option<&str>) -> Result<Vec<String>, HistoryError> {
    let names: Vec<&str> = list
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    let custom: Vec<String> = names
        .iter()
        .filter_map(|n| n.strip_prefix(history::custom::CUSTOM_PREFIX))
        .map(str::to_owned)
        .collect();
    if custom.is_empty() {
        return Ok(custom);
    }
    if custom.len() < names.len() {
        return Err(HistoryError::BadRequest(
            "custom metrics (`custom:<name>`) are charted on their own: ask for them without catalogue metrics".into(),
        ));
    }
    if let Some(bad) = custom
        .iter()
        .find(|n| !crate::alerts::rules::valid_metric_name(n))
    {
        return Err(HistoryError::BadRequest(format!(
            "`custom:{bad}` does not name a custom metric (letters, digits, _ . : -, starting with a letter)"
        )));
    }
    Ok(custom)
}

fn instant(text: Option<&str>, field: &str) -> Result<DateTime<Utc>, HistoryError> {
    let text = text.ok_or_else(|| {
        HistoryError::InvalidTime(format!(
            "`{field}` is required (RFC 3339 or epoch milliseconds)"
        ))
    })?;
    if let Ok(ms) = text.parse::<i64>() {
        return DateTime::from_timestamp_millis(ms).ok_or_else(|| {
            HistoryError::InvalidTime(format!("`{field}` is out of range: {text}"))
        });
    }
    super::history::parse_instant(Some(&Value::String(text.to_owned())), field)
}

pub async fn series(
    _: RequireScope<VmRead, HistoryError>,
    State(state): State<AppState>,
    query: Result<Query<SeriesQuery>, QueryRejection>,
) -> Result<Json<Answer<Series>>, HistoryError> {
    let Query(query) = query.map_err(|e| HistoryError::BadRequest(e.body_text()))?;
    let now = Utc::now();
    let start = instant(query.start.as_deref(), "start")?;
    let end = instant(query.end.as_deref(), "end")?;
    history::check_range(start, end, now)?;
    let points = query.points.unwrap_or(DEFAULT_POINTS);
    if !(10..=MAX_POINTS).contains(&points) {
        return Err(HistoryError::BadRequest(format!(
            "`points` must be 10 to {MAX_POINTS}"
        )));
    }
    let custom = custom_names(query.metrics.as_deref())?;
    let (metrics, lists) = if custom.is_empty() {
        parse_metrics(query.metrics.as_deref())?
    } else {
        (Vec::new(), Vec::new())
    };
    let vm_id = query
        .vm_id
        .ok_or_else(|| HistoryError::BadRequest("`vmId` is required".into()))?;
    let hosts =
        history::resolve_hosts(&state.pool, Some(std::slice::from_ref(&vm_id)), None, None).await?;
    let host_id = hosts
        .first()
        .map(|h| h.id)
        .ok_or_else(|| HistoryError::NotFound(format!("unknown vmIds: {vm_id}")))?;
    if !custom.is_empty() {
        let chart =
            history::custom::chart(&state.pool, host_id, &custom, (start, end), points, now)
                .await?;
        return Ok(history_success(chart));
    }
    let request = SeriesRequest {
        host_id,
        metrics: &metrics,
        lists: &lists,
        start,
        end,
        points,
        bands: true,
        resolution: None,
    };
    let series = chart_series::read(&state.pool, &request, now).await?;
    Ok(history_success(series))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_lists_take_names_groups_and_file_systems() {
        let (metrics, fs) = parse_metrics(Some("cpu.usagePercent,disk.writeBps")).expect("valid");
        assert_eq!(
            metrics.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![1, 16]
        );
        assert!(fs.is_empty());
        let (metrics, fs) =
            parse_metrics(Some("network,filesystems,network.inBps")).expect("valid");
        assert_eq!(
            metrics.len(),
            2,
            "a group and one of its metrics are one each"
        );
        assert_eq!(fs, [List::Filesystems]);
        let (_, lists) = parse_metrics(Some("gpus,containers,gpus")).expect("valid");
        assert_eq!(lists, [List::Gpus, List::Containers]);
        let error = parse_metrics(Some("cpu.usagePercnt")).expect_err("typo");
        assert!(
            error
                .to_string()
                .contains("did you mean `cpu.usagePercent`"),
            "{error}"
        );
        assert!(parse_metrics(Some(" , ")).is_err());
    }
}
