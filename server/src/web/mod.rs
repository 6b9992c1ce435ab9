//! The browser UI: server-rendered Leptos pages and the data they are rendered from, the
//! exports form, the sign-in guard and static files. Every page's data comes from the same
//! services the REST API uses (fleet, history series, timeline, capacity, exports, alerting);
//! the host, compare and alerts pages shape theirs in `host`, `compare` and `alerts`.
mod alerts;
mod capacity;
mod compare;
mod host;
mod investigate;
mod whatif;

use crate::{
    auth::{credentials, session_cookie, Principal, RequireScope, VmRead},
    state::AppState,
    storage::{catalog, hosts},
};
use app::{
    components::snapshot::{
        ssr::{
            AlertsSource, Answer, CompareSource, ExportsSource, FleetSource, HostSource,
            InvestigateSource, WhatIfSource,
        },
        PageError,
    },
    models::{
        AlertsPageData, ComparePageData, ExportsPageData, FleetPageData, HostChoice, HostPageData,
        InvestigatePageData, Viewer, WhatIfPageData,
    },
    shell,
    view_state::{param, parse_query, Range, Theme},
    App,
};
use axum::{
    extract::{Request, State},
    http::{HeaderMap, Method},
    middleware::{self, Next},
    response::{IntoResponse, Redirect, Response},
    routing::post,
    Router,
};
use chrono::{DateTime, Utc};
use leptos::prelude::{provide_context, use_context};
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;

pub fn router(state: &AppState) -> Router<AppState> {
    let fleet = fleet_source(state.clone());
    let host = host_source(state.clone());
    let compare = compare_source(state.clone());
    let investigate = investigate_source(state.clone());
    let what_if = what_if_source(state.clone());
    let capacity = capacity::source(state.clone());
    let exports = exports_source(state.clone());
    let alerts = alerts_source(state.clone());
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    let context = move || {
        provide_context(fleet.clone());
        provide_context(host.clone());
        provide_context(compare.clone());
        provide_context(investigate.clone());
        provide_context(what_if.clone());
        provide_context(capacity.clone());
        provide_context(exports.clone());
        provide_context(alerts.clone());
    };
    Router::new()
        .leptos_routes_with_context(state, routes, context, move || {
            themed_shell(options.clone())
        })
        .route("/theme", post(set_theme))
        .route("/exports", post(start_export))
        .route("/reports", post(start_report))
        .route("/capacity/metrics", post(capacity::set_capacity))
        .route("/capacity/prices", post(capacity::set_prices))
        .route("/capacity.csv", axum::routing::get(capacity::plan_csv))
        .route("/capacity.pdf", axum::routing::get(capacity::plan_pdf))
        .route("/capacity/plans", post(whatif::commit_plan))
        .route("/capacity/plans/{id}/delete", post(whatif::remove_plan))
        .route("/alerts/rules", post(alerts::save_rule))
        .route("/alerts/rules/{id}/{action}", post(alerts::change_rule))
        .route("/alerts/{id}/resolve", post(alerts::resolve))
        .route_layer(middleware::from_fn_with_state(state.clone(), sign_in_guard))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            themed_shell,
        ))
        // Pages and the WASM bundle shrink 3–4× with brotli or gzip; the API stays uncompressed
        // (small JSON, often streamed straight into other tools).
        .layer(tower_http::compression::CompressionLayer::new())
}

/// Pages other than `/login` need a session; `/login` with one goes straight to the fleet.
async fn sign_in_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    // Server functions and forms authenticate themselves and answer in their own way.
    if request.method() != Method::GET || path.starts_with("/sfn/") {
        return next.run(request).await;
    }
    let signed_in = match session_cookie(request.headers()) {
        Some(secret) => credentials::principal_for_session(&state.pool, &secret)
            .await
            .map(|principal| principal.is_some()),
        None => Ok(false),
    };
    match (path == "/login", signed_in) {
        (true, Ok(true)) => Redirect::to("/").into_response(),
        (false, Ok(false)) => Redirect::to("/login").into_response(),
        // The database not answering is not being signed out: the page says it is unavailable
        // (503, "Try again") rather than sending a signed-in person to the sign-in form.
        _ => next.run(request).await,
    }
}

/// The user a page's data is loaded for, from the session cookie of its request, and what
/// the page's top bar shows them.
async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(Principal, Viewer), PageError> {
    let secret =
        session_cookie(headers).ok_or_else(|| PageError::SignedOut("not signed in".into()))?;
    let principal = credentials::principal_for_session(&state.pool, &secret)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| PageError::SignedOut("your session has expired".into()))?;
    let firing = crate::alerts::firing(&state.pool)
        .await
        .map_err(unavailable)?;
    let viewer = Viewer {
        username: principal.name.clone(),
        firing: firing.count,
        firing_level: firing.most_severe,
    };
    Ok((principal, viewer))
}

/// A page's data not read because the database did not answer.
fn unavailable(error: impl std::fmt::Display) -> PageError {
    PageError::Unavailable(unreachable(error))
}

/// The same, as the text a form's answer shows.
fn unreachable(error: impl std::fmt::Display) -> String {
    format!("the database is unreachable: {error}")
}

fn fleet_source(state: AppState) -> FleetSource {
    FleetSource(Arc::new(
        move |headers: HeaderMap| -> Answer<FleetPageData> {
            let state = state.clone();
            Box::pin(async move {
                let (_, viewer) = signed_in(&state, &headers).await?;
                let hosts = crate::fleet::overview(&state.pool, Utc::now())
                    .await
                    .map_err(unavailable)?;
                Ok(FleetPageData {
                    viewer,
                    hosts,
                    local_vm: state.local.vm_id.to_string(),
                })
            })
        },
    ))
}

/// Points of the server-drawn charts (about their width in pixels).
const STATIC_POINTS: i64 = 600;

/// The range a page's query string names, as instants.
fn range_of(pairs: &[(String, String)], now: DateTime<Utc>) -> (i64, i64) {
    Range::from_query(
        param(pairs, "range"),
        param(pairs, "from"),
        param(pairs, "to"),
    )
    .bounds(now.timestamp_millis())
}

fn instant(ms: i64) -> Result<DateTime<Utc>, PageError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| PageError::BadLink(format!("{ms} is not an instant")))
}

/// A page's reads fail as its link (a range or host that cannot be answered) or as the server.
impl From<crate::history::QueryError> for PageError {
    fn from(error: crate::history::QueryError) -> Self {
        use crate::history::QueryError as E;
        match error {
            E::InvalidTime(why) | E::BadRequest(why) | E::LimitExceeded(why) => {
                PageError::BadLink(why)
            }
            E::NotFound(why) => PageError::NotFound(why),
            E::Database(error) => unavailable(error),
            E::Internal(error) => PageError::Unavailable(error.to_string()),
        }
    }
}

fn host_source(state: AppState) -> HostSource {
    HostSource(Arc::new(
        move |headers: HeaderMap, vm: String, query: String| -> Answer<HostPageData> {
            let state = state.clone();
            Box::pin(async move {
                let (_, viewer) = signed_in(&state, &headers).await?;
                host::data(&state.pool, viewer, &vm, &query, Utc::now()).await
            })
        },
    ))
}

fn compare_source(state: AppState) -> CompareSource {
    CompareSource(Arc::new(
        move |headers: HeaderMap, query: String| -> Answer<ComparePageData> {
            let state = state.clone();
            Box::pin(async move {
                let (_, viewer) = signed_in(&state, &headers).await?;
                compare::data(&state.pool, viewer, &query, Utc::now()).await
            })
        },
    ))
}

fn investigate_source(state: AppState) -> InvestigateSource {
    InvestigateSource(Arc::new(
        move |headers: HeaderMap, query: String| -> Answer<InvestigatePageData> {
            let state = state.clone();
            Box::pin(async move {
                let (_, viewer) = signed_in(&state, &headers).await?;
                investigate::data(&state.pool, viewer, &query, Utc::now()).await
            })
        },
    ))
}

fn what_if_source(state: AppState) -> WhatIfSource {
    WhatIfSource(Arc::new(
        move |headers: HeaderMap, query: String| -> Answer<WhatIfPageData> {
            let state = state.clone();
            Box::pin(async move {
                let (principal, viewer) = signed_in(&state, &headers).await?;
                let can_commit = principal.has(crate::auth::Scope::AlertsWrite);
                whatif::data(&state.pool, viewer, can_commit, &query, Utc::now()).await
            })
        },
    ))
}

fn alerts_source(state: AppState) -> AlertsSource {
    AlertsSource(Arc::new(
        move |headers: HeaderMap, query: String| -> Answer<AlertsPageData> {
            let state = state.clone();
            Box::pin(async move {
                let (principal, viewer) = signed_in(&state, &headers).await?;
                alerts::data(&state, principal, viewer, &query, Utc::now()).await
            })
        },
    ))
}

/// Exports, and reports, listed on the exports page.
const RECENT_EXPORTS: i64 = 10;

/// The exports page: hosts to choose from and the caller's recent exports and reports.
fn exports_source(state: AppState) -> ExportsSource {
    ExportsSource(Arc::new(
        move |headers: HeaderMap| -> Answer<ExportsPageData> {
            let state = state.clone();
            Box::pin(async move {
                let (principal, viewer) = signed_in(&state, &headers).await?;
                let hosts = hosts::all(&state.pool).await.map_err(unavailable)?;
                let jobs = crate::export::recent(&state.pool, &principal.name, RECENT_EXPORTS)
                    .await
                    .map_err(unavailable)?;
                let reports = crate::report::recent(&state.pool, &principal.name, RECENT_EXPORTS)
                    .await
                    .map_err(unavailable)?;
                Ok(ExportsPageData {
                    viewer,
                    hosts: hosts
                        .into_iter()
                        .map(|h| HostChoice {
                            vm_id: h.vm_id,
                            name: h.name,
                        })
                        .collect(),
                    exports: jobs
                        .iter()
                        .map(crate::export::JobRow::to_progress)
                        .collect(),
                    reports: reports
                        .iter()
                        .map(crate::report::ReportRow::to_status)
                        .collect(),
                })
            })
        },
    ))
}

/// `POST /exports`: the exports page's form (`host` repeated, `hours`, `aggregation`, `format`).
/// Cookie-authenticated with the origin check of every state change; answers with a redirect
/// back to the page, with `?error=` when the export was refused.
async fn start_export(
    RequireScope(principal, _): RequireScope<VmRead>,
    State(state): State<AppState>,
    body: String,
) -> Response {
    let pairs = parse_query(&body);
    let outcome = async {
        let vm_ids: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| k == "host")
            .map(|(_, v)| v.clone())
            .collect();
        if vm_ids.is_empty() {
            return Err("Choose at least one host.".to_string());
        }
        let hours: i64 = param(&pairs, "hours")
            .and_then(|h| h.parse().ok())
            .unwrap_or(24)
            .clamp(1, 24 * 730);
        let format_text = param(&pairs, "format").unwrap_or("excel");
        let format = crate::export::format::FileFormat::parse(format_text)
            .ok_or_else(|| format!("unknown format `{format_text}`"))?;
        let aggregation_text = param(&pairs, "aggregation").unwrap_or("1h");
        let aggregation = crate::history::Aggregation::parse(aggregation_text)
            .ok_or_else(|| format!("unknown resolution `{aggregation_text}`"))?;
        let hosts = crate::history::resolve_hosts(&state.pool, Some(&vm_ids), None, None)
            .await
            .map_err(|e| e.to_string())?;
        let now = Utc::now();
        let order = crate::export::tasks::Order {
            hosts,
            groups: catalog::Group::ALL.to_vec(),
            start: now - chrono::Duration::hours(hours),
            end: now,
            aggregation,
            func: crate::history::Func::Avg,
            format,
            fields: None,
            filename: None,
            include_headers: true,
            timezone: "UTC".into(),
            date_format: "YYYY-MM-DD HH:mm:ss".into(),
            number_format: "0.00".into(),
        };
        crate::export::tasks::queue(
            &state.pool,
            &state.jobs.exports,
            &principal.name,
            order,
            now,
        )
        .await
        .map_err(|e| e.to_string())
    }
    .await;
    match outcome {
        Ok(_) => Redirect::to("/exports").into_response(),
        Err(problem) => Redirect::to(&format!(
            "/exports?error={}",
            app::view_state::encode(&problem)
        ))
        .into_response(),
    }
}

/// `POST /reports`: the exports page's report form (`host`, `type`, `period`, `format`, and the
/// `alerts` / `recommendations` boxes), checked as `POST /api/v1/performance/reports` checks it.
/// Answers with a redirect back to the page, with `?report_error=` when it was refused.
async fn start_report(
    RequireScope(principal, _): RequireScope<VmRead>,
    State(state): State<AppState>,
    body: String,
) -> Response {
    let pairs = parse_query(&body);
    let outcome = async {
        let request = crate::report::Asked {
            kind: param(&pairs, "type"),
            period: param(&pairs, "period"),
            format: param(&pairs, "format"),
            metrics: None,
            include_alerts: Some(param(&pairs, "alerts").is_some()),
            include_recommendations: Some(param(&pairs, "recommendations").is_some()),
        }
        .check()?;
        let vm_id = param(&pairs, "host").ok_or("Choose a host.")?;
        let host = hosts::find(&state.pool, vm_id)
            .await
            .map_err(unreachable)?
            .ok_or_else(|| format!("no host with id `{vm_id}`"))?;
        crate::report::queue(&state.pool, host.id, request, &principal.name)
            .await
            .map_err(unreachable)?
            .ok_or("the host was removed meanwhile")?;
        state.jobs.reports.notify_one();
        Ok::<_, String>(())
    }
    .await;
    match outcome {
        Ok(()) => Redirect::to("/exports#reports").into_response(),
        Err(problem) => Redirect::to(&format!(
            "/exports?report_error={}#reports",
            app::view_state::encode(&problem)
        ))
        .into_response(),
    }
}

/// The document in the browser's colours (its `lookout_theme` cookie), which the top bar's switch
/// reads from the context too.
fn themed_shell(options: leptos::config::LeptosOptions) -> impl leptos::IntoView {
    let theme = use_context::<axum::http::request::Parts>()
        .and_then(|parts| {
            let cookies = parts.headers.get(axum::http::header::COOKIE)?;
            Some(Theme::of_cookie_header(cookies.to_str().ok()?))
        })
        .unwrap_or_default();
    provide_context(theme);
    shell(options, theme)
}

/// `POST /theme` (`theme`: `auto`, `light` or `dark`; `back`: the page to return to): keeps the
/// browser's choice in a cookie for a year (`auto` removes it) and goes back to the page. Only a
/// path on this server is gone back to.
async fn set_theme(body: String) -> Response {
    let pairs = parse_query(&body);
    let theme = Theme::parse(param(&pairs, "theme").unwrap_or_default());
    let back = param(&pairs, "back")
        .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .unwrap_or("/");
    let cookie = match theme.attribute() {
        Some(value) => format!(
            "{}={value}; Path=/; Max-Age=31536000; SameSite=Lax",
            Theme::COOKIE
        ),
        None => format!("{}=; Path=/; Max-Age=0; SameSite=Lax", Theme::COOKIE),
    };
    (
        [(axum::http::header::SET_COOKIE, cookie)],
        Redirect::to(back),
    )
        .into_response()
}
