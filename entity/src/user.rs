//! `users`: people of the tenant plane, who start runs and belong to workspaces.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    #[sea_orm(unique)]
    pub email: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::workspace_membership::Entity")]
    WorkspaceMembership,
    #[sea_orm(has_many = "super::operation_run::Entity")]
    OperationRun,
}

impl Related<super::workspace_membership::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::WorkspaceMembership.def()
    }
}

impl Related<super::operation_run::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::OperationRun.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
