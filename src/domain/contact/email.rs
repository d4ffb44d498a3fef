//! `email`: one addressable mailbox, checked by the `email_address` crate (RFC 5322), and the
//! folded form that the `?email=` filter compares.

use caseless::Caseless;
use email_address::{EmailAddress, Error as Syntax, Options};
use unicode_normalization::UnicodeNormalization;

use super::{describe_char, echo, is_invisible};

/// An email address that parsed as one addressable mailbox; stored as given (trimmed).
///
/// "Addressable" means mail could reach it across the public internet. On top of RFC 5322's
/// `addr-spec` syntax, checked by `email_address`, this refuses:
/// - a display name (`Jane <jane@example.com>`), several addresses or a group: one mailbox only;
/// - control characters (NUL above all), whitespace other than a space inside a quoted local
///   part, and invisible characters (zero-width, direction overrides), which disguise an address;
/// - an IP address in place of a domain (`jane@[192.0.2.1]`, `jane@192.0.2.1`): public mail is
///   routed by domain name, and mainstream providers refuse such addresses;
/// - a domain without a dot (`jane@localhost`), reachable only inside one network;
/// - ASCII other than letters, digits, hyphens and dots in the domain (`jane@ex_ample.com`),
///   which no host name can hold;
/// - more than 64 bytes before the `@` (RFC 5321) or 254 bytes in all.
///
/// It accepts `+` tags, quoted local parts (`"jane doe"@example.com`, valid under RFC 5321) and
/// internationalised addresses (`用户@例子.广告`, RFC 6531).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// The longest address in bytes: RFC 5321's path limit less its angle brackets.
    pub const MAX_BYTES: usize = 254;

    /// Checks `raw`, trimmed, as one addressable mailbox; the error says what to send instead.
    pub fn parse(raw: &str) -> Result<Email, String> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(
                "`email` is empty; send an address such as `jane@example.com`, or `null` for none."
                    .to_owned(),
            );
        }
        if text.len() > Self::MAX_BYTES {
            return Err(format!(
                "`email` must be at most {} bytes; this one has {}.",
                Self::MAX_BYTES,
                text.len()
            ));
        }
        if let Some(c) = text.chars().find(|&c| is_disguising(c)) {
            return Err(format!(
                "`email` must not contain control, invisible or unusual space characters; \
                 found {}.",
                describe_char(c)
            ));
        }

        let options = Options::default()
            .without_display_text()
            .without_domain_literal();
        let address = EmailAddress::parse_with_options(text, options)
            .map_err(|error| syntax_message(text, error))?;
        check_domain(address.domain())?;
        Ok(Email(text.to_owned()))
    }

    /// The address as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address as stored, by value.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// The form emails are compared in, done in Rust so every database answers the same: Unicode
/// canonical caseless matching (NFD, then default case folding), kept in NFC.
///
/// Full folding makes `STRASSE@x.de`, `straße@x.de` and `strasse@x.de` one key: `ß` upper-cases
/// to `SS`, so telling them apart would not ignore letter case. The price is that IDNA 2008's
/// distinct domains `straße.de` and `strasse.de` meet in one filter, which is harmless because
/// a filter may find several customers anyway. Composed and decomposed accents fold alike.
pub fn fold_email(text: &str) -> String {
    let text = text.trim();
    // For ASCII, decomposition and composition change nothing and folding is lowercasing; the
    // full path cost about a seventh of a list-by-email request.
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    full_fold(text)
}

fn full_fold(text: &str) -> String {
    text.chars().nfd().default_case_fold().nfc().collect()
}

/// Characters no addressable mailbox holds, whatever the syntax allows around them.
fn is_disguising(c: char) -> bool {
    c.is_control() || is_invisible(c) || (c.is_whitespace() && c != ' ')
}

/// The message for input the RFC 5322 parser refused, recognising the usual mistakes first.
fn syntax_message(text: &str, error: Syntax) -> String {
    if let Some(inner) = bracketed_address(text) {
        return format!(
            "`email` takes the address alone, without a display name or angle brackets: \
             send {}.",
            echo(inner)
        );
    }
    if is_several(text) {
        return "`email` takes exactly one address; lists and groups of addresses are refused."
            .to_owned();
    }
    match error {
        Syntax::MissingSeparator => format!(
            "`email` must contain `@`, as in `jane@example.com`; {} has none.",
            echo(text)
        ),
        Syntax::LocalPartEmpty => "`email` has nothing before the `@`.".to_owned(),
        Syntax::LocalPartTooLong => {
            "The part of `email` before the `@` must be at most 64 bytes.".to_owned()
        }
        Syntax::DomainEmpty => "`email` has no domain after the `@`.".to_owned(),
        Syntax::SubDomainTooLong => {
            "Each part of the `email` domain between dots must be at most 63 bytes.".to_owned()
        }
        Syntax::UnsupportedDomainLiteral => ip_domain_message(),
        _ if text.contains(' ') && !text.contains('"') => {
            format!("`email` must not contain spaces; {} does.", echo(text))
        }
        _ => format!(
            "{} is not a valid `email`; send one address such as `jane@example.com`.",
            echo(text)
        ),
    }
}

/// The address inside `Name <address>` or `<address>`.
fn bracketed_address(text: &str) -> Option<&str> {
    let without_end = text.strip_suffix('>')?;
    let (_, inner) = without_end.rsplit_once('<')?;
    Some(inner.trim())
}

/// Whether the text looks like a list (`a@x.com, b@x.com`) or a group (`team: a@x.com;`).
fn is_several(text: &str) -> bool {
    let is_list = text.matches('@').count() > 1 && text.contains([',', ';', ' ']);
    let is_group = text.contains(':') && text.ends_with(';');
    is_list || is_group
}

/// Rules for the part after the `@` that RFC 5322 alone lets through.
fn check_domain(domain: &str) -> Result<(), String> {
    let is_host_char = |c: char| !c.is_ascii() || c.is_ascii_alphanumeric() || "-.".contains(c);
    if let Some(c) = domain.chars().find(|&c| !is_host_char(c)) {
        return Err(format!(
            "The `email` domain can hold only letters, digits, hyphens and dots; found {}.",
            describe_char(c)
        ));
    }
    let Some((_, top_level)) = domain.rsplit_once('.') else {
        return Err(format!(
            "`email` needs a full domain such as `example.com`; {} has no dot.",
            echo(domain)
        ));
    };
    if top_level.chars().all(|c| c.is_ascii_digit()) {
        return Err(ip_domain_message());
    }
    Ok(())
}

fn ip_domain_message() -> String {
    "`email` must use a domain name after the `@`, not an IP address.".to_owned()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn refusal(raw: &str) -> String {
        Email::parse(raw).expect_err(raw)
    }

    #[test]
    fn an_address_is_stored_as_given_once_trimmed() {
        let email = Email::parse("  Jane.Doe+rentals@Example.COM \n").unwrap();
        assert_eq!(email.as_str(), "Jane.Doe+rentals@Example.COM");
    }

    #[test]
    fn quoted_internationalised_and_deep_addresses_are_accepted() {
        for raw in [
            "\"jane doe\"@example.com",
            "用户@例子.广告",
            "josé@correo.es",
            "a@mail.ex-ample.co.uk",
            "x@example.museum",
        ] {
            assert_eq!(Email::parse(raw).unwrap().into_string(), raw);
        }
    }

    #[test]
    fn a_display_name_is_refused_with_the_bare_address_suggested() {
        let message = refusal("Jane Doe <jane@example.com>");
        assert!(message.contains("without a display name"), "{message}");
        assert!(message.contains("send `jane@example.com`"), "{message}");
        assert!(refusal("<jane@example.com>").contains("send `jane@example.com`"));
    }

    #[test]
    fn lists_and_groups_of_addresses_are_refused() {
        for raw in [
            "a@example.com, b@example.com",
            "a@example.com;b@example.com",
            "a@example.com b@example.com",
            "team: a@example.com, b@example.com;",
            "undisclosed-recipients:;",
        ] {
            assert!(refusal(raw).contains("exactly one address"), "{raw}");
        }
    }

    #[test]
    fn control_invisible_and_unusual_space_characters_are_refused() {
        for (raw, named) in [
            ("jane\0@example.com", "U+0000"),
            ("jane\n@example.com", "U+000A"),
            ("\"jane\tdoe\"@example.com", "U+0009"),
            ("ja\u{200B}ne@example.com", "U+200B"),
            ("jane@exam\u{202E}ple.com", "U+202E"),
            ("jane\u{3000}doe@example.com", "U+3000"),
            ("jane\u{A0}doe@example.com", "U+00A0"),
        ] {
            let message = refusal(raw);
            assert!(message.contains(named), "{raw:?}: {message}");
        }
    }

    #[test]
    fn a_plain_space_is_refused_outside_quotes() {
        assert!(refusal("jane doe@example.com").contains("must not contain spaces"));
    }

    #[test]
    fn ip_addresses_in_place_of_a_domain_are_refused() {
        for raw in [
            "jane@[192.0.2.1]",
            "jane@[IPv6:2001:db8::1]",
            "jane@192.0.2.1",
        ] {
            assert!(refusal(raw).contains("not an IP address"), "{raw}");
        }
    }

    #[test]
    fn a_domain_without_a_dot_is_refused() {
        let message = refusal("jane@localhost");
        assert!(message.contains("`localhost` has no dot"), "{message}");
    }

    #[test]
    fn a_domain_with_characters_no_host_name_holds_is_refused() {
        assert!(refusal("jane@ex_ample.com").contains("found `_`"));
        assert!(refusal("jane@ex!ample.com").contains("found `!`"));
    }

    #[test]
    fn malformed_addresses_are_refused_with_a_reason() {
        for (raw, reason) in [
            ("jane.example.com", "must contain `@`"),
            ("@example.com", "nothing before the `@`"),
            ("jane@", "no domain after the `@`"),
            ("jane@example.com.", "is not a valid `email`"),
            ("jane@example..com", "is not a valid `email`"),
            ("jane..doe@example.com", "is not a valid `email`"),
            ("jane(work)@example.com", "is not a valid `email`"),
            ("   ", "`email` is empty"),
        ] {
            let message = refusal(raw);
            assert!(message.contains(reason), "{raw:?}: {message}");
        }
    }

    #[test]
    fn exactly_254_bytes_are_accepted_and_255_refused() {
        let domain = format!("{}.{}.", "b".repeat(63), "c".repeat(63));
        let longest = format!("{}@{domain}{}", "a".repeat(64), "d".repeat(61));
        assert_eq!(longest.len(), 254);
        assert!(Email::parse(&longest).is_ok());

        let too_long = format!("{}@{domain}{}", "a".repeat(64), "d".repeat(62));
        assert_eq!(
            refusal(&too_long),
            "`email` must be at most 254 bytes; this one has 255."
        );
    }

    #[test]
    fn the_local_part_is_limited_to_64_bytes_counting_multibyte_characters() {
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(64))).is_ok());
        let message = refusal(&format!("{}@example.com", "é".repeat(33)));
        assert!(message.contains("at most 64 bytes"), "{message}");
    }

    #[test]
    fn long_invalid_input_is_echoed_only_in_part() {
        let message = refusal(&"j".repeat(250));
        assert!(
            message.contains(&format!("`{}…`", "j".repeat(100))),
            "{message}"
        );
        assert!(message.len() < 250, "{message}");
    }

    #[test]
    fn folding_ignores_ascii_case_and_keeps_plus_tags() {
        assert_eq!(fold_email("A+B@Example.COM"), "a+b@example.com");
        assert_eq!(fold_email("  Jane@X.com "), "jane@x.com");
    }

    #[test]
    fn folding_treats_sharp_s_as_its_upper_case_ss() {
        assert_eq!(fold_email("STRASSE@x.de"), "strasse@x.de");
        assert_eq!(fold_email("straße@x.de"), "strasse@x.de");
        assert_eq!(fold_email("STRAẞE@x.de"), "strasse@x.de");
    }

    #[test]
    fn folding_handles_greek_sigma_and_cyrillic() {
        assert_eq!(fold_email("ΣΟΦΙΑ@x.gr"), fold_email("σοφια@x.gr"));
        assert_eq!(fold_email("σοφιας@x.gr"), fold_email("ΣΟΦΙΑΣ@x.gr"));
        assert_eq!(fold_email("ИВАН@пример.рф"), "иван@пример.рф");
    }

    #[test]
    fn folding_matches_composed_and_decomposed_accents() {
        let composed = fold_email("JOS\u{C9}@x.es");
        assert_eq!(composed, "jos\u{E9}@x.es");
        assert_eq!(fold_email("JOSE\u{301}@x.es"), composed);
    }

    #[test]
    fn folding_does_not_apply_turkish_rules() {
        assert_eq!(fold_email("İ@x.tr"), "i\u{307}@x.tr");
        assert_eq!(fold_email("I@x.tr"), "i@x.tr");
    }

    proptest! {
        #[test]
        fn any_input_gives_a_stored_address_or_a_short_message(raw in any::<String>()) {
            check_outcome(&raw)?;
        }

        #[test]
        fn address_like_input_gives_a_stored_address_or_a_short_message(
            raw in "[a-zA-Z0-9 .+_\"<>@,;:()\\\\\\[\\]ß\u{0}\u{200B}-]{0,80}"
        ) {
            check_outcome(&raw)?;
        }

        #[test]
        fn the_ascii_shortcut_folds_as_the_full_path_does(raw in "[\\x00-\\x7F]{0,80}") {
            prop_assert_eq!(fold_email(&raw), full_fold(raw.trim()));
        }

        #[test]
        fn folding_twice_changes_nothing_more(raw in any::<String>()) {
            let once = fold_email(&raw);
            prop_assert_eq!(fold_email(&once), once);
        }
    }

    fn check_outcome(raw: &str) -> Result<(), TestCaseError> {
        match Email::parse(raw) {
            Ok(email) => {
                prop_assert_eq!(email.as_str(), raw.trim());
                prop_assert!(email.as_str().len() <= Email::MAX_BYTES);
                prop_assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
            }
            Err(message) => {
                prop_assert!(message.contains("`email`"), "{}", message);
                prop_assert!(message.chars().count() <= 250, "{}", message);
            }
        }
        Ok(())
    }
}
