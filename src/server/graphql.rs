//! `GET/POST /graphql` per the GraphQL-over-HTTP spec.
//!
//! Requests are read by hand rather than with an extractor so that every refusal — a body
//! too large, malformed JSON, a mutation over GET, too many aliases — is answered as a
//! GraphQL error with an `extensions.code`, before any resolver (or SQL) runs.

use std::any::Any;
use std::time::Duration;

use async_graphql::{
    ErrorExtensionValues, Request, Response as GraphQLResponse, ServerError, Value,
};
use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request as HttpRequest, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::SubsecRound;

use super::authenticate::Credentials;
use super::document::{self, Admitted};
use super::{AppState, ordering};
use crate::auth::login::Origin;
use crate::db::Db;
use crate::error::{AppError, ErrorCode};
use crate::graphql::scope::Scope;
use crate::graphql::settle::Settling;

/// The media type of the GraphQL-over-HTTP spec.
const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
/// Response header with the number of SQL statements the request ran.
pub const STATEMENTS_HEADER: &str = "x-sql-statements";
/// Most errors one response lists; a document can be written to fail validation once
/// per selection, and a longer list helps nobody.
const MAX_ERRORS: usize = 100;

/// `GET /graphql?query=…`: queries only.
pub async fn get(State(state): State<AppState>, request: HttpRequest) -> Response {
    let (parts, _) = request.into_parts();
    let format = Format::of(&parts.headers);
    let query = parts.uri.query().unwrap_or_default();
    match async_graphql::http::parse_query_string(query) {
        Ok(request) => execute(&state, request, &parts, format, true).await,
        Err(error) => refuse(
            format,
            StatusCode::BAD_REQUEST,
            &AppError::bad_input(error.to_string()),
        ),
    }
}

/// `POST /graphql` with an `application/json` body.
pub async fn post(State(state): State<AppState>, request: HttpRequest) -> Response {
    let (parts, body) = request.into_parts();
    let format = Format::of(&parts.headers);
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| {
            let media = media.trim();
            media.eq_ignore_ascii_case("application/json")
                || media.eq_ignore_ascii_case(GRAPHQL_RESPONSE)
        });
    if !is_json {
        let error =
            AppError::bad_input("send the request as JSON, with `Content-Type: application/json`");
        return refuse(format, StatusCode::UNSUPPORTED_MEDIA_TYPE, &error);
    }
    let limit = state.config.system_console.limits.max_body_bytes as usize;
    let bytes: Bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let error = AppError::bad_input(format!("the request body exceeds {limit} bytes"));
            return refuse(format, StatusCode::PAYLOAD_TOO_LARGE, &error);
        }
    };
    match serde_json::from_slice::<Request>(&bytes) {
        Ok(request) => execute(&state, request, &parts, format, false).await,
        Err(error) => {
            let message = if error.is_data() {
                format!("the request is not a GraphQL request object: {error}")
            } else {
                "the request body is not valid JSON".to_owned()
            };
            refuse(
                format,
                StatusCode::BAD_REQUEST,
                &AppError::bad_input(message),
            )
        }
    }
}

/// Applies every check that needs no database; on success the request carries the
/// parsed document, so async-graphql does not parse it again.
fn check(
    request: &mut Request,
    state: &AppState,
    format: Format,
    is_get: bool,
) -> Result<Admitted, (StatusCode, AppError)> {
    if request.query.trim().is_empty() {
        return Err((
            StatusCode::BAD_REQUEST,
            AppError::bad_input("the request has no `query`"),
        ));
    }
    let limits = &state.config.system_console.limits;
    let admitted = document::admit(
        &request.query,
        request.operation_name.as_deref(),
        limits,
        &state.types,
    )
    .map_err(|error| (format.document_error_status(), error))?;
    if is_get && admitted.is_mutation {
        let error = AppError::bad_input("mutations must be sent with POST");
        return Err((StatusCode::METHOD_NOT_ALLOWED, error));
    }
    request.set_parsed_query(admitted.document.clone());
    Ok(admitted)
}

async fn execute(
    state: &AppState,
    mut request: Request,
    parts: &Parts,
    format: Format,
    is_get: bool,
) -> Response {
    let checked = match check(&mut request, state, format, is_get) {
        Ok(checked) => checked,
        Err((status, error)) => return refuse(format, status, &error),
    };
    let db = state.db.for_request();
    let now = (state.clock)().trunc_subsecs(6);
    let origin = Origin {
        ip: parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(address)| address.ip().to_string()),
    };
    let limits = &state.config.system_console.limits;
    let scope = Scope::new(
        now,
        db.clone(),
        state.config.clone(),
        state.snapshots.clone(),
        origin,
    );
    let credentials = Credentials {
        authorization: parts
            .headers
            .get(header::AUTHORIZATION)
            .map(|value| value.to_str().unwrap_or_default().to_owned()),
        needs_session: checked.needs_session,
    };
    let gate = scope.gate.clone();
    let execution = Settling::new(
        state.schema.execute(request.data(scope).data(credentials)),
        gate,
    );
    let timeout = Duration::from_secs(u64::from(limits.request_timeout_seconds));
    let mut response = match tokio::time::timeout(timeout, execution).await {
        Ok(response) => response,
        Err(_) => {
            let error = AppError::QueryTooComplex(format!(
                "the request took longer than {} s and was stopped; ask for less",
                limits.request_timeout_seconds
            ));
            GraphQLResponse::from_errors(vec![server_error(&error)])
        }
    };
    ordering::restore(&checked.document, &checked.selection, &mut response.data);
    tracing::debug!(
        statements = db.statements(),
        errors = response.errors.len(),
        "graphql request done"
    );
    counted(respond(format, capped(with_codes(response))), &db)
}

/// Adds the statement count header.
fn counted(mut response: Response, db: &Db) -> Response {
    if let Ok(value) = HeaderValue::from_str(&db.statements().to_string()) {
        response.headers_mut().insert(STATEMENTS_HEADER, value);
    }
    response
}

/// Gives every error a code: ours carry one already; the rest come from parsing,
/// validation and input coercion, the caller's fault, except the depth and complexity
/// limits.
fn with_codes(mut response: GraphQLResponse) -> GraphQLResponse {
    for error in &mut response.errors {
        let extensions = error
            .extensions
            .get_or_insert_with(ErrorExtensionValues::default);
        if extensions.get("code").is_none() {
            let code = if error.message.starts_with("Query is nested too deep")
                || error.message.starts_with("Query is too complex")
            {
                ErrorCode::QueryTooComplex
            } else {
                ErrorCode::BadUserInput
            };
            extensions.set("code", Value::from(code.as_str()));
        }
    }
    response
}

/// Keeps the first [`MAX_ERRORS`] errors, the last of them saying how many more there
/// were.
fn capped(mut response: GraphQLResponse) -> GraphQLResponse {
    if response.errors.len() > MAX_ERRORS {
        let omitted = response.errors.len() - (MAX_ERRORS - 1);
        response.errors.truncate(MAX_ERRORS - 1);
        let more = AppError::bad_input(format!(
            "{omitted} more errors are not listed; fix these first"
        ));
        response.errors.push(server_error(&more));
    }
    response
}

fn server_error(error: &AppError) -> ServerError {
    let mut server_error = ServerError::new(error.to_string(), None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", Value::from(error.code().as_str()));
    server_error.extensions = Some(extensions);
    server_error
}

/// A request refused before execution.
fn refuse(format: Format, status: StatusCode, error: &AppError) -> Response {
    let response = GraphQLResponse::from_errors(vec![server_error(error)]);
    let mut response = body(format, status, &response);
    response
        .headers_mut()
        .insert(STATEMENTS_HEADER, HeaderValue::from_static("0"));
    response
}

fn respond(format: Format, response: GraphQLResponse) -> Response {
    let status = match format {
        // A request error (no data at all) is a 400 under graphql-response+json.
        Format::GraphQLResponse if response.data == Value::Null && response.is_err() => {
            StatusCode::BAD_REQUEST
        }
        _ => StatusCode::OK,
    };
    body(format, status, &response)
}

fn body(format: Format, status: StatusCode, response: &GraphQLResponse) -> Response {
    let content_type = match format {
        Format::Json => "application/json",
        Format::GraphQLResponse => GRAPHQL_RESPONSE,
    };
    // Answers depend on the session and may carry a token: no cache keeps them.
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, "no-store"),
    ];
    match serde_json::to_vec(response) {
        Ok(bytes) => (status, headers, bytes).into_response(),
        Err(error) => {
            tracing::error!(%error, "could not serialise a GraphQL response");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A panic in a handler: logged by the panic hook, answered without details.
pub fn panic_response(_panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let error = AppError::internal(anyhow::anyhow!("a request handler panicked"));
    tracing::error!("a request handler panicked");
    let response = GraphQLResponse::from_errors(vec![server_error(&error)]);
    body(Format::Json, StatusCode::INTERNAL_SERVER_ERROR, &response)
}

/// The response media type the client asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    GraphQLResponse,
}

impl Format {
    /// The status of a document the server read but will not run (a syntax error, too
    /// many aliases): 200 for `application/json` clients, 400 under the GraphQL-over-HTTP
    /// media type.
    fn document_error_status(self) -> StatusCode {
        match self {
            Self::Json => StatusCode::OK,
            Self::GraphQLResponse => StatusCode::BAD_REQUEST,
        }
    }

    fn of(headers: &HeaderMap) -> Self {
        let accepts = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(|value| value.contains(GRAPHQL_RESPONSE));
        if accepts {
            Self::GraphQLResponse
        } else {
            Self::Json
        }
    }
}
