//! The root query: the per-domain query roots merged into one `Query` type.

use async_graphql::{MergedObject, MergedSubscription};

use super::types::audit_log::AuditQuery;
use super::types::control_tower::{ControlTowerQuery, ControlTowerSubscription};
use super::types::live::LiveSubscription;
use super::types::node::NodeQuery;
use super::types::operation_run::RunQuery;
use super::types::operation_run::TriageMutation;
use super::types::operator::{SessionMutation, ViewerQuery};
use super::types::settings::SettingsQuery;
use super::types::tenant::TenantQuery;
use super::types::workspace::WorkspaceQuery;

/// Everything that can be read.
#[derive(MergedObject, Default)]
pub struct Query(
    ViewerQuery,
    NodeQuery,
    ControlTowerQuery,
    WorkspaceQuery,
    TenantQuery,
    RunQuery,
    AuditQuery,
    SettingsQuery,
);

/// Everything that changes something: the operator's session and run triage. Every
/// mutation is audited.
#[derive(MergedObject, Default)]
pub struct Mutation(SessionMutation, TriageMutation);

/// Everything that can be watched, pushed over the WebSocket at `/graphql/ws`
/// (`graphql-transport-ws`): live queries over any selection and the Control Tower.
#[derive(MergedSubscription, Default)]
pub struct Subscription(LiveSubscription, ControlTowerSubscription);
