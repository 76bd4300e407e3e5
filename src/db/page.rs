//! Keyset pagination: orders that end with `id`, and the SQL that resumes after a row.
//!
//! A page is asked for by direction, size and the sort key of the row it continues from.
//! Every order is total (its last column is the unique `id`), so a cursor names exactly
//! one position and a deep page costs what the first does. Null values of a nullable sort
//! column come last in the forward order, whichever the direction.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, NullOrdering, Order, OrderedStatement, SelectStatement};
use sea_orm::{Condition, Value};

/// One value of a row's sort key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum KeyValue {
    Int(i64),
    Text(String),
    Time(DateTime<Utc>),
    Null,
}

impl KeyValue {
    fn to_value(&self) -> Value {
        match self {
            Self::Int(value) => Value::from(*value),
            Self::Text(value) => Value::from(value.clone()),
            Self::Time(value) => Value::from(*value),
            Self::Null => Value::String(None),
        }
    }

    /// A nullable timestamp as a key value.
    pub(crate) fn time(value: Option<DateTime<Utc>>) -> Self {
        value.map_or(Self::Null, Self::Time)
    }
}

/// What kind of value a sort column holds (how a cursor's values are read back).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum KeyKind {
    Int,
    Text,
    Time,
}

/// One column of an order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SortColumn {
    pub(crate) expr: Expr,
    pub(crate) kind: KeyKind,
    pub(crate) nullable: bool,
}

impl SortColumn {
    /// A column that is never null.
    pub(crate) fn required(expr: impl Into<Expr>, kind: KeyKind) -> Self {
        Self {
            expr: expr.into(),
            kind,
            nullable: false,
        }
    }

    /// A column that may be null; nulls sort last in the forward order.
    pub(crate) fn nullable(expr: impl Into<Expr>, kind: KeyKind) -> Self {
        Self {
            expr: expr.into(),
            kind,
            nullable: true,
        }
    }
}

/// A total order: columns, the last one `id`, all in one direction.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SortSpec {
    /// Names the order (and, once [`SortSpec::in_list`] says which, the list) inside
    /// cursors, so a cursor of one is refused by another.
    pub(crate) tag: String,
    pub(crate) columns: Vec<SortColumn>,
    pub(crate) descending: bool,
}

impl SortSpec {
    /// The same order, its cursors marked as belonging to `list`: two lists in the same
    /// order (`operationRuns` and `failures`, or the tenants of two workspaces) refuse
    /// each other's cursors.
    pub(crate) fn in_list(mut self, list: &str) -> Self {
        self.tag = format!("{list}/{}", self.tag);
        self
    }
}

/// Which way a page runs from its cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Direction {
    /// `first`/`after`: rows after the cursor, in order.
    Forward,
    /// `last`/`before`: rows before the cursor, returned in order.
    Backward,
}

/// A validated page request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PageArgs {
    pub(crate) direction: Direction,
    pub(crate) size: u64,
    /// The sort key of the row the page continues from.
    pub(crate) cursor: Option<Vec<KeyValue>>,
}

/// One page of rows and whether more lie beyond it.
#[derive(Clone, Debug)]
pub(crate) struct Page<T> {
    pub(crate) rows: Vec<T>,
    pub(crate) has_next: bool,
    pub(crate) has_previous: bool,
}

impl<T> Page<T> {
    /// The same page, its rows shared (handed out without being copied).
    pub(crate) fn shared(self) -> Page<std::sync::Arc<T>> {
        Page {
            rows: self.rows.into_iter().map(std::sync::Arc::new).collect(),
            has_next: self.has_next,
            has_previous: self.has_previous,
        }
    }
}

impl<T> Default for Page<T> {
    /// An empty page with nothing around it.
    fn default() -> Self {
        Self {
            rows: Vec::new(),
            has_next: false,
            has_previous: false,
        }
    }
}

impl SortSpec {
    /// Whether the traversal runs in ascending order for this request.
    fn ascending(&self, direction: Direction) -> bool {
        self.descending == (direction == Direction::Backward)
    }

    /// The ORDER BY of a traversal (the forward order, reversed for backward pages).
    pub(crate) fn order_by(&self, query: &mut impl OrderedStatement, direction: Direction) {
        let ascending = self.ascending(direction);
        let order = if ascending { Order::Asc } else { Order::Desc };
        let nulls = if direction == Direction::Forward {
            NullOrdering::Last
        } else {
            NullOrdering::First
        };
        for column in &self.columns {
            if column.nullable {
                query.order_by_expr_with_nulls(column.expr.clone(), order.clone(), nulls);
            } else {
                query.order_by_expr(column.expr.clone(), order.clone());
            }
        }
    }

    /// The rows strictly beyond `cursor` in the traversal order.
    pub(crate) fn after(&self, cursor: &[KeyValue], direction: Direction) -> Condition {
        let ascending = self.ascending(direction);
        if self.columns.iter().all(|column| !column.nullable) {
            // A row-value comparison, which both databases answer from an index.
            let left = Expr::tuple(self.columns.iter().map(|column| column.expr.clone()));
            let right = Expr::tuple(cursor.iter().map(|value| Expr::val(value.to_value())));
            let beyond = if ascending {
                left.gt(right)
            } else {
                left.lt(right)
            };
            return Condition::all().add(beyond);
        }
        // Lexicographic: equal on the first i columns and beyond on column i.
        let mut any = Condition::any();
        for (index, (column, value)) in self.columns.iter().zip(cursor).enumerate() {
            let mut branch = Condition::all();
            for (earlier, earlier_value) in self.columns.iter().zip(cursor).take(index) {
                branch = branch.add(equal(earlier, earlier_value));
            }
            any = any.add(branch.add(beyond(column, value, ascending, direction)));
        }
        any
    }
}

fn equal(column: &SortColumn, value: &KeyValue) -> Expr {
    match value {
        KeyValue::Null => column.expr.clone().is_null(),
        value => column.expr.clone().eq(value.to_value()),
    }
}

/// Rows whose `column` lies strictly beyond `value`, where nulls are last in the forward
/// order (so first when walking backward).
fn beyond(
    column: &SortColumn,
    value: &KeyValue,
    ascending: bool,
    direction: Direction,
) -> Condition {
    let expr = column.expr.clone();
    let compare = |expr: Expr| {
        if ascending {
            expr.gt(value.to_value())
        } else {
            expr.lt(value.to_value())
        }
    };
    match (direction, value) {
        (Direction::Forward, KeyValue::Null) => Condition::all().add(Expr::val(1).eq(0)),
        (Direction::Forward, _) if column.nullable => Condition::any()
            .add(compare(expr.clone()))
            .add(expr.is_null()),
        (Direction::Backward, KeyValue::Null) => Condition::all().add(expr.is_not_null()),
        (Direction::Backward, _) if column.nullable => Condition::all()
            .add(expr.clone().is_not_null())
            .add(compare(expr)),
        _ => Condition::all().add(compare(expr)),
    }
}

impl PageArgs {
    /// Rows to fetch: one more than the page, to learn whether another page follows.
    pub(crate) fn fetch(&self) -> u64 {
        self.size + 1
    }

    /// Adds the cursor condition and the order of this page to `query`; its limit is
    /// [`PageArgs::fetch`], written by the caller.
    pub(crate) fn apply(&self, spec: &SortSpec, query: &mut SelectStatement) {
        if let Some(cursor) = &self.cursor {
            query.cond_where(spec.after(cursor, self.direction));
        }
        spec.order_by(query, self.direction);
    }

    /// Trims the extra row, restores the forward order and says what lies around.
    pub(crate) fn finish<T>(&self, mut rows: Vec<T>) -> Page<T> {
        let more = rows.len() as u64 > self.size;
        rows.truncate(self.size as usize);
        let continued = self.cursor.is_some();
        match self.direction {
            Direction::Forward => Page {
                rows,
                has_next: more,
                has_previous: continued,
            },
            Direction::Backward => {
                rows.reverse();
                Page {
                    rows,
                    has_next: continued,
                    has_previous: more,
                }
            }
        }
    }
}
