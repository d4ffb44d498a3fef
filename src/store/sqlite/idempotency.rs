//! Kept responses on SQLite: read and written inside the writer's transaction, by every
//! idempotent write (customers and webhooks alike), so a response is kept exactly when its
//! write commits.

use rusqlite::{Connection, OptionalExtension, params};

use crate::domain::Tenant;
use crate::domain::timestamp::Timestamp;
use crate::store::{
    IDEMPOTENCY_RETENTION_MILLIS, IdempotencyClaim, StoreResult, StoredResponse, replay,
};

/// The response kept for this key within retention, as a replay (or `IdempotencyKeyReused`
/// when the request differs); `None` without a claim or a kept response.
pub(super) fn kept_response(
    conn: &Connection,
    tenant: Tenant,
    claim: Option<&IdempotencyClaim>,
) -> StoreResult<Option<StoredResponse>> {
    let Some(claim) = claim else { return Ok(None) };
    let fresh_since = Timestamp::now()
        .plus_millis(-IDEMPOTENCY_RETENTION_MILLIS)
        .unix_millis();
    let mut statement = conn.prepare_cached(
        "SELECT fingerprint, status, body FROM idempotency_keys \
         WHERE account_id = ?1 AND mode = ?2 AND key = ?3 AND created_at >= ?4",
    )?;
    let params = params![
        tenant.account.uuid(),
        tenant.mode.as_str(),
        claim.key,
        fresh_since
    ];
    let row = statement
        .query_row(params, |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get(2)?))
        })
        .optional()?;
    let Some((fingerprint, status, body)) = row else {
        return Ok(None);
    };
    replay(
        claim,
        &fingerprint,
        u16::try_from(status).unwrap_or(200),
        body,
    )
    .map(Some)
}

/// Keeps the response for the claim's key, in the caller's transaction; nothing without one.
pub(super) fn keep_response(
    conn: &Connection,
    tenant: Tenant,
    claim: Option<&IdempotencyClaim>,
    response: &StoredResponse,
) -> StoreResult<()> {
    let Some(claim) = claim else { return Ok(()) };
    // A row past retention may linger until purged; the new response replaces it.
    conn.prepare_cached(
        "INSERT OR REPLACE INTO idempotency_keys \
         (account_id, mode, key, fingerprint, status, body, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        tenant.account.uuid(),
        tenant.mode.as_str(),
        claim.key,
        claim.fingerprint,
        i64::from(response.status),
        response.body,
        Timestamp::now().unix_millis(),
    ])?;
    Ok(())
}
