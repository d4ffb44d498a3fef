//! Read connections. A read runs inline on the calling thread: an indexed SQLite read takes
//! microseconds, far less than handing it to another thread and back would cost.
//!
//! Inside a request's read scope (`store::one_snapshot`) the request's reads share one
//! connection and one read transaction, opened by the first read and ended when the request's
//! work is done: the request sees one snapshot, and SQLite locks a WAL read mark once.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use super::connect;
use crate::store::{KeyGrant, StoreResult, with_read_scope};

/// Idle read connections beyond this many are closed rather than kept.
const MAX_IDLE: usize = 16;

pub struct ReadPool {
    idle: Arc<Idle>,
}

struct Idle {
    path: PathBuf,
    readers: Mutex<Vec<Reader>>,
}

/// A read connection and what it remembers between reads.
struct Reader {
    conn: Connection,
    grants: GrantCache,
}

impl ReadPool {
    pub fn new(path: PathBuf) -> ReadPool {
        ReadPool {
            idle: Arc::new(Idle {
                path,
                readers: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Runs `read` on a connection: the request's own inside a read scope, an idle one
    /// otherwise (opening one when none is idle).
    pub fn with<T>(&self, mut read: impl FnMut(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        self.run(|reader| read(&reader.conn))
    }

    /// Like `with`, and also hands over the connection's cache of key grants. Outside a
    /// request's scope the read still runs in a transaction of its own: the data version and
    /// the key's row it guards must come from one snapshot, under one read lock.
    pub fn with_grants<T>(
        &self,
        mut read: impl FnMut(&Connection, &mut GrantCache) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut read = |reader: &mut Reader| read(&reader.conn, &mut reader.grants);
        match self.in_scope(&mut read) {
            Some(result) => result,
            None => Snapshot::new(self.idle.clone()).reader().and_then(read),
        }
    }

    /// `read` is `FnMut` so that it is still at hand when there turns out to be no scope; it
    /// runs once either way.
    fn run<T>(&self, mut read: impl FnMut(&mut Reader) -> StoreResult<T>) -> StoreResult<T> {
        if let Some(result) = self.in_scope(&mut read) {
            return result;
        }
        let mut reader = self.idle.take()?;
        let result = read(&mut reader);
        self.idle.put(reader);
        result
    }

    /// Runs `read` in the request's snapshot; `None` (without running it) outside a scope.
    fn in_scope<T>(
        &self,
        read: &mut impl FnMut(&mut Reader) -> StoreResult<T>,
    ) -> Option<StoreResult<T>> {
        with_read_scope(|slot| {
            let snapshot = slot
                .get_or_insert_with(|| Box::new(Snapshot::new(self.idle.clone())))
                .downcast_mut::<Snapshot>()
                // The scope belongs to another store (two stores in one process, as in tests).
                .filter(|snapshot| Arc::ptr_eq(&snapshot.idle, &self.idle))?;
            Some(snapshot.reader().and_then(read))
        })
        .flatten()
    }
}

impl Idle {
    fn take(&self) -> StoreResult<Reader> {
        let idle = self.lock().pop();
        match idle {
            Some(reader) => Ok(reader),
            None => Ok(Reader {
                conn: connect(&self.path)?,
                grants: GrantCache::default(),
            }),
        }
    }

    fn put(&self, reader: Reader) {
        let mut idle = self.lock();
        if idle.len() < MAX_IDLE {
            idle.push(reader);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Reader>> {
        self.readers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A request's connection with its read transaction open.
struct Snapshot {
    idle: Arc<Idle>,
    reader: Option<Reader>,
}

impl Snapshot {
    fn new(idle: Arc<Idle>) -> Snapshot {
        Snapshot { idle, reader: None }
    }

    /// The request's connection, taken and put in a transaction on first use. `BEGIN` is
    /// deferred: the first statement takes the read lock, and every later one shares it.
    fn reader(&mut self) -> StoreResult<&mut Reader> {
        let reader = match self.reader.take() {
            Some(reader) => reader,
            None => {
                let reader = self.idle.take()?;
                reader.conn.prepare_cached("BEGIN")?.execute([])?;
                reader
            }
        };
        Ok(self.reader.insert(reader))
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let Some(reader) = self.reader.take() else {
            return;
        };
        // A failed statement can have ended the transaction already.
        let ended = reader.conn.is_autocommit()
            || reader
                .conn
                .prepare_cached("COMMIT")
                .and_then(|mut commit| commit.execute([]))
                .is_ok();
        // A connection stuck in a transaction would pin the WAL; close it instead.
        if ended {
            self.idle.put(reader);
        }
    }
}

/// Key grants a connection has read, each with SQLite's data version at the time. The data
/// version changes whenever any connection or process commits, so while it is unchanged
/// nothing can have revoked the key and the grant still holds; the key's row is read again
/// after any commit at all. Bounded: only valid keys are kept, and the cache starts over
/// when it holds too many.
#[derive(Default)]
pub struct GrantCache {
    grants: HashMap<Vec<u8>, (KeyGrant, i64)>,
}

impl GrantCache {
    const CAPACITY: usize = 1024;

    /// The grant read for `digest` at exactly `data_version`, if any.
    pub fn get(&self, digest: &[u8], data_version: i64) -> Option<KeyGrant> {
        self.grants
            .get(digest)
            .filter(|(_, seen)| *seen == data_version)
            .map(|(grant, _)| *grant)
    }

    /// Remembers what reading `digest` found at `data_version`.
    pub fn keep(&mut self, digest: &[u8], found: Option<KeyGrant>, data_version: i64) {
        match found {
            Some(grant) => {
                if self.grants.len() >= GrantCache::CAPACITY {
                    self.grants.clear();
                }
                self.grants.insert(digest.to_vec(), (grant, data_version));
            }
            None => {
                self.grants.remove(digest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::one_snapshot;

    /// A pool over a fresh WAL file holding one row, and a separate writing connection.
    fn pool_with_one_row() -> (tempfile::TempDir, ReadPool, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pool.db");
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1);",
            )
            .unwrap();
        (dir, ReadPool::new(path), writer)
    }

    fn rows(pool: &ReadPool) -> i64 {
        pool.with(|conn| Ok(conn.query_row("SELECT count(*) FROM t", [], |row| row.get(0))?))
            .unwrap()
    }

    #[tokio::test]
    async fn reads_in_one_scope_see_one_snapshot() {
        let (_dir, pool, writer) = pool_with_one_row();

        let (before, after_commit) = one_snapshot(async {
            let before = rows(&pool);
            writer.execute("INSERT INTO t VALUES (2)", []).unwrap();
            (before, rows(&pool))
        })
        .await;

        assert_eq!((before, after_commit), (1, 1));
        assert_eq!(rows(&pool), 2, "outside the scope a read sees the commit");
    }

    #[tokio::test]
    async fn a_scope_ends_its_transaction_and_returns_its_connection() {
        let (_dir, pool, writer) = pool_with_one_row();

        one_snapshot(async { rows(&pool) }).await;

        {
            let idle = pool.idle.lock();
            assert_eq!(idle.len(), 1);
            assert!(idle[0].conn.is_autocommit(), "no transaction left open");
        }
        // With no reader left in a transaction, a checkpoint can copy every frame back.
        writer.execute("INSERT INTO t VALUES (2)", []).unwrap();
        let (busy, _, _): (i64, i64, i64) = writer
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .unwrap();
        assert_eq!(busy, 0);
    }

    #[test]
    fn a_grant_read_outside_a_scope_runs_in_a_transaction_of_its_own() {
        let (_dir, pool, _writer) = pool_with_one_row();

        let in_transaction = pool
            .with_grants(|conn, _| Ok(!conn.is_autocommit()))
            .unwrap();

        assert!(in_transaction);
        let idle = pool.idle.lock();
        assert_eq!(idle.len(), 1);
        assert!(idle[0].conn.is_autocommit(), "and ends it");
    }

    #[test]
    fn a_grant_holds_only_at_the_data_version_it_was_read_at() {
        let grant = KeyGrant {
            key: crate::domain::ApiKeyId::generate(),
            tenant: crate::domain::Tenant {
                account: crate::domain::AccountId::generate(),
                mode: crate::domain::Mode::Test,
            },
            scope: crate::domain::key::Scope::Read,
            last_used_at: None,
        };
        let mut grants = GrantCache::default();

        grants.keep(b"digest", Some(grant), 7);
        assert_eq!(grants.get(b"digest", 7), Some(grant));
        assert_eq!(grants.get(b"digest", 8), None);
        assert_eq!(grants.get(b"other", 7), None);
        grants.keep(b"digest", None, 8);
        assert_eq!(grants.get(b"digest", 7), None, "a revoked key is forgotten");
    }
}
