//! What frontend teams' clients and tools rely on, over real HTTP (SPEC §9b): one
//! operation without `operationName`, GET's standard parameters, the standard
//! introspection query, `@include`/`@skip` with variable defaults, field errors nulling
//! the field, automatic persisted queries, CORS and revalidation on GET.

use auth::Capability;
use control_tower::auth;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{Backend, TestApp, error_codes, operator_token, single_error, without_cost};
use crate::fixtures::*;
use crate::on_both;

/// graphql-js 16's `getIntrospectionQuery()` with every option on (descriptions,
/// `specifiedByURL`, `isRepeatable`, the schema's description, deprecated input values),
/// as GraphiQL, graphql-codegen and GraphQL Inspector send it; `ofType` nests nine deep.
pub const STANDARD_INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    description
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives {
      name
      description
      isRepeatable
      locations
      args(includeDeprecated: true) { ...InputValue }
    }
  }
}

fragment FullType on __Type {
  kind
  name
  description
  specifiedByURL
  fields(includeDeprecated: true) {
    name
    description
    args(includeDeprecated: true) { ...InputValue }
    type { ...TypeRef }
    isDeprecated
    deprecationReason
  }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) {
    name
    description
    isDeprecated
    deprecationReason
  }
  possibleTypes { ...TypeRef }
}

fragment InputValue on __InputValue {
  name
  description
  type { ...TypeRef }
  defaultValue
  isDeprecated
  deprecationReason
}

fragment TypeRef on __Type {
  kind
  name
  ofType {
    kind
    name
    ofType {
      kind
      name
      ofType {
        kind
        name
        ofType {
          kind
          name
          ofType {
            kind
            name
            ofType {
              kind
              name
              ofType {
                kind
                name
                ofType {
                  kind
                  name
                  ofType {
                    kind
                    name
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}
"#;

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

impl TestApp {
    /// `GET /graphql` with `parameters`, as the operator of `token`.
    async fn get_with(
        &self,
        token: Option<&str>,
        parameters: &[(&str, &str)],
        headers: HeaderMap,
    ) -> reqwest::Response {
        let mut request = self
            .client()
            .get(self.url("/graphql"))
            .query(parameters)
            .headers(headers);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    async fn get_json(&self, parameters: &[(&str, &str)]) -> (u16, Value) {
        let response = self
            .get_with(Some(&self.token), parameters, HeaderMap::new())
            .await;
        let status = response.status().as_u16();
        (status, without_cost(response.json().await.unwrap()))
    }

    /// Posts `body`; the status and the answer, without its cost (see `cost.rs`).
    async fn post_json(&self, body: Value) -> (u16, Value) {
        let (status, body, _) = self.post_body(Some(&self.token), body.to_string()).await;
        (status, without_cost(body))
    }
}

on_both! {
    async fn one_named_operation_runs_without_an_operation_name(app: TestApp) {
        let query = "query Settings { settings { maxPageSize } }";
        let expected = json!({"data": {"settings": {"maxPageSize": 100}}});
        assert_eq!(app.post_json(json!({"query": query})).await, (200, expected.clone()));
        assert_eq!(app.get_json(&[("query", query)]).await, (200, expected));
    }
}

on_both! {
    async fn get_reads_the_standard_parameters(app: TestApp) {
        let query = "query A { settings { maxPageSize } } query B($w: TimeWindow!) { controlTower(window: $w) { window { preset } } }";
        let (status, body) = app
            .get_json(&[
                ("query", query),
                ("operationName", "B"),
                ("variables", r#"{"w": "LAST_7D"}"#),
            ])
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, json!({"data": {"controlTower": {"window": {"preset": "LAST_7D"}}}}));
        let (_, body) = app.get_json(&[("query", query), ("operationName", "A")]).await;
        assert_eq!(body, json!({"data": {"settings": {"maxPageSize": 100}}}));
        let (status, body) = app
            .get_json(&[("query", query), ("variables", "[1]"), ("operationName", "B")])
            .await;
        assert_eq!(status, 400);
        assert_eq!(
            single_error(&body),
            ("BAD_USER_INPUT".to_owned(), "the `variables` parameter must be a JSON object".to_owned())
        );
        let (status, body) = app.get_json(&[("query", query)]).await;
        assert_eq!(status, 200);
        assert!(single_error(&body).1.contains("several operations"), "{body}");
    }
}

on_both! {
    async fn the_standard_introspection_query_needs_no_session_and_fits_the_limits(app: TestApp) {
        let response = app
            .client()
            .post(app.url("/graphql"))
            .json(&json!({"query": STANDARD_INTROSPECTION}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert!(body.get("errors").is_none(), "{body:#}");
        assert_eq!(body["data"]["__schema"]["description"], Value::Null, "the schema has no description");
        let types = body["data"]["__schema"]["types"].as_array().unwrap();
        let date_time = types.iter().find(|ty| ty["name"] == "DateTime").unwrap();
        assert_eq!(date_time["specifiedByURL"], "https://datatracker.ietf.org/doc/html/rfc3339");
        assert!(date_time["description"].as_str().unwrap().starts_with("An instant, as an RFC 3339"));
        let health = types.iter().find(|ty| ty["name"] == "HealthLevel").unwrap();
        let levels: Vec<&str> = health["enumValues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|value| value["name"].as_str().unwrap())
            .collect();
        assert_eq!(levels, ["HEALTHY", "UNKNOWN", "WARNING", "CRITICAL"], "best to worst");
        let (_, by_get) = app.get_json(&[("query", STANDARD_INTROSPECTION)]).await;
        assert_eq!(by_get, without_cost(body));
    }
}

#[tokio::test]
async fn introspection_that_multiplies_the_schema_is_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let nested =
        "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
    let (status, body) = app.post_json(json!({"query": nested})).await;
    assert_eq!(status, 200);
    let (code, message) = single_error(&body);
    assert_eq!(code, "QUERY_TOO_COMPLEX");
    assert!(
        message.contains("nests 3 lists") || message.contains("lists of the schema's parts"),
        "{message}"
    );
    let deep = format!(
        "{{ __type(name: \"Tenant\") {{ {}name{} }} }}",
        "ofType { ".repeat(25),
        " }".repeat(25)
    );
    let (_, body) = app.post_json(json!({"query": deep})).await;
    let (code, message) = single_error(&body);
    assert_eq!(code, "QUERY_TOO_COMPLEX");
    assert!(
        message.starts_with("the operation's introspection nests fields 27 deep"),
        "{message}"
    );
    // Outside introspection, `max_depth` still holds.
    let deep = format!(
        "{{ {}name{} }}",
        "tenants { nodes { workspace { ".repeat(5),
        " } } }".repeat(5)
    );
    let (_, body) = app.post_json(json!({"query": deep})).await;
    let (code, message) = single_error(&body);
    assert_eq!(code, "QUERY_TOO_COMPLEX");
    assert!(
        message.starts_with("the operation nests fields 16 deep"),
        "{message}"
    );
}

on_both! {
    async fn include_and_skip_take_variable_defaults(app: TestApp) {
        let query = "query($x: Boolean = true, $y: Boolean = true) { settings { maxPageSize staleCheckHours @include(if: $x) queuedStuckMinutes @skip(if: $y) } }";
        let data = app.data(query, json!({})).await;
        assert_eq!(data, json!({"settings": {"maxPageSize": 100, "staleCheckHours": 24}}));
        let data = app.data(query, json!({"x": false, "y": false})).await;
        assert_eq!(data, json!({"settings": {"maxPageSize": 100, "queuedStuckMinutes": 15}}));
        let (_, by_get) = app.get_json(&[("query", query)]).await;
        assert_eq!(by_get, json!({"data": {"settings": {"maxPageSize": 100, "staleCheckHours": 24}}}));
        let fragment = "query($x: Boolean = false) { settings { ...Limits @include(if: $x) maxPageSize } } fragment Limits on ConsoleSettings { breakGlassMaxMinutes }";
        assert_eq!(app.data(fragment, json!({})).await, json!({"settings": {"maxPageSize": 100}}));
        assert_eq!(
            app.data(fragment, json!({"x": true})).await,
            json!({"settings": {"breakGlassMaxMinutes": 60, "maxPageSize": 100}})
        );
    }
}

on_both! {
    async fn a_missing_required_variable_is_a_request_error_and_skipping_everything_is_empty(app: TestApp) {
        let (status, body) = app
            .post_json(json!({"query": "query($x: Boolean!) { settings @include(if: $x) { maxPageSize } }"}))
            .await;
        assert_eq!(status, 200);
        assert!(body.get("data").is_none(), "a request error has no data: {body}");
        assert_eq!(
            single_error(&body),
            ("BAD_USER_INPUT".to_owned(), "the variable `$x` of type `Boolean!` is required: send it in `variables`".to_owned())
        );
        let (status, body) = app.post_json(json!({"query": "{ settings @skip(if: true) { maxPageSize } }"})).await;
        assert_eq!((status, body), (200, json!({"data": {}})));
        let (status, body) = app
            .post_json(json!({"query": "{ settings { maxPageSize @skip(if: true) } }"}))
            .await;
        assert_eq!((status, body), (200, json!({"data": {"settings": {}}})));
    }
}

on_both! {
    async fn a_field_error_nulls_the_field_or_its_nearest_nullable_parent(app: TestApp) {
        let acme = workspace(&app.db, "Acme").await;
        let contoso = tenant(&app.db, acme.id, "Contoso").await;
        connection_with(&app.db, contoso.id, |_| {}).await;
        connection_with(&app.db, contoso.id, |row| {
            row.provider = sea_orm::ActiveValue::Set("google".to_owned());
            row.is_default = sea_orm::ActiveValue::Set(false);
        })
        .await;
        let viewer = operator_token(&app.db, "viewer@control-tower.test", &[Capability::ConsoleView]).await;
        let (body, _) = app
            .gql_with(
                Some(&viewer),
                "{ tenants(first: 1) { nodes { name rbac { canaryResults lastCheckedAt } providerConnections { provider metadata } } } }",
                json!({}),
            )
            .await;
        let checked = body["data"]["tenants"]["nodes"][0]["rbac"]["lastCheckedAt"].clone();
        assert!(checked.is_string(), "the field beside the failed one is answered: {body:#}");
        assert_eq!(
            body["data"],
            json!({"tenants": {"nodes": [{
                "name": "Contoso",
                "rbac": {"canaryResults": null, "lastCheckedAt": checked},
                "providerConnections": [
                    {"provider": "microsoft", "metadata": null},
                    {"provider": "google", "metadata": null},
                ],
            }]}}),
            "{body:#}"
        );
        let mut paths: Vec<Value> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|error| {
                assert_eq!(error["extensions"]["code"], "FORBIDDEN");
                error["path"].clone()
            })
            .collect();
        paths.sort_by_key(Value::to_string);
        assert_eq!(
            paths,
            [
                json!(["tenants", "nodes", 0, "providerConnections", 0, "metadata"]),
                json!(["tenants", "nodes", 0, "providerConnections", 1, "metadata"]),
                json!(["tenants", "nodes", 0, "rbac", "canaryResults"]),
            ]
        );
        // Every field of an object failing still leaves the object, its fields null.
        let (body, _) = app
            .gql_with(Some(&viewer), "{ tenants(first: 1) { nodes { rbac { canaryResults } } } }", json!({}))
            .await;
        assert_eq!(body["data"], json!({"tenants": {"nodes": [{"rbac": {"canaryResults": null}}]}}));
        let (body, _) = app
            .gql_with(Some(&viewer), "{ tenants(first: 1) { nodes { secret: metadata name } } }", json!({}))
            .await;
        assert_eq!(body["data"], json!({"tenants": {"nodes": [{"secret": null, "name": "Contoso"}]}}));
        assert_eq!(body["errors"][0]["path"], json!(["tenants", "nodes", 0, "secret"]));
        let (body, _) = app
            .gql_with(Some(&viewer), "{ controlTower { stuckTotal access { loginsFailed } } }", json!({}))
            .await;
        assert_eq!(body["data"], json!({"controlTower": {"stuckTotal": 0, "access": null}}), "{body:#}");
        assert_eq!(body["errors"][0]["path"], json!(["controlTower", "access"]));
        // A non-null field that fails nulls its parent: here the whole `data`.
        let (body, _) = app
            .gql_with(Some(&viewer), "{ settings { maxPageSize } auditLogs { totalCount } }", json!({}))
            .await;
        assert_eq!(body["data"], Value::Null, "{body:#}");
        assert!(body.as_object().unwrap().contains_key("data"), "a field error keeps `data`: {body}");
        assert_eq!(body["errors"][0]["path"], json!(["auditLogs"]));
    }
}

#[tokio::test]
async fn a_data_of_null_from_a_field_error_is_not_a_request_error() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let viewer = operator_token(
        &app.db,
        "viewer@control-tower.test",
        &[Capability::ConsoleView],
    )
    .await;
    let response = app
        .client()
        .post(app.url("/graphql"))
        .bearer_auth(&viewer)
        .header("accept", "application/graphql-response+json")
        .json(&json!({"query": "{ auditLogs { totalCount } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "the operation ran: a 200 with data null"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"], Value::Null);
}

on_both! {
    async fn automatic_persisted_queries_follow_apollos_protocol(app: TestApp) {
        let query = "query Limits { settings { maxPageSize staleCheckHours } }";
        let hash = sha256_hex(query);
        let extensions = json!({"persistedQuery": {"version": 1, "sha256Hash": hash}});
        let expected = json!({"data": {"settings": {"maxPageSize": 100, "staleCheckHours": 24}}});
        // Unknown: the answer Apollo's link retries on, with the query.
        let (status, body) = app.post_json(json!({"extensions": extensions})).await;
        assert_eq!(status, 200);
        assert_eq!(
            body,
            json!({"errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]})
        );
        let (_, by_get) = app.get_json(&[("extensions", &extensions.to_string())]).await;
        assert_eq!(by_get, body);
        // A wrong hash with a query is refused, and remembers nothing.
        let wrong = json!({"persistedQuery": {"version": 1, "sha256Hash": sha256_hex("{ viewer { name } }")}});
        let (status, body) = app.post_json(json!({"query": query, "extensions": wrong})).await;
        assert_eq!(status, 400);
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
        let (_, body) = app.post_json(json!({"extensions": wrong})).await;
        assert_eq!(error_codes(&body), ["PERSISTED_QUERY_NOT_FOUND"]);
        // The hash with its query registers it; then the hash alone runs it, by POST and GET.
        assert_eq!(app.post_json(json!({"query": query, "extensions": extensions})).await, (200, expected.clone()));
        assert_eq!(app.post_json(json!({"extensions": extensions})).await, (200, expected.clone()));
        assert_eq!(app.get_json(&[("extensions", &extensions.to_string())]).await, (200, expected));
        // Versions other than 1 make Apollo's link stop hashing.
        let (status, body) = app
            .post_json(json!({"extensions": {"persistedQuery": {"version": 2, "sha256Hash": hash}}}))
            .await;
        assert_eq!((status, error_codes(&body)), (200, vec!["PERSISTED_QUERY_NOT_SUPPORTED".to_owned()]));
        let (status, body) = app
            .post_json(json!({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "abc"}}}))
            .await;
        assert_eq!((status, error_codes(&body)), (400, vec!["BAD_USER_INPUT".to_owned()]));
    }
}

on_both! {
    async fn the_saved_operations_run_by_hash_from_the_first_request(app: TestApp) {
        let document = &control_tower::server::saved_operations()
            .iter()
            .find(|saved| saved.file == "control-tower.graphql")
            .unwrap()
            .document;
        let extensions = json!({"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(document)}});
        let (status, body) = app
            .get_json(&[("extensions", &extensions.to_string()), ("variables", r#"{"window": "LAST_7D"}"#)])
            .await;
        assert_eq!(status, 200);
        assert!(body.get("errors").is_none(), "{body:#}");
        assert_eq!(body["data"]["controlTower"]["window"]["preset"], "LAST_7D");
    }
}

#[tokio::test]
async fn cross_origin_calls_are_refused_unless_the_origin_is_listed() {
    let closed = TestApp::spawn(Backend::Sqlite).await;
    let preflight = |app: &TestApp, origin: &'static str| {
        app.client()
            .request(reqwest::Method::OPTIONS, app.url("/graphql"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let response = preflight(&closed, "https://console.example.com")
        .await
        .unwrap();
    assert_eq!(response.status(), 405, "no origin is allowed by default");
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let open = TestApp::spawn_with(Backend::Sqlite, |config| {
        config.system_console.cors.allowed_origins = vec!["https://console.example.com".to_owned()];
    })
    .await;
    let response = preflight(&open, "https://console.example.com")
        .await
        .unwrap();
    assert!(response.status().is_success());
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://console.example.com"
    );
    let allowed = headers["access-control-allow-headers"].to_str().unwrap();
    assert!(
        allowed.contains("authorization") && allowed.contains("content-type"),
        "{allowed}"
    );
    assert!(headers.get("access-control-allow-credentials").is_none());
    assert_eq!(headers["access-control-max-age"], "600");
    let response = preflight(&open, "https://evil.example.net").await.unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "an origin not listed is never reflected"
    );
    let response = open
        .client()
        .post(open.url("/graphql"))
        .header("origin", "https://console.example.com")
        .bearer_auth(&open.token)
        .json(&json!({"query": "{ settings { maxPageSize } }"}))
        .send()
        .await
        .unwrap();
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://console.example.com"
    );
    let exposed = headers["access-control-expose-headers"].to_str().unwrap();
    assert!(
        exposed.contains("x-request-id") && exposed.contains("x-sql-statements"),
        "{exposed}"
    );
}

on_both! {
    async fn get_answers_are_revalidated_with_their_etag(app: TestApp) {
        let acme = workspace(&app.db, "Acme").await;
        tenant(&app.db, acme.id, "Contoso").await;
        let query = [("query", "{ tenants { totalCount } }")];
        let first = app.get_with(Some(&app.token), &query, HeaderMap::new()).await;
        assert_eq!(first.status(), 200);
        let headers = first.headers().clone();
        assert_eq!(headers["cache-control"], "private, no-cache");
        let vary = headers["vary"].to_str().unwrap();
        assert!(vary.contains("authorization") && vary.contains("accept"), "{vary}");
        let etag = headers["etag"].clone();
        let mut conditional = HeaderMap::new();
        conditional.insert("if-none-match", etag.clone());
        let again = app.get_with(Some(&app.token), &query, conditional.clone()).await;
        assert_eq!(again.status(), 304);
        assert_eq!(again.headers()["etag"], etag);
        assert!(again.bytes().await.unwrap().is_empty(), "a 304 has no body");
        let mut listed = HeaderMap::new();
        listed.insert("if-none-match", HeaderValue::from_str(&format!("\"other\", W/{}", etag.to_str().unwrap())).unwrap());
        assert_eq!(app.get_with(Some(&app.token), &query, listed).await.status(), 304);
        tenant(&app.db, acme.id, "Fabrikam").await;
        let changed = app.get_with(Some(&app.token), &query, conditional).await;
        assert_eq!(changed.status(), 200, "the answer changed");
        assert_ne!(changed.headers()["etag"], etag);
        assert_eq!(without_cost(changed.json::<Value>().await.unwrap()), json!({"data": {"tenants": {"totalCount": 2}}}));
        // POST answers are never kept.
        let post = app
            .client()
            .post(app.url("/graphql"))
            .bearer_auth(&app.token)
            .json(&json!({"query": "{ tenants { totalCount } }"}))
            .send()
            .await
            .unwrap();
        assert_eq!(post.headers()["cache-control"], "no-store");
        assert!(post.headers().get("etag").is_none());
    }
}

on_both! {
    async fn an_operators_id_fetches_that_operator_and_nobody_else(app: TestApp) {
        let data = app.data("{ viewer { id name } }", json!({})).await;
        let id = data["viewer"]["id"].as_str().unwrap().to_owned();
        let data = app
            .data("query($id: ID!) { node(id: $id) { __typename id ... on Operator { name } } }", json!({"id": id}))
            .await;
        assert_eq!(data["node"]["__typename"], "Operator");
        assert_eq!(data["node"]["id"], id.as_str());
        let other = operator_token(&app.db, "other@control-tower.test", &[Capability::ConsoleView]).await;
        let (body, _) = app
            .gql_with(Some(&other), "query($id: ID!) { node(id: $id) { id } }", json!({"id": id}))
            .await;
        assert_eq!(without_cost(body), json!({"data": {"node": null}}));
    }
}
