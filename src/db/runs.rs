//! Operation runs: their filter and orders.

use entity::operation_run;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, Condition};

use super::filter::stored_in;
use super::page::{KeyKind, KeyValue, SortColumn, SortSpec};
use crate::domain::criteria::Criteria;
use crate::domain::status::{RunStatus, StoredSelection};
use crate::domain::window::TimeRange;

/// The stuck rule of SPEC §3 in SQL; `domain::stuck::stuck` is the same rule in Rust.
/// Null-safe: it is true or false for every row, never NULL, so `NOT` works too.
pub(crate) fn stuck_condition(criteria: &Criteria) -> Condition {
    let [queued, running] = stuck_conditions(criteria);
    Condition::any().add(queued).add(running)
}

/// The two halves of the stuck rule, queued and running, each matching one of the
/// partial indexes of the `dense_data` migration: counted apart, each is an index-only
/// count, where their `OR` reads the table. The statuses are literals, not bound values,
/// so that SQLite and PostgreSQL's generic plans see that a half implies its index's
/// predicate.
pub(crate) fn stuck_conditions(criteria: &Criteria) -> [Condition; 2] {
    use operation_run::Column;
    let (now, rules) = (criteria.now, criteria.stuck);
    let status = |status: RunStatus| {
        Expr::col(Column::Status).eq(Expr::cust(format!("'{}'", status.as_stored())))
    };
    let queued = Condition::all()
        .add(status(RunStatus::Queued))
        .add(Column::StartedAt.is_null())
        .add(Column::CreatedAt.lte(rules.queued_before(now)));
    let running = Condition::all()
        .add(status(RunStatus::Running))
        .add(Column::StartedAt.is_not_null())
        .add(Column::StartedAt.lte(rules.running_before(now)));
    [queued, running]
}

/// Whether the runs listed must be stuck, or must not be, as judged by `criteria`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct StuckFilter {
    pub(crate) stuck: bool,
    pub(crate) criteria: Criteria,
}

/// What a list of runs is narrowed to. Every part is optional; parts combine with AND.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct RunFilter {
    /// Runs created within the range, ends included.
    pub(crate) created: Option<TimeRange>,
    pub(crate) workspace_id: Option<i64>,
    pub(crate) tenant_id: Option<i64>,
    /// Exact run types, e.g. `inventory.sync`.
    pub(crate) types: Option<Vec<String>>,
    pub(crate) statuses: Option<StoredSelection>,
    pub(crate) outcomes: Option<StoredSelection>,
    pub(crate) stuck: Option<StuckFilter>,
}

impl RunFilter {
    /// The filter as SQL.
    pub(crate) fn condition(&self) -> Condition {
        let mut all = Condition::all();
        if let Some(range) = self.created {
            all = all
                .add(operation_run::Column::CreatedAt.gte(range.start))
                .add(operation_run::Column::CreatedAt.lte(range.end));
        }
        if let Some(workspace_id) = self.workspace_id {
            all = all.add(operation_run::Column::WorkspaceId.eq(workspace_id));
        }
        if let Some(tenant_id) = self.tenant_id {
            all = all.add(operation_run::Column::TenantId.eq(tenant_id));
        }
        if let Some(types) = &self.types {
            all = all.add(operation_run::Column::Type.is_in(types.iter().cloned()));
        }
        if let Some(statuses) = &self.statuses {
            all = all.add(stored_in(
                operation_run::Column::Status.into_expr(),
                statuses,
            ));
        }
        if let Some(outcomes) = &self.outcomes {
            all = all.add(stored_in(
                operation_run::Column::Outcome.into_expr(),
                outcomes,
            ));
        }
        if let Some(filter) = self.stuck {
            let stuck = stuck_condition(&filter.criteria);
            all = all.add(if filter.stuck { stuck } else { stuck.not() });
        }
        all
    }
}

/// The column runs are sorted by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[expect(
    clippy::enum_variant_names,
    reason = "each is named after the column it sorts by"
)]
pub(crate) enum RunOrderField {
    #[default]
    CreatedAt,
    StartedAt,
    CompletedAt,
}

/// An order of runs; ties are broken by id in the same direction. Runs not started (or
/// not completed) come last when sorting by `started_at` (or `completed_at`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct RunOrder {
    pub(crate) field: RunOrderField,
    pub(crate) descending: bool,
}

impl Default for RunOrder {
    /// Newest first.
    fn default() -> Self {
        Self {
            field: RunOrderField::CreatedAt,
            descending: true,
        }
    }
}

impl RunOrder {
    /// The order as SQL.
    pub(crate) fn sort_spec(self) -> SortSpec {
        let (name, first) = match self.field {
            RunOrderField::CreatedAt => (
                "created_at",
                SortColumn::required(operation_run::Column::CreatedAt.into_expr(), KeyKind::Time),
            ),
            RunOrderField::StartedAt => (
                "started_at",
                SortColumn::nullable(operation_run::Column::StartedAt.into_expr(), KeyKind::Time),
            ),
            RunOrderField::CompletedAt => (
                "completed_at",
                SortColumn::nullable(
                    operation_run::Column::CompletedAt.into_expr(),
                    KeyKind::Time,
                ),
            ),
        };
        let direction = if self.descending { "desc" } else { "asc" };
        SortSpec {
            tag: format!("runs:{name}:{direction}"),
            columns: vec![
                first,
                SortColumn::required(operation_run::Column::Id.into_expr(), KeyKind::Int),
            ],
            descending: self.descending,
        }
    }

    /// A run's position in this order.
    pub(crate) fn sort_key(self, model: &operation_run::Model) -> Vec<KeyValue> {
        let first = match self.field {
            RunOrderField::CreatedAt => KeyValue::Time(model.created_at),
            RunOrderField::StartedAt => KeyValue::time(model.started_at),
            RunOrderField::CompletedAt => KeyValue::time(model.completed_at),
        };
        vec![first, KeyValue::Int(model.id)]
    }
}
