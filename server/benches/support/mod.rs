//! Shared by the benchmarks that run the real server: a named database on the bench server and
//! the application on a random port.
#![allow(dead_code)] // each bench uses part of it
use clap::Parser;
use lookout::{
    config::{DatabaseArgs, Settings},
    Application,
};
use sqlx::{postgres::PgPoolOptions, PgPool};

pub const TOKEN: &str = "lk_bench_token_0123456789abcdef";

pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// The URL of database `name` on `$DATABASE_URL`'s server, created if missing (kept between runs).
pub async fn database(name: &str) -> anyhow::Result<String> {
    let base = std::env::var("DATABASE_URL")
        .map_err(|_| anyhow::anyhow!("set DATABASE_URL (scripts/bench.sh does)"))?;
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&base)
        .await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&admin)
            .await?;
    if !exists {
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await?;
    }
    let (head, query) = base
        .split_once('?')
        .map(|(h, q)| (h, format!("?{q}")))
        .unwrap_or((&base, String::new()));
    Ok(format!(
        "{}/{name}{query}",
        head.rsplit_once('/').map(|(s, _)| s).unwrap_or(head)
    ))
}

/// Like `database`, but dropped first: the run starts from nothing.
pub async fn fresh_database(name: &str) -> anyhow::Result<String> {
    let base = std::env::var("DATABASE_URL")
        .map_err(|_| anyhow::anyhow!("set DATABASE_URL (scripts/bench.sh does)"))?;
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&base)
        .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&admin)
    .await?;
    database(name).await
}

pub struct Server {
    pub pool: PgPool,
    pub port: u16,
    pub shutdown: tokio_util::sync::CancellationToken,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Server {
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.task.await?
    }
}

/// The server on a random port over `url`, with the bench token as its bootstrap token.
pub async fn start(url: String) -> anyhow::Result<Server> {
    // Quiet unless asked (RUST_LOG=lookout::detect=debug shows where an anomaly run's time goes).
    if std::env::var_os("RUST_LOG").is_some() {
        lookout::telemetry::init();
    }
    // The documented defaults, then what a bench needs: its database, a random port, its token.
    let cli = lookout::config::Cli::try_parse_from(["lookout"])?;
    let mut settings = Settings::from(cli.serve);
    settings.listen = "127.0.0.1:0".parse()?;
    settings.database = DatabaseArgs {
        database_url: Some(url),
        data_dir: "unused".into(),
    };
    settings.admin_password = Some("bench-password".into());
    settings.bootstrap_token = Some(TOKEN.into());
    settings.request_timeout = std::time::Duration::from_secs(60);
    settings.export_dir = std::env::temp_dir().join("lookout-bench-exports");
    // Benches measure the server, not the throttle.
    settings.rate_limit = 0;
    let app = Application::build(settings).await?;
    let pool = app.state().pool.clone();
    let port = app.port();
    let shutdown = app.shutdown_token();
    let task = tokio::spawn(app.run_until_stopped());
    Ok(Server {
        pool,
        port,
        shutdown,
        task,
    })
}
