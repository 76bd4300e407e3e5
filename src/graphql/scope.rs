//! What every resolver of one request shares: its clock, its database handle and
//! statement counter, the configuration and the request's loaders.

use std::sync::Arc;

use async_graphql::Context;
use chrono::{DateTime, Utc};

use super::loaders::Loaders;
use super::settle::Gate;
use crate::config::Config;
use crate::db::Db;
use crate::error::{AppError, AppResult};

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
}

impl Scope {
    /// A scope for one request, with fresh loaders and statement counter.
    pub fn new(now: DateTime<Utc>, db: Db, config: Arc<Config>) -> Self {
        let gate = Gate::new();
        let loaders = Arc::new(Loaders::new(&gate, &db));
        Self {
            now,
            db,
            config,
            loaders,
            gate,
        }
    }

    /// The scope of the request being resolved.
    pub fn of<'a>(ctx: &'a Context<'_>) -> AppResult<&'a Scope> {
        ctx.data::<Scope>()
            .map_err(|_| AppError::internal(anyhow::anyhow!("request scope is missing")))
    }

    /// Largest page a connection accepts.
    pub fn max_page_size(&self) -> u32 {
        self.config.system_console.limits.max_page_size
    }
}
