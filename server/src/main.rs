//! The `lookout` binary: `serve` (default) or `token create`.
use clap::Parser;
use lookout::{
    auth::credentials,
    config::{CheckCommand, Cli, Command, Settings, SimulateArgs, TokenCommand},
    simulate, storage, telemetry, Application,
};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    telemetry::init();
    let cli = Cli::parse();
    let outcome = match cli.command {
        None => serve(Settings::from(cli.serve)).await,
        Some(Command::Serve(args)) => serve(Settings::from(args)).await,
        Some(Command::Token(TokenCommand::Create { name, scopes, database })) => create_token(name, scopes, database).await,
        Some(Command::Simulate(args)) => simulate(args).await,
        Some(Command::Check(CheckCommand::Rollups { database })) => check_rollups(database).await,
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "Lookout stopped with an error.");
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

async fn create_token(name: String, scopes: Vec<String>, database: lookout::config::DatabaseArgs) -> anyhow::Result<()> {
    let scopes = credentials::parse_scopes(&scopes)?;
    let db = storage::open(&database, false).await?;
    let result = credentials::create_token(&db.pool, &name, &scopes, None).await;
    db.pool.close().await;
    if let Some(cluster) = db.managed {
        cluster.stop().await?;
    }
    println!("{}", result?);
    Ok(())
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
    let outcome = simulate::run(&db.pool, &plan, std::io::IsTerminal::is_terminal(&std::io::stderr())).await;
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
