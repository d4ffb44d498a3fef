//! `/v1/openapi.json` against the server: the document lists exactly the routes the router
//! serves, and real responses validate against the schemas the document gives them.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use renvo::http::{ROUTES, V1_ALIAS};
use renvo::{AppState, router};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::backend_tests;
use crate::contract::Contract;
use crate::helpers::{Backend, TestApp};

backend_tests!(
    the_document_is_openapi_3_1_and_served_without_a_key_under_both_prefixes,
    the_document_lists_exactly_the_routes_in_the_route_table,
    the_router_serves_exactly_the_routes_in_the_route_table,
    every_listed_route_is_answered_and_other_methods_are_refused,
    optional_fields_are_nullable_the_json_schema_2020_12_way,
    every_operation_with_a_body_lists_what_the_body_extractor_answers,
);

/// A method and a full path, such as `("GET", "/api/v1/customers/{id}")`.
type Route = (String, String);

async fn the_document_is_openapi_3_1_and_served_without_a_key_under_both_prefixes(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;

    let canonical = Contract::fetch(&app, "/v1/openapi.json").await;
    let aliased = Contract::fetch(&app, "/api/v1/openapi.json").await;

    assert_eq!(canonical.document["openapi"], "3.1.0");
    assert_eq!(canonical.document["info"]["version"], "2026-05-05");
    assert_eq!(canonical.document, aliased.document);
    let scheme = &canonical.document["components"]["securitySchemes"]["bearer"];
    assert_eq!(
        (&scheme["type"], &scheme["scheme"]),
        (&json!("http"), &json!("bearer"))
    );
}

async fn the_document_lists_exactly_the_routes_in_the_route_table(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let contract = Contract::fetch(&app, "/v1/openapi.json").await;

    let documented = documented_routes(&contract.document);

    assert_same_routes(&documented, &route_table(), "documented");
}

async fn the_router_serves_exactly_the_routes_in_the_route_table(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let state = AppState::new(app.store.clone(), 0, Arc::new(Notify::new()));

    let served = routes_in_router(&router(state));

    assert_same_routes(&served, &route_table(), "served");
}

async fn every_listed_route_is_answered_and_other_methods_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let table = route_table();
    let paths: BTreeSet<&String> = table.iter().map(|(_, path)| path).collect();

    for path in paths {
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let code = error_code_of(&app, method, path).await;
            if table.contains(&(method.to_owned(), path.clone())) {
                let routing_miss = ["route_missing", "method_not_allowed"];
                assert!(
                    !routing_miss.contains(&code.as_str()),
                    "{method} {path}: {code}"
                );
            } else {
                assert_eq!(code, "method_not_allowed", "{method} {path}");
            }
        }
    }
}

async fn optional_fields_are_nullable_the_json_schema_2020_12_way(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let contract = Contract::fetch(&app, "/v1/openapi.json").await;
    let customer = &contract.document["components"]["schemas"]["CustomerOut"];

    assert_eq!(
        customer["properties"]["email"]["type"],
        json!(["string", "null"])
    );
    assert!(!contract.document.to_string().contains("\"nullable\""));

    let created = app.create_customer(json!({"full_name": "Jane Doe"})).await;
    assert_eq!(created["email"], Value::Null);
    contract.assert_valid("GET", "/v1/customers/{id}", 200, &created);
}

/// The shared JSON body extractor answers 408, 413 and 415 on every route that reads a body,
/// so the document lists them on every such operation, not only where a handler remembered.
async fn every_operation_with_a_body_lists_what_the_body_extractor_answers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let contract = Contract::fetch(&app, "/v1/openapi.json").await;

    let mut with_body = Vec::new();
    for (path, item) in contract.document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if operation.get("requestBody").is_none() {
                continue;
            }
            with_body.push(format!("{method} {path}"));
            for status in ["408", "413", "415"] {
                assert!(
                    operation["responses"].get(status).is_some(),
                    "{method} {path} does not list {status}"
                );
            }
        }
    }
    assert_eq!(with_body.len(), 5, "{with_body:?}");
}

fn assert_same_routes(found: &BTreeSet<Route>, table: &BTreeSet<Route>, what: &str) {
    let missing: Vec<_> = table.difference(found).collect();
    let extra: Vec<_> = found.difference(table).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "in ROUTES but not {what}: {missing:?}; {what} but not in ROUTES: {extra:?}"
    );
}

/// [`ROUTES`] with each `/v1` route also under the alias prefix.
fn route_table() -> BTreeSet<Route> {
    let mut table = BTreeSet::new();
    for (method, path) in ROUTES {
        table.insert((method.to_string(), path.to_string()));
        if path.starts_with("/v1/") {
            table.insert((method.to_string(), format!("{V1_ALIAS}{path}")));
        }
    }
    table
}

/// Every operation of the document at every server URL that applies to it.
fn documented_routes(document: &Value) -> BTreeSet<Route> {
    let root_servers = document["servers"].as_array().cloned().unwrap_or_default();
    let mut routes = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let servers = operation["servers"]
                .as_array()
                .or(item["servers"].as_array())
                .cloned()
                .unwrap_or_else(|| root_servers.clone());
            for server in servers {
                let base = server["url"].as_str().unwrap().trim_end_matches('/');
                routes.insert((method.to_uppercase(), format!("{base}{path}")));
            }
        }
    }
    routes
}

/// The routes the router really holds, read from its `Debug` rendering: axum has no other way
/// to list them. If that rendering changes, the parsing below panics rather than passing.
fn routes_in_router(router: &axum::Router) -> BTreeSet<Route> {
    let rendered = format!("{router:?}");
    let (path_router, _) = rendered.split_once("fallback_router:").unwrap();
    let (method_routers, node) = path_router.split_once("node: Node").unwrap();

    let paths: HashMap<&str, &str> = node
        .split("RouteId(")
        .skip(1)
        .map(|entry| {
            let (id, rest) = entry.split_once(')').unwrap();
            (id, rest.split('"').nth(1).unwrap())
        })
        .collect();
    let mut routes = BTreeSet::new();
    for entry in method_routers.split("RouteId(").skip(1) {
        let (id, rest) = entry.split_once(')').unwrap();
        let (_, allowed) = rest.split_once("allow_header: Bytes(b\"").unwrap();
        let allowed = allowed.split('"').next().unwrap();
        for method in allowed.split(',').filter(|method| *method != "HEAD") {
            routes.insert((method.to_owned(), paths[id].to_owned()));
        }
    }
    assert!(
        routes.len() >= ROUTES.len(),
        "parsed {routes:?} from {rendered}"
    );
    routes
}

/// The `code` of the error a request gets, or `"none"` when it succeeds or is not JSON.
async fn error_code_of(app: &TestApp, method: &str, path: &str) -> String {
    let url = app.url(&path.replace("{id}", "cu_0193a6f2-7c1e-7b3a-9f00-4a2b3c4d5e6f"));
    let response = app
        .client
        .request(method.parse().unwrap(), url)
        .bearer_auth(&app.key)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    body["error"]["code"].as_str().unwrap_or("none").to_owned()
}
