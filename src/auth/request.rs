//! Authenticating one request: the bearer token of its `Authorization` header, checked
//! against its session on every request (no answer is cached).

use chrono::{DateTime, Utc};

use super::{Principal, Viewer, break_glass};
use crate::db::Db;
use crate::error::AppError;

/// What the request brought to authenticate with.
pub(crate) struct Credentials {
    /// The `Authorization` header, if any.
    pub(crate) authorization: Option<String>,
    /// Whether the document does more than log in or introspect.
    pub(crate) needs_session: bool,
    /// Who the request acts for, already established: a live query's tick, whose
    /// subscribers' sessions their connections check (`server::subscriptions`).
    pub(crate) granted: Option<Principal>,
}

/// Identifies who the request acts for; the refusal, when the request may not go on.
pub(crate) async fn authenticate(
    db: &Db,
    credentials: Option<&Credentials>,
    now: DateTime<Utc>,
) -> Result<Option<Principal>, AppError> {
    let Some(credentials) = credentials else {
        return Err(AppError::internal(anyhow::anyhow!(
            "request credentials are missing"
        )));
    };
    if let Some(granted) = &credentials.granted {
        let principal = granted.clone().at(now);
        // Looked up for this request (its document screened before parsing): its use
        // is noted as if looked up here. A live query's tick has no header of its own.
        if credentials.authorization.is_some() {
            noted(db, &principal, now).await?;
        }
        return Ok(Some(principal));
    }
    let principal = match identify(db, credentials.authorization.as_deref(), now).await {
        Ok(principal) => principal,
        // A stale token does not stop a login.
        Err(AppError::Unauthenticated(_)) if !credentials.needs_session => None,
        Err(error) => return Err(error),
    };
    if credentials.needs_session && principal.is_none() {
        return Err(AppError::Unauthenticated(
            "log in first: send `Authorization: Bearer <token>`".to_owned(),
        ));
    }
    if let Some(viewer) = principal.as_ref().and_then(Principal::operator) {
        // Every later line of the request's log names its operator.
        tracing::Span::current().record("operator_id", viewer.user.id);
    }
    Ok(principal)
}

/// Who a bearer token names, if the request has one. A header with a refused token is
/// `UNAUTHENTICATED`. Records a break-glass expiry the session has not seen yet.
async fn identify(
    db: &Db,
    authorization: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<Principal>, AppError> {
    let Some(header) = authorization else {
        return Ok(None);
    };
    let token = super::bearer_token(header).ok_or_else(|| {
        AppError::Unauthenticated("the Authorization header must be `Bearer <token>`".to_owned())
    })?;
    let principal = match super::authenticate(db, token, now).await? {
        Ok(principal) => principal,
        Err(refusal) => return Err(AppError::Unauthenticated(refusal.message().to_owned())),
    };
    noted(db, &principal, now).await?;
    Ok(Some(principal))
}

/// Notes a use of `principal`: a session's activity, a token's last use, and the end
/// of a break-glass elevation its session has not recorded yet.
async fn noted(db: &Db, principal: &Principal, now: DateTime<Utc>) -> Result<(), AppError> {
    match principal {
        Principal::Operator(viewer) => {
            if break_glass::expiry_pending(&viewer.session, now) {
                break_glass::record_expiry(db, viewer.session.id, now).await?;
            }
            touch(db, viewer, now);
        }
        Principal::Token(token) => super::tokens::touch(db, token, now),
        Principal::Shared(_) => {}
    }
    Ok(())
}

/// Notes the session's activity at most once a minute, off the request's path (and its
/// statement count).
fn touch(db: &Db, viewer: &Viewer, now: DateTime<Utc>) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let recent = viewer
        .session
        .last_seen_at
        .is_some_and(|seen| now - seen < chrono::Duration::minutes(1));
    if recent {
        return;
    }
    let connection = db.detached();
    let session_id = viewer.session.id;
    tokio::spawn(async move {
        let updated = entity::platform_session::Entity::update_many()
            .col_expr(
                entity::platform_session::Column::LastSeenAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(entity::platform_session::Column::Id.eq(session_id))
            .exec(&connection)
            .await;
        if let Err(error) = updated {
            tracing::warn!(%error, "could not note a session's activity");
        }
    });
}
