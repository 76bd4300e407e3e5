//! `GET /graphql/ws`: subscriptions over the `graphql-transport-ws` protocol (SPEC §7).
//!
//! async-graphql-axum speaks the protocol; this module decides what runs and when the
//! connection ends.
//!
//! - **Authentication** is the `connection_init` payload,
//!   `{"authorization": "Bearer <token>"}`, checked like a request's header, and needs
//!   `console.view`. No payload, a refused token or a missing capability close the
//!   socket with **4403** (Forbidden, as the protocol's reference implementation
//!   names it; the playground does not retry it); one connection more than `system_console.subscriptions.
//!   max_connections_per_operator` closes it with **4429**.
//! - **Each push is a request.** A `subscription { controlTower(window, everySeconds) }`
//!   runs, every `everySeconds`, as the query `controlTower(window:)` through the same
//!   pipeline as `POST /graphql` — authentication, capability checks, loaders that
//!   settle, the timeout, the spec's response shape — from the same shared snapshot, so
//!   a thousand dashboards on one window cost one computation per period. A push equal
//!   to the last one sent is not sent. Queries run once; mutations belong to HTTP.
//! - **The end of the session ends the connection**: every [`SESSION_CHECK`] the
//!   connection's session is looked up; logged out, expired or its operator disabled,
//!   the socket closes with **4401** and the reason. Shutdown closes every socket with
//!   **1001** at once — axum's graceful shutdown does not track upgraded connections.
//!   A client that has not sent `connection_init` within [`INIT_TIMEOUT`] is closed
//!   with **4408**.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use async_graphql::parser::types::{
    DocumentOperations, OperationDefinition, OperationType, Selection,
};
use async_graphql::{Data, Executor, Request, Response as GraphQLResponse, Value};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::Extension;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, BoxStream};
use futures::{SinkExt, StreamExt};
use tokio::sync::watch;
use tracing::Instrument;

use super::AppState;
use super::document::{self, Admitted};
use super::graphql::{self, Caller};
use crate::auth::login::Origin;
use crate::auth::{self, Capability};
use crate::error::AppError;
use crate::graphql::types::control_tower::{CONTROL_TOWER_FIELD, EVERY_SECONDS_ARGUMENT};
use crate::metrics::Metrics;

/// The only subprotocol served.
const PROTOCOL: &str = "graphql-transport-ws";
/// How often a connection's session is looked up.
pub(crate) const SESSION_CHECK: Duration = Duration::from_secs(5);
/// How long a client has to send `connection_init`.
pub(crate) const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// The bounds of `everySeconds`.
const EVERY_SECONDS: std::ops::RangeInclusive<i64> = 1..=3600;

/// Close codes (4xxx as `graphql-ws` defines them).
const FORBIDDEN: u16 = 4403;
const SESSION_ENDED: u16 = 4401;
const INIT_TIMED_OUT: u16 = 4408;
const TOO_MANY_CONNECTIONS: u16 = 4429;
const GOING_AWAY: u16 = 1001;
const UNAVAILABLE: u16 = 1011;

/// Why the service closes a connection.
#[derive(Clone, Debug)]
struct Close {
    code: u16,
    reason: String,
}

impl Close {
    fn new(code: u16, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

/// `GET /graphql/ws`: upgrades to a `graphql-transport-ws` connection.
pub(super) async fn websocket(
    State(state): State<AppState>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    protocol: Result<GraphQLProtocol, StatusCode>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let offered = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|protocol| protocol.trim().eq_ignore_ascii_case(PROTOCOL));
    let (Ok(upgrade), Ok(protocol), true) = (upgrade, protocol, offered) else {
        return (
            StatusCode::BAD_REQUEST,
            "open a WebSocket with the subprotocol graphql-transport-ws (as graphql-ws clients do)",
        )
            .into_response();
    };
    let origin = Origin {
        ip: connect_info.map(|Extension(ConnectInfo(address))| address.ip().to_string()),
    };
    // The connection outlives the upgrade request, on a task of its own: it keeps that
    // request's span, so every line it logs carries the request id.
    let span = tracing::Span::current();
    upgrade
        .protocols([PROTOCOL])
        .on_upgrade(move |socket| serve(state, socket, protocol, origin).instrument(span))
}

/// Serves one connection until the client leaves or the service closes it.
async fn serve(state: AppState, socket: WebSocket, protocol: GraphQLProtocol, origin: Origin) {
    let _open = OpenSocket::new(state.sockets.clone());
    let (mut sink, incoming) = socket.split();
    let refusal: Arc<Mutex<Option<Close>>> = Arc::default();
    let session: Arc<OnceLock<String>> = Arc::default();
    let (closing, closed) = watch::channel(None::<Close>);

    // What async-graphql sends goes through this channel, so that the service can send
    // the last frame itself — and give a refused `connection_init` its own code.
    let (outgoing, mut queued) = futures::channel::mpsc::channel::<Message>(16);
    let rewrite = refusal.clone();
    let writer = tokio::spawn(async move {
        while let Some(message) = queued.next().await {
            let message = match message {
                Message::Close(Some(frame)) => match lock(&rewrite).take() {
                    Some(close) => close_frame(&close),
                    None => Message::Close(Some(frame)),
                },
                message => message,
            };
            if sink.send(message).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let closing = Arc::new(closing);
    let watchdog = tokio::spawn(watch_connection(
        state.clone(),
        session.clone(),
        closing.clone(),
    ));

    let mut until = closed.clone();
    let input = incoming.take_until(async move {
        let _ = until.wait_for(Option::is_some).await;
    });
    let transport = Transport {
        state: state.clone(),
        origin,
    };
    let init_state = state.clone();
    GraphQLWebSocket::new_with_pair(outgoing.clone(), input, transport, protocol)
        .on_connection_init(move |payload| {
            connection_init(init_state, payload, refusal, session, closing)
        })
        .serve()
        .await;
    watchdog.abort();
    let close = closed.borrow().clone();
    let mut outgoing = outgoing;
    if let Some(close) = close {
        let _ = outgoing.send(close_frame(&close)).await;
    }
    // The writer ends once every sender is gone.
    drop(outgoing);
    let _ = writer.await;
}

/// One open connection, counted in [`AppState::sockets`] until dropped.
struct OpenSocket(Arc<watch::Sender<usize>>);

impl OpenSocket {
    fn new(sockets: Arc<watch::Sender<usize>>) -> Self {
        sockets.send_modify(|open| *open += 1);
        Self(sockets)
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.0.send_modify(|open| *open = open.saturating_sub(1));
    }
}

fn close_frame(close: &Close) -> Message {
    // A close reason has at most 123 bytes.
    let mut reason = close.reason.clone();
    while reason.len() > 123 {
        reason.pop();
    }
    Message::Close(Some(CloseFrame {
        code: close.code,
        reason: reason.into(),
    }))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Closes the connection when the service shuts down, when `connection_init` does not
/// come in time, and when the session ends.
async fn watch_connection(
    state: AppState,
    session: Arc<OnceLock<String>>,
    closing: Arc<watch::Sender<Option<Close>>>,
) {
    let opened = Instant::now();
    let mut shutdown = state.shutdown.subscribe();
    let close = loop {
        tokio::select! {
            _ = shutdown.wait_for(|stopping| *stopping) => {
                break Close::new(GOING_AWAY, "the server is shutting down");
            }
            () = tokio::time::sleep(SESSION_CHECK) => {}
        }
        let Some(authorization) = session.get() else {
            if opened.elapsed() >= INIT_TIMEOUT {
                break Close::new(INIT_TIMED_OUT, "connection_init was not sent in time");
            }
            continue;
        };
        let Some(token) = auth::bearer_token(authorization) else {
            break Close::new(SESSION_ENDED, "the session has ended");
        };
        match auth::authenticate(&state.db, token, (state.clock)()).await {
            Ok(Ok(_)) => {}
            Ok(Err(refusal)) => break Close::new(SESSION_ENDED, refusal.message()),
            // The database is away for now: the pushes say so; the session is checked
            // again next time.
            Err(error) => tracing::warn!(%error, "could not check a subscriber's session"),
        }
    };
    let _ = closing.send(Some(close));
}

/// What a connection holds once initialised.
struct Connection {
    /// The `Authorization` value of every push.
    authorization: String,
    /// How many subscriptions it holds.
    subscriptions: Arc<AtomicU32>,
    /// Closes the connection.
    closing: Arc<watch::Sender<Option<Close>>>,
    /// Its place among its operator's connections, released when it ends.
    _slot: Slot,
}

/// Checks `connection_init`'s payload; a refusal is noted with its close code.
async fn connection_init(
    state: AppState,
    payload: serde_json::Value,
    refusal: Arc<Mutex<Option<Close>>>,
    session: Arc<OnceLock<String>>,
    closing: Arc<watch::Sender<Option<Close>>>,
) -> async_graphql::Result<Data> {
    let refuse = |close: Close| {
        let message = close.reason.clone();
        *lock(&refusal) = Some(close);
        Err(async_graphql::Error::new(message))
    };
    if let Some(reason) = state.readiness.waiting() {
        return refuse(Close::new(UNAVAILABLE, reason));
    }
    let authorization = ["authorization", "Authorization"]
        .iter()
        .find_map(|key| payload.get(key).and_then(serde_json::Value::as_str))
        .map(str::to_owned);
    let Some((authorization, token)) = authorization.and_then(|value| {
        let token = auth::bearer_token(&value)?.to_owned();
        Some((value, token))
    }) else {
        return refuse(Close::new(
            FORBIDDEN,
            r#"send {"authorization": "Bearer <token>"} as the connection_init payload"#,
        ));
    };
    let viewer = match auth::authenticate(&state.db, &token, (state.clock)()).await {
        Ok(Ok(viewer)) => viewer,
        Ok(Err(refused)) => return refuse(Close::new(FORBIDDEN, refused.message())),
        Err(error) => {
            tracing::warn!(%error, "could not check a subscriber's token");
            return refuse(Close::new(
                UNAVAILABLE,
                "the database is unavailable; retry",
            ));
        }
    };
    if viewer.require(Capability::ConsoleView).is_err() {
        return refuse(Close::new(FORBIDDEN, "subscriptions need console.view"));
    }
    let limits = &state.config.system_console.subscriptions;
    let Some(slot) = state
        .subscribers
        .enter(viewer.user.id, limits.max_connections_per_operator)
    else {
        return refuse(Close::new(
            TOO_MANY_CONNECTIONS,
            format!(
                "this operator holds {} connections already, the most allowed",
                limits.max_connections_per_operator
            ),
        ));
    };
    let _ = session.set(authorization.clone());
    let mut data = Data::default();
    data.insert(Connection {
        authorization,
        subscriptions: Arc::default(),
        closing,
        _slot: slot,
    });
    Ok(data)
}

/// The connections of each operator, per instance.
#[derive(Default)]
pub(crate) struct Subscribers {
    connections: Mutex<HashMap<i64, u32>>,
}

impl Subscribers {
    /// A place for one more connection of `operator`, if there is one.
    fn enter(self: &Arc<Self>, operator: i64, max: u32) -> Option<Slot> {
        let mut connections = lock(&self.connections);
        let held = connections.entry(operator).or_default();
        if *held >= max {
            return None;
        }
        *held += 1;
        Some(Slot {
            subscribers: self.clone(),
            operator,
        })
    }
}

/// One connection's place; freed when dropped.
struct Slot {
    subscribers: Arc<Subscribers>,
    operator: i64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut connections = lock(&self.subscribers.connections);
        if let Some(held) = connections.get_mut(&self.operator) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                connections.remove(&self.operator);
            }
        }
    }
}

/// One subscription's place on its connection, counted in `/metrics`; freed when
/// dropped.
struct Held {
    count: Arc<AtomicU32>,
    metrics: Arc<Metrics>,
}

impl Held {
    fn new(count: Arc<AtomicU32>, metrics: Arc<Metrics>) -> Self {
        metrics.subscriptions(1);
        Self { count, metrics }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::SeqCst);
        self.metrics.subscriptions(-1);
    }
}

/// What runs the operations of a connection.
#[derive(Clone)]
struct Transport {
    state: AppState,
    origin: Origin,
}

impl Executor for Transport {
    async fn execute(&self, request: Request) -> GraphQLResponse {
        // The protocol runs everything as a stream; a lone execution has no session.
        let mut responses = self.execute_stream(request, None);
        responses.next().await.unwrap_or_default()
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, GraphQLResponse> {
        let transport = self.clone();
        stream::once(async move { transport.start(request, session_data).await })
            .flatten()
            .boxed()
    }
}

/// A stream of one error.
fn refused(error: &AppError) -> BoxStream<'static, GraphQLResponse> {
    let error = graphql::server_error(error);
    stream::once(async move { GraphQLResponse::from_errors(vec![error]) }).boxed()
}

impl Transport {
    async fn start(
        self,
        mut request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, GraphQLResponse> {
        let connection = session_data.as_ref().and_then(|data| {
            data.get(&std::any::TypeId::of::<Connection>())
                .and_then(|any| any.downcast_ref::<Connection>())
        });
        let Some(connection) = connection else {
            return refused(&AppError::Unauthenticated(
                "send connection_init with a bearer token first".to_owned(),
            ));
        };
        let state = &self.state;
        let admitted = match document::admit(
            &request.query,
            request.operation_name.as_deref(),
            &state.config.system_console.limits,
            &state.types,
        ) {
            Ok(admitted) => admitted,
            Err(refusal) => return refused(&refusal.counted(&state.metrics)),
        };
        if let Err(error) = admitted.complete_variables(&mut request.variables) {
            return refused(&error);
        }
        let caller = || Caller {
            authorization: Some(connection.authorization.clone()),
            origin: self.origin.clone(),
        };
        match admitted.ty {
            OperationType::Mutation => refused(&AppError::bad_input(
                "send mutations over HTTP: POST /graphql",
            )),
            OperationType::Query => {
                let state = state.clone();
                let caller = caller();
                stream::once(async move {
                    graphql::run(
                        &state,
                        request,
                        &admitted,
                        caller,
                        graphql::deadline(&state),
                    )
                    .await
                    .response
                })
                .boxed()
            }
            OperationType::Subscription => {
                let (every, admitted) = match as_query(admitted, &request) {
                    Ok(query) => query,
                    Err(error) => return refused(&error),
                };
                let max = state.config.system_console.subscriptions.max_per_connection;
                let subscriptions = &connection.subscriptions;
                if subscriptions.fetch_add(1, Ordering::SeqCst) >= max {
                    subscriptions.fetch_sub(1, Ordering::SeqCst);
                    return refused(&AppError::RateLimited(format!(
                        "this connection holds {max} subscriptions already, the most allowed"
                    )));
                }
                let held = Held::new(subscriptions.clone(), state.metrics.clone());
                pushes(
                    state.clone(),
                    admitted,
                    request,
                    caller(),
                    every,
                    held,
                    connection.closing.clone(),
                )
            }
        }
    }
}

/// The pushes of a subscription: its query run every `every`, each answer sent unless
/// it equals the last one sent. A push that finds the session ended closes the
/// connection (4401) instead.
fn pushes(
    state: AppState,
    admitted: Admitted,
    request: Request,
    caller: Caller,
    every: Duration,
    held: Held,
    closing: Arc<watch::Sender<Option<Close>>>,
) -> BoxStream<'static, GraphQLResponse> {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    struct Pushes {
        state: AppState,
        admitted: Admitted,
        operation_name: Option<String>,
        variables: async_graphql::Variables,
        caller: Caller,
        interval: tokio::time::Interval,
        last: Option<String>,
        closing: Arc<watch::Sender<Option<Close>>>,
        _held: Held,
    }
    let pushes = Pushes {
        state,
        admitted,
        operation_name: request.operation_name,
        variables: request.variables,
        caller,
        interval,
        last: None,
        closing,
        _held: held,
    };
    stream::unfold(pushes, |mut pushes| async move {
        loop {
            pushes.interval.tick().await;
            let mut request = Request::new(String::new()).variables(pushes.variables.clone());
            request.operation_name = pushes.operation_name.clone();
            request.set_parsed_query(pushes.admitted.document.clone());
            let caller = Caller {
                authorization: pushes.caller.authorization.clone(),
                origin: pushes.caller.origin.clone(),
            };
            let response = graphql::run(
                &pushes.state,
                request,
                &pushes.admitted,
                caller,
                graphql::deadline(&pushes.state),
            )
            .await
            .response;
            let ended = response.errors.iter().find(|error| {
                error
                    .extensions
                    .as_ref()
                    .and_then(|extensions| extensions.get("code"))
                    .is_some_and(|code| *code == Value::from("UNAUTHENTICATED"))
            });
            if let Some(ended) = ended {
                let close = Close::new(SESSION_ENDED, ended.message.clone());
                pushes.closing.send_replace(Some(close));
                // The connection closes, and drops this stream with it.
                return std::future::pending().await;
            }
            let text = serde_json::to_string(&response).ok();
            if text.is_some() && text == pushes.last {
                continue;
            }
            pushes.last = text;
            return Some((response, pushes));
        }
    })
    .boxed()
}

/// Turns `subscription { controlTower(window, everySeconds) { … } }` into the query
/// each push runs, `query { controlTower(window) { … } }`, and reads `everySeconds`.
fn as_query(mut admitted: Admitted, request: &Request) -> Result<(Duration, Admitted), AppError> {
    let only_field = || {
        AppError::bad_input(
            "a subscription selects one field, controlTower, written in the operation itself",
        )
    };
    let [item] = admitted.selection.items.as_mut_slice() else {
        return Err(only_field());
    };
    let Selection::Field(field) = &mut item.node else {
        return Err(only_field());
    };
    if field.node.name.node.as_str() != CONTROL_TOWER_FIELD {
        return Err(only_field());
    }
    let every = field
        .node
        .arguments
        .iter()
        .find(|(name, _)| name.node.as_str() == EVERY_SECONDS_ARGUMENT)
        .map(|(_, value)| value.node.clone());
    let variable = match &every {
        Some(async_graphql_value::Value::Variable(name)) => Some(name.clone()),
        _ => None,
    };
    let every = match every {
        None => Some(10),
        Some(async_graphql_value::Value::Number(number)) => number.as_i64(),
        Some(async_graphql_value::Value::Variable(name)) => match request.variables.get(&name) {
            Some(Value::Number(number)) => number.as_i64(),
            None | Some(Value::Null) => Some(10),
            Some(_) => None,
        },
        Some(async_graphql_value::Value::Null) => Some(10),
        Some(_) => None,
    };
    let every = every
        .filter(|seconds| EVERY_SECONDS.contains(seconds))
        .ok_or_else(|| {
            AppError::bad_input("`everySeconds` must be a whole number of seconds from 1 to 3600")
        })?;
    field
        .node
        .arguments
        .retain(|(name, _)| name.node.as_str() != EVERY_SECONDS_ARGUMENT);
    let selection = admitted.selection.clone();
    let operation = operation_mut(
        &mut admitted.document.operations,
        request.operation_name.as_deref(),
    )
    .ok_or_else(only_field)?;
    operation.ty = OperationType::Query;
    operation.selection_set.node = selection;
    // A variable that only gave `everySeconds` is now unused, which validation refuses.
    if let Some(variable) = variable {
        let operation = &*operation;
        let still_used = uses(
            &operation.selection_set.node,
            &variable,
            &admitted.document.fragments,
            &mut Vec::new(),
        );
        if !still_used {
            let operation = operation_mut(
                &mut admitted.document.operations,
                request.operation_name.as_deref(),
            )
            .ok_or_else(only_field)?;
            operation
                .variable_definitions
                .retain(|definition| definition.node.name.node != variable);
        }
    }
    admitted.ty = OperationType::Query;
    Ok((Duration::from_secs(every.unsigned_abs()), admitted))
}

/// Whether `set` (with the fragments it spreads) uses the variable `name`.
fn uses<'d>(
    set: &'d async_graphql::parser::types::SelectionSet,
    name: &async_graphql::Name,
    fragments: &'d HashMap<
        async_graphql::Name,
        async_graphql::Positioned<async_graphql::parser::types::FragmentDefinition>,
    >,
    visited: &mut Vec<&'d str>,
) -> bool {
    let in_value = |value: &async_graphql_value::Value| mentions(value, name);
    let in_directives =
        |directives: &[async_graphql::Positioned<async_graphql::parser::types::Directive>]| {
            directives.iter().any(|directive| {
                directive
                    .node
                    .arguments
                    .iter()
                    .any(|(_, value)| in_value(&value.node))
            })
        };
    set.items.iter().any(|selection| match &selection.node {
        Selection::Field(field) => {
            let field = &field.node;
            field
                .arguments
                .iter()
                .any(|(_, value)| in_value(&value.node))
                || in_directives(&field.directives)
                || uses(&field.selection_set.node, name, fragments, visited)
        }
        Selection::InlineFragment(inline) => {
            in_directives(&inline.node.directives)
                || uses(&inline.node.selection_set.node, name, fragments, visited)
        }
        Selection::FragmentSpread(spread) => {
            let fragment_name = spread.node.fragment_name.node.as_str();
            if in_directives(&spread.node.directives) {
                return true;
            }
            if visited.contains(&fragment_name) {
                return false;
            }
            visited.push(fragment_name);
            fragments.get(fragment_name).is_some_and(|fragment| {
                uses(&fragment.node.selection_set.node, name, fragments, visited)
            })
        }
    })
}

/// Whether `value` mentions the variable `name`, however deep.
fn mentions(value: &async_graphql_value::Value, name: &async_graphql::Name) -> bool {
    match value {
        async_graphql_value::Value::Variable(variable) => variable == name,
        async_graphql_value::Value::List(items) => items.iter().any(|item| mentions(item, name)),
        async_graphql_value::Value::Object(fields) => {
            fields.values().any(|field| mentions(field, name))
        }
        _ => false,
    }
}

/// The operation `name` selects (or the only one).
fn operation_mut<'d>(
    operations: &'d mut DocumentOperations,
    name: Option<&str>,
) -> Option<&'d mut OperationDefinition> {
    match (operations, name) {
        (DocumentOperations::Single(operation), _) => Some(&mut operation.node),
        (DocumentOperations::Multiple(operations), Some(name)) => operations
            .get_mut(name)
            .map(|operation| &mut operation.node),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => operations
            .values_mut()
            .next()
            .map(|operation| &mut operation.node),
        (DocumentOperations::Multiple(_), None) => None,
    }
}
