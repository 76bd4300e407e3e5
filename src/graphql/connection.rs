//! Relay cursor connections shared by every list: page arguments, opaque keyset cursors,
//! and the generic `…Connection` / `…Edge` types.

use std::borrow::Cow;
use std::sync::Arc;

use async_graphql::{Context, Object, OutputType, SimpleObject, TypeName};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use sea_orm::Condition;
use serde_json::Value;

use super::immediate::{Item, List};
use super::scope::Scope;
use crate::db;
use crate::db::page::{Direction, KeyKind, KeyValue, Page, PageArgs, SortSpec};
use crate::db::tables::Table;
use crate::error::{AppError, AppResult, count_argument};

/// Page size when neither `first` nor `last` is given.
pub(crate) const DEFAULT_PAGE_SIZE: u32 = 25;

/// The schema default of `first` on connections that page only forward, so that
/// introspection (and generated clients) show it. Connections that page both ways leave
/// `first` without a default — `last` alone would otherwise meet a `first` it did not
/// send — and say the default in their description.
pub(crate) fn default_first() -> Option<i32> {
    Some(DEFAULT_PAGE_SIZE as i32)
}

/// The Relay arguments of a connection field, as the client sent them.
#[derive(Clone, Debug, Default)]
pub(crate) struct PageRequest {
    pub(crate) first: Option<i32>,
    pub(crate) after: Option<String>,
    pub(crate) last: Option<i32>,
    pub(crate) before: Option<String>,
}

impl PageRequest {
    /// Forward-only arguments, for fields that take just `first` and `after`.
    pub(crate) fn forward(first: Option<i32>, after: Option<String>) -> Self {
        Self {
            first,
            after,
            ..Self::default()
        }
    }

    /// Validates the arguments against the order they page through.
    pub(crate) fn validate(&self, spec: &SortSpec, max_page_size: u32) -> AppResult<PageArgs> {
        if self.first.is_some() && self.last.is_some() {
            return Err(AppError::bad_input(
                "pass `first` or `last`, not both: `first` pages forward from `after`, `last` backward from `before`",
            ));
        }
        if self.after.is_some() && self.before.is_some() {
            return Err(AppError::bad_input("pass `after` or `before`, not both"));
        }
        if self.after.is_some() && self.last.is_some() {
            return Err(AppError::bad_input(
                "`after` goes with `first`, not with `last`",
            ));
        }
        if self.before.is_some() && self.first.is_some() {
            return Err(AppError::bad_input(
                "`before` goes with `last`, not with `first`",
            ));
        }
        let backward = self.last.is_some() || self.before.is_some();
        let (name, size, cursor, cursor_name) = if backward {
            ("last", self.last, &self.before, "before")
        } else {
            ("first", self.first, &self.after, "after")
        };
        let size = match size {
            None => DEFAULT_PAGE_SIZE.min(max_page_size),
            Some(size) => {
                let size = count_argument(name, size, u64::from(max_page_size))?;
                u32::try_from(size).unwrap_or(max_page_size)
            }
        };
        let cursor = cursor
            .as_deref()
            .map(|cursor| decode_cursor(cursor, spec, cursor_name))
            .transpose()?;
        Ok(PageArgs {
            direction: if backward {
                Direction::Backward
            } else {
                Direction::Forward
            },
            size: u64::from(size),
            cursor,
        })
    }
}

/// The cost of a connection field for the complexity limit: its page size (the default
/// when not given) times the cost of what it selects of each item.
pub(crate) fn page_cost(size: Option<i32>, child_complexity: usize) -> usize {
    let size = size.map_or(DEFAULT_PAGE_SIZE as usize, |size| {
        size.clamp(1, 100) as usize
    });
    size.saturating_mul(child_complexity).saturating_add(1)
}

/// Encodes a row's position in an order (tagged `tag`, see [`SortSpec::tag`]) as an opaque
/// cursor.
fn encode_cursor(tag: &str, key: &[KeyValue]) -> String {
    let values: Vec<Value> = key
        .iter()
        .map(|value| match value {
            KeyValue::Int(value) => Value::from(*value),
            KeyValue::Text(value) => Value::from(value.as_str()),
            KeyValue::Time(value) => {
                Value::from(value.to_rfc3339_opts(SecondsFormat::Micros, true))
            }
            KeyValue::Null => Value::Null,
        })
        .collect();
    let document = serde_json::json!({ "o": tag, "k": values });
    URL_SAFE_NO_PAD.encode(document.to_string())
}

/// Reads a cursor made by [`encode_cursor`] for the same order.
pub(crate) fn decode_cursor(
    cursor: &str,
    spec: &SortSpec,
    argument: &str,
) -> AppResult<Vec<KeyValue>> {
    let invalid = || {
        AppError::bad_input(format!(
            "`{argument}` is not a cursor of this list; use a `cursor` or `pageInfo` value it returned"
        ))
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.as_bytes())
        .map_err(|_| invalid())?;
    let document: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if document.get("o").and_then(Value::as_str) != Some(spec.tag.as_str()) {
        return Err(invalid());
    }
    let values = document
        .get("k")
        .and_then(Value::as_array)
        .filter(|values| values.len() == spec.columns.len())
        .ok_or_else(invalid)?;
    spec.columns
        .iter()
        .zip(values)
        .map(|(column, value)| {
            let key = match (column.kind, value) {
                (_, Value::Null) if column.nullable => KeyValue::Null,
                (KeyKind::Int, Value::Number(number)) => KeyValue::Int(number.as_i64()?),
                // Like a text argument: no NUL, which the databases cannot compare.
                (KeyKind::Text, Value::String(text)) if !text.contains('\0') => {
                    KeyValue::Text(text.clone())
                }
                (KeyKind::Time, Value::String(text)) => {
                    KeyValue::Time(DateTime::parse_from_rfc3339(text).ok()?.with_timezone(&Utc))
                }
                _ => return None,
            };
            Some(key)
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(invalid)
}

/// Counts the rows of a whole list, run only when `totalCount` is selected.
pub(crate) type TotalCount = Arc<dyn Fn(Scope) -> BoxFuture<'static, AppResult<u64>> + Send + Sync>;

/// A page of the `E` rows matching `condition`, and the count of all of them (run only
/// if asked for).
pub(crate) async fn root_page<E>(
    scope: &Scope,
    condition: Condition,
    spec: &SortSpec,
    args: &PageArgs,
) -> AppResult<(Page<E::Model>, TotalCount)>
where
    E: Table,
    E::Model: Sync,
{
    let page = db::fetch_page::<E>(&scope.db, condition.clone(), spec, args).await?;
    let total: TotalCount = Arc::new(move |scope: Scope| {
        let condition = condition.clone();
        async move { Ok(db::count_rows::<E>(&scope.db, condition).await?) }.boxed()
    });
    Ok((page, total))
}

/// A page of `N` in Relay form.
pub(crate) struct Connection<N> {
    edges: Vec<Edge<N>>,
    /// The edges' nodes, for `nodes` (the same objects, shared).
    nodes: Vec<N>,
    page_info: PageInfo,
    total: TotalCount,
}

impl<N: Clone> Connection<N> {
    /// Builds the connection of a page, with a cursor per row.
    pub(crate) fn new<R>(
        page: Page<R>,
        spec: &SortSpec,
        key: impl Fn(&R) -> Vec<KeyValue>,
        node: impl Fn(R) -> N,
        total: TotalCount,
    ) -> Self {
        let tag: Arc<str> = spec.tag.as_str().into();
        let edges: Vec<Edge<N>> = page
            .rows
            .into_iter()
            .map(|row| Edge {
                tag: tag.clone(),
                key: key(&row),
                node: node(row),
            })
            .collect();
        let page_info = PageInfo {
            has_next_page: page.has_next,
            has_previous_page: page.has_previous,
            start_cursor: edges.first().map(Edge::cursor_text),
            end_cursor: edges.last().map(Edge::cursor_text),
        };
        Self {
            nodes: edges.iter().map(|edge| edge.node.clone()).collect(),
            edges,
            page_info,
            total,
        }
    }
}

impl<N: OutputType> TypeName for Connection<N> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Connection", N::type_name()).into()
    }
}

/// A page of a list, in Relay cursor-connection form. Page forward with `first` and
/// `after: pageInfo.endCursor`, backward with `last` and `before: pageInfo.startCursor`.
#[Object(name_type)]
impl<N: Item + Clone> Connection<N> {
    /// The items of this page, each with its cursor.
    async fn edges(&self) -> &[Edge<N>] {
        &self.edges
    }

    /// The items of this page, without cursors (a shortcut for `edges { node }`).
    async fn nodes(&self) -> List<'_, N> {
        List(&self.nodes)
    }

    /// Where this page lies in the whole list.
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }

    /// How many items the whole list holds, across all pages, with the same filter.
    /// Costs one counting query; leave it out when you do not need it.
    async fn total_count(&self, ctx: &Context<'_>) -> AppResult<u64> {
        let scope = Scope::of(ctx)?;
        (self.total)(scope.clone()).await
    }
}

/// One item of a page and the cursor that points at it. The cursor is written only when
/// asked for: most queries select `nodes`.
pub(crate) struct Edge<N> {
    /// The order's tag (see [`SortSpec::tag`]).
    tag: Arc<str>,
    /// The item's sort key.
    key: Vec<KeyValue>,
    node: N,
}

impl<N> Edge<N> {
    fn cursor_text(&self) -> String {
        encode_cursor(&self.tag, &self.key)
    }
}

impl<N: OutputType> TypeName for Edge<N> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Edge", N::type_name()).into()
    }
}

/// An item of a list with its cursor.
#[Object(name_type)]
impl<N: OutputType + Clone> Edge<N> {
    /// An opaque position in the list: pass it as `after` (or `before`) to continue from
    /// this item.
    async fn cursor(&self) -> String {
        self.cursor_text()
    }

    /// The item.
    async fn node(&self) -> &N {
        &self.node
    }
}

/// Where a page lies in its list.
#[derive(Clone, Debug, SimpleObject)]
pub(crate) struct PageInfo {
    /// Whether items follow this page. Exact when paging forward; when paging backward,
    /// true whenever `before` was given.
    pub(crate) has_next_page: bool,
    /// Whether items precede this page. Exact when paging backward; when paging forward,
    /// true whenever `after` was given.
    pub(crate) has_previous_page: bool,
    /// The cursor of the first item of this page; null when the page is empty.
    pub(crate) start_cursor: Option<String>,
    /// The cursor of the last item of this page; null when the page is empty.
    pub(crate) end_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::page::SortColumn;
    use sea_orm::sea_query::Expr;

    fn spec() -> SortSpec {
        SortSpec {
            tag: "things:started_at:desc".into(),
            columns: vec![
                SortColumn::nullable(Expr::col("started_at"), KeyKind::Time),
                SortColumn::required(Expr::col("id"), KeyKind::Int),
            ],
            descending: true,
        }
    }

    fn request(first: Option<i32>, last: Option<i32>) -> PageRequest {
        PageRequest {
            first,
            last,
            ..PageRequest::default()
        }
    }

    #[test]
    fn a_cursor_round_trips_with_times_and_nulls() {
        let time: DateTime<Utc> = "2026-11-27T00:28:47.123456Z".parse().unwrap();
        for key in [
            vec![KeyValue::Time(time), KeyValue::Int(7)],
            vec![KeyValue::Null, KeyValue::Int(8)],
        ] {
            let cursor = encode_cursor(&spec().tag, &key);
            assert_eq!(decode_cursor(&cursor, &spec(), "after").unwrap(), key);
        }
    }

    #[test]
    fn a_cursor_of_another_order_is_refused() {
        let mut other = spec();
        other.tag = "things:started_at:asc".into();
        let cursor = encode_cursor(&other.tag, &[KeyValue::Null, KeyValue::Int(1)]);
        assert!(decode_cursor(&cursor, &spec(), "after").is_err());
    }

    #[test]
    fn garbage_cursors_are_refused() {
        for cursor in ["", "%%%", "bm90IGpzb24", "eyJvIjoxfQ"] {
            let error = decode_cursor(cursor, &spec(), "after").unwrap_err();
            assert!(error.to_string().contains("`after`"), "{cursor}");
        }
    }

    #[test]
    fn page_size_defaults_to_25_and_is_bounded() {
        assert_eq!(request(None, None).validate(&spec(), 100).unwrap().size, 25);
        assert_eq!(request(None, None).validate(&spec(), 10).unwrap().size, 10);
        assert_eq!(
            request(Some(100), None)
                .validate(&spec(), 100)
                .unwrap()
                .size,
            100
        );
        for size in [0, -1, 101] {
            let error = request(Some(size), None)
                .validate(&spec(), 100)
                .unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("`first` must be between 1 and 100, not {size}")
            );
        }
    }

    #[test]
    fn first_and_last_together_are_refused() {
        assert!(request(Some(1), Some(1)).validate(&spec(), 100).is_err());
    }

    #[test]
    fn last_pages_backward() {
        let args = request(None, Some(5)).validate(&spec(), 100).unwrap();
        assert_eq!(args.direction, Direction::Backward);
    }
}
