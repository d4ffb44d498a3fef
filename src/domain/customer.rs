//! The customer: its stored shape, the rules for its writable fields, and how a patch applies.

use serde::ser::{Serialize, SerializeStruct, Serializer};
use serde_json::{Map, Value};

use super::CustomerId;
use super::contact::{Email, Language, Phone};
use super::timestamp::Timestamp;

mod fields;

pub use fields::{
    FULL_NAME_MAX_CHARS, NOTES_MAX_CHARS, SOURCE_CHANNEL_MAX_CHARS, parse_full_name, parse_notes,
    parse_source_channel,
};

/// Score of a customer Renvo knows nothing about yet: neutral on the 0–100 scale.
pub const NEUTRAL_SCORE: f64 = 50.0;

/// A customer as stored and as every response and event shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Customer {
    pub id: CustomerId,
    pub livemode: bool,
    pub full_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub preferred_language: String,
    pub source_channel: Option<String>,
    pub notes: Option<String>,
    pub is_returning: bool,
    pub total_rentals: i64,
    pub overall_score: f64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Serialize for Customer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("Customer", 15)?;
        out.serialize_field("id", &self.id)?;
        out.serialize_field("object", "customer")?;
        out.serialize_field("livemode", &self.livemode)?;
        out.serialize_field("full_name", &self.full_name)?;
        out.serialize_field("email", &self.email)?;
        out.serialize_field("phone", &self.phone)?;
        out.serialize_field("preferred_language", &self.preferred_language)?;
        out.serialize_field("source_channel", &self.source_channel)?;
        out.serialize_field("notes", &self.notes)?;
        out.serialize_field("is_returning", &self.is_returning)?;
        out.serialize_field("total_rentals", &self.total_rentals)?;
        out.serialize_field("overall_score", &self.overall_score)?;
        out.serialize_field("created_at", &self.created_at)?;
        out.serialize_field("updated_at", &self.updated_at)?;
        out.end()
    }
}

/// Fields a client may never set; naming one is refused rather than ignored.
pub const READ_ONLY_FIELDS: &[&str] = &[
    "id",
    "object",
    "livemode",
    "is_returning",
    "total_rentals",
    "overall_score",
    "created_at",
    "updated_at",
];

/// A validated request to create a customer.
#[derive(Clone, Debug, PartialEq)]
pub struct NewCustomer {
    pub full_name: String,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub preferred_language: Language,
    pub source_channel: Option<String>,
    pub notes: Option<String>,
}

impl NewCustomer {
    /// The customer this request makes, with the server's starting values.
    pub fn into_customer(self, id: CustomerId, livemode: bool, now: Timestamp) -> Customer {
        Customer {
            id,
            livemode,
            full_name: self.full_name,
            email: self.email.map(Email::into_string),
            phone: self.phone.map(Phone::into_string),
            preferred_language: self.preferred_language.into_string(),
            source_channel: self.source_channel,
            notes: self.notes,
            is_returning: false,
            total_rentals: 0,
            overall_score: NEUTRAL_SCORE,
            created_at: now,
            updated_at: now,
        }
    }
}

/// A validated update: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CustomerPatch {
    pub full_name: Option<String>,
    pub email: Option<Option<Email>>,
    pub phone: Option<Option<Phone>>,
    /// `null` puts the language back to the default, `en`.
    pub preferred_language: Option<Language>,
    pub source_channel: Option<Option<String>>,
    pub notes: Option<Option<String>>,
}

/// What an update did: the customer afterwards and the old values of what changed.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomerChange {
    pub customer: Customer,
    pub previous_attributes: Map<String, Value>,
}

impl Customer {
    /// Applies a patch; `None` when it changes nothing, so no write and no event follow.
    pub fn apply(&self, patch: &CustomerPatch, now: Timestamp) -> Option<CustomerChange> {
        let mut next = self.clone();
        let mut previous = Map::new();

        if let Some(name) = &patch.full_name {
            swap(
                &mut next.full_name,
                name.clone(),
                "full_name",
                &mut previous,
            );
        }
        if let Some(email) = &patch.email {
            let value = email.as_ref().map(|e| e.as_str().to_owned());
            swap(&mut next.email, value, "email", &mut previous);
        }
        if let Some(phone) = &patch.phone {
            let value = phone.as_ref().map(|p| p.as_str().to_owned());
            swap(&mut next.phone, value, "phone", &mut previous);
        }
        if let Some(language) = &patch.preferred_language {
            let value = language.as_str().to_owned();
            swap(
                &mut next.preferred_language,
                value,
                "preferred_language",
                &mut previous,
            );
        }
        if let Some(channel) = &patch.source_channel {
            swap(
                &mut next.source_channel,
                channel.clone(),
                "source_channel",
                &mut previous,
            );
        }
        if let Some(notes) = &patch.notes {
            swap(&mut next.notes, notes.clone(), "notes", &mut previous);
        }

        if previous.is_empty() {
            return None;
        }
        next.updated_at = now.max(self.updated_at);
        Some(CustomerChange {
            customer: next,
            previous_attributes: previous,
        })
    }
}

fn swap<T>(slot: &mut T, value: T, field: &str, previous: &mut Map<String, Value>)
where
    T: PartialEq + Serialize,
{
    if *slot == value {
        return;
    }
    let old = std::mem::replace(slot, value);
    previous.insert(
        field.to_owned(),
        serde_json::to_value(old).unwrap_or(Value::Null),
    );
}
