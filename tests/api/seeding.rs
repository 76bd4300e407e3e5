//! `seed` is deterministic and realistic.

use chrono::{DateTime, Utc};
use control_tower::seed::{self, SeedPlan};
use entity::{
    audit_log, operation_run, platform_user, provider_connection, tenant, tenant_permission, user,
    workspace, workspace_membership,
};
use migration::{Migrator, MigratorTrait};
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};

use crate::common::{Backend, TestDb};

fn plan() -> SeedPlan {
    SeedPlan {
        workspaces: 4,
        tenants: 200,
        runs: 4_500,
        audit_logs: 1_200,
        seed: 42,
        anchor: "2026-11-27T12:00:00Z".parse::<DateTime<Utc>>().unwrap(),
    }
}

async fn seeded(backend: Backend) -> (TestDb, DatabaseConnection) {
    let database = TestDb::create(backend).await;
    let db = database.connect().await;
    Migrator::up(&db, None).await.unwrap();
    seed::run(&db, &plan(), false).await.expect("seeding works");
    (database, db)
}

macro_rules! assert_same_rows {
    ($a:expr, $b:expr, $($module:ident),+) => {$(
        let left = $module::Entity::find().order_by_asc($module::Column::Id).all($a).await.unwrap();
        let right = $module::Entity::find().order_by_asc($module::Column::Id).all($b).await.unwrap();
        assert!(!left.is_empty(), "{} seeded", stringify!($module));
        assert!(left == right, "{} differ between two seeds", stringify!($module));
    )+};
}

async fn same_seed_gives_the_same_rows(backend: Backend) {
    let (_first_db, first) = seeded(backend).await;
    let (_second_db, second) = seeded(backend).await;
    assert_same_rows!(
        &first,
        &second,
        workspace,
        user,
        workspace_membership,
        tenant,
        provider_connection,
        tenant_permission,
        platform_user,
        operation_run,
        audit_log
    );

    let runs = operation_run::Entity::find().all(&first).await.unwrap();
    assert_eq!(runs.len(), 4_500);
    let count =
        |f: &dyn Fn(&operation_run::Model) -> bool| runs.iter().filter(|run| f(run)).count();
    let succeeded = count(&|run| run.outcome == "succeeded");
    assert!(
        succeeded * 100 / runs.len() > 75,
        "most runs succeed: {succeeded}"
    );
    assert!(count(&|run| run.outcome == "failed") > 100);
    assert!(count(&|run| run.outcome == "partially_succeeded") > 0);
    assert!(count(&|run| run.outcome == "canceled") > 0);
    let anchor = plan().anchor;
    let stuck = count(&|run| {
        (run.status == "queued"
            && run.started_at.is_none()
            && anchor - run.created_at >= chrono::Duration::minutes(15))
            || (run.status == "running"
                && run
                    .started_at
                    .is_some_and(|at| anchor - at >= chrono::Duration::minutes(60)))
    });
    assert!(stuck >= 2, "a few runs are stuck: {stuck}");
    let failures_with_messages = runs
        .iter()
        .filter(|run| run.outcome == "failed")
        .all(|run| {
            run.failure_summary
                .as_ref()
                .is_some_and(|summary| summary.value().as_array().is_some_and(|a| !a.is_empty()))
        });
    assert!(failures_with_messages, "every failed run says why");

    let tenants = tenant::Entity::find().all(&first).await.unwrap();
    for status in ["active", "onboarding", "archived"] {
        assert!(
            tenants.iter().any(|t| t.status == status),
            "a tenant is {status}"
        );
    }
    let connections = provider_connection::Entity::find()
        .all(&first)
        .await
        .unwrap();
    for status in ["connected", "needs_consent", "error", "disabled"] {
        assert!(
            connections.iter().any(|c| c.status == status),
            "a connection is {status}"
        );
    }
    for health in ["ok", "degraded", "down", "unknown"] {
        assert!(
            connections.iter().any(|c| c.health_status == health),
            "a connection is {health}"
        );
    }
    let permissions = tenant_permission::Entity::find().all(&first).await.unwrap();
    for status in ["granted", "missing", "error"] {
        assert!(
            permissions.iter().any(|p| p.status == status),
            "a permission is {status}"
        );
    }
    let logs = audit_log::Entity::find().all(&first).await.unwrap();
    for (action, status) in [
        ("platform.auth.login", "success"),
        ("platform.auth.login", "failure"),
        ("platform.break_glass.enter", "success"),
    ] {
        assert!(
            logs.iter()
                .any(|l| l.action == action && l.status == status),
            "an audit log of {action} {status}"
        );
    }

    let again = seed::run(&first, &plan(), false).await.unwrap_err();
    assert!(again.to_string().contains("already holds data"), "{again}");
}

#[tokio::test]
async fn same_seed_gives_the_same_rows_on_sqlite() {
    same_seed_gives_the_same_rows(Backend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL is not set: PostgreSQL skipped"
)]
async fn same_seed_gives_the_same_rows_on_postgres() {
    same_seed_gives_the_same_rows(Backend::Postgres).await;
}

#[tokio::test]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL is not set: PostgreSQL skipped"
)]
async fn both_databases_hold_the_same_seeded_rows() {
    let (_sqlite_db, sqlite) = seeded(Backend::Sqlite).await;
    let (_postgres_db, postgres) = seeded(Backend::Postgres).await;
    assert_same_rows!(
        &sqlite,
        &postgres,
        workspace,
        tenant,
        operation_run,
        audit_log
    );
}
