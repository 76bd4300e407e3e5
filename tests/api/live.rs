//! Dashboards (SPEC §9c) over the real socket: live queries over any selection, pushed
//! only when they change and shared between subscribers of the same access; dashboard
//! tokens, bound to their trusted documents over HTTP and the socket, revoked at once.

use std::time::Duration;

use control_tower::auth::Capability;
use control_tower::auth::tokens::{self, NewToken, TrustedDocument};
use control_tower::db::Db;
use serde_json::{Value, json};

use crate::common::{Backend, TestApp, error_codes, operator_token, sample};
use crate::fixtures::*;
use crate::subscriptions::{Received, Socket, spawn};

const LIVE_TOWER: &str =
    "subscription { live(everySeconds: 1) { controlTower(window: LAST_24H) { runs { total } } } }";
const EXECUTIONS: &str = "control_tower_live_executions_total";

/// A dashboard token named `name`, made as `operator token create` makes it.
async fn dashboard_token(app: &TestApp, name: &str, documents: &[&str]) -> String {
    let documents = documents
        .iter()
        .map(|text| TrustedDocument::of_text(text).unwrap())
        .collect();
    let capabilities = ["console.view".to_owned(), "audit.view".to_owned()];
    let new = NewToken {
        name,
        capabilities: &capabilities,
        expires_in_days: 30,
        documents,
    };
    let (_, secret) = tokens::create(&Db::new(app.db.clone()), new, chrono::Utc::now())
        .await
        .unwrap();
    secret
}

async fn executions(app: &TestApp) -> f64 {
    sample(&app.metrics().await, EXECUTIONS)
}

/// Nothing arrives on `socket` for `quiet`.
async fn stays_quiet(socket: &mut Socket, quiet: Duration) {
    let received = socket.receive_within(quiet).await;
    assert!(received.is_none(), "nothing changed, yet {received:?}");
}

crate::on_both_backends!(
    a_live_query_pushes_on_change_and_its_subscribers_share_one_execution,
    super::pushes_on_change
);
async fn pushes_on_change(backend: Backend) {
    let app = spawn(backend, |_| {}).await;
    let acme = workspace(&app.db, "Acme").await;
    let mut sockets = Vec::new();
    for email in ["one@wall.test", "two@wall.test", "three@wall.test"] {
        let token = operator_token(&app.db, email, &[Capability::ConsoleView]).await;
        let mut socket = Socket::initialised(&app, &token).await;
        socket.subscribe("board", LIVE_TOWER, json!({})).await;
        let first = socket.message().await;
        assert_eq!(
            first,
            json!({"id": "board", "type": "next", "payload": {"data": {"live": {"controlTower": {"runs": {"total": 0}}}}}})
        );
        sockets.push(socket);
    }
    // Three subscribers of one document and one access: one execution a tick, and no
    // push while nothing changes.
    let before = executions(&app).await;
    let started = std::time::Instant::now();
    for socket in &mut sockets {
        stays_quiet(socket, Duration::from_millis(1000)).await;
    }
    let ran = executions(&app).await - before;
    let ticks = started.elapsed().as_secs_f64().ceil() + 1.0;
    assert!(
        ran >= 1.0 && ran <= ticks,
        "{ran} executions in {:?}: one a tick, not one per subscriber",
        started.elapsed()
    );
    // A write shows at the next tick, to every subscriber, once.
    run_with(&app.db, acme.id, None, |_| {}).await;
    for socket in &mut sockets {
        let pushed = socket.message().await;
        assert_eq!(
            pushed["payload"]["data"]["live"]["controlTower"]["runs"]["total"], 1,
            "{pushed}"
        );
    }
    stays_quiet(&mut sockets[0], Duration::from_millis(1500)).await;
    // The execution stops when its last subscriber leaves.
    for mut socket in sockets {
        socket
            .send(json!({"id": "board", "type": "complete"}))
            .await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let idle = executions(&app).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(executions(&app).await, idle, "no subscriber, no execution");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_sharing_a_document_never_see_each_others_access() {
    let app = spawn(Backend::Sqlite, |_| {}).await;
    let document = "subscription Wall { live(everySeconds: 1) { viewer { email } controlTower(window: LAST_24H) { runs { total } } auditLogs(first: 1) { totalCount } } }";
    let auditor = operator_token(
        &app.db,
        "auditor@wall.test",
        &[Capability::ConsoleView, Capability::AuditView],
    )
    .await;
    let peer = operator_token(
        &app.db,
        "peer@wall.test",
        &[Capability::ConsoleView, Capability::AuditView],
    )
    .await;
    let viewer_only = operator_token(&app.db, "viewer@wall.test", &[Capability::ConsoleView]).await;
    let mut pushes = Vec::new();
    for token in [&auditor, &peer, &viewer_only] {
        let mut socket = Socket::initialised(&app, token).await;
        socket.subscribe("wall", document, json!({})).await;
        pushes.push((socket.message().await, socket));
    }
    let email = |push: &Value| push["payload"]["data"]["live"]["viewer"]["email"].clone();
    assert_eq!(email(&pushes[0].0), "auditor@wall.test", "{}", pushes[0].0);
    assert_eq!(email(&pushes[1].0), "peer@wall.test", "{}", pushes[1].0);
    assert!(pushes[0].0["payload"]["data"]["live"]["auditLogs"]["totalCount"].is_number());
    // The operator without audit.view is refused the audit trail, and only that.
    let refused = &pushes[2].0["payload"];
    assert_eq!(error_codes(refused), ["FORBIDDEN"], "{refused}");
    assert_eq!(
        refused["errors"][0]["path"],
        json!(["live", "auditLogs"]),
        "{refused}"
    );
    // `auditLogs` is non-null, and so is `live`: the refusal nulls the push's data, as
    // the same query over HTTP would.
    assert!(refused["data"].is_null(), "{refused}");
    // Changes reach each of them, each with its own viewer.
    let acme = workspace(&app.db, "Acme").await;
    run_with(&app.db, acme.id, None, |_| {}).await;
    for (email, (_, socket)) in ["auditor@wall.test", "peer@wall.test"]
        .iter()
        .zip(&mut pushes)
    {
        let pushed = socket.message().await;
        let live = &pushed["payload"]["data"]["live"];
        assert_eq!(live["viewer"]["email"], *email, "{pushed}");
        assert_eq!(live["controlTower"]["runs"]["total"], 1, "{pushed}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_token_runs_only_its_trusted_documents() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let app = spawn(Backend::Sqlite, |_| {}).await;
    let board = "query Board { controlTower(window: LAST_24H) { runs { total } } }";
    let token = dashboard_token(&app, "lobby-wallboard", &[board, LIVE_TOWER]).await;
    assert!(token.starts_with("ctd_"), "{token}");
    let expected = json!({"controlTower": {"runs": {"total": 0}}});
    // By its text, by its SHA-256 alone, by its operation name alone.
    let (by_text, _) = app.gql_with(Some(&token), board, json!({})).await;
    assert_eq!(by_text["data"], expected, "{by_text}");
    let sha256 = control_tower::auth::credentials::token_hash(board);
    for body in [
        json!({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256}}}),
        json!({"operationName": "Board"}),
    ] {
        let (status, answer, _) = app.post_body(Some(&token), body.to_string()).await;
        assert_eq!(
            (status, &answer["data"]),
            (200, &expected),
            "{body}: {answer}"
        );
    }
    // Anything else is refused before it is parsed: even a document that does not parse.
    for other in ["{ settings { maxPageSize } }", "{{{ not graphql"] {
        let body = json!({"query": other}).to_string();
        let (status, answer, statements) = app.post_body(Some(&token), body).await;
        assert_eq!(status, 403, "{answer}");
        assert_eq!(error_codes(&answer), ["FORBIDDEN"], "{answer}");
        assert!(answer.get("data").is_none(), "{answer}");
        assert_eq!(statements, 0, "refused before any statement of its own");
    }
    // The socket holds the token to the same documents.
    let mut socket = Socket::initialised(&app, &token).await;
    socket.subscribe("live", LIVE_TOWER, json!({})).await;
    let pushed = socket.message().await;
    assert_eq!(
        pushed["payload"]["data"]["live"]["controlTower"]["runs"]["total"], 0,
        "{pushed}"
    );
    socket
        .subscribe(
            "other",
            "subscription { live { settings { maxPageSize } } }",
            json!({}),
        )
        .await;
    let refused = socket.message().await;
    assert_eq!(refused["id"], "other");
    assert_eq!(error_codes(&refused["payload"]), ["FORBIDDEN"], "{refused}");
    // A token is not a person: it has no viewer, and it never changes anything.
    let anything = dashboard_token(&app, "any-document", &[]).await;
    let (answer, _) = app
        .gql_with(Some(&anything), "{ viewer { email } }", json!({}))
        .await;
    assert_eq!(error_codes(&answer), ["FORBIDDEN"], "{answer}");
    let (answer, _) = app
        .gql_with(
            Some(&anything),
            "mutation { markRunInvestigated(runId: \"T3BlcmF0aW9uUnVuOjE=\", note: \"looked into it\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_codes(&answer), ["FORBIDDEN"], "{answer}");
    // Its use is noted, for `operator token list`.
    let mut noted = None;
    for _ in 0..50 {
        noted = entity::platform_api_token::Entity::find()
            .filter(entity::platform_api_token::Column::Name.eq("lobby-wallboard"))
            .one(&app.db)
            .await
            .unwrap()
            .and_then(|token| token.last_used_at);
        if noted.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(noted.is_some(), "the token's last use is noted");
    // Every use is named in the access line.
    let logs = crate::common::logs();
    assert!(
        logs.contains("lobby-wallboard"),
        "the access line names the token"
    );
    assert!(!logs.contains(&token), "a log line shows the token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_documents_extend_to_every_token_and_to_sessions() {
    let app = spawn(Backend::Sqlite, |config| {
        config.system_console.trusted_documents = control_tower::config::TrustedDocuments::All;
    })
    .await;
    let token = dashboard_token(&app, "saved-only", &[]).await;
    for credentials in [&token, &app.token] {
        // A saved operation runs, by name; any other document is refused.
        let body = json!({"operationName": "ControlTower", "variables": {}}).to_string();
        let (status, answer, _) = app.post_body(Some(credentials), body).await;
        assert_eq!(status, 200, "{answer}");
        assert!(answer["data"]["controlTower"].is_object(), "{answer}");
        let (answer, _) = app
            .gql_with(Some(credentials), "{ settings { maxPageSize } }", json!({}))
            .await;
        assert_eq!(error_codes(&answer), ["FORBIDDEN"], "{answer}");
    }
}

crate::on_both_backends!(
    a_revoked_or_expired_token_stops_at_once,
    super::revoke_and_expiry
);
async fn revoke_and_expiry(backend: Backend) {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
    let app = spawn(backend, |_| {}).await;
    let query = "{ controlTower(window: LAST_24H) { runs { total } } }";
    let token = dashboard_token(&app, "night-shift", &[]).await;
    let (answer, _) = app.gql_with(Some(&token), query, json!({})).await;
    assert!(answer["errors"].is_null(), "{answer}");
    let mut socket = Socket::initialised(&app, &token).await;
    socket
        .subscribe(
            "wall",
            "subscription { live(everySeconds: 3600) { settings { maxPageSize } } }",
            json!({}),
        )
        .await;
    assert_eq!(socket.message().await["type"], "next");
    let revoked = std::time::Instant::now();
    tokens::revoke(&Db::new(app.db.clone()), "night-shift", chrono::Utc::now())
        .await
        .unwrap();
    let (answer, _) = app.gql_with(Some(&token), query, json!({})).await;
    assert_eq!(error_codes(&answer), ["UNAUTHENTICATED"], "{answer}");
    assert_eq!(
        socket.closed(Duration::from_secs(8)).await,
        (4401, "the dashboard token has been revoked".to_owned())
    );
    assert!(
        revoked.elapsed() < Duration::from_secs(5),
        "closed in {:?}",
        revoked.elapsed()
    );
    let rows = entity::audit_log::Entity::find()
        .filter(entity::audit_log::Column::Action.eq("platform.api_token.revoked"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "the revocation is audited");

    let token = dashboard_token(&app, "expiring", &[]).await;
    let mut socket = Socket::initialised(&app, &token).await;
    let model = entity::platform_api_token::Entity::find()
        .filter(entity::platform_api_token::Column::Name.eq("expiring"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut model: entity::platform_api_token::ActiveModel = model.into();
    model.expires_at = Set(chrono::Utc::now() - chrono::Duration::seconds(1));
    model.update(&app.db).await.unwrap();
    let (answer, _) = app.gql_with(Some(&token), query, json!({})).await;
    assert_eq!(error_codes(&answer), ["UNAUTHENTICATED"], "{answer}");
    let closed = match socket.receive_within(Duration::from_secs(8)).await {
        Some(Received::Closed(code, reason)) => (code, reason),
        other => panic!("the connection should have closed, got {other:?}"),
    };
    assert_eq!(closed, (4401, "the dashboard token has expired".to_owned()));
}

const TAIL: &str =
    "subscription($after: String) { auditLogTail(after: $after) { cursor node { action } } }";

/// The next tail entry on `socket`: its action and cursor.
async fn tailed(socket: &mut Socket) -> (String, String) {
    let pushed = socket.message().await;
    assert_eq!(pushed["type"], "next", "{pushed}");
    let edge = &pushed["payload"]["data"]["auditLogTail"];
    assert!(pushed["payload"]["errors"].is_null(), "{pushed}");
    (
        edge["node"]["action"].as_str().unwrap().to_owned(),
        edge["cursor"].as_str().unwrap().to_owned(),
    )
}

/// Gives a new tail time to place itself after what is settled now.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

crate::on_both_backends!(
    the_audit_tail_sends_new_entries_in_order_once_and_resumes_from_a_cursor,
    super::tail_resumes
);
async fn tail_resumes(backend: Backend) {
    let app = spawn(backend, |_| {}).await;
    audit_log_with(&app.db, "tail.before", |_| {}).await;
    let mut socket = Socket::initialised(&app, &app.token).await;
    socket.subscribe("tail", TAIL, json!({})).await;
    settle().await;
    for action in ["tail.one", "tail.two", "tail.three"] {
        audit_log_with(&app.db, action, |_| {}).await;
    }
    let (first, _) = tailed(&mut socket).await;
    let (second, cursor) = tailed(&mut socket).await;
    let (third, _) = tailed(&mut socket).await;
    assert_eq!(
        [first, second, third],
        ["tail.one", "tail.two", "tail.three"]
    );
    stays_quiet(&mut socket, Duration::from_millis(1500)).await;
    // A reconnect resumes after its last cursor: the rest, then what comes.
    let mut again = Socket::initialised(&app, &app.token).await;
    again
        .subscribe("tail", TAIL, json!({"after": cursor}))
        .await;
    assert_eq!(tailed(&mut again).await.0, "tail.three");
    audit_log_with(&app.db, "tail.four", |_| {}).await;
    assert_eq!(tailed(&mut again).await.0, "tail.four");
    assert_eq!(tailed(&mut socket).await.0, "tail.four");
    // A filter narrows it; a cursor of another list is refused, and so is the tail
    // without audit.view.
    let mut filtered = Socket::initialised(&app, &app.token).await;
    filtered
        .subscribe(
            "five",
            "subscription { auditLogTail(filter: {action: \"tail.five\"}) { node { action } } }",
            json!({}),
        )
        .await;
    settle().await;
    audit_log_with(&app.db, "tail.other", |_| {}).await;
    audit_log_with(&app.db, "tail.five", |_| {}).await;
    let pushed = filtered.message().await;
    assert_eq!(
        pushed["payload"],
        json!({"data": {"auditLogTail": {"node": {"action": "tail.five"}}}})
    );
    let (logs, _) = app
        .gql_with(
            Some(&app.token),
            "{ auditLogs(first: 1) { edges { cursor } } }",
            json!({}),
        )
        .await;
    let foreign = logs["data"]["auditLogs"]["edges"][0]["cursor"].clone();
    for (id, cursor) in [
        ("foreign", foreign),
        ("tampered", json!("bm90IGEgY3Vyc29y")),
    ] {
        filtered.subscribe(id, TAIL, json!({"after": cursor})).await;
        let refused = filtered.message().await;
        assert_eq!(
            error_codes(&refused["payload"]),
            ["BAD_USER_INPUT"],
            "{refused}"
        );
        assert_eq!(
            filtered.message().await,
            json!({"id": id, "type": "complete"})
        );
    }
    let viewer = operator_token(&app.db, "viewer@tail.test", &[Capability::ConsoleView]).await;
    let mut socket = Socket::initialised(&app, &viewer).await;
    socket.subscribe("tail", TAIL, json!({})).await;
    let refused = socket.message().await;
    assert_eq!(error_codes(&refused["payload"]), ["FORBIDDEN"], "{refused}");
}

/// Two writers outside the service; the one holding the lower id commits last. The tail
/// holds back the higher entry until the lower one commits, then sends both, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL is not set: PostgreSQL skipped"
)]
async fn the_audit_tail_misses_nothing_when_transactions_commit_out_of_id_order() {
    use sea_orm::TransactionTrait;
    let app = spawn(Backend::Postgres, |_| {}).await;
    let mut socket = Socket::initialised(&app, &app.token).await;
    socket.subscribe("tail", TAIL, json!({})).await;
    settle().await;
    let slow = app.db.begin().await.unwrap();
    let lower = audit_log_with(&slow, "tail.lower", |_| {}).await;
    let fast = app.db.begin().await.unwrap();
    let higher = audit_log_with(&fast, "tail.higher", |_| {}).await;
    assert!(lower.id < higher.id);
    fast.commit().await.unwrap();
    // The higher entry is committed, but the lower one may still come: nothing is sent.
    stays_quiet(&mut socket, Duration::from_secs(3)).await;
    slow.commit().await.unwrap();
    assert_eq!(tailed(&mut socket).await.0, "tail.lower");
    assert_eq!(tailed(&mut socket).await.0, "tail.higher");
    // An entry rolled back is never sent, and holds back nothing once it is.
    let abandoned = app.db.begin().await.unwrap();
    audit_log_with(&abandoned, "tail.abandoned", |_| {}).await;
    audit_log_with(&app.db, "tail.after", |_| {}).await;
    stays_quiet(&mut socket, Duration::from_secs(2)).await;
    abandoned.rollback().await.unwrap();
    assert_eq!(tailed(&mut socket).await.0, "tail.after");
    stays_quiet(&mut socket, Duration::from_millis(1500)).await;
}
