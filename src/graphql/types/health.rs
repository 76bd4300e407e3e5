//! `HealthBadge`, `HealthSignal`, `Stuck`, `RunStats` and `TimeRange`: the derived values
//! the console shows.

use async_graphql::SimpleObject;
use chrono::{DateTime, Utc};

use crate::db::stats::RunTally;
use crate::domain::{health, stuck};
use crate::graphql::enums::{HealthLevel, HealthSignalSource, StuckReason, TimeWindow};

/// A health badge: a level and the signals behind it. Display-only.
#[derive(SimpleObject, Clone)]
pub(crate) struct HealthBadge {
    /// The worst level of the signals.
    pub(crate) level: HealthLevel,
    /// Every signal, worst first: why the badge has its level.
    pub(crate) signals: Vec<HealthSignal>,
}

impl From<health::Badge> for HealthBadge {
    fn from(badge: health::Badge) -> Self {
        Self {
            level: badge.level.into(),
            signals: badge.signals.into_iter().map(HealthSignal::from).collect(),
        }
    }
}

/// One reason behind a badge.
#[derive(SimpleObject, Clone)]
pub(crate) struct HealthSignal {
    /// What was looked at.
    pub(crate) source: HealthSignalSource,
    /// The level it gives.
    pub(crate) level: HealthLevel,
    /// What an operator should know, e.g. "2 permissions missing: Directory.Read.All, …".
    pub(crate) message: String,
}

impl From<health::Signal> for HealthSignal {
    fn from(signal: health::Signal) -> Self {
        Self {
            source: signal.source.into(),
            level: signal.level.into(),
            message: signal.message,
        }
    }
}

/// Why and since when a run is stuck.
#[derive(SimpleObject, Clone)]
pub(crate) struct Stuck {
    /// Whether it never started or never finished.
    pub(crate) reason: StuckReason,
    /// When the overdue wait began: creation for queued runs, start for running ones.
    pub(crate) since: DateTime<Utc>,
    /// The threshold in force, in minutes.
    pub(crate) threshold_minutes: u32,
    /// Whole minutes past the threshold (0 exactly at it).
    pub(crate) overdue_minutes: i64,
}

impl From<stuck::Stuck> for Stuck {
    fn from(stuck: stuck::Stuck) -> Self {
        Self {
            reason: stuck.reason.into(),
            since: stuck.since,
            threshold_minutes: stuck.threshold_minutes,
            overdue_minutes: stuck.overdue_minutes,
        }
    }
}

/// Counts of the runs created in a window.
#[derive(SimpleObject, Clone, Copy)]
pub(crate) struct RunStats {
    /// All runs created in the window.
    pub(crate) total: u64,
    /// Runs still queued.
    pub(crate) queued: u64,
    /// Runs still running.
    pub(crate) running: u64,
    /// Runs completed.
    pub(crate) completed: u64,
    /// Runs that succeeded.
    pub(crate) succeeded: u64,
    /// Runs that partly succeeded.
    pub(crate) partially_succeeded: u64,
    /// Runs that failed.
    pub(crate) failed: u64,
    /// Runs canceled.
    pub(crate) canceled: u64,
    /// Runs stuck now (see `OperationRun.isStuck`).
    pub(crate) stuck: u64,
    /// `failed ÷ completed`, from 0 to 1; null when no run completed.
    pub(crate) failure_rate: Option<f64>,
}

impl From<RunTally> for RunStats {
    fn from(tally: RunTally) -> Self {
        Self {
            total: tally.total,
            queued: tally.queued,
            running: tally.running,
            completed: tally.completed,
            succeeded: tally.succeeded,
            partially_succeeded: tally.partially_succeeded,
            failed: tally.failed,
            canceled: tally.canceled,
            stuck: tally.stuck,
            failure_rate: tally.failure_rate(),
        }
    }
}

/// The interval a windowed answer covers.
#[derive(SimpleObject, Clone, Copy)]
pub(crate) struct TimeRange {
    /// The window asked for.
    pub(crate) preset: TimeWindow,
    /// The start, included.
    pub(crate) start: DateTime<Utc>,
    /// The end, included: the moment the answer was computed.
    pub(crate) end: DateTime<Utc>,
}

/// What the health rules read of a connection row.
pub(crate) fn connection_facts(
    model: &entity::provider_connection::Model,
) -> health::ConnectionFacts {
    use crate::domain::status::{ConnectionHealth, ConnectionStatus};
    health::ConnectionFacts {
        provider: model.provider.clone(),
        status: ConnectionStatus::from_stored(&model.status),
        health: ConnectionHealth::from_stored(&model.health_status),
        last_checked_at: model.last_health_check_at,
    }
}

/// What the health rules read of a permission row.
pub(crate) fn permission_facts(
    model: &crate::db::tables::PermissionSummary,
) -> health::PermissionFacts {
    health::PermissionFacts {
        key: model.key.clone(),
        status: model.status,
        last_checked_at: model.last_checked_at,
    }
}

/// What the stuck rule reads of a run row.
pub(crate) fn run_times(model: &entity::operation_run::Model) -> stuck::RunTimes {
    stuck::RunTimes {
        status: crate::domain::status::RunStatus::from_stored(&model.status),
        created_at: model.created_at,
        started_at: model.started_at,
    }
}

/// A tally's counts as the health rules read them.
pub(crate) fn run_counts(tally: RunTally) -> health::RunCounts {
    health::RunCounts {
        failed: tally.failed,
        stuck: tally.stuck,
    }
}
