//! Hostile clients: malformed ids, query strings, headers and bodies, and slow or oversized
//! requests. Each is answered with the JSON error envelope and stores nothing.

use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

backend_tests!(
    an_id_that_is_not_utf8_is_a_json_404_naming_the_id,
    a_limit_is_digits_only_whatever_its_encoding,
    an_empty_or_undecodable_list_parameter_is_refused_by_name
);

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

async fn a_limit_is_digits_only_whatever_its_encoding(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    for query in [
        "limit=%2B5",
        "limit=+5",
        "limit=%205",
        "limit=-0",
        "limit=5.0",
        "limit=1e1",
        "limit=%EF%BC%95",
        "limit=99999999999999999999999",
    ] {
        let reply = app.get(&format!("/v1/customers?{query}")).await;
        reply.assert_error(400, "parameter_invalid", Some("limit"));
    }
    let leading_zero = app.get("/v1/customers?limit=05").await;
    assert_eq!(leading_zero.status, 200, "{}", leading_zero.body);
}

async fn an_empty_or_undecodable_list_parameter_is_refused_by_name(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let cases = [
        ("/v1/customers?email=", "email"),
        ("/v1/customers?email", "email"),
        ("/v1/customers?limit=10&starting_after=", "starting_after"),
        ("/v1/events?type=", "type"),
        ("/v1/customers?email=%FF%FE%40example.com", "email"),
    ];
    for (path, param) in cases {
        let reply = app.get(path).await;
        reply.assert_error(400, "parameter_invalid", Some(param));
    }
    let garbled = app.get("/v1/customers?email=jane%C0%40example.com").await;
    assert_eq!(
        garbled.body["error"]["message"],
        "`email` is not valid UTF-8 once decoded."
    );
}
