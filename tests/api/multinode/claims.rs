//! The delivery queue shared by two stores on one database, as two nodes use it: claims never
//! overlap, an outcome recorded under a lease another node took over is refused, and batches
//! recorded at once by both nodes for the same endpoints do not deadlock.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use renvo::domain::WebhookAttemptId;
use renvo::domain::timestamp::Timestamp;
use renvo::domain::webhook::WebhookAttempt;
use renvo::store::Store;
use renvo::store::webhooks::{AttemptOutcome, ClaimRequest, ClaimedDelivery};
use serde_json::json;

use crate::helpers::{Backend, TestApp};
use crate::webhooks::create_endpoint;
use crate::{backend_tests, postgres_tests};

backend_tests!(an_outcome_recorded_under_a_lease_another_claimer_took_over_is_refused);
postgres_tests!(
    two_nodes_claiming_at_once_never_take_the_same_delivery,
    two_nodes_recording_batches_for_the_same_endpoints_at_once_do_not_deadlock,
);

fn claim(limit: u32, lease_millis: i64) -> ClaimRequest {
    let now = Timestamp::now();
    ClaimRequest {
        now,
        lease_until: now.plus_millis(lease_millis),
        limit,
        skip_endpoints: Vec::new(),
    }
}

/// An outcome of `delivery`: 204 when `succeeded`, else 500 with a retry in an hour.
fn outcome(delivery: &ClaimedDelivery, succeeded: bool) -> AttemptOutcome {
    let now = Timestamp::now();
    AttemptOutcome {
        attempt: WebhookAttempt {
            id: WebhookAttemptId::generate(),
            endpoint: delivery.endpoint,
            event: delivery.event,
            event_type: delivery.event_type,
            attempted_at: now,
            status_code: Some(if succeeded { 204 } else { 500 }),
            error: None,
            duration_ms: 3,
            next_attempt_at: (!succeeded).then(|| now.plus_millis(3_600_000)),
        },
        delivery_id: delivery.delivery_id,
        lease_until: delivery.lease_until,
        disable: None,
    }
}

/// `endpoints` endpoints subscribed to everything, and `customers` customers: one delivery
/// per pair.
async fn queue_of(backend: Backend, endpoints: usize, customers: usize) -> (TestApp, TestApp) {
    let a = TestApp::spawn(backend).await;
    for n in 0..endpoints {
        create_endpoint(&a, &format!("http://127.0.0.1:9/{n}"), json!(["*"])).await;
    }
    a.create_customers_concurrently(customers, 10).await;
    let b = a.spawn_node().await;
    (a, b)
}

async fn an_outcome_recorded_under_a_lease_another_claimer_took_over_is_refused(backend: Backend) {
    let (a, b) = queue_of(backend, 1, 1).await;
    let by_a = a
        .store
        .claim_webhook_deliveries(claim(10, 200))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    let by_b = b
        .store
        .claim_webhook_deliveries(claim(10, 60_000))
        .await
        .unwrap();

    a.store
        .record_webhook_attempts(vec![outcome(&by_a[0], true)])
        .await
        .unwrap();
    let after_a = a
        .store
        .claim_webhook_deliveries(claim(10, 60_000))
        .await
        .unwrap();
    b.store
        .record_webhook_attempts(vec![outcome(&by_b[0], true)])
        .await
        .unwrap();

    assert_eq!((by_a.len(), by_b.len()), (1, 1));
    assert_eq!(
        by_a[0].delivery_id, by_b[0].delivery_id,
        "b took over the expired lease"
    );
    assert!(
        after_a.is_empty(),
        "a's late outcome neither ended nor freed b's lease"
    );
    let log = a
        .get(&format!(
            "/v1/webhook_endpoints/{}/attempts",
            by_b[0].endpoint
        ))
        .await;
    let attempts = log.body["data"].as_array().unwrap();
    assert_eq!(
        attempts.len(),
        1,
        "only b's outcome is in the log: {}",
        log.body
    );
}

/// Claims in small batches until the queue is empty; answers the delivery ids taken.
async fn claim_all(store: Arc<dyn Store>) -> Vec<i64> {
    let mut taken = Vec::new();
    loop {
        let claimed = store
            .claim_webhook_deliveries(claim(7, 60_000))
            .await
            .unwrap();
        if claimed.is_empty() {
            return taken;
        }
        taken.extend(claimed.iter().map(|d| d.delivery_id));
    }
}

async fn two_nodes_claiming_at_once_never_take_the_same_delivery(backend: Backend) {
    let (a, b) = queue_of(backend, 3, 60).await;

    let (by_a, by_b) = tokio::join!(
        tokio::spawn(claim_all(a.store.clone())),
        tokio::spawn(claim_all(b.store.clone()))
    );
    let (by_a, by_b) = (by_a.unwrap(), by_b.unwrap());

    let all: HashSet<i64> = by_a.iter().chain(&by_b).copied().collect();
    assert_eq!(
        by_a.len() + by_b.len(),
        180,
        "a {} b {}",
        by_a.len(),
        by_b.len()
    );
    assert_eq!(all.len(), 180, "no delivery was claimed twice");
    assert!(
        !by_a.is_empty() && !by_b.is_empty(),
        "both nodes took a share"
    );
}

async fn two_nodes_recording_batches_for_the_same_endpoints_at_once_do_not_deadlock(
    backend: Backend,
) {
    let (a, b) = queue_of(backend, 4, 30).await;
    let by_a = a
        .store
        .claim_webhook_deliveries(claim(60, 60_000))
        .await
        .unwrap();
    let by_b = b
        .store
        .claim_webhook_deliveries(claim(60, 60_000))
        .await
        .unwrap();
    // Each batch visits the endpoints in the opposite order to the other's, failures and
    // successes mixed, so both touch every endpoint's row.
    let batch = |claimed: &[ClaimedDelivery], reverse: bool| {
        let mut outcomes: Vec<_> = claimed
            .iter()
            .map(|d| outcome(d, d.delivery_id % 3 != 0))
            .collect();
        outcomes.sort_by_key(|o| o.attempt.endpoint.uuid());
        if reverse {
            outcomes.reverse();
        }
        outcomes
    };
    let (to_a, to_b) = (batch(&by_a, false), batch(&by_b, true));

    let (store_a, store_b) = (a.store.clone(), b.store.clone());
    let recorded = tokio::time::timeout(Duration::from_secs(20), async move {
        tokio::join!(
            tokio::spawn(async move { store_a.record_webhook_attempts(to_a).await }),
            tokio::spawn(async move { store_b.record_webhook_attempts(to_b).await })
        )
    })
    .await
    .expect("both batches finish");

    assert_eq!(by_a.len() + by_b.len(), 120);
    recorded.0.unwrap().expect("a's batch is recorded");
    recorded.1.unwrap().expect("b's batch is recorded");
    let backlog = a.store.webhook_backlog().await.unwrap();
    // Every third delivery failed: too few in a row to disable an endpoint.
    assert_eq!(backlog.pending, 40, "the failed ones wait for their retry");
}
