//! Command line and environment configuration, parsed once into typed settings.
use clap::{Args, Parser, Subcommand};
use std::{net::SocketAddr, path::PathBuf, time::Duration};

/// A value that must not reach a log or a panic message: `Debug` shows that it is set, not what
/// it is. `expose` (or `Deref`) gives it to the one place that uses it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl std::ops::Deref for Secret {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Ok(Secret(value.to_owned()))
    }
}

/// Days back the continuous detector catches up on by default (`LOOKOUT_DETECT_HISTORY_DAYS`).
pub const DEFAULT_DETECT_HISTORY_DAYS: u32 = 30;

#[derive(Debug, Parser)]
#[command(
    name = "lookout",
    version,
    about = "Self-hosted performance monitoring",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of `serve`, which also runs when no sub-command is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Write a realistic simulated fleet history through the ingest path, then roll it up.
    Simulate(SimulateArgs),
    /// Check stored data for consistency and repair what can be repaired.
    #[command(subcommand)]
    Check(CheckCommand),
    /// Sample this machine and send the samples to a Lookout server, through a durable spool.
    Agent(AgentArgs),
}

#[derive(Debug, Clone, Args)]
pub struct AgentArgs {
    /// The Lookout server, e.g. https://mon.example.com.
    #[arg(long, env = "LOOKOUT_AGENT_SERVER")]
    pub server: String,
    /// An enrolment token (`lookout token create --enrol`), needed on the first start only.
    #[arg(long, env = "LOOKOUT_AGENT_ENROL_TOKEN", hide_env_values = true)]
    pub enrol_token: Option<Secret>,
    /// Seconds between two samples.
    #[arg(long, env = "LOOKOUT_AGENT_INTERVAL", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub interval: u64,
    /// Where the host token, the identity and the spool live (default /var/lib/lookout-agent as
    /// root, else ~/.local/state/lookout-agent).
    #[arg(long, env = "LOOKOUT_AGENT_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Largest spool on disk, bytes; beyond it the oldest samples are dropped (and counted).
    #[arg(long, env = "LOOKOUT_AGENT_SPOOL_MAX_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub spool_max_bytes: u64,
    /// Oldest spooled samples kept, hours (default 7 days).
    #[arg(long, env = "LOOKOUT_AGENT_SPOOL_MAX_AGE_HOURS", default_value_t = 168, value_parser = clap::value_parser!(u64).range(1..=8760))]
    pub spool_max_age_hours: u64,
    /// This host's vmId (default: its host name).
    #[arg(long, env = "LOOKOUT_AGENT_VM_ID")]
    pub vm_id: Option<String>,
    /// Its display name, group and cluster, registered on enrolment.
    #[arg(long, env = "LOOKOUT_AGENT_NAME")]
    pub name: Option<String>,
    #[arg(long, env = "LOOKOUT_AGENT_GROUP")]
    pub group: Option<String>,
    #[arg(long, env = "LOOKOUT_AGENT_CLUSTER")]
    pub cluster: Option<String>,
    /// Accept any TLS certificate (testing only).
    #[arg(
        long,
        env = "LOOKOUT_AGENT_INSECURE_SKIP_VERIFY",
        default_value_t = false
    )]
    pub insecure_skip_verify: bool,
}

#[derive(Debug, Subcommand)]
pub enum CheckCommand {
    /// Compare every rollup bucket's sample count with the tier below and queue the ones that
    /// disagree (a running server, or the next start, rolls them up again).
    Rollups {
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// Number of hosts.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub hosts: u64,
    /// Days of history, ending now.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=730))]
    pub days: u32,
    /// Seconds between two samples of a host.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub interval: u64,
    /// Random seed: the same seed gives the same fleet.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where to write the ground truth (injected trends and incidents) as JSON.
    #[arg(long, default_value = "simulation-truth.json")]
    pub truth: PathBuf,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token and print it once.
    Create {
        /// A name saying who or what uses the token (default "enrolment" with --enrol).
        #[arg(long)]
        name: Option<String>,
        /// Comma-separated scopes: vm:read, metrics:write, alerts:write, admin, agents:enrol.
        #[arg(long, value_delimiter = ',', default_value = "vm:read")]
        scopes: Vec<String>,
        /// An enrolment token for agents (scope agents:enrol; give --expires and --uses).
        #[arg(long, default_value_t = false)]
        enrol: bool,
        /// How long it is valid: 30m, 24h, 7d (default: no expiry; 24h with --enrol).
        #[arg(long)]
        expires: Option<String>,
        /// How many times it may be used (enrolment tokens; default 1).
        #[arg(long)]
        uses: Option<i32>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List the tokens (never their secrets).
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke a token by its id (from `token list`).
    Revoke {
        id: i32,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// Where the data lives: an external PostgreSQL, or a cluster Lookout manages in the data dir.
#[derive(Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL to use. Without it Lookout runs its own cluster in `<data-dir>/postgres`.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Directory for the managed PostgreSQL cluster and other state.
    #[arg(long, env = "LOOKOUT_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
}

// The URL may hold a password: `Debug` says whether it is set (the URL stays a `String`, which
// the tests and the managed cluster build and pass around).
impl std::fmt::Debug for DatabaseArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseArgs")
            .field("database_url", &self.database_url.as_ref().map(|_| "(set)"))
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LOOKOUT_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Seconds between two samples of this host (1–60).
    #[arg(long, env = "LOOKOUT_SAMPLE_INTERVAL", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=60))]
    pub sample_interval: u64,
    /// Seconds of samples kept in memory while the database is unreachable.
    #[arg(long, env = "LOOKOUT_BUFFER_SECONDS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(60..=86_400))]
    pub buffer_seconds: u64,
    /// Password of the `admin` user created on first start (random and printed once when unset).
    #[arg(long, env = "LOOKOUT_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<Secret>,
    /// Creates (or keeps) an admin-scoped API token with exactly this value, for automation.
    #[arg(long, env = "LOOKOUT_BOOTSTRAP_TOKEN", hide_env_values = true)]
    pub bootstrap_token: Option<Secret>,
    /// Directory with the built front end (`pkg/`), as written by `cargo leptos build`.
    #[arg(long, env = "LOOKOUT_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,
    /// Largest accepted request body, bytes.
    #[arg(long, env = "LOOKOUT_BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub body_limit: usize,
    /// Largest accepted body of `POST /api/v1/ingest/samples`, bytes.
    #[arg(long, env = "LOOKOUT_INGEST_BODY_LIMIT", default_value_t = 16 * 1024 * 1024)]
    pub ingest_body_limit: usize,
    /// Least seconds between two runs of the rollup worker (it wakes when a queued bucket is due).
    #[arg(long, env = "LOOKOUT_ROLLUP_INTERVAL", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub rollup_interval: u64,
    /// Seconds an idle background worker (exports, reports, webhooks, rollups) waits before it
    /// looks for work it was not told about: queued through another instance, or left by one that
    /// stopped. Work queued through this instance starts at once.
    #[arg(long, env = "LOOKOUT_JOB_POLL", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub job_poll: u64,
    /// Seconds between two runs of the continuous anomaly detector (the last three hours; it keeps
    /// the judgement of the day going on fresh for requests).
    #[arg(long, env = "LOOKOUT_DETECT_INTERVAL", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub detect_interval: u64,
    /// Days back (0 = off) over which the continuous detector also judges, a few hosts a round,
    /// the ended days it never saw live — a backfill, an agent's spool, the server down — so their
    /// anomalies are stored (pages and the timeline show them) and kept for requests.
    #[arg(long, env = "LOOKOUT_DETECT_HISTORY_DAYS", default_value_t = DEFAULT_DETECT_HISTORY_DAYS, value_parser = clap::value_parser!(u32).range(0..=730))]
    pub detect_history_days: u32,
    /// Seconds after which a REST request is answered 408.
    #[arg(long, env = "LOOKOUT_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout: u64,
    /// Extra origins (scheme://host[:port]) allowed to send cookie-authenticated requests, e.g. behind a proxy.
    #[arg(long, env = "LOOKOUT_TRUSTED_ORIGINS", value_delimiter = ',')]
    pub trusted_origins: Vec<String>,
    /// Mark the session cookie `Secure` (set when users reach Lookout over HTTPS).
    #[arg(long, env = "LOOKOUT_SECURE_COOKIE", default_value_t = false)]
    pub secure_cookie: bool,
    /// On a database with no other hosts, simulate a demo fleet (12 hosts, 180 days, live samples) in the background.
    #[arg(long, env = "LOOKOUT_DEMO", default_value_t = false)]
    pub demo: bool,
    /// Make the monthly capacity reports (PDFs of the fleet's and each group's capacity plan as
    /// of each month's first day, kept 24 months): `true` or `false`.
    #[arg(long, env = "LOOKOUT_MONTHLY_REPORTS", default_value_t = true, action = clap::ArgAction::Set)]
    pub monthly_reports: bool,
    /// Let webhooks reach loopback, private and link-local addresses (refused by default).
    #[arg(long, env = "LOOKOUT_WEBHOOK_ALLOW_PRIVATE", default_value_t = false)]
    pub webhook_allow_private: bool,
    /// Seconds a webhook receiver has to answer.
    #[arg(long, env = "LOOKOUT_WEBHOOK_TIMEOUT", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=60))]
    pub webhook_timeout: u64,
    /// Attempts per webhook delivery before it is marked failed.
    #[arg(long, env = "LOOKOUT_WEBHOOK_MAX_ATTEMPTS", default_value_t = 6, value_parser = clap::value_parser!(i32).range(1..=20))]
    pub webhook_max_attempts: i32,
    /// Milliseconds before the first webhook retry; each further retry waits twice as long.
    #[arg(long, env = "LOOKOUT_WEBHOOK_RETRY_BASE_MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    pub webhook_retry_base_ms: u64,
    /// API requests per second per caller (token or session), twice that in a burst; 0 = no limit.
    #[arg(long, env = "LOOKOUT_RATE_LIMIT", default_value_t = 100)]
    pub rate_limit: u32,
    /// Where export files are written (default `<data-dir>/exports`).
    #[arg(long, env = "LOOKOUT_EXPORT_DIR")]
    pub export_dir: Option<PathBuf>,
    /// Seconds from SIGTERM to exit: open requests, the last sample flush and the managed
    /// PostgreSQL's stop all fit in it (samples not stored by then are spilled for the next start).
    #[arg(long, env = "LOOKOUT_SHUTDOWN_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(3..=600))]
    pub shutdown_timeout: u64,
}

/// Everything `Application::build` needs; tests construct it directly.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub database: DatabaseArgs,
    pub sample_interval: Duration,
    pub buffer: Duration,
    pub admin_password: Option<Secret>,
    pub bootstrap_token: Option<Secret>,
    pub site_root: String,
    pub body_limit: usize,
    pub ingest_body_limit: usize,
    pub rollup_interval: Duration,
    pub job_poll: Duration,
    pub detect_interval: Duration,
    pub detect_history_days: u32,
    pub request_timeout: Duration,
    pub trusted_origins: Vec<String>,
    pub secure_cookie: bool,
    pub demo: bool,
    pub monthly_reports: bool,
    pub webhooks: crate::alerts::webhook::WebhookPolicy,
    pub export_dir: PathBuf,
    pub rate_limit: u32,
    pub shutdown_timeout: Duration,
}

impl From<ServeArgs> for Settings {
    fn from(args: ServeArgs) -> Self {
        Settings {
            listen: args.listen,
            sample_interval: Duration::from_secs(args.sample_interval),
            buffer: Duration::from_secs(args.buffer_seconds),
            admin_password: args.admin_password,
            bootstrap_token: args.bootstrap_token,
            site_root: args.site_root,
            body_limit: args.body_limit,
            ingest_body_limit: args.ingest_body_limit,
            rollup_interval: Duration::from_secs(args.rollup_interval),
            job_poll: Duration::from_secs(args.job_poll),
            detect_interval: Duration::from_secs(args.detect_interval),
            detect_history_days: args.detect_history_days,
            request_timeout: Duration::from_secs(args.request_timeout),
            trusted_origins: args.trusted_origins,
            secure_cookie: args.secure_cookie,
            demo: args.demo,
            monthly_reports: args.monthly_reports,
            webhooks: crate::alerts::webhook::WebhookPolicy {
                allow_private: args.webhook_allow_private,
                timeout: Duration::from_secs(args.webhook_timeout),
                max_attempts: args.webhook_max_attempts,
                retry_base: Duration::from_millis(args.webhook_retry_base_ms),
            },
            export_dir: args
                .export_dir
                .unwrap_or_else(|| args.database.data_dir.join("exports")),
            rate_limit: args.rate_limit,
            shutdown_timeout: Duration::from_secs(args.shutdown_timeout),
            database: args.database,
        }
    }
}

impl Settings {
    /// How many samples of the local host the in-memory buffer holds while the database is away.
    pub fn buffer_capacity(&self) -> usize {
        (self.buffer.as_secs() / self.sample_interval.as_secs().max(1)).max(1) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("lookout").chain(args.iter().copied()))
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn secrets_do_not_reach_debug_output() {
        let cli = parse(&[
            "--admin-password",
            "hunter2-password",
            "--bootstrap-token",
            "lk_secret_token_value",
            "--database-url",
            "postgres://app:db-password@db/lookout",
        ])
        .expect("valid");
        let settings = Settings::from(cli.serve);
        let shown = format!("{settings:?}");
        for secret in ["hunter2-password", "lk_secret_token_value", "db-password"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert_eq!(settings.admin_password.as_deref(), Some("hunter2-password"));
        assert!(shown.contains("Secret(…)"), "{shown}");
    }

    #[test]
    fn defaults_match_the_readme() {
        let cli = parse(&[]).expect("no arguments is valid");
        assert!(cli.command.is_none());
        let settings = Settings::from(cli.serve);
        assert_eq!(settings.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(settings.sample_interval, Duration::from_secs(10));
        assert_eq!(settings.buffer_capacity(), 360);
        assert_eq!(settings.database.data_dir, PathBuf::from("./data"));
    }

    #[test]
    fn sample_interval_outside_1_to_60_is_refused() {
        assert!(parse(&["--sample-interval", "0"]).is_err());
        assert!(parse(&["--sample-interval", "61"]).is_err());
        let cli = parse(&["serve", "--sample-interval", "1"]).expect("1 s is allowed");
        let Some(Command::Serve(args)) = cli.command else {
            panic!("serve expected")
        };
        assert_eq!(Settings::from(args).buffer_capacity(), 3600);
    }

    #[test]
    fn agent_and_enrolment_token_options_parse() {
        let cli = parse(&[
            "token",
            "create",
            "--enrol",
            "--expires",
            "24h",
            "--uses",
            "50",
        ])
        .expect("valid");
        let Some(Command::Token(TokenCommand::Create {
            enrol,
            expires,
            uses,
            ..
        })) = cli.command
        else {
            panic!("token create expected")
        };
        assert!(enrol);
        assert_eq!((expires.as_deref(), uses), (Some("24h"), Some(50)));
        let cli = parse(&[
            "agent",
            "--server",
            "https://mon.example.com",
            "--enrol-token",
            "lk_x",
        ])
        .expect("valid");
        let Some(Command::Agent(args)) = cli.command else {
            panic!("agent expected")
        };
        assert_eq!(
            (
                args.interval,
                args.spool_max_bytes,
                args.spool_max_age_hours
            ),
            (10, 256 << 20, 168)
        );
        assert!(!args.insecure_skip_verify);
    }

    #[test]
    fn token_create_takes_a_scope_list() {
        let cli = parse(&[
            "token",
            "create",
            "--name",
            "ci",
            "--scopes",
            "vm:read,metrics:write",
        ])
        .expect("valid");
        let Some(Command::Token(TokenCommand::Create { name, scopes, .. })) = cli.command else {
            panic!("token create expected")
        };
        assert_eq!(name.as_deref(), Some("ci"));
        assert_eq!(scopes, ["vm:read", "metrics:write"]);
    }
}
