//! Real responses, successes and errors, validated against the schemas the OpenAPI document
//! declares for their operation and status.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::contract::Contract;
use crate::helpers::{Backend, Reply, TestApp};

backend_tests!(
    customer_responses_match_the_document,
    event_responses_match_the_document,
    error_responses_match_the_document,
    operations_responses_match_the_document,
    a_response_the_document_does_not_describe_fails_the_check,
);

async fn customer_responses_match_the_document(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let contract = Contract::fetch(&app, "/v1/openapi.json").await;
    let full = json!({
        "full_name": "Jane Doe", "email": "jane@example.com", "phone": "+1 415 555 0100",
        "preferred_language": "zh-hant-tw", "source_channel": "walk-in", "notes": "VIP",
    });

    let sparse = app
        .post("/v1/customers", json!({"full_name": "Li Wei"}))
        .await;
    let live = json!({"full_name": "Ana Lima"});
    let live = app
        .send_json(Method::POST, "/v1/customers", &app.live_key, live)
        .await;
    let created = app.post("/v1/customers", full).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap();
    let path = format!("/v1/customers/{id}");
    let filtered = app.get("/api/v1/customers?email=JANE@example.com").await;
    let retrieved = app.get(&path).await;
    let updated = app
        .patch(&path, json!({"email": null, "notes": "Prefers SMS"}))
        .await;
    let page = app.get("/v1/customers?limit=1").await;

    contract.assert_reply("POST", "/v1/customers", &sparse);
    contract.assert_reply("POST", "/v1/customers", &created);
    contract.assert_reply("POST", "/v1/customers", &live);
    contract.assert_reply("GET", "/v1/customers/{id}", &retrieved);
    contract.assert_reply("PATCH", "/v1/customers/{id}", &updated);
    contract.assert_reply("GET", "/v1/customers", &page);
    contract.assert_reply("GET", "/v1/customers", &filtered);
    assert_eq!(live.body["livemode"], true);
    assert_eq!(
        (sparse.status, live.status, updated.status),
        (201, 201, 200)
    );
    assert_eq!(updated.body["email"], Value::Null);
    assert_eq!(page.body["has_more"], true);
    assert!(page.body["next_cursor"].is_string());
    assert_eq!(filtered.body["data"].as_array().unwrap().len(), 1);
}

async fn event_responses_match_the_document(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let contract = Contract::fetch(&app, "/v1/openapi.json").await;
    let customer = app.create_customer(json!({"full_name": "Jane Doe"})).await;
    let path = format!("/v1/customers/{}", customer["id"].as_str().unwrap());
    app.patch(&path, json!({"phone": "+14155550100"})).await;

    let listed = app.get("/v1/events").await;
    let updated_only = app.get("/v1/events?type=customer.updated&limit=1").await;
    let ids: Vec<&str> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["id"].as_str().unwrap())
        .collect();

    contract.assert_reply("GET", "/v1/events", &listed);
    contract.assert_reply("GET", "/v1/events", &updated_only);
    assert_eq!(ids.len(), 2);
    for id in ids {
        let event = app.get(&format!("/api/v1/events/{id}")).await;
        contract.assert_reply("GET", "/v1/events/{id}", &event);
    }
    let update = &updated_only.body["data"][0];
    assert_eq!(update["previous_attributes"], json!({"phone": null}));
}

async fn error_responses_match_the_document(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let contract = Contract::fetch(&app, "/v1/openapi.json").await;
    let missing = "/v1/customers/cu_0193a6f2-7c1e-7b3a-9f00-4a2b3c4d5e6f";
    let too_large = json!({"full_name": "x".repeat(70 * 1024)});
    let anonymous = app
        .client
        .get(app.url("/v1/customers"))
        .send()
        .await
        .unwrap();
    let check = |(method, path): (&str, &str), reply: Reply, status, code, param| {
        reply.assert_error(status, code, param);
        contract.assert_reply(method, path, &reply);
    };

    let unknown_filter = app.get("/v1/customers?colour=red").await;
    check(
        LIST,
        unknown_filter,
        400,
        "parameter_unknown",
        Some("colour"),
    );
    let read_only = app.post("/v1/customers", json!({"id": "x"})).await;
    check(CREATE, read_only, 400, "parameter_unknown", Some("id"));
    check(
        LIST,
        Reply::of(anonymous).await,
        401,
        "api_key_invalid",
        None,
    );
    check(
        CREATE,
        write_with_read_key(&app).await,
        403,
        "scope_insufficient",
        None,
    );
    check(
        RETRIEVE,
        app.get(missing).await,
        404,
        "resource_missing",
        Some("id"),
    );
    check(
        UPDATE,
        app.patch(missing, json!({})).await,
        404,
        "resource_missing",
        Some("id"),
    );
    let no_event = app.get("/v1/events/evt_nope").await;
    check(
        ("GET", "/v1/events/{id}"),
        no_event,
        404,
        "resource_missing",
        Some("id"),
    );
    let large = app.post("/v1/customers", too_large).await;
    check(CREATE, large, 413, "body_too_large", None);
    check(
        CREATE,
        text_body(&app).await,
        415,
        "content_type_invalid",
        None,
    );
}

const LIST: (&str, &str) = ("GET", "/v1/customers");
const CREATE: (&str, &str) = ("POST", "/v1/customers");
const RETRIEVE: (&str, &str) = ("GET", "/v1/customers/{id}");
const UPDATE: (&str, &str) = ("PATCH", "/v1/customers/{id}");

async fn operations_responses_match_the_document(backend: Backend) {
    let app = TestApp::spawn_with_rate_limit(backend, 1).await;
    let contract = Contract::fetch(&app, "/v1/openapi.json").await;

    let healthz = Reply::of(app.client.get(app.url("/healthz")).send().await.unwrap()).await;
    let readyz = Reply::of(app.client.get(app.url("/readyz")).send().await.unwrap()).await;
    let unknown_version = Reply::of(
        app.client
            .get(app.url("/healthz"))
            .header("Renvo-Version", "1999-01-01")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let limited = first_rate_limited(&app).await;

    contract.assert_reply("GET", "/healthz", &healthz);
    contract.assert_reply("GET", "/readyz", &readyz);
    contract.assert_reply("GET", "/healthz", &unknown_version);
    contract.assert_reply("GET", "/v1/customers", &limited);
    assert_eq!((healthz.status, readyz.status), (200, 200));
    unknown_version.assert_error(400, "parameter_invalid", Some("Renvo-Version"));
    assert_eq!(limited.header("retry-after"), Some("1"));
}

async fn a_response_the_document_does_not_describe_fails_the_check(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let contract = Contract::fetch(&app, "/v1/openapi.json").await;
    let customer = app.create_customer(json!({"full_name": "Jane Doe"})).await;
    let drifted = [
        ("surprise", json!(1)),
        ("total_rentals", json!("none")),
        ("email", json!(5)),
        ("created_at", json!("yesterday")),
        ("id", json!("0193a6f2-7c1e-7b3a-9f00-4a2b3c4d5e6f")),
    ];

    for (field, value) in drifted {
        let mut body = customer.clone();
        body[field] = value;
        let violations = contract.violations("GET", "/v1/customers/{id}", 200, &body);
        assert!(!violations.is_empty(), "`{field}` drifted yet validated");
    }
    let mut without_email = customer.clone();
    without_email.as_object_mut().unwrap().remove("email");
    assert!(
        !contract
            .violations("GET", "/v1/customers/{id}", 200, &without_email)
            .is_empty()
    );
}

async fn write_with_read_key(app: &TestApp) -> Reply {
    let body = json!({"full_name": "Jane Doe"});
    app.send_json(Method::POST, "/v1/customers", &app.read_key, body)
        .await
}

async fn text_body(app: &TestApp) -> Reply {
    let body = br#"{"full_name": "Jane Doe"}"#.to_vec();
    app.send_raw(Method::POST, "/v1/customers", "text/plain", body)
        .await
}

/// Lists customers until the per-key limit answers 429; a limit of 1 per second allows one.
async fn first_rate_limited(app: &TestApp) -> Reply {
    for _ in 0..5 {
        let reply = app.get("/v1/customers").await;
        if reply.status == 429 {
            return reply;
        }
    }
    panic!("five requests in a row were never rate limited");
}
