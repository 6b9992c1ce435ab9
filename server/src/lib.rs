//! Lookout server library: everything the `lookout` binary runs, exposed so integration tests can start it.
pub mod agent;
pub mod alerts;
pub mod analysis;
pub mod api;
pub mod auth;
pub mod capacity;
pub mod config;
pub mod demo;
pub mod detect;
pub mod enrolment;
pub mod error;
pub mod export;
pub mod fleet;
pub mod history;
pub mod ingest;
pub mod live;
pub mod report;
pub mod sampling;
pub mod simulate;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod timeline;
pub mod web;

pub use startup::Application;
