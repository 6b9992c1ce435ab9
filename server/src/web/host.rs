//! The host view's data: the host, its newest sample, one series read for every chart (drawn as
//! SVG for browsers without JavaScript), its custom metrics and its events in the range.
use super::{instant, range_of, unavailable, STATIC_POINTS};
use crate::{
    history::{
        custom,
        series::{self as chart_series, List, SeriesRequest},
    },
    storage::{catalog, hosts, samples},
};
use app::{
    chart::series::{self as svg, Line},
    components::snapshot::PageError,
    models::{CustomPanel, HostPageData, StaticPanel, Viewer},
    panels::{custom_unit_display, HOST_PANELS},
    view_state::parse_query,
};
use chrono::{DateTime, Utc};
use sqlx::PgPool;

pub async fn data(
    pool: &PgPool,
    viewer: Viewer,
    vm: &str,
    query: &str,
    now: DateTime<Utc>,
) -> Result<HostPageData, PageError> {
    let (from, to) = range_of(&parse_query(query), now);
    let (start, end) = (instant(from)?, instant(to)?);
    crate::history::check_range(start, end, now)?;
    let host = crate::history::resolve_hosts(pool, Some(&[vm.to_owned()]), None, None)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| PageError::NotFound(format!("no host `{vm}`")))?;
    let placement = hosts::placement(pool, host.id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| PageError::NotFound(format!("no host `{vm}`")))?;
    let latest = samples::latest(pool, host.id)
        .await
        .map_err(unavailable)?
        .map(|r| r.to_stats());
    let on = placement
        .last_seen
        .is_some_and(|t| now - t <= chrono::Duration::seconds(hosts::POWERED_OFF_AFTER_SECS));

    let metrics: Vec<&'static catalog::Metric> = HOST_PANELS
        .iter()
        .flat_map(|p| p.metrics.iter())
        .filter_map(|m| catalog::by_name(m))
        .collect();
    let request = SeriesRequest {
        host_id: host.id,
        metrics: &metrics,
        lists: &List::ALL,
        start,
        end,
        points: STATIC_POINTS,
        bands: true,
        resolution: None,
    };
    let series = chart_series::read(pool, &request, now).await?;
    let panels = static_panels(&series, from, to);
    let custom = custom::of_host(
        pool,
        host.id,
        None,
        (start, end),
        custom::HOST_CHART_BUCKETS,
        now,
    )
    .await
    .map_err(unavailable)?;
    let custom_more = custom.more;
    let custom = custom
        .metrics
        .into_iter()
        .map(|metric| custom_panel(metric, from, to))
        .collect();
    let events =
        crate::timeline::events(pool, &host, start, end, &crate::timeline::TYPES, now).await?;
    let outlook = crate::capacity::outlook(pool, &host, now).await?;
    Ok(HostPageData {
        viewer,
        vm_id: host.vm_id,
        name: host.name,
        group_id: placement.group_id,
        cluster_id: placement.cluster_id,
        power_state: if on { "poweredOn" } else { "poweredOff" }.into(),
        platform: format!("{} {}", placement.platform, placement.platform_version)
            .trim()
            .to_owned(),
        latest,
        from,
        to,
        resolution: series.resolution,
        panels,
        events,
        custom,
        custom_more,
        outlook,
    })
}

/// One server-drawn chart per catalogue panel; list panels (containers, GPUs) a line per member,
/// left out when the host had none in the range.
fn static_panels(series: &chart_series::Series, from: i64, to: i64) -> Vec<StaticPanel> {
    let column = |name: &str| series.series.get(name).cloned().unwrap_or_default();
    HOST_PANELS
        .iter()
        .filter_map(|panel| {
            let names: Vec<(String, String)> = match panel.list {
                Some(list) => series
                    .series
                    .keys()
                    .filter_map(|k| list.member(k))
                    .map(|(member, base)| (base.to_owned(), member.to_owned()))
                    .collect(),
                None => panel
                    .metrics
                    .iter()
                    .zip(panel.labels)
                    .map(|(m, l)| ((*m).to_owned(), (*l).to_owned()))
                    .collect(),
            };
            if names.is_empty() && panel.list.is_some_and(|l| !l.always()) {
                return None;
            }
            let lines: Vec<Line<'_>> = names
                .iter()
                .map(|(name, label)| Line {
                    label,
                    points: series
                        .t
                        .iter()
                        .copied()
                        .zip(column(&format!("{name}.avg")))
                        .collect(),
                })
                .collect();
            // The min–max band of a single-metric panel's first line.
            let band: Option<Vec<(i64, f64, f64)>> = names
                .first()
                .filter(|_| panel.list.is_none())
                .and_then(|(name, _)| {
                    let (low, high) = (
                        series.series.get(&format!("{name}.min"))?,
                        series.series.get(&format!("{name}.max"))?,
                    );
                    Some(
                        series
                            .t
                            .iter()
                            .zip(low.iter().zip(high))
                            .filter_map(|(t, (l, h))| Some((*t, (*l)?, (*h)?)))
                            .collect(),
                    )
                });
            Some(StaticPanel {
                id: panel.id.into(),
                svg: svg::render(&lines, band.as_deref(), from, to, panel.unit),
            })
        })
        .collect()
}

fn custom_panel(metric: custom::HostMetric, from: i64, to: i64) -> CustomPanel {
    let line = Line {
        label: &metric.name,
        points: metric.buckets.iter().map(|b| (b.0, Some(b.1))).collect(),
    };
    let band: Vec<(i64, f64, f64)> = metric.buckets.iter().map(|b| (b.0, b.2, b.3)).collect();
    let svg = svg::render(
        &[line],
        Some(&band),
        from,
        to,
        custom_unit_display(&metric.unit),
    );
    CustomPanel {
        latest: metric.buckets.last().map(|b| b.1),
        name: metric.name,
        unit: metric.unit,
        svg,
    }
}
