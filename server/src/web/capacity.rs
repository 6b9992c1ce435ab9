//! The capacity page: its data (the plan of a group or the fleet, recent anomalies), the same
//! plan as CSV, and its form that sets an application metric's capacity.
use super::{signed_in, unavailable, unreachable, PageError};
use crate::{
    auth::{AlertsWrite, RequireScope, Scope, VmRead},
    capacity::{
        self,
        app_metrics::{self, CapacityError},
        rightsize,
    },
    history::QueryError,
    state::AppState,
    storage::{capacity_reports, hosts},
};
use app::{
    components::snapshot::ssr::{Answer, CapacitySource},
    models::CapacityReport,
    panels::money_text,
    view_state::{encode, param, parse_query, CapacityQuery},
};
use axum::{
    extract::{RawQuery, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use chrono::Utc;
use std::sync::Arc;

/// What the capacity page shows for its query (`app::view_state::CapacityQuery`): the plan
/// (`capacity::plan`: the chosen group's hosts, or every host), their newest anomalies of the
/// last 7 days, and the groups to choose from.
pub fn source(state: AppState) -> CapacitySource {
    CapacitySource(Arc::new(
        move |headers: HeaderMap, query: String| -> Answer<CapacityReport> {
            let state = state.clone();
            Box::pin(async move {
                let (principal, viewer) = signed_in(&state, &headers).await?;
                let view =
                    CapacityQuery::from_pairs(&parse_query(&query)).map_err(PageError::BadLink)?;
                let now = Utc::now();
                let capacity::report::Overview {
                    plan,
                    runway,
                    plans,
                } = capacity::report::overview(&state.pool, &view, now).await?;
                let host_ids: Vec<i32> = plan.hosts.iter().map(|h| h.id).collect();
                let chosen = view.group.is_some().then_some(host_ids.as_slice());
                // Enough events for the page's twenty incidents (several events each).
                let anomalies = crate::detect::recent(
                    &state.pool,
                    now - chrono::Duration::days(7),
                    chosen,
                    100,
                )
                .await
                .map_err(unavailable)?;
                let groups = group_choices(&state.pool).await?;
                let metric_capacities = app_metrics::metric_capacities(&state.pool)
                    .await
                    .map_err(unavailable)?;
                let monthly_reports =
                    capacity_reports::list(&state.pool, Some(view.group.as_deref()))
                        .await
                        .map_err(unavailable)?;
                Ok(CapacityReport {
                    viewer,
                    group: view.group,
                    groups,
                    hosts: plan.hosts.len(),
                    history_days: view.history_days,
                    horizon_days: view.horizon_days,
                    threshold: view.threshold as f64,
                    trends: plan.trends,
                    anomalies,
                    app_metrics: plan.app_metrics,
                    can_set_capacity: principal.has(Scope::AlertsWrite),
                    metric_capacities,
                    right_sizing: plan.right_sizing,
                    runway,
                    plans,
                    monthly_reports,
                })
            })
        },
    ))
}

/// Every host group with its number of hosts: the capacity view's choices (capacity and what-if
/// pages).
pub(super) async fn group_choices(pool: &sqlx::PgPool) -> Result<Vec<(String, usize)>, PageError> {
    Ok(hosts::group_sizes(pool)
        .await
        .map_err(unavailable)?
        .into_iter()
        .map(|(group, count)| (group, usize::try_from(count).unwrap_or_default()))
        .collect())
}

/// The view of a capacity download's query, or why it is not one.
fn download_view(query: Option<&str>) -> Result<CapacityQuery, String> {
    CapacityQuery::from_pairs(&parse_query(query.unwrap_or_default()))
}

/// A capacity download's failure as plain text: an unknown group 404, anything else 503.
fn download_failed(error: QueryError) -> Response {
    let status = match error {
        QueryError::NotFound(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, error.to_string()).into_response()
}

/// `GET /capacity.csv?group=&history=&horizon=&threshold=`: the plan the page shows for the same
/// view, as a spreadsheet (`capacity::csv`), for the session's user.
pub async fn plan_csv(
    _: RequireScope<VmRead>,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Response {
    let view = match download_view(query.as_deref()) {
        Ok(view) => view,
        Err(problem) => return (StatusCode::BAD_REQUEST, problem).into_response(),
    };
    let now = Utc::now();
    let plan = match capacity::plan(&state.pool, &view, now).await {
        Ok(plan) => plan,
        Err(error) => return download_failed(error),
    };
    let scope = view
        .group
        .as_deref()
        .map_or_else(|| "fleet".to_string(), |g| format!("group {g}"));
    match capacity::csv::plan(&plan, &scope, &view) {
        Ok(bytes) => {
            let name = capacity::report::file_name(view.group.as_deref(), now, "csv");
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}\""),
                    ),
                ],
                bytes,
            )
                .into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `GET /capacity.pdf?group=&history=&horizon=&threshold=`: the plan the page shows for the same
/// view as a PDF (`capacity::report`), for the session's user (API clients:
/// `GET /api/v1/history/capacity-plan`).
pub async fn plan_pdf(
    _: RequireScope<VmRead>,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Response {
    let view = match download_view(query.as_deref()) {
        Ok(view) => view,
        Err(problem) => return (StatusCode::BAD_REQUEST, problem).into_response(),
    };
    let now = Utc::now();
    match capacity::report::pdf(&state.pool, &view, now, "Capacity plan", None).await {
        Ok(made) => crate::pdf::download(
            made.pdf,
            &capacity::report::file_name(view.group.as_deref(), now, "pdf"),
        ),
        Err(error) => download_failed(error),
    }
}

/// `POST /capacity/metrics`: the capacity form (`name`, `capacity`; an empty capacity clears
/// it), checked as `PUT /api/v1/performance/metrics/{name}/capacity` checks it. Answers with a
/// redirect back to the page's application metrics, with `?notice=` or `?error=`.
pub async fn set_capacity(
    RequireScope(principal, _): RequireScope<AlertsWrite>,
    State(state): State<AppState>,
    body: String,
) -> Response {
    let pairs = parse_query(&body);
    let outcome = async {
        let name = param(&pairs, "name")
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .ok_or("Choose a metric.")?;
        let typed = param(&pairs, "capacity").map(str::trim).unwrap_or_default();
        // Empty: the metric's capacity for every host; a vmId: that host's own.
        let host = param(&pairs, "host")
            .map(str::trim)
            .filter(|h| !h.is_empty());
        let problem = |e: CapacityError| match e {
            CapacityError::Database(e) => unreachable(e),
            other => other.to_string(),
        };
        let pool = &state.pool;
        let by = principal.name.as_str();
        if typed.is_empty() {
            match host {
                Some(host) => app_metrics::clear_host_capacity(pool, name, host, by).await,
                None => app_metrics::clear_capacity(pool, name, by).await,
            }
            .map_err(problem)?;
            return Ok(match host {
                Some(host) => format!("{name} on {host}: the metric's capacity applies again."),
                None => format!("{name}: the capacity for every host is cleared."),
            });
        }
        let value: f64 = typed
            .parse()
            .map_err(|_| format!("`capacity` must be a number, got `{typed}`"))?;
        let set = match host {
            Some(host) => app_metrics::set_host_capacity(pool, name, host, value, by).await,
            None => app_metrics::set_capacity(pool, name, value, by).await,
        }
        .map_err(problem)?;
        let unit = if set.unit.is_empty() {
            String::new()
        } else {
            format!(" {}", set.unit)
        };
        let scope = host.map_or_else(|| " for every host".to_string(), |h| format!(" on {h}"));
        Ok::<_, String>(format!("{name}: capacity {value}{unit}{scope}."))
    }
    .await;
    back_to_view(&pairs, outcome, "", "app-metrics")
}

/// Back to the capacity view a form was sent from (its hidden fields), at `anchor`, saying what
/// happened: `?notice=` when done, `?error=` when not, after `form` (`&form=prices`, or empty).
fn back_to_view(
    pairs: &[(String, String)],
    outcome: Result<String, String>,
    form: &str,
    anchor: &str,
) -> Response {
    let (key, text) = match outcome {
        Ok(notice) => ("notice", notice),
        Err(problem) => ("error", problem),
    };
    let view: String = ["group", "history", "horizon", "threshold"]
        .iter()
        .filter_map(|k| {
            param(pairs, k)
                .filter(|v| !v.is_empty())
                .map(|v| format!("&{k}={}", encode(v)))
        })
        .collect();
    Redirect::to(&format!(
        "/capacity?{key}={}{form}{view}#{anchor}",
        encode(&text)
    ))
    .into_response()
}

/// `POST /capacity/prices`: the right-sizing prices form (`currency`, `vcpu`, `gib`; `clear`
/// removes them), checked as `PUT /api/v1/history/rightsizing/prices` checks them; back to the
/// page's right-sizing with a notice or the reason.
pub async fn set_prices(
    RequireScope(principal, _): RequireScope<AlertsWrite>,
    State(state): State<AppState>,
    body: String,
) -> Response {
    let pairs = parse_query(&body);
    let problem = |e: QueryError| match e {
        QueryError::Database(e) => unreachable(e),
        other => other.to_string(),
    };
    let outcome = async {
        if param(&pairs, "clear").is_some() {
            rightsize::clear_prices(&state.pool)
                .await
                .map_err(problem)?;
            return Ok("Prices cleared: right-sizing counts in vCPUs and memory only.".into());
        }
        let number = |key: &str, label: &str| {
            let typed = param(&pairs, key).map(str::trim).unwrap_or_default();
            typed
                .parse::<f64>()
                .map_err(|_| format!("{label} must be a number, got `{typed}`"))
        };
        let vcpu = number("vcpu", "The price of a vCPU")?;
        let gib = number("gib", "The price of a GiB")?;
        let currency = param(&pairs, "currency").unwrap_or_default();
        let set = rightsize::set_prices(&state.pool, currency, vcpu, gib, &principal.name)
            .await
            .map_err(problem)?;
        Ok::<_, String>(format!(
            "Prices set: {} a vCPU and {} a GiB of memory a month.",
            money_text(set.vcpu_month, &set.currency),
            money_text(set.gib_month, &set.currency)
        ))
    }
    .await;
    back_to_view(&pairs, outcome, "&form=prices", "right-sizing")
}
