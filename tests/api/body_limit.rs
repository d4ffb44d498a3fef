//! The 64 KiB body limit over a real socket: an oversized body is answered 413 in JSON, never
//! a dropped connection, and stores nothing.

use reqwest::Method;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::raw_http;

backend_tests!(
    a_body_of_exactly_64_kib_is_accepted,
    a_body_one_byte_over_64_kib_is_413_in_json,
    a_body_of_several_megabytes_is_answered_413_not_dropped,
    a_chunked_body_over_64_kib_is_413,
    a_large_body_with_the_wrong_content_type_is_answered_415_not_dropped,
);

const LIMIT: usize = 64 * 1024;

/// A valid create body padded with spaces to exactly `size` bytes.
fn padded_body(size: usize) -> Vec<u8> {
    let mut body = br#"{"full_name": "Jane Doe"}"#.to_vec();
    body.resize(size, b' ');
    body
}

async fn a_body_of_exactly_64_kib_is_accepted(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let reply = app
        .send_raw(
            Method::POST,
            "/v1/customers",
            "application/json",
            padded_body(LIMIT),
        )
        .await;

    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["full_name"], "Jane Doe");
}

async fn a_body_one_byte_over_64_kib_is_413_in_json(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app
        .create_customer(serde_json::json!({"full_name": "Jane"}))
        .await;
    let id = customer["id"].as_str().unwrap();

    let created = app
        .send_raw(
            Method::POST,
            "/v1/customers",
            "application/json",
            padded_body(LIMIT + 1),
        )
        .await;
    let updated = app
        .send_raw(
            Method::PATCH,
            &format!("/v1/customers/{id}"),
            "application/json",
            padded_body(LIMIT + 1),
        )
        .await;

    for reply in [created, updated] {
        reply.assert_error(413, "body_too_large", None);
        assert_eq!(reply.body["error"]["type"], "invalid_request_error");
        assert_eq!(
            reply.body["error"]["message"],
            "The request body must be at most 64 KiB."
        );
        assert_eq!(reply.header("content-type"), Some("application/json"));
    }
    assert_eq!(app.customer_ids(&app.key).await, [id]);
}

async fn a_body_of_several_megabytes_is_answered_413_not_dropped(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    // A dropped connection shows only some of the time; a few tries make it show.
    for size in [1024 * 1024, 8 * 1024 * 1024].repeat(4) {
        let reply = app
            .send_raw(
                Method::POST,
                "/v1/customers",
                "application/json",
                padded_body(size),
            )
            .await;
        reply.assert_error(413, "body_too_large", None);
    }
    assert_eq!(app.customer_count().await, 0);
}

async fn a_chunked_body_over_64_kib_is_413(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let host = raw_http::authority(&app.address).to_owned();
    let head = format!(
        "POST /v1/customers HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked",
        app.key
    );
    let payload = padded_body(LIMIT + 4096);
    let mut body = format!("{:x}\r\n", payload.len()).into_bytes();
    body.extend_from_slice(&payload);
    body.extend_from_slice(b"\r\n0\r\n\r\n");

    let reply = raw_http::send(&app.address, &head, &body).await;

    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(reply.body["error"]["code"], "body_too_large");
    assert_eq!(app.customer_count().await, 0);
}

async fn a_large_body_with_the_wrong_content_type_is_answered_415_not_dropped(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    for _ in 0..4 {
        let reply = app
            .send_raw(
                Method::POST,
                "/v1/customers",
                "text/plain",
                padded_body(8 << 20),
            )
            .await;
        reply.assert_error(415, "content_type_invalid", None);
    }
    assert_eq!(app.customer_count().await, 0);
}
