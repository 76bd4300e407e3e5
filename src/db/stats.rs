//! Run tallies: how many runs are in each status and outcome, and how many are stuck.
//! Their SQL columns are here; `rollup` computes them for a window.

use entity::operation_run;
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait, Func, SelectStatement};
use sea_orm::{ColumnTrait, Condition, DbErr, QueryResult};

use crate::domain::status::{RunOutcome, RunStatus};
use crate::domain::window::TimeRange;

/// The counts of a set of runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RunTally {
    pub(crate) total: u64,
    pub(crate) queued: u64,
    pub(crate) running: u64,
    pub(crate) completed: u64,
    pub(crate) succeeded: u64,
    pub(crate) partially_succeeded: u64,
    pub(crate) failed: u64,
    pub(crate) canceled: u64,
    pub(crate) stuck: u64,
}

impl RunTally {
    /// Failed ÷ completed; `None` when nothing completed.
    pub(crate) fn failure_rate(&self) -> Option<f64> {
        (self.completed > 0).then(|| self.failed as f64 / self.completed as f64)
    }
}

/// The tally's columns, in [`RunTally`]'s order: the total, one per status, one per
/// outcome (each named by its stored value), and the stuck runs.
pub(crate) const COUNTS: [&str; 9] = [
    "total",
    RunStatus::Queued.as_stored(),
    RunStatus::Running.as_stored(),
    RunStatus::Completed.as_stored(),
    RunOutcome::Succeeded.as_stored(),
    RunOutcome::PartiallySucceeded.as_stored(),
    RunOutcome::Failed.as_stored(),
    RunOutcome::Canceled.as_stored(),
    "stuck",
];

/// `COALESCE(SUM(CASE WHEN condition THEN 1 ELSE 0 END), 0)`.
pub(crate) fn count_where(condition: Condition) -> Expr {
    let case: Expr = Expr::case(condition, 1).finally(0).into();
    Func::coalesce([case.sum(), Expr::val(0)]).into()
}

/// Adds the tally's columns but stuck (which depends on `now`): what the roll-ups keep.
pub(crate) fn add_counts(query: &mut SelectStatement) {
    use operation_run::Column;
    query.expr_as(Expr::col(Asterisk).count(), COUNTS[0]);
    let statuses = [RunStatus::Queued, RunStatus::Running, RunStatus::Completed]
        .map(|status| (Column::Status, status.as_stored()));
    let outcomes = [
        RunOutcome::Succeeded,
        RunOutcome::PartiallySucceeded,
        RunOutcome::Failed,
        RunOutcome::Canceled,
    ]
    .map(|outcome| (Column::Outcome, outcome.as_stored()));
    for (column, value) in statuses.into_iter().chain(outcomes) {
        query.expr_as(count_where(Condition::all().add(column.eq(value))), value);
    }
}

/// Reads a row of [`add_tally`]'s columns.
pub(crate) fn read_tally(row: &QueryResult) -> Result<RunTally, DbErr> {
    let mut values = [0u64; 9];
    for (value, column) in values.iter_mut().zip(COUNTS) {
        let count: i64 = row.try_get("", column)?;
        *value = u64::try_from(count).unwrap_or(0);
    }
    let [
        total,
        queued,
        running,
        completed,
        succeeded,
        partially_succeeded,
        failed,
        canceled,
        stuck,
    ] = values;
    Ok(RunTally {
        total,
        queued,
        running,
        completed,
        succeeded,
        partially_succeeded,
        failed,
        canceled,
        stuck,
    })
}

/// Runs created within `range`, ends included.
pub(crate) fn created_within(range: TimeRange) -> Condition {
    Condition::all()
        .add(operation_run::Column::CreatedAt.gte(range.start))
        .add(operation_run::Column::CreatedAt.lte(range.end))
}
