//! Events recorded with each change: `customer.created`, `customer.updated` with
//! `previous_attributes`, nothing for a no-op, and `/v1/events` under the list rules.

use renvo::domain::timestamp::Timestamp;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

backend_tests!(
    creating_a_customer_records_customer_created_with_the_customer,
    a_changing_update_records_the_old_values_of_exactly_the_changed_fields,
    an_update_that_changes_nothing_records_no_event,
    events_are_listed_newest_first_and_filtered_by_type,
    event_lists_follow_the_list_rules,
    an_event_is_retrieved_by_id_only_by_its_own_account_and_mode,
    events_are_kept_30_days,
);

fn events_of(page: &Value) -> Vec<Value> {
    page["data"].as_array().expect("data").clone()
}

async fn creating_a_customer_records_customer_created_with_the_customer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app
        .create_customer(json!({"full_name": "Jane", "email": "jane@example.com"}))
        .await;

    let events = events_of(&app.get("/v1/events").await.body);

    assert_eq!(events.len(), 1);
    let event = &events[0];
    let keys: Vec<&String> = event.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["id", "object", "type", "created", "livemode", "data"]
    );
    let id = event["id"].as_str().unwrap();
    assert!(id.starts_with("evt_") && id.len() == 40, "{id}");
    assert_eq!(event["object"], "event");
    assert_eq!(event["type"], "customer.created");
    assert_eq!(event["livemode"], false);
    assert_eq!(event["data"], customer);
    let created = event["created"].as_i64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - 60..=now).contains(&created), "{created} vs {now}");
}

async fn a_changing_update_records_the_old_values_of_exactly_the_changed_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app
        .create_customer(json!({"full_name": "Jane", "email": "jane@example.com",
                                "phone": "+14155550100", "notes": "old"}))
        .await;
    let path = format!("/v1/customers/{}", customer["id"].as_str().unwrap());

    let updated = app
        .patch(
            &path,
            json!({"full_name": "Jane", "email": "new@example.com", "phone": null,
                   "preferred_language": "en", "source_channel": "web"}),
        )
        .await;
    let events = events_of(&app.get("/v1/events").await.body);

    assert_eq!(events.len(), 2);
    let event = &events[0];
    assert_eq!(event["type"], "customer.updated");
    assert_eq!(event["data"], updated.body);
    assert_eq!(
        event["previous_attributes"],
        json!({"email": "jane@example.com", "phone": "+14155550100", "source_channel": null})
    );
    assert_eq!(events[1]["type"], "customer.created");
    assert_eq!(
        events[1]["data"], customer,
        "an event keeps the object as it was then"
    );
}

async fn an_update_that_changes_nothing_records_no_event(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app
        .create_customer(json!({"full_name": "Jane", "email": "jane@example.com"}))
        .await;
    let path = format!("/v1/customers/{}", customer["id"].as_str().unwrap());

    let empty = app.patch(&path, json!({})).await;
    let same = app
        .patch(
            &path,
            json!({"full_name": " Jane ", "email": "jane@example.com", "phone": null,
                   "preferred_language": "EN", "notes": null}),
        )
        .await;

    assert_eq!(empty.body, customer);
    assert_eq!(same.body, customer);
    let events = events_of(&app.get("/v1/events").await.body);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "customer.created");
}

async fn events_are_listed_newest_first_and_filtered_by_type(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ids = app.create_customers(2).await;
    app.patch(&format!("/v1/customers/{}", ids[0]), json!({"notes": "a"}))
        .await;
    app.patch(&format!("/v1/customers/{}", ids[1]), json!({"notes": "b"}))
        .await;

    let all = events_of(&app.get("/api/v1/events").await.body);
    let created = events_of(&app.get("/v1/events?type=customer.created").await.body);
    let updated = events_of(&app.get("/v1/events?type=customer.updated").await.body);

    let summary: Vec<(&str, &str)> = all
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap(),
                e["data"]["id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("customer.updated", ids[1].as_str()),
            ("customer.updated", ids[0].as_str()),
            ("customer.created", ids[1].as_str()),
            ("customer.created", ids[0].as_str()),
        ]
    );
    assert_eq!(created, all[2..]);
    assert_eq!(updated, all[..2]);
}

async fn event_lists_follow_the_list_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_customers(3).await;
    let all = events_of(&app.get("/v1/events").await.body);

    let first = app.get("/v1/events?limit=2").await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let rest = app
        .get(&format!("/v1/events?limit=2&starting_after={cursor}"))
        .await;

    assert_eq!(first.body["object"], "list");
    assert_eq!(events_of(&first.body), all[..2]);
    assert_eq!(first.body["has_more"], true);
    assert_eq!(cursor, all[1]["id"].as_str().unwrap());
    assert_eq!(events_of(&rest.body), all[2..]);
    assert_eq!(rest.body["next_cursor"], json!(null));
    for (query, code, param) in [
        ("type=customer.deleted", "parameter_invalid", "type"),
        (
            "type=customer.created&type=customer.updated",
            "parameter_invalid",
            "type",
        ),
        ("limit=0", "parameter_invalid", "limit"),
        ("limit=101", "parameter_invalid", "limit"),
        ("starting_after=cu_x", "parameter_invalid", "starting_after"),
        ("customer=cu_x", "parameter_unknown", "customer"),
    ] {
        app.get(&format!("/v1/events?{query}"))
            .await
            .assert_error(400, code, Some(param));
    }
}

async fn an_event_is_retrieved_by_id_only_by_its_own_account_and_mode(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_customers(1).await;
    let listed = events_of(&app.get("/v1/events").await.body).remove(0);
    let id = listed["id"].as_str().unwrap();
    let other_key = app.other_account_key().await;

    let by_id = app.get(&format!("/v1/events/{id}")).await;
    let by_bare = app.get(&format!("/api/v1/events/{}", &id[4..])).await;
    let live = app
        .get_with(&format!("/v1/events/{id}"), &app.live_key)
        .await;
    let other = app.get_with(&format!("/v1/events/{id}"), &other_key).await;
    let malformed = app.get("/v1/events/evt_x").await;
    let not_text = app.get("/v1/events/%FF").await;

    assert_eq!(by_id.status, 200);
    assert_eq!(by_id.body, listed);
    assert_eq!(by_bare.body, listed);
    for reply in [live, other, malformed, not_text] {
        reply.assert_error(404, "resource_missing", Some("id"));
    }
    let live_list = app.get_with("/v1/events", &app.live_key).await;
    assert_eq!(events_of(&live_list.body), Vec::<Value>::new());
    let live = app
        .send_json(
            reqwest::Method::POST,
            "/v1/customers",
            &app.live_key,
            json!({"full_name": "L"}),
        )
        .await;
    let live_event = events_of(&app.get_with("/v1/events", &app.live_key).await.body).remove(0);
    assert_eq!(live_event["livemode"], true);
    assert_eq!(live_event["data"], live.body);
}

async fn events_are_kept_30_days(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_customers(2).await;
    let day = 24 * 3600 * 1000;

    app.store
        .purge_expired(Timestamp::now().plus_millis(29 * day))
        .await
        .unwrap();
    let kept = events_of(&app.get("/v1/events").await.body);
    app.store
        .purge_expired(Timestamp::now().plus_millis(31 * day))
        .await
        .unwrap();
    let purged = events_of(&app.get("/v1/events").await.body);

    assert_eq!(kept.len(), 2);
    assert_eq!(purged, Vec::<Value>::new());
    assert_eq!(app.customer_count().await, 2, "customers stay");
}
