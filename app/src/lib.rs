//! Shared typed API models and the Leptos UI, compiled both into the server (SSR) and the browser (hydrate).
pub mod catalog;
pub mod chart;
pub mod components;
pub mod incidents;
pub mod models;
pub mod panels;
pub mod view_state;

pub use components::{shell, App};
