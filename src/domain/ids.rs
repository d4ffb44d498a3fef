//! Prefixed identifiers over UUIDv7: `cu_`, `evt_`, `we_`, `atmpt_`, `acct_`, `key_`.
//! UUIDv7 sorts by creation time, which is what keyset pagination relies on.

use std::fmt;

use uuid::Uuid;

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub Uuid);

        const _: () = assert!($prefix.len() <= PrefixedText::LONGEST_PREFIX);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh id; UUIDv7 keeps ids made by one process in creation order.
            pub fn generate() -> Self {
                $name(Uuid::now_v7())
            }

            /// Accepts the prefixed form or the bare hyphenated uuid, in any letter case.
            pub fn parse(text: &str) -> Option<Self> {
                let bare = strip_prefix_ignore_case(text, $prefix).unwrap_or(text);
                parse_hyphenated(bare).map($name)
            }

            pub fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(PrefixedText::new($prefix, self.0).as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(PrefixedText::new($prefix, self.0).as_str())
            }
        }
    };
}

prefixed_id!(
    /// A customer: `cu_` + UUIDv7.
    CustomerId,
    "cu_"
);
prefixed_id!(
    /// An event: `evt_` + UUIDv7.
    EventId,
    "evt_"
);
prefixed_id!(
    /// A webhook endpoint: `we_` + UUIDv7.
    WebhookEndpointId,
    "we_"
);
prefixed_id!(
    /// One attempt to deliver an event to a webhook endpoint: `atmpt_` + UUIDv7.
    WebhookAttemptId,
    "atmpt_"
);
prefixed_id!(
    /// An account (one rental business): `acct_` + UUIDv7.
    AccountId,
    "acct_"
);
prefixed_id!(
    /// An API key's public id (never the secret): `key_` + UUIDv7.
    ApiKeyId,
    "key_"
);

/// An id's text on the stack: every response carries ids, and going through the formatting
/// machinery for each cost more than writing the rest of the object.
struct PrefixedText {
    bytes: [u8; PrefixedText::CAPACITY],
    len: usize,
}

impl PrefixedText {
    const LONGEST_PREFIX: usize = "atmpt_".len();
    const CAPACITY: usize = PrefixedText::LONGEST_PREFIX + uuid::fmt::Hyphenated::LENGTH;

    fn new(prefix: &'static str, id: Uuid) -> PrefixedText {
        let mut bytes = [0; PrefixedText::CAPACITY];
        let start = prefix.len();
        bytes[..start].copy_from_slice(prefix.as_bytes());
        let written = id.hyphenated().encode_lower(&mut bytes[start..]).len();
        PrefixedText {
            bytes,
            len: start + written,
        }
    }

    fn as_str(&self) -> &str {
        // Both parts are ASCII: the prefixes are literals and the uuid is hex and hyphens.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// Only the 36-character hyphenated form; braces, urns and the simple form are not ids here.
fn parse_hyphenated(text: &str) -> Option<Uuid> {
    if text.len() != 36 {
        return None;
    }
    Uuid::try_parse(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixed_and_bare_forms_parse_to_the_same_id() {
        let id = CustomerId::generate();
        let text = id.to_string();
        assert!(text.starts_with("cu_"));
        assert_eq!(CustomerId::parse(&text), Some(id));
        assert_eq!(CustomerId::parse(&text[3..]), Some(id));
        assert_eq!(CustomerId::parse(&text.to_uppercase()), Some(id));
    }

    #[test]
    fn every_kind_of_id_serializes_as_its_prefix_and_the_lowercase_uuid() {
        let uuid = Uuid::parse_str("0193A6F2-7C1E-7B3A-9F00-4A2B3C4D5E6F").unwrap();
        let tail = "0193a6f2-7c1e-7b3a-9f00-4a2b3c4d5e6f";
        let shown = [
            serde_json::to_string(&CustomerId(uuid)).unwrap(),
            serde_json::to_string(&EventId(uuid)).unwrap(),
            serde_json::to_string(&WebhookEndpointId(uuid)).unwrap(),
            serde_json::to_string(&WebhookAttemptId(uuid)).unwrap(),
            serde_json::to_string(&AccountId(uuid)).unwrap(),
            serde_json::to_string(&ApiKeyId(uuid)).unwrap(),
        ];
        let expected = ["cu_", "evt_", "we_", "atmpt_", "acct_", "key_"]
            .map(|prefix| format!("\"{prefix}{tail}\""));
        assert_eq!(shown, expected);
        assert_eq!(WebhookAttemptId(uuid).to_string(), format!("atmpt_{tail}"));
    }

    #[test]
    fn other_shapes_are_not_ids() {
        for text in [
            "",
            "cu_",
            "cu_123",
            "evt_0193a6f2-7c1e-7b3a-9f00-4a2b3c4d5e6f",
            "💥💥💥",
        ] {
            assert_eq!(CustomerId::parse(text), None, "{text}");
        }
        assert_eq!(CustomerId::parse("0193a6f27c1e7b3a9f004a2b3c4d5e6f"), None);
    }

    #[test]
    fn ids_made_one_after_another_sort_in_creation_order() {
        let ids: Vec<_> = (0..1000).map(|_| CustomerId::generate()).collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
    }
}
