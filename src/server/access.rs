//! One access line per request, and the request counters of `/metrics`.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use super::graphql::{Answered, Operation};
use crate::metrics::UNREAD_OPERATION;

/// The longest operation name an access line carries.
const MAX_LOGGED_NAME: usize = 100;

/// Times the request, then writes its access line at INFO — inside the request's span,
/// so it carries the request id — and counts GraphQL requests in `/metrics`. The
/// GraphQL handler leaves what it learned (operation, operator, statements, outcome)
/// on the response.
pub(super) async fn record(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    let took = started.elapsed();
    // The request's span in the trace, when traces are made: named to the caller, and
    // on the access line.
    let trace = crate::telemetry::ids(&tracing::Span::current());
    if let Some((_, traceresponse)) = &trace
        && let Ok(value) = axum::http::HeaderValue::from_str(traceresponse)
    {
        response
            .headers_mut()
            .insert(crate::telemetry::TRACE_RESPONSE, value);
    }
    let trace_id = trace.as_ref().map(|(trace_id, _)| trace_id.as_str());
    let answered = response.extensions_mut().remove::<Answered>();
    let status = response.status().as_u16();
    // Microseconds, written as milliseconds: no binary-fraction noise in the log.
    #[expect(
        clippy::cast_precision_loss,
        reason = "a request lasts far less than 2^52 µs"
    )]
    let duration_ms = took.as_micros() as f64 / 1000.0;
    // The client's values (method, path, operation) are recorded as text, which the
    // text format quotes and escapes: no client can forge a field of the line.
    match answered {
        Some(answered) => {
            let (label, name) = match &answered.operation {
                Operation::Unread => (UNREAD_OPERATION, None),
                Operation::Anonymous => (state.metrics.operation_label(None), None),
                Operation::Named(name) => (
                    state.metrics.operation_label(Some(name)),
                    Some(logged_name(name)),
                ),
            };
            state
                .metrics
                .request(label, answered.outcome, took, answered.statements);
            let (outcome, code) = answered.outcome.labels();
            tracing::info!(
                target: "control_tower::access",
                method = method.as_str(),
                path = path.as_str(),
                status,
                operation = name.as_deref(),
                operator_id = answered.operator,
                token = answered.token.as_deref(),
                statements = answered.statements,
                outcome,
                code = (!code.is_empty()).then_some(code),
                duration_ms,
                trace_id,
                "request"
            );
        }
        None => tracing::info!(
            target: "control_tower::access",
            method = method.as_str(),
            path = path.as_str(),
            status,
            duration_ms,
            trace_id,
            "request"
        ),
    }
    response
}

/// An operation name as the access line carries it: without control characters, and at
/// most [`MAX_LOGGED_NAME`] characters.
fn logged_name(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_control())
        .take(MAX_LOGGED_NAME)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logged_name_has_no_control_characters_and_a_bounded_length() {
        assert_eq!(logged_name("WallboardTopLeft"), "WallboardTopLeft");
        assert_eq!(logged_name("a\u{1b}[31mb\nc"), "a[31mbc");
        assert_eq!(logged_name(&"n".repeat(500)).chars().count(), 100);
    }
}
