//! Wire types of webhook endpoints, their attempts, deletes and resends, in the order their
//! fields are shown. The OpenAPI schemas are derived from these same types.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::{Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::domain::event::EventType;
use crate::domain::timestamp::Timestamp;
use crate::domain::webhook::{DisabledReason, WebhookAttempt, WebhookEndpoint};
use crate::domain::{EventId, WebhookAttemptId, WebhookEndpointId};

/// A webhook endpoint: where events are sent, which ones, and whether it is enabled.
#[derive(Serialize, ToSchema)]
pub struct WebhookEndpointOut<'a> {
    /// `we_` and a lowercase UUIDv7.
    #[schema(
        value_type = String,
        pattern = "^we_[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
    )]
    pub id: WebhookEndpointId,
    #[schema(inline)]
    pub object: WebhookEndpointObject,
    /// `true` for a live-mode endpoint, `false` for test mode.
    pub livemode: bool,
    /// Where events are POSTed.
    #[schema(format = "uri")]
    pub url: &'a str,
    /// A note for people, or `null`.
    #[schema(required = true)]
    pub description: Option<&'a str>,
    #[schema(schema_with = enabled_events_schema)]
    pub enabled_events: Vec<String>,
    #[schema(inline)]
    pub status: WebhookEndpointStatus,
    #[schema(schema_with = disabled_reason_schema, required = true)]
    pub disabled_reason: Option<&'static str>,
    /// When it was disabled (RFC 3339 in UTC), or `null` while it is enabled.
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    pub disabled_at: Option<Timestamp>,
    /// RFC 3339 in UTC, such as `2026-12-04T15:01:34.123Z`.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl<'a> WebhookEndpointOut<'a> {
    pub fn new(endpoint: &'a WebhookEndpoint) -> WebhookEndpointOut<'a> {
        WebhookEndpointOut {
            id: endpoint.id,
            object: WebhookEndpointObject::WebhookEndpoint,
            livemode: endpoint.mode.is_live(),
            url: &endpoint.url,
            description: endpoint.description.as_deref(),
            enabled_events: endpoint.enabled_events.to_names(),
            status: if endpoint.is_enabled() {
                WebhookEndpointStatus::Enabled
            } else {
                WebhookEndpointStatus::Disabled
            },
            disabled_reason: endpoint.disabled_reason.map(DisabledReason::as_str),
            disabled_at: endpoint.disabled_at,
            created_at: endpoint.created_at,
        }
    }
}

/// The answer to a creation: the endpoint and, this once, its signing secret. Its schema is
/// [`WebhookEndpointOut`]'s with `secret` added, written out flat (not `allOf`) so that a
/// client that refuses unknown fields accepts it.
#[derive(Serialize)]
pub struct WebhookEndpointCreatedOut<'a> {
    #[serde(flatten)]
    pub endpoint: WebhookEndpointOut<'a>,
    pub secret: &'a str,
}

impl<'a> WebhookEndpointCreatedOut<'a> {
    pub fn new(endpoint: &'a WebhookEndpoint) -> WebhookEndpointCreatedOut<'a> {
        WebhookEndpointCreatedOut {
            endpoint: WebhookEndpointOut::new(endpoint),
            secret: endpoint.secret.expose(),
        }
    }
}

impl PartialSchema for WebhookEndpointCreatedOut<'_> {
    fn schema() -> RefOr<Schema> {
        let secret = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^whsec_[A-Za-z0-9+/]{43}=$"))
            .description(Some(
                "The signing secret, `whsec_` and the base64 of 32 random bytes. Shown only \
                 here: keep it.",
            ));
        let mut schema = WebhookEndpointOut::schema();
        if let RefOr::T(Schema::Object(object)) = &mut schema {
            object.properties.insert("secret".to_owned(), secret.into());
            object.required.push("secret".to_owned());
            object.description =
                Some("A new webhook endpoint and, this once, its signing secret.".to_owned());
        }
        schema
    }
}

impl ToSchema for WebhookEndpointCreatedOut<'_> {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("WebhookEndpointCreatedOut")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        WebhookEndpointOut::schemas(schemas);
    }
}

/// The `object` of a webhook endpoint: always `"webhook_endpoint"`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookEndpointObject {
    WebhookEndpoint,
}

/// Whether events are sent to the endpoint now.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookEndpointStatus {
    Enabled,
    Disabled,
}

/// One delivery attempt: which event, when, how the endpoint answered, and what comes next.
#[derive(Serialize, ToSchema)]
pub struct WebhookAttemptOut {
    /// `atmpt_` and a lowercase UUIDv7.
    #[schema(
        value_type = String,
        pattern = "^atmpt_[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
    )]
    pub id: WebhookAttemptId,
    #[schema(inline)]
    pub object: WebhookAttemptObject,
    /// `true` for a live-mode endpoint, `false` for test mode.
    pub livemode: bool,
    /// The endpoint's id.
    #[schema(value_type = String, pattern = "^we_")]
    pub endpoint: WebhookEndpointId,
    /// The event's id.
    #[schema(value_type = String, pattern = "^evt_")]
    pub event: EventId,
    #[schema(schema_with = event_type_schema)]
    pub event_type: &'static str,
    /// RFC 3339 in UTC.
    #[schema(value_type = String, format = DateTime)]
    pub attempted_at: Timestamp,
    /// Whether the endpoint answered 2xx in time.
    pub succeeded: bool,
    /// The HTTP status answered, or `null` when there was no answer.
    #[schema(required = true, minimum = 100, maximum = 999)]
    pub status_code: Option<u16>,
    /// Why the attempt failed, for a person to read, or `null` when it succeeded.
    #[schema(required = true)]
    pub error: Option<String>,
    /// How long the attempt took, in milliseconds.
    #[schema(minimum = 0)]
    pub duration_ms: i64,
    /// When the event is tried again (RFC 3339 in UTC), or `null` when it will not be.
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    pub next_attempt_at: Option<Timestamp>,
}

impl WebhookAttemptOut {
    pub fn new(attempt: &WebhookAttempt, livemode: bool) -> WebhookAttemptOut {
        WebhookAttemptOut {
            id: attempt.id,
            object: WebhookAttemptObject::WebhookAttempt,
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

/// The `object` of a delivery attempt: always `"webhook_attempt"`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookAttemptObject {
    WebhookAttempt,
}

/// The answer to a delete.
#[derive(Serialize, ToSchema)]
pub struct WebhookEndpointDeletedOut {
    /// The deleted endpoint's id.
    #[schema(value_type = String, pattern = "^we_")]
    pub id: WebhookEndpointId,
    #[schema(inline)]
    pub object: WebhookEndpointObject,
    #[schema(schema_with = always_true)]
    pub deleted: bool,
}

/// The answer to a resend: the endpoints the event was queued for again.
#[derive(Serialize, ToSchema)]
pub struct EventResendOut {
    #[schema(inline)]
    pub object: EventResendObject,
    /// The event's id.
    #[schema(value_type = String, pattern = "^evt_")]
    pub event: EventId,
    /// The endpoints it was queued for; empty when none is enabled and subscribed.
    #[schema(value_type = Vec<String>)]
    pub endpoints: Vec<WebhookEndpointId>,
}

/// The `object` of a resend answer: always `"event_resend"`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventResendObject {
    EventResend,
}

/// A new webhook endpoint. Fields outside this list are refused.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpointCreateIn {
    /// An absolute `http` or `https` URL of at most 2048 bytes; `https` in live mode. Its host
    /// must be, or resolve only to, public addresses unless the server allows private ones.
    #[schema(format = "uri", max_length = 2048)]
    pub url: String,
    #[schema(schema_with = enabled_events_schema)]
    pub enabled_events: Vec<String>,
    /// A note for people: trimmed, at most 1024 characters, no control characters. Blank is
    /// the same as `null`: none.
    #[schema(max_length = 1024)]
    pub description: Option<String>,
}

/// Changes to a webhook endpoint: absent leaves a field alone. Fields outside this list are
/// refused.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpointUpdateIn {
    /// As at creation. Cannot be `null`.
    #[schema(nullable = false, format = "uri", max_length = 2048)]
    pub url: Option<String>,
    #[schema(schema_with = enabled_events_schema)]
    pub enabled_events: Option<Vec<String>>,
    /// As at creation; `null` or blank removes it.
    #[schema(max_length = 1024)]
    pub description: Option<String>,
    #[schema(schema_with = status_change_schema)]
    pub status: Option<WebhookEndpointStatus>,
}

/// Whom to send an event to again. Without a body, or without `endpoint`, it goes to every
/// enabled endpoint subscribed to the event's type.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventResendIn {
    /// Send to this endpoint only (`we_` and its UUID). It must exist, be enabled and be
    /// subscribed to the event's type.
    pub endpoint: Option<String>,
}

/// An array of event type names or `"*"`, at least one; the names are the domain's.
pub fn enabled_events_schema() -> ArrayBuilder {
    let names = std::iter::once("*").chain(EventType::ALL.map(EventType::as_str));
    let name = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(names));
    ArrayBuilder::new()
        .items(name)
        .min_items(Some(1))
        .description(Some(
            "Event types, or `[\"*\"]` for every type; at least one.",
        ))
}

/// `disabled` stops deliveries; `enabled` re-enables a disabled endpoint. Never `null`.
fn status_change_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["enabled", "disabled"]))
        .description(Some(
            "`disabled` stops deliveries (`disabled_reason` becomes `requested`); `enabled` \
             re-enables a disabled endpoint, forgets its failures and resumes the deliveries it \
             was holding.",
        ))
}

/// `consecutive_failures`, `endpoint_gone`, `requested` or `null`; the names are the domain's.
fn disabled_reason_schema() -> ObjectBuilder {
    let names = DisabledReason::ALL.map(|reason| Value::from(reason.as_str()));
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(names.into_iter().chain([Value::Null])))
        .description(Some(
            "Why the endpoint is disabled: `consecutive_failures` (20 attempts in a row \
             failed), `endpoint_gone` (it answered 410) or `requested` (a PATCH disabled it); \
             `null` while it is enabled.",
        ))
}

fn event_type_schema() -> RefOr<Schema> {
    super::events::EventTypeName::schema()
}

fn always_true() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .description(Some("Always `true`."))
        .enum_values(Some([json!(true)]))
}
