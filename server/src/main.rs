//! `sightline` — the Sightline server.
//!
//! Run `sightline` (or `sightline serve`) from the repository root after `make build`;
//! `sightline migrate` prepares the database and exits; `sightline seed-demo` adds the demo
//! organization. Settings come from the environment and `.env` (see `.env.example`).

use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use secrecy::SecretString;
use server::settings::Settings;
use server::{database, seed, startup, telemetry};

#[derive(Parser)]
#[command(
    name = "sightline",
    version,
    about = "Self-hosted customer and commerce insights"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Clone, Copy)]
enum Command {
    /// Prepare the database and serve the web app and API (the default).
    Serve,
    /// Create the database and roles if needed, apply migrations, and exit.
    Migrate,
    /// Prepare the database and create or refresh the demo organization and login.
    SeedDemo,
}

#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error(transparent)]
    Settings(#[from] server::settings::SettingsError),
    #[error(transparent)]
    Database(#[from] database::DatabaseError),
    #[error(transparent)]
    Seed(#[from] seed::SeedError),
    #[error(transparent)]
    State(#[from] startup::StateError),
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Serve(std::io::Error),
}

fn main() -> ExitCode {
    let started = Instant::now();
    // A missing .env is normal; a malformed one is worth stopping for.
    if let Err(error) = dotenvy::dotenv() {
        if !error.not_found() {
            eprintln!("sightline: could not read .env: {error}");
            return ExitCode::FAILURE;
        }
    }
    let cli = Cli::parse();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("sightline: {error}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init(settings.log_format);

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "could not start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(cli.command.unwrap_or(Command::Serve), settings, started));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error, "sightline stopped");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings, started: Instant) -> Result<(), StartError> {
    let db = &settings.database;
    database::prepare(&db.admin, db.app_password.as_ref()).await?;
    tracing::info!(migrations = database::MIGRATOR.iter().count(), "database ready");

    match command {
        Command::Migrate => Ok(()),
        Command::SeedDemo => {
            let pool = database::app_pool(db);
            let password = std::env::var("SIGHTLINE_DEMO_PASSWORD")
                .ok()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| seed::DEFAULT_DEMO_PASSWORD.to_string());
            let login = seed::seed_demo(&pool, &SecretString::from(password)).await?;
            tracing::info!(
                organization = login.organization_slug,
                email = login.email,
                "demo organization ready"
            );
            Ok(())
        }
        Command::Serve => {
            let state = startup::state_from_settings(&settings)?;
            database::check_app_login(&state.db).await?;
            let listener = tokio::net::TcpListener::bind(settings.addr)
                .await
                .map_err(|source| StartError::Bind {
                    addr: settings.addr,
                    source,
                })?;
            let addr = listener.local_addr().map_err(StartError::Serve)?;
            tracing::info!(
                url = %format!("http://{addr}"),
                startup_ms = started.elapsed().as_millis() as u64,
                site_root = %settings.site_root.display(),
                "listening"
            );
            let (stop_worker, stop) = tokio::sync::watch::channel(false);
            let worker = tokio::spawn(app::backend::jobs::work(state.clone(), stop));
            let served = startup::serve(listener, startup::build_router(state)).await;
            // The job in progress stops at its next checkpoint and goes back to the queue.
            let _ = stop_worker.send(true);
            if tokio::time::timeout(std::time::Duration::from_secs(20), worker)
                .await
                .is_err()
            {
                tracing::warn!("the job worker did not stop in time; its lease will lapse");
            }
            served.map_err(StartError::Serve)?;
            tracing::info!("stopped");
            Ok(())
        }
    }
}
