//! `ConsoleSettings`: the thresholds and limits in force.

use async_graphql::{Context, Object, SimpleObject};

use crate::error::AppResult;
use crate::graphql::connection::DEFAULT_PAGE_SIZE;
use crate::graphql::guards::CONSOLE;
use crate::graphql::scope::Scope;

/// The thresholds and limits this service applies, so a screen can explain its numbers
/// ("stuck = queued for more than 15 minutes").
#[derive(SimpleObject)]
pub(crate) struct ConsoleSettings {
    /// A queued run not started after this many minutes is stuck.
    pub(crate) queued_stuck_minutes: u32,
    /// A running run not completed after this many minutes is stuck.
    pub(crate) running_stuck_minutes: u32,
    /// A health check or permission check older than this many hours is stale.
    pub(crate) stale_check_hours: u32,
    /// This many failed runs of a tenant in a window make its run health CRITICAL.
    pub(crate) failed_runs_critical: u32,
    /// The longest break-glass elevation an operator can ask for, in minutes.
    pub(crate) break_glass_max_minutes: u32,
    /// The largest `first`/`last` a connection accepts.
    pub(crate) max_page_size: u32,
    /// The page size of a connection asked for with neither `first` nor `last`.
    pub(crate) default_page_size: u32,
    /// The highest `requestedQueryCost` a query may have (see `Query` for the cost
    /// model); a costlier one is refused `QUERY_TOO_COMPLEX` before it runs.
    pub(crate) max_query_cost: u32,
}

/// Query root for the settings.
#[derive(Default)]
pub(crate) struct SettingsQuery;

#[Object]
impl SettingsQuery {
    /// The thresholds and limits in force.
    #[graphql(guard = "CONSOLE")]
    async fn settings(&self, ctx: &Context<'_>) -> AppResult<ConsoleSettings> {
        let console = &Scope::of(ctx)?.config.system_console;
        Ok(ConsoleSettings {
            queued_stuck_minutes: console.stuck_thresholds.queued_minutes,
            running_stuck_minutes: console.stuck_thresholds.running_minutes,
            stale_check_hours: console.health.stale_check_hours,
            failed_runs_critical: console.health.failed_runs_critical,
            break_glass_max_minutes: console.break_glass.max_minutes,
            max_page_size: console.limits.max_page_size,
            default_page_size: DEFAULT_PAGE_SIZE.min(console.limits.max_page_size),
            max_query_cost: console.limits.max_complexity,
        })
    }
}
