//! The saved operations operators start from, and the fragments dashboards embed, run
//! cleanly against a seeded server on both databases: each returns data without errors
//! (but `login` with wrong credentials), by POST without `operationName`, and the
//! subscription over the WebSocket.

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
        let mut ordered = saved.clone();
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
