//! Claiming due deliveries under a lease, with what is needed to send them, in one statement.
//! The inner select locks the rows it takes with `FOR UPDATE SKIP LOCKED`: a node claiming at
//! the same moment passes over them instead of waiting, and once this claim commits they are
//! no longer due (their `next_attempt_at` is the lease's end), so no other node takes them
//! until the lease runs out.

use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::rows::{event_type_of, secret_of};
use crate::domain::{EventId, WebhookEndpointId};
use crate::store::StoreResult;
use crate::store::webhooks::{ClaimRequest, ClaimedDelivery};

/// Leases up to `claim.limit` due rows, oldest due first, leaving the skipped endpoints' rows.
pub(super) async fn claim_due(
    pool: &PgPool,
    claim: &ClaimRequest,
) -> StoreResult<Vec<ClaimedDelivery>> {
    let skipped: Vec<Uuid> = claim.skip_endpoints.iter().map(|id| id.uuid()).collect();
    // MATERIALIZED keeps the locking select a separate step that runs exactly once.
    let rows = sqlx::query(
        "WITH due AS MATERIALIZED ( \
             SELECT id FROM webhook_deliveries \
             WHERE state = 'pending' AND next_attempt_at <= $2 \
             AND NOT (endpoint_id = ANY($3)) \
             ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED), \
         leased AS ( \
             UPDATE webhook_deliveries d SET locked_until = $1, next_attempt_at = $1 \
             FROM due WHERE d.id = due.id \
             RETURNING d.id, d.attempt_count, d.endpoint_id, d.event_id) \
         SELECT l.id, l.attempt_count, l.endpoint_id, l.event_id, e.url, e.secret, \
             ev.type, ev.payload \
         FROM leased l JOIN webhook_endpoints e ON e.id = l.endpoint_id \
         JOIN events ev ON ev.id = l.event_id ORDER BY l.id",
    )
    .bind(claim.lease_until.unix_millis())
    .bind(claim.now.unix_millis())
    .bind(skipped)
    .bind(i64::from(claim.limit))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ClaimedDelivery {
                delivery_id: row.try_get("id")?,
                lease_until: claim.lease_until,
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
