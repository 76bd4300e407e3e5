//! The migrations run up, down and up again, creating every index of SPEC §2, and every
//! migration's `down` undoes exactly its `up`, on both databases.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use std::process::Command;

use crate::common::{Backend, TestDb};

const TABLES: [&str; 10] = [
    "workspaces",
    "users",
    "workspace_memberships",
    "tenants",
    "provider_connections",
    "tenant_permissions",
    "operation_runs",
    "audit_logs",
    "platform_users",
    "platform_sessions",
];

const INDEXES: [&str; 18] = [
    "uq_workspace_memberships_workspace_id_user_id",
    "idx_workspace_memberships_user_id",
    "idx_tenants_workspace_id_name",
    "idx_tenants_name_id",
    "idx_provider_connections_tenant_id",
    "uq_tenant_permissions_tenant_id_key",
    "idx_operation_runs_workspace_id_created_at",
    "idx_operation_runs_tenant_id_created_at",
    "idx_operation_runs_status_outcome_created_at",
    "idx_operation_runs_type_created_at",
    "idx_operation_runs_user_id",
    "idx_operation_runs_created_at_id",
    "idx_audit_logs_action_recorded_at",
    "idx_audit_logs_actor_id_recorded_at",
    "idx_audit_logs_workspace_id_recorded_at",
    "idx_audit_logs_tenant_id_recorded_at",
    "idx_audit_logs_recorded_at_id",
    "idx_platform_sessions_platform_user_id",
];

async fn tables_present(db: &impl ConnectionTrait) -> Vec<bool> {
    let mut present = Vec::new();
    for table in TABLES {
        let statement = Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) FROM \"{table}\""),
        );
        present.push(db.query_one_raw(statement).await.is_ok());
    }
    present
}

async fn index_names(db: &impl ConnectionTrait) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema()"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'index'",
    };
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.try_get::<String>("", "name").unwrap())
        .collect()
}

async fn up_down_up(backend: Backend) {
    let database = TestDb::create(backend).await;
    let db = database.connect().await;
    Migrator::up(&db, None).await.expect("up");
    assert_eq!(tables_present(&db).await, vec![true; TABLES.len()]);
    let indexes = index_names(&db).await;
    for index in INDEXES {
        assert!(
            indexes.iter().any(|name| name == index),
            "missing index {index}: {indexes:?}"
        );
    }
    Migrator::down(&db, None).await.expect("down");
    assert_eq!(tables_present(&db).await, vec![false; TABLES.len()]);
    Migrator::up(&db, None).await.expect("up again");
    assert_eq!(tables_present(&db).await, vec![true; TABLES.len()]);
    let pending = Migrator::get_pending_migrations(&db).await.unwrap();
    assert!(pending.is_empty());
}

#[tokio::test]
async fn migration_runs_up_down_and_up_on_sqlite() {
    up_down_up(Backend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL is not set: PostgreSQL skipped"
)]
async fn migration_runs_up_down_and_up_on_postgres() {
    up_down_up(Backend::Postgres).await;
}

/// The whole schema of `database`, as text to compare: `pg_dump --schema-only` on
/// PostgreSQL (without its comments and the `\restrict` keys newer versions make up
/// for each dump), every object's SQL in `sqlite_master` on SQLite (without SQLite's
/// own tables, such as `sqlite_sequence`, which outlives the tables that made it).
async fn schema(database: &TestDb, db: &impl ConnectionTrait) -> String {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let dump = Command::new("pg_dump")
                .args([
                    "--schema-only",
                    "--no-owner",
                    "--no-privileges",
                    "--dbname",
                    &database.url,
                ])
                .output()
                .expect("pg_dump runs (Debian: postgresql-client)");
            assert!(
                dump.status.success(),
                "{}",
                String::from_utf8_lossy(&dump.stderr)
            );
            String::from_utf8(dump.stdout)
                .unwrap()
                .lines()
                .filter(|line| {
                    !line.starts_with("--")
                        && !line.starts_with("\\restrict")
                        && !line.starts_with("\\unrestrict")
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
        _ => {
            let sql = "SELECT type, name, tbl_name, COALESCE(sql, '') AS sql FROM sqlite_master \
                       WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name";
            let rows = db
                .query_all_raw(Statement::from_string(DbBackend::Sqlite, sql))
                .await
                .unwrap();
            rows.iter()
                .map(|row| {
                    let column = |name: &str| row.try_get::<String>("", name).unwrap();
                    format!(
                        "{} {} on {}: {}",
                        column("type"),
                        column("name"),
                        column("tbl_name"),
                        column("sql")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
    }
}

/// Asserts two schemas are the same, showing only the lines of one that the other lacks.
fn assert_same(actual: &str, expected: &str, what: &str) {
    let only = |of: &str, other: &str| -> Vec<String> {
        let other: Vec<&str> = other.lines().collect();
        of.lines()
            .filter(|line| !other.contains(line))
            .map(str::to_owned)
            .collect()
    };
    assert!(
        actual == expected,
        "{what}: left behind {:#?}, missing {:#?}",
        only(actual, expected),
        only(expected, actual)
    );
}

/// Walks every migration: up to step k, down one, up one, comparing the schema after
/// each move with the one it must be, and finally all the way down and up.
async fn every_down_undoes_its_up(backend: Backend) {
    let database = TestDb::create(backend).await;
    let db = database.connect().await;
    Migrator::install(&db).await.expect("the migrations table");
    let mut schemas = vec![schema(&database, &db).await];
    let steps = Migrator::migrations().len();
    for step in 1..=steps {
        Migrator::up(&db, Some(1))
            .await
            .unwrap_or_else(|error| panic!("up to {step}: {error}"));
        let after_up = schema(&database, &db).await;
        assert_ne!(
            after_up,
            schemas[step - 1],
            "step {step} changes the schema"
        );
        Migrator::down(&db, Some(1))
            .await
            .unwrap_or_else(|error| panic!("down from {step}: {error}"));
        assert_same(
            &schema(&database, &db).await,
            &schemas[step - 1],
            &format!("down from step {step}"),
        );
        Migrator::up(&db, Some(1))
            .await
            .unwrap_or_else(|error| panic!("up to {step} again: {error}"));
        assert_same(
            &schema(&database, &db).await,
            &after_up,
            &format!("up to step {step} again"),
        );
        schemas.push(after_up);
    }
    Migrator::down(&db, None).await.expect("all the way down");
    assert_same(
        &schema(&database, &db).await,
        &schemas[0],
        "all the way down",
    );
    Migrator::up(&db, None).await.expect("all the way up");
    assert_same(
        &schema(&database, &db).await,
        &schemas[steps],
        "all the way up",
    );
}

#[tokio::test]
async fn every_migrations_down_undoes_its_up_on_sqlite() {
    every_down_undoes_its_up(Backend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL is not set: PostgreSQL skipped"
)]
async fn every_migrations_down_undoes_its_up_on_postgres() {
    every_down_undoes_its_up(Backend::Postgres).await;
}
