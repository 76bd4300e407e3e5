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
//! - **Any subscription field**, through the schema's own stream execution: the
//!   subscription's request carries a [`Live`] watch, and each field's resolver asks it
//!   for the answers of its query, run every `everySeconds` through the same pipeline
//!   as `POST /graphql` and shared by every subscriber of the same document, variables
//!   and access (`server::live`). Queries run once; mutations belong to HTTP.
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

use async_graphql::parser::types::OperationType;
use async_graphql::{Data, Executor, Request, Response as GraphQLResponse};
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

use sha2::{Digest, Sha256};

use super::AppState;
use super::document;
use super::graphql::{self, Caller};
use super::live::{Access, Subscribed};
use super::trusted::Trust;
use crate::auth::login::Origin;
use crate::auth::{self, Capability, Principal};
use crate::error::AppError;
use crate::graphql::types::live::Live;
use crate::metrics::Metrics;

/// The only subprotocol served.
const PROTOCOL: &str = "graphql-transport-ws";
/// How often a connection's session is looked up.
pub(crate) const SESSION_CHECK: Duration = Duration::from_secs(4);
/// What a connection reads into at first.
const READ_BUFFER_BYTES: usize = 4 * 1024;
/// How long a client has to send `connection_init`.
pub(crate) const INIT_TIMEOUT: Duration = Duration::from_secs(10);

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
    let max_message = state.config.system_console.limits.max_body_bytes as usize;
    upgrade
        .protocols([PROTOCOL])
        // tungstenite reserves 128 KiB to read into per connection by default: a
        // thousand wallboards would hold 128 MB of it. Client messages are small (a
        // subscribe, a ping); a larger one grows the buffer while it is read.
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        // A message is a request: no larger than a request's body may be.
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .on_upgrade(move |socket| serve(state, socket, protocol, origin).instrument(span))
}

/// Serves one connection until the client leaves or the service closes it.
async fn serve(state: AppState, socket: WebSocket, protocol: GraphQLProtocol, origin: Origin) {
    let _open = OpenSocket::new(state.sockets.clone());
    let (mut sink, incoming) = socket.split();
    let refusal: Arc<Mutex<Option<Close>>> = Arc::default();
    let session: Arc<OnceLock<Signed>> = Arc::default();
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
    let watchdog = tokio::spawn(watch_connection(state.clone(), session.clone(), closing));

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
        .on_connection_init(move |payload| connection_init(init_state, payload, refusal, session))
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

/// A connection's credentials, once `connection_init` accepted them, and who they act
/// for as last seen.
struct Signed {
    authorization: String,
    principal: watch::Sender<Option<Principal>>,
}

/// Closes the connection when the service shuts down, when `connection_init` does not
/// come in time, and when the session ends; keeps who the connection acts for up to
/// date, looking again at once when a break-glass elevation or the session expires.
async fn watch_connection(
    state: AppState,
    session: Arc<OnceLock<Signed>>,
    closing: watch::Sender<Option<Close>>,
) {
    let opened = Instant::now();
    let mut shutdown = state.shutdown.subscribe();
    let close = loop {
        let pause = session
            .get()
            .and_then(|signed| signed.principal.borrow().as_ref()?.valid_until())
            .and_then(|until| (until - (state.clock)()).to_std().ok())
            .map_or(SESSION_CHECK, |left| {
                left.clamp(Duration::from_millis(10), SESSION_CHECK)
            });
        tokio::select! {
            _ = shutdown.wait_for(|stopping| *stopping) => {
                break Close::new(GOING_AWAY, "the server is shutting down");
            }
            () = tokio::time::sleep(pause) => {}
        }
        let Some(signed) = session.get() else {
            if opened.elapsed() >= INIT_TIMEOUT {
                break Close::new(INIT_TIMED_OUT, "connection_init was not sent in time");
            }
            continue;
        };
        let Some(token) = auth::bearer_token(&signed.authorization) else {
            break Close::new(SESSION_ENDED, "the session has ended");
        };
        let now = (state.clock)();
        match auth::authenticate(&state.db, token, now).await {
            Ok(Ok(principal)) => {
                // A wallboard's use shows in `operator token list` (at most once a
                // minute).
                if let Principal::Token(token) = &principal {
                    auth::tokens::touch(&state.db, token, now);
                }
                signed.principal.send_if_modified(|held| {
                    let changed = held.as_ref().is_none_or(|held| {
                        Access::of(held, now, true) != Access::of(&principal, now, true)
                    });
                    if changed {
                        *held = Some(principal);
                    }
                    changed
                });
            }
            Ok(Err(refusal)) => break Close::new(SESSION_ENDED, refusal.message()),
            // The database is away for now: the pushes say so; the session is checked
            // again next time.
            Err(error) => tracing::warn!(%error, "could not check a subscriber's session"),
        }
    };
    if let Some(signed) = session.get() {
        signed.principal.send_replace(None);
    }
    let _ = closing.send(Some(close));
}

/// What a connection holds once initialised.
struct Connection {
    /// The `Authorization` value of the queries it runs.
    authorization: String,
    /// Who it acts for now, as its last look at its session found; `None` once ended.
    principal: watch::Receiver<Option<Principal>>,
    /// How many subscriptions it holds.
    subscriptions: Arc<AtomicU32>,
    /// Its place among its operator's connections, released when it ends.
    _slot: Slot,
}

/// Checks `connection_init`'s payload; a refusal is noted with its close code.
async fn connection_init(
    state: AppState,
    payload: serde_json::Value,
    refusal: Arc<Mutex<Option<Close>>>,
    session: Arc<OnceLock<Signed>>,
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
    let principal = match auth::authenticate(&state.db, &token, (state.clock)()).await {
        Ok(Ok(principal)) => principal,
        Ok(Err(refused)) => return refuse(Close::new(FORBIDDEN, refused.message())),
        Err(error) => {
            tracing::warn!(%error, "could not check a subscriber's token");
            return refuse(Close::new(
                UNAVAILABLE,
                "the database is unavailable; retry",
            ));
        }
    };
    if principal.require(Capability::ConsoleView).is_err() {
        return refuse(Close::new(FORBIDDEN, "subscriptions need console.view"));
    }
    if let Principal::Token(token) = &principal {
        auth::tokens::touch(&state.db, token, (state.clock)());
    }
    let limits = &state.config.system_console.subscriptions;
    let Some(slot) = state
        .subscribers
        .enter(Holder::of(&principal), limits.max_connections_per_operator)
    else {
        return refuse(Close::new(
            TOO_MANY_CONNECTIONS,
            format!(
                "this operator holds {} connections already, the most allowed",
                limits.max_connections_per_operator
            ),
        ));
    };
    // The upgrade's access line was written when the socket opened; this one says who
    // the connection acts for.
    tracing::info!(
        target: "control_tower::access",
        operator_id = principal.operator().map(|viewer| viewer.user.id),
        token = principal.token_name(),
        "subscriber connected"
    );
    let (principal, following) = watch::channel(Some(principal));
    let _ = session.set(Signed {
        authorization: authorization.clone(),
        principal,
    });
    let mut data = Data::default();
    data.insert(Connection {
        authorization,
        principal: following,
        subscriptions: Arc::default(),
        _slot: slot,
    });
    Ok(data)
}

/// Who holds connections: an operator, or a dashboard token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Holder {
    Operator(i64),
    Token(i64),
}

impl Holder {
    fn of(principal: &Principal) -> Self {
        match principal {
            Principal::Operator(viewer) => Self::Operator(viewer.user.id),
            Principal::Token(token) => Self::Token(token.model.id),
            // A connection is never opened as an execution's principal.
            Principal::Shared(_) => Self::Token(0),
        }
    }
}

/// The connections of each operator and dashboard token, per instance.
#[derive(Default)]
pub(crate) struct Subscribers {
    connections: Mutex<HashMap<Holder, u32>>,
}

impl Subscribers {
    /// A place for one more connection of `operator`, if there is one.
    fn enter(self: &Arc<Self>, operator: Holder, max: u32) -> Option<Slot> {
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
    operator: Holder,
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
        // The connection's credentials were looked up at `connection_init` and are kept
        // up to date: a document they do not trust is refused before it is parsed.
        let principal = connection.principal.borrow().clone();
        let Some(principal) = principal else {
            return refused(&AppError::Unauthenticated(
                "the session has ended".to_owned(),
            ));
        };
        let policy = state.config.system_console.trusted_documents;
        if let Err(error) = Trust::of(policy, &principal).screen(&mut request) {
            return refused(&error);
        }
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
        match admitted.ty {
            OperationType::Mutation => refused(&AppError::bad_input(
                "send mutations over HTTP: POST /graphql",
            )),
            OperationType::Query => {
                let state = state.clone();
                let caller = Caller {
                    authorization: Some(connection.authorization.clone()),
                    origin: self.origin.clone(),
                    granted: None,
                    budgeted: true,
                };
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
                let max = state.config.system_console.subscriptions.max_per_connection;
                let subscriptions = &connection.subscriptions;
                if subscriptions.fetch_add(1, Ordering::SeqCst) >= max {
                    subscriptions.fetch_sub(1, Ordering::SeqCst);
                    return refused(&AppError::RateLimited(format!(
                        "this connection holds {max} subscriptions already, the most allowed"
                    )));
                }
                let held = Held::new(subscriptions.clone(), state.metrics.clone());
                let admitted = Arc::new(admitted);
                let subscribed = Subscribed {
                    state: state.clone(),
                    admitted: admitted.clone(),
                    text: Sha256::digest(request.query.as_bytes()).into(),
                    variables: request.variables.clone(),
                    principal: connection.principal.clone(),
                };
                request.set_parsed_query(admitted.document.clone());
                let request = request.data(Live(Arc::new(subscribed)));
                state
                    .schema
                    .execute_stream(request)
                    .map(move |response| {
                        let _held = &held;
                        graphql::with_codes(response)
                    })
                    .boxed()
            }
        }
    }
}
