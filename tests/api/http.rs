//! The HTTP surface: GET and POST, media types, refusals before execution, probes.

use serde_json::{Value, json};

use crate::common::{Backend, TestApp, single_error};
use crate::on_both;

on_both! {
    async fn queries_can_be_sent_with_get(app: TestApp) {
        let response = app
            .client()
            .get(app.url("/graphql"))
            .bearer_auth(&app.token)
            .query(&[("query", "{ settings { maxPageSize } }")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(crate::common::without_cost(body), json!({"data": {"settings": {"maxPageSize": 100}}}));
    }
}

#[tokio::test]
async fn the_graphql_response_media_type_is_honoured() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app
        .client()
        .post(app.url("/graphql"))
        .bearer_auth(&app.token)
        .header("accept", "application/graphql-response+json")
        .json(&json!({"query": "{ settings { maxPageSize } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/graphql-response+json"
    );
    let invalid = app
        .client()
        .post(app.url("/graphql"))
        .bearer_auth(&app.token)
        .header("accept", "application/graphql-response+json")
        .json(&json!({"query": "{ nosuch }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        invalid.status(),
        400,
        "a request error is a 400 under graphql-response+json"
    );
}

#[tokio::test]
async fn unreadable_requests_are_refused_with_a_graphql_error() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let post = |body: &'static str, content_type: &'static str| {
        app.client()
            .post(app.url("/graphql"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    for (body, content_type, status) in [
        ("{not json", "application/json", 400),
        ("[1, 2]", "application/json", 400),
        ("{\"query\": 5}", "application/json", 400),
        ("{\"query\": \"\"}", "application/json", 400),
        ("{ settings { maxPageSize } }", "text/plain", 415),
    ] {
        let response = post(body, content_type).await.unwrap();
        assert_eq!(response.status(), status, "{body}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(single_error(&body).0, "BAD_USER_INPUT");
    }
}

#[tokio::test]
async fn an_oversized_body_is_refused() {
    let app = TestApp::spawn_with(Backend::Sqlite, |config| {
        config.system_console.limits.max_body_bytes = 1_000
    })
    .await;
    let query = format!("{{ settings {{ maxPageSize }} }} # {}", "x".repeat(2_000));
    let response = app
        .client()
        .post(app.url("/graphql"))
        .json(&json!({"query": query}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    let (code, message) = single_error(&body);
    assert_eq!(code, "BAD_USER_INPUT");
    assert_eq!(message, "the request body exceeds 1000 bytes");
}

#[tokio::test]
async fn deep_wide_and_aliased_documents_are_refused_before_any_sql() {
    let app = TestApp::spawn_with(Backend::Sqlite, |config| {
        config.system_console.limits.max_depth = 5;
        config.system_console.limits.max_aliases = 3;
        config.system_console.limits.max_root_fields = 4;
    })
    .await;
    let deep = "{ tenants { nodes { workspace { tenants { nodes { workspace { name } } } } } } }";
    let aliases = "{ a: settings { maxPageSize } b: settings { maxPageSize } c: settings { maxPageSize } d: settings { maxPageSize } }";
    let fragments = "{ settings { ...F } } fragment F on ConsoleSettings { a: maxPageSize b: maxPageSize c: maxPageSize d: maxPageSize }";
    let wide = "{ settings { maxPageSize } workspaces { totalCount } tenants { totalCount } operationRuns { totalCount } auditLogs { totalCount } }";
    for query in [deep, aliases, fragments, wide] {
        let (response, statements) = app.gql_counted(query, json!({})).await;
        assert_eq!(
            single_error(&response).0,
            "QUERY_TOO_COMPLEX",
            "{query}: {response}"
        );
        assert_eq!(statements, 0, "{query}");
    }
}

#[tokio::test]
async fn several_operations_need_an_operation_name() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let document = "query A { settings { maxPageSize } } query B { settings { staleCheckHours } }";
    let response = app.gql(document, json!({})).await;
    assert_eq!(single_error(&response).0, "BAD_USER_INPUT");
    let response = app
        .client()
        .post(app.url("/graphql"))
        .bearer_auth(&app.token)
        .json(&json!({"query": document, "operationName": "B"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        crate::common::without_cost(response),
        json!({"data": {"settings": {"staleCheckHours": 24}}})
    );
}

#[tokio::test]
async fn response_fields_follow_the_order_of_the_query() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    crate::fixtures::workspace(&app.db, "Acme").await;
    let response = app
        .client()
        .post(app.url("/graphql"))
        .bearer_auth(&app.token)
        .json(&json!({"query": "{ workspaces { totalCount nodes { slug memberships { role } name } pageInfo { hasNextPage } } settings { maxPageSize } }"}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The fields in the query's order, then what it cost.
    let expected = r#"{"data":{"workspaces":{"totalCount":1,"nodes":[{"slug":"acme","memberships":[],"name":"Acme"}],"pageInfo":{"hasNextPage":false}},"settings":{"maxPageSize":100}},"extensions":{"cost":{"#;
    assert!(response.starts_with(expected), "{response}");
}

#[tokio::test]
async fn health_and_readiness_probes_answer() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let health = app.client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.client().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

/// The database refusing connections: requests fail fast with `SERVICE_UNAVAILABLE`,
/// `/readyz` says so, the process stays up, and it recovers by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL is not set: PostgreSQL skipped"
)]
async fn a_database_that_is_down_is_service_unavailable_until_it_returns() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn(Backend::Postgres).await;
    let name: String = {
        let row = app
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT current_database() AS name",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get("", "name").unwrap()
    };
    let admin = sea_orm::Database::connect(std::env::var("TEST_DATABASE_URL").unwrap())
        .await
        .unwrap();
    let down = format!(
        "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid();"
    );
    admin.execute_unprepared(&down).await.unwrap();

    let started = std::time::Instant::now();
    let response = app.gql("{ tenants { totalCount } }", json!({})).await;
    assert_eq!(
        crate::common::error_codes(&response),
        vec!["SERVICE_UNAVAILABLE"],
        "{response}"
    );
    assert!(
        !response.to_string().contains("pg_"),
        "no database internals: {response}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "fails fast"
    );
    let ready = app.client().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let alive = app.client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(alive.status(), 200);

    admin
        .execute_unprepared(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"))
        .await
        .unwrap();
    let mut recovered = false;
    for _ in 0..50 {
        let response = app.gql("{ tenants { totalCount } }", json!({})).await;
        if response.get("errors").is_none() {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(recovered, "the service recovers once the database is back");
    assert_eq!(
        app.client()
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
