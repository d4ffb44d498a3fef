//! Wire types of webhook endpoints and their attempts, in the order their fields are shown.

use serde::Serialize;

use crate::domain::event::EventType;
use crate::domain::timestamp::Timestamp;
use crate::domain::webhook::{DisabledReason, WebhookAttempt, WebhookEndpoint};
use crate::domain::{EventId, WebhookAttemptId, WebhookEndpointId};

/// A webhook endpoint. `secret` appears only in the answer to its creation.
#[derive(Serialize)]
pub struct WebhookEndpointOut<'a> {
    pub id: WebhookEndpointId,
    pub object: &'static str,
    pub livemode: bool,
    pub url: &'a str,
    pub description: Option<&'a str>,
    pub enabled_events: Vec<String>,
    /// `enabled` or `disabled`.
    pub status: &'static str,
    /// `consecutive_failures`, `endpoint_gone` or `requested`, while disabled.
    pub disabled_reason: Option<&'static str>,
    pub disabled_at: Option<Timestamp>,
    pub created_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<&'a str>,
}

impl<'a> WebhookEndpointOut<'a> {
    pub fn new(endpoint: &'a WebhookEndpoint) -> WebhookEndpointOut<'a> {
        WebhookEndpointOut {
            id: endpoint.id,
            object: "webhook_endpoint",
            livemode: endpoint.mode.is_live(),
            url: &endpoint.url,
            description: endpoint.description.as_deref(),
            enabled_events: endpoint.enabled_events.to_names(),
            status: if endpoint.is_enabled() {
                "enabled"
            } else {
                "disabled"
            },
            disabled_reason: endpoint.disabled_reason.map(DisabledReason::as_str),
            disabled_at: endpoint.disabled_at,
            created_at: endpoint.created_at,
            secret: None,
        }
    }

    /// The create answer: the only one that shows the secret.
    pub fn with_secret(endpoint: &'a WebhookEndpoint) -> WebhookEndpointOut<'a> {
        WebhookEndpointOut {
            secret: Some(endpoint.secret.expose()),
            ..WebhookEndpointOut::new(endpoint)
        }
    }
}

/// One delivery attempt: which event, when, how the endpoint answered, and what comes next.
#[derive(Serialize)]
pub struct WebhookAttemptOut {
    pub id: WebhookAttemptId,
    pub object: &'static str,
    pub livemode: bool,
    pub endpoint: WebhookEndpointId,
    pub event: EventId,
    pub event_type: &'static str,
    pub attempted_at: Timestamp,
    pub succeeded: bool,
    /// The HTTP status answered, or `null` when there was no answer.
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
    /// When the event is tried again, or `null` when it will not be.
    pub next_attempt_at: Option<Timestamp>,
}

impl WebhookAttemptOut {
    pub fn new(attempt: &WebhookAttempt, livemode: bool) -> WebhookAttemptOut {
        WebhookAttemptOut {
            id: attempt.id,
            object: "webhook_attempt",
            livemode,
            endpoint: attempt.endpoint,
            event: attempt.event,
            event_type: EventType::as_str(attempt.event_type),
            attempted_at: attempt.attempted_at,
            succeeded: attempt.succeeded(),
            status_code: attempt.status_code,
            error: attempt.error.clone(),
            duration_ms: attempt.duration_ms,
            next_attempt_at: attempt.next_attempt_at,
        }
    }
}
