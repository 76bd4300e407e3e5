//! `Subscription.live` — any selection of the `Query` root, pushed while it changes —
//! and what every subscription field pushes (SPEC §9c).
//!
//! A subscription field's resolver does not resolve its selection itself: it asks the
//! transport's [`Watch`] for the pushes of a query made from the field, and each push
//! is that query's answer, run the way `POST /graphql` runs it (authentication,
//! capabilities, limits, loaders, one clock). [`Push`] gives that answer to
//! async-graphql as the field's value, with the answer's errors under the field's path.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::{
    Context, ContextSelectionSet, OutputType, PathSegment, Positioned, Response, ServerError,
    ServerResult, Value,
};
use futures::stream::BoxStream;

use crate::error::{AppError, AppResult};

/// The argument every live field reads its period from; the transport leaves it out of
/// the query a tick runs.
pub(crate) const EVERY_SECONDS_ARGUMENT: &str = "everySeconds";
/// The bounds of `everySeconds`.
const EVERY_SECONDS: std::ops::RangeInclusive<i32> = 1..=3600;

/// The period of `everySeconds`: 10 s when null, else 1 to 3600 s.
pub(crate) fn every(every_seconds: Option<i32>) -> AppResult<Duration> {
    let seconds = every_seconds.unwrap_or(10);
    if !EVERY_SECONDS.contains(&seconds) {
        return Err(AppError::bad_input(
            "`everySeconds` must be a whole number of seconds from 1 to 3600",
        ));
    }
    Ok(Duration::from_secs(u64::from(seconds.unsigned_abs())))
}

/// How a subscription field becomes the query each tick runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Shape {
    /// The field's selection is the query's (`live { … }`).
    Selection,
    /// The field itself, without `everySeconds`, is the query's one root field
    /// (`controlTower(window:) { … }`).
    Field,
}

/// One answer of a tick, shared by every subscriber of its execution.
pub(crate) struct Answer {
    pub(crate) response: Response,
    /// How the query was made from the field.
    pub(crate) shape: Shape,
}

/// What serves the subscription fields of one subscription: the WebSocket transport
/// attaches it to the subscription's request.
pub(crate) trait Watch: Send + Sync {
    /// The answers of `field`'s query, as `shape` makes it, run every `every`: the
    /// first at once, then each that differs from the last one pushed.
    fn watch(
        &self,
        field: &Positioned<Field>,
        shape: Shape,
        every: Duration,
    ) -> AppResult<BoxStream<'static, Arc<Answer>>>;

    /// The audit entries of the tail `field`, one answer each (its value the entry's
    /// edge), in id order, after the cursor `after` or, without one, after the last
    /// settled entry now.
    fn tail(
        &self,
        field: &Positioned<Field>,
        after: Option<String>,
    ) -> AppResult<BoxStream<'static, Arc<Answer>>>;
}

/// The request data that carries a subscription's [`Watch`].
#[derive(Clone)]
pub(crate) struct Live(pub(crate) Arc<dyn Watch>);

impl Live {
    /// The subscription's watch.
    pub(crate) fn of<'a>(ctx: &'a Context<'_>) -> AppResult<&'a dyn Watch> {
        ctx.data::<Live>()
            .map(|live| &*live.0)
            .map_err(|_| AppError::internal(anyhow::anyhow!("a subscription has no watch")))
    }
}

/// A pushed answer as the value of a subscription field of type `T`.
pub(crate) struct Push<T> {
    answer: Arc<Answer>,
    _type: PhantomData<fn() -> T>,
}

impl<T> Push<T> {
    pub(crate) fn new(answer: Arc<Answer>) -> Self {
        Self {
            answer,
            _type: PhantomData,
        }
    }
}

impl<T: OutputType> OutputType for Push<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let Answer { response, shape } = &*self.answer;
        let key = field.node.response_key().node.as_str();
        let (value, mut errors) = match shape {
            // The query's root is the field's selection: its errors sit under the field.
            Shape::Selection => (
                response.data.clone(),
                response
                    .errors
                    .iter()
                    .map(|error| {
                        let mut error = error.clone();
                        error.path.insert(0, PathSegment::Field(key.to_owned()));
                        error
                    })
                    .collect::<Vec<ServerError>>(),
            ),
            // The query's one root field is this field, under the same name.
            Shape::Field => (
                match &response.data {
                    Value::Object(fields) => fields.get(key).cloned().unwrap_or(Value::Null),
                    _ => Value::Null,
                },
                response.errors.clone(),
            ),
        };
        // The field is non-null: when it has no value, its first error stands for it.
        let first = (value == Value::Null && !errors.is_empty()).then(|| errors.remove(0));
        for error in errors {
            ctx.add_error(error);
        }
        match first {
            Some(error) => Err(error),
            None => Ok(value),
        }
    }
}
