//! The investigate page's data: a window (`from`, `to`; the last hour by default) of one host
//! (`host=`), a group (`group=`) or every host, what changed in it against the baseline before
//! it (`investigate`), and a small chart of each change.
use super::{instant, unavailable};
use crate::{
    history::resolve_hosts,
    investigate::{self, Baseline, Window},
    storage::hosts,
};
use app::{
    chart::change::spark,
    components::snapshot::PageError,
    models::{InvestigatePageData, Investigation, Viewer},
    view_state::{param, parse_query, Range},
};
use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// Changes the page lists (the API gives up to 500).
const PAGE_CHANGES: usize = 40;
/// The window when the link names none: the last hour, "what is going on right now".
const DEFAULT_WINDOW: &str = "1h";

pub async fn data(
    pool: &PgPool,
    viewer: Viewer,
    query: &str,
    now: DateTime<Utc>,
) -> Result<InvestigatePageData, PageError> {
    let pairs = parse_query(query);
    let (from, to) = Range::from_query(
        Some(param(&pairs, "range").unwrap_or(DEFAULT_WINDOW)),
        param(&pairs, "from"),
        param(&pairs, "to"),
    )
    .bounds(now.timestamp_millis());
    let baseline = Baseline::chosen(param(&pairs, "baseline")).map_err(PageError::BadLink)?;
    let window = Window::new(instant(from)?, instant(to)?, baseline, now)?;
    let nonempty = |key| {
        param(&pairs, key)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let (host, group) = (nonempty("host"), nonempty("group"));
    let chosen = match (&host, &group) {
        (Some(vm), _) => resolve_hosts(pool, Some(std::slice::from_ref(vm)), None, None).await?,
        (None, Some(group)) => resolve_hosts(pool, None, Some(group), None).await?,
        (None, None) => hosts::all(pool).await.map_err(unavailable)?,
    };
    // The whole fleet past what one investigation covers: the page asks for a group or a host
    // rather than failing (its plain address would fail again).
    if host.is_none() && group.is_none() && chosen.len() > investigate::MAX_HOSTS {
        return Ok(InvestigatePageData {
            viewer,
            choices: hosts::by_group(pool).await.map_err(unavailable)?,
            from,
            to,
            result: Investigation {
                start_time: window.start,
                end_time: window.end,
                baseline: baseline.name().into(),
                baseline_start_time: window.baseline_start,
                baseline_end_time: window.baseline_end,
                ..Investigation::default()
            },
            notice: Some(format!(
                "The fleet has {} hosts; an investigation covers at most {}: choose a group or a host.",
                chosen.len(),
                investigate::MAX_HOSTS
            )),
            ..InvestigatePageData::default()
        });
    }
    let outcome = investigate::investigate(pool, &chosen, &window, PAGE_CHANGES, now).await?;
    let sparks = outcome
        .points
        .iter()
        .map(|points| spark(points, from, to))
        .collect();
    Ok(InvestigatePageData {
        viewer,
        choices: hosts::by_group(pool).await.map_err(unavailable)?,
        // A host's page names the group it asked for only when no host was chosen.
        group: group.filter(|_| host.is_none()),
        host,
        from,
        to,
        result: outcome.investigation,
        sparks,
        notice: None,
    })
}
