//! Prefixed identifiers over UUIDv7: `cu_`, `evt_`, `we_`, `atmpt_`, `acct_`, `key_`.
//! UUIDv7 sorts by creation time, which is what keyset pagination relies on.

use std::fmt;

use uuid::Uuid;

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub Uuid);

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
                write!(f, "{}{}", $prefix, self.0.hyphenated())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
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
