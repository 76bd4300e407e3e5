//! What every resolver of one request shares: its clock, its database handle and
//! statement counter, the configuration and the request's loaders.

use std::sync::{Arc, OnceLock};

use async_graphql::Context;
use chrono::{DateTime, Utc};

use super::loaders::Loaders;
use super::settle::Gate;
use super::snapshots::SnapshotCache;
use crate::auth::login::Origin;
use crate::auth::request::{Credentials, authenticate};
use crate::auth::{Principal, Viewer};
use crate::config::Config;
use crate::db::Db;
use crate::domain::criteria::Criteria;
use crate::error::{AppError, AppResult};
use crate::metrics::Metrics;

/// The per-request state, attached to every GraphQL request by the server.
#[derive(Clone)]
pub(crate) struct Scope {
    /// The one `now` of this request (SPEC §3): windows, stuck flags and health agree.
    pub(crate) now: DateTime<Utc>,
    pub(crate) db: Db,
    pub(crate) config: Arc<Config>,
    pub(crate) loaders: Arc<Loaders>,
    /// Where the loaders' batches wait until the request settles.
    pub(crate) gate: Arc<Gate>,
    /// Control Tower snapshots, shared with every other request.
    pub(crate) snapshots: Arc<SnapshotCache>,
    /// What `/metrics` reports.
    pub(crate) metrics: Arc<Metrics>,
    /// The operator of the request, known once the request is authenticated (after
    /// validation, so a refused document costs no SQL); `None` before login.
    /// Shared by the scope's clones, so the server sees who the request's operator was.
    identity: Arc<OnceLock<Option<Principal>>>,
    /// The outcome of authentication: `Some` refusal when the request may not go on.
    authentication: Arc<tokio::sync::OnceCell<Option<AppError>>>,
    /// Where the request came from, for the audit trail.
    pub(crate) origin: Origin,
}

impl Scope {
    /// A scope for one request, with fresh loaders and statement counter.
    pub(crate) fn new(
        now: DateTime<Utc>,
        db: Db,
        config: Arc<Config>,
        snapshots: Arc<SnapshotCache>,
        metrics: Arc<Metrics>,
        origin: Origin,
    ) -> Self {
        let gate = Gate::new();
        let loaders = Arc::new(Loaders::new(&gate, &db, config.criteria(now)));
        Self {
            now,
            db,
            config,
            loaders,
            gate,
            snapshots,
            metrics,
            identity: Arc::default(),
            authentication: Arc::default(),
            origin,
        }
    }

    /// Authenticates the request, once, however many root fields ask: the refusal, if
    /// it may not go on (also kept for [`Scope::refusal`]).
    pub(crate) async fn authenticated(
        &self,
        credentials: Option<&Credentials>,
    ) -> Option<AppError> {
        let outcome = self
            .authentication
            .get_or_init(|| async {
                // Sessions are read on the primary: a replica may not have a new one yet.
                match authenticate(&self.db.primary(), credentials, self.now).await {
                    Ok(principal) => {
                        self.db.read_as(
                            principal
                                .as_ref()
                                .and_then(Principal::operator)
                                .map(|viewer| viewer.user.id),
                        );
                        let _ = self.identity.set(principal);
                        None
                    }
                    Err(refusal) => Some(refusal),
                }
            })
            .await;
        outcome.clone()
    }

    /// The same request, reading from the primary only.
    pub(crate) fn on_primary(&self) -> Self {
        Self {
            db: self.db.primary(),
            ..self.clone()
        }
    }

    /// Why the request was refused at authentication, if it was.
    pub(crate) fn refusal(&self) -> Option<AppError> {
        self.authentication.get().cloned().flatten()
    }

    /// Who the request acts for, once authenticated.
    pub(crate) fn principal(&self) -> Option<&Principal> {
        self.identity.get().and_then(Option::as_ref)
    }

    /// The operator of the request, if it acts for one.
    pub(crate) fn viewer(&self) -> Option<&Viewer> {
        self.principal().and_then(Principal::operator)
    }

    /// The scope of the request being resolved.
    pub(crate) fn of<'a>(ctx: &'a Context<'_>) -> AppResult<&'a Scope> {
        ctx.data::<Scope>()
            .map_err(|_| AppError::internal(anyhow::anyhow!("request scope is missing")))
    }

    /// The request's `now` and the thresholds in force.
    pub(crate) fn criteria(&self) -> Criteria {
        self.config.criteria(self.now)
    }

    /// Largest page a connection accepts.
    pub(crate) fn max_page_size(&self) -> u32 {
        self.config.system_console.limits.max_page_size
    }
}
