//! Single objects: by id, slug and external id; `node` and `nodes`; stored values this
//! service does not know.

use control_tower::graphql::ids::NodeKind;
use sea_orm::ActiveValue::Set;
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::common::{Backend, TestApp, single_error};
use crate::fixtures::*;
use crate::on_both;

on_both! {
    async fn a_workspace_is_found_by_id_or_slug(app: TestApp) {
        let acme = workspace(&app.db, "Acme Corp").await;
        let query = "query($id: ID, $slug: String) { workspace(id: $id, slug: $slug) { databaseId name slug } }";
        let by_id = app.data(query, json!({"id": NodeKind::Workspace.id(acme.id)})).await;
        assert_eq!(by_id["workspace"], json!({"databaseId": acme.id, "name": "Acme Corp", "slug": "acme-corp"}));
        let by_slug = app.data(query, json!({"slug": "acme-corp"})).await;
        assert_eq!(by_slug, by_id);
        let missing = app.data(query, json!({"slug": "nope"})).await;
        assert_eq!(missing["workspace"], json!(null));
        let neither = app.gql(query, json!({})).await;
        assert_eq!(single_error(&neither).0, "BAD_USER_INPUT");
        let both = app.gql(query, json!({"id": NodeKind::Workspace.id(acme.id), "slug": "acme-corp"})).await;
        assert_eq!(single_error(&both).0, "BAD_USER_INPUT");
    }
}

on_both! {
    async fn a_tenant_is_found_by_id_or_external_id(app: TestApp) {
        let acme = workspace(&app.db, "Acme").await;
        let contoso = tenant(&app.db, acme.id, "Contoso").await;
        let query = "query($id: ID, $externalId: String) { tenant(id: $id, externalId: $externalId) {
            id databaseId externalId name status environment workspace { name } } }";
        let by_external = app.data(query, json!({"externalId": "ext-contoso"})).await;
        assert_eq!(
            by_external["tenant"],
            json!({
                "id": NodeKind::Tenant.id(contoso.id), "databaseId": contoso.id, "externalId": "ext-contoso",
                "name": "Contoso", "status": "ACTIVE", "environment": "production", "workspace": {"name": "Acme"}
            })
        );
        let by_id = app.data(query, json!({"id": NodeKind::Tenant.id(contoso.id)})).await;
        assert_eq!(by_id, by_external);
        let gone = app.data(query, json!({"id": NodeKind::Tenant.id(contoso.id + 1000)})).await;
        assert_eq!(gone["tenant"], json!(null));
    }
}

on_both! {
    async fn an_operation_run_is_found_by_id(app: TestApp) {
        let acme = workspace(&app.db, "Acme").await;
        let contoso = tenant(&app.db, acme.id, "Contoso").await;
        let run = run_with(&app.db, acme.id, Some(contoso.id), |row| {
            row.r#type = Set("policy.sync".to_owned());
        })
        .await;
        let data = app
            .data(
                "query($id: ID!) { operationRun(id: $id) { databaseId type status outcome durationSeconds
                    workspace { name } tenant { name } user { name } initiatorName } }",
                json!({"id": NodeKind::OperationRun.id(run.id)}),
            )
            .await;
        assert_eq!(
            data["operationRun"],
            json!({
                "databaseId": run.id, "type": "policy.sync", "status": "COMPLETED", "outcome": "SUCCEEDED",
                "durationSeconds": 540, "workspace": {"name": "Acme"}, "tenant": {"name": "Contoso"},
                "user": null, "initiatorName": "scheduler"
            })
        );
    }
}

on_both! {
    async fn node_and_nodes_resolve_any_type_in_order(app: TestApp) {
        let acme = workspace(&app.db, "Acme").await;
        let contoso = tenant(&app.db, acme.id, "Contoso").await;
        let run = run_with(&app.db, acme.id, Some(contoso.id), |_| {}).await;
        let log = audit_log_with(&app.db, "platform.auth.login", |_| {}).await;
        let query = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id databaseId
            ... on Tenant { name } ... on Workspace { slug } ... on AuditLog { action } } }";
        let ids = json!([
            NodeKind::Tenant.id(contoso.id),
            NodeKind::OperationRun.id(run.id),
            NodeKind::Tenant.id(999_999),
            NodeKind::Workspace.id(acme.id),
            NodeKind::Tenant.id(contoso.id),
            NodeKind::AuditLog.id(log.id),
        ]);
        let (response, statements) = app.gql_counted(query, json!({"ids": ids})).await;
        assert!(response.get("errors").is_none(), "{response:#}");
        let nodes = response["data"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), 6);
        assert_eq!(nodes[0]["__typename"], json!("Tenant"));
        assert_eq!(nodes[0]["name"], json!("Contoso"));
        assert_eq!(nodes[1]["__typename"], json!("OperationRun"));
        assert_eq!(nodes[1]["databaseId"], json!(run.id));
        assert_eq!(nodes[2], json!(null));
        assert_eq!(nodes[3]["slug"], json!("acme"));
        assert_eq!(nodes[4], nodes[0], "a repeated id is answered each time");
        assert_eq!(nodes[5]["action"], json!("platform.auth.login"));
        // The session, then one statement per type asked for: tenants, runs, workspaces,
        // audit logs.
        assert_eq!(statements, 5);

        let single = app
            .data("query($id: ID!) { node(id: $id) { id ... on Workspace { name } } }", json!({"id": NodeKind::Workspace.id(acme.id)}))
            .await;
        assert_eq!(single["node"], json!({"id": NodeKind::Workspace.id(acme.id), "name": "Acme"}));
    }
}

on_both! {
    async fn stored_values_outside_the_known_sets_read_as_unknown(app: TestApp) {
        let acme = workspace(&app.db, "Acme").await;
        let odd = tenant_with(&app.db, acme.id, "Odd", |row| row.status = Set("suspended".to_owned())).await;
        connection_with(&app.db, odd.id, |row| {
            row.status = Set("paused".to_owned());
            row.health_status = Set("flaky".to_owned());
        })
        .await;
        permission_with(&app.db, odd.id, "Directory.Read.All", |row| row.status = Set("pending".to_owned())).await;
        run_with(&app.db, acme.id, Some(odd.id), |row| {
            row.status = Set("archived".to_owned());
            row.outcome = Set("skipped".to_owned());
        })
        .await;
        audit_log_with(&app.db, "platform.auth.login", |row| row.status = Set("partial".to_owned())).await;
        let user = user(&app.db, "Ada").await;
        membership(&app.db, acme.id, user.id, "auditor").await;

        let data = app
            .data(
                "{ tenants { nodes { status providerConnections { status healthStatus } permissions { status } } }
                   operationRuns { nodes { status outcome } }
                   auditLogs { nodes { status } }
                   workspaces { nodes { memberships { role } } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            data,
            json!({
                "tenants": {"nodes": [{"status": "UNKNOWN",
                    "providerConnections": [{"status": "UNKNOWN", "healthStatus": "UNKNOWN"}],
                    "permissions": [{"status": "UNKNOWN"}]}]},
                "operationRuns": {"nodes": [{"status": "UNKNOWN", "outcome": "UNKNOWN"}]},
                "auditLogs": {"nodes": [{"status": "UNKNOWN"}]},
                "workspaces": {"nodes": [{"memberships": [{"role": "UNKNOWN"}]}]}
            })
        );
    }
}

/// PostgreSQL's `JSONB` cannot hold malformed JSON; SQLite's text can, when another
/// application wrote it.
#[tokio::test]
async fn malformed_json_in_a_sqlite_column_reads_as_null() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let acme = workspace(&app.db, "Acme").await;
    let run = run_with(&app.db, acme.id, None, |_| {}).await;
    app.db
        .execute_unprepared(&format!(
            "UPDATE operation_runs SET context = '{{not json', summary_counts = 'oops', failure_summary = '[1,' WHERE id = {}",
            run.id
        ))
        .await
        .unwrap();
    let data = app
        .data("{ operationRuns { nodes { context summaryCounts { key } failureSummary { message } } } }", json!({}))
        .await;
    assert_eq!(
        data["operationRuns"]["nodes"][0],
        json!({"context": null, "summaryCounts": [], "failureSummary": []})
    );
}
