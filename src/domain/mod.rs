//! Domain types and their rules: identifiers, contact fields, customers, events, keys.
//! Nothing here knows about HTTP or SQL.

pub mod contact;
pub mod customer;
pub mod event;
pub mod ids;
pub mod key;
pub mod timestamp;
pub mod webhook;

pub use ids::{AccountId, ApiKeyId, CustomerId, EventId, WebhookAttemptId, WebhookEndpointId};

/// Whether data belongs to the live or the test side of an account; the two never meet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    Live,
    Test,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::Test => "test",
        }
    }

    pub fn parse(text: &str) -> Option<Mode> {
        match text {
            "live" => Some(Mode::Live),
            "test" => Some(Mode::Test),
            _ => None,
        }
    }

    pub fn is_live(self) -> bool {
        self == Mode::Live
    }
}

/// The boundary every query runs inside: one account, one mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tenant {
    pub account: AccountId,
    pub mode: Mode,
}

/// A rule broken by client input, naming the parameter at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FieldError {
    pub param: String,
    pub message: String,
}

impl FieldError {
    pub fn new(param: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            param: param.into(),
            message: message.into(),
        }
    }
}
