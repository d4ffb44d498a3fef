//! Hostile clients: malformed ids, query strings, headers and bodies, and slow or oversized
//! requests. Each is answered with the JSON error envelope and stores nothing.

use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

backend_tests!(an_id_that_is_not_utf8_is_a_json_404_naming_the_id);

async fn an_id_that_is_not_utf8_is_a_json_404_naming_the_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let customer = app.get("/v1/customers/%FF%FE").await;
    let event = app.get("/api/v1/events/evt_%C0%AF").await;
    let patch = app
        .patch("/v1/customers/cu_%FF", json!({"notes": "x"}))
        .await;

    customer.assert_error(404, "resource_missing", Some("id"));
    assert_eq!(
        customer.body["error"]["message"],
        "No such customer: '\u{FFFD}\u{FFFD}'"
    );
    event.assert_error(404, "resource_missing", Some("id"));
    patch.assert_error(404, "resource_missing", Some("id"));
}
