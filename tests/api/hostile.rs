//! Documents written to hurt (SPEC §9): each is answered with a clear client error, at
//! once, before any SQL; the process lives on, its memory bounded, its probes answering,
//! and it still stops on SIGTERM while they keep coming.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{Backend, TestApp, error_codes, single_error};
use crate::fixtures::*;
use crate::on_both;

const TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
const BAD_INPUT: &str = "BAD_USER_INPUT";
/// Levels of nesting: past where async-graphql's parser used to overflow a worker's
/// stack (about 1,700).
const DEEP: usize = 2_000;

/// A request body and the code every error of its answer must carry.
pub struct Hostile {
    pub name: &'static str,
    pub body: String,
    pub code: &'static str,
}

fn document(name: &'static str, query: String, code: &'static str) -> Hostile {
    Hostile {
        name,
        body: json!({ "query": query }).to_string(),
        code,
    }
}

/// `F0` one field, each next fragment spreading the one before twice: `levels` - 1
/// doublings.
pub fn fragment_bomb(levels: usize) -> String {
    let mut query = format!("{{ settings {{ ...F{} }} }}\n", levels - 1);
    query.push_str("fragment F0 on ConsoleSettings { maxPageSize }\n");
    for level in 1..levels {
        let below = level - 1;
        query.push_str(&format!(
            "fragment F{level} on ConsoleSettings {{ ...F{below} ...F{below} }}\n"
        ));
    }
    query
}

/// `length` fragments, each spreading the next.
fn fragment_chain(length: usize) -> String {
    let mut query = String::from("{ ...C0 }\n");
    for index in 0..length {
        query.push_str(&format!(
            "fragment C{index} on Query {{ ...C{} }}\n",
            index + 1
        ));
    }
    query.push_str(&format!("fragment C{length} on Query {{ __typename }}\n"));
    query
}

/// Every hostile request of the suite.
pub fn hostile_requests() -> Vec<Hostile> {
    let open = |text: &str| text.repeat(DEEP);
    let aliases: Vec<String> = (0..1_000)
        .map(|index| format!("a{index}: __typename"))
        .collect();
    let variables: Vec<String> = (0..3_000).map(|index| format!("$v{index}: Int")).collect();
    let logins: Vec<String> = (0..20)
        .map(|index| format!("l{index}: login(email: \"a@b.c\", password: \"pw\") {{ token }}"))
        .collect();
    let deep_json = format!(
        r#"{{"query": "query($f: TenantFilter) {{ tenants(filter: $f) {{ totalCount }} }}", "variables": {{"f": {}1{}}}}}"#,
        "[".repeat(DEEP),
        "]".repeat(DEEP)
    );
    let aliased_fragment = format!(
        "{{ ...Twice }} fragment Twice on Query {{ ...Ten ...Ten ...Ten ...Ten }} fragment Ten on Query {{ {} }}",
        (0..10)
            .map(|index| format!("t{index}: __typename"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    vec![
        document(
            "deep list",
            format!("{{ __typename @skip(if: {}true{}) }}", open("["), open("]")),
            TOO_COMPLEX,
        ),
        document(
            "deep input object",
            format!("{{ tenants(filter: {}\"x\"{}) {{ totalCount }} }}", open("{search: "), open("}")),
            TOO_COMPLEX,
        ),
        document(
            "deep selection",
            format!("{{ {}__typename{} }}", open("viewer { "), open(" }")),
            TOO_COMPLEX,
        ),
        document(
            "deep inline fragments",
            format!("{{ {}__typename{} }}", open("... on Query { "), open(" }")),
            TOO_COMPLEX,
        ),
        document(
            "deep variable type",
            format!("query($v: {}Int{}) {{ __typename }}", open("["), open("]")),
            TOO_COMPLEX,
        ),
        document("fragment bomb, 2^40 selections", fragment_bomb(41), TOO_COMPLEX),
        document("fragment chain", fragment_chain(1_500), TOO_COMPLEX),
        document(
            "fragment cycle with fan-out",
            "{ ...A } fragment A on Query { ...B ...B } fragment B on Query { ...A ...A }".to_owned(),
            BAD_INPUT,
        ),
        document(
            "directives on a field",
            format!("{{ settings {} {{ maxPageSize }} }}", "@skip(if: false) ".repeat(1_000)),
            TOO_COMPLEX,
        ),
        document(
            "directives on an operation",
            format!("query {} {{ settings {{ maxPageSize }} }}", "@skip(if: false) ".repeat(1_000)),
            TOO_COMPLEX,
        ),
        document(
            "directives on a fragment spread",
            format!(
                "{{ ...S {} }} fragment S on Query {{ __typename }}",
                "@include(if: true) ".repeat(1_000)
            ),
            TOO_COMPLEX,
        ),
        document("alias flood", format!("{{ {} }}", aliases.join(" ")), TOO_COMPLEX),
        document("aliases through fragments", aliased_fragment, TOO_COMPLEX),
        document(
            "thousands of variables",
            format!("query({}) {{ settings {{ maxPageSize }} }}", variables.join(", ")),
            BAD_INPUT,
        ),
        Hostile {
            name: "deep variables",
            body: deep_json,
            code: BAD_INPUT,
        },
        document(
            "huge integer",
            "{ tenants(first: 99999999999999999999999999999999) { totalCount } }".to_owned(),
            BAD_INPUT,
        ),
        document(
            "huge float",
            "{ tenants(first: 1e999) { totalCount } }".to_owned(),
            BAD_INPUT,
        ),
        Hostile {
            name: "huge number in variables",
            body: r#"{"query": "query($n: Int) { tenants(first: $n) { totalCount } }", "variables": {"n": 1e999}}"#.to_owned(),
            code: BAD_INPUT,
        },
        Hostile {
            name: "long integer in variables",
            body: r#"{"query": "query($n: Int) { tenants(first: $n) { totalCount } }", "variables": {"n": 123456789012345678901234567890}}"#.to_owned(),
            code: BAD_INPUT,
        },
        document(
            "a default value of a type the schema lacks",
            "query($v: [Nope] = [1]) { __typename }".to_owned(),
            BAD_INPUT,
        ),
        document(
            "long document",
            format!("{{ __typename }} #{}", "x".repeat(100_000)),
            TOO_COMPLEX,
        ),
        document(
            "twenty logins",
            format!("mutation {{ {} }}", logins.join(" ")),
            BAD_INPUT,
        ),
    ]
}

/// Sends every hostile request, anonymously and with a token, and checks each answer.
async fn answers_every_hostile_request(app: &TestApp) {
    for hostile in hostile_requests() {
        for token in [None, Some(app.token.as_str())] {
            let started = Instant::now();
            let (status, response, statements) = app.post_body(token, hostile.body.clone()).await;
            let elapsed = started.elapsed();
            let codes = error_codes(&response);
            assert!(
                !codes.is_empty() && codes.iter().all(|code| code == hostile.code),
                "{}: expected {} errors, got {status} {}",
                hostile.name,
                hostile.code,
                abbreviated(&response)
            );
            assert!(status == 200 || status == 400, "{}: {status}", hostile.name);
            assert_eq!(
                response.get("data").cloned().unwrap_or(Value::Null),
                Value::Null,
                "{}",
                hostile.name
            );
            assert!(
                codes.len() <= 100,
                "{}: {} errors",
                hostile.name,
                codes.len()
            );
            assert_eq!(statements, 0, "{}: refused before any SQL", hostile.name);
            // Minutes of work before, milliseconds now; the ceiling is generous for a
            // shared machine running a debug build.
            assert!(
                elapsed < Duration::from_secs(5),
                "{} took {elapsed:?}",
                hostile.name
            );
        }
    }
    let alive = app.data("{ settings { maxPageSize } }", json!({})).await;
    assert_eq!(alive["settings"]["maxPageSize"], json!(100));
}

fn abbreviated(response: &Value) -> String {
    let text = response.to_string();
    text.chars().take(400).collect()
}

on_both! {
    async fn hostile_documents_get_a_clear_error_before_any_sql(app: TestApp) {
        answers_every_hostile_request(&app).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_documents_sent_by_get_are_refused_the_same_way() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for (query, code) in [
        (fragment_bomb(41), TOO_COMPLEX),
        (
            format!(
                "{{ __typename @skip(if: {}true{}) }}",
                "[".repeat(DEEP),
                "]".repeat(DEEP)
            ),
            TOO_COMPLEX,
        ),
        (fragment_chain(1_500), TOO_COMPLEX),
    ] {
        let response: Value = app
            .client()
            .get(app.url("/graphql"))
            .bearer_auth(&app.token)
            .query(&[("query", query.as_str())])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            single_error(&response).0,
            code,
            "{}",
            abbreviated(&response)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fragment_bomb_names_its_expansion() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app.gql(&fragment_bomb(41), json!({})).await;
    assert_eq!(
        single_error(&response),
        (
            TOO_COMPLEX.to_owned(),
            "the document expands to 3298534883328 selections once its fragments are spread; at most 5000 are allowed".to_owned()
        )
    );
    let small = app.data(&fragment_bomb(8), json!({})).await;
    assert_eq!(
        small,
        json!({"settings": {"maxPageSize": 100}}),
        "a fragment spread twice merges"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_lists_of_errors_are_cut_short() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let variables: Vec<String> = (0..3_000).map(|index| format!("$v{index}: Int")).collect();
    let query = format!(
        "query({}) {{ settings {{ maxPageSize }} }}",
        variables.join(", ")
    );
    let response = app.gql(&query, json!({})).await;
    let errors = response["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 100);
    assert_eq!(
        errors[99]["message"],
        json!("2901 more errors are not listed; fix these first")
    );
}

/// Documents nested as deep as the configuration allows at most pass through every
/// recursive step — parse, validation, execution — on workers with a quarter of the
/// service's stack.
#[test]
fn the_deepest_admitted_documents_fit_in_a_quarter_of_the_stack() {
    use control_tower::config::{MAX_DEPTH_CEILING, MAX_NESTING_CEILING};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(control_tower::config::WORKER_STACK_BYTES / 4)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let levels = MAX_NESTING_CEILING as usize;
        let app = TestApp::spawn_with(Backend::Sqlite, |config| {
            let limits = &mut config.system_console.limits;
            limits.max_nesting = MAX_NESTING_CEILING;
            limits.max_depth = MAX_DEPTH_CEILING;
        })
        .await;
        let acme = workspace(&app.db, "Acme").await;
        tenant(&app.db, acme.id, "Contoso").await;
        let inner = levels - 2;
        let lists = format!(
            "{{ __typename @include(if: {}true{}) }}",
            "[".repeat(inner),
            "]".repeat(inner)
        );
        let objects = format!(
            "{{ tenants(filter: {}\"x\"{}) {{ totalCount }} }}",
            "{search: ".repeat(inner - 1),
            "}".repeat(inner - 1)
        );
        let inline = format!(
            "{{ {}__typename{} }}",
            "... on Query { ".repeat(inner),
            " }".repeat(inner)
        );
        let chain = fragment_chain(levels - 1);
        // Workspace → tenants → nodes → workspace …: three levels a round, executed
        // against real rows, as deep as `max_depth` allows.
        let rounds = (MAX_DEPTH_CEILING as usize - 2) / 3;
        let selections = format!(
            "{{ workspace(slug: \"acme\") {{ {} name {} }} }}",
            "tenants(first: 1) { nodes { workspace { ".repeat(rounds),
            "} } } ".repeat(rounds)
        );
        for (name, query) in [
            ("lists", lists),
            ("objects", objects),
            ("inline fragments", inline),
            ("fragment chain", chain),
            ("selections", selections),
        ] {
            let response = app.gql(&query, json!({})).await;
            let codes = error_codes(&response);
            assert!(
                codes.iter().all(|code| code == BAD_INPUT),
                "{name}: admitted, then refused or answered: {}",
                abbreviated(&response)
            );
            if name == "selections" {
                assert!(codes.is_empty(), "{}", abbreviated(&response));
                let mut node = &response["data"]["workspace"];
                for _ in 0..rounds {
                    node = &node["tenants"]["nodes"][0]["workspace"];
                }
                assert_eq!(node["name"], json!("Acme"));
            }
        }
    });
}

on_both! {
    async fn nul_characters_are_refused_before_any_statement_uses_them(app: TestApp) {
        let acme = workspace(&app.db, "Acme").await;
        let run = run_with(&app.db, acme.id, None, |_| {}).await;
        let run_id = control_tower::graphql::ids::NodeKind::OperationRun.id(run.id);
        let nul = "abc\u{0}def";
        let cases = [
            ("query($t: String) { tenants(filter: {search: $t}) { totalCount } }", json!({"t": nul})),
            ("query($t: String) { workspaces(filter: {search: $t}) { totalCount } }", json!({"t": nul})),
            ("query($t: String) { tenants(filter: {environment: $t}) { totalCount } }", json!({"t": nul})),
            ("query($t: String!) { operationRuns(filter: {types: [$t]}) { totalCount } }", json!({"t": nul})),
            ("query($t: String) { workspace(slug: $t) { name } }", json!({"t": nul})),
            ("query($t: String) { tenant(externalId: $t) { name } }", json!({"t": nul})),
            ("query($t: String!) { accessLogs(filter: {actions: [$t]}) { totalCount } }", json!({"t": nul})),
            ("query($t: String) { auditLogs(filter: {action: $t}) { totalCount } }", json!({"t": nul})),
            ("{ tenants(filter: {search: \"abc\\u0000\"}) { totalCount } }", json!({})),
            ("mutation($t: String!) { enterBreakGlass(reason: $t) { active } }", json!({"t": "a good reason\u{0}"})),
            ("mutation($id: ID!, $t: String!) { markRunInvestigated(runId: $id, note: $t) { id } }", json!({"id": run_id, "t": "looked into it\u{0}"})),
        ];
        for (query, variables) in cases {
            let (response, statements) = app.gql_counted(query, variables).await;
            let (code, message) = single_error(&response);
            assert_eq!(code, BAD_INPUT, "{query}: {response}");
            assert!(message.contains("NUL"), "{query}: {message}");
            assert!(statements <= 1, "{query}: only the session was looked up, not {statements}");
        }
        use sea_orm::{EntityTrait, PaginatorTrait};
        assert_eq!(entity::audit_log::Entity::find().count(&app.db).await.unwrap(), 0, "nothing written");
    }
}

on_both! {
    async fn enum_values_must_be_written_as_enum_values(app: TestApp) {
        let (response, statements) = app.gql_counted("{ controlTower(window: \"LAST_1H\") { stuckTotal } }", json!({})).await;
        assert_eq!(
            single_error(&response),
            (BAD_INPUT.to_owned(), "`window` of `controlTower` is a TimeWindow value: write it without quotes, as LAST_1H rather than \"LAST_1H\"".to_owned())
        );
        assert_eq!(statements, 0);
        let refused = app.gql("{ tenants(filter: {statuses: [\"ACTIVE\"]}) { totalCount } }", json!({})).await;
        assert_eq!(single_error(&refused).0, BAD_INPUT);
        let literal = app.data("{ controlTower(window: LAST_1H) { stuckTotal } }", json!({})).await;
        assert_eq!(literal["controlTower"]["stuckTotal"], json!(0));
        let variable = app
            .data("query($w: TimeWindow, $s: [TenantStatus!]) { controlTower(window: $w) { stuckTotal } tenants(filter: {statuses: $s}) { totalCount } }", json!({"w": "LAST_1H", "s": ["ACTIVE"]}))
            .await;
        assert_eq!(variable["tenants"]["totalCount"], json!(0));
    }
}

on_both! {
    async fn one_login_per_request(app: TestApp) {
        let query = "mutation { a: login(email: \"a@ops.test\", password: \"one\") { token } b: login(email: \"a@ops.test\", password: \"two\") { token } }";
        let (response, statements) = app.gql_with(None, query, json!({})).await;
        assert_eq!(
            single_error(&response),
            (BAD_INPUT.to_owned(), "the operation logs in 2 times; send one `login` per request".to_owned())
        );
        assert_eq!(statements, 0, "no password was checked");
        let spread = "mutation { ...L ...L } fragment L on Mutation { login(email: \"a@ops.test\", password: \"one\") { token } }";
        let (response, _) = app.gql_with(None, spread, json!({})).await;
        assert_eq!(single_error(&response).0, BAD_INPUT);
    }
}

on_both! {
    async fn logging_out_twice_in_one_request_is_audited_once(app: TestApp) {
        let response = app.gql("mutation { logout again: logout }", json!({})).await;
        assert_eq!(response["data"], json!({"logout": true, "again": true}), "{response}");
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let logouts = entity::audit_log::Entity::find()
            .filter(entity::audit_log::Column::Action.eq("platform.auth.logout"))
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(logouts, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_never_cached_or_sniffed() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let login = app
        .client()
        .post(app.url("/graphql"))
        .json(&json!({"query": "mutation { login(email: \"a@ops.test\", password: \"pw\") { token } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.headers()["cache-control"], "no-store");
    assert_eq!(login.headers()["x-content-type-options"], "nosniff");
    for path in [
        "/graphql?query=%7B__typename%7D",
        "/healthz",
        "/readyz",
        "/nowhere",
    ] {
        let response = app.client().get(app.url(path)).send().await.unwrap();
        assert_eq!(
            response.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
    }
    let refused = app
        .client()
        .post(app.url("/graphql"))
        .header("content-type", "text/plain")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.headers()["cache-control"], "no-store");
}

/// Sends hostile requests in a loop until `stop` is set.
fn attack(
    url: String,
    token: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let requests = hostile_requests();
        let mut sent = 0u64;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            for (index, hostile) in requests.iter().enumerate() {
                let mut request = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(hostile.body.clone());
                if index % 2 == 0 {
                    request = request.bearer_auth(&token);
                }
                if request.send().await.is_ok() {
                    sent += 1;
                }
            }
        }
        sent
    })
}

/// The process under attack: its health probe keeps answering, its memory stays
/// bounded, and SIGTERM still stops it at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_outlasts_hostile_traffic_and_still_stops_on_sigterm() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let mut served = crate::common::Served::start();
    let stop = Arc::new(AtomicBool::new(false));
    let attackers: Vec<_> = (0..4)
        .map(|_| attack(served.url("/graphql"), served.token.clone(), stop.clone()))
        .collect();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    for _ in 0..30 {
        let health = client.get(served.url("/healthz")).send().await;
        assert!(
            health.is_ok_and(|response| response.status() == 200),
            "/healthz answers within 2 s while hostile documents arrive\n{}",
            served.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        served.child.try_wait().unwrap().is_none(),
        "still running\n{}",
        served.stderr()
    );
    let peak = served.peak_memory_kib();
    assert!(peak < 256 * 1024, "peak memory {peak} KiB");
    let answered = client
        .post(served.url("/graphql"))
        .bearer_auth(&served.token)
        .json(&json!({"query": "{ settings { maxPageSize } }"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(answered["data"]["settings"]["maxPageSize"], json!(100));

    let (took, status) = served.terminate().await;
    assert!(
        took < Duration::from_secs(15),
        "SIGTERM stops the service while hostile documents arrive\n{}",
        served.stderr()
    );
    stop.store(true, Ordering::Relaxed);
    assert!(
        status.success(),
        "exit status {status}\n{}",
        served.stderr()
    );
    let mut sent = 0;
    for attacker in attackers {
        sent += attacker.await.unwrap();
    }
    assert!(sent > 50, "the attack reached the server ({sent} requests)");
}
