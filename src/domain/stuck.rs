//! Stuck runs (SPEC §3): a queued run nobody started, or a running run that never ends.
//!
//! This is one form of the rule; `db::runs::stuck_condition` is the other, in SQL, and
//! the integration tests run both over the same rows at each boundary.

use chrono::{DateTime, Duration, Utc};

use super::status::RunStatus;

/// The thresholds in force (`system_console.stuck_thresholds.*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct StuckRules {
    pub(crate) queued_minutes: u32,
    pub(crate) running_minutes: u32,
}

impl StuckRules {
    /// Runs created at or before this moment and still queued are stuck.
    pub(crate) fn queued_before(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - Duration::minutes(i64::from(self.queued_minutes))
    }

    /// Runs started at or before this moment and still running are stuck.
    pub(crate) fn running_before(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - Duration::minutes(i64::from(self.running_minutes))
    }
}

/// Why a run is stuck.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StuckReason {
    QueuedTooLong,
    RunningTooLong,
}

/// A stuck run's diagnosis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stuck {
    pub(crate) reason: StuckReason,
    /// When the overdue wait began: creation for queued runs, start for running ones.
    pub(crate) since: DateTime<Utc>,
    pub(crate) threshold_minutes: u32,
    /// Whole minutes past the threshold (0 exactly at it).
    pub(crate) overdue_minutes: i64,
}

/// What the rule needs to know of a run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunTimes {
    pub(crate) status: RunStatus,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) started_at: Option<DateTime<Utc>>,
}

/// Whether a run is stuck at `now`, and why:
/// - queued, never started, created at least `queued_minutes` ago (since creation), or
/// - running, started at least `running_minutes` ago (since start).
///
/// A queued run with a start time, or a running run without one, is not stuck: the row
/// contradicts itself and neither clock can be trusted.
pub(crate) fn stuck(run: RunTimes, now: DateTime<Utc>, rules: StuckRules) -> Option<Stuck> {
    let (reason, since, threshold_minutes) = match (run.status, run.started_at) {
        (RunStatus::Queued, None) if run.created_at <= rules.queued_before(now) => (
            StuckReason::QueuedTooLong,
            run.created_at,
            rules.queued_minutes,
        ),
        (RunStatus::Running, Some(started_at)) if started_at <= rules.running_before(now) => (
            StuckReason::RunningTooLong,
            started_at,
            rules.running_minutes,
        ),
        _ => return None,
    };
    let overdue = now - since - Duration::minutes(i64::from(threshold_minutes));
    Some(Stuck {
        reason,
        since,
        threshold_minutes,
        overdue_minutes: overdue.num_minutes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: StuckRules = StuckRules {
        queued_minutes: 15,
        running_minutes: 60,
    };

    fn now() -> DateTime<Utc> {
        "2026-11-27T12:00:00Z".parse().unwrap()
    }

    fn queued(age: Duration) -> RunTimes {
        RunTimes {
            status: RunStatus::Queued,
            created_at: now() - age,
            started_at: None,
        }
    }

    fn running(for_: Duration) -> RunTimes {
        RunTimes {
            status: RunStatus::Running,
            created_at: now() - for_ - Duration::minutes(1),
            started_at: Some(now() - for_),
        }
    }

    #[test]
    fn queued_exactly_at_the_threshold_is_stuck_since_creation() {
        let verdict = stuck(queued(Duration::minutes(15)), now(), RULES).unwrap();
        assert_eq!(verdict.reason, StuckReason::QueuedTooLong);
        assert_eq!(verdict.since, now() - Duration::minutes(15));
        assert_eq!(verdict.threshold_minutes, 15);
        assert_eq!(verdict.overdue_minutes, 0);
    }

    #[test]
    fn queued_one_second_short_of_the_threshold_is_not_stuck() {
        let age = Duration::minutes(15) - Duration::seconds(1);
        assert_eq!(stuck(queued(age), now(), RULES), None);
    }

    #[test]
    fn queued_one_second_past_the_threshold_is_stuck() {
        let age = Duration::minutes(15) + Duration::seconds(1);
        assert_eq!(stuck(queued(age), now(), RULES).unwrap().overdue_minutes, 0);
    }

    #[test]
    fn overdue_minutes_count_whole_minutes_past_the_threshold() {
        let age = Duration::minutes(15 + 42) + Duration::seconds(59);
        assert_eq!(
            stuck(queued(age), now(), RULES).unwrap().overdue_minutes,
            42
        );
    }

    #[test]
    fn running_exactly_at_the_threshold_is_stuck_since_start() {
        let verdict = stuck(running(Duration::minutes(60)), now(), RULES).unwrap();
        assert_eq!(verdict.reason, StuckReason::RunningTooLong);
        assert_eq!(verdict.since, now() - Duration::minutes(60));
        assert_eq!(verdict.threshold_minutes, 60);
    }

    #[test]
    fn running_one_second_short_of_the_threshold_is_not_stuck() {
        let time = Duration::minutes(60) - Duration::seconds(1);
        assert_eq!(stuck(running(time), now(), RULES), None);
    }

    #[test]
    fn a_queued_run_with_a_start_time_is_not_stuck() {
        let mut run = queued(Duration::hours(5));
        run.started_at = Some(now() - Duration::hours(4));
        assert_eq!(stuck(run, now(), RULES), None);
    }

    #[test]
    fn a_running_run_without_a_start_time_is_not_stuck() {
        let mut run = running(Duration::hours(5));
        run.started_at = None;
        assert_eq!(stuck(run, now(), RULES), None);
    }

    #[test]
    fn completed_and_unknown_runs_are_never_stuck() {
        for status in [RunStatus::Completed, RunStatus::Unknown] {
            let run = RunTimes {
                status,
                created_at: now() - Duration::days(3),
                started_at: Some(now() - Duration::days(3)),
            };
            assert_eq!(stuck(run, now(), RULES), None);
        }
    }
}
