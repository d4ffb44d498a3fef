//! API keys on the wire: the one 401, scopes, modes and accounts that never meet, the rate
//! limit, last-used times, and keys kept only as hashes.

use std::time::Duration;

use renvo::domain::Mode;
use renvo::domain::key::Scope;
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, Reply, TestApp};

backend_tests!(
    missing_malformed_unknown_and_revoked_keys_all_get_the_same_401,
    a_key_in_use_is_refused_from_the_request_after_its_revocation,
    the_bearer_scheme_is_read_in_any_letter_case,
    a_read_key_can_list_and_retrieve_but_not_write,
    live_and_test_keys_never_see_each_others_customers,
    another_accounts_customer_is_404_never_403,
    a_key_over_its_rate_limit_is_answered_429_with_retry_after,
    a_request_records_when_its_key_was_last_used,
    a_key_is_stored_only_as_a_hash,
);

async fn a_key_in_use_is_refused_from_the_request_after_its_revocation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (key, secret) = app
        .store
        .create_api_key(app.account, Mode::Test, Scope::ReadWrite)
        .await
        .unwrap();
    let header = format!("Bearer {}", secret.expose());

    // Enough uses that any per-connection memory of the key is warm.
    for _ in 0..5 {
        let used = send_with_authorization(&app, Some(&header)).await;
        assert_eq!(used.status, 200, "{}", used.body);
    }
    assert!(app.store.revoke_api_key(key.id).await.unwrap());
    let refused = send_with_authorization(&app, Some(&header)).await;

    refused.assert_error(401, "api_key_invalid", None);
    let other = send_with_authorization(&app, Some(&format!("Bearer {}", app.key))).await;
    assert_eq!(
        other.status, 200,
        "other keys are untouched: {}",
        other.body
    );
}

async fn send_with_authorization(app: &TestApp, authorization: Option<&str>) -> Reply {
    let mut request = app.client.get(app.url("/v1/customers"));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    Reply::of(request.send().await.unwrap()).await
}

async fn missing_malformed_unknown_and_revoked_keys_all_get_the_same_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (revoked, secret) = app
        .store
        .create_api_key(app.account, Mode::Test, Scope::ReadWrite)
        .await
        .unwrap();
    assert!(app.store.revoke_api_key(revoked.id).await.unwrap());
    let revoked_header = format!("Bearer {}", secret.expose());
    let unknown_header = format!("Bearer rv_test_{}", "a".repeat(32));
    let attempts = [
        None,
        Some("Bearer"),
        Some("Bearer rv_test_short"),
        Some("Basic dXNlcjpwYXNz"),
        Some(app.key.as_str()),
        Some(unknown_header.as_str()),
        Some(revoked_header.as_str()),
    ];

    for authorization in attempts {
        let reply = send_with_authorization(&app, authorization).await;
        assert_eq!(reply.status, 401, "{authorization:?}");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
        let mut error = reply.body["error"].clone();
        assert!(error["request_id"].as_str().unwrap().starts_with("req_"));
        error["request_id"] = json!(null);
        assert_eq!(
            error,
            json!({"type": "authentication_error", "message": "Invalid API key.",
                   "code": "api_key_invalid", "request_id": null}),
            "{authorization:?}"
        );
    }
}

async fn the_bearer_scheme_is_read_in_any_letter_case(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let header = format!("{scheme} {}", app.key);
        let reply = send_with_authorization(&app, Some(&header)).await;
        assert_eq!(reply.status, 200, "{scheme}: {}", reply.body);
    }
}

async fn a_read_key_can_list_and_retrieve_but_not_write(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer(json!({"full_name": "Jane"})).await;
    let path = format!("/v1/customers/{}", customer["id"].as_str().unwrap());
    let body = json!({"full_name": "Mallory"});

    let created = app
        .send_json(
            reqwest::Method::POST,
            "/v1/customers",
            &app.read_key,
            body.clone(),
        )
        .await;
    let updated = app
        .send_json(reqwest::Method::PATCH, &path, &app.read_key, body)
        .await;

    for reply in [created, updated] {
        reply.assert_error(403, "scope_insufficient", None);
        assert_eq!(reply.body["error"]["type"], "permission_error");
    }
    assert_eq!(app.get_with(&path, &app.read_key).await.body, customer);
    assert_eq!(app.customer_ids(&app.read_key).await.len(), 1);
}

async fn live_and_test_keys_never_see_each_others_customers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let test = app.create_customer(json!({"full_name": "Test Jane"})).await;
    let live = app
        .send_json(
            reqwest::Method::POST,
            "/v1/customers",
            &app.live_key,
            json!({"full_name": "Live Jane"}),
        )
        .await
        .body;
    let test_path = format!("/v1/customers/{}", test["id"].as_str().unwrap());
    let live_path = format!("/v1/customers/{}", live["id"].as_str().unwrap());

    assert_eq!(live["livemode"], true);
    assert_eq!(test["livemode"], false);
    app.get_with(&test_path, &app.live_key)
        .await
        .assert_error(404, "resource_missing", Some("id"));
    app.get(&live_path)
        .await
        .assert_error(404, "resource_missing", Some("id"));
    app.patch(&live_path, json!({"notes": "x"}))
        .await
        .assert_error(404, "resource_missing", Some("id"));
    assert_eq!(app.get_with(&live_path, &app.live_key).await.body, live);
}

async fn another_accounts_customer_is_404_never_403(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let customer = app.create_customer(json!({"full_name": "Jane"})).await;
    let path = format!("/v1/customers/{}", customer["id"].as_str().unwrap());
    let other_key = app.other_account_key().await;

    let retrieved = app.get_with(&path, &other_key).await;
    let updated = app
        .send_json(
            reqwest::Method::PATCH,
            &path,
            &other_key,
            json!({"notes": "x"}),
        )
        .await;

    retrieved.assert_error(404, "resource_missing", Some("id"));
    updated.assert_error(404, "resource_missing", Some("id"));
    assert_eq!(app.get(&path).await.body, customer);
}

async fn a_key_over_its_rate_limit_is_answered_429_with_retry_after(backend: Backend) {
    let app = std::sync::Arc::new(TestApp::spawn_with_rate_limit(backend, 5).await);

    let burst: Vec<_> = (0..15)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.get("/v1/customers").await })
        })
        .collect();
    let mut replies = Vec::new();
    for request in burst {
        replies.push(request.await.unwrap());
    }
    let other_key = app.get_with("/v1/customers", &app.read_key).await;

    let allowed = replies.iter().filter(|r| r.status == 200).count();
    let limited: Vec<&Reply> = replies.iter().filter(|r| r.status == 429).collect();
    assert_eq!(allowed + limited.len(), 15);
    assert!(
        (5..=10).contains(&allowed),
        "a burst of 5, then 5 per second: {allowed}"
    );
    for reply in limited {
        reply.assert_error(429, "rate_limited", None);
        assert_eq!(reply.body["error"]["type"], "rate_limit_error");
        let retry_after: u64 = reply.header("retry-after").unwrap().parse().unwrap();
        assert_eq!(retry_after, 1);
    }
    assert_eq!(other_key.status, 200, "the limit is per key");
}

async fn a_request_records_when_its_key_was_last_used(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (key, secret) = app
        .store
        .create_api_key(app.account, Mode::Test, Scope::Read)
        .await
        .unwrap();
    assert_eq!(key.last_used_at, None);

    let reply = app.get_with("/v1/customers", secret.expose()).await;
    assert_eq!(reply.status, 200);

    for _ in 0..50 {
        let keys = app.store.list_api_keys(app.account).await.unwrap();
        let listed = keys.iter().find(|k| k.id == key.id).unwrap();
        if let Some(at) = listed.last_used_at {
            assert!(at >= key.created_at);
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("last_used_at was not recorded within a second");
}

async fn a_key_is_stored_only_as_a_hash(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let Some(file) = app.sqlite_file() else {
        return;
    };
    app.create_customer(json!({"full_name": "Jane"})).await;

    let mut stored = Vec::new();
    for suffix in ["", "-wal"] {
        let path = format!("{}{suffix}", file.display());
        stored.extend(std::fs::read(&path).unwrap_or_default());
    }

    assert!(stored.len() > 4096);
    for key in [&app.key, &app.read_key, &app.live_key] {
        let secret_part = &key.as_bytes()[8..];
        assert!(
            !stored.windows(secret_part.len()).any(|w| w == secret_part),
            "a key's secret is in the database file"
        );
    }
}
