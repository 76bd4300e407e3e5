//! Redaction (SPEC §4): what every JSON document shown by the API goes through, and the
//! secret scrubbing that free text (failure messages, string values) goes through.
//!
//! Rules, in order: values under sensitive keys become `"[REDACTED]"`; containers nested
//! deeper than [`MAX_DEPTH`] become `"[TRUNCATED]"`; arrays keep [`MAX_ARRAY_ITEMS`] items
//! and strings [`MAX_STRING_CHARS`] characters, with secret-shaped text inside strings
//! replaced too; finally a document whose JSON text exceeds [`MAX_DOCUMENT_BYTES`] is cut
//! down to fit, and every place that lost something says so with a `[TRUNCATED]` marker.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

/// What a redacted value is replaced with.
pub(crate) const REDACTED: &str = "[REDACTED]";
/// What a value cut for depth or size is replaced with, and the key of size markers.
pub(crate) const TRUNCATED: &str = "[TRUNCATED]";
/// Deepest container kept; the root is depth 1.
pub(crate) const MAX_DEPTH: usize = 5;
/// Most items an array keeps.
pub(crate) const MAX_ARRAY_ITEMS: usize = 50;
/// Most characters a string keeps.
pub(crate) const MAX_STRING_CHARS: usize = 1_000;
/// Largest JSON text of a redacted document, in bytes.
pub(crate) const MAX_DOCUMENT_BYTES: usize = 16 * 1024;

/// Key fragments whose values are always redacted, matched case-insensitively.
const SENSITIVE_KEY_PARTS: [&str; 10] = [
    "password",
    "secret",
    "token",
    "authorization",
    "api_key",
    "apikey",
    "private_key",
    "credential",
    "cookie",
    "session",
];

/// Whether values under `key` are redacted.
pub(crate) fn is_sensitive_key(key: &str) -> bool {
    let key = key.to_lowercase();
    SENSITIVE_KEY_PARTS.iter().any(|part| key.contains(part))
}

#[expect(
    clippy::expect_used,
    reason = "constant patterns, compiled by the tests below"
)]
static SECRET_PATTERNS: LazyLock<[(Regex, &'static str); 3]> = LazyLock::new(|| {
    [
        // An Authorization header value: `Bearer abc…`, `Basic dXNl…`.
        (
            Regex::new(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9\-._~+/]+=*")
                .expect("bearer pattern compiles"),
            "$1$2[REDACTED]",
        ),
        // `password=…`, `client_secret: …`, `api_key=…`, `access_token=…`.
        (
            Regex::new(
                r#"(?i)\b([A-Za-z0-9_\-]*(?:password|passwd|pwd|secret|token|api[_\-]?key))(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&;,"']+)"#,
            )
            .expect("key=value pattern compiles"),
            "$1$2[REDACTED]",
        ),
        // A JWT: three base64url segments, the first a JSON header (`eyJ` = `{"`).
        (
            Regex::new(r"\beyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")
                .expect("JWT pattern compiles"),
            "[REDACTED]",
        ),
    ]
});

/// Replaces bearer tokens, `password=…`/`secret=…`-style pairs and JWT-shaped strings
/// in free text by `[REDACTED]`.
pub(crate) fn scrub_secrets(text: &str) -> Cow<'_, str> {
    let mut scrubbed = Cow::Borrowed(text);
    for (pattern, replacement) in SECRET_PATTERNS.iter() {
        if let Cow::Owned(replaced) = pattern.replace_all(&scrubbed, *replacement) {
            scrubbed = Cow::Owned(replaced);
        }
    }
    scrubbed
}

/// The first `max` characters of `text`.
pub(crate) fn cut_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// Redacts a document for display (see the module documentation for the rules).
pub(crate) fn redact_document(document: &Value) -> Value {
    let redacted = redact_value(document, 1);
    if json_len(&redacted) <= MAX_DOCUMENT_BYTES {
        redacted
    } else {
        fit(&redacted, MAX_DOCUMENT_BYTES)
    }
}

fn redact_value(value: &Value, depth: usize) -> Value {
    match value {
        Value::Object(_) | Value::Array(_) if depth > MAX_DEPTH => Value::from(TRUNCATED),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let value = if is_sensitive_key(key) {
                        Value::from(REDACTED)
                    } else {
                        redact_value(value, depth + 1)
                    };
                    (key.clone(), value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .take(MAX_ARRAY_ITEMS)
                .map(|item| redact_value(item, depth + 1))
                .collect(),
        ),
        Value::String(text) => Value::from(cut_chars(&scrub_secrets(text), MAX_STRING_CHARS)),
        scalar => scalar.clone(),
    }
}

fn json_len(value: &Value) -> usize {
    serde_json::to_string(value).map_or(usize::MAX, |text| text.len())
}

/// Room kept in every container for the marker that says it was cut.
const MARKER_ROOM: usize = 100;
/// The JSON text of `"[TRUNCATED]"`.
const TRUNCATED_LEN: usize = TRUNCATED.len() + 2;

/// Rebuilds `value` so that its JSON text fits in `budget` bytes (at least
/// [`TRUNCATED_LEN`]), keeping members in order until the next would not fit, then
/// marking the cut.
fn fit(value: &Value, budget: usize) -> Value {
    if json_len(value) <= budget {
        return value.clone();
    }
    match value {
        Value::Object(map) if budget >= 2 + MARKER_ROOM => {
            let mut kept = Map::new();
            let mut used = 2 + MARKER_ROOM;
            for (index, (key, member)) in map.iter().enumerate() {
                let key_len = json_len(&Value::from(key.as_str())) + 2;
                let room = budget.saturating_sub(used + key_len);
                if room < TRUNCATED_LEN {
                    kept.insert(TRUNCATED.to_owned(), marker(map.len() - index, "keys"));
                    break;
                }
                let member = fit(member, room);
                used += key_len + json_len(&member);
                kept.insert(key.clone(), member);
            }
            Value::Object(kept)
        }
        Value::Array(items) if budget >= 2 + MARKER_ROOM => {
            let mut kept = Vec::new();
            let mut used = 2 + MARKER_ROOM;
            for (index, item) in items.iter().enumerate() {
                let room = budget.saturating_sub(used + 1);
                if room < TRUNCATED_LEN {
                    kept.push(marker(items.len() - index, "items"));
                    break;
                }
                let item = fit(item, room);
                used += 1 + json_len(&item);
                kept.push(item);
            }
            Value::Array(kept)
        }
        Value::String(text) if budget >= TRUNCATED_LEN + 8 => {
            let suffix = format!("…{TRUNCATED}");
            let room = budget - 2 - suffix.len();
            let mut cut = String::new();
            let mut used = 0;
            for character in text.chars() {
                used += escaped_len(character);
                if used > room {
                    break;
                }
                cut.push(character);
            }
            Value::from(cut + &suffix)
        }
        _ => Value::from(TRUNCATED),
    }
}

/// Bytes a character takes inside a JSON string.
fn escaped_len(character: char) -> usize {
    match character {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        c if c < ' ' => 6,
        c => c.len_utf8(),
    }
}

fn marker(left_out: usize, what: &str) -> Value {
    Value::from(format!(
        "{TRUNCATED} {left_out} more {what}: the document exceeded 16 KiB"
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_under_sensitive_keys_are_redacted_in_any_case() {
        let document = json!({
            "Password": "hunter2", "clientSecret": "s", "X-API-KEY": "k", "apiKey": "k",
            "refresh_token": "t", "Authorization": "Bearer abc", "private_key": "p",
            "credentials": {"user": "u"}, "Cookie": "c", "session_id": 7, "region": "eu"
        });
        let redacted = redact_document(&document);
        for key in [
            "Password",
            "clientSecret",
            "apiKey",
            "refresh_token",
            "Authorization",
            "private_key",
            "credentials",
            "Cookie",
            "session_id",
        ] {
            assert_eq!(redacted[key], json!(REDACTED), "{key}");
        }
        assert_eq!(
            redacted["X-API-KEY"],
            json!("k"),
            "X-API-KEY has no api_key/apikey"
        );
        assert_eq!(redacted["region"], json!("eu"));
    }

    #[test]
    fn nested_keys_and_arrays_of_objects_are_redacted() {
        let document = json!({"steps": [{"name": "a", "token": "t1"}, {"auth": {"secret": 1}}]});
        let redacted = redact_document(&document);
        assert_eq!(redacted["steps"][0]["token"], json!(REDACTED));
        assert_eq!(redacted["steps"][0]["name"], json!("a"));
        assert_eq!(redacted["steps"][1]["auth"]["secret"], json!(REDACTED));
    }

    #[test]
    fn containers_deeper_than_five_levels_are_truncated() {
        let document = json!({"a": {"b": {"c": {"d": {"e": {"f": 1}, "n": 2}}}}});
        let redacted = redact_document(&document);
        assert_eq!(redacted["a"]["b"]["c"]["d"]["e"], json!(TRUNCATED));
        assert_eq!(redacted["a"]["b"]["c"]["d"]["n"], json!(2));
    }

    #[test]
    fn arrays_keep_50_items_and_strings_1000_characters() {
        let document = json!({"items": (0..80).collect::<Vec<_>>(), "text": "ü".repeat(1500)});
        let redacted = redact_document(&document);
        assert_eq!(redacted["items"].as_array().unwrap().len(), 50);
        assert_eq!(redacted["text"].as_str().unwrap().chars().count(), 1000);
    }

    #[test]
    fn secrets_inside_string_values_are_scrubbed() {
        let document = json!({"note": "retry with password=hunter2 please"});
        assert_eq!(
            redact_document(&document)["note"],
            json!("retry with password=[REDACTED] please")
        );
    }

    #[test]
    fn a_huge_document_is_cut_to_16_kib_and_says_so() {
        let document: Map<String, Value> = (0..2000)
            .map(|i| (format!("key{i:05}"), json!("x".repeat(100))))
            .collect();
        let redacted = redact_document(&Value::Object(document));
        let text = serde_json::to_string(&redacted).unwrap();
        assert!(text.len() <= MAX_DOCUMENT_BYTES, "{} bytes", text.len());
        assert_eq!(redacted["key00000"], json!("x".repeat(100)));
        let marker = redacted[TRUNCATED].as_str().unwrap();
        assert!(marker.contains("more keys"), "{marker}");
    }

    #[test]
    fn a_huge_array_of_long_strings_fits_too() {
        let document = Value::Array(vec![json!("y".repeat(1000)); 40]);
        let text = serde_json::to_string(&redact_document(&document)).unwrap();
        assert!(text.len() <= MAX_DOCUMENT_BYTES);
        assert!(text.contains("more items"));
    }

    #[test]
    fn escaped_characters_count_toward_the_limit() {
        let document: Map<String, Value> = (0..12)
            .map(|i| {
                (
                    format!("k{i}"),
                    json!({"nested": ["\u{1}\"".repeat(500), {"deep": "\n".repeat(999)}]}),
                )
            })
            .collect();
        let text = serde_json::to_string(&redact_document(&Value::Object(document))).unwrap();
        assert!(text.len() <= MAX_DOCUMENT_BYTES, "{} bytes", text.len());
        assert!(text.contains(TRUNCATED));
    }

    #[test]
    fn scalars_pass_through() {
        assert_eq!(redact_document(&json!(42)), json!(42));
        assert_eq!(redact_document(&json!(null)), json!(null));
    }

    #[test]
    fn bearer_tokens_are_scrubbed() {
        assert_eq!(
            scrub_secrets("401 calling Graph with Authorization: Bearer eyJhbGciOi.abc.def"),
            "401 calling Graph with Authorization: Bearer [REDACTED]"
        );
    }

    #[test]
    fn key_value_secrets_are_scrubbed() {
        assert_eq!(
            scrub_secrets("connect failed: user=svc password=p@ssw0rd; secret: 'x y' api_key=abc"),
            "connect failed: user=svc password=[REDACTED]; secret: [REDACTED] api_key=[REDACTED]"
        );
        assert_eq!(
            scrub_secrets("client_secret=abc&x=1"),
            "client_secret=[REDACTED]&x=1"
        );
    }

    #[test]
    fn jwt_shaped_strings_are_scrubbed() {
        let jwt =
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
        assert_eq!(
            scrub_secrets(&format!("token was {jwt} ok")),
            "token was [REDACTED] ok"
        );
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        let text = "Tenant quota exceeded (429) after 3 retries";
        assert!(matches!(scrub_secrets(text), Cow::Borrowed(_)));
    }
}
