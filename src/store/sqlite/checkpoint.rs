//! WAL checkpoints off the commit path. SQLite's own checkpoint runs inside the commit that
//! crosses its threshold: that commit, and every request of its batch, waits while pages are
//! copied and the database file is synced (about 10 ms under random updates). Here a thread
//! of its own copies frames passively, never blocking the writer, pass after pass until only a
//! few remain; then the writer copies those between two batches, which is short, and its next
//! transaction starts the WAL over. The writer's own checkpoint stays as a backstop at a much
//! larger WAL.

use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use rusqlite::Connection;

use super::connect;
use super::writer::Writer;
use crate::store::StoreResult;

/// How often the thread copies while writes come in: small passes keep each sync of the
/// database file short, and a commit's WAL sync waits behind it on the disk.
const BUSY_INTERVAL: Duration = Duration::from_millis(10);

/// How often it looks while nothing is written.
const IDLE_INTERVAL: Duration = Duration::from_millis(100);

/// WAL frames past which the WAL is started over (SQLite's own default threshold).
const RESTART_AT: i64 = 1_000;

/// Frames left after a pass that the writer copies itself; more call for another pass.
const WRITER_SHARE: i64 = 64;

/// Passes one turn makes at most: a reader's open snapshot can hold frames back a while.
const MAX_PASSES: usize = 4;

/// Frames past which the writer checkpoints on its own, should this thread fall behind.
pub const WRITER_BACKSTOP: i64 = 10_000;

/// Keeps the checkpoint thread alive; dropping it stops the thread.
pub struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    pub fn start(path: PathBuf, writer: Writer) -> StoreResult<Checkpointer> {
        let conn = connect(&path)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let spawned = thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                let mut interval = IDLE_INTERVAL;
                let mut last = Wal::default();
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    let Some(now) = checkpoint(&conn, &writer) else {
                        break;
                    };
                    interval = if now == last {
                        IDLE_INTERVAL
                    } else {
                        BUSY_INTERVAL
                    };
                    last = now;
                }
            });
        spawned.map_err(|error| crate::store::StoreError::Invalid(error.to_string()))?;
        Ok(Checkpointer { _stop: stop })
    }
}

/// Copies the WAL back, and past [`RESTART_AT`] frames has the writer finish so that the WAL
/// starts over. The WAL as the last pass left it; `None` once the writer has stopped.
fn checkpoint(conn: &Connection, writer: &Writer) -> Option<Wal> {
    let mut wal = Wal::default();
    for _ in 0..MAX_PASSES {
        wal = match passive(conn) {
            Ok(wal) => wal,
            Err(error) => {
                tracing::warn!(error = %error, "WAL checkpoint failed");
                break;
            }
        };
        if wal.frames < RESTART_AT {
            break;
        }
        if wal.frames - wal.copied <= WRITER_SHARE {
            return writer.finish_checkpoint().then_some(wal);
        }
    }
    Some(wal)
}

#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Wal {
    /// Frames in the WAL.
    frames: i64,
    /// Of those, frames copied into the database file.
    copied: i64,
}

fn passive(conn: &Connection) -> rusqlite::Result<Wal> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok(Wal {
            frames: row.get(1)?,
            copied: row.get(2)?,
        })
    })
}
