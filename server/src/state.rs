//! The state every handler shares.
use crate::{
    alerts::{manage::Alerting, AlertEngine},
    config::Settings,
    jobs::JobWakers,
    live::Hub,
    sampling::LocalHost,
};
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

impl AppState {
    /// What a person's changes to rules and alerts go through (the API and the alerts page).
    pub fn alerting(&self) -> Alerting<'_> {
        Alerting {
            pool: &self.pool,
            engine: &self.alerts,
            hub: &self.hub,
            allow_private: self.settings.webhooks.allow_private,
        }
    }
}

/// Ingest requests stored concurrently (each is one or more transactions of up to 5 000 rows).
pub const INGEST_SLOTS: usize = 4;
