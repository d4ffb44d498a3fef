//! Customers on PostgreSQL: tenant-scoped reads, keyset pages newest first, and the write
//! transactions that carry their event and idempotency record.

use sqlx::{PgConnection, PgPool};

use super::idempotency::Begun;
use super::{events, idempotency, rows, webhooks};
use crate::domain::contact::fold_email;
use crate::domain::customer::{Customer, CustomerPatch, NewCustomer};
use crate::domain::event::Event;
use crate::domain::timestamp::Timestamp;
use crate::domain::{CustomerId, Tenant};
use crate::store::{IdempotencyClaim, Page, PageRequest, StoreError, StoreResult, StoredResponse};

/// The customer columns every customer query selects, as a literal so queries stay static.
macro_rules! customer_select {
    ($($tail:literal),+) => {
        concat!(
            "SELECT id, mode, full_name, email, phone, preferred_language, source_channel, notes, \
             is_returning, total_rentals, overall_score, created_at, updated_at FROM customers ",
            $($tail),+
        )
    };
}

pub async fn customer(
    pool: &PgPool,
    tenant: Tenant,
    id: CustomerId,
) -> StoreResult<Option<Customer>> {
    let row = sqlx::query(customer_select!(
        "WHERE id = $1 AND account_id = $2 AND mode = $3"
    ))
    .bind(id.uuid())
    .bind(tenant.account.uuid())
    .bind(tenant.mode.as_str())
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(rows::customer).transpose()
}

pub async fn list_customers(
    pool: &PgPool,
    tenant: Tenant,
    email_folded: Option<&str>,
    page: PageRequest,
) -> StoreResult<Page<Customer>> {
    // Without a cursor the walk starts above every possible id, so one index range serves both.
    let after = page.below();
    let fetch = page.fetch();
    let rows = match email_folded {
        // PostgreSQL text cannot hold NUL, and no stored (validated) email contains one, so
        // such a filter matches nothing, as on SQLite, instead of failing the query.
        Some(email) if email.contains('\0') => Vec::new(),
        Some(email) => {
            sqlx::query(customer_select!(
                "WHERE account_id = $1 AND mode = $2 AND email_folded = $3 AND id < $4 \
                 ORDER BY id DESC LIMIT $5"
            ))
            .bind(tenant.account.uuid())
            .bind(tenant.mode.as_str())
            .bind(email)
            .bind(after)
            .bind(fetch)
            .fetch_all(pool)
            .await?
        }
        None => {
            sqlx::query(customer_select!(
                "WHERE account_id = $1 AND mode = $2 AND id < $3 ORDER BY id DESC LIMIT $4"
            ))
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
        .map(rows::customer)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(page.page_of(items))
}

/// Creates the customer, its `customer.created` event and the kept response in one transaction.
pub async fn create_customer(
    pool: &PgPool,
    tenant: Tenant,
    new: NewCustomer,
    claim: Option<&IdempotencyClaim>,
) -> StoreResult<StoredResponse> {
    let mut tx = match idempotency::begin(pool, tenant, claim).await? {
        Begun::Fresh(tx) => tx,
        Begun::Kept(kept) => return Ok(kept),
    };

    let customer = new.into_customer(
        CustomerId::generate(),
        tenant.mode.is_live(),
        Timestamp::now(),
    );
    insert_customer(&mut tx, tenant, &customer).await?;
    record_event(
        &mut tx,
        tenant,
        &Event::customer_created(&customer, tenant.mode),
    )
    .await?;

    let response = StoredResponse {
        status: 201,
        body: to_json(&customer)?,
        replayed: false,
    };
    idempotency::commit_with_response(pool, tx, tenant, claim, response).await
}

/// Applies the patch under the row's lock, so concurrent updates of one customer take turns
/// and each event's `previous_attributes` are the values it really replaced.
pub async fn update_customer(
    pool: &PgPool,
    tenant: Tenant,
    id: CustomerId,
    patch: CustomerPatch,
    claim: Option<&IdempotencyClaim>,
) -> StoreResult<Option<StoredResponse>> {
    let mut tx = match idempotency::begin(pool, tenant, claim).await? {
        Begun::Fresh(tx) => tx,
        Begun::Kept(kept) => return Ok(Some(kept)),
    };

    let Some(current) = customer_for_update(&mut tx, tenant, id).await? else {
        tx.rollback().await?;
        return Ok(None);
    };
    let customer = match current.apply(&patch, Timestamp::now()) {
        None => current,
        Some(change) => {
            update_customer_row(&mut tx, &change.customer).await?;
            record_event(
                &mut tx,
                tenant,
                &Event::customer_updated(&change, tenant.mode),
            )
            .await?;
            change.customer
        }
    };

    let response = StoredResponse {
        status: 200,
        body: to_json(&customer)?,
        replayed: false,
    };
    let kept = idempotency::commit_with_response(pool, tx, tenant, claim, response).await?;
    Ok(Some(kept))
}

/// Records the event and queues it for its subscribers in the caller's transaction, so a
/// committed change always reaches them and a rolled-back one never does.
async fn record_event(conn: &mut PgConnection, tenant: Tenant, event: &Event) -> StoreResult<()> {
    events::insert_event(conn, tenant, event).await?;
    webhooks::queue_deliveries(conn, tenant, event.id, event.event_type, None).await?;
    Ok(())
}

async fn customer_for_update(
    conn: &mut PgConnection,
    tenant: Tenant,
    id: CustomerId,
) -> StoreResult<Option<Customer>> {
    let row = sqlx::query(customer_select!(
        "WHERE id = $1 AND account_id = $2 AND mode = $3 FOR UPDATE"
    ))
    .bind(id.uuid())
    .bind(tenant.account.uuid())
    .bind(tenant.mode.as_str())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(rows::customer).transpose()
}

async fn insert_customer(conn: &mut PgConnection, tenant: Tenant, c: &Customer) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO customers (id, account_id, mode, full_name, email, email_folded, phone, \
         preferred_language, source_channel, notes, is_returning, total_rentals, overall_score, \
         created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(c.id.uuid())
    .bind(tenant.account.uuid())
    .bind(tenant.mode.as_str())
    .bind(&c.full_name)
    .bind(&c.email)
    .bind(c.email.as_deref().map(fold_email))
    .bind(&c.phone)
    .bind(&c.preferred_language)
    .bind(&c.source_channel)
    .bind(&c.notes)
    .bind(c.is_returning)
    .bind(c.total_rentals)
    .bind(c.overall_score)
    .bind(c.created_at.unix_millis())
    .bind(c.updated_at.unix_millis())
    .execute(conn)
    .await?;
    Ok(())
}

async fn update_customer_row(conn: &mut PgConnection, c: &Customer) -> StoreResult<()> {
    sqlx::query(
        "UPDATE customers SET full_name = $1, email = $2, email_folded = $3, phone = $4, \
         preferred_language = $5, source_channel = $6, notes = $7, updated_at = $8 WHERE id = $9",
    )
    .bind(&c.full_name)
    .bind(&c.email)
    .bind(c.email.as_deref().map(fold_email))
    .bind(&c.phone)
    .bind(&c.preferred_language)
    .bind(&c.source_channel)
    .bind(&c.notes)
    .bind(c.updated_at.unix_millis())
    .bind(c.id.uuid())
    .execute(conn)
    .await?;
    Ok(())
}

fn to_json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|error| StoreError::Invalid(error.to_string()))
}
