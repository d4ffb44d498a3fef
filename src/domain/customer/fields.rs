//! Rules for the customer's free-text fields: `full_name`, `source_channel` and `notes`.
//! Lengths count characters (Unicode scalar values), so `é` and `🙂` count one each.

use crate::domain::FieldError;

/// Longest `full_name`, in characters.
pub const FULL_NAME_MAX_CHARS: usize = 256;
/// Longest `source_channel`, in characters.
pub const SOURCE_CHANNEL_MAX_CHARS: usize = 64;
/// Longest `notes`, in characters.
pub const NOTES_MAX_CHARS: usize = 10_000;

/// `full_name`: trimmed, 1–256 characters, one line without control characters.
pub fn parse_full_name(raw: &str) -> Result<String, FieldError> {
    single_line("full_name", raw, FULL_NAME_MAX_CHARS)
}

/// `source_channel`: trimmed, 1–64 characters, one line without control characters.
pub fn parse_source_channel(raw: &str) -> Result<String, FieldError> {
    single_line("source_channel", raw, SOURCE_CHANNEL_MAX_CHARS)
}

/// `notes`: at most 10,000 characters, kept as sent (not trimmed). Line breaks and tabs are
/// fine; other control characters are not, NUL above all, which PostgreSQL cannot store.
pub fn parse_notes(raw: &str) -> Result<String, FieldError> {
    check_length("notes", raw, NOTES_MAX_CHARS)?;
    let is_layout = |c: char| matches!(c, '\n' | '\r' | '\t');
    if let Some((position, c)) = find_char(raw, |c| c.is_control() && !is_layout(c)) {
        return Err(FieldError::new(
            "notes",
            format!(
                "`notes` must not contain control characters other than line breaks and tabs; \
                 found {} at character {position}.",
                name_char(c)
            ),
        ));
    }
    Ok(raw.to_owned())
}

/// A trimmed, non-empty, single-line text; the line and paragraph separators count as breaks.
fn single_line(param: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(FieldError::new(
            param,
            format!("`{param}` must not be empty or only spaces."),
        ));
    }
    check_length(param, text, max)?;

    let is_break = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    if let Some((position, c)) = find_char(text, is_break) {
        return Err(FieldError::new(
            param,
            format!(
                "`{param}` must be one line without control characters; found {} at \
                 character {position}.",
                name_char(c)
            ),
        ));
    }
    Ok(text.to_owned())
}

fn check_length(param: &str, text: &str, max: usize) -> Result<(), FieldError> {
    let length = text.chars().count();
    if length > max {
        return Err(FieldError::new(
            param,
            format!(
                "`{param}` must be at most {} characters; this one has {}.",
                thousands(max),
                thousands(length)
            ),
        ));
    }
    Ok(())
}

/// The first character matching `rule`, with its position counted from 1 as people count.
fn find_char(text: &str, rule: impl Fn(char) -> bool) -> Option<(usize, char)> {
    text.chars()
        .enumerate()
        .find(|&(_, c)| rule(c))
        .map(|(index, c)| (index + 1, c))
}

fn name_char(c: char) -> String {
    match c {
        '\0' => "NUL (U+0000)".to_owned(),
        '\n' => "a line feed (U+000A)".to_owned(),
        '\r' => "a carriage return (U+000D)".to_owned(),
        '\t' => "a tab (U+0009)".to_owned(),
        _ => format!("U+{:04X}", u32::from(c)),
    }
}

/// `10000` as `10,000`, the way the limits are written in the contract.
fn thousands(number: usize) -> String {
    let digits = number.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn message(result: Result<String, FieldError>) -> String {
        result.expect_err("a refusal").message
    }

    #[test]
    fn a_full_name_is_trimmed() {
        assert_eq!(parse_full_name("  Jane Doe \n").unwrap(), "Jane Doe");
    }

    #[test]
    fn a_full_name_of_256_characters_is_accepted_and_257_refused() {
        assert!(parse_full_name(&"a".repeat(256)).is_ok());
        assert!(parse_full_name(&"é".repeat(256)).is_ok());
        assert!(parse_full_name(&"🙂".repeat(256)).is_ok());

        let error = parse_full_name(&"é".repeat(257)).unwrap_err();
        assert_eq!(error.param, "full_name");
        assert_eq!(
            error.message,
            "`full_name` must be at most 256 characters; this one has 257."
        );
    }

    #[test]
    fn spaces_around_a_long_name_do_not_count() {
        let padded = format!("  {}  ", "a".repeat(256));
        assert_eq!(parse_full_name(&padded).unwrap().len(), 256);
    }

    #[test]
    fn an_empty_or_blank_full_name_is_refused() {
        for raw in ["", "   ", "\n\t"] {
            let error = parse_full_name(raw).unwrap_err();
            assert_eq!(
                error.message,
                "`full_name` must not be empty or only spaces."
            );
        }
    }

    #[test]
    fn control_characters_and_line_breaks_in_a_name_are_refused() {
        assert_eq!(
            message(parse_full_name("Jane\0Doe")),
            "`full_name` must be one line without control characters; found NUL (U+0000) at \
             character 5."
        );
        assert!(message(parse_full_name("Jane\nDoe")).contains("a line feed (U+000A)"));
        assert!(message(parse_full_name("Jane\u{7F}")).contains("U+007F"));
        assert!(message(parse_full_name("Jane\u{85}Doe")).contains("U+0085"));
        assert!(message(parse_full_name("Jane\u{2028}Doe")).contains("U+2028"));
    }

    #[test]
    fn names_in_any_script_are_accepted() {
        for name in [
            "José Ñúñez",
            "王小明",
            "Ólafur Arnalds",
            "محمد",
            "O'Brien-Smith",
        ] {
            assert_eq!(parse_full_name(name).unwrap(), name);
        }
    }

    #[test]
    fn a_source_channel_of_64_characters_is_accepted_and_65_refused() {
        assert_eq!(parse_source_channel(" airbnb ").unwrap(), "airbnb");
        assert!(parse_source_channel(&"ü".repeat(64)).is_ok());

        let error = parse_source_channel(&"ü".repeat(65)).unwrap_err();
        assert_eq!(error.param, "source_channel");
        assert_eq!(
            error.message,
            "`source_channel` must be at most 64 characters; this one has 65."
        );
        assert!(message(parse_source_channel(" ")).contains("must not be empty"));
        assert!(message(parse_source_channel("web\tads")).contains("a tab (U+0009)"));
    }

    #[test]
    fn notes_of_10000_characters_are_accepted_and_10001_refused() {
        assert!(parse_notes(&"a".repeat(10_000)).is_ok());
        assert!(parse_notes(&"日".repeat(10_000)).is_ok());

        let error = parse_notes(&"日".repeat(10_001)).unwrap_err();
        assert_eq!(error.param, "notes");
        assert_eq!(
            error.message,
            "`notes` must be at most 10,000 characters; this one has 10,001."
        );
    }

    #[test]
    fn notes_keep_line_breaks_tabs_and_surrounding_spaces() {
        let notes = "  Prefers mornings.\r\n\tPaid cash.\n";
        assert_eq!(parse_notes(notes).unwrap(), notes);
        assert_eq!(parse_notes("").unwrap(), "");
    }

    #[test]
    fn notes_refuse_nul_and_other_control_characters() {
        assert_eq!(
            message(parse_notes("ok\0")),
            "`notes` must not contain control characters other than line breaks and tabs; \
             found NUL (U+0000) at character 3."
        );
        assert!(message(parse_notes("bell\u{7}")).contains("U+0007"));
        assert!(message(parse_notes("\u{1B}[31m")).contains("U+001B"));
    }

    #[test]
    fn thousands_are_separated_by_commas() {
        assert_eq!(thousands(64), "64");
        assert_eq!(thousands(10_000), "10,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    proptest! {
        #[test]
        fn a_full_name_is_stored_trimmed_or_refused_naming_the_field(raw in any::<String>()) {
            match parse_full_name(&raw) {
                Ok(name) => {
                    prop_assert_eq!(name.as_str(), raw.trim());
                    prop_assert!((1..=256).contains(&name.chars().count()));
                    prop_assert!(!name.chars().any(char::is_control));
                }
                Err(error) => prop_assert_eq!(error.param, "full_name"),
            }
        }

        #[test]
        fn notes_are_stored_as_sent_or_refused_naming_the_field(raw in any::<String>()) {
            match parse_notes(&raw) {
                Ok(notes) => {
                    prop_assert_eq!(&notes, &raw);
                    prop_assert!(!notes.contains('\0'));
                }
                Err(error) => prop_assert_eq!(error.param, "notes"),
            }
        }
    }
}
