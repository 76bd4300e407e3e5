//! The derived values of SPEC §3 over the hand-built estate: stuck runs, health badges,
//! run statistics, windows and the Control Tower, with every number known in advance.

use std::collections::BTreeSet;

use control_tower::graphql::ids::NodeKind;
use serde_json::{Value, json};

use crate::common::TestApp;
use crate::estate::{self, t};
use crate::on_both;

fn ids_of(connection: &Value) -> Vec<i64> {
    connection["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| node["databaseId"].as_i64().unwrap())
        .collect()
}

fn runs(estate: &estate::Estate, names: &[&str]) -> Vec<i64> {
    names.iter().map(|name| estate.runs[name]).collect()
}

on_both! {
    async fn the_stuck_flag_and_the_stuck_filter_agree_on_every_boundary(app: TestApp at t()) {
        let estate = estate::build(&app.db).await;
        let data = app
            .data("{ operationRuns(first: 100) { nodes { databaseId isStuck } } stuck: operationRuns(first: 100, filter: {stuck: true}) { totalCount nodes { databaseId } } fine: operationRuns(first: 100, filter: {stuck: false}) { totalCount nodes { databaseId } } }", json!({}))
            .await;
        let flagged: BTreeSet<i64> = data["operationRuns"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|node| node["isStuck"] == json!(true))
            .map(|node| node["databaseId"].as_i64().unwrap())
            .collect();
        let filtered: BTreeSet<i64> = ids_of(&data["stuck"]).into_iter().collect();
        let expected: BTreeSet<i64> = runs(&estate, &["r11", "r13", "r14", "r16", "r24"]).into_iter().collect();
        assert_eq!(flagged, expected, "the pure rule");
        assert_eq!(filtered, expected, "the SQL rule");
        assert_eq!(data["stuck"]["totalCount"], json!(5));
        assert_eq!(data["fine"]["totalCount"], json!(21));
        let fine: BTreeSet<i64> = ids_of(&data["fine"]).into_iter().collect();
        assert!(fine.is_disjoint(&expected));
        for name in ["r12", "r15", "r17", "r18"] {
            assert!(fine.contains(&estate.runs[name]), "{name} is not stuck");
        }
    }
}

on_both! {
    async fn a_stuck_run_says_why_since_when_and_by_how_much(app: TestApp at t()) {
        let estate = estate::build(&app.db).await;
        let query = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on OperationRun { stuck { reason since thresholdMinutes overdueMinutes } } } }";
        let ids: Vec<_> = ["r11", "r13", "r16", "r24", "r12"].iter().map(|name| NodeKind::OperationRun.id(estate.runs[name])).collect();
        let data = app.data(query, json!({"ids": ids})).await;
        assert_eq!(
            data["nodes"],
            json!([
                {"stuck": {"reason": "QUEUED_TOO_LONG", "since": "2026-11-27T11:45:00+00:00", "thresholdMinutes": 15, "overdueMinutes": 0}},
                {"stuck": {"reason": "QUEUED_TOO_LONG", "since": "2026-11-27T11:44:59+00:00", "thresholdMinutes": 15, "overdueMinutes": 0}},
                {"stuck": {"reason": "RUNNING_TOO_LONG", "since": "2026-11-27T10:59:59+00:00", "thresholdMinutes": 60, "overdueMinutes": 0}},
                {"stuck": {"reason": "RUNNING_TOO_LONG", "since": "2026-11-17T12:00:00+00:00", "thresholdMinutes": 60, "overdueMinutes": 14340}},
                {"stuck": null}
            ])
        );
    }
}

on_both! {
    async fn failures_and_stuck_runs_follow_their_window(app: TestApp at t()) {
        let estate = estate::build(&app.db).await;
        let data = app
            .data(
                "{ day: failures { totalCount nodes { databaseId } }
                   hour: failures(window: LAST_1H) { totalCount nodes { databaseId } }
                   week: failures(window: LAST_7D, filter: {types: [\"policy.sync\"]}) { totalCount nodes { databaseId } }
                   stuck: stuckRuns { totalCount nodes { databaseId } }
                   stuckHour: stuckRuns(window: LAST_1H) { totalCount nodes { databaseId } } }",
                json!({}),
            )
            .await;
        // r6 and r19 were created at the same moment: the higher id first.
        assert_eq!(ids_of(&data["day"]), runs(&estate, &["r19", "r6", "r5", "r3", "r26", "r7", "r8", "r9"]));
        assert_eq!(data["day"]["totalCount"], json!(8));
        assert_eq!(ids_of(&data["hour"]), runs(&estate, &["r19", "r6", "r5"]));
        assert_eq!(ids_of(&data["week"]), runs(&estate, &["r3", "r26", "r4"]));
        assert_eq!(ids_of(&data["stuck"]), runs(&estate, &["r11", "r13", "r14", "r16"]));
        assert_eq!(ids_of(&data["stuckHour"]), runs(&estate, &["r11", "r13"]));
    }
}

on_both! {
    async fn tenant_badges_follow_every_row_of_the_rules(app: TestApp at t()) {
        estate::build(&app.db).await;
        let data = app
            .data("{ tenants(first: 100) { nodes { name day: health { level } hour: health(window: LAST_1H) { level } week: health(window: LAST_7D) { level } } } }", json!({}))
            .await;
        let levels: Vec<(String, String, String, String)> = data["tenants"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|node| {
                let level = |key: &str| node[key]["level"].as_str().unwrap().to_owned();
                (node["name"].as_str().unwrap().to_owned(), level("hour"), level("day"), level("week"))
            })
            .collect();
        let expected = [
            ("A Healthy", "HEALTHY", "HEALTHY", "HEALTHY"),
            ("B Onboarding", "WARNING", "WARNING", "WARNING"),
            ("C Archived", "UNKNOWN", "UNKNOWN", "UNKNOWN"),
            ("D No connection", "CRITICAL", "CRITICAL", "CRITICAL"),
            ("E Connection error", "CRITICAL", "CRITICAL", "CRITICAL"),
            ("F Needs consent", "WARNING", "WARNING", "WARNING"),
            ("G Degraded", "WARNING", "WARNING", "WARNING"),
            ("H Down", "CRITICAL", "CRITICAL", "CRITICAL"),
            ("I Unknown health", "UNKNOWN", "UNKNOWN", "UNKNOWN"),
            ("J Never checked", "UNKNOWN", "UNKNOWN", "UNKNOWN"),
            ("K Stale", "WARNING", "WARNING", "WARNING"),
            ("L No permissions", "UNKNOWN", "UNKNOWN", "UNKNOWN"),
            ("M Missing", "CRITICAL", "CRITICAL", "CRITICAL"),
            ("N Permission error", "WARNING", "WARNING", "WARNING"),
            ("O Permission stale", "WARNING", "WARNING", "WARNING"),
            ("P Stuck", "CRITICAL", "CRITICAL", "CRITICAL"),
            ("Q Five failures", "WARNING", "CRITICAL", "CRITICAL"),
            ("R One failure", "HEALTHY", "WARNING", "WARNING"),
            ("S Beta ok", "HEALTHY", "HEALTHY", "HEALTHY"),
            ("T Beta archived", "UNKNOWN", "UNKNOWN", "UNKNOWN"),
        ];
        let expected: Vec<(String, String, String, String)> = expected
            .iter()
            .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
            .collect();
        assert_eq!(levels, expected);
    }
}

on_both! {
    async fn the_health_filter_agrees_with_the_badges_and_pages(app: TestApp at t()) {
        estate::build(&app.db).await;
        for window in ["LAST_1H", "LAST_24H", "LAST_7D"] {
            let badges = app
                .data(&format!("{{ tenants(first: 100) {{ nodes {{ databaseId health(window: {window}) {{ level }} }} }} }}"), json!({}))
                .await;
            for level in ["HEALTHY", "UNKNOWN", "WARNING", "CRITICAL"] {
                let expected: BTreeSet<i64> = badges["tenants"]["nodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|node| node["health"]["level"] == json!(level))
                    .map(|node| node["databaseId"].as_i64().unwrap())
                    .collect();
                let filtered = app
                    .data(
                        &format!("{{ tenants(first: 100, filter: {{health: {level}, healthWindow: {window}}}) {{ totalCount nodes {{ databaseId }} }} }}"),
                        json!({}),
                    )
                    .await;
                let found: BTreeSet<i64> = ids_of(&filtered["tenants"]).into_iter().collect();
                assert_eq!(found, expected, "{level} in {window}: SQL and Rust disagree");
                assert_eq!(filtered["tenants"]["totalCount"], json!(expected.len()));
            }
        }

        // Paging through the warnings of the last 24 hours.
        let query = "query($after: String) { tenants(first: 3, after: $after, filter: {health: WARNING}) { totalCount nodes { name } pageInfo { hasNextPage endCursor } } }";
        let mut names = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let data = app.data(query, json!({"after": after})).await;
            let tenants = &data["tenants"];
            assert_eq!(tenants["totalCount"], json!(7));
            names.extend(tenants["nodes"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap().to_owned()));
            if tenants["pageInfo"]["hasNextPage"] != json!(true) {
                break;
            }
            after = tenants["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        }
        assert_eq!(
            names,
            ["B Onboarding", "F Needs consent", "G Degraded", "K Stale", "N Permission error", "O Permission stale", "R One failure"]
        );
    }
}

on_both! {
    async fn a_badge_lists_every_signal_worst_first_with_its_reason(app: TestApp at t()) {
        let estate = estate::build(&app.db).await;
        let query = "query($id: ID!) { tenant(id: $id) { health { level signals { source level message } } } }";
        let missing = app.data(query, json!({"id": NodeKind::Tenant.id(estate.tenants["M Missing"])})).await;
        assert_eq!(
            missing["tenant"]["health"],
            json!({"level": "CRITICAL", "signals": [
                {"source": "PERMISSIONS", "level": "CRITICAL", "message": "2 permissions missing: DeviceManagementConfiguration.Read.All, Policy.Read.All"},
                {"source": "TENANT_STATUS", "level": "HEALTHY", "message": "Tenant is active"},
                {"source": "PROVIDER_CONNECTION", "level": "HEALTHY", "message": "microsoft connection is healthy"},
                {"source": "RUNS", "level": "HEALTHY", "message": "No failed or stuck runs in the last 24 hours"}
            ]})
        );
        let stuck = app.data(query, json!({"id": NodeKind::Tenant.id(estate.tenants["P Stuck"])})).await;
        assert_eq!(
            stuck["tenant"]["health"]["signals"][0],
            json!({"source": "RUNS", "level": "CRITICAL", "message": "4 runs stuck, created in the last 24 hours"})
        );
        let none = app.data(query, json!({"id": NodeKind::Tenant.id(estate.tenants["D No connection"])})).await;
        assert_eq!(
            none["tenant"]["health"]["signals"][0],
            json!({"source": "PROVIDER_CONNECTION", "level": "CRITICAL", "message": "No active provider connection"})
        );
        let stale = app.data(query, json!({"id": NodeKind::Tenant.id(estate.tenants["K Stale"])})).await;
        assert_eq!(
            stale["tenant"]["health"]["signals"][0]["message"],
            json!("microsoft connection was healthy when last checked 25 hours ago (stale after 24 hours)")
        );
        let connection = app
            .data("query($id: ID!) { tenant(id: $id) { providerConnections { health { level signals { source message } } } } }", json!({"id": NodeKind::Tenant.id(estate.tenants["H Down"])}))
            .await;
        assert_eq!(
            connection["tenant"]["providerConnections"][0]["health"],
            json!({"level": "CRITICAL", "signals": [{"source": "PROVIDER_CONNECTION", "message": "microsoft connection is down"}]})
        );
    }
}

on_both! {
    async fn workspace_badges_summarise_their_tenants_and_runs(app: TestApp at t()) {
        estate::build(&app.db).await;
        let data = app.data("{ workspaces { nodes { name health { level signals { source level message } } } } }", json!({})).await;
        assert_eq!(
            data["workspaces"]["nodes"],
            json!([
                {"name": "Alpha", "health": {"level": "CRITICAL", "signals": [
                    {"source": "RUNS", "level": "CRITICAL", "message": "4 runs stuck, created in the last 24 hours"},
                    {"source": "TENANTS", "level": "CRITICAL", "message": "6 tenants CRITICAL, 7 WARNING, 3 UNKNOWN"}
                ]}},
                {"name": "Beta", "health": {"level": "HEALTHY", "signals": [
                    {"source": "RUNS", "level": "HEALTHY", "message": "No failed or stuck runs in the last 24 hours"},
                    {"source": "TENANTS", "level": "HEALTHY", "message": "All 1 tenant HEALTHY"}
                ]}},
                {"name": "Delta", "health": {"level": "UNKNOWN", "signals": [
                    {"source": "TENANTS", "level": "UNKNOWN", "message": "No tenants in service"},
                    {"source": "RUNS", "level": "HEALTHY", "message": "No failed or stuck runs in the last 24 hours"}
                ]}},
                {"name": "Gamma", "health": {"level": "UNKNOWN", "signals": [
                    {"source": "TENANTS", "level": "UNKNOWN", "message": "No tenants in service"},
                    {"source": "RUNS", "level": "HEALTHY", "message": "No failed or stuck runs in the last 24 hours"}
                ]}}
            ])
        );
    }
}

on_both! {
    async fn run_stats_and_recent_runs_follow_the_window(app: TestApp at t()) {
        let estate = estate::build(&app.db).await;
        let data = app
            .data(
                "query($q: ID!, $alpha: ID!) {
                   tenant(id: $q) { runStats { total completed failed stuck failureRate }
                     hour: runStats(window: LAST_1H) { total failed }
                     week: runStats(window: LAST_7D) { total failed failureRate }
                     recentRuns(first: 3) { databaseId } }
                   workspace(id: $alpha) { runStats { total queued running completed succeeded partiallySucceeded failed canceled stuck } } }",
                json!({"q": NodeKind::Tenant.id(estate.tenants["Q Five failures"]), "alpha": NodeKind::Workspace.id(estate.workspaces["Alpha"])}),
            )
            .await;
        let tenant = &data["tenant"];
        assert_eq!(tenant["runStats"], json!({"total": 5, "completed": 5, "failed": 5, "stuck": 0, "failureRate": 1.0}));
        assert_eq!(tenant["hour"], json!({"total": 2, "failed": 2}));
        assert_eq!(tenant["week"], json!({"total": 6, "failed": 6, "failureRate": 1.0}));
        let recent: Vec<i64> = tenant["recentRuns"].as_array().unwrap().iter().map(|r| r["databaseId"].as_i64().unwrap()).collect();
        assert_eq!(recent, runs(&estate, &["r6", "r5", "r7"]));
        // Alpha in 24 h: every run of the estate's 24 h but r21, which is Beta's.
        assert_eq!(
            data["workspace"]["runStats"],
            json!({"total": 20, "queued": 4, "running": 4, "completed": 12, "succeeded": 2, "partiallySucceeded": 0, "failed": 8, "canceled": 1, "stuck": 4})
        );
    }
}

on_both! {
    async fn the_control_tower_adds_up_in_every_window(app: TestApp at t()) {
        estate::build(&app.db).await;
        let query = "query($w: TimeWindow) { controlTower(window: $w) {
            window { preset start end } generatedAt
            runs { total queued running completed succeeded partiallySucceeded failed canceled stuck failureRate }
            stuckTotal byType { type total failed stuck }
            topFailingTenants { tenant { name } failed total }
            two: topFailingTenants(limit: 2) { tenant { name } }
            topFailingWorkspaces { workspace { name } failed total }
            tenantHealth { healthy unknown warning critical }
            access { loginsSucceeded loginsFailed breakGlassEntries } } }";

        let day = app.data(query, json!({})).await["controlTower"].clone();
        assert_eq!(day["window"], json!({"preset": "LAST_24H", "start": "2026-11-26T12:00:00+00:00", "end": "2026-11-27T12:00:00+00:00"}));
        assert_eq!(day["generatedAt"], json!("2026-11-27T12:00:00+00:00"));
        assert_eq!(
            day["runs"],
            json!({"total": 21, "queued": 4, "running": 4, "completed": 13, "succeeded": 2, "partiallySucceeded": 1, "failed": 8, "canceled": 1, "stuck": 4, "failureRate": 8.0 / 13.0})
        );
        assert_eq!(day["stuckTotal"], json!(5));
        assert_eq!(
            day["byType"],
            json!([
                {"type": "compliance.scan", "total": 8, "failed": 0, "stuck": 4},
                {"type": "inventory.sync", "total": 8, "failed": 5, "stuck": 0},
                {"type": "policy.sync", "total": 2, "failed": 2, "stuck": 0},
                {"type": "report.export", "total": 2, "failed": 1, "stuck": 0},
                {"type": "backup.snapshot", "total": 1, "failed": 0, "stuck": 0}
            ])
        );
        assert_eq!(
            day["topFailingTenants"],
            json!([
                {"tenant": {"name": "Q Five failures"}, "failed": 5, "total": 5},
                {"tenant": {"name": "G Degraded"}, "failed": 1, "total": 1},
                {"tenant": {"name": "R One failure"}, "failed": 1, "total": 1}
            ])
        );
        assert_eq!(day["two"], json!([{"tenant": {"name": "Q Five failures"}}, {"tenant": {"name": "G Degraded"}}]));
        assert_eq!(day["topFailingWorkspaces"], json!([{"workspace": {"name": "Alpha"}, "failed": 8, "total": 20}]));
        assert_eq!(day["tenantHealth"], json!({"healthy": 2, "unknown": 3, "warning": 7, "critical": 6}));
        assert_eq!(day["access"], json!({"loginsSucceeded": 3, "loginsFailed": 2, "breakGlassEntries": 1}));

        let hour = app.data(query, json!({"w": "LAST_1H"})).await["controlTower"].clone();
        assert_eq!(
            hour["runs"],
            json!({"total": 8, "queued": 3, "running": 0, "completed": 5, "succeeded": 1, "partiallySucceeded": 0, "failed": 3, "canceled": 0, "stuck": 2, "failureRate": 0.6})
        );
        assert_eq!(hour["stuckTotal"], json!(5));
        assert_eq!(hour["topFailingTenants"], json!([{"tenant": {"name": "Q Five failures"}, "failed": 2, "total": 2}]));
        assert_eq!(hour["tenantHealth"], json!({"healthy": 3, "unknown": 3, "warning": 7, "critical": 5}));
        assert_eq!(hour["access"], json!({"loginsSucceeded": 1, "loginsFailed": 1, "breakGlassEntries": 1}));

        let week = app.data(query, json!({"w": "LAST_7D"})).await["controlTower"].clone();
        assert_eq!(
            week["runs"],
            json!({"total": 24, "queued": 4, "running": 4, "completed": 16, "succeeded": 3, "partiallySucceeded": 1, "failed": 10, "canceled": 1, "stuck": 4, "failureRate": 0.625})
        );
        assert_eq!(week["topFailingTenants"][0], json!({"tenant": {"name": "Q Five failures"}, "failed": 6, "total": 6}));
        assert_eq!(week["tenantHealth"], json!({"healthy": 2, "unknown": 3, "warning": 7, "critical": 6}));
        assert_eq!(week["access"], json!({"loginsSucceeded": 4, "loginsFailed": 2, "breakGlassEntries": 1}));
    }
}

on_both! {
    async fn nothing_completed_means_no_failure_rate(app: TestApp) {
        let data = app.data("{ controlTower { runs { total failureRate } stuckTotal topFailingTenants { failed } byType { type } } }", json!({})).await;
        assert_eq!(data["controlTower"], json!({"runs": {"total": 0, "failureRate": null}, "stuckTotal": 0, "topFailingTenants": [], "byType": []}));
    }
}

on_both! {
    async fn dashboards_polling_share_one_computation(app: TestApp at t()) {
        estate::build(&app.db).await;
        let query = "{ controlTower { generatedAt runs { total } stuckTotal tenantHealth { critical } } }";
        let (first, statements) = app.gql_counted(query, json!({})).await;
        assert!(statements > 1);
        let polls = futures::future::join_all((0..8).map(|_| app.gql_counted(query, json!({})))).await;
        // The same answer; what is left of the budget moves from one to the next.
        let first = crate::common::without_cost(first);
        for (response, statements) in polls {
            assert_eq!(crate::common::without_cost(response), first);
            assert_eq!(statements, 1, "only the session: served from the shared snapshot");
        }
        let (other_window, statements) = app.gql_counted("{ controlTower(window: LAST_1H) { runs { total } } }", json!({})).await;
        assert!(statements > 1, "another window is computed: {other_window}");
    }
}

#[tokio::test]
async fn the_cache_can_be_switched_off() {
    let app = TestApp::spawn_with(crate::common::Backend::Sqlite, |config| {
        config.system_console.cache.control_tower_seconds = 0;
    })
    .await;
    let query = "{ controlTower { runs { total } } }";
    for _ in 0..2 {
        let (_, statements) = app.gql_counted(query, json!({})).await;
        assert!(statements > 1);
    }
}

on_both! {
    async fn bad_limits_and_sizes_are_refused(app: TestApp) {
        let acme = crate::fixtures::workspace(&app.db, "Acme").await;
        crate::fixtures::tenant(&app.db, acme.id, "Contoso").await;
        for query in [
            "{ controlTower { topFailingTenants(limit: 0) { failed } } }",
            "{ controlTower { topFailingWorkspaces(limit: 101) { failed } } }",
            "{ tenants { nodes { recentRuns(first: 0) { id } } } }",
        ] {
            let response = app.gql(query, json!({})).await;
            assert_eq!(crate::common::error_codes(&response), vec!["BAD_USER_INPUT"], "{query}");
        }
    }
}

on_both! {
    async fn a_connection_never_checked_keeps_its_reported_degraded_or_down(app: TestApp) {
        use sea_orm::ActiveValue::Set;

        let acme = crate::fixtures::workspace(&app.db, "Acme").await;
        for (name, health) in [("Never checked, down", "down"), ("Never checked, degraded", "degraded"), ("Never checked, ok", "ok")] {
            let tenant = crate::fixtures::tenant(&app.db, acme.id, name).await;
            crate::fixtures::permission_with(&app.db, tenant.id, "Policy.Read.All", |_| {}).await;
            crate::fixtures::connection_with(&app.db, tenant.id, |connection| {
                connection.health_status = Set(health.to_owned());
                connection.last_health_check_at = Set(None);
            })
            .await;
        }
        let data = app
            .data(
                "{ tenants(first: 10, orderBy: {field: NAME, direction: ASC}) { nodes { name health { level signals { source level message } } } }
                   critical: tenants(filter: {health: CRITICAL}) { nodes { name } }
                   warning: tenants(filter: {health: WARNING}) { nodes { name } }
                   unknown: tenants(filter: {health: UNKNOWN}) { nodes { name } } }",
                json!({}),
            )
            .await;
        let connection_signals: Vec<(String, Value)> = data["tenants"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|tenant| {
                let signal = tenant["health"]["signals"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|signal| signal["source"] == "PROVIDER_CONNECTION")
                    .unwrap()
                    .clone();
                assert_eq!(tenant["health"]["level"], signal["level"], "{tenant}");
                (tenant["name"].as_str().unwrap().to_owned(), signal)
            })
            .collect();
        assert_eq!(
            connection_signals,
            [
                ("Never checked, degraded".to_owned(), json!({"source": "PROVIDER_CONNECTION", "level": "WARNING", "message": "microsoft connection is reported degraded and has never been health-checked"})),
                ("Never checked, down".to_owned(), json!({"source": "PROVIDER_CONNECTION", "level": "CRITICAL", "message": "microsoft connection is reported down and has never been health-checked"})),
                ("Never checked, ok".to_owned(), json!({"source": "PROVIDER_CONNECTION", "level": "UNKNOWN", "message": "microsoft connection has never been health-checked"})),
            ]
        );
        // The SQL twin of the rule, which the health filter runs, agrees.
        assert_eq!(data["critical"]["nodes"], json!([{"name": "Never checked, down"}]));
        assert_eq!(data["warning"]["nodes"], json!([{"name": "Never checked, degraded"}]));
        assert_eq!(data["unknown"]["nodes"], json!([{"name": "Never checked, ok"}]));
    }
}
