//! The playground: the page and its assets from the binary under a strict policy, the
//! demo session only on loopback, and the saved operations operators start from (with
//! the fragments dashboards embed) running cleanly against a seeded server on both
//! databases — each returns data without errors (but `login` with wrong credentials),
//! by POST without `operationName`, and the subscription over the WebSocket.

use control_tower::auth::Capability;
use control_tower::seed::{self, SeedPlan};
use control_tower::server::saved_operations;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::common::{TestApp, error_codes, operator_token};
use crate::on_both;

/// Variables for the operations that need some, read from the seeded data.
async fn variables(app: &TestApp, token: &str, name: &str) -> Value {
    let (response, _) = app
        .gql_with(
            Some(token),
            "{ workspaces(first: 1) { nodes { slug } } tenants(first: 1) { nodes { id externalId } } operationRuns(first: 1) { nodes { id } } }",
            json!({}),
        )
        .await;
    let data = &response["data"];
    let tenant = &data["tenants"]["nodes"][0];
    match name {
        "Login" => json!({"email": "nobody@ops.test", "password": "not the password"}),
        "TenantsOverview" => json!({"workspace": data["workspaces"]["nodes"][0]["slug"]}),
        "TenantHealth" => json!({"externalId": tenant["externalId"]}),
        "TenantDetail" => json!({"tenantId": tenant["id"]}),
        "EnterBreakGlass" => json!({"reason": "checking the saved operations"}),
        "MarkInvestigated" => {
            json!({"runId": data["operationRuns"]["nodes"][0]["id"], "note": "checked by the saved operations test"})
        }
        "ControlTowerLive" => json!({"every": 1}),
        _ => json!({}),
    }
}

/// Fails on any error, or on a root field answered null.
fn assert_answered(file: &str, response: &Value) {
    assert!(
        response.get("errors").is_none(),
        "{file}: unexpected errors: {response:#}"
    );
    let data = response["data"]
        .as_object()
        .unwrap_or_else(|| panic!("{file}: no data: {response:#}"));
    assert!(!data.is_empty(), "{file}: empty data");
    for (field, value) in data {
        assert!(!value.is_null(), "{file}: `{field}` is null: {response:#}");
    }
}

on_both! {
    async fn every_saved_operation_runs_against_seeded_data(app: TestApp) {
        // The seeder fills an empty database: the test's operator makes way, and comes
        // back after.
        entity::platform_session::Entity::delete_many().exec(&app.db).await.unwrap();
        entity::platform_user::Entity::delete_many().exec(&app.db).await.unwrap();
        seed::run(&app.db, &SeedPlan::demo(), false).await.unwrap();
        let token = operator_token(&app.db, "playground@control-tower.test", &Capability::ALL).await;
        let saved = saved_operations();
        assert!(saved.len() >= 14, "{} saved operations", saved.len());
        let mut ran = Vec::new();
        // Break-glass is entered before it is exited, and nothing is audited twice.
        let mut ordered = saved.to_vec();
        ordered.sort_by_key(|saved| saved.file != "break-glass-enter.graphql");
        for saved in &ordered {
            let variables = variables(&app, &token, &saved.name).await;
            if saved.ty == async_graphql::parser::types::OperationType::Subscription {
                let response = crate::subscriptions::first_push(&app, &token, &saved.document, variables).await;
                assert_answered(saved.file, &response);
                ran.push(saved.file);
                continue;
            }
            let (response, _) = app.gql_with(Some(&token), &saved.document, variables).await;
            if saved.name == "Login" {
                assert_eq!(error_codes(&response), ["UNAUTHENTICATED"], "{response}");
            } else {
                assert_answered(saved.file, &response);
            }
            ran.push(saved.file);
        }
        assert_eq!(ran.len(), saved.len());
    }
}

/// The settings the page hands its script, read from its JSON data block.
fn page_settings(html: &str) -> Value {
    let start = html
        .find(r#"<script type="application/json" id="control-tower-config">"#)
        .expect("the page has its settings block");
    let rest = &html[start..];
    let json = &rest[rest.find('>').unwrap() + 1..rest.find("</script>").unwrap()];
    serde_json::from_str(json).expect("the settings are JSON")
}

#[tokio::test]
async fn the_playground_is_served_from_the_binary_under_a_strict_policy() {
    let app = TestApp::spawn(crate::common::Backend::Sqlite).await;
    let page = app.client().get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-store");
    let policy = headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{policy}");
    }
    assert!(
        !policy.contains("unsafe-eval") && !policy.contains("unsafe-inline"),
        "{policy}"
    );
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>"), "no inline script");
    let settings = page_settings(&html);
    assert_eq!(
        settings["demoToken"],
        Value::Null,
        "only serve --demo on loopback signs in"
    );
    assert_eq!(settings["subscriptionsUrl"], "/graphql/ws");
    let operations = settings["operations"].as_array().unwrap();
    assert_eq!(
        operations[0]["file"], "control-tower.graphql",
        "the overview first"
    );
    assert_eq!(operations[0]["title"], "Control Tower overview");
    assert_eq!(operations.len(), saved_operations().len());
    // Every file the page and its styles load is embedded, and cached for a year.
    let mut assets: Vec<String> = html
        .split("/assets/")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect();
    assert!(
        assets.iter().any(|asset| asset.ends_with(".js"))
            && assets.iter().any(|asset| asset.ends_with(".css"))
    );
    let mut checked = std::collections::HashSet::new();
    while let Some(asset) = assets.pop() {
        if !checked.insert(asset.clone()) {
            continue;
        }
        let response = app
            .client()
            .get(app.url(&format!("/assets/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        assert_eq!(
            response.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        if asset.ends_with(".css") {
            let css = response.text().await.unwrap();
            assert!(
                !css.contains("http://") && !css.contains("https://"),
                "{asset} loads nothing from elsewhere"
            );
            for url in css.split("url(").skip(1) {
                let url = url.split(')').next().unwrap().trim_matches(['"', '\'']);
                if let Some(name) = url.strip_prefix("/assets/") {
                    assets.push(name.to_owned());
                } else {
                    assert!(url.starts_with("data:"), "{asset} refers to {url}");
                }
            }
        }
    }
    let missing = app
        .client()
        .get(app.url("/assets/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_demo_on_a_loopback_address_starts_signed_in() {
    let client = reqwest::Client::new();
    let served = crate::common::Served::start();
    let html = client
        .get(served.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(page_settings(&html)["demoToken"], served.token.as_str());
    drop(served);
    let exposed = crate::common::Served::start_on("0.0.0.0:0");
    let port = exposed.address.rsplit(':').next().unwrap();
    let html = client
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        page_settings(&html)["demoToken"],
        Value::Null,
        "a reachable server never puts a token in a page"
    );
}
