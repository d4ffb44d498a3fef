//! `Idempotency-Key` on POST and PATCH: replays, reuse with another request, races, scope.

use renvo::domain::timestamp::Timestamp;
use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, Reply, TestApp};

backend_tests!(
    a_repeated_create_replays_the_first_answer,
    a_repeated_update_replays_the_first_answer_even_after_later_changes,
    a_key_reused_with_another_request_is_400,
    twenty_identical_concurrent_creates_make_one_customer,
    keys_belong_to_one_account_and_mode,
    a_malformed_idempotency_key_is_400,
    a_key_is_forgotten_after_24_hours,
);

/// Sends `body` with an `Idempotency-Key`.
pub async fn send_keyed(
    app: &TestApp,
    method: Method,
    path: &str,
    api_key: &str,
    key: &str,
    body: &Value,
) -> Reply {
    let request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(api_key)
        .header("Idempotency-Key", key)
        .json(body);
    Reply::of(request.send().await.unwrap()).await
}

async fn a_repeated_create_replays_the_first_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = json!({"full_name": "Jane", "email": "jane@example.com"});
    let reordered = json!({"email": "jane@example.com", "full_name": "Jane"});

    let first = send_keyed(
        &app,
        Method::POST,
        "/v1/customers",
        &app.key,
        "order-1",
        &body,
    )
    .await;
    let again = send_keyed(
        &app,
        Method::POST,
        "/api/v1/customers",
        &app.key,
        "order-1",
        &reordered,
    )
    .await;

    assert_eq!(first.status, 201);
    assert_eq!(first.header("idempotent-replayed"), None);
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    assert_ne!(again.header("request-id"), first.header("request-id"));
    assert_eq!(app.customer_count().await, 1);
    let events = app.get("/v1/events").await;
    assert_eq!(events.body["data"].as_array().unwrap().len(), 1);
}

async fn a_repeated_update_replays_the_first_answer_even_after_later_changes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer(json!({"full_name": "Jane"})).await;
    let id = customer["id"].as_str().unwrap();
    let path = format!("/v1/customers/{id}");
    let body = json!({"notes": "first"});

    let first = send_keyed(&app, Method::PATCH, &path, &app.key, "fix-1", &body).await;
    app.patch(&path, json!({"notes": "second"})).await;
    let bare_path = format!("/v1/customers/{}", &id[3..]);
    let again = send_keyed(&app, Method::PATCH, &bare_path, &app.key, "fix-1", &body).await;

    assert_eq!(first.status, 200);
    assert_eq!(again.status, 200);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    assert_eq!(
        app.get(&path).await.body["notes"],
        "second",
        "a replay changes nothing"
    );
}

async fn a_key_reused_with_another_request_is_400(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = json!({"full_name": "Jane"});
    let created = send_keyed(&app, Method::POST, "/v1/customers", &app.key, "k", &body).await;
    let path = format!("/v1/customers/{}", created.body["id"].as_str().unwrap());

    let other_body = send_keyed(
        &app,
        Method::POST,
        "/v1/customers",
        &app.key,
        "k",
        &json!({"full_name": "John"}),
    )
    .await;
    let other_method = send_keyed(&app, Method::PATCH, &path, &app.key, "k", &body).await;
    let notes = json!({"notes": "x"});
    let second = app.create_customer(body.clone()).await;
    let first_path = format!("/v1/customers/{}", second["id"].as_str().unwrap());
    let patched = send_keyed(&app, Method::PATCH, &first_path, &app.key, "p", &notes).await;
    let other_path = send_keyed(&app, Method::PATCH, &path, &app.key, "p", &notes).await;

    assert_eq!(patched.status, 200);
    for reply in [other_body, other_method, other_path] {
        reply.assert_error(400, "idempotency_key_reused", Some("Idempotency-Key"));
        assert_eq!(reply.body["error"]["type"], "invalid_request_error");
    }
    assert_eq!(app.customer_count().await, 2);
    assert_eq!(app.get(&path).await.body, created.body);
}

async fn twenty_identical_concurrent_creates_make_one_customer(backend: Backend) {
    let app = std::sync::Arc::new(TestApp::spawn(backend).await);
    let body = json!({"full_name": "Jane"});

    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (app, body) = (app.clone(), body.clone());
            tokio::spawn(async move {
                send_keyed(&app, Method::POST, "/v1/customers", &app.key, "race", &body).await
            })
        })
        .collect();
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.unwrap());
    }

    let ids = app.customer_ids(&app.key).await;
    assert_eq!(ids.len(), 1);
    for reply in &replies {
        match reply.status {
            201 => assert_eq!(reply.body["id"], ids[0].as_str()),
            409 => reply.assert_error(409, "idempotency_key_in_use", None),
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    let conflict = replies.iter().find(|r| r.status == 409);
    if let Some(reply) = conflict {
        assert_eq!(reply.body["error"]["type"], "conflict");
    }
    assert!(replies.iter().any(|r| r.status == 201));
}

async fn keys_belong_to_one_account_and_mode(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let other_key = app.other_account_key().await;
    let body = json!({"full_name": "Jane"});

    let mut ids = Vec::new();
    for api_key in [&app.key, &app.live_key, &other_key] {
        let reply = send_keyed(
            &app,
            Method::POST,
            "/v1/customers",
            api_key,
            "shared",
            &body,
        )
        .await;
        assert_eq!(reply.status, 201);
        assert_eq!(reply.header("idempotent-replayed"), None);
        ids.push(reply.body["id"].as_str().unwrap().to_owned());
    }

    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);
}

async fn a_malformed_idempotency_key_is_400(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = json!({"full_name": "Jane"});

    for key in ["", &"k".repeat(256)] {
        let reply = send_keyed(&app, Method::POST, "/v1/customers", &app.key, key, &body).await;
        reply.assert_error(400, "parameter_invalid", Some("Idempotency-Key"));
    }
    let longest = send_keyed(
        &app,
        Method::POST,
        "/v1/customers",
        &app.key,
        &"k".repeat(255),
        &body,
    )
    .await;
    assert_eq!(longest.status, 201);
    assert_eq!(app.customer_count().await, 1);
}

/// SQLite only: the test holds the database's write lock, so the first request stays in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_whose_first_request_is_still_running_is_409_in_use() {
    let app = std::sync::Arc::new(TestApp::spawn(Backend::Sqlite).await);
    let body = json!({"full_name": "Jane"});
    let mut lock = app.sqlite_connection().await;
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut lock)
        .await
        .unwrap();

    let send = |app: std::sync::Arc<TestApp>, body: Value| {
        tokio::spawn(async move {
            send_keyed(&app, Method::POST, "/v1/customers", &app.key, "slow", &body).await
        })
    };
    let first = send(app.clone(), body.clone());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let second = send(app.clone(), body.clone());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    sqlx::query("COMMIT").execute(&mut lock).await.unwrap();
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    let third = send_keyed(&app, Method::POST, "/v1/customers", &app.key, "slow", &body).await;

    // Whichever of the two reached the store first waited for the lock; the other met it.
    let (waited, refused) = if first.status == 409 {
        (second, first)
    } else {
        (first, second)
    };
    refused.assert_error(409, "idempotency_key_in_use", None);
    assert_eq!(refused.body["error"]["type"], "conflict");
    assert_eq!(waited.status, 201, "{}", waited.body);
    assert_eq!(third.header("idempotent-replayed"), Some("true"));
    assert_eq!(third.body, waited.body);
    assert_eq!(app.customer_count().await, 1);
}

async fn a_key_is_forgotten_after_24_hours(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = json!({"full_name": "Jane"});
    let first = send_keyed(&app, Method::POST, "/v1/customers", &app.key, "day", &body).await;
    let kept = Timestamp::now().plus_millis(23 * 3600 * 1000);
    let expired = Timestamp::now().plus_millis(25 * 3600 * 1000);

    app.store.purge_expired(kept).await.unwrap();
    let replayed = send_keyed(&app, Method::POST, "/v1/customers", &app.key, "day", &body).await;
    app.store.purge_expired(expired).await.unwrap();
    let fresh = send_keyed(&app, Method::POST, "/v1/customers", &app.key, "day", &body).await;

    assert_eq!(replayed.body, first.body);
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    assert_eq!(fresh.status, 201);
    assert_eq!(fresh.header("idempotent-replayed"), None);
    assert_ne!(fresh.body["id"], first.body["id"]);
    assert_eq!(app.customer_count().await, 2);
}
