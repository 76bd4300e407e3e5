//! Tenants: their filter and orders.

use entity::tenant;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, DbBackend};

use super::filter::{contains_text, stored_in};
use super::health::tenants_at_level;
use super::page::{KeyKind, KeyValue, SortColumn, SortSpec};
use crate::domain::criteria::Criteria;
use crate::domain::health::HealthLevel;
use crate::domain::status::StoredSelection;
use crate::domain::window::TimeRange;

/// What a list of tenants is narrowed to. Every part is optional; parts combine with AND.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct TenantFilter {
    pub(crate) workspace_id: Option<i64>,
    pub(crate) statuses: Option<StoredSelection>,
    /// Exact environment, e.g. `production`.
    pub(crate) environment: Option<String>,
    /// Part of the name or external id, ASCII case ignored.
    pub(crate) search: Option<String>,
    /// Tenants whose health badge is at a level.
    pub(crate) health: Option<AtLevel>,
}

/// Tenants whose badge is at `level`, judged by `criteria` with the runs of `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct AtLevel {
    pub(crate) level: HealthLevel,
    pub(crate) window: TimeRange,
    pub(crate) criteria: Criteria,
}

impl TenantFilter {
    /// The filter as SQL.
    pub(crate) fn condition(&self, backend: DbBackend) -> Condition {
        let mut all = Condition::all();
        if let Some(workspace_id) = self.workspace_id {
            all = all.add(tenant::Column::WorkspaceId.eq(workspace_id));
        }
        if let Some(statuses) = &self.statuses {
            all = all.add(stored_in(tenant::Column::Status.into_expr(), statuses));
        }
        if let Some(environment) = &self.environment {
            all = all.add(tenant::Column::Environment.eq(environment.clone()));
        }
        if let Some(search) = &self.search {
            let columns = [
                Expr::col((tenant::Entity, tenant::Column::Name)),
                Expr::col((tenant::Entity, tenant::Column::ExternalId)),
            ];
            all = all.add(contains_text(backend, &columns, search));
        }
        if let Some(at) = &self.health {
            all = all.add(tenants_at_level(at.level, &at.criteria, at.window));
        }
        all
    }
}

/// The column tenants are sorted by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) enum TenantOrderField {
    #[default]
    Name,
    CreatedAt,
}

/// An order of tenants; ties are broken by id in the same direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct TenantOrder {
    pub(crate) field: TenantOrderField,
    pub(crate) descending: bool,
}

impl TenantOrder {
    /// The order as SQL.
    pub(crate) fn sort_spec(self) -> SortSpec {
        let (name, column, kind) = match self.field {
            TenantOrderField::Name => ("name", tenant::Column::Name, KeyKind::Text),
            TenantOrderField::CreatedAt => ("created_at", tenant::Column::CreatedAt, KeyKind::Time),
        };
        let direction = if self.descending { "desc" } else { "asc" };
        SortSpec {
            tag: format!("tenants:{name}:{direction}"),
            columns: vec![
                SortColumn::required(column.into_expr(), kind),
                SortColumn::required(tenant::Column::Id.into_expr(), KeyKind::Int),
            ],
            descending: self.descending,
        }
    }

    /// A tenant's position in this order.
    pub(crate) fn sort_key(self, model: &tenant::Model) -> Vec<KeyValue> {
        let first = match self.field {
            TenantOrderField::Name => KeyValue::Text(model.name.clone()),
            TenantOrderField::CreatedAt => KeyValue::Time(model.created_at),
        };
        vec![first, KeyValue::Int(model.id)]
    }
}
