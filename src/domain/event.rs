//! Events: the record of a change, rendered once when it is made so that every read and every
//! webhook attempt carries the same bytes.

use serde::Serialize;
use serde_json::{Map, Value};

use super::customer::{Customer, CustomerChange};
use super::timestamp::Timestamp;
use super::{EventId, Mode};

/// Every event type the server records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    CustomerCreated,
    CustomerUpdated,
}

impl EventType {
    pub const ALL: [EventType; 2] = [EventType::CustomerCreated, EventType::CustomerUpdated];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::CustomerCreated => "customer.created",
            EventType::CustomerUpdated => "customer.updated",
        }
    }

    pub fn parse(text: &str) -> Option<EventType> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// An event as stored: its keys for lookup and its JSON, fixed at creation.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub id: EventId,
    pub event_type: EventType,
    pub created: Timestamp,
    pub payload: String,
}

impl Event {
    pub fn customer_created(customer: &Customer, mode: Mode) -> Event {
        Self::render(EventType::CustomerCreated, customer, mode, None)
    }

    pub fn customer_updated(change: &CustomerChange, mode: Mode) -> Event {
        let previous = Some(&change.previous_attributes);
        Self::render(EventType::CustomerUpdated, &change.customer, mode, previous)
    }

    fn render(
        event_type: EventType,
        customer: &Customer,
        mode: Mode,
        previous_attributes: Option<&Map<String, Value>>,
    ) -> Event {
        let id = EventId::generate();
        let created = customer.updated_at;
        let body = EventOut {
            id,
            object: "event",
            event_type: event_type.as_str(),
            created: created.unix_seconds(),
            livemode: mode.is_live(),
            data: customer,
            previous_attributes,
        };
        // Serializing plain structs, strings and numbers cannot fail.
        let payload = serde_json::to_string(&body).unwrap_or_default();
        Event {
            id,
            event_type,
            created,
            payload,
        }
    }
}

/// The wire shape of an event, in the order fields are shown.
#[derive(Serialize)]
struct EventOut<'a> {
    id: EventId,
    object: &'static str,
    #[serde(rename = "type")]
    event_type: &'static str,
    created: i64,
    livemode: bool,
    data: &'a Customer,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_attributes: Option<&'a Map<String, Value>>,
}
