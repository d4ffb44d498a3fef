//! Rejected customer writes: each answered with the contract's error naming the parameter,
//! and none of them storing anything.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

backend_tests!(
    an_unknown_field_is_refused_naming_it,
    each_read_only_field_is_refused_naming_it,
    a_repeated_key_is_refused_naming_it,
    a_value_of_the_wrong_type_is_refused_naming_the_field,
    a_body_that_is_not_exactly_one_object_is_refused,
    a_missing_or_blank_full_name_is_refused,
    field_length_and_character_rules_name_the_field,
    a_body_that_is_not_json_by_content_type_is_415,
    json_with_a_charset_or_in_upper_case_is_accepted,
);

const READ_ONLY: [&str; 8] = [
    "id",
    "object",
    "livemode",
    "is_returning",
    "total_rentals",
    "overall_score",
    "created_at",
    "updated_at",
];

/// POSTs to `/v1/customers` and PATCHes an existing customer with `body`; both answers.
async fn create_and_update(app: &TestApp, target: &str, body: Value) -> [crate::helpers::Reply; 2] {
    [
        app.post("/v1/customers", body.clone()).await,
        app.patch(&format!("/v1/customers/{target}"), body).await,
    ]
}

async fn existing_customer(app: &TestApp) -> (String, Value) {
    let customer = app.create_customer(json!({"full_name": "Jane Doe"})).await;
    (customer["id"].as_str().unwrap().to_owned(), customer)
}

/// Only the customer made by `existing_customer` exists, unchanged.
async fn assert_nothing_stored(app: &TestApp, id: &str, before: &Value) {
    assert_eq!(app.customer_ids(&app.key).await, [id]);
    assert_eq!(&app.get(&format!("/v1/customers/{id}")).await.body, before);
    let events = app.get("/v1/events").await;
    assert_eq!(
        events.body["data"].as_array().unwrap().len(),
        1,
        "{}",
        events.body
    );
}

async fn an_unknown_field_is_refused_naming_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, before) = existing_customer(&app).await;

    let replies = create_and_update(
        &app,
        &id,
        json!({"full_name": "Jane", "nickname": "JD", "email": "j@example.com"}),
    )
    .await;

    for reply in replies {
        reply.assert_error(400, "parameter_unknown", Some("nickname"));
        assert_eq!(reply.body["error"]["type"], "invalid_request_error");
        assert_eq!(
            reply.body["error"]["message"],
            "Received unknown parameter: nickname."
        );
    }
    assert_nothing_stored(&app, &id, &before).await;
}

async fn each_read_only_field_is_refused_naming_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, before) = existing_customer(&app).await;

    for field in READ_ONLY {
        let mut body = json!({"full_name": "Jane"});
        body[field] = before[field].clone();
        for reply in create_and_update(&app, &id, body).await {
            reply.assert_error(400, "parameter_unknown", Some(field));
            let message = reply.body["error"]["message"].as_str().unwrap();
            assert!(message.contains("read-only"), "{message}");
        }
    }
    assert_nothing_stored(&app, &id, &before).await;
}

async fn a_repeated_key_is_refused_naming_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, before) = existing_customer(&app).await;
    let body = br#"{"full_name": "Jane", "email": "a@example.com", "email": "b@example.com"}"#;

    for (method, path) in [
        (Method::POST, "/v1/customers".to_owned()),
        (Method::PATCH, format!("/v1/customers/{id}")),
    ] {
        let reply = app
            .send_raw(method, &path, "application/json", body.to_vec())
            .await;
        reply.assert_error(400, "body_invalid", Some("email"));
    }
    assert_nothing_stored(&app, &id, &before).await;
}

async fn a_value_of_the_wrong_type_is_refused_naming_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, before) = existing_customer(&app).await;
    let fields = [
        "full_name",
        "email",
        "phone",
        "preferred_language",
        "source_channel",
        "notes",
    ];

    for field in fields {
        for wrong in [json!(5), json!(true), json!(["a"]), json!({"a": "b"})] {
            let mut body = json!({"full_name": "Jane"});
            body[field] = wrong.clone();
            for reply in create_and_update(&app, &id, body).await {
                reply.assert_error(400, "parameter_invalid", Some(field));
                let message = reply.body["error"]["message"].as_str().unwrap();
                assert!(
                    message.contains("must be a string"),
                    "{field} {wrong}: {message}"
                );
            }
        }
    }
    assert_nothing_stored(&app, &id, &before).await;
}

async fn a_body_that_is_not_exactly_one_object_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, before) = existing_customer(&app).await;
    let nested = format!(
        r#"{{"full_name": "Jane", "notes": {}1{}}}"#,
        "[".repeat(500),
        "]".repeat(500)
    );
    let bodies: [&[u8]; 12] = [
        nested.as_bytes(),
        b"",
        b"   ",
        b"[]",
        b"\"Jane\"",
        b"null",
        b"42",
        br#"{"full_name": "Jane"} x"#,
        br#"{"full_name": "Jane"}{}"#,
        br#"{"full_name": "Jane""#,
        b"\xEF\xBB\xBF{\"full_name\": \"Jane\"}",
        b"{\"full_name\": \"J\xFFane\"}",
    ];

    for body in bodies {
        for (method, path) in [
            (Method::POST, "/v1/customers".to_owned()),
            (Method::PATCH, format!("/v1/customers/{id}")),
        ] {
            let reply = app
                .send_raw(method, &path, "application/json", body.to_vec())
                .await;
            reply.assert_error(400, "body_invalid", None);
        }
    }
    assert_nothing_stored(&app, &id, &before).await;
}

async fn a_missing_or_blank_full_name_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let absent = app
        .post("/v1/customers", json!({"email": "j@example.com"}))
        .await;
    let null = app.post("/v1/customers", json!({"full_name": null})).await;
    let blank = app
        .post("/v1/customers", json!({"full_name": " \t "}))
        .await;
    let empty_object = app.post("/v1/customers", json!({})).await;

    absent.assert_error(400, "parameter_missing", Some("full_name"));
    assert_eq!(
        absent.body["error"]["message"],
        "Missing required param: full_name."
    );
    null.assert_error(400, "parameter_missing", Some("full_name"));
    blank.assert_error(400, "parameter_invalid", Some("full_name"));
    empty_object.assert_error(400, "parameter_missing", Some("full_name"));
    assert_eq!(app.customer_count().await, 0);
}

async fn field_length_and_character_rules_name_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, before) = existing_customer(&app).await;
    let refused = [
        ("full_name", json!("x".repeat(257))),
        ("full_name", json!("Jane\u{0}Doe")),
        ("full_name", json!("Jane\nDoe")),
        ("source_channel", json!("")),
        ("source_channel", json!("c".repeat(65))),
        ("notes", json!("n".repeat(10_001))),
        ("notes", json!("bell\u{7}")),
        ("email", json!("not an email")),
        ("email", json!(format!("{}@example.com", "a".repeat(250)))),
        ("phone", json!("+1 415 555 010")),
        ("phone", json!("call me")),
        ("preferred_language", json!("english please")),
    ];

    for (field, value) in refused {
        let mut body = json!({"full_name": "Jane"});
        body[field] = value.clone();
        for reply in create_and_update(&app, &id, body).await {
            reply.assert_error(400, "parameter_invalid", Some(field));
        }
    }
    assert_nothing_stored(&app, &id, &before).await;

    let longest = app
        .create_customer(
            json!({"full_name": "é".repeat(256), "source_channel": "c".repeat(64),
                                "notes": "n".repeat(10_000)}),
        )
        .await;
    assert_eq!(longest["full_name"].as_str().unwrap().chars().count(), 256);
}

async fn a_body_that_is_not_json_by_content_type_is_415(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (id, before) = existing_customer(&app).await;
    let body = br#"{"full_name": "Jane"}"#.to_vec();

    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/jsonx",
        "",
    ] {
        let reply = app
            .send_raw(Method::POST, "/v1/customers", content_type, body.clone())
            .await;
        reply.assert_error(415, "content_type_invalid", None);
        assert_eq!(reply.body["error"]["type"], "invalid_request_error");
    }
    let missing = app
        .client
        .patch(app.url(&format!("/v1/customers/{id}")))
        .bearer_auth(&app.key)
        .body(body)
        .send()
        .await
        .unwrap();
    crate::helpers::Reply::of(missing)
        .await
        .assert_error(415, "content_type_invalid", None);
    assert_nothing_stored(&app, &id, &before).await;
}

async fn json_with_a_charset_or_in_upper_case_is_accepted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = br#"{"full_name": "Jane"}"#.to_vec();

    for content_type in [
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "Application/Json;charset=UTF-8",
    ] {
        let reply = app
            .send_raw(Method::POST, "/v1/customers", content_type, body.clone())
            .await;
        assert_eq!(reply.status, 201, "{content_type}: {}", reply.body);
    }
    assert_eq!(app.customer_count().await, 3);
}
