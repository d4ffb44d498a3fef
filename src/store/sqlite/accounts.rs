//! SQL for accounts and API keys.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::pool::GrantCache;
use super::{mode_of, scope_of};
use crate::domain::key::ApiKey;
use crate::domain::timestamp::Timestamp;
use crate::domain::{AccountId, ApiKeyId, Tenant};
use crate::store::{Account, KeyGrant, StoreResult};

pub fn insert_account(conn: &Connection, account: &Account) -> StoreResult<()> {
    conn.prepare_cached("INSERT INTO accounts (id, name, created_at) VALUES (?1, ?2, ?3)")?
        .execute(params![
            account.id.uuid(),
            account.name,
            account.created_at.unix_millis()
        ])?;
    Ok(())
}

/// Inserts the account only while there is none; `true` when it did.
pub fn insert_first_account(conn: &Connection, account: &Account) -> StoreResult<bool> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO accounts (id, name, created_at) SELECT ?1, ?2, ?3 \
             WHERE NOT EXISTS (SELECT 1 FROM accounts)",
        )?
        .execute(params![
            account.id.uuid(),
            account.name,
            account.created_at.unix_millis()
        ])?;
    Ok(inserted == 1)
}

pub fn list_accounts(conn: &Connection) -> StoreResult<Vec<Account>> {
    let mut statement =
        conn.prepare_cached("SELECT id, name, created_at FROM accounts ORDER BY id")?;
    let rows = statement.query_map([], account_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn account(conn: &Connection, id: AccountId) -> StoreResult<Option<Account>> {
    let mut statement =
        conn.prepare_cached("SELECT id, name, created_at FROM accounts WHERE id = ?1")?;
    Ok(statement
        .query_row([id.uuid()], account_from_row)
        .optional()?)
}

fn account_from_row(row: &Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: AccountId(row.get(0)?),
        name: row.get(1)?,
        created_at: Timestamp::from_unix_millis(row.get(2)?),
    })
}

pub fn insert_api_key(conn: &Connection, key: &ApiKey, digest: &[u8]) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO api_keys (id, account_id, mode, scope, prefix, last4, digest, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        key.id.uuid(),
        key.account.uuid(),
        key.mode.as_str(),
        key.scope.as_str(),
        key.prefix,
        key.last4,
        digest,
        key.created_at.unix_millis(),
    ])?;
    Ok(())
}

pub fn list_api_keys(conn: &Connection, account: AccountId) -> StoreResult<Vec<ApiKey>> {
    let mut statement = conn.prepare_cached(
        "SELECT id, account_id, mode, scope, prefix, last4, created_at, last_used_at, revoked_at \
         FROM api_keys WHERE account_id = ?1 ORDER BY id",
    )?;
    let rows = statement.query_map([account.uuid()], |row| {
        Ok(ApiKey {
            id: ApiKeyId(row.get(0)?),
            account: AccountId(row.get(1)?),
            mode: mode_of(row, 2)?,
            scope: scope_of(row, 3)?,
            prefix: row.get(4)?,
            last4: row.get(5)?,
            created_at: Timestamp::from_unix_millis(row.get(6)?),
            last_used_at: row
                .get::<_, Option<i64>>(7)?
                .map(Timestamp::from_unix_millis),
            revoked_at: row
                .get::<_, Option<i64>>(8)?
                .map(Timestamp::from_unix_millis),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn revoke_api_key(conn: &Connection, id: ApiKeyId, at: Timestamp) -> StoreResult<bool> {
    let changed = conn
        .prepare_cached("UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL")?
        .execute(params![at.unix_millis(), id.uuid()])?;
    Ok(changed == 1)
}

/// The grant of the unrevoked key with this digest. The key's row is read only when something
/// was committed since this connection last read it (see `GrantCache`); the data version is
/// read first, so a grant is never kept under a version newer than the row it came from.
pub fn authenticate(
    conn: &Connection,
    grants: &mut GrantCache,
    digest: &[u8],
) -> StoreResult<Option<KeyGrant>> {
    let data_version: i64 = conn
        .prepare_cached("PRAGMA data_version")?
        .query_row([], |row| row.get(0))?;
    if let Some(grant) = grants.get(digest, data_version) {
        return Ok(Some(grant));
    }
    let mut statement = conn.prepare_cached(
        "SELECT id, account_id, mode, scope, last_used_at FROM api_keys \
         WHERE digest = ?1 AND revoked_at IS NULL",
    )?;
    let grant = statement
        .query_row([digest], |row| {
            Ok(KeyGrant {
                key: ApiKeyId(row.get(0)?),
                tenant: Tenant {
                    account: AccountId(row.get(1)?),
                    mode: mode_of(row, 2)?,
                },
                scope: scope_of(row, 3)?,
                last_used_at: row
                    .get::<_, Option<i64>>(4)?
                    .map(Timestamp::from_unix_millis),
            })
        })
        .optional()?;
    grants.keep(digest, grant, data_version);
    Ok(grant)
}

pub fn record_key_use(conn: &Connection, id: ApiKeyId, at: Timestamp) -> StoreResult<()> {
    conn.prepare_cached("UPDATE api_keys SET last_used_at = ?1 WHERE id = ?2")?
        .execute(params![at.unix_millis(), id.uuid()])?;
    Ok(())
}
