//! The dispatcher: a restart-safe loop around `dispatch_due`, which claims due deliveries under
//! a lease, starts each one (bounded overall and per endpoint, so one slow endpoint never holds
//! up the others) and records its outcome. Woken on commit; otherwise it polls for retries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::delivery::{Sender, Sent};
use super::guard::AddressGuard;
use super::recorder::Recorder;
use super::schedule::RetrySchedule;
use crate::domain::timestamp::Timestamp;
use crate::domain::webhook::{DisabledReason, WebhookAttempt};
use crate::domain::{WebhookAttemptId, WebhookEndpointId};
use crate::store::webhooks::{AttemptOutcome, Backlog, ClaimRequest, ClaimedDelivery};
use crate::store::{Store, StoreResult};

/// Most deliveries one claim takes.
const CLAIM_BATCH: usize = 64;
/// Longest sleep between looks at the queue when nothing wakes the dispatcher.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// How the dispatcher delivers.
#[derive(Clone, Debug)]
pub struct DispatcherConfig {
    pub schedule: RetrySchedule,
    pub guard: AddressGuard,
    /// An attempt without a complete answer by then failed.
    pub timeout: Duration,
    /// Attempts in flight at once, overall and to any one endpoint.
    pub overall_limit: usize,
    pub per_endpoint_limit: usize,
    /// How long a claim holds its rows; a claimer that dies frees them after this.
    pub lease: Duration,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        DispatcherConfig {
            schedule: RetrySchedule::default(),
            guard: AddressGuard::strict(),
            timeout: Duration::from_secs(10),
            overall_limit: 256,
            per_endpoint_limit: 16,
            lease: Duration::from_secs(120),
        }
    }
}

/// Claims and delivers; see the module header.
pub struct Dispatcher {
    store: Arc<dyn Store>,
    sender: Sender,
    config: DispatcherConfig,
    recorder: Recorder,
    overall: Arc<Semaphore>,
    endpoints: Mutex<HashMap<WebhookEndpointId, EndpointLoad>>,
    wake: Arc<Notify>,
}

/// This process's claimed deliveries of one endpoint, and the gate that bounds its attempts.
struct EndpointLoad {
    claimed: usize,
    gate: Arc<Semaphore>,
}

impl Dispatcher {
    /// Call inside the runtime: it starts the task that records outcomes.
    pub fn new(
        store: Arc<dyn Store>,
        config: DispatcherConfig,
        wake: Arc<Notify>,
    ) -> Result<Arc<Dispatcher>, reqwest::Error> {
        Ok(Arc::new(Dispatcher {
            sender: Sender::new(config.guard, config.timeout)?,
            recorder: Recorder::start(store.clone()),
            store,
            overall: Arc::new(Semaphore::new(config.overall_limit)),
            endpoints: Mutex::new(HashMap::new()),
            config,
            wake,
        }))
    }

    /// Claims deliveries due by `due_by`, as many as there is room for, and starts each in
    /// `tasks`; answers how many started.
    pub async fn dispatch_due(
        self: &Arc<Self>,
        due_by: Timestamp,
        tasks: &mut JoinSet<()>,
    ) -> StoreResult<usize> {
        let room = self.overall.available_permits().min(CLAIM_BATCH);
        if room == 0 {
            return Ok(0);
        }
        let lease_millis = i64::try_from(self.config.lease.as_millis()).unwrap_or(i64::MAX);
        let claim = ClaimRequest {
            now: due_by,
            lease_until: Timestamp::now().plus_millis(lease_millis),
            limit: u32::try_from(room).unwrap_or(u32::MAX),
            skip_endpoints: self.saturated_endpoints(),
        };
        let claimed = self.store.claim_webhook_deliveries(claim).await?;

        let started = claimed.len();
        for delivery in claimed {
            let Ok(permit) = self.overall.clone().acquire_owned().await else {
                break;
            };
            let gate = self.note_claimed(delivery.endpoint);
            tasks.spawn(self.clone().attempt(delivery, permit, gate));
        }
        Ok(started)
    }

    /// One pass for tests and tools: delivers everything due now (retries that come due
    /// meanwhile wait for the next pass) and answers how many attempts were made.
    pub async fn deliver_due(self: &Arc<Self>) -> StoreResult<usize> {
        let due_by = Timestamp::now();
        let mut tasks = JoinSet::new();
        let mut attempts = 0;
        loop {
            let started = self.dispatch_due(due_by, &mut tasks).await?;
            attempts += started;
            if started == 0 && tasks.join_next().await.is_none() {
                return Ok(attempts);
            }
        }
    }

    /// Delivers until `shutdown`, then lets attempts in flight finish and be recorded.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut tasks = JoinSet::new();
        let mut backlog_seen = Instant::now();
        while !shutdown.is_cancelled() {
            let wait = match self.dispatch_due(Timestamp::now(), &mut tasks).await {
                Ok(started) if started == CLAIM_BATCH => Duration::ZERO,
                Ok(_) => self.idle_wait().await,
                Err(error) => {
                    tracing::warn!(error = &error as &dyn std::error::Error, "claim failed");
                    IDLE_POLL
                }
            };
            if backlog_seen.elapsed() >= IDLE_POLL {
                backlog_seen = Instant::now();
                let _ = self.report_backlog().await;
            }
            tokio::select! {
                () = shutdown.cancelled() => {},
                () = self.wake.notified() => {},
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {},
                () = tokio::time::sleep(wait) => {},
            }
            while tasks.try_join_next().is_some() {}
        }
        tracing::info!(in_flight = tasks.len(), "webhook dispatcher stopping");
        while tasks.join_next().await.is_some() {}
    }

    /// Until the next retry is due, at most `IDLE_POLL`.
    async fn idle_wait(&self) -> Duration {
        let Some(backlog) = self.report_backlog().await else {
            return IDLE_POLL;
        };
        let now = Timestamp::now().unix_millis();
        match backlog.next_due.map(|at| at.unix_millis() - now) {
            Some(millis) if millis > 0 => {
                Duration::from_millis(u64::try_from(millis).unwrap_or(0)).min(IDLE_POLL)
            }
            _ => IDLE_POLL,
        }
    }

    /// Reads the queue and sets the backlog gauge.
    async fn report_backlog(&self) -> Option<Backlog> {
        match self.store.webhook_backlog().await {
            Ok(backlog) => {
                metrics::gauge!("renvo_webhook_backlog").set(backlog.pending as f64);
                Some(backlog)
            }
            Err(error) => {
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    "backlog query failed"
                );
                None
            }
        }
    }

    async fn attempt(
        self: Arc<Self>,
        delivery: ClaimedDelivery,
        overall: OwnedSemaphorePermit,
        gate: Arc<Semaphore>,
    ) {
        let endpoint_permit = gate.acquire_owned().await;
        let attempted_at = Timestamp::now();
        let sent = self.sender.send(&delivery).await;
        // The slots bound requests in flight; the row stays leased until its outcome is recorded.
        drop((endpoint_permit, overall));
        self.note_finished(delivery.endpoint);

        let outcome = self.outcome_of(&delivery, attempted_at, &sent);
        let label = match (sent.succeeded(), outcome.attempt.next_attempt_at) {
            (true, _) => "succeeded",
            (false, Some(_)) => "failed",
            (false, None) => "given_up",
        };
        metrics::counter!("renvo_webhook_deliveries_total", "outcome" => label).increment(1);
        metrics::histogram!("renvo_webhook_delivery_duration_seconds")
            .record(sent.duration.as_secs_f64());
        self.recorder.record(outcome).await;
    }

    fn outcome_of(
        &self,
        delivery: &ClaimedDelivery,
        attempted_at: Timestamp,
        sent: &Sent,
    ) -> AttemptOutcome {
        let finished_at = Timestamp::now();
        let next_attempt_at = match sent.succeeded() {
            true => None,
            false => self
                .config
                .schedule
                .delay_after(delivery.attempt_count.saturating_add(1))
                .map(|delay| {
                    finished_at.plus_millis(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX))
                }),
        };
        AttemptOutcome {
            attempt: WebhookAttempt {
                id: WebhookAttemptId::generate(),
                endpoint: delivery.endpoint,
                event: delivery.event,
                event_type: delivery.event_type,
                attempted_at,
                status_code: sent.status_code,
                error: sent.error.clone(),
                duration_ms: i64::try_from(sent.duration.as_millis()).unwrap_or(i64::MAX),
                next_attempt_at,
            },
            delivery_id: delivery.delivery_id,
            lease_until: delivery.lease_until,
            disable: (sent.status_code == Some(410)).then_some(DisabledReason::EndpointGone),
        }
    }

    fn saturated_endpoints(&self) -> Vec<WebhookEndpointId> {
        let loads = self.loads();
        loads
            .iter()
            .filter(|(_, load)| load.claimed >= self.config.per_endpoint_limit)
            .map(|(id, _)| *id)
            .collect()
    }

    fn note_claimed(&self, endpoint: WebhookEndpointId) -> Arc<Semaphore> {
        let limit = self.config.per_endpoint_limit;
        let mut loads = self.loads();
        let load = loads.entry(endpoint).or_insert_with(|| EndpointLoad {
            claimed: 0,
            gate: Arc::new(Semaphore::new(limit)),
        });
        load.claimed += 1;
        load.gate.clone()
    }

    fn note_finished(&self, endpoint: WebhookEndpointId) {
        let mut loads = self.loads();
        if let Some(load) = loads.get_mut(&endpoint) {
            load.claimed = load.claimed.saturating_sub(1);
            if load.claimed == 0 {
                loads.remove(&endpoint);
            }
        }
    }

    fn loads(&self) -> std::sync::MutexGuard<'_, HashMap<WebhookEndpointId, EndpointLoad>> {
        self.endpoints
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
