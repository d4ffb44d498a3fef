//! Claiming due deliveries under a lease, with what is needed to send them.

use sqlx::{Row, SqliteConnection};

use super::rows::{event_type_of, secret_of};
use crate::domain::timestamp::Timestamp;
use crate::domain::{EventId, WebhookEndpointId};
use crate::store::StoreResult;
use crate::store::webhooks::{ClaimRequest, ClaimedDelivery};

/// Leases the due rows and answers their ids. The lease's end becomes the rows' next attempt
/// time, so rows of a claimer that died come due again by themselves.
pub(super) async fn claim_due(
    conn: &mut SqliteConnection,
    claim: &ClaimRequest,
) -> StoreResult<Vec<i64>> {
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

pub(super) async fn claimed_details(
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
