//! `TenantPermission`.

use std::sync::Arc;

use async_graphql::parser::types::SelectionSet;
use async_graphql::{Context, ID, Json, Object, Value as GraphQLValue};
use chrono::{DateTime, Utc};
use entity::tenant_permission;
use serde_json::Value;

use super::tenant::Tenant;
use crate::db::tables::PermissionSummary;
use crate::domain::status;
use crate::error::AppResult;
use crate::graphql::enums::PermissionStatus;
use crate::graphql::ids::NodeKind;
use crate::graphql::immediate::{Plain, Planned, enum_leaf, leaf, nothing, text};
use crate::graphql::scope::Scope;

/// A permission row: whole, or summarized when its list did not ask for `details`
/// (see [`PermissionSummary`]).
#[derive(Clone)]
pub(crate) enum TenantPermission {
    Whole(Arc<tenant_permission::Model>),
    Summary(Arc<PermissionSummary>),
}

impl From<tenant_permission::Model> for TenantPermission {
    fn from(model: tenant_permission::Model) -> Self {
        Self::Whole(Arc::new(model))
    }
}

impl From<Arc<tenant_permission::Model>> for TenantPermission {
    fn from(model: Arc<tenant_permission::Model>) -> Self {
        Self::Whole(model)
    }
}

impl From<Arc<PermissionSummary>> for TenantPermission {
    fn from(summary: Arc<PermissionSummary>) -> Self {
        Self::Summary(summary)
    }
}

impl TenantPermission {
    fn row_id(&self) -> i64 {
        match self {
            Self::Whole(model) => model.id,
            Self::Summary(summary) => summary.id,
        }
    }

    fn tenant_id(&self) -> i64 {
        match self {
            Self::Whole(model) => model.tenant_id,
            Self::Summary(summary) => summary.tenant_id,
        }
    }

    fn key_text(&self) -> &str {
        match self {
            Self::Whole(model) => &model.key,
            Self::Summary(summary) => &summary.key,
        }
    }

    fn status_value(&self) -> PermissionStatus {
        match self {
            Self::Whole(model) => status::PermissionStatus::from_stored(&model.status).into(),
            Self::Summary(summary) => summary.status.into(),
        }
    }

    fn checked_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::Whole(model) => model.last_checked_at,
            Self::Summary(summary) => summary.last_checked_at,
        }
    }

    /// The whole row; a summary's is loaded (one statement for all of a list's rows).
    async fn whole(&self, ctx: &Context<'_>) -> AppResult<Arc<tenant_permission::Model>> {
        let id = match self {
            Self::Whole(model) => return Ok(model.clone()),
            Self::Summary(summary) => summary.id,
        };
        let row = Scope::of(ctx)?.loaders.permissions().load_one(id).await?;
        super::existing(row, || format!("permission {id}"))
    }
}

/// A permission the platform needs in a tenant, and whether it holds it.
#[Object]
impl TenantPermission {
    /// The global id, for `node(id:)`.
    pub(crate) async fn id(&self) -> ID {
        NodeKind::TenantPermission.id(self.row_id())
    }

    /// The id of the row in the database.
    pub(crate) async fn database_id(&self) -> i64 {
        self.row_id()
    }

    /// The permission's name, e.g. `DeviceManagementConfiguration.Read.All`.
    async fn key(&self) -> &str {
        self.key_text()
    }

    /// Whether the permission is held.
    async fn status(&self) -> PermissionStatus {
        self.status_value()
    }

    /// Details of the last check, redacted.
    async fn details(&self, ctx: &Context<'_>) -> AppResult<Option<Json<Value>>> {
        let row = self.whole(ctx).await?;
        Ok(super::shown(row.details.as_ref()))
    }

    /// When the permission was last checked; null if never.
    async fn last_checked_at(&self) -> Option<DateTime<Utc>> {
        self.checked_at()
    }

    /// The tenant the permission is needed in.
    async fn tenant(&self, ctx: &Context<'_>) -> AppResult<Tenant> {
        let scope = Scope::of(ctx)?;
        let tenant_id = self.tenant_id();
        let row = scope.loaders.tenants().load_one(tenant_id).await?;
        super::existing(row, || format!("tenant {tenant_id}")).map(Tenant::from)
    }
}

impl Plain for TenantPermission {
    type Loaded = ();
    const LEAVES: &'static [&'static str] = &["id", "databaseId", "key", "status", "lastCheckedAt"];

    async fn load(objects: &[Self], _: &Scope, _: &SelectionSet) -> Option<Vec<()>> {
        nothing(objects)
    }

    fn value(&self, field: &Planned<'_>, (): &()) -> GraphQLValue {
        match field.name() {
            "id" => leaf(NodeKind::TenantPermission.id(self.row_id())),
            "databaseId" => leaf(self.row_id()),
            "key" => text(self.key_text()),
            "status" => enum_leaf!(PermissionStatus, self.status_value()),
            "lastCheckedAt" => leaf(self.checked_at()),
            _ => GraphQLValue::Null,
        }
    }
}
