//! Workspaces: their filter and order.

use entity::workspace;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, DbBackend};

use super::filter::contains_text;
use super::page::{KeyKind, KeyValue, SortColumn, SortSpec};

/// What a list of workspaces is narrowed to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct WorkspaceFilter {
    /// Part of the name or slug, ASCII case ignored.
    pub(crate) search: Option<String>,
}

impl WorkspaceFilter {
    /// The filter as SQL.
    pub(crate) fn condition(&self, backend: DbBackend) -> Condition {
        let mut all = Condition::all();
        if let Some(search) = &self.search {
            let columns = [
                Expr::col((workspace::Entity, workspace::Column::Name)),
                Expr::col((workspace::Entity, workspace::Column::Slug)),
            ];
            all = all.add(contains_text(backend, &columns, search));
        }
        all
    }
}

/// Workspaces by name, then id.
pub(crate) fn sort_spec() -> SortSpec {
    SortSpec {
        tag: "workspaces:name".to_owned(),
        columns: vec![
            SortColumn::required(workspace::Column::Name.into_expr(), KeyKind::Text),
            SortColumn::required(workspace::Column::Id.into_expr(), KeyKind::Int),
        ],
        descending: false,
    }
}

/// A workspace's position in [`sort_spec`].
pub(crate) fn sort_key(model: &workspace::Model) -> Vec<KeyValue> {
    vec![KeyValue::Text(model.name.clone()), KeyValue::Int(model.id)]
}
