//! Run tallies: how many runs are in each status and outcome, and how many are stuck,
//! computed by the database in one aggregate statement — for all runs of a window, per
//! parent (tenant or workspace), or per run type.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::operation_run;
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait, Func, Query, SelectStatement};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbErr, EntityName, QueryResult};

use super::Db;
use super::runs::stuck_condition;
use crate::domain::stuck::StuckRules;
use crate::domain::window::TimeRange;

/// The counts of a set of runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunTally {
    pub total: u64,
    pub queued: u64,
    pub running: u64,
    pub completed: u64,
    pub succeeded: u64,
    pub partially_succeeded: u64,
    pub failed: u64,
    pub canceled: u64,
    pub stuck: u64,
}

impl RunTally {
    /// Failed ÷ completed; `None` when nothing completed.
    pub fn failure_rate(&self) -> Option<f64> {
        (self.completed > 0).then(|| self.failed as f64 / self.completed as f64)
    }
}

const COLUMNS: [&str; 9] = [
    "total",
    "queued",
    "running",
    "completed",
    "succeeded",
    "partially_succeeded",
    "failed",
    "canceled",
    "stuck",
];

/// `COALESCE(SUM(CASE WHEN condition THEN 1 ELSE 0 END), 0)`.
pub fn count_where(condition: Condition) -> Expr {
    let case: Expr = Expr::case(condition, 1).finally(0).into();
    Func::coalesce([case.sum(), Expr::val(0)]).into()
}

/// Adds the tally's columns to `query` (a query over `operation_runs`).
pub fn add_tally(query: &mut SelectStatement, now: DateTime<Utc>, rules: StuckRules) {
    use operation_run::Column;
    query.expr_as(Expr::col(Asterisk).count(), "total");
    for (alias, column, value) in [
        ("queued", Column::Status, "queued"),
        ("running", Column::Status, "running"),
        ("completed", Column::Status, "completed"),
        ("succeeded", Column::Outcome, "succeeded"),
        (
            "partially_succeeded",
            Column::Outcome,
            "partially_succeeded",
        ),
        ("failed", Column::Outcome, "failed"),
        ("canceled", Column::Outcome, "canceled"),
    ] {
        query.expr_as(count_where(Condition::all().add(column.eq(value))), alias);
    }
    query.expr_as(count_where(stuck_condition(now, rules)), "stuck");
}

/// Reads a row of [`add_tally`]'s columns.
pub fn read_tally(row: &QueryResult) -> Result<RunTally, DbErr> {
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
pub fn created_within(range: TimeRange) -> Condition {
    Condition::all()
        .add(operation_run::Column::CreatedAt.gte(range.start))
        .add(operation_run::Column::CreatedAt.lte(range.end))
}

fn runs_query(condition: Condition, now: DateTime<Utc>, rules: StuckRules) -> SelectStatement {
    let mut query = Query::select();
    query
        .from(operation_run::Entity.table_ref())
        .cond_where(condition);
    add_tally(&mut query, now, rules);
    query
}

/// The tally of every run matching `condition`.
pub async fn tally(
    db: &Db,
    condition: Condition,
    now: DateTime<Utc>,
    rules: StuckRules,
) -> Result<RunTally, DbErr> {
    let query = runs_query(condition, now, rules);
    match db.query_one(&query).await? {
        Some(row) => read_tally(&row),
        None => Ok(RunTally::default()),
    }
}

/// The tally of each parent's runs in `range`, in one grouped statement; parents
/// without runs are absent.
pub async fn tally_per_parent(
    db: &Db,
    parent: operation_run::Column,
    parents: &[i64],
    range: TimeRange,
    now: DateTime<Utc>,
    rules: StuckRules,
) -> Result<HashMap<i64, RunTally>, DbErr> {
    let condition = created_within(range).add(parent.is_in(parents.iter().copied()));
    let mut query = runs_query(condition, now, rules);
    query
        .expr_as(Expr::col(parent), "parent")
        .group_by_col(parent);
    let rows = db.query_all(&query).await?;
    rows.iter()
        .map(|row| Ok((row.try_get::<i64>("", "parent")?, read_tally(row)?)))
        .collect()
}
