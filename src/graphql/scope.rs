//! What every resolver of one request shares: its clock, its database handle and
//! statement counter, the configuration and the request's loaders.

use std::sync::{Arc, OnceLock};

use async_graphql::Context;
use chrono::{DateTime, Utc};

use super::loaders::Loaders;
use super::settle::Gate;
use super::snapshots::SnapshotCache;
use crate::auth::Viewer;
use crate::auth::login::Origin;
use crate::config::Config;
use crate::db::Db;
use crate::db::health::HealthScope;
use crate::domain::health::HealthRules;
use crate::domain::stuck::StuckRules;
use crate::domain::window::TimeWindow;
use crate::error::{AppError, AppResult};
use crate::metrics::Metrics;

/// The request's `now` and the thresholds in force: everything derived values depend on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Criteria {
    pub now: DateTime<Utc>,
    pub stuck: StuckRules,
    pub health: HealthRules,
}

impl Criteria {
    /// The criteria of `config` at `now`.
    pub fn new(now: DateTime<Utc>, config: &Config) -> Self {
        let thresholds = &config.system_console.stuck_thresholds;
        let health = &config.system_console.health;
        Self {
            now,
            stuck: StuckRules {
                queued_minutes: thresholds.queued_minutes,
                running_minutes: thresholds.running_minutes,
            },
            health: HealthRules {
                stale_check_hours: health.stale_check_hours,
                failed_runs_critical: health.failed_runs_critical,
            },
        }
    }

    /// What tenant health in `window` is judged by.
    pub fn health_scope(&self, window: TimeWindow) -> HealthScope {
        HealthScope {
            now: self.now,
            window: window.range(self.now),
            stuck: self.stuck,
            health: self.health,
        }
    }
}

/// The per-request state, attached to every GraphQL request by the server.
#[derive(Clone)]
pub struct Scope {
    /// The one `now` of this request (SPEC §3): windows, stuck flags and health agree.
    pub now: DateTime<Utc>,
    pub db: Db,
    pub config: Arc<Config>,
    pub loaders: Arc<Loaders>,
    /// Where the loaders' batches wait until the request settles.
    pub gate: Arc<Gate>,
    /// Control Tower snapshots, shared with every other request.
    pub snapshots: Arc<SnapshotCache>,
    /// What `/metrics` reports.
    pub metrics: Arc<Metrics>,
    /// The operator of the request, known once the request is authenticated (after
    /// validation, so a refused document costs no SQL); `None` before login.
    /// Shared by the scope's clones, so the server sees who the request's operator was.
    identity: Arc<OnceLock<Option<Viewer>>>,
    /// Where the request came from, for the audit trail.
    pub origin: Origin,
}

impl Scope {
    /// A scope for one request, with fresh loaders and statement counter.
    pub fn new(
        now: DateTime<Utc>,
        db: Db,
        config: Arc<Config>,
        snapshots: Arc<SnapshotCache>,
        metrics: Arc<Metrics>,
        origin: Origin,
    ) -> Self {
        let gate = Gate::new();
        let loaders = Arc::new(Loaders::new(&gate, &db, Criteria::new(now, &config)));
        Self {
            now,
            db,
            config,
            loaders,
            gate,
            snapshots,
            metrics,
            identity: Arc::default(),
            origin,
        }
    }

    /// Records who the request's operator is (once).
    pub fn identify(&self, viewer: Option<Viewer>) {
        // Set once per request, by the authentication step; a second call changes nothing.
        let _ = self.identity.set(viewer);
    }

    /// The operator of the request, if any.
    pub fn viewer(&self) -> Option<&Viewer> {
        self.identity.get().and_then(Option::as_ref)
    }

    /// The scope of the request being resolved.
    pub fn of<'a>(ctx: &'a Context<'_>) -> AppResult<&'a Scope> {
        ctx.data::<Scope>()
            .map_err(|_| AppError::internal(anyhow::anyhow!("request scope is missing")))
    }

    /// The request's `now` and the thresholds in force.
    pub fn criteria(&self) -> Criteria {
        Criteria::new(self.now, &self.config)
    }

    /// Largest page a connection accepts.
    pub fn max_page_size(&self) -> u32 {
        self.config.system_console.limits.max_page_size
    }
}
