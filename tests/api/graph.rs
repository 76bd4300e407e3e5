//! The object graph at its edges: rows that are gone, lists that are empty, and what the
//! API makes of raw JSON.

use control_tower::graphql::ids::NodeKind;
use entity::{Document, tenant};
use sea_orm::ActiveValue::Set;
use sea_orm::{EntityTrait, ModelTrait};
use serde_json::json;

use crate::fixtures::*;
use crate::on_both;

on_both! {
    async fn a_run_whose_tenant_was_deleted_still_lists_with_its_workspace(app: TestApp) {
        let acme = workspace(&app.db, "Acme").await;
        let gone = tenant(&app.db, acme.id, "Gone").await;
        let person = user(&app.db, "Ada Lovelace").await;
        let run = run_with(&app.db, acme.id, Some(gone.id), |row| row.user_id = Set(Some(person.id))).await;
        gone.delete(&app.db).await.unwrap();

        let query = "{ operationRuns { totalCount nodes { databaseId workspace { name } tenant { name } user { name } } } }";
        let data = app.data(query, json!({})).await;
        assert_eq!(
            data["operationRuns"],
            json!({"totalCount": 1, "nodes": [{"databaseId": run.id, "workspace": {"name": "Acme"}, "tenant": null, "user": {"name": "Ada Lovelace"}}]})
        );

        // Written by an application that ignored the foreign keys: the references dangle.
        app.write_without_foreign_keys(&format!(
            "UPDATE operation_runs SET tenant_id = 424242, user_id = 434343 WHERE id = {}",
            run.id
        ))
        .await;
        let data = app.data(query, json!({})).await;
        assert_eq!(data["operationRuns"]["nodes"][0]["tenant"], json!(null));
        assert_eq!(data["operationRuns"]["nodes"][0]["user"], json!(null));
        assert_eq!(data["operationRuns"]["nodes"][0]["workspace"], json!({"name": "Acme"}));
    }
}

on_both! {
    async fn a_membership_whose_user_is_missing_reads_the_user_as_null(app: TestApp) {
        let acme = workspace(&app.db, "Acme").await;
        let present = user(&app.db, "Grace Hopper").await;
        membership(&app.db, acme.id, present.id, "owner").await;
        app.write_without_foreign_keys(&format!(
            "INSERT INTO workspace_memberships (workspace_id, user_id, role, created_at, updated_at) \
             VALUES ({}, 999999, 'readonly', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')",
            acme.id
        ))
        .await;
        let data = app.data("{ workspaces { nodes { memberships { role user { name } workspace { name } } } } }", json!({})).await;
        assert_eq!(
            data["workspaces"]["nodes"][0]["memberships"],
            json!([
                {"role": "OWNER", "user": {"name": "Grace Hopper"}, "workspace": {"name": "Acme"}},
                {"role": "READONLY", "user": null, "workspace": {"name": "Acme"}}
            ])
        );
    }
}

on_both! {
    async fn a_tenant_without_connections_or_permissions_has_empty_lists(app: TestApp) {
        let acme = workspace(&app.db, "Acme").await;
        tenant(&app.db, acme.id, "Bare").await;
        let full = tenant(&app.db, acme.id, "Full").await;
        connection_with(&app.db, full.id, |_| {}).await;
        connection_with(&app.db, full.id, |row| {
            row.provider = Set("google".to_owned());
            row.is_default = Set(false);
        })
        .await;
        connection_with(&app.db, full.id, |row| row.provider = Set("aws".to_owned())).await;
        let data = app
            .data("{ tenants { nodes { name providerConnections { provider isDefault tenant { name } } permissions { key } } } }", json!({}))
            .await;
        assert_eq!(
            data["tenants"]["nodes"],
            json!([
                {"name": "Bare", "providerConnections": [], "permissions": []},
                {"name": "Full", "providerConnections": [
                    {"provider": "aws", "isDefault": true, "tenant": {"name": "Full"}},
                    {"provider": "microsoft", "isDefault": true, "tenant": {"name": "Full"}},
                    {"provider": "google", "isDefault": false, "tenant": {"name": "Full"}}
                ], "permissions": []}
            ])
        );
    }
}

on_both! {
    async fn an_audit_log_outlives_the_workspace_and_tenant_it_mentions(app: TestApp) {
        let acme = workspace(&app.db, "Acme").await;
        let gone = tenant(&app.db, acme.id, "Gone").await;
        audit_log_with(&app.db, "tenant.settings.updated", |row| {
            row.workspace_id = Set(Some(acme.id));
            row.tenant_id = Set(Some(gone.id));
        })
        .await;
        tenant::Entity::delete_by_id(gone.id).exec(&app.db).await.unwrap();
        let data = app.data("{ auditLogs { nodes { action workspace { name } tenant { name } } } }", json!({})).await;
        assert_eq!(
            data["auditLogs"]["nodes"],
            json!([{"action": "tenant.settings.updated", "workspace": {"name": "Acme"}, "tenant": null}])
        );
    }
}

on_both! {
    async fn run_summaries_and_failures_are_normalized_and_sanitized(app: TestApp) {
        let acme = workspace(&app.db, "Acme").await;
        let run = run_with(&app.db, acme.id, None, |row| {
            row.outcome = Set("failed".to_owned());
            row.summary_counts = Set(Some(Document::from(json!({"updated": "7", "created": 3.0, "ratio": 0.5, "note": "n/a"}))));
            row.failure_summary = Set(Some(Document::from(json!([
                {"code": "GRAPH_401", "reason": "auth", "message": "call failed with Authorization: Bearer abc.def.ghi", "trace": "…"},
                "worker crashed",
            ]))));
        })
        .await;
        let data = app
            .data(
                "query($id: ID!) { operationRun(id: $id) { summaryCounts { key value } failureSummary { code reason message } } }",
                json!({"id": NodeKind::OperationRun.id(run.id)}),
            )
            .await;
        assert_eq!(
            data["operationRun"],
            json!({
                "summaryCounts": [{"key": "created", "value": 3}, {"key": "updated", "value": 7}],
                "failureSummary": [
                    {"code": "GRAPH_401", "reason": "auth", "message": "call failed with Authorization: Bearer [REDACTED]"},
                    {"code": null, "reason": null, "message": "worker crashed"}
                ]
            })
        );
    }
}

on_both! {
    async fn json_documents_are_redacted(app: TestApp) {
        let acme = workspace(&app.db, "Acme").await;
        let contoso = tenant_with(&app.db, acme.id, "Contoso", |row| {
            row.metadata = Set(Some(Document::from(json!({"region": "eu", "contact": {"apiKey": "k-123", "name": "IT"}}))));
            row.rbac_canary_results = Set(Some(Document::from(json!({"sp": {"clientSecret": "s3cr3t", "ok": true}}))));
        })
        .await;
        connection_with(&app.db, contoso.id, |row| {
            row.metadata = Set(Some(Document::from(json!({"refresh_token": "rt", "endpoint": "https://graph"}))));
        })
        .await;
        permission_with(&app.db, contoso.id, "Directory.Read.All", |row| {
            row.details = Set(Some(Document::from(json!({"Cookie": "c", "scope": "x"}))));
        })
        .await;
        run_with(&app.db, acme.id, Some(contoso.id), |row| {
            row.context = Set(Some(Document::from(json!({"Password": "hunter2", "options": {"full": true}}))));
        })
        .await;
        let data = app
            .data(
                "{ tenants { nodes { metadata rbac { canaryResults } providerConnections { metadata } permissions { details } } }
                   operationRuns { nodes { context } } }",
                json!({}),
            )
            .await;
        let tenant = &data["tenants"]["nodes"][0];
        assert_eq!(tenant["metadata"], json!({"region": "eu", "contact": {"apiKey": "[REDACTED]", "name": "IT"}}));
        assert_eq!(tenant["rbac"]["canaryResults"], json!({"sp": {"clientSecret": "[REDACTED]", "ok": true}}));
        assert_eq!(tenant["providerConnections"][0]["metadata"], json!({"refresh_token": "[REDACTED]", "endpoint": "https://graph"}));
        assert_eq!(tenant["permissions"][0]["details"], json!({"Cookie": "[REDACTED]", "scope": "x"}));
        assert_eq!(data["operationRuns"]["nodes"][0]["context"], json!({"Password": "[REDACTED]", "options": {"full": true}}));
    }
}
