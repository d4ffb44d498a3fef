//! Operations endpoints, no key: liveness, readiness, Prometheus metrics.

use std::collections::HashMap;

use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, Reply, TestApp};

backend_tests!(
    liveness_answers_ok_without_a_key,
    readiness_answers_ok_without_a_key_while_the_database_answers,
    metrics_count_requests_by_route_and_status_and_time_them,
);

async fn liveness_answers_ok_without_a_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let reply = Reply::of(app.client.get(app.url("/healthz")).send().await.unwrap()).await;

    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, json!({"status": "ok"}));
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert!(reply.header("request-id").unwrap().starts_with("req_"));
}

async fn readiness_answers_ok_without_a_key_while_the_database_answers(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let reply = Reply::of(app.client.get(app.url("/readyz")).send().await.unwrap()).await;

    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, json!({"status": "ok"}));
}

async fn metrics_count_requests_by_route_and_status_and_time_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.get("/v1/customers").await;
    app.get("/api/v1/customers/cu_0193a6f2-7c1e-7b3a-9f00-4a2b3c4d5e6f")
        .await;
    app.client
        .get(app.url("/no/such/route"))
        .send()
        .await
        .unwrap();

    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let text = response.text().await.unwrap();

    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let counted = |route: &str, status: &str| {
        let labels = [("route", route), ("method", "GET"), ("status", status)];
        has_sample(&text, "renvo_http_requests_total", &labels)
    };
    assert!(counted("/v1/customers", "200"), "{text}");
    assert!(counted("/v1/customers/{id}", "404"), "{text}");
    assert!(counted("unmatched", "404"), "{text}");
    let timed = [("route", "/v1/customers/{id}"), ("method", "GET")];
    assert!(has_sample(
        &text,
        "renvo_http_request_duration_seconds_bucket",
        &timed
    ));
    assert!(has_sample(
        &text,
        "renvo_http_request_duration_seconds_count",
        &timed
    ));
}

/// Whether the exposition has a sample of `metric` whose labels include all of `wanted`.
fn has_sample(exposition: &str, metric: &str, wanted: &[(&str, &str)]) -> bool {
    exposition
        .lines()
        .filter_map(|line| line.strip_prefix(metric)?.strip_prefix('{'))
        .filter_map(|rest| rest.rsplit_once('}'))
        .map(|(inside, _)| labels(inside))
        .any(|found| {
            wanted
                .iter()
                .all(|(k, v)| found.get(*k).map(String::as_str) == Some(*v))
        })
}

/// `a="1",b="2"` as a map; label values here hold no quotes or commas.
fn labels(text: &str) -> HashMap<String, String> {
    text.split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.trim_matches('"').to_owned()))
        .collect()
}
