//! Starting and stopping as a new user would: a port already taken, a failed start-up, a stop
//! during start-up, root's closed home directory, a database that refuses every write.
use crate::common::{fresh_database, settings, spawn_with};
use lookout::{config::DatabaseArgs, storage::managed, Application};
use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

/// Where the managed cluster of `data_dir` keeps its files (through the link when it lives in
/// the shared directory).
fn postmaster_pid(data_dir: &Path) -> PathBuf {
    data_dir.join("postgres").join("postmaster.pid")
}

fn managed_settings(data_dir: &Path) -> lookout::config::Settings {
    settings(DatabaseArgs {
        database_url: None,
        data_dir: data_dir.to_path_buf(),
    })
}

#[tokio::test]
async fn a_taken_port_fails_the_start_before_any_postgresql_is_started() {
    let dir = tempfile::tempdir().expect("temp dir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut config = managed_settings(dir.path());
    config.listen = taken.local_addr().expect("address");
    let error = Application::build(config)
        .await
        .err()
        .expect("the port is taken");
    assert!(
        format!("{error:#}").contains("cannot listen on"),
        "{error:#}"
    );
    assert!(
        !postmaster_pid(dir.path()).exists(),
        "no cluster was started for a server that cannot listen"
    );
}

#[tokio::test]
async fn a_start_up_that_fails_after_postgresql_started_stops_it_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = managed_settings(dir.path());
    // Refused only after the cluster is up and migrated: the failure comes late in start-up.
    config.bootstrap_token = Some("short".into());
    let error = Application::build(config)
        .await
        .err()
        .expect("a 5-character token is refused");
    assert!(
        format!("{error:#}").contains("LOOKOUT_BOOTSTRAP_TOKEN"),
        "{error:#}"
    );
    assert!(
        dir.path().join("postgres").join("PG_VERSION").exists(),
        "the cluster was created"
    );
    assert!(!postmaster_pid(dir.path()).exists(), "and stopped again");
}

#[tokio::test]
async fn a_second_server_on_the_same_data_directory_is_refused_and_leaves_the_first_running() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = spawn_with(managed_settings(dir.path())).await;
    let error = Application::build(managed_settings(dir.path()))
        .await
        .err()
        .expect("the directory is in use");
    assert!(
        format!("{error:#}").contains("another Lookout server"),
        "{error:#}"
    );
    let (status, _) = first.get_json("/api/v1/hosts").await;
    assert_eq!(status, 200, "the first server still has its database");
    // A new managed cluster is sized for one server, in its own postgresql.conf.
    for (setting, expected) in [
        ("shared_buffers", "32MB"),
        ("max_connections", "25"),
        ("max_logical_replication_workers", "0"),
    ] {
        let value: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SHOW {setting}")))
            .fetch_one(&first.pool)
            .await
            .expect("show");
        assert_eq!(value, expected, "{setting}");
    }
    let launchers: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'logical replication launcher'",
    )
    .fetch_one(&first.pool)
    .await
    .expect("pg_stat_activity");
    assert_eq!(launchers, 0, "no idle launcher process");
    let conf = std::fs::read_to_string(dir.path().join("postgres").join("postgresql.conf"))
        .expect("postgresql.conf");
    assert!(
        conf.contains("shared_buffers = 32MB"),
        "an administrator can raise it there"
    );
    first.stop().await;
    assert!(!postmaster_pid(dir.path()).exists());
}

/// SIGTERM while the binary is still starting (the cluster is up, the listener not serving yet).
#[tokio::test]
async fn sigterm_during_start_up_stops_the_managed_postgresql() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lookout"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("DATABASE_URL")
        .env("LOOKOUT_ADMIN_PASSWORD", "a-test-password")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lookout starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut log = String::new();
    for line in lines.by_ref() {
        let line = line.expect("log line");
        log.push_str(&line);
        log.push('\n');
        if line.contains("Managed PostgreSQL started") {
            break;
        }
    }
    assert!(log.contains("Managed PostgreSQL started"), "{log}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().expect("exit");
    let log = format!("{log}{}", rest.join("\n"));
    assert!(
        status.success(),
        "a requested stop is a clean exit: {status}\n{log}"
    );
    assert!(log.contains("Managed PostgreSQL stopped"), "{log}");
    assert!(!postmaster_pid(dir.path()).exists(), "{log}");
}

/// Root's home directory is 0700: the `postgres` account the cluster runs as cannot enter it.
#[tokio::test]
async fn root_starts_with_its_data_directory_under_a_closed_parent() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: only root runs the cluster as another account (CI runs as root)");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let data_dir = home.path().join("lookout").join("data");
    let shared = managed::shared_cluster_dir(
        &std::fs::canonicalize(home.path())
            .expect("path")
            .join("lookout")
            .join("data"),
    );
    let app = spawn_with(managed_settings(&data_dir)).await;
    let (status, _) = app.get_json("/api/v1/hosts").await;
    assert_eq!(status, 200);
    assert_eq!(
        std::fs::read_link(data_dir.join("postgres")).expect("a link to the shared directory"),
        shared
    );
    assert!(shared.join("PG_VERSION").exists());
    app.stop().await;
    assert!(!shared.join("postmaster.pid").exists(), "stopped at exit");
    // A second start finds the same cluster again.
    let again = spawn_with(managed_settings(&data_dir)).await;
    let (status, _) = again.get_json("/api/v1/hosts").await;
    assert_eq!(status, 200);
    again.stop().await;
    std::fs::remove_dir_all(shared.parent().expect("hash dir"))
        .expect("clean up the shared cluster");
}

/// A database that answers every write with an error (here: made read-only under the running
/// server) must not hold the shutdown: it ends within the deadline, with a non-zero result, and
/// the samples it could not store are spilled and written by the next start.
#[tokio::test]
async fn shutdown_is_bounded_when_the_database_refuses_every_write_and_the_next_start_writes_what_was_spilled(
) {
    let url = fresh_database().await;
    let database = url
        .split('?')
        .next()
        .and_then(|head| head.rsplit_once('/'))
        .map(|(_, name)| name.to_string())
        .expect("database name");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = settings(DatabaseArgs {
        database_url: Some(url.clone()),
        data_dir: dir.path().to_path_buf(),
    });
    config.shutdown_timeout = Duration::from_secs(6);
    let app = spawn_with(config.clone()).await;
    app.wait_for_first_sample().await;

    let admin = sqlx::PgPool::connect(&url).await.expect("admin connection");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {database} SET default_transaction_read_only = on"
    )))
    .execute(&admin)
    .await
    .expect("read-only");
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        .execute(&admin)
        .await
        .expect("reconnect everyone");
    admin.close().await;
    // Samples keep coming (every second) while every write fails.
    tokio::time::sleep(Duration::from_secs(4)).await;

    let started = Instant::now();
    app.shutdown.cancel();
    let outcome = app.server.await.expect("server task");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(8), "shutdown took {took:?}");
    let error = outcome.expect_err("unstored samples make the exit an error");
    assert!(
        format!("{error:#}").contains("could not be stored before exit"),
        "{error:#}"
    );
    let spilled: Vec<PathBuf> = std::fs::read_dir(dir.path().join("unsent"))
        .expect("spill dir")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(spilled.len(), 1);
    let lines = std::fs::read_to_string(&spilled[0])
        .expect("spill file")
        .lines()
        .count();
    assert!(
        lines >= 3,
        "the samples of the outage are in the file ({lines})"
    );

    // Writable again: the next start writes them and removes the file.
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(&url)
        .await
        .expect("admin connection");
    sqlx::query("SET default_transaction_read_only = off")
        .execute(&mut admin)
        .await
        .expect("writable session");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {database} RESET default_transaction_read_only"
    )))
    .execute(&mut admin)
    .await
    .expect("writable");
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM samples")
        .fetch_one(&mut admin)
        .await
        .expect("count");
    let next = spawn_with(config).await;
    let mut written = false;
    for _ in 0..50 {
        if !spilled[0].exists() {
            written = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(written, "the spill file is replayed and removed");
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM samples")
        .fetch_one(&mut admin)
        .await
        .expect("count");
    assert!(
        after >= before + lines as i64,
        "{before} + {lines} spilled ≤ {after}"
    );
    next.stop().await;
    admin.close().await.ok();
}
