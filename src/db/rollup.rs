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
//! - stuck runs always from the rows, since being stuck depends on `now` (the index on
//!   `status, started_at, created_at` reads only queued and running runs).
//!
//! So an answer never waits for a refresh, and a refresh only makes answers cheaper.
//! Runs that change status long after they were created, deleted rows and writers'
//! clocks need no safety margin and no reconciliation: the trigger sees them all.
//!
//! # Refreshing
//! [`refresh`] recomputes dirty hours from the rows and each touched day from its hours,
//! and removes the markers it consumed, in one transaction that sees one snapshot
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
use super::runs::stuck_condition;
use super::stats::{COUNTS, RunTally, add_counts, created_within, read_tally};
use crate::domain::criteria::Criteria;
use crate::domain::health::RunCounts;
use crate::domain::status::RunOutcome;
use crate::domain::window::TimeRange;

const ROLLUPS: &str = "run_rollups";
const DIRTY: &str = "run_rollup_dirty";
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
    groupings: &[Grouping],
    condition: Condition,
    extra: Option<&'static str>,
    counts: impl Fn(&mut SelectStatement),
) -> Vec<SelectStatement> {
    let base = || {
        let mut query = Query::select();
        query
            .from(operation_run::Entity.table_ref())
            .cond_where(condition.clone());
        if let Some(extra) = extra {
            query.expr_as(Expr::cust(extra), "bucket");
        }
        query
    };
    match backend {
        // GROUPING() takes only columns some set groups by: all four sets, then.
        DbBackend::Postgres if groupings == Grouping::EVERY => {
            let mut query = base();
            // GROUPING() sets a bit for each column a row is not grouped by.
            query.expr_as(
                Expr::cust(
                    "CASE GROUPING(\"type\", \"tenant_id\", \"workspace_id\") \
                     WHEN 7 THEN 0 WHEN 3 THEN 1 WHEN 5 THEN 2 ELSE 3 END",
                ),
                GROUPING_COLUMN,
            );
            for column in KEY_COLUMNS {
                query.expr_as(Expr::col(Alias::new(column)), column);
            }
            counts(&mut query);
            let sets: Vec<String> = groupings
                .iter()
                .map(|grouping| {
                    let columns: Vec<String> =
                        extra
                            .map(str::to_owned)
                            .into_iter()
                            .chain(grouping.column().map(|column| {
                                format!("\"{}\"", sea_orm::IdenStatic::as_str(&column))
                            }))
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
                for (alias, candidate) in KEY_COLUMNS.into_iter().zip([
                    Grouping::Type,
                    Grouping::Tenant,
                    Grouping::Workspace,
                ]) {
                    if candidate == grouping {
                        query.expr_as(Expr::col(Alias::new(alias)), alias);
                    } else {
                        // Typed, so PostgreSQL can match the parts of a union.
                        let null = if candidate == Grouping::Type {
                            "CAST(NULL AS TEXT)"
                        } else {
                            "CAST(NULL AS BIGINT)"
                        };
                        query.expr_as(Expr::cust(null), alias);
                    }
                }
                counts(&mut query);
                if let Some(extra) = extra {
                    query.add_group_by([Expr::cust(extra)]);
                }
                if let Some(column) = grouping.column() {
                    query.group_by_col(column);
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

/// Which rows of the tenant grouping's roll-ups a tally reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TenantRows {
    /// All: every count is right.
    All,
    /// Only those with a failed run: right are `failed` and `stuck`, the rest partial.
    /// The Control Tower needs no more of 5,000 tenants, and reads a fraction of the rows.
    Failing,
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
    tenant_rows: TenantRows,
) -> Result<HashMap<GroupKey, RunTally>, DbErr> {
    let backend = db.get_database_backend();
    let (range, plan) = (window.range, &window.plan);

    let zero = |query: &mut SelectStatement, columns: &mut dyn Iterator<Item = &'static str>| {
        for column in columns {
            query.expr_as(Expr::val(0), column);
        }
    };
    // Rows: the stretches the roll-ups do not cover.
    let rows = plan.rows.iter().fold(Condition::any(), |any, stretch| {
        any.add(stretch.condition())
    });
    let mut parts = grouped_counts(
        backend,
        groupings,
        Condition::all().add(rows).add(narrowed.clone()),
        None,
        |query| {
            add_counts(query);
            query.expr_as(Expr::val(0), STUCK);
        },
    );
    // Stuck runs of the window, always from the rows.
    let stuck = grouped_counts(
        backend,
        groupings,
        created_within(range)
            .add(stuck_condition(criteria))
            .add(narrowed),
        None,
        |query| {
            zero(query, &mut counted_columns());
            query.expr_as(Expr::col(Asterisk).count(), STUCK);
        },
    );
    parts.extend(stuck);
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
        let rollups = |groupings: Vec<i32>, failing: bool| {
            let mut condition = Condition::all()
                .add(Expr::col(GROUPING_COLUMN).is_in(groupings))
                .add(covered.clone())
                .add(narrowed_rollups.clone());
            if failing {
                condition = condition.add(Expr::col(RunOutcome::Failed.as_stored()).gt(0));
            }
            let mut rollups = Query::select();
            rollups
                .from(ROLLUPS)
                .column(GROUPING_COLUMN)
                .columns(KEY_COLUMNS)
                .columns(counted_columns())
                .expr_as(Expr::val(0), STUCK)
                .cond_where(condition);
            rollups
        };
        let failing = tenant_rows == TenantRows::Failing && groupings.contains(&Grouping::Tenant);
        let others: Vec<i32> = groupings
            .iter()
            .filter(|grouping| !(failing && **grouping == Grouping::Tenant))
            .map(|grouping| *grouping as i32)
            .collect();
        if !others.is_empty() {
            parts.push(rollups(others, false));
        }
        if failing {
            parts.push(rollups(vec![Grouping::Tenant as i32], true));
        }
    }

    let mut outer = Query::select();
    outer
        .from_subquery(union_all(parts), "parts")
        .column(GROUPING_COLUMN)
        .columns(KEY_COLUMNS);
    for column in COUNTS {
        outer.expr_as(
            Func::cast_as(Func::sum(Expr::col(column)), "BIGINT"),
            column,
        );
    }
    outer
        .group_by_col(GROUPING_COLUMN)
        .group_by_columns(KEY_COLUMNS);
    let mut tallies = HashMap::new();
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
    /// Per tenant, its failed and stuck runs only (see [`TenantRows::Failing`]).
    pub(crate) tenants: HashMap<i64, RunCounts>,
}

/// Every grouping's tallies of `window`: overall, per type, per workspace, and the
/// failed and stuck runs of each tenant.
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
        &Grouping::EVERY,
        Condition::all(),
        Condition::all(),
        TenantRows::Failing,
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
            GroupKey::Tenant(tenant) => {
                let runs = RunCounts {
                    failed: tally.failed,
                    stuck: tally.stuck,
                };
                counts.tenants.insert(tenant, runs);
            }
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
        TenantRows::All,
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

async fn refresh_some(db: &Db) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let transaction = match backend {
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
        .order_by("hour", sea_orm::Order::Asc)
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
