//! Audit logs: their filter and order.

use entity::audit_log;
use sea_orm::{ColumnTrait, Condition};

use super::filter::stored_in;
use super::page::{KeyKind, KeyValue, SortColumn, SortSpec};
use crate::domain::audit::AuditAction;
use crate::domain::status::{ActorType, AuditStatus, StoredSelection};
use crate::domain::window::TimeRange;

/// What a list of audit logs is narrowed to. Every part is optional; parts combine with
/// AND.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct AuditFilter {
    /// Logs recorded within the range, ends included.
    pub(crate) recorded: Option<TimeRange>,
    pub(crate) workspace_id: Option<i64>,
    pub(crate) tenant_id: Option<i64>,
    /// Exact actions, e.g. `platform.auth.login`.
    pub(crate) actions: Option<Vec<String>>,
    pub(crate) actor_id: Option<i64>,
    pub(crate) status: Option<StoredSelection>,
}

impl AuditFilter {
    /// The filter as SQL.
    pub(crate) fn condition(&self) -> Condition {
        let mut all = Condition::all();
        if let Some(range) = self.recorded {
            all = all
                .add(audit_log::Column::RecordedAt.gte(range.start))
                .add(audit_log::Column::RecordedAt.lte(range.end));
        }
        if let Some(workspace_id) = self.workspace_id {
            all = all.add(audit_log::Column::WorkspaceId.eq(workspace_id));
        }
        if let Some(tenant_id) = self.tenant_id {
            all = all.add(audit_log::Column::TenantId.eq(tenant_id));
        }
        if let Some(actions) = &self.actions {
            all = all.add(audit_log::Column::Action.is_in(actions.iter().cloned()));
        }
        if let Some(actor_id) = self.actor_id {
            all = all.add(audit_log::Column::ActorId.eq(actor_id));
        }
        if let Some(status) = &self.status {
            all = all.add(stored_in(audit_log::Column::Status.into_expr(), status));
        }
        all
    }
}

/// Newest first, then by id.
pub(crate) fn sort_spec() -> SortSpec {
    SortSpec {
        tag: "audit:recorded_at:desc".to_owned(),
        columns: vec![
            SortColumn::required(audit_log::Column::RecordedAt.into_expr(), KeyKind::Time),
            SortColumn::required(audit_log::Column::Id.into_expr(), KeyKind::Int),
        ],
        descending: true,
    }
}

/// A log's position in [`sort_spec`].
pub(crate) fn sort_key(model: &audit_log::Model) -> Vec<KeyValue> {
    vec![KeyValue::Time(model.recorded_at), KeyValue::Int(model.id)]
}

/// A new entry of the audit trail. Its metadata must already be free of secrets: the
/// writers put in only ids, reasons, notes and network addresses.
#[derive(Clone, Debug)]
pub(crate) struct NewAuditEntry {
    pub(crate) action: AuditAction,
    pub(crate) success: bool,
    pub(crate) actor: Actor,
    pub(crate) workspace_id: Option<i64>,
    pub(crate) tenant_id: Option<i64>,
    pub(crate) metadata: serde_json::Value,
}

/// Who acted.
#[derive(Clone, Debug)]
pub(crate) enum Actor {
    /// An operator of this console, as far as known (a failed login may name an e-mail
    /// that has no operator).
    Operator {
        id: Option<i64>,
        name: Option<String>,
        email: Option<String>,
    },
    /// The service itself (expiry sweeps, the command line).
    System,
}

/// Appends `entry` to the audit trail, recorded at `now`.
pub(crate) async fn record(
    db: &impl sea_orm::ConnectionTrait,
    entry: NewAuditEntry,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<audit_log::Model, sea_orm::DbErr> {
    use sea_orm::ActiveModelTrait;
    use sea_orm::ActiveValue::Set;
    let (actor_type, actor_id, actor_name, actor_email) = match entry.actor {
        Actor::Operator { id, name, email } => (ActorType::PlatformUser, id, name, email),
        Actor::System => (
            ActorType::System,
            None,
            Some(ActorType::System.as_stored().to_owned()),
            None,
        ),
    };
    let status = if entry.success {
        AuditStatus::Success
    } else {
        AuditStatus::Failure
    };
    audit_log::ActiveModel {
        workspace_id: Set(entry.workspace_id),
        tenant_id: Set(entry.tenant_id),
        actor_id: Set(actor_id),
        actor_type: Set(actor_type.as_stored().to_owned()),
        actor_name: Set(actor_name),
        actor_email: Set(actor_email),
        action: Set(entry.action.as_stored().to_owned()),
        status: Set(status.as_stored().to_owned()),
        metadata: Set(Some(entity::Document::from(entry.metadata))),
        recorded_at: Set(now),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// The investigations of each run, newest first, in one statement.
pub(crate) async fn investigations_of(
    db: &super::Db,
    runs: &[i64],
) -> Result<std::collections::HashMap<i64, Vec<audit_log::Model>>, sea_orm::DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder};
    // The run id as text, read from the metadata; malformed JSON (possible on SQLite)
    // reads as NULL rather than failing the statement.
    let run_id = match db.get_database_backend() {
        DbBackend::Postgres => Expr::cust("\"audit_logs\".\"metadata\" ->> 'runId'"),
        _ => Expr::cust(
            "CASE WHEN json_valid(\"audit_logs\".\"metadata\") \
             THEN CAST(json_extract(\"audit_logs\".\"metadata\", '$.runId') AS TEXT) END",
        ),
    };
    let rows = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq(AuditAction::RunInvestigated.as_stored()))
        .filter(run_id.is_in(runs.iter().map(|id| id.to_string())))
        .order_by_desc(audit_log::Column::RecordedAt)
        .order_by_desc(audit_log::Column::Id)
        .all(db)
        .await?;
    let mut grouped: std::collections::HashMap<i64, Vec<audit_log::Model>> =
        std::collections::HashMap::new();
    for row in rows {
        let run = row
            .metadata
            .as_ref()
            .and_then(|metadata| metadata.value().get("runId"))
            .and_then(serde_json::Value::as_i64);
        if let Some(run) = run {
            grouped.entry(run).or_default().push(row);
        }
    }
    Ok(grouped)
}
