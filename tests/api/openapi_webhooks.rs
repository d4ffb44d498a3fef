//! Real webhook responses (endpoints, attempts, resends and their errors) validated against the
//! schemas the OpenAPI document declares for their operation and status.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::contract::Contract;
use crate::helpers::{Backend, Reply, TestApp};
use crate::receiver::{Answer, Receiver};
use crate::webhooks::{create_endpoint, dispatcher};

backend_tests!(
    webhook_endpoint_responses_match_the_document,
    the_secret_is_documented_in_the_create_response_only,
    attempt_and_resend_responses_match_the_document,
    endpoint_error_responses_match_the_document,
    attempt_and_resend_error_responses_match_the_document,
);

const ENDPOINTS: &str = "/v1/webhook_endpoints";
const ENDPOINT: &str = "/v1/webhook_endpoints/{id}";
const ATTEMPTS: &str = "/v1/webhook_endpoints/{id}/attempts";
const RESEND: &str = "/v1/events/{id}/resend";
const CREATE: (&str, &str) = ("POST", ENDPOINTS);
const LIST: (&str, &str) = ("GET", ENDPOINTS);
const RETRIEVE: (&str, &str) = ("GET", ENDPOINT);
const UPDATE: (&str, &str) = ("PATCH", ENDPOINT);
const DELETE: (&str, &str) = ("DELETE", ENDPOINT);
const LIST_ATTEMPTS: (&str, &str) = ("GET", ATTEMPTS);
const RESEND_EVENT: (&str, &str) = ("POST", RESEND);
const MISSING_ENDPOINT: &str = "we_0193a6f2-7c1e-7b3a-9f00-4a2b3c4d5e6f";

async fn webhook_endpoint_responses_match_the_document(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let contract = Contract::fetch(&app, "/v1/openapi.json").await;
    let full = json!({"url": "http://127.0.0.1:9/hook", "enabled_events": ["customer.created"],
                      "description": "CRM sync"});

    let sparse = app
        .post(
            ENDPOINTS,
            json!({"url": "http://127.0.0.1:9/all", "enabled_events": ["*"]}),
        )
        .await;
    let created = app.post(ENDPOINTS, full).await;
    let path = format!("{ENDPOINTS}/{}", created.body["id"].as_str().unwrap());
    let retrieved = app.get(&path).await;
    let page = app.get("/api/v1/webhook_endpoints?limit=1").await;
    let disabled = app.patch(&path, json!({"status": "disabled"})).await;
    let enabled = app.patch(&path, json!({"status": "enabled"})).await;
    let changed = app
        .patch(
            &path,
            json!({"url": "http://127.0.0.1:9/new", "description": null,
                             "enabled_events": ["customer.updated", "customer.created"]}),
        )
        .await;
    let deleted = app.delete(&path).await;

    for reply in [&sparse, &created] {
        contract.assert_reply("POST", ENDPOINTS, reply);
    }
    contract.assert_reply("GET", ENDPOINT, &retrieved);
    for reply in [&disabled, &enabled, &changed] {
        contract.assert_reply("PATCH", ENDPOINT, reply);
    }
    contract.assert_reply("GET", ENDPOINTS, &page);
    contract.assert_reply("DELETE", ENDPOINT, &deleted);
    assert_eq!(
        (created.status, sparse.status, deleted.status),
        (201, 201, 200)
    );
    assert_eq!(sparse.body["description"], Value::Null);
    assert_eq!(page.body["has_more"], true);
    assert_eq!(
        (&disabled.body["status"], &disabled.body["disabled_reason"]),
        (&json!("disabled"), &json!("requested"))
    );
    assert!(disabled.body["disabled_at"].is_string());
    assert_eq!(
        (&enabled.body["status"], &enabled.body["disabled_at"]),
        (&json!("enabled"), &Value::Null)
    );
    assert_eq!(changed.body["description"], Value::Null);
    assert_eq!(deleted.body["deleted"], true);
}

async fn the_secret_is_documented_in_the_create_response_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let contract = Contract::fetch(&app, "/v1/openapi.json").await;
    let created = app
        .post(
            ENDPOINTS,
            json!({"url": "http://127.0.0.1:9/hook", "enabled_events": ["*"]}),
        )
        .await;

    let mut without_secret = created.body.clone();
    without_secret.as_object_mut().unwrap().remove("secret");
    let mut bad_secret = created.body.clone();
    bad_secret["secret"] = json!("hunter2");

    contract.assert_reply("POST", ENDPOINTS, &created);
    assert!(
        created.body["secret"]
            .as_str()
            .unwrap()
            .starts_with("whsec_")
    );
    for (method, path, status) in [("GET", ENDPOINT, 200), ("PATCH", ENDPOINT, 200)] {
        let violations = contract.violations(method, path, status, &created.body);
        assert!(
            violations.iter().any(|v| v.contains("secret")),
            "{method} {path}: {violations:?}"
        );
        contract.assert_valid(method, path, status, &without_secret);
    }
    assert!(
        !contract
            .violations("POST", ENDPOINTS, 201, &without_secret)
            .is_empty()
    );
    assert!(
        !contract
            .violations("POST", ENDPOINTS, 201, &bad_secret)
            .is_empty()
    );
}

async fn attempt_and_resend_responses_match_the_document(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let contract = Contract::fetch(&app, "/v1/openapi.json").await;
    let receiver = Receiver::start(Answer::Status(204)).await;
    let (id, _) = create_endpoint(&app, &receiver.url("/hook"), json!(["*"])).await;
    app.create_customer(json!({"full_name": "Jane Doe"})).await;
    let dispatcher = dispatcher(&app, "1h");
    assert_eq!(dispatcher.deliver_due().await.unwrap(), 1);
    let event = receiver.received()[0].json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let attempts = format!("{ENDPOINTS}/{id}/attempts");

    let delivered = app.get(&attempts).await;
    receiver.answer(Answer::Status(500));
    let resend = format!("/v1/events/{event}/resend");
    let to_one = app.post(&resend, json!({"endpoint": id})).await;
    assert_eq!(dispatcher.deliver_due().await.unwrap(), 1);
    let failed = app.get(&format!("{attempts}?limit=1")).await;
    let without_body = Reply::of(
        app.client
            .post(app.url(&resend))
            .bearer_auth(&app.key)
            .send()
            .await
            .unwrap(),
    )
    .await;

    contract.assert_reply("GET", ATTEMPTS, &delivered);
    contract.assert_reply("GET", ATTEMPTS, &failed);
    contract.assert_reply("POST", RESEND, &to_one);
    contract.assert_reply("POST", RESEND, &without_body);
    let first = &delivered.body["data"][0];
    assert_eq!(
        (
            &first["succeeded"],
            &first["status_code"],
            &first["next_attempt_at"]
        ),
        (&json!(true), &json!(204), &Value::Null)
    );
    let retrying = &failed.body["data"][0];
    assert_eq!(
        (&retrying["succeeded"], &retrying["status_code"]),
        (&json!(false), &json!(500))
    );
    assert!(retrying["next_attempt_at"].is_string(), "{retrying}");
    assert_eq!(failed.body["has_more"], true);
    assert_eq!(
        to_one.body,
        json!({"object": "event_resend", "event": event, "endpoints": [id]})
    );
    assert_eq!(without_body.body["endpoints"], json!([id]));
}

async fn endpoint_error_responses_match_the_document(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let contract = Contract::fetch(&app, "/v1/openapi.json").await;
    let missing = format!("{ENDPOINTS}/{MISSING_ENDPOINT}");
    let unknown_type =
        json!({"url": "http://127.0.0.1:9/", "enabled_events": ["customer.deleted"]});
    let by_reader = app.send_json(Method::POST, ENDPOINTS, &app.read_key, json!({}));
    let bad_status = json!({"status": "paused"});

    let cases = [
        (
            CREATE,
            app.post(ENDPOINTS, unknown_type).await,
            400,
            "parameter_invalid",
            Some("enabled_events"),
        ),
        (CREATE, by_reader.await, 403, "scope_insufficient", None),
        (
            LIST,
            app.get("/v1/webhook_endpoints?limit=0").await,
            400,
            "parameter_invalid",
            Some("limit"),
        ),
        (
            UPDATE,
            app.patch(&missing, bad_status).await,
            400,
            "parameter_invalid",
            Some("status"),
        ),
        (
            RETRIEVE,
            app.get(&missing).await,
            404,
            "resource_missing",
            Some("id"),
        ),
        (
            UPDATE,
            app.patch(&missing, json!({})).await,
            404,
            "resource_missing",
            Some("id"),
        ),
        (
            DELETE,
            app.delete(&missing).await,
            404,
            "resource_missing",
            Some("id"),
        ),
    ];

    for ((method, path), reply, status, code, param) in cases {
        reply.assert_error(status, code, param);
        contract.assert_reply(method, path, &reply);
    }
}

async fn attempt_and_resend_error_responses_match_the_document(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let contract = Contract::fetch(&app, "/v1/openapi.json").await;
    let attempts = format!("{ENDPOINTS}/{MISSING_ENDPOINT}/attempts");
    let no_event = "/v1/events/evt_nope/resend";
    let text = br#"{"endpoint": "we_x"}"#.to_vec();

    let not_text = app.get(&format!("{ENDPOINTS}/%FF/attempts")).await;
    let message = not_text.body["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("'%FF'"), "{message}");
    let as_text = app.send_raw(Method::POST, no_event, "text/plain", text);
    let cases = [
        (LIST_ATTEMPTS, not_text, 404, "resource_missing", Some("id")),
        (
            LIST_ATTEMPTS,
            app.get(&attempts).await,
            404,
            "resource_missing",
            Some("id"),
        ),
        (
            RESEND_EVENT,
            app.post(no_event, json!({})).await,
            404,
            "resource_missing",
            Some("id"),
        ),
        (
            RESEND_EVENT,
            as_text.await,
            415,
            "content_type_invalid",
            None,
        ),
    ];

    for ((method, path), reply, status, code, param) in cases {
        reply.assert_error(status, code, param);
        contract.assert_reply(method, path, &reply);
    }
}
