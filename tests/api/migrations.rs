//! The migration runs up, down and up again, and creates every index of SPEC §2.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

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
