//! Operators of the console (SPEC §5): sessions, capabilities, login, break-glass.
//!
//! A request carries `Authorization: Bearer <token>`; only the token's SHA-256 is stored.
//! The session it names gives the operator and, while a break-glass elevation lasts,
//! `sensitive.view` and `audit.view` on top of the operator's own capabilities.

pub mod break_glass;
pub mod credentials;
pub(crate) mod login;
pub mod operators;
pub(crate) mod request;
pub mod tokens;

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Utc};
use entity::{platform_session, platform_user};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use serde_json::Value;

use crate::error::AppError;

/// What an operator may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// Read the console.
    ConsoleView,
    /// Read access logs and audit logs.
    AuditView,
    /// Mark runs investigated.
    RunsTriage,
    /// Read raw JSON fields (redacted still).
    SensitiveView,
    /// Enter break-glass.
    BreakGlassUse,
}

impl Capability {
    pub const ALL: [Capability; 5] = [
        Self::ConsoleView,
        Self::AuditView,
        Self::RunsTriage,
        Self::SensitiveView,
        Self::BreakGlassUse,
    ];

    /// The stored name, e.g. `console.view`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::ConsoleView => "console.view",
            Self::AuditView => "audit.view",
            Self::RunsTriage => "runs.triage",
            Self::SensitiveView => "sensitive.view",
            Self::BreakGlassUse => "break_glass.use",
        }
    }

    /// The capability of a stored name.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|capability| capability.name() == name)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The capabilities stored for an operator; unknown names are ignored.
pub(crate) fn stored_capabilities(user: &platform_user::Model) -> BTreeSet<Capability> {
    match user.capabilities.as_ref().map(|document| document.value()) {
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .filter_map(Capability::parse)
            .collect(),
        _ => BTreeSet::new(),
    }
}

/// A break-glass elevation as a session records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Elevation {
    pub(crate) started_at: Option<DateTime<Utc>>,
    pub(crate) expires_at: Option<DateTime<Utc>>,
    pub(crate) reason: Option<String>,
}

impl Elevation {
    /// The elevation of a session.
    pub(crate) fn of(session: &platform_session::Model) -> Self {
        Self {
            started_at: session.break_glass_started_at,
            expires_at: session.break_glass_expires_at,
            reason: session.break_glass_reason.clone(),
        }
    }

    /// Whether it lasts at `now` (it ends exactly at its expiry).
    pub(crate) fn active_at(&self, now: DateTime<Utc>) -> bool {
        self.started_at.is_some() && self.expires_at.is_some_and(|expires_at| now < expires_at)
    }
}

/// The operator behind a request, and what the request may do.
#[derive(Clone, Debug)]
pub(crate) struct Viewer {
    pub(crate) user: platform_user::Model,
    pub(crate) session: platform_session::Model,
    pub(crate) now: DateTime<Utc>,
}

impl Viewer {
    /// The operator's own capabilities, plus `sensitive.view` and `audit.view` while a
    /// break-glass elevation lasts.
    pub(crate) fn capabilities(&self) -> BTreeSet<Capability> {
        let mut capabilities = stored_capabilities(&self.user);
        if self.elevation().active_at(self.now) {
            capabilities.insert(Capability::SensitiveView);
            capabilities.insert(Capability::AuditView);
        }
        capabilities
    }

    /// The session's break-glass elevation.
    pub(crate) fn elevation(&self) -> Elevation {
        Elevation::of(&self.session)
    }
}

/// Who a request acts for: an operator's session, a dashboard token, or a live query's
/// execution shared by subscribers who hold the same capabilities (the last two act for
/// no operator).
#[derive(Clone, Debug)]
pub(crate) enum Principal {
    /// An operator, by a password-login session.
    Operator(Viewer),
    /// A wallboard, by a dashboard token.
    Token(tokens::DashboardToken),
    /// Subscribers of one live query whose capabilities are these (SPEC §9c); its
    /// selection never reads who the operator is.
    Shared(BTreeSet<Capability>),
}

impl Principal {
    /// What the request may do now.
    pub(crate) fn capabilities(&self) -> BTreeSet<Capability> {
        match self {
            Self::Operator(viewer) => viewer.capabilities(),
            Self::Token(token) => token.capabilities(),
            Self::Shared(capabilities) => capabilities.clone(),
        }
    }

    /// Ok if the principal holds `capability`, else `FORBIDDEN` naming it.
    pub(crate) fn require(&self, capability: Capability) -> Result<(), AppError> {
        if self.capabilities().contains(&capability) {
            Ok(())
        } else {
            Err(AppError::Forbidden(capability.name().to_owned()))
        }
    }

    /// The operator's session, when the principal is one.
    pub(crate) fn operator(&self) -> Option<&Viewer> {
        match self {
            Self::Operator(viewer) => Some(viewer),
            Self::Token(_) | Self::Shared(_) => None,
        }
    }

    /// The same principal as of `now`: a break-glass elevation counts only while it
    /// lasts.
    pub(crate) fn at(mut self, now: DateTime<Utc>) -> Self {
        if let Self::Operator(viewer) = &mut self {
            viewer.now = now;
        }
        self
    }

    /// The dashboard token's name, when the principal is one.
    pub(crate) fn token_name(&self) -> Option<&str> {
        match self {
            Self::Token(token) => Some(&token.model.name),
            Self::Operator(_) | Self::Shared(_) => None,
        }
    }

    /// Until when what it may do holds without a new look at the database: the session's
    /// expiry, or the end of its break-glass elevation if that comes first.
    pub(crate) fn valid_until(&self) -> Option<DateTime<Utc>> {
        if let Self::Token(token) = self {
            return Some(token.model.expires_at);
        }
        let viewer = self.operator()?;
        let elevation = viewer.elevation();
        let elevated = elevation
            .active_at(viewer.now)
            .then_some(elevation.expires_at)
            .flatten();
        Some(elevated.map_or(viewer.session.expires_at, |end| {
            end.min(viewer.session.expires_at)
        }))
    }
}

/// Why a bearer token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    Unknown,
    Expired,
    Revoked,
    Disabled,
    TokenExpired,
    TokenRevoked,
}

impl Refusal {
    /// The message the caller reads.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Self::Unknown => "the bearer token is not valid: log in again",
            Self::Expired => "the session has expired: log in again",
            Self::Revoked => "the session has been logged out: log in again",
            Self::Disabled => "the operator has been disabled",
            Self::TokenExpired => "the dashboard token has expired",
            Self::TokenRevoked => "the dashboard token has been revoked",
        }
    }
}

/// Who a bearer token names at `now` — a dashboard token, or an operator's session —
/// in one statement.
pub(crate) async fn authenticate(
    db: &impl ConnectionTrait,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Result<Principal, Refusal>, DbErr> {
    if token.starts_with(tokens::TOKEN_PREFIX) {
        return Ok(tokens::authenticate(db, token, now)
            .await?
            .map(Principal::Token));
    }
    Ok(session(db, token, now).await?.map(Principal::Operator))
}

/// The operator and session a session's bearer token names, at `now`, in one statement.
async fn session(
    db: &impl ConnectionTrait,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Result<Viewer, Refusal>, DbErr> {
    let found = platform_session::Entity::find()
        .filter(platform_session::Column::TokenHash.eq(credentials::token_hash(token)))
        .find_also_related(platform_user::Entity)
        .one(db)
        .await?;
    let Some((session, Some(user))) = found else {
        return Ok(Err(Refusal::Unknown));
    };
    Ok(if session.revoked_at.is_some() {
        Err(Refusal::Revoked)
    } else if session.expires_at <= now {
        Err(Refusal::Expired)
    } else if !user.is_active {
        Err(Refusal::Disabled)
    } else {
        Ok(Viewer { user, session, now })
    })
}

/// The token of an `Authorization: Bearer <token>` header value.
pub(crate) fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// An operator-provided reason or note, as the audit trail keeps it (see
/// [`crate::domain::text`]); `field` names it in the refusal.
pub(crate) fn operator_text(text: &str, field: &str) -> Result<String, AppError> {
    crate::domain::text::operator_text(text)
        .map(str::to_owned)
        .map_err(|refusal| AppError::bad_input(format!("`{field}` {refusal}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_header_gives_its_token() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer   abc  "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("abc"), None);
    }

    #[test]
    fn a_refused_reason_names_its_field() {
        assert_eq!(operator_text("  hello  ", "note").unwrap(), "hello");
        let error = operator_text(&"é".repeat(501), "reason").unwrap_err();
        assert_eq!(
            error.to_string(),
            "`reason` must be at most 500 characters once trimmed, not 501"
        );
    }

    #[test]
    fn an_elevation_ends_exactly_at_its_expiry() {
        let now: DateTime<Utc> = "2026-11-27T12:00:00Z".parse().unwrap();
        let elevation = Elevation {
            started_at: Some(now - chrono::Duration::minutes(30)),
            expires_at: Some(now),
            reason: None,
        };
        assert!(!elevation.active_at(now));
        assert!(elevation.active_at(now - chrono::Duration::seconds(1)));
    }
}
