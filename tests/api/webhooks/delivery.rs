//! Webhook delivery to a real receiver on 127.0.0.1, driven by calling the dispatcher's
//! claim-and-deliver pass directly: headers, signatures, bytes, retries, disabling, resend.

use std::time::{Duration, Instant};

use renvo::domain::timestamp::Timestamp;
use renvo::store::webhooks::ClaimRequest;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{assert_signed, create_endpoint, dispatcher};
use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::receiver::{Answer, Receiver};

backend_tests!(
    a_delivery_carries_the_stored_event_bytes_and_verifiable_signatures,
    a_failed_delivery_is_retried_on_the_schedule_with_the_same_bytes_and_ids,
    twenty_consecutive_failures_disable_the_endpoint_until_it_is_re_enabled,
    an_endpoint_answering_410_is_disabled_at_once,
    redirects_are_not_followed_and_a_hang_times_out,
    an_event_fans_out_to_every_enabled_subscribed_endpoint,
    resend_queues_an_event_again_for_one_endpoint_or_all,
    a_hanging_endpoint_does_not_delay_the_others,
    a_delivery_claimed_by_a_claimer_that_died_is_sent_once_its_lease_runs_out
);

async fn attempts(app: &TestApp, endpoint: &str) -> Vec<Value> {
    let reply = app
        .get(&format!(
            "/v1/webhook_endpoints/{endpoint}/attempts?limit=100"
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["data"].as_array().unwrap().clone()
}

async fn a_delivery_carries_the_stored_event_bytes_and_verifiable_signatures(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let receiver = Receiver::start(Answer::Status(204)).await;
    let (_, secret) = create_endpoint(&app, &receiver.url("/hook"), json!(["*"])).await;
    let notes = "Zoë «Ünïcödé» 日本語 🚲 \"quoted\" back\\slash\nnew line\ttab \u{2028} </script>";
    app.create_customer(json!({"full_name": "Łukasz Żółć", "notes": notes}))
        .await;

    let made = dispatcher(&app, "1h").deliver_due().await.unwrap();

    assert_eq!(made, 1);
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let delivery = &received[0];
    let event_id = delivery.json()["id"].as_str().unwrap().to_owned();
    let stored = app
        .client
        .get(app.url(&format!("/v1/events/{event_id}")))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        delivery.body, stored,
        "the body is the stored event byte for byte"
    );
    assert_eq!(delivery.json()["data"]["notes"], notes);
    assert_eq!(delivery.header("content-type"), "application/json");
    assert_eq!(delivery.header("user-agent"), "Renvo-Webhooks/1.0");
    assert_eq!(delivery.header("renvo-event-id"), event_id);
    assert_eq!(delivery.header("renvo-event-type"), "customer.created");
    assert_eq!(delivery.header("webhook-id"), event_id);
    assert_signed(delivery, &secret);
}

async fn a_failed_delivery_is_retried_on_the_schedule_with_the_same_bytes_and_ids(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let receiver = Receiver::start(Answer::Status(500)).await;
    let (endpoint, secret) = create_endpoint(&app, &receiver.url("/hook"), json!(["*"])).await;
    app.create_customer(json!({"full_name": "Jane Doe"})).await;
    let dispatcher = dispatcher(&app, "0s,200ms,0s");

    assert_eq!(dispatcher.deliver_due().await.unwrap(), 1);
    assert_eq!(
        dispatcher.deliver_due().await.unwrap(),
        1,
        "0s: due at once"
    );
    assert_eq!(
        dispatcher.deliver_due().await.unwrap(),
        0,
        "200ms: not due yet"
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    receiver.answer(Answer::Status(200));
    assert_eq!(dispatcher.deliver_due().await.unwrap(), 1);
    assert_eq!(
        dispatcher.deliver_due().await.unwrap(),
        0,
        "delivered: nothing left"
    );

    let received = receiver.received();
    assert_eq!(received.len(), 3);
    for delivery in &received {
        assert_eq!(delivery.body, received[0].body);
        assert_eq!(
            delivery.header("webhook-id"),
            received[0].header("webhook-id")
        );
        assert_eq!(
            delivery.header("renvo-event-id"),
            received[0].header("renvo-event-id")
        );
        assert_signed(delivery, &secret);
    }
    let log = attempts(&app, &endpoint).await;
    let codes: Vec<_> = log.iter().map(|a| a["status_code"].clone()).collect();
    assert_eq!(
        codes,
        vec![json!(200), json!(500), json!(500)],
        "newest first"
    );
    assert_eq!(log[0]["succeeded"], true);
    assert_eq!(log[0]["next_attempt_at"], Value::Null);
    assert_eq!(log[1]["error"], "answered 500");
    assert!(log[1]["next_attempt_at"].is_string());
}

async fn twenty_consecutive_failures_disable_the_endpoint_until_it_is_re_enabled(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let receiver = Receiver::start(Answer::Status(503)).await;
    let (endpoint, _) = create_endpoint(&app, &receiver.url("/hook"), json!(["*"])).await;
    for n in 0..20 {
        app.create_customer(json!({"full_name": format!("Customer {n}")}))
            .await;
    }
    let dispatcher = dispatcher(&app, "1h");

    assert_eq!(dispatcher.deliver_due().await.unwrap(), 20);
    let path = format!("/v1/webhook_endpoints/{endpoint}");
    let disabled = app.get(&path).await.body;
    assert_eq!(disabled["status"], "disabled");
    assert_eq!(disabled["disabled_reason"], "consecutive_failures");
    assert!(disabled["disabled_at"].is_string());
    app.create_customer(json!({"full_name": "While disabled"}))
        .await;
    assert_eq!(dispatcher.deliver_due().await.unwrap(), 0);

    receiver.answer(Answer::Status(204));
    let enabled = app.patch(&path, json!({"status": "enabled"})).await;
    assert_eq!(enabled.body["status"], "enabled", "{}", enabled.body);
    assert_eq!(enabled.body["disabled_reason"], Value::Null);
    assert_eq!(
        dispatcher.deliver_due().await.unwrap(),
        20,
        "held deliveries resume"
    );
    assert_eq!(receiver.received().len(), 40);

    receiver.answer(Answer::Status(500));
    app.create_customer(json!({"full_name": "After"})).await;
    dispatcher.deliver_due().await.unwrap();
    assert_eq!(
        app.get(&path).await.body["status"],
        "enabled",
        "the count was reset"
    );
}

async fn an_endpoint_answering_410_is_disabled_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let gone = Receiver::start(Answer::Status(410)).await;
    let fine = Receiver::start(Answer::Status(204)).await;
    let (gone_id, _) = create_endpoint(&app, &gone.url("/hook"), json!(["*"])).await;
    let (fine_id, _) = create_endpoint(&app, &fine.url("/hook"), json!(["*"])).await;
    app.create_customer(json!({"full_name": "Jane Doe"})).await;

    assert_eq!(dispatcher(&app, "0s").deliver_due().await.unwrap(), 2);

    let gone_now = app
        .get(&format!("/v1/webhook_endpoints/{gone_id}"))
        .await
        .body;
    assert_eq!(gone_now["status"], "disabled");
    assert_eq!(gone_now["disabled_reason"], "endpoint_gone");
    let fine_now = app
        .get(&format!("/v1/webhook_endpoints/{fine_id}"))
        .await
        .body;
    assert_eq!(fine_now["status"], "enabled");
    assert_eq!(
        dispatcher(&app, "0s").deliver_due().await.unwrap(),
        0,
        "no retry"
    );
    assert_eq!(gone.received().len(), 1);
}

async fn redirects_are_not_followed_and_a_hang_times_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let redirecting = Receiver::start(Answer::Redirect).await;
    let hanging = Receiver::start(Answer::Hang(Duration::from_secs(3))).await;
    let (redirect_id, _) = create_endpoint(&app, &redirecting.url("/hook"), json!(["*"])).await;
    let (hang_id, _) = create_endpoint(&app, &hanging.url("/hook"), json!(["*"])).await;
    app.create_customer(json!({"full_name": "Jane Doe"})).await;

    let started = Instant::now();
    assert_eq!(dispatcher(&app, "1h").deliver_due().await.unwrap(), 2);

    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the 800 ms timeout held"
    );
    assert_eq!(redirecting.received().len(), 1);
    assert_eq!(redirecting.received_at("/elsewhere").len(), 0);
    let redirect_log = attempts(&app, &redirect_id).await;
    assert_eq!(redirect_log[0]["status_code"], 302);
    assert_eq!(redirect_log[0]["succeeded"], false);
    assert!(
        redirect_log[0]["error"]
            .as_str()
            .unwrap()
            .contains("redirect")
    );
    let hang_log = attempts(&app, &hang_id).await;
    assert_eq!(hang_log[0]["status_code"], Value::Null);
    assert!(hang_log[0]["error"].as_str().unwrap().contains("no answer"));
    assert!(hang_log[0]["next_attempt_at"].is_string());
}

async fn an_event_fans_out_to_every_enabled_subscribed_endpoint(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let receiver = Receiver::start(Answer::Status(204)).await;
    create_endpoint(&app, &receiver.url("/all"), json!(["*"])).await;
    create_endpoint(&app, &receiver.url("/created"), json!(["customer.created"])).await;
    create_endpoint(&app, &receiver.url("/updated"), json!(["customer.updated"])).await;
    let (off, _) = create_endpoint(&app, &receiver.url("/off"), json!(["*"])).await;
    app.patch(
        &format!("/v1/webhook_endpoints/{off}"),
        json!({"status": "disabled"}),
    )
    .await;
    let customer = app.create_customer(json!({"full_name": "Jane Doe"})).await;
    let id = customer["id"].as_str().unwrap();
    app.patch(
        &format!("/v1/customers/{id}"),
        json!({"email": "jane@example.com"}),
    )
    .await;
    app.patch(&format!("/v1/customers/{id}"), json!({})).await;

    assert_eq!(dispatcher(&app, "1h").deliver_due().await.unwrap(), 4);

    let types = |path: &str| -> Vec<String> {
        let mut seen: Vec<String> = receiver
            .received_at(path)
            .iter()
            .map(|r| r.header("renvo-event-type").to_owned())
            .collect();
        seen.sort();
        seen
    };
    assert_eq!(types("/all"), ["customer.created", "customer.updated"]);
    assert_eq!(types("/created"), ["customer.created"]);
    assert_eq!(types("/updated"), ["customer.updated"]);
    assert!(types("/off").is_empty());
}

async fn resend_queues_an_event_again_for_one_endpoint_or_all(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let receiver = Receiver::start(Answer::Status(204)).await;
    let (first, secret) = create_endpoint(&app, &receiver.url("/a"), json!(["*"])).await;
    create_endpoint(&app, &receiver.url("/b"), json!(["customer.created"])).await;
    app.create_customer(json!({"full_name": "Jane Doe"})).await;
    let dispatcher = dispatcher(&app, "1h");
    dispatcher.deliver_due().await.unwrap();
    let event = receiver.received()[0].json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let resend = format!("/v1/events/{event}/resend");

    let to_one = app.post(&resend, json!({"endpoint": first})).await;
    assert_eq!(to_one.status, 200, "{}", to_one.body);
    assert_eq!(to_one.body["endpoints"], json!([first]));
    assert_eq!(dispatcher.deliver_due().await.unwrap(), 1);
    let empty_body = app
        .client
        .post(app.url(&resend))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(empty_body.status(), 200);
    assert_eq!(dispatcher.deliver_due().await.unwrap(), 2);

    let all = receiver.received();
    assert_eq!(all.len(), 5);
    assert!(all.iter().all(|r| r.body == all[0].body));
    assert_signed(&all[2], &secret);
    app.post(&resend, json!({"endpoint": "we_nope"}))
        .await
        .assert_error(400, "parameter_invalid", Some("endpoint"));
    app.post(
        "/v1/events/evt_0193a6f2-7c1e-7b3a-9f00-4a2b3c4d5e6f/resend",
        json!({}),
    )
    .await
    .assert_error(404, "resource_missing", Some("id"));
}

async fn a_hanging_endpoint_does_not_delay_the_others(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hanging = Receiver::start(Answer::Hang(Duration::from_secs(5))).await;
    let fine = Receiver::start(Answer::Status(204)).await;
    create_endpoint(&app, &hanging.url("/hook"), json!(["*"])).await;
    create_endpoint(&app, &fine.url("/hook"), json!(["*"])).await;
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(dispatcher(&app, "1h").run(shutdown.clone()));

    let mut committed = std::collections::HashMap::new();
    for n in 0..40 {
        let customer = app
            .create_customer(json!({"full_name": format!("C{n}")}))
            .await;
        committed.insert(customer["id"].as_str().unwrap().to_owned(), Instant::now());
    }
    let received = fine.wait_for(40, Duration::from_secs(5)).await;

    assert_eq!(received.len(), 40);
    for delivery in &received {
        let customer = delivery.json()["data"]["id"].as_str().unwrap().to_owned();
        let lag = delivery.at.saturating_duration_since(committed[&customer]);
        assert!(
            lag < Duration::from_millis(500),
            "{customer} came {lag:?} after its commit"
        );
    }
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .unwrap()
        .unwrap();
}

async fn a_delivery_claimed_by_a_claimer_that_died_is_sent_once_its_lease_runs_out(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let receiver = Receiver::start(Answer::Status(204)).await;
    create_endpoint(&app, &receiver.url("/hook"), json!(["*"])).await;
    app.create_customer(json!({"full_name": "Jane Doe"})).await;
    let now = Timestamp::now();
    let dead_claim = ClaimRequest {
        now,
        lease_until: now.plus_millis(300),
        limit: 10,
        skip_endpoints: Vec::new(),
    };

    let claimed = app
        .store
        .claim_webhook_deliveries(dead_claim)
        .await
        .unwrap();
    let dispatcher = dispatcher(&app, "1h");

    assert_eq!(
        claimed.len(),
        1,
        "the claimer takes it, then dies without a word"
    );
    assert_eq!(dispatcher.deliver_due().await.unwrap(), 0, "leased");
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(dispatcher.deliver_due().await.unwrap(), 1);
    assert_eq!(receiver.received()[0].body, claimed[0].payload.as_bytes());
}
