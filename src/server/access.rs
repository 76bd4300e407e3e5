//! One access line per request, and the request counters of `/metrics`.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use super::graphql::Answered;
use crate::metrics::UNREAD_OPERATION;

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
    let answered = response.extensions_mut().remove::<Answered>();
    let status = response.status().as_u16();
    // Microseconds, written as milliseconds: no binary-fraction noise in the log.
    #[expect(
        clippy::cast_precision_loss,
        reason = "a request lasts far less than 2^52 µs"
    )]
    let duration_ms = took.as_micros() as f64 / 1000.0;
    match answered {
        Some(answered) => {
            let operation = answered.operation.as_deref().unwrap_or(UNREAD_OPERATION);
            state
                .metrics
                .request(operation, answered.outcome, took, answered.statements);
            let (outcome, code) = answered.outcome.labels();
            tracing::info!(
                target: "control_tower::access",
                %method,
                path,
                status,
                operation,
                operator_id = answered.operator,
                statements = answered.statements,
                outcome,
                code,
                duration_ms,
                "request"
            );
        }
        None => tracing::info!(
            target: "control_tower::access",
            %method,
            path,
            status,
            duration_ms,
            "request"
        ),
    }
    response
}
