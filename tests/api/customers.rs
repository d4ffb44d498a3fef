//! `/v1/customers` through the real router.

use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

backend_tests!(
    a_created_customer_has_every_field_and_the_server_defaults,
    a_customer_is_retrieved_by_prefixed_or_bare_id
);

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
    assert!(customer["id"].as_str().unwrap().starts_with("cu_"));
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
    assert_eq!(customer["created_at"], customer["updated_at"]);
}

async fn a_customer_is_retrieved_by_prefixed_or_bare_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let created = app.create_customer(json!({"full_name": "Jane Doe"})).await;
    let id = created["id"].as_str().unwrap();

    let by_prefixed = app.get(&format!("/v1/customers/{id}")).await;
    let by_bare = app
        .get(&format!("/api/v1/customers/{}", id[3..].to_uppercase()))
        .await;

    assert_eq!(by_prefixed.status, 200);
    assert_eq!(by_prefixed.body, created);
    assert_eq!(by_bare.body, created);
}
