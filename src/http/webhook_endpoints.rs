//! `/v1/webhook_endpoints`: create, list, retrieve, update (disable, re-enable), delete. The
//! attempt log and resends are in `webhook_deliveries`.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::get;
use utoipa::IntoParams;

use super::auth::{ReadAccess, WriteAccess};
use super::body::{Field, JsonObject};
use super::error::ApiError;
use super::idempotency::{IdempotencyKeyParam, idempotency_claim, rendered};
use super::list::{ListOut, ListQuery, PageParams};
use super::openapi::NotFound;
use super::path::PathId;
use super::webhook_wire::{
    WebhookEndpointCreateIn, WebhookEndpointCreatedOut, WebhookEndpointDeletedOut,
    WebhookEndpointObject, WebhookEndpointOut, WebhookEndpointUpdateIn,
};
use super::{AppState, json_response, stored_response};
use crate::domain::timestamp::Timestamp;
use crate::domain::webhook::{self, EnabledEvents, WebhookEndpoint, WebhookEndpointPatch};
use crate::domain::webhook::{WebhookSecret, parse_description};
use crate::domain::{Mode, Tenant, WebhookEndpointId};
use crate::store::Render;

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

pub fn router(prefix: &str) -> Router<AppState> {
    Router::new()
        .route(
            &format!("{prefix}/webhook_endpoints"),
            get(list_webhook_endpoints).post(create_webhook_endpoint),
        )
        .route(
            &format!("{prefix}/webhook_endpoints/{{id}}"),
            get(retrieve_webhook_endpoint)
                .patch(update_webhook_endpoint)
                .delete(delete_webhook_endpoint),
        )
}

/// Create a webhook endpoint
///
/// The answer is the only one that shows the endpoint's signing secret. Needs a `read_write`
/// key. With `Idempotency-Key`, a retry replays this answer, secret included, for 24 hours.
#[utoipa::path(
    post,
    path = "/v1/webhook_endpoints",
    tag = "webhooks",
    security(("bearer" = [])),
    params(IdempotencyKeyParam),
    request_body = WebhookEndpointCreateIn,
    responses(
        (status = 201, description = "The new endpoint, with its secret.",
            body = WebhookEndpointCreatedOut,
            headers(("Idempotent-Replayed" = String,
                description = "`true` on a replayed answer."))),
    ),
)]
pub async fn create_webhook_endpoint(
    State(app): State<AppState>,
    WriteAccess(tenant): WriteAccess,
    headers: HeaderMap,
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

    let claim = idempotency_claim(&headers, &Method::POST, "/v1/webhook_endpoints", &body)?;

    let render: Render<WebhookEndpoint> = Box::new(|endpoint| {
        rendered(
            StatusCode::CREATED,
            &WebhookEndpointCreatedOut::new(endpoint),
        )
    });
    let stored = app
        .store()
        .create_webhook_endpoint(tenant, endpoint, claim, render)
        .await?;
    Ok(stored_response(stored))
}

/// List webhook endpoints
///
/// Newest first; the secrets are not shown.
#[utoipa::path(
    get,
    path = "/v1/webhook_endpoints",
    tag = "webhooks",
    security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, description = "A page of webhook endpoints.",
            body = ListOut<WebhookEndpointOut>),
    ),
)]
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

/// Retrieve a webhook endpoint
///
/// The secret is not shown.
#[utoipa::path(
    get,
    path = "/v1/webhook_endpoints/{id}",
    tag = "webhooks",
    security(("bearer" = [])),
    params(WebhookEndpointIdParam),
    responses(
        (status = 200, description = "The webhook endpoint.", body = WebhookEndpointOut),
        (status = 404, response = NotFound),
    ),
)]
pub async fn retrieve_webhook_endpoint(
    State(app): State<AppState>,
    ReadAccess(tenant): ReadAccess,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let endpoint = existing_endpoint(&app, tenant, &id).await?;
    Ok(json_response(&WebhookEndpointOut::new(&endpoint)))
}

/// Update a webhook endpoint
///
/// Absent fields stay as they are. `{"status": "disabled"}` stops deliveries;
/// `{"status": "enabled"}` re-enables a disabled endpoint, forgets its failures and resumes the
/// deliveries it was holding. Needs a `read_write` key.
#[utoipa::path(
    patch,
    path = "/v1/webhook_endpoints/{id}",
    tag = "webhooks",
    security(("bearer" = [])),
    params(WebhookEndpointIdParam, IdempotencyKeyParam),
    request_body = WebhookEndpointUpdateIn,
    responses(
        (status = 200, description = "The endpoint after the update.", body = WebhookEndpointOut,
            headers(("Idempotent-Replayed" = String,
                description = "`true` on a replayed answer."))),
        (status = 404, response = NotFound),
    ),
)]
pub async fn update_webhook_endpoint(
    State(app): State<AppState>,
    WriteAccess(tenant): WriteAccess,
    PathId(id): PathId,
    headers: HeaderMap,
    body: JsonObject,
) -> Result<Response, ApiError> {
    let missing = || ApiError::no_such("webhook endpoint", &id);
    let endpoint_id = WebhookEndpointId::parse(&id).ok_or_else(missing)?;
    let patch = endpoint_patch(&app, &body, tenant.mode).await?;
    let path = format!("/v1/webhook_endpoints/{endpoint_id}");
    let claim = idempotency_claim(&headers, &Method::PATCH, &path, &body)?;

    let render: Render<WebhookEndpoint> =
        Box::new(|endpoint| rendered(StatusCode::OK, &WebhookEndpointOut::new(endpoint)));
    let stored = app
        .store()
        .update_webhook_endpoint(tenant, endpoint_id, patch, claim, render)
        .await?
        .ok_or_else(missing)?;
    app.wake_dispatcher();
    Ok(stored_response(stored))
}

/// Delete a webhook endpoint
///
/// The endpoint, its queued deliveries and its attempt log go. Needs a `read_write` key.
#[utoipa::path(
    delete,
    path = "/v1/webhook_endpoints/{id}",
    tag = "webhooks",
    security(("bearer" = [])),
    params(WebhookEndpointIdParam),
    responses(
        (status = 200, description = "The endpoint was deleted.",
            body = WebhookEndpointDeletedOut),
        (status = 404, response = NotFound),
    ),
)]
pub async fn delete_webhook_endpoint(
    State(app): State<AppState>,
    WriteAccess(tenant): WriteAccess,
    PathId(id): PathId,
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
    Ok(json_response(&WebhookEndpointDeletedOut {
        id: endpoint_id,
        object: WebhookEndpointObject::WebhookEndpoint,
        deleted: true,
    }))
}

/// The endpoint `id` names in this tenant, or 404.
pub(super) async fn existing_endpoint(
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

/// The `{id}` of a webhook endpoint path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct WebhookEndpointIdParam {
    /// The endpoint's id, `we_` and a UUID; the bare UUID in any letter case works too.
    pub id: String,
}
