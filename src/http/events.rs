//! `/v1/events`: the record of changes, newest first, kept 30 days.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use serde_json::value::RawValue;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::customers::CustomerOut;
use super::error::{ApiError, echo};
use super::list::{ListOut, ListQuery, PageParams};
use super::openapi::NotFound;
use super::path::PathId;
use super::{AppState, json_response};
use crate::domain::EventId;
use crate::domain::event::EventType;
use crate::http::auth::ReadAccess;

pub fn router(prefix: &str) -> Router<AppState> {
    Router::new()
        .route(&format!("{prefix}/events"), get(list_events))
        .route(&format!("{prefix}/events/{{id}}"), get(retrieve_event))
}

/// List events
///
/// Newest first, kept 30 days. `type` keeps only events of that type.
#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "events",
    security(("bearer" = [])),
    params(
        ("type" = inline(Option<EventTypeName>), Query,
            description = "Only events of this type."),
        PageParams,
    ),
    responses(
        (status = 200, description = "A page of events.", body = ListOut<EventOut>),
    ),
)]
pub async fn list_events(
    State(app): State<AppState>,
    ReadAccess(tenant): ReadAccess,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = ListQuery::parse(query.as_deref(), &["type"])?;
    let page = query.page(|cursor| EventId::parse(cursor).map(EventId::uuid))?;
    let event_type = query
        .get("type")
        .map(|name| EventType::parse(name).ok_or_else(|| unknown_event_type(name)))
        .transpose()?;

    let found = app.store().list_events(tenant, event_type, page).await?;
    let ids: Vec<EventId> = found.items.iter().map(|event| event.id).collect();
    let payloads = found
        .items
        .into_iter()
        .map(|event| raw(event.payload))
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = ids
        .last()
        .filter(|_| found.has_more)
        .map(EventId::to_string);
    Ok(json_response(&ListOut::new(
        payloads,
        found.has_more,
        next_cursor,
    )))
}

/// Retrieve an event
#[utoipa::path(
    get,
    path = "/v1/events/{id}",
    tag = "events",
    security(("bearer" = [])),
    params(EventIdParam),
    responses(
        (status = 200, description = "The event.", body = EventOut),
        (status = 404, response = NotFound),
    ),
)]
pub async fn retrieve_event(
    State(app): State<AppState>,
    ReadAccess(tenant): ReadAccess,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let missing = || ApiError::no_such("event", &id);
    let event_id = EventId::parse(&id).ok_or_else(missing)?;

    let event = app
        .store()
        .event(tenant, event_id)
        .await?
        .ok_or_else(missing)?;
    Ok(json_response(&raw(event.payload)?))
}

fn unknown_event_type(name: &str) -> ApiError {
    let known: Vec<&str> = EventType::ALL.map(EventType::as_str).to_vec();
    let message = format!(
        "`{}` is not an event type; known types: {}.",
        echo(name),
        known.join(", ")
    );
    ApiError::invalid("type", message)
}

fn raw(payload: String) -> Result<Box<RawValue>, ApiError> {
    RawValue::from_string(payload).map_err(|error| {
        tracing::error!(error = %error, "stored event payload is not JSON");
        ApiError::internal()
    })
}

/// The `{id}` of an event path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EventIdParam {
    /// The event's id, `evt_` and a UUID.
    pub id: String,
}

/// A change to an object, as the events API and webhooks show it. Receivers order events by
/// `created` and drop repeats by `id`.
#[derive(ToSchema)]
pub struct EventOut {
    /// `evt_` and a lowercase UUIDv7.
    #[schema(
        pattern = "^evt_[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
    )]
    pub id: String,
    #[schema(inline)]
    pub object: EventObject,
    #[serde(rename = "type")]
    #[schema(inline)]
    pub event_type: EventTypeName,
    /// When, in Unix seconds.
    pub created: i64,
    /// `true` for a live-mode event, `false` for test mode.
    pub livemode: bool,
    /// The object as it is after the change.
    pub data: CustomerOut,
    /// Only on `customer.updated`: the old values of the fields that changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub previous_attributes: Option<BTreeMap<String, Option<String>>>,
}

/// The `object` of an event: always `"event"`.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventObject {
    Event,
}

/// An event type, such as `customer.created`; the list is the domain's.
pub struct EventTypeName;

impl PartialSchema for EventTypeName {
    fn schema() -> RefOr<Schema> {
        let names = EventType::ALL.map(EventType::as_str);
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("What happened."))
            .enum_values(Some(names))
            .into()
    }
}

impl ToSchema for EventTypeName {}
