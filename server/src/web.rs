//! The browser UI: server-rendered Leptos pages and the data they are rendered from, the
//! exports form, the sign-in guard and static files. Every page's data comes from the same
//! services the REST API uses (fleet, history series, timeline, capacity, exports).
use crate::{
    auth::{credentials, session_cookie, Principal, RequireScope, VmRead},
    history::series::{self as chart_series, List, SeriesRequest},
    state::AppState,
    storage::{catalog, samples},
};
use app::{
    chart::series::{self as svg, Line},
    components::snapshot::ssr::{
        Answer, CapacitySource, CompareSource, ExportsSource, FleetSource, HostSource,
    },
    models::{
        CapacityReport, ComparePageData, CustomPanel, ExportsPageData, FleetPageData, HostChoice,
        HostPageData, StaticPanel,
    },
    panels::{custom_unit_display, COMPARE_METRICS, HOST_PANELS},
    shell,
    view_state::{param, parse_query, Range},
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
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;

pub fn router(state: &AppState) -> Router<AppState> {
    let fleet = fleet_source(state.clone());
    let host = host_source(state.clone());
    let compare = compare_source(state.clone());
    let capacity = capacity_source(state.clone());
    let exports = exports_source(state.clone());
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    let context = move || {
        provide_context(fleet.clone());
        provide_context(host.clone());
        provide_context(compare.clone());
        provide_context(capacity.clone());
        provide_context(exports.clone());
    };
    Router::new()
        .leptos_routes_with_context(state, routes, context, move || shell(options.clone()))
        .route("/exports", post(start_export))
        .route_layer(middleware::from_fn_with_state(state.clone(), sign_in_guard))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
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
        Some(secret) => matches!(
            credentials::principal_for_session(&state.pool, &secret).await,
            Ok(Some(_))
        ),
        None => false,
    };
    match (path == "/login", signed_in) {
        (true, true) => Redirect::to("/").into_response(),
        (false, false) => Redirect::to("/login").into_response(),
        _ => next.run(request).await,
    }
}

/// The user a page's data is loaded for, from the session cookie of its request.
async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Principal, String> {
    let secret = session_cookie(headers).ok_or("not signed in")?;
    credentials::principal_for_session(&state.pool, &secret)
        .await
        .map_err(|e| format!("the database is unreachable: {e}"))?
        .ok_or_else(|| "your session has expired; sign in again".to_string())
}

fn unreachable(error: impl std::fmt::Display) -> String {
    format!("the database is unreachable: {error}")
}

fn fleet_source(state: AppState) -> FleetSource {
    FleetSource(Arc::new(
        move |headers: HeaderMap| -> Answer<FleetPageData> {
            let state = state.clone();
            Box::pin(async move {
                let principal = signed_in(&state, &headers).await?;
                let hosts = crate::fleet::overview(&state.pool, Utc::now())
                    .await
                    .map_err(unreachable)?;
                Ok(FleetPageData {
                    username: principal.name,
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

fn instant(ms: i64) -> Result<DateTime<Utc>, String> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| format!("{ms} is not an instant"))
}

/// The host view: the host, its newest sample, one series read for every chart (drawn as SVG
/// for browsers without JavaScript) and its events in the range.
fn host_source(state: AppState) -> HostSource {
    HostSource(Arc::new(
        move |headers: HeaderMap, vm: String, query: String| -> Answer<HostPageData> {
            let state = state.clone();
            Box::pin(async move {
                let principal = signed_in(&state, &headers).await?;
                let now = Utc::now();
                let (from, to) = range_of(&parse_query(&query), now);
                let (start, end) = (instant(from)?, instant(to)?);
                crate::history::check_range(start, end, now).map_err(|e| e.to_string())?;
                let host = crate::history::resolve_hosts(
                    &state.pool,
                    Some(std::slice::from_ref(&vm)),
                    None,
                    None,
                )
                .await
                .map_err(|e| e.to_string())?;
                let host = host
                    .into_iter()
                    .next()
                    .ok_or_else(|| format!("no host `{vm}`"))?;
                type Facts = (
                    Option<String>,
                    Option<String>,
                    Option<DateTime<Utc>>,
                    String,
                    String,
                );
                let (group_id, cluster_id, last_seen, platform, version): Facts = sqlx::query_as(
                "SELECT group_id, cluster_id, last_seen, coalesce(platform, ''), coalesce(platform_version, '') FROM hosts WHERE id = $1",
            )
            .bind(host.0)
            .fetch_one(&state.pool)
            .await
            .map_err(unreachable)?;
                let latest = samples::latest(&state.pool, host.0)
                    .await
                    .map_err(unreachable)?
                    .map(|r| r.to_stats());
                let on = last_seen.is_some_and(|t| {
                    now - t
                        <= chrono::Duration::seconds(crate::storage::hosts::POWERED_OFF_AFTER_SECS)
                });

                let metrics: Vec<&'static catalog::Metric> = HOST_PANELS
                    .iter()
                    .flat_map(|p| p.metrics.iter())
                    .filter_map(|m| catalog::by_name(m))
                    .collect();
                let request = SeriesRequest {
                    host_id: host.0,
                    metrics: &metrics,
                    lists: &List::ALL,
                    start,
                    end,
                    points: STATIC_POINTS,
                };
                let series = chart_series::read(&state.pool, &request, now)
                    .await
                    .map_err(|e| e.to_string())?;
                let column = |name: &str| series.series.get(name).cloned().unwrap_or_default();
                let panels = HOST_PANELS
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
                        // A host without containers or GPUs in the range gets no such panel.
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
                    .collect();
                let custom = crate::history::custom::of_host(
                    &state.pool,
                    host.0,
                    None,
                    (start, end),
                    crate::history::custom::HOST_CHART_BUCKETS,
                    now,
                )
                .await
                .map_err(unreachable)?;
                let custom_more = custom.more;
                let custom = custom
                    .metrics
                    .into_iter()
                    .map(|metric| {
                        let line = Line {
                            label: &metric.name,
                            points: metric.buckets.iter().map(|b| (b.0, Some(b.1))).collect(),
                        };
                        let band: Vec<(i64, f64, f64)> =
                            metric.buckets.iter().map(|b| (b.0, b.2, b.3)).collect();
                        let unit = custom_unit_display(&metric.unit);
                        let svg = svg::render(&[line], Some(&band), from, to, unit);
                        CustomPanel {
                            latest: metric.buckets.last().map(|b| b.1),
                            name: metric.name,
                            unit: metric.unit,
                            svg,
                        }
                    })
                    .collect();
                let types = crate::timeline::TYPES;
                let events = crate::timeline::events(&state.pool, &host, start, end, &types, now)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(HostPageData {
                    username: principal.name,
                    vm_id: host.1.clone(),
                    name: host.2.clone(),
                    group_id,
                    cluster_id,
                    power_state: if on { "poweredOn" } else { "poweredOff" }.into(),
                    platform: format!("{platform} {version}").trim().to_owned(),
                    latest,
                    from,
                    to,
                    resolution: series.resolution,
                    panels,
                    events,
                    custom,
                    custom_more,
                })
            })
        },
    ))
}

/// The compare view: the hosts named (`hosts=a,b`, repeated `host=`, or a whole `group=`), one
/// metric, and a server-drawn chart of it.
fn compare_source(state: AppState) -> CompareSource {
    CompareSource(Arc::new(
        move |headers: HeaderMap, query: String| -> Answer<ComparePageData> {
            let state = state.clone();
            Box::pin(async move {
                let principal = signed_in(&state, &headers).await?;
                let now = Utc::now();
                let pairs = parse_query(&query);
                let (from, to) = range_of(&pairs, now);
                let (start, end) = (instant(from)?, instant(to)?);
                crate::history::check_range(start, end, now).map_err(|e| e.to_string())?;
                let custom_choices = crate::storage::custom_metrics::sent_by_hosts(
                    &state.pool,
                    now - chrono::Duration::days(7),
                )
                .await
                .map_err(unreachable)?;
                let custom_name = |m: &str| {
                    let name = m.strip_prefix(crate::history::custom::CUSTOM_PREFIX)?;
                    custom_choices.iter().find(|c| c.0 == name).cloned()
                };
                let metric_name = param(&pairs, "metric")
                    .filter(|m| {
                        COMPARE_METRICS.iter().any(|c| c.0 == *m) || custom_name(m).is_some()
                    })
                    .unwrap_or("cpu.usagePercent")
                    .to_owned();
                let custom = custom_name(&metric_name);
                let unit = match &custom {
                    Some((_, unit)) => custom_unit_display(unit),
                    None => COMPARE_METRICS
                        .iter()
                        .find(|c| c.0 == metric_name)
                        .map(|c| c.2)
                        .unwrap_or("percent"),
                };
                let choices: Vec<(String, String, Option<String>)> = sqlx::query_as(
                    "SELECT vm_id, name, group_id FROM hosts ORDER BY group_id NULLS LAST, vm_id",
                )
                .fetch_all(&state.pool)
                .await
                .map_err(unreachable)?;
                let mut named: Vec<String> = pairs
                    .iter()
                    .filter(|(k, _)| k == "hosts" || k == "host")
                    .flat_map(|(_, v)| {
                        v.split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned)
                            .collect::<Vec<_>>()
                    })
                    .collect();
                named.dedup();
                let hosts = match (
                    param(&pairs, "group").filter(|g| !g.is_empty()),
                    named.is_empty(),
                ) {
                    (Some(group), _) => {
                        crate::history::resolve_hosts(&state.pool, None, Some(group), None)
                            .await
                            .map_err(|e| e.to_string())?
                    }
                    (None, false) => {
                        crate::history::resolve_hosts(&state.pool, Some(&named), None, None)
                            .await
                            .map_err(|e| e.to_string())?
                    }
                    // Nothing chosen yet: the first few hosts, so the page shows something.
                    (None, true) => {
                        let first: Vec<String> =
                            choices.iter().take(3).map(|c| c.0.clone()).collect();
                        if first.is_empty() {
                            Vec::new()
                        } else {
                            crate::history::resolve_hosts(&state.pool, Some(&first), None, None)
                                .await
                                .map_err(|e| e.to_string())?
                        }
                    }
                };
                let mut lines = Vec::new();
                for host in hosts.iter().take(svg::COLORS.len() * 2) {
                    if let Some((name, _)) = &custom {
                        let read = crate::history::custom::of_host(
                            &state.pool,
                            host.0,
                            Some(std::slice::from_ref(name)),
                            (start, end),
                            STATIC_POINTS,
                            now,
                        )
                        .await
                        .map_err(unreachable)?;
                        let points = read
                            .metrics
                            .first()
                            .map(|m| m.buckets.iter().map(|b| (b.0, Some(b.1))).collect())
                            .unwrap_or_default();
                        lines.push((host.2.clone(), points));
                        continue;
                    }
                    let metric = catalog::by_name(&metric_name).ok_or("unknown metric")?;
                    let request = SeriesRequest {
                        host_id: host.0,
                        metrics: std::slice::from_ref(&metric),
                        lists: &[],
                        start,
                        end,
                        points: STATIC_POINTS,
                    };
                    let series = chart_series::read(&state.pool, &request, now)
                        .await
                        .map_err(|e| e.to_string())?;
                    let values = series
                        .series
                        .get(&format!("{metric_name}.avg"))
                        .cloned()
                        .unwrap_or_default();
                    lines.push((
                        host.2.clone(),
                        series.t.iter().copied().zip(values).collect::<Vec<_>>(),
                    ));
                }
                let drawn: Vec<Line<'_>> = lines
                    .iter()
                    .map(|(label, points)| Line {
                        label,
                        points: points.clone(),
                    })
                    .collect();
                Ok(ComparePageData {
                    username: principal.name,
                    choices,
                    hosts: hosts.iter().map(|h| (h.1.clone(), h.2.clone())).collect(),
                    metric: metric_name,
                    from,
                    to,
                    svg: svg::render(&drawn, None, from, to, unit),
                    custom_choices,
                })
            })
        },
    ))
}

/// What the capacity page shows: `/history/trends` over every host for the last 180 days with a
/// 90-day forecast against 80 %, and the newest anomalies of the last 7 days.
fn capacity_source(state: AppState) -> CapacitySource {
    const HISTORY_DAYS: i64 = 180;
    const HORIZON_DAYS: i64 = 90;
    const THRESHOLD: f64 = 80.0;
    CapacitySource(Arc::new(
        move |headers: HeaderMap| -> Answer<CapacityReport> {
            let state = state.clone();
            Box::pin(async move {
                let principal = signed_in(&state, &headers).await?;
                let hosts: Vec<(i32, String, String)> =
                    sqlx::query_as("SELECT id, vm_id, name FROM hosts ORDER BY vm_id")
                        .fetch_all(&state.pool)
                        .await
                        .map_err(unreachable)?;
                let now = Utc::now();
                let options = crate::capacity::TrendOptions {
                    start: now - chrono::Duration::days(HISTORY_DAYS),
                    end: now,
                    metrics: crate::capacity::METRICS.to_vec(),
                    forecast_enabled: true,
                    horizon: HORIZON_DAYS as f64,
                    method: crate::analysis::trend::Method::Linear,
                    threshold: THRESHOLD,
                };
                let trends = crate::capacity::analyse(&state.pool, &hosts, &options)
                    .await
                    .map_err(|e| e.to_string())?;
                // Enough events for the page's twenty incidents (several events each).
                let anomalies =
                    crate::detect::recent(&state.pool, now - chrono::Duration::days(7), 100)
                        .await
                        .map_err(unreachable)?;
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
        },
    ))
}

/// The exports page: hosts to choose from and the caller's recent exports.
fn exports_source(state: AppState) -> ExportsSource {
    ExportsSource(Arc::new(
        move |headers: HeaderMap| -> Answer<ExportsPageData> {
            let state = state.clone();
            Box::pin(async move {
                let principal = signed_in(&state, &headers).await?;
                let hosts: Vec<(String, String)> =
                    sqlx::query_as("SELECT vm_id, name FROM hosts ORDER BY vm_id")
                        .fetch_all(&state.pool)
                        .await
                        .map_err(unreachable)?;
                let jobs: Vec<crate::export::JobRow> = sqlx::query_as(
                "SELECT * FROM export_jobs WHERE created_by = $1 AND (expires_at IS NULL OR expires_at > now()) ORDER BY created_at DESC LIMIT 10",
            )
            .bind(&principal.name)
            .fetch_all(&state.pool)
            .await
            .map_err(unreachable)?;
                Ok(ExportsPageData {
                    username: principal.name,
                    hosts: hosts
                        .into_iter()
                        .map(|(vm_id, name)| HostChoice { vm_id, name })
                        .collect(),
                    exports: jobs
                        .iter()
                        .map(crate::export::JobRow::to_progress)
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
