//! Rows read back into domain values; a value the schema should have prevented is reported as
//! `StoreError::Invalid` naming its column.

use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::domain::customer::Customer;
use crate::domain::event::{Event, EventType};
use crate::domain::key::{ApiKey, Scope};
use crate::domain::timestamp::Timestamp;
use crate::domain::{AccountId, ApiKeyId, CustomerId, EventId, Mode};
use crate::store::{Account, StoreError, StoreResult};

pub fn corrupt(column: &str) -> StoreError {
    StoreError::Invalid(format!("unexpected value in {column}"))
}

pub fn mode_of(row: &PgRow) -> StoreResult<Mode> {
    Mode::parse(row.try_get("mode")?).ok_or_else(|| corrupt("mode"))
}

pub fn scope_of(row: &PgRow) -> StoreResult<Scope> {
    Scope::parse(row.try_get("scope")?).ok_or_else(|| corrupt("api_keys.scope"))
}

pub fn time_of(row: &PgRow, column: &str) -> StoreResult<Timestamp> {
    Ok(Timestamp::from_unix_millis(row.try_get(column)?))
}

pub fn optional_time_of(row: &PgRow, column: &str) -> StoreResult<Option<Timestamp>> {
    Ok(row
        .try_get::<Option<i64>, _>(column)?
        .map(Timestamp::from_unix_millis))
}

pub fn account(row: &PgRow) -> StoreResult<Account> {
    Ok(Account {
        id: AccountId(row.try_get("id")?),
        name: row.try_get("name")?,
        created_at: time_of(row, "created_at")?,
    })
}

pub fn api_key(row: &PgRow) -> StoreResult<ApiKey> {
    Ok(ApiKey {
        id: ApiKeyId(row.try_get("id")?),
        account: AccountId(row.try_get("account_id")?),
        mode: mode_of(row)?,
        scope: scope_of(row)?,
        prefix: row.try_get("prefix")?,
        last4: row.try_get("last4")?,
        created_at: time_of(row, "created_at")?,
        last_used_at: optional_time_of(row, "last_used_at")?,
        revoked_at: optional_time_of(row, "revoked_at")?,
    })
}

pub fn customer(row: &PgRow) -> StoreResult<Customer> {
    Ok(Customer {
        id: CustomerId(row.try_get("id")?),
        livemode: mode_of(row)?.is_live(),
        full_name: row.try_get("full_name")?,
        email: row.try_get("email")?,
        phone: row.try_get("phone")?,
        preferred_language: row.try_get("preferred_language")?,
        source_channel: row.try_get("source_channel")?,
        notes: row.try_get("notes")?,
        is_returning: row.try_get("is_returning")?,
        total_rentals: row.try_get("total_rentals")?,
        overall_score: row.try_get("overall_score")?,
        created_at: time_of(row, "created_at")?,
        updated_at: time_of(row, "updated_at")?,
    })
}

pub fn event(row: &PgRow) -> StoreResult<Event> {
    Ok(Event {
        id: EventId(row.try_get("id")?),
        event_type: EventType::parse(row.try_get("type")?).ok_or_else(|| corrupt("events.type"))?,
        created: time_of(row, "created_at")?,
        payload: row.try_get("payload")?,
    })
}
