//! Audit logs: their filter and order.

use entity::audit_log;
use sea_orm::{ColumnTrait, Condition};

use super::filter::stored_in;
use super::page::{KeyKind, KeyValue, SortColumn, SortSpec};
use crate::domain::status::StoredSelection;
use crate::domain::window::TimeRange;

/// What a list of audit logs is narrowed to. Every part is optional; parts combine with
/// AND.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct AuditFilter {
    /// Logs recorded within the range, ends included.
    pub recorded: Option<TimeRange>,
    pub workspace_id: Option<i64>,
    pub tenant_id: Option<i64>,
    /// Exact actions, e.g. `platform.auth.login`.
    pub actions: Option<Vec<String>>,
    pub actor_id: Option<i64>,
    pub status: Option<StoredSelection>,
}

impl AuditFilter {
    /// The filter as SQL.
    pub fn condition(&self) -> Condition {
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
pub fn sort_spec() -> SortSpec {
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
pub fn sort_key(model: &audit_log::Model) -> Vec<KeyValue> {
    vec![KeyValue::Time(model.recorded_at), KeyValue::Int(model.id)]
}
