//! SQL for customers and their events; their writes keep idempotent responses (see
//! `idempotency`).

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::idempotency::{keep_response, kept_response};
use super::mode_of;
use crate::domain::contact::fold_email;
use crate::domain::customer::{Customer, CustomerPatch, NewCustomer};
use crate::domain::event::{Event, EventType};
use crate::domain::timestamp::Timestamp;
use crate::domain::{CustomerId, EventId, Tenant};
use crate::store::{IdempotencyClaim, Page, PageRequest, StoreError, StoreResult, StoredResponse};

/// Every customer query selects these columns, in this order (see `customer_from_row`).
macro_rules! customer_select {
    ($tail:literal) => {
        concat!(
            "SELECT id, mode, full_name, email, phone, preferred_language, source_channel, notes, \
             is_returning, total_rentals, overall_score, created_at, updated_at FROM customers ",
            $tail
        )
    };
}

pub const CUSTOMER_BY_ID: &str =
    customer_select!("WHERE id = ?1 AND account_id = ?2 AND mode = ?3");
/// One page of a tenant's customers, newest first, below a cursor.
pub const CUSTOMERS_PAGE: &str = customer_select!(
    "INDEXED BY customers_tenant_id WHERE account_id = ?1 AND mode = ?2 AND id < ?3 \
     ORDER BY id DESC LIMIT ?4"
);
/// One page of a tenant's customers with one folded email, newest first, below a cursor.
pub const CUSTOMERS_BY_EMAIL_PAGE: &str = customer_select!(
    "INDEXED BY customers_tenant_email WHERE account_id = ?1 AND mode = ?2 \
     AND email_folded = ?5 AND id < ?3 ORDER BY id DESC LIMIT ?4"
);

pub fn customer(
    conn: &Connection,
    tenant: Tenant,
    id: CustomerId,
) -> StoreResult<Option<Customer>> {
    let mut statement = conn.prepare_cached(CUSTOMER_BY_ID)?;
    let params = params![id.uuid(), tenant.account.uuid(), tenant.mode.as_str()];
    Ok(statement.query_row(params, customer_from_row).optional()?)
}

pub fn list_customers(
    conn: &Connection,
    tenant: Tenant,
    email_folded: Option<&str>,
    page: PageRequest,
) -> StoreResult<Page<Customer>> {
    // Without a cursor the walk starts above every possible id: one index range serves both.
    let after = page.below();
    let fetch = page.fetch();
    let (account, mode) = (tenant.account.uuid(), tenant.mode.as_str());
    let items = match email_folded {
        Some(email) => {
            let mut statement = conn.prepare_cached(CUSTOMERS_BY_EMAIL_PAGE)?;
            let rows = statement.query_map(
                params![account, mode, after, fetch, email],
                customer_from_row,
            )?;
            rows.collect::<Result<Vec<_>, _>>()?
        }
        None => {
            let mut statement = conn.prepare_cached(CUSTOMERS_PAGE)?;
            let rows =
                statement.query_map(params![account, mode, after, fetch], customer_from_row)?;
            rows.collect::<Result<Vec<_>, _>>()?
        }
    };
    Ok(page.page_of(items))
}

/// Creates the customer and its event; inside the writer's transaction.
pub fn create_customer(
    conn: &Connection,
    tenant: Tenant,
    new: NewCustomer,
    claim: Option<&IdempotencyClaim>,
) -> StoreResult<StoredResponse> {
    if let Some(kept) = kept_response(conn, tenant, claim)? {
        return Ok(kept);
    }

    let customer = new.into_customer(
        CustomerId::generate(),
        tenant.mode.is_live(),
        Timestamp::now(),
    );
    insert_customer(conn, tenant, &customer)?;
    let event = Event::customer_created(&customer, tenant.mode);
    insert_event(conn, tenant, &event)?;
    super::webhooks::queue_deliveries(conn, tenant, event.id, event.event_type, None)?;

    let response = StoredResponse {
        status: 201,
        body: to_json(&customer)?,
        replayed: false,
    };
    keep_response(conn, tenant, claim, &response)?;
    Ok(response)
}

/// Applies a patch, recording an event only when something changed; inside the writer's
/// transaction. `None` when the customer does not exist in this tenant.
pub fn update_customer(
    conn: &Connection,
    tenant: Tenant,
    id: CustomerId,
    patch: &CustomerPatch,
    claim: Option<&IdempotencyClaim>,
) -> StoreResult<Option<StoredResponse>> {
    if let Some(kept) = kept_response(conn, tenant, claim)? {
        return Ok(Some(kept));
    }
    let Some(current) = customer(conn, tenant, id)? else {
        return Ok(None);
    };

    let customer = match current.apply(patch, Timestamp::now()) {
        None => current,
        Some(change) => {
            update_customer_row(conn, &change.customer)?;
            let event = Event::customer_updated(&change, tenant.mode);
            insert_event(conn, tenant, &event)?;
            super::webhooks::queue_deliveries(conn, tenant, event.id, event.event_type, None)?;
            change.customer
        }
    };

    let response = StoredResponse {
        status: 200,
        body: to_json(&customer)?,
        replayed: false,
    };
    keep_response(conn, tenant, claim, &response)?;
    Ok(Some(response))
}

fn insert_customer(conn: &Connection, tenant: Tenant, c: &Customer) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO customers (id, account_id, mode, full_name, email, email_folded, phone, \
         preferred_language, source_channel, notes, is_returning, total_rentals, overall_score, \
         created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        c.id.uuid(),
        tenant.account.uuid(),
        tenant.mode.as_str(),
        c.full_name,
        c.email,
        c.email.as_deref().map(fold_email),
        c.phone,
        c.preferred_language,
        c.source_channel,
        c.notes,
        c.is_returning,
        c.total_rentals,
        c.overall_score,
        c.created_at.unix_millis(),
        c.updated_at.unix_millis(),
    ])?;
    Ok(())
}

fn update_customer_row(conn: &Connection, c: &Customer) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE customers SET full_name = ?1, email = ?2, email_folded = ?3, phone = ?4, \
         preferred_language = ?5, source_channel = ?6, notes = ?7, updated_at = ?8 WHERE id = ?9",
    )?
    .execute(params![
        c.full_name,
        c.email,
        c.email.as_deref().map(fold_email),
        c.phone,
        c.preferred_language,
        c.source_channel,
        c.notes,
        c.updated_at.unix_millis(),
        c.id.uuid(),
    ])?;
    Ok(())
}

fn insert_event(conn: &Connection, tenant: Tenant, event: &Event) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO events (id, account_id, mode, type, created_at, payload) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        event.id.uuid(),
        tenant.account.uuid(),
        tenant.mode.as_str(),
        event.event_type.as_str(),
        event.created.unix_millis(),
        event.payload,
    ])?;
    Ok(())
}

pub fn event(conn: &Connection, tenant: Tenant, id: EventId) -> StoreResult<Option<Event>> {
    let mut statement = conn.prepare_cached(
        "SELECT id, type, created_at, payload FROM events \
         WHERE id = ?1 AND account_id = ?2 AND mode = ?3",
    )?;
    let params = params![id.uuid(), tenant.account.uuid(), tenant.mode.as_str()];
    Ok(statement.query_row(params, event_from_row).optional()?)
}

pub fn list_events(
    conn: &Connection,
    tenant: Tenant,
    event_type: Option<EventType>,
    page: PageRequest,
) -> StoreResult<Page<Event>> {
    let after = page.below();
    let fetch = page.fetch();
    let (account, mode) = (tenant.account.uuid(), tenant.mode.as_str());
    let items = match event_type {
        Some(kind) => {
            let mut statement = conn.prepare_cached(
                "SELECT id, type, created_at, payload FROM events INDEXED BY events_tenant_type \
                 WHERE account_id = ?1 AND mode = ?2 AND type = ?5 AND id < ?3 \
                 ORDER BY id DESC LIMIT ?4",
            )?;
            let rows = statement.query_map(
                params![account, mode, after, fetch, kind.as_str()],
                event_from_row,
            )?;
            rows.collect::<Result<Vec<_>, _>>()?
        }
        None => {
            let mut statement = conn.prepare_cached(
                "SELECT id, type, created_at, payload FROM events INDEXED BY events_tenant_id \
                 WHERE account_id = ?1 AND mode = ?2 AND id < ?3 ORDER BY id DESC LIMIT ?4",
            )?;
            let rows = statement.query_map(params![account, mode, after, fetch], event_from_row)?;
            rows.collect::<Result<Vec<_>, _>>()?
        }
    };
    Ok(page.page_of(items))
}

/// Deletes events and idempotency records older than the given times.
pub fn purge(
    conn: &Connection,
    events_before: Timestamp,
    keys_before: Timestamp,
) -> StoreResult<u64> {
    let events = conn
        .prepare_cached("DELETE FROM events WHERE created_at < ?1")?
        .execute([events_before.unix_millis()])?;
    let keys = conn
        .prepare_cached("DELETE FROM idempotency_keys WHERE created_at < ?1")?
        .execute([keys_before.unix_millis()])?;
    Ok((events + keys) as u64)
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|error| StoreError::Invalid(error.to_string()))
}

fn customer_from_row(row: &Row<'_>) -> rusqlite::Result<Customer> {
    Ok(Customer {
        id: CustomerId(row.get(0)?),
        livemode: mode_of(row, 1)?.is_live(),
        full_name: row.get(2)?,
        email: row.get(3)?,
        phone: row.get(4)?,
        preferred_language: row.get(5)?,
        source_channel: row.get(6)?,
        notes: row.get(7)?,
        is_returning: row.get(8)?,
        total_rentals: row.get(9)?,
        overall_score: row.get(10)?,
        created_at: Timestamp::from_unix_millis(row.get(11)?),
        updated_at: Timestamp::from_unix_millis(row.get(12)?),
    })
}

fn event_from_row(row: &Row<'_>) -> rusqlite::Result<Event> {
    let type_name: String = row.get(1)?;
    let event_type = EventType::parse(&type_name).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            1,
            rusqlite::types::Type::Text,
            "unknown event type".into(),
        )
    })?;
    Ok(Event {
        id: EventId(row.get(0)?),
        event_type,
        created: Timestamp::from_unix_millis(row.get(2)?),
        payload: row.get(3)?,
    })
}
