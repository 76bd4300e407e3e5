//! `tenant_permissions`: whether the platform holds a permission in a tenant.

use sea_orm::entity::prelude::*;

use crate::Document;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_permissions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    /// The permission name, e.g. `DeviceManagementConfiguration.Read.All`.
    pub key: String,
    /// `granted`, `missing` or `error`.
    pub status: String,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub details: Option<Document>,
    pub last_checked_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::tenant::Entity",
        from = "Column::TenantId",
        to = "super::tenant::Column::Id"
    )]
    Tenant,
}

impl Related<super::tenant::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tenant.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
