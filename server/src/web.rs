//! The browser UI: server-rendered Leptos pages, their server functions, the sign-in guard and static files.
use crate::{
    auth::{credentials, session_cookie},
    state::AppState,
    storage::samples,
};
use app::{
    components::snapshot::ssr::{CapacityFuture, CapacitySource, DashboardSource, ExportAnswer, ExportCall, ExportFuture, ExportsSource, SnapshotFuture},
    models::{CapacityReport, DashboardSnapshot, ExportsPageData, HostChoice, LIVE_WINDOW_SECS},
    shell, App,
};
use axum::{
    extract::{Request, State},
    http::{HeaderMap, Method},
    middleware::{self, Next},
    response::{IntoResponse, Redirect, Response},
    Router,
};
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;

pub fn router(state: &AppState) -> Router<AppState> {
    let source = dashboard_source(state.clone());
    let capacity = capacity_source(state.clone());
    let exports = exports_source(state.clone());
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    let context = move || {
        provide_context(source.clone());
        provide_context(capacity.clone());
        provide_context(exports.clone());
    };
    Router::new()
        .leptos_routes_with_context(state, routes, context, move || shell(options.clone()))
        .route_layer(middleware::from_fn_with_state(state.clone(), sign_in_guard))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        // Pages and the WASM bundle shrink 3–4× with brotli or gzip; the API stays uncompressed
        // (small JSON, often streamed straight into other tools).
        .layer(tower_http::compression::CompressionLayer::new())
}

/// Pages other than `/login` need a session; `/login` with one goes straight to the live page.
async fn sign_in_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    // Server functions authenticate themselves and answer in their own format.
    if request.method() != Method::GET || path.starts_with("/sfn/") {
        return next.run(request).await;
    }
    let signed_in = match session_cookie(request.headers()) {
        Some(secret) => matches!(credentials::principal_for_session(&state.pool, &secret).await, Ok(Some(_))),
        None => false,
    };
    match (path == "/login", signed_in) {
        (true, true) => Redirect::to("/").into_response(),
        (false, false) => Redirect::to("/login").into_response(),
        _ => next.run(request).await,
    }
}

/// The user a page's server function runs for, from the session cookie of its request.
async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<crate::auth::Principal, String> {
    let secret = session_cookie(headers).ok_or("not signed in")?;
    credentials::principal_for_session(&state.pool, &secret)
        .await
        .map_err(|e| format!("the database is unreachable: {e}"))?
        .ok_or_else(|| "your session has expired; sign in again".to_string())
}

/// What the live page loads first: who is signed in and the last 15 minutes of this host.
fn dashboard_source(state: AppState) -> DashboardSource {
    DashboardSource(Arc::new(move |headers: HeaderMap| -> SnapshotFuture {
        let state = state.clone();
        Box::pin(async move {
            let principal = signed_in(&state, &headers).await?;
            let since = chrono::Utc::now() - chrono::Duration::seconds(LIVE_WINDOW_SECS);
            let recent = match samples::since(&state.pool, state.local.host_id, since).await {
                Ok(rows) => rows.iter().map(|r| r.to_stats()).collect(),
                // The page still works from the live stream when history cannot be read.
                Err(error) => {
                    tracing::warn!(%error, "Cannot load recent samples for the live page.");
                    state.local.latest().into_iter().collect()
                }
            };
            Ok(DashboardSnapshot {
                host: state.local.vm_id.to_string(),
                host_name: state.local.name.to_string(),
                username: principal.name,
                sample_interval_secs: state.settings.sample_interval.as_secs(),
                recent,
            })
        })
    }))
}

/// What the capacity page shows: `/history/trends` over every host for the last 180 days with a
/// 90-day forecast against 80 %, and the newest anomalies of the last 7 days.
fn capacity_source(state: AppState) -> CapacitySource {
    const HISTORY_DAYS: i64 = 180;
    const HORIZON_DAYS: i64 = 90;
    const THRESHOLD: f64 = 80.0;
    CapacitySource(Arc::new(move |headers: HeaderMap| -> CapacityFuture {
        let state = state.clone();
        Box::pin(async move {
            let principal = signed_in(&state, &headers).await?;
            let unreachable = |e: sqlx::Error| format!("the database is unreachable: {e}");
            let hosts: Vec<(i32, String, String)> =
                sqlx::query_as("SELECT id, vm_id, name FROM hosts ORDER BY vm_id").fetch_all(&state.pool).await.map_err(unreachable)?;
            let now = chrono::Utc::now();
            let options = crate::capacity::TrendOptions {
                start: now - chrono::Duration::days(HISTORY_DAYS),
                end: now,
                metrics: crate::capacity::METRICS.to_vec(),
                forecast_enabled: true,
                horizon: HORIZON_DAYS as f64,
                method: crate::analysis::trend::Method::Linear,
                threshold: THRESHOLD,
            };
            let trends = crate::capacity::analyse(&state.pool, &hosts, &options).await.map_err(|e| e.to_string())?;
            let anomalies = crate::detect::recent(&state.pool, now - chrono::Duration::days(7), 20).await.map_err(unreachable)?;
            Ok(CapacityReport {
                username: principal.name,
                hosts: hosts.len(),
                history_days: HISTORY_DAYS,
                horizon_days: HORIZON_DAYS,
                threshold: THRESHOLD,
                trends,
                anomalies,
            })
        })
    }))
}

/// The exports page: hosts to choose from, the caller's recent exports, starting and following one.
fn exports_source(state: AppState) -> ExportsSource {
    ExportsSource(Arc::new(move |headers: HeaderMap, call: ExportCall| -> ExportFuture {
        let state = state.clone();
        Box::pin(async move {
            let principal = signed_in(&state, &headers).await?;
            let unreachable = |e: sqlx::Error| format!("the database is unreachable: {e}");
            match call {
                ExportCall::Page => {
                    let hosts: Vec<(String, String)> =
                        sqlx::query_as("SELECT vm_id, name FROM hosts ORDER BY vm_id").fetch_all(&state.pool).await.map_err(unreachable)?;
                    let jobs: Vec<crate::export::JobRow> = sqlx::query_as(
                        "SELECT * FROM export_jobs WHERE created_by = $1 AND (expires_at IS NULL OR expires_at > now()) ORDER BY created_at DESC LIMIT 10",
                    )
                    .bind(&principal.name)
                    .fetch_all(&state.pool)
                    .await
                    .map_err(unreachable)?;
                    Ok(ExportAnswer::Page(ExportsPageData {
                        username: principal.name,
                        hosts: hosts.into_iter().map(|(vm_id, name)| HostChoice { vm_id, name }).collect(),
                        exports: jobs.iter().map(crate::export::JobRow::to_progress).collect(),
                    }))
                }
                ExportCall::Start(form) => {
                    let now = chrono::Utc::now();
                    let format = crate::export::format::FileFormat::parse(&form.format).ok_or_else(|| format!("unknown format `{}`", form.format))?;
                    let aggregation = crate::history::Aggregation::parse(&form.aggregation).ok_or_else(|| format!("unknown resolution `{}`", form.aggregation))?;
                    let hosts = crate::history::resolve_hosts(&state.pool, Some(&form.vm_ids), None, None).await.map_err(|e| e.to_string())?;
                    let order = crate::export::tasks::Order {
                        hosts,
                        groups: crate::storage::catalog::Group::ALL.to_vec(),
                        start: now - chrono::Duration::hours(form.hours.clamp(1, 24 * 730)),
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
                    let job = crate::export::tasks::queue(&state.pool, &state.jobs.exports, &principal.name, order, now).await.map_err(|e| e.to_string())?;
                    Ok(ExportAnswer::Task(job.to_progress()))
                }
                ExportCall::Progress(id) => {
                    let admin = principal.has(crate::auth::Scope::Admin);
                    let job = crate::export::tasks::visible(&state.pool, &principal.name, admin, &id).await.map_err(|e| e.to_string())?;
                    Ok(ExportAnswer::Task(job.to_progress()))
                }
            }
        })
    }))
}
