//! Claiming due deliveries under a lease, with what is needed to send them.

use rusqlite::{Connection, params};

use super::rows::{event_type_of, secret_of};
use crate::domain::timestamp::Timestamp;
use crate::domain::{EventId, WebhookEndpointId};
use crate::store::StoreResult;
use crate::store::webhooks::{ClaimRequest, ClaimedDelivery};

/// Leases the due rows and answers their ids. The lease's end becomes the rows' next attempt
/// time, so rows of a claimer that died come due again by themselves.
pub(super) fn claim_due(conn: &Connection, claim: &ClaimRequest) -> StoreResult<Vec<i64>> {
    let skipped: Vec<String> = claim
        .skip_endpoints
        .iter()
        .map(|id| id.uuid().simple().to_string().to_uppercase())
        .collect();
    let skipped = serde_json::to_string(&skipped).unwrap_or_else(|_| "[]".to_owned());
    let mut statement = conn.prepare_cached(
        "UPDATE webhook_deliveries SET locked_until = ?1, next_attempt_at = ?1 WHERE id IN ( \
         SELECT id FROM webhook_deliveries INDEXED BY webhook_deliveries_due \
         WHERE state = 'pending' AND next_attempt_at <= ?2 \
         AND hex(endpoint_id) NOT IN (SELECT value FROM json_each(?3)) \
         ORDER BY next_attempt_at LIMIT ?4) RETURNING id",
    )?;
    let params = params![
        claim.lease_until.unix_millis(),
        claim.now.unix_millis(),
        skipped,
        i64::from(claim.limit)
    ];
    let ids = statement.query_map(params, |row| row.get::<_, i64>(0))?;
    Ok(ids.collect::<Result<_, _>>()?)
}

pub(super) fn claimed_details(
    conn: &Connection,
    ids: &[i64],
    lease_until: Timestamp,
) -> StoreResult<Vec<ClaimedDelivery>> {
    let ids = serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned());
    let mut statement = conn.prepare_cached(
        "SELECT d.id, d.attempt_count, d.endpoint_id, d.event_id, e.url, e.secret, \
         ev.type, ev.payload FROM webhook_deliveries d \
         JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN events ev ON ev.id = d.event_id \
         WHERE d.id IN (SELECT value FROM json_each(?1)) ORDER BY d.next_attempt_at, d.id",
    )?;
    let rows = statement.query_map([ids], |row| {
        Ok(ClaimedDelivery {
            delivery_id: row.get("id")?,
            lease_until,
            attempt_count: u32::try_from(row.get::<_, i64>("attempt_count")?).unwrap_or(u32::MAX),
            endpoint: WebhookEndpointId(row.get("endpoint_id")?),
            url: row.get("url")?,
            secret: secret_of(row)?,
            event: EventId(row.get("event_id")?),
            event_type: event_type_of(row, "type")?,
            payload: row.get("payload")?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
