//! The Leptos UI: document shell, routes, login page, the live, capacity and exports pages.
mod capacity;
mod exports;
mod live;
mod login;
pub mod snapshot;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};

pub use capacity::CapacityPage;
pub use exports::ExportsPage;
pub use live::LivePage;
pub use login::LoginPage;

/// The HTML document the server streams; `App` is hydrated inside `<body>`.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                // No favicon file: an empty data URL stops the browser asking for one.
                <link rel="icon" href="data:,"/>
                <HydrationScripts options/>
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
                // Async SSR: the first response already holds the data, so the page works without JavaScript.
                <Route path=path!("/") view=LivePage ssr=SsrMode::Async/>
                <Route path=path!("/capacity") view=CapacityPage ssr=SsrMode::Async/>
                <Route path=path!("/exports") view=ExportsPage ssr=SsrMode::Async/>
                <Route path=path!("/login") view=LoginPage/>
            </Routes>
        </Router>
    }
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
