//! The PostgreSQL backend: a connection pool shared by reads and writes, each write one
//! transaction (durable: `synchronous_commit` on), safe for several nodes on one database.

mod accounts;
mod customers;
mod events;
mod idempotency;
mod rows;
mod webhooks;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection};

use super::{
    Account, IdempotencyClaim, InFlightKeys, KeyGrant, Page, PageRequest, Store, StoreError,
    StoreResult, StoredResponse,
};
use crate::domain::customer::{Customer, CustomerPatch, NewCustomer};
use crate::domain::event::{Event, EventType};
use crate::domain::key::{ApiKey, Scope, SecretKey};
use crate::domain::timestamp::Timestamp;
use crate::domain::{AccountId, ApiKeyId, CustomerId, EventId, Mode, Tenant};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Longest wait for a pooled connection; past it the database counts as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the pool, bringing the schema up to date first.
pub async fn open(url: &str, max_connections: u32) -> StoreResult<Arc<dyn Store>> {
    Ok(Arc::new(PostgresStore::open(url, max_connections).await?))
}

pub struct PostgresStore {
    pool: PgPool,
    in_flight: InFlightKeys,
}

impl PostgresStore {
    /// `max_connections` bounds this process's pool (`--database-max-connections`).
    pub async fn open(url: &str, max_connections: u32) -> StoreResult<PostgresStore> {
        if max_connections == 0 {
            return Err(StoreError::Invalid(
                "the database pool needs at least one connection".to_owned(),
            ));
        }
        // Durability does not depend on the server's default: every commit waits for its WAL.
        let options = PgConnectOptions::from_str(url)?
            .application_name("renvo")
            .options([("synchronous_commit", "on")]);

        migrate(&options).await.map_err(reclassify)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|error| reclassify(error.into()))?;
        Ok(PostgresStore {
            pool,
            in_flight: InFlightKeys::default(),
        })
    }
}

/// Runs the embedded migrations. sqlx holds a session advisory lock while it migrates, so
/// nodes starting together take turns. It runs on its own connection, closed afterwards, so
/// that lock never stays behind on a pooled connection when a migration fails.
async fn migrate(options: &PgConnectOptions) -> StoreResult<()> {
    let mut conn = PgConnection::connect_with(options).await?;
    let migrated = MIGRATOR.run(&mut conn).await;
    // Closing only tidies up: the server drops the session (and its lock) either way.
    let _ = conn.close().await;
    Ok(migrated?)
}

/// Connection failures become `Unavailable` (503 and a failing `/readyz`); the rest stays.
fn reclassify(error: StoreError) -> StoreError {
    match error {
        StoreError::Database(error) if is_connection_failure(&error) => {
            StoreError::Unavailable(error)
        }
        other => other,
    }
}

/// No connection, or the server refusing or ending sessions (SQLSTATE class 08, shutdown,
/// too many connections).
fn is_connection_failure(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(database) => database.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(StoreError::Unavailable)?;
        Ok(())
    }

    async fn create_account(&self, name: &str) -> StoreResult<Account> {
        accounts::create_account(&self.pool, name)
            .await
            .map_err(reclassify)
    }

    async fn create_first_account(&self, name: &str) -> StoreResult<Option<Account>> {
        accounts::create_first_account(&self.pool, name)
            .await
            .map_err(reclassify)
    }

    async fn list_accounts(&self) -> StoreResult<Vec<Account>> {
        accounts::list_accounts(&self.pool)
            .await
            .map_err(reclassify)
    }

    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        accounts::account(&self.pool, id).await.map_err(reclassify)
    }

    async fn create_api_key(
        &self,
        account: AccountId,
        mode: Mode,
        scope: Scope,
    ) -> StoreResult<(ApiKey, SecretKey)> {
        accounts::create_api_key(&self.pool, account, mode, scope)
            .await
            .map_err(reclassify)
    }

    async fn list_api_keys(&self, account: AccountId) -> StoreResult<Vec<ApiKey>> {
        accounts::list_api_keys(&self.pool, account)
            .await
            .map_err(reclassify)
    }

    async fn revoke_api_key(&self, id: ApiKeyId) -> StoreResult<bool> {
        accounts::revoke_api_key(&self.pool, id)
            .await
            .map_err(reclassify)
    }

    async fn authenticate(&self, digest: &[u8]) -> StoreResult<Option<KeyGrant>> {
        accounts::authenticate(&self.pool, digest)
            .await
            .map_err(reclassify)
    }

    async fn record_key_use(&self, id: ApiKeyId, at: Timestamp) -> StoreResult<()> {
        accounts::record_key_use(&self.pool, id, at)
            .await
            .map_err(reclassify)
    }

    async fn customer(&self, tenant: Tenant, id: CustomerId) -> StoreResult<Option<Customer>> {
        customers::customer(&self.pool, tenant, id)
            .await
            .map_err(reclassify)
    }

    async fn list_customers(
        &self,
        tenant: Tenant,
        email_folded: Option<&str>,
        page: PageRequest,
    ) -> StoreResult<Page<Customer>> {
        customers::list_customers(&self.pool, tenant, email_folded, page)
            .await
            .map_err(reclassify)
    }

    async fn create_customer(
        &self,
        tenant: Tenant,
        customer: NewCustomer,
        idempotency: Option<IdempotencyClaim>,
    ) -> StoreResult<StoredResponse> {
        // This node's claim answers its own repeats without a database round trip; the
        // advisory lock inside the transaction answers the other nodes'.
        let _in_flight = self
            .in_flight
            .claim_optional(tenant, idempotency.as_ref())?;
        customers::create_customer(&self.pool, tenant, customer, idempotency.as_ref())
            .await
            .map_err(reclassify)
    }

    async fn update_customer(
        &self,
        tenant: Tenant,
        id: CustomerId,
        patch: CustomerPatch,
        idempotency: Option<IdempotencyClaim>,
    ) -> StoreResult<Option<StoredResponse>> {
        let _in_flight = self
            .in_flight
            .claim_optional(tenant, idempotency.as_ref())?;
        customers::update_customer(&self.pool, tenant, id, patch, idempotency.as_ref())
            .await
            .map_err(reclassify)
    }

    async fn event(&self, tenant: Tenant, id: EventId) -> StoreResult<Option<Event>> {
        events::event(&self.pool, tenant, id)
            .await
            .map_err(reclassify)
    }

    async fn list_events(
        &self,
        tenant: Tenant,
        event_type: Option<EventType>,
        page: PageRequest,
    ) -> StoreResult<Page<Event>> {
        events::list_events(&self.pool, tenant, event_type, page)
            .await
            .map_err(reclassify)
    }

    async fn purge_expired(&self, now: Timestamp) -> StoreResult<u64> {
        events::purge_expired(&self.pool, now)
            .await
            .map_err(reclassify)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_connections_count_as_unavailable_and_other_failures_do_not() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        for error in [
            sqlx::Error::Io(refused),
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
        ] {
            assert!(matches!(
                reclassify(StoreError::Database(error)),
                StoreError::Unavailable(_)
            ));
        }
        assert!(matches!(
            reclassify(StoreError::Database(sqlx::Error::RowNotFound)),
            StoreError::Database(_)
        ));
    }
}
