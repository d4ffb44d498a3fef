//! Hostile clients: malformed ids, query strings, headers and bodies, and slow or oversized
//! requests. Each is answered with the JSON error envelope and stores nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use renvo::http::server::{self, ConnectionLimits};
use renvo::{AppState, router};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

backend_tests!(
    an_id_that_is_not_utf8_is_a_json_404_naming_the_id,
    a_limit_is_digits_only_whatever_its_encoding,
    an_empty_or_undecodable_list_parameter_is_refused_by_name,
    a_header_that_means_one_thing_sent_twice_is_refused,
    a_declared_body_over_the_limit_is_answered_413_before_it_is_sent,
    a_compressed_body_is_refused_with_415_and_stores_nothing,
    a_client_that_stalls_is_cut_off_and_a_stalled_body_is_answered_408,
    shutdown_lets_a_request_in_flight_finish_then_stops_accepting,
    a_body_of_thousands_of_keys_is_checked_for_repeats_in_one_pass,
    an_error_repeats_at_most_100_characters_of_what_was_sent,
    made_up_methods_are_counted_as_other_and_mint_no_metric_series,
    a_client_that_stops_reading_is_cut_off
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
        customer.body["error"]["message"], "No such customer: '%FF%FE'",
        "an id that does not decode is shown as it was sent"
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

/// With `Expect: 100-continue` the answer comes before any of the body is sent; without it,
/// what the client sends is read and dropped for a bounded time first, so a client still
/// sending gets the 413 rather than a reset connection.
async fn a_declared_body_over_the_limit_is_answered_413_before_it_is_sent(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    for expect in ["", "Expect: 100-continue\r\n"] {
        let head = format!(
            "POST /v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 10000000\r\n{expect}\r\n{{",
            app.key
        );
        let answer = exchange(&app.address, head.as_bytes()).await;

        assert_eq!(answer.status, 413, "{}", answer.head);
        assert_eq!(answer.body["error"]["code"], "body_too_large");
        assert!(answer.head.contains("request-id: req_"), "{}", answer.head);
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

/// Writes `request` as is on a fresh connection and reads the answer.
async fn exchange(address: &str, request: &[u8]) -> RawReply {
    let mut stream = connect(address).await;
    stream.write_all(request).await.expect("send");
    parse_reply(&read_until_closed(&mut stream).await)
}

async fn connect(address: &str) -> TcpStream {
    let address = address.trim_start_matches("http://");
    TcpStream::connect(address).await.expect("connect")
}

/// Everything the server sends until it closes the connection, which must be within 5 s.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer);
    let _ = tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("the server closes the connection within 5 s");
    answer
}

fn parse_reply(answer: &[u8]) -> RawReply {
    let text = String::from_utf8_lossy(answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    RawReply {
        status: head[9..12].parse().expect("a status code"),
        head: head.to_owned(),
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

/// The production server loop over `app`'s store, stopped by `shutdown`.
async fn serve_with(
    app: &TestApp,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
) -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
    let state = AppState::new(app.store.clone(), 0, Arc::new(Notify::new()));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    let server = server::serve(listener, router(state), limits, shutdown);
    (address, tokio::spawn(server))
}

fn create_head(app: &TestApp, length: usize) -> String {
    format!(
        "POST /v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n",
        app.key
    )
}

async fn a_client_that_stalls_is_cut_off_and_a_stalled_body_is_answered_408(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let limits = ConnectionLimits {
        header_read: Duration::from_millis(300),
        body_read: Duration::from_millis(300),
        response_write: Duration::from_millis(300),
    };
    let (address, _server) = serve_with(&app, limits, CancellationToken::new()).await;
    let started = Instant::now();

    let mut idle = connect(&address).await;
    let mut partial_head = connect(&address).await;
    partial_head
        .write_all(b"GET /v1/customers HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let stalled_body = format!("{}{{\"full_name\":", create_head(&app, 100));
    let body_answer = exchange(&address, stalled_body.as_bytes()).await;

    assert_eq!(read_until_closed(&mut idle).await, b"");
    assert_eq!(read_until_closed(&mut partial_head).await, b"");
    assert_eq!(body_answer.status, 408, "{}", body_answer.head);
    assert_eq!(body_answer.body["error"]["code"], "body_timeout");
    assert!(
        body_answer.head.contains("request-id: req_"),
        "{}",
        body_answer.head
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(customer_count(&app).await, 0);
}

async fn shutdown_lets_a_request_in_flight_finish_then_stops_accepting(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let shutdown = CancellationToken::new();
    let limits = ConnectionLimits::default();
    let (address, server) = serve_with(&app, limits, shutdown.clone()).await;
    let body = br#"{"full_name": "Jane"}"#;
    let mut in_flight = connect(&address).await;
    let head = create_head(&app, body.len());
    in_flight.write_all(head.as_bytes()).await.unwrap();
    in_flight.write_all(&body[..5]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    shutdown.cancel();
    tokio::time::sleep(Duration::from_millis(100)).await;
    in_flight.write_all(&body[5..]).await.unwrap();
    let answer = parse_reply(&read_until_closed(&mut in_flight).await);
    let stopped = tokio::time::timeout(Duration::from_secs(5), server).await;

    assert_eq!(answer.status, 201, "{}", answer.head);
    assert_eq!(answer.body["full_name"], "Jane");
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
    assert!(TcpStream::connect(&address).await.is_err());
}

async fn a_body_of_thousands_of_keys_is_checked_for_repeats_in_one_pass(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut fields: Vec<String> = (0..6500).map(|n| format!("\"k{n}\":0")).collect();
    fields.push("\"k3\":1".to_owned());
    let body = format!("{{{}}}", fields.join(","));
    assert!(body.len() < 64 * 1024);

    let started = Instant::now();
    let reply = app
        .send_raw(
            Method::POST,
            "/v1/customers",
            "application/json",
            body.into_bytes(),
        )
        .await;

    reply.assert_error(400, "body_invalid", Some("k3"));
    // Generous: the quadratic scan this replaced took about 0.3 s in a debug build.
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(customer_count(&app).await, 0);
}

async fn an_error_repeats_at_most_100_characters_of_what_was_sent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let long = "é".repeat(5000);
    let cut = format!("{}…", "é".repeat(100));

    let unknown = app.post("/v1/customers", json!({ long.as_str(): 1 })).await;
    let id = app
        .get(&format!("/v1/customers/{}", "a".repeat(5000)))
        .await;
    let route = app.get(&format!("/v1/{}", "b".repeat(5000))).await;
    let cursor = app
        .get(&format!(
            "/v1/customers?starting_after={}",
            "c".repeat(5000)
        ))
        .await;

    unknown.assert_error(400, "parameter_unknown", Some(cut.as_str()));
    assert_eq!(
        unknown.body["error"]["message"],
        format!("Received unknown parameter: {cut}.")
    );
    id.assert_error(404, "resource_missing", Some("id"));
    route.assert_error(404, "route_missing", None);
    cursor.assert_error(400, "parameter_invalid", Some("starting_after"));
    for reply in [&id, &route, &cursor] {
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(message.chars().count() < 200, "{message}");
        assert!(message.contains("…"), "{message}");
    }
}

async fn made_up_methods_are_counted_as_other_and_mint_no_metric_series(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    for name in ["HOSTILE1", "HOSTILE2"] {
        let method = Method::from_bytes(name.as_bytes()).unwrap();
        let request = app.client.request(method, app.url("/v1/customers"));
        reply(request)
            .await
            .assert_error(405, "method_not_allowed", None);
    }
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();

    assert!(!metrics.contains("HOSTILE"), "{metrics}");
    assert!(
        metrics.contains(r#"route="/v1/customers",method="other",status="405""#),
        "{metrics}"
    );
}

async fn a_client_that_stops_reading_is_cut_off(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let limits = ConnectionLimits {
        response_write: Duration::from_millis(300),
        ..ConnectionLimits::default()
    };
    let (address, _server) = serve_with(&app, limits, CancellationToken::new()).await;
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(address.parse().unwrap()).await.unwrap();

    // About 10 MB of answers, more than the socket buffers between us hold.
    let request = b"GET /v1/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n";
    for _ in 0..400 {
        stream.write_all(request).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let answer = read_until_closed(&mut stream).await;

    let answered = String::from_utf8_lossy(&answer)
        .matches("HTTP/1.1 200 OK")
        .count();
    assert!(answered < 400, "{answered} answers");
}
