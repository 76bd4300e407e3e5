//! Operator-written text — break-glass reasons and investigation notes — as the audit
//! trail keeps it: trimmed, 5 to 500 characters, at least 5 of them visible.
//!
//! "Visible" leaves out what renders as nothing: whitespace, control characters and the
//! Unicode *default ignorable* code points (zero-width spaces and joiners, bidirectional
//! marks, variation selectors, the Hangul fillers, tags…), plus the blank braille
//! pattern, which looks like a space. Five zero-width spaces are not a reason. Control
//! characters other than tab and line breaks are refused outright: they can rewrite a
//! terminal that shows the audit trail, and NUL cannot be stored.

/// Fewest visible characters a reason or note needs.
pub(crate) const MIN_VISIBLE: usize = 5;
/// Most characters (visible or not) a reason or note may have, once trimmed.
pub(crate) const MAX_CHARS: usize = 500;

/// How a refused NUL character is explained, wherever text is refused for one.
pub(crate) const NUL_REFUSED: &str = "must not contain NUL characters (\\u0000)";

/// Why a reason or note was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TextRefusal {
    /// Fewer than [`MIN_VISIBLE`] visible characters.
    TooFewVisible { visible: usize },
    /// More than [`MAX_CHARS`] characters.
    TooLong { chars: usize },
    /// A control character other than tab, carriage return or line feed.
    ControlCharacter,
}

impl std::fmt::Display for TextRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooFewVisible { visible } => write!(
                f,
                "must have at least {MIN_VISIBLE} visible characters (spaces and invisible marks do not count), not {visible}"
            ),
            Self::TooLong { chars } => write!(
                f,
                "must be at most {MAX_CHARS} characters once trimmed, not {chars}"
            ),
            Self::ControlCharacter => {
                f.write_str("must not contain control characters other than tabs and line breaks")
            }
        }
    }
}

/// The text as kept: trimmed, or why it cannot be.
pub(crate) fn operator_text(text: &str) -> Result<&str, TextRefusal> {
    let trimmed = text.trim();
    if trimmed
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(TextRefusal::ControlCharacter);
    }
    let chars = trimmed.chars().count();
    if chars > MAX_CHARS {
        return Err(TextRefusal::TooLong { chars });
    }
    let visible = trimmed.chars().filter(|c| is_visible(*c)).count();
    if visible < MIN_VISIBLE {
        return Err(TextRefusal::TooFewVisible { visible });
    }
    Ok(trimmed)
}

/// Whether `c` shows as something on a screen.
fn is_visible(c: char) -> bool {
    !(c.is_whitespace() || c.is_control() || is_default_ignorable(c) || c == '\u{2800}')
}

/// The Unicode `Default_Ignorable_Code_Point` property (DerivedCoreProperties.txt,
/// Unicode 15.1): characters a renderer shows as nothing unless it knows better.
fn is_default_ignorable(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_counted_in_characters() {
        assert_eq!(operator_text("  hello  "), Ok("hello"));
        assert_eq!(operator_text("ééééé"), Ok("ééééé"));
        assert!(operator_text(&"é".repeat(MAX_CHARS)).is_ok());
        assert_eq!(
            operator_text(&"é".repeat(MAX_CHARS + 1)),
            Err(TextRefusal::TooLong { chars: 501 })
        );
    }

    #[test]
    fn five_zero_width_spaces_are_not_a_reason() {
        assert_eq!(
            operator_text("\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}"),
            Err(TextRefusal::TooFewVisible { visible: 0 })
        );
        assert_eq!(
            operator_text("ab\u{200D}\u{FE0F}\u{2800}\u{3164}c"),
            Err(TextRefusal::TooFewVisible { visible: 3 })
        );
        assert_eq!(
            operator_text("\u{E0041}\u{E0042}\u{E0043}\u{E0044}\u{E0045}"),
            Err(TextRefusal::TooFewVisible { visible: 0 })
        );
    }

    #[test]
    fn spaces_between_words_do_not_count_as_visible() {
        assert_eq!(
            operator_text("a b c d"),
            Err(TextRefusal::TooFewVisible { visible: 4 })
        );
        assert_eq!(operator_text("a b c d e"), Ok("a b c d e"));
    }

    #[test]
    fn invisible_padding_still_counts_towards_the_length() {
        let padded = format!("hello{}", "\u{200B}".repeat(MAX_CHARS));
        assert_eq!(
            operator_text(&padded),
            Err(TextRefusal::TooLong { chars: 505 })
        );
    }

    #[test]
    fn nul_and_escape_characters_are_refused_but_line_breaks_are_kept() {
        assert_eq!(
            operator_text("hello\0world"),
            Err(TextRefusal::ControlCharacter)
        );
        assert_eq!(
            operator_text("\u{1b}[2Jhello"),
            Err(TextRefusal::ControlCharacter)
        );
        assert_eq!(
            operator_text("line one\nline two\ttabbed"),
            Ok("line one\nline two\ttabbed")
        );
    }

    #[test]
    fn letters_of_every_script_and_emoji_are_visible() {
        assert_eq!(operator_text("日本語です"), Ok("日本語です"));
        assert_eq!(operator_text("🔥🔥🔥🔥🔥"), Ok("🔥🔥🔥🔥🔥"));
    }
}
