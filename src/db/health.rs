//! The tenant health rules of SPEC §3 in SQL: every tenant's level, computed by the
//! database, to filter, count and page tenants by level. `domain::health` is the same
//! rule in Rust (with the messages); the integration tests check that both agree.
//!
//! Levels are ranks: 0 HEALTHY, 1 UNKNOWN, 2 WARNING, 3 CRITICAL. A tenant's level is the
//! greatest of its status, its worst connection that is not disabled (none: 3), its worst
//! permission (none: 1) and its runs in the window.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{operation_run, provider_connection, tenant, tenant_permission};
use sea_orm::sea_query::{
    Alias, Asterisk, CommonTableExpression, Expr, ExprTrait, Func, JoinType, Order, Query,
    SelectStatement, UnionType, WithClause,
};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr};

use super::Db;
use super::runs::stuck_condition;
use super::stats::{count_where, created_within};
use crate::domain::criteria::Criteria;
use crate::domain::health::{HealthLevel, LevelCounts};
use crate::domain::status::{
    ConnectionHealth, ConnectionStatus, PermissionStatus, RunOutcome, TenantStatus,
};
use crate::domain::window::TimeRange;

fn rank(level: HealthLevel) -> Expr {
    Expr::val(level.rank())
}

/// One connection's level (for connections that are not disabled).
fn connection_level(stale_before: DateTime<Utc>) -> Expr {
    use provider_connection::Column;
    let status = |value: ConnectionStatus| Column::Status.eq(value.as_stored());
    let health = |value: ConnectionHealth| Column::HealthStatus.eq(value.as_stored());
    let by_health: Expr = Expr::case(health(ConnectionHealth::Ok), rank(HealthLevel::Healthy))
        .case(
            health(ConnectionHealth::Degraded),
            rank(HealthLevel::Warning),
        )
        .case(health(ConnectionHealth::Down), rank(HealthLevel::Critical))
        .finally(rank(HealthLevel::Unknown))
        .into();
    // Never checked is at least UNKNOWN, stale at least WARNING: a rule only raises.
    let unchecked_by_health: Expr =
        Expr::case(health(ConnectionHealth::Down), rank(HealthLevel::Critical))
            .case(
                health(ConnectionHealth::Degraded),
                rank(HealthLevel::Warning),
            )
            .finally(rank(HealthLevel::Unknown))
            .into();
    let stale_by_health: Expr =
        Expr::case(health(ConnectionHealth::Down), rank(HealthLevel::Critical))
            .finally(rank(HealthLevel::Warning))
            .into();
    Expr::case(status(ConnectionStatus::Error), rank(HealthLevel::Critical))
        .case(
            status(ConnectionStatus::NeedsConsent),
            rank(HealthLevel::Warning),
        )
        .case(
            Condition::all()
                .add(status(ConnectionStatus::Connected))
                .add(Column::LastHealthCheckAt.is_null()),
            unchecked_by_health,
        )
        .case(
            Condition::all()
                .add(status(ConnectionStatus::Connected))
                .add(Column::LastHealthCheckAt.lt(stale_before)),
            stale_by_health,
        )
        .case(status(ConnectionStatus::Connected), by_health)
        .finally(rank(HealthLevel::Unknown))
        .into()
}

/// One permission's level.
fn permission_level(stale_before: DateTime<Utc>) -> Expr {
    use tenant_permission::Column;
    let status = |value: PermissionStatus| Column::Status.eq(value.as_stored());
    let unchecked = Condition::any()
        .add(Column::LastCheckedAt.is_null())
        .add(Column::LastCheckedAt.lt(stale_before));
    Expr::case(
        status(PermissionStatus::Missing),
        rank(HealthLevel::Critical),
    )
    .case(status(PermissionStatus::Error), rank(HealthLevel::Warning))
    .case(
        Condition::all()
            .add(status(PermissionStatus::Granted))
            .add(unchecked),
        rank(HealthLevel::Warning),
    )
    .case(
        status(PermissionStatus::Granted),
        rank(HealthLevel::Healthy),
    )
    .finally(rank(HealthLevel::Unknown))
    .into()
}

/// A tenant's level by its runs (`domain::health::runs_level`), from the columns holding
/// its stuck and failed runs in the window (NULL: none).
fn run_level(
    stuck: (&'static str, &'static str),
    failed: (&'static str, &'static str),
    criteria: &Criteria,
) -> Expr {
    let stuck: Expr = Func::coalesce([Expr::col(stuck), Expr::val(0)]).into();
    let failed: Expr = Func::coalesce([Expr::col(failed), Expr::val(0)]).into();
    let critical = i64::from(criteria.health.failed_runs_critical);
    Expr::case(stuck.gt(0), rank(HealthLevel::Critical))
        .case(failed.clone().gte(critical), rank(HealthLevel::Critical))
        .case(failed.gte(1), rank(HealthLevel::Warning))
        .finally(rank(HealthLevel::Healthy))
        .into()
}

/// `SELECT tenant_id, workspace_id, status, level FROM tenants …`: every tenant with its
/// level, judged by `criteria` with the runs created in `window` (with `None`, by all
/// but its runs).
fn tenant_levels(criteria: &Criteria, window: Option<TimeRange>) -> SelectStatement {
    let stale_before = criteria.health.stale_before(criteria.now);

    let mut connections = Query::select();
    connections
        .from(provider_connection::Entity)
        .expr_as(
            Expr::col(provider_connection::Column::TenantId),
            "tenant_id",
        )
        .expr_as(connection_level(stale_before).max(), "level")
        .and_where(provider_connection::Column::Status.ne(ConnectionStatus::Disabled.as_stored()))
        .group_by_col(provider_connection::Column::TenantId);

    // Only the permissions that are not healthy (granted and checked in time) are
    // graded: most are, and grading 30,000 rows cost the Control Tower 30 ms. A tenant
    // with permissions but none among these is healthy on this signal.
    let mut permissions = Query::select();
    permissions
        .from(tenant_permission::Entity)
        .expr_as(Expr::col(tenant_permission::Column::TenantId), "tenant_id")
        .expr_as(permission_level(stale_before).max(), "level")
        .cond_where(
            Condition::any()
                .add(tenant_permission::Column::Status.ne(PermissionStatus::Granted.as_stored()))
                .add(tenant_permission::Column::LastCheckedAt.is_null())
                .add(tenant_permission::Column::LastCheckedAt.lt(stale_before)),
        )
        .group_by_col(tenant_permission::Column::TenantId);
    let mut any_permission = Query::select();
    any_permission
        .expr(Expr::val(1))
        .from(tenant_permission::Entity)
        .and_where(
            Expr::col((
                tenant_permission::Entity,
                tenant_permission::Column::TenantId,
            ))
            .equals((tenant::Entity, tenant::Column::Id)),
        );

    let status = |value: TenantStatus| {
        Expr::col((tenant::Entity, tenant::Column::Status)).eq(value.as_stored())
    };
    let status_level: Expr = Expr::case(status(TenantStatus::Active), rank(HealthLevel::Healthy))
        .case(status(TenantStatus::Onboarding), rank(HealthLevel::Warning))
        .finally(rank(HealthLevel::Unknown))
        .into();
    let connection_level: Expr = Func::coalesce([
        Expr::col(("connection_health", "level")),
        rank(HealthLevel::Critical),
    ])
    .into();
    let none_graded: Expr = Expr::case(Expr::exists(any_permission), rank(HealthLevel::Healthy))
        .finally(rank(HealthLevel::Unknown))
        .into();
    let permission_level: Expr =
        Func::coalesce([Expr::col(("permission_health", "level")), none_graded]).into();
    let runs = window.map(|window| {
        let mut runs = Query::select();
        runs.from(operation_run::Entity)
            .expr_as(Expr::col(operation_run::Column::TenantId), "tenant_id")
            .expr_as(count_where(stuck_condition(criteria)), "stuck")
            .expr_as(
                count_where(
                    Condition::all()
                        .add(operation_run::Column::Outcome.eq(RunOutcome::Failed.as_stored())),
                ),
                "failures",
            )
            .cond_where(created_within(window).add(operation_run::Column::TenantId.is_not_null()))
            .group_by_col(operation_run::Column::TenantId);
        runs
    });

    let mut levels = vec![status_level, connection_level, permission_level];
    if runs.is_some() {
        levels.push(run_level(
            ("run_health", "stuck"),
            ("run_health", "failures"),
            criteria,
        ));
    }
    let level = Func::greatest(levels);

    let joined_on = |alias: &'static str| {
        Expr::col((Alias::new(alias), Alias::new("tenant_id")))
            .equals((tenant::Entity, tenant::Column::Id))
    };
    let mut query = Query::select();
    query
        .from(tenant::Entity)
        .expr_as(Expr::col((tenant::Entity, tenant::Column::Id)), "tenant_id")
        .expr_as(
            Expr::col((tenant::Entity, tenant::Column::WorkspaceId)),
            "workspace_id",
        )
        .expr_as(
            Expr::col((tenant::Entity, tenant::Column::Status)),
            "status",
        )
        .expr_as(level, "level")
        .join_subquery(
            JoinType::LeftJoin,
            connections,
            "connection_health",
            joined_on("connection_health"),
        )
        .join_subquery(
            JoinType::LeftJoin,
            permissions,
            "permission_health",
            joined_on("permission_health"),
        );
    if let Some(runs) = runs {
        query.join_subquery(
            JoinType::LeftJoin,
            runs,
            "run_health",
            joined_on("run_health"),
        );
    }
    query
}

/// Tenants whose level is `level`, as a condition on `tenants.id`.
pub(crate) fn tenants_at_level(
    level: HealthLevel,
    criteria: &Criteria,
    window: TimeRange,
) -> Condition {
    let mut ids = Query::select();
    ids.column("tenant_id")
        .from_subquery(tenant_levels(criteria, Some(window)), "levels")
        .and_where(Expr::col("level").eq(level.rank()));
    Condition::all().add(Expr::col((tenant::Entity, tenant::Column::Id)).in_subquery(ids))
}

/// How many tenants that are not archived are at each level, per workspace (or, with
/// `workspaces` `None`, over all tenants under key 0), in one statement.
pub(crate) async fn distribution(
    db: &Db,
    workspaces: Option<&[i64]>,
    criteria: &Criteria,
    window: TimeRange,
) -> Result<HashMap<i64, LevelCounts>, DbErr> {
    let db = &db.aggregates();
    let mut query = Query::select();
    query
        .expr_as(Expr::col("level"), "level")
        .expr_as(Expr::col(Asterisk).count(), "tenants")
        .from_subquery(tenant_levels(criteria, Some(window)), "levels")
        .and_where(Expr::col("status").ne(TenantStatus::Archived.as_stored()))
        .group_by_col("level");
    if let Some(workspaces) = workspaces {
        query
            .expr_as(Expr::col("workspace_id"), "workspace_id")
            .and_where(Expr::col("workspace_id").is_in(workspaces.iter().copied()))
            .group_by_col("workspace_id");
    }
    let rows = db.query_all(&query).await?;
    let mut counts: HashMap<i64, LevelCounts> = HashMap::new();
    for row in &rows {
        let workspace = match workspaces {
            Some(_) => row.try_get::<i64>("", "workspace_id")?,
            None => 0,
        };
        let level: i32 = row.try_get("", "level")?;
        let tenants: i64 = row.try_get("", "tenants")?;
        counts.entry(workspace).or_default().add(
            HealthLevel::from_rank(level.into()),
            u64::try_from(tenants).unwrap_or(0),
        );
    }
    Ok(counts)
}

/// Every tenant at a glance, as the Control Tower shows them: how many that are not
/// archived are at each level, and the tenants with a failed run that rank first by
/// failures (then by name, bytewise, and id), at most `top`, in no particular order. `runs`
/// holds each tenant's failed and stuck runs of the window (see `rollup::tenant_runs`).
/// One statement that answers a few rows, however many tenants there are: grading and
/// ranking 5,000 tenants in the service meant 5,000 rows and more to read first
/// (issue #26).
pub(crate) async fn at_a_glance(
    db: &Db,
    criteria: &Criteria,
    runs: SelectStatement,
    top: u64,
) -> Result<(LevelCounts, Vec<i64>), DbErr> {
    const RUNS: &str = "window_runs";
    let db = &db.aggregates();
    let failed = RunOutcome::Failed.as_stored();
    let mut graded = Query::select();
    graded
        .expr_as(
            Func::greatest([
                Expr::col(("levels", "level")),
                run_level((RUNS, "stuck"), (RUNS, failed), criteria),
            ]),
            "level",
        )
        .from_subquery(tenant_levels(criteria, None), "levels")
        .join(
            JoinType::LeftJoin,
            Alias::new(RUNS),
            Expr::col((Alias::new(RUNS), Alias::new("tenant_id")))
                .equals((Alias::new("levels"), Alias::new("tenant_id"))),
        )
        .and_where(Expr::col(("levels", "status")).ne(TenantStatus::Archived.as_stored()));
    let mut distribution = Query::select();
    distribution
        .expr_as(Expr::val(0), "part")
        .expr_as(Expr::col("level"), "id")
        .expr_as(Expr::col(Asterisk).count(), "value")
        .from_subquery(graded, "graded")
        .group_by_col("level");
    // Names in byte order, as the service orders them: PostgreSQL's collation may not be.
    let name = match db.get_database_backend() {
        DbBackend::Postgres => "\"tenants\".\"name\" COLLATE \"C\"",
        _ => "\"tenants\".\"name\"",
    };
    let mut ranked = Query::select();
    ranked
        .expr_as(Expr::val(1), "part")
        .expr_as(Expr::col((Alias::new(RUNS), Alias::new("tenant_id"))), "id")
        .expr_as(Expr::col((Alias::new(RUNS), Alias::new(failed))), "value")
        .from(Alias::new(RUNS))
        .join(
            JoinType::InnerJoin,
            tenant::Entity,
            Expr::col((tenant::Entity, tenant::Column::Id))
                .equals((Alias::new(RUNS), Alias::new("tenant_id"))),
        )
        .and_where(Expr::col((Alias::new(RUNS), Alias::new(failed))).gt(0))
        .order_by_expr(
            Expr::col((Alias::new(RUNS), Alias::new(failed))),
            Order::Desc,
        )
        .order_by_expr(Expr::cust(name), Order::Asc)
        .order_by((tenant::Entity, tenant::Column::Id), Order::Asc)
        .limit(top);
    let mut first = Query::select();
    first
        .columns(["part", "id", "value"])
        .from_subquery(ranked, "ranked");
    distribution.union(UnionType::All, first);
    let query = distribution.with(
        WithClause::new()
            .cte(
                CommonTableExpression::new()
                    .query(runs)
                    .table_name(Alias::new(RUNS))
                    .to_owned(),
            )
            .to_owned(),
    );
    let mut levels = LevelCounts::default();
    let mut failing = Vec::new();
    for row in db.query_all(&query).await? {
        let id: i64 = row.try_get("", "id")?;
        let value = u64::try_from(row.try_get::<i64>("", "value")?).unwrap_or(0);
        match row.try_get::<i32>("", "part")? {
            0 => levels.add(HealthLevel::from_rank(id), value),
            _ => failing.push(id),
        }
    }
    Ok((levels, failing))
}
