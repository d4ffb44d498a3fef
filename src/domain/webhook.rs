//! Webhook endpoints: where events are sent and which ones.

use super::event::EventType;
use super::timestamp::Timestamp;
use super::{Mode, WebhookEndpointId};

/// Which events an endpoint receives: a list of types, or every type (`"*"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnabledEvents {
    All,
    Only(Vec<EventType>),
}

impl EnabledEvents {
    pub fn includes(&self, event_type: EventType) -> bool {
        match self {
            EnabledEvents::All => true,
            EnabledEvents::Only(types) => types.contains(&event_type),
        }
    }

    /// As stored and shown: `["*"]` or the type names.
    pub fn to_names(&self) -> Vec<String> {
        match self {
            EnabledEvents::All => vec!["*".to_owned()],
            EnabledEvents::Only(types) => types.iter().map(|t| t.as_str().to_owned()).collect(),
        }
    }
}

/// A webhook endpoint as stored (its secret too; only the create answer shows it).
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookEndpoint {
    pub id: WebhookEndpointId,
    pub mode: Mode,
    pub url: String,
    pub description: Option<String>,
    pub enabled_events: EnabledEvents,
    pub secret: String,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<Timestamp>,
    pub created_at: Timestamp,
}
