//! The what-if page's data: a capacity view (group or fleet, history, horizon, threshold) and a
//! scenario from its query (`app::view_state::WhatIfQuery`), answered by `capacity::whatif`. A
//! scenario out of bounds is said on the page above the forecast alone, not as an error page,
//! so the form stays there to mend it.
use super::{unavailable, unreachable, PageError};
use crate::{
    auth::{AlertsWrite, RequireScope},
    state::AppState,
};
use crate::{
    capacity::{
        whatif::{self, Plans},
        TrendOptions,
    },
    history::{resolve_hosts, QueryError},
    storage::hosts,
};
use app::{
    models::{Viewer, WhatIfChanges, WhatIfPageData},
    view_state::{encode, param, parse_query, CapacityQuery, WhatIfQuery},
};
use axum::{
    extract::{Path, State},
    response::{IntoResponse, Redirect, Response},
};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;

/// The scenario of a what-if query, its days at midnight UTC.
fn changes_of(asked: &WhatIfQuery) -> WhatIfChanges {
    let midnight = |day: Option<NaiveDate>| {
        day.and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc())
    };
    WhatIfChanges {
        add_hosts: asked.add_hosts,
        hosts_from: midnight(asked.hosts_from),
        add_load_percent: asked.load_percent,
        load_from: midnight(asked.load_from),
        growth_monthly_percent: asked.growth_percent,
    }
}

pub async fn data(
    pool: &PgPool,
    viewer: Viewer,
    can_commit: bool,
    query: &str,
    now: DateTime<Utc>,
) -> Result<WhatIfPageData, PageError> {
    let pairs = parse_query(query);
    let asked = WhatIfQuery::from_pairs(&pairs).map_err(PageError::BadLink)?;
    let chosen = match asked.view.group.as_deref() {
        Some(group) => resolve_hosts(pool, None, Some(group), None).await?,
        None => hosts::all(pool).await.map_err(unavailable)?,
    };
    let options = TrendOptions::of_view(&asked.view, now);
    let plans = Plans::Of(asked.view.group.as_deref());
    let changes = changes_of(&asked);
    let (result, problem) =
        match whatif::what_if(pool, &chosen, plans, &options, &changes, now).await {
            Ok(result) => (result, None),
            Err(QueryError::BadRequest(problem)) => {
                let alone = WhatIfChanges::default();
                (
                    whatif::what_if(pool, &chosen, plans, &options, &alone, now).await?,
                    Some(problem),
                )
            }
            Err(other) => return Err(other.into()),
        };
    let groups = super::capacity::group_choices(pool).await?;
    Ok(WhatIfPageData {
        viewer,
        query: asked,
        groups,
        result,
        problem,
        can_commit,
        // What the plan forms' redirects say.
        notice: param(&pairs, "notice").map(str::to_owned),
        error: param(&pairs, "error").map(str::to_owned),
    })
}

/// `POST /capacity/plans`: the what-if page's "commit" form — its scenario's fields, the view's
/// and a `title` — committed for the view's group or the fleet (`capacity::whatif::commit`).
/// Redirects back to the what-if of the same view, the plan now included, with `?notice=`; or
/// to the same scenario with `?error=`.
pub async fn commit_plan(
    RequireScope(principal, _): RequireScope<AlertsWrite>,
    State(state): State<AppState>,
    body: String,
) -> Response {
    let pairs = parse_query(&body);
    let asked = match WhatIfQuery::from_pairs(&pairs) {
        Ok(asked) => asked,
        Err(problem) => {
            return Redirect::to(&format!("/capacity/what-if?error={}", encode(&problem)))
                .into_response()
        }
    };
    let title = param(&pairs, "title").unwrap_or_default();
    let committed = whatif::commit(
        &state.pool,
        asked.view.group.as_deref(),
        title,
        &changes_of(&asked),
        &principal.name,
        Utc::now(),
    )
    .await;
    let to = match committed {
        Ok(plan) => format!(
            "/capacity/what-if?{}&notice={}",
            asked.view.to_query(),
            encode(&format!(
                "Committed \"{}\": the runway includes it now.",
                plan.title
            ))
        ),
        Err(QueryError::Database(e)) => return unreachable(e).into_response(),
        Err(problem) => format!(
            "/capacity/what-if?{}&error={}",
            asked.to_query(),
            encode(&problem.to_string())
        ),
    };
    Redirect::to(&to).into_response()
}

/// `POST /capacity/plans/{id}/delete`: removes a committed plan; back to the view it was listed
/// on (the form's hidden view fields).
pub async fn remove_plan(
    _: RequireScope<AlertsWrite>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: String,
) -> Response {
    let pairs = parse_query(&body);
    let view = CapacityQuery::from_pairs(&pairs).unwrap_or_default();
    let outcome = match id.parse::<i64>() {
        Ok(id) => whatif::remove(&state.pool, id).await,
        Err(_) => Err(QueryError::NotFound(format!("no plan {id}"))),
    };
    let (key, text) = match outcome {
        Ok(()) => ("notice", "The plan is removed.".to_owned()),
        Err(QueryError::Database(e)) => return unreachable(e).into_response(),
        Err(problem) => ("error", problem.to_string()),
    };
    Redirect::to(&format!(
        "/capacity/what-if?{}&{key}={}",
        view.to_query(),
        encode(&text)
    ))
    .into_response()
}
