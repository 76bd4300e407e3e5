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

impl crate::ReadByPosition for Model {
    fn read_by_position(row: &QueryResult) -> Result<Self, DbErr> {
        Ok(Self {
            id: row.try_get_by_index(0)?,
            tenant_id: row.try_get_by_index(1)?,
            provider: row.try_get_by_index(2)?,
            is_default: row.try_get_by_index(3)?,
            status: row.try_get_by_index(4)?,
            health_status: row.try_get_by_index(5)?,
            scopes_granted: row.try_get_by_index(6)?,
            last_health_check_at: row.try_get_by_index(7)?,
            metadata: row.try_get_by_index(8)?,
            created_at: row.try_get_by_index(9)?,
            updated_at: row.try_get_by_index(10)?,
        })
    }
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

#[cfg(test)]
mod tests {
    #[test]
    fn columns_are_read_in_their_declared_order() {
        crate::assert_read_order::<super::Entity>(&[
            "id",
            "tenant_id",
            "provider",
            "is_default",
            "status",
            "health_status",
            "scopes_granted",
            "last_health_check_at",
            "metadata",
            "created_at",
            "updated_at",
        ]);
    }
}
