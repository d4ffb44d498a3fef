//! Operations endpoints without a key: `/healthz`, `/readyz` (503 when the database is gone),
//! `/metrics` in the Prometheus text format.

use std::sync::Arc;

use async_trait::async_trait;
use renvo::domain::customer::{Customer, CustomerPatch, NewCustomer};
use renvo::domain::event::{Event, EventType};
use renvo::domain::key::{ApiKey, Scope, SecretKey};
use renvo::domain::timestamp::Timestamp;
use renvo::domain::{AccountId, ApiKeyId, CustomerId, EventId, Mode, Tenant};
use renvo::store::{
    Account, IdempotencyClaim, KeyGrant, Page, PageRequest, Store, StoreError, StoreResult,
    StoredResponse,
};
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, Reply, TestApp};

backend_tests!(
    healthz_and_readyz_answer_ok_without_a_key,
    metrics_count_requests_by_route_and_status_without_a_key,
);

async fn healthz_and_readyz_answer_ok_without_a_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    for path in ["/healthz", "/readyz"] {
        let reply = Reply::of(app.client.get(app.url(path)).send().await.unwrap()).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.body, json!({"status": "ok"}));
        assert_eq!(reply.header("content-type"), Some("application/json"));
    }
}

async fn metrics_count_requests_by_route_and_status_without_a_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_customer(json!({"full_name": "Jane"})).await;
    app.get("/v1/customers/cu_x").await;

    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let text = response.text().await.unwrap();

    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let counted = |route: &str, method: &str, status: &str| {
        text.lines().any(|line| {
            line.starts_with("renvo_http_requests_total{")
                && line.contains(&format!("route=\"{route}\""))
                && line.contains(&format!("method=\"{method}\""))
                && line.contains(&format!("status=\"{status}\""))
        })
    };
    assert!(counted("/v1/customers", "POST", "201"), "{text}");
    assert!(counted("/v1/customers/{id}", "GET", "404"), "{text}");
    assert!(
        text.contains("renvo_http_request_duration_seconds_bucket{"),
        "{text}"
    );
}

#[tokio::test]
async fn readyz_is_503_when_the_database_does_not_answer() {
    renvo::install_tls_provider();
    let state = renvo::AppState::new(Arc::new(Unreachable), 0, Default::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, renvo::router(state)).await });
    let client = reqwest::Client::new();

    let ready = client
        .get(format!("http://{address}/readyz"))
        .send()
        .await
        .unwrap();
    let alive = client
        .get(format!("http://{address}/healthz"))
        .send()
        .await
        .unwrap();

    let listed = client
        .get(format!("http://{address}/v1/customers"))
        .bearer_auth(format!("rv_test_{}", "a".repeat(32)))
        .send()
        .await
        .unwrap();

    let ready = Reply::of(ready).await;
    ready.assert_error(503, "service_unavailable", None);
    assert_eq!(ready.body["error"]["type"], "api_error");
    assert_eq!(alive.status(), 200);
    let listed = Reply::of(listed).await;
    listed.assert_error(503, "service_unavailable", None);
    let message = listed.body["error"]["message"].as_str().unwrap();
    assert_eq!(
        message,
        "The service is temporarily unavailable; please retry."
    );
}

/// A store whose database never answers.
struct Unreachable;

fn down<T>() -> StoreResult<T> {
    Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut))
}

#[async_trait]
impl Store for Unreachable {
    async fn ping(&self) -> StoreResult<()> {
        down()
    }
    async fn create_account(&self, _: &str) -> StoreResult<Account> {
        down()
    }
    async fn list_accounts(&self) -> StoreResult<Vec<Account>> {
        down()
    }
    async fn account(&self, _: AccountId) -> StoreResult<Option<Account>> {
        down()
    }
    async fn create_api_key(
        &self,
        _: AccountId,
        _: Mode,
        _: Scope,
    ) -> StoreResult<(ApiKey, SecretKey)> {
        down()
    }
    async fn list_api_keys(&self, _: AccountId) -> StoreResult<Vec<ApiKey>> {
        down()
    }
    async fn revoke_api_key(&self, _: ApiKeyId) -> StoreResult<bool> {
        down()
    }
    async fn authenticate(&self, _: &[u8]) -> StoreResult<Option<KeyGrant>> {
        down()
    }
    async fn record_key_use(&self, _: ApiKeyId, _: Timestamp) -> StoreResult<()> {
        down()
    }
    async fn customer(&self, _: Tenant, _: CustomerId) -> StoreResult<Option<Customer>> {
        down()
    }
    async fn list_customers(
        &self,
        _: Tenant,
        _: Option<&str>,
        _: PageRequest,
    ) -> StoreResult<Page<Customer>> {
        down()
    }
    async fn create_customer(
        &self,
        _: Tenant,
        _: NewCustomer,
        _: Option<IdempotencyClaim>,
    ) -> StoreResult<StoredResponse> {
        down()
    }
    async fn update_customer(
        &self,
        _: Tenant,
        _: CustomerId,
        _: CustomerPatch,
        _: Option<IdempotencyClaim>,
    ) -> StoreResult<Option<StoredResponse>> {
        down()
    }
    async fn event(&self, _: Tenant, _: EventId) -> StoreResult<Option<Event>> {
        down()
    }
    async fn list_events(
        &self,
        _: Tenant,
        _: Option<EventType>,
        _: PageRequest,
    ) -> StoreResult<Page<Event>> {
        down()
    }
    async fn purge_expired(&self, _: Timestamp) -> StoreResult<u64> {
        down()
    }
}
