//! Live queries' executions, shared (SPEC §9c).
//!
//! A subscription field becomes a query ([`query_of`]); each tick runs it through the
//! request pipeline of `POST /graphql` ([`graphql::run`]). Subscribers whose query,
//! variables, period and [`Access`] are the same share one [`Execution`]: one run per
//! tick, published only when its answer changed, so a thousand wallboards on ten
//! documents cost ten runs a tick. An execution runs as a [`Principal::Shared`] of the
//! access' capabilities, or, when its selection reads who the operator is, as the one
//! session its subscribers share. The subscribers' sessions are their connections'
//! business: a connection checks its session, and a subscriber follows the access its
//! connection holds now, moving to another execution when that changes.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, FragmentDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::{
    Name, PathSegment, Pos, Positioned, Request, Response, ServerError, Value, Variables,
};
use async_graphql_value::Value as ParsedValue;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::{self, BoxStream};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::AppState;
use super::document::Admitted;
use super::graphql::{self, Caller};
use crate::auth::login::Origin;
use crate::auth::{Capability, Principal};
use crate::db::audit;
use crate::error::{AppError, AppResult};
use crate::graphql::types::live::{Answer, EVERY_SECONDS_ARGUMENT, Shape, Watch};

/// Root fields whose answer depends on who the operator is, not only on what they may
/// do: a selection with one of them shares its execution only within its session.
const OPERATOR_FIELDS: [&str; 3] = ["viewer", "node", "nodes"];

/// What an execution may see: the capabilities, and the session when the selection
/// reads who the operator is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Access {
    capabilities: Vec<Capability>,
    session: Option<SessionMark>,
}

/// A session as far as what it shows of itself: its id and its elevation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct SessionMark {
    id: i64,
    elevation: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
}

impl Access {
    /// The access of `principal` at `now`, for a selection that reads who the operator
    /// is (`personal`) or not.
    pub(crate) fn of(principal: &Principal, now: DateTime<Utc>, personal: bool) -> Self {
        let principal = principal.clone().at(now);
        Self {
            capabilities: principal.capabilities().into_iter().collect(),
            session: principal
                .operator()
                .filter(|_| personal)
                .map(|viewer| SessionMark {
                    id: viewer.session.id,
                    elevation: (
                        viewer.session.break_glass_started_at,
                        viewer.session.break_glass_expires_at,
                    ),
                }),
        }
    }

    /// Who an execution of this access runs as.
    fn principal(&self, subscriber: &Principal) -> Principal {
        match self.session {
            Some(_) => subscriber.clone(),
            None => Principal::Shared(self.capabilities.iter().copied().collect()),
        }
    }
}

/// What identifies an execution.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    /// The SHA-256 of the document's text, the operation and the field's place in it.
    query: [u8; 32],
    /// The variables, in a canonical order.
    variables: String,
    every: Duration,
    access: Access,
}

/// The executions running on this instance, and the audit horizon its tails read.
#[derive(Default)]
pub(crate) struct Hub {
    executions: Mutex<HashMap<Key, Weak<Execution>>>,
    horizon: Mutex<Weak<Feed>>,
}

/// One query run every tick for its subscribers; it stops when the last one leaves.
struct Execution {
    answers: watch::Receiver<Option<Arc<Published>>>,
    task: tokio::task::AbortHandle,
    hub: Weak<Hub>,
    key: Key,
}

/// An answer, with a digest of its text for comparing it with the last one.
struct Published {
    answer: Arc<Answer>,
    digest: u64,
}

impl Drop for Execution {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(hub) = self.hub.upgrade() {
            let mut executions = hub
                .executions
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if executions
                .get(&self.key)
                .is_some_and(|execution| execution.strong_count() == 0)
            {
                executions.remove(&self.key);
            }
        }
    }
}

/// The query a tick runs, and what it needs to run.
struct Tick {
    admitted: Admitted,
    variables: Variables,
    operation_name: Option<String>,
    shape: Shape,
}

impl Hub {
    /// The execution of `key`, started for `principal` if none runs.
    fn join(
        self: &Arc<Self>,
        state: &AppState,
        key: Key,
        tick: &Arc<Tick>,
        principal: Principal,
    ) -> Arc<Execution> {
        let mut executions = self
            .executions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(execution) = executions.get(&key).and_then(Weak::upgrade) {
            return execution;
        }
        let (publish, answers) = watch::channel(None);
        let task = tokio::spawn(run(
            state.clone(),
            tick.clone(),
            key.every,
            principal,
            publish,
        ));
        let execution = Arc::new(Execution {
            answers,
            task: task.abort_handle(),
            hub: Arc::downgrade(self),
            key: key.clone(),
        });
        executions.insert(key, Arc::downgrade(&execution));
        execution
    }
}

/// Runs `tick` every `every` as `principal`, publishing each answer that differs from
/// the last.
async fn run(
    state: AppState,
    tick: Arc<Tick>,
    every: Duration,
    principal: Principal,
    publish: watch::Sender<Option<Arc<Published>>>,
) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = None;
    loop {
        interval.tick().await;
        let mut request = Request::new(String::new()).variables(tick.variables.clone());
        request.operation_name = tick.operation_name.clone();
        request.set_parsed_query(tick.admitted.document.clone());
        let caller = Caller {
            authorization: None,
            origin: Origin::default(),
            granted: Some(principal.clone()),
            budgeted: false,
        };
        let response = graphql::run(
            &state,
            request,
            &tick.admitted,
            caller,
            graphql::deadline(&state),
        )
        .await
        .response;
        state.metrics.live_execution();
        let digest = digest(&response);
        if last == Some(digest) {
            continue;
        }
        last = Some(digest);
        let answer = Arc::new(Answer {
            response,
            shape: tick.shape,
        });
        publish.send_replace(Some(Arc::new(Published { answer, digest })));
    }
}

/// A digest of a response's text.
fn digest(response: &async_graphql::Response) -> u64 {
    let mut hasher = DefaultHasher::new();
    serde_json::to_vec(response)
        .unwrap_or_default()
        .hash(&mut hasher);
    hasher.finish()
}

/// One subscription's document, for its fields to watch.
pub(crate) struct Subscribed {
    pub(crate) state: AppState,
    pub(crate) admitted: Arc<Admitted>,
    /// The SHA-256 of the document's text.
    pub(crate) text: [u8; 32],
    pub(crate) variables: Variables,
    /// Who the subscriber's connection acts for now; `None` once it has ended.
    pub(crate) principal: watch::Receiver<Option<Principal>>,
}

impl Subscribed {
    fn query_key(&self, field: &Positioned<Field>, shape: Shape) -> [u8; 32] {
        let mut query = Sha256::new();
        query.update(self.text);
        query.update(self.admitted.operation_name.as_deref().unwrap_or_default());
        query.update(format!(
            "\0{}:{}\0{shape:?}",
            field.pos.line, field.pos.column
        ));
        query.finalize().into()
    }
}

impl Watch for Subscribed {
    fn watch(
        &self,
        field: &Positioned<Field>,
        shape: Shape,
        every: Duration,
    ) -> AppResult<BoxStream<'static, Arc<Answer>>> {
        let (admitted, personal) = query_of(&self.admitted, field, shape)?;
        let variables: BTreeMap<&str, String> = self
            .variables
            .iter()
            .map(|(name, value)| (name.as_str(), value.to_string()))
            .collect();
        let follow = Follow {
            state: self.state.clone(),
            query: self.query_key(field, shape),
            variables: serde_json::to_string(&variables).unwrap_or_default(),
            every,
            personal,
            tick: Arc::new(Tick {
                variables: self.variables.clone(),
                operation_name: self.admitted.operation_name.clone(),
                admitted,
                shape,
            }),
            principal: self.principal.clone(),
            joined: None,
            last: None,
        };
        Ok(stream::unfold(follow, Follow::next).boxed())
    }

    fn tail(
        &self,
        field: &Positioned<Field>,
        after: Option<String>,
    ) -> AppResult<BoxStream<'static, Arc<Answer>>> {
        // The page's query is made now, so that a field it cannot be made of is refused
        // at once; each read makes it again with the position and the horizon.
        tail_query(&self.admitted, field, &Position::Since(0), 0)?;
        let feed = self.state.live.horizon(&self.state);
        let tail = Tail {
            state: self.state.clone(),
            subscription: self.admitted.clone(),
            field: field.clone(),
            variables: self.variables.clone(),
            principal: self.principal.clone(),
            settled: feed.settled.clone(),
            _feed: feed,
            position: after.map_or(Position::Start, Position::Cursor),
            read_through: None,
            retry: false,
            queued: VecDeque::new(),
            ended: false,
        };
        Ok(stream::unfold(tail, Tail::next).boxed())
    }
}

/// A subscriber: the execution of its connection's access, and what it last pushed.
struct Follow {
    state: AppState,
    query: [u8; 32],
    variables: String,
    every: Duration,
    personal: bool,
    tick: Arc<Tick>,
    principal: watch::Receiver<Option<Principal>>,
    joined: Option<Joined>,
    last: Option<u64>,
}

struct Joined {
    access: Access,
    answers: watch::Receiver<Option<Arc<Published>>>,
    _execution: Arc<Execution>,
}

impl Follow {
    /// The next answer to push; none once the connection has ended.
    async fn next(mut self) -> Option<(Arc<Answer>, Self)> {
        loop {
            let principal = self.principal.borrow_and_update().clone()?;
            let now = (self.state.clock)();
            let access = Access::of(&principal, now, self.personal);
            let current = self.joined.as_ref().map(|joined| &joined.access);
            if current != Some(&access) {
                let key = Key {
                    query: self.query,
                    variables: self.variables.clone(),
                    every: self.every,
                    access: access.clone(),
                };
                let run_as = access.principal(&principal);
                let execution = self.state.live.join(&self.state, key, &self.tick, run_as);
                let mut answers = execution.answers.clone();
                // What the execution answered last is this subscriber's first push.
                answers.mark_changed();
                self.joined = Some(Joined {
                    access,
                    answers,
                    _execution: execution,
                });
            }
            let Some(joined) = self.joined.as_mut() else {
                continue;
            };
            tokio::select! {
                changed = joined.answers.changed() => {
                    if changed.is_err() {
                        self.joined = None;
                        continue;
                    }
                    let published = joined.answers.borrow_and_update().clone();
                    let Some(published) = published else { continue };
                    // A session past its expiry or elevation waits for its connection's
                    // next look at it.
                    let valid = principal
                        .valid_until()
                        .is_none_or(|until| (self.state.clock)() < until);
                    if valid && self.last != Some(published.digest) {
                        self.last = Some(published.digest);
                        return Some((published.answer.clone(), self));
                    }
                }
                changed = self.principal.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
            }
        }
    }
}

/// The query a subscription field's ticks run, as `shape` makes it, and whether it reads
/// who the operator is.
fn query_of(
    subscription: &Admitted,
    field: &Positioned<Field>,
    shape: Shape,
) -> AppResult<(Admitted, bool)> {
    let selection = match shape {
        Shape::Selection => field.node.selection_set.node.clone(),
        Shape::Field => {
            let mut field = field.clone();
            field
                .node
                .arguments
                .retain(|(name, _)| name.node.as_str() != EVERY_SECONDS_ARGUMENT);
            SelectionSet {
                items: vec![Positioned::new(Selection::Field(field.clone()), field.pos)],
            }
        }
    };
    let (admitted, operator) = admitted_of(subscription, selection)?;
    Ok((admitted, shape == Shape::Selection && operator))
}

/// The query of the subscription's operation with `selection` as its root selection,
/// its variables and fragments those `selection` uses, and whether `selection` reads
/// who the operator is.
fn admitted_of(subscription: &Admitted, selection: SelectionSet) -> AppResult<(Admitted, bool)> {
    let document = &subscription.document;
    let mut reach = Reach::default();
    reach.selection(&selection, &document.fragments);
    let operation = match &document.operations {
        DocumentOperations::Single(operation) => operation.clone(),
        DocumentOperations::Multiple(operations) => subscription
            .operation_name
            .as_deref()
            .and_then(|name| operations.get(name))
            .or_else(|| operations.values().next().filter(|_| operations.len() == 1))
            .cloned()
            .ok_or_else(|| AppError::bad_input("name the operation to run: `operationName`"))?,
    };
    let mut operation = operation;
    operation.node.ty = OperationType::Query;
    operation.node.selection_set.node = selection.clone();
    operation
        .node
        .variable_definitions
        .retain(|definition| reach.variables.contains(&definition.node.name.node));
    let variables = operation.node.variable_definitions.clone();
    let fragments: HashMap<Name, Positioned<FragmentDefinition>> = document
        .fragments
        .iter()
        .filter(|(name, _)| reach.fragments.contains(*name))
        .map(|(name, fragment)| (name.clone(), fragment.clone()))
        .collect();
    // Only the one operation: async-graphql validates every operation of a document.
    let operations = match &document.operations {
        DocumentOperations::Multiple(_) => DocumentOperations::Multiple(
            [(
                Name::new(subscription.operation_name.as_deref().unwrap_or("live")),
                operation,
            )]
            .into_iter()
            .collect(),
        ),
        DocumentOperations::Single(_) => DocumentOperations::Single(operation),
    };
    let admitted = Admitted {
        document: ExecutableDocument {
            operations,
            fragments,
        },
        selection,
        ty: OperationType::Query,
        variables,
        needs_session: true,
        operation_name: subscription.operation_name.clone(),
        validated: AtomicBool::new(false),
    };
    Ok((admitted, reach.operator))
}

/// What a selection reaches: fragments, variables, and whether its root reads who the
/// operator is.
#[derive(Default)]
struct Reach {
    fragments: HashSet<Name>,
    variables: HashSet<Name>,
    operator: bool,
}

impl Reach {
    /// Walks the root selection `set`.
    fn selection(
        &mut self,
        set: &SelectionSet,
        fragments: &HashMap<Name, Positioned<FragmentDefinition>>,
    ) {
        self.walk(set, fragments, true);
    }

    fn walk(
        &mut self,
        set: &SelectionSet,
        fragments: &HashMap<Name, Positioned<FragmentDefinition>>,
        root: bool,
    ) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    if root && OPERATOR_FIELDS.contains(&field.name.node.as_str()) {
                        self.operator = true;
                    }
                    for (_, value) in &field.arguments {
                        self.value(&value.node);
                    }
                    self.directives(&field.directives);
                    self.walk(&field.selection_set.node, fragments, false);
                }
                Selection::InlineFragment(inline) => {
                    self.directives(&inline.node.directives);
                    self.walk(&inline.node.selection_set.node, fragments, root);
                }
                Selection::FragmentSpread(spread) => {
                    self.directives(&spread.node.directives);
                    let name = &spread.node.fragment_name.node;
                    // Each fragment is walked once; a root spread counts as the root
                    // wherever else it is spread (admission refused cycles already).
                    if self.fragments.insert(name.clone())
                        && let Some(fragment) = fragments.get(name)
                    {
                        self.directives(&fragment.node.directives);
                        self.walk(&fragment.node.selection_set.node, fragments, root);
                    } else if root && let Some(fragment) = fragments.get(name) {
                        let mut again = Reach::default();
                        again.walk(&fragment.node.selection_set.node, fragments, true);
                        self.operator |= again.operator;
                    }
                }
            }
        }
    }

    fn directives(&mut self, directives: &[Positioned<async_graphql::parser::types::Directive>]) {
        for directive in directives {
            for (_, value) in &directive.node.arguments {
                self.value(&value.node);
            }
        }
    }

    fn value(&mut self, value: &async_graphql_value::Value) {
        match value {
            async_graphql_value::Value::Variable(name) => {
                self.variables.insert(name.clone());
            }
            async_graphql_value::Value::List(items) => {
                items.iter().for_each(|item| self.value(item));
            }
            async_graphql_value::Value::Object(fields) => {
                fields.values().for_each(|field| self.value(field));
            }
            _ => {}
        }
    }
}

/// How often the audit horizon is sampled while a tail reads it.
const HORIZON_SAMPLE: Duration = Duration::from_millis(500);
/// How soon a tail whose read failed (the database away) reads again.
const TAIL_RETRY: Duration = Duration::from_secs(1);

/// The settled audit horizon ([`audit::Horizon`]), sampled while some tail holds it.
struct Feed {
    settled: watch::Receiver<Option<i64>>,
    task: tokio::task::AbortHandle,
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Hub {
    /// The horizon feed, started if none runs.
    fn horizon(&self, state: &AppState) -> Arc<Feed> {
        let mut horizon = self.horizon.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(feed) = horizon.upgrade() {
            return feed;
        }
        let (publish, settled) = watch::channel(None);
        let task = tokio::spawn(sample_horizon(state.clone(), publish));
        let feed = Arc::new(Feed {
            settled,
            task: task.abort_handle(),
        });
        *horizon = Arc::downgrade(&feed);
        feed
    }
}

async fn sample_horizon(state: AppState, publish: watch::Sender<Option<i64>>) {
    let mut horizon = audit::Horizon::default();
    let mut interval = tokio::time::interval(HORIZON_SAMPLE);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        match audit::sample(&state.db.detached()).await {
            Ok(sample) => {
                let settled = horizon.settle(sample);
                publish.send_if_modified(|held| {
                    let moved = settled.is_some() && *held != settled;
                    if moved {
                        *held = settled;
                    }
                    moved
                });
            }
            // The tails wait; the next sample tries again.
            Err(error) => tracing::debug!(%error, "could not sample the audit horizon"),
        }
    }
}

/// Where a tail reads from.
#[derive(Clone, Debug)]
enum Position {
    /// Not yet placed: after the entries settled when it first looks.
    Start,
    /// After the entry of this cursor.
    Cursor(String),
    /// After this id.
    Since(i64),
}

/// One tail subscriber: its position, and the entries read but not yet pushed.
struct Tail {
    state: AppState,
    subscription: Arc<Admitted>,
    field: Positioned<Field>,
    variables: Variables,
    principal: watch::Receiver<Option<Principal>>,
    settled: watch::Receiver<Option<i64>>,
    _feed: Arc<Feed>,
    position: Position,
    /// The horizon its last complete read went to.
    read_through: Option<i64>,
    /// Whether its last read failed for a reason that passes (the database away).
    retry: bool,
    queued: VecDeque<Arc<Answer>>,
    ended: bool,
}

impl Tail {
    async fn next(mut self) -> Option<(Arc<Answer>, Self)> {
        loop {
            if let Some(answer) = self.queued.pop_front() {
                return Some((answer, self));
            }
            if self.ended {
                return None;
            }
            let principal = self.principal.borrow_and_update().clone()?;
            let settled = *self.settled.borrow_and_update();
            if let Some(through) = settled
                && (self.retry || self.read_through != Some(through))
            {
                // A new tail starts after what is settled now; its first read (of
                // nothing, then) checks its access and filter at once.
                if let Position::Start = self.position {
                    self.position = Position::Since(through);
                }
                if self.retry {
                    tokio::time::sleep(TAIL_RETRY).await;
                }
                self.read(principal, through).await;
                continue;
            }
            tokio::select! {
                changed = self.settled.changed() => changed.ok()?,
                changed = self.principal.changed() => changed.ok()?,
            }
        }
    }

    /// Reads the next page up to `through`, queueing an answer per entry.
    async fn read(&mut self, principal: Principal, through: i64) {
        let admitted = match tail_query(&self.subscription, &self.field, &self.position, through) {
            Ok(admitted) => admitted,
            Err(error) => {
                self.end_with(graphql::server_error(&error));
                return;
            }
        };
        let mut request = Request::new(String::new()).variables(self.variables.clone());
        request.operation_name = admitted.operation_name.clone();
        request.set_parsed_query(admitted.document.clone());
        let caller = Caller {
            authorization: None,
            origin: Origin::default(),
            granted: Some(principal),
            budgeted: false,
        };
        let deadline = graphql::deadline(&self.state);
        let response = graphql::run(&self.state, request, &admitted, caller, deadline)
            .await
            .response;
        let page = match &response.data {
            Value::Object(data) => data.get(TAIL_PAGE),
            _ => None,
        };
        let mut entry_errors: Vec<Vec<ServerError>> = Vec::new();
        let mut failed = Vec::new();
        for mut error in response.errors {
            // An entry's error sits at `page.edges.<index>…`; any other fails the read.
            let entry = match error.path.as_slice() {
                [
                    PathSegment::Field(_),
                    PathSegment::Field(edges),
                    PathSegment::Index(index),
                    ..,
                ] if edges == "edges" => Some(*index),
                _ => None,
            };
            let Some(index) = entry else {
                failed.push(error);
                continue;
            };
            if entry_errors.len() <= index {
                entry_errors.resize_with(index + 1, Vec::new);
            }
            error.path.drain(..3);
            entry_errors[index].push(error);
        }
        let Some(Value::Object(page)) = page.filter(|_| failed.is_empty()) else {
            let Some(mut error) = failed.into_iter().next() else {
                self.retry = true;
                return;
            };
            error.path.clear();
            let passes = error
                .extensions
                .as_ref()
                .and_then(|extensions| extensions.get("code"))
                .is_some_and(|code| *code == Value::from("SERVICE_UNAVAILABLE"));
            if passes {
                // Said once; the tail reads again from where it was.
                if !self.retry {
                    self.queued.push_back(error_answer(error));
                }
                self.retry = true;
            } else {
                self.end_with(error);
            }
            return;
        };
        self.retry = false;
        if let Some(Value::List(edges)) = page.get("edges") {
            for (index, edge) in edges.iter().enumerate() {
                let mut response = Response::new(edge.clone());
                response.errors = entry_errors
                    .get_mut(index)
                    .map(std::mem::take)
                    .unwrap_or_default();
                self.queued.push_back(Arc::new(Answer {
                    response,
                    shape: Shape::Selection,
                }));
            }
        }
        let info = match page.get("pageInfo") {
            Some(Value::Object(info)) => Some(info),
            _ => None,
        };
        if let Some(Value::String(cursor)) = info.and_then(|info| info.get("endCursor")) {
            self.position = Position::Cursor(cursor.clone());
        }
        let more = info.and_then(|info| info.get("hasNextPage")) == Some(&Value::Boolean(true));
        // A full page reads on at once; the rest waits for the horizon to move.
        self.read_through = if more { None } else { Some(through) };
    }

    /// Pushes `error` and ends the tail.
    fn end_with(&mut self, error: ServerError) {
        self.queued.push_back(error_answer(error));
        self.ended = true;
    }
}

fn error_answer(error: ServerError) -> Arc<Answer> {
    Arc::new(Answer {
        response: Response::from_errors(vec![error]),
        shape: Shape::Selection,
    })
}

/// The alias of the page a tail reads.
const TAIL_PAGE: &str = "page";

/// The query a tail's read runs: the page of entries after `position`, up to `through`,
/// with the tail field's filter and its selection on each edge.
fn tail_query(
    subscription: &Admitted,
    field: &Positioned<Field>,
    position: &Position,
    through: i64,
) -> AppResult<Admitted> {
    let pos = field.pos;
    let name = |name: &str| Positioned::new(Name::new(name), pos);
    let leaf = |field: &str| plain_field(field, SelectionSet::default(), pos);
    let mut page = field.node.clone();
    page.alias = Some(name(TAIL_PAGE));
    page.name = name("auditLogTailPage");
    page.directives.clear();
    page.arguments
        .retain(|(argument, _)| argument.node.as_str() == "filter");
    let (argument, value) = match position {
        Position::Cursor(cursor) => ("after", ParsedValue::String(cursor.clone())),
        Position::Since(id) => ("since", ParsedValue::Number((*id).into())),
        Position::Start => ("since", ParsedValue::Number(0.into())),
    };
    page.arguments
        .push((name(argument), Positioned::new(value, pos)));
    page.arguments.push((
        name("through"),
        Positioned::new(ParsedValue::Number(through.into()), pos),
    ));
    let info = SelectionSet {
        items: vec![leaf("endCursor"), leaf("hasNextPage")],
    };
    page.selection_set = Positioned::new(
        SelectionSet {
            items: vec![
                plain_field("edges", field.node.selection_set.node.clone(), pos),
                plain_field("pageInfo", info, pos),
            ],
        },
        pos,
    );
    let selection = SelectionSet {
        items: vec![Positioned::new(
            Selection::Field(Positioned::new(page, pos)),
            pos,
        )],
    };
    Ok(admitted_of(subscription, selection)?.0)
}

/// The field `name` with `selection`, without alias, arguments or directives.
fn plain_field(name: &str, selection: SelectionSet, pos: Pos) -> Positioned<Selection> {
    let field = Field {
        alias: None,
        name: Positioned::new(Name::new(name), pos),
        arguments: Vec::new(),
        directives: Vec::new(),
        selection_set: Positioned::new(selection, pos),
    };
    Positioned::new(Selection::Field(Positioned::new(field, pos)), pos)
}
