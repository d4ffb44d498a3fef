//! The SQLite backend: WAL, `synchronous=FULL`, a pool of readers and one group-committing
//! writer connection (see `writer`).

mod webhooks;
mod writer;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Connection, Row, SqliteConnection};
use uuid::Uuid;

use self::writer::Writer;
use super::{
    Account, EVENT_RETENTION_MILLIS, IDEMPOTENCY_RETENTION_MILLIS, IdempotencyClaim, InFlightKeys,
    KeyGrant, Page, PageRequest, Store, StoreError, StoreResult, StoredResponse, replay,
};
use crate::domain::customer::{Customer, CustomerPatch, NewCustomer};
use crate::domain::event::{Event, EventType};
use crate::domain::key::{ApiKey, Scope, SecretKey};
use crate::domain::timestamp::Timestamp;
use crate::domain::{AccountId, ApiKeyId, CustomerId, EventId, Mode, Tenant};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

const READ_CONNECTIONS: u32 = 4;

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

pub struct SqliteStore {
    readers: SqlitePool,
    writer: Writer,
    in_flight: InFlightKeys,
}

impl SqliteStore {
    pub async fn open(url: &str) -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);

        let mut write_conn = SqliteConnection::connect_with(&options).await?;
        MIGRATOR.run(&mut write_conn).await?;

        let readers = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .connect_with(options)
            .await?;
        Ok(SqliteStore {
            readers,
            writer: Writer::start(write_conn),
            in_flight: InFlightKeys::default(),
        })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.readers)
            .await
            .map_err(StoreError::Unavailable)?;
        Ok(())
    }

    async fn create_account(&self, name: &str) -> StoreResult<Account> {
        let account = Account {
            id: AccountId::generate(),
            name: name.to_owned(),
            created_at: Timestamp::now(),
        };
        let row = account.clone();
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    sqlx::query("INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)")
                        .bind(row.id.uuid())
                        .bind(&row.name)
                        .bind(row.created_at.unix_millis())
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            })
            .await?;
        Ok(account)
    }

    async fn create_first_account(&self, name: &str) -> StoreResult<Option<Account>> {
        let account = Account {
            id: AccountId::generate(),
            name: name.to_owned(),
            created_at: Timestamp::now(),
        };
        let row = account.clone();
        // The writer's `BEGIN IMMEDIATE` makes check and insert one step, across processes too.
        let created = self
            .writer
            .write(move |conn| {
                Box::pin(async move {
                    let done = sqlx::query(
                        "INSERT INTO accounts (id, name, created_at) SELECT ?, ?, ? \
                         WHERE NOT EXISTS (SELECT 1 FROM accounts)",
                    )
                    .bind(row.id.uuid())
                    .bind(&row.name)
                    .bind(row.created_at.unix_millis())
                    .execute(&mut *conn)
                    .await?;
                    Ok(done.rows_affected() == 1)
                })
            })
            .await?;
        Ok(created.then_some(account))
    }

    async fn list_accounts(&self) -> StoreResult<Vec<Account>> {
        let rows = sqlx::query("SELECT id, name, created_at FROM accounts ORDER BY id")
            .fetch_all(&self.readers)
            .await?;
        rows.iter().map(account_from_row).collect()
    }

    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        let row = sqlx::query("SELECT id, name, created_at FROM accounts WHERE id = ?")
            .bind(id.uuid())
            .fetch_optional(&self.readers)
            .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn create_api_key(
        &self,
        account: AccountId,
        mode: Mode,
        scope: Scope,
    ) -> StoreResult<(ApiKey, SecretKey)> {
        let secret = SecretKey::generate(mode);
        let key = ApiKey {
            id: ApiKeyId::generate(),
            account,
            mode,
            scope,
            prefix: secret.prefix().to_owned(),
            last4: secret.last4(),
            created_at: Timestamp::now(),
            last_used_at: None,
            revoked_at: None,
        };
        let (row, digest) = (key.clone(), secret.digest());
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO api_keys (id, account_id, mode, scope, prefix, last4, digest, created_at) \
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    )
                    .bind(row.id.uuid())
                    .bind(row.account.uuid())
                    .bind(row.mode.as_str())
                    .bind(row.scope.as_str())
                    .bind(&row.prefix)
                    .bind(&row.last4)
                    .bind(digest)
                    .bind(row.created_at.unix_millis())
                    .execute(&mut *conn)
                    .await?;
                    Ok(())
                })
            })
            .await?;
        Ok((key, secret))
    }

    async fn list_api_keys(&self, account: AccountId) -> StoreResult<Vec<ApiKey>> {
        let rows = sqlx::query(
            "SELECT id, account_id, mode, scope, prefix, last4, created_at, last_used_at, revoked_at \
             FROM api_keys WHERE account_id = ? ORDER BY id",
        )
        .bind(account.uuid())
        .fetch_all(&self.readers)
        .await?;
        rows.iter().map(api_key_from_row).collect()
    }

    async fn revoke_api_key(&self, id: ApiKeyId) -> StoreResult<bool> {
        let now = Timestamp::now().unix_millis();
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    let done = sqlx::query(
                        "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                    )
                    .bind(now)
                    .bind(id.uuid())
                    .execute(&mut *conn)
                    .await?;
                    Ok(done.rows_affected() == 1)
                })
            })
            .await
    }

    async fn authenticate(&self, digest: &[u8]) -> StoreResult<Option<KeyGrant>> {
        let row = sqlx::query(
            "SELECT id, account_id, mode, scope, last_used_at FROM api_keys \
             WHERE digest = ? AND revoked_at IS NULL",
        )
        .bind(digest)
        .fetch_optional(&self.readers)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(KeyGrant {
            key: ApiKeyId(row.try_get("id")?),
            tenant: Tenant {
                account: AccountId(row.try_get("account_id")?),
                mode: mode_of(&row)?,
            },
            scope: Scope::parse(row.try_get("scope")?).ok_or_else(|| corrupt("api_keys.scope"))?,
            last_used_at: row
                .try_get::<Option<i64>, _>("last_used_at")?
                .map(Timestamp::from_unix_millis),
        }))
    }

    async fn record_key_use(&self, id: ApiKeyId, at: Timestamp) -> StoreResult<()> {
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    sqlx::query("UPDATE api_keys SET last_used_at = ? WHERE id = ?")
                        .bind(at.unix_millis())
                        .bind(id.uuid())
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            })
            .await
    }

    async fn customer(&self, tenant: Tenant, id: CustomerId) -> StoreResult<Option<Customer>> {
        let row = sqlx::query(customer_select!(
            "WHERE id = ? AND account_id = ? AND mode = ?"
        ))
        .bind(id.uuid())
        .bind(tenant.account.uuid())
        .bind(tenant.mode.as_str())
        .fetch_optional(&self.readers)
        .await?;
        row.as_ref().map(customer_from_row).transpose()
    }

    async fn list_customers(
        &self,
        tenant: Tenant,
        email_folded: Option<&str>,
        page: PageRequest,
    ) -> StoreResult<Page<Customer>> {
        // Without a cursor the walk starts above every possible id, so one index range serves both.
        let after = page.after.unwrap_or(Uuid::max());
        let fetch = i64::from(page.limit) + 1;
        let rows = match email_folded {
            Some(email) => {
                sqlx::query(customer_select!(
                    "INDEXED BY customers_tenant_email \
                     WHERE account_id = ? AND mode = ? AND email_folded = ? AND id < ? \
                     ORDER BY id DESC LIMIT ?"
                ))
                .bind(tenant.account.uuid())
                .bind(tenant.mode.as_str())
                .bind(email)
                .bind(after)
                .bind(fetch)
                .fetch_all(&self.readers)
                .await?
            }
            None => {
                sqlx::query(customer_select!(
                    "INDEXED BY customers_tenant_id \
                     WHERE account_id = ? AND mode = ? AND id < ? ORDER BY id DESC LIMIT ?"
                ))
                .bind(tenant.account.uuid())
                .bind(tenant.mode.as_str())
                .bind(after)
                .bind(fetch)
                .fetch_all(&self.readers)
                .await?
            }
        };
        let items = rows
            .iter()
            .map(customer_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(page_of(items, page.limit))
    }

    async fn create_customer(
        &self,
        tenant: Tenant,
        customer: NewCustomer,
        idempotency: Option<IdempotencyClaim>,
    ) -> StoreResult<StoredResponse> {
        let _guard = match &idempotency {
            Some(claim) => Some(self.in_flight.claim(tenant, &claim.key)?),
            None => None,
        };
        self.writer
            .write(move |conn| Box::pin(create_customer_tx(conn, tenant, customer, idempotency)))
            .await
    }

    async fn update_customer(
        &self,
        tenant: Tenant,
        id: CustomerId,
        patch: CustomerPatch,
        idempotency: Option<IdempotencyClaim>,
    ) -> StoreResult<Option<StoredResponse>> {
        let _guard = match &idempotency {
            Some(claim) => Some(self.in_flight.claim(tenant, &claim.key)?),
            None => None,
        };
        self.writer
            .write(move |conn| Box::pin(update_customer_tx(conn, tenant, id, patch, idempotency)))
            .await
    }

    async fn event(&self, tenant: Tenant, id: EventId) -> StoreResult<Option<Event>> {
        let row = sqlx::query(
            "SELECT id, type, created_at, payload FROM events WHERE id = ? AND account_id = ? AND mode = ?",
        )
        .bind(id.uuid())
        .bind(tenant.account.uuid())
        .bind(tenant.mode.as_str())
        .fetch_optional(&self.readers)
        .await?;
        row.as_ref().map(event_from_row).transpose()
    }

    async fn list_events(
        &self,
        tenant: Tenant,
        event_type: Option<EventType>,
        page: PageRequest,
    ) -> StoreResult<Page<Event>> {
        let after = page.after.unwrap_or(Uuid::max());
        let fetch = i64::from(page.limit) + 1;
        let rows = match event_type {
            Some(kind) => {
                sqlx::query(
                    "SELECT id, type, created_at, payload FROM events INDEXED BY events_tenant_type \
                     WHERE account_id = ? AND mode = ? AND type = ? AND id < ? ORDER BY id DESC LIMIT ?",
                )
                .bind(tenant.account.uuid())
                .bind(tenant.mode.as_str())
                .bind(kind.as_str())
                .bind(after)
                .bind(fetch)
                .fetch_all(&self.readers)
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT id, type, created_at, payload FROM events INDEXED BY events_tenant_id \
                     WHERE account_id = ? AND mode = ? AND id < ? ORDER BY id DESC LIMIT ?",
                )
                .bind(tenant.account.uuid())
                .bind(tenant.mode.as_str())
                .bind(after)
                .bind(fetch)
                .fetch_all(&self.readers)
                .await?
            }
        };
        let items = rows
            .iter()
            .map(event_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(page_of(items, page.limit))
    }

    async fn purge_expired(&self, now: Timestamp) -> StoreResult<u64> {
        let events_before = now.plus_millis(-EVENT_RETENTION_MILLIS).unix_millis();
        let keys_before = now.plus_millis(-IDEMPOTENCY_RETENTION_MILLIS).unix_millis();
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    let events = sqlx::query("DELETE FROM events WHERE created_at < ?")
                        .bind(events_before)
                        .execute(&mut *conn)
                        .await?;
                    let keys = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < ?")
                        .bind(keys_before)
                        .execute(&mut *conn)
                        .await?;
                    Ok(events.rows_affected() + keys.rows_affected())
                })
            })
            .await
    }
}

async fn create_customer_tx(
    conn: &mut SqliteConnection,
    tenant: Tenant,
    new: NewCustomer,
    idempotency: Option<IdempotencyClaim>,
) -> StoreResult<StoredResponse> {
    if let Some(kept) = kept_response(conn, tenant, idempotency.as_ref()).await? {
        return Ok(kept);
    }

    let customer = new.into_customer(
        CustomerId::generate(),
        tenant.mode.is_live(),
        Timestamp::now(),
    );
    insert_customer(conn, tenant, &customer).await?;
    let event = Event::customer_created(&customer, tenant.mode);
    insert_event(conn, tenant, &event).await?;
    webhooks::queue_deliveries(conn, tenant, event.id, event.event_type, None).await?;

    let response = StoredResponse {
        status: 201,
        body: to_json(&customer)?,
        replayed: false,
    };
    keep_response(conn, tenant, idempotency.as_ref(), &response).await?;
    Ok(response)
}

async fn update_customer_tx(
    conn: &mut SqliteConnection,
    tenant: Tenant,
    id: CustomerId,
    patch: CustomerPatch,
    idempotency: Option<IdempotencyClaim>,
) -> StoreResult<Option<StoredResponse>> {
    if let Some(kept) = kept_response(conn, tenant, idempotency.as_ref()).await? {
        return Ok(Some(kept));
    }

    let row = sqlx::query(customer_select!(
        "WHERE id = ? AND account_id = ? AND mode = ?"
    ))
    .bind(id.uuid())
    .bind(tenant.account.uuid())
    .bind(tenant.mode.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(current) = row.as_ref().map(customer_from_row).transpose()? else {
        return Ok(None);
    };

    let customer = match current.apply(&patch, Timestamp::now()) {
        None => current,
        Some(change) => {
            update_customer_row(conn, &change.customer).await?;
            let event = Event::customer_updated(&change, tenant.mode);
            insert_event(conn, tenant, &event).await?;
            webhooks::queue_deliveries(conn, tenant, event.id, event.event_type, None).await?;
            change.customer
        }
    };

    let response = StoredResponse {
        status: 200,
        body: to_json(&customer)?,
        replayed: false,
    };
    keep_response(conn, tenant, idempotency.as_ref(), &response).await?;
    Ok(Some(response))
}

async fn kept_response(
    conn: &mut SqliteConnection,
    tenant: Tenant,
    claim: Option<&IdempotencyClaim>,
) -> StoreResult<Option<StoredResponse>> {
    let Some(claim) = claim else { return Ok(None) };
    let row = sqlx::query(
        "SELECT fingerprint, status, body FROM idempotency_keys \
         WHERE account_id = ? AND mode = ? AND key = ? AND created_at >= ?",
    )
    .bind(tenant.account.uuid())
    .bind(tenant.mode.as_str())
    .bind(&claim.key)
    .bind(
        Timestamp::now()
            .plus_millis(-IDEMPOTENCY_RETENTION_MILLIS)
            .unix_millis(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let status: i64 = row.try_get("status")?;
    let fingerprint: String = row.try_get("fingerprint")?;
    replay(
        claim,
        &fingerprint,
        u16::try_from(status).unwrap_or(200),
        row.try_get("body")?,
    )
    .map(Some)
}

async fn keep_response(
    conn: &mut SqliteConnection,
    tenant: Tenant,
    claim: Option<&IdempotencyClaim>,
    response: &StoredResponse,
) -> StoreResult<()> {
    let Some(claim) = claim else { return Ok(()) };
    // A row past retention may still be there until purged; the new response replaces it.
    sqlx::query(
        "INSERT OR REPLACE INTO idempotency_keys (account_id, mode, key, fingerprint, status, body, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(tenant.account.uuid())
    .bind(tenant.mode.as_str())
    .bind(&claim.key)
    .bind(&claim.fingerprint)
    .bind(i64::from(response.status))
    .bind(&response.body)
    .bind(Timestamp::now().unix_millis())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn insert_customer(
    conn: &mut SqliteConnection,
    tenant: Tenant,
    c: &Customer,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO customers (id, account_id, mode, full_name, email, email_folded, phone, \
         preferred_language, source_channel, notes, is_returning, total_rentals, overall_score, \
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(c.id.uuid())
    .bind(tenant.account.uuid())
    .bind(tenant.mode.as_str())
    .bind(&c.full_name)
    .bind(&c.email)
    .bind(c.email.as_deref().map(crate::domain::contact::fold_email))
    .bind(&c.phone)
    .bind(&c.preferred_language)
    .bind(&c.source_channel)
    .bind(&c.notes)
    .bind(c.is_returning)
    .bind(c.total_rentals)
    .bind(c.overall_score)
    .bind(c.created_at.unix_millis())
    .bind(c.updated_at.unix_millis())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn update_customer_row(conn: &mut SqliteConnection, c: &Customer) -> StoreResult<()> {
    sqlx::query(
        "UPDATE customers SET full_name = ?, email = ?, email_folded = ?, phone = ?, \
         preferred_language = ?, source_channel = ?, notes = ?, updated_at = ? WHERE id = ?",
    )
    .bind(&c.full_name)
    .bind(&c.email)
    .bind(c.email.as_deref().map(crate::domain::contact::fold_email))
    .bind(&c.phone)
    .bind(&c.preferred_language)
    .bind(&c.source_channel)
    .bind(&c.notes)
    .bind(c.updated_at.unix_millis())
    .bind(c.id.uuid())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn insert_event(
    conn: &mut SqliteConnection,
    tenant: Tenant,
    event: &Event,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO events (id, account_id, mode, type, created_at, payload) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(event.id.uuid())
    .bind(tenant.account.uuid())
    .bind(tenant.mode.as_str())
    .bind(event.event_type.as_str())
    .bind(event.created.unix_millis())
    .bind(&event.payload)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn page_of<T>(mut items: Vec<T>, limit: u32) -> Page<T> {
    let has_more = items.len() > limit as usize;
    items.truncate(limit as usize);
    Page { items, has_more }
}

fn to_json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|error| StoreError::Invalid(error.to_string()))
}

fn corrupt(column: &str) -> StoreError {
    StoreError::Invalid(format!("unexpected value in {column}"))
}

fn mode_of(row: &SqliteRow) -> StoreResult<Mode> {
    Mode::parse(row.try_get("mode")?).ok_or_else(|| corrupt("mode"))
}

fn account_from_row(row: &SqliteRow) -> StoreResult<Account> {
    Ok(Account {
        id: AccountId(row.try_get("id")?),
        name: row.try_get("name")?,
        created_at: Timestamp::from_unix_millis(row.try_get("created_at")?),
    })
}

fn api_key_from_row(row: &SqliteRow) -> StoreResult<ApiKey> {
    let optional_time = |column: &str| -> StoreResult<Option<Timestamp>> {
        Ok(row
            .try_get::<Option<i64>, _>(column)?
            .map(Timestamp::from_unix_millis))
    };
    Ok(ApiKey {
        id: ApiKeyId(row.try_get("id")?),
        account: AccountId(row.try_get("account_id")?),
        mode: mode_of(row)?,
        scope: Scope::parse(row.try_get("scope")?).ok_or_else(|| corrupt("api_keys.scope"))?,
        prefix: row.try_get("prefix")?,
        last4: row.try_get("last4")?,
        created_at: Timestamp::from_unix_millis(row.try_get("created_at")?),
        last_used_at: optional_time("last_used_at")?,
        revoked_at: optional_time("revoked_at")?,
    })
}

fn customer_from_row(row: &SqliteRow) -> StoreResult<Customer> {
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
        created_at: Timestamp::from_unix_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_unix_millis(row.try_get("updated_at")?),
    })
}

fn event_from_row(row: &SqliteRow) -> StoreResult<Event> {
    Ok(Event {
        id: EventId(row.try_get("id")?),
        event_type: EventType::parse(row.try_get("type")?).ok_or_else(|| corrupt("events.type"))?,
        created: Timestamp::from_unix_millis(row.try_get("created_at")?),
        payload: row.try_get("payload")?,
    })
}
