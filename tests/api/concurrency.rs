//! Write contention: concurrent creates and updates all succeed (no "database is locked").

use std::sync::Arc;

use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, Reply, TestApp};

backend_tests!(
    fifty_concurrent_creates_all_succeed,
    twenty_concurrent_updates_of_one_customer_all_succeed,
);

/// Runs `count` requests at once, each built from its index, and returns the answers in order.
async fn at_once<F, Fut>(app: &Arc<TestApp>, count: usize, request: F) -> Vec<Reply>
where
    F: Fn(Arc<TestApp>, usize) -> Fut,
    Fut: std::future::Future<Output = Reply> + Send + 'static,
{
    let tasks: Vec<_> = (0..count)
        .map(|n| tokio::spawn(request(app.clone(), n)))
        .collect();
    let mut replies = Vec::with_capacity(count);
    for task in tasks {
        replies.push(task.await.unwrap());
    }
    replies
}

async fn fifty_concurrent_creates_all_succeed(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);

    let replies = at_once(&app, 50, |app, n| async move {
        app.post("/v1/customers", json!({"full_name": format!("Racer {n}")}))
            .await
    })
    .await;

    let mut created: Vec<String> = Vec::new();
    for reply in &replies {
        assert_eq!(reply.status, 201, "{}", reply.body);
        created.push(reply.body["id"].as_str().unwrap().to_owned());
    }
    created.sort();
    created.reverse();
    assert_eq!(app.customer_ids(&app.key).await, created);
    let events = app.get("/v1/events?limit=100").await;
    assert_eq!(events.body["data"].as_array().unwrap().len(), 50);
}

async fn twenty_concurrent_updates_of_one_customer_all_succeed(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);
    let customer = app.create_customer(json!({"full_name": "Jane"})).await;
    let path = format!("/v1/customers/{}", customer["id"].as_str().unwrap());

    let replies = at_once(&app, 20, |app, n| {
        let path = path.clone();
        async move {
            app.patch(&path, json!({"notes": format!("note {n}")}))
                .await
        }
    })
    .await;

    for reply in &replies {
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let notes = app.get(&path).await.body["notes"].clone();
    assert!(replies.iter().any(|r| r.body["notes"] == notes), "{notes}");
    let updated = app.get("/v1/events?type=customer.updated&limit=100").await;
    let events = updated.body["data"].as_array().unwrap();
    assert_eq!(events.len(), 20);
    assert_eq!(
        events[0]["data"]["notes"], notes,
        "the newest event is the last write"
    );
}
