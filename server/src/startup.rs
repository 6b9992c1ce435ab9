//! Building and running the application: database, sampler, router, middleware and graceful shutdown.
use crate::{
    alerts::AlertEngine,
    api,
    auth::{self, credentials, Scope},
    config::Settings,
    error::{error_body, ApiError},
    live::{self, Hub},
    sampling,
    state::AppState,
    storage::{self, managed::ManagedPostgres},
    web,
};
use anyhow::Context;
use axum::{
    extract::{DefaultBodyLimit, MatchedPath, Request, State},
    middleware::{self, Next},
    http::{header, HeaderName, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use leptos::prelude::LeptosOptions;
use std::{any::Any, sync::Arc, time::Duration};
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    sensitive_headers::SetSensitiveRequestHeadersLayer,
    trace::{DefaultOnResponse, TraceLayer},
};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    tasks: TaskTracker,
    managed: Option<ManagedPostgres>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let database = storage::open(&settings.database, true).await?;
        let pool = database.pool.clone();

        if let Some(password) = credentials::ensure_admin(&pool, settings.admin_password.as_deref()).await? {
            // Printed once, on the first start only: only its hash is stored.
            println!("\n  Lookout created the user `admin` with the password:\n\n      {password}\n\n  Keep it now; it is not shown again (set LOOKOUT_ADMIN_PASSWORD to change it).\n");
        }
        if let Some(token) = &settings.bootstrap_token {
            credentials::create_token(&pool, "bootstrap", &[Scope::Admin], Some(token)).await.context("LOOKOUT_BOOTSTRAP_TOKEN")?;
        }

        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        let hub = Hub::default();
        tasks.spawn(live::relay(pool.clone(), hub.clone(), shutdown.clone()));
        let (alerts, alert_inbox) = AlertEngine::channel();
        let local = sampling::start(
            pool.clone(),
            hub.clone(),
            alerts.clone(),
            settings.sample_interval,
            settings.buffer_capacity(),
            shutdown.clone(),
            &tasks,
        )
        .await?;
        tasks.spawn(crate::alerts::run(alert_inbox, alerts.clone(), pool.clone(), hub.clone(), local.clone(), shutdown.clone()));
        tasks.spawn(crate::alerts::webhook::worker(pool.clone(), settings.webhooks.clone(), alerts.deliveries.clone(), shutdown.clone()));
        let jobs = crate::state::JobWakers::default();
        tasks.spawn(crate::export::worker(pool.clone(), settings.export_dir.clone(), jobs.exports.clone(), shutdown.clone()));
        tasks.spawn(crate::report::worker(pool.clone(), settings.export_dir.join("reports"), jobs.reports.clone(), shutdown.clone()));
        tasks.spawn(storage::rollups::worker(pool.clone(), settings.rollup_interval, shutdown.clone()));
        tasks.spawn(crate::detect::worker(pool.clone(), hub.clone(), settings.detect_interval, shutdown.clone()));
        if settings.demo {
            start_demo(pool.clone(), &tasks).await?;
        }

        let listener = TcpListener::bind(settings.listen).await.with_context(|| format!("cannot listen on {}", settings.listen))?;
        let leptos_options = LeptosOptions::builder()
            .output_name("lookout")
            .site_root(settings.site_root.clone())
            .site_pkg_dir("pkg")
            .site_addr(listener.local_addr()?)
            .env(if cfg!(debug_assertions) { leptos::config::Env::DEV } else { leptos::config::Env::PROD })
            .build();
        let throttle = Arc::new(crate::auth::throttle::Throttle::new(settings.rate_limit));
        let state = AppState { pool, settings: Arc::new(settings), hub, local, alerts, jobs, throttle, leptos_options, shutdown };
        let router = router(state.clone());
        Ok(Application { listener, router, state, tasks, managed: database.managed })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Cancelling this token stops the server gracefully (what SIGINT/SIGTERM do).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.state.shutdown.clone()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until the shutdown token is cancelled, then flushes samples and stops the managed database.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Application { listener, router, state, tasks, managed } = self;
        tracing::info!(address = %listener.local_addr()?, "Lookout is listening.");
        let shutdown = state.shutdown.clone();
        let served = axum::serve(listener, router).with_graceful_shutdown(shutdown.clone().cancelled_owned()).await;
        shutdown.cancel();
        tasks.close();
        // The writer makes one last attempt to store buffered samples.
        if tokio::time::timeout(Duration::from_secs(15), tasks.wait()).await.is_err() {
            tracing::warn!("Background tasks did not stop within 15 s.");
        }
        state.pool.close().await;
        if let Some(cluster) = managed {
            cluster.stop().await?;
        }
        served.context("server error")
    }
}

pub fn router(state: AppState) -> Router {
    let settings = state.settings.clone();
    // REST requests get a deadline; WebSockets and pages do not (streams are long-lived by design).
    let api = api::router(settings.ingest_body_limit)
        .layer(middleware::from_fn_with_state(settings.request_timeout, deadline))
        .layer(middleware::from_fn_with_state(state.clone(), api::throttle));
    Router::new()
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/ws/performance", get(live::performance_socket))
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .merge(api)
        .merge(web::router(&state))
        .layer(
            ServiceBuilder::new()
                .layer(SetSensitiveRequestHeadersLayer::new([header::AUTHORIZATION, header::COOKIE]))
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(|request: &Request| {
                            let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
                            let id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                            tracing::info_span!("request", method = %request.method(), route = route.as_deref().unwrap_or(request.uri().path()), id)
                        })
                        .on_response(DefaultOnResponse::new().level(tracing::Level::DEBUG)),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::custom(panic_response))
                .layer(DefaultBodyLimit::max(settings.body_limit)),
        )
        .with_state(state)
}

/// Seeds a demo fleet when the database holds no host but this one, without delaying start-up.
async fn start_demo(pool: sqlx::PgPool, tasks: &TaskTracker) -> anyhow::Result<()> {
    let others: i64 = sqlx::query_scalar("SELECT count(*) FROM hosts").fetch_one(&pool).await?;
    if others > 1 {
        tracing::info!("Demo fleet skipped: the database already has other hosts.");
        return Ok(());
    }
    tasks.spawn(async move {
        let plan = crate::simulate::Plan { hosts: 8, days: 30, interval_secs: 300, seed: 42, until: chrono::Utc::now() };
        tracing::info!(hosts = plan.hosts, days = plan.days, "Seeding a demo fleet in the background.");
        match crate::simulate::run(&pool, &plan, false).await {
            Ok((_, written)) => tracing::info!(samples = written, "Demo fleet ready."),
            Err(error) => tracing::warn!(error = format!("{error:#}"), "Demo fleet could not be written."),
        }
    });
    Ok(())
}

/// Answers `408` in the API envelope when a REST request takes longer than the configured deadline.
async fn deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout.into_response(),
    }
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = detail, "A request handler panicked.");
    (StatusCode::INTERNAL_SERVER_ERROR, Json(error_body("INTERNAL", "an internal error occurred"))).into_response()
}
