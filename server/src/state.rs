//! The state every handler shares.
use crate::{alerts::AlertEngine, config::Settings, live::Hub, sampling::LocalHost};
use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use sqlx::PgPool;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    pub hub: Hub,
    pub local: LocalHost,
    pub alerts: AlertEngine,
    pub jobs: JobWakers,
    pub throttle: Arc<crate::auth::throttle::Throttle>,
    pub leptos_options: LeptosOptions,
    /// Cancelled on SIGINT/SIGTERM: long-lived connections end themselves.
    pub shutdown: CancellationToken,
    /// Ingest requests stored at once; more answer 503 with `Retry-After` (a fleet replaying its
    /// backlog after an outage must not flatten the database).
    pub ingest_slots: Arc<tokio::sync::Semaphore>,
}

/// Ingest requests stored concurrently (each is one or more transactions of up to 5 000 rows).
pub const INGEST_SLOTS: usize = 4;

/// Wakes the background workers when a job is queued on this instance. Idle workers otherwise
/// look again only every `LOOKOUT_JOB_POLL` seconds (work queued by other instances, leases of a
/// crashed one), so an idle server does not query its database every second.
#[derive(Clone, Default)]
pub struct JobWakers {
    pub exports: Arc<tokio::sync::Notify>,
    pub reports: Arc<tokio::sync::Notify>,
    /// Ingest stored samples of an hour that has ended: its rollups are due now.
    pub rollups: Arc<tokio::sync::Notify>,
}

/// How a worker waits: what wakes it, and how long it waits at most.
#[derive(Clone)]
pub struct Wake {
    pub notify: Arc<tokio::sync::Notify>,
    /// `LOOKOUT_JOB_POLL`.
    pub poll: std::time::Duration,
}

/// A queue's "seconds until the next item is due" as a wait: `None` for an empty queue (SQL's
/// NULL: `greatest(…, 0)` would turn it into 0, hence the clamp here), overdue as zero, capped at
/// a day.
pub fn due_in(seconds: Option<f64>) -> Option<std::time::Duration> {
    seconds.map(|s| std::time::Duration::from_secs_f64(s.clamp(0.0, 86_400.0)))
}

/// `period` and up to a quarter more, at random: workers started together (and with the
/// sampler's tick) drift apart instead of all using the database in the same millisecond, which
/// kept a pooled connection (a PostgreSQL backend) open for each of them at idle rather than one
/// for all. Never shorter, so "at most every `period`" still holds.
pub fn jittered(period: std::time::Duration) -> std::time::Duration {
    use rand::Rng;
    period.mul_f64(rand::thread_rng().gen_range(1.0..1.25))
}

/// Waits until a worker should look for work again: woken by `wake`, at `due` (the next piece of
/// work it knows of) or after its poll period, whichever is first; `false` when the server is
/// shutting down.
pub async fn idle(
    wake: &Wake,
    due: Option<std::time::Duration>,
    shutdown: &CancellationToken,
) -> bool {
    let wait = due.map_or(jittered(wake.poll), |due| due.min(wake.poll));
    tokio::select! {
        _ = wake.notify.notified() => true,
        _ = tokio::time::sleep(wait) => true,
        _ = shutdown.cancelled() => false,
    }
}
