//! The command line (SPEC §8): `serve`, `migrate`, `seed`, `schema`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

use crate::config::{Config, Overrides};
use crate::db::{self, Db};
use crate::seed::{self, SeedPlan};
use crate::server::{self, AppState};

/// Control Tower: a GraphQL service over a multi-tenant platform's operations metadata.
#[derive(Debug, Parser)]
#[command(name = "control-tower", version, about)]
pub struct Cli {
    /// A TOML configuration file (default: `control-tower.toml` when it exists).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The database URL, e.g. `sqlite://control-tower.db?mode=rwc` or
    /// `postgres://user@host/db` (overrides the file and `CONTROL_TOWER_DATABASE_URL`).
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// The address to listen on, `host:port` (overrides the file and
    /// `CONTROL_TOWER_LISTEN`).
    #[arg(long, global = true, value_name = "ADDR")]
    pub listen: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database, then serve the API until SIGTERM or Ctrl-C.
    Serve {
        /// Seed a small demo data set first, if the database is empty.
        #[arg(long)]
        demo: bool,
    },
    /// Apply, roll back, inspect or redo the database migrations.
    Migrate {
        #[command(subcommand)]
        action: Option<MigrateAction>,
    },
    /// Fill an empty database with generated, realistic data.
    Seed(SeedArgs),
    /// Print the GraphQL schema (SDL).
    Schema,
}

#[derive(Clone, Copy, Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration (the default).
    Up,
    /// Roll back the last applied migration.
    Down,
    /// List the migrations and whether each is applied.
    Status,
    /// Drop every table, then apply every migration: all data is lost.
    Fresh,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Workspaces to create.
    #[arg(long, default_value_t = 5)]
    pub workspaces: u32,
    /// Tenants to create, spread over the workspaces.
    #[arg(long, default_value_t = 50)]
    pub tenants: u32,
    /// Operation runs to create, over the 30 days before the anchor.
    #[arg(long, default_value_t = 10_000)]
    pub runs: u64,
    /// Audit log entries to create.
    #[arg(long, default_value_t = 2_000)]
    pub audit_logs: u64,
    /// The random seed: the same seed and anchor give the same rows.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The moment the data is generated around (RFC 3339, default: now, to the second).
    #[arg(long, value_name = "RFC3339")]
    pub anchor: Option<chrono::DateTime<chrono::Utc>>,
}

impl Cli {
    fn overrides(&self) -> Overrides {
        Overrides {
            database_url: self.database_url.clone(),
            listen: self.listen.clone(),
        }
    }
}

/// Runs the command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Schema = cli.command {
        print!("{}", crate::graphql::sdl());
        return Ok(());
    }
    let config = Config::load(cli.config.as_deref(), &cli.overrides())?;
    let connection = db::connect(&config).await.with_context(|| {
        format!(
            "cannot open the database at {}",
            redact_url(&config.database_url)
        )
    })?;
    match cli.command {
        Command::Serve { demo } => serve(connection, config, demo).await,
        Command::Migrate { action } => {
            migrate(&connection, action.unwrap_or(MigrateAction::Up)).await
        }
        Command::Seed(args) => {
            db::migrate(&connection).await?;
            let plan = SeedPlan::from_args(&args);
            seed::run(&connection, &plan, true).await?;
            println!("seeded: {plan}");
            Ok(())
        }
        Command::Schema => Ok(()),
    }
}

async fn serve(connection: DatabaseConnection, config: Config, demo: bool) -> anyhow::Result<()> {
    db::migrate(&connection)
        .await
        .context("cannot migrate the database")?;
    if demo {
        if seed::is_empty(&connection).await? {
            let plan = SeedPlan::demo();
            seed::run(&connection, &plan, false).await?;
            println!("demo data seeded: {plan}");
        } else {
            println!("the database already holds data: no demo data added");
        }
    }
    let address = config.listen_addr()?;
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    let state = AppState::new(Db::new(connection), config);
    println!("Control Tower listening on http://{address}/graphql");
    server::serve(listener, state, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn migrate(connection: &DatabaseConnection, action: MigrateAction) -> anyhow::Result<()> {
    match action {
        MigrateAction::Up => Migrator::up(connection, None).await?,
        MigrateAction::Down => Migrator::down(connection, Some(1)).await?,
        MigrateAction::Fresh => Migrator::fresh(connection).await?,
        MigrateAction::Status => {
            for migration in Migrator::get_migration_with_status(connection).await? {
                println!("{}\t{}", migration.name(), migration.status());
            }
            return Ok(());
        }
    }
    println!("migrations: {action:?} done");
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

/// A database URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
