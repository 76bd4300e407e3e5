//! `Text`: the `String` arguments and input fields whose value may reach SQL or the
//! audit trail.
//!
//! PostgreSQL stores no NUL character in `text` or `jsonb`, and SQLite's C strings end at
//! one, so a NUL would fail a statement (read as "database unavailable") or cut a value
//! short. `Text` is a plain `String` in the schema and refuses a NUL while the argument
//! is read, as `BAD_USER_INPUT`, before any resolver runs a statement with it.
//!
//! `login` takes plain `String`s on purpose: it refuses the same characters itself, after
//! auditing the attempt.

use std::borrow::Cow;
use std::ops::Deref;

use async_graphql::registry::Registry;
use async_graphql::{InputType, InputValueError, InputValueResult, Value};

use crate::domain::text::NUL_REFUSED;

/// A `String` input without NUL characters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Text(String);

impl Text {
    /// The text, owned.
    pub(crate) fn into_string(self) -> String {
        self.0
    }
}

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl InputType for Text {
    type RawValueType = String;

    fn type_name() -> Cow<'static, str> {
        <String as InputType>::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <String as InputType>::create_type_info(registry)
    }

    fn parse(value: Option<Value>) -> InputValueResult<Self> {
        let text = <String as InputType>::parse(value).map_err(InputValueError::propagate)?;
        if text.contains('\0') {
            return Err(InputValueError::custom(NUL_REFUSED));
        }
        Ok(Self(text))
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_without_nul_is_read_as_is() {
        let text = Text::parse(Some(Value::from("a\tb é"))).unwrap();
        assert_eq!(&*text, "a\tb é");
    }

    #[test]
    fn a_nul_anywhere_is_refused() {
        for value in ["\0", "abc\0", "\0abc", "a\0b"] {
            let error = Text::parse(Some(Value::from(value))).unwrap_err();
            assert!(
                error
                    .into_server_error(Default::default())
                    .message
                    .contains("NUL")
            );
        }
    }

    #[test]
    fn text_is_a_string_in_the_schema() {
        assert_eq!(Text::type_name(), "String");
        assert!(Text::parse(Some(Value::from(5))).is_err());
    }
}
