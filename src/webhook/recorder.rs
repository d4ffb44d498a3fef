//! Records attempt outcomes in batches: attempts that finish together share one write job, so
//! recording costs the single SQLite writer little more per attempt than its statements.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::store::Store;
use crate::store::webhooks::AttemptOutcome;

/// Most outcomes one write records.
const MAX_BATCH: usize = 256;

type Recording = (AttemptOutcome, oneshot::Sender<bool>);

/// The handle attempts record through.
#[derive(Clone)]
pub struct Recorder {
    queue: mpsc::Sender<Recording>,
}

impl Recorder {
    /// Starts the recording task; it ends when every handle is dropped.
    pub fn start(store: Arc<dyn Store>) -> Recorder {
        let (queue, receiver) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(record_batches(store, receiver));
        Recorder { queue }
    }

    /// Records one outcome; answers once it is committed (`true`) or failed (`false`).
    pub async fn record(&self, outcome: AttemptOutcome) -> bool {
        let (reply, answer) = oneshot::channel();
        if self.queue.send((outcome, reply)).await.is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }
}

async fn record_batches(store: Arc<dyn Store>, mut receiver: mpsc::Receiver<Recording>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (outcomes, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        let count = outcomes.len();
        let recorded = match store.record_webhook_attempts(outcomes).await {
            Ok(()) => true,
            Err(error) => {
                // Their leases run out and the deliveries are tried again: not lost.
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    count,
                    "could not record webhook attempts"
                );
                false
            }
        };
        for reply in replies {
            let _ = reply.send(recorded);
        }
    }
}
