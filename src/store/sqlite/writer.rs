//! Group commit for SQLite: one connection, on its own thread, owns every write. Requests
//! queue their work; the writer runs everything queued in one transaction and pays one fsync
//! for the lot, so concurrent writers commit together and never meet "database is locked".

use std::sync::mpsc;
use std::thread;

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::store::{StoreError, StoreResult};

/// Most jobs one transaction takes; more wait for the next commit.
const MAX_BATCH: usize = 512;

/// A unit of write work: runs inside the batch transaction, answers after the commit.
trait WriteJob: Send {
    /// Runs the work; `false` when it failed and its changes must be undone.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the transaction's fate is known.
    fn finish(self: Box<Self>, committed: bool);
}

struct Job<T, F> {
    work: Option<F>,
    outcome: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> WriteJob for Job<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> StoreResult<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else {
            return true;
        };
        let outcome = work(conn);
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn finish(self: Box<Self>, committed: bool) {
        let answer = match self.outcome {
            Some(Err(error)) => Err(error),
            Some(Ok(value)) if committed => Ok(value),
            _ => Err(StoreError::CommitFailed),
        };
        // The caller may have gone (client disconnected); the work is committed regardless.
        let _ = self.reply.send(answer);
    }
}

/// The handle requests use to queue writes. The writer thread ends when every handle is gone.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Box<dyn WriteJob>>,
}

impl Writer {
    /// Starts the writer thread on its own connection.
    pub fn start(conn: Connection) -> std::io::Result<Writer> {
        let (queue, receiver) = mpsc::channel();
        thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(&conn, &receiver))?;
        Ok(Writer { queue })
    }

    /// Runs `work` in the next batch transaction and answers after it commits.
    pub async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Job {
            work: Some(work),
            outcome: None,
            reply,
        });
        self.queue
            .send(job)
            .map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }
}

fn run(conn: &Connection, receiver: &mpsc::Receiver<Box<dyn WriteJob>>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = receiver.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let committed = commit_batch(conn, &mut batch);
        metrics::histogram!("renvo_sqlite_batch_size").record(batch.len() as f64);
        for job in batch.drain(..) {
            job.finish(committed);
        }
    }
}

/// Runs every job in one transaction. Each job of a batch runs under its own savepoint, so a
/// failing job undoes only its own changes. The control statements are prepared once and kept:
/// a batch runs two or three of them per job.
fn commit_batch(conn: &Connection, batch: &mut [Box<dyn WriteJob>]) -> bool {
    if let Err(error) = execute(conn, "BEGIN IMMEDIATE") {
        tracing::error!(error = %error, "could not begin a write transaction");
        return false;
    }

    for job in batch.iter_mut() {
        if execute(conn, "SAVEPOINT job").is_err() {
            break;
        }
        if !job.run(conn) && execute(conn, "ROLLBACK TO job").is_err() {
            break;
        }
        if execute(conn, "RELEASE job").is_err() {
            break;
        }
    }

    match execute(conn, "COMMIT") {
        Ok(()) => true,
        Err(error) => {
            tracing::error!(error = %error, "write transaction failed to commit");
            let _ = execute(conn, "ROLLBACK");
            false
        }
    }
}

fn execute(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer_on_fresh_file() -> (tempfile::TempDir, Writer, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("writer.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (n INTEGER NOT NULL);")
            .unwrap();
        (dir, Writer::start(conn).unwrap(), path)
    }

    #[tokio::test]
    async fn a_failing_job_undoes_only_its_own_changes() {
        let (_dir, writer, path) = writer_on_fresh_file();

        let kept = writer.write(|conn| Ok(conn.execute("INSERT INTO t VALUES (1)", [])?));
        let failed = writer.write(|conn| {
            conn.execute("INSERT INTO t VALUES (2)", [])?;
            Err::<usize, _>(StoreError::Invalid("refused after writing".to_owned()))
        });
        let also_kept = writer.write(|conn| Ok(conn.execute("INSERT INTO t VALUES (3)", [])?));
        let (kept, failed, also_kept) = tokio::join!(kept, failed, also_kept);

        assert_eq!(kept.unwrap(), 1);
        assert!(matches!(failed, Err(StoreError::Invalid(_))));
        assert_eq!(also_kept.unwrap(), 1);
        let rows: Vec<i64> = Connection::open(&path)
            .unwrap()
            .prepare("SELECT n FROM t ORDER BY n")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, [1, 3]);
    }
}
