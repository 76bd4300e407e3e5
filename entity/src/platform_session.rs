//! `platform_sessions`: an operator's login session and its break-glass elevation.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "platform_sessions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub platform_user_id: i64,
    /// SHA-256 of the bearer token, lowercase hex; the token itself is never stored.
    #[sea_orm(unique)]
    pub token_hash: String,
    pub expires_at: DateTimeUtc,
    pub last_seen_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub break_glass_started_at: Option<DateTimeUtc>,
    pub break_glass_expires_at: Option<DateTimeUtc>,
    pub break_glass_reason: Option<String>,
    pub break_glass_expiry_recorded: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::platform_user::Entity",
        from = "Column::PlatformUserId",
        to = "super::platform_user::Column::Id"
    )]
    PlatformUser,
}

impl Related<super::platform_user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PlatformUser.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
