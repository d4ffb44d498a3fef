//! `preferred_language`: a well-formed BCP 47 tag, parsed by ICU4X and kept in its canonical
//! spelling so equal tags compare equal.

use icu_locale_core::Locale;

use super::echo;

/// A well-formed BCP 47 language tag in its canonical spelling (`zh-Hant-TW`).
///
/// Well-formedness is ICU4X's reading of BCP 47, the Unicode locale identifier (UTS #35): a
/// language subtag, then optional script, region and variants, then extensions. So Unicode
/// and private-use extensions are accepted (`en-US-u-ca-buddhist`, `en-x-twain`), and so is
/// `und`; the legacy forms UTS #35 left out are refused: extended language subtags
/// (`zh-yue`: send `yue`), grandfathered tags (`i-klingon`) and bare private use (`x-foo`).
/// Underscores count as hyphens (`zh_CN` is `zh-CN`), as many platforms write them so.
/// Case is canonicalised, aliases are not: `iw` stays `iw`, not `he`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Language(String);

impl Language {
    /// Longer than any tag a person would choose, short enough to keep rows small.
    pub const MAX_CHARS: usize = 64;

    /// Checks `raw`, trimmed, and returns it canonically spelled; the error suggests tags.
    pub fn parse(raw: &str) -> Result<Language, String> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(
                "`preferred_language` is empty; send a BCP 47 tag such as `en` or \
                        `zh-Hant-TW`, or `null` for the default, `en`."
                    .to_owned(),
            );
        }
        if text.chars().count() > Self::MAX_CHARS {
            return Err(format!(
                "`preferred_language` must be at most {} characters.",
                Self::MAX_CHARS
            ));
        }

        let hyphenated = text.replace('_', "-");
        let locale = Locale::try_from_str(&hyphenated).map_err(|_| {
            format!(
                "`preferred_language` {} is not a well-formed BCP 47 language tag; send one \
                 such as `en`, `es-419` or `zh-Hant-TW`.",
                echo(text)
            )
        })?;
        Ok(Language(locale.to_string()))
    }

    /// The tag a customer has until told otherwise.
    pub fn default_tag() -> Language {
        Language("en".to_owned())
    }

    /// The tag as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tag as stored, by value.
    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn stored(raw: &str) -> String {
        Language::parse(raw)
            .unwrap_or_else(|m| panic!("{raw:?}: {m}"))
            .into_string()
    }

    #[test]
    fn tags_are_stored_in_canonical_case() {
        for (raw, canonical) in [
            ("zh-hant-tw", "zh-Hant-TW"),
            ("ZH-HANT-TW", "zh-Hant-TW"),
            ("EN-us", "en-US"),
            (" en ", "en"),
        ] {
            assert_eq!(stored(raw), canonical, "{raw:?}");
        }
    }

    #[test]
    fn underscores_are_read_as_hyphens() {
        assert_eq!(stored("zh_CN"), "zh-CN");
        assert_eq!(stored("sr_latn_rs"), "sr-Latn-RS");
    }

    #[test]
    fn scripts_numeric_regions_and_variants_are_fine() {
        for tag in [
            "en",
            "sr-Latn-RS",
            "es-419",
            "de-DE-1996",
            "yue",
            "und",
            "fil-PH",
        ] {
            assert_eq!(stored(tag), tag);
        }
    }

    #[test]
    fn unicode_and_private_use_extensions_are_accepted_in_canonical_order() {
        assert_eq!(stored("en-US-u-ca-buddhist"), "en-US-u-ca-buddhist");
        assert_eq!(
            stored("th-u-nu-thai-ca-buddhist"),
            "th-u-ca-buddhist-nu-thai"
        );
        assert_eq!(stored("en-x-twain"), "en-x-twain");
    }

    #[test]
    fn malformed_tags_are_refused_naming_the_field() {
        for raw in [
            "en-",
            "12",
            "x",
            "x-private",
            "e",
            "english",
            "en--US",
            "zh-yue",
            "i-klingon",
            "en US",
            "fr-",
            "-en",
            "ру",
        ] {
            let message = Language::parse(raw).expect_err(raw);
            assert!(
                message.starts_with(&format!("`preferred_language` `{raw}` is not")),
                "{raw:?}: {message}"
            );
        }
    }

    #[test]
    fn empty_and_over_long_tags_are_refused() {
        assert!(Language::parse("  ").unwrap_err().contains("is empty"));

        let longest = format!("en-x-{}-abcde", ["abcdefgh"; 6].join("-"));
        assert_eq!(longest.len(), 64);
        assert_eq!(stored(&longest), longest);

        let too_long = format!("{longest}f");
        assert_eq!(
            Language::parse(&too_long),
            Err("`preferred_language` must be at most 64 characters.".to_owned())
        );
    }

    proptest! {
        #[test]
        fn any_input_gives_a_canonical_tag_or_a_short_message(raw in any::<String>()) {
            check_outcome(&raw)?;
        }

        #[test]
        fn tag_like_input_gives_a_canonical_tag_or_a_short_message(
            raw in "[a-zA-Z0-9_-]{0,70}"
        ) {
            check_outcome(&raw)?;
        }
    }

    fn check_outcome(raw: &str) -> Result<(), TestCaseError> {
        match Language::parse(raw) {
            Ok(language) => {
                prop_assert!(language.as_str().chars().count() <= Language::MAX_CHARS);
                prop_assert_eq!(Language::parse(language.as_str()), Ok(language.clone()));
            }
            Err(message) => {
                prop_assert!(message.contains("`preferred_language`"), "{}", message);
                prop_assert!(message.chars().count() <= 250, "{}", message);
            }
        }
        Ok(())
    }
}
