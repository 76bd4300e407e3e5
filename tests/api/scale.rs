//! Scale-out on PostgreSQL (SPEC §9d), against real servers the tests own: a primary, a
//! streaming replica made with `pg_basebackup -R`, and PgBouncer in transaction mode.
//! Which server ran a statement is read from that server's own statement log: each
//! probe carries a value found in no other statement.

use std::time::Duration;

use control_tower::auth::Capability;
use sea_orm::Database;
use serde_json::{Value, json};

use crate::cluster::{Bouncer, Cluster};
use crate::common::{Launch, Served, error_codes, operator_token};
use crate::ops::{poll_until, post, status_of};
use crate::subscriptions::Socket;

/// A primary and its replica, both logging every statement, running.
fn primary_and_replica() -> (Cluster, Cluster) {
    let primary = Cluster::create().logging_statements();
    primary.start();
    let replica = Cluster::replica_of(&primary);
    replica.start();
    (primary, replica)
}

/// A primary and its replica, and `serve --demo` reading from the replica, skipped
/// beyond `max_lag` seconds, once the replica takes reads.
async fn with_a_replica(max_lag: u32) -> (Cluster, Cluster, Served, reqwest::Client) {
    let (primary, replica) = primary_and_replica();
    let served = serve(
        primary.url(),
        vec![
            ("CONTROL_TOWER_DATABASE_REPLICA_URLS", replica.url()),
            (
                "CONTROL_TOWER_DATABASE_REPLICA_MAX_LAG_SECONDS",
                max_lag.to_string(),
            ),
        ],
        true,
    );
    let client = reqwest::Client::new();
    until_serving(&client, &served, &label(&replica)).await;
    (primary, replica, served, client)
}

/// The replica's label in `/metrics` and `/readyz`.
fn label(replica: &Cluster) -> String {
    format!("127.0.0.1:{}/postgres", replica.port)
}

fn serve(database_url: String, env: Vec<(&str, String)>, demo: bool) -> Served {
    let mut served = Served::launch(Launch {
        database_url: Some(database_url),
        demo,
        env,
        until_listening: true,
        ..Launch::default()
    });
    served.wait_until_ready();
    served
}

async fn metrics(client: &reqwest::Client, served: &Served) -> String {
    client
        .get(served.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of the series `name{labels}` in `/metrics`, if shown.
async fn series(
    client: &reqwest::Client,
    served: &Served,
    name: &str,
    labels: &str,
) -> Option<f64> {
    let text = metrics(client, served).await;
    let prefix = format!("{name}{{{labels}}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|value| value.trim().parse().ok())
}

async fn serving(client: &reqwest::Client, served: &Served, replica: &str) -> Option<f64> {
    let labels = format!("replica=\"{replica}\"");
    series(client, served, "control_tower_db_replica_serving", &labels).await
}

/// Waits until `served` sends reads to `replica`.
async fn until_serving(client: &reqwest::Client, served: &Served, replica: &str) {
    poll_until(
        "the replica takes reads",
        Duration::from_secs(30),
        || async { serving(client, served, replica).await == Some(1.0) },
    )
    .await;
}

/// A query whose statements carry `probe` as a parameter, so the server that ran them
/// shows it in its log.
fn probe(probe: &str) -> String {
    format!(
        "{{ tenants(first: 3, filter: {{ search: \"{probe}\" }}) {{ totalCount nodes {{ id }} }} }}"
    )
}

async fn answered(client: &reqwest::Client, served: &Served, token: &str, query: &str) -> Value {
    let (status, answer) = post(client, served, token, query).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.get("errors").is_none(), "{query}: {answer}");
    answer["data"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL is not set: PostgreSQL skipped"
)]
async fn reads_go_to_the_replica_and_an_operator_reads_their_own_writes_back() {
    let (primary, replica, served, client) = with_a_replica(60).await;

    // A query reads from the replica; its session was read on the primary.
    answered(&client, &served, &served.token, &probe("probe-to-replica")).await;
    assert!(replica.log().contains("probe-to-replica"));
    assert!(!primary.log().contains("probe-to-replica"));
    let target = format!("target=\"{}\"", label(&replica));
    assert!(series(&client, &served, "control_tower_db_reads_total", &target).await >= Some(1.0));

    // With the replica's replay paused, the operator who wrote reads their write back
    // (from the primary); another operator reads the replica, which has not got it.
    let admin = Database::connect(primary.url()).await.unwrap();
    let other = operator_token(&admin, "other@ops.test", &[Capability::ConsoleView]).await;
    let runs = answered(
        &client,
        &served,
        &served.token,
        "{ operationRuns(first: 1) { nodes { id } } }",
    )
    .await;
    let run = runs["operationRuns"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    replica.psql("SELECT pg_wal_replay_pause()");
    let mark = format!(
        "mutation {{ markRunInvestigated(runId: \"{run}\", note: \"read-your-writes\") {{ id }} }}"
    );
    answered(&client, &served, &served.token, &mark).await;
    let notes = format!(
        "{{ node(id: \"{run}\") {{ ... on OperationRun {{ investigations {{ note }} }} }} }}"
    );
    let noted = |data: &Value| {
        data["node"]["investigations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|investigation| investigation["note"] == "read-your-writes")
    };
    assert!(noted(
        &answered(&client, &served, &served.token, &notes).await
    ));
    assert!(!noted(&answered(&client, &served, &other, &notes).await));
    answered(&client, &served, &served.token, &probe("probe-after-write")).await;
    assert!(primary.log().contains("probe-after-write"));
    assert!(!replica.log().contains("probe-after-write"));

    // Once the replica has replayed the write, the writer reads from it again.
    replica.psql("SELECT pg_wal_replay_resume()");
    poll_until(
        "the writer reads from the replica again",
        Duration::from_secs(20),
        || async {
            answered(&client, &served, &served.token, &probe("probe-caught-up")).await;
            replica.log().contains("probe-caught-up")
        },
    )
    .await;
    assert!(noted(&answered(&client, &served, &other, &notes).await));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL is not set: PostgreSQL skipped"
)]
async fn a_lagging_or_stopped_replica_is_skipped_without_an_error() {
    let (primary, replica, served, client) = with_a_replica(1).await;

    // Replay paused while the primary is written to from outside: the lag grows past
    // the limit, and reads move to the primary.
    replica.psql("SELECT pg_wal_replay_pause()");
    primary.psql("CREATE TABLE outside_writes (at timestamptz DEFAULT now())");
    poll_until(
        "the lagging replica is skipped",
        Duration::from_secs(20),
        || async {
            primary.psql("INSERT INTO outside_writes DEFAULT VALUES");
            serving(&client, &served, &label(&replica)).await == Some(0.0)
        },
    )
    .await;
    let lag_labels = format!("replica=\"{}\"", label(&replica));
    let lag = series(
        &client,
        &served,
        "control_tower_db_replica_lag_seconds",
        &lag_labels,
    )
    .await;
    assert!(lag > Some(1.0), "{lag:?}");
    let (status, body) = status_of(&client, &served.url("/readyz")).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(&format!("replica {} skipped", label(&replica))),
        "{body}"
    );
    answered(
        &client,
        &served,
        &served.token,
        &probe("probe-while-lagging"),
    )
    .await;
    assert!(primary.log().contains("probe-while-lagging"));
    assert!(!replica.log().contains("probe-while-lagging"));

    // Caught up, it takes reads again.
    replica.psql("SELECT pg_wal_replay_resume()");
    poll_until("the replica rejoins", Duration::from_secs(20), || async {
        serving(&client, &served, &label(&replica)).await == Some(1.0)
    })
    .await;

    // Stopped: the very next reads are answered, from the primary.
    replica.stop();
    for attempt in 0..3 {
        let probe_value = format!("probe-replica-down-{attempt}");
        answered(&client, &served, &served.token, &probe(&probe_value)).await;
        assert!(primary.log().contains(&probe_value));
    }
    let (status, body) = status_of(&client, &served.url("/readyz")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("not answering"), "{body}");

    // Started again, it rejoins.
    replica.start();
    poll_until(
        "the restarted replica rejoins",
        Duration::from_secs(30),
        || async { serving(&client, &served, &label(&replica)).await == Some(1.0) },
    )
    .await;
    answered(&client, &served, &served.token, &probe("probe-rejoined")).await;
    assert!(replica.log().contains("probe-rejoined"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL is not set: PostgreSQL skipped"
)]
async fn every_feature_answers_through_pgbouncer_in_transaction_mode() {
    let (primary, replica) = primary_and_replica();
    let bouncer = Bouncer::start(&[("primary", &primary), ("replica", &replica)]);
    let env = || {
        vec![
            (
                "CONTROL_TOWER_DATABASE_REPLICA_URLS",
                bouncer.url("replica"),
            ),
            ("CONTROL_TOWER_DATABASE_DIRECT_URL", primary.url()),
        ]
    };
    // Two instances started together: they migrate in turn on the direct connection.
    let mut a = Served::launch(Launch {
        database_url: Some(bouncer.url("primary")),
        until_listening: true,
        env: env(),
        ..Launch::default()
    });
    let mut b = Served::launch(Launch {
        database_url: Some(bouncer.url("primary")),
        env: env(),
        demo: false,
        until_listening: true,
        ..Launch::default()
    });
    a.wait_until_ready();
    b.wait_until_ready();
    let client = reqwest::Client::new();
    until_serving(&client, &a, &bouncer_label(&bouncer)).await;
    let token = a.token.clone();

    // Queries, many at once on both instances, so that the pooler's server connections
    // are shared between clients.
    let queries = [
        "{ tenants(first: 50) { totalCount nodes { name workspace { name } providerConnections { provider status } permissions { key status } health { level signals { __typename } } } } }",
        "{ controlTower(window: LAST_24H) { stuckTotal runs { total failed stuck } topFailingTenants { tenant { name } failed } tenantHealth { healthy warning critical unknown } } }",
        "{ operationRuns(first: 20, filter: { stuck: true }) { totalCount nodes { id status isStuck } } }",
        "{ viewer { email capabilities } }",
    ];
    let requests = (0..48).map(|index| {
        let served = if index % 2 == 0 { &a } else { &b };
        post(&client, served, &token, queries[index % queries.len()])
    });
    for (status, answer) in futures::future::join_all(requests).await {
        assert_eq!(status, 200, "{answer}");
        assert!(answer.get("errors").is_none(), "{answer}");
    }
    assert!(
        series(
            &client,
            &a,
            "control_tower_db_reads_total",
            &format!("target=\"{}\"", bouncer_label(&bouncer))
        )
        .await
            >= Some(1.0)
    );

    // Mutations.
    let runs = answered(
        &client,
        &a,
        &token,
        "{ operationRuns(first: 1) { nodes { id } } }",
    )
    .await;
    let run = runs["operationRuns"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mark = format!(
        "mutation {{ markRunInvestigated(runId: \"{run}\", note: \"via the pooler\") {{ investigations {{ note }} }} }}"
    );
    let marked = answered(&client, &b, &token, &mark).await;
    assert_eq!(
        marked["markRunInvestigated"]["investigations"][0]["note"],
        "via the pooler"
    );

    // A subscription, ticking through the pooler.
    let mut socket = Socket::initialised_at(&b.address, &token).await;
    socket
        .subscribe(
            "tower",
            "subscription { controlTower(window: LAST_1H, everySeconds: 1) { stuckTotal } }",
            json!({}),
        )
        .await;
    let message = socket.message().await;
    assert_eq!(message["type"], "next", "{message}");

    // The login throttle counts the attempts made on both instances.
    let wrong = "mutation { login(email: \"target@ops.test\", password: \"wrong\") { token } }";
    for attempt in 0..5 {
        let served = if attempt % 2 == 0 { &a } else { &b };
        let (_, answer) = post(&client, served, "", wrong).await;
        assert_eq!(error_codes(&answer), ["UNAUTHENTICATED"], "{answer}");
    }
    let (_, answer) = post(&client, &b, "", wrong).await;
    assert_eq!(error_codes(&answer), ["RATE_LIMITED"], "{answer}");

    // Logout on one instance is honoured by the other at once.
    let (_, out) = post(&client, &a, &token, "mutation { logout }").await;
    assert_eq!(out["data"]["logout"], true, "{out}");
    let (_, refused) = post(&client, &b, &token, "{ viewer { email } }").await;
    assert_eq!(error_codes(&refused), ["UNAUTHENTICATED"], "{refused}");

    for (name, log) in [
        ("PgBouncer", bouncer.log()),
        ("the primary", primary.log()),
        ("the replica", replica.log()),
    ] {
        let lines: Vec<&str> = log.lines().collect();
        let failed: Vec<&str> = lines
            .iter()
            .enumerate()
            .filter(|(_, line)| line.contains("prepared statement") || line.contains("ERROR"))
            .flat_map(|(at, _)| {
                lines[at.saturating_sub(3)..(at + 2).min(lines.len())]
                    .iter()
                    .copied()
            })
            .collect();
        assert!(failed.is_empty(), "{name}'s log:\n{}", failed.join("\n"));
    }
}

/// The label of the replica behind the pooler.
fn bouncer_label(bouncer: &Bouncer) -> String {
    format!("127.0.0.1:{}/replica", bouncer.port)
}
