//! The OpenAPI document as a test oracle: finds the schema an operation declares for a status
//! and validates real responses against it with a JSON Schema 2020-12 validator.

use reqwest::header::CONTENT_TYPE;
use serde_json::{Map, Value, json};

use crate::helpers::{Reply, TestApp};

/// OpenAPI 3.1 schemas are JSON Schema 2020-12.
const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The served OpenAPI document.
pub struct Contract {
    pub document: Value,
}

impl Contract {
    /// Fetches the document without a key.
    pub async fn fetch(app: &TestApp, path: &str) -> Contract {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(content_type, "application/json");
        Contract {
            document: response.json().await.unwrap(),
        }
    }

    /// Asserts that the operation declares the reply's status, that every header the document
    /// promises for it is present, and that the body validates against the declared schema.
    pub fn assert_reply(&self, method: &str, path: &str, reply: &Reply) {
        let response = self.response(method, path, reply.status);
        for (name, _) in response["headers"].as_object().into_iter().flatten() {
            // Only a replayed answer carries it.
            if name != "Idempotent-Replayed" {
                assert!(
                    reply.header(name).is_some(),
                    "{method} {path}: no {name} header"
                );
            }
        }
        self.assert_valid(method, path, reply.status, &reply.body);
    }

    /// Asserts that `body` validates against the schema declared for this status.
    pub fn assert_valid(&self, method: &str, path: &str, status: u16, body: &Value) {
        let errors = self.violations(method, path, status, body);
        assert!(
            errors.is_empty(),
            "{method} {path} {status}: {errors:#?}\n{body:#}"
        );
    }

    /// Everything about `body` that the declared schema does not allow.
    pub fn violations(&self, method: &str, path: &str, status: u16, body: &Value) -> Vec<String> {
        let response = self.response(method, path, status);
        let schema = &response["content"]["application/json"]["schema"];
        assert!(
            schema.is_object(),
            "{method} {path} {status} declares no JSON body"
        );

        let mut root = closed(schema.clone());
        root["$schema"] = json!(DIALECT);
        root["components"] = closed(self.document["components"].clone());
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .unwrap();
        validator
            .iter_errors(body)
            .map(|error| format!("{}: {error}", error.instance_path()))
            .collect()
    }

    /// The response object an operation declares for a status, `$ref` resolved.
    fn response(&self, method: &str, path: &str, status: u16) -> &Value {
        let operation = &self.document["paths"][path][method.to_lowercase()];
        assert!(operation.is_object(), "{method} {path} is not documented");
        let declared = &operation["responses"][status.to_string()];
        assert!(
            declared.is_object(),
            "{method} {path} does not declare {status}"
        );
        match declared["$ref"].as_str() {
            Some(pointer) => self.document.pointer(&pointer[1..]).unwrap(),
            None => declared,
        }
    }
}

/// The schema with `additionalProperties: false` on every object that lists its properties and
/// says nothing else: a response field the document does not describe fails the check.
fn closed(mut schema: Value) -> Value {
    match &mut schema {
        Value::Object(map) => {
            close_object(map);
            for value in map.values_mut() {
                *value = closed(value.take());
            }
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                *item = closed(item.take());
            }
        }
        _ => {}
    }
    schema
}

fn close_object(map: &mut Map<String, Value>) {
    let lists_properties = map.get("properties").is_some_and(Value::is_object);
    if lists_properties && !map.contains_key("additionalProperties") {
        map.insert("additionalProperties".to_owned(), Value::Bool(false));
    }
}
