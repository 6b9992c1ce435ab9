//! Test harness: each test gets the server on a random port and its own fresh database.
#![allow(dead_code)] // each test binary uses a different part of the harness

use chrono::{DateTime, Utc};
use lookout::{
    config::{DatabaseArgs, Settings},
    Application,
};
use rand::{distributions::Alphanumeric, Rng};
use serde_json::{json, Value};
use sqlx::{postgres::PgPoolOptions, PgPool};
use std::{path::PathBuf, time::Duration};
use tokio_util::sync::CancellationToken;

pub const ADMIN_PASSWORD: &str = "test-admin-password";

pub struct TestApp {
    pub address: String,
    pub port: u16,
    /// An admin-scoped API token (the bootstrap token).
    pub token: String,
    pub client: reqwest::Client,
    pub shutdown: CancellationToken,
    pub database_url: Option<String>,
    pub pool: PgPool,
    pub server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

fn random(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect::<String>()
        .to_lowercase()
}

fn base_url() -> String {
    std::env::var("DATABASE_URL").expect(
        "integration tests need DATABASE_URL (scripts/test.sh starts a PostgreSQL and sets it)",
    )
}

/// `url` with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (head, query) = url
        .split_once('?')
        .map(|(h, q)| (h, Some(q)))
        .unwrap_or((url, None));
    let (server, _) = head
        .rsplit_once('/')
        .expect("DATABASE_URL has a database path");
    match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    }
}

/// Creates an empty database on the test server and returns its URL.
pub async fn fresh_database() -> String {
    let base = base_url();
    let name = format!("lookout_test_{}", random(12));
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&base)
        .await
        .expect("connect to DATABASE_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .expect("create test database");
    admin.close().await;
    with_database(&base, &name)
}

pub fn settings(database: DatabaseArgs) -> Settings {
    Settings {
        listen: "127.0.0.1:0".parse().expect("valid address"),
        database,
        sample_interval: Duration::from_secs(1),
        buffer: Duration::from_secs(3600),
        admin_password: Some(ADMIN_PASSWORD.into()),
        bootstrap_token: Some(format!("lk_test_{}", random(32)).into()),
        site_root: "target/site".into(),
        body_limit: 1024 * 1024,
        ingest_body_limit: 16 * 1024 * 1024,
        rollup_interval: Duration::from_secs(1),
        // Tests queue work behind the workers' backs (SQL): they look again every second.
        job_poll: Duration::from_secs(1),
        detect_interval: std::time::Duration::from_secs(2),
        // Tests that count what is stored or kept would race the catch-up; its own test sets it.
        detect_history_days: 0,
        request_timeout: Duration::from_secs(30),
        trusted_origins: vec![],
        secure_cookie: false,
        demo: false,
        monthly_reports: false,
        webhooks: lookout::alerts::webhook::WebhookPolicy {
            // Tests run their webhook receivers on 127.0.0.1.
            allow_private: true,
            timeout: Duration::from_secs(2),
            max_attempts: 4,
            retry_base: Duration::from_millis(200),
        },
        export_dir: std::env::temp_dir().join(format!("lookout-exports-{}", random(10))),
        rate_limit: 100,
        shutdown_timeout: Duration::from_secs(30),
    }
}

pub async fn spawn_app() -> TestApp {
    let url = fresh_database().await;
    spawn_with(settings(DatabaseArgs {
        database_url: Some(url),
        data_dir: PathBuf::from("unused"),
    }))
    .await
}

pub async fn spawn_with(settings: Settings) -> TestApp {
    let token = settings
        .bootstrap_token
        .as_deref()
        .expect("tests set a bootstrap token")
        .to_owned();
    let database_url = settings.database.database_url.clone();
    let application = Application::build(settings)
        .await
        .expect("application builds");
    let port = application.port();
    let shutdown = application.shutdown_token();
    let pool = application.state().pool.clone();
    let server = tokio::spawn(application.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        token,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        shutdown,
        database_url,
        pool,
        server,
    }
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    /// Waits until the sampler has produced at least one sample (it samples every second in tests).
    pub async fn wait_for_first_sample(&self) {
        for _ in 0..50 {
            if self.get("/api/v1/performance/stats").await.status() == 200 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("no sample within 10 s");
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.server
            .await
            .expect("server task")
            .expect("server stopped cleanly");
    }
}

/// Asserts that `actual` has every field of `expected` (recursively) with the same JSON type.
/// Extra fields in `actual` are allowed: additions never break a client written against the seed.
pub fn assert_same_shape(expected: &serde_json::Value, actual: &serde_json::Value, path: &str) {
    use serde_json::Value::*;
    match (expected, actual) {
        (Object(e), Object(a)) => {
            for (key, value) in e {
                let field = a
                    .get(key)
                    .unwrap_or_else(|| panic!("missing field `{path}.{key}` in {actual}"));
                assert_same_shape(value, field, &format!("{path}.{key}"));
            }
        }
        (Array(e), Array(a)) => {
            if let (Some(first), false) = (e.first(), a.is_empty()) {
                for item in a {
                    assert_same_shape(first, item, &format!("{path}[]"));
                }
            }
        }
        (Number(_), Number(_)) | (String(_), String(_)) | (Bool(_), Bool(_)) | (Null, Null) => {}
        _ => panic!("`{path}` has type {actual} but the seed has {expected}"),
    }
}

pub fn seed(name: &str) -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("seed_{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("fixture is JSON")
}

/// A sample in the `/performance/stats` shape with the given CPU and memory percentages.
pub fn sample(ts: DateTime<Utc>, cpu: f64, memory: f64) -> Value {
    sample_with_disk(ts, cpu, memory, 60.0)
}

/// The same with a given disk usage percentage.
pub fn sample_with_disk(ts: DateTime<Utc>, cpu: f64, memory: f64, disk: f64) -> Value {
    json!({
        "cpu": {"percent": cpu, "cores": 4, "frequency": 2000, "usage_mhz": cpu / 100.0 * 8000.0, "ready_percent": 0.5,
                "load1": 1.0, "load5": 1.0, "load15": 1.0},
        "memory": {"total": 8_589_934_592_u64, "available": 4_294_967_296_u64, "used": 4_294_967_296_u64, "free": 1_073_741_824_u64,
                   "percent": memory, "cached": 0, "swap_total": 0, "swap_used": 0},
        "disk": {"total": 1000, "free": 400, "used": 600, "percent": disk, "read_bytes": 0, "write_bytes": 0, "read_bps": 0.0,
                 "write_bps": 0.0, "read_iops": 1.0, "write_iops": 2.0, "read_latency_ms": 0.5, "write_latency_ms": 1.5},
        "network": {"bytes_sent": 100, "bytes_recv": 200, "packets_sent": 1, "packets_recv": 2, "in_bps": 1000.0, "out_bps": 500.0},
        "processes": {"total": 10, "running": 1, "sleeping": 9, "zombie": 0},
        "connections": {"active": 1, "listening": 1, "established": 1},
        "timestamp": ts,
    })
}

/// The shape of a daily wave.
pub struct Wave {
    pub level: f64,
    pub swing: f64,
    /// Deterministic jitter, from −jitter/2 to +jitter/2.
    pub jitter: f64,
}

/// A point every five minutes from `first` while before `until`: `wave` by the time of day, and
/// `peak` for the 20 minutes from `burst`. (index, timestamp, value).
pub fn wave_with_burst(
    first: DateTime<Utc>,
    until: DateTime<Utc>,
    wave: &Wave,
    burst: DateTime<Utc>,
    peak: f64,
) -> Vec<(usize, DateTime<Utc>, f64)> {
    (0..)
        .map(|i| first + chrono::Duration::minutes(5 * i))
        .take_while(|ts| *ts < until)
        .enumerate()
        .map(|(i, ts)| {
            let value = if ts >= burst && ts < burst + chrono::Duration::minutes(20) {
                peak
            } else {
                let day_fraction = (ts.timestamp() % 86_400) as f64 / 86_400.0;
                let jitter = ((i * 7919) % 13) as f64 / 13.0 - 0.5;
                wave.level
                    + wave.swing * (day_fraction * std::f64::consts::TAU).sin()
                    + wave.jitter * jitter
            };
            (i, ts, value)
        })
        .collect()
}

/// Sends `vm`'s CPU percent every five minutes from `first` while before `until` — a daily wave
/// about 40 % (±15, jitter 2) with 20 minutes at 95 % from `burst` — as samples carrying only
/// that field, in batches of 2 000.
pub async fn ingest_cpu_burst(
    app: &TestApp,
    vm: &str,
    (first, until): (DateTime<Utc>, DateTime<Utc>),
    burst: DateTime<Utc>,
) {
    let wave = Wave {
        level: 40.0,
        swing: 15.0,
        jitter: 2.0,
    };
    let items: Vec<Value> = wave_with_burst(first, until, &wave, burst, 95.0)
        .into_iter()
        .map(|(_, ts, cpu)| json!({"vmId": vm, "sample": {"timestamp": ts, "cpu": {"percent": cpu}}}))
        .collect();
    for chunk in items.chunks(2000) {
        ingest(app, chunk.to_vec()).await;
    }
}

pub async fn post(app: &TestApp, path: &str, body: &Value) -> (u16, Value) {
    let response = app
        .client
        .post(format!("{}{path}", app.address))
        .bearer_auth(&app.token)
        .json(body)
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

/// `PUT` with the test's admin token.
pub async fn put(app: &TestApp, path: &str, body: &Value) -> (u16, Value) {
    let response = app
        .client
        .put(format!("{}{path}", app.address))
        .bearer_auth(&app.token)
        .json(body)
        .send()
        .await
        .expect("sent");
    (
        response.status().as_u16(),
        response.json().await.expect("JSON"),
    )
}

/// `DELETE` with the test's admin token.
pub async fn delete(app: &TestApp, path: &str) -> (u16, Value) {
    let response = app
        .client
        .delete(format!("{}{path}", app.address))
        .bearer_auth(&app.token)
        .send()
        .await
        .expect("sent");
    (
        response.status().as_u16(),
        response.json().await.expect("JSON"),
    )
}

pub async fn ingest(app: &TestApp, items: Vec<Value>) -> Value {
    let (status, body) = post(app, "/api/v1/ingest/samples", &json!({ "samples": items })).await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

/// Custom-metric points through `/performance/metrics/batch`, 1000 to a request; every one must
/// be accepted.
pub async fn post_metrics(app: &TestApp, points: &[Value]) {
    for chunk in points.chunks(1000) {
        let (status, body) = post(
            app,
            "/api/v1/performance/metrics/batch",
            &json!({ "metrics": chunk }),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["rejected"], 0, "{body}");
    }
}

/// The `judged` coverage of an `/anomalies` answer's `data`, typed.
pub fn judged(data: &Value) -> Vec<app::models::AnomalyCoverage> {
    serde_json::from_value(data["judged"].clone()).expect("judged coverage")
}

/// (series, tier) of each entry of an `/anomalies` answer's `judged`, sorted.
pub fn judged_tiers(data: &Value) -> Vec<(String, String)> {
    let mut tiers: Vec<(String, String)> = judged(data)
        .into_iter()
        .map(|j| (j.series, j.tier))
        .collect();
    tiers.sort_unstable();
    tiers
}

/// Waits until the rollup worker has drained its queues.
pub async fn wait_for_rollups(app: &TestApp) {
    for _ in 0..100 {
        let pending: i64 = sqlx::query_scalar("SELECT (SELECT count(*) FROM rollup_queue_hourly WHERE bucket + interval '1 hour' <= now()) + (SELECT count(*) FROM rollup_queue_daily WHERE bucket + interval '1 day' <= now())")
            .fetch_one(&app.pool)
            .await
            .expect("queue size");
        if pending == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("rollups did not catch up");
}

/// Signs in as `admin` through the login form, as a browser does; the session cookie's value.
pub async fn session(app: &TestApp) -> String {
    let response = app
        .client
        .post(format!("{}/auth/login", app.address))
        .header(reqwest::header::ORIGIN, &app.address)
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .expect("sent");
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.strip_prefix("lookout_session=")
                .map(|rest| rest.split(';').next().unwrap_or_default().to_string())
        })
        .expect("a session cookie")
}

/// A page's HTML, fetched with the session `cookie` (it must answer 200).
pub async fn page(app: &TestApp, cookie: &str, path: &str) -> String {
    let (status, html) = page_status(app, cookie, path).await;
    assert_eq!(status, 200, "{path}");
    html
}

/// A page as a signed-in browser gets it, whatever its status.
pub async fn page_status(app: &TestApp, cookie: &str, path: &str) -> (u16, String) {
    let response = app
        .client
        .get(format!("{}{path}", app.address))
        .header(reqwest::header::COOKIE, format!("lookout_session={cookie}"))
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    (status, response.text().await.expect("HTML"))
}

/// A page's form posted with the session `cookie` from the server's own origin, as a browser
/// sends it: the status and the redirect's `Location`, decoded.
pub async fn post_form(
    app: &TestApp,
    cookie: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let response = app
        .client
        .post(format!("{}{path}", app.address))
        .header(reqwest::header::COOKIE, format!("lookout_session={cookie}"))
        .header(reqwest::header::ORIGIN, &app.address)
        .form(fields)
        .send()
        .await
        .expect("sent");
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default();
    (status, app::view_state::decode(location))
}

/// An API token named `reader` with the `vm:read` scope only.
pub async fn reader_token(app: &TestApp) -> String {
    lookout::auth::credentials::create_token(
        &app.pool,
        "reader",
        &[lookout::auth::Scope::VmRead],
        None,
    )
    .await
    .expect("token")
}
