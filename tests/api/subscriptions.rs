//! `GET /graphql/ws`: the `graphql-transport-ws` protocol as a dashboard speaks it, with
//! a real WebSocket client: authentication in `connection_init`, pushes through the
//! query pipeline, only when the tower changed, limits, and the documented close codes
//! when the session ends and when the server shuts down.

use std::time::Duration;

use control_tower::auth::Capability;
use control_tower::config::Config;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::common::{Backend, TestApp, error_codes, operator_token};
use crate::fixtures::*;

const TOWER: &str = "subscription($every: Int) { controlTower(window: LAST_24H, everySeconds: $every) { runs { total } stuckTotal } }";

/// A `graphql-transport-ws` client connection.
pub(crate) struct Socket(WebSocketStream<MaybeTlsStream<TcpStream>>);

/// What the server sent next: a message, or the close frame.
#[derive(Debug)]
pub(crate) enum Received {
    Message(Value),
    Closed(u16, String),
}

impl Socket {
    pub(crate) async fn open(app: &TestApp) -> Self {
        Self::open_at(&app.address.to_string()).await
    }

    pub(crate) async fn open_at(address: &str) -> Self {
        let mut request = format!("ws://{address}/graphql/ws")
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (stream, response) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            "graphql-transport-ws"
        );
        Self(stream)
    }

    /// Opens a connection and sends `connection_init` with `token`.
    pub(crate) async fn initialised(app: &TestApp, token: &str) -> Self {
        Self::initialised_at(&app.address.to_string(), token).await
    }

    pub(crate) async fn initialised_at(address: &str, token: &str) -> Self {
        let mut socket = Self::open_at(address).await;
        socket
            .send(json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}}))
            .await;
        assert_eq!(socket.message().await["type"], "connection_ack");
        socket
    }

    pub(crate) async fn send(&mut self, message: Value) {
        self.0
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
    }

    pub(crate) async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}}))
            .await;
    }

    /// The next message or close frame, within `within`; `None` when nothing came.
    pub(crate) async fn receive_within(&mut self, within: Duration) -> Option<Received> {
        loop {
            let frame = tokio::time::timeout(within, self.0.next()).await.ok()?;
            match frame {
                Some(Ok(Message::Text(text))) => {
                    return Some(Received::Message(serde_json::from_str(&text).unwrap()));
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|CloseFrame { code, reason }| (u16::from(code), reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    return Some(Received::Closed(code, reason));
                }
                Some(Ok(_)) => {}
                Some(Err(tungstenite::Error::ConnectionClosed)) | None => {
                    return Some(Received::Closed(1006, String::new()));
                }
                Some(Err(error)) => panic!("the connection failed: {error}"),
            }
        }
    }

    pub(crate) async fn message(&mut self) -> Value {
        match self.receive_within(Duration::from_secs(20)).await {
            Some(Received::Message(message)) => message,
            other => panic!("a message expected, got {other:?}"),
        }
    }

    pub(crate) async fn closed(&mut self, within: Duration) -> (u16, String) {
        match self.receive_within(within).await {
            Some(Received::Closed(code, reason)) => (code, reason),
            other => panic!("the connection should have closed, got {other:?}"),
        }
    }
}

/// The first push of `document` to the operator of `token`.
pub async fn first_push(app: &TestApp, token: &str, document: &str, variables: Value) -> Value {
    let mut socket = Socket::initialised(app, token).await;
    socket.subscribe("first", document, variables).await;
    let message = socket.message().await;
    assert_eq!(message["type"], "next", "{message}");
    message["payload"].clone()
}

pub(crate) async fn spawn(backend: Backend, configure: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::spawn_with(backend, |config| {
        // Every push computes the tower anew, so a change shows at the next one.
        config.system_console.cache.control_tower_seconds = 0;
        configure(config);
    })
    .await
}

/// Declares a subscription test on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:path) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $body($crate::common::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(
                not(postgres_tests),
                ignore = "TEST_DATABASE_URL is not set: PostgreSQL skipped"
            )]
            async fn postgres() {
                $body($crate::common::Backend::Postgres).await;
            }
        }
    };
}

on_both_backends!(
    a_dashboard_sees_the_tower_change_and_is_closed_when_its_session_ends,
    super::pushes_and_logout
);
async fn pushes_and_logout(backend: Backend) {
    let app = spawn(backend, |_| {}).await;
    let acme = workspace(&app.db, "Acme").await;
    let mut socket = Socket::initialised(&app, &app.token).await;
    socket.subscribe("tower", TOWER, json!({"every": 1})).await;
    let first = socket.message().await;
    assert_eq!(first["type"], "next", "{first}");
    assert_eq!(first["id"], "tower");
    assert_eq!(
        first["payload"],
        json!({"data": {"controlTower": {"runs": {"total": 0}, "stuckTotal": 0}}})
    );
    run_with(&app.db, acme.id, None, |_| {}).await;
    let second = socket.message().await;
    assert_eq!(
        second["payload"]["data"]["controlTower"]["runs"]["total"], 1,
        "{second}"
    );
    let (response, _) = app
        .gql_with(Some(&app.token), "mutation { logout }", json!({}))
        .await;
    assert_eq!(response["data"]["logout"], true);
    // The next push, or the next session check, finds the session ended: the socket
    // closes with 4401 and the reason, and nothing more is pushed.
    let started = std::time::Instant::now();
    assert_eq!(
        socket.closed(Duration::from_secs(8)).await,
        (
            4401,
            "the session has been logged out: log in again".to_owned()
        )
    );
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "closed within a session check"
    );
}

#[tokio::test]
async fn a_connection_without_a_valid_session_is_refused() {
    let app = spawn(Backend::Sqlite, |_| {}).await;
    let mut socket = Socket::open(&app).await;
    socket.send(json!({"type": "connection_init"})).await;
    let (code, reason) = socket.closed(Duration::from_secs(5)).await;
    assert_eq!(code, 4403);
    assert!(reason.contains("authorization"), "{reason}");
    let mut socket = Socket::open(&app).await;
    socket
        .send(json!({"type": "connection_init", "payload": {"authorization": "Bearer nope"}}))
        .await;
    assert_eq!(
        socket.closed(Duration::from_secs(5)).await,
        (
            4403,
            "the bearer token is not valid: log in again".to_owned()
        )
    );
    // An operator without console.view cannot subscribe.
    let auditor = operator_token(
        &app.db,
        "auditor@control-tower.test",
        &[Capability::AuditView],
    )
    .await;
    let mut socket = Socket::open(&app).await;
    socket
        .send(json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {auditor}")}}))
        .await;
    assert_eq!(socket.closed(Duration::from_secs(5)).await.0, 4403);
    // Subscribing before connection_init is refused by the protocol.
    let mut socket = Socket::open(&app).await;
    socket.subscribe("early", TOWER, json!({})).await;
    let (code, _) = socket.closed(Duration::from_secs(5)).await;
    assert_ne!(code, 1000, "not a normal close");
    // Without the subprotocol there is no upgrade.
    let response = app
        .client()
        .get(app.url("/graphql/ws"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn an_unchanged_tower_is_not_pushed_again() {
    let app = TestApp::spawn_with(Backend::Sqlite, |config| {
        config.system_console.cache.control_tower_seconds = 60;
    })
    .await;
    let mut socket = Socket::initialised(&app, &app.token).await;
    socket.subscribe("tower", TOWER, json!({"every": 1})).await;
    assert_eq!(socket.message().await["type"], "next");
    assert!(
        socket
            .receive_within(Duration::from_millis(2500))
            .await
            .is_none(),
        "the shared snapshot did not change, so nothing is sent"
    );
    socket
        .send(json!({"id": "tower", "type": "complete"}))
        .await;
}

#[tokio::test]
async fn subscriptions_and_connections_are_limited() {
    let app = spawn(Backend::Sqlite, |config| {
        config.system_console.subscriptions.max_per_connection = 1;
        config
            .system_console
            .subscriptions
            .max_connections_per_operator = 2;
    })
    .await;
    let mut first = Socket::initialised(&app, &app.token).await;
    first.subscribe("a", TOWER, json!({"every": 60})).await;
    assert_eq!(first.message().await["type"], "next");
    first.subscribe("b", TOWER, json!({"every": 60})).await;
    let refused = first.message().await;
    assert_eq!(refused["id"], "b");
    assert_eq!(
        error_codes(&refused["payload"]),
        ["RATE_LIMITED"],
        "{refused}"
    );
    assert_eq!(
        first.message().await,
        json!({"id": "b", "type": "complete"})
    );
    // Ending `a` frees its place.
    first.send(json!({"id": "a", "type": "complete"})).await;
    assert_eq!(
        first.message().await,
        json!({"id": "a", "type": "complete"})
    );
    first.subscribe("c", TOWER, json!({"every": 60})).await;
    let pushed = first.message().await;
    assert_eq!(
        (pushed["id"].as_str(), pushed["type"].as_str()),
        (Some("c"), Some("next")),
        "{pushed}"
    );

    let _second = Socket::initialised(&app, &app.token).await;
    let mut third = Socket::open(&app).await;
    third
        .send(json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {}", app.token)}}))
        .await;
    assert_eq!(third.closed(Duration::from_secs(5)).await.0, 4429);
    // Out-of-range intervals are refused per subscription.
    first.send(json!({"id": "c", "type": "complete"})).await;
    assert_eq!(
        first.message().await,
        json!({"id": "c", "type": "complete"})
    );
    first.subscribe("d", TOWER, json!({"every": 0})).await;
    let refused = first.message().await;
    assert_eq!(
        error_codes(&refused["payload"]),
        ["BAD_USER_INPUT"],
        "{refused}"
    );
}

#[tokio::test]
async fn shutdown_closes_every_connection_at_once() {
    let mut app = spawn(Backend::Sqlite, |_| {}).await;
    let mut socket = Socket::initialised(&app, &app.token).await;
    socket.subscribe("tower", TOWER, json!({"every": 60})).await;
    assert_eq!(socket.message().await["type"], "next");
    app.begin_shutdown();
    assert_eq!(
        socket.closed(Duration::from_secs(8)).await,
        (1001, "the server is shutting down".to_owned())
    );
}

#[tokio::test]
async fn queries_run_over_the_socket_and_subscriptions_not_over_http() {
    let app = spawn(Backend::Sqlite, |_| {}).await;
    let mut socket = Socket::initialised(&app, &app.token).await;
    socket
        .subscribe("q", "{ settings { maxPageSize } }", json!({}))
        .await;
    // A query over the socket says what it cost, as over HTTP.
    let mut message = socket.message().await;
    assert_eq!(
        message["payload"]["extensions"]["cost"]["requestedQueryCost"],
        json!(2),
        "{message}"
    );
    message["payload"] = crate::common::without_cost(message["payload"].take());
    assert_eq!(
        message,
        json!({"id": "q", "type": "next", "payload": {"data": {"settings": {"maxPageSize": 100}}}})
    );
    assert_eq!(
        socket.message().await,
        json!({"id": "q", "type": "complete"})
    );
    let (response, _) = app.gql_with(Some(&app.token), TOWER, json!({})).await;
    assert_eq!(error_codes(&response), ["BAD_USER_INPUT"]);
    assert!(
        response["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("/graphql/ws")
    );
}

/// axum's graceful shutdown does not wait for upgraded connections, and they do not
/// hold the process: SIGTERM closes them with 1001 and the process exits at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_subscriptions_and_exits_within_seconds() {
    let mut served = crate::common::Served::start();
    let mut socket = Socket::initialised_at(&served.address, &served.token.clone()).await;
    socket.subscribe("tower", TOWER, json!({"every": 1})).await;
    assert_eq!(socket.message().await["type"], "next");
    let (took, status) = served.terminate().await;
    assert!(
        status.success(),
        "exit status {status}\n{}",
        served.stderr()
    );
    assert!(took < Duration::from_secs(5), "exited in {took:?}");
    let closed = loop {
        match socket.receive_within(Duration::from_secs(5)).await {
            Some(Received::Message(_)) => {}
            Some(Received::Closed(code, reason)) => break (code, reason),
            None => panic!("the connection stayed open"),
        }
    };
    assert_eq!(closed, (1001, "the server is shutting down".to_owned()));
}

#[tokio::test]
async fn a_closed_connection_frees_its_place() {
    let app = spawn(Backend::Sqlite, |config| {
        config
            .system_console
            .subscriptions
            .max_connections_per_operator = 1;
    })
    .await;
    for _ in 0..3 {
        let mut socket = Socket::initialised(&app, &app.token).await;
        socket.subscribe("tower", TOWER, json!({"every": 60})).await;
        assert_eq!(socket.message().await["type"], "next");
        socket.0.close(None).await.unwrap();
        // The server answers the close and lets the connection go.
        assert_eq!(socket.closed(Duration::from_secs(5)).await.0, 1005);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

on_both_backends!(
    an_expired_session_or_a_disabled_operator_closes_the_connection,
    super::expiry_and_disable
);
async fn expiry_and_disable(backend: Backend) {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
    let app = spawn(backend, |_| {}).await;
    for (email, end, expected) in [
        (
            "expiring@control-tower.test",
            "expire",
            "the session has expired: log in again",
        ),
        (
            "disabled@control-tower.test",
            "disable",
            "the operator has been disabled",
        ),
    ] {
        let token = operator_token(&app.db, email, &[Capability::ConsoleView]).await;
        let mut socket = Socket::initialised(&app, &token).await;
        socket
            .subscribe("tower", TOWER, json!({"every": 3600}))
            .await;
        assert_eq!(socket.message().await["type"], "next");
        let session = entity::platform_session::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .into_iter()
            .max_by_key(|session| session.id)
            .unwrap();
        if end == "expire" {
            let mut session: entity::platform_session::ActiveModel = session.into();
            session.expires_at = Set(chrono::Utc::now() - chrono::Duration::minutes(1));
            session.update(&app.db).await.unwrap();
        } else {
            let user = entity::platform_user::Entity::find_by_id(session.platform_user_id)
                .one(&app.db)
                .await
                .unwrap()
                .unwrap();
            let mut user: entity::platform_user::ActiveModel = user.into();
            user.is_active = Set(false);
            user.update(&app.db).await.unwrap();
        }
        // No push is due for an hour: the session check closes the connection.
        assert_eq!(
            socket.closed(Duration::from_secs(8)).await,
            (4401, expected.to_owned()),
            "{end}"
        );
    }
}

#[tokio::test]
async fn a_message_larger_than_a_request_body_ends_the_connection() {
    let app = spawn(Backend::Sqlite, |config| {
        config.system_console.limits.max_body_bytes = 16 * 1024;
    })
    .await;
    let mut socket = Socket::initialised(&app, &app.token).await;
    let padding = " ".repeat(64 * 1024);
    socket
        .send(json!({"id": "big", "type": "subscribe", "payload": {"query": format!("{{ settings {{ maxPageSize }} }}{padding}")}}))
        .await;
    match socket.receive_within(Duration::from_secs(5)).await {
        Some(Received::Closed(code, _)) => assert_ne!(code, 1000, "not a normal close"),
        other => panic!("the connection should have ended, got {other:?}"),
    }
    // The server goes on serving.
    let mut socket = Socket::initialised(&app, &app.token).await;
    socket
        .subscribe("q", "{ settings { maxPageSize } }", json!({}))
        .await;
    assert_eq!(socket.message().await["type"], "next");
}
