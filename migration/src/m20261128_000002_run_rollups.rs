//! Hourly and daily roll-ups of the run counts, so the Control Tower's cold cost follows
//! its window's length rather than the number of runs (issue #13).
//!
//! - `run_rollups` holds, per hour (`span_hours` 1) and per UTC day (`span_hours` 24),
//!   the counts of the runs created in it: overall, per type, per tenant and per
//!   workspace (`grouping_set` 0 to 3). Hours and days are numbered from the Unix epoch.
//! - `run_rollup_dirty` lists the hours whose roll-ups may be out of date. Triggers on
//!   `operation_runs` append the hour of every row inserted, updated or deleted (old and
//!   new `created_at`), in the writer's own transaction, so no change can be missed, and
//!   readers compute those hours from the rows until the service has refreshed them.
//!   Appending (never updating) keeps writers from waiting on one another. On
//!   PostgreSQL a writer appends even when its hour is marked already: a refresh that
//!   began before the write may be about to consume that marker. SQLite has one writer
//!   at a time, so there one marker per hour is enough.
//! - The index leads with the grouping, and ends with `failed` so that the tenants with
//!   failures are found in the index alone.
//! - Every hour that already has runs starts out dirty: the service builds the roll-ups
//!   in the background after migrating.
//!
//! Also two indexes for the Control Tower's other parts: one for the stuck rule
//! (`status`, `started_at`, `created_at`), so stuck counts read only queued and running
//! runs, and `audit_logs (action, recorded_at, status)`, so its access counts are read
//! from the index alone.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261128_000002_run_rollups"
    }
}

#[derive(DeriveIden)]
enum RunRollups {
    Table,
    SpanHours,
    Bucket,
    GroupingSet,
    Type,
    TenantId,
    WorkspaceId,
}

#[derive(DeriveIden)]
enum RunRollupDirty {
    Table,
    Id,
    Hour,
}

/// The counts each roll-up row holds, named as the service's tallies name them.
const COUNTS: [&str; 8] = [
    "total",
    "queued",
    "running",
    "completed",
    "succeeded",
    "partially_succeeded",
    "failed",
    "canceled",
];

/// The hour (since the Unix epoch) of a `created_at` in trigger SQL.
fn hour_of(backend: DbBackend, column: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("FLOOR(EXTRACT(EPOCH FROM {column}) / 3600)::BIGINT"),
        _ => format!("(CAST(STRFTIME('%s', {column}) AS INTEGER) / 3600)"),
    }
}

fn postgres_triggers() -> Vec<String> {
    let hour = |table: &str| hour_of(DbBackend::Postgres, &format!("{table}.created_at"));
    let mark = |source: &str| {
        format!(
            "INSERT INTO run_rollup_dirty (hour) SELECT DISTINCT {} FROM {source};",
            hour(source)
        )
    };
    vec![
        format!(
            "CREATE FUNCTION run_rollups_mark_hours() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {insert}
  ELSIF TG_OP = 'UPDATE' THEN
    {old}
    {new}
  ELSIF TG_OP = 'DELETE' THEN
    {old}
  END IF;
  RETURN NULL;
END $$",
            insert = mark("new_rows"),
            old = mark("old_rows"),
            new = mark("new_rows"),
        ),
        "CREATE FUNCTION run_rollups_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM run_rollups;
  DELETE FROM run_rollup_dirty;
  RETURN NULL;
END $$"
            .to_owned(),
        "CREATE TRIGGER operation_runs_rollup_insert AFTER INSERT ON operation_runs \
         REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION run_rollups_mark_hours()"
            .to_owned(),
        "CREATE TRIGGER operation_runs_rollup_update AFTER UPDATE ON operation_runs \
         REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION run_rollups_mark_hours()"
            .to_owned(),
        "CREATE TRIGGER operation_runs_rollup_delete AFTER DELETE ON operation_runs \
         REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION run_rollups_mark_hours()"
            .to_owned(),
        "CREATE TRIGGER operation_runs_rollup_truncate AFTER TRUNCATE ON operation_runs \
         FOR EACH STATEMENT EXECUTE FUNCTION run_rollups_forget()"
            .to_owned(),
    ]
}

fn sqlite_triggers() -> Vec<String> {
    // One marker per hour is enough: SQLite has one writer at a time, so no refresh
    // can consume a marker between this write and its commit.
    let mark = |row: &str| {
        let hour = hour_of(DbBackend::Sqlite, &format!("{row}.created_at"));
        format!(
            "INSERT INTO run_rollup_dirty (hour) SELECT {hour} \
             WHERE NOT EXISTS (SELECT 1 FROM run_rollup_dirty WHERE hour = {hour});"
        )
    };
    vec![
        format!(
            "CREATE TRIGGER operation_runs_rollup_insert AFTER INSERT ON operation_runs BEGIN {} END",
            mark("NEW")
        ),
        format!(
            "CREATE TRIGGER operation_runs_rollup_update AFTER UPDATE ON operation_runs BEGIN {} {} END",
            mark("OLD"),
            mark("NEW")
        ),
        format!(
            "CREATE TRIGGER operation_runs_rollup_delete AFTER DELETE ON operation_runs BEGIN {} END",
            mark("OLD")
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut rollups = Table::create();
        rollups
            .table(RunRollups::Table)
            .col(ColumnDef::new(RunRollups::SpanHours).integer().not_null())
            .col(ColumnDef::new(RunRollups::Bucket).big_integer().not_null())
            .col(ColumnDef::new(RunRollups::GroupingSet).integer().not_null())
            .col(ColumnDef::new(RunRollups::Type).text().null())
            .col(ColumnDef::new(RunRollups::TenantId).big_integer().null())
            .col(ColumnDef::new(RunRollups::WorkspaceId).big_integer().null());
        for count in COUNTS {
            // An hour's or a day's count fits in 32 bits, and PostgreSQL sums 32-bit
            // integers into a 64-bit total, several times faster than 64-bit ones.
            rollups.col(ColumnDef::new(Alias::new(count)).integer().not_null());
        }
        manager.create_table(rollups.take()).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_run_rollups_grouping_set_span_hours_bucket_failed")
                    .table(RunRollups::Table)
                    .col(RunRollups::GroupingSet)
                    .col(RunRollups::SpanHours)
                    .col(RunRollups::Bucket)
                    .col(Alias::new("failed"))
                    .take(),
            )
            .await?;

        // One tenant's or workspace's hours, for `runStats` and the Control Tower's top.
        for (name, key) in [
            (
                "idx_run_rollups_grouping_set_tenant_id_span_hours_bucket",
                RunRollups::TenantId,
            ),
            (
                "idx_run_rollups_grouping_set_workspace_id_span_hours_bucket",
                RunRollups::WorkspaceId,
            ),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(RunRollups::Table)
                        .col(RunRollups::GroupingSet)
                        .col(key)
                        .col(RunRollups::SpanHours)
                        .col(RunRollups::Bucket)
                        .take(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(RunRollupDirty::Table)
                    .col(
                        ColumnDef::new(RunRollupDirty::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(RunRollupDirty::Hour)
                            .big_integer()
                            .not_null(),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_run_rollup_dirty_hour")
                    .table(RunRollupDirty::Table)
                    .col(RunRollupDirty::Hour)
                    .take(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_operation_runs_status_started_at_created_at")
                    .table(Alias::new("operation_runs"))
                    .col(Alias::new("status"))
                    .col(Alias::new("started_at"))
                    .col(Alias::new("created_at"))
                    .take(),
            )
            .await?;

        manager
            .create_index(
                Index::create()
                    .name("idx_audit_logs_action_recorded_at_status")
                    .table(Alias::new("audit_logs"))
                    .col(Alias::new("action"))
                    .col(Alias::new("recorded_at"))
                    .col(Alias::new("status"))
                    .take(),
            )
            .await?;

        let connection = manager.get_connection();
        let backend = connection.get_database_backend();
        let triggers = match backend {
            DbBackend::Postgres => postgres_triggers(),
            _ => sqlite_triggers(),
        };
        for trigger in triggers {
            connection.execute_unprepared(&trigger).await?;
        }
        connection
            .execute_unprepared(&format!(
                "INSERT INTO run_rollup_dirty (hour) SELECT DISTINCT {} FROM operation_runs",
                hour_of(backend, "created_at")
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let connection = manager.get_connection();
        let statements: &[&str] = match connection.get_database_backend() {
            DbBackend::Postgres => &[
                "DROP TRIGGER operation_runs_rollup_insert ON operation_runs",
                "DROP TRIGGER operation_runs_rollup_update ON operation_runs",
                "DROP TRIGGER operation_runs_rollup_delete ON operation_runs",
                "DROP TRIGGER operation_runs_rollup_truncate ON operation_runs",
                "DROP FUNCTION run_rollups_mark_hours()",
                "DROP FUNCTION run_rollups_forget()",
            ],
            _ => &[
                "DROP TRIGGER operation_runs_rollup_insert",
                "DROP TRIGGER operation_runs_rollup_update",
                "DROP TRIGGER operation_runs_rollup_delete",
            ],
        };
        for statement in statements {
            connection.execute_unprepared(statement).await?;
        }
        for (index, table) in [
            (
                "idx_operation_runs_status_started_at_created_at",
                "operation_runs",
            ),
            ("idx_audit_logs_action_recorded_at_status", "audit_logs"),
        ] {
            manager
                .drop_index(
                    Index::drop()
                        .name(index)
                        .table(Alias::new(table))
                        .to_owned(),
                )
                .await?;
        }
        for table in [
            RunRollupDirty::Table.into_iden(),
            RunRollups::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
