//! The server functions the pages load their data with, and the server-side hooks they call.
//! They run during server rendering only (the pages are server components); the browser never
//! calls them, so their codecs stay out of the WASM.
use crate::models::{
    AlertsPageData, CapacityReport, ComparePageData, ExportsPageData, FleetPageData, HostPageData,
    InvestigatePageData, WhatIfPageData,
};
use leptos::{
    prelude::*,
    server_fn::{
        codec::JsonEncoding,
        error::{FromServerFnError, ServerFnErrorErr},
    },
};
use serde::{Deserialize, Serialize};

/// Why a page's data could not be loaded — each kind with its own way on for the reader.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum PageError {
    /// No session, or it expired: sign in again.
    SignedOut(String),
    /// The page's address asks for something that is not there or not one of the choices (a
    /// host removed since, a range or a view option typed by hand): open the page without it.
    BadLink(String),
    /// What the address names (a host, a group) is not there — removed, or mistyped.
    NotFound(String),
    /// The database or the server did not answer: try again.
    Unavailable(String),
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SignedOut(why)
            | Self::BadLink(why)
            | Self::NotFound(why)
            | Self::Unavailable(why) => f.write_str(why),
        }
    }
}

impl FromServerFnError for PageError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(error: ServerFnErrorErr) -> Self {
        Self::Unavailable(error.to_string())
    }
}

#[cfg(feature = "ssr")]
impl PageError {
    /// A source missing from the server's context: a wiring mistake, told as the server failing.
    fn missing(what: &str) -> Self {
        Self::Unavailable(format!("{what} source missing from context"))
    }
}

/// The request's headers, or the server failing to give them.
#[cfg(feature = "ssr")]
async fn headers() -> Result<http::HeaderMap, PageError> {
    leptos_axum::extract()
        .await
        .map_err(|e: ServerFnErrorErr| PageError::Unavailable(e.to_string()))
}

/// Every host with its state, for the fleet page.
#[server(prefix = "/sfn", endpoint = "fleet")]
pub async fn load_fleet() -> Result<FleetPageData, PageError> {
    let source = use_context::<ssr::FleetSource>().ok_or_else(|| PageError::missing("fleet"))?;
    let headers = headers().await?;
    (source.0)(headers).await
}

/// One host's view over the range the query string (`range`, `from`, `to`) names.
#[server(prefix = "/sfn", endpoint = "host")]
pub async fn load_host(vm: String, query: String) -> Result<HostPageData, PageError> {
    let source = use_context::<ssr::HostSource>().ok_or_else(|| PageError::missing("host"))?;
    let headers = headers().await?;
    (source.0)(headers, vm, query).await
}

/// The compare view for the query string (`hosts` or `group`, `metric`, the range).
#[server(prefix = "/sfn", endpoint = "compare")]
pub async fn load_compare(query: String) -> Result<ComparePageData, PageError> {
    let source =
        use_context::<ssr::CompareSource>().ok_or_else(|| PageError::missing("compare"))?;
    let headers = headers().await?;
    (source.0)(headers, query).await
}

/// The investigate page for the query string (`host` or `group`, the window's `from` and `to`).
#[server(prefix = "/sfn", endpoint = "investigate")]
pub async fn load_investigate(query: String) -> Result<InvestigatePageData, PageError> {
    let source =
        use_context::<ssr::InvestigateSource>().ok_or_else(|| PageError::missing("investigate"))?;
    let headers = headers().await?;
    (source.0)(headers, query).await
}

/// The what-if page for its query string (a capacity view and a scenario:
/// `app::view_state::WhatIfQuery`).
#[server(prefix = "/sfn", endpoint = "what_if")]
pub async fn load_what_if(query: String) -> Result<WhatIfPageData, PageError> {
    let source = use_context::<ssr::WhatIfSource>().ok_or_else(|| PageError::missing("what-if"))?;
    let headers = headers().await?;
    (source.0)(headers, query).await
}

/// Loads the capacity page's report for its query string (`group`, `history`, `horizon`,
/// `threshold`), authenticated by the server's `CapacitySource`.
#[server(prefix = "/sfn", endpoint = "capacity")]
pub async fn load_capacity(query: String) -> Result<CapacityReport, PageError> {
    let source =
        use_context::<ssr::CapacitySource>().ok_or_else(|| PageError::missing("capacity"))?;
    let headers = headers().await?;
    (source.0)(headers, query).await
}

/// The exports page's hosts and the caller's recent exports.
#[server(prefix = "/sfn", endpoint = "exports")]
pub async fn load_exports() -> Result<ExportsPageData, PageError> {
    let source =
        use_context::<ssr::ExportsSource>().ok_or_else(|| PageError::missing("exports"))?;
    let headers = headers().await?;
    (source.0)(headers).await
}

/// The alerts page for the query string (`level`, `host` filter the alerts): alerts firing and
/// resolved, the rules, the rule form's choices.
#[server(prefix = "/sfn", endpoint = "alerts")]
pub async fn load_alerts(query: String) -> Result<AlertsPageData, PageError> {
    let source = use_context::<ssr::AlertsSource>().ok_or_else(|| PageError::missing("alerts"))?;
    let headers = headers().await?;
    (source.0)(headers, query).await
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use crate::models::{
        AlertsPageData, CapacityReport, ComparePageData, ExportsPageData, FleetPageData,
        HostPageData, InvestigatePageData, WhatIfPageData,
    };
    use std::{future::Future, pin::Pin, sync::Arc};

    pub type Answer<T> = Pin<Box<dyn Future<Output = Result<T, super::PageError>> + Send>>;

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

    /// The investigate page's data: (headers, query string).
    #[derive(Clone)]
    pub struct InvestigateSource(
        pub Arc<dyn Fn(http::HeaderMap, String) -> Answer<InvestigatePageData> + Send + Sync>,
    );

    /// The capacity page's data: (headers, query string).
    #[derive(Clone)]
    pub struct CapacitySource(
        pub Arc<dyn Fn(http::HeaderMap, String) -> Answer<CapacityReport> + Send + Sync>,
    );

    /// The what-if page's data: (headers, query string).
    #[derive(Clone)]
    pub struct WhatIfSource(
        pub Arc<dyn Fn(http::HeaderMap, String) -> Answer<WhatIfPageData> + Send + Sync>,
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
