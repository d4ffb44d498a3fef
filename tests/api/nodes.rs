//! Several nodes over one database: two stores and two servers, as two `renvo serve`
//! processes would run them. Keys and idempotency records are shared; nothing is cached.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, Reply, TestApp};
use crate::{backend_tests, postgres_tests};
use renvo::domain::Mode;
use renvo::domain::key::Scope;
use renvo::store;
use sqlx::Connection;
use tokio::task::JoinSet;

backend_tests!(
    a_key_made_on_one_node_works_on_the_other_at_once_and_so_does_its_revocation,
    an_idempotent_write_on_one_node_is_replayed_by_the_other,
    nodes_racing_on_an_empty_database_make_one_first_account,
);
postgres_tests!(
    a_key_in_flight_on_one_node_answers_409_on_the_other,
    nodes_starting_together_on_an_empty_database_migrate_it_once,
);

async fn a_key_made_on_one_node_works_on_the_other_at_once_and_so_does_its_revocation(
    backend: Backend,
) {
    let a = TestApp::spawn(backend).await;
    let b = a.spawn_node().await;

    let (key, secret) = a
        .store
        .create_api_key(a.account, Mode::Test, Scope::ReadWrite)
        .await
        .unwrap();
    let used_on_b = b.get_with("/v1/customers", secret.expose()).await;
    let revoked = b.store.revoke_api_key(key.id).await.unwrap();
    let used_on_a = a.get_with("/v1/customers", secret.expose()).await;

    assert_eq!(used_on_b.status, 200, "{}", used_on_b.body);
    assert!(revoked);
    used_on_a.assert_error(401, "api_key_invalid", None);
    assert_eq!(a.get("/v1/customers").await.status, 200);
}

async fn an_idempotent_write_on_one_node_is_replayed_by_the_other(backend: Backend) {
    let a = TestApp::spawn(backend).await;
    let b = a.spawn_node().await;
    let body = json!({"full_name": "Jane Doe"});

    let created = a
        .send_idempotent(Method::POST, "/v1/customers", "c-1", body.clone())
        .await;
    let created_again = b
        .send_idempotent(Method::POST, "/v1/customers", "c-1", body)
        .await;
    let path = format!("/v1/customers/{}", created.body["id"].as_str().unwrap());
    let patch = json!({"notes": "VIP"});
    let updated = b
        .send_idempotent(Method::PATCH, &path, "u-1", patch.clone())
        .await;
    let updated_again = a.send_idempotent(Method::PATCH, &path, "u-1", patch).await;

    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created_again.status, 201);
    assert_eq!(created_again.header("idempotent-replayed"), Some("true"));
    assert_eq!(created_again.body, created.body);
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.header("idempotent-replayed"), None);
    assert_eq!(updated_again.header("idempotent-replayed"), Some("true"));
    assert_eq!(updated_again.body, updated.body);
    assert_eq!(
        a.get("/v1/customers").await.body["data"],
        json!([updated.body])
    );
    assert_eq!(
        b.get("/v1/events").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

async fn nodes_racing_on_an_empty_database_make_one_first_account(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = backend.fresh_database(&dir).await;
    let a = store::open(&url, 4).await.unwrap();
    let b = store::open(&url, 4).await.unwrap();

    let mut attempts = JoinSet::new();
    for store in [a.clone(), b.clone()].into_iter().cycle().take(10) {
        attempts.spawn(async move { store.create_first_account("default").await.unwrap() });
    }
    let created: Vec<_> = attempts.join_all().await.into_iter().flatten().collect();

    assert_eq!(created.len(), 1);
    assert_eq!(a.list_accounts().await.unwrap(), created);
    assert_eq!(b.list_accounts().await.unwrap(), created);
}

async fn nodes_starting_together_on_an_empty_database_migrate_it_once(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = backend.fresh_database(&dir).await;

    let (a, b) = tokio::join!(store::open(&url, 4), store::open(&url, 4));

    assert!(a.is_ok() && b.is_ok(), "{:?} {:?}", a.err(), b.err());
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let applied: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(applied.first(), Some(&(1, true)));
    assert!(applied.iter().all(|(_, success)| *success));
}

async fn a_key_in_flight_on_one_node_answers_409_on_the_other(backend: Backend) {
    let a = Arc::new(TestApp::spawn(backend).await);
    let b = Arc::new(a.spawn_node().await);
    let body = json!({"full_name": "Jane Doe"});
    let mut hold = a.hold_writes().await;
    let on_a = tokio::spawn(create_with_key(a.clone(), body.clone()));
    hold.wait_for_a_blocked_writer().await;

    // Node b has no in-memory claim on the key: only the database lock can refuse it.
    let on_b_while_running = create_with_key(b.clone(), body.clone());
    let on_b_while_running = tokio::time::timeout(Duration::from_secs(5), on_b_while_running)
        .await
        .expect("node b answers at once instead of waiting for node a");
    hold.release().await;
    let on_a = on_a.await.unwrap();
    let on_b_after = create_with_key(b.clone(), body).await;

    on_b_while_running.assert_error(409, "idempotency_key_in_use", None);
    assert_eq!(on_a.status, 201, "{}", on_a.body);
    assert_eq!(on_b_after.status, 201);
    assert_eq!(on_b_after.header("idempotent-replayed"), Some("true"));
    assert_eq!(on_b_after.body, on_a.body);
}

async fn create_with_key(app: Arc<TestApp>, body: Value) -> Reply {
    app.send_idempotent(Method::POST, "/v1/customers", "shared-key", body)
        .await
}
