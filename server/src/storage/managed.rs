//! A PostgreSQL cluster Lookout runs itself from the system binaries when no `DATABASE_URL` is given.
//!
//! The cluster lives in `<data-dir>/postgres`, listens only on a Unix socket inside that
//! directory (no TCP), and is reused on the next start. PostgreSQL refuses to run as root, so
//! when Lookout runs as root the cluster runs as Debian's unprivileged `postgres` user; when that
//! account cannot reach the data directory (root's home is 0700), the cluster lives in
//! `/var/lib/lookout/<hash of the data dir>/postgres` instead and `<data-dir>/postgres` links to it.
//!
//! Guarantee: a cluster this process started is stopped on every exit path — `stop`, an error or
//! a panic during start-up, or the start-up being abandoned (the handle's `Drop` stops it).
use anyhow::{bail, Context};
use sqlx::postgres::PgConnectOptions;
use std::{
    path::{Path, PathBuf},
    process::Stdio,
};
use tokio::process::Command;

const SUPERUSER: &str = "lookout";
pub const DATABASE: &str = "lookout";
const PORT: u16 = 5432;

/// Appended to a new cluster's `postgresql.conf`. The cluster serves one Lookout server (a pool of
/// at most ten connections and one listener), and its shared memory is most of an idle stack's
/// footprint: the defaults (128 MB of buffers with 4 MB of WAL buffers, 100 connections' worth of
/// process and lock tables) touched 14.6 MiB at idle, these 7.4 MiB. Tables are still cached by the
/// kernel's page cache beyond the 32 MB.
const MEMORY_SETTINGS: &str = "
# Added by Lookout for its managed cluster: sized for one Lookout server. Raise both for a
# large fleet of agents writing here (and restart Lookout).
shared_buffers = 32MB
max_connections = 25
# Lookout subscribes to nothing: no logical replication launcher process sitting idle.
max_logical_replication_workers = 0
";

#[derive(Debug)]
pub struct ManagedPostgres {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    /// Unprivileged account the cluster runs as when we are root.
    run_as: Option<String>,
    /// Whether `stop` should shut the cluster down (false when another process started it).
    stop_on_exit: bool,
    /// Set once `stop` succeeded, so `Drop` does not stop it again.
    stopped: std::sync::atomic::AtomicBool,
}

/// An exclusive lock on a data directory, held by the one `lookout serve` using its managed
/// cluster: a second server on the same directory would adopt the cluster and stop it under the
/// first one when it exits.
pub struct DataDirLock {
    _lock: nix::fcntl::Flock<std::fs::File>,
}

impl DataDirLock {
    pub fn acquire(root: &Path) -> anyhow::Result<Self> {
        use std::io::{Read, Seek, Write};
        std::fs::create_dir_all(root)
            .with_context(|| format!("cannot create data dir {}", root.display()))?;
        let path = root.join("lookout.lock");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let mut lock = match nix::fcntl::Flock::lock(
            file,
            nix::fcntl::FlockArg::LockExclusiveNonblock,
        ) {
            Ok(lock) => lock,
            Err((mut file, _)) => {
                let mut holder = String::new();
                file.read_to_string(&mut holder).ok();
                bail!(
                    "another Lookout server (pid {}) is using the data directory {}; stop it or give this one its own --data-dir",
                    holder.trim(),
                    root.display()
                );
            }
        };
        lock.set_len(0)?;
        lock.rewind()?;
        write!(lock, "{}", std::process::id())?;
        Ok(DataDirLock { _lock: lock })
    }
}

/// Where clusters live when the data directory is closed to the cluster's account.
const SHARED_ROOT: &str = "/var/lib/lookout";

impl ManagedPostgres {
    /// Initialises the cluster if needed and starts it unless it is already running.
    /// `adopt` makes this process responsible for stopping a cluster it found running.
    pub async fn start(root: &Path, adopt: bool) -> anyhow::Result<Self> {
        let bin_dir = find_bin_dir()?;
        std::fs::create_dir_all(root)
            .with_context(|| format!("cannot create data dir {}", root.display()))?;
        let root = root.canonicalize()?;
        let run_as = if nix::unistd::geteuid().is_root() {
            Some("postgres".to_string())
        } else {
            None
        };
        let data_dir = match &run_as {
            None => root.join("postgres"),
            Some(user) => {
                let account = nix::unistd::User::from_name(user)?
                    .with_context(|| format!("running as root needs the unprivileged `{user}` account: apt-get install postgresql"))?;
                let data_dir = cluster_dir_for(&root, &account)?;
                std::fs::create_dir_all(&data_dir)?;
                nix::unistd::chown(&data_dir, Some(account.uid), Some(account.gid))?;
                data_dir
            }
        };
        let mut cluster = ManagedPostgres {
            bin_dir,
            data_dir,
            run_as,
            stop_on_exit: adopt,
            stopped: std::sync::atomic::AtomicBool::new(false),
        };
        if !cluster.data_dir.join("PG_VERSION").exists() {
            cluster.initdb().await?;
        }
        if cluster.is_running().await? {
            tracing::info!(data_dir = %cluster.data_dir.display(), "Reusing the running managed PostgreSQL.");
        } else {
            cluster.pg_ctl_start().await?;
            cluster.stop_on_exit = true;
        }
        cluster.ensure_database().await?;
        Ok(cluster)
    }

    pub fn connect_options(&self) -> PgConnectOptions {
        self.connect_options_for(DATABASE)
    }

    fn connect_options_for(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.data_dir)
            .port(PORT)
            .username(SUPERUSER)
            .database(database)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Fast shutdown (open sessions are ended, committed data is safe); immediate when a fast
    /// one does not finish within 20 s (PostgreSQL replays its WAL at the next start).
    pub async fn stop(&self) -> anyhow::Result<()> {
        if !self.stop_on_exit || self.stopped.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        let data = self.data_dir.to_string_lossy().into_owned();
        if let Err(error) = self
            .run(
                "pg_ctl",
                &["-D", &data, "-m", "fast", "-w", "-t", "20", "stop"],
            )
            .await
        {
            tracing::warn!(
                error = format!("{error:#}"),
                "Managed PostgreSQL did not stop in time; stopping it immediately."
            );
            self.run(
                "pg_ctl",
                &["-D", &data, "-m", "immediate", "-w", "-t", "10", "stop"],
            )
            .await?;
        }
        self.stopped
            .store(true, std::sync::atomic::Ordering::SeqCst);
        tracing::info!("Managed PostgreSQL stopped.");
        Ok(())
    }

    async fn initdb(&self) -> anyhow::Result<()> {
        tracing::info!(data_dir = %self.data_dir.display(), "Initialising a new PostgreSQL cluster.");
        let data = self.data_dir.to_string_lossy().into_owned();
        // Trust is safe here: the only way in is the socket in a 0700 directory owned by the cluster user.
        self.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ],
        )
        .await?;
        // In the cluster's own configuration, not on the command line, so an administrator
        // can raise them there.
        let conf = self.data_dir.join("postgresql.conf");
        let mut file = tokio::fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .await
            .with_context(|| format!("cannot open {}", conf.display()))?;
        tokio::io::AsyncWriteExt::write_all(&mut file, MEMORY_SETTINGS.as_bytes())
            .await
            .with_context(|| format!("cannot write {}", conf.display()))?;
        Ok(())
    }

    async fn is_running(&self) -> anyhow::Result<bool> {
        let data = self.data_dir.to_string_lossy().into_owned();
        let status = self
            .command("pg_ctl", &["-D", &data, "status"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await?;
        Ok(status.success())
    }

    async fn pg_ctl_start(&self) -> anyhow::Result<()> {
        let data = self.data_dir.to_string_lossy().into_owned();
        let log = self
            .data_dir
            .join("server.log")
            .to_string_lossy()
            .into_owned();
        // An idle server should cost next to nothing: the autovacuum launcher looks at each
        // database every 5 minutes instead of every minute (a worker started each 20 s), and
        // the logical replication launcher, which a managed database never uses, stays off.
        let options = format!(
            "-c listen_addresses='' -k '{data}' -p {PORT} -c unix_socket_permissions=0700 \
             -c autovacuum_naptime=300 -c max_logical_replication_workers=0"
        );
        self.run(
            "pg_ctl",
            &[
                "-D", &data, "-l", &log, "-w", "-t", "60", "-o", &options, "start",
            ],
        )
        .await
        .with_context(|| format!("PostgreSQL did not start; see {log}"))?;
        tracing::info!(data_dir = %data, "Managed PostgreSQL started.");
        Ok(())
    }

    async fn ensure_database(&self) -> anyhow::Result<()> {
        use sqlx::{Connection, PgConnection};
        let mut conn = PgConnection::connect_with(&self.connect_options_for("postgres")).await?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(DATABASE)
                .fetch_one(&mut conn)
                .await?;
        if !exists {
            sqlx::query("CREATE DATABASE lookout")
                .execute(&mut conn)
                .await?;
        }
        Ok(())
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        Command::from(self.std_command(program, args))
    }

    fn std_command(&self, program: &str, args: &[&str]) -> std::process::Command {
        use std::os::unix::process::CommandExt;
        let exe = self.bin_dir.join(program);
        let mut command = match &self.run_as {
            Some(user) => {
                let mut c = std::process::Command::new("runuser");
                c.args(["-u", user, "--"]).arg(exe);
                c
            }
            None => std::process::Command::new(exe),
        };
        command.args(args);
        // Own process group: a Ctrl-C in the terminal must reach Lookout only, which then
        // flushes its buffered samples before stopping the cluster itself.
        command.process_group(0);
        command
    }

    async fn run(&self, program: &str, args: &[&str]) -> anyhow::Result<()> {
        let output = self
            .command(program, args)
            .stdin(Stdio::null())
            .output()
            .await
            .with_context(|| format!("cannot run {program}"))?;
        if !output.status.success() {
            bail!(
                "{program} failed ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim(),
                String::from_utf8_lossy(&output.stdout).trim()
            );
        }
        Ok(())
    }
}

impl Drop for ManagedPostgres {
    /// The exit paths `stop` was not called on (an error or panic in start-up, an abandoned
    /// start): stop the cluster here, blocking, so it never outlives the process that started it.
    fn drop(&mut self) {
        self.stop_blocking();
    }
}

impl ManagedPostgres {
    /// `stop` for places that cannot await (`Drop`, the shutdown watchdog).
    pub fn stop_blocking(&self) {
        if !self.stop_on_exit
            || self.stopped.load(std::sync::atomic::Ordering::SeqCst)
            || !self.data_dir.join("postmaster.pid").exists()
        {
            return;
        }
        let data = self.data_dir.to_string_lossy().into_owned();
        let stopped = self
            .std_command(
                "pg_ctl",
                &["-D", &data, "-m", "fast", "-w", "-t", "20", "stop"],
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if stopped {
            self.stopped
                .store(true, std::sync::atomic::Ordering::SeqCst);
            tracing::info!("Managed PostgreSQL stopped.");
        } else {
            tracing::error!(data_dir = %data, "Managed PostgreSQL could not be stopped; stop it with pg_ctl.");
        }
    }
}

/// Where the cluster of the data directory `root` lives when it runs as `account`: inside it
/// when the account can reach it, else in `/var/lib/lookout/<hash of root>/postgres` with
/// `<root>/postgres` a link to it (a user's home is often closed to other accounts).
fn cluster_dir_for(root: &Path, account: &nix::unistd::User) -> anyhow::Result<PathBuf> {
    // The account must be able to enter the data directory itself; its parents are the user's.
    set_mode(root, 0o755)?;
    let inside = root.join("postgres");
    let closed = root
        .ancestors()
        .skip(1)
        .find(|dir| !traversable(dir, account));
    let Some(closed) = closed else {
        return Ok(inside);
    };
    let shared = shared_cluster_dir(root);
    if let Ok(meta) = std::fs::symlink_metadata(&inside) {
        if meta.file_type().is_symlink() {
            if std::fs::read_link(&inside).ok().as_deref() != Some(shared.as_path()) {
                std::fs::remove_file(&inside)?;
            }
        } else if meta.is_dir() && std::fs::read_dir(&inside)?.next().is_none() {
            std::fs::remove_dir(&inside)?;
        } else {
            bail!(
                "{} holds a PostgreSQL cluster the `{}` account cannot reach ({} is closed to it): open it with `chmod o+x {}` or move the data directory",
                inside.display(),
                account.name,
                closed.display(),
                closed.display()
            );
        }
    }
    for dir in [
        Path::new(SHARED_ROOT),
        shared.parent().unwrap_or(Path::new(SHARED_ROOT)),
    ] {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        set_mode(dir, 0o755)?;
    }
    if std::fs::symlink_metadata(&inside).is_err() {
        std::os::unix::fs::symlink(&shared, &inside)
            .with_context(|| format!("cannot link {} to {}", inside.display(), shared.display()))?;
    }
    tracing::info!(
        data_dir = %root.display(),
        cluster = %shared.display(),
        closed = %closed.display(),
        "The data directory is closed to the `{}` account; its PostgreSQL cluster lives in the shared directory instead.",
        account.name
    );
    Ok(shared)
}

/// `/var/lib/lookout/<first 16 hex digits of SHA-256 of the data directory>/postgres`.
pub fn shared_cluster_dir(root: &Path) -> PathBuf {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(root.as_os_str().as_encoded_bytes());
    Path::new(SHARED_ROOT)
        .join(&hex::encode(digest)[..16])
        .join("postgres")
}

/// Whether `account` may enter `dir` by its mode bits (owner, group, then others).
fn traversable(dir: &Path, account: &nix::unistd::User) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(dir) else {
        return false;
    };
    let mode = meta.mode();
    if meta.uid() == account.uid.as_raw() {
        mode & 0o100 != 0
    } else if meta.gid() == account.gid.as_raw() {
        mode & 0o010 != 0
    } else {
        mode & 0o001 != 0
    }
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// `initdb` and `pg_ctl` from PATH, else the newest `/usr/lib/postgresql/*/bin`.
fn find_bin_dir() -> anyhow::Result<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>());
    for dir in on_path {
        let (initdb, pg_ctl) = (dir.join("initdb"), dir.join("pg_ctl"));
        if let (Ok(initdb), Ok(pg_ctl)) = (initdb.canonicalize(), pg_ctl.canonicalize()) {
            // Debian's /usr/bin/pg_ctl is a wrapper script; follow links to the real binaries.
            if initdb.parent() == pg_ctl.parent() {
                if let Some(parent) = initdb.parent() {
                    return Ok(parent.to_path_buf());
                }
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or_else(|| {
        anyhow::anyhow!("PostgreSQL server binaries (initdb, pg_ctl) not found: install them (Debian: apt-get install postgresql) or set DATABASE_URL")
    })
}
