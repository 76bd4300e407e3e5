//! Break-glass (SPEC §5): a session elevated to `sensitive.view` and `audit.view` for a
//! stated reason, until it exits or expires. Entering, exiting and expiring are audited;
//! the expiry exactly once, by whichever comes first — the session's next request or the
//! background sweep — because recording it is a compare-and-set on the session row
//! (`break_glass_expiry_recorded` from false to true) in the same transaction as the
//! audit row.

use chrono::{DateTime, Duration, Utc};
use entity::platform_session;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, DbErr, EntityTrait, QueryFilter};
use serde_json::json;

use super::login::operator_actor;
use super::{Viewer, operator_text};
use crate::db::Db;
use crate::db::audit::{NewAuditEntry, record};
use crate::domain::audit::AuditAction;
use crate::error::{AppError, AppResult, count_argument};

/// Elevates the viewer's session for `minutes` (1 to `max_minutes`) for `reason`.
pub(crate) async fn enter(
    db: &Db,
    viewer: &Viewer,
    reason: &str,
    minutes: i32,
    max_minutes: u32,
    now: DateTime<Utc>,
) -> AppResult<platform_session::Model> {
    let reason = operator_text(reason, "reason")?;
    count_argument("durationMinutes", minutes, max_minutes.into())?;
    if let Some(expires_at) = viewer
        .session
        .break_glass_expires_at
        .filter(|_| viewer.elevation().active_at(now))
    {
        return Err(AppError::bad_input(format!(
            "break-glass is already active until {}: exit it first",
            expires_at.to_rfc3339()
        )));
    }
    let expires_at = now + Duration::minutes(i64::from(minutes));
    let transaction = db.begin().await?;
    let mut session: platform_session::ActiveModel = viewer.session.clone().into();
    session.break_glass_started_at = Set(Some(now));
    session.break_glass_expires_at = Set(Some(expires_at));
    session.break_glass_reason = Set(Some(reason.clone()));
    session.break_glass_expiry_recorded = Set(false);
    session.updated_at = Set(now);
    let session = session.update(&transaction).await?;
    let entry = NewAuditEntry {
        action: AuditAction::BreakGlassEnter,
        success: true,
        actor: operator_actor(&viewer.user),
        workspace_id: None,
        tenant_id: None,
        metadata: json!({"reason": reason, "expiresAt": expires_at, "durationMinutes": minutes, "sessionId": session.id}),
    };
    record(&transaction, entry, now).await?;
    transaction.commit().await?;
    Ok(session)
}

/// Ends the viewer's elevation now, if one lasts; otherwise changes nothing.
pub(crate) async fn exit(
    db: &Db,
    viewer: &Viewer,
    now: DateTime<Utc>,
) -> AppResult<platform_session::Model> {
    if !viewer.elevation().active_at(now) {
        return Ok(viewer.session.clone());
    }
    let transaction = db.begin().await?;
    let mut session: platform_session::ActiveModel = viewer.session.clone().into();
    session.break_glass_expires_at = Set(Some(now));
    // Ended by hand: there is no expiry left to record.
    session.break_glass_expiry_recorded = Set(true);
    session.updated_at = Set(now);
    let session = session.update(&transaction).await?;
    let entry = NewAuditEntry {
        action: AuditAction::BreakGlassExit,
        success: true,
        actor: operator_actor(&viewer.user),
        workspace_id: None,
        tenant_id: None,
        metadata: json!({"startedAt": viewer.session.break_glass_started_at, "sessionId": session.id}),
    };
    record(&transaction, entry, now).await?;
    transaction.commit().await?;
    Ok(session)
}

/// Whether the session's elevation has expired without its expiry being recorded yet.
pub(crate) fn expiry_pending(session: &platform_session::Model, now: DateTime<Utc>) -> bool {
    session.break_glass_started_at.is_some()
        && !session.break_glass_expiry_recorded
        && session
            .break_glass_expires_at
            .is_some_and(|expires_at| expires_at <= now)
}

/// Records the expiry of a session's elevation, if nobody has yet: returns whether this
/// call did. Concurrent callers race on one conditional update; exactly one wins.
pub(crate) async fn record_expiry(
    db: &Db,
    session_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use platform_session::Column;
    let transaction = db.begin().await?;
    let claimed = platform_session::Entity::update_many()
        .col_expr(Column::BreakGlassExpiryRecorded, Expr::value(true))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(session_id))
        .filter(Column::BreakGlassExpiryRecorded.eq(false))
        .filter(Column::BreakGlassStartedAt.is_not_null())
        .filter(Column::BreakGlassExpiresAt.lte(now))
        .exec(&transaction)
        .await?;
    if claimed.rows_affected != 1 {
        transaction.rollback().await?;
        return Ok(false);
    }
    let found = platform_session::Entity::find_by_id(session_id)
        .find_also_related(entity::platform_user::Entity)
        .one(&transaction)
        .await?;
    let Some((session, Some(user))) = found else {
        transaction.commit().await?;
        return Ok(true);
    };
    let entry = NewAuditEntry {
        action: AuditAction::BreakGlassExpired,
        success: true,
        actor: operator_actor(&user),
        workspace_id: None,
        tenant_id: None,
        metadata: json!({
            "sessionId": session.id,
            "startedAt": session.break_glass_started_at,
            "expiredAt": session.break_glass_expires_at,
        }),
    };
    record(&transaction, entry, now).await?;
    transaction.commit().await?;
    Ok(true)
}

/// Records every expiry not yet recorded; returns how many this sweep recorded.
pub async fn sweep(db: &Db, now: DateTime<Utc>) -> Result<u64, DbErr> {
    use platform_session::Column;
    let pending = platform_session::Entity::find()
        .filter(Column::BreakGlassExpiryRecorded.eq(false))
        .filter(Column::BreakGlassStartedAt.is_not_null())
        .filter(Column::BreakGlassExpiresAt.lte(now))
        .all(db)
        .await?;
    let mut recorded = 0;
    for session in pending {
        if record_expiry(db, session.id, now).await? {
            recorded += 1;
        }
    }
    Ok(recorded)
}
