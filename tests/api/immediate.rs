//! Objects answered at once (`graphql::immediate`) give what async-graphql's own path
//! gives: every plain field of a tenant, its workspace, connections and permissions is
//! asked for directly (answered at once) and through inline fragments (which always take
//! async-graphql's path), over stored values known and unknown, nulls and broken
//! references, and the two answers must be the same.

use entity::Document;
use sea_orm::ActiveValue::Set;
use serde_json::{Value, json};

use crate::common::TestApp;
use crate::fixtures::*;
use crate::on_both;

const TENANT: &str =
    "__typename id databaseId externalId name status environment createdAt updatedAt";
const WORKSPACE: &str = "__typename id databaseId name slug createdAt updatedAt";
const CONNECTION: &str = "__typename id databaseId provider isDefault status healthStatus \
                          scopesGranted lastHealthCheckAt createdAt updatedAt";
const PERMISSION: &str = "__typename id databaseId key status lastCheckedAt";

/// A tenant selection with every plain field, each object's fields direct or, with
/// `fragments`, inside `... on Type { }` (aliases included, to check response keys).
fn tenant_selection(fragments: bool) -> String {
    let wrap = |ty: &str, fields: &str| {
        if fragments {
            format!("... on {ty} {{ {fields} }}")
        } else {
            fields.to_owned()
        }
    };
    let tenant = format!(
        "{TENANT} label: name workspace {{ {} }} providerConnections {{ {} }} permissions {{ {} }} \
         granted: permissions {{ {} }}",
        wrap("Workspace", WORKSPACE),
        wrap("ProviderConnection", CONNECTION),
        wrap("TenantPermission", PERMISSION),
        wrap("TenantPermission", "name: key status"),
    );
    wrap("Tenant", &tenant)
}

/// The parts of an answer that do not depend on how the document was written: its data,
/// and each error's message and path.
fn comparable(answer: &Value) -> Value {
    let errors: Vec<Value> = answer["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|error| json!({"message": error["message"], "path": error["path"]}))
                .collect()
        })
        .unwrap_or_default();
    json!({"data": answer["data"], "errors": errors})
}

/// Asks `template` (with `{}` where a tenant's selection goes) both ways; returns the
/// direct answer after checking the two agree.
async fn both_ways(app: &TestApp, template: &str) -> Value {
    let direct = app
        .gql(&template.replace("{}", &tenant_selection(false)), json!({}))
        .await;
    let fragments = app
        .gql(&template.replace("{}", &tenant_selection(true)), json!({}))
        .await;
    assert_eq!(comparable(&direct), comparable(&fragments), "{direct:#}");
    direct
}

on_both! {
    async fn tenants_answered_at_once_match_the_resolvers(app: TestApp) {
        let acme = workspace(&app.db, "Acme").await;
        let beta = workspace(&app.db, "Beta").await;
        let plain = tenant(&app.db, acme.id, "Plain").await;
        let odd = tenant_with(&app.db, beta.id, "Odd", |row| {
            row.status = Set("hibernating".to_owned());
            row.environment = Set("staging".to_owned());
            row.created_at = Set(minutes_ago(90));
        })
        .await;
        tenant(&app.db, acme.id, "Bare").await;
        connection_with(&app.db, plain.id, |_| {}).await;
        connection_with(&app.db, plain.id, |row| {
            row.provider = Set("google".to_owned());
            row.is_default = Set(false);
            row.status = Set("paused-by-vendor".to_owned());
            row.health_status = Set("degraded".to_owned());
            row.scopes_granted = Set(Some(Document::from(json!(["a", 7, null, "b"]))));
            row.last_health_check_at = Set(None);
        })
        .await;
        connection_with(&app.db, odd.id, |row| row.scopes_granted = Set(None)).await;
        connection_with(&app.db, odd.id, |row| {
            row.provider = Set("aws".to_owned());
            row.scopes_granted = Set(Some(Document::from(json!({"not": "a list"}))));
        })
        .await;
        permission_with(&app.db, plain.id, "Directory.Read.All", |_| {}).await;
        permission_with(&app.db, plain.id, "Mail.Send", |row| {
            row.status = Set("missing".to_owned());
            row.last_checked_at = Set(None);
        })
        .await;
        permission_with(&app.db, odd.id, "Weird.Permission", |row| {
            row.status = Set("half-granted".to_owned());
        })
        .await;

        let answer = both_ways(&app, "{ tenants(first: 10) { nodes { {} } } }").await;
        let nodes = &answer["data"]["tenants"]["nodes"];
        assert_eq!(nodes.as_array().unwrap().len(), 3, "{answer:#}");
        assert_eq!(nodes[1]["status"], json!("UNKNOWN"));
        assert_eq!(nodes[1]["label"], json!("Odd"));
        assert_eq!(nodes[1]["workspace"]["name"], json!("Beta"));
        assert_eq!(nodes[2]["providerConnections"][1]["scopesGranted"], json!(["a", "b"]));
        assert_eq!(nodes[2]["providerConnections"][1]["status"], json!("UNKNOWN"));
        assert_eq!(nodes[2]["permissions"][1]["lastCheckedAt"], json!(null));
        assert_eq!(nodes[2]["granted"][1], json!({"name": "Mail.Send", "status": "MISSING"}));

        // Keys and statuses alone are read from fewer columns: the same answers.
        let lean = app
            .gql("{ tenants(first: 10) { nodes { name permissions { __typename key status } \
                  held: permissions { status } } } }", json!({}))
            .await;
        let whole = app
            .gql("{ tenants(first: 10) { nodes { ... on Tenant { name \
                  permissions { ... on TenantPermission { __typename key status } } \
                  held: permissions { ... on TenantPermission { status } } } } } }", json!({}))
            .await;
        assert_eq!(comparable(&lean), comparable(&whole), "{lean:#}");
        let odd_permissions = &lean["data"]["tenants"]["nodes"][1]["permissions"];
        assert_eq!(
            odd_permissions,
            &json!([{"__typename": "TenantPermission", "key": "Weird.Permission", "status": "UNKNOWN"}])
        );

        both_ways(&app, "{ tenants(first: 2) { edges { cursor node { {} } } } }").await;
        let nested = "{ workspaces { nodes { name tenants(first: 5) { nodes { {} } } } } }";
        both_ways(&app, nested).await;

        // A workspace that is not there: reported where it belongs, whichever the path.
        app.write_without_foreign_keys(&format!(
            "UPDATE tenants SET workspace_id = 424242 WHERE id = {}",
            odd.id
        ))
        .await;
        let answer = both_ways(&app, "{ tenants(first: 10) { nodes { {} } } }").await;
        assert_eq!(answer["errors"][0]["extensions"]["code"], json!("INTERNAL"), "{answer:#}");
    }
}
