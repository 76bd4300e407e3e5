//! The proof that no query fans out (SPEC §10): the same query shape issues the same
//! number of SQL statements for 1, 10 and 100 parents, and that number is asserted
//! exactly. Each count is one statement for the session, then one per list and per edge
//! level.

use control_tower::auth::Capability;
use control_tower::graphql::ids::NodeKind;
use entity::{audit_log, operation_run, workspace_membership};
use sea_orm::ActiveValue::Set;
use serde_json::{Value, json};

use crate::common::{Backend, TestApp, operator_token};
use crate::fixtures::*;
use crate::on_both;

const SIZES: [usize; 3] = [1, 10, 100];

/// Runs `query` for each size's variables and checks the statement count never moves.
async fn assert_statements(
    app: &TestApp,
    query: &str,
    variables: &[(usize, Value)],
    expected: u64,
    check: impl Fn(usize, &Value),
) {
    for (size, variables) in variables {
        let (response, statements) = app.gql_counted(query, variables.clone()).await;
        assert!(response.get("errors").is_none(), "{response:#}");
        check(*size, &response["data"]);
        assert_eq!(statements, expected, "{size} parents");
    }
}

on_both! {
    async fn tenants_with_workspace_connections_and_permissions(app: TestApp) {
        let mut variables = Vec::new();
        for size in SIZES {
            let group = workspace(&app.db, &format!("Group {size}")).await;
            tenants_with_children(&app.db, group.id, "Tenant", size, 2, 3).await;
            variables.push((size, json!({"workspace": NodeKind::Workspace.id(group.id)})));
        }
        let query = "query($workspace: ID!) { tenants(first: 100, filter: {workspaceId: $workspace}) {
            totalCount nodes { name workspace { name } providerConnections { provider } permissions { key } } } }";
        // The page, its count, then one statement per edge: workspaces, connections, permissions.
        assert_statements(&app, query, &variables, 6, |size, data| {
            let nodes = data["tenants"]["nodes"].as_array().unwrap();
            assert_eq!(nodes.len(), size);
            assert_eq!(data["tenants"]["totalCount"], json!(size));
            assert!(nodes.iter().all(|node| node["providerConnections"].as_array().unwrap().len() == 2));
            assert!(nodes.iter().all(|node| node["permissions"].as_array().unwrap().len() == 3));
            assert!(nodes.iter().all(|node| node["workspace"]["name"] == json!(format!("Group {size}"))));
        })
        .await;
    }
}

on_both! {
    async fn permissions_read_whole_or_summarized_cost_one_statement(app: TestApp) {
        let mut variables = Vec::new();
        for size in SIZES {
            let group = workspace(&app.db, &format!("Checked {size}")).await;
            tenants_with_children(&app.db, group.id, "Checked", size, 0, 3).await;
            variables.push((size, json!({"workspace": NodeKind::Workspace.id(group.id)})));
        }
        // A list that reads `details` (here through a fragment) loads whole rows; one that
        // does not, summaries; the tenant's health reads summaries too. Either way, one
        // statement per list of permissions.
        let whole = "query($workspace: ID!) { tenants(first: 100, filter: {workspaceId: $workspace}) {
            nodes { permissions { key ...checked } } } }
            fragment checked on TenantPermission { details lastCheckedAt }";
        assert_statements(&app, whole, &variables, 3, |size, data| {
            let nodes = data["tenants"]["nodes"].as_array().unwrap();
            assert_eq!(nodes.len(), size);
            assert!(nodes.iter().all(|node| node["permissions"].as_array().unwrap().len() == 3));
        })
        .await;
        let summarized = "query($workspace: ID!) { tenants(first: 100, filter: {workspaceId: $workspace}) {
            nodes { permissions { key status lastCheckedAt } health { level } } } }";
        assert_statements(&app, summarized, &variables, 6, |size, data| {
            let nodes = data["tenants"]["nodes"].as_array().unwrap();
            assert_eq!(nodes.len(), size);
            assert!(nodes.iter().all(|node| node["permissions"].as_array().unwrap().len() == 3));
            assert!(nodes.iter().all(|node| node["health"]["level"].is_string()));
        })
        .await;
    }
}

on_both! {
    async fn a_hundred_parents_without_children_cost_the_same(app: TestApp) {
        let mut variables = Vec::new();
        for size in SIZES {
            let group = workspace(&app.db, &format!("Bare {size}")).await;
            tenants_with_children(&app.db, group.id, "Bare", size, 0, 0).await;
            variables.push((size, json!({"workspace": NodeKind::Workspace.id(group.id)})));
        }
        let query = "query($workspace: ID!) { tenants(first: 100, filter: {workspaceId: $workspace}) {
            nodes { providerConnections { provider } permissions { key } } } }";
        assert_statements(&app, query, &variables, 4, |size, data| {
            let nodes = data["tenants"]["nodes"].as_array().unwrap();
            assert_eq!(nodes.len(), size);
            assert!(nodes.iter().all(|node| node == &json!({"providerConnections": [], "permissions": []})));
        })
        .await;
    }
}

on_both! {
    async fn workspaces_with_their_tenants_and_connections(app: TestApp) {
        let mut variables = Vec::new();
        for (size, prefix) in [(1, "one"), (10, "ten"), (100, "hundred")] {
            for index in 0..size {
                let group = workspace(&app.db, &format!("{prefix}-{index:03}")).await;
                tenants_with_children(&app.db, group.id, &format!("W{}", group.id), 2, 1, 0).await;
            }
            variables.push((size, json!({"prefix": format!("{prefix}-")})));
        }
        let query = "query($prefix: String) { workspaces(first: 100, filter: {search: $prefix}) {
            totalCount nodes { name tenants(first: 10) { totalCount nodes { name providerConnections { provider } } } } } }";
        // Workspaces and their count, one statement for every workspace's page of tenants
        // and one for their counts, one for the connections of all those tenants.
        assert_statements(&app, query, &variables, 6, |size, data| {
            let nodes = data["workspaces"]["nodes"].as_array().unwrap();
            assert_eq!(nodes.len(), size);
            for node in nodes {
                assert_eq!(node["tenants"]["totalCount"], json!(2));
                let tenants = node["tenants"]["nodes"].as_array().unwrap();
                assert_eq!(tenants.len(), 2);
                assert!(tenants.iter().all(|t| t["providerConnections"].as_array().unwrap().len() == 1));
            }
        })
        .await;
    }
}

on_both! {
    async fn runs_with_workspace_tenant_and_user(app: TestApp) {
        let mut variables = Vec::new();
        for size in SIZES {
            let group = workspace(&app.db, &format!("Runs {size}")).await;
            let tenant_ids = tenants_with_children(&app.db, group.id, "T", size.min(20), 0, 0).await;
            let person = user(&app.db, &format!("Person {size}")).await;
            let rows: Vec<operation_run::ActiveModel> = (0..size)
                .map(|index| {
                    run_row(group.id, Some(tenant_ids[index % tenant_ids.len()]), |row| {
                        row.user_id = Set(Some(person.id));
                        row.created_at = Set(minutes_ago(index as i64));
                    })
                })
                .collect();
            insert_all(&app.db, rows).await;
            variables.push((size, json!({"workspace": NodeKind::Workspace.id(group.id)})));
        }
        let query = "query($workspace: ID!) { operationRuns(first: 100, filter: {workspaceId: $workspace}) {
            nodes { type workspace { name } tenant { name workspace { slug } } user { name } summaryCounts { key } failureSummary { message } } } }";
        // The page, then workspaces, tenants and users, once each (the tenants' workspaces
        // are the runs' workspaces, already loaded).
        assert_statements(&app, query, &variables, 5, |size, data| {
            let nodes = data["operationRuns"]["nodes"].as_array().unwrap();
            assert_eq!(nodes.len(), size);
            assert!(nodes.iter().all(|node| node["user"]["name"] == json!(format!("Person {size}"))));
            assert!(nodes.iter().all(|node| node["tenant"]["name"].is_string()));
        })
        .await;
    }
}

on_both! {
    async fn audit_logs_with_workspace_and_tenant(app: TestApp) {
        let mut variables = Vec::new();
        for size in SIZES {
            let group = workspace(&app.db, &format!("Audit {size}")).await;
            let tenant_ids = tenants_with_children(&app.db, group.id, "A", size.min(20), 0, 0).await;
            let rows: Vec<audit_log::ActiveModel> = (0..size)
                .map(|index| audit_log::ActiveModel {
                    workspace_id: Set(Some(group.id)),
                    tenant_id: Set(Some(tenant_ids[index % tenant_ids.len()])),
                    actor_id: Set(None),
                    actor_type: Set("system".to_owned()),
                    actor_name: Set(Some("system".to_owned())),
                    actor_email: Set(None),
                    action: Set("tenant.permissions.checked".to_owned()),
                    status: Set("success".to_owned()),
                    metadata: Set(None),
                    recorded_at: Set(minutes_ago(index as i64)),
                    created_at: Set(now()),
                    ..Default::default()
                })
                .collect();
            insert_all(&app.db, rows).await;
            variables.push((size, json!({"workspace": NodeKind::Workspace.id(group.id)})));
        }
        let query = "query($workspace: ID!) { auditLogs(first: 100, filter: {workspaceId: $workspace}) {
            nodes { action workspace { name } tenant { name } } } }";
        assert_statements(&app, query, &variables, 4, |size, data| {
            assert_eq!(data["auditLogs"]["nodes"].as_array().unwrap().len(), size);
        })
        .await;
    }
}

on_both! {
    async fn workspaces_with_members(app: TestApp) {
        let mut variables = Vec::new();
        for (size, prefix) in [(1, "solo"), (10, "team"), (100, "crowd")] {
            for index in 0..size {
                let group = workspace(&app.db, &format!("{prefix}-{index:03}")).await;
                let person = user(&app.db, &format!("{prefix} member {index}")).await;
                let rows = vec![workspace_membership::ActiveModel {
                    workspace_id: Set(group.id),
                    user_id: Set(person.id),
                    role: Set("owner".to_owned()),
                    created_at: Set(now()),
                    updated_at: Set(now()),
                    ..Default::default()
                }];
                insert_all(&app.db, rows).await;
            }
            variables.push((size, json!({"prefix": format!("{prefix}-")})));
        }
        let query = "query($prefix: String) { workspaces(first: 100, filter: {search: $prefix}) {
            nodes { memberships { role user { name } workspace { slug } } } } }";
        // Workspaces, memberships, users; the memberships' workspaces are already loaded.
        assert_statements(&app, query, &variables, 4, |size, data| {
            let nodes = data["workspaces"]["nodes"].as_array().unwrap();
            assert_eq!(nodes.len(), size);
            assert!(nodes.iter().all(|node| node["memberships"][0]["user"]["name"].is_string()));
        })
        .await;
    }
}

on_both! {
    async fn tenants_with_health_run_stats_and_recent_runs(app: TestApp) {
        let mut variables = Vec::new();
        for size in SIZES {
            let group = workspace(&app.db, &format!("Health {size}")).await;
            let tenant_ids = tenants_with_children(&app.db, group.id, "H", size, 1, 2).await;
            let rows: Vec<operation_run::ActiveModel> = tenant_ids
                .iter()
                .flat_map(|tenant_id| {
                    (0..3).map(move |index| {
                        run_row(group.id, Some(*tenant_id), |row| {
                            let outcome = if index == 0 { "failed" } else { "succeeded" };
                            row.outcome = Set(outcome.to_owned());
                            row.created_at = Set(minutes_ago(10 + index));
                        })
                    })
                })
                .collect();
            insert_all(&app.db, rows).await;
            variables.push((size, json!({"workspace": NodeKind::Workspace.id(group.id)})));
        }
        let query = "query($workspace: ID!) { tenants(first: 100, filter: {workspaceId: $workspace}) {
            nodes { health { level signals { source } } runStats { total failed } week: runStats(window: LAST_7D) { total }
                    recentRuns(first: 2) { type isStuck } } } }";
        // The page; connections, permissions and 24-hour tallies for the badges (the
        // runStats share the tallies); the 7-day tallies; the recent runs. Each window's
        // tallies read its dirty hours first (see `db::rollup`).
        assert_statements(&app, query, &variables, 9, |size, data| {
            let nodes = data["tenants"]["nodes"].as_array().unwrap();
            assert_eq!(nodes.len(), size);
            for node in nodes {
                assert_eq!(node["health"]["level"], json!("WARNING"), "one failed run");
                assert_eq!(node["runStats"], json!({"total": 3, "failed": 1}));
                assert_eq!(node["recentRuns"].as_array().unwrap().len(), 2);
            }
        })
        .await;
    }
}

on_both! {
    async fn workspaces_with_health_and_run_stats(app: TestApp) {
        let mut variables = Vec::new();
        for (size, prefix) in [(1, "uno"), (10, "diez"), (100, "cien")] {
            for index in 0..size {
                let group = workspace(&app.db, &format!("{prefix}-{index:03}")).await;
                tenants_with_children(&app.db, group.id, &format!("{prefix}{index}"), 2, 1, 1).await;
            }
            variables.push((size, json!({"prefix": format!("{prefix}-")})));
        }
        let query = "query($prefix: String) { workspaces(first: 100, filter: {search: $prefix}) {
            nodes { health { level } runStats { total } } } }";
        // The page, the tenant levels of all workspaces, their run tallies (after the
        // window's dirty hours).
        assert_statements(&app, query, &variables, 5, |size, data| {
            let nodes = data["workspaces"]["nodes"].as_array().unwrap();
            assert_eq!(nodes.len(), size);
            assert!(nodes.iter().all(|node| node["health"]["level"] == json!("HEALTHY")));
        })
        .await;
    }
}

on_both! {
    async fn the_control_tower_costs_a_fixed_number_of_statements(app: TestApp) {
        for size in SIZES {
            let group = workspace(&app.db, &format!("Tower {size}")).await;
            tenants_with_children(&app.db, group.id, "Tower", size, 1, 1).await;
            let query = format!(
                "{{ controlTower(window: {}) {{ runs {{ total }} stuckTotal byType {{ type }} topFailingTenants {{ tenant {{ name }} }} topFailingWorkspaces {{ workspace {{ name }} }} tenantHealth {{ healthy }} access {{ loginsFailed }} }} }}",
                ["LAST_1H", "LAST_24H", "LAST_7D"][SIZES.iter().position(|s| *s == size).unwrap()]
            );
            let (response, statements) = app.gql_counted(&query, json!({})).await;
            assert!(response.get("errors").is_none(), "{response}");
            // The session, then the window's dirty hours and its grouped tallies, the
            // stuck total, every tenant graded and ranked, access, the failing tenants'
            // tallies and rows, and the failing workspaces.
            assert_eq!(statements, 9, "{size} tenants");
        }
    }
}

/// On PostgreSQL a request's statements share one connection of the pool, and a
/// transaction gives it back before it takes its own: with a pool of one connection, a
/// page whose edges load at once, a logout (the session read, then a transaction) and
/// requests side by side are all answered, none waiting for a connection its own request
/// holds.
async fn one_connection_serves_every_request(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.database_max_connections = 1;
        config.database_acquire_timeout_ms = 2_000;
    })
    .await;
    let group = workspace(&app.db, "Pooled").await;
    tenants_with_children(&app.db, group.id, "Pooled", 5, 2, 3).await;
    let board = "{ tenants(first: 50) { nodes { name workspace { name } providerConnections { provider status } permissions { key status } } } }";
    let data = app.data(board, json!({})).await;
    assert_eq!(data["tenants"]["nodes"].as_array().unwrap().len(), 5);

    let token = operator_token(&app.db, "leaving@ops.test", &[Capability::ConsoleView]).await;
    let (logout, statements) = app
        .gql_with(Some(&token), "mutation { logout }", json!({}))
        .await;
    assert_eq!(logout["data"]["logout"], json!(true), "{logout}");
    assert!(
        statements >= 2,
        "the session, then the transaction: {statements}"
    );
    let (after, _) = app
        .gql_with(Some(&token), "{ viewer { email } }", json!({}))
        .await;
    assert_eq!(
        after["errors"][0]["extensions"]["code"],
        json!("UNAUTHENTICATED"),
        "{after}"
    );

    // Boards beside Control Towers, whose snapshots run on the aggregates' pool (of one
    // connection too, on PostgreSQL) while their requests give theirs back.
    let tower = "{ controlTower(window: LAST_24H) { runs { total } tenantHealth { healthy } } tenants(first: 5) { nodes { name } } }";
    let side_by_side =
        (0..8).map(|round| app.gql(if round % 2 == 0 { board } else { tower }, json!({})));
    for response in futures::future::join_all(side_by_side).await {
        assert!(response.get("errors").is_none(), "{response}");
        assert_eq!(
            response["data"]["tenants"]["nodes"]
                .as_array()
                .unwrap()
                .len(),
            5
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_serves_every_request_on_sqlite() {
    one_connection_serves_every_request(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "TEST_DATABASE_URL is not set: PostgreSQL skipped"
)]
async fn one_connection_serves_every_request_on_postgres() {
    one_connection_serves_every_request(Backend::Postgres).await;
}
