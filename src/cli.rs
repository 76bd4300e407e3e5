//! The command line (SPEC §8): `serve`, `migrate`, `seed`, `schema`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{SubsecRound, Utc};
use clap::{Args, Parser, Subcommand};
use migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

use crate::auth::tokens::{self, NewToken, TrustedDocument};
use crate::auth::{
    self,
    operators::{self, NewOperator},
};
use crate::config::{Config, Overrides, redact_url};
use crate::db::{self, Db, rollup};
use crate::seed::{self, SeedPlan};
use crate::server::{self, AppState};

/// Control Tower: a GraphQL service over a multi-tenant platform's operations metadata.
#[derive(Debug, Parser)]
#[command(name = "control-tower", version, about)]
pub struct Cli {
    /// A TOML configuration file (default: `control-tower.toml` when it exists).
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// The database URL, e.g. `sqlite://control-tower.db?mode=rwc` or
    /// `postgres://user@host/db` (overrides the file and `CONTROL_TOWER_DATABASE_URL`).
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) database_url: Option<String>,
    /// The address to listen on, `host:port` (overrides the file and
    /// `CONTROL_TOWER_LISTEN`).
    #[arg(long, global = true, value_name = "ADDR")]
    pub(crate) listen: Option<String>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
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
    /// Create, list and disable operators of the console.
    #[command(subcommand)]
    Operator(OperatorCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum OperatorCommand {
    /// Create an operator; the password is read from standard input.
    Create {
        /// The e-mail address the operator logs in with.
        #[arg(long)]
        email: String,
        /// The operator's display name.
        #[arg(long)]
        name: String,
        /// A capability to grant (repeat for several): console.view, audit.view,
        /// runs.triage, sensitive.view, break_glass.use.
        #[arg(long = "capability", value_name = "CAPABILITY")]
        capabilities: Vec<String>,
        /// Read the password from standard input (its first line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List the operators.
    List,
    /// Disable an operator and end their sessions.
    Disable {
        /// The operator's e-mail address.
        #[arg(long)]
        email: String,
    },
    /// Dashboard tokens: long-lived, read-only credentials for a wallboard, not a person.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a dashboard token and print it, once: only its hash is stored.
    Create {
        /// The token's name, shown in the access log: letters, digits, `-`, `_`, `.`.
        #[arg(long)]
        name: String,
        /// A capability to grant (repeat for several); a token only reads:
        /// console.view (required), audit.view, sensitive.view.
        #[arg(long = "capability", value_name = "CAPABILITY", required = true)]
        capabilities: Vec<String>,
        /// Days until the token expires, 1 to 3650.
        #[arg(long, value_name = "DAYS")]
        expires_in: u32,
        /// A GraphQL document file the token may run (repeat for several). With none,
        /// the token runs any document, unless `system_console.trusted_documents` says
        /// otherwise.
        #[arg(long = "document", value_name = "FILE")]
        documents: Vec<PathBuf>,
    },
    /// List the dashboard tokens: name, capabilities, documents, expiry, last use.
    List,
    /// Revoke a dashboard token: it stops working at once, on every instance.
    Revoke {
        /// The token's name.
        #[arg(long)]
        name: String,
    },
}

#[derive(Clone, Copy, Debug, Subcommand)]
pub(crate) enum MigrateAction {
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
pub(crate) struct SeedArgs {
    /// Workspaces to create.
    #[arg(long, default_value_t = 5)]
    pub(crate) workspaces: u32,
    /// Tenants to create, spread over the workspaces.
    #[arg(long, default_value_t = 50)]
    pub(crate) tenants: u32,
    /// Operation runs to create, over the 30 days before the anchor.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) runs: u64,
    /// Audit log entries to create.
    #[arg(long, default_value_t = 2_000)]
    pub(crate) audit_logs: u64,
    /// The random seed: the same seed and anchor give the same rows.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// The moment the data is generated around (RFC 3339, default: now, to the second).
    #[arg(long, value_name = "RFC3339")]
    pub(crate) anchor: Option<chrono::DateTime<chrono::Utc>>,
}

impl SeedArgs {
    /// What the seeder is asked to make.
    fn plan(&self) -> SeedPlan {
        SeedPlan {
            workspaces: self.workspaces.max(1),
            tenants: self.tenants,
            runs: self.runs,
            audit_logs: self.audit_logs,
            seed: self.seed,
            anchor: self.anchor.unwrap_or_else(Utc::now).trunc_subsecs(0),
        }
    }
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
    crate::logging::init(
        config.system_console.log.format,
        &config.system_console.tracing,
    )
    .map_err(|error| anyhow::anyhow!(error))?;
    if let Command::Serve { demo } = cli.command {
        let served = serve(config, demo).await;
        // The last spans are sent before the process ends (the SDK's export thread
        // blocks for at most its timeout).
        tokio::task::spawn_blocking(crate::telemetry::shutdown)
            .await
            .ok();
        return served;
    }
    let connection = db::connect_for_maintenance(&config)
        .await
        .with_context(|| {
            format!(
                "cannot open the database at {}",
                redact_url(&config.database_url)
            )
        })?;
    match cli.command {
        Command::Serve { .. } => Ok(()),
        Command::Migrate { action } => {
            migrate(&connection, action.unwrap_or(MigrateAction::Up)).await
        }
        Command::Seed(args) => {
            db::migrate(&connection).await?;
            let plan = args.plan();
            seed::run(&connection, &plan, true).await?;
            // The roll-ups are built now, so a service started next answers the Control
            // Tower at its usual cost from its first request.
            let hours = rollup::refresh(&Db::new(connection)).await?;
            println!("seeded: {plan}; run roll-ups built for {hours} hours");
            Ok(())
        }
        Command::Schema => Ok(()),
        Command::Operator(command) => {
            db::migrate(&connection).await?;
            operator(&Db::new(connection), command).await
        }
    }
}

async fn operator(db: &Db, command: OperatorCommand) -> anyhow::Result<()> {
    let now = Utc::now().trunc_subsecs(0);
    match command {
        OperatorCommand::Create {
            email,
            name,
            capabilities,
            password_stdin: _,
        } => {
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("cannot read the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']);
            let new = NewOperator {
                email: &email,
                name: &name,
                capabilities: &capabilities,
                password,
            };
            let user = operators::create(db, new, now).await?;
            println!(
                "created operator {} <{}> with {}",
                user.name,
                user.email,
                operators::capability_names(&user).join(", ")
            );
        }
        OperatorCommand::List => {
            for user in operators::list(db).await? {
                let state = if user.is_active { "active" } else { "disabled" };
                let last_login = user
                    .last_login_at
                    .map_or_else(|| "never".to_owned(), |at| at.to_rfc3339());
                println!(
                    "{}\t{}\t{}\t{}\tlast login {}",
                    user.email,
                    user.name,
                    state,
                    operators::capability_names(&user).join(","),
                    last_login
                );
            }
        }
        OperatorCommand::Disable { email } => {
            let user = operators::disable(db, &email, now).await?;
            println!("disabled operator {} and ended their sessions", user.email);
        }
        OperatorCommand::Token(command) => token(db, command, now).await?,
    }
    Ok(())
}

async fn token(db: &Db, command: TokenCommand, now: chrono::DateTime<Utc>) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            name,
            capabilities,
            expires_in,
            documents,
        } => {
            let mut trusted = Vec::new();
            for file in &documents {
                let text = std::fs::read_to_string(file)
                    .with_context(|| format!("cannot read {}", file.display()))?;
                let document = TrustedDocument::of_text(&text)
                    .map_err(|problem| anyhow::anyhow!("{}: {problem}", file.display()))?;
                trusted.push(document);
            }
            let new = NewToken {
                name: &name,
                capabilities: &capabilities,
                expires_in_days: expires_in,
                documents: trusted,
            };
            let (token, secret) = tokens::create(db, new, now).await?;
            eprintln!(
                "created dashboard token {} until {}; it is shown once, keep it now:",
                token.name,
                token.expires_at.to_rfc3339()
            );
            println!("{secret}");
        }
        TokenCommand::List => {
            for token in tokens::list(db).await? {
                let state = match (token.revoked_at, token.expires_at <= now) {
                    (Some(at), _) => format!("revoked {}", at.to_rfc3339()),
                    (None, true) => format!("expired {}", token.expires_at.to_rfc3339()),
                    (None, false) => format!("expires {}", token.expires_at.to_rfc3339()),
                };
                let documents = if token.documents.is_empty() {
                    "any document".to_owned()
                } else {
                    let named: Vec<String> = token
                        .documents
                        .iter()
                        .map(|document| match document.names.as_slice() {
                            [] => format!("sha256:{}", document.sha256),
                            names => format!("{} sha256:{}", names.join("+"), document.sha256),
                        })
                        .collect();
                    named.join(", ")
                };
                let last_used = token.last_used_at.map_or_else(
                    || "never".to_owned(),
                    |at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                );
                println!(
                    "{}\t{}\t{}\tlast used {}\t{}",
                    token.name,
                    token.capabilities.join(","),
                    state,
                    last_used,
                    documents
                );
            }
        }
        TokenCommand::Revoke { name } => {
            let token = tokens::revoke(db, &name, now).await?;
            println!(
                "revoked dashboard token {}: its requests and sockets end now",
                token.name
            );
        }
    }
    Ok(())
}

/// Listens at once, then connects to and migrates the database in the background
/// (SPEC §9: the service starts before its database): until that succeeds `/healthz`
/// is 200, `/readyz` 503 with the reason, and GraphQL requests `SERVICE_UNAVAILABLE`.
async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    let address = config.listen_addr()?;
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    // The port the system chose, when the configuration said 0.
    let address = listener.local_addr().unwrap_or(address);
    let metrics_listener = match config.metrics_addr() {
        Some(metrics) => Some(
            TcpListener::bind(metrics)
                .await
                .with_context(|| format!("cannot listen on {metrics} for the ops listener"))?,
        ),
        None => None,
    };
    // No connection is made here: the pools connect when first used.
    let db = db::open(&config).await.with_context(|| {
        format!(
            "cannot open the database at {}",
            redact_url(&config.database_url)
        )
    })?;
    let state = AppState::new(db, config.clone());
    state.readiness().wait_for("connecting to the database");
    println!("Control Tower listening on http://{address}/graphql");
    println!("The playground: http://{address}/");
    let ops_server = metrics_listener.map(|listener| {
        if let Ok(local) = listener.local_addr() {
            println!("Metrics: http://{local}/metrics");
        }
        tokio::spawn(server::serve_ops(listener, state.clone()))
    });
    let starting = tokio::spawn(start(state.clone(), config, demo, address));
    server::serve(listener, state, shutdown_signal()).await?;
    starting.abort();
    if let Some(ops_server) = ops_server {
        ops_server.abort();
    }
    tracing::info!("stopped");
    Ok(())
}

/// The longest wait between two attempts to reach the database.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

/// Connects and migrates, retrying with backoff until it succeeds; then seeds the demo
/// data if asked, marks the service ready and sweeps break-glass expiries.
async fn start(state: AppState, config: Config, demo: bool, address: SocketAddr) {
    let mut delay = Duration::from_millis(250);
    let mut attempt = 1u32;
    loop {
        match prepare(&config).await {
            Ok(()) => break,
            Err(error) => {
                let reason =
                    format!("cannot reach or migrate the database (attempt {attempt}): {error:#}");
                tracing::warn!(
                    attempt,
                    retry_in_ms = delay.as_millis() as u64,
                    error = format!("{error:#}"),
                    "the database is not ready; retrying"
                );
                state.readiness().wait_for(reason);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_RETRY_DELAY);
                attempt += 1;
            }
        }
    }
    let db = state.db().clone();
    if demo && let Err(error) = demo_data(&state, &config, address).await {
        // The demo's data is for someone trying the service by hand: say what failed
        // and serve what there is.
        tracing::error!(
            error = format!("{error:#}"),
            "could not prepare the demo data"
        );
        eprintln!("error: could not prepare the demo data: {error:#}");
    }
    state.readiness().mark_ready();
    tracing::info!("connected to the database and migrated: ready");
    println!("Control Tower is ready");
    tokio::spawn(refresh_rollups(db.clone()));
    let watching = db.clone();
    let timeout = config.acquire_timeout();
    tokio::spawn(async move { watching.watch_replicas(timeout).await });
    sweep_break_glass(db).await;
}

/// One attempt: connect (each connection attempt bounded by
/// `database_acquire_timeout_ms`) and apply pending migrations, on a pool of its own
/// whose statements have no timeout.
async fn prepare(config: &Config) -> anyhow::Result<()> {
    // Database errors repeat their cause in their message: one line says it all.
    db::reach(config)
        .await
        .map_err(|error| anyhow::anyhow!("cannot connect: {error}"))?;
    let connection = db::connect_for_maintenance(config)
        .await
        .map_err(|error| anyhow::anyhow!("cannot connect: {error}"))?;
    let migrated = db::migrate(&connection)
        .await
        .map_err(|error| anyhow::anyhow!("cannot migrate: {error}"));
    connection.close().await.ok();
    migrated
}

/// `serve --demo`: the demo data in an empty database, and the demo operator's session,
/// printed — and given to the playground when it listens on a loopback address, where
/// nobody else can load it.
async fn demo_data(state: &AppState, config: &Config, address: SocketAddr) -> anyhow::Result<()> {
    // Seeding is maintenance: on the direct connection, as the `seed` command.
    let connection = db::connect_for_maintenance(config).await?;
    if seed::is_empty(&connection).await? {
        let plan = SeedPlan::demo();
        seed::run(&connection, &plan, false).await?;
        println!("demo data seeded: {plan}");
    } else {
        println!("the database already holds data: no demo data added");
    }
    connection.close().await.ok();
    let ttl = chrono::Duration::hours(i64::from(config.system_console.auth.session_ttl_hours));
    let (user, password, token) = demo_operator(state.db(), ttl).await?;
    if address.ip().is_loopback() {
        state.set_playground_token(token.clone());
    }
    println!();
    println!("Demo operator: {} (all capabilities)", user.email);
    if let Some(password) = password {
        println!("  password: {password}");
    }
    println!("  token:    {token}");
    println!("  In the playground or with curl, send the header");
    println!("    Authorization: Bearer {token}");
    println!();
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

/// The e-mail of the demo operator of `serve --demo`.
pub(crate) const DEMO_EMAIL: &str = "demo@control-tower.example";

/// The demo operator (created with a random password the first time) and a fresh token.
async fn demo_operator(
    db: &Db,
    ttl: chrono::Duration,
) -> anyhow::Result<(entity::platform_user::Model, Option<String>, String)> {
    let now = Utc::now().trunc_subsecs(0);
    let existing = operators::list(db)
        .await?
        .into_iter()
        .find(|user| user.email == DEMO_EMAIL);
    let (user, password) = match existing {
        Some(user) => (user, None),
        None => {
            let password = auth::credentials::new_token();
            let capabilities: Vec<String> = auth::Capability::ALL
                .iter()
                .map(|c| c.name().to_owned())
                .collect();
            let new = NewOperator {
                email: DEMO_EMAIL,
                name: "Demo Operator",
                capabilities: &capabilities,
                password: &password,
            };
            (operators::create(db, new, now).await?, Some(password))
        }
    };
    let token = operators::open_session(db, &user, ttl, now).await?;
    Ok((user, password, token))
}

/// How often the service brings the run roll-ups up to date.
const ROLLUP_REFRESH: Duration = Duration::from_secs(10);

/// Keeps the run roll-ups current (see `db::rollup`). Answers never depend on it, only
/// their cost: an hour not yet refreshed is read from the runs themselves.
async fn refresh_rollups(db: Db) {
    let mut ticks = tokio::time::interval(ROLLUP_REFRESH);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match rollup::refresh(&db).await {
            Ok(0) => {}
            Ok(hours) => {
                tracing::debug!(hours, "run roll-ups refreshed");
                if hours >= rollup::REBUILT_HOURS
                    && let Err(error) = rollup::tidy(&db).await
                {
                    tracing::warn!(%error, "vacuuming the run roll-ups failed");
                }
            }
            Err(error) => tracing::warn!(%error, "refreshing the run roll-ups failed; retrying"),
        }
    }
}

/// Records break-glass expiries nobody's request has seen, every 30 seconds (SPEC §5
/// asks for within a minute).
async fn sweep_break_glass(db: Db) {
    let mut ticks = tokio::time::interval(std::time::Duration::from_secs(30));
    loop {
        ticks.tick().await;
        match auth::break_glass::sweep(&db, Utc::now().trunc_subsecs(6)).await {
            Ok(0) => {}
            Ok(recorded) => tracing::info!(recorded, "break-glass expiries recorded"),
            Err(error) => tracing::warn!(%error, "break-glass sweep failed"),
        }
    }
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
