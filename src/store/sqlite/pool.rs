//! Read connections. A read runs inline on the calling thread: an indexed SQLite read takes
//! microseconds, far less than handing it to another thread and back would cost.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::Connection;

use super::connect;
use crate::store::StoreResult;

/// Idle read connections beyond this many are closed rather than kept.
const MAX_IDLE: usize = 16;

pub struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    pub fn new(path: PathBuf) -> ReadPool {
        ReadPool {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `read` on an idle connection, opening one when none is idle.
    pub fn with<T>(&self, read: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let idle = self.lock().pop();
        let conn = match idle {
            Some(conn) => conn,
            None => connect(&self.path)?,
        };
        let result = read(&conn);
        let mut idle = self.lock();
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
        result
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
