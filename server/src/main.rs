//! `sightline` — the Sightline server.
//!
//! Run `sightline` (or `sightline serve`) from the repository root after `make build`;
//! `sightline migrate` prepares the database and exits; `sightline seed-demo` adds the demo
//! organization; `sightline analyze …` runs the statistical core on a CSV file. Settings come
//! from the environment and `.env` (see `.env.example`).

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

#[derive(Subcommand)]
enum Command {
    #[command(flatten)]
    Service(Service),
    /// Run an analysis on a CSV file and print the result (no database needed).
    #[command(subcommand)]
    Analyze(server::analyze::AnalyzeCommand),
    /// Score texts from the shell (no database needed).
    #[command(subcommand)]
    Text(server::text_cli::TextCommand),
    /// Train and evaluate the machine-learning models (no database needed).
    #[command(subcommand)]
    Ml(server::text_cli::MlCommand),
}

/// The commands that need settings and the database.
#[derive(Subcommand)]
enum Service {
    /// Prepare the database and serve the web app and API (the default).
    Serve,
    /// Create the database and roles if needed, apply migrations, and exit.
    Migrate,
    /// Prepare the database, create or refresh the demo organization and login, and fill an
    /// organization with generated data (only when it has none, unless --replace).
    SeedDemo(SeedArgs),
    /// Recompute the dashboard rollups from the raw rows (every organization, or one).
    RebuildRollups {
        /// The organization's slug; all organizations when absent.
        #[arg(long)]
        org: Option<String>,
    },
}

#[derive(clap::Args, Clone, Debug)]
struct SeedArgs {
    /// The organization to fill (the demo organization unless another slug is given).
    #[arg(long, default_value = seed::DEMO_ORG_SLUG)]
    org: String,
    /// How many customers to generate (about 60 interactions each over a year).
    #[arg(long, default_value_t = 2_000)]
    customers: usize,
    /// How many days of history, ending today.
    #[arg(long, default_value_t = 365)]
    days: u32,
    /// The random seed: the same seed, customers and days give the same data.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Replace the organization's data even if it already has some.
    #[arg(long)]
    replace: bool,
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
    DemoData(#[from] server::demo_data::DemoDataError),
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
    let service = match Cli::parse().command {
        Some(Command::Analyze(analysis)) => return analyze(&analysis),
        Some(Command::Text(command)) => return report_cli(server::text_cli::run_text(&command)),
        Some(Command::Ml(command)) => return report_cli(server::text_cli::run_ml(&command)),
        Some(Command::Service(service)) => service,
        None => Service::Serve,
    };
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
    let outcome = runtime.block_on(run(service, settings, started));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error, "sightline stopped");
            ExitCode::FAILURE
        }
    }
}

/// `sightline analyze …`: prints the analysis, or says why there is none.
fn analyze(analysis: &server::analyze::AnalyzeCommand) -> ExitCode {
    match server::analyze::run(analysis) {
        Ok(output) => {
            use std::io::Write;
            // A reader that stops early (`| head`) is not a failure of the analysis.
            match writeln!(std::io::stdout().lock(), "{output}") {
                Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
                    eprintln!("sightline analyze: {error}");
                    ExitCode::FAILURE
                }
                _ => ExitCode::SUCCESS,
            }
        }
        Err(error) => {
            eprintln!("sightline analyze: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Ends a `text` or `ml` command: a reader that stops early (`| head`) is not a failure.
fn report_cli(outcome: Result<(), server::text_cli::TextCliError>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(server::text_cli::TextCliError::Io(error)) if error.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("sightline: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Service, settings: Settings, started: Instant) -> Result<(), StartError> {
    let db = &settings.database;
    database::prepare(&db.admin, db.app_password.as_ref()).await?;
    tracing::info!(migrations = database::MIGRATOR.iter().count(), "database ready");

    match command {
        Service::Migrate => Ok(()),
        Service::SeedDemo(args) => {
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
            let admin = server::demo_data::admin_pool(&db.admin)
                .await
                .map_err(server::demo_data::DemoDataError::from)?;
            let has_data = server::demo_data::has_data(&admin, &args.org).await?;
            if has_data && !args.replace {
                tracing::info!(
                    organization = args.org,
                    "the organization already has data; pass --replace to generate it again"
                );
                return Ok(());
            }
            let plan = server::demo_data::Plan {
                customers: args.customers,
                days: args.days,
                seed: args.seed,
                // Up to yesterday: nothing generated lies in the future.
                until: chrono::Utc::now().date_naive() - chrono::Duration::days(1),
            };
            let began = Instant::now();
            let counts = server::demo_data::generate(&admin, &args.org, plan).await?;
            let seconds = began.elapsed().as_secs_f64();
            tracing::info!(
                organization = args.org,
                customers = counts.customers,
                interactions = counts.interactions,
                orders = counts.orders,
                order_lines = counts.order_lines,
                reviews = counts.reviews,
                products = counts.products,
                competitor_prices = counts.competitor_prices,
                inventory_levels = counts.inventory_levels,
                fraud_orders = counts.fraud_orders,
                seconds,
                interactions_per_second = (counts.interactions as f64 / seconds) as u64,
                "demo data generated"
            );
            Ok(())
        }
        Service::RebuildRollups { org } => {
            let admin = server::demo_data::admin_pool(&db.admin)
                .await
                .map_err(server::demo_data::DemoDataError::from)?;
            let began = Instant::now();
            let rebuilt = server::demo_data::rebuild_rollups(&admin, org.as_deref()).await?;
            tracing::info!(
                organizations = rebuilt,
                seconds = began.elapsed().as_secs_f64(),
                "rollups rebuilt"
            );
            Ok(())
        }
        Service::Serve => {
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
            let text_dir = settings.text_dir.clone();
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let scorers = tokio::task::spawn_blocking(move || {
                app::backend::text::load_scorers(&text_dir, threads)
                    .model_problem()
                    .is_none()
            })
            .await
            .unwrap_or(false);
            tracing::info!(model = scorers, "text scorers loaded");
            let texts = tokio::spawn(app::backend::text::scoring::work(state.db.clone(), stop.clone()));
            let folder = tokio::spawn(app::backend::rollups::work(state.db.clone(), stop.clone()));
            let worker = tokio::spawn(app::backend::jobs::work(state.clone(), stop));
            let live = state.live.clone();
            let served = startup::serve(listener, startup::build_router(state), live).await;
            // The job in progress stops at its next checkpoint and goes back to the queue.
            let _ = stop_worker.send(true);
            if tokio::time::timeout(std::time::Duration::from_secs(20), worker)
                .await
                .is_err()
            {
                tracing::warn!("the job worker did not stop in time; its lease will lapse");
            }
            // A batch in progress finishes or rolls back; its texts' lease lapses either way.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), texts).await;
            // A fold in progress commits or rolls back; its deltas stay logged either way.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), folder).await;
            served.map_err(StartError::Serve)?;
            tracing::info!("stopped");
            Ok(())
        }
    }
}
