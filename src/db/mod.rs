//! The database: connecting, migrating, counting statements, and the queries of each
//! aggregate (one file per aggregate). SQL forms of domain rules live here too.

pub(crate) mod audit;
pub(crate) mod budget;
pub(crate) mod control_tower;
pub(crate) mod filter;
pub(crate) mod health;
pub(crate) mod page;
pub(crate) mod replicas;
pub mod rollup;
pub(crate) mod runs;
pub(crate) mod stats;
pub(crate) mod tables;
use self::tables::{Read, Table};
pub(crate) mod tenants;
pub(crate) mod workspaces;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::Values;
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait, Order, Query, WindowStatement};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ColumnTrait, Condition, ConnAcquireErr, ConnectOptions, ConnectionTrait, Database,
    DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, EntityTrait, ExecResult,
    FromQueryResult, PaginatorTrait, QueryFilter, QueryResult, QuerySelect, QueryTrait, RuntimeErr,
    Statement, TransactionTrait,
};
use std::collections::HashMap;
use tracing::Instrument;

use self::page::{Page, PageArgs, SortSpec};
use self::replicas::Replicas;

use crate::config::Config;
use crate::metrics::PoolUse;

/// Opens the pool the service answers requests with, described by the configuration.
/// SQLite databases are created when missing (`mode=rwc`) and switched to write-ahead
/// logging, so readers never wait for the writer. On PostgreSQL every statement is
/// bounded by `database_statement_timeout_ms`.
pub async fn connect(config: &Config) -> Result<DatabaseConnection, DbErr> {
    Database::connect(options(config, &config.database_url, Purpose::Requests)).await
}

/// On PostgreSQL, the pool of the aggregates (see [`Db::aggregates`]) on `url`, opened
/// without connecting; on SQLite, none (SQLite plans every statement anew anyway).
async fn aggregates_pool(config: &Config, url: &str) -> Result<Option<DatabaseConnection>, DbErr> {
    if !url.starts_with("postgres") {
        return Ok(None);
    }
    let mut options = options(config, url, Purpose::Aggregates);
    options.connect_lazy(true);
    Database::connect(options).await.map(Some)
}

/// On PostgreSQL, the pool of the aggregates on `database_url`.
pub async fn connect_aggregates(config: &Config) -> Result<Option<DatabaseConnection>, DbErr> {
    aggregates_pool(config, &config.database_url).await
}

/// The whole handle `serve` answers with, opened without connecting (connections are
/// made when first needed, so the service can start before its database): the
/// primary's pools and each replica's (`database_replica_urls`). The replicas are
/// skipped until [`Db::watch_replicas`] has seen them answer.
pub(crate) async fn open(config: &Config) -> Result<Db, DbErr> {
    let lazily = async |url: &str| {
        let mut options = options(config, url, Purpose::Requests);
        options.connect_lazy(true);
        let mut db = Db::new(Database::connect(options).await?)
            .with_aggregates(aggregates_pool(config, url).await?);
        db.settings = transaction_settings(config, Purpose::Requests);
        if let Some(aggregates) = &mut db.aggregates {
            aggregates.2 = transaction_settings(config, Purpose::Aggregates);
        }
        Ok::<_, DbErr>(db)
    };
    let primary = lazily(&config.database_url).await?;
    if config.database_replica_urls.is_empty() {
        return Ok(primary);
    }
    let mut members = Vec::new();
    for url in &config.database_replica_urls {
        members.push((replicas::label(url), lazily(url).await?));
    }
    let max_lag = Duration::from_secs_f64(config.database_replica_max_lag_seconds);
    Ok(primary.with_replicas(Arc::new(Replicas::new(members, max_lag))))
}

/// A pool for one-shot work — migrations, seeding, the `operator` commands — whose
/// statements may run as long as they need, on the direct connection to the primary
/// (`database_direct_url`), which may hold session state: the migrations' advisory
/// lock, prepared statements.
pub(crate) async fn connect_for_maintenance(config: &Config) -> Result<DatabaseConnection, DbErr> {
    Database::connect(options(config, config.direct_url(), Purpose::Maintenance)).await
}

/// Opens and closes one connection, bounded by `database_acquire_timeout_ms`: the
/// database's own error ("connection refused", "database does not exist"), which a
/// pool that timed out waiting would not say.
pub(crate) async fn reach(config: &Config) -> Result<(), DbErr> {
    use sea_orm::sqlx::{ConnectOptions as _, Connection as _};
    let url = config.direct_url();
    let attempt = async {
        if url.starts_with("sqlite:") {
            return Ok(());
        }
        let options: sea_orm::sqlx::postgres::PgConnectOptions = url.parse()?;
        options.connect().await?.close().await
    };
    match tokio::time::timeout(config.acquire_timeout(), attempt).await {
        Ok(result) => {
            result.map_err(|error| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(error.into())))
        }
        Err(_) => Err(DbErr::Conn(sea_orm::RuntimeErr::Internal(format!(
            "no answer within {} ms",
            config.database_acquire_timeout_ms
        )))),
    }
}

/// What a pool is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    Requests,
    /// The statements over the runs' roll-ups and health (see [`Db::aggregates`]).
    Aggregates,
    Maintenance,
}

fn options(config: &Config, url: &str, purpose: Purpose) -> ConnectOptions {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(config.database_max_connections)
        .min_connections(0)
        .acquire_timeout(config.acquire_timeout())
        .connect_timeout(config.acquire_timeout())
        .idle_timeout(Duration::from_secs(300))
        .test_before_acquire(false)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|options| {
            options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
        });
    // The aggregates' statements are planned for their own values. sqlx prepares
    // statements, and after five runs PostgreSQL may switch one to a generic plan, blind
    // to how many rows a window holds: the Control Tower's edges of a window then scanned
    // the runs, and its cost doubled after warming up (issue #13). Every other statement
    // keeps PostgreSQL's choice: planning the tenant board's five statements anew on
    // every request cost a quarter of PostgreSQL's time on it.
    // The aggregates read the runs themselves wherever the roll-ups are not built yet:
    // after a start on a big database, a whole window, for seconds. Their statements are
    // bounded by the request's own deadline instead, so that the first Control Tower is
    // answered, slower, not cancelled (issue #26).
    let timeout = match purpose {
        Purpose::Requests => Some(config.database_statement_timeout_ms.to_string()),
        Purpose::Aggregates => Some(config.request_timeout().as_millis().to_string()),
        Purpose::Maintenance => None,
    };
    let custom_plans = purpose != Purpose::Requests;
    if purpose != Purpose::Maintenance && config.pooled() {
        // Behind a pooler in transaction mode a connection is a different server
        // connection from one transaction to the next: nothing may be relied on across
        // them. No statement is kept prepared for reuse (sqlx still names each one it
        // prepares, `sqlx_s_<n>`, counting per client connection, so each transaction
        // first drops those an earlier client left on its server connection), and the
        // settings are made in each transaction (see [`transaction_settings`]), not at
        // connect.
        // Nor `extra_float_digits` at connect: PgBouncer refuses a startup parameter
        // it does not know unless told to ignore it (values travel in binary anyway).
        options.map_sqlx_postgres_opts(|options| {
            options.statement_cache_capacity(0).extra_float_digits(None)
        });
        return options;
    }
    options.map_sqlx_postgres_opts(move |options| {
        // No JIT compilation: the service's statements take milliseconds, and on 10M runs
        // the Control Tower's one statement is estimated costly enough to be compiled
        // first, which took longer than running it (40 of its 220 ms, issue #26).
        let options = options.options([("jit", "off")]);
        let options = if custom_plans {
            options.options([("plan_cache_mode", "force_custom_plan")])
        } else {
            options
        };
        match &timeout {
            Some(timeout) => options.options([("statement_timeout", timeout.as_str())]),
            None => options,
        }
    });
    options
}

/// Behind a pooler (see [`Config::pooled`]), what each transaction of a pool for
/// `purpose` runs first: it drops the prepared statements an earlier transaction on the
/// same server connection left (see [`options`]), and makes the settings the pool's
/// connections make at connect otherwise.
fn transaction_settings(config: &Config, purpose: Purpose) -> Option<Arc<str>> {
    let timeout = match purpose {
        Purpose::Requests => config.database_statement_timeout_ms,
        Purpose::Aggregates => config.request_timeout().as_millis() as u64,
        Purpose::Maintenance => return None,
    };
    config.pooled().then(|| {
        format!("DEALLOCATE ALL; SET LOCAL statement_timeout = {timeout}; SET LOCAL jit = off")
            .into()
    })
}

/// The PostgreSQL advisory lock that lets one process at a time migrate ("CTMIGRAT").
const MIGRATION_LOCK: i64 = 0x4354_4d49_4752_4154;

/// Applies every pending migration. On PostgreSQL, instances started together take
/// turns — the first applies the migrations, the others find nothing left to do —
/// under an advisory lock held by a transaction of its own (the pool's other
/// connections run the migrations).
pub(crate) async fn migrate(connection: &DatabaseConnection) -> Result<(), DbErr> {
    if connection.get_database_backend() != DbBackend::Postgres {
        return Migrator::up(connection, None).await;
    }
    let lock = connection.begin().await?;
    lock.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        .await?;
    let migrated = Migrator::up(connection, None).await;
    lock.commit().await?;
    migrated
}

/// A database handle that counts the statements it runs.
///
/// Each request gets its own counter ([`Db::for_request`]), shared by every loader of
/// that request, so tests and logs can see how many statements a query shape costs.
#[derive(Clone, Debug)]
pub struct Db {
    connection: DatabaseConnection,
    /// The pool of [`Db::aggregates`], when it has one of its own, its users, and what
    /// its transactions set first behind a pooler.
    aggregates: Option<(DatabaseConnection, PoolUsers, Option<Arc<str>>)>,
    statements: Counter,
    /// Shared by every handle on the pool.
    users: PoolUsers,
    /// On PostgreSQL, the connection a request's statements share (see
    /// [`Db::for_request`]).
    held: Option<Arc<Holder>>,
    /// Behind a pooler in transaction mode (see [`Config::pooled`]), what every
    /// transaction sets first; each statement then runs in a transaction of its own.
    settings: Option<Arc<str>>,
    /// The primary's read replicas, when it has some.
    replicas: Option<Arc<Replicas>>,
    /// A read-only request's choice of replica (see [`Db::for_reads`]).
    reads: Option<Arc<Reads>>,
    /// Whether this is the aggregates' handle of a read-only request (see
    /// [`Db::aggregates`]): on a replica, it uses the replica's aggregates pool.
    aggregating: bool,
}

/// Which replica a read-only request reads from, decided at its first statement, once
/// its reader is known.
#[derive(Debug)]
struct Reads {
    replicas: Arc<Replicas>,
    /// The operator the request reads as, once authenticated (see [`Db::read_as`]).
    reader: std::sync::OnceLock<Option<i64>>,
    /// The replica chosen (`None`: the primary).
    chosen: std::sync::OnceLock<Option<usize>>,
    /// The request's handle on the chosen replica, counting with the request.
    on_replica: std::sync::OnceLock<Db>,
    /// Set when the replica failed mid-request: the rest of it reads from the primary.
    fell_back: std::sync::atomic::AtomicBool,
}

/// A request's [`Held`] connection, and whether the request has given it back: set at
/// once, even while a statement is running on it, which then gives it back itself.
#[derive(Debug, Default)]
struct Holder {
    held: tokio::sync::Mutex<Held>,
    released: std::sync::atomic::AtomicBool,
}

/// A request's own connection of the pool, from its first statement until
/// [`Db::release`].
///
/// sqlx tests every connection given back to its pool with a round trip (a `Sync`
/// answered by `ReadyForQuery`), and each acquire and release is a task of its own: for
/// the tenant board's five statements, five round trips and ten wake-ups on both sides
/// that did nothing (issue #26). Held, the request's statements run one after another on
/// one connection, which is tested once. A request never waits for a second connection
/// while it holds one: a transaction ([`Db::begin`]) gives the held one back first, and
/// the aggregates have a pool of their own. Work that waits long on anything but the
/// request pool gives it back first too: a login's password hashing, the Control Tower's
/// snapshot (computed on the aggregates' pool, and kept by a cache that must not keep
/// the request's connection), and the request's own end ([`Db::release`]).
#[derive(Debug, Default)]
enum Held {
    /// No statement yet.
    #[default]
    Idle,
    Holding {
        connection: sea_orm::sqlx::pool::PoolConnection<sea_orm::sqlx::Postgres>,
        /// Its place among the pool's users (see [`PoolUsers`]) for as long as it is
        /// held.
        _user: PoolUser,
    },
    /// Given back: later statements take a connection each, as without one.
    Released,
}

/// How many statements and transactions hold or wait for one of the pool's
/// connections: each holds one, or waits for one.
#[derive(Clone, Debug, Default)]
struct PoolUsers(Arc<AtomicU64>);

impl PoolUsers {
    fn enter(&self) -> PoolUser {
        self.0.fetch_add(1, Ordering::Relaxed);
        PoolUser(self.0.clone())
    }
}

/// One holder or waiter of a connection, until dropped.
#[derive(Debug)]
struct PoolUser(Arc<AtomicU64>);

impl Drop for PoolUser {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts statements, and logs each at trace level.
#[derive(Clone, Debug, Default)]
struct Counter(Arc<AtomicU64>);

impl Counter {
    fn record(&self, statement: &str) {
        self.0.fetch_add(1, Ordering::Relaxed);
        tracing::trace!(target: "control_tower::sql", %statement);
    }

    fn total(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Db {
    /// Wraps a pool with a fresh counter.
    pub fn new(connection: DatabaseConnection) -> Self {
        Self {
            connection,
            aggregates: None,
            statements: Counter::default(),
            users: PoolUsers::default(),
            held: None,
            settings: None,
            replicas: None,
            reads: None,
            aggregating: false,
        }
    }

    /// The same, with `aggregates` (from [`connect_aggregates`]) as the pool of
    /// [`Db::aggregates`].
    pub fn with_aggregates(mut self, aggregates: Option<DatabaseConnection>) -> Self {
        self.aggregates = aggregates.map(|pool| (pool, PoolUsers::default(), None));
        self
    }

    fn with_replicas(mut self, replicas: Arc<Replicas>) -> Self {
        self.replicas = Some(replicas);
        self
    }

    /// The same pool with a counter of its own, for one request: on PostgreSQL its
    /// statements share one connection (see [`Held`]) until [`Db::release`], or until the
    /// last clone of the handle is dropped (a request stopped before its end). Behind a
    /// pooler none is held: each statement has a transaction of its own.
    pub(crate) fn for_request(&self) -> Self {
        let postgres = self.connection.get_database_backend() == DbBackend::Postgres;
        Self {
            statements: Counter::default(),
            held: (postgres && self.settings.is_none()).then(Default::default),
            reads: None,
            aggregating: false,
            ..self.clone()
        }
    }

    /// For a request that only reads (a query): like [`Db::for_request`], its
    /// statements going to a replica fit to serve its reader (see [`Db::read_as`]), or
    /// to the primary when none is. [`Db::primary`] is the same request's handle on the
    /// primary, for what must read the primary (its session) or write.
    pub(crate) fn for_reads(&self) -> Self {
        let mut db = self.for_request();
        if let Some(replicas) = &self.replicas {
            db.reads = Some(Arc::new(Reads {
                replicas: replicas.clone(),
                reader: Default::default(),
                chosen: Default::default(),
                on_replica: Default::default(),
                fell_back: Default::default(),
            }));
        }
        db
    }

    /// The request reads as `reader` (the operator, or none for a dashboard token):
    /// after their own mutation their reads stay on the primary until a replica has
    /// replayed it. Said before the request's first read; later, it changes nothing.
    pub(crate) fn read_as(&self, reader: Option<i64>) {
        if let Some(reads) = &self.reads {
            let _ = reads.reader.set(reader);
        }
    }

    /// The same request's handle on the primary, counting with it.
    pub(crate) fn primary(&self) -> Self {
        Self {
            reads: None,
            aggregating: false,
            ..self.clone()
        }
    }

    /// A handle on the primary with a counter of its own, holding no connection: for
    /// work off a request's path (noting a session's activity, sampling).
    pub(crate) fn detached(&self) -> Self {
        Self {
            statements: Counter::default(),
            held: None,
            reads: None,
            aggregating: false,
            ..self.clone()
        }
    }

    /// Where a read-only request read from, once it has: `"primary"` or a replica's
    /// label.
    pub(crate) fn read_from(&self) -> Option<String> {
        let reads = self.reads.as_ref()?;
        let chosen = reads.chosen.get()?;
        Some(match chosen {
            Some(index) if !reads.fell_back.load(Ordering::Relaxed) => {
                reads.replicas.member(*index).name.clone()
            }
            _ => "primary".to_owned(),
        })
    }

    /// Behind a pooler, what a transaction on this handle's pool runs first (see
    /// [`transaction_settings`]); a transaction begun on [`Db::connection`] runs it too.
    pub(crate) fn transaction_settings(&self) -> Option<&str> {
        self.settings.as_deref()
    }

    /// The replicas, when the primary has some.
    pub(crate) fn replicas(&self) -> Option<&Arc<Replicas>> {
        self.replicas.as_ref()
    }

    /// Samples the replicas for as long as the service runs (see [`replicas::watch`]);
    /// nothing without replicas.
    pub(crate) async fn watch_replicas(&self, timeout: Duration) {
        if let Some(replicas) = &self.replicas {
            replicas::watch(replicas.clone(), self.detached(), timeout).await;
        }
    }

    /// After a mutation by `reader`: notes the primary's WAL position, which their
    /// reads wait for a replica to have replayed. Nothing without replicas.
    pub(crate) async fn wrote(&self, reader: i64) -> Result<(), DbErr> {
        if let Some(replicas) = &self.replicas {
            let position = replicas::primary_position(&self.primary()).await?;
            replicas.wrote(reader, position);
        }
        Ok(())
    }

    /// The replica this read-only request's statements go to, with the request's
    /// handle on it: chosen at the first statement; none for the primary.
    fn replica(&self) -> Option<(usize, Db)> {
        let reads = self.reads.as_ref()?;
        if reads.fell_back.load(Ordering::Relaxed) {
            return None;
        }
        let reader = reads.reader.get().copied().flatten();
        let index = (*reads.chosen.get_or_init(|| reads.replicas.choose(reader)))?;
        let on_replica = reads.on_replica.get_or_init(|| Self {
            statements: self.statements.clone(),
            ..reads.replicas.member(index).db.for_request()
        });
        let db = match self.aggregating {
            true => Self {
                statements: self.statements.clone(),
                ..on_replica.aggregates()
            },
            false => on_replica.clone(),
        };
        Some((index, db))
    }

    /// A statement on the replica failed with `error`: when the replica could not be
    /// reached, it is skipped and the request reads from the primary, which runs the
    /// statement again (`true`); any other error is the statement's own.
    fn fall_back(&self, index: usize, error: &DbErr) -> bool {
        let Some(reads) = &self.reads else {
            return false;
        };
        if !crate::error::is_unavailable(error) {
            return false;
        }
        reads.replicas.failed(index, error);
        reads.fell_back.store(true, Ordering::Relaxed);
        true
    }

    /// Gives the request's connection back to the pool, without waiting for a statement
    /// still running on it (a loader's batch outlives a request stopped at its deadline):
    /// that statement gives it back when done. Later statements take one each.
    pub(crate) fn release(&self) {
        if let Some(on_replica) = self.reads.as_ref().and_then(|reads| reads.on_replica.get()) {
            on_replica.release();
        }
        if let Some(holder) = &self.held {
            holder.released.store(true, Ordering::Release);
            if let Ok(mut held) = holder.held.try_lock() {
                *held = Held::Released;
            }
        }
    }

    /// Runs `run` on the request's connection, taking one from the pool first if the
    /// request has none yet; `None` when the handle holds none (SQLite, the aggregates,
    /// or released), for the pool to run the statement.
    async fn on_held<T>(
        &self,
        run: impl AsyncFnOnce(&mut sea_orm::sqlx::PgConnection) -> Result<T, sea_orm::sqlx::Error>,
        error: fn(sea_orm::sqlx::Error) -> DbErr,
    ) -> Option<Result<T, DbErr>> {
        let holder = self.held.as_ref()?;
        let released = || holder.released.load(Ordering::Acquire);
        let mut held = holder.held.lock().await;
        if released() {
            *held = Held::Released;
        }
        if matches!(*held, Held::Idle) {
            // Waiting for the pool, then holding: one of its users either way.
            let user = self.users.enter();
            let pool = self.connection.get_postgres_connection_pool();
            match pool.acquire().await {
                Ok(connection) => {
                    *held = Held::Holding {
                        connection,
                        _user: user,
                    }
                }
                Err(acquire) => return Some(Err(acquire_error(acquire))),
            }
        }
        let Held::Holding { connection, .. } = &mut *held else {
            return None;
        };
        let done = run(&mut **connection).await.map_err(error);
        if released() {
            *held = Held::Released;
        }
        Some(done)
    }

    /// The handle for statements over the runs' roll-ups and health, counted with this
    /// one's. On PostgreSQL they have a pool of their own whose connections plan every
    /// statement for its values (`plan_cache_mode = force_custom_plan`): how many rows a
    /// window's edges hold decides their plan.
    pub(crate) fn aggregates(&self) -> Self {
        let (connection, users, settings) = self.aggregates.clone().unwrap_or_else(|| {
            (
                self.connection.clone(),
                self.users.clone(),
                self.settings.clone(),
            )
        });
        Self {
            connection,
            users,
            settings,
            held: None,
            aggregating: true,
            ..self.clone()
        }
    }

    /// The pool's connections now: in use, idle, and how many statements or
    /// transactions wait for one.
    pub(crate) fn pool_use(&self) -> PoolUse {
        let (size, idle, max) = match self.connection.get_database_backend() {
            DbBackend::Postgres => {
                let pool = self.connection.get_postgres_connection_pool();
                (
                    pool.size(),
                    pool.num_idle(),
                    pool.options().get_max_connections(),
                )
            }
            DbBackend::Sqlite => {
                let pool = self.connection.get_sqlite_connection_pool();
                (
                    pool.size(),
                    pool.num_idle(),
                    pool.options().get_max_connections(),
                )
            }
            _ => (0, 0, 0),
        };
        let in_use = u64::from(size).saturating_sub(idle as u64);
        PoolUse {
            in_use,
            idle: idle as u64,
            waiting: self.users.0.load(Ordering::Relaxed).saturating_sub(in_use),
            max: u64::from(max),
        }
    }

    /// Statements run through this handle (and its clones) so far.
    pub(crate) fn statements(&self) -> u64 {
        self.statements.total()
    }

    /// The underlying pool, for work that is not counted (start-up, migrations).
    pub(crate) fn connection(&self) -> &DatabaseConnection {
        &self.connection
    }

    /// Whether the database answers a trivial query.
    pub(crate) async fn ping(&self) -> Result<(), DbErr> {
        self.connection.ping().await
    }
}

/// Runs a statement of a [`Db`]: on the replica a read-only request reads from, falling
/// back to the primary when the replica cannot be reached; else on the request's held
/// connection, in a transaction of its own behind a pooler, or on the pool.
macro_rules! routed {
    ($db:ident, $statement:ident, $method:ident, $held:expr, $error:expr, $done:expr) => {{
        let span = statement_span($db.get_database_backend(), &$statement.sql);
        async {
            if let Some((index, replica)) = $db.replica() {
                match replica.$method($statement.clone()).await {
                    Err(error) if $db.fall_back(index, &error) => {}
                    done => return done,
                }
            }
            $db.statements.record(&$statement.sql);
            if let Some(settings) = &$db.settings {
                let _user = $db.users.enter();
                return $db
                    .in_transaction(
                        settings,
                        async |connection| $held(&$statement, connection).await,
                        $error,
                    )
                    .await
                    .map($done);
            }
            match $db
                .on_held(
                    async |connection| $held(&$statement, connection).await,
                    $error,
                )
                .await
            {
                Some(done) => done.map($done),
                None => {
                    let _user = $db.users.enter();
                    $db.connection.$method($statement).await
                }
            }
        }
        .instrument(span)
        .await
    }};
}

/// The span of one SQL statement in a trace: its text, never its values (they are bound
/// apart). Off, and free, unless traces are made (see `crate::telemetry`).
fn statement_span(backend: DbBackend, sql: &str) -> tracing::Span {
    let system = match backend {
        DbBackend::Postgres => "postgresql",
        DbBackend::Sqlite => "sqlite",
        _ => "other_sql",
    };
    tracing::debug_span!(
        target: crate::telemetry::TARGET,
        "sql",
        db.system.name = system,
        db.query.text = sql,
    )
}

#[async_trait]
impl ConnectionTrait for Db {
    fn get_database_backend(&self) -> DbBackend {
        self.connection.get_database_backend()
    }

    async fn execute_raw(&self, statement: Statement) -> Result<ExecResult, DbErr> {
        routed!(
            self,
            statement,
            execute_raw,
            async |statement, connection| prepared(statement).execute(connection).await,
            |error| DbErr::Exec(RuntimeErr::SqlxError(error.into())),
            ExecResult::from
        )
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        // One simple query: one message and one answer, safe behind a pooler too.
        self.statements.record(sql);
        let _user = self.users.enter();
        let span = statement_span(self.get_database_backend(), sql);
        self.connection
            .execute_unprepared(sql)
            .instrument(span)
            .await
    }

    async fn query_one_raw(&self, statement: Statement) -> Result<Option<QueryResult>, DbErr> {
        routed!(
            self,
            statement,
            query_one_raw,
            async |statement, connection| prepared(statement).fetch_optional(connection).await,
            query_error,
            |row: Option<_>| row.map(QueryResult::from)
        )
    }

    async fn query_all_raw(&self, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        routed!(
            self,
            statement,
            query_all_raw,
            async |statement, connection| prepared(statement).fetch_all(connection).await,
            query_error,
            |rows: Vec<_>| rows.into_iter().map(QueryResult::from).collect()
        )
    }
}

impl Db {
    /// Behind a pooler: runs `run` in a transaction of its own that runs `settings`
    /// first (one round trip with its `BEGIN`), so that the pooler keeps one server
    /// connection for the statement's two round trips (sqlx parses the statement, then
    /// binds it) and nothing the statement relies on comes from another transaction.
    async fn in_transaction<T>(
        &self,
        settings: &str,
        run: impl AsyncFnOnce(&mut sea_orm::sqlx::PgConnection) -> Result<T, sea_orm::sqlx::Error>,
        error: fn(sea_orm::sqlx::Error) -> DbErr,
    ) -> Result<T, DbErr> {
        let pool = self.connection.get_postgres_connection_pool();
        let begin = format!("BEGIN; {settings}");
        let mut transaction = pool
            .begin_with(sea_orm::sqlx::AssertSqlSafe(begin))
            .await
            .map_err(acquire_error)?;
        let done = run(&mut transaction).await.map_err(error)?;
        transaction.commit().await.map_err(error)?;
        Ok(done)
    }
}

/// A failed query, as sea-orm reports it from its pool.
fn query_error(error: sea_orm::sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(error.into()))
}

/// A failure to take a connection, as sea-orm reports it from its pool.
fn acquire_error(error: sea_orm::sqlx::Error) -> DbErr {
    match error {
        sea_orm::sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sea_orm::sqlx::Error::PoolClosed => {
            DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed)
        }
        error => DbErr::Conn(RuntimeErr::SqlxError(error.into())),
    }
}

/// `statement` as sqlx runs it on PostgreSQL, prepared and cached by the connection as
/// sea-orm's own statements are.
fn prepared(
    statement: &Statement,
) -> sea_orm::sqlx::query::Query<'_, sea_orm::sqlx::Postgres, sea_query_sqlx::SqlxValues> {
    let values = statement.values.clone().unwrap_or(Values(Vec::new()));
    sea_orm::sqlx::query_with(
        sea_orm::sqlx::AssertSqlSafe(statement.sql.as_str()),
        sea_query_sqlx::SqlxValues(values),
    )
}

/// One page of `E` rows matching `condition`, in the order of `spec`.
pub(crate) async fn fetch_page<E>(
    db: &Db,
    condition: Condition,
    spec: &SortSpec,
    args: &PageArgs,
) -> Result<Page<E::Model>, DbErr>
where
    E: Table,
{
    let mut select = E::find().filter(condition);
    args.apply(spec, QueryTrait::query(&mut select));
    // The limit is written in the text, not bound: PostgreSQL plans a bound `LIMIT $n`
    // for a tenth of the table, so its generic plan never looked as cheap as a custom
    // one, and every page of the tenant board was planned anew (issue #26).
    let backend = db.get_database_backend();
    let built = backend.build(QueryTrait::query(&mut select));
    let statement = Statement::from_sql_and_values(
        backend,
        format!("{} LIMIT {}", built.sql, args.fetch()),
        built.values.unwrap_or(Values(Vec::new())),
    );
    let rows = Read::<E>::find_by_statement(statement).all(db).await?;
    Ok(args.finish(rows.into_iter().map(|Read(row)| row).collect()))
}

/// How many `E` rows match `condition`.
pub(crate) async fn count_rows<E>(db: &Db, condition: Condition) -> Result<u64, DbErr>
where
    E: EntityTrait,
    E::Model: Sync,
{
    E::find().filter(condition).count(db).await
}

/// One page per parent, in one statement: the rows of every parent in `parents` are
/// numbered within their parent (`ROW_NUMBER() OVER (PARTITION BY …)`) and the first
/// `args.fetch()` of each are kept.
pub(crate) async fn fetch_pages_per_parent<E>(
    db: &Db,
    parent_column: E::Column,
    parent_of: impl Fn(&E::Model) -> Option<i64>,
    parents: &[i64],
    condition: Condition,
    spec: &SortSpec,
    args: &PageArgs,
) -> Result<HashMap<i64, Page<E::Model>>, DbErr>
where
    E: Table,
{
    let mut inner = E::find()
        .filter(parent_column.is_in(parents.iter().copied()))
        .filter(condition)
        .into_query();
    if let Some(cursor) = &args.cursor {
        inner.cond_where(spec.after(cursor, args.direction));
    }
    let mut window = WindowStatement::partition_by(parent_column);
    spec.order_by(&mut window, args.direction);
    inner.expr_window_as(Expr::cust("ROW_NUMBER()"), window, PAGE_ROW);
    let outer = Query::select()
        .column(Asterisk)
        .from_subquery(inner, "page")
        .and_where(Expr::col(PAGE_ROW).lte(args.fetch()))
        .order_by(PAGE_ROW, Order::Asc)
        .take();
    let statement = db.get_database_backend().build(&outer);
    let rows = Read::<E>::find_by_statement(statement).all(db).await?;

    let mut grouped: HashMap<i64, Vec<E::Model>> = HashMap::new();
    for Read(row) in rows {
        if let Some(parent) = parent_of(&row) {
            grouped.entry(parent).or_default().push(row);
        }
    }
    Ok(parents
        .iter()
        .map(|parent| {
            let rows = grouped.remove(parent).unwrap_or_default();
            (*parent, args.finish(rows))
        })
        .collect())
}

/// The column that numbers rows within their parent in [`fetch_pages_per_parent`].
const PAGE_ROW: &str = "page_row";

/// How many `E` rows match `condition` for each parent, in one grouped statement.
/// Parents without rows are answered with 0.
pub(crate) async fn count_per_parent<E: EntityTrait>(
    db: &Db,
    parent_column: E::Column,
    parents: &[i64],
    condition: Condition,
) -> Result<HashMap<i64, u64>, DbErr> {
    let rows: Vec<(i64, i64)> = E::find()
        .select_only()
        .column(parent_column)
        .column_as(Expr::col(Asterisk).count(), "count")
        .filter(parent_column.is_in(parents.iter().copied()))
        .filter(condition)
        .group_by(parent_column)
        .into_tuple()
        .all(db)
        .await?;
    let counts: HashMap<i64, i64> = rows.into_iter().collect();
    Ok(parents
        .iter()
        .map(|parent| {
            let count = counts.get(parent).copied().unwrap_or(0);
            (*parent, u64::try_from(count).unwrap_or(0))
        })
        .collect())
}

impl Db {
    /// Starts a transaction whose statements count as this handle's (`BEGIN` and
    /// `COMMIT` included).
    pub(crate) async fn begin(&self) -> Result<DbTransaction, DbErr> {
        // A transaction has a connection of its own: the request's goes back first.
        self.release();
        let user = self.users.enter();
        let inner = self.connection.begin().await?;
        self.statements.record("BEGIN");
        if let Some(settings) = &self.settings {
            inner.execute_unprepared(settings).await?;
        }
        Ok(DbTransaction {
            inner,
            statements: self.statements.clone(),
            _user: user,
        })
    }
}

/// A transaction of a [`Db`], counting its statements.
pub(crate) struct DbTransaction {
    inner: DatabaseTransaction,
    statements: Counter,
    /// Its connection, held until the transaction ends.
    _user: PoolUser,
}

impl DbTransaction {
    /// Commits the transaction.
    pub(crate) async fn commit(self) -> Result<(), DbErr> {
        self.statements.record("COMMIT");
        self.inner.commit().await
    }

    /// Rolls the transaction back (dropping it does too).
    pub(crate) async fn rollback(self) -> Result<(), DbErr> {
        self.statements.record("ROLLBACK");
        self.inner.rollback().await
    }
}

#[async_trait]
impl ConnectionTrait for DbTransaction {
    fn get_database_backend(&self) -> DbBackend {
        self.inner.get_database_backend()
    }

    async fn execute_raw(&self, statement: Statement) -> Result<ExecResult, DbErr> {
        self.statements.record(&statement.sql);
        let span = statement_span(self.get_database_backend(), &statement.sql);
        self.inner.execute_raw(statement).instrument(span).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.statements.record(sql);
        let span = statement_span(self.get_database_backend(), sql);
        self.inner.execute_unprepared(sql).instrument(span).await
    }

    async fn query_one_raw(&self, statement: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.statements.record(&statement.sql);
        let span = statement_span(self.get_database_backend(), &statement.sql);
        self.inner.query_one_raw(statement).instrument(span).await
    }

    async fn query_all_raw(&self, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.statements.record(&statement.sql);
        let span = statement_span(self.get_database_backend(), &statement.sql);
        self.inner.query_all_raw(statement).instrument(span).await
    }
}
