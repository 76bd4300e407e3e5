//! One file per GraphQL object; each wraps an entity row and resolves its edges through
//! the request's loaders. Per-domain query roots live beside their types.

pub(crate) mod audit_log;
pub mod control_tower;
pub(crate) mod health;
pub mod live;
pub(crate) mod node;
pub(crate) mod operation_run;
pub(crate) mod operator;
pub(crate) mod provider_connection;
pub(crate) mod settings;
pub(crate) mod tenant;
pub(crate) mod tenant_permission;
pub(crate) mod user;
pub(crate) mod workspace;

use async_graphql::Json;
use entity::Document;
use serde_json::Value;

use crate::domain::redact::redact_document;
use crate::error::{AppError, AppResult};
use crate::graphql::immediate::Immediate;

/// `From` a row, owned or shared, for a GraphQL object that wraps it. Rows are shared
/// (`Arc`) so that the loaders hand them out without copying them.
macro_rules! row_object {
    ($object:ident, $module:ident) => {
        impl From<$module::Model> for $object {
            fn from(model: $module::Model) -> Self {
                Self {
                    model: Arc::new(model),
                }
            }
        }

        impl From<Arc<$module::Model>> for $object {
            fn from(model: Arc<$module::Model>) -> Self {
                Self { model }
            }
        }
    };
}
pub(crate) use row_object;

/// A stored JSON document as the API shows it: always redacted (SPEC §4).
pub(crate) fn shown(document: Option<&Document>) -> Option<Json<Value>> {
    document.map(|document| Json(redact_document(document.value())))
}

/// The GraphQL objects of a parent's child rows, as a loader answered them (none when
/// the parent has none).
pub(crate) fn shown_rows<R: Clone, T: From<R>>(rows: Option<std::sync::Arc<[R]>>) -> Vec<T> {
    rows.map(|rows| rows.iter().cloned().map(T::from).collect())
        .unwrap_or_default()
}

/// [`shown_rows`], each object answered at once when its selection allows.
pub(crate) fn immediate_rows<R: Clone, T: From<R>>(
    rows: Option<std::sync::Arc<[R]>>,
) -> Vec<Immediate<T>> {
    rows.map(|rows| {
        rows.iter()
            .cloned()
            .map(|row| Immediate(T::from(row)))
            .collect()
    })
    .unwrap_or_default()
}

/// A row a non-null edge points at, which must exist; its absence is a broken reference
/// in the data (written by another application) and is reported as an internal error.
pub(crate) fn existing<T>(row: Option<T>, what: impl FnOnce() -> String) -> AppResult<T> {
    row.ok_or_else(|| AppError::internal(anyhow::anyhow!("{} does not exist", what())))
}
