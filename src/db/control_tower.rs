//! The Control Tower's aggregates (SPEC §3): everything the dashboard shows for a
//! window, each part one aggregate statement the database computes with SPEC §2's
//! indexes, never a load of the runs.
//!
//! The run counts — overall, per type and per workspace — come from the hourly and daily
//! roll-ups and the rows at the window's edges (see `rollup`), so their cost follows the
//! window's length. Every tenant is graded and the failing ones ranked in one statement
//! that answers a few rows (`health::at_a_glance`), from each tenant's failures and stuck
//! runs of the window as `rollup::tenant_runs` reads them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{audit_log, operation_run, tenant, workspace};
use sea_orm::sea_query::{Expr, Func, Query, UnionType};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityName, EntityTrait, QueryFilter,
};

use super::Db;
use super::health;
use super::rollup;
use super::runs::stuck_conditions;
use super::stats::{RunTally, count_where};
use crate::domain::audit::AuditAction;
use crate::domain::criteria::Criteria;
use crate::domain::health::LevelCounts;
use crate::domain::status::AuditStatus;
use crate::domain::window::{TimeRange, TimeWindow};

/// Most entries `topFailingTenants`/`topFailingWorkspaces` can ask for.
pub(crate) const MAX_TOP: usize = 100;

/// Everything the Control Tower shows for one window, as of `generated_at`.
#[derive(Clone, Debug)]
pub(crate) struct Snapshot {
    pub(crate) window: TimeWindow,
    pub(crate) range: TimeRange,
    pub(crate) generated_at: DateTime<Utc>,
    pub(crate) runs: RunTally,
    pub(crate) stuck_total: u64,
    /// Per run type, most runs first, then by type.
    pub(crate) by_type: Vec<(String, RunTally)>,
    /// Tenants with a failed run: most failed first, ties by name; at most [`MAX_TOP`].
    pub(crate) failing_tenants: Vec<(tenant::Model, RunTally)>,
    /// Workspaces with a failed run, ordered as tenants; at most [`MAX_TOP`].
    pub(crate) failing_workspaces: Vec<(workspace::Model, RunTally)>,
    pub(crate) tenant_health: LevelCounts,
    pub(crate) access: AccessCounts,
}

/// Operator access in the window, from the audit trail.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct AccessCounts {
    pub(crate) logins_succeeded: u64,
    pub(crate) logins_failed: u64,
    pub(crate) break_glass_entries: u64,
}

/// Computes the snapshot of `window`, judged by `criteria`.
pub(crate) async fn snapshot(
    db: &Db,
    window: TimeWindow,
    criteria: Criteria,
) -> Result<Snapshot, DbErr> {
    let db = &db.aggregates();
    let range = criteria.range(window);
    let counted = async {
        let read = rollup::Window::read(db, range).await?;
        let (counts, (tenant_health, ranked)) = futures::try_join!(
            rollup::every_grouping(db, &read, &criteria),
            health::at_a_glance(
                db,
                &criteria,
                rollup::tenant_runs(&read, &criteria),
                MAX_TOP as u64
            ),
        )?;
        Ok::<_, DbErr>((read, counts, tenant_health, ranked))
    };
    let ((read, counts, tenant_health, ranked), stuck_total, access) = futures::try_join!(
        counted,
        count_stuck(db, &criteria),
        access_counts(db, range),
    )?;
    // The top is ranked in the database by failures; its tenants' whole tallies are read
    // here, and ranked again by them, should a write have landed in between.
    let failing_tenants = async {
        let (models, tallies) = futures::try_join!(
            tenant::Entity::find()
                .filter(tenant::Column::Id.is_in(ranked.iter().copied()))
                .all(db),
            rollup::per_parent(
                db,
                &read,
                operation_run::Column::TenantId,
                &ranked,
                &criteria
            ),
        )?;
        let mut tallied: Vec<(tenant::Model, RunTally)> = models
            .into_iter()
            .filter_map(|model| Some((tallies.get(&model.id).copied()?, model)))
            .filter(|(tally, _)| tally.failed > 0)
            .map(|(tally, model)| (model, tally))
            .collect();
        tallied.sort_by(|a, b| {
            b.1.failed
                .cmp(&a.1.failed)
                .then_with(|| (&a.0.name, a.0.id).cmp(&(&b.0.name, b.0.id)))
        });
        Ok::<_, DbErr>(tallied)
    };
    let failing_workspaces = async {
        let failed: HashMap<i64, u64> = counts
            .workspaces
            .iter()
            .map(|(workspace, tally)| (*workspace, tally.failed))
            .collect();
        let ranked = top::<workspace::Entity>(db, &failed, |model| (&model.name, model.id)).await?;
        Ok::<_, DbErr>(
            ranked
                .into_iter()
                .filter_map(|(model, _)| {
                    let tally = *counts.workspaces.get(&model.id)?;
                    Some((model, tally))
                })
                .collect::<Vec<_>>(),
        )
    };
    let (failing_tenants, failing_workspaces) =
        futures::try_join!(failing_tenants, failing_workspaces)?;
    let mut by_type = counts.types;
    by_type.sort_by(|a, b| b.1.total.cmp(&a.1.total).then_with(|| a.0.cmp(&b.0)));
    Ok(Snapshot {
        window,
        range,
        generated_at: criteria.now,
        runs: counts.all,
        stuck_total,
        by_type,
        failing_tenants,
        failing_workspaces,
        tenant_health,
        access,
    })
}

/// Stuck runs, whatever their age: the oldest are the worst and must stay in view. One
/// statement over the open runs, each half of the rule counted apart on an index range.
async fn count_stuck(db: &Db, criteria: &Criteria) -> Result<u64, DbErr> {
    let mut halves = stuck_conditions(criteria).into_iter().map(|half| {
        let mut count = rollup::from_open_runs();
        count
            .expr_as(Expr::cust("COUNT(*)"), "stuck")
            .cond_where(half);
        count
    });
    let mut parts = halves.next().unwrap_or_else(Query::select);
    parts.unions(halves.map(|half| (UnionType::All, half)));
    let mut query = Query::select();
    query
        .expr_as(
            Func::cast_as(Func::sum(Expr::col("stuck")), "BIGINT"),
            "stuck",
        )
        .from_subquery(parts, "halves");
    let count = match db.query_one(&query).await? {
        Some(row) => row.try_get::<Option<i64>>("", "stuck")?.unwrap_or(0),
        None => 0,
    };
    Ok(u64::try_from(count).unwrap_or(0))
}

async fn access_counts(db: &Db, range: TimeRange) -> Result<AccessCounts, DbErr> {
    use audit_log::Column;
    let action = |action: AuditAction, status: AuditStatus| {
        Condition::all()
            .add(Column::Action.eq(action.as_stored()))
            .add(Column::Status.eq(status.as_stored()))
    };
    let mut query = Query::select();
    query
        .from(audit_log::Entity.table_ref())
        .expr_as(
            count_where(action(AuditAction::Login, AuditStatus::Success)),
            "logins_succeeded",
        )
        .expr_as(
            count_where(action(AuditAction::Login, AuditStatus::Failure)),
            "logins_failed",
        )
        .expr_as(
            count_where(action(AuditAction::BreakGlassEnter, AuditStatus::Success)),
            "break_glass_entries",
        )
        .cond_where(
            Condition::all()
                .add(Column::Action.is_in(
                    [AuditAction::Login, AuditAction::BreakGlassEnter].map(AuditAction::as_stored),
                ))
                .add(Column::RecordedAt.gte(range.start))
                .add(Column::RecordedAt.lte(range.end)),
        );
    let Some(row) = db.query_one(&query).await? else {
        return Ok(AccessCounts::default());
    };
    let read = |column: &str| -> Result<u64, DbErr> {
        Ok(u64::try_from(row.try_get::<i64>("", column)?).unwrap_or(0))
    };
    Ok(AccessCounts {
        logins_succeeded: read("logins_succeeded")?,
        logins_failed: read("logins_failed")?,
        break_glass_entries: read("break_glass_entries")?,
    })
}

/// The rows that can make the top: the first [`MAX_TOP`] with a failed run by failures,
/// and every row tied with the last of them.
fn candidates(failed: &HashMap<i64, u64>) -> Vec<i64> {
    let mut failing: Vec<(i64, u64)> = failed
        .iter()
        .filter(|(_, failed)| **failed > 0)
        .map(|(id, failed)| (*id, *failed))
        .collect();
    failing.sort_by_key(|(_, failed)| std::cmp::Reverse(*failed));
    let cut = failing.get(MAX_TOP - 1).map_or(0, |(_, failed)| *failed);
    failing
        .iter()
        .take_while(|(_, failed)| *failed >= cut)
        .map(|(id, _)| *id)
        .collect()
}

/// The rows with at least one failed run, most failed first, ties by name (then id), at
/// most [`MAX_TOP`], with their failures. Only the rows that can make the cut are read:
/// the first [`MAX_TOP`] by failures and every row tied with the last of them. The
/// statement runs even when nothing failed, so the Control Tower always costs the same
/// statements.
async fn top<E>(
    db: &Db,
    failed: &HashMap<i64, u64>,
    name_of: impl Fn(&E::Model) -> (&String, i64),
) -> Result<Vec<(E::Model, u64)>, DbErr>
where
    E: EntityTrait + super::tables::Table,
{
    let models = E::find()
        .filter(E::id_column().is_in(candidates(failed)))
        .all(db)
        .await?;
    let mut ranked: Vec<(E::Model, u64)> = models
        .into_iter()
        .filter_map(|model| {
            let failed = failed.get(&E::id_of(&model)).copied()?;
            Some((model, failed))
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then_with(|| name_of(&a.0).cmp(&name_of(&b.0)))
    });
    ranked.truncate(MAX_TOP);
    Ok(ranked)
}
