//! The first look at a document: its raw text, read once, byte by byte, before the
//! parser (which recurses once per level of nesting) ever sees it.
//!
//! Nesting is counted over `{`, `[` and `(` outside strings and comments, so selection
//! sets, list values and input objects all count, whatever the parser would later make of
//! them. The scan keeps no stack and stops as soon as the bound is passed.

/// How deeply `text` nests, or `None` once it nests deeper than `limit`.
pub(crate) fn nesting_within(text: &str, limit: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut deepest = 0usize;
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'#' => {
                while at < bytes.len() && !matches!(bytes[at], b'\n' | b'\r') {
                    at += 1;
                }
                continue;
            }
            b'"' if bytes[at..].starts_with(b"\"\"\"") => {
                at = end_of_block_string(bytes, at + 3);
                continue;
            }
            b'"' => {
                at = end_of_string(bytes, at + 1);
                continue;
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > limit {
                    return None;
                }
                deepest = deepest.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        at += 1;
    }
    Some(deepest)
}

/// The index just after the `"` closing a string whose text starts at `at` (or the end,
/// for an unterminated string: the parser reports that).
fn end_of_string(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'"' => return at + 1,
            // A string ends at its line; the parser refuses what follows.
            b'\n' | b'\r' => return at,
            _ => at += 1,
        }
    }
    bytes.len()
}

/// The index just after the `"""` closing a block string whose text starts at `at`.
fn end_of_block_string(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() {
        if bytes[at..].starts_with(b"\\\"\"\"") {
            at += 4;
        } else if bytes[at..].starts_with(b"\"\"\"") {
            return at + 3;
        } else {
            at += 1;
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_lists_and_objects_all_count_as_nesting() {
        assert_eq!(nesting_within("{ a { b } }", 10), Some(2));
        assert_eq!(nesting_within("{ a(x: [[1]]) }", 10), Some(4));
        assert_eq!(nesting_within("{ a(f: {b: {c: 1}}) }", 10), Some(4));
        assert_eq!(nesting_within("", 10), Some(0));
    }

    #[test]
    fn brackets_inside_strings_and_comments_do_not_count() {
        assert_eq!(nesting_within(r#"{ a(s: "{{{[[[") }"#, 3), Some(2));
        assert_eq!(nesting_within("{ a # {{{{[[[[\n }", 3), Some(1));
        assert_eq!(nesting_within(r#"{ a(s: "\"{{{") }"#, 3), Some(2));
        assert_eq!(
            nesting_within("{ a(s: \"\"\" {{{{ \\\"\"\" {{{{ \"\"\") }", 3),
            Some(2)
        );
    }

    #[test]
    fn nesting_past_the_limit_stops_the_scan() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(nesting_within(&deep, 64), None);
        let exact = format!("{}{}", "[".repeat(64), "]".repeat(64));
        assert_eq!(nesting_within(&exact, 64), Some(64));
    }

    #[test]
    fn an_unterminated_string_or_comment_ends_the_scan_without_a_panic() {
        assert_eq!(nesting_within("{ a(s: \"{{{", 10), Some(2));
        assert_eq!(nesting_within("{ a(s: \"\"\"{{{", 10), Some(2));
        assert_eq!(nesting_within("{ # {{{", 10), Some(1));
        assert_eq!(nesting_within("{ a(s: \"\\", 10), Some(2));
    }

    #[test]
    fn a_string_ends_at_its_line() {
        assert_eq!(nesting_within("{ a(s: \"x\n{{{ ) }", 10), Some(5));
    }
}
