//! The server function that loads the live page's first state, and the server-side hook it calls.
use crate::models::{CapacityReport, DashboardSnapshot, ExportForm, ExportProgress, ExportsPageData};
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

/// The exports page's hosts and the caller's recent exports.
#[server(prefix = "/sfn", endpoint = "exports")]
pub async fn load_exports() -> Result<ExportsPageData, ServerFnError> {
    match call_exports(ssr::ExportCall::Page).await? {
        ssr::ExportAnswer::Page(data) => Ok(data),
        ssr::ExportAnswer::Task(_) => Err(ServerFnError::new("unexpected answer")),
    }
}

/// Starts an export of the last hours of some hosts.
#[server(prefix = "/sfn", endpoint = "export_start", input = leptos::server_fn::codec::Json)]
pub async fn start_export(form: ExportForm) -> Result<ExportProgress, ServerFnError> {
    task(call_exports(ssr::ExportCall::Start(form)).await?)
}

/// Where an export stands.
#[server(prefix = "/sfn", endpoint = "export_progress")]
pub async fn follow_export(id: String) -> Result<ExportProgress, ServerFnError> {
    task(call_exports(ssr::ExportCall::Progress(id)).await?)
}

#[cfg(feature = "ssr")]
async fn call_exports(call: ssr::ExportCall) -> Result<ssr::ExportAnswer, ServerFnError> {
    let source = use_context::<ssr::ExportsSource>().ok_or_else(|| ServerFnError::new("exports source missing from context"))?;
    let headers: http::HeaderMap = leptos_axum::extract().await?;
    (source.0)(headers, call).await.map_err(ServerFnError::new)
}

#[cfg(feature = "ssr")]
fn task(answer: ssr::ExportAnswer) -> Result<ExportProgress, ServerFnError> {
    match answer {
        ssr::ExportAnswer::Task(progress) => Ok(progress),
        ssr::ExportAnswer::Page(_) => Err(ServerFnError::new("unexpected answer")),
    }
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use crate::models::{CapacityReport, DashboardSnapshot, ExportForm, ExportProgress, ExportsPageData};
    use std::{future::Future, pin::Pin, sync::Arc};

    pub type SnapshotFuture = Pin<Box<dyn Future<Output = Result<DashboardSnapshot, String>> + Send>>;
    pub type CapacityFuture = Pin<Box<dyn Future<Output = Result<CapacityReport, String>> + Send>>;

    /// Provided by the server as Leptos context: authenticate and build the capacity report.
    #[derive(Clone)]
    pub struct CapacitySource(pub Arc<dyn Fn(http::HeaderMap) -> CapacityFuture + Send + Sync>);

    /// Provided by the server as Leptos context: given the request headers, authenticate and load.
    #[derive(Clone)]
    pub struct DashboardSource(pub Arc<dyn Fn(http::HeaderMap) -> SnapshotFuture + Send + Sync>);

    pub enum ExportCall {
        Page,
        Start(ExportForm),
        Progress(String),
    }

    pub enum ExportAnswer {
        Page(ExportsPageData),
        Task(ExportProgress),
    }

    pub type ExportFuture = Pin<Box<dyn Future<Output = Result<ExportAnswer, String>> + Send>>;

    /// Provided by the server as Leptos context: authenticate, then list, start or follow exports.
    #[derive(Clone)]
    pub struct ExportsSource(pub Arc<dyn Fn(http::HeaderMap, ExportCall) -> ExportFuture + Send + Sync>);
}
