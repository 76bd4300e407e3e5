//! Tampered cursors and ids, on every field that takes one (SPEC §6, §9): each is the
//! client's mistake — `BAD_USER_INPUT`, a `client_error` in `/metrics` — and never
//! reaches the database as a value it refuses (a NUL, a number out of range), which
//! would read as the database's outage. A guard reads the schema, so a new field taking
//! a cursor or an id cannot be left out.

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use control_tower::graphql::ids::NodeKind;
use sea_orm::ActiveValue::Set;
use serde_json::{Value, json};

use crate::common::{TestApp, error_codes, single_error};
use crate::fixtures::*;
use crate::on_both;

/// The lists that take a cursor: the field, a selection of it with `ARGS` where its
/// arguments go, where the list is in the answer, and whether it also pages backwards.
/// A list with several orders is listed once per order, since each order has keys of
/// its own.
const CURSOR_LISTS: &[(&str, &str, &str, bool)] = &[
    ("Query.workspaces", "workspaces(ARGS)", "/workspaces", true),
    ("Query.tenants", "tenants(ARGS)", "/tenants", true),
    (
        "Query.tenants",
        "tenants(orderBy: {field: CREATED_AT, direction: DESC}, ARGS)",
        "/tenants",
        true,
    ),
    (
        "Query.operationRuns",
        "operationRuns(ARGS)",
        "/operationRuns",
        true,
    ),
    (
        "Query.operationRuns",
        "operationRuns(orderBy: {field: STARTED_AT, direction: ASC}, ARGS)",
        "/operationRuns",
        true,
    ),
    (
        "Query.operationRuns",
        "operationRuns(orderBy: {field: COMPLETED_AT, direction: DESC}, ARGS)",
        "/operationRuns",
        true,
    ),
    ("Query.failures", "failures(ARGS)", "/failures", false),
    ("Query.stuckRuns", "stuckRuns(ARGS)", "/stuckRuns", false),
    ("Query.auditLogs", "auditLogs(ARGS)", "/auditLogs", false),
    ("Query.accessLogs", "accessLogs(ARGS)", "/accessLogs", false),
    (
        "Workspace.tenants",
        "workspace(slug: \"acme\") { tenants(ARGS)",
        "/workspace/tenants",
        false,
    ),
];

/// The arguments and input fields that take an id, each with the kind of object it
/// names and a document reading it from `$id`.
const ID_TAKERS: &[(&str, NodeKind, &str)] = &[
    (
        "Query.node.id",
        NodeKind::Tenant,
        "query($id: ID!) { node(id: $id) { id } }",
    ),
    (
        "Query.nodes.ids",
        NodeKind::Tenant,
        "query($id: ID!) { nodes(ids: [$id]) { id } }",
    ),
    (
        "Query.workspace.id",
        NodeKind::Workspace,
        "query($id: ID) { workspace(id: $id) { id } }",
    ),
    (
        "Query.tenant.id",
        NodeKind::Tenant,
        "query($id: ID) { tenant(id: $id) { id } }",
    ),
    (
        "Query.operationRun.id",
        NodeKind::OperationRun,
        "query($id: ID!) { operationRun(id: $id) { id } }",
    ),
    (
        "Mutation.markRunInvestigated.runId",
        NodeKind::OperationRun,
        "mutation($id: ID!) { markRunInvestigated(runId: $id, note: \"looked into it\") { id } }",
    ),
    (
        "TenantFilter.workspaceId",
        NodeKind::Workspace,
        "query($id: ID) { tenants(filter: {workspaceId: $id}) { totalCount } }",
    ),
    (
        "OperationRunFilter.workspaceId",
        NodeKind::Workspace,
        "query($id: ID) { operationRuns(filter: {workspaceId: $id}) { totalCount } }",
    ),
    (
        "OperationRunFilter.tenantId",
        NodeKind::Tenant,
        "query($id: ID) { operationRuns(filter: {tenantId: $id}) { totalCount } }",
    ),
    (
        "AuditLogFilter.workspaceId",
        NodeKind::Workspace,
        "query($id: ID) { auditLogs(filter: {workspaceId: $id}) { totalCount } }",
    ),
    (
        "AuditLogFilter.tenantId",
        NodeKind::Tenant,
        "query($id: ID) { auditLogs(filter: {tenantId: $id}) { totalCount } }",
    ),
];

fn encode(document: &Value) -> String {
    URL_SAFE_NO_PAD.encode(document.to_string())
}

/// Every way to spoil `cursor` that a client might send: NUL characters, wrong types
/// and numbers out of range in its keys, a key missing or added, another list's tag,
/// and strings that are not cursors at all.
fn tampered_cursors(cursor: &str) -> Vec<String> {
    let document: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(cursor).unwrap()).unwrap();
    let keys = document["k"].as_array().unwrap().clone();
    let with_key = |index: usize, key: Value| {
        let mut spoiled = document.clone();
        spoiled["k"][index] = key;
        encode(&spoiled)
    };
    let mut cursors = Vec::new();
    for (index, key) in keys.iter().enumerate() {
        match key {
            Value::String(text) => {
                cursors.push(with_key(index, json!(format!("{text}\u{0}"))));
                cursors.push(with_key(index, json!("\u{0}")));
                cursors.push(with_key(index, json!(7)));
            }
            Value::Number(_) => {
                cursors.push(with_key(index, json!("7")));
                cursors.push(with_key(index, json!(9_223_372_036_854_775_808_u64)));
                cursors.push(with_key(index, json!(1e300)));
                cursors.push(with_key(index, json!(1.5)));
            }
            _ => cursors.push(with_key(index, json!("\u{0}"))),
        }
        cursors.push(with_key(index, json!({"nested": true})));
    }
    let mut shorter = document.clone();
    shorter["k"].as_array_mut().unwrap().pop();
    let mut longer = document.clone();
    longer["k"].as_array_mut().unwrap().push(json!(1));
    let mut other = document.clone();
    other["o"] = json!("tenants/\u{0}");
    cursors.extend([encode(&shorter), encode(&longer), encode(&other)]);
    cursors.extend([
        encode(&json!({"o": document["o"]})),
        URL_SAFE_NO_PAD.encode("{\"o\":"),
        URL_SAFE_NO_PAD.encode([0xff, 0xfe, 0x00]),
        format!("{cursor}\u{0}"),
        "%%%".to_owned(),
        String::new(),
    ]);
    cursors
}

/// Ids no answer ever gave: NULs, unknown kinds, numbers that are not a database id.
fn tampered_ids() -> Vec<String> {
    let mut ids: Vec<String> = [
        "Tenant:1\u{0}",
        "Tenant\u{0}:1",
        "\u{0}",
        "Tenant:",
        ":1",
        "Tenant:0",
        "Tenant:-1",
        "Tenant:01",
        "Tenant:+1",
        "Tenant:1:2",
        "Tenant:9223372036854775808",
        "Tenant:1e3",
        "Nope:1",
    ]
    .iter()
    .map(|text| URL_SAFE_NO_PAD.encode(text))
    .collect();
    ids.extend([
        URL_SAFE_NO_PAD.encode([0xff, 0x3a, 0x31]),
        "VGVuYW50OjE\u{0}".to_owned(),
        "%%%".to_owned(),
        String::new(),
    ]);
    ids
}

/// What `field(args)` takes, from the schema the server introspects: the fields with
/// `after` or `before`, and the arguments and input fields of type `ID`.
async fn takers_in_schema(app: &TestApp) -> (BTreeSet<String>, BTreeSet<String>) {
    let schema = app
        .data(
            "{ __schema { types { name fields { name args { name type { ...Named } } } inputFields { name type { ...Named } } } } }
             fragment Named on __Type { name ofType { name ofType { name ofType { name } } } }",
            json!({}),
        )
        .await;
    fn named(ty: &Value) -> &str {
        match ty["name"].as_str() {
            Some(name) => name,
            None => named(&ty["ofType"]),
        }
    }
    let mut cursors = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for ty in schema["__schema"]["types"].as_array().unwrap() {
        let type_name = ty["name"].as_str().unwrap();
        // Subscription fields run over the socket, not over HTTP: `auditLogTail`'s
        // cursors are tested in `live.rs`.
        if type_name.starts_with("__") || type_name == "Subscription" {
            continue;
        }
        for field in ty["fields"].as_array().into_iter().flatten() {
            let field_name = field["name"].as_str().unwrap();
            for arg in field["args"].as_array().unwrap() {
                let arg_name = arg["name"].as_str().unwrap();
                if matches!(arg_name, "after" | "before") {
                    cursors.insert(format!("{type_name}.{field_name}"));
                }
                if named(&arg["type"]) == "ID" {
                    ids.insert(format!("{type_name}.{field_name}.{arg_name}"));
                }
            }
        }
        for input in ty["inputFields"].as_array().into_iter().flatten() {
            if named(&input["type"]) == "ID" {
                ids.insert(format!("{type_name}.{}", input["name"].as_str().unwrap()));
            }
        }
    }
    (cursors, ids)
}

/// How many requests `/metrics` counts with `outcome`.
async fn requests_with_outcome(app: &TestApp, outcome: &str) -> f64 {
    let metrics = app.metrics().await;
    metrics
        .lines()
        .filter(|line| line.starts_with("control_tower_graphql_requests_total{"))
        .filter(|line| line.contains(&format!("outcome=\"{outcome}\"")))
        .map(|line| line.rsplit_once(' ').unwrap().1.parse::<f64>().unwrap())
        .sum()
}

on_both! {
    async fn every_field_taking_a_cursor_or_an_id_refuses_a_tampered_one_as_the_clients_mistake(app: TestApp) {
        let (cursor_fields, id_fields) = takers_in_schema(&app).await;
        let tested: BTreeSet<String> = CURSOR_LISTS.iter().map(|(field, ..)| (*field).to_owned()).collect();
        assert_eq!(tested, cursor_fields, "every field taking a cursor is tested");
        let tested: BTreeSet<String> = ID_TAKERS.iter().map(|(field, ..)| (*field).to_owned()).collect();
        assert_eq!(tested, id_fields, "every argument and input field taking an id is tested");

        let acme = workspace(&app.db, "Acme").await;
        let contoso = tenant(&app.db, acme.id, "Contoso").await;
        run_with(&app.db, acme.id, Some(contoso.id), |run| run.outcome = Set("failed".to_owned())).await;
        run_with(&app.db, acme.id, Some(contoso.id), |run| {
            run.status = Set("queued".to_owned());
            run.outcome = Set("pending".to_owned());
            run.started_at = Set(None);
            run.completed_at = Set(None);
        })
        .await;
        audit_log_with(&app.db, "tenant.updated", |_| {}).await;
        audit_log_with(&app.db, "platform.login", |_| {}).await;

        let mut sent = 0.0;
        for (field, selection, pointer, backwards) in CURSOR_LISTS {
            let closing = if field.starts_with("Workspace.") { " }" } else { "" };
            let page = |args: &str| {
                format!("{{ {} {{ pageInfo {{ endCursor }} }}{closing} }}", selection.replace("ARGS", args))
            };
            let first = app.data(&page("first: 1"), json!({})).await;
            let cursor = first
                .pointer(&format!("{pointer}/pageInfo/endCursor"))
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("{field}: a page with a cursor: {first}"))
                .to_owned();
            let mut arguments = vec!["after"];
            if *backwards {
                arguments.push("before");
            }
            for argument in arguments {
                let document = format!("query($c: String) {}", page(&format!("{argument}: $c")));
                let untouched = app.gql(&document, json!({"c": cursor})).await;
                assert!(untouched.get("errors").is_none(), "{field} {argument}: {untouched}");
                for spoiled in tampered_cursors(&cursor) {
                    let response = app.gql(&document, json!({"c": spoiled})).await;
                    sent += 1.0;
                    let (code, message) = single_error(&response);
                    assert_eq!(code, "BAD_USER_INPUT", "{field}({argument}: {spoiled:?}): {response}");
                    assert!(
                        message.contains(&format!("`{argument}` is not a cursor of this list")),
                        "{field}({argument}: {spoiled:?}): {message}"
                    );
                }
            }
        }

        for (field, kind, document) in ID_TAKERS {
            for spoiled in tampered_ids() {
                let response = app.gql(document, json!({"id": spoiled})).await;
                sent += 1.0;
                let (code, message) = single_error(&response);
                assert_eq!(code, "BAD_USER_INPUT", "{field}: {spoiled:?}: {response}");
                assert!(message.contains("is not a valid id"), "{field}: {spoiled:?}: {message}");
                assert!(!message.contains('\u{0}'), "the NUL is not echoed: {message:?}");
            }
            // The largest id there can be names nothing, wherever it is used.
            let response = app.gql(document, json!({"id": kind.id(i64::MAX)})).await;
            let codes = error_codes(&response);
            assert!(
                codes.iter().all(|code| code == "BAD_USER_INPUT" || code == "NOT_FOUND"),
                "{field}: {response}"
            );
        }

        assert_eq!(requests_with_outcome(&app, "server_error").await, 0.0);
        assert!(requests_with_outcome(&app, "client_error").await >= sent);
    }
}
