//! The `Node` interface and the `node`/`nodes` query roots.

use async_graphql::{Context, ID, Interface, Object};
use futures::future::try_join_all;

use super::audit_log::AuditLog;
use super::operation_run::OperationRun;
use super::operator::Operator;
use super::provider_connection::ProviderConnection;
use super::tenant::Tenant;
use super::tenant_permission::TenantPermission;
use super::user::User;
use super::workspace::{Workspace, WorkspaceMembership};
use crate::auth::Capability;
use crate::error::{AppError, AppResult};
use crate::graphql::guards::CONSOLE;
use crate::graphql::ids::{NodeKind, decode};
use crate::graphql::scope::Scope;

/// Most ids `nodes(ids:)` takes at once.
const MAX_NODE_IDS: usize = 100;

/// An object with a global id, fetchable with `node(id:)`.
#[derive(Interface)]
#[graphql(
    field(
        name = "id",
        ty = "ID",
        desc = "The global id: opaque, stable, unique across types."
    ),
    field(
        name = "database_id",
        ty = "i64",
        desc = "The id of the row in the database."
    )
)]
pub(crate) enum Node {
    Workspace(Workspace),
    WorkspaceMembership(WorkspaceMembership),
    User(User),
    Tenant(Tenant),
    ProviderConnection(ProviderConnection),
    TenantPermission(TenantPermission),
    OperationRun(OperationRun),
    AuditLog(AuditLog),
    Operator(Operator),
}

/// Query roots for objects by global id.
#[derive(Default)]
pub(crate) struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any object by its global id; null when it does not exist. An operator's id is
    /// answered only to that operator.
    #[graphql(guard = "CONSOLE")]
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global id, as returned in any `id` field.")] id: ID,
    ) -> AppResult<Option<Node>> {
        let (kind, database_id) = decode(&id, "id")?;
        load(Scope::of(ctx)?, kind, database_id).await
    }

    /// Objects by global id, in the order asked; null for each that does not exist.
    /// Repeated ids are answered each time. Objects of one type are fetched together.
    #[graphql(
        guard = "CONSOLE",
        complexity = "ids.len().max(1).saturating_mul(child_complexity).saturating_add(1)"
    )]
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Up to 100 global ids.")] ids: Vec<ID>,
    ) -> AppResult<Vec<Option<Node>>> {
        if ids.len() > MAX_NODE_IDS {
            return Err(AppError::bad_input(format!(
                "`ids` takes at most {MAX_NODE_IDS} ids, not {}",
                ids.len()
            )));
        }
        let decoded = ids
            .iter()
            .enumerate()
            .map(|(index, id)| decode(id, &format!("ids[{index}]")))
            .collect::<AppResult<Vec<_>>>()?;
        let scope = Scope::of(ctx)?;
        try_join_all(decoded.into_iter().map(|(kind, id)| load(scope, kind, id))).await
    }
}

async fn load(scope: &Scope, kind: NodeKind, id: i64) -> AppResult<Option<Node>> {
    let loaders = &scope.loaders;
    Ok(match kind {
        NodeKind::Workspace => loaders
            .workspaces()
            .load_one(id)
            .await?
            .map(|row| Node::Workspace(row.into())),
        NodeKind::WorkspaceMembership => loaders
            .memberships()
            .load_one(id)
            .await?
            .map(|row| Node::WorkspaceMembership(row.into())),
        NodeKind::User => loaders
            .users()
            .load_one(id)
            .await?
            .map(|row| Node::User(row.into())),
        NodeKind::Tenant => loaders
            .tenants()
            .load_one(id)
            .await?
            .map(|row| Node::Tenant(row.into())),
        NodeKind::ProviderConnection => loaders
            .connections()
            .load_one(id)
            .await?
            .map(|row| Node::ProviderConnection(row.into())),
        NodeKind::TenantPermission => loaders
            .permissions()
            .load_one(id)
            .await?
            .map(|row| Node::TenantPermission(row.into())),
        NodeKind::OperationRun => loaders
            .runs()
            .load_one(id)
            .await?
            .map(|row| Node::OperationRun(row.into())),
        NodeKind::AuditLog => {
            let principal = scope.principal();
            principal.map_or(Ok(()), |principal| principal.require(Capability::AuditView))?;
            let row = loaders.audit_logs().load_one(id).await?;
            row.map(|row| Node::AuditLog(row.into()))
        }
        // Only the operator's own id: another operator's reads as absent.
        NodeKind::Operator => scope
            .viewer()
            .filter(|viewer| viewer.user.id == id)
            .map(|viewer| Node::Operator(Operator::of_viewer(viewer, scope.now))),
    })
}
