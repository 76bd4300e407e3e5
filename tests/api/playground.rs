//! The saved operations operators start from run cleanly against the schema.

use serde_json::{Value, json};

use crate::common::{Backend, TestApp};
use crate::fixtures::*;

const OPERATIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/playground/operations");

fn variables(operation: &str) -> Value {
    match operation {
        "Login" => json!({"email": "nobody@ops.test", "password": "not the password"}),
        "TenantsOverview" => json!({"workspace": "acme"}),
        "TenantHealth" => json!({"externalId": "ext-contoso"}),
        "EnterBreakGlass" => json!({"reason": "checking the saved operations"}),
        _ => json!({}),
    }
}

#[tokio::test]
async fn every_saved_operation_runs() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let acme = workspace(&app.db, "Acme").await;
    let contoso = tenant(&app.db, acme.id, "Contoso").await;
    connection_with(&app.db, contoso.id, |_| {}).await;
    run_with(&app.db, acme.id, Some(contoso.id), |_| {}).await;
    let mut files: Vec<_> = std::fs::read_dir(OPERATIONS)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    let mut ran = 0;
    for file in files {
        let document = std::fs::read_to_string(&file).unwrap();
        let names: Vec<String> = document
            .lines()
            .filter_map(|line| {
                line.strip_prefix("query ")
                    .or_else(|| line.strip_prefix("mutation "))
            })
            .map(|rest| rest.split(['(', ' ', '{']).next().unwrap().to_owned())
            .collect();
        assert_eq!(
            names.len(),
            1,
            "{file:?} holds one named operation, so it runs without `operationName`"
        );
        for name in names {
            let response: Value = app
                .client()
                .post(app.url("/graphql"))
                .bearer_auth(&app.token)
                .json(&json!({"query": document, "variables": variables(&name)}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let codes = crate::common::error_codes(&response);
            let expected: Vec<String> = if name == "Login" {
                vec!["UNAUTHENTICATED".into()]
            } else {
                vec![]
            };
            assert_eq!(codes, expected, "{file:?} {name}: {response}");
            ran += 1;
        }
    }
    assert!(ran >= 9, "{ran} operations");
}
