//! PostgreSQL's own failure modes: a writer the idempotency lock did not stop, and the
//! database going away under a running server.

use std::str::FromStr;
use std::sync::Arc;

use reqwest::Method;
use serde_json::json;
use sqlx::Executor;
use sqlx::postgres::PgConnectOptions;

use crate::db::{Relay, wait_until_blocking};
use crate::helpers::{Backend, TestApp};
use crate::postgres_tests;

postgres_tests!(
    a_second_writer_of_an_idempotency_key_rolls_back_and_replays_the_first,
    readiness_and_requests_answer_503_while_the_database_is_unreachable,
);

async fn a_second_writer_of_an_idempotency_key_rolls_back_and_replays_the_first(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);
    let body = json!({"full_name": "Jane Doe"});
    // The live side keeps a response for the key; the same request on the test side has the
    // same fingerprint, so a copy of that row, written by a transaction the advisory lock
    // does not see, stands in for a racing writer.
    let live = app
        .client
        .post(app.url("/v1/customers"))
        .bearer_auth(&app.live_key)
        .header("idempotency-key", "k-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    let live: serde_json::Value = live.json().await.unwrap();
    let mut racer = app.postgres().await;
    racer.execute("BEGIN").await.unwrap();
    racer
        .execute(
            "INSERT INTO idempotency_keys \
             SELECT account_id, 'test', key, fingerprint, status, body, created_at \
             FROM idempotency_keys WHERE mode = 'live' AND key = 'k-1'",
        )
        .await
        .unwrap();

    let request = tokio::spawn({
        let app = app.clone();
        async move {
            app.send_idempotent(Method::POST, "/v1/customers", "k-1", body)
                .await
        }
    });
    wait_until_blocking(&mut racer).await;
    racer.execute("COMMIT").await.unwrap();
    let reply = request.await.unwrap();

    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.header("idempotent-replayed"), Some("true"));
    assert_eq!(reply.body, live);
    assert_eq!(app.get("/v1/customers").await.body["data"], json!([]));
    assert_eq!(app.get("/v1/events").await.body["data"], json!([]));
}

async fn readiness_and_requests_answer_503_while_the_database_is_unreachable(backend: Backend) {
    let Backend::Postgres(url) = backend else {
        unreachable!("a PostgreSQL-only test")
    };
    let options = PgConnectOptions::from_str(&url).unwrap();
    let upstream = format!("{}:{}", options.get_host(), options.get_port());
    let mut relay = Relay::start(upstream.clone()).await;
    let relayed = url.replacen(&upstream, &format!("127.0.0.1:{}", relay.port), 1);
    assert_ne!(relayed, url, "the test URL names host and port explicitly");
    let app = TestApp::spawn(Backend::Postgres(relayed)).await;
    assert_eq!(app.get("/readyz").await.status, 200);

    relay.stop().await;
    let ready_while_down = app.get("/readyz").await;
    let list_while_down = app.get("/v1/customers").await;
    relay.resume().await;
    let ready_again = app.get("/readyz").await;

    ready_while_down.assert_error(503, "service_unavailable", None);
    list_while_down.assert_error(503, "service_unavailable", None);
    assert_eq!(ready_again.status, 200, "{}", ready_again.body);
    assert_eq!(app.get("/v1/customers").await.status, 200);
}
