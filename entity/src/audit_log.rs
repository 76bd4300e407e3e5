//! `audit_logs`: an append-only trail of what operators, users and the system did.
//!
//! Its workspace, tenant and actor ids are references kept for history, not foreign
//! keys: an audit row outlives what it mentions.

use sea_orm::entity::prelude::*;

use crate::Document;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_logs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub workspace_id: Option<i64>,
    pub tenant_id: Option<i64>,
    pub actor_id: Option<i64>,
    /// `platform_user`, `user` or `system`.
    pub actor_type: String,
    pub actor_name: Option<String>,
    pub actor_email: Option<String>,
    /// e.g. `platform.auth.login`.
    pub action: String,
    /// `success` or `failure`.
    pub status: String,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub metadata: Option<Document>,
    pub recorded_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
