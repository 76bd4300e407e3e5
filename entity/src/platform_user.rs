//! `platform_users`: operators of this console.

use sea_orm::entity::prelude::*;

use crate::Document;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "platform_users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    #[sea_orm(unique)]
    pub email: String,
    /// An argon2id PHC string; never leaves the service.
    pub password_hash: String,
    /// A JSON array of capability names.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub capabilities: Option<Document>,
    pub is_active: bool,
    pub last_login_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::platform_session::Entity")]
    PlatformSession,
}

impl Related<super::platform_session::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PlatformSession.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
