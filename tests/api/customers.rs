//! `/v1/customers`: create, retrieve and update through the real router.

use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::raw_http;

backend_tests!(
    a_created_customer_has_every_field_and_the_server_defaults,
    a_customer_created_with_every_field_shows_each_in_its_stored_form,
    a_customer_is_retrieved_by_prefixed_or_bare_id_in_any_letter_case,
    ids_of_any_other_shape_are_404_resource_missing,
    dot_segments_and_nul_bytes_in_the_path_are_404_resource_missing,
    an_update_changes_only_the_fields_it_names,
    every_writable_field_can_be_updated_through_a_bare_uuid_path,
    null_clears_each_optional_field_and_puts_the_language_back_to_en,
    an_empty_patch_answers_the_customer_unchanged,
    a_null_full_name_is_refused_and_changes_nothing,
    a_well_formed_id_that_does_not_exist_is_404_on_retrieve_and_update,
);

/// Timestamps look like `2026-12-04T15:01:34.123Z`.
fn assert_wire_time(value: &Value) {
    let text = value.as_str().expect("a string time");
    assert_eq!(text.len(), 24, "{text}");
    assert!(text.ends_with('Z') && text.as_bytes()[10] == b'T', "{text}");
    assert_eq!(&text[19..20], ".", "{text}");
}

async fn a_created_customer_has_every_field_and_the_server_defaults(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let reply = app
        .post(
            "/v1/customers",
            json!({"full_name": "  Jane Doe ", "phone": "+1 (415) 555-0100"}),
        )
        .await;

    assert_eq!(reply.status, 201, "{}", reply.body);
    let customer = &reply.body;
    let id = customer["id"].as_str().unwrap();
    assert!(id.starts_with("cu_") && id.len() == 39, "{id}");
    assert_eq!(&id[17..18], "7", "a UUIDv7: {id}");
    let fields: Vec<&str> = customer
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        fields,
        [
            "id",
            "object",
            "livemode",
            "full_name",
            "email",
            "phone",
            "preferred_language",
            "source_channel",
            "notes",
            "is_returning",
            "total_rentals",
            "overall_score",
            "created_at",
            "updated_at"
        ]
    );
    assert_eq!(customer["object"], "customer");
    assert_eq!(customer["livemode"], false);
    assert_eq!(customer["full_name"], "Jane Doe");
    assert_eq!(customer["email"], json!(null));
    assert_eq!(customer["phone"], "+14155550100");
    assert_eq!(customer["preferred_language"], "en");
    assert_eq!(customer["source_channel"], json!(null));
    assert_eq!(customer["notes"], json!(null));
    assert_eq!(customer["is_returning"], false);
    assert_eq!(customer["total_rentals"], 0);
    assert_eq!(customer["overall_score"], 50.0);
    assert_wire_time(&customer["created_at"]);
    assert_eq!(customer["created_at"], customer["updated_at"]);
}

async fn a_customer_created_with_every_field_shows_each_in_its_stored_form(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let customer = app
        .create_customer(json!({
            "full_name": "Zhang Wei",
            "email": " Zhang.Wei@Example.com ",
            "phone": "+1 415.555.0100",
            "preferred_language": "zh-hant-tw",
            "source_channel": "  airbnb ",
            "notes": "Prefers SMS.\nPays upfront.",
        }))
        .await;

    assert_eq!(customer["full_name"], "Zhang Wei");
    assert_eq!(customer["email"], "Zhang.Wei@Example.com");
    assert_eq!(customer["phone"], "+14155550100");
    assert_eq!(customer["preferred_language"], "zh-Hant-TW");
    assert_eq!(customer["source_channel"], "airbnb");
    assert_eq!(customer["notes"], "Prefers SMS.\nPays upfront.");
    let id = customer["id"].as_str().unwrap();
    assert_eq!(app.get(&format!("/v1/customers/{id}")).await.body, customer);
}

async fn a_customer_is_retrieved_by_prefixed_or_bare_id_in_any_letter_case(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = app.create_customer(json!({"full_name": "Jane Doe"})).await;
    let id = created["id"].as_str().unwrap();

    for path_id in [
        id.to_owned(),
        id.to_uppercase(),
        id[3..].to_owned(),
        id[3..].to_uppercase(),
    ] {
        for base in ["/v1", "/api/v1"] {
            let reply = app.get(&format!("{base}/customers/{path_id}")).await;
            assert_eq!(reply.status, 200, "{path_id}: {}", reply.body);
            assert_eq!(reply.body, created, "{path_id}");
        }
    }
}

async fn ids_of_any_other_shape_are_404_resource_missing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = app.create_customer(json!({"full_name": "Jane Doe"})).await;
    let uuid = &created["id"].as_str().unwrap()[3..];
    let long = "x".repeat(1000);
    let shapes = [
        "cu_x".to_owned(),
        "%00".to_owned(),
        "%FF%FE".to_owned(),
        long,
        format!("evt_{uuid}"),
        format!("cu_{}", uuid.replace('-', "")),
        format!("%7B{uuid}%7D"),
        format!("cu_{uuid}x"),
        format!("cu__{uuid}"),
        "%F0%9F%92%A5".to_owned(),
    ];

    for shape in shapes {
        let path = format!("/v1/customers/{shape}");
        let retrieved = app.get(&path).await;
        retrieved.assert_error(404, "resource_missing", Some("id"));
        assert_eq!(retrieved.body["error"]["type"], "not_found");
        let updated = app.patch(&path, json!({"notes": "x"})).await;
        updated.assert_error(404, "resource_missing", Some("id"));
    }
    assert_eq!(
        app.get(&format!("/v1/customers/{uuid}")).await.body,
        created
    );
}

async fn dot_segments_and_nul_bytes_in_the_path_are_404_resource_missing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let host = raw_http::authority(&app.address).to_owned();

    for target in [
        "/v1/customers/..",
        "/v1/customers/.",
        "/v1/customers/%2e%2e",
        "/v1/customers/%00",
    ] {
        let head = format!(
            "GET {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}",
            app.key
        );
        let reply = raw_http::send(&app.address, &head, b"").await;

        assert_eq!(reply.status, 404, "{target}: {}", reply.body);
        assert_eq!(reply.body["error"]["code"], "resource_missing", "{target}");
        assert_eq!(reply.body["error"]["param"], "id", "{target}");
        assert_eq!(reply.header("content-type"), Some("application/json"));
    }
}

async fn an_update_changes_only_the_fields_it_names(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = app
        .create_customer(json!({
            "full_name": "Jane Doe", "email": "jane@example.com", "phone": "+14155550100",
            "preferred_language": "fr", "source_channel": "web", "notes": "first",
        }))
        .await;
    let id = created["id"].as_str().unwrap();

    let reply = app
        .patch(
            &format!("/v1/customers/{id}"),
            json!({"email": "new@example.com"}),
        )
        .await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    let mut expected = created.clone();
    expected["email"] = json!("new@example.com");
    expected["updated_at"] = reply.body["updated_at"].clone();
    assert_eq!(reply.body, expected);
    assert_wire_time(&reply.body["updated_at"]);
    assert!(reply.body["updated_at"].as_str() >= created["updated_at"].as_str());
    assert_eq!(app.get(&format!("/v1/customers/{id}")).await.body, expected);
}

async fn every_writable_field_can_be_updated_through_a_bare_uuid_path(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = app.create_customer(json!({"full_name": "Jane Doe"})).await;
    let id = created["id"].as_str().unwrap();

    let reply = app
        .patch(
            &format!("/api/v1/customers/{}", id[3..].to_uppercase()),
            json!({
                "full_name": " Jane Smith ", "email": "jane@example.com",
                "phone": "+1 415 555 0101", "preferred_language": "zh-hans-cn",
                "source_channel": "referral", "notes": "VIP",
            }),
        )
        .await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    let customer = &reply.body;
    assert_eq!(customer["id"], id);
    assert_eq!(customer["full_name"], "Jane Smith");
    assert_eq!(customer["email"], "jane@example.com");
    assert_eq!(customer["phone"], "+14155550101");
    assert_eq!(customer["preferred_language"], "zh-Hans-CN");
    assert_eq!(customer["source_channel"], "referral");
    assert_eq!(customer["notes"], "VIP");
    assert_eq!(customer["created_at"], created["created_at"]);
}

async fn null_clears_each_optional_field_and_puts_the_language_back_to_en(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = app
        .create_customer(json!({
            "full_name": "Jane Doe", "email": "jane@example.com", "phone": "+14155550100",
            "preferred_language": "de", "source_channel": "web", "notes": "n",
        }))
        .await;
    let id = created["id"].as_str().unwrap();

    let reply = app
        .patch(
            &format!("/v1/customers/{id}"),
            json!({"email": null, "phone": null, "preferred_language": null,
                   "source_channel": null, "notes": null}),
        )
        .await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    let customer = &reply.body;
    assert_eq!(customer["full_name"], "Jane Doe");
    for field in ["email", "phone", "source_channel", "notes"] {
        assert_eq!(customer[field], json!(null), "{field}");
    }
    assert_eq!(customer["preferred_language"], "en");
    assert_eq!(
        &app.get(&format!("/v1/customers/{id}")).await.body,
        customer
    );
}

async fn an_empty_patch_answers_the_customer_unchanged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = app
        .create_customer(json!({"full_name": "Jane Doe", "email": "jane@example.com"}))
        .await;
    let id = created["id"].as_str().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;

    let reply = app.patch(&format!("/v1/customers/{id}"), json!({})).await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body, created, "updated_at moves only on a change");
    assert_eq!(app.get(&format!("/v1/customers/{id}")).await.body, created);
}

async fn a_null_full_name_is_refused_and_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = app.create_customer(json!({"full_name": "Jane Doe"})).await;
    let id = created["id"].as_str().unwrap();

    let reply = app
        .patch(
            &format!("/v1/customers/{id}"),
            json!({"full_name": null, "email": "jane@example.com"}),
        )
        .await;

    reply.assert_error(400, "parameter_invalid", Some("full_name"));
    assert_eq!(reply.body["error"]["type"], "invalid_request_error");
    assert_eq!(app.get(&format!("/v1/customers/{id}")).await.body, created);
}

async fn a_well_formed_id_that_does_not_exist_is_404_on_retrieve_and_update(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let missing = "cu_0193a6f2-7c1e-7b3a-9f00-4a2b3c4d5e6f";

    let retrieved = app.get(&format!("/v1/customers/{missing}")).await;
    let updated = app
        .patch(&format!("/v1/customers/{missing}"), json!({"notes": "x"}))
        .await;

    retrieved.assert_error(404, "resource_missing", Some("id"));
    assert_eq!(
        retrieved.body["error"]["message"],
        format!("No such customer: '{missing}'")
    );
    updated.assert_error(404, "resource_missing", Some("id"));
    assert_eq!(app.customer_count().await, 0);
}
