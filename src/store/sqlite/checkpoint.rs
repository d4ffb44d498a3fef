//! WAL checkpoints mostly off the commit path. SQLite's automatic checkpoint runs inside the
//! commit that crosses the threshold, so that commit (and every request in its batch) waits
//! for pages to be copied. A thread of its own copies them passively as they come, never
//! blocking the writer, and leaves the writer's own checkpoint little to do.

use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use super::connect;
use crate::store::StoreResult;

const INTERVAL: Duration = Duration::from_millis(200);

/// Keeps the checkpoint thread alive; dropping it stops the thread.
pub struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    pub fn start(path: PathBuf) -> StoreResult<Checkpointer> {
        let conn = connect(&path)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let spawned = thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
                    let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    if let Err(error) = done {
                        tracing::warn!(error = %error, "WAL checkpoint failed");
                    }
                }
            });
        spawned.map_err(|error| crate::store::StoreError::Invalid(error.to_string()))?;
        Ok(Checkpointer { _stop: stop })
    }
}
