//! `/v1/events`: the record of changes, newest first, kept 30 days.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use serde_json::value::RawValue;

use super::error::ApiError;
use super::list::{ListOut, ListQuery};
use super::path::PathId;
use super::{AppState, json_response};
use crate::domain::EventId;
use crate::domain::event::EventType;
use crate::http::auth::ReadAccess;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/events", get(list_events))
        .route("/events/{id}", get(retrieve_event))
}

/// `GET /v1/events`
pub async fn list_events(
    State(app): State<AppState>,
    ReadAccess(tenant): ReadAccess,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = ListQuery::parse(query.as_deref(), &["type"])?;
    let page = query.page(|cursor| EventId::parse(cursor).map(EventId::uuid))?;
    let event_type = match query.get("type") {
        None => None,
        Some(name) => Some(EventType::parse(name).ok_or_else(|| {
            ApiError::invalid("type", format!("`{name}` is not an event type; known types: customer.created, customer.updated."))
        })?),
    };

    let found = app.store().list_events(tenant, event_type, page).await?;
    let ids: Vec<EventId> = found.items.iter().map(|event| event.id).collect();
    let payloads = found
        .items
        .into_iter()
        .map(|event| raw(event.payload))
        .collect::<Result<Vec<_>, _>>()?;
    let mut list = ListOut {
        data: payloads,
        has_more: found.has_more,
        next_cursor: None,
    };
    if found.has_more {
        list.next_cursor = ids.last().map(EventId::to_string);
    }
    Ok(json_response(&list))
}

/// `GET /v1/events/{id}`
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

fn raw(payload: String) -> Result<Box<RawValue>, ApiError> {
    RawValue::from_string(payload).map_err(|error| {
        tracing::error!(error = %error, "stored event payload is not JSON");
        ApiError::internal()
    })
}
