//! `tenants`: a customer tenant managed by the platform, inside one workspace.

use sea_orm::entity::prelude::*;

use crate::Document;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub external_id: String,
    pub name: String,
    pub workspace_id: i64,
    /// `active`, `onboarding` or `archived`.
    pub status: String,
    /// Free text, e.g. `production`.
    pub environment: String,
    pub rbac_last_checked_at: Option<DateTimeUtc>,
    pub rbac_last_setup_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub rbac_canary_results: Option<Document>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub rbac_last_warnings: Option<Document>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub metadata: Option<Document>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::workspace::Entity",
        from = "Column::WorkspaceId",
        to = "super::workspace::Column::Id"
    )]
    Workspace,
    #[sea_orm(has_many = "super::provider_connection::Entity")]
    ProviderConnection,
    #[sea_orm(has_many = "super::tenant_permission::Entity")]
    TenantPermission,
    #[sea_orm(has_many = "super::operation_run::Entity")]
    OperationRun,
}

impl Related<super::workspace::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Workspace.def()
    }
}

impl Related<super::provider_connection::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ProviderConnection.def()
    }
}

impl Related<super::tenant_permission::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::TenantPermission.def()
    }
}

impl Related<super::operation_run::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::OperationRun.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
