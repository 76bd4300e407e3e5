//! Managing operators from the command line: create, list, disable. Each change is
//! audited, with the system as the actor.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use entity::{Document, platform_session, platform_user};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;

use super::credentials::{hash_password, new_token, token_hash};
use super::{Capability, stored_capabilities};
use crate::db::Db;
use crate::db::audit::{Actor, NewAuditEntry, record};
use crate::domain::audit::AuditAction;

/// Shortest password an operator may have.
pub(crate) const MIN_PASSWORD_CHARS: usize = 12;

/// Why an operator could not be created or changed.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("{0}")]
    Invalid(String),
    #[error("an operator with the e-mail {0} already exists")]
    Exists(String),
    #[error("no operator has the e-mail {0}")]
    NotFound(String),
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// What `operator create` asks for.
pub struct NewOperator<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub capabilities: &'a [String],
    pub password: &'a str,
}

/// Creates an operator; the e-mail is stored lowercase.
pub async fn create(
    db: &Db,
    new: NewOperator<'_>,
    now: DateTime<Utc>,
) -> Result<platform_user::Model, OperatorError> {
    let email = new.email.trim().to_lowercase();
    if !is_plausible_email(&email) {
        return Err(OperatorError::Invalid(format!(
            "{email:?} is not an e-mail address"
        )));
    }
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(OperatorError::Invalid(
            "the name must be 1 to 200 characters".to_owned(),
        ));
    }
    let mut capabilities = BTreeSet::new();
    for name in new.capabilities {
        let capability = Capability::parse(name.trim()).ok_or_else(|| {
            let known: Vec<&str> = Capability::ALL.iter().map(|c| c.name()).collect();
            OperatorError::Invalid(format!(
                "unknown capability {name:?}; known: {}",
                known.join(", ")
            ))
        })?;
        capabilities.insert(capability);
    }
    if new.password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(OperatorError::Invalid(format!(
            "the password must be at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    let existing = platform_user::Entity::find()
        .filter(platform_user::Column::Email.eq(email.clone()))
        .one(db)
        .await?;
    if existing.is_some() {
        return Err(OperatorError::Exists(email));
    }
    let password = new.password.to_owned();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|error| OperatorError::Hash(error.to_string()))?
        .map_err(|error| OperatorError::Hash(error.to_string()))?;
    let names: Vec<&str> = capabilities
        .iter()
        .map(|capability| capability.name())
        .collect();
    let transaction = db.begin().await?;
    let user = platform_user::ActiveModel {
        name: Set(name.to_owned()),
        email: Set(email),
        password_hash: Set(hash),
        capabilities: Set(Some(Document::from(json!(names)))),
        is_active: Set(true),
        last_login_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&transaction)
    .await?;
    let entry = NewAuditEntry {
        action: AuditAction::OperatorCreated,
        success: true,
        actor: Actor::System,
        workspace_id: None,
        tenant_id: None,
        metadata: json!({"operatorId": user.id, "email": user.email, "capabilities": names}),
    };
    record(&transaction, entry, now).await?;
    transaction.commit().await?;
    Ok(user)
}

/// Every operator, by e-mail.
pub(crate) async fn list(db: &Db) -> Result<Vec<platform_user::Model>, OperatorError> {
    Ok(platform_user::Entity::find()
        .order_by_asc(platform_user::Column::Email)
        .all(db)
        .await?)
}

/// Disables an operator and revokes their sessions.
pub async fn disable(
    db: &Db,
    email: &str,
    now: DateTime<Utc>,
) -> Result<platform_user::Model, OperatorError> {
    let email = email.trim().to_lowercase();
    let user = platform_user::Entity::find()
        .filter(platform_user::Column::Email.eq(email.clone()))
        .one(db)
        .await?
        .ok_or(OperatorError::NotFound(email))?;
    let transaction = db.begin().await?;
    let mut active: platform_user::ActiveModel = user.into();
    active.is_active = Set(false);
    active.updated_at = Set(now);
    let user = active.update(&transaction).await?;
    platform_session::Entity::update_many()
        .col_expr(platform_session::Column::RevokedAt, Expr::value(now))
        .col_expr(platform_session::Column::UpdatedAt, Expr::value(now))
        .filter(platform_session::Column::PlatformUserId.eq(user.id))
        .filter(platform_session::Column::RevokedAt.is_null())
        .exec(&transaction)
        .await?;
    let entry = NewAuditEntry {
        action: AuditAction::OperatorDisabled,
        success: true,
        actor: Actor::System,
        workspace_id: None,
        tenant_id: None,
        metadata: json!({"operatorId": user.id, "email": user.email}),
    };
    record(&transaction, entry, now).await?;
    transaction.commit().await?;
    Ok(user)
}

/// Opens a session for an operator without a password (the demo operator of
/// `serve --demo`); returns its token.
pub async fn open_session(
    db: &Db,
    user: &platform_user::Model,
    ttl: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<String, OperatorError> {
    let token = new_token();
    platform_session::ActiveModel {
        platform_user_id: Set(user.id),
        token_hash: Set(token_hash(&token)),
        expires_at: Set(now + ttl),
        last_seen_at: Set(None),
        revoked_at: Set(None),
        break_glass_started_at: Set(None),
        break_glass_expires_at: Set(None),
        break_glass_reason: Set(None),
        break_glass_expiry_recorded: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// An operator's capabilities, as listed by `operator list`.
pub(crate) fn capability_names(user: &platform_user::Model) -> Vec<&'static str> {
    stored_capabilities(user)
        .into_iter()
        .map(|capability| capability.name())
        .collect()
}

fn is_plausible_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && email.len() <= 320
                && !email.chars().any(char::is_whitespace)
        }
        None => false,
    }
}
