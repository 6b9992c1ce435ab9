//! The compare view's data: the hosts named (`hosts=a,b`, repeated `host=`, or a whole `group=`),
//! one metric (the catalogue's compare list or `custom:<name>` of a metric sent in the last week)
//! and a server-drawn chart of it.
use super::{instant, range_of, unavailable, STATIC_POINTS};
use crate::{
    history::{
        custom,
        series::{self as chart_series, SeriesRequest},
    },
    storage::{catalog, custom_metrics, hosts},
};
use app::{
    chart::series::{self as svg, Line},
    components::snapshot::PageError,
    models::{ComparePageData, Viewer},
    panels::{custom_unit_display, COMPARE_METRICS},
    view_state::{param, parse_query},
};
use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// A compare chart's hosts when none are named: enough for the page to show something.
const FIRST_HOSTS: usize = 3;

type Points = Vec<(i64, Option<f64>)>;

pub async fn data(
    pool: &PgPool,
    viewer: Viewer,
    query: &str,
    now: DateTime<Utc>,
) -> Result<ComparePageData, PageError> {
    let pairs = parse_query(query);
    let (from, to) = range_of(&pairs, now);
    let (start, end) = (instant(from)?, instant(to)?);
    crate::history::check_range(start, end, now)?;
    let custom_choices = custom_metrics::sent_by_hosts(pool, now - chrono::Duration::days(7))
        .await
        .map_err(unavailable)?;
    let custom_of = |m: &str| {
        let name = m.strip_prefix(custom::CUSTOM_PREFIX)?;
        custom_choices.iter().find(|c| c.0 == name).cloned()
    };
    let metric = param(&pairs, "metric")
        .filter(|m| COMPARE_METRICS.iter().any(|c| c.0 == *m) || custom_of(m).is_some())
        .unwrap_or("cpu.usagePercent")
        .to_owned();
    let custom = custom_of(&metric);
    let unit = match &custom {
        Some((_, unit)) => custom_unit_display(unit),
        None => COMPARE_METRICS
            .iter()
            .find(|c| c.0 == metric)
            .map(|c| c.2)
            .unwrap_or("percent"),
    };
    let choices = hosts::by_group(pool).await.map_err(unavailable)?;
    let named = named_hosts(&pairs);
    let first: Vec<String> = choices
        .iter()
        .take(FIRST_HOSTS)
        .map(|c| c.0.clone())
        .collect();
    let chosen = match (param(&pairs, "group").filter(|g| !g.is_empty()), &named) {
        (Some(group), _) => crate::history::resolve_hosts(pool, None, Some(group), None).await,
        (None, named) if !named.is_empty() => {
            crate::history::resolve_hosts(pool, Some(named), None, None).await
        }
        _ if first.is_empty() => Ok(Vec::new()),
        _ => crate::history::resolve_hosts(pool, Some(&first), None, None).await,
    }?;

    let mut lines: Vec<(String, Points)> = Vec::new();
    for host in chosen.iter().take(svg::COLORS.len() * 2) {
        let points = match &custom {
            Some((name, _)) => custom_line(pool, host.id, name, (start, end), now).await?,
            None => catalogue_line(pool, host.id, &metric, (start, end), now).await?,
        };
        lines.push((host.name.clone(), points));
    }
    let drawn: Vec<Line<'_>> = lines
        .iter()
        .map(|(label, points)| Line {
            label,
            points: points.clone(),
        })
        .collect();
    Ok(ComparePageData {
        viewer,
        choices,
        hosts: chosen
            .iter()
            .map(|h| (h.vm_id.clone(), h.name.clone()))
            .collect(),
        metric,
        from,
        to,
        svg: svg::render(&drawn, None, from, to, unit),
        custom_choices,
    })
}

/// `vmId`s of `hosts=a,b` and repeated `host=`, in order, without repeats in a row.
fn named_hosts(pairs: &[(String, String)]) -> Vec<String> {
    let mut named: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "hosts" || k == "host")
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    named.dedup();
    named
}

async fn catalogue_line(
    pool: &PgPool,
    host_id: i32,
    metric: &str,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
) -> Result<Points, PageError> {
    let metric =
        catalog::by_name(metric).ok_or_else(|| PageError::BadLink("unknown metric".into()))?;
    let request = SeriesRequest {
        host_id,
        metrics: std::slice::from_ref(&metric),
        lists: &[],
        start,
        end,
        points: STATIC_POINTS,
        bands: true,
        resolution: None,
    };
    let series = chart_series::read(pool, &request, now).await?;
    let values = series
        .series
        .get(&format!("{}.avg", metric.name()))
        .cloned()
        .unwrap_or_default();
    Ok(series.t.iter().copied().zip(values).collect())
}

async fn custom_line(
    pool: &PgPool,
    host_id: i32,
    name: &str,
    range: (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
) -> Result<Points, PageError> {
    let read = custom::of_host(
        pool,
        host_id,
        Some(&[name.to_owned()]),
        range,
        STATIC_POINTS,
        now,
    )
    .await
    .map_err(unavailable)?;
    Ok(read
        .metrics
        .first()
        .map(|m| m.buckets.iter().map(|b| (b.0, Some(b.1))).collect())
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_named_by_list_or_one_by_one() {
        let pairs = |q: &str| parse_query(q);
        assert_eq!(
            named_hosts(&pairs("hosts=a,%20b,,c&host=d&metric=x")),
            ["a", "b", "c", "d"]
        );
        assert_eq!(named_hosts(&pairs("host=a&host=a&host=b")), ["a", "b"]);
        assert!(named_hosts(&pairs("group=g")).is_empty());
    }
}
