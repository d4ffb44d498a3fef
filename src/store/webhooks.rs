//! The storage seam of webhooks: endpoints, the delivery queue the dispatcher claims from, and
//! the attempts it records. Deliveries are queued by the backends in the transaction that
//! records an event (see each backend's customer writes).

use async_trait::async_trait;

use super::{IdempotencyClaim, Page, PageRequest, Render, StoreResult, StoredResponse};
use crate::domain::event::EventType;
use crate::domain::timestamp::Timestamp;
use crate::domain::webhook::{
    DisabledReason, WebhookAttempt, WebhookEndpoint, WebhookEndpointPatch, WebhookSecret,
};
use crate::domain::{EventId, Tenant, WebhookEndpointId};

/// Attempts in a row that fail, across all events, before an endpoint is disabled.
pub const MAX_CONSECUTIVE_FAILURES: i64 = 20;

/// What the dispatcher asks for when it claims work.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimRequest {
    pub now: Timestamp,
    /// The claimed rows are this claimer's until then; it is also the token it records with.
    pub lease_until: Timestamp,
    pub limit: u32,
    /// Endpoints already at their concurrency bound in this process: leave their rows.
    pub skip_endpoints: Vec<WebhookEndpointId>,
}

/// A due delivery, claimed under a lease, with everything needed to send it.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimedDelivery {
    pub delivery_id: i64,
    pub lease_until: Timestamp,
    /// Attempts already made before this one.
    pub attempt_count: u32,
    pub endpoint: WebhookEndpointId,
    pub url: String,
    pub secret: WebhookSecret,
    pub event: EventId,
    pub event_type: EventType,
    /// The stored event JSON: every attempt sends exactly these bytes.
    pub payload: String,
}

/// How one attempt ended, to be recorded against its claimed delivery.
#[derive(Clone, Debug, PartialEq)]
pub struct AttemptOutcome {
    pub attempt: WebhookAttempt,
    pub delivery_id: i64,
    /// The claim's lease: recording is refused when the lease was lost meanwhile.
    pub lease_until: Timestamp,
    /// Set when the endpoint must be disabled at once (it answered 410).
    pub disable: Option<DisabledReason>,
}

/// What is waiting to be delivered.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Backlog {
    /// Deliveries waiting for an attempt or in flight.
    pub pending: u64,
    /// The earliest time one of them is due.
    pub next_due: Option<Timestamp>,
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Creates the endpoint and keeps its rendered response for the idempotency key, if any,
    /// in one transaction; a repeat of the key answers the kept response and writes nothing.
    async fn create_webhook_endpoint(
        &self,
        tenant: Tenant,
        endpoint: WebhookEndpoint,
        idempotency: Option<IdempotencyClaim>,
        render: Render<WebhookEndpoint>,
    ) -> StoreResult<StoredResponse>;
    async fn webhook_endpoint(
        &self,
        tenant: Tenant,
        id: WebhookEndpointId,
    ) -> StoreResult<Option<WebhookEndpoint>>;
    async fn list_webhook_endpoints(
        &self,
        tenant: Tenant,
        page: PageRequest,
    ) -> StoreResult<Page<WebhookEndpoint>>;
    /// Applies the patch. Disabling pauses the endpoint's waiting deliveries; re-enabling
    /// resumes them and forgets past failures. The response is kept as on create. `None` when
    /// no such endpoint.
    async fn update_webhook_endpoint(
        &self,
        tenant: Tenant,
        id: WebhookEndpointId,
        patch: WebhookEndpointPatch,
        idempotency: Option<IdempotencyClaim>,
        render: Render<WebhookEndpoint>,
    ) -> StoreResult<Option<StoredResponse>>;
    /// Deletes the endpoint, its queue and its attempts; `false` when no such endpoint.
    async fn delete_webhook_endpoint(
        &self,
        tenant: Tenant,
        id: WebhookEndpointId,
    ) -> StoreResult<bool>;
    /// An endpoint's attempts, newest first.
    async fn list_webhook_attempts(
        &self,
        tenant: Tenant,
        endpoint: WebhookEndpointId,
        page: PageRequest,
    ) -> StoreResult<Page<WebhookAttempt>>;
    /// Queues an event again, for one endpoint or every enabled subscribed one; answers the
    /// response rendered from the endpoints it was queued for (kept as on create), or `None`
    /// when the tenant has no such event.
    async fn queue_event_again(
        &self,
        tenant: Tenant,
        event: EventId,
        endpoint: Option<WebhookEndpointId>,
        idempotency: Option<IdempotencyClaim>,
        render: Render<Vec<WebhookEndpointId>>,
    ) -> StoreResult<Option<StoredResponse>>;

    /// Claims due deliveries, oldest due first, under a lease.
    async fn claim_webhook_deliveries(
        &self,
        claim: ClaimRequest,
    ) -> StoreResult<Vec<ClaimedDelivery>>;
    /// Records attempts in one transaction: each one's log entry, its delivery's next attempt
    /// or end, and its endpoint's failure count (disabling it at the limit). An outcome whose
    /// lease was lost meanwhile is skipped.
    async fn record_webhook_attempts(&self, outcomes: Vec<AttemptOutcome>) -> StoreResult<()>;
    async fn webhook_backlog(&self) -> StoreResult<Backlog>;
}
