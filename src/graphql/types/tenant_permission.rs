//! `TenantPermission`.

use std::sync::Arc;

use async_graphql::{Context, ID, Json, Object};
use chrono::{DateTime, Utc};
use entity::tenant_permission;
use serde_json::Value;

use super::tenant::Tenant;
use crate::domain::status;
use crate::error::AppResult;
use crate::graphql::enums::PermissionStatus;
use crate::graphql::ids::NodeKind;
use crate::graphql::scope::Scope;

#[derive(Clone)]
pub(crate) struct TenantPermission {
    pub(crate) model: Arc<tenant_permission::Model>,
}

super::row_object!(TenantPermission, tenant_permission);

/// A permission the platform needs in a tenant, and whether it holds it.
#[Object]
impl TenantPermission {
    /// The global id, for `node(id:)`.
    pub(crate) async fn id(&self) -> ID {
        NodeKind::TenantPermission.id(self.model.id)
    }

    /// The id of the row in the database.
    pub(crate) async fn database_id(&self) -> i64 {
        self.model.id
    }

    /// The permission's name, e.g. `DeviceManagementConfiguration.Read.All`.
    async fn key(&self) -> &str {
        &self.model.key
    }

    /// Whether the permission is held.
    async fn status(&self) -> PermissionStatus {
        status::PermissionStatus::from_stored(&self.model.status).into()
    }

    /// Details of the last check, redacted.
    async fn details(&self) -> Option<Json<Value>> {
        super::shown(self.model.details.as_ref())
    }

    /// When the permission was last checked; null if never.
    async fn last_checked_at(&self) -> Option<DateTime<Utc>> {
        self.model.last_checked_at
    }

    /// The tenant the permission is needed in.
    async fn tenant(&self, ctx: &Context<'_>) -> AppResult<Tenant> {
        let scope = Scope::of(ctx)?;
        let row = scope.loaders.tenants.load_one(self.model.tenant_id).await?;
        super::existing(row, || format!("tenant {}", self.model.tenant_id)).map(Tenant::from)
    }
}
