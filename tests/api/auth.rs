//! Operators (SPEC §5): login, sessions, capabilities on every field, break-glass and
//! triage, each rejection with its code and the audit trail it leaves (or does not).

use chrono::Duration;
use control_tower::auth::Capability;
use control_tower::auth::operators::{self, NewOperator};
use control_tower::db::Db;
use control_tower::graphql::ids::NodeKind;
use entity::audit_log;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::common::{TestApp, error_codes, operator_token, single_error};
use crate::fixtures::*;
use crate::on_both;

const PASSWORD: &str = "correct horse battery staple";

async fn create_operator(app: &TestApp, email: &str, capabilities: &[Capability]) {
    let names: Vec<String> = capabilities.iter().map(|c| c.name().to_owned()).collect();
    let new = NewOperator {
        email,
        name: "Dana Operator",
        capabilities: &names,
        password: PASSWORD,
    };
    operators::create(&Db::new(app.db.clone()), new, chrono::Utc::now())
        .await
        .expect("operator created");
}

async fn login(app: &TestApp, email: &str, password: &str) -> Value {
    let query = "mutation($email: String!, $password: String!) { login(email: $email, password: $password) {
        token expiresAt operator { email capabilities breakGlass { active } } } }";
    app.gql_with(None, query, json!({"email": email, "password": password}))
        .await
        .0
}

async fn audit_rows(app: &TestApp, action: &str) -> Vec<audit_log::Model> {
    audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq(action))
        .order_by_asc(audit_log::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
}

on_both! {
    async fn the_whole_story_login_query_break_glass_expiry_logout(app: TestApp, clock: TestClock) {
        create_operator(&app, "dana@ops.test", &[Capability::ConsoleView, Capability::BreakGlassUse]).await;
        let acme = workspace(&app.db, "Acme").await;
        tenant_with(&app.db, acme.id, "Contoso", |row| {
            row.metadata = sea_orm::ActiveValue::Set(Some(entity::Document::from(json!({"region": "eu", "apiKey": "k"}))));
        })
        .await;

        let response = login(&app, "  Dana@Ops.TEST ", PASSWORD).await;
        let payload = &response["data"]["login"];
        assert_eq!(payload["operator"], json!({"email": "dana@ops.test", "capabilities": ["console.view", "break_glass.use"], "breakGlass": {"active": false}}));
        assert_eq!(payload["expiresAt"], json!("2026-11-28T00:00:00+00:00"), "12 hours");
        let token = payload["token"].as_str().unwrap().to_owned();
        assert_eq!(audit_rows(&app, "platform.auth.login").await.len(), 1);

        let viewer = "{ viewer { email effectiveCapabilities breakGlass { active startedAt expiresAt reason } } }";
        let data = app.gql_with(Some(&token), viewer, json!({})).await.0;
        assert_eq!(data["data"]["viewer"]["breakGlass"], json!({"active": false, "startedAt": null, "expiresAt": null, "reason": null}));

        // Without sensitive.view, raw JSON is refused, naming the capability.
        let sensitive = "{ tenants { nodes { name metadata } } }";
        let refused = app.gql_with(Some(&token), sensitive, json!({})).await.0;
        let (code, message) = single_error(&refused);
        assert_eq!(code, "FORBIDDEN");
        assert!(message.contains("sensitive.view"), "{message}");

        let enter = "mutation { enterBreakGlass(reason: \"  Customer escalation #4411  \", durationMinutes: 20) { active startedAt expiresAt reason } }";
        let entered = app.gql_with(Some(&token), enter, json!({})).await.0;
        assert_eq!(
            entered["data"]["enterBreakGlass"],
            json!({"active": true, "startedAt": "2026-11-27T12:00:00+00:00", "expiresAt": "2026-11-27T12:20:00+00:00", "reason": "Customer escalation #4411"})
        );
        let allowed = app.gql_with(Some(&token), sensitive, json!({})).await.0;
        assert_eq!(allowed["data"]["tenants"]["nodes"][0]["metadata"], json!({"region": "eu", "apiKey": "[REDACTED]"}));
        let audit = app.gql_with(Some(&token), "{ auditLogs { totalCount } }", json!({})).await.0;
        assert!(audit.get("errors").is_none(), "break-glass lends audit.view: {audit}");
        let capabilities = app.gql_with(Some(&token), viewer, json!({})).await.0;
        assert_eq!(
            capabilities["data"]["viewer"]["effectiveCapabilities"],
            json!(["console.view", "audit.view", "sensitive.view", "break_glass.use"])
        );

        // The elevation ends by itself, exactly at its expiry; the next call records it.
        clock.advance(Duration::minutes(20));
        let expired = app.gql_with(Some(&token), sensitive, json!({})).await.0;
        assert_eq!(single_error(&expired).0, "FORBIDDEN");
        let again = app.gql_with(Some(&token), viewer, json!({})).await.0;
        assert_eq!(again["data"]["viewer"]["breakGlass"]["active"], json!(false));
        let expiries = audit_rows(&app, "platform.break_glass.expired").await;
        assert_eq!(expiries.len(), 1, "recorded exactly once");
        assert_eq!(expiries[0].actor_email.as_deref(), Some("dana@ops.test"));
        assert_eq!(audit_rows(&app, "platform.break_glass.enter").await[0].metadata.as_ref().unwrap().value()["reason"], json!("Customer escalation #4411"));

        let logout = app.gql_with(Some(&token), "mutation { logout }", json!({})).await.0;
        assert_eq!(logout["data"]["logout"], json!(true));
        assert_eq!(audit_rows(&app, "platform.auth.logout").await.len(), 1);
        let after = app.gql_with(Some(&token), viewer, json!({})).await.0;
        assert_eq!(single_error(&after), ("UNAUTHENTICATED".to_owned(), "the session has been logged out: log in again".to_owned()));
    }
}

on_both! {
    async fn failed_logins_say_only_invalid_credentials_and_are_audited(app: TestApp) {
        create_operator(&app, "dana@ops.test", &[Capability::ConsoleView]).await;
        create_operator(&app, "gone@ops.test", &[Capability::ConsoleView]).await;
        operators::disable(&Db::new(app.db.clone()), "gone@ops.test", chrono::Utc::now()).await.unwrap();
        for (email, password) in [
            ("dana@ops.test", "wrong password!!"),
            ("nobody@ops.test", PASSWORD),
            ("gone@ops.test", PASSWORD),
        ] {
            let response = login(&app, email, password).await;
            assert_eq!(single_error(&response), ("UNAUTHENTICATED".to_owned(), "invalid credentials".to_owned()), "{email}");
            assert_eq!(response["data"], json!(null));
        }
        let failures = audit_rows(&app, "platform.auth.login").await;
        assert_eq!(failures.len(), 3);
        assert!(failures.iter().all(|row| row.status == "failure"));
        let emails: Vec<_> = failures.iter().map(|row| row.actor_email.clone().unwrap()).collect();
        assert_eq!(emails, ["dana@ops.test", "nobody@ops.test", "gone@ops.test"]);
        assert_eq!(failures[1].actor_id, None, "an unknown e-mail has no operator");
        // Malformed attempts are refused before any statement uses them, and audited all
        // the same: a NUL (which neither database stores) is recorded as U+FFFD.
        for (email, password, message) in [
            ("", "x", "`email` must be 1 to 320 characters"),
            ("dana\0@ops.test", PASSWORD, "`email` must not contain NUL characters (\\u0000)"),
            ("dana@ops.test", "pass\0word", "`password` must not contain NUL characters (\\u0000)"),
        ] {
            let refused = login(&app, email, password).await;
            assert_eq!(single_error(&refused), ("BAD_USER_INPUT".to_owned(), message.to_owned()), "{email:?}");
        }
        let attempts = audit_rows(&app, "platform.auth.login").await;
        assert_eq!(attempts.len(), 6, "every attempt is audited");
        let malformed: Vec<_> = attempts[3..].iter().map(|row| (row.status.as_str(), row.actor_email.clone(), row.metadata.as_ref().unwrap().value()["reason"].clone())).collect();
        assert_eq!(
            malformed,
            [
                ("failure", None, json!("malformed")),
                ("failure", Some("dana\u{FFFD}@ops.test".to_owned()), json!("malformed")),
                ("failure", Some("dana@ops.test".to_owned()), json!("malformed")),
            ]
        );
    }
}

on_both! {
    async fn five_failures_in_fifteen_minutes_throttle_the_email(app: TestApp, clock: TestClock) {
        create_operator(&app, "dana@ops.test", &[Capability::ConsoleView]).await;
        for _ in 0..5 {
            let response = login(&app, "dana@ops.test", "not the password").await;
            assert_eq!(single_error(&response).0, "UNAUTHENTICATED");
            clock.advance(Duration::minutes(1));
        }
        // Even the right password is refused now, and the refusal is audited.
        let throttled = login(&app, "dana@ops.test", PASSWORD).await;
        assert_eq!(single_error(&throttled).0, "RATE_LIMITED");
        let rows = audit_rows(&app, "platform.auth.login").await;
        assert_eq!(rows.len(), 6);
        assert_eq!(rows[5].metadata.as_ref().unwrap().value()["reason"], json!("rate_limited"));
        // Another e-mail is not affected.
        assert_eq!(single_error(&login(&app, "other@ops.test", PASSWORD).await).0, "UNAUTHENTICATED");
        // Fifteen minutes after the failures, the e-mail opens again.
        clock.advance(Duration::minutes(16));
        let response = login(&app, "dana@ops.test", PASSWORD).await;
        assert!(response["data"]["login"]["token"].is_string(), "{response}");
    }
}

on_both! {
    async fn requests_without_a_live_session_are_unauthenticated(app: TestApp, clock: TestClock) {
        create_operator(&app, "dana@ops.test", &[Capability::ConsoleView]).await;
        let token = login(&app, "dana@ops.test", PASSWORD).await["data"]["login"]["token"].as_str().unwrap().to_owned();
        let query = "{ tenants { totalCount } }";
        let cases: Vec<(Option<String>, &str)> = vec![
            (None, "log in first: send `Authorization: Bearer <token>`"),
            (Some("not-a-token".to_owned()), "the bearer token is not valid: log in again"),
        ];
        for (header, message) in cases {
            let (response, _) = app.gql_with(header.as_deref(), query, json!({})).await;
            assert_eq!(single_error(&response), ("UNAUTHENTICATED".to_owned(), message.to_owned()));
        }
        let basic = app.client().post(app.url("/graphql")).header("authorization", "Basic abc").json(&json!({"query": query})).send().await.unwrap();
        let body: Value = basic.json().await.unwrap();
        assert_eq!(single_error(&body).0, "UNAUTHENTICATED");

        // Introspection needs no session (the playground reads the schema first).
        let (schema, _) = app.gql_with(None, "{ __schema { queryType { name } } }", json!({})).await;
        assert_eq!(schema["data"]["__schema"]["queryType"]["name"], json!("Query"));

        clock.advance(Duration::hours(12));
        let (expired, _) = app.gql_with(Some(&token), query, json!({})).await;
        assert_eq!(single_error(&expired).1, "the session has expired: log in again");

        clock.advance(Duration::hours(-12));
        operators::disable(&Db::new(app.db.clone()), "dana@ops.test", chrono::Utc::now()).await.unwrap();
        let (disabled, _) = app.gql_with(Some(&token), query, json!({})).await;
        assert_eq!(single_error(&disabled).0, "UNAUTHENTICATED");
    }
}

on_both! {
    async fn missing_capabilities_are_forbidden_by_name(app: TestApp) {
        let acme = workspace(&app.db, "Acme").await;
        let contoso = tenant(&app.db, acme.id, "Contoso").await;
        let run = run_with(&app.db, acme.id, Some(contoso.id), |_| {}).await;
        let nothing = operator_token(&app.db, "none@ops.test", &[]).await;
        let viewer = operator_token(&app.db, "viewer@ops.test", &[Capability::ConsoleView]).await;
        let run_id = NodeKind::OperationRun.id(run.id);
        let cases: Vec<(&str, &str, &str)> = vec![
            (&nothing, "{ tenants { totalCount } }", "console.view"),
            (&nothing, "{ viewer { email } }", "console.view"),
            (&viewer, "{ auditLogs { totalCount } }", "audit.view"),
            (&viewer, "{ accessLogs { totalCount } }", "audit.view"),
            (&viewer, "{ controlTower { access { loginsFailed } } }", "audit.view"),
            (&viewer, "{ operationRuns { nodes { context } } }", "sensitive.view"),
            (&viewer, "mutation { enterBreakGlass(reason: \"looking around\") { active } }", "break_glass.use"),
        ];
        for (token, query, capability) in cases {
            let (response, _) = app.gql_with(Some(token), query, json!({})).await;
            let (code, message) = single_error(&response);
            assert_eq!(code, "FORBIDDEN", "{query}");
            assert_eq!(message, format!("this requires the capability `{capability}`"), "{query}");
        }
        let triage = "mutation($id: ID!) { markRunInvestigated(runId: $id, note: \"checked the logs\") { id } }";
        let (response, _) = app.gql_with(Some(&viewer), triage, json!({"id": run_id})).await;
        assert_eq!(single_error(&response).1, "this requires the capability `runs.triage`");
        assert_eq!(audit_rows(&app, "platform.operation_run.investigated").await.len(), 0);
        let log = audit_log_with(&app.db, "platform.auth.login", |_| {}).await;
        let (response, _) = app
            .gql_with(Some(&viewer), "query($id: ID!) { node(id: $id) { id } }", json!({"id": NodeKind::AuditLog.id(log.id)}))
            .await;
        assert_eq!(single_error(&response).0, "FORBIDDEN", "audit logs by id need audit.view too");
        // Signing out needs no capability at all.
        let (response, _) = app.gql_with(Some(&nothing), "mutation { exitBreakGlass { active } logout }", json!({})).await;
        assert_eq!(response["data"], json!({"exitBreakGlass": {"active": false}, "logout": true}));
    }
}

/// Every root field of the schema, with dummy arguments and the smallest selection.
async fn root_fields(app: &TestApp, root: &str) -> Vec<String> {
    let query = format!(
        "{{ __type(name: \"{root}\") {{ fields {{ name args {{ name type {{ kind name ofType {{ kind name ofType {{ kind name }} }} }} }}
            type {{ kind name ofType {{ kind name ofType {{ kind name ofType {{ kind name }} }} }} }} }} }} }}"
    );
    let (data, _) = app.gql_with(None, &query, json!({})).await;
    let mut documents = Vec::new();
    for field in data["data"]["__type"]["fields"].as_array().unwrap() {
        let name = field["name"].as_str().unwrap();
        let arguments: Vec<String> = field["args"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|arg| arg["type"]["kind"] == json!("NON_NULL"))
            .map(|arg| {
                let inner = &arg["type"]["ofType"];
                let value = match (inner["kind"].as_str(), inner["name"].as_str()) {
                    (Some("LIST"), _) => "[]".to_owned(),
                    (_, Some("ID")) => format!("\"{}\"", NodeKind::Tenant.id(1).0),
                    _ => "\"a dummy value\"".to_owned(),
                };
                format!("{}: {value}", arg["name"].as_str().unwrap())
            })
            .collect();
        let mut leaf = &field["type"];
        while leaf["ofType"].is_object() {
            leaf = &leaf["ofType"];
        }
        let selection = if matches!(
            leaf["kind"].as_str(),
            Some("OBJECT" | "INTERFACE" | "UNION")
        ) {
            "{ __typename }"
        } else {
            ""
        };
        let arguments = if arguments.is_empty() {
            String::new()
        } else {
            format!("({})", arguments.join(", "))
        };
        let keyword = if root == "Mutation" { "mutation " } else { "" };
        documents.push(format!("{keyword}{{ {name}{arguments} {selection} }}"));
    }
    documents
}

on_both! {
    async fn no_query_field_is_reachable_without_console_view(app: TestApp) {
        let nothing = operator_token(&app.db, "none@ops.test", &Capability::ALL.iter().copied().filter(|c| *c != Capability::ConsoleView).collect::<Vec<_>>()).await;
        let documents = root_fields(&app, "Query").await;
        assert!(documents.len() >= 15, "{documents:?}");
        for document in documents {
            let (anonymous, statements) = app.gql_with(None, &document, json!({})).await;
            assert_eq!(error_codes(&anonymous), vec!["UNAUTHENTICATED"], "{document}");
            assert_eq!(statements, 0, "{document}");
            let (response, _) = app.gql_with(Some(&nothing), &document, json!({})).await;
            assert_eq!(error_codes(&response), vec!["FORBIDDEN"], "{document}: {response}");
            assert!(response["errors"][0]["message"].as_str().unwrap().contains("console.view"));
        }
        for document in root_fields(&app, "Mutation").await {
            if document.contains("login") {
                continue;
            }
            let (anonymous, _) = app.gql_with(None, &document, json!({})).await;
            assert_eq!(error_codes(&anonymous), vec!["UNAUTHENTICATED"], "{document}");
        }
    }
}

on_both! {
    async fn every_raw_json_field_needs_sensitive_view(app: TestApp) {
        // The JSON fields of the schema, found by introspection: each must be classified.
        let (types, _) = app.gql_with(None, "{ __schema { types { name fields { name type { name ofType { name } } } } } }", json!({})).await;
        let mut json_fields = Vec::new();
        for kind in types["data"]["__schema"]["types"].as_array().unwrap() {
            for field in kind["fields"].as_array().into_iter().flatten() {
                let type_name = field["type"]["name"].as_str().or(field["type"]["ofType"]["name"].as_str());
                if type_name == Some("JSON") {
                    json_fields.push(format!("{}.{}", kind["name"].as_str().unwrap(), field["name"].as_str().unwrap()));
                }
            }
        }
        json_fields.sort();
        let sensitive = [
            ("AuditLog.metadata", "{ auditLogs { nodes { metadata } } }"),
            ("OperationRun.context", "{ operationRuns { nodes { context } } }"),
            ("ProviderConnection.metadata", "{ tenants { nodes { providerConnections { metadata } } } }"),
            ("Tenant.metadata", "{ tenants { nodes { metadata } } }"),
            ("TenantRbac.canaryResults", "{ tenants { nodes { rbac { canaryResults } } } }"),
        ];
        // Shown to console.view, redacted all the same.
        let open = ["TenantPermission.details", "TenantRbac.lastWarnings"];
        let mut classified: Vec<String> = sensitive.iter().map(|(name, _)| name.to_string()).chain(open.iter().map(|name| name.to_string())).collect();
        classified.sort();
        assert_eq!(json_fields, classified, "a JSON field is neither sensitive nor known to be open");

        let acme = workspace(&app.db, "Acme").await;
        let contoso = tenant(&app.db, acme.id, "Contoso").await;
        connection_with(&app.db, contoso.id, |_| {}).await;
        run_with(&app.db, acme.id, Some(contoso.id), |_| {}).await;
        audit_log_with(&app.db, "platform.auth.login", |_| {}).await;
        let reader = operator_token(&app.db, "reader@ops.test", &[Capability::ConsoleView, Capability::AuditView]).await;
        let insider = operator_token(&app.db, "insider@ops.test", &[Capability::ConsoleView, Capability::AuditView, Capability::SensitiveView]).await;
        for (name, query) in sensitive {
            let (refused, _) = app.gql_with(Some(&reader), query, json!({})).await;
            assert_eq!(error_codes(&refused), vec!["FORBIDDEN"], "{name}");
            let (allowed, _) = app.gql_with(Some(&insider), query, json!({})).await;
            assert!(allowed.get("errors").is_none(), "{name}: {allowed}");
        }
        let (open_fields, _) = app.gql_with(Some(&reader), "{ tenants { nodes { rbac { lastWarnings } permissions { details } } } }", json!({})).await;
        assert!(open_fields.get("errors").is_none(), "{open_fields}");
    }
}

on_both! {
    async fn reasons_and_notes_are_checked_and_nothing_is_written_when_refused(app: TestApp) {
        let acme = workspace(&app.db, "Acme").await;
        let run = run_with(&app.db, acme.id, None, |_| {}).await;
        let run_id = NodeKind::OperationRun.id(run.id);
        let enter = "mutation($reason: String!, $minutes: Int) { enterBreakGlass(reason: $reason, durationMinutes: $minutes) { active } }";
        let cases = [
            (json!({"reason": "   abc   "}), "`reason` must have at least 5 visible characters (spaces and invisible marks do not count), not 3"),
            (json!({"reason": "\u{200B}".repeat(5)}), "`reason` must have at least 5 visible characters (spaces and invisible marks do not count), not 0"),
            (json!({"reason": "é".repeat(501)}), "`reason` must be at most 500 characters once trimmed, not 501"),
            (json!({"reason": "bad\u{1b}[2J reason"}), "`reason` must not contain control characters other than tabs and line breaks"),
            (json!({"reason": "a sound reason", "minutes": 61}), "`durationMinutes` must be between 1 and 60, not 61"),
            (json!({"reason": "a sound reason", "minutes": 0}), "`durationMinutes` must be between 1 and 60, not 0"),
        ];
        for (variables, message) in cases {
            let response = app.gql(enter, variables).await;
            assert_eq!(single_error(&response), ("BAD_USER_INPUT".to_owned(), message.to_owned()));
        }
        let note = "mutation($id: ID!, $note: String!) { markRunInvestigated(runId: $id, note: $note) { id } }";
        let response = app.gql(note, json!({"id": run_id, "note": "ok"})).await;
        assert_eq!(single_error(&response).1, "`note` must have at least 5 visible characters (spaces and invisible marks do not count), not 2");
        let response = app.gql(note, json!({"id": run_id, "note": "\u{2800}\u{2800}\u{2800}\u{2800}\u{2800}\u{2800}"})).await;
        assert_eq!(single_error(&response).0, "BAD_USER_INPUT");
        let response = app.gql(note, json!({"id": NodeKind::OperationRun.id(run.id + 99), "note": "looked at it"})).await;
        assert_eq!(single_error(&response).0, "NOT_FOUND");
        assert_eq!(audit_log::Entity::find().count(&app.db).await.unwrap(), 0, "nothing written");
        let state = app.data("{ viewer { breakGlass { active startedAt } } }", json!({})).await;
        assert_eq!(state["viewer"]["breakGlass"], json!({"active": false, "startedAt": null}));

        // Entering twice is refused while the first lasts; exiting is audited.
        let ok = app.gql(enter, json!({"reason": "Incident 12 triage"})).await;
        assert_eq!(ok["data"]["enterBreakGlass"]["active"], json!(true));
        let twice = app.gql(enter, json!({"reason": "Incident 12 triage"})).await;
        assert_eq!(single_error(&twice).0, "BAD_USER_INPUT");
        let exit = app.gql("mutation { exitBreakGlass { active } }", json!({})).await;
        assert_eq!(exit["data"]["exitBreakGlass"]["active"], json!(false));
        assert_eq!(audit_rows(&app, "platform.break_glass.enter").await.len(), 1);
        assert_eq!(audit_rows(&app, "platform.break_glass.exit").await.len(), 1);
        assert_eq!(audit_rows(&app, "platform.break_glass.expired").await.len(), 0, "an exit leaves no expiry to record");
    }
}

on_both! {
    async fn expiry_is_recorded_once_under_racing_requests_and_the_sweep(app: TestApp, clock: TestClock) {
        let enter = "mutation { enterBreakGlass(reason: \"Investigating an outage\", durationMinutes: 5) { active } }";
        let entered = app.gql(enter, json!({})).await;
        assert_eq!(entered["data"]["enterBreakGlass"]["active"], json!(true));
        clock.advance(Duration::minutes(5));
        let db = Db::new(app.db.clone());
        let now = clock.now();
        let requests = futures::future::join_all((0..12).map(|_| app.gql("{ viewer { breakGlass { active } } }", json!({}))));
        let sweeps = futures::future::join_all((0..3).map(|_| control_tower::auth::break_glass::sweep(&db, now)));
        let (responses, sweeps) = futures::join!(requests, sweeps);
        for response in responses {
            assert_eq!(response["data"]["viewer"]["breakGlass"]["active"], json!(false), "{response}");
        }
        let swept: u64 = sweeps.into_iter().map(|result| result.unwrap()).sum();
        assert!(swept <= 1);
        assert_eq!(audit_rows(&app, "platform.break_glass.expired").await.len(), 1);

        // The sweep alone records an expiry nobody's request saw.
        let again = app.gql(enter, json!({})).await;
        assert_eq!(again["data"]["enterBreakGlass"]["active"], json!(true));
        clock.advance(Duration::minutes(6));
        let recorded = control_tower::auth::break_glass::sweep(&db, clock.now()).await.unwrap();
        assert_eq!(recorded, 1);
        assert_eq!(control_tower::auth::break_glass::sweep(&db, clock.now()).await.unwrap(), 0);
        app.data("{ viewer { email } }", json!({})).await;
        assert_eq!(audit_rows(&app, "platform.break_glass.expired").await.len(), 2);
    }
}

on_both! {
    async fn investigations_are_audited_and_listed_newest_first(app: TestApp, clock: TestClock) {
        let acme = workspace(&app.db, "Acme").await;
        let contoso = tenant(&app.db, acme.id, "Contoso").await;
        let run = run_with(&app.db, acme.id, Some(contoso.id), |_| {}).await;
        let other = run_with(&app.db, acme.id, None, |_| {}).await;
        let mark = "mutation($id: ID!, $note: String!) { markRunInvestigated(runId: $id, note: $note) { databaseId } }";
        for note in ["Provider throttled us; retried", "  Fixed by re-consenting  "] {
            let response = app.gql(mark, json!({"id": NodeKind::OperationRun.id(run.id), "note": note})).await;
            assert_eq!(response["data"]["markRunInvestigated"]["databaseId"], json!(run.id));
            clock.advance(Duration::minutes(3));
        }
        let rows = audit_rows(&app, "platform.operation_run.investigated").await;
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].workspace_id, Some(acme.id));
        assert_eq!(rows[0].tenant_id, Some(contoso.id));
        let (data, statements) = app.gql_counted("{ operationRuns { nodes { databaseId investigations { at operator note } } } }", json!({})).await;
        let nodes = data["data"]["operationRuns"]["nodes"].as_array().unwrap();
        let investigations = |id: i64| nodes.iter().find(|node| node["databaseId"] == json!(id)).unwrap()["investigations"].clone();
        assert_eq!(
            investigations(run.id),
            json!([
                {"at": "2026-11-27T12:03:00+00:00", "operator": "Operator root@control-tower.test", "note": "Fixed by re-consenting"},
                {"at": "2026-11-27T12:00:00+00:00", "operator": "Operator root@control-tower.test", "note": "Provider throttled us; retried"}
            ])
        );
        assert_eq!(investigations(other.id), json!([]));
        assert_eq!(statements, 3, "the session, the runs, their investigations");
    }
}

on_both! {
    async fn access_logs_list_platform_actions_in_the_window(app: TestApp) {
        audit_log_with(&app.db, "platform.auth.login", |_| {}).await;
        audit_log_with(&app.db, "platform.auth.login", |row| row.status = sea_orm::ActiveValue::Set("failure".to_owned())).await;
        audit_log_with(&app.db, "tenant.settings.updated", |_| {}).await;
        audit_log_with(&app.db, "platform.auth.logout", |row| row.recorded_at = sea_orm::ActiveValue::Set(minutes_ago(3 * 24 * 60))).await;
        let query = "query($w: TimeWindow, $f: AccessLogFilter) { accessLogs(window: $w, filter: $f) { totalCount nodes { action status } } }";
        let day = app.data(query, json!({})).await;
        assert_eq!(day["accessLogs"]["totalCount"], json!(2));
        let week = app.data(query, json!({"w": "LAST_7D"})).await;
        assert_eq!(week["accessLogs"]["totalCount"], json!(3));
        let failed = app.data(query, json!({"f": {"status": "FAILURE", "actions": ["platform.auth.login"]}})).await;
        assert_eq!(failed["accessLogs"]["nodes"], json!([{"action": "platform.auth.login", "status": "FAILURE"}]));
    }
}

on_both! {
    async fn tokens_and_passwords_never_leak(app: TestApp) {
        let password = format!("s3cret-{}-passphrase", std::process::id());
        let names = vec!["console.view".to_owned(), "audit.view".to_owned(), "sensitive.view".to_owned()];
        let email = format!("leak-{}@ops.test", rand_email_part());
        operators::create(&Db::new(app.db.clone()), NewOperator { email: &email, name: "Leak Test", capabilities: &names, password: &password }, chrono::Utc::now())
            .await
            .unwrap();
        let response = login(&app, &email, &password).await;
        let token = response["data"]["login"]["token"].as_str().unwrap().to_owned();
        let mut bodies = vec![response.to_string()];
        bodies.push(login(&app, &email, "wrong-password-1").await.to_string());
        for query in [
            "{ viewer { email capabilities breakGlass { active } } }",
            "{ auditLogs(first: 100) { nodes { action actorEmail metadata } } }",
            "{ accessLogs(first: 100) { nodes { action metadata } } }",
        ] {
            bodies.push(app.gql_with(Some(&token), query, json!({})).await.0.to_string());
        }
        bodies.push(app.gql_with(Some(&token), "mutation { logout }", json!({})).await.0.to_string());
        for body in &bodies[1..] {
            assert!(!body.contains(&token), "a response shows the token: {body}");
        }
        for body in &bodies {
            assert!(!body.contains(&password), "a response shows the password: {body}");
        }
        let hash = control_tower::auth::credentials::token_hash(&token);
        for row in audit_log::Entity::find().all(&app.db).await.unwrap() {
            let text = format!("{row:?}");
            for secret in [token.as_str(), password.as_str(), hash.as_str()] {
                assert!(!text.contains(secret), "an audit row holds a secret: {text}");
            }
        }
        let logs = crate::common::logs();
        assert!(logs.contains("control_tower::access"), "the logs were captured");
        assert!(!logs.contains(&token), "a log line shows the token");
        assert!(!logs.contains(&password), "a log line shows the password");
    }
}

fn rand_email_part() -> String {
    use rand::Rng;
    (0..8)
        .map(|_| char::from(b'a' + rand::rng().random_range(0..26)))
        .collect()
}
