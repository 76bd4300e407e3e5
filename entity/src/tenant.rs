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

impl crate::ReadByPosition for Model {
    fn read_by_position(row: &QueryResult) -> Result<Self, DbErr> {
        Ok(Self {
            id: row.try_get_by_index(0)?,
            external_id: row.try_get_by_index(1)?,
            name: row.try_get_by_index(2)?,
            workspace_id: row.try_get_by_index(3)?,
            status: row.try_get_by_index(4)?,
            environment: row.try_get_by_index(5)?,
            rbac_last_checked_at: row.try_get_by_index(6)?,
            rbac_last_setup_at: row.try_get_by_index(7)?,
            rbac_canary_results: row.try_get_by_index(8)?,
            rbac_last_warnings: row.try_get_by_index(9)?,
            metadata: row.try_get_by_index(10)?,
            created_at: row.try_get_by_index(11)?,
            updated_at: row.try_get_by_index(12)?,
        })
    }
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

#[cfg(test)]
mod tests {
    #[test]
    fn columns_are_read_in_their_declared_order() {
        crate::assert_read_order::<super::Entity>(&[
            "id",
            "external_id",
            "name",
            "workspace_id",
            "status",
            "environment",
            "rbac_last_checked_at",
            "rbac_last_setup_at",
            "rbac_canary_results",
            "rbac_last_warnings",
            "metadata",
            "created_at",
            "updated_at",
        ]);
    }
}
