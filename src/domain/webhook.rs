//! Webhook endpoints: where events are sent, which ones, with what secret, and whether the
//! endpoint is still enabled. Also the record of one delivery attempt.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::event::EventType;
use super::timestamp::Timestamp;
use super::{EventId, FieldError, Mode, WebhookAttemptId, WebhookEndpointId};

const SECRET_PREFIX: &str = "whsec_";
const MAX_URL_BYTES: usize = 2048;
const MAX_DESCRIPTION_CHARS: usize = 1024;

/// Which events an endpoint receives: a list of types, or every type (`"*"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnabledEvents {
    All,
    Only(Vec<EventType>),
}

impl EnabledEvents {
    /// Reads the names a client sent: known types or `"*"`, at least one.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, FieldError> {
        let mut types = Vec::new();
        let mut all = false;
        for name in names {
            if name == "*" {
                all = true;
                continue;
            }
            let kind = EventType::parse(name).ok_or_else(|| {
                let known: Vec<_> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                FieldError::new(
                    "enabled_events",
                    format!(
                        "`{name}` is not an event type; use \"*\" or some of: {}.",
                        known.join(", ")
                    ),
                )
            })?;
            if !types.contains(&kind) {
                types.push(kind);
            }
        }
        match (all, types.is_empty()) {
            (true, _) => Ok(EnabledEvents::All),
            (false, false) => Ok(EnabledEvents::Only(types)),
            (false, true) => Err(FieldError::new(
                "enabled_events",
                "`enabled_events` must name at least one event type, or \"*\".",
            )),
        }
    }

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

/// An endpoint's signing secret: `whsec_` + base64 of 32 random bytes. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

impl WebhookSecret {
    pub fn generate() -> WebhookSecret {
        let bytes: [u8; 32] = rand::random();
        WebhookSecret(format!("{SECRET_PREFIX}{}", BASE64.encode(bytes)))
    }

    /// A secret as stored; only its shape is checked.
    pub fn from_stored(text: String) -> Option<WebhookSecret> {
        text.starts_with(SECRET_PREFIX)
            .then_some(WebhookSecret(text))
    }

    /// The whole secret string: the key of `Renvo-Signature`.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The decoded bytes after `whsec_`: the key of the Standard Webhooks signature.
    pub fn key_bytes(&self) -> Vec<u8> {
        let encoded = &self.0[SECRET_PREFIX.len()..];
        BASE64.decode(encoded).unwrap_or_default()
    }
}

/// Why an endpoint stopped receiving events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisabledReason {
    /// 20 attempts in a row failed, across all events.
    ConsecutiveFailures,
    /// The endpoint answered 410 Gone.
    EndpointGone,
    /// A client disabled it with `PATCH {"status": "disabled"}`.
    Requested,
}

impl DisabledReason {
    pub const ALL: [DisabledReason; 3] = [
        DisabledReason::ConsecutiveFailures,
        DisabledReason::EndpointGone,
        DisabledReason::Requested,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DisabledReason::ConsecutiveFailures => "consecutive_failures",
            DisabledReason::EndpointGone => "endpoint_gone",
            DisabledReason::Requested => "requested",
        }
    }

    pub fn parse(text: &str) -> Option<DisabledReason> {
        Self::ALL.into_iter().find(|reason| reason.as_str() == text)
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
    pub secret: WebhookSecret,
    pub disabled_reason: Option<DisabledReason>,
    pub disabled_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl WebhookEndpoint {
    pub fn is_enabled(&self) -> bool {
        self.disabled_at.is_none()
    }

    /// Applies a PATCH. Disabling on request records why and when; enabling clears both.
    pub fn apply(&mut self, patch: WebhookEndpointPatch, now: Timestamp) {
        if let Some(url) = patch.url {
            self.url = url;
        }
        if let Some(description) = patch.description {
            self.description = description;
        }
        if let Some(events) = patch.enabled_events {
            self.enabled_events = events;
        }
        match patch.enabled {
            Some(true) => {
                self.disabled_at = None;
                self.disabled_reason = None;
            }
            Some(false) if self.is_enabled() => {
                self.disabled_at = Some(now);
                self.disabled_reason = Some(DisabledReason::Requested);
            }
            _ => {}
        }
    }
}

/// What a PATCH changes; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WebhookEndpointPatch {
    pub url: Option<String>,
    pub description: Option<Option<String>>,
    pub enabled_events: Option<EnabledEvents>,
    /// `Some(true)` re-enables (and forgets past failures); `Some(false)` disables.
    pub enabled: Option<bool>,
}

/// One attempt to deliver an event to an endpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookAttempt {
    pub id: WebhookAttemptId,
    pub endpoint: WebhookEndpointId,
    pub event: EventId,
    pub event_type: EventType,
    pub attempted_at: Timestamp,
    /// The HTTP status the endpoint answered, if it answered.
    pub status_code: Option<u16>,
    /// Why the attempt failed without or despite an answer, as an operator reads it.
    pub error: Option<String>,
    pub duration_ms: i64,
    /// When it is tried again; `None` once it succeeded or was given up.
    pub next_attempt_at: Option<Timestamp>,
}

impl WebhookAttempt {
    pub fn succeeded(&self) -> bool {
        self.status_code
            .is_some_and(|code| (200..300).contains(&code))
            && self.error.is_none()
    }
}

/// Checks an endpoint URL's shape: absolute `http`/`https` with a host, `https` in live mode.
/// Where the host points is the address guard's concern.
pub fn parse_url(text: &str, mode: Mode) -> Result<url::Url, FieldError> {
    let invalid = |why: &str| FieldError::new("url", format!("`url` {why}."));
    if text.len() > MAX_URL_BYTES {
        return Err(invalid("must be at most 2048 bytes"));
    }
    let url = url::Url::parse(text.trim())
        .map_err(|_| invalid("must be an absolute http or https URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid("must be an absolute http or https URL"));
    }
    if mode.is_live() && url.scheme() != "https" {
        return Err(invalid("of a live-mode endpoint must use https"));
    }
    Ok(url)
}

/// A description: at most 1024 characters, no control characters.
pub fn parse_description(text: &str) -> Result<String, FieldError> {
    let text = text.trim();
    if text.chars().count() > MAX_DESCRIPTION_CHARS || text.chars().any(char::is_control) {
        return Err(FieldError::new(
            "description",
            "`description` must be at most 1024 characters without control characters.",
        ));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_whsec_and_32_random_bytes() {
        let secret = WebhookSecret::generate();
        assert!(secret.expose().starts_with("whsec_"));
        assert_eq!(secret.key_bytes().len(), 32);
        assert_ne!(secret, WebhookSecret::generate());
        assert_eq!(format!("{secret:?}"), "WebhookSecret(…)");
    }

    #[test]
    fn enabled_events_take_known_types_or_a_star() {
        assert_eq!(EnabledEvents::parse(["*"]), Ok(EnabledEvents::All));
        assert_eq!(
            EnabledEvents::parse(["customer.created", "customer.created"]),
            Ok(EnabledEvents::Only(vec![EventType::CustomerCreated]))
        );
        let unknown = EnabledEvents::parse(["customer.deleted"]).unwrap_err();
        assert_eq!(unknown.param, "enabled_events");
        assert!(EnabledEvents::parse([]).is_err());
    }

    #[test]
    fn live_endpoints_need_https() {
        assert!(parse_url("http://hooks.example.com/x", Mode::Test).is_ok());
        let refused = parse_url("http://hooks.example.com/x", Mode::Live).unwrap_err();
        assert!(refused.message.contains("https"), "{}", refused.message);
        assert!(parse_url("https://hooks.example.com/x", Mode::Live).is_ok());
        for bad in ["ftp://x.example/", "/relative", "http://", "mailto:a@b.c"] {
            assert!(parse_url(bad, Mode::Test).is_err(), "{bad}");
        }
    }
}
