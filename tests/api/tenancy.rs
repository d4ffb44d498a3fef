//! Every read and write stays inside one account and one mode, on every backend.

use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

backend_tests!(a_customer_and_its_events_are_invisible_to_other_accounts_and_modes);

async fn a_customer_and_its_events_are_invisible_to_other_accounts_and_modes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app
        .create_customer(json!({"full_name": "Jane", "email": "jane@example.com"}))
        .await;
    let path = format!("/v1/customers/{}", customer["id"].as_str().unwrap());
    let event = app.get("/v1/events").await.body["data"][0].clone();
    let event_path = format!("/v1/events/{}", event["id"].as_str().unwrap());
    let other = app.other_account_key().await;

    for key in [&other, &app.live_key] {
        app.get_with(&path, key)
            .await
            .assert_error(404, "resource_missing", Some("id"));
        app.get_with(&event_path, key)
            .await
            .assert_error(404, "resource_missing", Some("id"));
        let listed = app
            .get_with("/v1/customers?email=jane%40example.com", key)
            .await;
        assert_eq!(listed.body["data"], json!([]));
        assert_eq!(
            app.get_with("/v1/events", key).await.body["data"],
            json!([])
        );
        let patch = json!({"notes": "taken over"});
        let patched = app
            .send_json(reqwest::Method::PATCH, &path, key, patch)
            .await;
        patched.assert_error(404, "resource_missing", Some("id"));
    }
    assert_eq!(app.get(&path).await.body, customer);
    assert_eq!(app.get_with(&event_path, &app.read_key).await.body, event);
}
