//! `/v1/webhook_endpoints`: create, list, retrieve, update (re-enable), delete, the attempt log;
//! and `POST /v1/events/{id}/resend`, which queues an event again.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Serialize;

use super::auth::{ReadAccess, WriteAccess};
use super::body::{Field, JsonObject};
use super::error::ApiError;
use super::list::{ListOut, ListQuery};
use super::webhook_wire::{WebhookAttemptOut, WebhookEndpointOut};
use super::{AppState, created_response, json_response};
use crate::domain::timestamp::Timestamp;
use crate::domain::webhook::{self, EnabledEvents, WebhookEndpoint, WebhookEndpointPatch};
use crate::domain::webhook::{WebhookSecret, parse_description};
use crate::domain::{EventId, Mode, Tenant, WebhookAttemptId, WebhookEndpointId};

const CREATE_FIELDS: &[&str] = &["url", "enabled_events", "description"];
const UPDATE_FIELDS: &[&str] = &["url", "enabled_events", "description", "status"];
const READ_ONLY_FIELDS: &[&str] = &[
    "id",
    "object",
    "livemode",
    "secret",
    "disabled_reason",
    "disabled_at",
    "created_at",
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/webhook_endpoints",
            get(list_webhook_endpoints).post(create_webhook_endpoint),
        )
        .route(
            "/webhook_endpoints/{id}",
            get(retrieve_webhook_endpoint)
                .patch(update_webhook_endpoint)
                .delete(delete_webhook_endpoint),
        )
        .route(
            "/webhook_endpoints/{id}/attempts",
            get(list_webhook_attempts),
        )
        .route("/events/{id}/resend", post(resend_event))
}

/// `POST /v1/webhook_endpoints`: answers 201 with the endpoint and, this once, its secret.
pub async fn create_webhook_endpoint(
    State(app): State<AppState>,
    WriteAccess(tenant): WriteAccess,
    body: JsonObject,
) -> Result<Response, ApiError> {
    body.allow_only(CREATE_FIELDS, READ_ONLY_FIELDS)?;
    let url = match body.text("url")? {
        Field::Set(text) => checked_url(&app, text, tenant.mode).await?,
        Field::Absent | Field::Null => return Err(ApiError::missing("url")),
    };
    let enabled_events = match enabled_events(&body)? {
        Some(events) => events,
        None => return Err(ApiError::missing("enabled_events")),
    };
    let endpoint = WebhookEndpoint {
        id: WebhookEndpointId::generate(),
        mode: tenant.mode,
        url,
        description: description(&body)?.flatten(),
        enabled_events,
        secret: WebhookSecret::generate(),
        disabled_reason: None,
        disabled_at: None,
        created_at: Timestamp::now(),
    };

    app.store()
        .create_webhook_endpoint(tenant, endpoint.clone())
        .await?;
    Ok(created_response(&WebhookEndpointOut::with_secret(
        &endpoint,
    )))
}

/// `GET /v1/webhook_endpoints`
pub async fn list_webhook_endpoints(
    State(app): State<AppState>,
    ReadAccess(tenant): ReadAccess,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = ListQuery::parse(query.as_deref(), &[])?;
    let page =
        query.page(|cursor| WebhookEndpointId::parse(cursor).map(WebhookEndpointId::uuid))?;

    let found = app.store().list_webhook_endpoints(tenant, page).await?;
    let list = ListOut::from_page(found, |endpoint| endpoint.id.to_string());
    Ok(json_response(&list.map(WebhookEndpointOut::new)))
}

/// `GET /v1/webhook_endpoints/{id}`
pub async fn retrieve_webhook_endpoint(
    State(app): State<AppState>,
    ReadAccess(tenant): ReadAccess,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let endpoint = existing_endpoint(&app, tenant, &id).await?;
    Ok(json_response(&WebhookEndpointOut::new(&endpoint)))
}

/// `PATCH /v1/webhook_endpoints/{id}`: `{"status": "enabled"}` re-enables a disabled endpoint,
/// forgets its failures and resumes the deliveries it was holding.
pub async fn update_webhook_endpoint(
    State(app): State<AppState>,
    WriteAccess(tenant): WriteAccess,
    Path(id): Path<String>,
    body: JsonObject,
) -> Result<Response, ApiError> {
    let missing = || ApiError::no_such("webhook endpoint", &id);
    let endpoint_id = WebhookEndpointId::parse(&id).ok_or_else(missing)?;
    let patch = endpoint_patch(&app, &body, tenant.mode).await?;

    let endpoint = app
        .store()
        .update_webhook_endpoint(tenant, endpoint_id, patch)
        .await?
        .ok_or_else(missing)?;
    app.wake_dispatcher();
    Ok(json_response(&WebhookEndpointOut::new(&endpoint)))
}

/// `DELETE /v1/webhook_endpoints/{id}`: the endpoint, its queue and its attempt log go.
pub async fn delete_webhook_endpoint(
    State(app): State<AppState>,
    WriteAccess(tenant): WriteAccess,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let missing = || ApiError::no_such("webhook endpoint", &id);
    let endpoint_id = WebhookEndpointId::parse(&id).ok_or_else(missing)?;

    if !app
        .store()
        .delete_webhook_endpoint(tenant, endpoint_id)
        .await?
    {
        return Err(missing());
    }
    Ok(json_response(&Deleted {
        id: endpoint_id,
        object: "webhook_endpoint",
        deleted: true,
    }))
}

/// `GET /v1/webhook_endpoints/{id}/attempts`: newest first.
pub async fn list_webhook_attempts(
    State(app): State<AppState>,
    ReadAccess(tenant): ReadAccess,
    Path(id): Path<String>,
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

/// `POST /v1/events/{id}/resend`, body optional: `{"endpoint": "we_…"}` sends to that endpoint
/// only; without it, to every enabled endpoint subscribed to the event's type.
pub async fn resend_event(
    State(app): State<AppState>,
    WriteAccess(tenant): WriteAccess,
    Path(id): Path<String>,
    body: Option<JsonObject>,
) -> Result<Response, ApiError> {
    let missing = || ApiError::no_such("event", &id);
    let event_id = EventId::parse(&id).ok_or_else(missing)?;
    let only = match &body {
        Some(body) => resend_target(&app, tenant, body).await?,
        None => None,
    };

    let queued = app
        .store()
        .queue_event_again(tenant, event_id, only.as_ref().map(|e| e.id))
        .await?
        .ok_or_else(missing)?;
    if let (Some(endpoint), true) = (&only, queued.is_empty()) {
        return Err(ApiError::invalid(
            "endpoint",
            format!(
                "Webhook endpoint {} is not subscribed to this event's type.",
                endpoint.id
            ),
        ));
    }
    app.wake_dispatcher();
    Ok(json_response(&Resent {
        object: "event_resend",
        event: event_id,
        endpoints: queued,
    }))
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

async fn existing_endpoint(
    app: &AppState,
    tenant: Tenant,
    id: &str,
) -> Result<WebhookEndpoint, ApiError> {
    let missing = || ApiError::no_such("webhook endpoint", id);
    let endpoint_id = WebhookEndpointId::parse(id).ok_or_else(missing)?;
    app.store()
        .webhook_endpoint(tenant, endpoint_id)
        .await?
        .ok_or_else(missing)
}

async fn endpoint_patch(
    app: &AppState,
    body: &JsonObject,
    mode: Mode,
) -> Result<WebhookEndpointPatch, ApiError> {
    body.allow_only(UPDATE_FIELDS, READ_ONLY_FIELDS)?;
    let url = match body.text("url")? {
        Field::Absent => None,
        Field::Null => return Err(ApiError::invalid("url", "`url` cannot be null.")),
        Field::Set(text) => Some(checked_url(app, text, mode).await?),
    };
    let enabled = match body.text("status")? {
        Field::Absent => None,
        Field::Set("enabled") => Some(true),
        Field::Set("disabled") => Some(false),
        _ => {
            return Err(ApiError::invalid(
                "status",
                "`status` must be \"enabled\" or \"disabled\".",
            ));
        }
    };
    Ok(WebhookEndpointPatch {
        url,
        description: description(body)?,
        enabled_events: enabled_events(body)?,
        enabled,
    })
}

/// The URL's shape, the live-mode `https` rule, then where it points.
async fn checked_url(app: &AppState, text: &str, mode: Mode) -> Result<String, ApiError> {
    let url = webhook::parse_url(text, mode)?;
    app.webhook_guard()
        .check_url(&url)
        .await
        .map_err(|refused| {
            ApiError::invalid(
                "url",
                format!("`url` is refused: {refused}; webhooks go to public addresses only."),
            )
        })?;
    Ok(url.to_string())
}

fn enabled_events(body: &JsonObject) -> Result<Option<EnabledEvents>, ApiError> {
    match body.text_list("enabled_events")? {
        Field::Absent => Ok(None),
        Field::Null => Err(ApiError::invalid(
            "enabled_events",
            "`enabled_events` cannot be null; use [\"*\"] for every event.",
        )),
        Field::Set(names) => Ok(Some(EnabledEvents::parse(names)?)),
    }
}

/// Absent → `None`; `null` or blank → `Some(None)`; text → `Some(Some(text))`.
fn description(body: &JsonObject) -> Result<Option<Option<String>>, ApiError> {
    match body.text("description")? {
        Field::Absent => Ok(None),
        Field::Null => Ok(Some(None)),
        Field::Set(text) => {
            let text = parse_description(text)?;
            Ok(Some((!text.is_empty()).then_some(text)))
        }
    }
}

/// The answer to a delete.
#[derive(Serialize)]
struct Deleted {
    id: WebhookEndpointId,
    object: &'static str,
    deleted: bool,
}

/// The answer to a resend: the endpoints the event was queued for.
#[derive(Serialize)]
struct Resent {
    object: &'static str,
    event: EventId,
    endpoints: Vec<WebhookEndpointId>,
}
