//! The server functions the pages load their data with, and the server-side hooks they call.
//! They run during server rendering only (the pages are server components); the browser never
//! calls them, so their codecs stay out of the WASM.
use crate::models::{
    AlertsPageData, CapacityReport, ComparePageData, ExportsPageData, FleetPageData, HostPageData,
};
use leptos::prelude::*;

/// Every host with its state, for the fleet page.
#[server(prefix = "/sfn", endpoint = "fleet")]
pub async fn load_fleet() -> Result<FleetPageData, ServerFnError> {
    let source = use_context::<ssr::FleetSource>()
        .ok_or_else(|| ServerFnError::new("fleet source missing from context"))?;
    let headers: http::HeaderMap = leptos_axum::extract().await?;
    (source.0)(headers).await.map_err(ServerFnError::new)
}

/// One host's view over the range the query string (`range`, `from`, `to`) names.
#[server(prefix = "/sfn", endpoint = "host")]
pub async fn load_host(vm: String, query: String) -> Result<HostPageData, ServerFnError> {
    let source = use_context::<ssr::HostSource>()
        .ok_or_else(|| ServerFnError::new("host source missing from context"))?;
    let headers: http::HeaderMap = leptos_axum::extract().await?;
    (source.0)(headers, vm, query)
        .await
        .map_err(ServerFnError::new)
}

/// The compare view for the query string (`hosts` or `group`, `metric`, the range).
#[server(prefix = "/sfn", endpoint = "compare")]
pub async fn load_compare(query: String) -> Result<ComparePageData, ServerFnError> {
    let source = use_context::<ssr::CompareSource>()
        .ok_or_else(|| ServerFnError::new("compare source missing from context"))?;
    let headers: http::HeaderMap = leptos_axum::extract().await?;
    (source.0)(headers, query).await.map_err(ServerFnError::new)
}

/// Loads the capacity page's report for its query string (`group`, `history`, `horizon`,
/// `threshold`), authenticated by the server's `CapacitySource`.
#[server(prefix = "/sfn", endpoint = "capacity")]
pub async fn load_capacity(query: String) -> Result<CapacityReport, ServerFnError> {
    let source = use_context::<ssr::CapacitySource>()
        .ok_or_else(|| ServerFnError::new("capacity source missing from context"))?;
    let headers: http::HeaderMap = leptos_axum::extract().await?;
    (source.0)(headers, query).await.map_err(ServerFnError::new)
}

/// The exports page's hosts and the caller's recent exports.
#[server(prefix = "/sfn", endpoint = "exports")]
pub async fn load_exports() -> Result<ExportsPageData, ServerFnError> {
    let source = use_context::<ssr::ExportsSource>()
        .ok_or_else(|| ServerFnError::new("exports source missing from context"))?;
    let headers: http::HeaderMap = leptos_axum::extract().await?;
    (source.0)(headers).await.map_err(ServerFnError::new)
}

/// The alerts page for the query string (`level`, `host` filter the alerts): alerts firing and
/// resolved, the rules, the rule form's choices.
#[server(prefix = "/sfn", endpoint = "alerts")]
pub async fn load_alerts(query: String) -> Result<AlertsPageData, ServerFnError> {
    let source = use_context::<ssr::AlertsSource>()
        .ok_or_else(|| ServerFnError::new("alerts source missing from context"))?;
    let headers: http::HeaderMap = leptos_axum::extract().await?;
    (source.0)(headers, query).await.map_err(ServerFnError::new)
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use crate::models::{
        AlertsPageData, CapacityReport, ComparePageData, ExportsPageData, FleetPageData,
        HostPageData,
    };
    use std::{future::Future, pin::Pin, sync::Arc};

    pub type Answer<T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send>>;

    /// Provided by the server as Leptos context: given the request headers, authenticate and load.
    #[derive(Clone)]
    pub struct FleetSource(pub Arc<dyn Fn(http::HeaderMap) -> Answer<FleetPageData> + Send + Sync>);

    /// The host view's data: (headers, vmId, query string).
    #[derive(Clone)]
    pub struct HostSource(
        pub Arc<dyn Fn(http::HeaderMap, String, String) -> Answer<HostPageData> + Send + Sync>,
    );

    /// The compare view's data: (headers, query string).
    #[derive(Clone)]
    pub struct CompareSource(
        pub Arc<dyn Fn(http::HeaderMap, String) -> Answer<ComparePageData> + Send + Sync>,
    );

    /// The capacity page's data: (headers, query string).
    #[derive(Clone)]
    pub struct CapacitySource(
        pub Arc<dyn Fn(http::HeaderMap, String) -> Answer<CapacityReport> + Send + Sync>,
    );

    #[derive(Clone)]
    pub struct ExportsSource(
        pub Arc<dyn Fn(http::HeaderMap) -> Answer<ExportsPageData> + Send + Sync>,
    );

    /// The alerts page's data: (headers, query string).
    #[derive(Clone)]
    pub struct AlertsSource(
        pub Arc<dyn Fn(http::HeaderMap, String) -> Answer<AlertsPageData> + Send + Sync>,
    );
}
