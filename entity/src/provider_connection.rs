//! `provider_connections`: a tenant's link to an identity or cloud provider.

use sea_orm::entity::prelude::*;

use crate::Document;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "provider_connections")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    /// e.g. `microsoft`.
    pub provider: String,
    pub is_default: bool,
    /// `connected`, `needs_consent`, `error` or `disabled`.
    pub status: String,
    /// `ok`, `degraded`, `down` or `unknown`.
    pub health_status: String,
    /// A JSON array of scope names.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub scopes_granted: Option<Document>,
    pub last_health_check_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub metadata: Option<Document>,
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
