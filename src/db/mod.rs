//! The database: connecting, migrating, counting statements, and the queries of each
//! aggregate (one file per aggregate). SQL forms of domain rules live here too.

pub mod audit;
pub mod control_tower;
pub mod filter;
pub mod health;
pub mod page;
pub mod runs;
pub mod stats;
pub mod tables;
pub mod tenants;
pub mod workspaces;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use migration::{Migrator, MigratorTrait};
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait, Order, Query, WindowStatement};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ColumnTrait, Condition, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DatabaseTransaction, DbBackend, DbErr, EntityTrait, ExecResult, FromQueryResult,
    PaginatorTrait, QueryFilter, QueryResult, QuerySelect, QueryTrait, Statement, TransactionTrait,
};
use std::collections::HashMap;

use self::page::{Page, PageArgs, SortSpec};

use crate::config::Config;

/// Opens the pool described by the configuration. SQLite databases are created when
/// missing (`mode=rwc`) and switched to write-ahead logging, so readers never wait for
/// the writer.
pub async fn connect(config: &Config) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(config.database_url.clone());
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
    Database::connect(options).await
}

/// Applies every pending migration.
pub async fn migrate(connection: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(connection, None).await
}

/// A database handle that counts the statements it runs.
///
/// Each request gets its own counter ([`Db::for_request`]), shared by every loader of
/// that request, so tests and logs can see how many statements a query shape costs.
#[derive(Clone, Debug)]
pub struct Db {
    connection: DatabaseConnection,
    statements: Counter,
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
            statements: Counter::default(),
        }
    }

    /// The same pool with a counter of its own.
    pub fn for_request(&self) -> Self {
        Self::new(self.connection.clone())
    }

    /// Statements run through this handle (and its clones) so far.
    pub fn statements(&self) -> u64 {
        self.statements.total()
    }

    /// The underlying pool, for work that is not counted (start-up, migrations).
    pub fn connection(&self) -> &DatabaseConnection {
        &self.connection
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.connection.ping().await
    }
}

#[async_trait]
impl ConnectionTrait for Db {
    fn get_database_backend(&self) -> DbBackend {
        self.connection.get_database_backend()
    }

    async fn execute_raw(&self, statement: Statement) -> Result<ExecResult, DbErr> {
        self.statements.record(&statement.sql);
        self.connection.execute_raw(statement).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.statements.record(sql);
        self.connection.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, statement: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.statements.record(&statement.sql);
        self.connection.query_one_raw(statement).await
    }

    async fn query_all_raw(&self, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.statements.record(&statement.sql);
        self.connection.query_all_raw(statement).await
    }
}

/// One page of `E` rows matching `condition`, in the order of `spec`.
pub async fn fetch_page<E>(
    db: &Db,
    condition: Condition,
    spec: &SortSpec,
    args: &PageArgs,
) -> Result<Page<E::Model>, DbErr>
where
    E: EntityTrait,
{
    let mut select = E::find().filter(condition);
    args.apply(spec, QueryTrait::query(&mut select));
    Ok(args.finish(select.all(db).await?))
}

/// How many `E` rows match `condition`.
pub async fn count_rows<E>(db: &Db, condition: Condition) -> Result<u64, DbErr>
where
    E: EntityTrait,
    E::Model: Sync,
{
    E::find().filter(condition).count(db).await
}

/// One page per parent, in one statement: the rows of every parent in `parents` are
/// numbered within their parent (`ROW_NUMBER() OVER (PARTITION BY …)`) and the first
/// `args.fetch()` of each are kept.
pub async fn fetch_pages_per_parent<E>(
    db: &Db,
    parent_column: E::Column,
    parent_of: impl Fn(&E::Model) -> Option<i64>,
    parents: &[i64],
    condition: Condition,
    spec: &SortSpec,
    args: &PageArgs,
) -> Result<HashMap<i64, Page<E::Model>>, DbErr>
where
    E: EntityTrait,
    E::Model: FromQueryResult,
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
    let rows = E::Model::find_by_statement(statement).all(db).await?;

    let mut grouped: HashMap<i64, Vec<E::Model>> = HashMap::new();
    for row in rows {
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
pub async fn count_per_parent<E: EntityTrait>(
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
    pub async fn begin(&self) -> Result<DbTransaction, DbErr> {
        let inner = self.connection.begin().await?;
        self.statements.record("BEGIN");
        Ok(DbTransaction {
            inner,
            statements: self.statements.clone(),
        })
    }
}

/// A transaction of a [`Db`], counting its statements.
pub struct DbTransaction {
    inner: DatabaseTransaction,
    statements: Counter,
}

impl DbTransaction {
    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), DbErr> {
        self.statements.record("COMMIT");
        self.inner.commit().await
    }

    /// Rolls the transaction back (dropping it does too).
    pub async fn rollback(self) -> Result<(), DbErr> {
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
        self.inner.execute_raw(statement).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.statements.record(sql);
        self.inner.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, statement: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.statements.record(&statement.sql);
        self.inner.query_one_raw(statement).await
    }

    async fn query_all_raw(&self, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.statements.record(&statement.sql);
        self.inner.query_all_raw(statement).await
    }
}
