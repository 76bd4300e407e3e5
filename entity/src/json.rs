//! A JSON column that tolerates what another application may have stored.
//!
//! PostgreSQL keeps JSON as `JSONB`, which is always well formed; SQLite keeps it as text,
//! which may hold anything. SPEC §2 says malformed JSON reads as null, so decoding falls
//! back to the raw text and, when that does not parse, to SQL `NULL`.

use sea_orm::sea_query::{ArrayType, ColumnType, Nullable, ValueType, ValueTypeErr};
use sea_orm::{ColIdx, QueryResult, TryGetError, TryGetable, Value};

/// A JSON document stored in a `JSONB` (PostgreSQL) or JSON text (SQLite) column.
#[derive(Clone, Debug, PartialEq)]
pub struct Document(pub serde_json::Value);

impl Document {
    /// The document as a `serde_json` value.
    pub fn value(&self) -> &serde_json::Value {
        &self.0
    }
}

impl From<serde_json::Value> for Document {
    fn from(value: serde_json::Value) -> Self {
        Self(value)
    }
}

impl From<Document> for Value {
    fn from(document: Document) -> Self {
        Value::Json(Some(Box::new(document.0)))
    }
}

impl TryGetable for Document {
    fn try_get_by<I: ColIdx>(res: &QueryResult, index: I) -> Result<Self, TryGetError> {
        match <Option<serde_json::Value>>::try_get_by(res, index) {
            Ok(Some(value)) => Ok(Self(value)),
            Ok(None) => Err(TryGetError::Null(format!("{index:?}"))),
            // Not decodable as JSON: read the raw text and parse it, or give up as null.
            Err(_) => <Option<String>>::try_get_by(res, index)
                .ok()
                .flatten()
                .and_then(|text| serde_json::from_str(&text).ok())
                .map(Self)
                .ok_or_else(|| TryGetError::Null(format!("{index:?}"))),
        }
    }
}

impl ValueType for Document {
    fn try_from(value: Value) -> Result<Self, ValueTypeErr> {
        match value {
            Value::Json(Some(json)) => Ok(Self(*json)),
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
