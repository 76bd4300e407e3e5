//! The HTTP surface (SPEC §7): a thin axum router over the GraphQL handler, health
//! probes and graceful shutdown.

mod access;
mod budget;
mod completion;
mod document;
mod graphql;
mod live;
mod persisted;
mod playground;
mod readiness;
mod saved;
mod subscriptions;
mod transport;
mod trusted;

pub(crate) use self::readiness::Readiness;
pub use self::saved::{SavedOperation, saved_operations};

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_graphql::ValidationMode;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use self::budget::Budget;
use self::document::{Admissions, TypeIndex};
use self::persisted::PersistedQueries;
use self::subscriptions::Subscribers;
use crate::config::Config;
use crate::db::Db;
use crate::graphql::snapshots::SnapshotCache;
use crate::graphql::{AppSchema, schema};
use crate::metrics::Metrics;

/// The header carrying each request's id, set when the client sent none.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Where a request's `now` comes from: the system clock, or a fixed one in tests.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// What every handler shares, behind one reference count: axum clones the state for
/// every request, once per layer that reads it.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Shared {
    pub(crate) schema: AppSchema,
    /// The same schema, for documents known to be valid (see [`Admitted::validated`]):
    /// it checks only their complexity and depth, which async-graphql's full validation
    /// of the board's document would otherwise repeat on every request.
    ///
    /// [`Admitted::validated`]: self::document::Admitted::validated
    pub(crate) validated_schema: AppSchema,
    pub(crate) db: Db,
    pub(crate) config: Arc<Config>,
    pub(crate) snapshots: Arc<SnapshotCache>,
    pub(crate) clock: Clock,
    /// The schema's types, for checks that run before async-graphql's and for
    /// completing its answers.
    pub(crate) types: Arc<TypeIndex>,
    /// The documents known by hash.
    pub(crate) persisted: Arc<PersistedQueries>,
    /// The documents admitted lately, by text.
    pub(crate) admissions: Arc<Admissions>,
    /// Each caller's allowance of query cost.
    pub(crate) budget: Arc<Budget>,
    /// The subscription connections of each operator.
    pub(crate) subscribers: Arc<Subscribers>,
    /// The live queries' executions, shared by their subscribers.
    pub(crate) live: Arc<live::Hub>,
    /// Turns true when the server begins to shut down: WebSocket connections close.
    pub(crate) shutdown: Arc<watch::Sender<bool>>,
    /// How many WebSocket connections are open: shutdown waits until each has sent its
    /// close frame, which axum's graceful shutdown does not track.
    pub(crate) sockets: Arc<watch::Sender<usize>>,
    /// The session the playground starts signed in with: only `serve --demo` on a
    /// loopback address sets it, once the demo operator exists.
    pub(crate) playground_token: Arc<OnceLock<String>>,
    /// What `/metrics` reports.
    pub(crate) metrics: Arc<Metrics>,
    /// Whether the database is connected and migrated.
    pub(crate) readiness: Arc<Readiness>,
}

impl AppState {
    /// The state of a server over `db` configured by `config`.
    pub fn new(db: Db, config: Config) -> Self {
        Self::with_clock(db, config, Arc::new(Utc::now))
    }

    /// Signs the playground in with `token` on every page load. Only for the demo
    /// operator of `serve --demo` listening on a loopback address: anyone who can load
    /// the page gets the session.
    pub(crate) fn set_playground_token(&self, token: String) {
        let _ = self.playground_token.set(token);
    }

    /// Whether the service has its database; `serve` starts with it waiting.
    pub(crate) fn readiness(&self) -> &Arc<Readiness> {
        &self.readiness
    }

    /// The database handle every request starts from.
    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    /// The same, with requests dated by `clock` (tests pin it to check boundaries).
    pub fn with_clock(db: Db, config: Config, clock: Clock) -> Self {
        let limits = &config.system_console.limits;
        // The document checks refuse first, with clearer messages; these stay as a
        // second line. Depth is not among them: async-graphql counts introspection's
        // fields against it, which the document checks bound on their own.
        let builder = || {
            let builder = schema()
                .limit_complexity(limits.max_complexity as usize)
                .limit_recursive_depth(limits.max_nesting as usize)
                .limit_directives(limits.max_directives as usize);
            let builder = match config.system_console.tracing.otlp_endpoint {
                Some(_) => builder.extension(crate::telemetry::Phases),
                None => builder,
            };
            if limits.introspection {
                builder
            } else {
                builder.disable_introspection().disable_suggestions()
            }
        };
        let ttl = Duration::from_secs(u64::from(config.system_console.cache.control_tower_seconds));
        let schema = builder().finish();
        let validated_schema = builder().validation_mode(ValidationMode::Fast).finish();
        #[expect(
            clippy::expect_used,
            reason = "async-graphql prints this SDL from the schema itself, and the unit tests of `document::types` read it"
        )]
        let types = TypeIndex::of_sdl(&schema.sdl()).expect("the schema's own SDL parses");
        let persisted =
            PersistedQueries::new(config.system_console.persisted_queries.cache_bytes as usize);
        let known = saved_operations()
            .iter()
            .map(|operation| operation.name.clone())
            .chain(config.system_console.metrics.operations.iter().cloned());
        let metrics = Arc::new(Metrics::new(known));
        Self(Arc::new(Shared {
            schema,
            validated_schema,
            types: Arc::new(types),
            persisted: Arc::new(persisted),
            admissions: Arc::default(),
            budget: Arc::new(Budget::new(&config.system_console.limits.cost_budget, &db)),
            subscribers: Arc::default(),
            live: Arc::default(),
            shutdown: Arc::new(watch::Sender::new(false)),
            sockets: Arc::new(watch::Sender::new(0)),
            playground_token: Arc::default(),
            db,
            config: Arc::new(config),
            snapshots: Arc::new(SnapshotCache::new(ttl, metrics.clone())),
            metrics,
            readiness: Arc::new(Readiness::ready()),
            clock,
        }))
    }
}

/// The router of every route of SPEC §7.
pub(crate) fn router(state: AppState) -> Router {
    let cors = cors(&state.config.system_console.cors);
    let router = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphql/ws", get(subscriptions::websocket))
        .route("/", get(playground::page))
        .route("/assets/{name}", get(playground::asset_file))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    // `/metrics` is served here unless it has an address of its own.
    let router = if state.config.metrics_addr().is_none() {
        router.route("/metrics", get(metrics))
    } else {
        router
    };
    let router = router
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::record,
        ))
        .with_state(state);
    // Without an allowed origin nothing changes: no CORS headers, no preflight route.
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router
        .layer(CatchPanicLayer::custom(graphql::panic_response))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        // The access line reports every answer, 5xx included: tower-http's own failure
        // line would repeat it at ERROR. The client's values are recorded as text, which
        // the text log quotes and escapes, so none can forge a field of the line.
        .layer(TraceLayer::new_for_http().on_failure(()).make_span_with(
            |request: &axum::http::Request<_>| {
                let id = request
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or("-");
                let span = tracing::info_span!(
                    "request",
                    request_id = id,
                    method = request.method().as_str(),
                    path = request.uri().path(),
                    operator_id = tracing::field::Empty,
                );
                crate::telemetry::continue_trace(&span, request.headers());
                span
            },
        ))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(axum::middleware::map_request(usable_request_id))
}

/// Keeps the client's `X-Request-Id` only when it is one id of 1 to 128 characters of
/// `[A-Za-z0-9._:-]`; otherwise the request gets an id of ours, and the client's value
/// is neither echoed nor logged.
async fn usable_request_id(mut request: axum::extract::Request) -> axum::extract::Request {
    let mut ids = request.headers().get_all(REQUEST_ID).iter();
    let usable = match (ids.next(), ids.next()) {
        (None, _) => true,
        (Some(id), None) => is_usable_request_id(id.as_bytes()),
        (Some(_), Some(_)) => false,
    };
    if !usable {
        request.headers_mut().remove(REQUEST_ID);
    }
    request
}

fn is_usable_request_id(id: &[u8]) -> bool {
    (1..=128).contains(&id.len())
        && id
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b':' | b'-'))
}

/// The CORS policy of `config`: the listed origins may call the API from a browser
/// with the headers clients send, read the ids and statement counts, and keep a
/// preflight for `max_age_seconds`. No credentials: the session is a bearer header,
/// which a page sends on its own.
fn cors(config: &crate::config::Cors) -> Option<CorsLayer> {
    if config.allowed_origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = config
        .allowed_origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                header::IF_NONE_MATCH,
                REQUEST_ID,
                // W3C Trace Context: a browser's trace continues here.
                HeaderName::from_static("traceparent"),
                HeaderName::from_static("tracestate"),
            ])
            .expose_headers([
                REQUEST_ID,
                HeaderName::from_static(graphql::STATEMENTS_HEADER),
                header::ETAG,
                header::RETRY_AFTER,
                HeaderName::from_static(crate::telemetry::TRACE_RESPONSE),
            ])
            .max_age(Duration::from_secs(u64::from(config.max_age_seconds))),
    )
}

/// How long in-flight requests may run on after shutdown begins, beyond the request
/// timeout: enough to write their answers.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The deadlines every listener holds its connections to.
fn timeouts(config: &Config) -> transport::Timeouts {
    let limits = &config.system_console.limits;
    transport::Timeouts {
        header_read: Duration::from_secs(u64::from(limits.header_read_timeout_seconds)),
        keep_alive: Duration::from_secs(u64::from(limits.keep_alive_seconds)),
    }
}

/// Serves until `shutdown` resolves, then stops accepting and lets in-flight requests
/// finish — for at most the request timeout and [`SHUTDOWN_GRACE`]: a client that keeps
/// a connection busy does not keep the process alive.
///
/// First it raises the soft limit on open files to the hard one, and caps the open
/// connections below it (`system_console.limits.max_connections`).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let config = state.config.clone();
    let files = transport::raise_file_limit();
    let cap = transport::max_connections(&config, files);
    tracing::info!(
        max_connections = cap,
        open_files_limit = files,
        "accepting connections"
    );
    let registry = transport::Registry::new("api", cap, timeouts(&config), state.metrics.clone());
    let drain = config.request_timeout() + SHUTDOWN_GRACE;
    let stopping = state.shutdown.clone();
    let stop = state.shutdown.subscribe();
    let sockets = state.sockets.subscribe();
    let (began, beginning) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        shutdown.await;
        // Connections finish their requests and close; WebSocket connections close
        // themselves on this too.
        stopping.send_replace(true);
        began.send(()).ok();
    });
    let server = async move {
        transport::serve(listener, router(state), registry, stop).await;
        // The WebSocket connections close themselves on `stopping`; wait until each
        // has sent its close frame.
        let mut sockets = sockets;
        let _ = sockets.wait_for(|open| *open == 0).await;
    };
    let deadline = async move {
        if beginning.await.is_err() {
            // The server stopped without a shutdown: nothing to wait for.
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(drain).await;
    };
    tokio::select! {
        () = server => {}
        () = deadline => {
            tracing::warn!(seconds = drain.as_secs(), "in-flight requests outlived the shutdown deadline; stopping anyway");
        }
    }
    Ok(())
}

/// Serves the ops listener (`system_console.metrics.listen`) — `/healthz`, `/readyz`
/// and `/metrics` — with a connection budget of its own, so that probes and scrapes
/// are answered while the public port is flooded; until the server shuts down.
pub(crate) async fn serve_ops(listener: TcpListener, state: AppState) {
    let registry = transport::Registry::new(
        "ops",
        transport::OPS_MAX_CONNECTIONS,
        timeouts(&state.config),
        state.metrics.clone(),
    );
    let stop = state.shutdown.subscribe();
    transport::serve(listener, ops_router(state), registry, stop).await;
}

/// The process is alive.
async fn healthz() -> &'static str {
    "ok"
}

/// The database is connected, migrated, and answers; otherwise a 503 that says why. The
/// read replicas do not decide it (reads fall back to the primary): the body names each
/// one skipped, and why.
async fn readyz(State(state): State<AppState>) -> Response {
    if let Some(reason) = state.readiness.waiting() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("starting: {reason}"),
        )
            .into_response();
    }
    match state.db.ping().await {
        Ok(()) => {
            let mut body = "ready".to_owned();
            for replica in state.db.replicas().map(|r| r.report()).unwrap_or_default() {
                if let Some(reason) = replica.skipped {
                    body.push_str(&format!("\nreplica {} skipped: {reason}", replica.name));
                }
            }
            (StatusCode::OK, body).into_response()
        }
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// The Prometheus exposition of this instance.
async fn metrics(State(state): State<AppState>) -> Response {
    if let Some(replicas) = state.db.replicas() {
        state
            .metrics
            .replicas(replicas.report().into_iter().map(|replica| {
                let serving = replica.skipped.is_none();
                let lag = crate::metrics::ReplicaLag {
                    replica: replica.name,
                    lag: replica.lag,
                };
                (lag, serving)
            }));
    }
    let text = state
        .metrics
        .render(state.db.pool_use(), state.readiness.waiting().is_none());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// The router of the ops listener, `system_console.metrics.listen`.
fn ops_router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::is_usable_request_id;

    #[test]
    fn a_request_id_is_short_and_plain() {
        for id in ["a", "ops-json-1", "trace.4bf92f35:77_a", &"x".repeat(128)] {
            assert!(is_usable_request_id(id.as_bytes()), "{id}");
        }
        for id in [
            "",
            "x\" level=ERROR msg=\"forged",
            "tab\there",
            "caf\u{e9}",
            "a b",
            &"x".repeat(129),
        ] {
            assert!(!is_usable_request_id(id.as_bytes()), "{id}");
        }
    }
}
