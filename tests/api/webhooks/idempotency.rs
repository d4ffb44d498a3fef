//! `Idempotency-Key` on the webhook writes: endpoint create and update, event resend. Replays,
//! reuse with another body, 409 while the first is running, and a race of identical creates.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};

use super::create_endpoint;
use crate::backend_tests;
use crate::helpers::{Backend, Reply, TestApp};
use crate::idempotency::send_keyed;

backend_tests!(
    a_repeated_endpoint_create_replays_the_first_answer_secret_included,
    a_repeated_endpoint_update_replays_the_first_answer_even_after_later_changes,
    a_repeated_resend_replays_the_first_answer_and_queues_once,
    a_webhook_key_reused_with_another_body_is_400_on_every_route,
    an_endpoint_create_answers_409_while_in_flight_then_replays,
    twenty_identical_concurrent_endpoint_creates_make_one_endpoint,
);

const ENDPOINTS: &str = "/v1/webhook_endpoints";

fn new_endpoint() -> Value {
    json!({"url": "https://hooks.example.com/in", "enabled_events": ["*"]})
}

async fn create_keyed(app: &TestApp, key: &str, body: &Value) -> Reply {
    send_keyed(app, Method::POST, ENDPOINTS, &app.key, key, body).await
}

async fn endpoint_count(app: &TestApp) -> usize {
    let list = app.get(ENDPOINTS).await;
    list.body["data"].as_array().unwrap().len()
}

async fn pending_deliveries(app: &TestApp) -> u64 {
    app.store.webhook_backlog().await.unwrap().pending
}

async fn a_repeated_endpoint_create_replays_the_first_answer_secret_included(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reordered = json!({"enabled_events": ["*"], "url": "https://hooks.example.com/in"});

    let first = create_keyed(&app, "hook-1", &new_endpoint()).await;
    let again = create_keyed(&app, "hook-1", &reordered).await;

    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.header("idempotent-replayed"), None);
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    assert!(first.body["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(endpoint_count(&app).await, 1);
}

async fn a_repeated_endpoint_update_replays_the_first_answer_even_after_later_changes(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let (id, _) = create_endpoint(&app, "https://hooks.example.com/", json!(["*"])).await;
    let path = format!("{ENDPOINTS}/{id}");
    let body = json!({"description": "first"});

    let first = send_keyed(&app, Method::PATCH, &path, &app.key, "fix-1", &body).await;
    app.patch(&path, json!({"description": "second"})).await;
    let bare_path = format!("{ENDPOINTS}/{}", &id[3..]);
    let again = send_keyed(&app, Method::PATCH, &bare_path, &app.key, "fix-1", &body).await;

    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["description"], "first");
    assert_eq!(again.status, 200);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    let now = app.get(&path).await;
    assert_eq!(
        now.body["description"], "second",
        "a replay changes nothing"
    );
}

async fn a_repeated_resend_replays_the_first_answer_and_queues_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, _) = create_endpoint(&app, "https://hooks.example.com/", json!(["*"])).await;
    app.create_customer(json!({"full_name": "Jane"})).await;
    let events = app.get("/v1/events").await;
    let event = events.body["data"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/events/{event}/resend");
    let queued_by_the_event = pending_deliveries(&app).await;

    let first = send_keyed(&app, Method::POST, &path, &app.key, "again-1", &json!({})).await;
    let again = send_keyed(&app, Method::POST, &path, &app.key, "again-1", &json!({})).await;
    let to_one = json!({"endpoint": id});
    let one = send_keyed(&app, Method::POST, &path, &app.key, "again-2", &to_one).await;
    let one_again = send_keyed(&app, Method::POST, &path, &app.key, "again-2", &to_one).await;

    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["endpoints"], json!([id]));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(one_again.header("idempotent-replayed"), Some("true"));
    assert_eq!(one_again.body, one.body);
    assert_eq!(pending_deliveries(&app).await, queued_by_the_event + 2);
}

async fn a_webhook_key_reused_with_another_body_is_400_on_every_route(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = create_keyed(&app, "k-create", &new_endpoint()).await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let path = format!("{ENDPOINTS}/{id}");
    app.create_customer(json!({"full_name": "Jane"})).await;
    let events = app.get("/v1/events").await;
    let resend = format!(
        "/v1/events/{}/resend",
        events.body["data"][0]["id"].as_str().unwrap()
    );
    let (patch, other_patch) = (json!({"description": "a"}), json!({"description": "b"}));
    send_keyed(&app, Method::PATCH, &path, &app.key, "k-patch", &patch).await;
    send_keyed(
        &app,
        Method::POST,
        &resend,
        &app.key,
        "k-resend",
        &json!({}),
    )
    .await;
    let queued = pending_deliveries(&app).await;

    let other_url = json!({"url": "https://other.example.com/", "enabled_events": ["*"]});
    let replies = [
        create_keyed(&app, "k-create", &other_url).await,
        send_keyed(
            &app,
            Method::PATCH,
            &path,
            &app.key,
            "k-patch",
            &other_patch,
        )
        .await,
        send_keyed(
            &app,
            Method::POST,
            &resend,
            &app.key,
            "k-resend",
            &json!({"endpoint": id}),
        )
        .await,
    ];

    for reply in replies {
        reply.assert_error(400, "idempotency_key_reused", Some("Idempotency-Key"));
    }
    assert_eq!(endpoint_count(&app).await, 1);
    assert_eq!(app.get(&path).await.body["description"], "a");
    assert_eq!(pending_deliveries(&app).await, queued);
}

async fn an_endpoint_create_answers_409_while_in_flight_then_replays(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);

    let mut hold = app.hold_writes_to("webhook_endpoints").await;
    let running = app.clone();
    let first = tokio::spawn(async move { create_keyed(&running, "slow", &new_endpoint()).await });
    hold.wait_for_a_blocked_writer().await;
    let while_running = create_keyed(&app, "slow", &new_endpoint()).await;
    hold.release().await;
    let first = first.await.unwrap();
    let again = create_keyed(&app, "slow", &new_endpoint()).await;

    while_running.assert_error(409, "idempotency_key_in_use", None);
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    assert_eq!(endpoint_count(&app).await, 1);
}

async fn twenty_identical_concurrent_endpoint_creates_make_one_endpoint(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);

    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { create_keyed(&app, "race", &new_endpoint()).await })
        })
        .collect();
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.unwrap());
    }

    let list = app.get(ENDPOINTS).await;
    let endpoints = list.body["data"].as_array().unwrap();
    assert_eq!(endpoints.len(), 1);
    let mut created = 0;
    for reply in &replies {
        match reply.status {
            201 => {
                assert_eq!(reply.body["id"], endpoints[0]["id"]);
                created += 1;
            }
            409 => reply.assert_error(409, "idempotency_key_in_use", None),
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    assert!(created >= 1, "at least the first create answers 201");
}
