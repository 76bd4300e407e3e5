//! `login` and `logout`, audited, with failed attempts throttled per e-mail.

use chrono::{DateTime, Duration, Utc};
use entity::{audit_log, platform_session, platform_user};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use super::Viewer;
use super::credentials::{burn_verification, new_token, token_hash, verify_password};
use crate::db::Db;
use crate::db::audit::{Actor, NewAuditEntry, record};
use crate::domain::audit::AuditAction;
use crate::domain::status::AuditStatus;
use crate::domain::text::NUL_REFUSED;
use crate::error::{AppError, AppResult};

/// Failed logins for one e-mail that close it for [`THROTTLE_WINDOW`].
pub(crate) const MAX_FAILURES: u64 = 5;
/// How far back failed logins count.
pub(crate) const THROTTLE_WINDOW: Duration = Duration::minutes(15);
/// Longest e-mail address accepted, in characters (RFC 5321's path limit).
const MAX_EMAIL_CHARS: usize = 320;
/// Longest password accepted, in bytes.
const MAX_PASSWORD_BYTES: usize = 1024;

/// A new session.
pub(crate) struct LoggedIn {
    pub(crate) token: String,
    pub(crate) user: platform_user::Model,
    pub(crate) session: platform_session::Model,
}

/// Where an attempt came from, for the audit trail.
#[derive(Clone, Debug, Default)]
pub(crate) struct Origin {
    pub(crate) ip: Option<String>,
}

/// Checks the credentials and opens a session of `ttl`. Every attempt is audited, even
/// one whose e-mail or password is malformed (`BAD_USER_INPUT`, checked before any
/// statement uses them). A
/// failure says only "invalid credentials", whether or not the e-mail exists, after a
/// password check either way; more than [`MAX_FAILURES`] in [`THROTTLE_WINDOW`] answer
/// `RATE_LIMITED` without checking.
pub(crate) async fn login(
    db: &Db,
    email: &str,
    password: &str,
    ttl: Duration,
    now: DateTime<Utc>,
    origin: &Origin,
) -> AppResult<LoggedIn> {
    let email = email.trim().to_lowercase();
    if let Some(problem) = malformed(&email, password) {
        let entry = NewAuditEntry {
            action: AuditAction::Login,
            success: false,
            actor: Actor::Operator {
                id: None,
                name: None,
                email: storable(&email),
            },
            workspace_id: None,
            tenant_id: None,
            metadata: json!({"reason": "malformed", "ip": origin.ip}),
        };
        record(db, entry, now).await?;
        return Err(AppError::bad_input(problem));
    }
    let failures = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq(AuditAction::Login.as_stored()))
        .filter(audit_log::Column::Status.eq(AuditStatus::Failure.as_stored()))
        .filter(audit_log::Column::ActorEmail.eq(email.clone()))
        .filter(audit_log::Column::RecordedAt.gt(now - THROTTLE_WINDOW))
        .count(db)
        .await?;
    let user = platform_user::Entity::find()
        .filter(platform_user::Column::Email.eq(email.clone()))
        .one(db)
        .await?;
    let actor = Actor::Operator {
        id: user.as_ref().map(|user| user.id),
        name: user.as_ref().map(|user| user.name.clone()),
        email: Some(email.clone()),
    };
    let failure = |reason: &str| NewAuditEntry {
        action: AuditAction::Login,
        success: false,
        actor: actor.clone(),
        workspace_id: None,
        tenant_id: None,
        metadata: json!({"reason": reason, "ip": origin.ip}),
    };
    if failures >= MAX_FAILURES {
        record(db, failure("rate_limited"), now).await?;
        return Err(AppError::RateLimited(format!(
            "too many failed logins for this e-mail: try again in {} minutes",
            THROTTLE_WINDOW.num_minutes()
        )));
    }

    // The hashing takes tens of milliseconds of a core: no connection waits on it.
    db.release();
    let password = password.to_owned();
    let hash = user.as_ref().map(|user| user.password_hash.clone());
    let matches = tokio::task::spawn_blocking(move || match hash {
        Some(hash) => verify_password(&password, &hash),
        None => {
            burn_verification(&password);
            false
        }
    })
    .await
    .map_err(AppError::internal)?;
    let user = match user {
        Some(user) if matches && user.is_active => user,
        _ => {
            record(db, failure("invalid credentials"), now).await?;
            return Err(AppError::Unauthenticated("invalid credentials".to_owned()));
        }
    };

    let token = new_token();
    let transaction = db.begin().await?;
    let session = platform_session::ActiveModel {
        platform_user_id: Set(user.id),
        token_hash: Set(token_hash(&token)),
        expires_at: Set(now + ttl),
        last_seen_at: Set(Some(now)),
        revoked_at: Set(None),
        break_glass_started_at: Set(None),
        break_glass_expires_at: Set(None),
        break_glass_reason: Set(None),
        break_glass_expiry_recorded: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&transaction)
    .await?;
    let mut active: platform_user::ActiveModel = user.into();
    active.last_login_at = Set(Some(now));
    active.updated_at = Set(now);
    let user = active.update(&transaction).await?;
    let entry = NewAuditEntry {
        action: AuditAction::Login,
        success: true,
        actor: operator_actor(&user),
        workspace_id: None,
        tenant_id: None,
        metadata: json!({"sessionId": session.id, "ip": origin.ip, "expiresAt": session.expires_at}),
    };
    record(&transaction, entry, now).await?;
    transaction.commit().await?;
    Ok(LoggedIn {
        token,
        user,
        session,
    })
}

/// Why credentials cannot even be checked, if they cannot.
fn malformed(email: &str, password: &str) -> Option<String> {
    if email.contains('\0') {
        Some(format!("`email` {NUL_REFUSED}"))
    } else if password.contains('\0') {
        Some(format!("`password` {NUL_REFUSED}"))
    } else if email.is_empty() || email.chars().count() > MAX_EMAIL_CHARS {
        Some(format!("`email` must be 1 to {MAX_EMAIL_CHARS} characters"))
    } else if password.is_empty() || password.len() > MAX_PASSWORD_BYTES {
        Some(format!(
            "`password` must be 1 to {MAX_PASSWORD_BYTES} bytes"
        ))
    } else {
        None
    }
}

/// An e-mail as the audit trail can hold it: NULs shown as U+FFFD, cut to
/// [`MAX_EMAIL_CHARS`]; none when blank.
fn storable(email: &str) -> Option<String> {
    let email: String = email
        .chars()
        .map(|c| {
            if c == '\0' {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .take(MAX_EMAIL_CHARS)
        .collect();
    (!email.is_empty()).then_some(email)
}

/// Ends the viewer's session, audited as `platform.auth.logout` — once: a session
/// already ended (by an earlier `logout` in the same request, or a concurrent one)
/// changes nothing and records nothing.
pub(crate) async fn logout(db: &Db, viewer: &Viewer, now: DateTime<Utc>) -> AppResult<()> {
    let transaction = db.begin().await?;
    let ended = platform_session::Entity::update_many()
        .col_expr(
            platform_session::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .col_expr(
            platform_session::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(platform_session::Column::Id.eq(viewer.session.id))
        .filter(platform_session::Column::RevokedAt.is_null())
        .exec(&transaction)
        .await?;
    if ended.rows_affected == 0 {
        return Ok(());
    }
    let entry = NewAuditEntry {
        action: AuditAction::Logout,
        success: true,
        actor: operator_actor(&viewer.user),
        workspace_id: None,
        tenant_id: None,
        metadata: json!({"sessionId": viewer.session.id}),
    };
    record(&transaction, entry, now).await?;
    transaction.commit().await?;
    Ok(())
}

/// An operator as the actor of an audit entry.
pub(crate) fn operator_actor(user: &platform_user::Model) -> Actor {
    Actor::Operator {
        id: Some(user.id),
        name: Some(user.name.clone()),
        email: Some(user.email.clone()),
    }
}
