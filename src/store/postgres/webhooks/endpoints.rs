//! Endpoints on PostgreSQL: create, read, list, update (pausing or resuming their deliveries),
//! delete, their attempt log, and queueing an event again. Writes keep their response for an
//! idempotency key in their own transaction (see `idempotency`).

use sqlx::{PgConnection, PgPool, Row};

use super::super::idempotency::Begun;
use super::super::{idempotency, rows::corrupt};
use super::outcome::{pause_deliveries, resume_deliveries};
use super::queue_deliveries;
use super::rows::{attempt_from_row, endpoint_from_row};
use crate::domain::event::EventType;
use crate::domain::timestamp::Timestamp;
use crate::domain::webhook::{
    DisabledReason, EnabledEvents, WebhookAttempt, WebhookEndpoint, WebhookEndpointPatch,
};
use crate::domain::{EventId, Tenant, WebhookEndpointId};
use crate::store::{
    IdempotencyClaim, Page, PageRequest, Render, StoreError, StoreResult, StoredResponse,
};

/// The endpoint columns every endpoint query selects, as a literal so queries stay static.
macro_rules! endpoint_select {
    ($tail:literal) => {
        concat!(
            "SELECT id, mode, url, description, enabled_events::text AS enabled_events, secret, \
             disabled_reason, disabled_at, created_at FROM webhook_endpoints ",
            $tail
        )
    };
}

/// Inserts the endpoint and keeps its response in one transaction; a kept response for the
/// key answers instead.
pub(super) async fn create(
    pool: &PgPool,
    tenant: Tenant,
    endpoint: WebhookEndpoint,
    claim: Option<&IdempotencyClaim>,
    render: Render<WebhookEndpoint>,
) -> StoreResult<StoredResponse> {
    let mut tx = match idempotency::begin(pool, tenant, claim).await? {
        Begun::Fresh(tx) => tx,
        Begun::Kept(kept) => return Ok(kept),
    };

    insert_endpoint(&mut tx, tenant, &endpoint).await?;

    let response = render(&endpoint)?;
    idempotency::commit_with_response(pool, tx, tenant, claim, response).await
}

async fn insert_endpoint(
    conn: &mut PgConnection,
    tenant: Tenant,
    endpoint: &WebhookEndpoint,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, account_id, mode, url, description, \
         enabled_events, secret, created_at) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)",
    )
    .bind(endpoint.id.uuid())
    .bind(tenant.account.uuid())
    .bind(tenant.mode.as_str())
    .bind(&endpoint.url)
    .bind(&endpoint.description)
    .bind(events_json(&endpoint.enabled_events)?)
    .bind(endpoint.secret.expose())
    .bind(endpoint.created_at.unix_millis())
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn get(
    pool: &PgPool,
    tenant: Tenant,
    id: WebhookEndpointId,
) -> StoreResult<Option<WebhookEndpoint>> {
    let row = sqlx::query(endpoint_select!(
        "WHERE id = $1 AND account_id = $2 AND mode = $3"
    ))
    .bind(id.uuid())
    .bind(tenant.account.uuid())
    .bind(tenant.mode.as_str())
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(endpoint_from_row).transpose()
}

pub(super) async fn list(
    pool: &PgPool,
    tenant: Tenant,
    page: PageRequest,
) -> StoreResult<Page<WebhookEndpoint>> {
    let rows = sqlx::query(endpoint_select!(
        "WHERE account_id = $1 AND mode = $2 AND id < $3 ORDER BY id DESC LIMIT $4"
    ))
    .bind(tenant.account.uuid())
    .bind(tenant.mode.as_str())
    .bind(page.below())
    .bind(page.fetch())
    .fetch_all(pool)
    .await?;
    let items = rows
        .iter()
        .map(endpoint_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(page.page_of(items))
}

/// Applies the patch under the endpoint's row lock, so concurrent updates (on any node) and
/// the recording of its attempts take turns instead of overwriting each other. The response
/// is kept in the same transaction.
pub(super) async fn update(
    pool: &PgPool,
    tenant: Tenant,
    id: WebhookEndpointId,
    patch: WebhookEndpointPatch,
    claim: Option<&IdempotencyClaim>,
    render: Render<WebhookEndpoint>,
) -> StoreResult<Option<StoredResponse>> {
    let mut tx = match idempotency::begin(pool, tenant, claim).await? {
        Begun::Fresh(tx) => tx,
        Begun::Kept(kept) => return Ok(Some(kept)),
    };
    let row = sqlx::query(endpoint_select!(
        "WHERE id = $1 AND account_id = $2 AND mode = $3 FOR NO KEY UPDATE"
    ))
    .bind(id.uuid())
    .bind(tenant.account.uuid())
    .bind(tenant.mode.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(mut endpoint) = row.as_ref().map(endpoint_from_row).transpose()? else {
        tx.rollback().await?;
        return Ok(None);
    };
    let was_enabled = endpoint.is_enabled();
    let re_enabling = patch.enabled == Some(true);
    endpoint.apply(patch, Timestamp::now());
    write_endpoint(&mut tx, &endpoint, re_enabling).await?;

    match (was_enabled, endpoint.is_enabled()) {
        (false, true) => resume_deliveries(&mut tx, id).await?,
        (true, false) => pause_deliveries(&mut tx, id).await?,
        _ => {}
    }

    let response = render(&endpoint)?;
    let kept = idempotency::commit_with_response(pool, tx, tenant, claim, response).await?;
    Ok(Some(kept))
}

/// Writes the endpoint's fields back; `forget_failures` restarts its run of failures.
async fn write_endpoint(
    conn: &mut PgConnection,
    endpoint: &WebhookEndpoint,
    forget_failures: bool,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE webhook_endpoints SET url = $1, description = $2, enabled_events = $3::jsonb, \
         disabled_reason = $4, disabled_at = $5, \
         consecutive_failures = CASE WHEN $6 THEN 0 ELSE consecutive_failures END WHERE id = $7",
    )
    .bind(&endpoint.url)
    .bind(&endpoint.description)
    .bind(events_json(&endpoint.enabled_events)?)
    .bind(endpoint.disabled_reason.map(DisabledReason::as_str))
    .bind(endpoint.disabled_at.map(Timestamp::unix_millis))
    .bind(forget_failures)
    .bind(endpoint.id.uuid())
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes the endpoint; its queue and attempts go with it (ON DELETE CASCADE).
pub(super) async fn delete(
    pool: &PgPool,
    tenant: Tenant,
    id: WebhookEndpointId,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "DELETE FROM webhook_endpoints WHERE id = $1 AND account_id = $2 AND mode = $3",
    )
    .bind(id.uuid())
    .bind(tenant.account.uuid())
    .bind(tenant.mode.as_str())
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn attempts(
    pool: &PgPool,
    tenant: Tenant,
    endpoint: WebhookEndpointId,
    page: PageRequest,
) -> StoreResult<Page<WebhookAttempt>> {
    let rows = sqlx::query(
        "SELECT a.id, a.endpoint_id, a.event_id, a.event_type, a.attempted_at, a.status_code, \
         a.error, a.duration_ms, a.next_attempt_at FROM webhook_attempts a \
         JOIN webhook_endpoints e ON e.id = a.endpoint_id \
         WHERE a.endpoint_id = $1 AND e.account_id = $2 AND e.mode = $3 AND a.id < $4 \
         ORDER BY a.id DESC LIMIT $5",
    )
    .bind(endpoint.uuid())
    .bind(tenant.account.uuid())
    .bind(tenant.mode.as_str())
    .bind(page.below())
    .bind(page.fetch())
    .fetch_all(pool)
    .await?;
    let items = rows
        .iter()
        .map(attempt_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(page.page_of(items))
}

/// Queues a stored event again and keeps the response in the same transaction; `None` when
/// the tenant has no such event.
pub(super) async fn queue_again(
    pool: &PgPool,
    tenant: Tenant,
    event: EventId,
    endpoint: Option<WebhookEndpointId>,
    claim: Option<&IdempotencyClaim>,
    render: Render<Vec<WebhookEndpointId>>,
) -> StoreResult<Option<StoredResponse>> {
    let mut tx = match idempotency::begin(pool, tenant, claim).await? {
        Begun::Fresh(tx) => tx,
        Begun::Kept(kept) => return Ok(Some(kept)),
    };
    let row =
        sqlx::query("SELECT type FROM events WHERE id = $1 AND account_id = $2 AND mode = $3")
            .bind(event.uuid())
            .bind(tenant.account.uuid())
            .bind(tenant.mode.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    let Some(row) = row else {
        tx.rollback().await?;
        return Ok(None);
    };
    let event_type =
        EventType::parse(row.try_get("type")?).ok_or_else(|| corrupt("events.type"))?;
    let queued = queue_deliveries(&mut tx, tenant, event, event_type, endpoint).await?;

    let response = render(&queued)?;
    let kept = idempotency::commit_with_response(pool, tx, tenant, claim, response).await?;
    Ok(Some(kept))
}

fn events_json(events: &EnabledEvents) -> StoreResult<String> {
    serde_json::to_string(&events.to_names())
        .map_err(|error| StoreError::Invalid(error.to_string()))
}
