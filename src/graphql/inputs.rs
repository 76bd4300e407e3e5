//! Filter and order inputs of the lists, and their translation into database filters.
//! Bad values (ids of the wrong type, over-long text) are refused with `BAD_USER_INPUT`
//! before any SQL runs.

use async_graphql::{Enum, ID, InputObject};

use super::enums::{HealthLevel, OrderDirection, RunOutcome, RunStatus, TenantStatus, TimeWindow};
use super::ids::{NodeKind, decode_as};
use super::text::Text;
use crate::db;
use crate::domain::criteria::Criteria;
use crate::domain::status;
use crate::error::{AppError, AppResult};

/// Longest search text accepted, in characters.
const MAX_SEARCH_CHARS: usize = 200;
/// Most values accepted in one list filter.
const MAX_FILTER_VALUES: usize = 50;

/// Narrows a list of workspaces.
#[derive(InputObject, Clone, Debug, Default)]
pub(crate) struct WorkspaceFilter {
    /// Workspaces whose name or slug contains this text (ASCII letters match in any
    /// case). Blank text matches every workspace.
    pub(crate) search: Option<Text>,
}

impl WorkspaceFilter {
    /// The filter as the database reads it.
    pub(crate) fn to_db(&self) -> AppResult<db::workspaces::WorkspaceFilter> {
        Ok(db::workspaces::WorkspaceFilter {
            search: search_text(self.search.as_deref(), "filter.search")?,
        })
    }
}

/// Narrows a list of tenants. Every field is optional; given fields must all match.
#[derive(InputObject, Clone, Debug, Default)]
pub(crate) struct TenantFilter {
    /// Only tenants of this workspace.
    pub(crate) workspace_id: Option<ID>,
    /// Only tenants in one of these statuses; `UNKNOWN` matches stored statuses this
    /// service does not know. An empty list does not filter.
    pub(crate) statuses: Option<Vec<TenantStatus>>,
    /// Only tenants of exactly this environment, e.g. `production`.
    pub(crate) environment: Option<Text>,
    /// Only tenants whose health badge (see `Tenant.health`) is at this level in
    /// `healthWindow`.
    pub(crate) health: Option<HealthLevel>,
    /// The window `health` is judged in.
    #[graphql(default_with = "Some(TimeWindow::Last24h)")]
    pub(crate) health_window: Option<TimeWindow>,
    /// Tenants whose name or external id contains this text (ASCII letters match in any
    /// case). Blank text matches every tenant.
    pub(crate) search: Option<Text>,
}

impl TenantFilter {
    /// The filter as the database reads it, with health judged by `criteria`.
    pub(crate) fn to_db(&self, criteria: &Criteria) -> AppResult<db::tenants::TenantFilter> {
        Ok(db::tenants::TenantFilter {
            workspace_id: optional_id(
                NodeKind::Workspace,
                &self.workspace_id,
                "filter.workspaceId",
            )?,
            statuses: selection(&self.statuses, status::TenantStatus::selection)?,
            environment: self.environment.clone().map(Text::into_string),
            search: search_text(self.search.as_deref(), "filter.search")?,
            health: self.health.map(|level| db::tenants::AtLevel {
                level: level.into(),
                window: criteria.range(TimeWindow::chosen(self.health_window)),
                criteria: *criteria,
            }),
        })
    }
}

/// Narrows a list of operation runs. Every field is optional; given fields must all
/// match.
#[derive(InputObject, Clone, Debug, Default)]
pub(crate) struct OperationRunFilter {
    /// Only runs created within this window.
    pub(crate) window: Option<TimeWindow>,
    /// Only runs of this workspace.
    pub(crate) workspace_id: Option<ID>,
    /// Only runs of this tenant.
    pub(crate) tenant_id: Option<ID>,
    /// Only runs of one of these types, e.g. `["inventory.sync"]`. An empty list does
    /// not filter.
    pub(crate) types: Option<Vec<Text>>,
    /// Only runs in one of these statuses; `UNKNOWN` matches stored statuses this service
    /// does not know. An empty list does not filter.
    pub(crate) statuses: Option<Vec<RunStatus>>,
    /// Only runs with one of these outcomes; `UNKNOWN` matches stored outcomes this
    /// service does not know. An empty list does not filter.
    pub(crate) outcomes: Option<Vec<RunOutcome>>,
    /// `true`: only stuck runs (see `OperationRun.isStuck`); `false`: only runs that are
    /// not stuck.
    pub(crate) stuck: Option<bool>,
}

impl OperationRunFilter {
    /// The filter as the database reads it, with windows and the stuck rule judged by
    /// `criteria`.
    pub(crate) fn to_db(&self, criteria: &Criteria) -> AppResult<db::runs::RunFilter> {
        let types = match &self.types {
            Some(types) if !types.is_empty() => {
                if types.len() > MAX_FILTER_VALUES {
                    return Err(AppError::bad_input(format!(
                        "`filter.types` takes at most {MAX_FILTER_VALUES} values"
                    )));
                }
                Some(types.iter().map(|kind| kind.trim().to_owned()).collect())
            }
            _ => None,
        };
        Ok(db::runs::RunFilter {
            created: self.window.map(|window| criteria.range(window.into())),
            workspace_id: optional_id(
                NodeKind::Workspace,
                &self.workspace_id,
                "filter.workspaceId",
            )?,
            tenant_id: optional_id(NodeKind::Tenant, &self.tenant_id, "filter.tenantId")?,
            types,
            statuses: selection(&self.statuses, status::RunStatus::selection)?,
            outcomes: selection(&self.outcomes, status::RunOutcome::selection)?,
            stuck: self.stuck.map(|stuck| db::runs::StuckFilter {
                stuck,
                criteria: *criteria,
            }),
        })
    }
}

/// The fields tenants can be sorted by.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TenantOrderField {
    /// By name.
    Name,
    /// By when the tenant was added.
    CreatedAt,
}

/// How to sort tenants. Ties are broken by id, in the same direction.
#[derive(InputObject, Clone, Copy, Debug)]
pub(crate) struct TenantOrder {
    /// The field to sort by.
    pub(crate) field: TenantOrderField,
    /// Which way.
    pub(crate) direction: OrderDirection,
}

impl TenantOrder {
    /// The order as the database reads it; by name ascending when absent.
    pub(crate) fn to_db(order: Option<Self>) -> db::tenants::TenantOrder {
        order.map_or_else(Default::default, |order| db::tenants::TenantOrder {
            field: match order.field {
                TenantOrderField::Name => db::tenants::TenantOrderField::Name,
                TenantOrderField::CreatedAt => db::tenants::TenantOrderField::CreatedAt,
            },
            descending: order.direction.descending(),
        })
    }
}

/// The fields operation runs can be sorted by.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[expect(
    clippy::enum_variant_names,
    reason = "each is named after the column it sorts by, as clients read it"
)]
pub(crate) enum OperationRunOrderField {
    /// By creation time.
    CreatedAt,
    /// By start time; runs not started yet come last.
    StartedAt,
    /// By completion time; runs not completed yet come last.
    CompletedAt,
}

/// How to sort operation runs. Ties are broken by id, in the same direction.
#[derive(InputObject, Clone, Copy, Debug)]
pub(crate) struct OperationRunOrder {
    /// The field to sort by.
    pub(crate) field: OperationRunOrderField,
    /// Which way.
    pub(crate) direction: OrderDirection,
}

impl OperationRunOrder {
    /// The order as the database reads it; newest first when absent.
    pub(crate) fn to_db(order: Option<Self>) -> db::runs::RunOrder {
        order.map_or_else(Default::default, |order| db::runs::RunOrder {
            field: match order.field {
                OperationRunOrderField::CreatedAt => db::runs::RunOrderField::CreatedAt,
                OperationRunOrderField::StartedAt => db::runs::RunOrderField::StartedAt,
                OperationRunOrderField::CompletedAt => db::runs::RunOrderField::CompletedAt,
            },
            descending: order.direction.descending(),
        })
    }
}

/// An optional global id that must name an object of `kind`.
pub(crate) fn optional_id(
    kind: NodeKind,
    id: &Option<ID>,
    argument: &str,
) -> AppResult<Option<i64>> {
    id.as_ref()
        .map(|id| decode_as(kind, id, argument))
        .transpose()
}

/// Search text, trimmed; blank is no search.
fn search_text(text: Option<&str>, argument: &str) -> AppResult<Option<String>> {
    let Some(text) = text.map(str::trim).filter(|text| !text.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > MAX_SEARCH_CHARS {
        return Err(AppError::bad_input(format!(
            "`{argument}` must be at most {MAX_SEARCH_CHARS} characters"
        )));
    }
    Ok(Some(text.to_owned()))
}

/// An enum list filter as stored values; an empty list does not filter.
fn selection<G, D>(
    values: &Option<Vec<G>>,
    select: impl Fn(&[D]) -> status::StoredSelection,
) -> AppResult<Option<status::StoredSelection>>
where
    G: Copy + Into<D>,
{
    Ok(match values {
        Some(values) if !values.is_empty() => {
            let values: Vec<D> = values.iter().map(|value| (*value).into()).collect();
            Some(select(&values))
        }
        _ => None,
    })
}
