//! Whether the service has its database (SPEC §9: it starts before its database).
//!
//! `serve` listens first and connects and migrates in the background, retrying; until
//! that succeeds `/readyz` answers 503 with the reason, and GraphQL requests are
//! answered `SERVICE_UNAVAILABLE` without touching the database.

use std::sync::{PoisonError, RwLock};

/// Ready, or waiting for the database for a stated reason.
#[derive(Debug)]
pub(crate) struct Readiness {
    /// Why the service is not ready yet; `None` once it is.
    waiting: RwLock<Option<String>>,
}

impl Readiness {
    /// A service whose database is connected and migrated.
    pub(crate) fn ready() -> Self {
        Self {
            waiting: RwLock::new(None),
        }
    }

    /// Why the service is not ready, if it is not.
    pub(crate) fn waiting(&self) -> Option<String> {
        self.waiting
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The service waits for its database, for `reason`.
    pub(crate) fn wait_for(&self, reason: impl Into<String>) {
        *self.waiting.write().unwrap_or_else(PoisonError::into_inner) = Some(reason.into());
    }

    /// The database is connected and migrated.
    pub(crate) fn mark_ready(&self) {
        *self.waiting.write().unwrap_or_else(PoisonError::into_inner) = None;
    }
}
