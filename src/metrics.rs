//! What `/metrics` reports (SPEC §7, §9b), in the Prometheus exposition format.
//!
//! One [`Metrics`] per server, not a process-wide recorder: two servers in one process
//! (the tests) count apart. Every label takes values from a closed set, so the number
//! of series is bounded whatever clients send: an operation name outside the known ones
//! is recorded as `other`.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::error::ErrorCode;

/// The operation label of a request whose name is not among the known ones.
pub(crate) const OTHER_OPERATION: &str = "other";
/// The operation label of a request refused before its operation was known.
pub(crate) const UNREAD_OPERATION: &str = "unknown";
/// The operation label of a request without an operation name.
pub(crate) const ANONYMOUS_OPERATION: &str = "anonymous";

/// How a request ended, as `/metrics` counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Answered without an error.
    Ok,
    /// Refused or failed through the caller's doing: the code says how.
    ClientError(ErrorCode),
    /// Failed through ours: the database, a bug.
    ServerError(ErrorCode),
}

impl Outcome {
    /// The outcome of an answer whose errors carry `codes` (none: a success). The
    /// worst wins: one server error makes the request a server error.
    pub(crate) fn of(codes: impl IntoIterator<Item = ErrorCode>) -> Self {
        let mut outcome = Self::Ok;
        for code in codes {
            outcome = match (outcome, code) {
                (Self::ServerError(_), _) => outcome,
                (_, ErrorCode::ServiceUnavailable | ErrorCode::Internal) => Self::ServerError(code),
                (Self::ClientError(_), _) => outcome,
                (Self::Ok, _) => Self::ClientError(code),
            };
        }
        outcome
    }

    /// The `outcome` and `code` labels: `ok` with no code, or the kind of error and
    /// its code.
    pub(crate) fn labels(self) -> (&'static str, &'static str) {
        match self {
            Self::Ok => ("ok", ""),
            Self::ClientError(code) => ("client_error", code.as_str()),
            Self::ServerError(code) => ("server_error", code.as_str()),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: String,
    outcome: &'static str,
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    limit: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TargetLabels {
    target: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReplicaLabels {
    replica: String,
}

/// A read replica's lag now, as `/metrics` shows it (`None`: not answering).
pub(crate) struct ReplicaLag {
    pub(crate) replica: String,
    pub(crate) lag: Option<Duration>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ListenerLabels {
    listener: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClosedLabels {
    listener: &'static str,
    reason: &'static str,
}

/// How a `login` ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LoginOutcome {
    Succeeded,
    /// Wrong or malformed credentials.
    Failed,
    /// Refused without checking: too many failures for the e-mail.
    Throttled,
}

impl LoginOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Throttled => "throttled",
        }
    }
}

/// The connection pool as `/metrics` shows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PoolUse {
    pub(crate) in_use: u64,
    pub(crate) idle: u64,
    /// Statements and transactions waiting for a connection.
    pub(crate) waiting: u64,
    pub(crate) max: u64,
}

/// The service's counters, gauges and histograms.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    known_operations: HashSet<String>,
    requests: Family<RequestLabels, Counter>,
    duration: Family<OperationLabels, Histogram>,
    statements: Histogram,
    refused: Family<LimitLabels, Counter>,
    snapshots: Family<ResultLabels, Counter>,
    logins: Family<ResultLabels, Counter>,
    subscriptions: Gauge,
    live_executions: Counter,
    pool: Family<StateLabels, Gauge>,
    pool_max: Gauge,
    ready: Gauge,
    connections: Family<ListenerLabels, Gauge>,
    connections_max: Family<ListenerLabels, Gauge>,
    connections_closed: Family<ClosedLabels, Counter>,
    reads: Family<TargetLabels, Counter>,
    replica_lag: Family<ReplicaLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    replica_up: Family<ReplicaLabels, Gauge>,
}

impl Metrics {
    /// Metrics that label operations by name when the name is one of `known` (and
    /// `other` when not).
    pub(crate) fn new(known: impl IntoIterator<Item = String>) -> Self {
        let mut registry = Registry::with_prefix("control_tower");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "graphql_requests",
            "GraphQL requests answered, by operation name (`other` outside the known set, `anonymous` without one), outcome (ok, client_error, server_error) and error code",
            requests.clone(),
        );
        let duration = Family::<OperationLabels, Histogram>::new_with_constructor(|| {
            // 1 ms to about 33 s.
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        registry.register(
            "graphql_request_duration_seconds",
            "How long GraphQL requests took, from reading the request to writing the answer, by operation name",
            duration.clone(),
        );
        // 0 to 256 statements.
        let statements = Histogram::new([0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]);
        registry.register(
            "graphql_sql_statements",
            "SQL statements one GraphQL request ran",
            statements.clone(),
        );
        let refused = Family::<LimitLabels, Counter>::default();
        registry.register(
            "queries_refused",
            "Documents refused by a query limit before any SQL ran, by limit",
            refused.clone(),
        );
        let snapshots = Family::<ResultLabels, Counter>::default();
        registry.register(
            "snapshots",
            "Control Tower snapshots asked for: `hit` served from the shared snapshot, `computed` read from the database",
            snapshots.clone(),
        );
        let logins = Family::<ResultLabels, Counter>::default();
        registry.register(
            "logins",
            "Login attempts, by result: succeeded, failed (wrong or malformed credentials), throttled",
            logins.clone(),
        );
        let subscriptions = Gauge::default();
        registry.register(
            "subscriptions_active",
            "Subscriptions running on this instance's WebSocket connections",
            subscriptions.clone(),
        );
        let live_executions = Counter::default();
        registry.register(
            "live_executions",
            "Executions of live queries and subscriptions: one per tick for every distinct document, variables and access, however many subscribers share it",
            live_executions.clone(),
        );
        let pool = Family::<StateLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database pool of this instance: connections in_use and idle, and statements or transactions waiting for one",
            pool.clone(),
        );
        let pool_max = Gauge::default();
        registry.register(
            "db_pool_max_connections",
            "The most connections this instance's pool opens",
            pool_max.clone(),
        );
        let ready = Gauge::default();
        registry.register(
            "ready",
            "1 once the database is connected and migrated, 0 while the service waits for it",
            ready.clone(),
        );
        let connections = Family::<ListenerLabels, Gauge>::default();
        registry.register(
            "http_connections",
            "TCP connections open, WebSockets included, by listener (`api` is `listen`, `ops` is `system_console.metrics.listen`)",
            connections.clone(),
        );
        let connections_max = Family::<ListenerLabels, Gauge>::default();
        registry.register(
            "http_connections_max",
            "The most connections a listener keeps open (`system_console.limits.max_connections` for `api`)",
            connections_max.clone(),
        );
        let connections_closed = Family::<ClosedLabels, Counter>::default();
        registry.register(
            "http_connections_closed",
            "Connections the service closed itself, by listener and reason: header_timeout (no complete request head in time), idle_timeout (kept alive too long without a request), evicted (closed at the cap to make room), refused (at the cap with nothing to close)",
            connections_closed.clone(),
        );
        let reads = Family::<TargetLabels, Counter>::default();
        registry.register(
            "db_reads",
            "Read-only requests (queries), by the database they read from: `primary`, or a replica of `database_replica_urls` by host, port and database",
            reads.clone(),
        );
        let replica_lag =
            Family::<ReplicaLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "db_replica_lag_seconds",
            "How far each read replica is behind the primary: how long ago the primary was at the WAL position the replica has replayed (sampled twice a second; not reported while it does not answer)",
            replica_lag.clone(),
        );
        let replica_up = Family::<ReplicaLabels, Gauge>::default();
        registry.register(
            "db_replica_serving",
            "1 while a read replica answers within `database_replica_max_lag_seconds` and takes reads, 0 while it is skipped",
            replica_up.clone(),
        );
        Self {
            registry,
            known_operations: known.into_iter().collect(),
            requests,
            duration,
            statements,
            refused,
            snapshots,
            logins,
            subscriptions,
            live_executions,
            pool,
            pool_max,
            ready,
            connections,
            connections_max,
            connections_closed,
            reads,
            replica_lag,
            replica_up,
        }
    }

    /// A read-only request read from `target`.
    pub(crate) fn read_from(&self, target: String) {
        self.reads.get_or_create(&TargetLabels { target }).inc();
    }

    /// The replicas' lag, and whether they take reads, now.
    pub(crate) fn replicas(&self, replicas: impl IntoIterator<Item = (ReplicaLag, bool)>) {
        for (ReplicaLag { replica, lag }, serving) in replicas {
            let labels = ReplicaLabels { replica };
            match lag {
                Some(lag) => {
                    self.replica_lag
                        .get_or_create(&labels)
                        .set(lag.as_secs_f64());
                }
                None => {
                    self.replica_lag.remove(&labels);
                }
            }
            self.replica_up
                .get_or_create(&labels)
                .set(i64::from(serving));
        }
    }

    /// The connection cap of `listener`.
    pub(crate) fn connection_cap(&self, listener: &'static str, cap: usize) {
        self.connections_max
            .get_or_create(&ListenerLabels { listener })
            .set(i64::try_from(cap).unwrap_or(i64::MAX));
    }

    /// The connections open on `listener` now.
    pub(crate) fn connections_open(&self, listener: &'static str, open: usize) {
        self.connections
            .get_or_create(&ListenerLabels { listener })
            .set(i64::try_from(open).unwrap_or(i64::MAX));
    }

    /// A connection of `listener` closed by the service, for `reason`.
    pub(crate) fn connection_closed(&self, listener: &'static str, reason: &'static str) {
        self.connections_closed
            .get_or_create(&ClosedLabels { listener, reason })
            .inc();
    }

    /// The label of an operation name: the name itself when known, else `other`.
    pub(crate) fn operation_label(&self, name: Option<&str>) -> &str {
        match name {
            None => ANONYMOUS_OPERATION,
            Some(name) => self
                .known_operations
                .get(name)
                .map_or(OTHER_OPERATION, String::as_str),
        }
    }

    /// Records one answered GraphQL request.
    pub(crate) fn request(
        &self,
        operation: &str,
        outcome: Outcome,
        took: Duration,
        statements: u64,
    ) {
        let (outcome, code) = outcome.labels();
        self.requests
            .get_or_create(&RequestLabels {
                operation: operation.to_owned(),
                outcome,
                code,
            })
            .inc();
        self.duration
            .get_or_create(&OperationLabels {
                operation: operation.to_owned(),
            })
            .observe(took.as_secs_f64());
        #[expect(
            clippy::cast_precision_loss,
            reason = "a request's statement count is far below 2^52"
        )]
        self.statements.observe(statements as f64);
    }

    /// Records a document refused by the limit named `limit`.
    pub(crate) fn refused(&self, limit: &'static str) {
        self.refused.get_or_create(&LimitLabels { limit }).inc();
    }

    /// Records a Control Tower snapshot served from the shared cache (`hit`) or not.
    pub(crate) fn snapshot(&self, hit: bool) {
        let result = if hit { "hit" } else { "computed" };
        self.snapshots.get_or_create(&ResultLabels { result }).inc();
    }

    /// Records a login attempt.
    pub(crate) fn login(&self, outcome: LoginOutcome) {
        self.logins
            .get_or_create(&ResultLabels {
                result: outcome.label(),
            })
            .inc();
    }

    /// One more execution of a live query.
    pub(crate) fn live_execution(&self) {
        self.live_executions.inc();
    }

    /// One more, or one fewer, active subscription.
    pub(crate) fn subscriptions(&self, delta: i64) {
        self.subscriptions.inc_by(delta);
    }

    /// The exposition text, with the pool and readiness as they are now.
    pub(crate) fn render(&self, pool: PoolUse, ready: bool) -> String {
        let gauge = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        for (state, value) in [
            ("in_use", pool.in_use),
            ("idle", pool.idle),
            ("waiting", pool.waiting),
        ] {
            self.pool
                .get_or_create(&StateLabels { state })
                .set(gauge(value));
        }
        self.pool_max.set(gauge(pool.max));
        self.ready.set(i64::from(ready));
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            // Writing to a String does not fail; say so rather than answer half a page.
            text.clear();
            let _ = writeln!(text, "# the metrics could not be encoded");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_operation_name_is_counted_as_other() {
        let metrics = Metrics::new(["TenantBoard".to_owned()]);
        assert_eq!(metrics.operation_label(Some("TenantBoard")), "TenantBoard");
        assert_eq!(
            metrics.operation_label(Some("x".repeat(500).as_str())),
            "other"
        );
        assert_eq!(metrics.operation_label(None), "anonymous");
    }

    #[test]
    fn a_server_error_outweighs_client_errors() {
        let outcome = Outcome::of([ErrorCode::Forbidden, ErrorCode::ServiceUnavailable]);
        assert_eq!(outcome, Outcome::ServerError(ErrorCode::ServiceUnavailable));
        assert_eq!(
            Outcome::of([ErrorCode::Forbidden, ErrorCode::NotFound]),
            Outcome::ClientError(ErrorCode::Forbidden)
        );
        assert_eq!(Outcome::of([]), Outcome::Ok);
    }

    #[test]
    fn the_exposition_names_every_series_with_its_labels() {
        let metrics = Metrics::new(["Overview".to_owned()]);
        metrics.request("Overview", Outcome::Ok, Duration::from_millis(12), 3);
        metrics.refused("depth");
        let text = metrics.render(
            PoolUse {
                in_use: 1,
                idle: 2,
                waiting: 0,
                max: 10,
            },
            true,
        );
        assert!(text.contains(
            r#"control_tower_graphql_requests_total{operation="Overview",outcome="ok",code=""} 1"#
        ));
        assert!(text.contains(r#"control_tower_queries_refused_total{limit="depth"} 1"#));
        assert!(text.contains(r#"control_tower_db_pool_connections{state="idle"} 2"#));
        assert!(text.contains("control_tower_graphql_sql_statements_sum 3.0"));
        assert!(text.ends_with("# EOF\n"));
    }
}
