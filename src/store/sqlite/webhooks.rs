//! Webhook storage on SQLite: endpoints, the delivery queue and the attempt log. Every write
//! goes through the group-commit writer; the statements are plain enough to port as they are
//! (PostgreSQL adds `FOR UPDATE SKIP LOCKED` to the claim's inner select).

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use uuid::Uuid;

use super::{SqliteStore, corrupt, mode_of, page_of};
use crate::domain::event::EventType;
use crate::domain::timestamp::Timestamp;
use crate::domain::webhook::{
    DisabledReason, EnabledEvents, WebhookAttempt, WebhookEndpoint, WebhookEndpointPatch,
    WebhookSecret,
};
use crate::domain::{EventId, Tenant, WebhookAttemptId, WebhookEndpointId};
use crate::store::webhooks::{
    AttemptOutcome, Backlog, ClaimRequest, ClaimedDelivery, WebhookStore,
};
use crate::store::{Page, PageRequest, StoreResult};

mod outcome;

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
                    let ids = claim_due(conn, &claim).await?;
                    if ids.is_empty() {
                        return Ok(Vec::new());
                    }
                    claimed_details(conn, &ids, claim.lease_until).await
                })
            })
            .await
    }

    async fn record_webhook_attempt(&self, outcome: AttemptOutcome) -> StoreResult<()> {
        self.writer
            .write(move |conn| Box::pin(outcome::record(conn, outcome)))
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

/// Leases the due rows and answers their ids. The lease's end becomes the rows' next attempt
/// time, so rows of a claimer that died come due again by themselves.
async fn claim_due(conn: &mut SqliteConnection, claim: &ClaimRequest) -> StoreResult<Vec<i64>> {
    let skipped: Vec<String> = claim
        .skip_endpoints
        .iter()
        .map(|id| id.uuid().simple().to_string().to_uppercase())
        .collect();
    let rows = sqlx::query(
        "UPDATE webhook_deliveries SET locked_until = ?1, next_attempt_at = ?1 WHERE id IN ( \
         SELECT id FROM webhook_deliveries INDEXED BY webhook_deliveries_due \
         WHERE state = 'pending' AND next_attempt_at <= ?2 \
         AND hex(endpoint_id) NOT IN (SELECT value FROM json_each(?3)) \
         ORDER BY next_attempt_at LIMIT ?4) RETURNING id",
    )
    .bind(claim.lease_until.unix_millis())
    .bind(claim.now.unix_millis())
    .bind(serde_json::to_string(&skipped).unwrap_or_else(|_| "[]".to_owned()))
    .bind(i64::from(claim.limit))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| Ok(row.try_get::<i64, _>("id")?))
        .collect()
}

async fn claimed_details(
    conn: &mut SqliteConnection,
    ids: &[i64],
    lease_until: Timestamp,
) -> StoreResult<Vec<ClaimedDelivery>> {
    let ids = serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned());
    let rows = sqlx::query(
        "SELECT d.id, d.attempt_count, d.endpoint_id, d.event_id, e.url, e.secret, \
         ev.type, ev.payload FROM webhook_deliveries d \
         JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN events ev ON ev.id = d.event_id \
         WHERE d.id IN (SELECT value FROM json_each(?)) ORDER BY d.next_attempt_at, d.id",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ClaimedDelivery {
                delivery_id: row.try_get("id")?,
                lease_until,
                attempt_count: u32::try_from(row.try_get::<i64, _>("attempt_count")?)
                    .unwrap_or(u32::MAX),
                endpoint: WebhookEndpointId(row.try_get("endpoint_id")?),
                url: row.try_get("url")?,
                secret: secret_of(row)?,
                event: EventId(row.try_get("event_id")?),
                event_type: event_type_of(row, "type")?,
                payload: row.try_get("payload")?,
            })
        })
        .collect()
}

fn events_json(events: &EnabledEvents) -> StoreResult<String> {
    super::to_json(&events.to_names())
}

fn secret_of(row: &SqliteRow) -> StoreResult<WebhookSecret> {
    WebhookSecret::from_stored(row.try_get("secret")?)
        .ok_or_else(|| corrupt("webhook_endpoints.secret"))
}

fn event_type_of(row: &SqliteRow, column: &str) -> StoreResult<EventType> {
    EventType::parse(row.try_get(column)?).ok_or_else(|| corrupt(column))
}

fn optional_time(row: &SqliteRow, column: &str) -> StoreResult<Option<Timestamp>> {
    Ok(row
        .try_get::<Option<i64>, _>(column)?
        .map(Timestamp::from_unix_millis))
}

fn endpoint_from_row(row: &SqliteRow) -> StoreResult<WebhookEndpoint> {
    let names: Vec<String> = serde_json::from_str(row.try_get("enabled_events")?)
        .map_err(|_| corrupt("webhook_endpoints.enabled_events"))?;
    let enabled_events = EnabledEvents::parse(names.iter().map(String::as_str))
        .map_err(|_| corrupt("webhook_endpoints.enabled_events"))?;
    let disabled_reason = match row.try_get::<Option<&str>, _>("disabled_reason")? {
        None => None,
        Some(text) => Some(
            DisabledReason::parse(text)
                .ok_or_else(|| corrupt("webhook_endpoints.disabled_reason"))?,
        ),
    };
    Ok(WebhookEndpoint {
        id: WebhookEndpointId(row.try_get("id")?),
        mode: mode_of(row)?,
        url: row.try_get("url")?,
        description: row.try_get("description")?,
        enabled_events,
        secret: secret_of(row)?,
        disabled_reason,
        disabled_at: optional_time(row, "disabled_at")?,
        created_at: Timestamp::from_unix_millis(row.try_get("created_at")?),
    })
}

fn attempt_from_row(row: &SqliteRow) -> StoreResult<WebhookAttempt> {
    Ok(WebhookAttempt {
        id: WebhookAttemptId(row.try_get("id")?),
        endpoint: WebhookEndpointId(row.try_get("endpoint_id")?),
        event: EventId(row.try_get("event_id")?),
        event_type: event_type_of(row, "event_type")?,
        attempted_at: Timestamp::from_unix_millis(row.try_get("attempted_at")?),
        status_code: row
            .try_get::<Option<i64>, _>("status_code")?
            .and_then(|code| u16::try_from(code).ok()),
        error: row.try_get("error")?,
        duration_ms: row.try_get("duration_ms")?,
        next_attempt_at: optional_time(row, "next_attempt_at")?,
    })
}
