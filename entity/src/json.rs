//! A JSON column that tolerates what another application may have stored.
//!
//! PostgreSQL keeps JSON as `JSONB`, which is always well formed; SQLite keeps it as text,
//! which may hold anything. SPEC §2 says malformed JSON reads as null, so a document that
//! does not parse reads as SQL `NULL`.
//!
//! A document read from the database keeps its text, checked to be well formed, and is
//! parsed only when something reads it ([`Document::value`]), once. Most queries never
//! read a row's JSON (a list of tenants asking for names and statuses), and building
//! every document's tree, cloning it through the loaders and dropping it was a tenth of
//! the service's time on such a list (issue #13). Clones share the document.

use std::fmt;
use std::sync::{Arc, OnceLock};

use sea_orm::sea_query::{ArrayType, ColumnType, Nullable, ValueType, ValueTypeErr};
use sea_orm::sqlx::postgres::PgValueFormat;
use sea_orm::sqlx::types::JsonRawValue;
use sea_orm::sqlx::{Row, TypeInfo, ValueRef};
use sea_orm::{ColIdx, QueryResult, TryGetError, TryGetable, Value};

/// A JSON document stored in a `JSONB` (PostgreSQL) or JSON text (SQLite) column.
#[derive(Clone)]
pub struct Document(Arc<Inner>);

struct Inner {
    /// The stored text, well formed; `None` when the document was built from a value.
    text: Option<Box<str>>,
    /// The parsed document, once read.
    value: OnceLock<serde_json::Value>,
}

impl Document {
    /// The document as a `serde_json` value, parsed on first use.
    pub fn value(&self) -> &serde_json::Value {
        self.0.value.get_or_init(|| parse(self.0.text.as_deref()))
    }

    /// A document of well-formed JSON text (the caller checked it).
    fn of_checked_text(text: &str) -> Self {
        Self(Arc::new(Inner {
            text: Some(text.into()),
            value: OnceLock::new(),
        }))
    }

    /// A document of stored text: `None` unless it is well-formed JSON.
    fn of_text(text: &str) -> Option<Self> {
        serde_json::from_str::<&JsonRawValue>(text)
            .ok()
            .map(|_| Self::of_checked_text(text))
    }
}

impl From<serde_json::Value> for Document {
    fn from(value: serde_json::Value) -> Self {
        Self(Arc::new(Inner {
            text: None,
            value: OnceLock::from(value),
        }))
    }
}

impl PartialEq for Document {
    fn eq(&self, other: &Self) -> bool {
        self.value() == other.value()
    }
}

impl fmt::Debug for Document {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_tuple("Document")
            .field(self.value())
            .finish()
    }
}

impl From<Document> for Value {
    fn from(document: Document) -> Self {
        let value = match Arc::try_unwrap(document.0) {
            Ok(Inner { text, value }) => {
                value.into_inner().unwrap_or_else(|| parse(text.as_deref()))
            }
            Err(shared) => Document(shared).value().clone(),
        };
        Value::Json(Some(Box::new(value)))
    }
}

/// The value of a document's text. The text was checked when it was read, so a failure
/// cannot happen; it would read as null, as malformed JSON does.
fn parse(text: Option<&str>) -> serde_json::Value {
    text.and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(serde_json::Value::Null)
}

impl TryGetable for Document {
    fn try_get_by<I: ColIdx>(res: &QueryResult, index: I) -> Result<Self, TryGetError> {
        let null = || TryGetError::Null(format!("{index:?}"));
        let decoding = |error: sea_orm::sqlx::Error| {
            TryGetError::DbErr(sea_orm::DbErr::Type(format!("{index:?}: {error}")))
        };
        if let Some(row) = res.try_as_pg_row() {
            // JSONB: well formed by construction, so its text is kept without being
            // parsed again (sqlx's own decoding scans every document; issue #13).
            let raw = row
                .try_get_raw(index.as_sqlx_postgres_index())
                .map_err(decoding)?;
            if raw.is_null() {
                return Err(null());
            }
            let malformed = |error| decoding(sea_orm::sqlx::Error::Decode(error));
            let mut bytes = raw.as_bytes().map_err(malformed)?;
            if raw.format() == PgValueFormat::Binary && raw.type_info().name() == "JSONB" {
                // The binary form is a version byte, 1, then the text.
                bytes = match bytes.split_first() {
                    Some((1, text)) => text,
                    _ => return Err(malformed("unsupported JSONB format version".into())),
                };
            }
            let text = std::str::from_utf8(bytes).map_err(|error| malformed(error.into()))?;
            return Ok(Self::of_checked_text(text));
        }
        if let Some(row) = res.try_as_sqlite_row() {
            // Text that may hold anything: malformed JSON reads as null.
            let text: Option<&str> = row
                .try_get(index.as_sqlx_sqlite_index())
                .map_err(decoding)?;
            return text.and_then(Self::of_text).ok_or_else(null);
        }
        match <Option<serde_json::Value>>::try_get_by(res, index) {
            Ok(Some(value)) => Ok(Self::from(value)),
            Ok(None) => Err(null()),
            Err(_) => <Option<String>>::try_get_by(res, index)
                .ok()
                .flatten()
                .as_deref()
                .and_then(Self::of_text)
                .ok_or_else(null),
        }
    }
}

impl ValueType for Document {
    fn try_from(value: Value) -> Result<Self, ValueTypeErr> {
        match value {
            Value::Json(Some(json)) => Ok(Self::from(*json)),
            _ => Err(ValueTypeErr),
        }
    }

    fn type_name() -> String {
        "Document".to_owned()
    }

    fn array_type() -> ArrayType {
        ArrayType::Json
    }

    fn column_type() -> ColumnType {
        ColumnType::JsonBinary
    }
}

impl Nullable for Document {
    fn null() -> Value {
        Value::Json(None)
    }
}

impl sea_orm::IntoActiveValue<Document> for Document {
    fn into_active_value(self) -> sea_orm::ActiveValue<Document> {
        sea_orm::ActiveValue::Set(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_is_read_when_first_asked_for() {
        let document = Document::of_text(r#"{"a": [1, 2]}"#).map(|d| d.value().clone());
        assert_eq!(document, Some(serde_json::json!({"a": [1, 2]})));
    }

    #[test]
    fn malformed_text_is_no_document() {
        assert!(Document::of_text("{not json").is_none());
        assert!(Document::of_text("").is_none());
    }

    #[test]
    fn documents_compare_by_value_and_convert_to_sql_values() {
        let stored = Document::of_text(r#"{"b":1,  "a":2}"#);
        let built = Document::from(serde_json::json!({"a": 2, "b": 1}));
        assert_eq!(stored.clone(), Some(built.clone()));
        let expected = Value::Json(Some(Box::new(serde_json::json!({"a": 2, "b": 1}))));
        assert_eq!(Value::from(built), expected);
        assert_eq!(stored.map(Value::from), Some(expected));
    }
}
