//! The Leptos UI: server components for every page, and a few islands (`islands.rs`) — the only
//! code that runs in the browser, next to the chart module (`public/js/lookout.js`).
mod alerts;
mod capacity;
mod compare;
mod exports;
mod fleet;
mod host;
mod investigate;
pub mod islands;
mod login;
pub mod snapshot;
mod whatif;

use crate::models::Viewer;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};
use snapshot::PageError;

pub use alerts::AlertsPage;
pub use capacity::CapacityPage;
pub use compare::ComparePage;
pub use exports::ExportsPage;
pub use fleet::FleetPage;
pub use host::HostPage;
pub use investigate::InvestigatePage;
pub use login::LoginPage;
pub use whatif::WhatIfPage;

/// The HTML document the server streams, in the browser's chosen `theme`. uPlot and the chart
/// module load deferred; the islands' WASM hydrates after them.
pub fn shell(options: LeptosOptions, theme: crate::view_state::Theme) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme=theme.attribute()>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                // No favicon file: an empty data URL stops the browser asking for one.
                <link rel="icon" href="data:,"/>
                <link rel="stylesheet" href="/vendor/uplot/uPlot.min.css"/>
                <script defer src="/vendor/uplot/uPlot.iife.min.js"></script>
                <script defer src="/js/lookout.js"></script>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/lookout.css"/>
        <Title text="Lookout"/>
        <Router>
            <Routes fallback=|| view! { <main class="centered"><h1>"Not found"</h1></main> }>
                // Async SSR: the first response already holds the data, so pages work without JavaScript.
                <Route path=path!("/") view=FleetPage ssr=SsrMode::Async/>
                <Route path=path!("/hosts/:vm") view=HostPage ssr=SsrMode::Async/>
                <Route path=path!("/compare") view=ComparePage ssr=SsrMode::Async/>
                <Route path=path!("/investigate") view=InvestigatePage ssr=SsrMode::Async/>
                <Route path=path!("/capacity") view=CapacityPage ssr=SsrMode::Async/>
                <Route path=path!("/capacity/what-if") view=WhatIfPage ssr=SsrMode::Async/>
                <Route path=path!("/exports") view=ExportsPage ssr=SsrMode::Async/>
                <Route path=path!("/alerts") view=AlertsPage ssr=SsrMode::Async/>
                <Route path=path!("/login") view=LoginPage/>
            </Routes>
        </Router>
    }
}

/// The pages' top bar: the brand, the navigation (the current page marked, the alerts link with
/// how many fire now, coloured by the most severe) and who is signed in.
#[component]
pub fn TopBar(
    active: &'static str,
    viewer: Viewer,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let link = move |href: &'static str, label: &'static str, testid: &'static str| {
        let current = (active == href).then_some("page");
        view! { <a href=href aria-current=current data-testid=testid>{label}</a> }
    };
    let alerts_current = (active == "/alerts").then_some("page");
    let firing = (viewer.firing > 0).then(|| {
        let level = viewer.firing_level.clone().unwrap_or_default();
        view! {
            " "
            <span
                class=format!("badge firing level-{level}")
                data-testid="nav-firing"
                title=format!("{} active alerts, the most severe {level}", viewer.firing)
            >
                {viewer.firing}
            </span>
        }
    });
    view! {
        <header class="topbar">
            <a class="brand" href="/">"Lookout"</a>
            <nav class="nav">
                {link("/", "Fleet", "nav-fleet")}
                <a href="/alerts" aria-current=alerts_current data-testid="nav-alerts">
                    "Alerts"
                    {firing}
                </a>
                {link("/compare", "Compare", "nav-compare")}
                {link("/investigate", "Investigate", "nav-investigate")}
                {link("/capacity", "Capacity", "nav-capacity")}
                {link("/exports", "Exports", "nav-exports")}
            </nav>
            {children.map(|c| c())}
            <span class="spacer"></span>
            {theme_switch()}
            <span class="muted">{viewer.username}</span>
            <form method="post" action="/auth/logout" class="logout">
                <button type="submit" class="link" data-testid="logout">"Log out"</button>
            </form>
        </header>
    }
}

/// The top bar's theme button: says the browser's theme and switches to the next one
/// (`POST /theme`), back to the same page. A form, so it works without JavaScript.
fn theme_switch() -> impl IntoView {
    let theme = use_context::<crate::view_state::Theme>().unwrap_or_default();
    let location = leptos_router::hooks::use_location();
    let search = location.search.get_untracked();
    let back = match search.trim_start_matches('?') {
        "" => location.pathname.get_untracked(),
        query => format!("{}?{query}", location.pathname.get_untracked()),
    };
    let next = theme.next();
    let title = format!(
        "Colours: {} (auto follows the system). Switch to {}.",
        theme.name(),
        next.name()
    );
    view! {
        <form method="post" action="/theme" class="theme-form">
            <input type="hidden" name="back" value=back/>
            <button type="submit" class="link" name="theme" value=next.name() title=title data-testid="theme-switch" data-theme=theme.name()>
                {format!("Theme: {}", theme.name())}
            </button>
        </form>
    }
}

/// A page that could not be loaded, with the way on that fits why: signing in again, the page
/// at `plain` (its address without the link's choices; `/`, the fleet, where there is none),
/// or trying again.
pub fn failed(what: &'static str, error: PageError, plain: String) -> AnyView {
    let (class, way_on) = match &error {
        PageError::SignedOut(_) => (
            "signed-out",
            view! { <a href="/login">"Sign in again"</a> }.into_any(),
        ),
        PageError::BadLink(_) | PageError::NotFound(_) if plain != "/" => (
            "bad-link",
            view! {
                <a href=plain>{format!("Open {what} without the link's choices")}</a>
                " · "
                <a href="/">"the fleet"</a>
            }
            .into_any(),
        ),
        PageError::BadLink(_) | PageError::NotFound(_) => (
            "bad-link",
            view! { <a href="/">"Go to the fleet"</a> }.into_any(),
        ),
        PageError::Unavailable(_) => (
            "unavailable",
            view! { <a href="">"Try again"</a> }.into_any(),
        ),
    };
    // The page's status says it too (the page renders before its response is sent).
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(match &error {
            PageError::SignedOut(_) => http::StatusCode::UNAUTHORIZED,
            PageError::BadLink(_) => http::StatusCode::BAD_REQUEST,
            PageError::NotFound(_) => http::StatusCode::NOT_FOUND,
            PageError::Unavailable(_) => http::StatusCode::SERVICE_UNAVAILABLE,
        });
    }
    view! {
        <main class="centered">
            <div class="panel page-failed" data-testid="page-failed" data-failure=class>
                <p class="error">"Could not load " {what} ": " {error.to_string()}</p>
                <p>{way_on}</p>
            </div>
        </main>
    }
    .into_any()
}

pub fn loading() -> impl IntoView {
    view! { <main class="centered"><p class="muted">"Loading…"</p></main> }
}

/// Human-readable byte counts (1024-based) for the cards.
pub fn format_bytes(bytes: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes.max(0.0);
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::format_bytes;

    #[test]
    fn bytes_are_scaled_to_the_largest_whole_unit() {
        assert_eq!(format_bytes(0.0), "0 B");
        assert_eq!(format_bytes(1023.0), "1023 B");
        assert_eq!(format_bytes(1536.0), "1.5 KiB");
        assert_eq!(format_bytes(3.0 * 1024.0 * 1024.0 * 1024.0), "3.0 GiB");
        assert_eq!(format_bytes(-5.0), "0 B");
    }
}
