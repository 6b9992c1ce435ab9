//! The server function that loads the live page's first state, and the server-side hook it calls.
use crate::models::{CapacityReport, DashboardSnapshot};
use leptos::prelude::*;

/// Loads the signed-in user's view of the local host. Authentication is checked by the
/// server's `DashboardSource` from the request's own headers.
#[server(prefix = "/sfn", endpoint = "dashboard")]
pub async fn load_dashboard() -> Result<DashboardSnapshot, ServerFnError> {
    let source = use_context::<ssr::DashboardSource>()
        .ok_or_else(|| ServerFnError::new("dashboard source missing from context"))?;
    let headers: http::HeaderMap = leptos_axum::extract().await?;
    (source.0)(headers).await.map_err(ServerFnError::new)
}

/// Loads the capacity page's report, authenticated by the server's `CapacitySource`.
#[server(prefix = "/sfn", endpoint = "capacity")]
pub async fn load_capacity() -> Result<CapacityReport, ServerFnError> {
    let source = use_context::<ssr::CapacitySource>()
        .ok_or_else(|| ServerFnError::new("capacity source missing from context"))?;
    let headers: http::HeaderMap = leptos_axum::extract().await?;
    (source.0)(headers).await.map_err(ServerFnError::new)
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use crate::models::{CapacityReport, DashboardSnapshot};
    use std::{future::Future, pin::Pin, sync::Arc};

    pub type SnapshotFuture = Pin<Box<dyn Future<Output = Result<DashboardSnapshot, String>> + Send>>;
    pub type CapacityFuture = Pin<Box<dyn Future<Output = Result<CapacityReport, String>> + Send>>;

    /// Provided by the server as Leptos context: authenticate and build the capacity report.
    #[derive(Clone)]
    pub struct CapacitySource(pub Arc<dyn Fn(http::HeaderMap) -> CapacityFuture + Send + Sync>);

    /// Provided by the server as Leptos context: given the request headers, authenticate and load.
    #[derive(Clone)]
    pub struct DashboardSource(pub Arc<dyn Fn(http::HeaderMap) -> SnapshotFuture + Send + Sync>);
}
