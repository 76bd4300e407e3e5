//! `control-tower seed` and the demo data of `serve --demo`: a deterministic generator of
//! realistic rows, written in large batches.
//!
//! The same seed and anchor always give the same rows (ids included): the generator draws
//! from one ChaCha stream in a fixed order, and every timestamp is an offset from the
//! anchor. Seeding needs an empty database, so ids can be assigned up front.

mod generate;
mod vocabulary;

use std::fmt;

use anyhow::{Context as _, bail};
use chrono::{DateTime, SubsecRound, Utc};
use entity::{
    audit_log, operation_run, platform_user, provider_connection, tenant, tenant_permission, user,
    workspace, workspace_membership,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityName, EntityTrait,
    PaginatorTrait, TransactionTrait,
};

use self::generate::Generator;

/// Rows written per INSERT statement (within both databases' parameter limits).
const BATCH_ROWS: usize = 1_000;
/// INSERT statements per transaction.
const BATCHES_PER_TRANSACTION: usize = 20;

/// How much to generate, from what seed, around which moment.
#[derive(Clone, Debug)]
pub struct SeedPlan {
    pub workspaces: u32,
    pub tenants: u32,
    pub runs: u64,
    pub audit_logs: u64,
    pub seed: u64,
    pub anchor: DateTime<Utc>,
}

impl SeedPlan {
    /// The small data set of `serve --demo`.
    pub fn demo() -> Self {
        Self {
            workspaces: 3,
            tenants: 24,
            runs: 2_000,
            audit_logs: 300,
            seed: 2026,
            anchor: Utc::now().trunc_subsecs(0),
        }
    }
}

impl fmt::Display for SeedPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} workspaces, {} tenants, {} runs, {} audit logs (seed {}, anchor {})",
            self.workspaces,
            self.tenants,
            self.runs,
            self.audit_logs,
            self.seed,
            self.anchor.to_rfc3339()
        )
    }
}

/// Whether the database holds no workspace yet.
pub(crate) async fn is_empty(db: &DatabaseConnection) -> anyhow::Result<bool> {
    Ok(workspace::Entity::find().count(db).await? == 0
        && platform_user::Entity::find().count(db).await? == 0)
}

/// Generates and writes the plan's rows into an empty database.
pub async fn run(db: &DatabaseConnection, plan: &SeedPlan, progress: bool) -> anyhow::Result<()> {
    if !is_empty(db).await? {
        bail!(
            "the database already holds data; seed fills an empty database \
             (run `control-tower migrate fresh` first to start over)"
        );
    }
    let mut generator = Generator::new(plan);
    let total = generator.row_estimate();
    let bar = if progress {
        ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>16} [{bar:40}] {human_pos}/{human_len} rows ({per_sec}, {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );

    let mut writer = Writer { db, bar: &bar };
    writer.write("workspaces", generator.workspaces()).await?;
    writer.write("users", generator.users()).await?;
    writer.write("memberships", generator.memberships()).await?;
    writer.write("tenants", generator.tenants()).await?;
    writer.write("connections", generator.connections()).await?;
    writer.write("permissions", generator.permissions()).await?;
    writer.write("operators", generator.operators()).await?;
    while let Some(batch) = generator.next_runs(BATCH_ROWS * BATCHES_PER_TRANSACTION) {
        writer.write("operation runs", batch).await?;
    }
    while let Some(batch) = generator.next_audit_logs(BATCH_ROWS * BATCHES_PER_TRANSACTION) {
        writer.write("audit logs", batch).await?;
    }
    bar.finish_with_message("done");
    reset_sequences(db).await
}

struct Writer<'a> {
    db: &'a DatabaseConnection,
    bar: &'a ProgressBar,
}

impl Writer<'_> {
    /// Inserts `rows` in batches, in one transaction.
    async fn write<A>(&mut self, what: &'static str, rows: Vec<A>) -> anyhow::Result<()>
    where
        A: ActiveModelTrait + Send,
    {
        self.bar.set_message(what);
        let transaction = self.db.begin().await?;
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let batch: Vec<A> = rows.by_ref().take(BATCH_ROWS).collect();
            let count = batch.len() as u64;
            A::Entity::insert_many(batch)
                .exec_without_returning(&transaction)
                .await
                .with_context(|| format!("cannot insert {what}"))?;
            self.bar.inc(count);
        }
        transaction.commit().await?;
        Ok(())
    }
}

/// After rows were inserted with explicit ids, moves PostgreSQL's id sequences past
/// them so that later inserts get fresh ids. (SQLite derives the next id from the table.)
async fn reset_sequences(db: &DatabaseConnection) -> anyhow::Result<()> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let tables = [
        workspace::Entity.table_name(),
        user::Entity.table_name(),
        workspace_membership::Entity.table_name(),
        tenant::Entity.table_name(),
        provider_connection::Entity.table_name(),
        tenant_permission::Entity.table_name(),
        platform_user::Entity.table_name(),
        operation_run::Entity.table_name(),
        audit_log::Entity.table_name(),
    ];
    for table in tables {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), \
             COALESCE((SELECT MAX(id) FROM \"{table}\"), 0) + 1, false)"
        );
        db.execute_unprepared(&sql).await?;
    }
    Ok(())
}
