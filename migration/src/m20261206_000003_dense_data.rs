//! What the Control Tower needs on densely used data (issue #26).
//!
//! - `run_open` holds the runs that are stuck or will be unless they move on — queued
//!   and not started, or running and started — with the columns the stuck rule and a
//!   window's counts read, under their names in `operation_runs`. Triggers keep it, in
//!   the writer's own transaction (on PostgreSQL per statement, from its transition
//!   tables; on SQLite per row), so no change is missed. Stuck counts read it instead of
//!   `operation_runs`: each half of the rule is a range of one of its indexes, and a
//!   count that cannot be answered from an index alone (right after a bulk load, before
//!   a vacuum has marked pages all-visible) visits this small, often read table rather
//!   than a page of the runs' for every stuck run.
//! - `run_tenant_failures` holds, per tenant and hour, the tenant's failed runs created
//!   from the start of that hour's UTC day through the end of the hour: prefix sums
//!   within a day. A tenant has a row at every hour from its first failed run of the
//!   day to the day's last hour in which any tenant has one, and none otherwise. Any
//!   stretch of whole hours within a day is then two rows per tenant, so the failures
//!   of every tenant in a window cost a few rows each, not a row per hour. The service
//!   computes the rows from the hourly roll-ups when it refreshes a day.
//!   `run_tenant_failure_days` is the same one level up: per tenant and day, its failed
//!   runs from the start of the day's block of eight days (numbered from the Unix
//!   epoch's first) through the end of that day, from the daily roll-ups. A window's
//!   whole days, at most seven, are then two or three rows per tenant.
//! - On PostgreSQL, autovacuum visits the tables the service computes after 2 % of their
//!   rows changed, not 20 %.
//! - Every hour with runs is marked dirty again, so the service rebuilds the roll-ups,
//!   `run_tenant_failures` included, in the background; answers stay exact meanwhile.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000003_dense_data"
    }
}

/// The columns of `run_open`, as `operation_runs` names them.
const OPEN_COLUMNS: &str = "id, status, created_at, started_at, type, tenant_id, workspace_id";

/// Which runs `run_open` holds: those the stuck rule (SPEC §3) may count.
const OPEN: &str =
    "(status = 'queued' AND started_at IS NULL) OR (status = 'running' AND started_at IS NOT NULL)";

/// `run_open`'s indexes: by `created_at` for a window's counts (with every column they
/// group by), by `status, started_at, created_at` for the totals.
const OPEN_INDEXES: [(&str, &str); 2] = [
    (
        "idx_run_open_created_at",
        "created_at, status, started_at, type, tenant_id, workspace_id",
    ),
    (
        "idx_run_open_status_started_at_created_at",
        "status, started_at, created_at",
    ),
];

/// The tables the service computes, which PostgreSQL's autovacuum is asked to vacuum and
/// analyze after 2 % of their rows changed rather than 20 %: a first build writes them
/// all at once, and until a vacuum marks their pages all-visible the Control Tower reads
/// their rows from the table rather than from the index alone.
const COMPUTED_TABLES: [&str; 4] = [
    "run_rollups",
    "run_tenant_failures",
    "run_tenant_failure_days",
    "run_open",
];
const AUTOVACUUM: &str = "autovacuum_vacuum_scale_factor = 0.02, \
    autovacuum_vacuum_insert_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02";

/// PostgreSQL's `TRUNCATE operation_runs` trigger function, which forgets every roll-up
/// (with `dense`, this migration's tables too).
fn forget(dense: bool) -> String {
    let also = if dense {
        "\n  DELETE FROM run_tenant_failures;\n  DELETE FROM run_tenant_failure_days;\n  DELETE FROM run_open;"
    } else {
        ""
    };
    format!(
        "CREATE OR REPLACE FUNCTION run_rollups_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM run_rollups;
  DELETE FROM run_rollup_dirty;{also}
  RETURN NULL;
END $$"
    )
}

fn postgres_up() -> Vec<String> {
    let forgotten = "DELETE FROM run_open WHERE id IN (SELECT id FROM old_rows);";
    let kept = format!(
        "INSERT INTO run_open ({OPEN_COLUMNS}) SELECT {OPEN_COLUMNS} FROM new_rows WHERE {OPEN};"
    );
    let mut statements = vec![
        "CREATE TABLE run_tenant_failures (hour BIGINT NOT NULL, tenant_id BIGINT NOT NULL, \
         failed INTEGER NOT NULL, PRIMARY KEY (hour, tenant_id) INCLUDE (failed))"
            .to_owned(),
        "CREATE TABLE run_tenant_failure_days (day BIGINT NOT NULL, tenant_id BIGINT NOT NULL, \
         failed INTEGER NOT NULL, PRIMARY KEY (day, tenant_id) INCLUDE (failed))"
            .to_owned(),
        "CREATE TABLE run_open (id BIGINT PRIMARY KEY, status TEXT NOT NULL, \
         created_at TIMESTAMPTZ NOT NULL, started_at TIMESTAMPTZ NULL, type TEXT NOT NULL, \
         tenant_id BIGINT NULL, workspace_id BIGINT NOT NULL)"
            .to_owned(),
        format!(
            "CREATE FUNCTION run_open_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {kept}
  ELSIF TG_OP = 'UPDATE' THEN
    {forgotten}
    {kept}
  ELSIF TG_OP = 'DELETE' THEN
    {forgotten}
  END IF;
  RETURN NULL;
END $$"
        ),
        "CREATE TRIGGER operation_runs_open_insert AFTER INSERT ON operation_runs \
         REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION run_open_keep()"
            .to_owned(),
        "CREATE TRIGGER operation_runs_open_update AFTER UPDATE ON operation_runs \
         REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION run_open_keep()"
            .to_owned(),
        "CREATE TRIGGER operation_runs_open_delete AFTER DELETE ON operation_runs \
         REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION run_open_keep()"
            .to_owned(),
        forget(true),
    ];
    statements
        .extend(COMPUTED_TABLES.map(|table| format!("ALTER TABLE {table} SET ({AUTOVACUUM})")));
    statements
}

fn sqlite_up() -> Vec<String> {
    let open = |row: &str| {
        let columns: Vec<String> = OPEN_COLUMNS
            .split(", ")
            .map(|column| format!("{row}.{column}"))
            .collect();
        let condition = OPEN
            .replace("status", &format!("{row}.status"))
            .replace("started_at", &format!("{row}.started_at"));
        format!(
            "INSERT INTO run_open ({OPEN_COLUMNS}) SELECT {} WHERE {condition};",
            columns.join(", ")
        )
    };
    let forgotten = "DELETE FROM run_open WHERE id = OLD.id;";
    vec![
        "CREATE TABLE run_tenant_failures (hour INTEGER NOT NULL, tenant_id INTEGER NOT NULL, \
         failed INTEGER NOT NULL, PRIMARY KEY (hour, tenant_id)) WITHOUT ROWID"
            .to_owned(),
        "CREATE TABLE run_tenant_failure_days (day INTEGER NOT NULL, tenant_id INTEGER NOT NULL, \
         failed INTEGER NOT NULL, PRIMARY KEY (day, tenant_id)) WITHOUT ROWID"
            .to_owned(),
        "CREATE TABLE run_open (id INTEGER PRIMARY KEY, status TEXT NOT NULL, \
         created_at TEXT NOT NULL, started_at TEXT NULL, type TEXT NOT NULL, \
         tenant_id INTEGER NULL, workspace_id INTEGER NOT NULL)"
            .to_owned(),
        format!(
            "CREATE TRIGGER operation_runs_open_insert AFTER INSERT ON operation_runs BEGIN {} END",
            open("NEW")
        ),
        format!(
            "CREATE TRIGGER operation_runs_open_update AFTER UPDATE ON operation_runs BEGIN {forgotten} {} END",
            open("NEW")
        ),
        format!(
            "CREATE TRIGGER operation_runs_open_delete AFTER DELETE ON operation_runs BEGIN {forgotten} END"
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let connection = manager.get_connection();
        let backend = connection.get_database_backend();
        let statements = match backend {
            DbBackend::Postgres => postgres_up(),
            _ => sqlite_up(),
        };
        for statement in statements {
            connection.execute_unprepared(&statement).await?;
        }
        for (name, columns) in OPEN_INDEXES {
            connection
                .execute_unprepared(&format!("CREATE INDEX {name} ON run_open ({columns})"))
                .await?;
        }
        connection
            .execute_unprepared(&format!(
                "INSERT INTO run_open ({OPEN_COLUMNS}) SELECT {OPEN_COLUMNS} FROM operation_runs WHERE {OPEN}"
            ))
            .await?;
        let hour = match backend {
            DbBackend::Postgres => "FLOOR(EXTRACT(EPOCH FROM created_at) / 3600)::BIGINT",
            _ => "(CAST(STRFTIME('%s', created_at) AS INTEGER) / 3600)",
        };
        connection
            .execute_unprepared(&format!(
                "INSERT INTO run_rollup_dirty (hour) SELECT DISTINCT {hour} FROM operation_runs"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let connection = manager.get_connection();
        let statements: Vec<String> = match connection.get_database_backend() {
            DbBackend::Postgres => {
                let settings: Vec<&str> = AUTOVACUUM
                    .split(", ")
                    .filter_map(|setting| setting.split(" = ").next())
                    .collect();
                vec![
                    forget(false),
                    format!("ALTER TABLE run_rollups RESET ({})", settings.join(", ")),
                    "DROP TRIGGER operation_runs_open_insert ON operation_runs".to_owned(),
                    "DROP TRIGGER operation_runs_open_update ON operation_runs".to_owned(),
                    "DROP TRIGGER operation_runs_open_delete ON operation_runs".to_owned(),
                    "DROP FUNCTION run_open_keep()".to_owned(),
                ]
            }
            _ => vec![
                "DROP TRIGGER operation_runs_open_insert".to_owned(),
                "DROP TRIGGER operation_runs_open_update".to_owned(),
                "DROP TRIGGER operation_runs_open_delete".to_owned(),
            ],
        };
        for statement in statements {
            connection.execute_unprepared(&statement).await?;
        }
        for table in ["run_open", "run_tenant_failure_days", "run_tenant_failures"] {
            connection
                .execute_unprepared(&format!("DROP TABLE {table}"))
                .await?;
        }
        Ok(())
    }
}
