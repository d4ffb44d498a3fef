//! Endpoint writes on SQLite, each inside the writer's transaction together with the response
//! it keeps for its idempotency key: create, update (pausing or resuming deliveries) and
//! queueing an event again.

use rusqlite::{Connection, OptionalExtension, params};

use super::super::idempotency::{keep_response, kept_response};
use super::super::to_json;
use super::{endpoint_in, outcome, queue_deliveries, rows};
use crate::domain::event::EventType;
use crate::domain::timestamp::Timestamp;
use crate::domain::webhook::{
    DisabledReason, EnabledEvents, WebhookEndpoint, WebhookEndpointPatch,
};
use crate::domain::{EventId, Tenant, WebhookEndpointId};
use crate::store::{IdempotencyClaim, Render, StoreResult, StoredResponse};

/// Inserts the endpoint and keeps its response; a kept response for the key answers instead.
pub(super) fn create(
    conn: &Connection,
    tenant: Tenant,
    endpoint: &WebhookEndpoint,
    claim: Option<&IdempotencyClaim>,
    render: Render<WebhookEndpoint>,
) -> StoreResult<StoredResponse> {
    if let Some(kept) = kept_response(conn, tenant, claim)? {
        return Ok(kept);
    }

    conn.prepare_cached(
        "INSERT INTO webhook_endpoints (id, account_id, mode, url, description, \
         enabled_events, secret, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        endpoint.id.uuid(),
        tenant.account.uuid(),
        tenant.mode.as_str(),
        endpoint.url,
        endpoint.description,
        events_json(&endpoint.enabled_events)?,
        endpoint.secret.expose(),
        endpoint.created_at.unix_millis(),
    ])?;

    let response = render(endpoint)?;
    keep_response(conn, tenant, claim, &response)?;
    Ok(response)
}

/// Applies the patch and keeps the response; `None` when no such endpoint.
pub(super) fn update(
    conn: &Connection,
    tenant: Tenant,
    id: WebhookEndpointId,
    patch: WebhookEndpointPatch,
    claim: Option<&IdempotencyClaim>,
    render: Render<WebhookEndpoint>,
) -> StoreResult<Option<StoredResponse>> {
    if let Some(kept) = kept_response(conn, tenant, claim)? {
        return Ok(Some(kept));
    }
    let Some(mut endpoint) = endpoint_in(conn, tenant, id)? else {
        return Ok(None);
    };

    let was_enabled = endpoint.is_enabled();
    let re_enabling = patch.enabled == Some(true);
    endpoint.apply(patch, Timestamp::now());
    write_endpoint(conn, &endpoint, re_enabling)?;
    match (was_enabled, endpoint.is_enabled()) {
        (false, true) => outcome::resume_deliveries(conn, id)?,
        (true, false) => outcome::pause_deliveries(conn, id)?,
        _ => {}
    }

    let response = render(&endpoint)?;
    keep_response(conn, tenant, claim, &response)?;
    Ok(Some(response))
}

/// Queues a stored event again and keeps the response; `None` when the tenant has no such
/// event.
pub(super) fn queue_again(
    conn: &Connection,
    tenant: Tenant,
    event: EventId,
    only: Option<WebhookEndpointId>,
    claim: Option<&IdempotencyClaim>,
    render: Render<Vec<WebhookEndpointId>>,
) -> StoreResult<Option<StoredResponse>> {
    if let Some(kept) = kept_response(conn, tenant, claim)? {
        return Ok(Some(kept));
    }
    let Some(event_type) = event_type_in(conn, tenant, event)? else {
        return Ok(None);
    };

    let queued = queue_deliveries(conn, tenant, event, event_type, only)?;

    let response = render(&queued)?;
    keep_response(conn, tenant, claim, &response)?;
    Ok(Some(response))
}

/// Writes the endpoint's fields back; `forget_failures` restarts its run of failures.
fn write_endpoint(
    conn: &Connection,
    endpoint: &WebhookEndpoint,
    forget_failures: bool,
) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE webhook_endpoints SET url = ?1, description = ?2, enabled_events = ?3, \
         disabled_reason = ?4, disabled_at = ?5, \
         consecutive_failures = CASE WHEN ?6 THEN 0 ELSE consecutive_failures END WHERE id = ?7",
    )?
    .execute(params![
        endpoint.url,
        endpoint.description,
        events_json(&endpoint.enabled_events)?,
        endpoint.disabled_reason.map(DisabledReason::as_str),
        endpoint.disabled_at.map(Timestamp::unix_millis),
        forget_failures,
        endpoint.id.uuid(),
    ])?;
    Ok(())
}

fn event_type_in(
    conn: &Connection,
    tenant: Tenant,
    event: EventId,
) -> StoreResult<Option<EventType>> {
    let mut statement = conn.prepare_cached(
        "SELECT type FROM events WHERE id = ?1 AND account_id = ?2 AND mode = ?3",
    )?;
    let params = params![event.uuid(), tenant.account.uuid(), tenant.mode.as_str()];
    Ok(statement
        .query_row(params, |row| rows::event_type_of(row, "type"))
        .optional()?)
}

fn events_json(events: &EnabledEvents) -> StoreResult<String> {
    to_json(&events.to_names())
}
