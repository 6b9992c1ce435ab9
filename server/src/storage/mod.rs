//! PostgreSQL storage: connecting (external or managed cluster), migrations, hosts and raw samples.
pub mod anomalies;
pub mod capacity_reports;
pub mod catalog;
pub mod consistency;
pub mod copy;
pub mod custom_metrics;
pub mod fleet;
pub mod grids;
pub mod hosts;
pub mod ingest;
pub mod judgements;
pub mod managed;
pub mod period;
pub mod plans;
pub mod prices;
pub mod retention;
pub mod rollups;
pub mod rounds;
pub mod samples;
pub mod timeline;

use crate::config::DatabaseArgs;
use anyhow::Context;
use managed::ManagedPostgres;
use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    PgPool,
};
use std::time::Duration;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A read-only transaction that sees one snapshot for all its statements: a reader that reads
/// stored rollups and then the queue of buckets still to roll up (and the samples of those) must
/// not see the worker commit a bucket in between — gone from the queue, not yet in the rows it
/// read first — or that bucket is missing from what it read.
pub async fn read_snapshot(
    pool: &PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// The pool and, when Lookout runs its own PostgreSQL, the cluster to stop at exit.
pub struct Database {
    pub pool: PgPool,
    pub managed: Option<ManagedPostgres>,
}

/// Connects (starting the managed cluster when no URL is given) and applies migrations.
pub async fn open(args: &DatabaseArgs, adopt_managed: bool) -> anyhow::Result<Database> {
    let options = pool_options();
    let (pool, managed) = match &args.database_url {
        Some(url) => {
            let connect = session_settings(
                url.parse::<PgConnectOptions>()
                    .context("DATABASE_URL is not a PostgreSQL URL")?,
            );
            let pool = connect_with_retry(|| options.clone().connect_with(connect.clone()))
                .await
                .context("cannot connect to DATABASE_URL")?;
            (pool, None)
        }
        None => {
            let cluster = ManagedPostgres::start(&args.data_dir, adopt_managed).await?;
            let connect = session_settings(cluster.connect_options());
            let pool = connect_with_retry(|| options.clone().connect_with(connect.clone())).await?;
            (pool, Some(cluster))
        }
    };
    MIGRATOR
        .run(&pool)
        .await
        .context("database migrations failed")?;
    Ok(Database { pool, managed })
}

/// Whether an error means the database cannot be reached right now (answer 503 and retry),
/// as opposed to a fault in the query or the data.
pub fn is_unreachable(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed
    )
}

/// JIT off for Lookout's sessions: queries over many partitions have high cost estimates and
/// JIT compiled them for seconds (measured: a 200-bucket rollup read took 5.4 s with JIT, 0.7 ms
/// without), while every query here is an index range scan that gains nothing from it.
fn session_settings(options: PgConnectOptions) -> PgConnectOptions {
    options.options([("jit", "off")])
}

fn pool_options() -> PgPoolOptions {
    // A short acquire timeout turns a lost database into a quick 503 instead of hung requests.
    // Each connection is a PostgreSQL backend holding memory, and an idle server needs one or
    // two, not the ten a burst opened. sqlx hands out idle connections in turn, so under any
    // steady trickle of work none stays idle for `idle_timeout`; a bounded lifetime is what lets
    // the pool shrink back to what the work needs (a new connection costs a few milliseconds).
    // A minute, not two: at two, connections of start-up's first rounds were still open three
    // minutes in (two backends, ~6 MiB; `scripts/compare-idle.sh`).
    PgPoolOptions::new()
        .max_connections(10)
        .min_connections(1)
        .idle_timeout(Duration::from_secs(45))
        .max_lifetime(Duration::from_secs(60))
        .acquire_timeout(Duration::from_secs(3))
}

/// Tolerates a database that is still starting (containers, boot order) for up to 30 s.
async fn connect_with_retry<F, Fut>(connect: F) -> Result<PgPool, sqlx::Error>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<PgPool, sqlx::Error>>,
{
    let mut attempt = 0;
    loop {
        match connect().await {
            Ok(pool) => return Ok(pool),
            // Only "not reachable" is worth waiting for; bad credentials or names fail at once.
            Err(error @ (sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut)) if attempt < 10 => {
                attempt += 1;
                tracing::warn!(%error, attempt, "Database not reachable yet; retrying.");
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            Err(error) => return Err(error),
        }
    }
}
