//! The storage seam: one trait the HTTP layer and the workers call, with a SQLite and a
//! PostgreSQL implementation behind it. All SQL lives in the backend modules.

use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::customer::{Customer, CustomerPatch, NewCustomer};
use crate::domain::event::{Event, EventType};
use crate::domain::key::{ApiKey, Scope, SecretKey};
use crate::domain::timestamp::Timestamp;
use crate::domain::{AccountId, ApiKeyId, CustomerId, EventId, Mode, Tenant};

pub mod postgres;
pub mod sqlite;
pub mod webhooks;

pub use webhooks::WebhookStore;

/// Failures of the store that callers act on; everything else is `Internal`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the idempotency key was used with another request")]
    IdempotencyKeyReused,
    #[error("a request with this idempotency key is still in progress")]
    IdempotencyKeyInUse,
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("SQLite error")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database migration failed")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("the write transaction failed to commit")]
    CommitFailed,
    #[error("the database writer has stopped")]
    WriterStopped,
    #[error("{0}")]
    Invalid(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

tokio::task_local! {
    /// Present while a read-only request runs (see [`one_snapshot`]). A backend that can keep
    /// one read transaction across the request's reads keeps it here; the value is dropped,
    /// ending the transaction, when the request's work is done.
    static READ_SCOPE: RefCell<Option<Box<dyn Any + Send>>>;
}

/// Runs a read-only request's work so that its reads (the key check, then the data) see one
/// snapshot where the backend can do that cheaply: SQLite then takes its read lock once per
/// request instead of once per statement. Backends that cannot ignore the scope. Only for work
/// that writes nothing: a write made inside the scope would not be seen by its later reads.
pub async fn one_snapshot<F: Future>(work: F) -> F::Output {
    READ_SCOPE.scope(RefCell::new(None), work).await
}

/// Runs `use_scope` on the current read scope's slot; `None` outside a scope, or when the
/// slot is already in use further up the stack.
fn with_read_scope<R>(use_scope: impl FnOnce(&mut Option<Box<dyn Any + Send>>) -> R) -> Option<R> {
    READ_SCOPE
        .try_with(|slot| {
            slot.try_borrow_mut()
                .ok()
                .map(|mut slot| use_scope(&mut slot))
        })
        .ok()
        .flatten()
}

/// Opens the backend a database URL names, bringing its schema up to date first.
pub async fn open(url: &str, max_connections: u32) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        postgres::open(url, max_connections).await
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(url).await?))
    } else {
        Err(StoreError::Invalid(format!(
            "unsupported database URL scheme in `{}`: use sqlite:// or postgres://",
            url.split("://").next().unwrap_or(url)
        )))
    }
}

/// An account: one rental business.
#[derive(Clone, Debug, PartialEq)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    pub created_at: Timestamp,
}

/// What authenticating a key yields.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KeyGrant {
    pub key: ApiKeyId,
    pub tenant: Tenant,
    pub scope: Scope,
    pub last_used_at: Option<Timestamp>,
}

/// The request an idempotency key was first used with, and the key itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyClaim {
    pub key: String,
    /// Method, canonical path and a digest of the body: a replay must match it exactly.
    pub fingerprint: String,
}

/// A response kept for an idempotency key, or the one a write just produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    pub replayed: bool,
}

/// Renders a write's response from what it wrote. It runs inside the write's transaction, so
/// the response kept for an idempotency key is the one sent; the HTTP layer owns its format.
pub type Render<T> = Box<dyn FnOnce(&T) -> StoreResult<StoredResponse> + Send>;

/// One page of a keyset walk, newest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}

/// Where a page starts and how long it is; `after` is the uuid of an id (existing or not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<uuid::Uuid>,
    pub limit: u32,
}

impl PageRequest {
    /// The exclusive upper bound of the page's ids. Without a cursor the walk starts above
    /// every possible id, so one index range serves the first page and every later one.
    pub fn below(self) -> uuid::Uuid {
        self.after.unwrap_or(uuid::Uuid::max())
    }

    /// Rows to fetch: one more than the page holds, to learn whether more follow.
    pub fn fetch(self) -> i64 {
        i64::from(self.limit) + 1
    }

    /// The page from the rows fetched with `fetch`.
    pub fn page_of<T>(self, mut items: Vec<T>) -> Page<T> {
        let has_more = items.len() > self.limit as usize;
        items.truncate(self.limit as usize);
        Page { items, has_more }
    }
}

#[async_trait]
pub trait Store: WebhookStore + Send + Sync {
    /// Answers only when the database does.
    async fn ping(&self) -> StoreResult<()>;

    async fn create_account(&self, name: &str) -> StoreResult<Account>;
    /// Creates an account only while there is none, atomically even when several nodes
    /// start together on one empty database; `None` when an account exists.
    async fn create_first_account(&self, name: &str) -> StoreResult<Option<Account>>;
    async fn list_accounts(&self) -> StoreResult<Vec<Account>>;
    async fn account(&self, id: AccountId) -> StoreResult<Option<Account>>;

    async fn create_api_key(
        &self,
        account: AccountId,
        mode: Mode,
        scope: Scope,
    ) -> StoreResult<(ApiKey, SecretKey)>;
    async fn list_api_keys(&self, account: AccountId) -> StoreResult<Vec<ApiKey>>;
    /// `false` when no such key exists or it was already revoked.
    async fn revoke_api_key(&self, id: ApiKeyId) -> StoreResult<bool>;
    /// The grant of an active (unrevoked) key with this digest.
    async fn authenticate(&self, digest: &[u8]) -> StoreResult<Option<KeyGrant>>;
    async fn record_key_use(&self, id: ApiKeyId, at: Timestamp) -> StoreResult<()>;

    async fn customer(&self, tenant: Tenant, id: CustomerId) -> StoreResult<Option<Customer>>;
    /// `email_folded` filters by the folded email when given.
    async fn list_customers(
        &self,
        tenant: Tenant,
        email_folded: Option<&str>,
        page: PageRequest,
    ) -> StoreResult<Page<Customer>>;
    /// Creates the customer and its `customer.created` event in one transaction.
    async fn create_customer(
        &self,
        tenant: Tenant,
        customer: NewCustomer,
        idempotency: Option<IdempotencyClaim>,
    ) -> StoreResult<StoredResponse>;
    /// Applies a patch and records `customer.updated` when something changed, in one
    /// transaction. `None` when the customer does not exist in this tenant.
    async fn update_customer(
        &self,
        tenant: Tenant,
        id: CustomerId,
        patch: CustomerPatch,
        idempotency: Option<IdempotencyClaim>,
    ) -> StoreResult<Option<StoredResponse>>;

    async fn event(&self, tenant: Tenant, id: EventId) -> StoreResult<Option<Event>>;
    async fn list_events(
        &self,
        tenant: Tenant,
        event_type: Option<EventType>,
        page: PageRequest,
    ) -> StoreResult<Page<Event>>;

    /// Deletes events and idempotency records past their retention; returns rows removed.
    async fn purge_expired(&self, now: Timestamp) -> StoreResult<u64>;
}

/// Idempotency keys whose first request is still running on this node: a second request
/// with the same key gets 409 rather than waiting. Memory only, so a crash leaves nothing stuck.
#[derive(Default)]
pub struct InFlightKeys {
    keys: std::sync::Mutex<std::collections::HashSet<(Tenant, String)>>,
}

/// Holds a key in [`InFlightKeys`] until dropped.
pub struct InFlightGuard<'a> {
    owner: &'a InFlightKeys,
    entry: (Tenant, String),
}

impl InFlightKeys {
    pub fn claim(&self, tenant: Tenant, key: &str) -> StoreResult<InFlightGuard<'_>> {
        let entry = (tenant, key.to_owned());
        let mut keys = self
            .keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !keys.insert(entry.clone()) {
            return Err(StoreError::IdempotencyKeyInUse);
        }
        Ok(InFlightGuard { owner: self, entry })
    }
}

impl InFlightKeys {
    /// Claims the key of an idempotent request; requests without one hold nothing.
    pub fn claim_optional(
        &self,
        tenant: Tenant,
        claim: Option<&IdempotencyClaim>,
    ) -> StoreResult<Option<InFlightGuard<'_>>> {
        claim
            .map(|claim| self.claim(tenant, &claim.key))
            .transpose()
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        let mut keys = self
            .owner
            .keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        keys.remove(&self.entry);
    }
}

/// Answers a request whose idempotency key already has a kept response.
pub fn replay(
    claim: &IdempotencyClaim,
    fingerprint: &str,
    status: u16,
    body: String,
) -> StoreResult<StoredResponse> {
    if claim.fingerprint != fingerprint {
        return Err(StoreError::IdempotencyKeyReused);
    }
    Ok(StoredResponse {
        status,
        body,
        replayed: true,
    })
}

/// How long events are kept, and how long idempotency keys are remembered.
pub const EVENT_RETENTION_MILLIS: i64 = 30 * 24 * 3600 * 1000;
pub const IDEMPOTENCY_RETENTION_MILLIS: i64 = 24 * 3600 * 1000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_fetched_with_one_extra_row_reports_more() {
        let page = PageRequest {
            after: None,
            limit: 2,
        };
        let more = page.page_of(vec![1, 2, 3]);
        let last = page.page_of(vec![1, 2]);

        assert_eq!(
            more,
            Page {
                items: vec![1, 2],
                has_more: true
            }
        );
        assert_eq!(
            last,
            Page {
                items: vec![1, 2],
                has_more: false
            }
        );
        assert_eq!(page.fetch(), 3);
        assert_eq!(page.below(), uuid::Uuid::max());
    }
}
