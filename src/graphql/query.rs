//! The root query: the per-domain query roots merged into one `Query` type.

use async_graphql::{Context, MergedObject, MergedSubscription, Subscription};
use futures::StreamExt;

use super::types::audit_log::{AuditQuery, AuditTailSubscription};
use super::types::control_tower::{ControlTowerQuery, ControlTowerSubscription};
use super::types::live::{Live, Push, Shape, every};
use super::types::node::NodeQuery;
use super::types::operation_run::RunQuery;
use super::types::operation_run::TriageMutation;
use super::types::operator::{SessionMutation, ViewerQuery};
use super::types::settings::SettingsQuery;
use super::types::tenant::TenantQuery;
use super::types::workspace::WorkspaceQuery;

/// Everything that can be read.
///
/// **What a query costs.** Every answer carries `extensions.cost`:
/// `requestedQueryCost` (the query as written), `actualQueryCost` (what the answer
/// holds, never more) and `throttleStatus` (`maximumAvailable`, `currentlyAvailable`,
/// `restoreRate` a second) of your budget. A field costs 1 plus what it selects; a
/// field that takes `first` (a connection such as `tenants`, or a list such as
/// `recentRuns`) costs 1 plus its page size (`first`, else `last`, else its default)
/// times what it selects of each item; `nodes(ids:)` costs 1 plus the number of ids
/// times what it selects; `__typename` is free. So
/// `{ tenants(first: 10) { totalCount nodes { id name } } }` asks for
/// 1 + 10 × (1 + (1 + 1 + 1)) = 41, and, if three tenants come back, costs
/// 1 + 3 × 4 = 13. A query is refused `QUERY_TOO_COMPLEX` beyond
/// `settings.maxQueryCost`, and `RATE_LIMITED` (with `Retry-After`) when it asks for more than
/// your budget holds: the budget is charged the requested cost, and what the answer
/// did not use goes back.
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
/// (`graphql-transport-ws`): live queries over any selection, the Control Tower and the
/// audit tail.
#[derive(MergedSubscription, Default)]
pub struct Subscription(
    LiveSubscription,
    ControlTowerSubscription,
    AuditTailSubscription,
);

/// Live queries.
#[derive(Default)]
pub struct LiveSubscription;

#[Subscription]
impl LiveSubscription {
    /// Any selection of the `Query` root, pushed while it changes: every `everySeconds`
    /// the selection runs as the same query would run over `POST /graphql` — with the
    /// subscriber's authentication and capabilities, the same limits and one clock per
    /// tick — and the answer is pushed when it differs from the last one this
    /// subscription was sent (the first is always pushed). Subscribers of the same
    /// document, variables and access (the capabilities, and the session when the
    /// selection reads `viewer`, `node` or `nodes`) share one execution per tick. Served
    /// over the WebSocket at `/graphql/ws` (`graphql-transport-ws`), authenticated by the
    /// `connection_init` payload `{"authorization": "Bearer <token>"}`.
    async fn live(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Seconds between ticks, 1 to 3600; null means the default, 10.",
            default_with = "Some(10)"
        )]
        every_seconds: Option<i32>,
    ) -> async_graphql::Result<impl futures::Stream<Item = Push<Query>> + use<>> {
        Ok(Live::of(ctx)?
            .watch(ctx.item, Shape::Selection, every(every_seconds)?)?
            .map(Push::new))
    }
}
