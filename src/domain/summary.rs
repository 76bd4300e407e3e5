//! SummaryCountsNormalizer (SPEC §4): a run's `summary_counts` as a short, sorted list of
//! integer counters.

use serde_json::Value;

/// Most counters kept.
pub(crate) const MAX_KEYS: usize = 50;
/// Longest counter name kept, in characters.
pub(crate) const MAX_KEY_CHARS: usize = 64;

/// One counter of a run's summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SummaryCount {
    pub(crate) key: String,
    pub(crate) value: i32,
}

/// Keeps the keys whose value is an integer — an integral float or a numeric string is
/// converted, anything else dropped — with names of 1 to 64 characters, sorted by key,
/// at most 50. Values must fit GraphQL's 32-bit `Int`; larger ones are dropped.
/// Anything but a JSON object yields no counters.
pub(crate) fn normalize_summary_counts(document: Option<&Value>) -> Vec<SummaryCount> {
    let Some(Value::Object(map)) = document else {
        return Vec::new();
    };
    let mut counts: Vec<SummaryCount> = map
        .iter()
        .filter(|(key, _)| (1..=MAX_KEY_CHARS).contains(&key.chars().count()))
        .filter_map(|(key, value)| {
            Some(SummaryCount {
                key: key.clone(),
                value: integer_of(value)?,
            })
        })
        .collect();
    counts.sort_by(|a, b| a.key.cmp(&b.key));
    counts.truncate(MAX_KEYS);
    counts
}

fn integer_of(value: &Value) -> Option<i32> {
    match value {
        Value::Number(number) => match number.as_i64() {
            Some(integer) => i32::try_from(integer).ok(),
            None => integral(number.as_f64()?),
        },
        Value::String(text) => {
            let text = text.trim();
            match text.parse::<i64>() {
                Ok(integer) => i32::try_from(integer).ok(),
                Err(_) => integral(text.parse::<f64>().ok()?),
            }
        }
        _ => None,
    }
}

fn integral(float: f64) -> Option<i32> {
    let in_range = float.is_finite()
        && float.fract() == 0.0
        && (f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&float);
    // The range check above makes the cast exact.
    in_range.then_some(float as i32)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pairs(document: Value) -> Vec<(String, i32)> {
        normalize_summary_counts(Some(&document))
            .into_iter()
            .map(|count| (count.key, count.value))
            .collect()
    }

    #[test]
    fn integers_are_kept_and_sorted_by_key() {
        let counts = pairs(json!({"updated": 3, "created": 10, "deleted": 0}));
        assert_eq!(
            counts,
            vec![
                ("created".into(), 10),
                ("deleted".into(), 0),
                ("updated".into(), 3)
            ]
        );
    }

    #[test]
    fn integral_floats_and_numeric_strings_are_converted() {
        let counts = pairs(json!({"a": 4.0, "b": "17", "c": " -2 ", "d": "5.0", "e": "1e3"}));
        assert_eq!(
            counts,
            vec![
                ("a".into(), 4),
                ("b".into(), 17),
                ("c".into(), -2),
                ("d".into(), 5),
                ("e".into(), 1000)
            ]
        );
    }

    #[test]
    fn anything_else_is_dropped() {
        let counts = pairs(json!({
            "fraction": 2.5, "text": "many", "flag": true, "nothing": null,
            "list": [1], "object": {"n": 1}, "infinite": "inf", "nan": "NaN", "ok": 1
        }));
        assert_eq!(counts, vec![("ok".into(), 1)]);
    }

    #[test]
    fn values_beyond_a_32_bit_int_are_dropped() {
        let counts = pairs(json!({"huge": 3_000_000_000_i64, "edge": 2_147_483_647}));
        assert_eq!(counts, vec![("edge".into(), i32::MAX)]);
    }

    #[test]
    fn keys_longer_than_64_characters_or_empty_are_dropped() {
        let long = "é".repeat(65);
        let fits = "é".repeat(64);
        let counts = pairs(json!({ long: 1, fits.clone(): 2, "": 3 }));
        assert_eq!(counts, vec![(fits, 2)]);
    }

    #[test]
    fn at_most_50_keys_are_kept_the_first_by_key() {
        let document: serde_json::Map<String, Value> =
            (0..80).map(|i| (format!("k{i:03}"), json!(i))).collect();
        let counts = pairs(Value::Object(document));
        assert_eq!(counts.len(), 50);
        assert_eq!(counts[0], ("k000".into(), 0));
        assert_eq!(counts[49], ("k049".into(), 49));
    }

    #[test]
    fn a_document_that_is_not_an_object_has_no_counts() {
        assert!(pairs(json!([1, 2])).is_empty());
        assert!(pairs(json!("3")).is_empty());
        assert!(normalize_summary_counts(None).is_empty());
    }
}
