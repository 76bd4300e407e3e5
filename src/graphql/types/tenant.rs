//! `Tenant`, `TenantRbac` and the tenant query roots.

use std::sync::Arc;

use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::{Context, ID, Json, Object, OutputType, SimpleObject, Value as GraphQLValue};
use chrono::{DateTime, Utc};
use entity::{provider_connection, tenant, workspace};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::Value;

use super::health::{HealthBadge, RunStats, connection_facts, permission_facts, run_counts};
use super::operation_run::OperationRun;
use super::provider_connection::ProviderConnection;
use super::tenant_permission::TenantPermission;
use super::workspace::Workspace;
use crate::db::tables::{PermissionState, PermissionSummary};
use crate::domain::health;
use crate::domain::status;
use crate::error::{AppError, AppResult, count_argument};
use crate::graphql::connection::{Connection, PageRequest, page_cost, root_page};
use crate::graphql::enums::{PermissionStatus, TenantStatus, TimeWindow};
use crate::graphql::guards::{CONSOLE, SENSITIVE};
use crate::graphql::ids::{NodeKind, decode_as};
use crate::graphql::immediate::{
    self, Immediate, Plain, Planned, edge_to, enum_leaf, leaf, load_if, selects, text,
};
use crate::graphql::inputs::{TenantFilter, TenantOrder};
use crate::graphql::loaders::RecentRunsKey;
use crate::graphql::scope::Scope;
use crate::graphql::text::Text;

#[derive(Clone)]
pub(crate) struct Tenant {
    pub(crate) model: Arc<tenant::Model>,
}

super::row_object!(Tenant, tenant);

/// A customer tenant the platform manages, inside one workspace.
#[Object]
impl Tenant {
    /// The global id, for `node(id:)` and for filters that take a tenant id.
    pub(crate) async fn id(&self) -> ID {
        NodeKind::Tenant.id(self.model.id)
    }

    /// The id of the row in the database.
    pub(crate) async fn database_id(&self) -> i64 {
        self.model.id
    }

    /// The tenant's id at its provider (e.g. the Microsoft Entra tenant id), unique;
    /// usable with `tenant(externalId:)`.
    async fn external_id(&self) -> &str {
        &self.model.external_id
    }

    /// The display name.
    async fn name(&self) -> &str {
        &self.model.name
    }

    /// Where the tenant is in its life on the platform.
    async fn status(&self) -> TenantStatus {
        status::TenantStatus::from_stored(&self.model.status).into()
    }

    /// Free text naming the environment, e.g. `production` or `staging`.
    async fn environment(&self) -> &str {
        &self.model.environment
    }

    /// The workspace the tenant belongs to.
    async fn workspace(&self, ctx: &Context<'_>) -> AppResult<Immediate<Workspace>> {
        let scope = Scope::of(ctx)?;
        let row = scope
            .loaders
            .workspaces()
            .load_one(self.model.workspace_id)
            .await?;
        super::existing(row, || {
            format!(
                "workspace {} of tenant {}",
                self.model.workspace_id, self.model.id
            )
        })
        .map(|row| Immediate(Workspace::from(row)))
    }

    /// The state of the platform's role-based access setup in the tenant.
    async fn rbac(&self) -> TenantRbac {
        TenantRbac {
            last_checked_at: self.model.rbac_last_checked_at,
            last_setup_at: self.model.rbac_last_setup_at,
            canary_results: super::shown(self.model.rbac_canary_results.as_ref()),
            last_warnings: super::shown(self.model.rbac_last_warnings.as_ref()),
        }
    }

    /// Free-form metadata, redacted: values under secret-looking keys read `[REDACTED]`.
    /// Needs `sensitive.view` (or break-glass).
    #[graphql(guard = "SENSITIVE")]
    async fn metadata(&self) -> Option<Json<Value>> {
        super::shown(self.model.metadata.as_ref())
    }

    /// The tenant's provider connections, the default one first, then by provider.
    async fn provider_connections(
        &self,
        ctx: &Context<'_>,
    ) -> AppResult<Vec<Immediate<ProviderConnection>>> {
        let scope = Scope::of(ctx)?;
        let rows = scope
            .loaders
            .connections_by_tenant()
            .load_one(self.model.id)
            .await?;
        Ok(super::immediate_rows(rows))
    }

    /// The permissions the platform needs in the tenant, by name.
    async fn permissions(&self, ctx: &Context<'_>) -> AppResult<Vec<Immediate<TenantPermission>>> {
        let scope = Scope::of(ctx)?;
        let loaders = &scope.loaders;
        // Whole rows only when the selection reads their details (fragments included,
        // `@skip` not evaluated: when in doubt, whole).
        let whole = ctx
            .field()
            .selection_set()
            .any(|field| field.name() == "details");
        if whole {
            let rows = loaders
                .permissions_by_tenant()
                .load_one(self.model.id)
                .await?;
            return Ok(super::immediate_rows(rows));
        }
        let rows = loaders
            .permission_summaries_by_tenant()
            .load_one(self.model.id)
            .await?;
        Ok(super::immediate_rows(rows))
    }

    /// The tenant's health badge in `window`: the worst of its status, its provider
    /// connections, its permissions and its runs, with every signal.
    async fn health(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Which runs count (by creation time).",
            default_with = "Some(TimeWindow::Last24h)"
        )]
        window: Option<TimeWindow>,
    ) -> AppResult<HealthBadge> {
        let scope = Scope::of(ctx)?;
        let loaders = &scope.loaders;
        let (connections, permissions, tally) = futures::try_join!(
            loaders.connections_by_tenant().load_one(self.model.id),
            loaders
                .permission_summaries_by_tenant()
                .load_one(self.model.id),
            loaders
                .tenant_tallies()
                .load_one((self.model.id, TimeWindow::chosen(window))),
        )?;
        let connections: Vec<_> = connections
            .unwrap_or_default()
            .iter()
            .map(|row| connection_facts(row))
            .collect();
        let permissions: Vec<_> = permissions
            .unwrap_or_default()
            .iter()
            .map(|row| permission_facts(row))
            .collect();
        let criteria = scope.criteria();
        let window = TimeWindow::chosen(window);
        let badge = health::tenant_badge(
            status::TenantStatus::from_stored(&self.model.status),
            &connections,
            &permissions,
            run_counts(tally.unwrap_or_default()),
            window.describe(),
            criteria.now,
            criteria.health,
        );
        Ok(badge.into())
    }

    /// Counts of the tenant's runs created in `window`.
    async fn run_stats(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Which runs count (by creation time).",
            default_with = "Some(TimeWindow::Last24h)"
        )]
        window: Option<TimeWindow>,
    ) -> AppResult<RunStats> {
        let scope = Scope::of(ctx)?;
        let tally = scope
            .loaders
            .tenant_tallies()
            .load_one((self.model.id, TimeWindow::chosen(window)))
            .await?;
        Ok(tally.unwrap_or_default().into())
    }

    /// The tenant's latest runs created in `window`, newest first.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn recent_runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Which runs count (by creation time).",
            default_with = "Some(TimeWindow::Last24h)"
        )]
        window: Option<TimeWindow>,
        #[graphql(
            desc = "How many runs, 1 to `settings.maxPageSize`.",
            default_with = "Some(5)"
        )]
        first: Option<i32>,
    ) -> AppResult<Vec<OperationRun>> {
        let scope = Scope::of(ctx)?;
        let first = count_argument("first", first.unwrap_or(5), scope.max_page_size().into())?;
        let key = RecentRunsKey {
            tenant_id: self.model.id,
            window: TimeWindow::chosen(window),
            first,
        };
        let runs = scope.loaders.recent_runs().load_one(key).await?;
        Ok(runs
            .unwrap_or_default()
            .into_iter()
            .map(OperationRun::from)
            .collect())
    }

    /// When the tenant was added.
    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }

    /// When the tenant was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.model.updated_at
    }
}

/// The rows a tenant's edges point at, loaded for its immediate answer (each `None`
/// when not selected).
pub(crate) struct TenantEdges {
    workspace: Option<Arc<workspace::Model>>,
    connections: Option<Arc<[Arc<provider_connection::Model>]>>,
    permissions: Permissions,
}

/// A tenant's permissions, as its selection needs them (`None`: none, or not selected).
enum Permissions {
    Summaries(Option<Arc<[Arc<PermissionSummary>]>>),
    /// Every `permissions` selected asks only for keys and statuses.
    States(Option<Arc<[Arc<PermissionState>]>>),
}

/// Whether every `permissions` field of `selection` asks for nothing but `key`, `status`
/// and `__typename`: then [`PermissionState`]s answer it.
fn only_states(selection: &SelectionSet) -> bool {
    selection.items.iter().all(|item| match &item.node {
        Selection::Field(field) if field.node.name.node == "permissions" => field
            .node
            .selection_set
            .node
            .items
            .iter()
            .all(|item| match &item.node {
                Selection::Field(field) => {
                    ["key", "status", "__typename"].contains(&field.node.name.node.as_str())
                }
                _ => false,
            }),
        _ => true,
    })
}

impl Plain for Tenant {
    type Loaded = TenantEdges;
    const LEAVES: &'static [&'static str] = &[
        "id",
        "databaseId",
        "externalId",
        "name",
        "status",
        "environment",
        "createdAt",
        "updatedAt",
    ];

    fn edge(field: &Field) -> bool {
        match field.name.node.as_str() {
            "workspace" => edge_to::<Workspace>(field),
            "providerConnections" => edge_to::<ProviderConnection>(field),
            // Summaries answer every plain field of a permission (`details` is not one).
            "permissions" => edge_to::<TenantPermission>(field),
            _ => false,
        }
    }

    async fn load(
        tenants: &[Self],
        scope: &Scope,
        selection: &SelectionSet,
    ) -> Option<Vec<TenantEdges>> {
        let loaders = &scope.loaders;
        let ids = || tenants.iter().map(|tenant| tenant.model.id);
        let wants_workspace = selects(selection, "workspace");
        let wants_permissions = selects(selection, "permissions");
        let lean = only_states(selection);
        let (workspaces, connections, summaries, states) = futures::join!(
            load_if(
                wants_workspace,
                loaders.load_now(
                    loaders.workspaces(),
                    tenants.iter().map(|tenant| tenant.model.workspace_id),
                ),
            ),
            load_if(
                selects(selection, "providerConnections"),
                loaders.load_now(loaders.connections_by_tenant(), ids()),
            ),
            load_if(
                wants_permissions && !lean,
                loaders.load_now(loaders.permission_summaries_by_tenant(), ids()),
            ),
            load_if(
                wants_permissions && lean,
                loaders.load_now(loaders.permission_states_by_tenant(), ids()),
            ),
        );
        let (workspaces, connections) = (workspaces?, connections?);
        let (summaries, states) = (summaries?, states?);
        tenants
            .iter()
            .map(|tenant| {
                let workspace = match wants_workspace {
                    // A broken reference: async-graphql's path reports it.
                    true => Some(workspaces.get(&tenant.model.workspace_id)?.clone()),
                    false => None,
                };
                let id = &tenant.model.id;
                let permissions = match wants_permissions && lean {
                    true => Permissions::States(states.get(id).cloned()),
                    false => Permissions::Summaries(summaries.get(id).cloned()),
                };
                Some(TenantEdges {
                    workspace,
                    connections: connections.get(id).cloned(),
                    permissions,
                })
            })
            .collect()
    }

    fn value(&self, field: &Planned<'_>, edges: &TenantEdges) -> GraphQLValue {
        let model = &self.model;
        match field.name() {
            "id" => leaf(NodeKind::Tenant.id(model.id)),
            "databaseId" => leaf(model.id),
            "externalId" => text(&model.external_id),
            "name" => text(&model.name),
            "status" => enum_leaf!(
                TenantStatus,
                status::TenantStatus::from_stored(&model.status).into()
            ),
            "environment" => text(&model.environment),
            "createdAt" => leaf(model.created_at),
            "updatedAt" => leaf(model.updated_at),
            "workspace" => match &edges.workspace {
                Some(row) => immediate::object(&Workspace::from(row.clone()), &field.plan, &()),
                None => GraphQLValue::Null,
            },
            "providerConnections" => {
                let rows = edges.connections.as_deref().unwrap_or_default();
                immediate::list(rows.iter().cloned().map(ProviderConnection::from), field)
            }
            "permissions" => match &edges.permissions {
                Permissions::Summaries(rows) => {
                    let rows = rows.as_deref().unwrap_or_default();
                    immediate::list(rows.iter().cloned().map(TenantPermission::from), field)
                }
                Permissions::States(rows) => {
                    let rows = rows.as_deref().unwrap_or_default();
                    let type_name = TenantPermission::type_name();
                    let state = |row: &PermissionState, field: &Planned<'_>| match field.name() {
                        "key" => text(&row.key),
                        "status" => enum_leaf!(PermissionStatus, row.status.into()),
                        _ => GraphQLValue::Null,
                    };
                    GraphQLValue::List(
                        rows.iter()
                            .map(|row| {
                                immediate::answer(&field.plan, &type_name, |f| state(row, f))
                            })
                            .collect(),
                    )
                }
            },
            _ => GraphQLValue::Null,
        }
    }
}

/// The state of the platform's role-based access setup in a tenant.
#[derive(SimpleObject)]
pub(crate) struct TenantRbac {
    /// When the setup was last verified; null if never.
    pub(crate) last_checked_at: Option<DateTime<Utc>>,
    /// When the setup was last (re)applied; null if never.
    pub(crate) last_setup_at: Option<DateTime<Utc>>,
    /// The raw results of the last canary checks, redacted. Needs `sensitive.view` (or
    /// break-glass).
    #[graphql(guard = "SENSITIVE")]
    pub(crate) canary_results: Option<Json<Value>>,
    /// The warnings of the last check, redacted.
    pub(crate) last_warnings: Option<Json<Value>>,
}

/// Query roots for tenants.
#[derive(Default)]
pub(crate) struct TenantQuery;

#[Object]
impl TenantQuery {
    /// Tenants, by name unless `orderBy` says otherwise.
    #[expect(
        clippy::too_many_arguments,
        reason = "a Relay connection field's arguments, as clients send them"
    )]
    #[graphql(
        guard = "CONSOLE",
        complexity = "page_cost(first.or(last), child_complexity)"
    )]
    async fn tenants(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "How many tenants to return from the start (or from `after`), 1 to `settings.maxPageSize` (default `settings.defaultPageSize`)."
        )]
        first: Option<i32>,
        #[graphql(desc = "Return the tenants after this cursor.")] after: Option<String>,
        #[graphql(
            desc = "How many tenants to return from the end (or from `before`), 1 to `settings.maxPageSize`."
        )]
        last: Option<i32>,
        #[graphql(desc = "Return the tenants before this cursor.")] before: Option<String>,
        #[graphql(desc = "Only tenants matching this filter.")] filter: Option<TenantFilter>,
        #[graphql(desc = "How to sort the tenants; by name when absent.")] order_by: Option<
            TenantOrder,
        >,
    ) -> AppResult<Connection<Immediate<Tenant>>> {
        let scope = Scope::of(ctx)?;
        let order = TenantOrder::to_db(order_by);
        let spec = order.sort_spec().in_list("tenants");
        let args = PageRequest {
            first,
            after,
            last,
            before,
        }
        .validate(&spec, scope.max_page_size())?;
        let condition = filter
            .unwrap_or_default()
            .to_db(&scope.criteria())?
            .condition(scope.db.get_database_backend());
        let (page, total) = root_page::<tenant::Entity>(scope, condition, &spec, &args).await?;
        let page = page.shared();
        scope.loaders.prime_tenants(&page.rows);
        Ok(Connection::new(
            page,
            &spec,
            |row| order.sort_key(row),
            |row| Immediate(Tenant::from(row)),
            total,
        ))
    }

    /// One tenant, by `id` or by `externalId` (give exactly one); null when none
    /// matches.
    #[graphql(guard = "CONSOLE")]
    async fn tenant(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tenant's global id.")] id: Option<ID>,
        #[graphql(desc = "The tenant's id at its provider.")] external_id: Option<Text>,
    ) -> AppResult<Option<Tenant>> {
        let scope = Scope::of(ctx)?;
        match (id, external_id) {
            (Some(id), None) => {
                let id = decode_as(NodeKind::Tenant, &id, "id")?;
                Ok(scope
                    .loaders
                    .tenants()
                    .load_one(id)
                    .await?
                    .map(Tenant::from))
            }
            (None, Some(external_id)) => {
                let row = tenant::Entity::find()
                    .filter(tenant::Column::ExternalId.eq(external_id.into_string()))
                    .one(&scope.db)
                    .await?;
                Ok(row.map(Tenant::from))
            }
            _ => Err(AppError::bad_input(
                "give exactly one of `id` and `externalId`",
            )),
        }
    }
}
