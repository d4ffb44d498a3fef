//! libphonenumber's validity check (`PhoneNumber::is_valid`), run over the library's own
//! metadata with each pattern compiled once, for ASCII digits, the first time its region is
//! asked about.
//!
//! Why not call `is_valid`: the library keeps its compiled patterns in one shared LRU cache of
//! 100, keyed by pattern text. Every match hashes the pattern (up to 2 KB for the US) under a
//! mutex, which was a tenth of a write's CPU, and numbers from more than a few countries evict
//! each other, so each costs a recompile of about 0.7 ms. Compiled with Unicode classes, every
//! pattern of every region takes about 130 MB; for ASCII, which is all a screened number
//! holds, about 13 MB, and only regions in use are compiled. A property test holds the answer
//! equal to `is_valid` for every region.

use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock};

use phonenumber::metadata::{DATABASE, Descriptor, Metadata};
use phonenumber::{PhoneNumber, country};
use regex::{Regex, RegexBuilder};

/// Whether libphonenumber holds `number` valid: its region is found and the national number
/// matches the region's general pattern and at least one number type.
pub fn is_valid(number: &PhoneNumber) -> bool {
    let national = number.national().to_string();
    // A pattern the ASCII build refuses (none does today) leaves the answer to the library.
    judge(number.code().value(), &national).unwrap_or_else(|| number.is_valid())
}

/// `None` when a pattern on the way did not compile.
fn judge(code: u16, national: &str) -> Option<bool> {
    match region_for(code, national)? {
        Some(meta) => Some(rules(meta)?.has_type(national)),
        None => Some(false),
    }
}

/// The region whose rules apply, as the library's `validator::source_for` picks it: the only
/// region of the calling code, or the first of several whose leading digits match (or, having
/// none, whose types match). The outer `None` is a pattern that did not compile.
fn region_for(code: u16, national: &str) -> Option<Option<&'static Metadata>> {
    let database = &*DATABASE;
    let Some(regions) = database.region(&code) else {
        return Some(None);
    };
    if let [only] = regions[..] {
        if only == "001" {
            return Some(
                database
                    .by_code(&code)
                    .and_then(|metas| metas.into_iter().next()),
            );
        }
        let id = only.parse::<country::Id>().ok();
        return Some(id.and_then(|id| database.by_id(id.as_ref())));
    }
    for region in regions {
        let Some(meta) = database.by_id(region) else {
            return Some(None);
        };
        let rules = rules(meta)?;
        let found = match &rules.leading_digits {
            Some(leading) => leading.is_match(national),
            None => rules.has_type(national),
        };
        if found {
            return Some(region.parse::<country::Id>().ok().and(Some(meta)));
        }
    }
    Some(None)
}

/// One region's patterns, anchored at the start as the library reads a match (a match that
/// starts at the first digit).
struct Rules {
    general: Pattern,
    types: Vec<Pattern>,
    leading_digits: Option<Regex>,
}

impl Rules {
    fn compile(meta: &'static Metadata) -> Option<Rules> {
        let leading_digits = match meta.leading_digits() {
            Some(pattern) => Some(anchored(pattern.as_str())?),
            None => None,
        };
        Some(Rules {
            general: Pattern::compile(meta.descriptors().general())?,
            types: number_types(meta)
                .map(Pattern::compile)
                .collect::<Option<_>>()?,
            leading_digits,
        })
    }

    /// The library's `number_type(..) != Unknown`.
    fn has_type(&self, national: &str) -> bool {
        self.general.matches(national) && self.types.iter().any(|kind| kind.matches(national))
    }
}

/// A descriptor: its possible lengths, when it lists any, and its pattern.
struct Pattern {
    lengths: &'static [u16],
    regex: Regex,
}

impl Pattern {
    fn compile(descriptor: &'static Descriptor) -> Option<Pattern> {
        Some(Pattern {
            lengths: descriptor.possible_length(),
            regex: anchored(descriptor.national_number().as_str())?,
        })
    }

    fn matches(&self, national: &str) -> bool {
        let length_fits = self.lengths.is_empty()
            || u16::try_from(national.len()).is_ok_and(|len| self.lengths.contains(&len));
        length_fits && self.regex.is_match(national)
    }
}

/// The metadata's patterns are written with whitespace for reading, as the library builds them.
fn anchored(pattern: &str) -> Option<Regex> {
    RegexBuilder::new(&format!("^(?:{pattern})"))
        .ignore_whitespace(true)
        .unicode(false)
        .build()
        .ok()
}

/// The descriptors of the number types a valid number must match one of.
fn number_types(meta: &'static Metadata) -> impl Iterator<Item = &'static Descriptor> {
    let descriptors = meta.descriptors();
    [
        descriptors.premium_rate(),
        descriptors.toll_free(),
        descriptors.shared_cost(),
        descriptors.voip(),
        descriptors.personal_number(),
        descriptors.pager(),
        descriptors.uan(),
        descriptors.voicemail(),
        descriptors.fixed_line(),
        descriptors.mobile(),
    ]
    .into_iter()
    .flatten()
}

/// Every metadata entry: by region, and by calling code for the non-geographic entries that
/// share the region id `001`.
fn every_metadata() -> impl Iterator<Item = &'static Metadata> {
    let database = &*DATABASE;
    let by_code = (1..1000u16).filter_map(|code| database.by_code(&code));
    database.iter().chain(by_code.flatten())
}

/// Each region's rules, compiled on first use. Keyed by the metadata's address: several
/// non-geographic entries share the region id `001`.
static RULES: LazyLock<HashMap<usize, OnceLock<Option<Rules>>>> = LazyLock::new(|| {
    every_metadata()
        .map(|meta| (address(meta), OnceLock::new()))
        .collect()
});

fn rules(meta: &'static Metadata) -> Option<&'static Rules> {
    RULES
        .get(&address(meta))?
        .get_or_init(|| Rules::compile(meta))
        .as_ref()
}

fn address(meta: &Metadata) -> usize {
    std::ptr::from_ref(meta) as usize
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Every region's example numbers of every type, as `+code national`.
    fn examples() -> Vec<String> {
        let mut numbers = Vec::new();
        for meta in every_metadata() {
            for example in number_types(meta).filter_map(Descriptor::example) {
                numbers.push(format!("+{}{example}", meta.country_code()));
            }
        }
        numbers
    }

    fn same_as_library(text: &str) -> Result<(), TestCaseError> {
        if let Ok(number) = phonenumber::parse(None, text) {
            prop_assert_eq!(is_valid(&number), number.is_valid(), "{}", text);
        }
        Ok(())
    }

    #[test]
    fn every_region_compiles_for_ascii() {
        let failed: Vec<&str> = every_metadata()
            .filter(|meta| rules(meta).is_none())
            .map(Metadata::id)
            .collect();
        assert!(
            failed.is_empty(),
            "regions whose patterns did not compile: {failed:?}"
        );
        assert!(RULES.len() > 240, "{} regions", RULES.len());
    }

    #[test]
    fn every_example_number_is_judged_as_the_library_judges_it() {
        let numbers = examples();
        assert!(numbers.len() > 1000, "{} examples", numbers.len());
        let mut valid = 0;
        for text in &numbers {
            same_as_library(text).unwrap();
            let number = phonenumber::parse(None, text).unwrap();
            valid += usize::from(is_valid(&number));
        }
        // The metadata's own examples are valid numbers; a handful the parser reads into
        // another region are not.
        assert!(
            valid * 100 > numbers.len() * 97,
            "{valid} of {} valid",
            numbers.len()
        );
    }

    #[test]
    fn example_numbers_with_a_digit_changed_are_judged_as_the_library_judges_them() {
        for text in examples() {
            for (at, digit) in text.char_indices().skip(2) {
                let other = if digit == '9' { '0' } else { '9' };
                let mut changed = text.clone();
                changed.replace_range(at..=at, &other.to_string());
                same_as_library(&changed).unwrap();
                let mut shorter = text.clone();
                shorter.remove(at);
                same_as_library(&shorter).unwrap();
            }
        }
    }

    proptest! {
        #[test]
        fn any_plus_number_is_judged_as_the_library_judges_it(text in "\\+[1-9][0-9]{3,15}") {
            same_as_library(&text)?;
        }

        #[test]
        fn nanp_numbers_are_judged_as_the_library_judges_them(text in "\\+1[2-9][0-9]{9}") {
            same_as_library(&text)?;
        }
    }
}
