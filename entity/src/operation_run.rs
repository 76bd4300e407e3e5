//! `operation_runs`: one execution of a platform operation (a sync, a scan, …).

use sea_orm::entity::prelude::*;

use crate::Document;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "operation_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub workspace_id: i64,
    pub tenant_id: Option<i64>,
    pub user_id: Option<i64>,
    pub initiator_name: Option<String>,
    /// e.g. `inventory.sync`.
    #[sea_orm(column_name = "type")]
    pub r#type: String,
    /// `queued`, `running` or `completed`.
    pub status: String,
    /// `pending`, `succeeded`, `partially_succeeded`, `failed` or `canceled`.
    pub outcome: String,
    /// A JSON object of counters.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub summary_counts: Option<Document>,
    /// A JSON array of failures.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub failure_summary: Option<Document>,
    /// A JSON object describing what the run was asked to do.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub context: Option<Document>,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
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
    #[sea_orm(
        belongs_to = "super::tenant::Entity",
        from = "Column::TenantId",
        to = "super::tenant::Column::Id"
    )]
    Tenant,
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id"
    )]
    User,
}

impl Related<super::workspace::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Workspace.def()
    }
}

impl Related<super::tenant::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tenant.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
