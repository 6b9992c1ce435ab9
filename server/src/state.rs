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
    pub leptos_options: LeptosOptions,
    /// Cancelled on SIGINT/SIGTERM: long-lived connections end themselves.
    pub shutdown: CancellationToken,
}

/// Wakes the background workers when a job is queued (they also poll every second).
#[derive(Clone, Default)]
pub struct JobWakers {
    pub exports: Arc<tokio::sync::Notify>,
    pub reports: Arc<tokio::sync::Notify>,
}
