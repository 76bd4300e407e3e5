//! Capability checks on fields and mutations (SPEC §5). Every query field needs
//! `console.view`; a test walks the schema to prove it, and that every raw JSON field
//! needs `sensitive.view` (or a break-glass elevation).

use async_graphql::{Context, Guard};

use super::scope::Scope;
use crate::auth::{Capability, Viewer};
use crate::error::AppError;

/// The operator of the request, or `UNAUTHENTICATED`.
pub(crate) fn viewer<'a>(ctx: &'a Context<'_>) -> Result<&'a Viewer, AppError> {
    Scope::of(ctx)?.viewer().ok_or_else(|| {
        AppError::Unauthenticated("log in first: send `Authorization: Bearer <token>`".to_owned())
    })
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
        let viewer = viewer(ctx)?;
        for capability in self.0 {
            viewer.require(*capability)?;
        }
        Ok(())
    }
}
