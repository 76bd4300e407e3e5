//! `platform_api_tokens`: dashboard tokens — long-lived, revocable API tokens for
//! wallboards, each with its capabilities and, optionally, the only documents it runs.

use sea_orm::entity::prelude::*;

use crate::Document;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "platform_api_tokens")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// What the token is called, e.g. `lobby-wallboard`; unique.
    #[sea_orm(unique)]
    pub name: String,
    /// SHA-256 of the token, lowercase hex; the token itself is never stored.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// A JSON array of capability names (read as null when malformed).
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub capabilities: Option<Document>,
    /// A JSON array of the trusted documents, `{"name", "sha256", "text"}`; empty when
    /// the token may run any document.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub documents: Option<Document>,
    pub expires_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
