//! Capability checks on fields and mutations (SPEC §5). Every query field needs
//! `console.view`; a test walks the schema to prove it, and that every raw JSON field
//! needs `sensitive.view` (or a break-glass elevation).

use async_graphql::{Context, Guard};

use super::scope::Scope;
use crate::auth::{Capability, Principal, Viewer};
use crate::error::AppError;

/// Who the request acts for, or `UNAUTHENTICATED`.
pub(crate) fn principal<'a>(ctx: &'a Context<'_>) -> Result<&'a Principal, AppError> {
    Scope::of(ctx)?.principal().ok_or_else(|| {
        AppError::Unauthenticated("log in first: send `Authorization: Bearer <token>`".to_owned())
    })
}

/// The operator of the request, or `UNAUTHENTICATED`; a request that acts for no
/// operator is `FORBIDDEN`.
pub(crate) fn viewer<'a>(ctx: &'a Context<'_>) -> Result<&'a Viewer, AppError> {
    principal(ctx)?
        .operator()
        .ok_or_else(|| AppError::Denied("this needs an operator's session".to_owned()))
}

/// Needs a live session and every listed capability.
pub(crate) struct Needs(pub(crate) &'static [Capability]);

/// Needs `console.view`: every query field.
pub(crate) const CONSOLE: Needs = Needs(&[Capability::ConsoleView]);
/// Needs `sensitive.view` (held, or lent by break-glass): raw JSON fields.
pub(crate) const SENSITIVE: Needs = Needs(&[Capability::ConsoleView, Capability::SensitiveView]);
/// Needs `audit.view` (held, or lent by break-glass): the audit trail.
pub(crate) const AUDIT: Needs = Needs(&[Capability::ConsoleView, Capability::AuditView]);
/// Needs only a live session: ending one's own session or elevation.
pub(crate) const SIGNED_IN: Needs = Needs(&[]);

impl Guard for Needs {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let principal = principal(ctx)?;
        for capability in self.0 {
            principal.require(*capability)?;
        }
        Ok(())
    }
}
