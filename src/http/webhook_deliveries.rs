//! A webhook endpoint's attempt log, `GET /v1/webhook_endpoints/{id}/attempts`, and
//! `POST /v1/events/{id}/resend`, which queues an event for delivery again.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};

use super::auth::{ReadAccess, WriteAccess};
use super::body::{Field, JsonObject};
use super::error::ApiError;
use super::events::EventIdParam;
use super::idempotency::{IdempotencyKeyParam, idempotency_claim, rendered};
use super::list::{ListOut, ListQuery, PageParams};
use super::openapi::NotFound;
use super::path::PathId;
use super::webhook_endpoints::{WebhookEndpointIdParam, existing_endpoint};
use super::webhook_wire::{EventResendIn, EventResendObject, EventResendOut, WebhookAttemptOut};
use super::{AppState, json_response, stored_response};
use crate::domain::event::Event;
use crate::domain::webhook::WebhookEndpoint;
use crate::domain::{EventId, Tenant, WebhookAttemptId, WebhookEndpointId};
use crate::store::Render;

pub fn router(prefix: &str) -> Router<AppState> {
    Router::new()
        .route(
            &format!("{prefix}/webhook_endpoints/{{id}}/attempts"),
            get(list_webhook_attempts),
        )
        .route(
            &format!("{prefix}/events/{{id}}/resend"),
            post(resend_event),
        )
}

/// List a webhook endpoint's delivery attempts
///
/// Newest first: each attempt to deliver an event, how the endpoint answered, and when the
/// event is tried again.
#[utoipa::path(
    get,
    path = "/v1/webhook_endpoints/{id}/attempts",
    tag = "webhooks",
    security(("bearer" = [])),
    params(WebhookEndpointIdParam, PageParams),
    responses(
        (status = 200, description = "A page of delivery attempts.",
            body = ListOut<WebhookAttemptOut>),
        (status = 404, response = NotFound),
    ),
)]
pub async fn list_webhook_attempts(
    State(app): State<AppState>,
    ReadAccess(tenant): ReadAccess,
    PathId(id): PathId,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = ListQuery::parse(query.as_deref(), &[])?;
    let page = query.page(|cursor| WebhookAttemptId::parse(cursor).map(WebhookAttemptId::uuid))?;
    let endpoint = existing_endpoint(&app, tenant, &id).await?;

    let found = app
        .store()
        .list_webhook_attempts(tenant, endpoint.id, page)
        .await?;
    let list = ListOut::from_page(found, |attempt| attempt.id.to_string());
    let livemode = tenant.mode.is_live();
    Ok(json_response(
        &list.map(|attempt| WebhookAttemptOut::new(attempt, livemode)),
    ))
}

/// Resend an event
///
/// Queues the event for delivery again. The body is optional: `{"endpoint": "we_…"}` sends it
/// to that endpoint only; without it, to every enabled endpoint subscribed to the event's type.
/// Needs a `read_write` key.
#[utoipa::path(
    post,
    path = "/v1/events/{id}/resend",
    tag = "webhooks",
    security(("bearer" = [])),
    params(EventIdParam, IdempotencyKeyParam),
    request_body(content = Option<EventResendIn>,
        description = "Optional; without it the event goes to every subscribed endpoint."),
    responses(
        (status = 200, description = "The endpoints the event was queued for.",
            body = EventResendOut,
            headers(("Idempotent-Replayed" = String,
                description = "`true` on a replayed answer."))),
        (status = 404, response = NotFound),
    ),
)]
pub async fn resend_event(
    State(app): State<AppState>,
    WriteAccess(tenant): WriteAccess,
    PathId(id): PathId,
    headers: HeaderMap,
    body: Option<JsonObject>,
) -> Result<Response, ApiError> {
    let missing = || ApiError::no_such("event", &id);
    let event_id = EventId::parse(&id).ok_or_else(missing)?;
    let only = match &body {
        Some(body) => resend_target(&app, tenant, body).await?,
        None => None,
    };
    if let Some(endpoint) = &only {
        let event = app
            .store()
            .event(tenant, event_id)
            .await?
            .ok_or_else(missing)?;
        ensure_subscribed(&event, endpoint)?;
    }
    // No body and `{}` ask for the same resend, so they share a fingerprint.
    let body = body.unwrap_or_default();
    let path = format!("/v1/events/{event_id}/resend");
    let claim = idempotency_claim(&headers, &Method::POST, &path, &body)?;

    let render: Render<Vec<WebhookEndpointId>> = Box::new(move |queued| {
        let out = EventResendOut {
            object: EventResendObject::EventResend,
            event: event_id,
            endpoints: queued.clone(),
        };
        rendered(StatusCode::OK, &out)
    });
    let stored = app
        .store()
        .queue_event_again(tenant, event_id, only.map(|e| e.id), claim, render)
        .await?
        .ok_or_else(missing)?;
    app.wake_dispatcher();
    Ok(stored_response(stored))
}

/// Refuses a resend to an endpoint that would not take the event. Checked before the write, so
/// only accepted resends are kept for an idempotency key.
fn ensure_subscribed(event: &Event, endpoint: &WebhookEndpoint) -> Result<(), ApiError> {
    if endpoint.enabled_events.includes(event.event_type) {
        return Ok(());
    }
    Err(ApiError::invalid(
        "endpoint",
        format!(
            "Webhook endpoint {} is not subscribed to this event's type.",
            endpoint.id
        ),
    ))
}

/// The endpoint a resend names: it must exist in this tenant and be enabled.
async fn resend_target(
    app: &AppState,
    tenant: Tenant,
    body: &JsonObject,
) -> Result<Option<WebhookEndpoint>, ApiError> {
    body.allow_only(&["endpoint"], &[])?;
    let Field::Set(text) = body.text("endpoint")? else {
        return Ok(None);
    };
    let unknown = || ApiError::invalid("endpoint", format!("No such webhook endpoint: '{text}'."));
    let id = WebhookEndpointId::parse(text).ok_or_else(unknown)?;
    let endpoint = app
        .store()
        .webhook_endpoint(tenant, id)
        .await?
        .ok_or_else(unknown)?;
    if !endpoint.is_enabled() {
        return Err(ApiError::invalid(
            "endpoint",
            "This webhook endpoint is disabled; enable it with PATCH {\"status\": \"enabled\"} first.",
        ));
    }
    Ok(Some(endpoint))
}
