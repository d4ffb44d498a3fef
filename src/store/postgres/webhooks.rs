//! Webhook storage on PostgreSQL: NOT BUILT YET. Every call fails, so webhook endpoints cannot
//! be created on PostgreSQL; the real implementation is being written on another branch.

use async_trait::async_trait;

use super::PostgresStore;
use crate::domain::webhook::{WebhookAttempt, WebhookEndpoint, WebhookEndpointPatch};
use crate::domain::{EventId, Tenant, WebhookEndpointId};
use crate::store::webhooks::{
    AttemptOutcome, Backlog, ClaimRequest, ClaimedDelivery, WebhookStore,
};
use crate::store::{Page, PageRequest, StoreError, StoreResult};

fn missing<T>() -> StoreResult<T> {
    Err(StoreError::Invalid(
        "webhooks are not built on PostgreSQL yet".to_owned(),
    ))
}

#[async_trait]
impl WebhookStore for PostgresStore {
    async fn create_webhook_endpoint(&self, _: Tenant, _: WebhookEndpoint) -> StoreResult<()> {
        missing()
    }
    async fn webhook_endpoint(
        &self,
        _: Tenant,
        _: WebhookEndpointId,
    ) -> StoreResult<Option<WebhookEndpoint>> {
        missing()
    }
    async fn list_webhook_endpoints(
        &self,
        _: Tenant,
        _: PageRequest,
    ) -> StoreResult<Page<WebhookEndpoint>> {
        missing()
    }
    async fn update_webhook_endpoint(
        &self,
        _: Tenant,
        _: WebhookEndpointId,
        _: WebhookEndpointPatch,
    ) -> StoreResult<Option<WebhookEndpoint>> {
        missing()
    }
    async fn delete_webhook_endpoint(&self, _: Tenant, _: WebhookEndpointId) -> StoreResult<bool> {
        missing()
    }
    async fn list_webhook_attempts(
        &self,
        _: Tenant,
        _: WebhookEndpointId,
        _: PageRequest,
    ) -> StoreResult<Page<WebhookAttempt>> {
        missing()
    }
    async fn queue_event_again(
        &self,
        _: Tenant,
        _: EventId,
        _: Option<WebhookEndpointId>,
    ) -> StoreResult<Option<Vec<WebhookEndpointId>>> {
        missing()
    }
    async fn claim_webhook_deliveries(&self, _: ClaimRequest) -> StoreResult<Vec<ClaimedDelivery>> {
        Ok(Vec::new())
    }
    async fn record_webhook_attempts(&self, _: Vec<AttemptOutcome>) -> StoreResult<()> {
        missing()
    }
    async fn webhook_backlog(&self) -> StoreResult<Backlog> {
        Ok(Backlog::default())
    }
}
