//! DataLoaders: every parent→child edge of the graph goes through one, so a query costs
//! one statement per edge and level, whatever the number of rows. Loaders belong to one
//! request ([`Loaders::new`]), each made when first used; their caches never outlive it. Missing keys are simply
//! absent from the answer (read as null or empty), never an error.

use std::collections::HashMap;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, Loader};
use entity::{
    audit_log, operation_run, provider_connection, tenant, tenant_permission, user, workspace,
    workspace_membership,
};
use sea_orm::ConnectionTrait;

use super::coalesce::Coalesced;
use super::settle::Gate;
use crate::db::page::{Direction, Page, PageArgs};
use crate::db::runs::RunOrder;
use crate::db::stats::{self, RunTally};
use crate::db::tables::{
    ChildTable, PermissionRow, PermissionState, PermissionSummary, Table, by_ids, children_of,
    permission_rows_of,
};
use crate::db::tenants::{TenantFilter, TenantOrder};
use crate::db::{self, Db};
use crate::db::{health, rollup};
use crate::domain::criteria::Criteria;
use crate::domain::health::LevelCounts;
use crate::domain::window::TimeWindow;
use crate::error::AppError;

/// Rows of one table by id, shared: a row is handed to every field that asks for it
/// without being copied.
pub(crate) struct ById<E> {
    db: Db,
    table: PhantomData<fn() -> E>,
}

impl<E: Table> Loader<i64> for ById<E>
where
    E::Model: Clone + Send + Sync,
{
    type Value = Arc<E::Model>;
    type Error = AppError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Arc<E::Model>>, AppError> {
        let rows = by_ids::<E>(&self.db, keys).await?;
        Ok(rows
            .into_iter()
            .map(|row| (E::id_of(&row), Arc::new(row)))
            .collect())
    }
}

/// All children of a parent, in the child table's order, shared as [`ById`]'s rows are.
pub(crate) struct Children<E> {
    db: Db,
    table: PhantomData<fn() -> E>,
}

impl<E: ChildTable> Loader<i64> for Children<E>
where
    E::Model: Clone + Send + Sync,
{
    type Value = Arc<[Arc<E::Model>]>;
    type Error = AppError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Arc<[Arc<E::Model>]>>, AppError> {
        let rows = children_of::<E>(&self.db, keys).await?;
        Ok(by_parent(rows, E::parent_of))
    }
}

/// The permissions of tenants, as `R` reads them ([`PermissionSummary`], or
/// [`PermissionState`] for keys and statuses only).
pub(crate) struct PermissionRows<R> {
    db: Db,
    rows: PhantomData<fn() -> R>,
}

impl<R: PermissionRow> Loader<i64> for PermissionRows<R> {
    type Value = Arc<[Arc<R>]>;
    type Error = AppError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Arc<[Arc<R>]>>, AppError> {
        let rows = permission_rows_of::<R>(&self.db, keys).await?;
        Ok(by_parent(rows, R::tenant_id))
    }
}

/// Children rows grouped under their parents, in the order they came, shared.
fn by_parent<R>(rows: Vec<R>, parent: impl Fn(&R) -> i64) -> HashMap<i64, Arc<[Arc<R>]>> {
    let mut grouped: HashMap<i64, Vec<Arc<R>>> = HashMap::new();
    for row in rows {
        grouped.entry(parent(&row)).or_default().push(Arc::new(row));
    }
    grouped
        .into_iter()
        .map(|(parent, rows)| (parent, rows.into()))
        .collect()
}

/// A page of a workspace's tenants, for `Workspace.tenants`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TenantPageKey {
    pub(crate) workspace_id: i64,
    pub(crate) list: Arc<TenantList>,
}

/// The filter, order and page a nested tenant list asks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TenantList {
    pub(crate) filter: TenantFilter,
    pub(crate) order: TenantOrder,
    pub(crate) args: PageArgs,
}

/// Pages of tenants for many workspaces: one statement per distinct list shape.
pub(crate) struct TenantPages {
    db: Db,
}

impl Loader<TenantPageKey> for TenantPages {
    type Value = Page<Arc<tenant::Model>>;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[TenantPageKey],
    ) -> Result<HashMap<TenantPageKey, Page<Arc<tenant::Model>>>, AppError> {
        let backend = self.db.get_database_backend();
        let mut answers = HashMap::new();
        for (list, workspaces) in group_by_shape(keys, |key| (key.list.clone(), key.workspace_id)) {
            let pages = db::fetch_pages_per_parent::<tenant::Entity>(
                &self.db,
                tenant::Column::WorkspaceId,
                |row| Some(row.workspace_id),
                &workspaces,
                list.filter.condition(backend),
                &list.order.sort_spec(),
                &list.args,
            )
            .await?;
            for (workspace_id, page) in pages {
                let key = TenantPageKey {
                    workspace_id,
                    list: list.clone(),
                };
                answers.insert(key, page.shared());
            }
        }
        Ok(answers)
    }
}

/// How many tenants of a workspace match a filter, for `Workspace.tenants.totalCount`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TenantCountKey {
    pub(crate) workspace_id: i64,
    pub(crate) filter: Arc<TenantFilter>,
}

/// Tenant counts for many workspaces: one grouped statement per distinct filter.
pub(crate) struct TenantCounts {
    db: Db,
}

impl Loader<TenantCountKey> for TenantCounts {
    type Value = u64;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[TenantCountKey],
    ) -> Result<HashMap<TenantCountKey, u64>, AppError> {
        let backend = self.db.get_database_backend();
        let mut answers = HashMap::new();
        for (filter, workspaces) in
            group_by_shape(keys, |key| (key.filter.clone(), key.workspace_id))
        {
            let counts = db::count_per_parent::<tenant::Entity>(
                &self.db,
                tenant::Column::WorkspaceId,
                &workspaces,
                filter.condition(backend),
            )
            .await?;
            for (workspace_id, count) in counts {
                let key = TenantCountKey {
                    workspace_id,
                    filter: filter.clone(),
                };
                answers.insert(key, count);
            }
        }
        Ok(answers)
    }
}

/// The run tallies of many parents (tenants or workspaces) in a window: one grouped
/// statement per window asked for. Parents without runs get an empty tally.
pub(crate) struct RunTallies {
    db: Db,
    criteria: Criteria,
    parent: operation_run::Column,
}

impl Loader<(i64, TimeWindow)> for RunTallies {
    type Value = RunTally;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[(i64, TimeWindow)],
    ) -> Result<HashMap<(i64, TimeWindow), RunTally>, AppError> {
        let mut answers = HashMap::new();
        for (window, parents) in group_by_shape(keys, |(parent, window)| (*window, *parent)) {
            let range = self.criteria.range(window);
            let read = rollup::Window::read(&self.db, range).await?;
            let tallies =
                rollup::per_parent(&self.db, &read, self.parent, &parents, &self.criteria).await?;
            for parent in parents {
                let tally = tallies.get(&parent).copied().unwrap_or_default();
                answers.insert((parent, window), tally);
            }
        }
        Ok(answers)
    }
}

/// How many of each workspace's tenants (not archived) are at each health level in a
/// window: one grouped statement per window.
pub(crate) struct TenantLevels {
    db: Db,
    criteria: Criteria,
}

impl Loader<(i64, TimeWindow)> for TenantLevels {
    type Value = LevelCounts;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[(i64, TimeWindow)],
    ) -> Result<HashMap<(i64, TimeWindow), LevelCounts>, AppError> {
        let mut answers = HashMap::new();
        for (window, workspaces) in
            group_by_shape(keys, |(workspace, window)| (*window, *workspace))
        {
            let range = self.criteria.range(window);
            let counts =
                health::distribution(&self.db, Some(&workspaces), &self.criteria, range).await?;
            for workspace in workspaces {
                answers.insert(
                    (workspace, window),
                    counts.get(&workspace).copied().unwrap_or_default(),
                );
            }
        }
        Ok(answers)
    }
}

/// A tenant's latest runs in a window, for `Tenant.recentRuns`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct RecentRunsKey {
    pub(crate) tenant_id: i64,
    pub(crate) window: TimeWindow,
    pub(crate) first: u64,
}

/// The latest runs of many tenants: one statement per window and size.
pub(crate) struct RecentRuns {
    db: Db,
    criteria: Criteria,
}

impl Loader<RecentRunsKey> for RecentRuns {
    type Value = Vec<operation_run::Model>;
    type Error = AppError;

    async fn load(
        &self,
        keys: &[RecentRunsKey],
    ) -> Result<HashMap<RecentRunsKey, Vec<operation_run::Model>>, AppError> {
        let mut answers = HashMap::new();
        for ((window, first), tenants) in
            group_by_shape(keys, |key| ((key.window, key.first), key.tenant_id))
        {
            let args = PageArgs {
                direction: Direction::Forward,
                size: first,
                cursor: None,
            };
            let pages = db::fetch_pages_per_parent::<operation_run::Entity>(
                &self.db,
                operation_run::Column::TenantId,
                |row| row.tenant_id,
                &tenants,
                stats::created_within(self.criteria.range(window)),
                &RunOrder::default().sort_spec(),
                &args,
            )
            .await?;
            for (tenant_id, page) in pages {
                answers.insert(
                    RecentRunsKey {
                        tenant_id,
                        window,
                        first,
                    },
                    page.rows,
                );
            }
        }
        Ok(answers)
    }
}

/// The investigations of many runs, newest first: one statement.
pub(crate) struct Investigations {
    db: Db,
}

impl Loader<i64> for Investigations {
    type Value = Vec<audit_log::Model>;
    type Error = AppError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Vec<audit_log::Model>>, AppError> {
        Ok(crate::db::audit::investigations_of(&self.db, keys).await?)
    }
}

/// Groups keys by the shape they ask for (filter, order, page), so that each shape costs
/// one statement for all of its parents.
fn group_by_shape<K, S: PartialEq>(
    keys: &[K],
    split: impl Fn(&K) -> (S, i64),
) -> Vec<(S, Vec<i64>)> {
    let mut groups: Vec<(S, Vec<i64>)> = Vec::new();
    for key in keys {
        let (shape, parent) = split(key);
        match groups.iter_mut().find(|(known, _)| *known == shape) {
            Some((_, parents)) => parents.push(parent),
            None => groups.push((shape, vec![parent])),
        }
    }
    groups
}

macro_rules! loaders {
    ($($(#[$doc:meta])* $name:ident: $loader:ty = $make:expr;)*) => {
        /// Every loader of one request, each made when first used: a request reads a
        /// few of them, and making all of them for every request was a measured share of
        /// the tenant board's cost (issue #13).
        pub(crate) struct Loaders {
            gate: Arc<Gate>,
            db: Db,
            criteria: Criteria,
            $($name: OnceLock<$loader>,)*
        }

        impl Loaders {
            /// Loaders over `db`, whose batches wait at `gate`; derived values are judged
            /// by `criteria`.
            pub(crate) fn new(gate: &Arc<Gate>, db: &Db, criteria: Criteria) -> Self {
                Self {
                    gate: gate.clone(),
                    db: db.clone(),
                    criteria,
                    $($name: OnceLock::new(),)*
                }
            }

            $($(#[$doc])*
            pub(crate) fn $name(&self) -> &$loader {
                self.$name.get_or_init(|| {
                    let make: fn(&Arc<Gate>, &Db, Criteria) -> $loader = $make;
                    make(&self.gate, &self.db, self.criteria)
                })
            })*
        }
    };
}

loaders! {
    workspaces: RequestLoader<i64, ById<workspace::Entity>> = |gate, db, _| by_id(gate, db);
    memberships: RequestLoader<i64, ById<workspace_membership::Entity>> =
        |gate, db, _| by_id(gate, db);
    users: RequestLoader<i64, ById<user::Entity>> = |gate, db, _| by_id(gate, db);
    tenants: RequestLoader<i64, ById<tenant::Entity>> = |gate, db, _| by_id(gate, db);
    connections: RequestLoader<i64, ById<provider_connection::Entity>> =
        |gate, db, _| by_id(gate, db);
    permissions: RequestLoader<i64, ById<tenant_permission::Entity>> =
        |gate, db, _| by_id(gate, db);
    runs: RequestLoader<i64, ById<operation_run::Entity>> = |gate, db, _| by_id(gate, db);
    audit_logs: RequestLoader<i64, ById<audit_log::Entity>> = |gate, db, _| by_id(gate, db);
    memberships_by_workspace: RequestLoader<i64, Children<workspace_membership::Entity>> =
        |gate, db, _| children(gate, db);
    connections_by_tenant: RequestLoader<i64, Children<provider_connection::Entity>> =
        |gate, db, _| children(gate, db);
    permissions_by_tenant: RequestLoader<i64, Children<tenant_permission::Entity>> =
        |gate, db, _| children(gate, db);
    permission_summaries_by_tenant: RequestLoader<i64, PermissionRows<PermissionSummary>> =
        |gate, db, _| permission_rows(gate, db);
    permission_states_by_tenant: RequestLoader<i64, PermissionRows<PermissionState>> =
        |gate, db, _| permission_rows(gate, db);
    tenant_pages: RequestLoader<TenantPageKey, TenantPages> =
        |gate, db, _| loader(gate, TenantPages { db: db.clone() });
    tenant_counts: RequestLoader<TenantCountKey, TenantCounts> =
        |gate, db, _| loader(gate, TenantCounts { db: db.clone() });
    tenant_tallies: RequestLoader<(i64, TimeWindow), RunTallies> = |gate, db, criteria| {
        let parent = operation_run::Column::TenantId;
        loader(gate, RunTallies { db: db.clone(), criteria, parent })
    };
    workspace_tallies: RequestLoader<(i64, TimeWindow), RunTallies> = |gate, db, criteria| {
        let parent = operation_run::Column::WorkspaceId;
        loader(gate, RunTallies { db: db.clone(), criteria, parent })
    };
    tenant_levels: RequestLoader<(i64, TimeWindow), TenantLevels> =
        |gate, db, criteria| loader(gate, TenantLevels { db: db.clone(), criteria });
    recent_runs: RequestLoader<RecentRunsKey, RecentRuns> =
        |gate, db, criteria| loader(gate, RecentRuns { db: db.clone(), criteria });
    investigations: RequestLoader<i64, Investigations> =
        |gate, db, _| loader(gate, Investigations { db: db.clone() });
}

impl Loaders {
    /// Remembers workspaces a list already fetched, so edges back to them cost nothing.
    pub(crate) fn prime_workspaces(&self, rows: &[Arc<workspace::Model>]) {
        let rows = rows.iter().map(|row| (row.id, row.clone()));
        self.workspaces().loader().prime(rows);
    }

    /// Remembers tenants a list already fetched, so edges back to them cost nothing.
    pub(crate) fn prime_tenants(&self, rows: &[Arc<tenant::Model>]) {
        let rows = rows.iter().map(|row| (row.id, row.clone()));
        self.tenants().loader().prime(rows);
    }
}

/// A batching loader that fetches each key at most once per request (see
/// [`Coalesced`]).
pub(crate) type RequestLoader<K, L> = DataLoader<Coalesced<K, L>>;

impl Loaders {
    /// Loads `keys` for a list whose keys are all known at once (see `immediate`): the
    /// keys wait, in the caller's own future, until the request settles — as a
    /// DataLoader's batch does, so that sibling lists (each workspace's page of tenants)
    /// still share one statement — and then the first list to go fetches every key
    /// waiting, in one batch. No task is spawned and the DataLoader's own cache is passed
    /// by; [`Coalesced`] still fetches each key at most once per request, and remembers
    /// these for the DataLoader's path. Going through the DataLoader (a task, a wait at the
    /// gate and two more maps per batch) was a measured twelfth of the tenant board's CPU
    /// (issue #13).
    pub(crate) async fn load_now<L>(
        &self,
        loader: &RequestLoader<i64, L>,
        keys: impl IntoIterator<Item = i64>,
    ) -> Result<HashMap<i64, L::Value>, AppError>
    where
        L: Loader<i64, Error = AppError>,
    {
        let keys: Vec<i64> = keys.into_iter().collect();
        let coalesced = loader.loader();
        coalesced.enqueue(&keys);
        self.gate.opening().await;
        let mut asked = coalesced.take_enqueued();
        asked.extend(keys);
        asked.sort_unstable();
        asked.dedup();
        coalesced.load(&asked).await
    }
}

fn loader<K, L>(gate: &Arc<Gate>, inner: L) -> RequestLoader<K, L>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    L: Loader<K, Error = AppError>,
{
    // No delay: batches wait at the request's gate instead (see `settle`).
    DataLoader::new(Coalesced::new(inner), gate.spawner()).delay(Duration::ZERO)
}

fn permission_rows<R: PermissionRow>(
    gate: &Arc<Gate>,
    db: &Db,
) -> RequestLoader<i64, PermissionRows<R>> {
    loader(
        gate,
        PermissionRows {
            db: db.clone(),
            rows: PhantomData,
        },
    )
}

fn by_id<E: Table>(gate: &Arc<Gate>, db: &Db) -> RequestLoader<i64, ById<E>>
where
    E::Model: Clone + Send + Sync,
{
    loader(
        gate,
        ById {
            db: db.clone(),
            table: PhantomData,
        },
    )
}

fn children<E: ChildTable>(gate: &Arc<Gate>, db: &Db) -> RequestLoader<i64, Children<E>>
where
    E::Model: Clone + Send + Sync,
{
    loader(
        gate,
        Children {
            db: db.clone(),
            table: PhantomData,
        },
    )
}
