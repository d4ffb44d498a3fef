//! Events on PostgreSQL: written inside the change's transaction, read tenant-scoped, newest
//! first, and purged past retention.

use sqlx::{PgConnection, PgPool};

use super::rows;
use crate::domain::event::{Event, EventType};
use crate::domain::timestamp::Timestamp;
use crate::domain::{EventId, Tenant};
use crate::store::{
    EVENT_RETENTION_MILLIS, IDEMPOTENCY_RETENTION_MILLIS, Page, PageRequest, StoreResult,
};

pub async fn insert_event(
    conn: &mut PgConnection,
    tenant: Tenant,
    event: &Event,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO events (id, account_id, mode, type, created_at, payload) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(event.id.uuid())
    .bind(tenant.account.uuid())
    .bind(tenant.mode.as_str())
    .bind(event.event_type.as_str())
    .bind(event.created.unix_millis())
    .bind(&event.payload)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn event(pool: &PgPool, tenant: Tenant, id: EventId) -> StoreResult<Option<Event>> {
    let row = sqlx::query(
        "SELECT id, type, created_at, payload FROM events \
         WHERE id = $1 AND account_id = $2 AND mode = $3",
    )
    .bind(id.uuid())
    .bind(tenant.account.uuid())
    .bind(tenant.mode.as_str())
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(rows::event).transpose()
}

pub async fn list_events(
    pool: &PgPool,
    tenant: Tenant,
    event_type: Option<EventType>,
    page: PageRequest,
) -> StoreResult<Page<Event>> {
    let after = page.below();
    let fetch = page.fetch();
    let rows = match event_type {
        Some(kind) => {
            sqlx::query(
                "SELECT id, type, created_at, payload FROM events \
                 WHERE account_id = $1 AND mode = $2 AND type = $3 AND id < $4 \
                 ORDER BY id DESC LIMIT $5",
            )
            .bind(tenant.account.uuid())
            .bind(tenant.mode.as_str())
            .bind(kind.as_str())
            .bind(after)
            .bind(fetch)
            .fetch_all(pool)
            .await?
        }
        None => {
            sqlx::query(
                "SELECT id, type, created_at, payload FROM events \
                 WHERE account_id = $1 AND mode = $2 AND id < $3 ORDER BY id DESC LIMIT $4",
            )
            .bind(tenant.account.uuid())
            .bind(tenant.mode.as_str())
            .bind(after)
            .bind(fetch)
            .fetch_all(pool)
            .await?
        }
    };
    let items = rows
        .iter()
        .map(rows::event)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(page.page_of(items))
}

/// Deletes events past 30 days and idempotency records past 24 hours, in one transaction.
pub async fn purge_expired(pool: &PgPool, now: Timestamp) -> StoreResult<u64> {
    let events_before = now.plus_millis(-EVENT_RETENTION_MILLIS).unix_millis();
    let keys_before = now.plus_millis(-IDEMPOTENCY_RETENTION_MILLIS).unix_millis();
    let mut tx = pool.begin().await?;

    let events = sqlx::query("DELETE FROM events WHERE created_at < $1")
        .bind(events_before)
        .execute(&mut *tx)
        .await?;
    let keys = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
        .bind(keys_before)
        .execute(&mut *tx)
        .await?;

    tx.commit().await?;
    Ok(events.rows_affected() + keys.rows_affected())
}
