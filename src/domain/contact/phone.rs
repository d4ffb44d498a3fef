//! `phone`: an international number valid under libphonenumber's rules, stored as E.164.
//! Input is screened here first, so the parser only ever sees `+` and at most 17 digits.

use phonenumber::{Mode, ParseError};

use super::{describe_char, echo};

/// E.164's limit, country code included.
const E164_MAX_DIGITS: usize = 15;

/// A phone number valid under libphonenumber's rules, kept in E.164 (`+14155550100`).
///
/// Accepted: a `+`, the country code and the number, with spaces, dashes, dots and brackets
/// anywhere after the `+` (`+1 (415) 555-0100`, `+44 (0)20 7946 0958`); they are dropped.
/// Refused, each with the E.164 form to send where it can be worked out:
/// - a number without `+`: a national one (`(415) 555-0100`) names no country, and one with
///   the international prefix (`0044 20 7946 0958`) is answered with `+442079460958`;
/// - an extension (`ext. 5`, `x5`, `;ext=5`, `#5`): E.164 has no place for it;
/// - letters, non-ASCII digits, a second `+`, unbalanced brackets, over 40 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// Room for 15 digits and generous punctuation; anything longer is not a phone number.
    pub const MAX_CHARS: usize = 40;

    /// The most digits handed to libphonenumber: E.164's 15 plus a bracketed trunk prefix.
    const MAX_PARSED_DIGITS: usize = 17;

    /// Checks `raw`, trimmed, and returns it in E.164; the error says what to send instead.
    pub fn parse(raw: &str) -> Result<Phone, String> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(
                "`phone` is empty; send a number such as `+14155550100`, or `null` for none."
                    .to_owned(),
            );
        }
        if text.chars().count() > Self::MAX_CHARS {
            return Err(format!(
                "`phone` must be at most {} characters; E.164 numbers have at most 15 digits.",
                Self::MAX_CHARS
            ));
        }
        if let Some((number, _)) = split_extension(text) {
            return Err(extension_message(number));
        }

        let digits = international_digits(text)?;
        e164(&digits)
            .map(Phone)
            .map_err(|problem| format!("`phone` {} {problem}", echo(text)))
    }

    /// The number as stored, in E.164.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number as stored, by value.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Splits `+1 415 555 0100 ext. 5` into the number and the extension's digits.
fn split_extension(text: &str) -> Option<(&str, &str)> {
    let lower = text.to_ascii_lowercase();
    let start = lower.find(['e', 'x', ';', '#'])?;
    let marker = lower[start..].trim_end_matches(|c: char| c.is_ascii_digit());
    let extension = &text[start + marker.len()..];
    let known = [";ext=", "ext.", "ext", "extension", "x", "#"];

    let is_marker = known.contains(&marker.trim_end_matches([' ', ':']));
    let is_number = !extension.is_empty() && extension.len() <= 8;
    (is_marker && is_number).then(|| (text[..start].trim_end(), extension))
}

fn extension_message(number: &str) -> String {
    let number = international_digits(number)
        .ok()
        .and_then(|digits| e164(&digits).ok());
    let hint = match number {
        Some(e164) => format!("send the number alone as `{e164}`"),
        None => "send the number alone in E.164 form, such as `+14155550100`".to_owned(),
    };
    format!("`phone` must not include an extension; {hint}. Extensions are not stored.")
}

/// The digits of a `+`-prefixed number, or a message saying how to write it that way.
fn international_digits(text: &str) -> Result<String, String> {
    if let Some(c) = text.chars().find(|&c| !is_phone_char(c)) {
        return Err(unexpected_char_message(c));
    }
    if text.matches('+').count() > 1 || text.contains('+') && !text.starts_with('+') {
        return Err("`phone` may contain `+` only once, at the start.".to_owned());
    }
    let Some(rest) = text.strip_prefix('+') else {
        return Err(without_plus_message(text));
    };
    if !has_balanced_brackets(rest) {
        return Err(format!("`phone` {} has unbalanced brackets.", echo(text)));
    }

    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return Err(
            "`phone` has no digits after the `+`; send a number such as `+14155550100`.".to_owned(),
        );
    }
    if digits.len() > Phone::MAX_PARSED_DIGITS {
        return Err("`phone` has too many digits; E.164 numbers have at most 15.".to_owned());
    }
    Ok(digits)
}

fn is_phone_char(c: char) -> bool {
    c.is_ascii_digit() || "+ -.()".contains(c)
}

fn unexpected_char_message(c: char) -> String {
    if c.is_numeric() {
        return format!(
            "`phone` must use the digits 0-9; found {}.",
            describe_char(c)
        );
    }
    format!(
        "`phone` may contain only digits, a leading `+`, spaces, dashes, dots and brackets; \
         found {}.",
        describe_char(c)
    )
}

/// Brackets may group digits, as in `(415)`, but not nest or stand open.
fn has_balanced_brackets(text: &str) -> bool {
    let mut open = false;
    for c in text.chars() {
        match (c, open) {
            ('(', false) => open = true,
            (')', true) => open = false,
            ('(' | ')', _) => return false,
            _ => {}
        }
    }
    !open
}

/// A number written without `+`: the international prefix `00` can be turned into E.164, a
/// national number cannot, as it names no country.
fn without_plus_message(text: &str) -> String {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let converted = digits
        .strip_prefix("00")
        .filter(|rest| rest.len() <= Phone::MAX_PARSED_DIGITS)
        .and_then(|rest| e164(rest).ok());
    match converted {
        Some(e164) => format!(
            "`phone` must start with `+` in place of the international prefix `00`: \
             send `{e164}`."
        ),
        None => format!(
            "`phone` must be in international E.164 form, such as `+14155550100`: \
             add `+` and the country code to {}.",
            echo(text)
        ),
    }
}

/// Asks libphonenumber about `+digits`; on success the E.164 form, else what is wrong.
fn e164(digits: &str) -> Result<String, &'static str> {
    let number = phonenumber::parse(None, format!("+{digits}")).map_err(|error| match error {
        ParseError::InvalidCountryCode => "does not start with a known country code.",
        ParseError::TooShortNsn | ParseError::TooShortAfterIdd => "is too short.",
        ParseError::TooLong => "is too long.",
        _ => "is not a phone number.",
    })?;
    if !super::phone_rules::is_valid(&number) {
        return Err("is not a valid number for its country; check the digits.");
    }
    let e164 = number.format().mode(Mode::E164).to_string();
    if e164.len() > 1 + E164_MAX_DIGITS {
        // libphonenumber allows some German numbers longer than E.164 itself does.
        return Err("is longer than the 15 digits E.164 allows.");
    }
    Ok(e164)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn stored(raw: &str) -> String {
        Phone::parse(raw)
            .unwrap_or_else(|m| panic!("{raw:?}: {m}"))
            .into_string()
    }

    fn refusal(raw: &str) -> String {
        Phone::parse(raw).expect_err(raw)
    }

    #[test]
    fn punctuation_after_the_plus_is_dropped() {
        for raw in [
            "+14155550100",
            "  +14155550100 ",
            "+1 (415) 555-0100",
            "+1.415.555.0100",
            "+1-415-555-0100",
            "+ 1 415 555 0100",
        ] {
            assert_eq!(stored(raw), "+14155550100", "{raw:?}");
        }
    }

    #[test]
    fn other_countries_and_a_bracketed_trunk_prefix_are_understood() {
        assert_eq!(stored("+44 20 7946 0958"), "+442079460958");
        assert_eq!(stored("+44 (0)20 7946 0958"), "+442079460958");
        assert_eq!(stored("+33 1 42 68 53 00"), "+33142685300");
    }

    #[test]
    fn the_numbers_the_benchmark_uses_are_valid() {
        for raw in [
            "+14152000000",
            "+14152211000",
            "+14153110000",
            "+14153999999",
        ] {
            assert_eq!(stored(raw), raw);
        }
        for exchange in (200..400).step_by(7) {
            let raw = format!("+1415{exchange}{:04}", exchange * 37 % 10_000);
            assert_eq!(stored(&raw), raw);
        }
    }

    #[test]
    fn a_national_number_is_refused_with_the_e164_form_shown() {
        let message = refusal("(415) 555-0100");
        assert_eq!(
            message,
            "`phone` must be in international E.164 form, such as `+14155550100`: \
             add `+` and the country code to `(415) 555-0100`."
        );
    }

    #[test]
    fn the_international_prefix_00_is_refused_with_the_converted_number() {
        assert_eq!(
            refusal("0044 20 7946 0958"),
            "`phone` must start with `+` in place of the international prefix `00`: \
             send `+442079460958`."
        );
        assert!(refusal("00 999 1234").contains("add `+` and the country code"));
    }

    #[test]
    fn an_extension_is_refused_with_the_number_alone_shown() {
        for raw in [
            "+1 415 555 0100 ext. 5",
            "+1 415 555 0100 ext 5",
            "+1 415 555 0100 EXT 5",
            "+1 415 555 0100 extension 5",
            "+1 415 555 0100 x5",
            "+14155550100;ext=5",
            "+1 415 555 0100 #5",
        ] {
            assert_eq!(
                refusal(raw),
                "`phone` must not include an extension; send the number alone as \
                 `+14155550100`. Extensions are not stored.",
                "{raw:?}"
            );
        }
        assert!(refusal("(415) 555-0100 x5").contains("such as `+14155550100`"));
    }

    #[test]
    fn letters_and_other_scripts_digits_are_refused() {
        assert!(refusal("+1 415 CALL NOW").contains("found `C` (U+0043)"));
        assert!(refusal("tel:+14155550100").contains("found `t`"));
        assert!(refusal("+١٤١٥٥٥٥٠١٠٠").contains("must use the digits 0-9"));
        assert!(refusal("＋14155550100").contains("found `＋` (U+FF0B)"));
        assert!(refusal("+1\u{0}4155550100").contains("found U+0000"));
    }

    #[test]
    fn malformed_plus_numbers_are_refused_with_a_reason() {
        for (raw, reason) in [
            ("+", "no digits after the `+`"),
            ("+ ( )", "no digits after the `+`"),
            ("1+4155550100", "`+` only once, at the start"),
            ("++14155550100", "`+` only once, at the start"),
            ("+1 (415 555 0100", "unbalanced brackets"),
            ("+1 ((415)) 555 0100", "unbalanced brackets"),
            ("+999 123456789", "does not start with a known country code"),
            ("+1 415 555 010", "is not a valid number for its country"),
            ("+123456789012345678", "too many digits"),
            (
                "+4921000000000000",
                "longer than the 15 digits E.164 allows",
            ),
            ("", "`phone` is empty"),
        ] {
            let message = refusal(raw);
            assert!(message.contains(reason), "{raw:?}: {message}");
        }
    }

    #[test]
    fn very_long_input_is_refused_without_being_echoed() {
        let message = refusal(&format!("+1{}", "0".repeat(10_000)));
        assert_eq!(
            message,
            "`phone` must be at most 40 characters; E.164 numbers have at most 15 digits."
        );
    }

    proptest! {
        #[test]
        fn any_input_gives_e164_or_a_short_message(raw in any::<String>()) {
            check_outcome(&raw)?;
        }

        #[test]
        fn number_like_input_gives_e164_or_a_short_message(
            raw in "[+0123456789 ()\\-.x;=ext#]{0,45}"
        ) {
            check_outcome(&raw)?;
        }

        #[test]
        fn plus_and_digits_give_e164_or_a_short_message(raw in "\\+[0-9]{0,20}") {
            check_outcome(&raw)?;
        }
    }

    fn check_outcome(raw: &str) -> Result<(), TestCaseError> {
        match Phone::parse(raw) {
            Ok(phone) => {
                let digits = &phone.as_str()[1..];
                prop_assert!(phone.as_str().starts_with('+'));
                prop_assert!((2..=15).contains(&digits.len()), "{}", phone.as_str());
                prop_assert!(digits.chars().all(|c| c.is_ascii_digit()));
                prop_assert_eq!(Phone::parse(phone.as_str()), Ok(phone.clone()));
            }
            Err(message) => {
                prop_assert!(message.contains("`phone`"), "{}", message);
                prop_assert!(message.chars().count() <= 250, "{}", message);
            }
        }
        Ok(())
    }
}
