//! The `lookout` binary: `serve` (default), `agent`, `token`, `simulate`, `check`.
use clap::Parser;
use lookout::{
    auth::credentials,
    config::{CheckCommand, Cli, Command, Settings, SimulateArgs, TokenCommand},
    simulate, storage, telemetry, Application,
};
use tokio_util::sync::CancellationToken;

fn main() -> std::process::ExitCode {
    telemetry::init();
    let cli = Cli::parse();
    // The agent runs on one thread (it samples and sends, nothing more): less memory and no idle
    // worker threads on the hosts it watches. Everything else gets the multi-threaded runtime.
    let runtime = match cli.command {
        Some(Command::Agent(_)) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("lookout: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> std::process::ExitCode {
    let outcome = match cli.command {
        None => serve(Settings::from(cli.serve)).await,
        Some(Command::Serve(args)) => serve(Settings::from(args)).await,
        Some(Command::Token(TokenCommand::Create {
            name,
            scopes,
            enrol,
            expires,
            uses,
            database,
        })) => create_token(name, scopes, enrol, expires, uses, database).await,
        Some(Command::Token(TokenCommand::List { database })) => list_tokens(database).await,
        Some(Command::Token(TokenCommand::Revoke { id, database })) => {
            revoke_token(id, database).await
        }
        Some(Command::Agent(args)) => agent(args).await,
        Some(Command::Simulate(args)) => simulate(args).await,
        Some(Command::Check(CheckCommand::Rollups { database })) => check_rollups(database).await,
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(
                error = format!("{error:#}"),
                "Lookout stopped with an error."
            );
            eprintln!("lookout: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    // Signals are handled from the first moment: a stop during start-up abandons it, which stops
    // the managed cluster it may have started (see `ManagedPostgres`'s `Drop`).
    let shutdown = CancellationToken::new();
    stop_on_signal(shutdown.clone());
    let application = tokio::select! {
        built = Application::build_with(settings, shutdown.clone()) => built?,
        _ = shutdown.cancelled() => {
            tracing::info!("Stopped during start-up.");
            return Ok(());
        }
    };
    application.run_until_stopped().await
}

fn stop_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let interrupt = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(error) => {
                    tracing::warn!(%error, "Cannot listen for SIGTERM.");
                    std::future::pending::<()>().await;
                }
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            _ = interrupt => {}
            _ = terminate => {}
        }
        tracing::info!("Shutting down.");
        token.cancel();
    });
}

async fn create_token(
    name: Option<String>,
    scopes: Vec<String>,
    enrol: bool,
    expires: Option<String>,
    uses: Option<i32>,
    database: lookout::config::DatabaseArgs,
) -> anyhow::Result<()> {
    let scopes = if enrol {
        vec![lookout::auth::Scope::AgentsEnrol]
    } else {
        credentials::parse_scopes(&scopes)?
    };
    let lifetime = match (expires.as_deref(), enrol) {
        (Some(text), _) => Some(credentials::parse_lifetime(text)?),
        (None, true) => Some(chrono::Duration::hours(24)),
        (None, false) => None,
    };
    let uses = uses.or(enrol.then_some(1));
    let name = name.unwrap_or_else(|| {
        if enrol {
            "enrolment".into()
        } else {
            String::new()
        }
    });
    let db = storage::open(&database, false).await?;
    let spec = credentials::NewToken {
        name: &name,
        scopes: &scopes,
        expires_at: lifetime.map(|l| chrono::Utc::now() + l),
        uses,
        ..Default::default()
    };
    let result = credentials::create(&db.pool, &spec).await;
    db.pool.close().await;
    if let Some(cluster) = db.managed {
        cluster.stop().await?;
    }
    println!("{}", result?);
    Ok(())
}

async fn list_tokens(database: lookout::config::DatabaseArgs) -> anyhow::Result<()> {
    let db = storage::open(&database, false).await?;
    let tokens = credentials::list_tokens(&db.pool).await;
    db.pool.close().await;
    if let Some(cluster) = db.managed {
        cluster.stop().await?;
    }
    println!(
        "{:>4}  {:<24} {:<28} {:<8} {:<20} {:<20} state",
        "id", "name", "scopes", "uses", "expires", "last used"
    );
    let date = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|| "–".into())
    };
    for t in tokens? {
        let state = match (&t.revoked_at, &t.vm_id) {
            (Some(_), _) => "revoked".to_string(),
            (None, Some(vm)) => format!("host {vm}"),
            (None, None) => "active".to_string(),
        };
        let uses = t
            .uses_left
            .map(|u| u.to_string())
            .unwrap_or_else(|| "–".into());
        println!(
            "{:>4}  {:<24} {:<28} {:<8} {:<20} {:<20} {state}",
            t.id,
            t.name,
            t.scopes.join(","),
            uses,
            date(t.expires_at),
            date(t.last_used_at)
        );
    }
    Ok(())
}

async fn revoke_token(id: i32, database: lookout::config::DatabaseArgs) -> anyhow::Result<()> {
    let db = storage::open(&database, false).await?;
    let revoked = credentials::revoke_token(&db.pool, id).await;
    db.pool.close().await;
    if let Some(cluster) = db.managed {
        cluster.stop().await?;
    }
    if revoked? {
        println!("token {id} revoked");
        Ok(())
    } else {
        anyhow::bail!("no live token with id {id}")
    }
}

async fn agent(args: lookout::config::AgentArgs) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    stop_on_signal(shutdown.clone());
    lookout::agent::run(args, shutdown).await
}

async fn check_rollups(database: lookout::config::DatabaseArgs) -> anyhow::Result<()> {
    let db = storage::open(&database, false).await?;
    let outcome = storage::consistency::check_rollups(&db.pool).await;
    db.pool.close().await;
    if let Some(cluster) = db.managed {
        cluster.stop().await?;
    }
    let check = outcome?;
    println!(
        "rollups checked: {} hours and {} days disagreed with the tier below and are queued again{}",
        check.hours,
        check.days,
        if check.hours + check.days > 0 { " (a running server rolls them up within seconds; otherwise the next start does)" } else { "" }
    );
    Ok(())
}

async fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    let db = storage::open(&args.database, false).await?;
    let plan = simulate::Plan {
        hosts: usize::try_from(args.hosts)?,
        days: args.days,
        interval_secs: args.interval,
        seed: args.seed,
        until: chrono::Utc::now(),
    };
    let started = std::time::Instant::now();
    let outcome = simulate::run(
        &db.pool,
        &plan,
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
    )
    .await;
    db.pool.close().await;
    if let Some(cluster) = db.managed {
        cluster.stop().await?;
    }
    let (truth, written) = outcome?;
    simulate::write_truth(&args.truth, &truth)?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "simulated {} hosts × {} days at {} s: {written} samples in {secs:.1} s ({:.0} samples/s); ground truth in {}",
        args.hosts,
        args.days,
        args.interval,
        written as f64 / secs,
        args.truth.display()
    );
    Ok(())
}
