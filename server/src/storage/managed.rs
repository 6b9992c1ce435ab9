//! A PostgreSQL cluster Lookout runs itself from the system binaries when no `DATABASE_URL` is given.
//!
//! The cluster lives in `<data-dir>/postgres`, listens only on a Unix socket inside that
//! directory (no TCP), and is reused on the next start. PostgreSQL refuses to run as root, so
//! when Lookout runs as root the cluster runs as Debian's unprivileged `postgres` user.
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

#[derive(Debug)]
pub struct ManagedPostgres {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    /// Unprivileged account the cluster runs as when we are root.
    run_as: Option<String>,
    /// Whether `stop` should shut the cluster down (false when another process started it).
    stop_on_exit: bool,
}

impl ManagedPostgres {
    /// Initialises the cluster if needed and starts it unless it is already running.
    /// `adopt` makes this process responsible for stopping a cluster it found running.
    pub async fn start(root: &Path, adopt: bool) -> anyhow::Result<Self> {
        let bin_dir = find_bin_dir()?;
        std::fs::create_dir_all(root).with_context(|| format!("cannot create data dir {}", root.display()))?;
        let root = root.canonicalize()?;
        let data_dir = root.join("postgres");
        let run_as = if nix::unistd::geteuid().is_root() { Some("postgres".to_string()) } else { None };
        let mut cluster = ManagedPostgres { bin_dir, data_dir, run_as, stop_on_exit: adopt };

        if let Some(user) = &cluster.run_as {
            let account = nix::unistd::User::from_name(user)?
                .with_context(|| format!("running as root needs the unprivileged `{user}` account: apt-get install postgresql"))?;
            // The cluster account must be able to reach its directory.
            set_mode(&root, 0o755)?;
            std::fs::create_dir_all(&cluster.data_dir)?;
            nix::unistd::chown(&cluster.data_dir, Some(account.uid), Some(account.gid))?;
        }
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
        PgConnectOptions::new().socket(&self.data_dir).port(PORT).username(SUPERUSER).database(database)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Fast shutdown (open sessions are ended, committed data is safe).
    pub async fn stop(&self) -> anyhow::Result<()> {
        if !self.stop_on_exit {
            return Ok(());
        }
        let data = self.data_dir.to_string_lossy().into_owned();
        self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]).await?;
        tracing::info!("Managed PostgreSQL stopped.");
        Ok(())
    }

    async fn initdb(&self) -> anyhow::Result<()> {
        tracing::info!(data_dir = %self.data_dir.display(), "Initialising a new PostgreSQL cluster.");
        let data = self.data_dir.to_string_lossy().into_owned();
        // Trust is safe here: the only way in is the socket in a 0700 directory owned by the cluster user.
        self.run("initdb", &["-D", &data, "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-locale"]).await
    }

    async fn is_running(&self) -> anyhow::Result<bool> {
        let data = self.data_dir.to_string_lossy().into_owned();
        let status = self.command("pg_ctl", &["-D", &data, "status"]).stdout(Stdio::null()).stderr(Stdio::null()).status().await?;
        Ok(status.success())
    }

    async fn pg_ctl_start(&self) -> anyhow::Result<()> {
        let data = self.data_dir.to_string_lossy().into_owned();
        let log = self.data_dir.join("server.log").to_string_lossy().into_owned();
        let options = format!("-c listen_addresses='' -k '{data}' -p {PORT} -c unix_socket_permissions=0700");
        self.run("pg_ctl", &["-D", &data, "-l", &log, "-w", "-t", "60", "-o", &options, "start"])
            .await
            .with_context(|| format!("PostgreSQL did not start; see {log}"))?;
        tracing::info!(data_dir = %data, "Managed PostgreSQL started.");
        Ok(())
    }

    async fn ensure_database(&self) -> anyhow::Result<()> {
        use sqlx::{Connection, PgConnection};
        let mut conn = PgConnection::connect_with(&self.connect_options_for("postgres")).await?;
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(DATABASE)
            .fetch_one(&mut conn)
            .await?;
        if !exists {
            sqlx::query("CREATE DATABASE lookout").execute(&mut conn).await?;
        }
        Ok(())
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let exe = self.bin_dir.join(program);
        let mut command = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        command.args(args);
        // Own process group: a Ctrl-C in the terminal must reach Lookout only, which then
        // flushes its buffered samples before stopping the cluster itself.
        command.process_group(0);
        command
    }

    async fn run(&self, program: &str, args: &[&str]) -> anyhow::Result<()> {
        let output = self.command(program, args).stdin(Stdio::null()).output().await.with_context(|| format!("cannot run {program}"))?;
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

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// `initdb` and `pg_ctl` from PATH, else the newest `/usr/lib/postgresql/*/bin`.
fn find_bin_dir() -> anyhow::Result<PathBuf> {
    let on_path = std::env::var_os("PATH").into_iter().flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>());
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
