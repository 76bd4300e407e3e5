//! What the generic loaders need to know of each table: its id, and for child tables
//! their parent and the order children are listed in.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use entity::{
    ReadByPosition, audit_log, operation_run, platform_user, provider_connection, tenant,
    tenant_permission, user, workspace, workspace_membership,
};
use sea_orm::sea_query::{ExprTrait, Order};
use sea_orm::sqlx::Row;
use sea_orm::{
    ColumnTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QueryResult,
    QuerySelect, Select,
};

use super::Db;
use crate::domain::status::PermissionStatus;

/// A table keyed by a 64-bit `id`.
pub(crate) trait Table: EntityTrait {
    fn id_column() -> Self::Column;
    fn id_of(model: &Self::Model) -> i64;
    /// The model of a row of `Self::find()` (every column, in the model's order, maybe
    /// followed by others): by column name unless the model reads by position
    /// ([`entity::ReadByPosition`]).
    fn read(row: &QueryResult) -> Result<Self::Model, DbErr>;
}

/// A row of `E`, read with [`Table::read`].
pub(crate) struct Read<E: Table>(pub(crate) E::Model);

impl<E: Table> FromQueryResult for Read<E> {
    fn from_query_result(row: &QueryResult, _pre: &str) -> Result<Self, DbErr> {
        E::read(row).map(Self)
    }
}

/// A table whose rows belong to a parent row and are listed in a fixed order under it.
pub(crate) trait ChildTable: Table {
    fn parent_column() -> Self::Column;
    fn parent_of(model: &Self::Model) -> i64;
    /// The order of children under one parent; the last column is unique.
    fn child_order() -> Vec<(Self::Column, Order)>;
}

macro_rules! table {
    ($read:expr; $($module:ident),+) => {$(
        impl Table for $module::Entity {
            fn id_column() -> Self::Column {
                $module::Column::Id
            }
            fn id_of(model: &Self::Model) -> i64 {
                model.id
            }
            fn read(row: &QueryResult) -> Result<Self::Model, DbErr> {
                let read: fn(&QueryResult) -> Result<Self::Model, DbErr> = $read;
                read(row)
            }
        }
    )+};
}

table!(
    |row| FromQueryResult::from_query_result(row, "");
    workspace,
    workspace_membership,
    user,
    tenant_permission,
    operation_run,
    audit_log,
    platform_user
);
// The rows lists read most.
table!(ReadByPosition::read_by_position; tenant, provider_connection);

impl ChildTable for provider_connection::Entity {
    fn parent_column() -> Self::Column {
        provider_connection::Column::TenantId
    }
    fn parent_of(model: &Self::Model) -> i64 {
        model.tenant_id
    }
    /// The default connection first, then by provider.
    fn child_order() -> Vec<(Self::Column, Order)> {
        use provider_connection::Column;
        vec![
            (Column::IsDefault, Order::Desc),
            (Column::Provider, Order::Asc),
            (Column::Id, Order::Asc),
        ]
    }
}

impl ChildTable for tenant_permission::Entity {
    fn parent_column() -> Self::Column {
        tenant_permission::Column::TenantId
    }
    fn parent_of(model: &Self::Model) -> i64 {
        model.tenant_id
    }
    /// By permission name.
    fn child_order() -> Vec<(Self::Column, Order)> {
        use tenant_permission::Column;
        vec![(Column::Key, Order::Asc), (Column::Id, Order::Asc)]
    }
}

impl ChildTable for workspace_membership::Entity {
    fn parent_column() -> Self::Column {
        workspace_membership::Column::WorkspaceId
    }
    fn parent_of(model: &Self::Model) -> i64 {
        model.workspace_id
    }
    /// In the order members joined.
    fn child_order() -> Vec<(Self::Column, Order)> {
        vec![(workspace_membership::Column::Id, Order::Asc)]
    }
}

/// The rows of `E` with the given ids, in one statement.
pub(crate) async fn by_ids<E: Table>(db: &Db, ids: &[i64]) -> Result<Vec<E::Model>, DbErr> {
    let rows = E::find()
        .filter(E::id_column().into_expr().is_in(ids.iter().copied()))
        .into_model::<Read<E>>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|Read(row)| row).collect())
}

/// The children of every parent in `parents`, in one statement, in child order.
pub(crate) async fn children_of<E: ChildTable>(
    db: &Db,
    parents: &[i64],
) -> Result<Vec<E::Model>, DbErr> {
    let rows = children_select::<E>(parents)
        .into_model::<Read<E>>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|Read(row)| row).collect())
}

/// The children of every parent in `parents`, in child order.
fn children_select<E: ChildTable>(parents: &[i64]) -> Select<E> {
    let mut select = E::find().filter(E::parent_column().is_in(parents.iter().copied()));
    for (column, order) in E::child_order() {
        select = select.order_by(column, order);
    }
    select
}

/// A permission as lists and health badges read it: every column but its details and
/// its row times. A list of permissions asks for its `details` far less often than for
/// names and statuses, and reading whole rows (a JSON document and three timestamps
/// each) was most of the cost of the tenant board's 300 permissions (issue #13).
#[derive(Clone, Debug)]
pub(crate) struct PermissionSummary {
    pub(crate) id: i64,
    pub(crate) tenant_id: i64,
    pub(crate) key: String,
    /// Read as it is stored, without keeping the text.
    pub(crate) status: PermissionStatus,
    pub(crate) last_checked_at: Option<DateTime<Utc>>,
}

/// Some columns of permission rows, read by position in the order of
/// [`PermissionRow::COLUMNS`]: finding a column by name hashes its name for every value
/// of every row, a measured share of the tenant board's cost (issue #13). Only
/// [`permission_rows_of`] selects these rows, so `pre` (for nested models) never applies.
pub(crate) trait PermissionRow: FromQueryResult + Send + Sync + 'static {
    /// The columns read, in the order [`FromQueryResult`] reads them.
    const COLUMNS: &'static [tenant_permission::Column];

    fn tenant_id(&self) -> i64;
}

impl PermissionRow for PermissionSummary {
    const COLUMNS: &'static [tenant_permission::Column] = &[
        tenant_permission::Column::Id,
        tenant_permission::Column::TenantId,
        tenant_permission::Column::Key,
        tenant_permission::Column::Status,
        tenant_permission::Column::LastCheckedAt,
    ];

    fn tenant_id(&self) -> i64 {
        self.tenant_id
    }
}

impl FromQueryResult for PermissionSummary {
    fn from_query_result(row: &QueryResult, _pre: &str) -> Result<Self, DbErr> {
        Ok(Self {
            id: row.try_get_by_index(0)?,
            tenant_id: row.try_get_by_index(1)?,
            key: row.try_get_by_index(2)?,
            status: PermissionStatus::from_stored(text_at(row, 3)?.as_ref()),
            last_checked_at: row.try_get_by_index(4)?,
        })
    }
}

/// The text at `index` of `row`, borrowed from the row where the driver allows.
fn text_at(row: &QueryResult, index: usize) -> Result<Cow<'_, str>, DbErr> {
    let decoding = |error: sea_orm::sqlx::Error| DbErr::Type(format!("column {index}: {error}"));
    if let Some(row) = row.try_as_pg_row() {
        return row
            .try_get::<&str, _>(index)
            .map(Cow::Borrowed)
            .map_err(decoding);
    }
    if let Some(row) = row.try_as_sqlite_row() {
        return row
            .try_get::<&str, _>(index)
            .map(Cow::Borrowed)
            .map_err(decoding);
    }
    row.try_get_by_index::<String>(index).map(Cow::Owned)
}

/// A permission as a list that asks only for keys and statuses reads it (the tenant
/// board): three columns instead of [`PermissionSummary`]'s five, for six permissions a
/// tenant (issue #13).
#[derive(Clone, Debug)]
pub(crate) struct PermissionState {
    pub(crate) tenant_id: i64,
    pub(crate) key: String,
    pub(crate) status: PermissionStatus,
}

impl PermissionRow for PermissionState {
    const COLUMNS: &'static [tenant_permission::Column] = &[
        tenant_permission::Column::TenantId,
        tenant_permission::Column::Key,
        tenant_permission::Column::Status,
    ];

    fn tenant_id(&self) -> i64 {
        self.tenant_id
    }
}

impl FromQueryResult for PermissionState {
    fn from_query_result(row: &QueryResult, _pre: &str) -> Result<Self, DbErr> {
        Ok(Self {
            tenant_id: row.try_get_by_index(0)?,
            key: row.try_get_by_index(1)?,
            status: PermissionStatus::from_stored(text_at(row, 2)?.as_ref()),
        })
    }
}

/// [`children_of`] the tenants in `tenants`, the columns `R` reads only.
pub(crate) async fn permission_rows_of<R: PermissionRow>(
    db: &Db,
    tenants: &[i64],
) -> Result<Vec<R>, DbErr> {
    children_select::<tenant_permission::Entity>(tenants)
        .select_only()
        .columns(R::COLUMNS.iter().copied())
        .into_model::<R>()
        .all(db)
        .await
}
