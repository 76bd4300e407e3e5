//! `Workspace`, `WorkspaceMembership` and the workspace query roots.

use std::sync::Arc;

use async_graphql::parser::types::SelectionSet;
use async_graphql::{Context, ID, Object, Value};
use chrono::{DateTime, Utc};
use entity::{workspace, workspace_membership};
use futures::FutureExt;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::health::{HealthBadge, RunStats, run_counts};
use super::tenant::Tenant;
use super::user::User;
use crate::db::workspaces;
use crate::domain::health;
use crate::domain::status;
use crate::error::{AppError, AppResult};
use crate::graphql::connection::{Connection, PageRequest, page_cost, root_page};
use crate::graphql::enums::{MembershipRole, TimeWindow};
use crate::graphql::guards::CONSOLE;
use crate::graphql::ids::{NodeKind, decode_as};
use crate::graphql::immediate::{Immediate, Plain, Planned, leaf, nothing, text};
use crate::graphql::inputs::{TenantFilter, TenantOrder, WorkspaceFilter};
use crate::graphql::loaders::{TenantCountKey, TenantList, TenantPageKey};
use crate::graphql::scope::Scope;
use crate::graphql::text::Text;

#[derive(Clone)]
pub(crate) struct Workspace {
    pub(crate) model: Arc<workspace::Model>,
}

super::row_object!(Workspace, workspace);

/// A workspace: the top-level grouping of tenants, with its members.
#[Object]
impl Workspace {
    /// The global id, for `node(id:)` and for filters that take a workspace id.
    pub(crate) async fn id(&self) -> ID {
        NodeKind::Workspace.id(self.model.id)
    }

    /// The id of the row in the database.
    pub(crate) async fn database_id(&self) -> i64 {
        self.model.id
    }

    /// The display name.
    async fn name(&self) -> &str {
        &self.model.name
    }

    /// The unique, URL-safe name, usable with `workspace(slug:)`.
    async fn slug(&self) -> &str {
        &self.model.slug
    }

    /// When the workspace was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }

    /// When the workspace was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.model.updated_at
    }

    /// The workspace's tenants, by name unless `orderBy` says otherwise. Under a list of
    /// workspaces, the pages of all of them are fetched together.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn tenants(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "How many tenants to return, 1 to `settings.maxPageSize`.",
            default_with = "crate::graphql::connection::default_first()"
        )]
        first: Option<i32>,
        #[graphql(desc = "Return the tenants after this cursor (an `endCursor` of this list).")]
        after: Option<String>,
        #[graphql(desc = "Only tenants matching this filter.")] filter: Option<TenantFilter>,
        #[graphql(desc = "How to sort the tenants; by name when absent.")] order_by: Option<
            TenantOrder,
        >,
    ) -> AppResult<Connection<Immediate<Tenant>>> {
        let scope = Scope::of(ctx)?;
        let filter = Arc::new(filter.unwrap_or_default().to_db(&scope.criteria())?);
        let order = TenantOrder::to_db(order_by);
        let spec = order
            .sort_spec()
            .in_list(&format!("Workspace:{}.tenants", self.model.id));
        let args = PageRequest::forward(first, after).validate(&spec, scope.max_page_size())?;
        let key = TenantPageKey {
            workspace_id: self.model.id,
            list: Arc::new(TenantList {
                filter: (*filter).clone(),
                order,
                args,
            }),
        };
        let page = scope
            .loaders
            .tenant_pages()
            .load_one(key)
            .await?
            .unwrap_or_default();
        scope.loaders.prime_tenants(&page.rows);
        let workspace_id = self.model.id;
        let total = Arc::new(move |scope: Scope| {
            let key = TenantCountKey {
                workspace_id,
                filter: filter.clone(),
            };
            async move {
                Ok(scope
                    .loaders
                    .tenant_counts()
                    .load_one(key)
                    .await?
                    .unwrap_or(0))
            }
            .boxed()
        });
        Ok(Connection::new(
            page,
            &spec,
            |row| order.sort_key(row),
            |row| Immediate(Tenant::from(row)),
            total,
        ))
    }

    /// The workspace's health badge in `window`: the worst badge among its tenants that
    /// are not archived, and its runs (with or without a tenant).
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
        let key = (self.model.id, TimeWindow::chosen(window));
        let (levels, tally) = futures::try_join!(
            scope.loaders.tenant_levels().load_one(key),
            scope.loaders.workspace_tallies().load_one(key),
        )?;
        let window = TimeWindow::chosen(window);
        let badge = health::workspace_badge(
            levels.unwrap_or_default(),
            run_counts(tally.unwrap_or_default()),
            window.describe(),
            scope.criteria().health,
        );
        Ok(badge.into())
    }

    /// Counts of the workspace's runs created in `window`, with or without a tenant.
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
            .workspace_tallies()
            .load_one((self.model.id, TimeWindow::chosen(window)))
            .await?;
        Ok(tally.unwrap_or_default().into())
    }

    /// Who belongs to the workspace and in which role, in the order they joined.
    async fn memberships(&self, ctx: &Context<'_>) -> AppResult<Vec<WorkspaceMembership>> {
        let scope = Scope::of(ctx)?;
        let rows = scope
            .loaders
            .memberships_by_workspace()
            .load_one(self.model.id)
            .await?;
        Ok(super::shown_rows(rows))
    }
}

#[derive(Clone)]
pub(crate) struct WorkspaceMembership {
    pub(crate) model: Arc<workspace_membership::Model>,
}

super::row_object!(WorkspaceMembership, workspace_membership);

/// A user's membership of a workspace.
#[Object]
impl WorkspaceMembership {
    /// The global id, for `node(id:)`.
    pub(crate) async fn id(&self) -> ID {
        NodeKind::WorkspaceMembership.id(self.model.id)
    }

    /// The id of the row in the database.
    pub(crate) async fn database_id(&self) -> i64 {
        self.model.id
    }

    /// The member's role in the workspace.
    async fn role(&self) -> MembershipRole {
        status::MembershipRole::from_stored(&self.model.role).into()
    }

    /// The member; null when the user row no longer exists.
    async fn user(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        let scope = Scope::of(ctx)?;
        Ok(scope
            .loaders
            .users()
            .load_one(self.model.user_id)
            .await?
            .map(User::from))
    }

    /// The workspace.
    async fn workspace(&self, ctx: &Context<'_>) -> AppResult<Workspace> {
        let scope = Scope::of(ctx)?;
        let row = scope
            .loaders
            .workspaces()
            .load_one(self.model.workspace_id)
            .await?;
        super::existing(row, || format!("workspace {}", self.model.workspace_id))
            .map(Workspace::from)
    }

    /// When the user joined the workspace.
    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }
}

/// Query roots for workspaces.
#[derive(Default)]
pub(crate) struct WorkspaceQuery;

#[Object]
impl WorkspaceQuery {
    /// Workspaces, by name.
    #[graphql(
        guard = "CONSOLE",
        complexity = "page_cost(first.or(last), child_complexity)"
    )]
    async fn workspaces(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "How many workspaces to return from the start (or from `after`), 1 to `settings.maxPageSize` (default `settings.defaultPageSize`)."
        )]
        first: Option<i32>,
        #[graphql(desc = "Return the workspaces after this cursor.")] after: Option<String>,
        #[graphql(
            desc = "How many workspaces to return from the end (or from `before`), 1 to `settings.maxPageSize`."
        )]
        last: Option<i32>,
        #[graphql(desc = "Return the workspaces before this cursor.")] before: Option<String>,
        #[graphql(desc = "Only workspaces matching this filter.")] filter: Option<WorkspaceFilter>,
    ) -> AppResult<Connection<Workspace>> {
        let scope = Scope::of(ctx)?;
        let spec = workspaces::sort_spec().in_list("workspaces");
        let args = PageRequest {
            first,
            after,
            last,
            before,
        }
        .validate(&spec, scope.max_page_size())?;
        let condition = filter
            .unwrap_or_default()
            .to_db()?
            .condition(scope.db.get_database_backend());
        let (page, total) = root_page::<workspace::Entity>(scope, condition, &spec, &args).await?;
        let page = page.shared();
        scope.loaders.prime_workspaces(&page.rows);
        Ok(Connection::new(
            page,
            &spec,
            |row| workspaces::sort_key(row),
            Workspace::from,
            total,
        ))
    }

    /// One workspace, by `id` or by `slug` (give exactly one); null when none matches.
    #[graphql(guard = "CONSOLE")]
    async fn workspace(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The workspace's global id.")] id: Option<ID>,
        #[graphql(desc = "The workspace's slug.")] slug: Option<Text>,
    ) -> AppResult<Option<Workspace>> {
        let scope = Scope::of(ctx)?;
        match (id, slug) {
            (Some(id), None) => {
                let id = decode_as(NodeKind::Workspace, &id, "id")?;
                Ok(scope
                    .loaders
                    .workspaces()
                    .load_one(id)
                    .await?
                    .map(Workspace::from))
            }
            (None, Some(slug)) => {
                let row = workspace::Entity::find()
                    .filter(workspace::Column::Slug.eq(slug.into_string()))
                    .one(&scope.db)
                    .await?;
                Ok(row.map(Workspace::from))
            }
            _ => Err(AppError::bad_input("give exactly one of `id` and `slug`")),
        }
    }
}

impl Plain for Workspace {
    type Loaded = ();
    const LEAVES: &'static [&'static str] =
        &["id", "databaseId", "name", "slug", "createdAt", "updatedAt"];

    async fn load(objects: &[Self], _: &Scope, _: &SelectionSet) -> Option<Vec<()>> {
        nothing(objects)
    }

    fn value(&self, field: &Planned<'_>, (): &()) -> Value {
        let model = &self.model;
        match field.name() {
            "id" => leaf(NodeKind::Workspace.id(model.id)),
            "databaseId" => leaf(model.id),
            "name" => text(&model.name),
            "slug" => text(&model.slug),
            "createdAt" => leaf(model.created_at),
            "updatedAt" => leaf(model.updated_at),
            _ => Value::Null,
        }
    }
}

/// Lists of it are async-graphql's own.
impl crate::graphql::immediate::Item for Workspace {}
