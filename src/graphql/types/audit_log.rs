//! `AuditLog` and the `auditLogs` query root.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Json, Object, Subscription};
use chrono::{DateTime, Utc};
use entity::audit_log;
use futures::StreamExt;
use sea_orm::ColumnTrait;
use serde_json::Value;

use super::tenant::Tenant;
use super::workspace::Workspace;
use crate::db::audit;
use crate::domain::audit::PLATFORM_PREFIX;
use crate::domain::{status, window};
use crate::error::{AppError, AppResult};
use crate::graphql::connection::{Connection, Edge, PageRequest, page_cost, root_page};
use crate::graphql::enums::{AuditStatus, TimeWindow};
use crate::graphql::guards::{AUDIT, SENSITIVE};
use crate::graphql::ids::NodeKind;
use crate::graphql::inputs::optional_id;
use crate::graphql::scope::Scope;
use crate::graphql::text::Text;
use crate::graphql::types::live::{Live, Push};

#[derive(Clone)]
pub(crate) struct AuditLog {
    pub(crate) model: Arc<audit_log::Model>,
}

super::row_object!(AuditLog, audit_log);

/// One entry of the audit trail: who did what, when, and whether it worked. Entries are
/// never changed once recorded.
#[Object]
impl AuditLog {
    /// The global id, for `node(id:)`.
    pub(crate) async fn id(&self) -> ID {
        NodeKind::AuditLog.id(self.model.id)
    }

    /// The id of the row in the database.
    pub(crate) async fn database_id(&self) -> i64 {
        self.model.id
    }

    /// What was done, e.g. `platform.auth.login` or `platform.break_glass.enter`.
    async fn action(&self) -> &str {
        &self.model.action
    }

    /// Whether it worked.
    async fn status(&self) -> AuditStatus {
        status::AuditStatus::from_stored(&self.model.status).into()
    }

    /// Who acted: `platform_user` (an operator of this console), `user` (a person of the
    /// tenant plane) or `system`.
    async fn actor_type(&self) -> Option<&str> {
        Some(self.model.actor_type.as_str())
    }

    /// The database id of the actor (an operator's or a user's, per `actorType`); null
    /// for the system and for failed logins of unknown e-mails.
    async fn actor_id(&self) -> Option<i64> {
        self.model.actor_id
    }

    /// The actor's name as it was when the entry was recorded.
    async fn actor_name(&self) -> Option<&str> {
        self.model.actor_name.as_deref()
    }

    /// The actor's e-mail as it was when the entry was recorded.
    async fn actor_email(&self) -> Option<&str> {
        self.model.actor_email.as_deref()
    }

    /// The workspace concerned; null for platform events and when the workspace no
    /// longer exists.
    async fn workspace(&self, ctx: &Context<'_>) -> AppResult<Option<Workspace>> {
        let Some(workspace_id) = self.model.workspace_id else {
            return Ok(None);
        };
        let scope = Scope::of(ctx)?;
        Ok(scope
            .loaders
            .workspaces()
            .load_one(workspace_id)
            .await?
            .map(Workspace::from))
    }

    /// The tenant concerned; null when none was, or it no longer exists.
    async fn tenant(&self, ctx: &Context<'_>) -> AppResult<Option<Tenant>> {
        let Some(tenant_id) = self.model.tenant_id else {
            return Ok(None);
        };
        let scope = Scope::of(ctx)?;
        Ok(scope
            .loaders
            .tenants()
            .load_one(tenant_id)
            .await?
            .map(Tenant::from))
    }

    /// Details of the action, redacted: values under secret-looking keys read
    /// `[REDACTED]`. Needs `sensitive.view` (or break-glass).
    #[graphql(guard = "SENSITIVE")]
    async fn metadata(&self) -> Option<Json<Value>> {
        super::shown(self.model.metadata.as_ref())
    }

    /// When it happened.
    async fn recorded_at(&self) -> DateTime<Utc> {
        self.model.recorded_at
    }
}

/// Narrows the audit trail. Every field is optional; given fields must all match.
#[derive(InputObject, Clone, Debug, Default)]
pub(crate) struct AuditLogFilter {
    /// Only entries recorded within this window.
    pub(crate) window: Option<TimeWindow>,
    /// Only entries about this workspace.
    pub(crate) workspace_id: Option<ID>,
    /// Only entries about this tenant.
    pub(crate) tenant_id: Option<ID>,
    /// Only entries of exactly this action, e.g. `platform.auth.login`.
    pub(crate) action: Option<Text>,
    /// Only entries by the actor with this database id.
    pub(crate) actor_id: Option<i64>,
    /// Only entries with this status.
    pub(crate) status: Option<AuditStatus>,
}

impl AuditLogFilter {
    fn to_db(&self, now: DateTime<Utc>) -> AppResult<audit::AuditFilter> {
        if self.actor_id.is_some_and(|id| id <= 0) {
            return Err(AppError::bad_input(
                "`filter.actorId` must be a positive database id",
            ));
        }
        Ok(audit::AuditFilter {
            recorded: self
                .window
                .map(|window| window::TimeWindow::from(window).range(now)),
            workspace_id: optional_id(
                NodeKind::Workspace,
                &self.workspace_id,
                "filter.workspaceId",
            )?,
            tenant_id: optional_id(NodeKind::Tenant, &self.tenant_id, "filter.tenantId")?,
            actions: self.action.clone().map(|action| vec![action.into_string()]),
            actor_id: self.actor_id,
            status: self
                .status
                .map(|status| status::AuditStatus::selection(&[status.into()])),
        })
    }
}

/// Narrows the access log (the platform's own actions: logins, logouts, break-glass,
/// triage). Every field is optional; given fields must all match.
#[derive(InputObject, Clone, Debug, Default)]
pub(crate) struct AccessLogFilter {
    /// Only these actions, e.g. `["platform.auth.login"]`. An empty list does not filter.
    pub(crate) actions: Option<Vec<Text>>,
    /// Only entries by the operator with this database id.
    pub(crate) actor_id: Option<i64>,
    /// Only entries with this status.
    pub(crate) status: Option<AuditStatus>,
}

/// Query roots for the audit trail.
#[derive(Default)]
pub(crate) struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The audit trail, newest first.
    #[graphql(guard = "AUDIT", complexity = "page_cost(first, child_complexity)")]
    async fn audit_logs(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "How many entries to return, 1 to `settings.maxPageSize`.",
            default_with = "crate::graphql::connection::default_first()"
        )]
        first: Option<i32>,
        #[graphql(desc = "Return the entries after this cursor.")] after: Option<String>,
        #[graphql(desc = "Only entries matching this filter.")] filter: Option<AuditLogFilter>,
    ) -> AppResult<Connection<AuditLog>> {
        let scope = Scope::of(ctx)?;
        let spec = audit::sort_spec().in_list("auditLogs");
        let args = PageRequest::forward(first, after).validate(&spec, scope.max_page_size())?;
        let condition = filter.unwrap_or_default().to_db(scope.now)?.condition();
        let (page, total) = root_page::<audit_log::Entity>(scope, condition, &spec, &args).await?;
        Ok(Connection::new(
            page,
            &spec,
            audit::sort_key,
            AuditLog::from,
            total,
        ))
    }

    /// The page a tick of `Subscription.auditLogTail` reads: entries after `after` (or
    /// after the id `since`), oldest first, none beyond the settled id `through`. Hidden:
    /// only the tail knows how far the trail is settled.
    #[graphql(guard = "AUDIT", visible = false)]
    async fn audit_log_tail_page(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        since: Option<i64>,
        through: i64,
        filter: Option<AuditLogFilter>,
    ) -> AppResult<Connection<AuditLog>> {
        let scope = Scope::of(ctx)?;
        let spec = audit::tail_spec().in_list("auditLogTail");
        let first = Some(i32::try_from(scope.max_page_size()).unwrap_or(i32::MAX));
        let args = PageRequest::forward(first, after).validate(&spec, scope.max_page_size())?;
        let mut condition = filter
            .unwrap_or_default()
            .to_db(scope.now)?
            .condition()
            .add(audit_log::Column::Id.lte(through));
        if let Some(since) = since {
            condition = condition.add(audit_log::Column::Id.gt(since));
        }
        // The horizon was read on the primary: a replica may not have every entry up to
        // it yet, and the tail would step over the missing ones for good.
        let primary = scope.on_primary();
        let (page, total) =
            root_page::<audit_log::Entity>(&primary, condition, &spec, &args).await?;
        Ok(Connection::new(
            page,
            &spec,
            audit::tail_key,
            AuditLog::from,
            total,
        ))
    }

    /// The platform's own actions (`platform.*`: logins, logouts, break-glass, triage)
    /// recorded in `window`, newest first.
    #[graphql(guard = "AUDIT", complexity = "page_cost(first, child_complexity)")]
    async fn access_logs(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Which entries count (by recording time).",
            default_with = "Some(TimeWindow::Last24h)"
        )]
        window: Option<TimeWindow>,
        #[graphql(
            desc = "How many entries to return, 1 to `settings.maxPageSize`.",
            default_with = "crate::graphql::connection::default_first()"
        )]
        first: Option<i32>,
        #[graphql(desc = "Return the entries after this cursor.")] after: Option<String>,
        #[graphql(desc = "Only entries matching this filter.")] filter: Option<AccessLogFilter>,
    ) -> AppResult<Connection<AuditLog>> {
        let scope = Scope::of(ctx)?;
        let spec = audit::sort_spec().in_list("accessLogs");
        let args = PageRequest::forward(first, after).validate(&spec, scope.max_page_size())?;
        let filter = filter.unwrap_or_default();
        if filter.actor_id.is_some_and(|id| id <= 0) {
            return Err(AppError::bad_input(
                "`filter.actorId` must be a positive database id",
            ));
        }
        if filter
            .actions
            .as_ref()
            .is_some_and(|actions| actions.len() > 50)
        {
            return Err(AppError::bad_input(
                "`filter.actions` takes at most 50 values",
            ));
        }
        let window = TimeWindow::chosen(window);
        let condition = audit::AuditFilter {
            recorded: Some(window.range(scope.now)),
            workspace_id: None,
            tenant_id: None,
            actions: filter
                .actions
                .filter(|actions| !actions.is_empty())
                .map(|actions| actions.into_iter().map(Text::into_string).collect()),
            actor_id: filter.actor_id,
            status: filter
                .status
                .map(|status| status::AuditStatus::selection(&[status.into()])),
        }
        .condition()
        .add(audit_log::Column::Action.like(format!("{PLATFORM_PREFIX}%")));
        let (page, total) = root_page::<audit_log::Entity>(scope, condition, &spec, &args).await?;
        Ok(Connection::new(
            page,
            &spec,
            audit::sort_key,
            AuditLog::from,
            total,
        ))
    }
}

/// Lists of it are async-graphql's own.
impl crate::graphql::immediate::Item for AuditLog {}

/// The audit tail.
#[derive(Default)]
pub struct AuditTailSubscription;

#[Subscription]
impl AuditTailSubscription {
    /// New audit entries as they are recorded, oldest first, each once: every entry
    /// matching `filter` after the cursor `after` (or, without one, recorded from now
    /// on). An entry is sent only once every entry before it is committed or will never
    /// be — an entry whose transaction commits late is not skipped — so the tail trails
    /// the newest entry by a second or two, and by as long as a transaction that may
    /// hold an earlier entry stays open. Resume after a reconnect by passing the last
    /// edge's `cursor` as `after`. Needs `audit.view`; checked, like every field, as the
    /// query `auditLogs` would be, at each look (every second).
    async fn audit_log_tail(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only entries matching this filter.")] filter: Option<AuditLogFilter>,
        #[graphql(desc = "Send the entries after this cursor, a `cursor` this tail sent.")]
        after: Option<String>,
    ) -> async_graphql::Result<impl futures::Stream<Item = Push<Edge<AuditLog>>> + use<>> {
        let _ = filter;
        Ok(Live::of(ctx)?.tail(ctx.item, after)?.map(Push::new))
    }
}
