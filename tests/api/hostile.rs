//! Hostile clients: malformed ids, query strings, headers and bodies, and slow or oversized
//! requests. Each is answered with the JSON error envelope and stores nothing.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

backend_tests!(
    an_id_that_is_not_utf8_is_a_json_404_naming_the_id,
    a_limit_is_digits_only_whatever_its_encoding,
    an_empty_or_undecodable_list_parameter_is_refused_by_name,
    a_header_that_means_one_thing_sent_twice_is_refused,
    a_declared_body_over_the_limit_is_answered_413_before_it_is_sent,
    a_compressed_body_is_refused_with_415_and_stores_nothing
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

async fn a_header_that_means_one_thing_sent_twice_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let bearer = format!("Bearer {}", app.key);
    let create = || {
        app.client
            .post(app.url("/v1/customers"))
            .header("authorization", &bearer)
            .json(&json!({"full_name": "Jane"}))
    };

    let authorization = create().header("authorization", &bearer);
    let idempotency = create()
        .header("idempotency-key", "a")
        .header("idempotency-key", "b");
    let version = create()
        .header("renvo-version", "2026-05-05")
        .header("renvo-version", "2026-05-05");
    let content_type = create().header("content-type", "text/plain");

    let send = |request: reqwest::RequestBuilder| async { reply(request).await };
    send(authorization)
        .await
        .assert_error(401, "api_key_invalid", None);
    let idempotency = send(idempotency).await;
    idempotency.assert_error(400, "parameter_invalid", Some("Idempotency-Key"));
    let version = send(version).await;
    version.assert_error(400, "parameter_invalid", Some("Renvo-Version"));
    let content_type = send(content_type).await;
    content_type.assert_error(415, "content_type_invalid", None);
    assert_eq!(customer_count(&app).await, 0);
}

async fn a_declared_body_over_the_limit_is_answered_413_before_it_is_sent(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    for expect in ["", "Expect: 100-continue\r\n"] {
        let head = format!(
            "POST /v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 10000000\r\n{expect}\r\n{{",
            app.key
        );
        let answer = exchange(&app, head.as_bytes()).await;

        assert_eq!(answer.status, 413, "{}", answer.head);
        assert_eq!(answer.body["error"]["code"], "body_too_large");
    }
    assert_eq!(customer_count(&app).await, 0);
}

async fn a_compressed_body_is_refused_with_415_and_stores_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = br#"{"full_name": "Jane"}"#.to_vec();

    let request = app
        .client
        .request(Method::POST, app.url("/v1/customers"))
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(body.clone());
    let identity = app
        .client
        .request(Method::POST, app.url("/v1/customers"))
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .header("content-encoding", "identity")
        .body(body);

    let refused = reply(request).await;
    refused.assert_error(415, "content_type_invalid", None);
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Content-Encoding")
    );
    assert_eq!(customer_count(&app).await, 0);
    assert_eq!(reply(identity).await.status, 201);
}

async fn reply(request: reqwest::RequestBuilder) -> crate::helpers::Reply {
    crate::helpers::Reply::of(request.send().await.expect("request")).await
}

async fn customer_count(app: &TestApp) -> usize {
    let list = app.get("/v1/customers?limit=100").await;
    list.body["data"].as_array().expect("a list").len()
}

/// A response read off the wire: status, raw head, JSON body.
struct RawReply {
    status: u16,
    head: String,
    body: Value,
}

/// Writes `request` as is on a fresh connection and reads until the server closes it; the
/// server must answer within 5 seconds.
async fn exchange(app: &TestApp, request: &[u8]) -> RawReply {
    let address = app.address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.write_all(request).await.expect("send");
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer);
    let _ = tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("an answer within 5 s");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    RawReply {
        status: head[9..12].parse().expect("a status code"),
        head: head.to_owned(),
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}
