//! List filters: each narrows the list and its `totalCount` alike.

use control_tower::graphql::ids::NodeKind;
use sea_orm::ActiveValue::Set;
use serde_json::{Value, json};

use crate::common::TestApp;
use crate::fixtures::*;
use crate::on_both;

fn names(connection: &Value) -> Vec<String> {
    connection["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| node["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn tenant_names(app: &TestApp, filter: Value) -> (Vec<String>, i64) {
    let data = app
        .data("query($filter: TenantFilter) { tenants(filter: $filter) { totalCount nodes { name } } }", json!({"filter": filter}))
        .await;
    (
        names(&data["tenants"]),
        data["tenants"]["totalCount"].as_i64().unwrap(),
    )
}

on_both! {
    async fn tenants_filter_by_workspace_status_environment_and_search(app: TestApp) {
        let acme = workspace(&app.db, "Acme").await;
        let other = workspace(&app.db, "Other").await;
        tenant_with(&app.db, acme.id, "Contoso Europe", |row| row.environment = Set("staging".to_owned())).await;
        tenant_with(&app.db, acme.id, "Fabrikam", |row| row.status = Set("onboarding".to_owned())).await;
        tenant_with(&app.db, acme.id, "Northwind 100%", |row| row.status = Set("archived".to_owned())).await;
        tenant_with(&app.db, other.id, "CONTOSO Asia", |row| row.status = Set("frozen".to_owned())).await;
        tenant_with(&app.db, other.id, "Émile", |row| row.external_id = Set("EXT-contoso-9".to_owned())).await;

        let (all, total) = tenant_names(&app, json!({})).await;
        assert_eq!(total, 5);
        assert_eq!(all.len(), 5);

        let (in_acme, total) = tenant_names(&app, json!({"workspaceId": NodeKind::Workspace.id(acme.id)})).await;
        assert_eq!((in_acme, total), (vec!["Contoso Europe".into(), "Fabrikam".into(), "Northwind 100%".into()], 3));

        let (statuses, total) = tenant_names(&app, json!({"statuses": ["ONBOARDING", "UNKNOWN"]})).await;
        assert_eq!((statuses, total), (vec!["CONTOSO Asia".into(), "Fabrikam".into()], 2));

        let (unfiltered, total) = tenant_names(&app, json!({"statuses": []})).await;
        assert_eq!((unfiltered.len(), total), (5, 5), "an empty list does not filter");

        let (staging, _) = tenant_names(&app, json!({"environment": "staging"})).await;
        assert_eq!(staging, vec!["Contoso Europe".to_owned()]);

        // Name or external id, ASCII case ignored.
        let (search, total) = tenant_names(&app, json!({"search": "  contoso "})).await;
        assert_eq!((search, total), (vec!["CONTOSO Asia".into(), "Contoso Europe".into(), "Émile".into()], 3));

        // `%` and `_` match themselves.
        let (percent, _) = tenant_names(&app, json!({"search": "100%"})).await;
        assert_eq!(percent, vec!["Northwind 100%".to_owned()]);
        let (wildcard, _) = tenant_names(&app, json!({"search": "%"})).await;
        assert_eq!(wildcard, vec!["Northwind 100%".to_owned()]);
        let (underscore, _) = tenant_names(&app, json!({"search": "_"})).await;
        assert!(underscore.is_empty());

        // Non-ASCII letters match exactly, on both databases.
        let (accent, _) = tenant_names(&app, json!({"search": "émile"})).await;
        assert!(accent.is_empty());
        let (exact, _) = tenant_names(&app, json!({"search": "Émile"})).await;
        assert_eq!(exact, vec!["Émile".to_owned()]);

        let combined = tenant_names(&app, json!({"workspaceId": NodeKind::Workspace.id(other.id), "search": "contoso", "statuses": ["ACTIVE"]})).await;
        assert_eq!(combined, (vec!["Émile".to_owned()], 1));
    }
}

on_both! {
    async fn workspaces_filter_by_name_or_slug(app: TestApp) {
        workspace(&app.db, "Acme Corp").await;
        workspace_with(&app.db, "Globex", |row| row.slug = Set("globex-acme".to_owned())).await;
        workspace(&app.db, "Initech").await;
        let data = app
            .data("{ workspaces(filter: {search: \"ACME\"}) { totalCount nodes { name } } }", json!({}))
            .await;
        assert_eq!(data["workspaces"], json!({"totalCount": 2, "nodes": [{"name": "Acme Corp"}, {"name": "Globex"}]}));
    }
}

on_both! {
    async fn runs_filter_by_window_scope_type_status_and_outcome(app: TestApp) {
        let acme = workspace(&app.db, "Acme").await;
        let other = workspace(&app.db, "Other").await;
        let contoso = tenant(&app.db, acme.id, "Contoso").await;
        let make = |workspace_id: i64, tenant_id: Option<i64>, kind: &'static str, status: &'static str, outcome: &'static str, age_minutes: i64| {
            let db = app.db.clone();
            async move {
                run_with(&db, workspace_id, tenant_id, |row| {
                    row.r#type = Set(kind.to_owned());
                    row.status = Set(status.to_owned());
                    row.outcome = Set(outcome.to_owned());
                    row.created_at = Set(minutes_ago(age_minutes));
                })
                .await
                .id
            }
        };
        let recent_failed = make(acme.id, Some(contoso.id), "inventory.sync", "completed", "failed", 10).await;
        let old_succeeded = make(acme.id, Some(contoso.id), "inventory.sync", "completed", "succeeded", 60 * 30).await;
        let queued = make(acme.id, None, "policy.sync", "queued", "pending", 5).await;
        let skipped = make(other.id, None, "report.export", "completed", "skipped", 3 * 24 * 60).await;
        let ancient = make(other.id, None, "report.export", "completed", "succeeded", 9 * 24 * 60).await;

        let query = "query($filter: OperationRunFilter) { operationRuns(filter: $filter) { totalCount nodes { databaseId } } }";
        let ids = |data: &Value| -> (Vec<i64>, i64) {
            let runs = &data["operationRuns"];
            let ids = runs["nodes"].as_array().unwrap().iter().map(|n| n["databaseId"].as_i64().unwrap()).collect();
            (ids, runs["totalCount"].as_i64().unwrap())
        };
        let cases = [
            (json!({}), vec![queued, recent_failed, old_succeeded, skipped, ancient]),
            (json!({"window": "LAST_1H"}), vec![queued, recent_failed]),
            (json!({"window": "LAST_24H"}), vec![queued, recent_failed]),
            (json!({"window": "LAST_7D"}), vec![queued, recent_failed, old_succeeded, skipped]),
            (json!({"workspaceId": NodeKind::Workspace.id(acme.id)}), vec![queued, recent_failed, old_succeeded]),
            (json!({"tenantId": NodeKind::Tenant.id(contoso.id)}), vec![recent_failed, old_succeeded]),
            (json!({"types": ["policy.sync", "report.export"]}), vec![queued, skipped, ancient]),
            (json!({"types": []}), vec![queued, recent_failed, old_succeeded, skipped, ancient]),
            (json!({"statuses": ["QUEUED"]}), vec![queued]),
            (json!({"outcomes": ["FAILED", "UNKNOWN"]}), vec![recent_failed, skipped]),
            (json!({"outcomes": ["UNKNOWN"], "window": "LAST_24H"}), vec![]),
        ];
        for (filter, expected) in cases {
            let data = app.data(query, json!({"filter": filter})).await;
            let total = expected.len() as i64;
            assert_eq!(ids(&data), (expected, total), "filter {filter}");
        }
    }
}

on_both! {
    async fn audit_logs_filter_by_action_actor_status_and_window(app: TestApp) {
        let acme = workspace(&app.db, "Acme").await;
        let login = audit_log_with(&app.db, "platform.auth.login", |row| row.actor_id = Set(Some(7))).await;
        let failed = audit_log_with(&app.db, "platform.auth.login", |row| row.status = Set("failure".to_owned())).await;
        let old = audit_log_with(&app.db, "tenant.settings.updated", |row| {
            row.recorded_at = Set(minutes_ago(3 * 24 * 60));
            row.workspace_id = Set(Some(acme.id));
        })
        .await;
        let query = "query($filter: AuditLogFilter) { auditLogs(filter: $filter) { totalCount nodes { databaseId workspace { name } } } }";
        let cases = [
            (json!({}), vec![failed.id, login.id, old.id]),
            (json!({"action": "platform.auth.login"}), vec![failed.id, login.id]),
            (json!({"actorId": 7}), vec![login.id]),
            (json!({"status": "FAILURE"}), vec![failed.id]),
            (json!({"window": "LAST_24H"}), vec![failed.id, login.id]),
            (json!({"workspaceId": NodeKind::Workspace.id(acme.id)}), vec![old.id]),
        ];
        for (filter, expected) in cases {
            let data = app.data(query, json!({"filter": filter})).await;
            let logs = &data["auditLogs"];
            let ids: Vec<i64> = logs["nodes"].as_array().unwrap().iter().map(|n| n["databaseId"].as_i64().unwrap()).collect();
            assert_eq!(ids, expected, "filter {filter}");
            assert_eq!(logs["totalCount"], json!(expected.len()));
        }
        let data = app.data(query, json!({"filter": {"workspaceId": NodeKind::Workspace.id(acme.id)}})).await;
        assert_eq!(data["auditLogs"]["nodes"][0]["workspace"], json!({"name": "Acme"}));
    }
}
