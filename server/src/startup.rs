//! Building and running the application: database, sampler, router, middleware and graceful shutdown.
use crate::{
    alerts::AlertEngine,
    api,
    auth::{self, credentials, Scope},
    config::Settings,
    error::{error_body, Logged},
    jobs,
    live::{self, Hub},
    sampling,
    state::AppState,
    storage::{
        self,
        managed::{DataDirLock, ManagedPostgres},
    },
    web,
};
use anyhow::Context;
use axum::{
    extract::{DefaultBodyLimit, MatchedPath, Request},
    http::{header, HeaderName, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use leptos::prelude::LeptosOptions;
use std::{any::Any, future::IntoFuture, sync::Arc, time::Duration};
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    sensitive_headers::SetSensitiveRequestHeadersLayer,
    trace::TraceLayer,
};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    tasks: TaskTracker,
    managed: Option<Arc<ManagedPostgres>>,
    /// Held while this server uses the data directory's managed cluster.
    _data_dir_lock: Option<DataDirLock>,
    /// Samples the last flush could not store (spilled for the next start), shared with the writer.
    unflushed: sampling::Unflushed,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with(settings, CancellationToken::new()).await
    }

    /// Builds the application with `shutdown` as its stop signal. Everything that must be
    /// stopped again (the managed cluster, background tasks) starts only after the listener is
    /// bound; if building fails, panics or is abandoned, the cluster is stopped (its handle's
    /// `Drop`) and the tasks see `shutdown` cancelled.
    pub async fn build_with(
        settings: Settings,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let data_dir_lock = match settings.database.database_url {
            None => Some(DataDirLock::acquire(&settings.database.data_dir)?),
            Some(_) => None,
        };
        let database = storage::open(&settings.database, true).await?;
        let managed = database.managed.map(Arc::new);
        let address = listener.local_addr()?;
        let built = Self::start_services(&settings, address, database.pool, shutdown.clone()).await;
        let (state, tasks, unflushed) = match built {
            Ok(parts) => parts,
            Err(error) => {
                // The tasks already started stop with the token; the cluster stops when its last
                // handle goes (the tasks hold none).
                shutdown.cancel();
                return Err(error);
            }
        };
        let router = router(state.clone());
        Ok(Application {
            listener,
            router,
            state,
            tasks,
            managed,
            _data_dir_lock: data_dir_lock,
            unflushed,
        })
    }

    async fn start_services(
        settings: &Settings,
        address: std::net::SocketAddr,
        pool: sqlx::PgPool,
        shutdown: CancellationToken,
    ) -> anyhow::Result<(AppState, TaskTracker, sampling::Unflushed)> {
        if let Some(password) =
            credentials::ensure_admin(&pool, settings.admin_password.as_deref()).await?
        {
            // Printed once, on the first start only: only its hash is stored.
            println!("\n  Lookout created the user `admin` with the password:\n\n      {password}\n\n  Keep it now; it is not shown again (set LOOKOUT_ADMIN_PASSWORD to change it).\n");
        }
        if let Some(token) = &settings.bootstrap_token {
            credentials::create_token(&pool, "bootstrap", &[Scope::Admin], Some(token.expose()))
                .await
                .context("LOOKOUT_BOOTSTRAP_TOKEN")?;
        }

        let tasks = TaskTracker::new();
        let hub = Hub::default();
        tasks.spawn(live::relay(pool.clone(), hub.clone(), shutdown.clone()));
        let (alerts, alert_inbox) = AlertEngine::channel();
        let unflushed = sampling::Unflushed::default();
        let local = sampling::start(
            pool.clone(),
            hub.clone(),
            alerts.clone(),
            sampling::WriterSettings {
                interval: settings.sample_interval,
                buffer_capacity: settings.buffer_capacity(),
                spill_dir: settings.database.data_dir.join("unsent"),
                final_flush: settings.shutdown_timeout / 3,
                unflushed: unflushed.clone(),
            },
            shutdown.clone(),
            &tasks,
        )
        .await?;
        tasks.spawn(crate::alerts::run(
            alert_inbox,
            alerts.clone(),
            pool.clone(),
            hub.clone(),
            Arc::new(local.clone()),
            shutdown.clone(),
        ));
        // Every kind of background work, through the one runner (`jobs`).
        let wake = |notify: &Arc<tokio::sync::Notify>| jobs::Wake {
            notify: notify.clone(),
            poll: settings.job_poll,
        };
        let deliveries = crate::alerts::webhook::Deliveries {
            pool: pool.clone(),
            policy: settings.webhooks.clone(),
        };
        let pace = jobs::Pace::queue(wake(&alerts.deliveries));
        tasks.spawn(jobs::run(deliveries, pace, shutdown.clone()));
        let wakers = jobs::JobWakers::default();
        let exports = crate::export::Exports {
            pool: pool.clone(),
            dir: settings.export_dir.clone(),
        };
        let pace = jobs::Pace::queue(wake(&wakers.exports));
        tasks.spawn(jobs::run(exports, pace, shutdown.clone()));
        let reports = crate::report::Reports {
            pool: pool.clone(),
            dir: settings.export_dir.join("reports"),
        };
        let pace = jobs::Pace::queue(wake(&wakers.reports));
        tasks.spawn(jobs::run(reports, pace, shutdown.clone()));
        tasks.spawn(storage::rollups::worker(
            pool.clone(),
            settings.rollup_interval,
            wake(&wakers.rollups),
            shutdown.clone(),
        ));
        let detector = crate::detect::Detector::new(
            pool.clone(),
            hub.clone(),
            settings.detect_interval,
            settings.detect_history_days,
        );
        let pace = jobs::Pace::periodic(settings.detect_interval);
        tasks.spawn(jobs::run(detector, pace, shutdown.clone()));
        if settings.demo {
            crate::demo::start(
                pool.clone(),
                alerts.clone(),
                hub.clone(),
                &tasks,
                shutdown.clone(),
            )
            .await?;
        }

        if settings.monthly_reports {
            // Looks every poll: a demo fleet's history, or a backfill, arrives after the start.
            let monthly = crate::capacity::monthly::MonthlyReports { pool: pool.clone() };
            let pace = jobs::Pace::queue(jobs::Wake::every(settings.job_poll));
            tasks.spawn(jobs::run(monthly, pace, shutdown.clone()));
        }

        let leptos_options = LeptosOptions::builder()
            .output_name("lookout")
            .site_root(settings.site_root.clone())
            .site_pkg_dir("pkg")
            .site_addr(address)
            .env(if cfg!(debug_assertions) {
                leptos::config::Env::DEV
            } else {
                leptos::config::Env::PROD
            })
            .build();
        let throttle = Arc::new(crate::auth::throttle::Throttle::new(settings.rate_limit));
        let silence = crate::ingest::SilenceWatch {
            pool: pool.clone(),
            hub: hub.clone(),
        };
        let pace = jobs::Pace::periodic(crate::ingest::SilenceWatch::PERIOD);
        tasks.spawn(jobs::run(silence, pace, shutdown.clone()));
        let ingest_slots = Arc::new(tokio::sync::Semaphore::new(crate::state::INGEST_SLOTS));
        let state = AppState {
            pool,
            settings: Arc::new(settings.clone()),
            hub,
            local,
            alerts,
            jobs: wakers,
            throttle,
            leptos_options,
            shutdown,
            ingest_slots,
        };
        Ok((state, tasks, unflushed))
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

    /// Serves until the shutdown token is cancelled, then flushes samples and stops the managed
    /// database, all within `LOOKOUT_SHUTDOWN_TIMEOUT` of the stop signal. An error when the
    /// deadline passed or samples could not be stored (they are spilled for the next start).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Application {
            listener,
            router,
            state,
            tasks,
            managed,
            _data_dir_lock,
            unflushed,
        } = self;
        tracing::info!(address = %listener.local_addr()?, "Lookout is listening.");
        let shutdown = state.shutdown.clone();
        tokio::spawn(release_startup_code_later(shutdown.clone()));
        let limit = state.settings.shutdown_timeout;
        let serve = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .into_future();
        tokio::pin!(serve);
        // Graceful shutdown waits for open requests; the deadline bounds that too.
        let served = tokio::select! {
            served = &mut serve => Some(served),
            _ = async { shutdown.cancelled().await; tokio::time::sleep(limit / 3).await } => None,
        };
        let deadline = tokio::time::Instant::now() + limit.saturating_sub(limit / 3);
        let _watchdog = watchdog(limit, managed.clone());
        shutdown.cancel();
        tasks.close();
        let mut late = Vec::new();
        if served.is_none() {
            late.push("open requests");
        }
        // The writer makes one last, bounded attempt to store buffered samples.
        if tokio::time::timeout_at(deadline, tasks.wait())
            .await
            .is_err()
        {
            late.push("background tasks");
        }
        // Closing waits for connections in use to come back; tasks that did not stop hold some.
        if tokio::time::timeout(Duration::from_secs(2), state.pool.close())
            .await
            .is_err()
        {
            late.push("database connections");
        }
        if let Some(cluster) = managed {
            cluster.stop().await?;
        }
        if !late.is_empty() {
            tracing::error!(
                timeout_secs = limit.as_secs(),
                waiting_for = late.join(", "),
                "Shutdown deadline passed; exiting anyway."
            );
            anyhow::bail!(
                "shutdown did not finish within {} s (waiting for {})",
                limit.as_secs(),
                late.join(", ")
            );
        }
        if let Some(spilled) = unflushed.get() {
            match spilled.path {
                Some(path) => anyhow::bail!(
                    "{} samples could not be stored before exit; they are in {} and are written at the next start",
                    spilled.count,
                    path.display()
                ),
                None => anyhow::bail!("{} samples could not be stored before exit and are lost", spilled.count),
            }
        }
        match served {
            Some(result) => result.context("server error"),
            None => Ok(()),
        }
    }
}

/// Once start-up is over (migrations, the managed cluster, the first sample, rollup and detector
/// rounds), drops the start-up code from the resident set (`trim`); the pages of what still runs
/// fault back in as it runs.
async fn release_startup_code_later(shutdown: CancellationToken) {
    tokio::select! {
        _ = tokio::time::sleep(RELEASE_STARTUP_CODE_AFTER) => {}
        _ = shutdown.cancelled() => return,
    }
    match crate::trim::release_startup_code() {
        Ok(bytes) => tracing::debug!(bytes, "Start-up code released."),
        Err(error) => tracing::debug!(%error, "Cannot release the start-up code."),
    }
}

/// Long enough for every worker's first round (they start within seconds of listening).
const RELEASE_STARTUP_CODE_AFTER: Duration = Duration::from_secs(30);

/// Last resort behind the orderly shutdown: if the process is still up 10 s after the deadline
/// (something blocked that no timeout reaches), stop the managed cluster and exit with 1.
/// Dropping the returned sender (the orderly shutdown finished) disarms it.
fn watchdog(limit: Duration, managed: Option<Arc<ManagedPostgres>>) -> std::sync::mpsc::Sender<()> {
    let (disarm, disarmed) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
            disarmed.recv_timeout(limit + Duration::from_secs(10))
        {
            tracing::error!(
                timeout_secs = limit.as_secs(),
                "Shutdown is stuck; stopping the managed PostgreSQL and exiting."
            );
            if let Some(cluster) = managed {
                cluster.stop_blocking();
            }
            std::process::exit(1);
        }
    });
    disarm
}

pub fn router(state: AppState) -> Router {
    let settings = state.settings.clone();
    // REST requests get a deadline; WebSockets and pages do not (streams are long-lived by design).
    let api = api::router(&state);
    Router::new()
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/metrics", get(api::metrics))
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
                        .on_response(on_response)
                        // `on_response` logs each 5xx once; the default would log those the
                        // error types logged with their cause a second time.
                        .on_failure(()),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::custom(panic_response))
                .layer(DefaultBodyLimit::max(settings.body_limit)),
        )
        .with_state(state)
}

/// Every response at DEBUG; a 5xx nobody logged (the error types and the panic handler mark
/// theirs `Logged`) at ERROR, so each failure is logged once.
fn on_response<B>(response: &axum::http::Response<B>, latency: Duration, _span: &tracing::Span) {
    let status = response.status().as_u16();
    let latency_ms = latency.as_millis() as u64;
    if response.status().is_server_error() && response.extensions().get::<Logged>().is_none() {
        tracing::error!(status, latency_ms, "Request failed.");
    } else {
        tracing::debug!(status, latency_ms, "Request answered.");
    }
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = crate::error::panic_message(panic.as_ref());
    tracing::error!(panic = message, "A request handler panicked.");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        axum::Extension(Logged),
        Json(error_body("INTERNAL", "an internal error occurred")),
    )
        .into_response()
}
