//! Contact fields checked by real parsers: email (RFC 5322 mailbox), phone (libphonenumber),
//! preferred language (BCP 47 via ICU). Each `parse` returns the stored form or a message.

mod email;
mod language;
mod phone;
mod phone_rules;

pub use email::{Email, fold_email};
pub use language::Language;
pub use phone::Phone;

/// The most input characters a message quotes back: enough to recognise the value, while a
/// megabyte of someone's payload never ends up in a response or a log.
const ECHO_LIMIT: usize = 100;

/// Client input quoted for a message: in backticks, cut at [`ECHO_LIMIT`] characters, with
/// control characters spelled out so the message stays one readable line.
fn echo(text: &str) -> String {
    let mut shown = String::from("`");
    for c in text.chars().take(ECHO_LIMIT) {
        if c.is_control() {
            shown.push_str(&format!("\\u{{{:04X}}}", u32::from(c)));
        } else {
            shown.push(c);
        }
    }
    if text.chars().nth(ECHO_LIMIT).is_some() {
        shown.push('…');
    }
    shown.push('`');
    shown
}

/// Names a character for a message: `U+0000`, plus the character itself when it is visible.
fn describe_char(c: char) -> String {
    if c.is_control() || c.is_whitespace() || is_invisible(c) {
        format!("U+{:04X}", u32::from(c))
    } else {
        format!("`{c}` (U+{:04X})", u32::from(c))
    }
}

/// Zero-width and direction-changing characters: they make two different strings look the same
/// (or hide text), which in an address or a number only ever serves to mislead.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_quotes_short_input_whole() {
        assert_eq!(echo("jane@example.com"), "`jane@example.com`");
    }

    #[test]
    fn echo_cuts_long_input_at_one_hundred_characters() {
        let shown = echo(&"é".repeat(5_000));
        assert_eq!(shown, format!("`{}…`", "é".repeat(100)));
    }

    #[test]
    fn echo_keeps_exactly_one_hundred_characters_without_an_ellipsis() {
        assert_eq!(echo(&"a".repeat(100)), format!("`{}`", "a".repeat(100)));
    }

    #[test]
    fn echo_spells_out_control_characters() {
        assert_eq!(echo("a\0b\n"), "`a\\u{0000}b\\u{000A}`");
    }

    #[test]
    fn describe_char_shows_visible_characters_and_names_invisible_ones() {
        assert_eq!(describe_char('ä'), "`ä` (U+00E4)");
        assert_eq!(describe_char('\0'), "U+0000");
        assert_eq!(describe_char('\u{200B}'), "U+200B");
        assert_eq!(describe_char('\u{3000}'), "U+3000");
    }
}
