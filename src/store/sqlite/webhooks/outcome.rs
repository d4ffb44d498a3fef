//! Recording an attempt: the attempt log, the delivery's next step, and the endpoint's run of
//! failures, which disables it at the limit or at once on a 410.

use sqlx::{Row, SqliteConnection};

use crate::domain::WebhookEndpointId;
use crate::domain::timestamp::Timestamp;
use crate::domain::webhook::DisabledReason;
use crate::store::StoreResult;
use crate::store::webhooks::{AttemptOutcome, MAX_CONSECUTIVE_FAILURES};

/// Records one attempt in the caller's transaction; nothing when the lease was lost.
pub(super) async fn record(
    conn: &mut SqliteConnection,
    outcome: AttemptOutcome,
) -> StoreResult<()> {
    if !close_attempt(conn, &outcome).await? {
        tracing::debug!(
            delivery = outcome.delivery_id,
            "lease lost; attempt not recorded"
        );
        return Ok(());
    }
    insert_attempt(conn, &outcome).await?;

    let endpoint = outcome.attempt.endpoint;
    if outcome.attempt.succeeded() {
        return forget_failures(conn, endpoint).await;
    }
    let (failures, already_disabled) = count_failure(conn, endpoint).await?;
    let reason = match outcome.disable {
        Some(reason) => Some(reason),
        None if failures >= MAX_CONSECUTIVE_FAILURES => Some(DisabledReason::ConsecutiveFailures),
        None => None,
    };
    if let (Some(reason), false) = (reason, already_disabled) {
        disable_endpoint(conn, endpoint, reason, outcome.attempt.attempted_at).await?;
    }
    if reason.is_some() || already_disabled {
        pause_deliveries(conn, endpoint).await?;
    }
    Ok(())
}

/// Moves the delivery on from its attempt: done, failed for good, or due again later.
async fn close_attempt(conn: &mut SqliteConnection, outcome: &AttemptOutcome) -> StoreResult<bool> {
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
    let done = sqlx::query(
        "UPDATE webhook_deliveries SET attempt_count = attempt_count + 1, state = ?, \
         next_attempt_at = ?, locked_until = 0 WHERE id = ? AND locked_until = ?",
    )
    .bind(state)
    .bind(next)
    .bind(outcome.delivery_id)
    .bind(outcome.lease_until.unix_millis())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

async fn insert_attempt(conn: &mut SqliteConnection, outcome: &AttemptOutcome) -> StoreResult<()> {
    let attempt = &outcome.attempt;
    sqlx::query(
        "INSERT INTO webhook_attempts (id, delivery_id, endpoint_id, event_id, event_type, \
         attempted_at, status_code, error, duration_ms, next_attempt_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(attempt.id.uuid())
    .bind(outcome.delivery_id)
    .bind(attempt.endpoint.uuid())
    .bind(attempt.event.uuid())
    .bind(attempt.event_type.as_str())
    .bind(attempt.attempted_at.unix_millis())
    .bind(attempt.status_code.map(i64::from))
    .bind(&attempt.error)
    .bind(attempt.duration_ms)
    .bind(attempt.next_attempt_at.map(Timestamp::unix_millis))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn forget_failures(
    conn: &mut SqliteConnection,
    endpoint: WebhookEndpointId,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE webhook_endpoints SET consecutive_failures = 0 \
         WHERE id = ? AND consecutive_failures <> 0",
    )
    .bind(endpoint.uuid())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Adds one to the endpoint's run of failures; answers the run and whether it is disabled.
async fn count_failure(
    conn: &mut SqliteConnection,
    endpoint: WebhookEndpointId,
) -> StoreResult<(i64, bool)> {
    let row = sqlx::query(
        "UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1 \
         WHERE id = ? RETURNING consecutive_failures, disabled_at",
    )
    .bind(endpoint.uuid())
    .fetch_one(&mut *conn)
    .await?;
    let disabled = row.try_get::<Option<i64>, _>("disabled_at")?.is_some();
    Ok((row.try_get("consecutive_failures")?, disabled))
}

async fn disable_endpoint(
    conn: &mut SqliteConnection,
    endpoint: WebhookEndpointId,
    reason: DisabledReason,
    at: Timestamp,
) -> StoreResult<()> {
    tracing::warn!(endpoint = %endpoint, reason = reason.as_str(), "webhook endpoint disabled");
    sqlx::query(
        "UPDATE webhook_endpoints SET disabled_at = ?, disabled_reason = ? \
         WHERE id = ? AND disabled_at IS NULL",
    )
    .bind(at.unix_millis())
    .bind(reason.as_str())
    .bind(endpoint.uuid())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Holds a disabled endpoint's waiting deliveries until it is enabled again.
pub(super) async fn pause_deliveries(
    conn: &mut SqliteConnection,
    endpoint: WebhookEndpointId,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE webhook_deliveries SET state = 'paused' WHERE endpoint_id = ? AND state = 'pending'",
    )
    .bind(endpoint.uuid())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Makes a re-enabled endpoint's held deliveries due now.
pub(super) async fn resume_deliveries(
    conn: &mut SqliteConnection,
    endpoint: WebhookEndpointId,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = ? \
         WHERE endpoint_id = ? AND state = 'paused'",
    )
    .bind(Timestamp::now().unix_millis())
    .bind(endpoint.uuid())
    .execute(&mut *conn)
    .await?;
    Ok(())
}
