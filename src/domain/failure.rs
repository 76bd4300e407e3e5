//! RunFailureSanitizer (SPEC §4): a run's `failure_summary` as at most ten clean entries.

use serde_json::Value;

use super::redact::{cut_chars, scrub_secrets};

/// Most entries kept.
pub(crate) const MAX_FAILURES: usize = 10;
/// Longest message kept, in characters.
pub(crate) const MAX_MESSAGE_CHARS: usize = 500;
/// Longest code or reason kept, in characters.
pub(crate) const MAX_LABEL_CHARS: usize = 200;

/// One sanitized failure of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RunFailure {
    pub(crate) code: Option<String>,
    pub(crate) reason: Option<String>,
    pub(crate) message: String,
}

/// Sanitizes a stored failure summary:
/// - an array gives one entry per item, at most ten; a single object or string counts as
///   a one-item array; anything else gives none;
/// - an object keeps `code`, `reason` and `message` (strings, or numbers written out) and
///   drops every other key; without a message, its reason or code stands in, else
///   "no message recorded";
/// - a non-object item becomes the message (its JSON text when it is not a string);
/// - secrets (bearer tokens, `password=…`, `secret=…`, JWT-shaped strings) become
///   `[REDACTED]`, then messages are cut to 500 characters, codes and reasons to 200.
pub(crate) fn sanitize_failures(document: Option<&Value>) -> Vec<RunFailure> {
    let items: Vec<&Value> = match document {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(item @ (Value::Object(_) | Value::String(_))) => vec![item],
        _ => Vec::new(),
    };
    items
        .into_iter()
        .take(MAX_FAILURES)
        .map(sanitize_entry)
        .collect()
}

fn sanitize_entry(item: &Value) -> RunFailure {
    let (code, reason, message) = match item {
        Value::Object(map) => {
            let code = map.get("code").and_then(text_of);
            let reason = map.get("reason").and_then(text_of);
            let message = map
                .get("message")
                .and_then(text_of)
                .or_else(|| reason.clone())
                .or_else(|| code.clone())
                .unwrap_or_else(|| "no message recorded".to_owned());
            (code, reason, message)
        }
        Value::String(text) => (None, None, text.clone()),
        other => (None, None, other.to_string()),
    };
    RunFailure {
        code: code.map(|code| clean(&code, MAX_LABEL_CHARS)),
        reason: reason.map(|reason| clean(&reason, MAX_LABEL_CHARS)),
        message: clean(&message, MAX_MESSAGE_CHARS),
    }
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// Scrubs secrets first, so that a cut never leaves half a secret unrecognised.
fn clean(text: &str, max_chars: usize) -> String {
    cut_chars(&scrub_secrets(text), max_chars).to_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sanitize(document: Value) -> Vec<RunFailure> {
        sanitize_failures(Some(&document))
    }

    #[test]
    fn known_keys_are_kept_and_unknown_keys_dropped() {
        let failures = sanitize(json!([
            {"code": "GRAPH_429", "reason": "throttled", "message": "Too many requests", "raw": {"x": 1}}
        ]));
        assert_eq!(
            failures,
            vec![RunFailure {
                code: Some("GRAPH_429".into()),
                reason: Some("throttled".into()),
                message: "Too many requests".into(),
            }]
        );
    }

    #[test]
    fn at_most_ten_entries_are_kept() {
        let failures = sanitize(Value::Array(
            (0..25).map(|i| json!(format!("e{i}"))).collect(),
        ));
        assert_eq!(failures.len(), 10);
        assert_eq!(failures[9].message, "e9");
    }

    #[test]
    fn a_non_object_entry_becomes_a_message() {
        let failures = sanitize(json!(["plain text", 42, ["nested"]]));
        let messages: Vec<_> = failures.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(messages, vec!["plain text", "42", "[\"nested\"]"]);
        assert!(
            failures
                .iter()
                .all(|f| f.code.is_none() && f.reason.is_none())
        );
    }

    #[test]
    fn a_message_is_cut_to_500_characters() {
        let failures = sanitize(json!([{"message": "ß".repeat(800)}]));
        assert_eq!(failures[0].message.chars().count(), 500);
    }

    #[test]
    fn secrets_in_messages_are_redacted_before_the_cut() {
        let long_prefix = "x".repeat(480);
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbmF0dXJl";
        let failures = sanitize(json!([
            {"message": "auth failed for Bearer abc.def-123 (password=hunter2)"},
            {"message": format!("{long_prefix} {jwt}")},
        ]));
        assert_eq!(
            failures[0].message,
            // The value runs to the next space, `&`, `;` or `,`: a password may hold `)`.
            "auth failed for Bearer [REDACTED] (password=[REDACTED]"
        );
        assert!(!failures[1].message.contains("eyJ"));
    }

    #[test]
    fn a_missing_message_falls_back_to_reason_then_code() {
        let failures = sanitize(json!([{"reason": "timeout"}, {"code": 504}, {}]));
        let messages: Vec<_> = failures.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(messages, vec!["timeout", "504", "no message recorded"]);
        assert_eq!(failures[1].code.as_deref(), Some("504"));
    }

    #[test]
    fn a_single_object_counts_as_one_entry_and_other_documents_as_none() {
        assert_eq!(sanitize(json!({"message": "boom"})).len(), 1);
        assert!(sanitize(json!(7)).is_empty());
        assert!(sanitize_failures(None).is_empty());
    }
}
