//! Run tallies: how many runs are in each status and outcome, and how many are stuck,
//! computed by the database in one aggregate statement — for all runs of a window, per
//! parent (tenant or workspace), or per run type.

use std::collections::HashMap;

use entity::operation_run;
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait, Func, Query, SelectStatement};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbErr, EntityName, QueryResult};

use super::Db;
use super::runs::stuck_condition;
use crate::domain::criteria::Criteria;
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
const COLUMNS: [&str; 9] = [
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

/// Adds the tally's columns to `query` (a query over `operation_runs`).
pub(crate) fn add_tally(query: &mut SelectStatement, criteria: &Criteria) {
    use operation_run::Column;
    query.expr_as(Expr::col(Asterisk).count(), "total");
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
    query.expr_as(count_where(stuck_condition(criteria)), "stuck");
}

/// Reads a row of [`add_tally`]'s columns.
pub(crate) fn read_tally(row: &QueryResult) -> Result<RunTally, DbErr> {
    let mut values = [0u64; 9];
    for (value, column) in values.iter_mut().zip(COLUMNS) {
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

fn runs_query(condition: Condition, criteria: &Criteria) -> SelectStatement {
    let mut query = Query::select();
    query
        .from(operation_run::Entity.table_ref())
        .cond_where(condition);
    add_tally(&mut query, criteria);
    query
}

/// The tally of each parent's runs in `range`, in one grouped statement; parents
/// without runs are absent.
pub(crate) async fn tally_per_parent(
    db: &Db,
    parent: operation_run::Column,
    parents: &[i64],
    range: TimeRange,
    criteria: &Criteria,
) -> Result<HashMap<i64, RunTally>, DbErr> {
    let condition = created_within(range).add(parent.is_in(parents.iter().copied()));
    let mut query = runs_query(condition, criteria);
    query
        .expr_as(Expr::col(parent), "parent")
        .group_by_col(parent);
    let rows = db.query_all(&query).await?;
    rows.iter()
        .map(|row| Ok((row.try_get::<i64>("", "parent")?, read_tally(row)?)))
        .collect()
}
