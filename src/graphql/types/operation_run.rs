//! `OperationRun`, its summary and failures, and the run query roots.

use std::sync::Arc;

use async_graphql::{Context, ID, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::operation_run;
use sea_orm::{ColumnTrait, Condition, EntityTrait};
use serde_json::Value;

use super::health::{Stuck, run_times};
use super::tenant::Tenant;
use super::user::User;
use super::workspace::Workspace;
use crate::auth::login::operator_actor;
use crate::auth::{Capability, operator_text};
use crate::db::audit::{NewAuditEntry, record};
use crate::db::runs::{RunOrder, stuck_condition};
use crate::db::stats::created_within;
use crate::domain::audit::AuditAction;
use crate::domain::failure::{self, sanitize_failures};
use crate::domain::summary::{self, normalize_summary_counts};
use crate::domain::{status, stuck};
use crate::error::{AppError, AppResult};
use crate::graphql::connection::{Connection, PageRequest, page_cost, root_page};
use crate::graphql::enums::{RunOutcome, RunStatus, TimeWindow};
use crate::graphql::guards::{self, CONSOLE, Needs, SENSITIVE};
use crate::graphql::ids::{NodeKind, decode_as};
use crate::graphql::inputs::{OperationRunFilter, OperationRunOrder};
use crate::graphql::scope::Scope;
use crate::graphql::text::Text;

#[derive(Clone)]
pub(crate) struct OperationRun {
    pub(crate) model: Arc<operation_run::Model>,
}

super::row_object!(OperationRun, operation_run);

/// One execution of a platform operation (an inventory sync, a compliance scan, …) in a
/// workspace, usually for one tenant.
#[Object]
impl OperationRun {
    /// The global id, for `node(id:)` and `operationRun(id:)`.
    pub(crate) async fn id(&self) -> ID {
        NodeKind::OperationRun.id(self.model.id)
    }

    /// The id of the row in the database.
    pub(crate) async fn database_id(&self) -> i64 {
        self.model.id
    }

    /// What the run does, e.g. `inventory.sync`.
    async fn r#type(&self) -> &str {
        &self.model.r#type
    }

    /// Where the run is in its life.
    async fn status(&self) -> RunStatus {
        status::RunStatus::from_stored(&self.model.status).into()
    }

    /// How the run ended; `PENDING` until it completes.
    async fn outcome(&self) -> RunOutcome {
        status::RunOutcome::from_stored(&self.model.outcome).into()
    }

    /// The workspace the run belongs to.
    async fn workspace(&self, ctx: &Context<'_>) -> AppResult<Workspace> {
        let scope = Scope::of(ctx)?;
        let row = scope
            .loaders
            .workspaces()
            .load_one(self.model.workspace_id)
            .await?;
        super::existing(row, || {
            format!(
                "workspace {} of run {}",
                self.model.workspace_id, self.model.id
            )
        })
        .map(Workspace::from)
    }

    /// The tenant the run worked on; null for workspace-wide runs and when the tenant has
    /// been deleted.
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

    /// The user who started the run; null for runs started by the system or when the
    /// user has been deleted.
    async fn user(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        let Some(user_id) = self.model.user_id else {
            return Ok(None);
        };
        let scope = Scope::of(ctx)?;
        Ok(scope
            .loaders
            .users()
            .load_one(user_id)
            .await?
            .map(User::from))
    }

    /// A display name for whoever started the run (a user, a schedule, an integration).
    async fn initiator_name(&self) -> Option<&str> {
        self.model.initiator_name.as_deref()
    }

    /// The run's counters (items created, updated, failed, …): integer values only, at
    /// most 50, sorted by key.
    async fn summary_counts(&self) -> Vec<SummaryCount> {
        let document = self
            .model
            .summary_counts
            .as_ref()
            .map(|document| document.value());
        normalize_summary_counts(document)
            .into_iter()
            .map(SummaryCount::from)
            .collect()
    }

    /// What went wrong: at most 10 entries, messages cut to 500 characters and cleaned of
    /// secrets.
    async fn failure_summary(&self) -> Vec<RunFailure> {
        let document = self
            .model
            .failure_summary
            .as_ref()
            .map(|document| document.value());
        sanitize_failures(document)
            .into_iter()
            .map(RunFailure::from)
            .collect()
    }

    /// What the run was asked to do, redacted: values under secret-looking keys read
    /// `[REDACTED]`. Needs `sensitive.view` (or break-glass).
    #[graphql(guard = "SENSITIVE")]
    async fn context(&self) -> Option<Json<Value>> {
        super::shown(self.model.context.as_ref())
    }

    /// When the run was created (queued).
    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }

    /// When a worker started the run; null while queued.
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.model.started_at
    }

    /// When the run finished; null until completed.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.model.completed_at
    }

    /// Whether the run is stuck now: queued and not started within
    /// `settings.queuedStuckMinutes` of its creation, or running for
    /// `settings.runningStuckMinutes` or more.
    async fn is_stuck(&self, ctx: &Context<'_>) -> AppResult<bool> {
        Ok(stuck_now(&self.model, Scope::of(ctx)?).is_some())
    }

    /// Why and since when the run is stuck; null when it is not.
    async fn stuck(&self, ctx: &Context<'_>) -> AppResult<Option<Stuck>> {
        Ok(stuck_now(&self.model, Scope::of(ctx)?).map(Stuck::from))
    }

    /// What operators noted when they marked the run investigated, newest first.
    async fn investigations(&self, ctx: &Context<'_>) -> AppResult<Vec<Investigation>> {
        let scope = Scope::of(ctx)?;
        let rows = scope
            .loaders
            .investigations()
            .load_one(self.model.id)
            .await?;
        Ok(rows
            .unwrap_or_default()
            .iter()
            .map(Investigation::from)
            .collect())
    }

    /// Seconds from start to completion; for a run still running, seconds since it
    /// started. Null when it never started.
    async fn duration_seconds(&self, ctx: &Context<'_>) -> AppResult<Option<i64>> {
        let Some(started_at) = self.model.started_at else {
            return Ok(None);
        };
        let end = match self.model.completed_at {
            Some(completed_at) => completed_at,
            None if status::RunStatus::from_stored(&self.model.status)
                == status::RunStatus::Running =>
            {
                Scope::of(ctx)?.now
            }
            None => return Ok(None),
        };
        let seconds = (end - started_at).num_seconds();
        Ok((seconds >= 0).then_some(seconds))
    }
}

/// The runs of the list `list` created in `window` that match `filter` and
/// `condition`, newest first.
async fn windowed_runs(
    ctx: &Context<'_>,
    list: &str,
    window: Option<TimeWindow>,
    first: Option<i32>,
    after: Option<String>,
    filter: Option<OperationRunFilter>,
    condition: Condition,
) -> AppResult<Connection<OperationRun>> {
    let scope = Scope::of(ctx)?;
    let criteria = scope.criteria();
    let order = RunOrder::default();
    let spec = order.sort_spec().in_list(list);
    let args = PageRequest::forward(first, after).validate(&spec, scope.max_page_size())?;
    let range = criteria.range(TimeWindow::chosen(window));
    let condition = filter
        .unwrap_or_default()
        .to_db(&criteria)?
        .condition()
        .add(created_within(range))
        .add(condition);
    let (page, total) = root_page::<operation_run::Entity>(scope, condition, &spec, &args).await?;
    Ok(Connection::new(
        page,
        &spec,
        |row| order.sort_key(row),
        OperationRun::from,
        total,
    ))
}

/// Whether the run is stuck now (see `stuck` for why).
fn stuck_now(run: &operation_run::Model, scope: &Scope) -> Option<stuck::Stuck> {
    let criteria = scope.criteria();
    stuck::stuck(run_times(run), criteria.now, criteria.stuck)
}

/// An operator's note that a run was looked into.
#[derive(SimpleObject, Clone)]
pub(crate) struct Investigation {
    /// When.
    pub(crate) at: DateTime<Utc>,
    /// Who (the operator's name when they noted it).
    pub(crate) operator: String,
    /// What they noted.
    pub(crate) note: String,
}

impl From<&entity::audit_log::Model> for Investigation {
    fn from(row: &entity::audit_log::Model) -> Self {
        let note = row
            .metadata
            .as_ref()
            .and_then(|metadata| metadata.value().get("note"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        Self {
            at: row.recorded_at,
            operator: row
                .actor_name
                .clone()
                .or_else(|| row.actor_email.clone())
                .unwrap_or_default(),
            note: crate::domain::redact::scrub_secrets(note).into_owned(),
        }
    }
}

/// Mutations of run triage.
#[derive(Default)]
pub(crate) struct TriageMutation;

#[Object]
impl TriageMutation {
    /// Notes that a run was looked into (audited as `platform.operation_run.investigated`);
    /// the note shows in `OperationRun.investigations`. Needs `runs.triage`.
    #[graphql(guard = "Needs(&[Capability::ConsoleView, Capability::RunsTriage])")]
    async fn mark_run_investigated(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The run's global id.")] run_id: ID,
        #[graphql(
            desc = "What was found or done, kept in the audit trail: at most 500 characters once trimmed, at least 5 of them visible (spaces and invisible marks do not count)."
        )]
        note: Text,
    ) -> AppResult<OperationRun> {
        let scope = Scope::of(ctx)?;
        let viewer = guards::viewer(ctx)?;
        let note = operator_text(&note, "note")?;
        let id = decode_as(NodeKind::OperationRun, &run_id, "runId")?;
        let run = operation_run::Entity::find_by_id(id)
            .one(&scope.db)
            .await?
            .ok_or_else(|| {
                AppError::NotFound(format!("no operation run has the id {:?}", run_id.0))
            })?;
        let entry = NewAuditEntry {
            action: AuditAction::RunInvestigated,
            success: true,
            actor: operator_actor(&viewer.user),
            workspace_id: Some(run.workspace_id),
            tenant_id: run.tenant_id,
            metadata: serde_json::json!({"runId": run.id, "note": note}),
        };
        record(&scope.db, entry, scope.now).await?;
        Ok(OperationRun::from(run))
    }
}

/// One counter of a run's summary.
#[derive(SimpleObject, Clone)]
pub(crate) struct SummaryCount {
    /// The counter's name, e.g. `created`.
    pub(crate) key: String,
    /// Its value.
    pub(crate) value: i32,
}

impl From<summary::SummaryCount> for SummaryCount {
    fn from(count: summary::SummaryCount) -> Self {
        Self {
            key: count.key,
            value: count.value,
        }
    }
}

/// One thing that went wrong in a run.
#[derive(SimpleObject, Clone)]
pub(crate) struct RunFailure {
    /// A machine-readable code, when the run gave one.
    pub(crate) code: Option<String>,
    /// A short reason, when the run gave one.
    pub(crate) reason: Option<String>,
    /// What happened, for a person (at most 500 characters, secrets removed).
    pub(crate) message: String,
}

impl From<failure::RunFailure> for RunFailure {
    fn from(failure: failure::RunFailure) -> Self {
        Self {
            code: failure.code,
            reason: failure.reason,
            message: failure.message,
        }
    }
}

/// Query roots for operation runs.
#[derive(Default)]
pub(crate) struct RunQuery;

#[Object]
impl RunQuery {
    /// Operation runs, newest first unless `orderBy` says otherwise.
    #[expect(
        clippy::too_many_arguments,
        reason = "a Relay connection field's arguments, as clients send them"
    )]
    #[graphql(
        guard = "CONSOLE",
        complexity = "page_cost(first.or(last), child_complexity)"
    )]
    async fn operation_runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "How many runs to return from the start (or from `after`), 1 to `settings.maxPageSize` (default `settings.defaultPageSize`)."
        )]
        first: Option<i32>,
        #[graphql(desc = "Return the runs after this cursor.")] after: Option<String>,
        #[graphql(
            desc = "How many runs to return from the end (or from `before`), 1 to `settings.maxPageSize`."
        )]
        last: Option<i32>,
        #[graphql(desc = "Return the runs before this cursor.")] before: Option<String>,
        #[graphql(desc = "Only runs matching this filter.")] filter: Option<OperationRunFilter>,
        #[graphql(desc = "How to sort the runs; newest first when absent.")] order_by: Option<
            OperationRunOrder,
        >,
    ) -> AppResult<Connection<OperationRun>> {
        let scope = Scope::of(ctx)?;
        let order = OperationRunOrder::to_db(order_by);
        let spec = order.sort_spec().in_list("operationRuns");
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
            .condition();
        let (page, total) =
            root_page::<operation_run::Entity>(scope, condition, &spec, &args).await?;
        Ok(Connection::new(
            page,
            &spec,
            |row| order.sort_key(row),
            OperationRun::from,
            total,
        ))
    }

    /// Failed runs (outcome `FAILED`) created in `window`, newest first.
    #[graphql(guard = "CONSOLE", complexity = "page_cost(first, child_complexity)")]
    async fn failures(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Which runs count (by creation time).",
            default_with = "Some(TimeWindow::Last24h)"
        )]
        window: Option<TimeWindow>,
        #[graphql(
            desc = "How many runs to return, 1 to `settings.maxPageSize`.",
            default_with = "crate::graphql::connection::default_first()"
        )]
        first: Option<i32>,
        #[graphql(desc = "Return the runs after this cursor.")] after: Option<String>,
        #[graphql(desc = "Only runs also matching this filter.")] filter: Option<
            OperationRunFilter,
        >,
    ) -> AppResult<Connection<OperationRun>> {
        let failed = Condition::all()
            .add(operation_run::Column::Outcome.eq(status::RunOutcome::Failed.as_stored()));
        windowed_runs(ctx, "failures", window, first, after, filter, failed).await
    }

    /// Runs stuck now (see `OperationRun.isStuck`) that were created in `window`, newest
    /// first. `controlTower.stuckTotal` counts them regardless of window.
    #[graphql(guard = "CONSOLE", complexity = "page_cost(first, child_complexity)")]
    async fn stuck_runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Which runs count (by creation time).",
            default_with = "Some(TimeWindow::Last24h)"
        )]
        window: Option<TimeWindow>,
        #[graphql(
            desc = "How many runs to return, 1 to `settings.maxPageSize`.",
            default_with = "crate::graphql::connection::default_first()"
        )]
        first: Option<i32>,
        #[graphql(desc = "Return the runs after this cursor.")] after: Option<String>,
        #[graphql(desc = "Only runs also matching this filter.")] filter: Option<
            OperationRunFilter,
        >,
    ) -> AppResult<Connection<OperationRun>> {
        let stuck = stuck_condition(&Scope::of(ctx)?.criteria());
        windowed_runs(ctx, "stuckRuns", window, first, after, filter, stuck).await
    }

    /// One operation run by id; null when none matches.
    #[graphql(guard = "CONSOLE")]
    async fn operation_run(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The run's global id.")] id: ID,
    ) -> AppResult<Option<OperationRun>> {
        let scope = Scope::of(ctx)?;
        let id = decode_as(NodeKind::OperationRun, &id, "id")?;
        Ok(scope
            .loaders
            .runs()
            .load_one(id)
            .await?
            .map(OperationRun::from))
    }
}

/// Lists of it are async-graphql's own.
impl crate::graphql::immediate::Item for OperationRun {}
