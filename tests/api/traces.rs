//! OpenTelemetry traces over OTLP/HTTP (SPEC §9e): the binary exports to a receiver of
//! this test, which decodes the protobuf that arrives as a collector would.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::routing::post;
use futures::StreamExt;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::json;

use crate::common::{Launch, Served};
use crate::ops::poll_until;

/// A W3C trace context, as an upstream service would send it.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN: &str = "00f067aa0ba902b7";

/// Every span received, with the `service.name` of its resource.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(String, Span)>>>);

impl Received {
    fn spans(&self) -> Vec<(String, Span)> {
        self.0.lock().unwrap().clone()
    }
}

/// An OTLP/HTTP receiver on a free port: `POST /v1/traces` with protobuf.
async fn receiver() -> (String, Received) {
    let received = Received::default();
    let keep = received.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |headers: axum::http::HeaderMap, body: Bytes| {
            let keep = keep.clone();
            async move {
                assert_eq!(headers["content-type"], "application/x-protobuf");
                let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                let mut spans = keep.0.lock().unwrap();
                for resource in request.resource_spans {
                    let service = resource
                        .resource
                        .iter()
                        .flat_map(|resource| &resource.attributes)
                        .find(|attribute| attribute.key == "service.name")
                        .and_then(|attribute| text(attribute.value.as_ref()?))
                        .unwrap_or_default();
                    for scope in resource.scope_spans {
                        spans.extend(scope.spans.into_iter().map(|span| (service.clone(), span)));
                    }
                }
                (
                    [("content-type", "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}"), received)
}

fn text(value: &opentelemetry_proto::tonic::common::v1::AnyValue) -> Option<String> {
    match value.value.as_ref()? {
        any_value::Value::StringValue(text) => Some(text.clone()),
        _ => None,
    }
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|attribute| attribute.key == key)
        .and_then(|attribute| text(attribute.value.as_ref()?))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn serve_traced(endpoint: &str) -> Served {
    Served::launch(Launch {
        env: vec![
            ("RUST_LOG", "info".to_owned()),
            (
                "CONTROL_TOWER_SYSTEM_CONSOLE__TRACING__OTLP_ENDPOINT",
                endpoint.to_owned(),
            ),
            (
                "CONTROL_TOWER_SYSTEM_CONSOLE__TRACING__SERVICE_NAME",
                "control-tower-test".to_owned(),
            ),
        ],
        ..Launch::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_continues_the_callers_trace_down_to_each_statement() {
    let (endpoint, received) = receiver().await;
    let mut served = serve_traced(&endpoint);
    let query =
        "{ tenants(first: 5, filter: {search: \"a\"}) { nodes { name workspace { name } } } }";
    let response = reqwest::Client::new()
        .post(served.url("/graphql"))
        .bearer_auth(&served.token)
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_SPAN}-01"))
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // The caller learns the span that answered it, in its trace.
    let traceresponse = response.headers()["traceresponse"]
        .to_str()
        .unwrap()
        .to_owned();
    let parts: Vec<&str> = traceresponse.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceresponse}");
    assert_eq!((parts[0], parts[1], parts[3]), ("00", TRACE_ID, "01"));
    assert_ne!(parts[2], PARENT_SPAN);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body.get("errors").is_none(), "{body:#}");

    let names = [
        "request",
        "graphql.parse",
        "graphql.validate",
        "graphql.execute",
        "loader batch",
        "sql",
    ];
    poll_until("every span exported", Duration::from_secs(20), || {
        let spans = received.spans();
        async move {
            names.iter().all(|name| {
                spans
                    .iter()
                    .any(|(_, span)| span.name == *name && hex(&span.trace_id) == TRACE_ID)
            })
        }
    })
    .await;
    let spans: Vec<Span> = received
        .spans()
        .into_iter()
        .filter(|(_, span)| hex(&span.trace_id) == TRACE_ID)
        .map(|(service, span)| {
            assert_eq!(service, "control-tower-test");
            span
        })
        .collect();
    let request = spans.iter().find(|span| span.name == "request").unwrap();
    assert_eq!(
        hex(&request.parent_span_id),
        PARENT_SPAN,
        "continues the caller's span"
    );
    assert_eq!(
        hex(&request.span_id),
        parts[2],
        "the span traceresponse names"
    );
    assert_eq!(attribute(request, "path").as_deref(), Some("/graphql"));
    // Every other span of the request hangs from it, through its parents.
    let parent_of = |span: &Span| {
        spans
            .iter()
            .find(|other| other.span_id == span.parent_span_id)
    };
    for span in spans.iter().filter(|span| span.name != "request") {
        let mut up = span;
        while let Some(parent) = parent_of(up) {
            up = parent;
        }
        assert_eq!(up.name, "request", "{} hangs from the request", span.name);
    }
    // Statements are named by their text, with no value: the search term is bound apart.
    let statements: Vec<String> = spans
        .iter()
        .filter(|span| span.name == "sql")
        .map(|span| attribute(span, "db.query.text").expect("statement text"))
        .collect();
    assert!(
        statements.iter().any(|sql| sql.contains("\"tenants\"")),
        "{statements:#?}"
    );
    assert!(
        statements.iter().all(|sql| !sql.contains("%a%")),
        "{statements:#?}"
    );
    let batch = spans
        .iter()
        .find(|span| span.name == "loader batch")
        .unwrap();
    assert!(attribute(batch, "loader").is_some());

    // The access line carries the trace id.
    let stderr = served.stderr();
    let access = stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| line["target"] == "control_tower::access" && line["path"] == "/graphql")
        .unwrap_or_else(|| panic!("an access line: {stderr}"));
    assert_eq!(access["trace_id"], TRACE_ID, "{access}");
    served.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_never_answers_holds_no_request_back() {
    // Accepts connections, reads nothing, answers nothing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            keep.lock().unwrap().push(socket);
        }
    });
    let mut served = serve_traced(&endpoint);
    let client = reqwest::Client::new();
    // More spans than the export queue holds: the rest are dropped, not waited for.
    let mut requests = Vec::new();
    for _ in 0..200 {
        let request = client
            .post(served.url("/graphql"))
            .bearer_auth(&served.token)
            .timeout(Duration::from_secs(10))
            .json(
                &json!({ "query": "{ tenants(first: 3) { nodes { name workspace { name } } } }" }),
            )
            .send();
        requests.push(request);
    }
    let mut started = futures::stream::iter(requests).buffer_unordered(8);
    let mut answered = 0;
    while let Some(response) = started.next().await {
        let response = response.expect("answered while the collector hangs");
        assert_eq!(response.status(), 200);
        assert!(response.headers().contains_key("traceresponse"));
        answered += 1;
    }
    assert_eq!(answered, 200);
    assert!(
        !held.lock().unwrap().is_empty(),
        "the service did try to export"
    );
    served.terminate().await;
}
