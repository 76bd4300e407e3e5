//! Run counts over a window at the cost of the window's length, not of the runs in it
//! (issue #13): the `run_rollups` table holds each hour's and each UTC day's counts,
//! overall, per type, per tenant and per workspace.
//!
//! # Always exact
//! Triggers on `operation_runs` (see the `run_rollups` migration) note the hour of every
//! row inserted, updated or deleted in `run_rollup_dirty`, in the writer's own
//! transaction. A window is then read as
//! - the roll-ups of its whole hours that are not dirty: a day's row where the whole day
//!   is in the window and clean, else the hours' rows;
//! - the rows themselves for the rest: the two partial hours at its edges and every dirty
//!   hour;
//! - stuck runs always from the rows, since being stuck depends on `now`: each half of
//!   the rule (queued, running) counted apart on a partial index of its own, so a count
//!   reads the index alone, never the table.
//!
//! # Every tenant's failures
//! The Control Tower ranks tenants by failures and grades every tenant's health by them.
//! Reading a cell per tenant per hour is 5,000 rows an hour at the edges of a window on
//! dense data. `run_tenant_failures` holds instead each tenant's failures from the start
//! of a UTC day through each hour (prefix sums, see the `dense_data` migration), so a
//! stretch of clean hours within a day is two rows per tenant: the prefix through its
//! last hour less the prefix through the hour before its first. A refresh rewrites a
//! day's prefix sums from the first hour it refreshed in that day onwards, from the
//! hourly roll-ups, in the same transaction. A dirty hour's stale value is in the
//! prefix sums after it, but on both ends of any stretch that does not hold it alike,
//! so a difference over clean hours is exact.
//!
//! So an answer never waits for a refresh, and a refresh only makes answers cheaper.
//! Runs that change status long after they were created, deleted rows and writers'
//! clocks need no safety margin and no reconciliation: the trigger sees them all.
//!
//! # Refreshing
//! [`refresh`] recomputes dirty hours from the rows (the newest first, so that after a
//! start the recent windows are the first to be cheap) and each touched day from its
//! hours, and removes the markers it consumed, in one transaction that sees one snapshot
//! (`REPEATABLE READ` on PostgreSQL; SQLite's transactions are serializable). A marker
//! committed after that snapshot is not seen, so not removed: its hour is refreshed next
//! time. Several instances may refresh at once: on PostgreSQL an advisory lock lets one
//! go and the others skip; any overlap that remains fails to serialize and rolls back,
//! so nothing is counted twice.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use entity::operation_run;
use sea_orm::sea_query::{
    Alias, Asterisk, DeleteStatement, Expr, ExprTrait, Func, Query, SelectStatement, UnionType,
};
use sea_orm::{
    AccessMode, ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityName,
    IsolationLevel, QueryResult, TransactionTrait,
};

use super::Db;
use super::runs::stuck_conditions;
use super::stats::{COUNTS, RunTally, add_counts, created_within, read_tally};
use crate::domain::criteria::Criteria;
use crate::domain::status::RunOutcome;
use crate::domain::window::TimeRange;

const ROLLUPS: &str = "run_rollups";
const DIRTY: &str = "run_rollup_dirty";
const TENANT_FAILURES: &str = "run_tenant_failures";
const OPEN: &str = "run_open";
/// The prefix sums' count column, named as the tallies name failed runs.
const FAILED: &str = RunOutcome::Failed.as_stored();
const SECONDS_PER_HOUR: i64 = 3_600;
const HOURS_PER_DAY: i64 = 24;

/// What a tally is split by; the value is the `grouping_set` stored in `run_rollups`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Grouping {
    All = 0,
    Type = 1,
    Tenant = 2,
    Workspace = 3,
}

impl Grouping {
    const EVERY: [Grouping; 4] = [Self::All, Self::Type, Self::Tenant, Self::Workspace];
    /// The groupings by a column, in [`KEY_COLUMNS`]' order.
    const KEYED: [Grouping; 3] = [Self::Type, Self::Tenant, Self::Workspace];

    /// The `operation_runs` column the grouping is by.
    fn column(self) -> Option<operation_run::Column> {
        match self {
            Self::All => None,
            Self::Type => Some(operation_run::Column::Type),
            Self::Tenant => Some(operation_run::Column::TenantId),
            Self::Workspace => Some(operation_run::Column::WorkspaceId),
        }
    }

    fn of(value: i32) -> Option<Self> {
        Self::EVERY
            .into_iter()
            .find(|grouping| *grouping as i32 == value)
    }
}

/// The key of one group's tally: which type, tenant or workspace (or none, for `All`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum GroupKey {
    All,
    Type(String),
    Tenant(i64),
    Workspace(i64),
}

/// The group columns every part of a tally statement yields, in order.
const KEY_COLUMNS: [&str; 3] = ["type", "tenant_id", "workspace_id"];
const GROUPING_COLUMN: &str = "grouping_set";
const STUCK: &str = "stuck";

/// A NULL in the type of `grouping`'s key column, so PostgreSQL can match the parts of
/// a union.
fn null_of(grouping: Grouping) -> &'static str {
    if grouping == Grouping::Type {
        "CAST(NULL AS TEXT)"
    } else {
        "CAST(NULL AS BIGINT)"
    }
}

/// The hour (since the Unix epoch) of `operation_runs.created_at`, as SQL.
fn hour_of_created_at(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "FLOOR(EXTRACT(EPOCH FROM \"created_at\") / 3600)::BIGINT",
        _ => "(CAST(STRFTIME('%s', \"created_at\") AS INTEGER) / 3600)",
    }
}

fn at_hour(hour: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(hour * SECONDS_PER_HOUR, 0).unwrap_or_default()
}

/// A stretch of `created_at`: from `start` (included) to `end`, included or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stretch {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    end_included: bool,
}

impl Stretch {
    fn condition(self) -> Condition {
        let column = operation_run::Column::CreatedAt;
        let end = if self.end_included {
            column.lte(self.end)
        } else {
            column.lt(self.end)
        };
        Condition::all().add(column.gte(self.start)).add(end)
    }
}

/// Consecutive numbers as half-open ranges: `[3, 4, 5, 9]` → `[(3, 6), (9, 10)]`.
fn ranges(numbers: impl IntoIterator<Item = i64>) -> Vec<(i64, i64)> {
    let mut ranges: Vec<(i64, i64)> = Vec::new();
    for number in numbers {
        match ranges.last_mut() {
            Some((_, end)) if *end == number => *end += 1,
            _ => ranges.push((number, number + 1)),
        }
    }
    ranges
}

/// How a window is read: which roll-up days and hours, and which stretches of rows.
#[derive(Debug, Default, PartialEq, Eq)]
struct Plan {
    days: Vec<i64>,
    hours: Vec<i64>,
    rows: Vec<Stretch>,
}

impl Plan {
    /// The plan of `range`, given the dirty hours among its whole hours.
    fn of(range: TimeRange, dirty: &BTreeSet<i64>) -> Self {
        let start = range.start.timestamp();
        let starts_on_the_hour =
            start.rem_euclid(SECONDS_PER_HOUR) == 0 && range.start.timestamp_subsec_nanos() == 0;
        let first = start.div_euclid(SECONDS_PER_HOUR) + i64::from(!starts_on_the_hour);
        let end = Ord::max(range.end.timestamp().div_euclid(SECONDS_PER_HOUR), first);
        let mut plan = Plan::default();
        // Rows from the window's start to its first whole hour, every dirty hour, and
        // from its last whole hour to its end, merged where they touch.
        let mut pieces = Vec::new();
        if range.start < at_hour(first) {
            pieces.push((range.start, at_hour(first), false));
        }
        for hour in dirty.range(first..end) {
            pieces.push((at_hour(*hour), at_hour(hour + 1), false));
        }
        pieces.push((Ord::max(at_hour(end), range.start), range.end, true));
        for (start, finish, end_included) in pieces {
            match plan.rows.last_mut() {
                Some(last) if last.end == start && !last.end_included => {
                    last.end = finish;
                    last.end_included = end_included;
                }
                _ => plan.rows.push(Stretch {
                    start,
                    end: finish,
                    end_included,
                }),
            }
        }
        let clean = (first..end).filter(|hour| !dirty.contains(hour));
        for hour in clean {
            let day = hour.div_euclid(HOURS_PER_DAY);
            let (day_start, day_end) = (day * HOURS_PER_DAY, (day + 1) * HOURS_PER_DAY);
            let whole_day = day_start >= first
                && day_end <= end
                && dirty.range(day_start..day_end).next().is_none();
            if !whole_day {
                plan.hours.push(hour);
            } else if plan.days.last() != Some(&day) {
                plan.days.push(day);
            }
        }
        plan
    }
}

impl Plan {
    /// The runs the roll-ups do not cover: created in one of the plan's stretches of rows.
    fn rows_condition(&self) -> Condition {
        self.rows.iter().fold(Condition::any(), |any, stretch| {
            any.add(stretch.condition())
        })
    }

    /// The clean whole days and the other clean whole hours of the plan, as stretches of
    /// consecutive units within one period of their level each (a block of days, a
    /// day): `(first, last)`, both included.
    fn prefix_stretches(&self) -> [(Prefix, Vec<(i64, i64)>); 2] {
        [(DAILY, &self.days), (HOURLY, &self.hours)].map(|(level, units)| {
            let mut stretches: Vec<(i64, i64)> = Vec::new();
            for unit in units.iter().copied() {
                match stretches.last_mut() {
                    Some((_, last)) if *last + 1 == unit && unit.rem_euclid(level.period) != 0 => {
                        *last = unit;
                    }
                    _ => stretches.push((unit, unit)),
                }
            }
            (level, stretches)
        })
    }
}

/// A level of the tenants' failure prefix sums (see the `dense_data` migration): each
/// tenant's failures from the start of a period through each unit of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Prefix {
    table: &'static str,
    /// The unit's column, numbered from the Unix epoch.
    unit: &'static str,
    /// The `span_hours` of the roll-ups the sums are made of, one per unit.
    cell_span: i64,
    /// Units per period.
    period: i64,
}

/// Hours, within a UTC day.
const HOURLY: Prefix = Prefix {
    table: TENANT_FAILURES,
    unit: "hour",
    cell_span: 1,
    period: HOURS_PER_DAY,
};

/// Days, within a block of eight (numbered from the epoch's first): a window of up to
/// seven whole days spans at most two.
const DAILY: Prefix = Prefix {
    table: "run_tenant_failure_days",
    unit: "day",
    cell_span: HOURS_PER_DAY,
    period: 8,
};

/// The prefix sums of each tenant's failures through `unit` of `level`, as `tenant_id`
/// and `sign` times `failed`: the row of the latest unit at or before `unit` in its
/// period that has rows, since a period's rows run, for every tenant that failed by
/// then, to the last unit in which any did. No rows: nobody failed by then.
fn tenant_failures_through(level: Prefix, unit: i64, sign: i64) -> SelectStatement {
    let Prefix {
        table,
        unit: column,
        period,
        ..
    } = level;
    let start = unit.div_euclid(period) * period;
    let mut query = Query::select();
    query
        .from(table)
        .column("tenant_id")
        .expr_as(Expr::col(FAILED).mul(sign), FAILED);
    // Literal units, as every bucket of the roll-ups' statements: the planner sees them.
    query.and_where(Expr::col(column).eq(Expr::cust(format!(
        "(SELECT MAX({column}) FROM {table} WHERE {column} >= {start} AND {column} <= {unit})"
    ))));
    query
}

/// The prefix-sum rows of each tenant's failures over `stretches` (see
/// [`Plan::prefix_stretches`]), as `tenant_id`, `failed` and `stuck` (0): per stretch,
/// the prefix through its last unit, and the prefix through the unit before its first
/// negated, unless the stretch starts its period.
fn tenant_failure_ends(stretches: &[(Prefix, Vec<(i64, i64)>)]) -> Vec<SelectStatement> {
    let mut ends = Vec::new();
    for (level, stretches) in stretches {
        for (first, last) in stretches {
            ends.push(tenant_failures_through(*level, *last, 1));
            if first.rem_euclid(level.period) != 0 {
                ends.push(tenant_failures_through(*level, first - 1, -1));
            }
        }
    }
    for end in &mut ends {
        end.expr_as(Expr::val(0), STUCK);
    }
    ends
}

/// Each tenant's failed and stuck runs in `window`, as `tenant_id`, `failed` and
/// `stuck`, at most one row per tenant (one whose prefix sums cancel out has both 0;
/// runs without a tenant are not counted): a
/// subquery for the statements that grade and rank every tenant in the database (see
/// `health::at_a_glance`), so that 5,000 tenants are not 5,000 rows to the service.
/// The failures of the clean whole days and hours come from the prefix sums, a row or
/// two per tenant and stretch; those of the rest from the failed rows themselves, and
/// the stuck runs from the open runs, each half of the rule an index range.
pub(crate) fn tenant_runs(window: &Window, criteria: &Criteria) -> SelectStatement {
    use operation_run::Column;
    let (range, plan) = (window.range, &window.plan);
    let rows = plan.rows_condition();
    let mut failed = Query::select();
    failed
        .from(operation_run::Entity.table_ref())
        .column(Column::TenantId)
        .expr_as(Expr::val(1), FAILED)
        .expr_as(Expr::val(0), STUCK)
        .cond_where(Condition::all().add(rows).add(Column::Outcome.eq(FAILED)));
    let mut parts = vec![failed];
    for half in stuck_conditions(criteria) {
        let mut stuck = from_open_runs();
        stuck
            .column(Column::TenantId)
            .expr_as(Expr::val(0), FAILED)
            .expr_as(Expr::val(1), STUCK)
            .cond_where(created_within(range).add(half));
        parts.push(stuck);
    }
    parts.extend(tenant_failure_ends(&plan.prefix_stretches()));
    let mut query = Query::select();
    query
        .from_subquery(union_all(parts), "parts")
        .column("tenant_id")
        .and_where(Expr::col("tenant_id").is_not_null())
        .group_by_col("tenant_id");
    for column in [FAILED, STUCK] {
        query.expr_as(
            Func::cast_as(Func::sum(Expr::col(column)), "BIGINT"),
            column,
        );
    }
    query
}

/// Which rows a tally part counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// `operation_runs`.
    Runs,
    /// `run_open`, the runs the stuck rule may count, kept by triggers (see the
    /// `dense_data` migration): a small table where `operation_runs` is big.
    Open,
}

/// A select from `run_open`, the runs the stuck rule may count, kept by triggers (see
/// the `dense_data` migration), under the runs' name, so that their conditions apply as
/// they are.
pub(crate) fn from_open_runs() -> SelectStatement {
    let mut query = Query::select();
    query.from_as(Alias::new(OPEN), operation_run::Entity);
    query
}

/// The parts as one statement, `UNION ALL`.
fn union_all(parts: Vec<SelectStatement>) -> SelectStatement {
    let mut parts = parts.into_iter();
    let mut query = parts.next().unwrap_or_else(Query::select);
    query.unions(parts.map(|part| (UnionType::All, part)));
    query
}

/// `grouping_set`, the key columns and the columns `counts` adds, of each grouping of
/// the runs matching `condition`, grouped also by `extra` (an expression, selected as
/// `bucket`) when given: one statement on PostgreSQL (`GROUPING SETS`), one per grouping
/// on SQLite, which has no grouping sets.
fn grouped_counts(
    backend: DbBackend,
    source: Source,
    groupings: &[Grouping],
    condition: Condition,
    extra: Option<&'static str>,
    counts: impl Fn(&mut SelectStatement),
) -> Vec<SelectStatement> {
    let base = || {
        let mut query = match source {
            Source::Runs => {
                let mut query = Query::select();
                query.from(operation_run::Entity.table_ref());
                query
            }
            Source::Open => from_open_runs(),
        };
        query.cond_where(condition.clone());
        if let Some(extra) = extra {
            query.expr_as(Expr::cust(extra), "bucket");
        }
        query
    };
    match backend {
        DbBackend::Postgres if groupings.len() > 1 => {
            let mut query = base();
            // GROUPING() takes only columns some set groups by, and sets a bit (the
            // first column's the highest) for each it does not group a row by.
            let keyed: Vec<Grouping> = groupings
                .iter()
                .copied()
                .filter(|grouping| grouping.column().is_some())
                .collect();
            let name = |column: &operation_run::Column| {
                format!("\"{}\"", sea_orm::IdenStatic::as_str(column))
            };
            let every_bit = (1_i32 << keyed.len()) - 1;
            let cases: Vec<String> = groupings
                .iter()
                .map(|grouping| {
                    let bit = keyed
                        .iter()
                        .position(|key| key == grouping)
                        .map_or(0, |position| 1 << (keyed.len() - 1 - position));
                    format!("WHEN {} THEN {}", every_bit ^ bit, *grouping as i32)
                })
                .collect();
            let names: Vec<String> = keyed
                .iter()
                .filter_map(|grouping| grouping.column().as_ref().map(name))
                .collect();
            query.expr_as(
                Expr::cust(format!(
                    "CASE GROUPING({}) {} END",
                    names.join(", "),
                    cases.join(" ")
                )),
                GROUPING_COLUMN,
            );
            for (alias, candidate) in KEY_COLUMNS.into_iter().zip(Grouping::KEYED) {
                if groupings.contains(&candidate) {
                    query.expr_as(Expr::col(Alias::new(alias)), alias);
                } else {
                    query.expr_as(Expr::cust(null_of(candidate)), alias);
                }
            }
            counts(&mut query);
            let sets: Vec<String> = groupings
                .iter()
                .map(|grouping| {
                    let columns: Vec<String> = extra
                        .map(str::to_owned)
                        .into_iter()
                        .chain(grouping.column().as_ref().map(name))
                        .collect();
                    format!("({})", columns.join(", "))
                })
                .collect();
            query.add_group_by([Expr::cust(format!("GROUPING SETS ({})", sets.join(", ")))]);
            vec![query]
        }
        _ => {
            let grouped = |grouping: Grouping| {
                let mut query = base();
                query.expr_as(Expr::val(grouping as i32), GROUPING_COLUMN);
                for (alias, candidate) in KEY_COLUMNS.into_iter().zip(Grouping::KEYED) {
                    if candidate == grouping {
                        query.expr_as(Expr::col(Alias::new(alias)), alias);
                    } else {
                        query.expr_as(Expr::cust(null_of(candidate)), alias);
                    }
                }
                counts(&mut query);
                if let Some(extra) = extra {
                    query.add_group_by([Expr::cust(extra)]);
                }
                match grouping.column() {
                    // `+column`, not the column: grouping by the column itself, SQLite
                    // (given statistics) walks the `(tenant_id, created_at)` index once
                    // per tenant, 5,000 seeks, rather than sort a window's few rows.
                    Some(column) if backend == DbBackend::Sqlite => {
                        let name = sea_orm::IdenStatic::as_str(&column);
                        query.add_group_by([Expr::cust(format!("+\"{name}\""))]);
                    }
                    Some(column) => {
                        query.group_by_col(column);
                    }
                    None => {}
                }
                query
            };
            groupings
                .iter()
                .map(|grouping| grouped(*grouping))
                .collect()
        }
    }
}

fn counted_columns() -> impl Iterator<Item = &'static str> {
    COUNTS.into_iter().filter(|column| *column != STUCK)
}

/// A window about to be read: its range, and its plan given its dirty hours.
///
/// The dirty hours are read by a statement of their own, before the counts: an hour a
/// writer changes between the two is counted as it was when the first ran. Answers are
/// exact for every change committed before a request began.
#[derive(Debug)]
pub(crate) struct Window {
    range: TimeRange,
    plan: Plan,
}

impl Window {
    /// Reads `range`'s dirty hours (one statement) and plans how to read it.
    pub(crate) async fn read(db: &Db, range: TimeRange) -> Result<Self, DbErr> {
        let db = &db.aggregates();
        let dirty = dirty_hours(db, range).await?;
        Ok(Self {
            range,
            plan: Plan::of(range, &dirty),
        })
    }
}

/// The run tallies of `window`, per grouping in `groupings`, of the runs matching
/// `narrowed` (a condition on `operation_runs`; the same must hold of the roll-up rows
/// through `narrowed_rollups`), in one statement.
async fn tallies(
    db: &Db,
    window: &Window,
    criteria: &Criteria,
    groupings: &[Grouping],
    narrowed: Condition,
    narrowed_rollups: Condition,
) -> Result<HashMap<GroupKey, RunTally>, DbErr> {
    let backend = db.get_database_backend();
    let (range, plan) = (window.range, &window.plan);

    let zero = |query: &mut SelectStatement, columns: &mut dyn Iterator<Item = &'static str>| {
        for column in columns {
            query.expr_as(Expr::val(0), column);
        }
    };
    // Rows: the stretches the roll-ups do not cover.
    let rows = plan.rows_condition();
    let mut parts = grouped_counts(
        backend,
        Source::Runs,
        groupings,
        Condition::all().add(rows).add(narrowed.clone()),
        None,
        |query| {
            add_counts(query);
            query.expr_as(Expr::val(0), STUCK);
        },
    );
    // Stuck runs of the window, always from the open runs: each half of the rule a range
    // of an index of its own, where their `OR` would read the table.
    for half in stuck_conditions(criteria) {
        let stuck = grouped_counts(
            backend,
            Source::Open,
            groupings,
            created_within(range).add(half).add(narrowed.clone()),
            None,
            |query| {
                zero(query, &mut counted_columns());
                query.expr_as(Expr::col(Asterisk).count(), STUCK);
            },
        );
        parts.extend(stuck);
    }
    // Roll-ups: the clean whole days and hours.
    let spans = [(HOURS_PER_DAY, &plan.days), (1, &plan.hours)];
    if spans.iter().any(|(_, buckets)| !buckets.is_empty()) {
        let mut covered = Condition::any();
        for (span, buckets) in spans {
            for (from, to) in ranges(buckets.iter().copied()) {
                covered = covered.add(
                    Condition::all()
                        .add(Expr::col("span_hours").eq(span))
                        .add(Expr::col("bucket").gte(from))
                        .add(Expr::col("bucket").lt(to)),
                );
            }
        }
        let condition = Condition::all()
            .add(
                Expr::col(GROUPING_COLUMN).is_in(groupings.iter().map(|grouping| *grouping as i32)),
            )
            .add(covered)
            .add(narrowed_rollups);
        let mut rollups = Query::select();
        rollups
            .from(ROLLUPS)
            .column(GROUPING_COLUMN)
            .columns(KEY_COLUMNS)
            .columns(counted_columns())
            .expr_as(Expr::val(0), STUCK)
            .cond_where(condition);
        parts.push(rollups);
    }

    let mut outer = Query::select();
    outer
        .from_subquery(union_all(parts), "parts")
        .column(GROUPING_COLUMN)
        .columns(KEY_COLUMNS);
    // Summed as 32-bit integers (each part's count of a group fits), into a 64-bit
    // total: PostgreSQL sums 64-bit ones through `numeric`, several times slower.
    for column in COUNTS {
        outer.expr_as(
            Func::cast_as(
                Func::sum(Func::cast_as(Expr::col(column), "INTEGER")),
                "BIGINT",
            ),
            column,
        );
    }
    outer
        .group_by_col(GROUPING_COLUMN)
        .group_by_columns(KEY_COLUMNS);
    let mut tallies: HashMap<GroupKey, RunTally> = HashMap::new();
    for row in db.query_all(&outer).await? {
        if let Some(key) = key_of(&row)? {
            tallies.insert(key, read_tally(&row)?);
        }
    }
    Ok(tallies)
}

fn key_of(row: &QueryResult) -> Result<Option<GroupKey>, DbErr> {
    let grouping = row.try_get::<i32>("", GROUPING_COLUMN)?;
    Ok(match Grouping::of(grouping) {
        Some(Grouping::All) => Some(GroupKey::All),
        Some(Grouping::Type) => row
            .try_get::<Option<String>>("", "type")?
            .map(GroupKey::Type),
        Some(Grouping::Tenant) => row
            .try_get::<Option<i64>>("", "tenant_id")?
            .map(GroupKey::Tenant),
        Some(Grouping::Workspace) => row
            .try_get::<Option<i64>>("", "workspace_id")?
            .map(GroupKey::Workspace),
        None => None,
    })
}

/// The dirty hours among `range`'s.
async fn dirty_hours(db: &Db, range: TimeRange) -> Result<BTreeSet<i64>, DbErr> {
    let mut query = Query::select();
    query
        .distinct()
        .column("hour")
        .from(DIRTY)
        .and_where(Expr::col("hour").gte(range.start.timestamp().div_euclid(SECONDS_PER_HOUR)))
        .and_where(Expr::col("hour").lte(range.end.timestamp().div_euclid(SECONDS_PER_HOUR)));
    db.query_all(&query)
        .await?
        .iter()
        .map(|row| row.try_get::<i64>("", "hour"))
        .collect()
}

/// What the Control Tower counts of a window's runs.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub(crate) all: RunTally,
    pub(crate) types: Vec<(String, RunTally)>,
    pub(crate) workspaces: HashMap<i64, RunTally>,
}

/// The tallies of `window` overall, per type and per workspace; the tenants' are read
/// in the database (see [`tenant_runs`]).
pub(crate) async fn every_grouping(
    db: &Db,
    window: &Window,
    criteria: &Criteria,
) -> Result<Counts, DbErr> {
    let db = &db.aggregates();
    let tallies = tallies(
        db,
        window,
        criteria,
        &[Grouping::All, Grouping::Type, Grouping::Workspace],
        Condition::all(),
        Condition::all(),
    )
    .await?;
    let mut counts = Counts::default();
    for (key, tally) in tallies {
        match key {
            GroupKey::All => counts.all = tally,
            GroupKey::Type(kind) => counts.types.push((kind, tally)),
            GroupKey::Workspace(workspace) => {
                counts.workspaces.insert(workspace, tally);
            }
            GroupKey::Tenant(_) => {}
        }
    }
    Ok(counts)
}

/// The tally of each of `parents` in `window`, `parent` being `operation_runs.tenant_id`
/// or `workspace_id`; parents without runs are absent.
pub(crate) async fn per_parent(
    db: &Db,
    window: &Window,
    parent: operation_run::Column,
    parents: &[i64],
    criteria: &Criteria,
) -> Result<HashMap<i64, RunTally>, DbErr> {
    let db = &db.aggregates();
    let (parent, key_column) = match parent {
        operation_run::Column::TenantId => (Grouping::Tenant, "tenant_id"),
        _ => (Grouping::Workspace, "workspace_id"),
    };
    let Some(column) = parent.column() else {
        return Ok(HashMap::new());
    };
    let tallies = tallies(
        db,
        window,
        criteria,
        &[parent],
        Condition::all().add(column.is_in(parents.iter().copied())),
        Condition::all().add(Expr::col(key_column).is_in(parents.iter().copied())),
    )
    .await?;
    Ok(tallies
        .into_iter()
        .filter_map(|(key, tally)| match key {
            GroupKey::Tenant(id) | GroupKey::Workspace(id) => Some((id, tally)),
            _ => None,
        })
        .collect())
}

/// Most hours one refresh transaction recomputes; a refresh loops until none is dirty.
const HOURS_PER_TRANSACTION: u64 = 24;

/// Any PostgreSQL advisory lock key no other code takes: `ct_rollup` in ASCII.
const ADVISORY_LOCK: i64 = 0x6374_5f72_6f6c_6c75;

/// Brings the roll-ups of every dirty hour (and its day) up to date. Returns how many
/// hours it recomputed; 0 also when another instance is refreshing. Hours dirtied while
/// it runs may be left for the next refresh.
pub async fn refresh(db: &Db) -> Result<u64, DbErr> {
    let db = &db.aggregates();
    let mut refreshed = 0;
    loop {
        let hours = refresh_some(db).await?;
        refreshed += hours;
        // A batch that was not full took every hour dirty when it began: stop there, or
        // steady writers, who dirty the current hour again and again, would keep this
        // going for ever.
        if hours < HOURS_PER_TRANSACTION {
            return Ok(refreshed);
        }
    }
}

/// After a refresh that rebuilt at least this many hours (a first build, a big write from
/// outside), the tables the service computes are tidied (see [`tidy`]).
pub const REBUILT_HOURS: u64 = 48;

/// Vacuums and analyzes the tables the service computes (PostgreSQL), or renews their
/// statistics from a sample (SQLite): after a first build their statistics would still
/// describe empty tables, and until a vacuum marks their pages all-visible PostgreSQL
/// reads their rows from the table rather than from the index alone, until autovacuum
/// comes by. Never run inside a transaction (PostgreSQL's VACUUM cannot be).
pub async fn tidy(db: &Db) -> Result<(), DbErr> {
    let db = db.aggregates();
    // On SQLite, one call, so that the limit holds on the connection that analyzes.
    let statements = match db.get_database_backend() {
        DbBackend::Postgres => {
            "VACUUM (ANALYZE) run_rollups, run_tenant_failures, run_tenant_failure_days, run_open"
        }
        _ => {
            "PRAGMA analysis_limit = 1000; ANALYZE run_rollups; ANALYZE run_tenant_failures; \
             ANALYZE run_tenant_failure_days; ANALYZE run_open"
        }
    };
    db.connection().execute_unprepared(statements).await?;
    Ok(())
}

async fn refresh_some(db: &Db) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let transaction = match backend {
        // Behind a pooler, its settings first, in the one message that sets the
        // isolation (sea-orm would prepare that statement).
        DbBackend::Postgres if let Some(settings) = db.transaction_settings() => {
            let transaction = db.connection().begin().await?;
            transaction
                .execute_unprepared(&format!(
                    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; {settings}"
                ))
                .await?;
            transaction
        }
        DbBackend::Postgres => {
            db.connection()
                .begin_with_config(
                    Some(IsolationLevel::RepeatableRead),
                    Some(AccessMode::ReadWrite),
                )
                .await?
        }
        _ => db.connection().begin().await?,
    };
    if backend == DbBackend::Postgres {
        let locked = transaction
            .query_one(&*Query::select().expr_as(
                Func::cust("pg_try_advisory_xact_lock").arg(ADVISORY_LOCK),
                "locked",
            ))
            .await?
            .map(|row| row.try_get::<bool>("", "locked"))
            .transpose()?;
        if locked != Some(true) {
            transaction.rollback().await?;
            return Ok(0);
        }
    }
    let mut query = Query::select();
    query
        .distinct()
        .column("hour")
        .from(DIRTY)
        // Newest first: after a start, the recent windows are the first to be cheap.
        .order_by("hour", sea_orm::Order::Desc)
        .limit(HOURS_PER_TRANSACTION);
    let hours: Vec<i64> = transaction
        .query_all(&query)
        .await?
        .iter()
        .map(|row| row.try_get::<i64>("", "hour"))
        .collect::<Result<_, _>>()?;
    if hours.is_empty() {
        transaction.rollback().await?;
        return Ok(0);
    }
    let mut hours = hours;
    hours.sort_unstable();
    // The roll-ups' index leads with the grouping: name them all, so it serves.
    let in_buckets = |ranges: &[(i64, i64)], span: i64| {
        let buckets = ranges.iter().fold(Condition::any(), |any, (from, to)| {
            any.add(
                Condition::all()
                    .add(Expr::col("span_hours").eq(span))
                    .add(Expr::col("bucket").gte(*from))
                    .add(Expr::col("bucket").lt(*to)),
            )
        });
        Condition::all()
            .add(Expr::col(GROUPING_COLUMN).is_in(Grouping::EVERY.map(|grouping| grouping as i32)))
            .add(buckets)
    };
    let hour_ranges = ranges(hours.iter().copied());
    let days: BTreeSet<i64> = hours
        .iter()
        .map(|hour| hour.div_euclid(HOURS_PER_DAY))
        .collect();
    let day_ranges = ranges(days.iter().copied());
    let columns: Vec<&'static str> = ["span_hours", "bucket", GROUPING_COLUMN]
        .into_iter()
        .chain(KEY_COLUMNS)
        .chain(counted_columns())
        .collect();

    // The hours, from the rows.
    transaction
        .execute(&delete(ROLLUPS, in_buckets(&hour_ranges, 1)))
        .await?;
    let stretches = hour_ranges
        .iter()
        .fold(Condition::any(), |any, (from, to)| {
            any.add(
                Stretch {
                    start: at_hour(*from),
                    end: at_hour(*to),
                    end_included: false,
                }
                .condition(),
            )
        });
    let mut from_rows = Query::select();
    from_rows
        .expr_as(Expr::val(1), "span_hours")
        .expr_as(Expr::col("bucket"), "bucket")
        .column(GROUPING_COLUMN)
        .columns(KEY_COLUMNS)
        .columns(counted_columns())
        .from_subquery(
            union_all(grouped_counts(
                backend,
                Source::Runs,
                &Grouping::EVERY,
                Condition::all().add(stretches),
                Some(hour_of_created_at(backend)),
                add_counts,
            )),
            "hours",
        );
    transaction.execute(&insert(&columns, from_rows)?).await?;

    // The days they fall in, from their hours.
    transaction
        .execute(&delete(ROLLUPS, in_buckets(&day_ranges, HOURS_PER_DAY)))
        .await?;
    // Literal, not bound: PostgreSQL matches the grouped expression by its text.
    let day_of = Expr::cust(format!("\"bucket\" / {HOURS_PER_DAY}"));
    let mut from_hours = Query::select();
    from_hours
        .from(ROLLUPS)
        .expr_as(Expr::val(HOURS_PER_DAY), "span_hours")
        .expr_as(day_of.clone(), "bucket")
        .column(GROUPING_COLUMN)
        .columns(KEY_COLUMNS);
    for column in counted_columns() {
        from_hours.expr_as(
            Func::cast_as(Func::sum(Expr::col(column)), "BIGINT"),
            column,
        );
    }
    let day_hours: Vec<(i64, i64)> = day_ranges
        .iter()
        .map(|(from, to)| (from * HOURS_PER_DAY, to * HOURS_PER_DAY))
        .collect();
    from_hours
        .cond_where(in_buckets(&day_hours, 1))
        .add_group_by([day_of])
        .group_by_col(GROUPING_COLUMN)
        .group_by_columns(KEY_COLUMNS);
    transaction.execute(&insert(&columns, from_hours)?).await?;

    // The tenants' failures as prefix sums: within each day touched, from the first hour
    // refreshed in it onwards, and within each block of days touched, from the first
    // day; each on top of the prefix through the unit before.
    let touched_days: Vec<i64> = days.iter().copied().collect();
    for (level, units) in [(HOURLY, &hours), (DAILY, &touched_days)] {
        let mut from: Vec<(i64, i64)> = Vec::new();
        for unit in units.iter().copied() {
            let period = unit.div_euclid(level.period);
            match from.iter_mut().find(|(known, _)| *known == period) {
                Some((_, first)) => *first = Ord::min(*first, unit),
                None => from.push((period, unit)),
            }
        }
        for (period, first) in from {
            let end = (period + 1) * level.period;
            transaction
                .execute(&delete(
                    level.table,
                    Condition::all()
                        .add(Expr::col(level.unit).gte(first))
                        .add(Expr::col(level.unit).lt(end)),
                ))
                .await?;
            transaction
                .execute_unprepared(&tenant_failures_from(level, period, first))
                .await?;
        }
    }

    // The markers this snapshot saw: any committed since stay for the next refresh.
    let consumed = hour_ranges
        .iter()
        .fold(Condition::any(), |any, (from, to)| {
            any.add(
                Condition::all()
                    .add(Expr::col("hour").gte(*from))
                    .add(Expr::col("hour").lt(*to)),
            )
        });
    transaction.execute(&delete(DIRTY, consumed)).await?;
    transaction.commit().await?;
    Ok(hours.len() as u64)
}

/// Writes `level`'s prefix sums for `period` from its unit `first` on: per tenant, its
/// failures of the period through the unit before `first` (the row of the latest unit
/// with rows) plus those of each unit since, from the roll-ups, at every unit from
/// `first` (or its first failure after it) to the period's last unit in which any
/// tenant failed. Only integers are spliced into the statement.
fn tenant_failures_from(level: Prefix, period: i64, first: i64) -> String {
    let Prefix {
        table,
        unit,
        cell_span,
        period: units,
    } = level;
    let (start, end) = (period * units, (period + 1) * units);
    let tenant = Grouping::Tenant as i32;
    let last_offset = units - 1;
    format!(
        "WITH RECURSIVE offsets (o) AS (SELECT 0 UNION ALL SELECT o + 1 FROM offsets WHERE o < {last_offset}), \
         base AS (SELECT tenant_id, failed FROM {table} WHERE {unit} = \
           (SELECT MAX({unit}) FROM {table} WHERE {unit} >= {start} AND {unit} < {first})), \
         cells AS (SELECT bucket, tenant_id, failed FROM {ROLLUPS} WHERE {GROUPING_COLUMN} = {tenant} \
           AND span_hours = {cell_span} AND bucket >= {first} AND bucket < {end} AND failed > 0 \
           AND tenant_id IS NOT NULL), \
         firsts AS (SELECT tenant_id, MIN(first) AS first FROM \
           (SELECT tenant_id, {first} AS first FROM base UNION ALL \
            SELECT tenant_id, MIN(bucket) AS first FROM cells GROUP BY tenant_id) AS candidates \
           GROUP BY tenant_id), \
         grid AS (SELECT firsts.tenant_id, {start} + o AS unit FROM firsts, offsets \
           WHERE {start} + o >= firsts.first AND {start} + o <= (SELECT MAX(bucket) FROM cells)) \
         INSERT INTO {table} ({unit}, tenant_id, failed) \
         SELECT grid.unit, grid.tenant_id, COALESCE(base.failed, 0) \
           + SUM(COALESCE(cells.failed, 0)) OVER (PARTITION BY grid.tenant_id ORDER BY grid.unit) \
         FROM grid LEFT JOIN base ON base.tenant_id = grid.tenant_id \
         LEFT JOIN cells ON cells.tenant_id = grid.tenant_id AND cells.bucket = grid.unit"
    )
}

fn insert(
    columns: &[&'static str],
    rows: SelectStatement,
) -> Result<sea_orm::sea_query::InsertStatement, DbErr> {
    Ok(Query::insert()
        .into_table(ROLLUPS)
        .columns(columns.iter().copied())
        .select_from(rows)
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .to_owned())
}

fn delete(table: &'static str, condition: Condition) -> DeleteStatement {
    Query::delete()
        .from_table(table)
        .cond_where(condition)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn hour(text: &str) -> i64 {
        at(text).timestamp() / SECONDS_PER_HOUR
    }

    fn stretch(start: &str, end: &str, end_included: bool) -> Stretch {
        Stretch {
            start: at(start),
            end: at(end),
            end_included,
        }
    }

    #[test]
    fn consecutive_numbers_make_one_range() {
        assert_eq!(
            ranges([3, 4, 5, 9, 11, 12]),
            vec![(3, 6), (9, 10), (11, 13)]
        );
        assert_eq!(ranges([]), vec![]);
    }

    #[test]
    fn an_hour_window_off_the_hour_is_read_from_the_rows() {
        let range = TimeRange {
            start: at("2026-11-27T11:30:00Z"),
            end: at("2026-11-27T12:30:00Z"),
        };
        let plan = Plan::of(range, &BTreeSet::new());
        assert_eq!(
            plan,
            Plan {
                days: vec![],
                hours: vec![],
                rows: vec![stretch(
                    "2026-11-27T11:30:00Z",
                    "2026-11-27T12:30:00Z",
                    true
                )],
            }
        );
    }

    #[test]
    fn whole_clean_days_use_day_rows_and_the_edges_use_hours_and_rows() {
        let range = TimeRange {
            start: at("2026-11-20T12:30:00Z"),
            end: at("2026-11-27T12:30:00Z"),
        };
        let plan = Plan::of(range, &BTreeSet::new());
        assert_eq!(
            plan.rows,
            vec![
                stretch("2026-11-20T12:30:00Z", "2026-11-20T13:00:00Z", false),
                stretch("2026-11-27T12:00:00Z", "2026-11-27T12:30:00Z", true),
            ]
        );
        let first_day = hour("2026-11-21T00:00:00Z") / 24;
        assert_eq!(plan.days, (first_day..first_day + 6).collect::<Vec<_>>());
        // 13:00 to midnight on the first day, midnight to 12:00 on the last.
        assert_eq!(plan.hours.len(), 11 + 12);
        assert_eq!(plan.hours[0], hour("2026-11-20T13:00:00Z"));
        assert_eq!(plan.hours[22], hour("2026-11-27T11:00:00Z"));
    }

    #[test]
    fn a_dirty_hour_is_read_from_the_rows_and_breaks_its_day_into_hours() {
        let range = TimeRange {
            start: at("2026-11-20T12:30:00Z"),
            end: at("2026-11-27T12:30:00Z"),
        };
        let dirty: BTreeSet<i64> = [hour("2026-11-23T05:00:00Z"), hour("2026-11-27T11:00:00Z")]
            .into_iter()
            .collect();
        let plan = Plan::of(range, &dirty);
        assert_eq!(
            plan.rows,
            vec![
                stretch("2026-11-20T12:30:00Z", "2026-11-20T13:00:00Z", false),
                stretch("2026-11-23T05:00:00Z", "2026-11-23T06:00:00Z", false),
                // The dirty last whole hour joins the end's stretch.
                stretch("2026-11-27T11:00:00Z", "2026-11-27T12:30:00Z", true),
            ]
        );
        assert_eq!(plan.days.len(), 5);
        assert!(!plan.days.contains(&(hour("2026-11-23T00:00:00Z") / 24)));
        assert_eq!(plan.hours.len(), 11 + 23 + 11);
        assert!(!plan.hours.contains(&hour("2026-11-23T05:00:00Z")));
    }

    #[test]
    fn clean_days_and_hours_make_stretches_within_one_period_each() {
        let range = TimeRange {
            start: at("2026-11-20T12:30:00Z"),
            end: at("2026-11-27T12:30:00Z"),
        };
        let dirty: BTreeSet<i64> = [hour("2026-11-23T05:00:00Z")].into_iter().collect();
        let plan = Plan::of(range, &dirty);
        let [(daily, days), (hourly, hours)] = plan.prefix_stretches();
        assert_eq!((daily, hourly), (DAILY, HOURLY));
        let day = |text: &str| hour(text) / 24;
        // Eight-day blocks from the epoch: 2026-11-26 (day 20,783) starts one.
        assert_eq!(day("2026-11-26T00:00:00Z") % 8, 7);
        assert_eq!(
            days,
            vec![
                (day("2026-11-21T00:00:00Z"), day("2026-11-22T00:00:00Z")),
                (day("2026-11-24T00:00:00Z"), day("2026-11-26T00:00:00Z")),
            ]
        );
        let stretch = |first: &str, last: &str| (hour(first), hour(last));
        assert_eq!(
            hours,
            vec![
                stretch("2026-11-20T13:00:00Z", "2026-11-20T23:00:00Z"),
                stretch("2026-11-23T00:00:00Z", "2026-11-23T04:00:00Z"),
                stretch("2026-11-23T06:00:00Z", "2026-11-23T23:00:00Z"),
                stretch("2026-11-27T00:00:00Z", "2026-11-27T11:00:00Z"),
            ]
        );
        // Two rows per tenant where a stretch starts inside its period, one where it
        // starts at the period's start: 10 here, 5 with no dirty hour; not a row for
        // each of the 167 clean hours.
        let ends = |plan: &Plan| tenant_failure_ends(&plan.prefix_stretches()).len();
        assert_eq!(ends(&plan), 10);
        assert_eq!(ends(&Plan::of(range, &BTreeSet::new())), 5);
    }

    #[test]
    fn a_window_on_the_hour_has_no_partial_hour_at_its_start() {
        let range = TimeRange {
            start: at("2026-11-27T11:00:00Z"),
            end: at("2026-11-27T12:00:00Z"),
        };
        let plan = Plan::of(range, &BTreeSet::new());
        assert_eq!(plan.hours, vec![hour("2026-11-27T11:00:00Z")]);
        assert_eq!(
            plan.rows,
            vec![stretch(
                "2026-11-27T12:00:00Z",
                "2026-11-27T12:00:00Z",
                true
            )]
        );
    }
}
