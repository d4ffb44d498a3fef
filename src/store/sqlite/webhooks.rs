//! Webhook storage on SQLite: endpoints, the delivery queue and the attempt log. Every write
//! goes through the group-commit writer; reads run inline like every other read.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::SqliteStore;
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
pub(super) fn queue_deliveries(
    conn: &Connection,
    tenant: Tenant,
    event: EventId,
    event_type: EventType,
    only: Option<WebhookEndpointId>,
) -> StoreResult<Vec<WebhookEndpointId>> {
    let now = Timestamp::now().unix_millis();
    let mut statement = conn.prepare_cached(
        "INSERT INTO webhook_deliveries (endpoint_id, event_id, state, next_attempt_at, created_at) \
         SELECT id, ?1, 'pending', ?2, ?2 FROM webhook_endpoints INDEXED BY webhook_endpoints_tenant \
         WHERE account_id = ?3 AND mode = ?4 AND disabled_at IS NULL AND (?5 IS NULL OR id = ?5) \
         AND EXISTS (SELECT 1 FROM json_each(enabled_events) WHERE value IN ('*', ?6)) \
         RETURNING endpoint_id",
    )?;
    let params = params![
        event.uuid(),
        now,
        tenant.account.uuid(),
        tenant.mode.as_str(),
        only.map(WebhookEndpointId::uuid),
        event_type.as_str(),
    ];
    let ids = statement.query_map(params, |row| Ok(WebhookEndpointId(row.get(0)?)))?;
    Ok(ids.collect::<Result<_, _>>()?)
}

#[async_trait]
impl WebhookStore for SqliteStore {
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
        self.writer
            .write(move |conn| {
                endpoints::create(conn, tenant, &endpoint, idempotency.as_ref(), render)
            })
            .await
    }

    async fn webhook_endpoint(
        &self,
        tenant: Tenant,
        id: WebhookEndpointId,
    ) -> StoreResult<Option<WebhookEndpoint>> {
        self.readers.with(|conn| endpoint_in(conn, tenant, id))
    }

    async fn list_webhook_endpoints(
        &self,
        tenant: Tenant,
        page: PageRequest,
    ) -> StoreResult<Page<WebhookEndpoint>> {
        self.readers.with(|conn| {
            let mut statement = conn.prepare_cached(endpoint_select!(
                "WHERE account_id = ?1 AND mode = ?2 AND id < ?3 ORDER BY id DESC LIMIT ?4"
            ))?;
            let params = params![
                tenant.account.uuid(),
                tenant.mode.as_str(),
                page.below(),
                page.fetch()
            ];
            let items = statement.query_map(params, endpoint_from_row)?;
            Ok(page.page_of(items.collect::<Result<_, _>>()?))
        })
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
        self.writer
            .write(move |conn| {
                endpoints::update(conn, tenant, id, patch, idempotency.as_ref(), render)
            })
            .await
    }

    async fn delete_webhook_endpoint(
        &self,
        tenant: Tenant,
        id: WebhookEndpointId,
    ) -> StoreResult<bool> {
        self.writer
            .write(move |conn| {
                // The queue and the attempts go with it (ON DELETE CASCADE).
                let deleted = conn
                    .prepare_cached(
                        "DELETE FROM webhook_endpoints \
                         WHERE id = ?1 AND account_id = ?2 AND mode = ?3",
                    )?
                    .execute(params![
                        id.uuid(),
                        tenant.account.uuid(),
                        tenant.mode.as_str()
                    ])?;
                Ok(deleted == 1)
            })
            .await
    }

    async fn list_webhook_attempts(
        &self,
        tenant: Tenant,
        endpoint: WebhookEndpointId,
        page: PageRequest,
    ) -> StoreResult<Page<WebhookAttempt>> {
        self.readers.with(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT a.id, a.endpoint_id, a.event_id, a.event_type, a.attempted_at, \
                 a.status_code, a.error, a.duration_ms, a.next_attempt_at FROM webhook_attempts a \
                 JOIN webhook_endpoints e ON e.id = a.endpoint_id \
                 WHERE a.endpoint_id = ?1 AND e.account_id = ?2 AND e.mode = ?3 AND a.id < ?4 \
                 ORDER BY a.id DESC LIMIT ?5",
            )?;
            let params = params![
                endpoint.uuid(),
                tenant.account.uuid(),
                tenant.mode.as_str(),
                page.below(),
                page.fetch()
            ];
            let items = statement.query_map(params, attempt_from_row)?;
            Ok(page.page_of(items.collect::<Result<_, _>>()?))
        })
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
        self.writer
            .write(move |conn| {
                let claim = idempotency.as_ref();
                endpoints::queue_again(conn, tenant, event, endpoint, claim, render)
            })
            .await
    }

    async fn claim_webhook_deliveries(
        &self,
        claim: ClaimRequest,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        self.writer
            .write(move |conn| {
                let ids = claim::claim_due(conn, &claim)?;
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                claim::claimed_details(conn, &ids, claim.lease_until)
            })
            .await
    }

    async fn record_webhook_attempts(&self, outcomes: Vec<AttemptOutcome>) -> StoreResult<()> {
        self.writer
            .write(move |conn| {
                outcomes
                    .iter()
                    .try_for_each(|one| outcome::record(conn, one))
            })
            .await
    }

    async fn webhook_backlog(&self) -> StoreResult<Backlog> {
        self.readers.with(|conn| {
            let (pending, next_due) = conn.query_row(
                "SELECT COUNT(*), MIN(next_attempt_at) \
                 FROM webhook_deliveries INDEXED BY webhook_deliveries_due WHERE state = 'pending'",
                [],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Option<i64>>(1)?)),
            )?;
            Ok(Backlog {
                pending: u64::try_from(pending).unwrap_or(0),
                next_due: next_due.map(Timestamp::from_unix_millis),
            })
        })
    }
}

fn endpoint_in(
    conn: &Connection,
    tenant: Tenant,
    id: WebhookEndpointId,
) -> StoreResult<Option<WebhookEndpoint>> {
    let mut statement = conn.prepare_cached(endpoint_select!(
        "WHERE id = ?1 AND account_id = ?2 AND mode = ?3"
    ))?;
    let params = params![id.uuid(), tenant.account.uuid(), tenant.mode.as_str()];
    Ok(statement.query_row(params, endpoint_from_row).optional()?)
}
