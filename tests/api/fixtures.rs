//! Rows for tests, with sensible defaults that each test adjusts.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use entity::{
    Document, audit_log, operation_run, provider_connection, tenant, tenant_permission, user,
    workspace, workspace_membership,
};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ConnectionTrait};
use serde_json::json;

/// Now, to the second: the reference point of fixtures.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// Minutes before now.
pub fn minutes_ago(minutes: i64) -> DateTime<Utc> {
    now() - Duration::minutes(minutes)
}

pub async fn workspace(db: &impl ConnectionTrait, name: &str) -> workspace::Model {
    workspace_with(db, name, |_| {}).await
}

pub async fn workspace_with(
    db: &impl ConnectionTrait,
    name: &str,
    edit: impl FnOnce(&mut workspace::ActiveModel),
) -> workspace::Model {
    let mut row = workspace::ActiveModel {
        name: Set(name.to_owned()),
        slug: Set(name.to_lowercase().replace(' ', "-")),
        created_at: Set(now()),
        updated_at: Set(now()),
        ..Default::default()
    };
    edit(&mut row);
    row.insert(db).await.expect("workspace inserted")
}

pub async fn user(db: &impl ConnectionTrait, name: &str) -> user::Model {
    user::ActiveModel {
        name: Set(name.to_owned()),
        email: Set(format!(
            "{}@example.test",
            name.to_lowercase().replace(' ', ".")
        )),
        created_at: Set(now()),
        updated_at: Set(now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("user inserted")
}

pub async fn membership(
    db: &impl ConnectionTrait,
    workspace_id: i64,
    user_id: i64,
    role: &str,
) -> workspace_membership::Model {
    workspace_membership::ActiveModel {
        workspace_id: Set(workspace_id),
        user_id: Set(user_id),
        role: Set(role.to_owned()),
        created_at: Set(now()),
        updated_at: Set(now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("membership inserted")
}

pub async fn tenant(db: &impl ConnectionTrait, workspace_id: i64, name: &str) -> tenant::Model {
    tenant_with(db, workspace_id, name, |_| {}).await
}

pub async fn tenant_with(
    db: &impl ConnectionTrait,
    workspace_id: i64,
    name: &str,
    edit: impl FnOnce(&mut tenant::ActiveModel),
) -> tenant::Model {
    let mut row = tenant::ActiveModel {
        external_id: Set(format!("ext-{}", name.to_lowercase().replace(' ', "-"))),
        name: Set(name.to_owned()),
        workspace_id: Set(workspace_id),
        status: Set("active".to_owned()),
        environment: Set("production".to_owned()),
        rbac_last_checked_at: Set(Some(now())),
        rbac_last_setup_at: Set(None),
        rbac_canary_results: Set(None),
        rbac_last_warnings: Set(None),
        metadata: Set(None),
        created_at: Set(now()),
        updated_at: Set(now()),
        ..Default::default()
    };
    edit(&mut row);
    row.insert(db).await.expect("tenant inserted")
}

pub async fn connection_with(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    edit: impl FnOnce(&mut provider_connection::ActiveModel),
) -> provider_connection::Model {
    let mut row = provider_connection::ActiveModel {
        tenant_id: Set(tenant_id),
        provider: Set("microsoft".to_owned()),
        is_default: Set(true),
        status: Set("connected".to_owned()),
        health_status: Set("ok".to_owned()),
        scopes_granted: Set(Some(Document::from(json!(["offline_access"])))),
        last_health_check_at: Set(Some(now())),
        metadata: Set(None),
        created_at: Set(now()),
        updated_at: Set(now()),
        ..Default::default()
    };
    edit(&mut row);
    row.insert(db).await.expect("connection inserted")
}

pub async fn permission_with(
    db: &impl ConnectionTrait,
    tenant_id: i64,
    key: &str,
    edit: impl FnOnce(&mut tenant_permission::ActiveModel),
) -> tenant_permission::Model {
    let mut row = tenant_permission::ActiveModel {
        tenant_id: Set(tenant_id),
        key: Set(key.to_owned()),
        status: Set("granted".to_owned()),
        details: Set(None),
        last_checked_at: Set(Some(now())),
        created_at: Set(now()),
        updated_at: Set(now()),
        ..Default::default()
    };
    edit(&mut row);
    row.insert(db).await.expect("permission inserted")
}

pub async fn run_with(
    db: &impl ConnectionTrait,
    workspace_id: i64,
    tenant_id: Option<i64>,
    edit: impl FnOnce(&mut operation_run::ActiveModel),
) -> operation_run::Model {
    run_row(workspace_id, tenant_id, edit)
        .insert(db)
        .await
        .expect("run inserted")
}

/// A run not yet inserted: completed and succeeded, created 30 minutes ago, as `edit`
/// leaves it.
pub fn run_row(
    workspace_id: i64,
    tenant_id: Option<i64>,
    edit: impl FnOnce(&mut operation_run::ActiveModel),
) -> operation_run::ActiveModel {
    let mut row = operation_run::ActiveModel {
        workspace_id: Set(workspace_id),
        tenant_id: Set(tenant_id),
        user_id: Set(None),
        initiator_name: Set(Some("scheduler".to_owned())),
        r#type: Set("inventory.sync".to_owned()),
        status: Set("completed".to_owned()),
        outcome: Set("succeeded".to_owned()),
        summary_counts: Set(None),
        failure_summary: Set(None),
        context: Set(None),
        created_at: Set(minutes_ago(30)),
        started_at: Set(Some(minutes_ago(29))),
        completed_at: Set(Some(minutes_ago(20))),
        updated_at: Set(minutes_ago(20)),
        ..Default::default()
    };
    edit(&mut row);
    row
}

pub async fn audit_log_with(
    db: &impl ConnectionTrait,
    action: &str,
    edit: impl FnOnce(&mut audit_log::ActiveModel),
) -> audit_log::Model {
    let mut row = audit_log::ActiveModel {
        workspace_id: Set(None),
        tenant_id: Set(None),
        actor_id: Set(None),
        actor_type: Set("system".to_owned()),
        actor_name: Set(Some("system".to_owned())),
        actor_email: Set(None),
        action: Set(action.to_owned()),
        status: Set("success".to_owned()),
        metadata: Set(None),
        recorded_at: Set(now()),
        created_at: Set(now()),
        ..Default::default()
    };
    edit(&mut row);
    row.insert(db).await.expect("audit log inserted")
}

/// Inserts many rows in one statement.
pub async fn insert_all<A>(db: &impl ConnectionTrait, rows: Vec<A>)
where
    A: ActiveModelTrait + Send,
{
    if rows.is_empty() {
        return;
    }
    <A::Entity as sea_orm::EntityTrait>::insert_many(rows)
        .exec_without_returning(db)
        .await
        .expect("rows inserted");
}

/// `count` tenants in one workspace, named `{prefix} 000`…, each with `connections`
/// provider connections and `permissions` permissions. Returns the tenants' ids in name
/// order.
pub async fn tenants_with_children(
    db: &impl ConnectionTrait,
    workspace_id: i64,
    prefix: &str,
    count: usize,
    connections: usize,
    permissions: usize,
) -> Vec<i64> {
    let mut ids = Vec::new();
    for index in 0..count {
        let name = format!("{prefix} {index:03}");
        let row = tenant_with(db, workspace_id, &name, |row| {
            row.external_id = Set(format!("ext-{workspace_id}-{index}"));
        })
        .await;
        ids.push(row.id);
    }
    let mut connection_rows = Vec::new();
    let mut permission_rows = Vec::new();
    for id in &ids {
        for position in 0..connections {
            connection_rows.push(provider_connection::ActiveModel {
                tenant_id: Set(*id),
                provider: Set(format!("provider-{position}")),
                is_default: Set(position == 0),
                status: Set("connected".to_owned()),
                health_status: Set("ok".to_owned()),
                scopes_granted: Set(None),
                last_health_check_at: Set(Some(now())),
                metadata: Set(None),
                created_at: Set(now()),
                updated_at: Set(now()),
                ..Default::default()
            });
        }
        for position in 0..permissions {
            permission_rows.push(tenant_permission::ActiveModel {
                tenant_id: Set(*id),
                key: Set(format!("Permission.{position}")),
                status: Set("granted".to_owned()),
                details: Set(None),
                last_checked_at: Set(Some(now())),
                created_at: Set(now()),
                updated_at: Set(now()),
                ..Default::default()
            });
        }
    }
    insert_all(db, connection_rows).await;
    insert_all(db, permission_rows).await;
    ids
}
