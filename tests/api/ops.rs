//! What an operations team relies on (SPEC §7, §9, §9b): `/metrics`, logs a shipper can
//! read with the request id on every line, a statement timeout, the service started
//! before its database and riding out an outage of it (against a PostgreSQL server the
//! test owns), and two instances on one database keeping every guarantee of one.

use std::process::Command;
use std::time::{Duration, Instant};

use control_tower::auth::Capability;
use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::common::{
    Backend, Launch, Served, TestApp, TestDb, error_codes, operator_token, sample, single_error,
};
use crate::subscriptions::Socket;

const VIEWER: &str = "{ viewer { email } }";

async fn metrics_of(client: &reqwest::Client, url: &str) -> String {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

crate::on_both! {
    async fn metrics_count_what_an_sre_watches(app: TestApp) {
        let saved = control_tower::server::saved_operations()
            .iter()
            .find(|operation| operation.name == "ControlTower")
            .unwrap();
        let tower = &saved.document;
        for _ in 0..2 {
            let answer = app.gql(tower, json!({})).await;
            assert!(answer.get("errors").is_none(), "{answer}");
        }
        app.gql("query MyOwnDashboard { viewer { email } }", json!({})).await;
        app.gql(VIEWER, json!({})).await;
        app.gql_with(None, VIEWER, json!({})).await;
        let deep = format!("{{ viewer {}{} }}", "{ email ".repeat(30), "}".repeat(30));
        app.gql(&deep, json!({})).await;
        let login = "mutation { login(email: \"nobody@ops.test\", password: \"wrong\") { token } }";
        for _ in 0..6 {
            app.gql_with(None, login, json!({})).await;
        }
        let mut socket = Socket::initialised_at(&app.address.to_string(), &app.token).await;
        socket
            .subscribe("live", "subscription { controlTower(window: LAST_24H) { stuckTotal } }", json!({}))
            .await;
        assert_eq!(socket.message().await["type"], "next");

        let metrics = metrics_of(app.client(), &app.url("/metrics")).await;
        let requests = |labels: &str| sample(&metrics, &format!("control_tower_graphql_requests_total{{{labels}}}"));
        assert_eq!(requests(r#"operation="ControlTower",outcome="ok",code="""#), 2.0, "{metrics}");
        // A name outside the saved operations is not a label of its own.
        assert_eq!(requests(r#"operation="other",outcome="ok",code="""#), 1.0, "{metrics}");
        assert!(!metrics.contains("MyOwnDashboard"));
        assert_eq!(requests(r#"operation="anonymous",outcome="ok",code="""#), 1.0);
        // The anonymous viewer without a token, and five wrong passwords.
        assert_eq!(requests(r#"operation="anonymous",outcome="client_error",code="UNAUTHENTICATED""#), 6.0);
        assert_eq!(requests(r#"operation="anonymous",outcome="client_error",code="RATE_LIMITED""#), 1.0);
        assert_eq!(requests(r#"operation="unknown",outcome="client_error",code="QUERY_TOO_COMPLEX""#), 1.0);
        assert_eq!(sample(&metrics, r#"control_tower_queries_refused_total{limit="depth"}"#), 1.0);
        assert_eq!(sample(&metrics, r#"control_tower_logins_total{result="failed"}"#), 5.0);
        assert_eq!(sample(&metrics, r#"control_tower_logins_total{result="throttled"}"#), 1.0);
        // Two requests and a push asked for the same window: one computation.
        assert_eq!(sample(&metrics, r#"control_tower_snapshots_total{result="computed"}"#), 1.0);
        assert_eq!(sample(&metrics, r#"control_tower_snapshots_total{result="hit"}"#), 2.0);
        assert_eq!(sample(&metrics, "control_tower_subscriptions_active"), 1.0);
        assert_eq!(sample(&metrics, "control_tower_graphql_sql_statements_count"), 12.0);
        assert!(sample(&metrics, "control_tower_graphql_sql_statements_sum") >= 10.0);
        assert_eq!(sample(&metrics, r#"control_tower_graphql_request_duration_seconds_count{operation="ControlTower"}"#), 2.0);
        assert!(sample(&metrics, r#"control_tower_db_pool_connections{state="idle"}"#) >= 1.0);
        assert_eq!(sample(&metrics, r#"control_tower_db_pool_connections{state="waiting"}"#), 0.0);
        assert_eq!(sample(&metrics, "control_tower_db_pool_max_connections"), 10.0);
        assert_eq!(sample(&metrics, "control_tower_ready"), 1.0);

        drop(socket);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let metrics = metrics_of(app.client(), &app.url("/metrics")).await;
            if sample(&metrics, "control_tower_subscriptions_active") == 0.0 {
                break;
            }
            assert!(Instant::now() < deadline, "a closed subscription is no longer counted");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

crate::on_both! {
    async fn the_access_line_and_the_loaders_sql_carry_the_request_id(app: TestApp) {
        let workspace = crate::fixtures::workspace(&app.db, "Contoso").await;
        crate::fixtures::tenant(&app.db, workspace.id, "Contoso EU").await;
        // The log is the test process's: the id tells this request's lines apart. Not the
        // port alone: the other backend's variant may have had the same port a moment ago.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let sequence = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let request_id = format!("ops-access-{}-{sequence}", app.address.port());
        let response = app
            .client()
            .post(app.url("/graphql"))
            .bearer_auth(&app.token)
            .header("x-request-id", &request_id)
            .json(&json!({"query": "query Board { tenants(first: 5) { nodes { name workspace { name } } } }"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let logs = crate::common::logs();
        let ours: Vec<&str> = logs
            .lines()
            .filter(|line| line.contains(&format!("request_id=\"{request_id}\"")))
            .collect();
        let access: Vec<&&str> = ours.iter().filter(|line| line.contains("control_tower::access")).collect();
        assert_eq!(access.len(), 1, "one access line per request:\n{}", ours.join("\n"));
        let access = access[0];
        // The client's own operation name, although `/metrics` counts it as `other`; no
        // empty `code` on a success.
        for field in ["status=200", "operation=\"Board\"", "statements=3", "method=\"POST\"", "path=\"/graphql\"", "outcome=\"ok\"", "duration_ms="] {
            assert!(access.contains(field), "{field} in {access}");
        }
        assert!(!access.contains("code="), "{access}");
        assert!(access.contains("operator_id="), "{access}");
        assert!(!access.contains(&app.token), "the token never reaches the log");
        // The workspaces are read by a loader batch on a task of its own: it keeps the
        // request's span.
        assert!(
            ours.iter().any(|line| line.contains("control_tower::sql") && line.contains("\"workspaces\"")),
            "the loader's SQL carries the request id:\n{}",
            ours.join("\n")
        );
    }
}

/// Every line the binary wrote to standard error, parsed: each must be JSON.
fn json_lines(stderr: &str) -> Vec<Value> {
    assert!(
        !stderr.contains('\u{1b}'),
        "no ANSI escape off a terminal:\n{stderr}"
    );
    stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_a_terminal_the_log_is_json_with_the_request_id_on_every_line() {
    let mut served = Served::launch(Launch {
        env: vec![("RUST_LOG", "info,control_tower::sql=trace".to_owned())],
        ..Launch::default()
    });
    let client = reqwest::Client::new();
    let response = client
        .post(served.url("/graphql"))
        .bearer_auth(&served.token)
        .header("x-request-id", "ops-json-1")
        .json(&json!({"query": "query TenantHealthBoard { tenants(first: 3) { nodes { name workspace { name } } } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    served.terminate().await;
    let lines = json_lines(&served.stderr());
    let ours: Vec<&Value> = lines
        .iter()
        .filter(|line| line["span"]["request_id"] == "ops-json-1")
        .collect();
    let access = ours
        .iter()
        .find(|line| line["target"] == "control_tower::access")
        .expect("an access line");
    assert_eq!(access["level"], "INFO");
    assert_eq!(access["status"], 200);
    assert_eq!(access["operation"], "TenantHealthBoard");
    assert_eq!(access["statements"], 3);
    assert!(access["operator_id"].is_u64(), "{access}");
    assert!(access["duration_ms"].is_f64(), "{access}");
    let sql: Vec<&&Value> = ours
        .iter()
        .filter(|line| line["target"] == "control_tower::sql")
        .collect();
    assert_eq!(
        sql.len(),
        3,
        "every statement of the request, the loader's too: {sql:?}"
    );
    assert!(!served.stderr().contains(&served.token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_format_can_be_chosen_and_metrics_served_apart() {
    let mut served = Served::launch(Launch {
        env: vec![
            ("RUST_LOG", "info".to_owned()),
            (
                "CONTROL_TOWER_SYSTEM_CONSOLE__LOG__FORMAT",
                "text".to_owned(),
            ),
            (
                "CONTROL_TOWER_SYSTEM_CONSOLE__METRICS__LISTEN",
                "127.0.0.1:0".to_owned(),
            ),
        ],
        ..Launch::default()
    });
    let metrics_url = served
        .printed
        .iter()
        .find_map(|line| line.strip_prefix("Metrics: "))
        .expect("the metrics address is printed")
        .to_owned();
    let client = reqwest::Client::new();
    let on_main = client.get(served.url("/metrics")).send().await.unwrap();
    assert_eq!(on_main.status(), 404, "metrics are not on the public port");
    let metrics = metrics_of(&client, &metrics_url).await;
    assert_eq!(sample(&metrics, "control_tower_ready"), 1.0);
    client.get(served.url("/healthz")).send().await.unwrap();
    served.terminate().await;
    let stderr = served.stderr();
    assert!(!stderr.contains('\u{1b}'), "no ANSI escape off a terminal");
    let access = stderr
        .lines()
        .find(|line| line.contains("control_tower::access") && line.contains("/healthz"))
        .unwrap_or_else(|| panic!("an access line:\n{stderr}"));
    assert!(
        serde_json::from_str::<Value>(access).is_err(),
        "text, not JSON: {access}"
    );
    assert!(access.contains("request_id="), "{access}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL is not set: PostgreSQL skipped"
)]
async fn a_statement_past_the_timeout_is_cancelled_and_answered_service_unavailable() {
    let app = TestApp::spawn_with(Backend::Postgres, |config| {
        config.database_statement_timeout_ms = 300;
    })
    .await;
    // Another session holds the table, so the request's statement waits on it.
    let admin = sea_orm::Database::connect(&app_database_url(&app).await)
        .await
        .unwrap();
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let lock = admin.begin().await.unwrap();
    lock.execute_unprepared("LOCK TABLE tenants IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let started = Instant::now();
    let answer = app.gql("{ tenants { totalCount } }", json!({})).await;
    let (code, message) = single_error(&answer);
    assert_eq!(code, "SERVICE_UNAVAILABLE", "{answer}");
    assert!(message.contains("ran longer than allowed"), "{message}");
    assert!(
        !message.contains("SELECT") && !message.contains("57014"),
        "{message}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    lock.rollback().await.unwrap();
    let again = app.gql("{ tenants { totalCount } }", json!({})).await;
    assert!(
        again.get("errors").is_none(),
        "the connection went back to the pool: {again}"
    );
}

/// The URL of the database `app` serves.
pub(crate) async fn app_database_url(app: &TestApp) -> String {
    use sea_orm::{ConnectionTrait, Statement};
    let row = app
        .db
        .query_one_raw(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT current_database() AS name",
        ))
        .await
        .unwrap()
        .unwrap();
    let name: String = row.try_get("", "name").unwrap();
    let admin = std::env::var("TEST_DATABASE_URL").unwrap();
    crate::common::replace_database(&admin, &name)
}

pub(crate) async fn poll_until<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "{what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(crate) async fn post(
    client: &reqwest::Client,
    served: &Served,
    token: &str,
    query: &str,
) -> (u16, Value) {
    let response = client
        .post(served.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

pub(crate) async fn status_of(client: &reqwest::Client, url: &str) -> (u16, String) {
    let response = client.get(url).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL is not set: PostgreSQL skipped"
)]
async fn the_service_starts_before_its_database_and_rides_out_an_outage() {
    let cluster = Cluster::create();
    // Started while the database is down: it listens, alive but not ready.
    let mut served = Served::launch(Launch {
        database_url: Some(cluster.url()),
        demo: false,
        until_listening: true,
        env: vec![
            ("RUST_LOG", "warn".to_owned()),
            (
                "CONTROL_TOWER_DATABASE_ACQUIRE_TIMEOUT_MS",
                "1000".to_owned(),
            ),
        ],
        ..Launch::default()
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    assert_eq!(status_of(&client, &served.url("/healthz")).await.0, 200);
    poll_until("a reason on /readyz", Duration::from_secs(10), || async {
        let (status, body) = status_of(&client, &served.url("/readyz")).await;
        status == 503 && body.contains("Connection refused")
    })
    .await;
    let (status, answer) = post(&client, &served, "no-token", VIEWER).await;
    assert_eq!(status, 503);
    assert_eq!(error_codes(&answer), ["SERVICE_UNAVAILABLE"]);

    // The database comes up: the service connects, migrates and is ready by itself.
    cluster.start();
    poll_until(
        "ready once the database answers",
        Duration::from_secs(30),
        || async { status_of(&client, &served.url("/readyz")).await.0 == 200 },
    )
    .await;
    let admin = sea_orm::Database::connect(&cluster.url()).await.unwrap();
    let token = operator_token(&admin, "sre@ops.test", &[Capability::ConsoleView]).await;
    admin.close().await.unwrap();
    let (status, answer) = post(&client, &served, &token, VIEWER).await;
    assert_eq!(
        (status, &answer["data"]["viewer"]["email"]),
        (200, &json!("sre@ops.test")),
        "{answer}"
    );

    // It stops: requests fail fast and say so; the process stays up.
    cluster.stop();
    let started = Instant::now();
    let (_, answer) = post(&client, &served, &token, VIEWER).await;
    assert_eq!(error_codes(&answer), ["SERVICE_UNAVAILABLE"], "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "failed fast: {:?}",
        started.elapsed()
    );
    assert_eq!(status_of(&client, &served.url("/readyz")).await.0, 503);
    assert_eq!(status_of(&client, &served.url("/healthz")).await.0, 200);

    // It returns: the service recovers without a restart.
    cluster.start();
    poll_until(
        "answers again once the database returns",
        Duration::from_secs(30),
        || async {
            post(&client, &served, &token, VIEWER).await.1["data"]["viewer"]["email"]
                == "sre@ops.test"
        },
    )
    .await;

    // SIGTERM while a request waits on the database: the request is answered in full,
    // then the process exits 0.
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let admin = sea_orm::Database::connect(&cluster.url()).await.unwrap();
    let lock = admin.begin().await.unwrap();
    lock.execute_unprepared("LOCK TABLE tenants IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let in_flight = {
        let client = client.clone();
        let url = served.url("/graphql");
        let token = token.clone();
        tokio::spawn(async move {
            let response = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"query": "{ tenants { totalCount } }"}))
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        lock.commit().await.unwrap();
    });
    let (_, exit) = served.terminate().await;
    assert!(
        exit.success(),
        "exit 0 after SIGTERM: {exit:?}\n{}",
        served.stderr()
    );
    let (status, answer) = in_flight.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(answer["data"]["tenants"]["totalCount"], 0, "{answer}");
    release.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL is not set: PostgreSQL skipped"
)]
async fn two_instances_on_one_database_keep_every_guarantee() {
    let database = TestDb::create(Backend::Postgres).await;
    // Started together on an empty database: they take turns to migrate.
    let launch = |demo| Launch {
        database_url: Some(database.url.clone()),
        demo,
        until_listening: true,
        ..Launch::default()
    };
    let mut a = Served::launch(launch(true));
    let mut b = Served::launch(launch(false));
    a.wait_until_ready();
    b.wait_until_ready();
    let client = reqwest::Client::new();
    let admin = database.connect().await;

    // Logout on one instance is honoured by the other at once.
    let (_, out) = post(&client, &a, &a.token, "mutation { logout }").await;
    assert_eq!(out["data"]["logout"], true, "{out}");
    let (_, refused) = post(&client, &b, &a.token, VIEWER).await;
    assert_eq!(error_codes(&refused), ["UNAUTHENTICATED"], "{refused}");

    // The login throttle counts the attempts made on both.
    let wrong = "mutation { login(email: \"target@ops.test\", password: \"wrong\") { token } }";
    for attempt in 0..5 {
        let served = if attempt % 2 == 0 { &a } else { &b };
        let (_, answer) = post(&client, served, "", wrong).await;
        assert_eq!(error_codes(&answer), ["UNAUTHENTICATED"], "{answer}");
    }
    for served in [&a, &b] {
        let (_, answer) = post(&client, served, "", wrong).await;
        assert_eq!(error_codes(&answer), ["RATE_LIMITED"], "{answer}");
    }

    // A break-glass expiry is recorded once, whichever instances see it.
    let elevated = operator_token(
        &admin,
        "glass@ops.test",
        &[Capability::ConsoleView, Capability::BreakGlassUse],
    )
    .await;
    let enter =
        "mutation { enterBreakGlass(reason: \"incident 7\", durationMinutes: 5) { active } }";
    let (_, entered) = post(&client, &a, &elevated, enter).await;
    assert_eq!(
        entered["data"]["enterBreakGlass"]["active"], true,
        "{entered}"
    );
    use sea_orm::ConnectionTrait;
    admin
        .execute_unprepared(
            "UPDATE platform_sessions SET break_glass_expires_at = break_glass_started_at - INTERVAL '1 minute' WHERE break_glass_started_at IS NOT NULL",
        )
        .await
        .unwrap();
    let viewer = "{ viewer { breakGlass { active } } }";
    let requests = (0..8).map(|index| {
        let served = if index % 2 == 0 { &a } else { &b };
        post(&client, served, &elevated, viewer)
    });
    for (_, answer) in futures::future::join_all(requests).await {
        assert_eq!(
            answer["data"]["viewer"]["breakGlass"]["active"], false,
            "{answer}"
        );
    }
    let recorded = admin
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT COUNT(*) AS n FROM audit_logs WHERE action = 'platform.break_glass.expired' AND actor_email = 'glass@ops.test'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(recorded, 1, "recorded exactly once between both instances");

    // `operator disable` ends the operator's sessions on every instance, subscriptions
    // included.
    let disabled = operator_token(&admin, "leaving@ops.test", &[Capability::ConsoleView]).await;
    let mut socket = Socket::initialised_at(&b.address, &disabled).await;
    socket
        .subscribe(
            "live",
            "subscription { controlTower(window: LAST_1H, everySeconds: 1) { stuckTotal } }",
            json!({}),
        )
        .await;
    assert_eq!(socket.message().await["type"], "next");
    let output = Command::new(env!("CARGO_BIN_EXE_control-tower"))
        .args([
            "--database-url",
            &database.url,
            "operator",
            "disable",
            "--email",
            "leaving@ops.test",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for served in [&a, &b] {
        let (_, answer) = post(&client, served, &disabled, VIEWER).await;
        assert_eq!(error_codes(&answer), ["UNAUTHENTICATED"], "{answer}");
    }
    let (code, _) = socket.closed(Duration::from_secs(10)).await;
    assert_eq!(code, 4401);
}
