//! `ControlTower`: the dashboard of a window, and its query root.

use std::sync::Arc;

use async_graphql::{Context, Object, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures::{FutureExt, StreamExt};

use super::health::{RunStats, TimeRange};
use super::tenant::Tenant;
use super::workspace::Workspace;
use crate::db::control_tower::{self, MAX_TOP, Snapshot};
use crate::domain::health::HealthLevel;

use crate::error::{AppResult, count_argument};
use crate::graphql::enums::TimeWindow;
use crate::graphql::guards::{AUDIT, CONSOLE};
use crate::graphql::scope::Scope;
use crate::graphql::types::live::{Live, Push, Shape, every};

pub(crate) struct ControlTower {
    snapshot: Arc<Snapshot>,
}

/// The Control Tower of a window: run counts, stuck runs, failure rates, the worst
/// tenants and workspaces, tenant health and operator access — everything an operator
/// checks first. Every part is computed by the database as of `generatedAt`; many clients
/// asking for the same window within a few seconds share one computation.
#[Object]
impl ControlTower {
    /// The window the numbers cover; it ends at `generatedAt`.
    async fn window(&self) -> TimeRange {
        TimeRange {
            preset: self.snapshot.window.into(),
            start: self.snapshot.range.start,
            end: self.snapshot.range.end,
        }
    }

    /// When these numbers were computed (they may be a few seconds old: see
    /// `settings` and the README on caching).
    async fn generated_at(&self) -> DateTime<Utc> {
        self.snapshot.generated_at
    }

    /// Counts of the runs created in the window.
    async fn runs(&self) -> RunStats {
        self.snapshot.runs.into()
    }

    /// Runs stuck now, whenever they were created: the oldest stuck runs are the worst,
    /// so they never fall out of view.
    async fn stuck_total(&self) -> u64 {
        self.snapshot.stuck_total
    }

    /// The window's runs per type, most runs first.
    async fn by_type(&self) -> Vec<RunTypeStats> {
        self.snapshot
            .by_type
            .iter()
            .map(|(kind, tally)| RunTypeStats {
                r#type: kind.clone(),
                total: tally.total,
                failed: tally.failed,
                stuck: tally.stuck,
            })
            .collect()
    }

    /// Tenants with at least one failed run in the window, most failed first, ties by
    /// name.
    async fn top_failing_tenants(
        &self,
        #[graphql(desc = "How many tenants, 1 to 100.", default_with = "Some(5)")] limit: Option<
            i32,
        >,
    ) -> AppResult<Vec<TenantFailureStat>> {
        let limit = top_limit(limit)?;
        Ok(self
            .snapshot
            .failing_tenants
            .iter()
            .take(limit)
            .map(|(model, tally)| TenantFailureStat {
                tenant: Tenant::from(model.clone()),
                failed: tally.failed,
                total: tally.total,
            })
            .collect())
    }

    /// Workspaces with at least one failed run in the window, most failed first, ties by
    /// name.
    async fn top_failing_workspaces(
        &self,
        #[graphql(desc = "How many workspaces, 1 to 100.", default_with = "Some(5)")] limit: Option<
            i32,
        >,
    ) -> AppResult<Vec<WorkspaceFailureStat>> {
        let limit = top_limit(limit)?;
        Ok(self
            .snapshot
            .failing_workspaces
            .iter()
            .take(limit)
            .map(|(model, tally)| WorkspaceFailureStat {
                workspace: Workspace::from(model.clone()),
                failed: tally.failed,
                total: tally.total,
            })
            .collect())
    }

    /// How many tenants that are not archived are at each health level in the window.
    async fn tenant_health(&self) -> HealthDistribution {
        let counts = self.snapshot.tenant_health;
        HealthDistribution {
            healthy: counts.get(HealthLevel::Healthy),
            unknown: counts.get(HealthLevel::Unknown),
            warning: counts.get(HealthLevel::Warning),
            critical: counts.get(HealthLevel::Critical),
        }
    }

    /// Operator access in the window, from the audit trail. Needs `audit.view` (or
    /// break-glass): without it this field alone is null, with a `FORBIDDEN` error, and
    /// the rest of the Control Tower is answered.
    #[graphql(guard = "AUDIT")]
    async fn access(&self) -> Option<AccessSummary> {
        let access = self.snapshot.access;
        Some(AccessSummary {
            logins_succeeded: access.logins_succeeded,
            logins_failed: access.logins_failed,
            break_glass_entries: access.break_glass_entries,
        })
    }
}

fn top_limit(limit: Option<i32>) -> AppResult<usize> {
    let limit = count_argument("limit", limit.unwrap_or(5), MAX_TOP as u64)?;
    Ok(usize::try_from(limit).unwrap_or(MAX_TOP))
}

/// The runs of one type in the window.
#[derive(SimpleObject)]
pub(crate) struct RunTypeStats {
    /// The run type, e.g. `inventory.sync`.
    pub(crate) r#type: String,
    /// Runs of this type created in the window.
    pub(crate) total: u64,
    /// Of which failed.
    pub(crate) failed: u64,
    /// Of which stuck now.
    pub(crate) stuck: u64,
}

/// A tenant's failures in the window.
#[derive(SimpleObject)]
pub(crate) struct TenantFailureStat {
    /// The tenant.
    pub(crate) tenant: Tenant,
    /// Its runs that failed.
    pub(crate) failed: u64,
    /// All its runs.
    pub(crate) total: u64,
}

/// A workspace's failures in the window.
#[derive(SimpleObject)]
pub(crate) struct WorkspaceFailureStat {
    /// The workspace.
    pub(crate) workspace: Workspace,
    /// Its runs that failed (with or without a tenant).
    pub(crate) failed: u64,
    /// All its runs.
    pub(crate) total: u64,
}

/// How many tenants that are not archived are at each health level.
#[derive(SimpleObject)]
pub(crate) struct HealthDistribution {
    /// Tenants whose badge is `HEALTHY`.
    pub(crate) healthy: u64,
    /// Tenants whose badge is `UNKNOWN`.
    pub(crate) unknown: u64,
    /// Tenants whose badge is `WARNING`.
    pub(crate) warning: u64,
    /// Tenants whose badge is `CRITICAL`.
    pub(crate) critical: u64,
}

/// Operator access in a window.
#[derive(SimpleObject)]
pub(crate) struct AccessSummary {
    /// Successful console logins.
    pub(crate) logins_succeeded: u64,
    /// Failed console logins (wrong credentials, disabled operators, throttled attempts).
    pub(crate) logins_failed: u64,
    /// Break-glass elevations entered.
    pub(crate) break_glass_entries: u64,
}

/// Query root for the Control Tower.
#[derive(Default)]
pub(crate) struct ControlTowerQuery;

#[Object]
impl ControlTowerQuery {
    /// The Control Tower of `window`.
    #[graphql(guard = "CONSOLE")]
    async fn control_tower(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Which runs and audit logs count.",
            default_with = "Some(TimeWindow::Last24h)"
        )]
        window: Option<TimeWindow>,
    ) -> AppResult<ControlTower> {
        let scope = Scope::of(ctx)?;
        let window = TimeWindow::chosen(window);
        // The snapshot runs on the aggregates' pool, and the cache keeps its computation
        // (shared with later requests): neither holds the request's connection.
        scope.db.release();
        let db = scope.db.aggregates();
        let criteria = scope.criteria();
        let snapshot = scope
            .snapshots
            .get(window, move || {
                async move {
                    Ok(Arc::new(
                        control_tower::snapshot(&db, window, criteria).await?,
                    ))
                }
                .boxed()
            })
            .await?;
        Ok(ControlTower { snapshot })
    }
}

/// The Control Tower subscription.
#[derive(Default)]
pub struct ControlTowerSubscription;

#[Subscription]
impl ControlTowerSubscription {
    /// The Control Tower of `window`, pushed every `everySeconds` while it changes:
    /// the first at once, then only a tower that differs from the last one sent (its
    /// `generatedAt` moves whenever it is computed anew, at most every
    /// `system_console.cache.control_tower_seconds`). Each tick runs as the query
    /// `controlTower(window:)` would, with the same checks, from the same shared
    /// snapshot; it is the live query `live { controlTower(window:) { … } }`.
    async fn control_tower(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Which runs and audit logs count.",
            default_with = "Some(TimeWindow::Last24h)"
        )]
        window: Option<TimeWindow>,
        #[graphql(
            desc = "Seconds between ticks, 1 to 3600; null means the default, 10.",
            default_with = "Some(10)"
        )]
        every_seconds: Option<i32>,
    ) -> async_graphql::Result<impl futures::Stream<Item = Push<ControlTower>> + use<>> {
        let _ = window;
        Ok(Live::of(ctx)?
            .watch(ctx.item, Shape::Field, every(every_seconds)?)?
            .map(Push::new))
    }
}
