//! The error envelope and the headers of every response: `Request-Id`, `Renvo-Version`,
//! routing errors in JSON.

use reqwest::Method;
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, Reply, TestApp};

backend_tests!(
    every_response_carries_a_request_id_that_matches_its_error_body,
    the_renvo_version_is_echoed_on_every_response,
    an_unknown_renvo_version_is_400_naming_the_header,
    an_unknown_route_is_a_json_404_route_missing,
    a_method_a_route_does_not_have_is_a_json_405,
);

async fn send(app: &TestApp, method: Method, path: &str, key: Option<&str>) -> Reply {
    let mut request = app.client.request(method, app.url(path));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    Reply::of(request.send().await.unwrap()).await
}

async fn every_response_carries_a_request_id_that_matches_its_error_body(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = app
        .post("/v1/customers", json!({"full_name": "Jane"}))
        .await;
    let replies = [
        created,
        app.post("/v1/customers", json!({})).await,
        app.get("/v1/customers").await,
        app.get("/v1/customers/cu_x").await,
        send(&app, Method::GET, "/v1/customers", None).await,
        send(&app, Method::GET, "/v1/nothing", Some(&app.key)).await,
        send(&app, Method::DELETE, "/v1/customers", Some(&app.key)).await,
        send(&app, Method::GET, "/healthz", None).await,
    ];

    let mut seen = std::collections::HashSet::new();
    for reply in &replies {
        let id = reply
            .header("request-id")
            .expect("Request-Id on every response");
        assert!(id.starts_with("req_") && id.len() > 12, "{id}");
        assert!(id[4..].bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
        assert!(seen.insert(id.to_owned()), "request ids are unique");
        if reply.status >= 400 {
            assert_eq!(reply.body["error"]["request_id"], id, "{}", reply.body);
        }
    }
}

async fn the_renvo_version_is_echoed_on_every_response(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let absent = app.get("/v1/customers").await;
    let named = Reply::of(
        app.client
            .get(app.url("/v1/customers"))
            .bearer_auth(&app.key)
            .header("Renvo-Version", "2026-05-05")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let failed = send(&app, Method::GET, "/v1/customers", None).await;

    assert_eq!(named.status, 200);
    for reply in [absent, named, failed] {
        assert_eq!(reply.header("renvo-version"), Some("2026-05-05"));
    }
}

async fn an_unknown_renvo_version_is_400_naming_the_header(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    for version in ["2020-01-01", "latest", ""] {
        let reply = Reply::of(
            app.client
                .post(app.url("/v1/customers"))
                .bearer_auth(&app.key)
                .header("Renvo-Version", version)
                .json(&json!({"full_name": "Jane"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        reply.assert_error(400, "parameter_invalid", Some("Renvo-Version"));
        assert_eq!(reply.body["error"]["type"], "invalid_request_error");
        assert_eq!(reply.header("renvo-version"), Some("2026-05-05"));
    }
    assert_eq!(app.customer_count().await, 0);
}

async fn an_unknown_route_is_a_json_404_route_missing(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    for path in [
        "/v1/nothing",
        "/v2/customers",
        "/v1/customers/",
        "/",
        "/api/v1",
    ] {
        let reply = send(&app, Method::GET, path, Some(&app.key)).await;
        reply.assert_error(404, "route_missing", None);
        assert_eq!(reply.body["error"]["type"], "not_found");
        assert_eq!(reply.header("content-type"), Some("application/json"));
    }
    let unauthenticated = send(&app, Method::GET, "/v1/nothing", None).await;
    assert_eq!(
        unauthenticated.body["error"]["message"],
        "Unrecognized request URL (GET: /v1/nothing)."
    );
}

async fn a_method_a_route_does_not_have_is_a_json_405(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = "cu_0193a6f2-7c1e-7b3a-9f00-4a2b3c4d5e6f";

    for (method, path) in [
        (Method::DELETE, "/v1/customers".to_owned()),
        (Method::PUT, format!("/v1/customers/{id}")),
        (Method::POST, format!("/api/v1/customers/{id}")),
        (Method::POST, "/v1/events".to_owned()),
        (Method::POST, "/healthz".to_owned()),
    ] {
        let reply = send(&app, method.clone(), &path, Some(&app.key)).await;
        reply.assert_error(405, "method_not_allowed", None);
        assert_eq!(reply.body["error"]["type"], "invalid_request_error");
        assert_eq!(
            reply.body["error"]["message"],
            format!("{method} is not allowed on {path}.")
        );
    }
}
