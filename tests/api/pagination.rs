//! Relay pagination: forward and backward across page boundaries, with ties and nulls in
//! the sort key, never skipping or repeating a row.

use serde_json::{Value, json};

use crate::common::TestApp;
use crate::fixtures::*;
use crate::on_both;

/// Walks a connection page by page (`first` + `after`, or `last` + `before`) and returns
/// every node, in list order, checking `pageInfo` and `totalCount` on the way.
async fn walk(
    app: &TestApp,
    field: &str,
    arguments: &str,
    selection: &str,
    size: usize,
    forward: bool,
    total: usize,
) -> Vec<Value> {
    let mut nodes: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let (size_arg, cursor_arg) = if forward {
            ("first", "after")
        } else {
            ("last", "before")
        };
        let query = format!(
            "query($cursor: String) {{ {field}({size_arg}: {size}, {cursor_arg}: $cursor {arguments}) {{
                totalCount pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
                edges {{ cursor }} nodes {{ {selection} }} }} }}"
        );
        let data = app.data(&query, json!({ "cursor": cursor })).await;
        let connection = &data[field];
        assert_eq!(connection["totalCount"], json!(total));
        let page: Vec<Value> = connection["nodes"].as_array().cloned().unwrap_or_default();
        let info = &connection["pageInfo"];
        let edges = connection["edges"].as_array().cloned().unwrap_or_default();
        if let (Some(first), Some(last)) = (edges.first(), edges.last()) {
            assert_eq!(info["startCursor"], first["cursor"]);
            assert_eq!(info["endCursor"], last["cursor"]);
        }
        pages += 1;
        let more = if forward {
            assert_eq!(info["hasPreviousPage"], json!(cursor.is_some()));
            info["hasNextPage"].as_bool().unwrap_or(false)
        } else {
            assert_eq!(info["hasNextPage"], json!(cursor.is_some()));
            info["hasPreviousPage"].as_bool().unwrap_or(false)
        };
        if more {
            assert_eq!(page.len(), size, "a page that is not the last is full");
        }
        if forward {
            nodes.extend(page);
            cursor = info["endCursor"].as_str().map(str::to_owned);
        } else {
            nodes.splice(0..0, page);
            cursor = info["startCursor"].as_str().map(str::to_owned);
        }
        if !more {
            break;
        }
        assert!(pages <= total + 1, "pagination does not end");
    }
    nodes
}

fn ids(nodes: &[Value]) -> Vec<i64> {
    nodes
        .iter()
        .map(|node| node["databaseId"].as_i64().expect("databaseId"))
        .collect()
}

on_both! {
    async fn tenants_by_name_page_both_ways_with_ties_broken_by_id(app: TestApp) {
        let acme = workspace(&app.db, "Acme").await;
        // Inserted out of order; pairs share a name, so only the id orders them.
        let mut expected: Vec<(String, i64)> = Vec::new();
        for i in [7, 3, 11, 0, 9, 5, 1, 10, 2, 8, 4, 6, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22] {
            let name = format!("Tenant {:02}", (i / 2) * 2);
            let row = tenant_with(&app.db, acme.id, &name, |row| {
                row.external_id = sea_orm::ActiveValue::Set(format!("ext-{i}"));
            })
            .await;
            expected.push((name, row.id));
        }
        expected.sort();
        let expected_ids: Vec<i64> = expected.iter().map(|(_, id)| *id).collect();

        for size in [1, 5, 23, 100] {
            let forward = walk(&app, "tenants", "", "databaseId name", size, true, 23).await;
            assert_eq!(ids(&forward), expected_ids, "forward, {size} a page");
            let backward = walk(&app, "tenants", "", "databaseId name", size, false, 23).await;
            assert_eq!(ids(&backward), expected_ids, "backward, {size} a page");
        }

        let descending = walk(&app, "tenants", ", orderBy: {field: NAME, direction: DESC}", "databaseId", 4, true, 23).await;
        let mut reversed = expected_ids.clone();
        reversed.reverse();
        assert_eq!(ids(&descending), reversed);
    }
}

on_both! {
    async fn runs_by_start_time_keep_unstarted_runs_last_both_ways(app: TestApp) {
        let acme = workspace(&app.db, "Acme").await;
        let mut expected: Vec<(Option<chrono::DateTime<chrono::Utc>>, i64)> = Vec::new();
        // Duplicated start times and unstarted (queued) runs.
        for minutes in [Some(5), None, Some(30), Some(5), None, Some(90), Some(30), Some(1), None, Some(5), Some(60), None] {
            let started = minutes.map(minutes_ago);
            let run = run_with(&app.db, acme.id, None, |row| {
                row.started_at = sea_orm::ActiveValue::Set(started);
                if started.is_none() {
                    row.status = sea_orm::ActiveValue::Set("queued".to_owned());
                    row.outcome = sea_orm::ActiveValue::Set("pending".to_owned());
                    row.completed_at = sea_orm::ActiveValue::Set(None);
                }
            })
            .await;
            expected.push((started, run.id));
        }
        // STARTED_AT DESC: latest start first, unstarted last; ties by id, descending.
        expected.sort_by(|a, b| match (a.0, b.0) {
            (Some(x), Some(y)) => y.cmp(&x).then(b.1.cmp(&a.1)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => b.1.cmp(&a.1),
        });
        let expected_ids: Vec<i64> = expected.iter().map(|(_, id)| *id).collect();
        let order = ", orderBy: {field: STARTED_AT, direction: DESC}";
        for size in [1, 3, 5] {
            let forward = walk(&app, "operationRuns", order, "databaseId", size, true, 12).await;
            assert_eq!(ids(&forward), expected_ids, "forward, {size} a page");
            let backward = walk(&app, "operationRuns", order, "databaseId", size, false, 12).await;
            assert_eq!(ids(&backward), expected_ids, "backward, {size} a page");
        }

        // Ascending keeps unstarted runs last too.
        let ascending = walk(&app, "operationRuns", ", orderBy: {field: STARTED_AT, direction: ASC}", "databaseId startedAt", 4, true, 12).await;
        let starts: Vec<&Value> = ascending.iter().map(|node| &node["startedAt"]).collect();
        assert!(starts[..8].iter().all(|start| !start.is_null()));
        assert!(starts[8..].iter().all(|start| start.is_null()));
    }
}

on_both! {
    async fn runs_default_to_newest_first(app: TestApp) {
        let acme = workspace(&app.db, "Acme").await;
        let older = run_with(&app.db, acme.id, None, |row| row.created_at = sea_orm::ActiveValue::Set(minutes_ago(50))).await;
        let newer = run_with(&app.db, acme.id, None, |row| row.created_at = sea_orm::ActiveValue::Set(minutes_ago(5))).await;
        let same_time = run_with(&app.db, acme.id, None, |row| row.created_at = sea_orm::ActiveValue::Set(minutes_ago(5))).await;
        let nodes = walk(&app, "operationRuns", "", "databaseId", 2, true, 3).await;
        assert_eq!(ids(&nodes), vec![same_time.id, newer.id, older.id]);
    }
}

on_both! {
    async fn a_workspace_tenant_list_pages_forward_under_one_parent(app: TestApp) {
        let acme = workspace(&app.db, "Acme").await;
        let other = workspace(&app.db, "Other").await;
        for i in 0..7 {
            tenant(&app.db, acme.id, &format!("Acme {i}")).await;
            tenant(&app.db, other.id, &format!("Other {i}")).await;
        }
        let query = "query($id: ID!, $after: String) { workspace(id: $id) { tenants(first: 3, after: $after) {
            totalCount nodes { name } pageInfo { hasNextPage endCursor } } } }";
        let id = control_tower::graphql::ids::NodeKind::Workspace.id(acme.id);
        let mut names = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let data = app.data(query, json!({"id": id, "after": after})).await;
            let tenants = &data["workspace"]["tenants"];
            assert_eq!(tenants["totalCount"], json!(7));
            for node in tenants["nodes"].as_array().unwrap() {
                names.push(node["name"].as_str().unwrap().to_owned());
            }
            if !tenants["pageInfo"]["hasNextPage"].as_bool().unwrap() {
                break;
            }
            after = tenants["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        }
        let expected: Vec<String> = (0..7).map(|i| format!("Acme {i}")).collect();
        assert_eq!(names, expected);
    }
}

on_both! {
    async fn nested_tenant_pages_are_per_workspace(app: TestApp) {
        let empty = workspace(&app.db, "A Empty").await;
        let busy = workspace(&app.db, "B Busy").await;
        let small = workspace(&app.db, "C Small").await;
        for i in 0..5 {
            tenant(&app.db, busy.id, &format!("Busy {i}")).await;
        }
        tenant(&app.db, small.id, "Small 0").await;
        let data = app
            .data(
                "{ workspaces { nodes { name tenants(first: 2) { totalCount nodes { name } pageInfo { hasNextPage } } } } }",
                json!({}),
            )
            .await;
        let workspaces = data["workspaces"]["nodes"].as_array().unwrap();
        assert_eq!(workspaces.len(), 3);
        assert_eq!(workspaces[0]["name"], json!(empty.name));
        assert_eq!(workspaces[0]["tenants"], json!({"totalCount": 0, "nodes": [], "pageInfo": {"hasNextPage": false}}));
        assert_eq!(
            workspaces[1]["tenants"],
            json!({"totalCount": 5, "nodes": [{"name": "Busy 0"}, {"name": "Busy 1"}], "pageInfo": {"hasNextPage": true}})
        );
        assert_eq!(
            workspaces[2]["tenants"],
            json!({"totalCount": 1, "nodes": [{"name": "Small 0"}], "pageInfo": {"hasNextPage": false}})
        );
    }
}
