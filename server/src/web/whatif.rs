//! The what-if page's data: a capacity view (group or fleet, history, horizon, threshold) and a
//! scenario from its query (`app::view_state::WhatIfQuery`), answered by `capacity::whatif`. A
//! scenario out of bounds is said on the page above the forecast alone, not as an error page,
//! so the form stays there to mend it.
use super::{unavailable, PageError};
use crate::{
    capacity::{whatif, TrendOptions},
    history::{resolve_hosts, QueryError},
    storage::hosts,
};
use app::{
    models::{Viewer, WhatIfChanges, WhatIfPageData},
    view_state::{parse_query, WhatIfQuery},
};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;

pub async fn data(
    pool: &PgPool,
    viewer: Viewer,
    query: &str,
    now: DateTime<Utc>,
) -> Result<WhatIfPageData, PageError> {
    let asked = WhatIfQuery::from_pairs(&parse_query(query)).map_err(PageError::BadLink)?;
    let chosen = match asked.view.group.as_deref() {
        Some(group) => resolve_hosts(pool, None, Some(group), None).await?,
        None => hosts::all(pool).await.map_err(unavailable)?,
    };
    let options = TrendOptions::of_view(&asked.view, now);
    let midnight = |day: Option<NaiveDate>| {
        day.and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc())
    };
    let changes = WhatIfChanges {
        add_hosts: asked.add_hosts,
        hosts_from: midnight(asked.hosts_from),
        add_load_percent: asked.load_percent,
        load_from: midnight(asked.load_from),
        growth_monthly_percent: asked.growth_percent,
    };
    let (result, problem) = match whatif::what_if(pool, &chosen, &options, &changes, now).await {
        Ok(result) => (result, None),
        Err(QueryError::BadRequest(problem)) => {
            let alone = WhatIfChanges::default();
            (
                whatif::what_if(pool, &chosen, &options, &alone, now).await?,
                Some(problem),
            )
        }
        Err(other) => return Err(other.into()),
    };
    let groups = hosts::group_sizes(pool)
        .await
        .map_err(unavailable)?
        .into_iter()
        .map(|(group, count)| (group, usize::try_from(count).unwrap_or_default()))
        .collect();
    Ok(WhatIfPageData {
        viewer,
        query: asked,
        groups,
        result,
        problem,
    })
}
