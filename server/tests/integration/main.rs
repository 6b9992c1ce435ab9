//! Integration tests: the real server on a random port, a fresh PostgreSQL database per test,
//! driven over HTTP and WebSocket like a client.
mod agents;
mod alerts;
mod analysis;
mod auth;
mod capacity_reports;
mod common;
mod export;
mod fleet;
mod history;
mod investigate;
mod lifecycle;
mod live;
mod metrics;
mod outage;
mod performance;
mod reports;
mod series;
mod simulate;
mod storage;
mod whatif;
