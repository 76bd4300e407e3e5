//! SQL building blocks shared by the filters of every list.

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{Condition, DbBackend};

use crate::domain::status::StoredSelection;

/// Rows whose stored value is one of the selected ones — or, when `Unknown` was asked
/// for, outside the known set.
pub(crate) fn stored_in(column: impl Into<Expr>, selection: &StoredSelection) -> Condition {
    let column = column.into();
    let mut any = Condition::any();
    if !selection.values.is_empty() {
        any = any.add(column.clone().is_in(selection.values.iter().copied()));
    }
    if selection.include_unknown {
        any = any.add(column.is_not_in(selection.known.iter().copied()));
    }
    if selection.values.is_empty() && !selection.include_unknown {
        any = any.add(Expr::val(1).eq(0));
    }
    any
}

/// Rows where any of `columns` contains `needle`, ignoring the case of ASCII letters.
///
/// SQLite's `LOWER` folds ASCII only, so PostgreSQL folds ASCII only too (`TRANSLATE`),
/// and both databases answer the same rows. `%`, `_` and `\` in the needle match
/// themselves.
pub(crate) fn contains_text(backend: DbBackend, columns: &[Expr], needle: &str) -> Condition {
    let escaped = needle
        .to_ascii_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let pattern = format!("%{escaped}%");
    let mut any = Condition::any();
    for column in columns {
        let folded = match backend {
            DbBackend::Postgres => Expr::cust_with_exprs(
                "TRANSLATE($1, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')",
                [column.clone()],
            ),
            _ => Func::lower(column.clone()).into(),
        };
        any = any.add(folded.like(LikeExpr::new(pattern.clone()).escape('\\')));
    }
    any
}
