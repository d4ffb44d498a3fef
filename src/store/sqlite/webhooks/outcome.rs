//! Recording an attempt: the attempt log, the delivery's next step, and the endpoint's run of
//! failures, which disables it at the limit or at once on a 410.

use rusqlite::{Connection, params};

use crate::domain::WebhookEndpointId;
use crate::domain::timestamp::Timestamp;
use crate::domain::webhook::DisabledReason;
use crate::store::StoreResult;
use crate::store::webhooks::{AttemptOutcome, MAX_CONSECUTIVE_FAILURES};

/// Records one attempt in the caller's transaction; nothing when the lease was lost.
pub(super) fn record(conn: &Connection, outcome: &AttemptOutcome) -> StoreResult<()> {
    if !close_attempt(conn, outcome)? {
        tracing::debug!(
            delivery = outcome.delivery_id,
            "lease lost; attempt not recorded"
        );
        return Ok(());
    }
    insert_attempt(conn, outcome)?;

    let endpoint = outcome.attempt.endpoint;
    if outcome.attempt.succeeded() {
        return forget_failures(conn, endpoint);
    }
    let (failures, already_disabled) = count_failure(conn, endpoint)?;
    let reason = match outcome.disable {
        Some(reason) => Some(reason),
        None if failures >= MAX_CONSECUTIVE_FAILURES => Some(DisabledReason::ConsecutiveFailures),
        None => None,
    };
    if let (Some(reason), false) = (reason, already_disabled) {
        disable_endpoint(conn, endpoint, reason, outcome.attempt.attempted_at)?;
    }
    if reason.is_some() || already_disabled {
        pause_deliveries(conn, endpoint)?;
    }
    Ok(())
}

/// Moves the delivery on from its attempt: done, failed for good, or due again later.
fn close_attempt(conn: &Connection, outcome: &AttemptOutcome) -> StoreResult<bool> {
    let attempt = &outcome.attempt;
    let state = match (attempt.succeeded(), attempt.next_attempt_at) {
        (true, _) => "succeeded",
        (false, Some(_)) => "pending",
        (false, None) => "failed",
    };
    let next = attempt
        .next_attempt_at
        .filter(|_| !attempt.succeeded())
        .map(Timestamp::unix_millis);
    let changed = conn
        .prepare_cached(
            "UPDATE webhook_deliveries SET attempt_count = attempt_count + 1, state = ?1, \
             next_attempt_at = ?2, locked_until = 0 WHERE id = ?3 AND locked_until = ?4",
        )?
        .execute(params![
            state,
            next,
            outcome.delivery_id,
            outcome.lease_until.unix_millis()
        ])?;
    Ok(changed == 1)
}

fn insert_attempt(conn: &Connection, outcome: &AttemptOutcome) -> StoreResult<()> {
    let attempt = &outcome.attempt;
    conn.prepare_cached(
        "INSERT INTO webhook_attempts (id, delivery_id, endpoint_id, event_id, event_type, \
         attempted_at, status_code, error, duration_ms, next_attempt_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        attempt.id.uuid(),
        outcome.delivery_id,
        attempt.endpoint.uuid(),
        attempt.event.uuid(),
        attempt.event_type.as_str(),
        attempt.attempted_at.unix_millis(),
        attempt.status_code.map(i64::from),
        attempt.error,
        attempt.duration_ms,
        attempt.next_attempt_at.map(Timestamp::unix_millis),
    ])?;
    Ok(())
}

fn forget_failures(conn: &Connection, endpoint: WebhookEndpointId) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE webhook_endpoints SET consecutive_failures = 0 \
         WHERE id = ?1 AND consecutive_failures <> 0",
    )?
    .execute([endpoint.uuid()])?;
    Ok(())
}

/// Adds one to the endpoint's run of failures; answers the run and whether it is disabled.
fn count_failure(conn: &Connection, endpoint: WebhookEndpointId) -> StoreResult<(i64, bool)> {
    let mut statement = conn.prepare_cached(
        "UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1 \
         WHERE id = ?1 RETURNING consecutive_failures, disabled_at",
    )?;
    let (failures, disabled_at) = statement.query_row([endpoint.uuid()], |row| {
        Ok((row.get(0)?, row.get::<_, Option<i64>>(1)?))
    })?;
    Ok((failures, disabled_at.is_some()))
}

fn disable_endpoint(
    conn: &Connection,
    endpoint: WebhookEndpointId,
    reason: DisabledReason,
    at: Timestamp,
) -> StoreResult<()> {
    tracing::warn!(endpoint = %endpoint, reason = reason.as_str(), "webhook endpoint disabled");
    conn.prepare_cached(
        "UPDATE webhook_endpoints SET disabled_at = ?1, disabled_reason = ?2 \
         WHERE id = ?3 AND disabled_at IS NULL",
    )?
    .execute(params![at.unix_millis(), reason.as_str(), endpoint.uuid()])?;
    Ok(())
}

/// Holds a disabled endpoint's waiting deliveries until it is enabled again.
pub(super) fn pause_deliveries(conn: &Connection, endpoint: WebhookEndpointId) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE webhook_deliveries SET state = 'paused' WHERE endpoint_id = ?1 AND state = 'pending'",
    )?
    .execute([endpoint.uuid()])?;
    Ok(())
}

/// Makes a re-enabled endpoint's held deliveries due now.
pub(super) fn resume_deliveries(conn: &Connection, endpoint: WebhookEndpointId) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = ?1 \
         WHERE endpoint_id = ?2 AND state = 'paused'",
    )?
    .execute(params![Timestamp::now().unix_millis(), endpoint.uuid()])?;
    Ok(())
}
