//! Group commit for SQLite: one connection owns every write. Requests queue their work; the
//! writer runs all queued work in one transaction and pays one fsync for the lot, so
//! concurrent writers commit together and never meet "database is locked".

use std::future::Future;
use std::pin::Pin;

use sqlx::{Connection, Executor, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use crate::store::{StoreError, StoreResult};

/// Most jobs one transaction takes; more wait for the next commit.
const MAX_BATCH: usize = 256;

pub type JobFuture<'c, T> = Pin<Box<dyn Future<Output = StoreResult<T>> + Send + 'c>>;

/// A unit of write work: runs inside the batch transaction, answers after the commit.
trait WriteJob: Send {
    /// Runs the work; `false` when it failed and its changes must be undone.
    fn run<'c>(
        &'c mut self,
        conn: &'c mut SqliteConnection,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'c>>;
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
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut SqliteConnection) -> JobFuture<'c, T> + Send + 'static,
{
    fn run<'c>(
        &'c mut self,
        conn: &'c mut SqliteConnection,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'c>> {
        Box::pin(async move {
            let Some(work) = self.work.take() else {
                return true;
            };
            let outcome = work(conn).await;
            let ok = outcome.is_ok();
            self.outcome = Some(outcome);
            ok
        })
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

/// The handle requests use to queue writes.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Box<dyn WriteJob>>,
}

impl Writer {
    /// Starts the writer task on its own connection.
    pub fn start(conn: SqliteConnection) -> Writer {
        let (queue, receiver) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(conn, receiver));
        Writer { queue }
    }

    /// Runs `work` in the next batch transaction and answers after it commits.
    pub async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> JobFuture<'c, T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Job {
            work: Some(work),
            outcome: None,
            reply,
        });
        self.queue
            .send(job)
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }
}

async fn run(mut conn: SqliteConnection, mut receiver: mpsc::Receiver<Box<dyn WriteJob>>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let committed = commit_batch(&mut conn, &mut batch).await;
        metrics::histogram!("renvo_sqlite_batch_size").record(batch.len() as f64);
        for job in batch.drain(..) {
            job.finish(committed);
        }
    }
    let _ = conn.close().await;
}

/// Runs every job in one transaction. Each job of a batch runs under its own savepoint, so a
/// failing job undoes only its own changes.
async fn commit_batch(conn: &mut SqliteConnection, batch: &mut [Box<dyn WriteJob>]) -> bool {
    if let Err(error) = conn.execute("BEGIN IMMEDIATE").await {
        tracing::error!(error = %error, "could not begin a write transaction");
        return false;
    }

    let single = batch.len() == 1;
    for job in batch.iter_mut() {
        if !single && conn.execute("SAVEPOINT job").await.is_err() {
            break;
        }
        let ok = job.run(conn).await;
        let undo = if ok || single {
            "RELEASE job"
        } else {
            "ROLLBACK TO job; RELEASE job"
        };
        if !single && conn.execute(undo).await.is_err() {
            break;
        }
        if single && !ok {
            let _ = conn.execute("ROLLBACK").await;
            return true;
        }
    }

    match conn.execute("COMMIT").await {
        Ok(_) => true,
        Err(error) => {
            tracing::error!(error = %error, "write transaction failed to commit");
            let _ = conn.execute("ROLLBACK").await;
            false
        }
    }
}
