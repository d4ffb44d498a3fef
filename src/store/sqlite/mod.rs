//! The SQLite backend: WAL, `synchronous=FULL`, reads inline on pooled connections and every
//! write through one group-committing writer thread (see `writer`). Schema migrations are
//! sqlx's, embedded; queries use rusqlite, which runs a statement on the calling thread
//! instead of handing each one to a worker thread and back.

mod accounts;
mod checkpoint;
mod customers;
mod idempotency;
mod pool;
mod webhooks;
mod writer;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, Row};
use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

use self::checkpoint::Checkpointer;
use self::customers::to_json;
pub use self::customers::{CUSTOMERS_BY_EMAIL_PAGE, CUSTOMERS_PAGE};
use self::pool::ReadPool;
use self::writer::Writer;
use super::{
    Account, EVENT_RETENTION_MILLIS, IDEMPOTENCY_RETENTION_MILLIS, IdempotencyClaim, InFlightKeys,
    KeyGrant, Page, PageRequest, Store, StoreError, StoreResult, StoredResponse,
};
use crate::domain::customer::{Customer, CustomerPatch, NewCustomer};
use crate::domain::event::{Event, EventType};
use crate::domain::key::{ApiKey, Scope, SecretKey};
use crate::domain::timestamp::Timestamp;
use crate::domain::{AccountId, ApiKeyId, CustomerId, EventId, Mode, Tenant};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct SqliteStore {
    _checkpointer: Checkpointer,
    path: PathBuf,
    readers: ReadPool,
    writer: Writer,
    in_flight: InFlightKeys,
}

impl SqliteStore {
    /// Opens (creating if missing) the file a `sqlite:` URL names and migrates it.
    pub async fn open(url: &str) -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT);
        let path = options.get_filename().to_path_buf();

        migrate(&options).await?;

        let write_conn = connect(&path)?;
        // The checkpoint thread restarts the WAL well before the writer's own checkpoint would;
        // a restart cuts the file back to 64 MiB when it grew past that.
        write_conn.execute_batch(&format!(
            "PRAGMA journal_size_limit = 67108864; PRAGMA wal_autocheckpoint = {};",
            checkpoint::WRITER_BACKSTOP
        ))?;
        let writer =
            Writer::start(write_conn).map_err(|error| StoreError::Invalid(error.to_string()))?;
        let checkpointer = Checkpointer::start(path.clone(), writer.clone())?;
        Ok(SqliteStore {
            _checkpointer: checkpointer,
            readers: ReadPool::new(path.clone()),
            path,
            writer,
            in_flight: InFlightKeys::default(),
        })
    }
}

/// Applies pending migrations. SQLite has no migration lock, so when several processes open
/// a new file at once one of them can lose the race to create a table; its migration rolled
/// back whole, and a second try finds the schema already in place.
async fn migrate(options: &SqliteConnectOptions) -> StoreResult<()> {
    let mut attempt = 1;
    loop {
        let mut conn = options.connect().await?;
        let outcome = MIGRATOR.run(&mut conn).await;
        sqlx::Connection::close(conn).await?;
        match outcome {
            Err(error) if attempt < 3 => {
                tracing::debug!(error = %error, attempt, "migration raced another process; retrying");
                tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                attempt += 1;
            }
            other => return Ok(other?),
        }
    }
}

/// A connection with the settings every connection of this backend uses.
fn connect(path: &Path) -> StoreResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(PathBuf::from(path), flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    conn.set_prepared_statement_cache_capacity(64);
    // Without the planner stability guarantee SQLite re-prepares a cached statement whenever
    // a value bound to a range constraint (the `id < ?` cursor) changes: a parse per list.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(conn)
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        // An open connection keeps reading a file that was deleted or moved away.
        if !self.path.exists() {
            return Err(StoreError::Invalid(format!(
                "{} is gone",
                self.path.display()
            )));
        }
        self.readers
            .with(|conn| {
                Ok(conn.query_row("SELECT count(*) FROM accounts", [], |row| {
                    row.get::<_, i64>(0)
                })?)
            })
            .map(drop)
    }

    async fn create_account(&self, name: &str) -> StoreResult<Account> {
        let account = Account {
            id: AccountId::generate(),
            name: name.to_owned(),
            created_at: Timestamp::now(),
        };
        let row = account.clone();
        self.writer
            .write(move |conn| accounts::insert_account(conn, &row))
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
            .write(move |conn| accounts::insert_first_account(conn, &row))
            .await?;
        Ok(created.then_some(account))
    }

    async fn list_accounts(&self) -> StoreResult<Vec<Account>> {
        self.readers.with(accounts::list_accounts)
    }

    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>> {
        self.readers.with(|conn| accounts::account(conn, id))
    }

    async fn create_api_key(
        &self,
        account: AccountId,
        mode: Mode,
        scope: Scope,
    ) -> StoreResult<(ApiKey, SecretKey)> {
        let (key, secret) = ApiKey::issue(account, mode, scope);
        let (row, digest) = (key.clone(), secret.digest());
        self.writer
            .write(move |conn| accounts::insert_api_key(conn, &row, &digest))
            .await?;
        Ok((key, secret))
    }

    async fn list_api_keys(&self, account: AccountId) -> StoreResult<Vec<ApiKey>> {
        self.readers
            .with(|conn| accounts::list_api_keys(conn, account))
    }

    async fn revoke_api_key(&self, id: ApiKeyId) -> StoreResult<bool> {
        let now = Timestamp::now();
        self.writer
            .write(move |conn| accounts::revoke_api_key(conn, id, now))
            .await
    }

    async fn authenticate(&self, digest: &[u8]) -> StoreResult<Option<KeyGrant>> {
        self.readers
            .with_grants(|conn, grants| accounts::authenticate(conn, grants, digest))
    }

    async fn record_key_use(&self, id: ApiKeyId, at: Timestamp) -> StoreResult<()> {
        self.writer
            .write(move |conn| accounts::record_key_use(conn, id, at))
            .await
    }

    async fn customer(&self, tenant: Tenant, id: CustomerId) -> StoreResult<Option<Customer>> {
        self.readers
            .with(|conn| customers::customer(conn, tenant, id))
    }

    async fn list_customers(
        &self,
        tenant: Tenant,
        email_folded: Option<&str>,
        page: PageRequest,
    ) -> StoreResult<Page<Customer>> {
        self.readers
            .with(|conn| customers::list_customers(conn, tenant, email_folded, page))
    }

    async fn create_customer(
        &self,
        tenant: Tenant,
        customer: NewCustomer,
        idempotency: Option<IdempotencyClaim>,
    ) -> StoreResult<StoredResponse> {
        let _in_flight = self
            .in_flight
            .claim_optional(tenant, idempotency.as_ref())?;
        self.writer
            .write(move |conn| {
                customers::create_customer(conn, tenant, customer, idempotency.as_ref())
            })
            .await
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
        self.writer
            .write(move |conn| {
                customers::update_customer(conn, tenant, id, &patch, idempotency.as_ref())
            })
            .await
    }

    async fn event(&self, tenant: Tenant, id: EventId) -> StoreResult<Option<Event>> {
        self.readers.with(|conn| customers::event(conn, tenant, id))
    }

    async fn list_events(
        &self,
        tenant: Tenant,
        event_type: Option<EventType>,
        page: PageRequest,
    ) -> StoreResult<Page<Event>> {
        self.readers
            .with(|conn| customers::list_events(conn, tenant, event_type, page))
    }

    async fn purge_expired(&self, now: Timestamp) -> StoreResult<u64> {
        let events_before = now.plus_millis(-EVENT_RETENTION_MILLIS);
        let keys_before = now.plus_millis(-IDEMPOTENCY_RETENTION_MILLIS);
        self.writer
            .write(move |conn| customers::purge(conn, events_before, keys_before))
            .await
    }
}

fn mode_of(row: &Row<'_>, column: usize) -> rusqlite::Result<Mode> {
    let text: String = row.get(column)?;
    Mode::parse(&text).ok_or_else(|| unexpected(column, "mode"))
}

fn scope_of(row: &Row<'_>, column: usize) -> rusqlite::Result<Scope> {
    let text: String = row.get(column)?;
    Scope::parse(&text).ok_or_else(|| unexpected(column, "scope"))
}

fn unexpected(column: usize, what: &str) -> rusqlite::Error {
    let message = format!("unexpected {what} value");
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, message.into())
}
