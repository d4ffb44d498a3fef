//! Recording attempts: the attempt log, each delivery's next step, and each endpoint's run of
//! failures, which disables it at the limit or at once on a 410.
//!
//! Locks are taken in one order everywhere, endpoint rows before their delivery rows, so a
//! batch recorded here never deadlocks with another node's batch, a PATCH or a DELETE: a batch
//! first locks all its endpoints, sorted by id, and only then touches deliveries.

use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::domain::WebhookEndpointId;
use crate::domain::timestamp::Timestamp;
use crate::domain::webhook::DisabledReason;
use crate::store::StoreResult;
use crate::store::webhooks::{AttemptOutcome, MAX_CONSECUTIVE_FAILURES};

/// Records the outcomes in one transaction; an outcome whose lease was lost is skipped.
pub(super) async fn record_all(
    pool: &PgPool,
    mut outcomes: Vec<AttemptOutcome>,
) -> StoreResult<()> {
    if outcomes.is_empty() {
        return Ok(());
    }
    outcomes.sort_by_key(|one| (one.attempt.endpoint.uuid(), one.delivery_id));
    let mut endpoints: Vec<Uuid> = outcomes
        .iter()
        .map(|one| one.attempt.endpoint.uuid())
        .collect();
    endpoints.dedup();

    let mut tx = pool.begin().await?;
    sqlx::query(
        "SELECT id FROM webhook_endpoints WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
    )
    .bind(endpoints)
    .fetch_all(&mut *tx)
    .await?;
    for one in outcomes {
        record(&mut tx, one).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Records one attempt in the caller's transaction; nothing when the lease was lost.
async fn record(conn: &mut PgConnection, outcome: AttemptOutcome) -> StoreResult<()> {
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

/// Moves the delivery on from its attempt: done, failed for good, or due again later. Only
/// while the lease is still the claimer's: `locked_until` is its token.
async fn close_attempt(conn: &mut PgConnection, outcome: &AttemptOutcome) -> StoreResult<bool> {
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
        "UPDATE webhook_deliveries SET attempt_count = attempt_count + 1, state = $1, \
         next_attempt_at = $2, locked_until = 0 WHERE id = $3 AND locked_until = $4",
    )
    .bind(state)
    .bind(next)
    .bind(outcome.delivery_id)
    .bind(outcome.lease_until.unix_millis())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

async fn insert_attempt(conn: &mut PgConnection, outcome: &AttemptOutcome) -> StoreResult<()> {
    let attempt = &outcome.attempt;
    sqlx::query(
        "INSERT INTO webhook_attempts (id, delivery_id, endpoint_id, event_id, event_type, \
         attempted_at, status_code, error, duration_ms, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(attempt.id.uuid())
    .bind(outcome.delivery_id)
    .bind(attempt.endpoint.uuid())
    .bind(attempt.event.uuid())
    .bind(attempt.event_type.as_str())
    .bind(attempt.attempted_at.unix_millis())
    .bind(attempt.status_code.map(i32::from))
    // PostgreSQL text cannot hold NUL; an error message is only ever read by people.
    .bind(
        attempt
            .error
            .as_deref()
            .map(|text| text.replace('\0', "\u{FFFD}")),
    )
    .bind(attempt.duration_ms)
    .bind(attempt.next_attempt_at.map(Timestamp::unix_millis))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn forget_failures(conn: &mut PgConnection, endpoint: WebhookEndpointId) -> StoreResult<()> {
    sqlx::query(
        "UPDATE webhook_endpoints SET consecutive_failures = 0 \
         WHERE id = $1 AND consecutive_failures <> 0",
    )
    .bind(endpoint.uuid())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Adds one to the endpoint's run of failures; answers the run and whether it is disabled.
async fn count_failure(
    conn: &mut PgConnection,
    endpoint: WebhookEndpointId,
) -> StoreResult<(i64, bool)> {
    let row = sqlx::query(
        "UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1 \
         WHERE id = $1 RETURNING consecutive_failures, disabled_at",
    )
    .bind(endpoint.uuid())
    .fetch_one(&mut *conn)
    .await?;
    let disabled = row.try_get::<Option<i64>, _>("disabled_at")?.is_some();
    Ok((row.try_get("consecutive_failures")?, disabled))
}

async fn disable_endpoint(
    conn: &mut PgConnection,
    endpoint: WebhookEndpointId,
    reason: DisabledReason,
    at: Timestamp,
) -> StoreResult<()> {
    tracing::warn!(endpoint = %endpoint, reason = reason.as_str(), "webhook endpoint disabled");
    sqlx::query(
        "UPDATE webhook_endpoints SET disabled_at = $1, disabled_reason = $2 \
         WHERE id = $3 AND disabled_at IS NULL",
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
    conn: &mut PgConnection,
    endpoint: WebhookEndpointId,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE webhook_deliveries SET state = 'paused' \
         WHERE endpoint_id = $1 AND state = 'pending'",
    )
    .bind(endpoint.uuid())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Makes a re-enabled endpoint's held deliveries due now.
pub(super) async fn resume_deliveries(
    conn: &mut PgConnection,
    endpoint: WebhookEndpointId,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $1 \
         WHERE endpoint_id = $2 AND state = 'paused'",
    )
    .bind(Timestamp::now().unix_millis())
    .bind(endpoint.uuid())
    .execute(&mut *conn)
    .await?;
    Ok(())
}
