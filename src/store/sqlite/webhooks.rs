//! Webhook storage on SQLite: endpoints, the delivery queue and the attempt log. Every write
//! goes through the group-commit writer; the statements are plain enough to port as they are
//! (PostgreSQL adds `FOR UPDATE SKIP LOCKED` to the claim's inner select).

use async_trait::async_trait;
use sqlx::{Row, SqliteConnection};
use uuid::Uuid;

use super::{SqliteStore, corrupt, page_of};
use crate::domain::event::EventType;
use crate::domain::timestamp::Timestamp;
use crate::domain::webhook::{
    DisabledReason, EnabledEvents, WebhookAttempt, WebhookEndpoint, WebhookEndpointPatch,
};
use crate::domain::{EventId, Tenant, WebhookEndpointId};
use crate::store::webhooks::{
    AttemptOutcome, Backlog, ClaimRequest, ClaimedDelivery, WebhookStore,
};
use crate::store::{Page, PageRequest, StoreResult};

mod claim;
mod outcome;
mod rows;

use self::rows::{attempt_from_row, endpoint_from_row};

/// The endpoint columns every endpoint query selects, as a literal so queries stay static.
macro_rules! endpoint_select {
    ($tail:literal) => {
        concat!(
            "SELECT id, mode, url, description, enabled_events, secret, disabled_reason, \
             disabled_at, created_at FROM webhook_endpoints ",
            $tail
        )
    };
}

/// Queues the event for every enabled endpoint of the tenant subscribed to its type (or only
/// `only`), in the caller's transaction; answers the endpoints it was queued for.
pub(super) async fn queue_deliveries(
    conn: &mut SqliteConnection,
    tenant: Tenant,
    event: EventId,
    event_type: EventType,
    only: Option<WebhookEndpointId>,
) -> StoreResult<Vec<WebhookEndpointId>> {
    let now = Timestamp::now().unix_millis();
    let rows = sqlx::query(
        "INSERT INTO webhook_deliveries (endpoint_id, event_id, state, next_attempt_at, created_at) \
         SELECT id, ?, 'pending', ?, ? FROM webhook_endpoints INDEXED BY webhook_endpoints_tenant \
         WHERE account_id = ? AND mode = ? AND disabled_at IS NULL AND (? IS NULL OR id = ?) \
         AND EXISTS (SELECT 1 FROM json_each(enabled_events) WHERE value IN ('*', ?)) \
         RETURNING endpoint_id",
    )
    .bind(event.uuid())
    .bind(now)
    .bind(now)
    .bind(tenant.account.uuid())
    .bind(tenant.mode.as_str())
    .bind(only.map(WebhookEndpointId::uuid))
    .bind(only.map(WebhookEndpointId::uuid))
    .bind(event_type.as_str())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| Ok(WebhookEndpointId(row.try_get("endpoint_id")?)))
        .collect()
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn create_webhook_endpoint(
        &self,
        tenant: Tenant,
        endpoint: WebhookEndpoint,
    ) -> StoreResult<()> {
        let events = events_json(&endpoint.enabled_events)?;
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO webhook_endpoints (id, account_id, mode, url, description, \
                         enabled_events, secret, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    )
                    .bind(endpoint.id.uuid())
                    .bind(tenant.account.uuid())
                    .bind(tenant.mode.as_str())
                    .bind(&endpoint.url)
                    .bind(&endpoint.description)
                    .bind(events)
                    .bind(endpoint.secret.expose())
                    .bind(endpoint.created_at.unix_millis())
                    .execute(&mut *conn)
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    async fn webhook_endpoint(
        &self,
        tenant: Tenant,
        id: WebhookEndpointId,
    ) -> StoreResult<Option<WebhookEndpoint>> {
        let mut conn = self.readers.acquire().await?;
        endpoint_in(&mut conn, tenant, id).await
    }

    async fn list_webhook_endpoints(
        &self,
        tenant: Tenant,
        page: PageRequest,
    ) -> StoreResult<Page<WebhookEndpoint>> {
        let rows = sqlx::query(endpoint_select!(
            "WHERE account_id = ? AND mode = ? AND id < ? ORDER BY id DESC LIMIT ?"
        ))
        .bind(tenant.account.uuid())
        .bind(tenant.mode.as_str())
        .bind(page.after.unwrap_or(Uuid::max()))
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.readers)
        .await?;
        let items = rows
            .iter()
            .map(endpoint_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(page_of(items, page.limit))
    }

    async fn update_webhook_endpoint(
        &self,
        tenant: Tenant,
        id: WebhookEndpointId,
        patch: WebhookEndpointPatch,
    ) -> StoreResult<Option<WebhookEndpoint>> {
        self.writer
            .write(move |conn| Box::pin(update_endpoint_tx(conn, tenant, id, patch)))
            .await
    }

    async fn delete_webhook_endpoint(
        &self,
        tenant: Tenant,
        id: WebhookEndpointId,
    ) -> StoreResult<bool> {
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    // The queue and the attempts go with it (ON DELETE CASCADE).
                    let done = sqlx::query(
                        "DELETE FROM webhook_endpoints WHERE id = ? AND account_id = ? AND mode = ?",
                    )
                    .bind(id.uuid())
                    .bind(tenant.account.uuid())
                    .bind(tenant.mode.as_str())
                    .execute(&mut *conn)
                    .await?;
                    Ok(done.rows_affected() == 1)
                })
            })
            .await
    }

    async fn list_webhook_attempts(
        &self,
        tenant: Tenant,
        endpoint: WebhookEndpointId,
        page: PageRequest,
    ) -> StoreResult<Page<WebhookAttempt>> {
        let rows = sqlx::query(
            "SELECT a.id, a.endpoint_id, a.event_id, a.event_type, a.attempted_at, a.status_code, \
             a.error, a.duration_ms, a.next_attempt_at FROM webhook_attempts a \
             JOIN webhook_endpoints e ON e.id = a.endpoint_id \
             WHERE a.endpoint_id = ? AND e.account_id = ? AND e.mode = ? AND a.id < ? \
             ORDER BY a.id DESC LIMIT ?",
        )
        .bind(endpoint.uuid())
        .bind(tenant.account.uuid())
        .bind(tenant.mode.as_str())
        .bind(page.after.unwrap_or(Uuid::max()))
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.readers)
        .await?;
        let items = rows
            .iter()
            .map(attempt_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(page_of(items, page.limit))
    }

    async fn queue_event_again(
        &self,
        tenant: Tenant,
        event: EventId,
        endpoint: Option<WebhookEndpointId>,
    ) -> StoreResult<Option<Vec<WebhookEndpointId>>> {
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    let Some(event_type) = event_type_in(conn, tenant, event).await? else {
                        return Ok(None);
                    };
                    queue_deliveries(conn, tenant, event, event_type, endpoint)
                        .await
                        .map(Some)
                })
            })
            .await
    }

    async fn claim_webhook_deliveries(
        &self,
        claim: ClaimRequest,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    let ids = claim::claim_due(conn, &claim).await?;
                    if ids.is_empty() {
                        return Ok(Vec::new());
                    }
                    claim::claimed_details(conn, &ids, claim.lease_until).await
                })
            })
            .await
    }

    async fn record_webhook_attempts(&self, outcomes: Vec<AttemptOutcome>) -> StoreResult<()> {
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    for one in outcomes {
                        outcome::record(conn, one).await?;
                    }
                    Ok(())
                })
            })
            .await
    }

    async fn webhook_backlog(&self) -> StoreResult<Backlog> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS pending, MIN(next_attempt_at) AS next_due \
             FROM webhook_deliveries INDEXED BY webhook_deliveries_due WHERE state = 'pending'",
        )
        .fetch_one(&self.readers)
        .await?;
        Ok(Backlog {
            pending: u64::try_from(row.try_get::<i64, _>("pending")?).unwrap_or(0),
            next_due: row
                .try_get::<Option<i64>, _>("next_due")?
                .map(Timestamp::from_unix_millis),
        })
    }
}

async fn endpoint_in(
    conn: &mut SqliteConnection,
    tenant: Tenant,
    id: WebhookEndpointId,
) -> StoreResult<Option<WebhookEndpoint>> {
    let row = sqlx::query(endpoint_select!(
        "WHERE id = ? AND account_id = ? AND mode = ?"
    ))
    .bind(id.uuid())
    .bind(tenant.account.uuid())
    .bind(tenant.mode.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(endpoint_from_row).transpose()
}

async fn event_type_in(
    conn: &mut SqliteConnection,
    tenant: Tenant,
    event: EventId,
) -> StoreResult<Option<EventType>> {
    let row = sqlx::query("SELECT type FROM events WHERE id = ? AND account_id = ? AND mode = ?")
        .bind(event.uuid())
        .bind(tenant.account.uuid())
        .bind(tenant.mode.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    EventType::parse(row.try_get("type")?)
        .map(Some)
        .ok_or_else(|| corrupt("events.type"))
}

async fn update_endpoint_tx(
    conn: &mut SqliteConnection,
    tenant: Tenant,
    id: WebhookEndpointId,
    patch: WebhookEndpointPatch,
) -> StoreResult<Option<WebhookEndpoint>> {
    let Some(mut endpoint) = endpoint_in(conn, tenant, id).await? else {
        return Ok(None);
    };
    let was_enabled = endpoint.is_enabled();
    apply_patch(&mut endpoint, patch.clone(), Timestamp::now());

    sqlx::query(
        "UPDATE webhook_endpoints SET url = ?, description = ?, enabled_events = ?, \
         disabled_reason = ?, disabled_at = ?, \
         consecutive_failures = CASE WHEN ? THEN 0 ELSE consecutive_failures END WHERE id = ?",
    )
    .bind(&endpoint.url)
    .bind(&endpoint.description)
    .bind(events_json(&endpoint.enabled_events)?)
    .bind(endpoint.disabled_reason.map(DisabledReason::as_str))
    .bind(endpoint.disabled_at.map(Timestamp::unix_millis))
    .bind(patch.enabled == Some(true))
    .bind(id.uuid())
    .execute(&mut *conn)
    .await?;

    match (was_enabled, endpoint.is_enabled()) {
        (false, true) => outcome::resume_deliveries(conn, id).await?,
        (true, false) => outcome::pause_deliveries(conn, id).await?,
        _ => {}
    }
    Ok(Some(endpoint))
}

fn apply_patch(endpoint: &mut WebhookEndpoint, patch: WebhookEndpointPatch, now: Timestamp) {
    if let Some(url) = patch.url {
        endpoint.url = url;
    }
    if let Some(description) = patch.description {
        endpoint.description = description;
    }
    if let Some(events) = patch.enabled_events {
        endpoint.enabled_events = events;
    }
    match patch.enabled {
        Some(true) => {
            endpoint.disabled_at = None;
            endpoint.disabled_reason = None;
        }
        Some(false) if endpoint.is_enabled() => {
            endpoint.disabled_at = Some(now);
            endpoint.disabled_reason = Some(DisabledReason::Requested);
        }
        _ => {}
    }
}

fn events_json(events: &EnabledEvents) -> StoreResult<String> {
    super::to_json(&events.to_names())
}
