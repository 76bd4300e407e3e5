//! What a query costs, in every answer, and each caller's budget (SPEC §9e): over real
//! HTTP, against a real database.

use std::time::Duration;

use control_tower::auth::Capability;
use serde_json::{Value, json};

use crate::common::{Launch, Served, TestApp, operator_token};
use crate::fixtures::*;
use crate::on_both;

/// Twelve tenants: the page of [`PAGE`] comes back full.
async fn twelve_tenants(app: &TestApp) {
    let group = workspace(&app.db, "Costs").await;
    tenants_with_children(&app.db, group.id, "Tenant", 12, 0, 0).await;
}

/// Requested: 1 + 12 × (totalCount 1 + nodes (1 + id 1 + name 1)) = 49.
const PAGE: &str = "{ tenants(first: 12) { totalCount nodes { id name } } }";
const PAGE_COST: u64 = 49;

/// Posts `query` as `token`; the status, `Retry-After`, statement count and answer.
async fn post(app_url: &str, token: &str, query: &str) -> (u16, Option<u64>, u64, Value) {
    let response = reqwest::Client::new()
        .post(format!("{app_url}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok())
    };
    let retry_after = header("retry-after");
    let statements = header("x-sql-statements").unwrap();
    (
        status,
        retry_after,
        statements,
        response.json().await.unwrap(),
    )
}

fn cost_of(response: &Value) -> &Value {
    &response["extensions"]["cost"]
}

on_both! {
    async fn every_answer_says_what_it_asked_for_what_it_cost_and_what_is_left(app: TestApp) {
        twelve_tenants(&app).await;
        let base = app.url("");
        let (status, _, _, response) = post(&base, &app.token, PAGE).await;
        assert_eq!(status, 200);
        assert!(response.get("errors").is_none(), "{response:#}");
        let cost = cost_of(&response);
        assert_eq!(cost["requestedQueryCost"], json!(PAGE_COST), "{response:#}");
        assert_eq!(cost["actualQueryCost"], json!(PAGE_COST), "a full page costs what it asked for");
        let throttle = &cost["throttleStatus"];
        assert_eq!(throttle["maximumAvailable"], json!(1_000_000.0));
        assert_eq!(throttle["restoreRate"], json!(50_000.0));
        let available = throttle["currentlyAvailable"].as_f64().unwrap();
        assert!(
            (1_000_000.0 - PAGE_COST as f64..=1_000_000.0).contains(&available),
            "{available}"
        );

        // Asked for 50, twelve exist: charged for twelve.
        let (_, _, _, response) =
            post(&base, &app.token, "{ tenants(first: 50) { nodes { name } } }").await;
        let cost = cost_of(&response);
        assert_eq!(cost["requestedQueryCost"], json!(1 + 50 * 2), "{response:#}");
        assert_eq!(cost["actualQueryCost"], json!(1 + 12 * 2));

        // An empty answer, and a refused field, cost less than they asked.
        let (_, _, _, response) = post(
            &base,
            &app.token,
            "{ tenants(first: 5, filter: {search: \"no such tenant\"}) { nodes { name } } }",
        )
        .await;
        assert!(response.get("errors").is_none(), "{response:#}");
        assert_eq!(cost_of(&response)["requestedQueryCost"], json!(11));
        assert_eq!(cost_of(&response)["actualQueryCost"], json!(2));
        let viewer = operator_token(&app.db, "viewer@control-tower.test", &[Capability::ConsoleView]).await;
        let (_, _, _, response) = post(&base, &viewer, "{ auditLogs(first: 5) { nodes { id } } }").await;
        assert_eq!(response["errors"][0]["extensions"]["code"], "FORBIDDEN", "{response:#}");
        assert_eq!(cost_of(&response)["requestedQueryCost"], json!(11));
        assert_eq!(cost_of(&response)["actualQueryCost"], json!(0));
    }
}

on_both! {
    async fn a_query_beyond_the_budget_is_refused_before_any_sql_until_it_is_restored(app: TestApp) {
        // A budget of 50 regaining 20 a second: the page (49) once, then a wait.
        let app = TestApp::spawn_with(app.backend(), |config| {
            config.system_console.limits.max_complexity = 50;
            config.system_console.limits.cost_budget.maximum = 50;
            config.system_console.limits.cost_budget.restore_per_second = 20;
        })
        .await;
        twelve_tenants(&app).await;
        let base = app.url("");
        let (status, retry_after, _, response) = post(&base, &app.token, PAGE).await;
        assert_eq!((status, retry_after), (200, None), "{response:#}");
        assert_eq!(cost_of(&response)["actualQueryCost"], json!(PAGE_COST));

        let (status, retry_after, statements, refused) = post(&base, &app.token, PAGE).await;
        assert_eq!(status, 200, "{refused:#}");
        assert_eq!(refused["errors"][0]["extensions"]["code"], "RATE_LIMITED", "{refused:#}");
        assert!(refused.get("data").is_none(), "{refused:#}");
        assert_eq!(statements, 0, "refused before any statement of its own");
        let throttle = &cost_of(&refused)["throttleStatus"];
        assert_eq!(cost_of(&refused)["requestedQueryCost"], json!(PAGE_COST));
        assert_eq!(cost_of(&refused)["actualQueryCost"], json!(0));
        assert_eq!(throttle["maximumAvailable"], json!(50.0));
        let available = throttle["currentlyAvailable"].as_f64().unwrap();
        assert!(available < PAGE_COST as f64, "{refused:#}");
        // (49 - what is left) / 20 a second, in whole seconds (what is left is shown
        // rounded down).
        let retry_after = retry_after.expect("Retry-After");
        let at_most = ((PAGE_COST as f64 - available) / 20.0).ceil() as u64;
        assert!((at_most.saturating_sub(1).max(1)..=at_most).contains(&retry_after), "{retry_after} {available}");
        let message = refused["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("costs 49"), "{message}");
        assert!(app.metrics().await.contains("limit=\"cost_budget\""));

        // Another operator has a budget of their own.
        let other = operator_token(&app.db, "other@control-tower.test", &Capability::ALL).await;
        let (_, _, _, response) = post(&base, &other, PAGE).await;
        assert!(response.get("errors").is_none(), "{response:#}");

        // Once restored, the page runs again.
        tokio::time::sleep(Duration::from_secs(retry_after)).await;
        let (status, _, _, response) = post(&base, &app.token, PAGE).await;
        assert_eq!(status, 200);
        assert!(response.get("errors").is_none(), "{response:#}");
        assert_eq!(response["data"]["tenants"]["totalCount"], json!(12));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL is not set: PostgreSQL skipped"
)]
async fn instances_on_one_postgresql_database_share_each_budget() {
    let budget = |config: &mut control_tower::config::Config| {
        config.system_console.limits.max_complexity = 50;
        config.system_console.limits.cost_budget.maximum = 50;
        config.system_console.limits.cost_budget.restore_per_second = 1;
    };
    let app = TestApp::spawn_with(crate::common::Backend::Postgres, budget).await;
    twelve_tenants(&app).await;
    let url = crate::ops::app_database_url(&app).await;
    let mut other = Served::launch(Launch {
        database_url: Some(url),
        demo: false,
        env: vec![
            (
                "CONTROL_TOWER_SYSTEM_CONSOLE__LIMITS__MAX_COMPLEXITY",
                "50".to_owned(),
            ),
            (
                "CONTROL_TOWER_SYSTEM_CONSOLE__LIMITS__COST_BUDGET__MAXIMUM",
                "50".to_owned(),
            ),
            (
                "CONTROL_TOWER_SYSTEM_CONSOLE__LIMITS__COST_BUDGET__RESTORE_PER_SECOND",
                "1".to_owned(),
            ),
        ],
        ..Launch::default()
    });
    // Spent on the first instance: 1 left of 50.
    let (_, _, _, response) = post(&app.url(""), &app.token, PAGE).await;
    assert!(response.get("errors").is_none(), "{response:#}");
    // The second instance has not seen the token: it looks it up as the request runs,
    // and charges the bucket the first one left, which goes below empty.
    let (_, retry_after, statements, response) = post(&other.url(""), &app.token, PAGE).await;
    assert!(response.get("errors").is_none(), "{response:#}");
    assert_eq!(retry_after, None);
    assert!(statements >= 1, "the session's statement");
    let throttle = &cost_of(&response)["throttleStatus"];
    assert_eq!(throttle["currentlyAvailable"], json!(0.0), "{response:#}");
    // Now both refuse it, before any statement, for as long as the shared bucket needs
    // to hold 49 again at 1 a second.
    for url in [other.url(""), app.url("")] {
        let (_, retry_after, statements, refused) = post(&url, &app.token, PAGE).await;
        assert_eq!(
            refused["errors"][0]["extensions"]["code"], "RATE_LIMITED",
            "{refused:#}"
        );
        assert_eq!(statements, 0);
        assert!(
            retry_after.is_some_and(|seconds| seconds >= 90),
            "{retry_after:?}"
        );
    }
    other.terminate().await;
}
