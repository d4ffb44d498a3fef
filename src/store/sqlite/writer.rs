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

/// What the writer thread is asked to do.
enum Message {
    Write(Box<dyn WriteJob>),
    /// Copy the WAL's last frames back between two batches; answered when done.
    FinishCheckpoint(mpsc::SyncSender<()>),
}

/// The handle requests use to queue writes. The writer thread ends when every handle is gone.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Message>,
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
            .send(Message::Write(job))
            .map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Has the writer copy the frames still in the WAL back into the database, between two
    /// batches, and waits for it; `false` when the writer has stopped. With every frame copied,
    /// the next write transaction starts the WAL over.
    pub fn finish_checkpoint(&self) -> bool {
        let (done, finished) = mpsc::sync_channel(1);
        self.queue.send(Message::FinishCheckpoint(done)).is_ok() && finished.recv().is_ok()
    }
}

fn run(conn: &Connection, receiver: &mpsc::Receiver<Message>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut checkpoint = None;
    while let Ok(first) = receiver.recv() {
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Write(job) => batch.push(job),
                // The batch collected so far commits first.
                Message::FinishCheckpoint(done) => {
                    checkpoint = Some(done);
                    break;
                }
            }
            if batch.len() < MAX_BATCH {
                next = receiver.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            let committed = commit_batch(conn, &mut batch);
            metrics::histogram!("renvo_sqlite_batch_size").record(batch.len() as f64);
            for job in batch.drain(..) {
                job.finish(committed);
            }
        }
        if let Some(done) = checkpoint.take() {
            let copied = conn
                .prepare_cached("PRAGMA wal_checkpoint(PASSIVE)")
                .and_then(|mut statement| statement.query_row([], |_| Ok(())));
            if let Err(error) = copied {
                tracing::warn!(error = %error, "WAL checkpoint failed");
            }
            let _ = done.send(());
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
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; \
             CREATE TABLE t (n INTEGER NOT NULL);",
        )
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

    fn wal_frames(path: &std::path::Path) -> i64 {
        Connection::open(path)
            .unwrap()
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))
            .unwrap()
    }

    #[tokio::test]
    async fn a_finished_checkpoint_lets_the_next_write_start_the_wal_over() {
        let (_dir, writer, path) = writer_on_fresh_file();
        let insert = |conn: &Connection| Ok(conn.execute("INSERT INTO t VALUES (1)", [])?);
        // Fifty commits, fifty frames, none copied back: the writer's own checkpoint is off.
        for _ in 0..50 {
            writer.write(insert).await.unwrap();
        }
        let finishing = writer.clone();
        let finished = tokio::task::spawn_blocking(move || finishing.finish_checkpoint());
        assert!(finished.await.unwrap());
        writer.write(insert).await.unwrap();

        assert_eq!(wal_frames(&path), 1);
    }
}
