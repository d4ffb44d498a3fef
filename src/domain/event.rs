//! Events: the record of a change, rendered once when it is made so that every read and every
//! webhook attempt carries the same bytes.

use serde_json::{Map, Value, json};

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
        let mut body = json!({
            "id": id,
            "object": "event",
            "type": event_type.as_str(),
            "created": created.unix_seconds(),
            "livemode": mode.is_live(),
            "data": customer,
        });
        if let (Some(previous), Value::Object(fields)) = (previous_attributes, &mut body) {
            fields.insert("previous_attributes".to_owned(), Value::Object(previous.clone()));
        }
        Event { id, event_type, created, payload: body.to_string() }
    }
}
