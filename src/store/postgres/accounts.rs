//! Accounts and their API keys on PostgreSQL: one statement per function.

use sqlx::PgPool;

use super::rows;
use crate::domain::key::{ApiKey, Scope, SecretKey};
use crate::domain::timestamp::Timestamp;
use crate::domain::{AccountId, ApiKeyId, Mode, Tenant};
use crate::store::{Account, KeyGrant, StoreResult};

pub async fn create_account(pool: &PgPool, name: &str) -> StoreResult<Account> {
    let account = Account {
        id: AccountId::generate(),
        name: name.to_owned(),
        created_at: Timestamp::now(),
    };
    sqlx::query("INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(account.id.uuid())
        .bind(&account.name)
        .bind(account.created_at.unix_millis())
        .execute(pool)
        .await?;
    Ok(account)
}

/// Takes a lock on `accounts` that conflicts with itself and with inserts, so nodes starting
/// together on an empty database make one first account, not one each.
pub async fn create_first_account(pool: &PgPool, name: &str) -> StoreResult<Option<Account>> {
    let account = Account {
        id: AccountId::generate(),
        name: name.to_owned(),
        created_at: Timestamp::now(),
    };
    let mut tx = pool.begin().await?;

    sqlx::query("LOCK TABLE accounts IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    let done = sqlx::query(
        "INSERT INTO accounts (id, name, created_at) SELECT $1, $2, $3 \
         WHERE NOT EXISTS (SELECT 1 FROM accounts)",
    )
    .bind(account.id.uuid())
    .bind(&account.name)
    .bind(account.created_at.unix_millis())
    .execute(&mut *tx)
    .await?;

    tx.commit().await?;
    Ok((done.rows_affected() == 1).then_some(account))
}

pub async fn list_accounts(pool: &PgPool) -> StoreResult<Vec<Account>> {
    let rows = sqlx::query("SELECT id, name, created_at FROM accounts ORDER BY id")
        .fetch_all(pool)
        .await?;
    rows.iter().map(rows::account).collect()
}

pub async fn account(pool: &PgPool, id: AccountId) -> StoreResult<Option<Account>> {
    let row = sqlx::query("SELECT id, name, created_at FROM accounts WHERE id = $1")
        .bind(id.uuid())
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(rows::account).transpose()
}

pub async fn create_api_key(
    pool: &PgPool,
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
    sqlx::query(
        "INSERT INTO api_keys (id, account_id, mode, scope, prefix, last4, digest, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(key.id.uuid())
    .bind(key.account.uuid())
    .bind(key.mode.as_str())
    .bind(key.scope.as_str())
    .bind(&key.prefix)
    .bind(&key.last4)
    .bind(secret.digest())
    .bind(key.created_at.unix_millis())
    .execute(pool)
    .await?;
    Ok((key, secret))
}

pub async fn list_api_keys(pool: &PgPool, account: AccountId) -> StoreResult<Vec<ApiKey>> {
    let rows = sqlx::query(
        "SELECT id, account_id, mode, scope, prefix, last4, created_at, last_used_at, revoked_at \
         FROM api_keys WHERE account_id = $1 ORDER BY id",
    )
    .bind(account.uuid())
    .fetch_all(pool)
    .await?;
    rows.iter().map(rows::api_key).collect()
}

pub async fn revoke_api_key(pool: &PgPool, id: ApiKeyId) -> StoreResult<bool> {
    let done =
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(Timestamp::now().unix_millis())
            .bind(id.uuid())
            .execute(pool)
            .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn authenticate(pool: &PgPool, digest: &[u8]) -> StoreResult<Option<KeyGrant>> {
    let row = sqlx::query(
        "SELECT id, account_id, mode, scope, last_used_at FROM api_keys \
         WHERE digest = $1 AND revoked_at IS NULL",
    )
    .bind(digest)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(KeyGrant {
        key: ApiKeyId(sqlx::Row::try_get(&row, "id")?),
        tenant: Tenant {
            account: AccountId(sqlx::Row::try_get(&row, "account_id")?),
            mode: rows::mode_of(&row)?,
        },
        scope: rows::scope_of(&row)?,
        last_used_at: rows::optional_time_of(&row, "last_used_at")?,
    }))
}

pub async fn record_key_use(pool: &PgPool, id: ApiKeyId, at: Timestamp) -> StoreResult<()> {
    sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
        .bind(at.unix_millis())
        .bind(id.uuid())
        .execute(pool)
        .await?;
    Ok(())
}
