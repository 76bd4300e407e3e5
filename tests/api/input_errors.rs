//! Bad input of every kind gets a clear error with a code, never a panic or a 500.

use control_tower::graphql::ids::NodeKind;
use serde_json::json;

use crate::common::single_error;
use crate::fixtures::*;
use crate::on_both;

on_both! {
    async fn page_sizes_outside_one_to_one_hundred_are_refused(app: TestApp) {
        for (arguments, message) in [
            ("first: 0", "`first` must be between 1 and 100, not 0"),
            ("first: 101", "`first` must be between 1 and 100, not 101"),
            ("last: -5", "`last` must be between 1 and 100, not -5"),
        ] {
            let response = app.gql(&format!("{{ tenants({arguments}) {{ totalCount }} }}"), json!({})).await;
            assert_eq!(single_error(&response), ("BAD_USER_INPUT".to_owned(), message.to_owned()));
            assert_eq!(response["data"], json!(null));
        }
        let both = app.gql("{ operationRuns(first: 2, last: 2) { totalCount } }", json!({})).await;
        assert_eq!(single_error(&both).0, "BAD_USER_INPUT");
        let nested = app.gql("{ workspaces { nodes { tenants(first: 1000) { totalCount } } } }", json!({})).await;
        assert!(nested.get("errors").is_none(), "no workspace, no nested list to refuse: {nested}");
        workspace(&app.db, "Acme").await;
        let nested = app.gql("{ workspaces { nodes { tenants(first: 1000) { totalCount } } } }", json!({})).await;
        assert_eq!(single_error(&nested).0, "BAD_USER_INPUT");
    }
}

on_both! {
    async fn invalid_cursors_are_refused(app: TestApp) {
        let acme = workspace(&app.db, "Acme").await;
        let globex = workspace(&app.db, "Globex").await;
        tenant(&app.db, acme.id, "Contoso").await;
        tenant(&app.db, globex.id, "Initech").await;
        run_with(&app.db, acme.id, None, |run| {
            run.outcome = sea_orm::ActiveValue::Set("failed".to_owned());
        })
        .await;
        let cursor_of = |data: &serde_json::Value, pointer: &str| data.pointer(pointer).unwrap().clone();
        let lists = app
            .data(
                "{ tenants { pageInfo { endCursor } } operationRuns { pageInfo { endCursor } } workspaces { nodes { tenants { pageInfo { endCursor } } } } }",
                json!({}),
            )
            .await;
        let tenant_cursor = cursor_of(&lists, "/tenants/pageInfo/endCursor");
        let run_cursor = cursor_of(&lists, "/operationRuns/pageInfo/endCursor");
        let acme_cursor = cursor_of(&lists, "/workspaces/nodes/0/tenants/pageInfo/endCursor");
        for (field, cursor) in [
            ("tenants", json!("garbage")),
            ("tenants", json!("")),
            ("tenants", json!("eyJvIjoidGVuYW50cy90ZW5hbnRzOm5hbWU6YXNjIiwiayI6WzEsMl19")), // right list and order, wrong types
            ("workspaces", tenant_cursor.clone()), // a cursor of another list
            ("operationRuns", tenant_cursor.clone()),
            ("failures", run_cursor.clone()), // same order, another list
            ("stuckRuns", run_cursor.clone()),
        ] {
            let response = app.gql(&format!("query($c: String) {{ {field}(after: $c) {{ totalCount }} }}"), json!({"c": cursor})).await;
            let (code, message) = single_error(&response);
            assert_eq!(code, "BAD_USER_INPUT", "{field} {cursor}");
            assert!(message.contains("`after` is not a cursor of this list"), "{message}");
        }
        // The tenants of one workspace are a list of their own.
        for (slug, cursor) in [("acme", tenant_cursor), ("globex", acme_cursor.clone())] {
            let response = app
                .gql("query($s: String, $c: String) { workspace(slug: $s) { tenants(after: $c) { totalCount } } }", json!({"s": slug, "c": cursor}))
                .await;
            assert_eq!(single_error(&response).0, "BAD_USER_INPUT", "{slug}: {response}");
        }
        let own = app
            .data("query($c: String) { workspace(slug: \"acme\") { tenants(after: $c) { totalCount } } }", json!({"c": acme_cursor}))
            .await;
        assert_eq!(own["workspace"]["tenants"]["totalCount"], json!(1));
        let own = app.data("query($c: String) { operationRuns(after: $c) { totalCount } }", json!({"c": run_cursor})).await;
        assert_eq!(own["operationRuns"]["totalCount"], json!(1));
    }
}

on_both! {
    async fn invalid_ids_are_refused(app: TestApp) {
        let cases = [
            ("{ node(id: \"nope\") { id } }", "`id` is not a valid id"),
            ("{ operationRun(id: \"VGVuYW50OjE\") { id } }", "`id` must be the id of a OperationRun, not of a Tenant"),
            ("{ tenants(filter: {workspaceId: \"VGVuYW50OjE\"}) { totalCount } }", "`filter.workspaceId` must be the id of a Workspace, not of a Tenant"),
            ("{ nodes(ids: [\"V29ya3NwYWNlOjE\", \"bad\"]) { id } }", "`ids[1]` is not a valid id"),
            ("{ auditLogs(filter: {actorId: -3}) { totalCount } }", "`filter.actorId` must be a positive database id"),
        ];
        for (query, message) in cases {
            let response = app.gql(query, json!({})).await;
            let (code, actual) = single_error(&response);
            assert_eq!(code, "BAD_USER_INPUT", "{query}");
            assert!(actual.starts_with(message), "{query}: {actual}");
        }
        let many: Vec<_> = (1..=101).map(|id| NodeKind::Tenant.id(id)).collect();
        let response = app.gql("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", json!({"ids": many})).await;
        assert_eq!(single_error(&response).0, "BAD_USER_INPUT");
    }
}

on_both! {
    async fn wrong_types_and_unknown_enum_values_are_refused(app: TestApp) {
        for query in [
            "{ tenants(first: \"ten\") { totalCount } }",
            "{ tenants(filter: {statuses: [SLEEPING]}) { totalCount } }",
            "{ operationRuns(orderBy: {field: NAME, direction: ASC}) { totalCount } }",
            "{ operationRuns(filter: {window: LAST_YEAR}) { totalCount } }",
            "{ tenants { nodes { nosuchfield } } }",
            "{ tenants(",
        ] {
            let response = app.gql(query, json!({})).await;
            let codes = crate::common::error_codes(&response);
            assert!(!codes.is_empty() && codes.iter().all(|code| code == "BAD_USER_INPUT"), "{query}: {response}");
        }
        let response = app
            .gql("query($s: [TenantStatus!]) { tenants(filter: {statuses: $s}) { totalCount } }", json!({"s": ["ACTIVE", "asleep"]}))
            .await;
        assert_eq!(crate::common::error_codes(&response), vec!["BAD_USER_INPUT"]);
    }
}

on_both! {
    async fn over_long_search_text_is_refused(app: TestApp) {
        let response = app
            .gql("query($s: String) { tenants(filter: {search: $s}) { totalCount } }", json!({"s": "x".repeat(201)}))
            .await;
        assert_eq!(
            single_error(&response),
            ("BAD_USER_INPUT".to_owned(), "`filter.search` must be at most 200 characters".to_owned())
        );
    }
}

on_both! {
    async fn a_document_sent_again_is_judged_again(app: TestApp) {
        // Admitted documents are kept, and one that passed validation skips it when sent
        // again (server::document): a refused one stays refused, a valid one keeps its
        // answer, and a variable's value is checked on every request.
        for _ in 0..3 {
            let refused = app.gql("{ tenants { nodes { nosuchfield } } }", json!({})).await;
            assert_eq!(crate::common::error_codes(&refused), vec!["BAD_USER_INPUT"], "{refused}");
            assert_eq!(refused["data"], json!(null));
            let valid = app.gql("{ tenants { totalCount } }", json!({})).await;
            assert_eq!(crate::common::without_cost(valid), json!({"data": {"tenants": {"totalCount": 0}}}));
        }
        let query = "query($s: [TenantStatus!]) { tenants(filter: {statuses: $s}) { totalCount } }";
        for statuses in [json!(["ACTIVE"]), json!(["asleep"]), json!(["ACTIVE"]), json!(["asleep"])] {
            let response = app.gql(query, json!({"s": statuses})).await;
            if statuses == json!(["ACTIVE"]) {
                assert_eq!(crate::common::without_cost(response), json!({"data": {"tenants": {"totalCount": 0}}}));
            } else {
                assert_eq!(crate::common::error_codes(&response), vec!["BAD_USER_INPUT"], "{response}");
            }
        }
    }
}
