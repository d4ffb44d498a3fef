//! `/v1/webhook_endpoints` through the real router: creation, the secret shown once, the rules
//! on URLs and event types, the address guard, scoping, updates and deletes. Delivery is in
//! `delivery`; the real binary (a backlog across SIGKILL, the CLI) is in `binary`.

mod binary;
mod delivery;
mod idempotency;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use renvo::domain::WebhookEndpointId;
use renvo::domain::timestamp::Timestamp;
use renvo::store::webhooks::ClaimRequest;
use renvo::webhook::guard::AddressGuard;
use renvo::webhook::{Dispatcher, DispatcherConfig};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::receiver::Received;

backend_tests!(
    an_endpoint_is_created_and_its_secret_is_shown_only_then,
    unknown_event_types_and_bad_urls_are_refused_naming_the_field,
    urls_at_non_public_addresses_are_refused_at_creation,
    endpoints_are_scoped_and_a_read_key_cannot_manage_them,
    an_endpoint_is_updated_and_deleted,
    endpoint_lists_follow_the_list_rules,
    a_claim_leaves_the_rows_of_endpoints_it_is_told_to_skip
);

/// Creates an endpoint and answers its id and secret.
pub async fn create_endpoint(app: &TestApp, url: &str, events: Value) -> (String, String) {
    let reply = app
        .post(
            "/v1/webhook_endpoints",
            json!({"url": url, "enabled_events": events}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.body["id"].as_str().unwrap().to_owned();
    (id, reply.body["secret"].as_str().unwrap().to_owned())
}

/// A dispatcher over the app's store with a short timeout and the given retry schedule.
pub fn dispatcher(app: &TestApp, schedule: &str) -> Arc<Dispatcher> {
    let config = DispatcherConfig {
        schedule: schedule.parse().unwrap(),
        guard: AddressGuard {
            allow_private: true,
        },
        timeout: Duration::from_millis(800),
        ..DispatcherConfig::default()
    };
    Dispatcher::new(app.store.clone(), config, app.dispatcher.clone()).unwrap()
}

/// Checks a delivery with the Standard Webhooks library and, independently, `Renvo-Signature`.
pub fn assert_signed(received: &Received, secret: &str) {
    let verifier = standardwebhooks::Webhook::new(secret).unwrap();
    verifier
        .verify(&received.body, &received.headers)
        .expect("the Standard Webhooks signature verifies");

    let renvo = received.header("renvo-signature");
    let (t, v1) = renvo
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
        .expect("Renvo-Signature is t=…,v1=…");
    assert_eq!(t, received.header("webhook-timestamp"));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&received.body);
    assert_eq!(v1, hex::encode(mac.finalize().into_bytes()));
}

async fn an_endpoint_is_created_and_its_secret_is_shown_only_then(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let reply = app
        .post(
            "/v1/webhook_endpoints",
            json!({"url": "https://hooks.example.com/renvo", "enabled_events": ["customer.created"],
                   "description": "CRM sync"}),
        )
        .await;

    assert_eq!(reply.status, 201, "{}", reply.body);
    let created = &reply.body;
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("we_") && id.len() == 39, "{id}");
    assert_eq!(created["object"], "webhook_endpoint");
    assert_eq!(created["livemode"], false);
    assert_eq!(created["url"], "https://hooks.example.com/renvo");
    assert_eq!(created["description"], "CRM sync");
    assert_eq!(created["enabled_events"], json!(["customer.created"]));
    assert_eq!(created["status"], "enabled");
    assert_eq!(created["disabled_reason"], Value::Null);
    assert_eq!(created["disabled_at"], Value::Null);
    let secret = created["secret"].as_str().unwrap();
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    assert_eq!(key.len(), 32);

    let fetched = app.get(&format!("/v1/webhook_endpoints/{id}")).await;
    assert_eq!(fetched.status, 200);
    assert!(fetched.body.get("secret").is_none(), "{}", fetched.body);
    let listed = app.get("/api/v1/webhook_endpoints").await;
    assert_eq!(listed.body["data"][0]["id"], id);
    assert!(listed.body["data"][0].get("secret").is_none());
}

async fn unknown_event_types_and_bad_urls_are_refused_naming_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let url = "https://hooks.example.com/";
    let cases = [
        (
            json!({"url": url, "enabled_events": ["customer.deleted"]}),
            "parameter_invalid",
            "enabled_events",
        ),
        (
            json!({"url": url, "enabled_events": []}),
            "parameter_invalid",
            "enabled_events",
        ),
        (
            json!({"url": url, "enabled_events": "*"}),
            "parameter_invalid",
            "enabled_events",
        ),
        (json!({"url": url}), "parameter_missing", "enabled_events"),
        (json!({"enabled_events": ["*"]}), "parameter_missing", "url"),
        (
            json!({"url": "ftp://x.example/", "enabled_events": ["*"]}),
            "parameter_invalid",
            "url",
        ),
        (
            json!({"url": url, "enabled_events": ["*"], "secret": "x"}),
            "parameter_unknown",
            "secret",
        ),
        (
            json!({"url": url, "enabled_events": ["*"], "colour": 1}),
            "parameter_unknown",
            "colour",
        ),
    ];
    for (body, code, param) in cases {
        let reply = app.post("/v1/webhook_endpoints", body.clone()).await;
        reply.assert_error(400, code, Some(param));
    }

    let live = app
        .send_json(
            reqwest::Method::POST,
            "/v1/webhook_endpoints",
            &app.live_key,
            json!({"url": "http://hooks.example.com/", "enabled_events": ["*"]}),
        )
        .await;
    live.assert_error(400, "parameter_invalid", Some("url"));
    assert!(
        live.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("https")
    );
}

async fn urls_at_non_public_addresses_are_refused_at_creation(backend: Backend) {
    let app = TestApp::spawn_strict(backend).await;

    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost:8080/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.7/hook",
        "http://192.168.1.1/hook",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
        "http://[fd00::1]/hook",
        "http://2130706433/hook",
    ] {
        let reply = app
            .post(
                "/v1/webhook_endpoints",
                json!({"url": url, "enabled_events": ["*"]}),
            )
            .await;
        reply.assert_error(400, "parameter_invalid", Some("url"));
    }
    let public = app
        .post(
            "/v1/webhook_endpoints",
            json!({"url": "https://8.8.8.8/hook", "enabled_events": ["*"]}),
        )
        .await;
    assert_eq!(public.status, 201, "{}", public.body);
}

async fn endpoints_are_scoped_and_a_read_key_cannot_manage_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, _) = create_endpoint(&app, "https://hooks.example.com/", json!(["*"])).await;
    let path = format!("/v1/webhook_endpoints/{id}");

    let by_reader = app
        .send_json(
            reqwest::Method::POST,
            "/v1/webhook_endpoints",
            &app.read_key,
            json!({"url": "https://hooks.example.com/", "enabled_events": ["*"]}),
        )
        .await;
    by_reader.assert_error(403, "scope_insufficient", None);
    assert_eq!(app.get_with(&path, &app.read_key).await.status, 200);

    let other = app.other_account_key().await;
    app.get_with(&path, &other)
        .await
        .assert_error(404, "resource_missing", Some("id"));
    app.get_with(&path, &app.live_key)
        .await
        .assert_error(404, "resource_missing", Some("id"));
    let others_list = app.get_with("/v1/webhook_endpoints", &other).await;
    assert_eq!(others_list.body["data"], json!([]));
}

async fn an_endpoint_is_updated_and_deleted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, _) = create_endpoint(&app, "https://hooks.example.com/", json!(["*"])).await;
    let path = format!("/v1/webhook_endpoints/{id}");

    let updated = app
        .patch(
            &path,
            json!({"url": "https://other.example.com/in", "enabled_events": ["customer.updated"],
                   "description": "new"}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["url"], "https://other.example.com/in");
    assert_eq!(updated.body["enabled_events"], json!(["customer.updated"]));
    assert_eq!(updated.body["description"], "new");

    let disabled = app.patch(&path, json!({"status": "disabled"})).await;
    assert_eq!(disabled.body["status"], "disabled");
    assert_eq!(disabled.body["disabled_reason"], "requested");
    app.patch(&path, json!({"status": "paused"}))
        .await
        .assert_error(400, "parameter_invalid", Some("status"));

    let deleted = app.delete(&path).await;
    assert_eq!(deleted.status, 200);
    assert_eq!(
        deleted.body,
        json!({"id": id, "object": "webhook_endpoint", "deleted": true})
    );
    app.get(&path)
        .await
        .assert_error(404, "resource_missing", Some("id"));
    app.delete(&path)
        .await
        .assert_error(404, "resource_missing", Some("id"));
}

async fn endpoint_lists_follow_the_list_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let url = format!("https://hooks{n}.example.com/");
        ids.push(create_endpoint(&app, &url, json!(["*"])).await.0);
    }

    let first = app.get("/v1/webhook_endpoints?limit=2").await;
    assert_eq!(first.body["object"], "list");
    assert_eq!(first.body["has_more"], true);
    let page: Vec<_> = first.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].clone())
        .collect();
    assert_eq!(page, vec![json!(ids[2]), json!(ids[1])]);
    assert_eq!(first.body["next_cursor"], json!(ids[1]));

    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app
        .get(&format!(
            "/v1/webhook_endpoints?limit=2&starting_after={cursor}"
        ))
        .await;
    assert_eq!(second.body["data"][0]["id"], json!(ids[0]));
    assert_eq!(second.body["has_more"], false);
    assert_eq!(second.body["next_cursor"], Value::Null);

    app.get("/v1/webhook_endpoints?limit=0").await.assert_error(
        400,
        "parameter_invalid",
        Some("limit"),
    );
    app.get("/v1/webhook_endpoints?starting_after=cu_x")
        .await
        .assert_error(400, "parameter_invalid", Some("starting_after"));
}

async fn a_claim_leaves_the_rows_of_endpoints_it_is_told_to_skip(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (busy, _) = create_endpoint(&app, "http://127.0.0.1:9/busy", json!(["*"])).await;
    let (free, _) = create_endpoint(&app, "http://127.0.0.1:9/free", json!(["*"])).await;
    app.create_customer(json!({"full_name": "Jane Doe"})).await;
    let now = Timestamp::now();
    let claim = |skip: Vec<WebhookEndpointId>| ClaimRequest {
        now,
        lease_until: now.plus_millis(60_000),
        limit: 10,
        skip_endpoints: skip,
    };

    let busy_id = WebhookEndpointId::parse(&busy).unwrap();
    let first = app
        .store
        .claim_webhook_deliveries(claim(vec![busy_id]))
        .await
        .unwrap();
    let second = app
        .store
        .claim_webhook_deliveries(claim(vec![]))
        .await
        .unwrap();

    assert_eq!(first.len(), 1);
    assert_eq!(first[0].endpoint.to_string(), free);
    assert_eq!(
        second.len(),
        1,
        "the skipped row stayed due; the claimed one is leased"
    );
    assert_eq!(second[0].endpoint, busy_id);
}
