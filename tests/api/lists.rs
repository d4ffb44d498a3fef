//! `GET /v1/customers`: keyset pages newest first, the parameter rules, the email filter, and
//! the account and mode boundaries.

use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

backend_tests!(
    customers_are_listed_newest_first_in_the_list_envelope,
    limit_defaults_to_20_and_takes_1_and_100,
    a_bad_limit_is_400_naming_limit,
    an_unknown_or_repeated_parameter_is_400_naming_it,
    a_malformed_cursor_is_400_naming_starting_after,
    a_cursor_that_names_no_customer_still_pages,
    a_walk_in_pages_of_10_never_repeats_or_skips_while_customers_are_created,
    the_email_filter_is_exact_and_ignores_letter_case,
    a_plus_sign_in_the_email_filter_is_found_when_percent_encoded,
    the_email_filter_pages_with_a_cursor,
    customers_of_another_mode_or_account_never_appear,
    the_email_filter_folds_non_ascii_case_and_follows_updates,
);

fn ids_of(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|customer| customer["id"].as_str().expect("id").to_owned())
        .collect()
}

fn newest_first(mut ids: Vec<String>) -> Vec<String> {
    ids.reverse();
    ids
}

async fn customers_are_listed_newest_first_in_the_list_envelope(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ids = app.create_customers(3).await;

    let reply = app.get("/api/v1/customers").await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    let keys: Vec<&String> = reply.body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["object", "data", "has_more", "next_cursor"]);
    assert_eq!(reply.body["object"], "list");
    assert_eq!(reply.body["has_more"], false);
    assert_eq!(reply.body["next_cursor"], json!(null));
    assert_eq!(ids_of(&reply.body), newest_first(ids.clone()));
    let newest = app.get(&format!("/v1/customers/{}", ids[2])).await;
    assert_eq!(reply.body["data"][0], newest.body);
}

async fn limit_defaults_to_20_and_takes_1_and_100(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ids = newest_first(app.create_customers(25).await);

    let default = app.get("/v1/customers").await;
    let one = app.get("/v1/customers?limit=1").await;
    let hundred = app.get("/v1/customers?limit=100").await;
    let exact = app.get("/v1/customers?limit=25").await;

    assert_eq!(ids_of(&default.body), ids[..20]);
    assert_eq!(default.body["has_more"], true);
    assert_eq!(default.body["next_cursor"], ids[19]);
    assert_eq!(ids_of(&one.body), ids[..1]);
    assert_eq!(one.body["next_cursor"], ids[0]);
    assert_eq!(ids_of(&hundred.body), ids);
    assert_eq!(hundred.body["has_more"], false);
    assert_eq!(hundred.body["next_cursor"], json!(null));
    assert_eq!(
        exact.body["has_more"], false,
        "a full last page has no more"
    );
    assert_eq!(exact.body["next_cursor"], json!(null));
}

async fn a_bad_limit_is_400_naming_limit(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_customers(2).await;

    for query in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "limit=1.5",
        "limit=-1",
        "limit=",
        "limit=1e1",
        "limit=99999999999999999999",
        "limit=1&limit=2",
        "limit=5&limit=5",
    ] {
        let reply = app.get(&format!("/v1/customers?{query}")).await;
        reply.assert_error(400, "parameter_invalid", Some("limit"));
        assert_eq!(
            reply.body["error"]["type"], "invalid_request_error",
            "{query}"
        );
    }
}

async fn an_unknown_or_repeated_parameter_is_400_naming_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;

    let unknown = app.get("/v1/customers?limit=5&sort=asc").await;
    let wrong_case = app.get("/v1/customers?Limit=5").await;
    let repeated_email = app
        .get("/v1/customers?email=a@example.com&email=b@example.com")
        .await;

    unknown.assert_error(400, "parameter_unknown", Some("sort"));
    assert_eq!(
        unknown.body["error"]["message"],
        "Received unknown parameter: sort."
    );
    wrong_case.assert_error(400, "parameter_unknown", Some("Limit"));
    repeated_email.assert_error(400, "parameter_invalid", Some("email"));
}

async fn a_malformed_cursor_is_400_naming_starting_after(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ids = app.create_customers(1).await;
    let uuid = &ids[0][3..];

    for cursor in [
        "cu_x".to_owned(),
        String::new(),
        format!("evt_{uuid}"),
        uuid.replace('-', ""),
        format!("{}&starting_after={}", ids[0], ids[0]),
        "%00".to_owned(),
    ] {
        let reply = app
            .get(&format!("/v1/customers?starting_after={cursor}"))
            .await;
        reply.assert_error(400, "parameter_invalid", Some("starting_after"));
    }
}

async fn a_cursor_that_names_no_customer_still_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ids = newest_first(app.create_customers(4).await);
    let above_all = "cu_ffffffff-ffff-7fff-bfff-ffffffffffff";
    let below_all = "cu_00000000-0000-7000-8000-000000000000";
    // One more than the second-newest id: it sorts between the two newest and names nothing.
    let mut between = uuid::Uuid::parse_str(&ids[1][3..]).unwrap().as_u128();
    between += 1;
    let between = format!("cu_{}", uuid::Uuid::from_u128(between));

    let from_top = app
        .get(&format!("/v1/customers?starting_after={above_all}"))
        .await;
    let from_bottom = app
        .get(&format!("/v1/customers?starting_after={below_all}"))
        .await;
    let from_between = app
        .get(&format!("/v1/customers?starting_after={between}"))
        .await;
    let bare = app
        .get(&format!("/v1/customers?starting_after={}", &ids[0][3..]))
        .await;

    assert_eq!(ids_of(&from_top.body), ids);
    assert_eq!(ids_of(&from_bottom.body), Vec::<String>::new());
    assert_eq!(from_bottom.body["has_more"], false);
    assert_eq!(ids_of(&from_between.body), ids[1..]);
    assert_eq!(ids_of(&bare.body), ids[1..]);
}

async fn a_walk_in_pages_of_10_never_repeats_or_skips_while_customers_are_created(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let existing = newest_first(app.create_customers(55).await);

    let mut seen = Vec::new();
    let mut path = "/v1/customers?limit=10".to_owned();
    let mut pages = 0;
    loop {
        let page = app.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        pages += 1;
        seen.extend(ids_of(&page.body));
        app.create_customer(json!({"full_name": "Newcomer"})).await;
        let Some(cursor) = page.body["next_cursor"].as_str() else {
            break;
        };
        assert_eq!(page.body["has_more"], true);
        path = format!("/v1/customers?limit=10&starting_after={cursor}");
    }

    assert_eq!(pages, 6);
    assert_eq!(seen, existing);
    assert_eq!(app.customer_count().await, 61);
}

async fn the_email_filter_is_exact_and_ignores_letter_case(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let jane = app
        .create_customer(json!({"full_name": "Jane", "email": "Jane.Doe@Example.com"}))
        .await;
    let twin = app
        .create_customer(json!({"full_name": "Jane Two", "email": "jane.doe@example.com"}))
        .await;
    app.create_customer(json!({"full_name": "John", "email": "john.doe@example.com"}))
        .await;
    app.create_customer(json!({"full_name": "No email"})).await;

    let lower = app.get("/v1/customers?email=jane.doe@example.com").await;
    let upper = app.get("/v1/customers?email=JANE.DOE@EXAMPLE.COM").await;
    let partial = app.get("/v1/customers?email=jane.doe@example").await;
    let empty = app.get("/v1/customers?email=").await;

    let expected = [twin["id"].as_str().unwrap(), jane["id"].as_str().unwrap()];
    assert_eq!(ids_of(&lower.body), expected);
    assert_eq!(ids_of(&upper.body), expected);
    assert_eq!(
        lower.body["data"][1]["email"], "Jane.Doe@Example.com",
        "stored as given"
    );
    assert_eq!(ids_of(&partial.body), Vec::<String>::new());
    empty.assert_error(400, "parameter_invalid", Some("email"));
}

async fn a_plus_sign_in_the_email_filter_is_found_when_percent_encoded(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let plus = app
        .create_customer(json!({"full_name": "Plus", "email": "a+b@example.com"}))
        .await;
    app.create_customer(json!({"full_name": "Space", "email": "ab@example.com"}))
        .await;

    let encoded = app.get("/v1/customers?email=a%2Bb@example.com").await;
    let encoded_at = app.get("/v1/customers?email=A%2BB%40EXAMPLE.COM").await;

    assert_eq!(ids_of(&encoded.body), [plus["id"].as_str().unwrap()]);
    assert_eq!(ids_of(&encoded_at.body), [plus["id"].as_str().unwrap()]);
}

async fn the_email_filter_pages_with_a_cursor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut shared = Vec::new();
    for n in 0..5 {
        let email = if n % 2 == 0 {
            "same@example.com"
        } else {
            "other@example.com"
        };
        let customer = app
            .create_customer(json!({"full_name": format!("C{n}"), "email": email}))
            .await;
        if n % 2 == 0 {
            shared.push(customer["id"].as_str().unwrap().to_owned());
        }
    }
    let shared = newest_first(shared);

    let first = app
        .get("/v1/customers?email=same@example.com&limit=2")
        .await;
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app
        .get(&format!(
            "/v1/customers?email=SAME@example.com&limit=2&starting_after={cursor}"
        ))
        .await;

    assert_eq!(ids_of(&first.body), shared[..2]);
    assert_eq!(first.body["has_more"], true);
    assert_eq!(ids_of(&second.body), shared[2..]);
    assert_eq!(second.body["has_more"], false);
    assert_eq!(second.body["next_cursor"], json!(null));
}

async fn customers_of_another_mode_or_account_never_appear(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let other_key = app.other_account_key().await;
    let body = json!({"full_name": "Jane", "email": "jane@example.com"});
    let test = app.create_customer(body.clone()).await;
    let live = app
        .send_json(
            reqwest::Method::POST,
            "/v1/customers",
            &app.live_key,
            body.clone(),
        )
        .await;
    let other = app
        .send_json(reqwest::Method::POST, "/v1/customers", &other_key, body)
        .await;
    assert_eq!(live.body["livemode"], true);

    for (key, only) in [
        (&app.key, &test),
        (&app.live_key, &live.body),
        (&other_key, &other.body),
    ] {
        let id = only["id"].as_str().unwrap();
        assert_eq!(app.customer_ids(key).await, [id]);
        let filtered = app
            .get_with("/v1/customers?email=jane@example.com", key)
            .await;
        assert_eq!(ids_of(&filtered.body), [id]);
    }
    let read = app.get_with("/v1/customers", &app.read_key).await;
    assert_eq!(ids_of(&read.body), [test["id"].as_str().unwrap()]);
}

async fn the_email_filter_folds_non_ascii_case_and_follows_updates(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let elodie = app
        .create_customer(json!({"full_name": "Élodie", "email": "ÉLODIE@example.com"}))
        .await;
    let id = elodie["id"].as_str().unwrap();

    let folded = app.get("/v1/customers?email=%C3%A9lodie@EXAMPLE.com").await;
    app.patch(
        &format!("/v1/customers/{id}"),
        json!({"email": "Elodie.New@example.com"}),
    )
    .await;
    let old = app.get("/v1/customers?email=%C3%A9lodie@example.com").await;
    let new = app.get("/v1/customers?email=elodie.new@example.com").await;
    app.patch(&format!("/v1/customers/{id}"), json!({"email": null}))
        .await;
    let cleared = app.get("/v1/customers?email=elodie.new@example.com").await;

    assert_eq!(ids_of(&folded.body), [id]);
    assert_eq!(ids_of(&old.body), Vec::<String>::new());
    assert_eq!(ids_of(&new.body), [id]);
    assert_eq!(ids_of(&cleared.body), Vec::<String>::new());
}

/// SQLite only: the API deletes no customers, so the test removes one from the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cursor_of_a_deleted_customer_still_pages() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ids = newest_first(app.create_customers(5).await);
    let deleted = uuid::Uuid::parse_str(&ids[1][3..]).unwrap();
    let mut conn = app.sqlite_connection().await;
    let removed = sqlx::query("DELETE FROM customers WHERE id = ?")
        .bind(deleted)
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(removed.rows_affected(), 1);

    let page = app
        .get(&format!("/v1/customers?limit=2&starting_after={}", ids[1]))
        .await;
    let missing = app.get(&format!("/v1/customers/{}", ids[1])).await;

    assert_eq!(ids_of(&page.body), ids[2..4]);
    assert_eq!(page.body["has_more"], true);
    assert_eq!(page.body["next_cursor"], ids[3]);
    missing.assert_error(404, "resource_missing", Some("id"));
}
