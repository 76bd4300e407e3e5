//! `GET/POST /graphql` per the GraphQL-over-HTTP spec.
//!
//! Requests are read by hand rather than with an extractor so that every refusal — a body
//! too large, malformed JSON, a mutation over GET, too many aliases — is answered as a
//! GraphQL error with an `extensions.code`, before any resolver (or SQL) runs.

use std::any::Any;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use async_graphql::{
    ErrorExtensionValues, Request, Response as GraphQLResponse, ServerError, Value, Variables,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use async_graphql::parser::types::OperationType;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request as HttpRequest, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::SubsecRound;
use tokio::time::Instant;

use super::AppState;
use super::budget::{Payment, Taken, Throttle};
use super::completion::Completion;
use super::document::{Admitted, Costing};
use super::persisted::{BadExtension, PersistedQueries};
use super::trusted::{self, Trust};
use crate::auth::credentials::token_hash;
use crate::auth::login::Origin;
use crate::auth::request::Credentials;
use crate::auth::{self, Principal};
use crate::db::Db;
use crate::error::{AppError, ErrorCode};
use crate::graphql::scope::Scope;
use crate::graphql::settle::Settling;
use crate::metrics::Outcome;

/// The media type of the GraphQL-over-HTTP spec.
const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
/// Response header with the number of SQL statements the request ran.
pub(crate) const STATEMENTS_HEADER: &str = "x-sql-statements";
/// The response extension that says what a request cost.
const COST: &str = "cost";
/// How async-graphql's complexity limit words its refusal.
const TOO_COMPLEX: &str = "Query is too complex";
/// Most errors one response lists; a document can be written to fail validation once
/// per selection, and a longer list helps nobody.
const MAX_ERRORS: usize = 100;

/// `GET /graphql?query=…&operationName=…&variables=…&extensions=…`: queries only, the
/// parameters of the GraphQL-over-HTTP spec (async-graphql's own parser reads
/// `operation_name`), `variables` and `extensions` as JSON.
pub(crate) async fn get(State(state): State<AppState>, request: HttpRequest) -> Response {
    let deadline = deadline(&state);
    let (parts, _) = request.into_parts();
    let format = Format::of(&parts.headers);
    let query = parts.uri.query().unwrap_or_default();
    match read_query_string(query) {
        Ok(request) => execute(&state, request, &parts, format, Method::Get, deadline).await,
        Err(error) => refuse(format, StatusCode::BAD_REQUEST, &error),
    }
}

/// The parameters of a GET request, as sent.
#[derive(Deserialize)]
struct GetParameters {
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

fn read_query_string(query: &str) -> Result<Request, AppError> {
    let parameters: GetParameters = serde_urlencoded::from_str(query)
        .map_err(|error| AppError::bad_input(format!("the query string is malformed: {error}")))?;
    let mut request = Request::new(parameters.query.unwrap_or_default());
    request.operation_name = parameters.operation_name.filter(|name| !name.is_empty());
    if let Some(variables) = parameters.variables.filter(|text| !text.is_empty()) {
        request.variables = serde_json::from_str::<Variables>(&variables)
            .map_err(|_| AppError::bad_input("the `variables` parameter must be a JSON object"))?;
    }
    if let Some(extensions) = parameters.extensions.filter(|text| !text.is_empty()) {
        request.extensions = serde_json::from_str(&extensions)
            .map_err(|_| AppError::bad_input("the `extensions` parameter must be a JSON object"))?;
    }
    Ok(request)
}

/// `POST /graphql` with an `application/json` body.
pub(crate) async fn post(State(state): State<AppState>, request: HttpRequest) -> Response {
    let deadline = deadline(&state);
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
    let limits = &state.config.system_console.limits;
    let limit = limits.max_body_bytes as usize;
    // A body trickled in holds its connection no longer than a request may run: the
    // request's one deadline bounds the reading and the running together.
    let bytes: Bytes =
        match tokio::time::timeout_at(deadline, axum::body::to_bytes(body, limit)).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(_)) => {
                state.metrics.refused("body_bytes");
                let error = AppError::bad_input(format!("the request body exceeds {limit} bytes"));
                return refuse(format, StatusCode::PAYLOAD_TOO_LARGE, &error);
            }
            Err(_) => {
                state.metrics.refused("body_timeout");
                let error = AppError::bad_input(format!(
                    "the request body did not arrive within {} s",
                    limits.request_timeout_seconds
                ));
                let mut response = refuse(format, StatusCode::REQUEST_TIMEOUT, &error);
                // The rest of the body is never read: the connection cannot carry another
                // request.
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                return response;
            }
        };
    match serde_json::from_slice::<Request>(&bytes) {
        Ok(request) => execute(&state, request, &parts, format, Method::Post, deadline).await,
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

/// What a subscription sent over HTTP is told.
pub(super) const SUBSCRIPTIONS_ELSEWHERE: &str =
    "subscriptions are served over the WebSocket at /graphql/ws (graphql-transport-ws)";

/// How the request came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Get,
    Post,
}

/// A request answered before execution: its status and error (boxed: a `ServerError`
/// is large, and the happy path should not carry its size).
struct Refused {
    status: StatusCode,
    error: Box<ServerError>,
}

impl Refused {
    fn new(status: StatusCode, error: &AppError) -> Self {
        Self::coded(status, server_error(error))
    }

    fn coded(status: StatusCode, error: ServerError) -> Self {
        Self {
            status,
            error: Box::new(error),
        }
    }
}

/// Resolves a persisted query: a hash alone names a known document; a hash with its
/// query must match it. Returns the hash to remember the document under once admitted.
fn persisted(request: &mut Request, state: &AppState) -> Result<Option<String>, Refused> {
    let hash = PersistedQueries::requested_hash(&request.extensions).map_err(|bad| match bad {
        // Apollo's clients stop sending hashes on this answer.
        BadExtension::NotSupported => Refused::coded(
            StatusCode::OK,
            coded_error(
                "PersistedQueryNotSupported",
                "PERSISTED_QUERY_NOT_SUPPORTED",
            ),
        ),
        BadExtension::Malformed(message) => {
            Refused::new(StatusCode::BAD_REQUEST, &AppError::bad_input(message))
        }
    })?;
    let Some(hash) = hash else {
        return Ok(None);
    };
    if request.query.trim().is_empty() {
        return match state.persisted.find(&hash) {
            Some(text) => {
                request.query = text.to_string();
                Ok(None)
            }
            // Apollo's clients send the query again on this answer, which must be a 200.
            None => Err(Refused::coded(
                StatusCode::OK,
                coded_error("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND"),
            )),
        };
    }
    if !PersistedQueries::names(&hash, &request.query) {
        let error = AppError::bad_input(
            "`extensions.persistedQuery.sha256Hash` is not the SHA-256 of `query`",
        );
        return Err(Refused::new(StatusCode::BAD_REQUEST, &error));
    }
    Ok(Some(hash))
}

/// Applies every check that needs no database; on success the request carries the
/// parsed document, so async-graphql does not parse it again, and every variable the
/// operation declares.
fn check(
    request: &mut Request,
    state: &AppState,
    format: Format,
    method: Method,
) -> Result<Arc<Admitted>, Refused> {
    let remember = persisted(request, state)?;
    if request.query.trim().is_empty() {
        let error = AppError::bad_input("the request has no `query`");
        return Err(Refused::new(StatusCode::BAD_REQUEST, &error));
    }
    let limits = &state.config.system_console.limits;
    // Parsing and the document checks: once per document text, then a look-up.
    let _parsing =
        tracing::debug_span!(target: crate::telemetry::TARGET, "graphql.parse").entered();
    let admitted = state
        .admissions
        .admit(
            &request.query,
            request.operation_name.as_deref(),
            limits,
            &state.types,
        )
        .map_err(|refusal| {
            let error = refusal.counted(&state.metrics);
            Refused::new(format.document_error_status(), &error)
        })?;
    if method == Method::Get && admitted.ty == OperationType::Mutation {
        let error = AppError::bad_input("mutations must be sent with POST");
        return Err(Refused::new(StatusCode::METHOD_NOT_ALLOWED, &error));
    }
    if admitted.ty == OperationType::Subscription {
        let error = AppError::bad_input(SUBSCRIPTIONS_ELSEWHERE);
        return Err(Refused::new(format.document_error_status(), &error));
    }
    if let Some(hash) = remember {
        state.persisted.remember(hash, &request.query);
    }
    admitted
        .complete_variables(&mut request.variables)
        .map_err(|error| Refused::new(format.document_error_status(), &error))?;
    request.set_parsed_query(admitted.document.clone());
    Ok(admitted)
}

/// Refuses, before it is parsed, a document the caller's credentials do not trust
/// (`server::trusted`). Credentials that may be restricted are looked up for that, and
/// returned so that the request does not look them up again; others are left to the
/// resolvers, which look them up only when a field needs them.
async fn screen(
    state: &AppState,
    request: &mut Request,
    authorization: Option<&str>,
) -> Result<Option<Principal>, (Refused, Option<String>)> {
    let policy = state.config.system_console.trusted_documents;
    let Some(token) = authorization
        .and_then(auth::bearer_token)
        .filter(|token| trusted::may_restrict(policy, token))
    else {
        return Ok(None);
    };
    match auth::authenticate(&state.db, token, (state.clock)()).await {
        Ok(Ok(principal)) => {
            let refused = |error| {
                let token = principal.token_name().map(str::to_owned);
                (Refused::new(StatusCode::FORBIDDEN, &error), token)
            };
            Trust::of(policy, &principal)
                .screen(request)
                .map_err(refused)?;
            Ok(Some(principal))
        }
        // A refused token is answered as every refused token is, by the resolvers.
        Ok(Err(_)) => Ok(None),
        Err(error) => Err((
            Refused::new(
                StatusCode::SERVICE_UNAVAILABLE,
                &AppError::Unavailable(Arc::new(error)),
            ),
            None,
        )),
    }
}

async fn execute(
    state: &AppState,
    mut request: Request,
    parts: &Parts,
    format: Format,
    method: Method,
    deadline: Instant,
) -> Response {
    if let Some(reason) = state.readiness.waiting() {
        let mut response = refuse(
            format,
            StatusCode::SERVICE_UNAVAILABLE,
            &AppError::Starting(reason),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    }
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().unwrap_or_default().to_owned());
    let granted = match screen(state, &mut request, authorization.as_deref()).await {
        Ok(granted) => granted,
        Err((refused, token)) => return refuse_token(format, refused, token),
    };
    let token = granted
        .as_ref()
        .and_then(Principal::token_name)
        .map(str::to_owned);
    let admitted = match check(&mut request, state, format, method) {
        Ok(admitted) => admitted,
        Err(refused) => return refuse_with(format, refused),
    };
    let caller = Caller {
        authorization,
        origin: Origin {
            ip: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(address)| address.ip().to_string()),
        },
        granted,
        budgeted: true,
    };
    let operation = match &admitted.operation_name {
        Some(name) => Operation::Named(name.clone()),
        None => Operation::Anonymous,
    };
    let ran = run(state, request, &admitted, caller, deadline).await;
    let caching = match method {
        Method::Get => Caching::Revalidate(parts.headers.get(header::IF_NONE_MATCH)),
        Method::Post => Caching::NoStore,
    };
    let answered = Answered {
        operation,
        operator: ran.operator,
        token,
        statements: ran.db.statements(),
        outcome: Outcome::of(codes(&ran.response.errors)),
    };
    let mut response = counted(respond(format, caching, ran.response), &ran.db);
    if let Some(seconds) = ran.retry_after
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    answered.attach(response)
}

/// What the access log and `/metrics` learn of a GraphQL request, carried out of the
/// handler on its response.
#[derive(Clone, Debug)]
pub(super) struct Answered {
    pub(crate) operation: Operation,
    pub(crate) operator: Option<i64>,
    /// The name of the dashboard token that sent it.
    pub(crate) token: Option<String>,
    pub(crate) statements: u64,
    pub(crate) outcome: Outcome,
}

/// The operation a request ran, as far as it was read.
#[derive(Clone, Debug)]
pub(super) enum Operation {
    /// Refused before its operation was known.
    Unread,
    /// An operation without a name.
    Anonymous,
    /// The operation's name, as the document spells it.
    Named(String),
}

impl Answered {
    fn attach(self, mut response: Response) -> Response {
        response.extensions_mut().insert(self);
        response
    }
}

/// The codes of `errors`.
fn codes(errors: &[ServerError]) -> impl Iterator<Item = ErrorCode> + '_ {
    errors.iter().map(|error| {
        error
            .extensions
            .as_ref()
            .and_then(|extensions| extensions.get("code"))
            .and_then(|code| match code {
                Value::String(code) => ErrorCode::parse(code),
                _ => None,
            })
            .unwrap_or(ErrorCode::BadUserInput)
    })
}

/// A request's answer, with what it cost.
pub(super) struct Ran {
    pub(crate) response: GraphQLResponse,
    /// The request's database handle, which counted its statements.
    pub(crate) db: Db,
    /// The operator the request authenticated as.
    pub(crate) operator: Option<i64>,
    /// When it was refused for its cost: the seconds until its budget holds it.
    pub(crate) retry_after: Option<u64>,
}

/// Who sent a request.
pub(super) struct Caller {
    /// What authenticates it: the `Authorization` header, or the WebSocket's
    /// `connection_init` payload.
    pub(crate) authorization: Option<String>,
    /// Where it came from, for the audit trail.
    pub(crate) origin: Origin,
    /// Who it acts for, when that is already established (a live query's tick).
    pub(crate) granted: Option<crate::auth::Principal>,
    /// Whether it draws on a cost budget and its answer says what it cost: requests
    /// sent by a client, not the ticks of live queries and tails, whose subscriptions
    /// were admitted once.
    pub(crate) budgeted: bool,
}

/// When a request that begins now must have been answered: the request timeout from
/// now.
pub(super) fn deadline(state: &AppState) -> Instant {
    Instant::now() + state.config.request_timeout()
}

/// Runs an admitted request — authentication, the resolvers with loaders that settle,
/// stopped at `deadline` — and gives its answer the spec's shape and codes.
pub(super) async fn run(
    state: &AppState,
    request: Request,
    admitted: &Admitted,
    caller: Caller,
    deadline: Instant,
) -> Ran {
    let variables = request.variables.clone();
    // What it costs, when it draws on a budget (see [`Caller::budgeted`]).
    let costing = caller
        .budgeted
        .then(|| Costing::new(admitted, &variables, &state.types));
    let address = caller.origin.ip.clone();
    let token_hash = costing
        .as_ref()
        .and(caller.authorization.as_deref())
        .and_then(auth::bearer_token)
        .map(token_hash);
    // A query only reads: it may read from a replica (SPEC §9d).
    let db = match admitted.ty {
        OperationType::Query => state.db.for_reads(),
        _ => state.db.for_request(),
    };
    let now = (state.clock)().trunc_subsecs(6);
    let limits = &state.config.system_console.limits;
    let scope = Scope::new(
        now,
        db.clone(),
        state.config.clone(),
        state.snapshots.clone(),
        state.metrics.clone(),
        caller.origin,
    );
    let credentials = Credentials {
        authorization: caller.authorization,
        needs_session: admitted.needs_session,
        granted: caller.granted,
    };
    let gate = scope.gate.clone();
    let answering = scope.clone();
    // Known callers pay before anything runs; a token seen for the first time pays once
    // answered, when its request has said who it is (see [`Bill`]).
    let bill = match &costing {
        Some(costing) => {
            let requested = costing.requested();
            Some(prepay(state, token_hash.as_deref(), address.as_deref(), requested).await)
        }
        None => None,
    };
    if let (
        Some(costing),
        Some(Bill::Prepaid {
            taken: Taken::Refused(throttle),
            ..
        }),
    ) = (&costing, &bill)
    {
        return over_budget(state, db, &answering, costing.requested(), *throttle);
    }
    let schema = match admitted.known_valid() {
        true => &state.validated_schema,
        false => &state.schema,
    };
    let execution = Settling::new(schema.execute(request.data(scope).data(credentials)), gate);
    let mut response = match tokio::time::timeout_at(deadline, execution).await {
        Ok(response) => {
            // Validation errors have no path; field errors come after validation passed.
            // Written once, not by every request: the flag is shared by both workers.
            if !admitted.validated.load(Ordering::Relaxed)
                && response.errors.iter().all(|error| !error.path.is_empty())
            {
                admitted.validated.store(true, Ordering::Relaxed);
            }
            response
        }
        Err(_) => {
            state.metrics.refused("request_timeout");
            let error = AppError::QueryTooComplex(format!(
                "the request took longer than {} s and was stopped; ask for less",
                limits.request_timeout_seconds
            ));
            GraphQLResponse::from_errors(vec![server_error(&error)])
        }
    };
    // The request's statements are done: its connection goes back to the pool now, not
    // when the last handle is dropped.
    db.release();
    if let Some(target) = db.read_from() {
        state.metrics.read_from(target);
    }
    if admitted.ty == OperationType::Mutation
        && let Some(operator) = answering.viewer()
        && let Err(error) = db.wrote(operator.user.id).await
    {
        // The operator's next reads may then miss this mutation on a replica for as
        // long as it lags: said, not failed, since the mutation is done.
        tracing::warn!(%error, "could not note the primary's position after a mutation");
    }
    if let Some(refusal) = answering.refusal() {
        // Every root field met the same refusal: it is said once, with no data.
        response = GraphQLResponse::from_errors(vec![server_error(&refusal)]);
    }
    let completion = Completion {
        document: &admitted.document,
        variables: &variables,
        types: &state.types,
    };
    completion.complete(
        state.types.root(admitted.ty),
        &admitted.selection,
        &response.errors,
        &mut response.data,
    );
    if response
        .errors
        .iter()
        .any(|error| error.message.starts_with(TOO_COMPLEX))
    {
        state.metrics.refused("complexity");
    }
    if let (Some(bill), Some(costing)) = (bill, &costing) {
        let requested = costing.requested();
        let actual = costing.actual(&response.data);
        let throttle = match bill {
            Bill::Prepaid {
                subject,
                taken: Taken::Granted(left),
            } => Some(state.budget.give_back(&subject, requested - actual, left)),
            Bill::Prepaid { .. } => None,
            Bill::Postpaid => {
                let subject = match answering.principal() {
                    Some(Principal::Operator(viewer)) => format!("operator:{}", viewer.user.id),
                    Some(Principal::Token(token)) => format!("token:{}", token.model.id),
                    Some(Principal::Shared(_)) | None => address_subject(address.as_deref()),
                };
                if let (Some(hash), Some(_)) = (token_hash, answering.principal()) {
                    state.budget.learn(hash, &subject);
                }
                match state.budget.take(&subject, actual, Payment::Owed).await {
                    Taken::Granted(left) | Taken::Refused(left) => Some(left),
                    Taken::Unknown => None,
                }
            }
        };
        response
            .extensions
            .insert(COST.to_owned(), cost_extension(requested, actual, throttle));
    }
    Ran {
        response: capped(with_codes(response)),
        db,
        operator: answering.viewer().map(|viewer| viewer.user.id),
        retry_after: None,
    }
}

/// How a request pays for its cost.
enum Bill {
    /// Its caller was known before it ran (an address without a token, or a token seen
    /// before): its requested cost was taken from `subject`'s bucket first, and what it
    /// did not use goes back.
    Prepaid { subject: String, taken: Taken },
    /// A token seen for the first time: looking it up would be a statement before
    /// anything else is checked, so the request runs, then its actual cost is taken from
    /// the bucket of whoever the token named (even below empty, which later requests
    /// wait out). One request per new session or token is not held back.
    Postpaid,
}

/// Takes `requested` from the budget of the caller when it is known without a statement.
async fn prepay(
    state: &AppState,
    token_hash: Option<&str>,
    address: Option<&str>,
    requested: u64,
) -> Bill {
    let subject = match token_hash {
        Some(hash) => state.budget.subject_of(hash),
        None => Some(address_subject(address)),
    };
    match subject {
        Some(subject) => {
            let taken = state.budget.take(&subject, requested, Payment::Asked).await;
            Bill::Prepaid { subject, taken }
        }
        None => Bill::Postpaid,
    }
}

/// The budget of callers without a session: their address's.
fn address_subject(address: Option<&str>) -> String {
    format!("address:{}", address.unwrap_or("-"))
}

/// The answer to a request its budget cannot pay for: `RATE_LIMITED`, with the
/// budget's state, before anything it asks runs.
fn over_budget(
    state: &AppState,
    db: Db,
    answering: &Scope,
    requested: u64,
    throttle: Throttle,
) -> Ran {
    state.metrics.refused("cost_budget");
    let retry_after = throttle.retry_after(requested);
    let error = AppError::RateLimited(format!(
        "this query costs {requested} and your budget holds {:.0} (it regains {:.0} a second): retry in {retry_after} s, or ask for less",
        throttle.shown(),
        throttle.restore_per_second,
    ));
    let mut response = GraphQLResponse::from_errors(vec![server_error(&error)]);
    response.extensions.insert(
        COST.to_owned(),
        cost_extension(requested, 0, Some(throttle)),
    );
    Ran {
        response,
        db,
        operator: answering.viewer().map(|viewer| viewer.user.id),
        retry_after: Some(retry_after),
    }
}

/// `extensions.cost`, in the shape of Shopify's Admin API.
fn cost_extension(requested: u64, actual: u64, throttle: Option<Throttle>) -> Value {
    let mut cost = serde_json::json!({
        "requestedQueryCost": requested,
        "actualQueryCost": actual,
    });
    if let Some(throttle) = throttle {
        cost["throttleStatus"] = serde_json::json!({
            "maximumAvailable": throttle.maximum,
            "currentlyAvailable": throttle.shown(),
            "restoreRate": throttle.restore_per_second,
        });
    }
    Value::from_json(cost).unwrap_or(Value::Null)
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
pub(super) fn with_codes(mut response: GraphQLResponse) -> GraphQLResponse {
    for error in &mut response.errors {
        let extensions = error
            .extensions
            .get_or_insert_with(ErrorExtensionValues::default);
        if extensions.get("code").is_none() {
            let code = if error.message.starts_with("Query is nested too deep")
                || error.message.starts_with(TOO_COMPLEX)
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

pub(super) fn server_error(error: &AppError) -> ServerError {
    let mut server_error = ServerError::new(error.to_string(), None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", Value::from(error.code().as_str()));
    server_error.extensions = Some(extensions);
    server_error
}

/// An error with `code` and no other detail, in the shape Apollo's clients look for.
fn coded_error(message: &str, code: &str) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", Value::from(code));
    error.extensions = Some(extensions);
    error
}

/// A request refused before execution.
fn refuse(format: Format, status: StatusCode, error: &AppError) -> Response {
    refuse_with(format, Refused::new(status, error))
}

fn refuse_with(format: Format, refused: Refused) -> Response {
    refuse_token(format, refused, None)
}

/// A request refused before execution, naming the dashboard token that sent it.
fn refuse_token(format: Format, refused: Refused, token: Option<String>) -> Response {
    let response = GraphQLResponse::from_errors(vec![*refused.error]);
    let answered = Answered {
        operation: Operation::Unread,
        operator: None,
        token,
        statements: 0,
        outcome: Outcome::of(codes(&response.errors)),
    };
    let mut response = body(format, refused.status, Caching::NoStore, &response);
    response
        .headers_mut()
        .insert(STATEMENTS_HEADER, HeaderValue::from_static("0"));
    answered.attach(response)
}

/// Whether a response has no `data` at all: a request error, refused before execution
/// or by authentication, as opposed to field errors, which carry a path.
fn is_request_error(response: &GraphQLResponse) -> bool {
    response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty())
}

fn respond(format: Format, caching: Caching<'_>, response: GraphQLResponse) -> Response {
    let status = match format {
        // A request error is a 400 under graphql-response+json; a `data` of null, from a
        // field error, is still a 200.
        Format::GraphQLResponse if is_request_error(&response) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    body(format, status, caching, &response)
}

/// How an answer may be kept.
#[derive(Clone, Copy, Debug)]
enum Caching<'a> {
    /// Not at all: POST answers, which may carry a token.
    NoStore,
    /// By the browser only, revalidated every time: GET answers, with an `ETag` and the
    /// client's `If-None-Match`. They depend on the session (`Vary: Authorization`) and
    /// a shared cache never keeps them (`private`).
    Revalidate(Option<&'a HeaderValue>),
}

/// A response as the GraphQL-over-HTTP spec writes it: no `data` entry at all for a
/// request error.
#[derive(Serialize)]
struct Wire<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Value>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extensions: &'a BTreeMap<String, Value>,
}

fn body(
    format: Format,
    status: StatusCode,
    caching: Caching<'_>,
    response: &GraphQLResponse,
) -> Response {
    let content_type = match format {
        Format::Json => "application/json",
        Format::GraphQLResponse => GRAPHQL_RESPONSE,
    };
    let wire = Wire {
        data: (!is_request_error(response)).then_some(&response.data),
        errors: &response.errors,
        extensions: &response.extensions,
    };
    let bytes = match serde_json::to_vec(&wire) {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::error!(%error, "could not serialise a GraphQL response");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    match caching {
        Caching::Revalidate(if_none_match) if status == StatusCode::OK => {
            // The tag names the answer, not what it cost: the budget's level changes
            // from one request to the next, and an unchanged answer is still a 304 (its
            // cost is then the cached one's).
            let etag = match response.extensions.contains_key(COST) {
                true => {
                    let mut extensions = response.extensions.clone();
                    extensions.remove(COST);
                    let tagged = Wire {
                        extensions: &extensions,
                        ..wire
                    };
                    entity_tag(&serde_json::to_vec(&tagged).unwrap_or_default())
                }
                false => entity_tag(&bytes),
            };
            let headers = [
                (header::CACHE_CONTROL, "private, no-cache"),
                (header::VARY, "authorization, accept"),
                (header::ETAG, etag.as_str()),
            ];
            if if_none_match.is_some_and(|tags| matches_tag(tags, &etag)) {
                (StatusCode::NOT_MODIFIED, headers).into_response()
            } else {
                (
                    status,
                    headers,
                    [(header::CONTENT_TYPE, content_type)],
                    bytes,
                )
                    .into_response()
            }
        }
        // Answers that may carry a token (login) or an error: no cache keeps them.
        _ => (
            status,
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "no-store"),
            ],
            bytes,
        )
            .into_response(),
    }
}

/// A strong entity tag of a body: its SHA-256, shortened to 128 bits.
fn entity_tag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let mut tag = String::with_capacity(34);
    tag.push('"');
    for byte in &digest[..16] {
        use std::fmt::Write;
        let _ = write!(tag, "{byte:02x}");
    }
    tag.push('"');
    tag
}

/// Whether `If-None-Match` names `etag` (weak comparison, as RFC 9110 says for it).
fn matches_tag(if_none_match: &HeaderValue, etag: &str) -> bool {
    let Ok(tags) = if_none_match.to_str() else {
        return false;
    };
    tags.split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// A panic in a handler: logged by the panic hook, answered without details.
pub(crate) fn panic_response(_panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let error = AppError::internal(anyhow::anyhow!("a request handler panicked"));
    tracing::error!("a request handler panicked");
    let response = GraphQLResponse::from_errors(vec![server_error(&error)]);
    body(
        Format::Json,
        StatusCode::INTERNAL_SERVER_ERROR,
        Caching::NoStore,
        &response,
    )
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
