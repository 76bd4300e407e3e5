//! OpenTelemetry traces over OTLP/HTTP (SPEC §9e), when
//! `system_console.tracing.otlp_endpoint` is set.
//!
//! The service's `tracing` spans become OpenTelemetry spans (`tracing-opentelemetry`):
//! one per HTTP request, continuing the caller's W3C `traceparent` and answered with a
//! `traceresponse` header, and under it the document's admission (`graphql.parse`), its
//! validation (`graphql.validate`), its execution (`graphql.execute`), each loader batch
//! (`loader batch`) and each SQL statement (`sql`, with its text and never its values).
//! The access line carries the trace id.
//!
//! Export is batched and bounded: a thread of the SDK's sends up to 512 spans a request
//! every 500 ms, with a 3 s timeout, from a queue of at most 2,048 spans; when the queue is
//! full (a collector that is down or slow), new spans are dropped, never waited for. So
//! a dead collector costs requests no latency and the service no unbounded memory.
//!
//! Without an endpoint nothing is made: the child spans are at DEBUG under
//! [`TARGET`], which the log's filter leaves off, so they cost a disabled callsite.

use std::sync::OnceLock;
use std::time::Duration;

use axum::http::HeaderMap;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use tracing::{Metadata, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

use crate::config::Tracing;

/// The target of the spans made only for traces.
pub(crate) const TARGET: &str = "control_tower::trace";
/// The response header that names the request's span (W3C Trace Context Level 2).
pub(crate) const TRACE_RESPONSE: &str = "traceresponse";

/// Spans queued for export at most; beyond, new ones are dropped.
const MAX_QUEUE: usize = 2_048;
/// Spans sent in one export request at most.
const MAX_BATCH: usize = 512;
/// How often the queue is sent.
const EXPORT_EVERY: Duration = Duration::from_millis(500);
/// How long one export may take before it is given up.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(3);

/// The exporter, once installed: whether traces are made at all.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Whether this process makes traces.
pub(crate) fn enabled() -> bool {
    PROVIDER.get().is_some()
}

/// The layer that turns spans into OpenTelemetry spans exported to the configured
/// collector, or `None` without an endpoint. The first call installs the exporter; a
/// second (in-process tests) gets none.
pub(crate) fn layer<S>(config: &Tracing) -> Result<Option<impl Layer<S>>, String>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let Some(endpoint) = &config.otlp_endpoint else {
        return Ok(None);
    };
    if enabled() {
        return Ok(None);
    }
    let exporter = SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|error| format!("cannot export traces to {endpoint}: {error}"))?;
    let batches = BatchConfigBuilder::default()
        .with_max_queue_size(MAX_QUEUE)
        .with_max_export_batch_size(MAX_BATCH)
        .with_scheduled_delay(EXPORT_EVERY)
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(
            BatchSpanProcessor::builder(exporter)
                .with_batch_config(batches)
                .build(),
        )
        .with_resource(
            Resource::builder()
                .with_service_name(config.service_name.clone())
                .build(),
        )
        .build();
    let tracer = provider.tracer("control-tower");
    if PROVIDER.set(provider).is_err() {
        return Ok(None);
    }
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_threads(false)
        .with_location(false)
        .with_filter(tracing_subscriber::filter::filter_fn(exported));
    Ok(Some(layer))
}

/// What becomes part of a trace: the service's own spans, and warnings and errors as
/// events of the span they happen in.
fn exported(metadata: &Metadata<'_>) -> bool {
    if metadata.is_span() {
        metadata.target().starts_with("control_tower")
    } else {
        *metadata.level() <= tracing::Level::WARN
    }
}

/// Sends what is queued and stops the exporter (at exit), waiting at most its timeout.
pub(crate) fn shutdown() {
    if let Some(provider) = PROVIDER.get()
        && let Err(error) = provider.shutdown()
    {
        eprintln!("could not send the last traces: {error}");
    }
}

/// Makes `span` (a request's) continue the trace of the request's `traceparent` (and
/// `tracestate`), when it has a valid one; otherwise it starts a trace of its own.
pub(crate) fn continue_trace(span: &tracing::Span, headers: &HeaderMap) {
    if !enabled() || !headers.contains_key("traceparent") {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// The trace id of `span` and its `traceresponse` value (`00-<trace>-<span>-<flags>`),
/// when traces are made.
pub(crate) fn ids(span: &tracing::Span) -> Option<(String, String)> {
    if !enabled() {
        return None;
    }
    let context = span.context();
    let span = context.span();
    let ids = span.span_context();
    if !ids.is_valid() {
        return None;
    }
    let trace_id = ids.trace_id().to_string();
    let response = format!(
        "00-{trace_id}-{}-{:02x}",
        ids.span_id(),
        ids.trace_flags().to_u8()
    );
    Some((trace_id, response))
}

/// A request's headers, as the propagator reads them.
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(axum::http::HeaderName::as_str).collect()
    }
}

/// async-graphql's validation and execution, each in a span of its own. Installed only
/// when traces are made: any extension sends every field down async-graphql's slower
/// path, which a service that does not trace should not pay for.
pub(crate) struct Phases;

impl async_graphql::extensions::ExtensionFactory for Phases {
    fn create(&self) -> std::sync::Arc<dyn async_graphql::extensions::Extension> {
        std::sync::Arc::new(Phases)
    }
}

#[async_trait::async_trait]
impl async_graphql::extensions::Extension for Phases {
    async fn validation(
        &self,
        ctx: &async_graphql::extensions::ExtensionContext<'_>,
        next: async_graphql::extensions::NextValidation<'_>,
    ) -> Result<async_graphql::ValidationResult, Vec<async_graphql::ServerError>> {
        use tracing::Instrument;
        next.run(ctx)
            .instrument(tracing::debug_span!(target: TARGET, "graphql.validate"))
            .await
    }

    async fn execute(
        &self,
        ctx: &async_graphql::extensions::ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: async_graphql::extensions::NextExecute<'_>,
    ) -> async_graphql::Response {
        use tracing::Instrument;
        next.run(ctx, operation_name)
            .instrument(tracing::debug_span!(
                target: TARGET,
                "graphql.execute",
                graphql.operation.name = operation_name
            ))
            .await
    }
}
