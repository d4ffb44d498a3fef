//! Behaviour where database engines differ most (text folding, time precision, uuid order,
//! concurrency), through the router, identical on SQLite and PostgreSQL.

use renvo::domain::timestamp::Timestamp;
use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

backend_tests!(
    an_email_filter_matches_letter_case_beyond_ascii,
    an_email_filter_with_a_nul_character_matches_nothing,
    timestamps_round_trip_at_millisecond_precision,
    a_walk_in_pages_of_seven_visits_250_customers_once_each_newest_first,
    a_purge_removes_idempotency_keys_after_a_day_and_events_after_thirty,
);

async fn an_email_filter_matches_letter_case_beyond_ascii(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let elodie = app
        .create_customer(json!({"full_name": "Élodie", "email": "ÉLODIE@Example.com"}))
        .await;
    app.create_customer(json!({"full_name": "Elodie", "email": "elodie@example.com"}))
        .await;

    let found = app
        .get("/v1/customers?email=%C3%A9lodie%40example.com")
        .await;

    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.body["data"], json!([elodie]));
    assert_eq!(found.body["data"][0]["email"], "ÉLODIE@Example.com");
}

async fn an_email_filter_with_a_nul_character_matches_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_customer(json!({"full_name": "Jane", "email": "jane@example.com"}))
        .await;

    let found = app.get("/v1/customers?email=jane%00%40example.com").await;

    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.body["data"], json!([]));
}

async fn timestamps_round_trip_at_millisecond_precision(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = app.create_customer(json!({"full_name": "Jane Doe"})).await;
    let id = created["id"].as_str().unwrap();
    let patched = app
        .patch(&format!("/v1/customers/{id}"), json!({"notes": "VIP"}))
        .await;

    let fetched = app.get(&format!("/v1/customers/{id}")).await.body;
    let listed = app.get("/v1/customers").await.body["data"][0].clone();
    let events = app.get("/v1/events").await.body["data"].clone();

    let created_at = created["created_at"].as_str().unwrap();
    assert!(is_millisecond_rfc3339(created_at), "{created_at}");
    assert!(is_millisecond_rfc3339(
        patched.body["updated_at"].as_str().unwrap()
    ));
    assert_eq!(fetched, patched.body);
    assert_eq!(listed, patched.body);
    assert_eq!(fetched["created_at"], created["created_at"]);
    assert_eq!(events[0]["data"], patched.body);
    assert_eq!(events[1]["data"], created);
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, exactly.
fn is_millisecond_rfc3339(text: &str) -> bool {
    let shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    text.len() == shape.len()
        && text.chars().zip(shape.chars()).all(|(c, s)| match s {
            'd' => c.is_ascii_digit(),
            _ => c == s,
        })
}

async fn a_walk_in_pages_of_seven_visits_250_customers_once_each_newest_first(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut created = app.create_customers(250, 10).await;
    created.sort_unstable_by(|a, b| b.cmp(a));
    let created: Vec<Value> = created.into_iter().map(Value::from).collect();

    let mut walked = Vec::new();
    let mut pages = 0;
    let mut path = "/v1/customers?limit=7".to_owned();
    loop {
        let page = app.get(&path).await.body;
        pages += 1;
        let ids = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].clone());
        walked.extend(ids);
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/customers?limit=7&starting_after={cursor}"),
            None => break,
        }
        assert_eq!(page["has_more"], true);
        assert_eq!(page["data"].as_array().unwrap().len(), 7);
    }

    assert_eq!(pages, 36);
    assert_eq!(walked.len(), 250);
    assert_eq!(walked, created);
}

async fn a_purge_removes_idempotency_keys_after_a_day_and_events_after_thirty(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = json!({"full_name": "Jane Doe"});
    let first = app
        .send_idempotent(Method::POST, "/v1/customers", "k", body.clone())
        .await;
    let hour = 3_600_000;

    let after_a_day = app
        .store
        .purge_expired(Timestamp::now().plus_millis(25 * hour))
        .await;
    let second = app
        .send_idempotent(Method::POST, "/v1/customers", "k", body)
        .await;
    let after_a_month = app
        .store
        .purge_expired(Timestamp::now().plus_millis(31 * 24 * hour))
        .await;

    assert_eq!(after_a_day.unwrap(), 1);
    assert_eq!(second.status, 201);
    assert_eq!(second.header("idempotent-replayed"), None);
    assert_ne!(second.body["id"], first.body["id"]);
    // Two events and the key's second record.
    assert_eq!(after_a_month.unwrap(), 3);
    assert_eq!(app.get("/v1/events").await.body["data"], json!([]));
    assert_eq!(
        app.get("/v1/customers").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
