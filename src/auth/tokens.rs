//! Dashboard tokens (SPEC §9c): a wallboard is not a person. A token is made from the
//! command line with a name, read-only capabilities, an expiry and, optionally, the only
//! documents it runs; it is printed once and stored as its SHA-256. Revoking it ends it
//! at once: every request looks the token up, and a WebSocket connection looks again
//! every few seconds.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use entity::{Document, platform_api_token};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use sea_orm::{QueryOrder, sea_query::Expr};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::credentials::{new_token, token_hash};
use super::operators::OperatorError;
use super::{Capability, Refusal};
use crate::db::Db;
use crate::db::audit::{Actor, NewAuditEntry, record};
use crate::domain::audit::AuditAction;

/// What every dashboard token starts with: it tells a token from a session's, and lets
/// secret scanners find one that leaked.
pub(crate) const TOKEN_PREFIX: &str = "ctd_";
/// Longest life a token may be given, in days.
const MAX_DAYS: u32 = 3650;
/// What a dashboard token may hold: it reads, and acts for no one.
const READ_ONLY: [Capability; 3] = [
    Capability::ConsoleView,
    Capability::AuditView,
    Capability::SensitiveView,
];

/// A document a token trusts.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct TrustedDocument {
    /// The names of its operations, for a request that names one instead of sending
    /// the text.
    pub names: Vec<String>,
    /// The SHA-256 of its text, lowercase hex.
    pub sha256: String,
    /// Its text.
    pub text: String,
}

impl TrustedDocument {
    /// A document of `text`: it must parse, and it may not change anything.
    pub fn of_text(text: &str) -> Result<Self, String> {
        use async_graphql::parser::types::OperationType;
        let document = async_graphql::parser::parse_query(text)
            .map_err(|error| format!("it is not a GraphQL document: {error}"))?;
        let mut names = Vec::new();
        for (name, operation) in document.operations.iter() {
            if operation.node.ty == OperationType::Mutation {
                return Err("it holds a mutation, and a dashboard token only reads".to_owned());
            }
            if let Some(name) = name {
                names.push(name.to_string());
            }
        }
        Ok(Self {
            names,
            sha256: token_hash(text),
            text: text.to_owned(),
        })
    }
}

/// A dashboard token, as a request authenticated by it sees it.
#[derive(Clone, Debug)]
pub(crate) struct DashboardToken {
    pub(crate) model: platform_api_token::Model,
}

impl DashboardToken {
    /// What the token may do.
    pub(crate) fn capabilities(&self) -> BTreeSet<Capability> {
        capabilities_of(&self.model)
    }

    /// The only documents it runs; empty when it runs any.
    pub(crate) fn documents(&self) -> Vec<TrustedDocument> {
        documents_of(&self.model)
    }
}

fn capabilities_of(model: &platform_api_token::Model) -> BTreeSet<Capability> {
    match model.capabilities.as_ref().map(Document::value) {
        Some(serde_json::Value::Array(names)) => names
            .iter()
            .filter_map(serde_json::Value::as_str)
            .filter_map(Capability::parse)
            .filter(|capability| READ_ONLY.contains(capability))
            .collect(),
        _ => BTreeSet::new(),
    }
}

fn documents_of(model: &platform_api_token::Model) -> Vec<TrustedDocument> {
    model
        .documents
        .as_ref()
        .and_then(|documents| serde_json::from_value(documents.value().clone()).ok())
        .unwrap_or_default()
}

/// The dashboard token `token` names, at `now`, in one statement.
pub(crate) async fn authenticate(
    db: &impl ConnectionTrait,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Result<DashboardToken, Refusal>, DbErr> {
    let found = platform_api_token::Entity::find()
        .filter(platform_api_token::Column::TokenHash.eq(token_hash(token)))
        .one(db)
        .await?;
    let Some(model) = found else {
        return Ok(Err(Refusal::Unknown));
    };
    Ok(if model.revoked_at.is_some() {
        Err(Refusal::TokenRevoked)
    } else if model.expires_at <= now {
        Err(Refusal::TokenExpired)
    } else {
        Ok(DashboardToken { model })
    })
}

/// Notes a token's use at most once a minute, off the request's path.
pub(crate) fn touch(db: &Db, token: &DashboardToken, now: DateTime<Utc>) {
    let recent = token
        .model
        .last_used_at
        .is_some_and(|used| now - used < chrono::Duration::minutes(1));
    if recent {
        return;
    }
    let connection = db.detached();
    let id = token.model.id;
    tokio::spawn(async move {
        let updated = platform_api_token::Entity::update_many()
            .col_expr(platform_api_token::Column::LastUsedAt, Expr::value(now))
            .filter(platform_api_token::Column::Id.eq(id))
            .exec(&connection)
            .await;
        if let Err(error) = updated {
            tracing::warn!(%error, "could not note a dashboard token's use");
        }
    });
}

/// What `operator token create` asks for.
pub struct NewToken<'a> {
    pub name: &'a str,
    pub capabilities: &'a [String],
    pub expires_in_days: u32,
    pub documents: Vec<TrustedDocument>,
}

/// Creates a token; returns it with its secret, which is not stored.
pub async fn create(
    db: &Db,
    new: NewToken<'_>,
    now: DateTime<Utc>,
) -> Result<(platform_api_token::Model, String), OperatorError> {
    let name = new.name.trim();
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || name.len() > 100 || !name.chars().all(plain) {
        return Err(OperatorError::Invalid(
            "the name must be 1 to 100 letters, digits, `-`, `_` or `.`".to_owned(),
        ));
    }
    let mut capabilities = BTreeSet::new();
    for name in new.capabilities {
        let capability = Capability::parse(name.trim())
            .filter(|capability| READ_ONLY.contains(capability))
            .ok_or_else(|| {
                let known: Vec<&str> = READ_ONLY.iter().map(|c| c.name()).collect();
                OperatorError::Invalid(format!(
                    "a dashboard token only reads: {name:?} is not one of {}",
                    known.join(", ")
                ))
            })?;
        capabilities.insert(capability);
    }
    if !capabilities.contains(&Capability::ConsoleView) {
        return Err(OperatorError::Invalid(
            "a dashboard token needs console.view: every field of the console does".to_owned(),
        ));
    }
    if !(1..=MAX_DAYS).contains(&new.expires_in_days) {
        return Err(OperatorError::Invalid(format!(
            "--expires-in must be 1 to {MAX_DAYS} days"
        )));
    }
    let existing = platform_api_token::Entity::find()
        .filter(platform_api_token::Column::Name.eq(name))
        .one(db)
        .await?;
    if existing.is_some() {
        return Err(OperatorError::Invalid(format!(
            "a dashboard token named {name} exists already"
        )));
    }
    let secret = format!("{TOKEN_PREFIX}{}", new_token());
    let names: Vec<&str> = capabilities.iter().map(|c| c.name()).collect();
    let transaction = db.begin().await?;
    let model = platform_api_token::ActiveModel {
        name: Set(name.to_owned()),
        token_hash: Set(token_hash(&secret)),
        capabilities: Set(Some(Document::from(json!(names)))),
        documents: Set(Some(Document::from(json!(new.documents)))),
        expires_at: Set(now + chrono::Duration::days(i64::from(new.expires_in_days))),
        last_used_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&transaction)
    .await?;
    let hashes: Vec<&str> = new.documents.iter().map(|d| d.sha256.as_str()).collect();
    let entry = NewAuditEntry {
        action: AuditAction::TokenCreated,
        success: true,
        actor: Actor::System,
        workspace_id: None,
        tenant_id: None,
        metadata: json!({
            "tokenId": model.id,
            "name": model.name,
            "capabilities": names,
            "documents": hashes,
            "expiresAt": model.expires_at,
        }),
    };
    record(&transaction, entry, now).await?;
    transaction.commit().await?;
    Ok((model, secret))
}

/// A token as `operator token list` shows it: never its secret.
pub struct Listed {
    pub name: String,
    pub capabilities: Vec<&'static str>,
    pub documents: Vec<TrustedDocument>,
    pub expires_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Every token, by name.
pub async fn list(db: &Db) -> Result<Vec<Listed>, OperatorError> {
    let tokens = platform_api_token::Entity::find()
        .order_by_asc(platform_api_token::Column::Name)
        .all(db)
        .await?;
    Ok(tokens
        .into_iter()
        .map(|model| Listed {
            capabilities: capabilities_of(&model).iter().map(|c| c.name()).collect(),
            documents: documents_of(&model),
            name: model.name,
            expires_at: model.expires_at,
            last_used_at: model.last_used_at,
            revoked_at: model.revoked_at,
        })
        .collect())
}

/// Revokes the token named `name`, at once.
pub async fn revoke(
    db: &Db,
    name: &str,
    now: DateTime<Utc>,
) -> Result<platform_api_token::Model, OperatorError> {
    let name = name.trim();
    let token = platform_api_token::Entity::find()
        .filter(platform_api_token::Column::Name.eq(name))
        .one(db)
        .await?
        .ok_or_else(|| OperatorError::Invalid(format!("no dashboard token is named {name}")))?;
    if token.revoked_at.is_some() {
        return Ok(token);
    }
    let transaction = db.begin().await?;
    let mut active: platform_api_token::ActiveModel = token.into();
    active.revoked_at = Set(Some(now));
    active.updated_at = Set(now);
    let token = active.update(&transaction).await?;
    let entry = NewAuditEntry {
        action: AuditAction::TokenRevoked,
        success: true,
        actor: Actor::System,
        workspace_id: None,
        tenant_id: None,
        metadata: json!({"tokenId": token.id, "name": token.name}),
    };
    record(&transaction, entry, now).await?;
    transaction.commit().await?;
    Ok(token)
}
