//! Idempotency and concurrent writes through the router: one node, every backend.

use std::collections::HashSet;
use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::backend_tests;
use crate::helpers::{Backend, Reply, TestApp};

backend_tests!(
    an_idempotent_create_answers_409_while_in_flight_then_replays,
    twenty_concurrent_identical_idempotent_creates_make_one_customer,
    fifty_concurrent_creates_and_twenty_concurrent_updates_of_one_customer_all_succeed,
);

async fn an_idempotent_create_answers_409_while_in_flight_then_replays(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);
    let body = json!({"full_name": "Jane Doe"});
    let mut hold = app.hold_writes().await;
    let first = tokio::spawn(create_with_key(app.clone(), "order-1", body.clone()));
    hold.wait_for_a_blocked_writer().await;

    let while_running = create_with_key(app.clone(), "order-1", body.clone()).await;
    hold.release().await;
    let first = first.await.unwrap();
    let again = create_with_key(app.clone(), "order-1", body).await;
    let other_body = create_with_key(app.clone(), "order-1", json!({"full_name": "J"})).await;

    while_running.assert_error(409, "idempotency_key_in_use", None);
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.header("idempotent-replayed"), None);
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    other_body.assert_error(400, "idempotency_key_reused", Some("Idempotency-Key"));
    assert_eq!(
        app.get("/v1/customers").await.body["data"],
        json!([first.body])
    );
}

async fn twenty_concurrent_identical_idempotent_creates_make_one_customer(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);
    let body = json!({"full_name": "Jane Doe", "email": "jane@example.com"});

    let mut requests = JoinSet::new();
    for _ in 0..20 {
        requests.spawn(create_with_key(app.clone(), "same-key", body.clone()));
    }
    let replies = requests.join_all().await;

    let created: Vec<&Value> = replies
        .iter()
        .filter(|r| r.status == 201)
        .map(|r| &r.body)
        .collect();
    let refused = replies.iter().filter(|r| r.status == 409).count();
    assert_eq!(created.len() + refused, 20, "{replies:?}");
    assert!(!created.is_empty());
    assert!(created.iter().all(|body| *body == created[0]));
    let listed = app.get("/v1/customers").await.body;
    assert_eq!(listed["data"], json!([created[0]]));
    let events = app.get("/v1/events").await.body;
    assert_eq!(events["data"].as_array().unwrap().len(), 1);
}

async fn fifty_concurrent_creates_and_twenty_concurrent_updates_of_one_customer_all_succeed(
    backend: Backend,
) {
    let app = Arc::new(TestApp::spawn(backend).await);
    let ids = app.create_customers(50, 50).await;
    let target = ids[0].clone();

    let mut updates = JoinSet::new();
    for n in 0..20 {
        let (app, path) = (app.clone(), format!("/v1/customers/{target}"));
        updates.spawn(async move {
            app.patch(&path, json!({"notes": format!("note {n}")}))
                .await
        });
    }
    let replies = updates.join_all().await;

    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 50);
    let listed = app.get("/v1/customers?limit=100").await.body;
    assert_eq!(listed["data"].as_array().unwrap().len(), 50);
    assert!(replies.iter().all(|r| r.status == 200), "{replies:?}");
    let mut events = app
        .get("/v1/events?type=customer.updated&limit=100")
        .await
        .body["data"]
        .as_array()
        .unwrap()
        .clone();
    events.reverse();
    assert_eq!(events.len(), 20);
    // Updates took turns: each replaced exactly the notes the one before it wrote.
    let mut notes_before = Value::Null;
    for event in &events {
        assert_eq!(event["data"]["id"], target.as_str());
        assert_eq!(event["previous_attributes"]["notes"], notes_before);
        notes_before = event["data"]["notes"].clone();
    }
    let current = app.get(&format!("/v1/customers/{target}")).await.body;
    assert_eq!(current["notes"], notes_before);
}

async fn create_with_key(app: Arc<TestApp>, key: &'static str, body: Value) -> Reply {
    app.send_idempotent(Method::POST, "/v1/customers", key, body)
        .await
}
