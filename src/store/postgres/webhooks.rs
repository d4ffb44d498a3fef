//! Webhook storage on PostgreSQL: endpoints, the delivery queue and the attempt log, with the
//! SQLite backend's semantics. Several nodes share the queue: claims lease rows with
//! `FOR UPDATE SKIP LOCKED` (see `claim`), outcomes are recorded only while the lease holds
//! (see `outcome`), and a node that dies leaves its rows due again once their leases run out.

use async_trait::async_trait;
use sqlx::{PgConnection, Row};

use super::{PostgresStore, reclassify};
use crate::domain::event::EventType;
use crate::domain::timestamp::Timestamp;
use crate::domain::webhook::{WebhookAttempt, WebhookEndpoint, WebhookEndpointPatch};
use crate::domain::{EventId, Tenant, WebhookEndpointId};
use crate::store::webhooks::{
    AttemptOutcome, Backlog, ClaimRequest, ClaimedDelivery, WebhookStore,
};
use crate::store::{IdempotencyClaim, Page, PageRequest, Render, StoreResult, StoredResponse};

mod claim;
mod endpoints;
mod outcome;
mod rows;

/// Queues the event for every enabled endpoint of the tenant subscribed to its type (or only
/// `only`), in the caller's transaction; answers the endpoints it was queued for.
pub(super) async fn queue_deliveries(
    conn: &mut PgConnection,
    tenant: Tenant,
    event: EventId,
    event_type: EventType,
    only: Option<WebhookEndpointId>,
) -> StoreResult<Vec<WebhookEndpointId>> {
    let now = Timestamp::now().unix_millis();
    let rows = sqlx::query(
        "INSERT INTO webhook_deliveries (endpoint_id, event_id, state, next_attempt_at, created_at) \
         SELECT id, $1, 'pending', $2, $2 FROM webhook_endpoints \
         WHERE account_id = $3 AND mode = $4 AND disabled_at IS NULL \
         AND ($5::uuid IS NULL OR id = $5) \
         AND (enabled_events @> '[\"*\"]' OR enabled_events @> jsonb_build_array($6::text)) \
         RETURNING endpoint_id",
    )
    .bind(event.uuid())
    .bind(now)
    .bind(tenant.account.uuid())
    .bind(tenant.mode.as_str())
    .bind(only.map(WebhookEndpointId::uuid))
    .bind(event_type.as_str())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| Ok(WebhookEndpointId(row.try_get("endpoint_id")?)))
        .collect()
}

#[async_trait]
impl WebhookStore for PostgresStore {
    async fn create_webhook_endpoint(
        &self,
        tenant: Tenant,
        endpoint: WebhookEndpoint,
        idempotency: Option<IdempotencyClaim>,
        render: Render<WebhookEndpoint>,
    ) -> StoreResult<StoredResponse> {
        let _in_flight = self
            .in_flight
            .claim_optional(tenant, idempotency.as_ref())?;
        endpoints::create(&self.pool, tenant, endpoint, idempotency.as_ref(), render)
            .await
            .map_err(reclassify)
    }

    async fn webhook_endpoint(
        &self,
        tenant: Tenant,
        id: WebhookEndpointId,
    ) -> StoreResult<Option<WebhookEndpoint>> {
        endpoints::get(&self.pool, tenant, id)
            .await
            .map_err(reclassify)
    }

    async fn list_webhook_endpoints(
        &self,
        tenant: Tenant,
        page: PageRequest,
    ) -> StoreResult<Page<WebhookEndpoint>> {
        endpoints::list(&self.pool, tenant, page)
            .await
            .map_err(reclassify)
    }

    async fn update_webhook_endpoint(
        &self,
        tenant: Tenant,
        id: WebhookEndpointId,
        patch: WebhookEndpointPatch,
        idempotency: Option<IdempotencyClaim>,
        render: Render<WebhookEndpoint>,
    ) -> StoreResult<Option<StoredResponse>> {
        let _in_flight = self
            .in_flight
            .claim_optional(tenant, idempotency.as_ref())?;
        let claim = idempotency.as_ref();
        endpoints::update(&self.pool, tenant, id, patch, claim, render)
            .await
            .map_err(reclassify)
    }

    async fn delete_webhook_endpoint(
        &self,
        tenant: Tenant,
        id: WebhookEndpointId,
    ) -> StoreResult<bool> {
        endpoints::delete(&self.pool, tenant, id)
            .await
            .map_err(reclassify)
    }

    async fn list_webhook_attempts(
        &self,
        tenant: Tenant,
        endpoint: WebhookEndpointId,
        page: PageRequest,
    ) -> StoreResult<Page<WebhookAttempt>> {
        endpoints::attempts(&self.pool, tenant, endpoint, page)
            .await
            .map_err(reclassify)
    }

    async fn queue_event_again(
        &self,
        tenant: Tenant,
        event: EventId,
        endpoint: Option<WebhookEndpointId>,
        idempotency: Option<IdempotencyClaim>,
        render: Render<Vec<WebhookEndpointId>>,
    ) -> StoreResult<Option<StoredResponse>> {
        let _in_flight = self
            .in_flight
            .claim_optional(tenant, idempotency.as_ref())?;
        let claim = idempotency.as_ref();
        endpoints::queue_again(&self.pool, tenant, event, endpoint, claim, render)
            .await
            .map_err(reclassify)
    }

    async fn claim_webhook_deliveries(
        &self,
        claim: ClaimRequest,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        claim::claim_due(&self.pool, &claim)
            .await
            .map_err(reclassify)
    }

    async fn record_webhook_attempts(&self, outcomes: Vec<AttemptOutcome>) -> StoreResult<()> {
        outcome::record_all(&self.pool, outcomes)
            .await
            .map_err(reclassify)
    }

    async fn webhook_backlog(&self) -> StoreResult<Backlog> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS pending, MIN(next_attempt_at) AS next_due \
             FROM webhook_deliveries WHERE state = 'pending'",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(|e| reclassify(e.into()))?;
        Ok(Backlog {
            pending: u64::try_from(row.try_get::<i64, _>("pending")?).unwrap_or(0),
            next_due: row
                .try_get::<Option<i64>, _>("next_due")?
                .map(Timestamp::from_unix_millis),
        })
    }
}
