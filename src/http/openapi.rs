//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations and the
//! wire types beside them, served at `/v1/openapi.json`. A new resource: annotate its handlers,
//! add them to `paths(...)` below and its routes to `http::ROUTES` (the tests compare all three).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Components, OpenApi as Document, Ref, RefOr, Required};
use utoipa::{Modify, OpenApi, ToResponse};

use super::error::{ApiError, ErrorOut};
use super::{CURRENT_VERSION, customers, events, ops, webhook_deliveries, webhook_endpoints};

/// The whole API. Middleware-wide behaviour (the `Renvo-Version` header, the headers on every
/// response, 400 and 500) is added by [`Conventions`] rather than repeated on each handler.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Renvo API",
        version = CURRENT_VERSION,
        description = "Customers, events, webhooks and operations of a self-hosted Renvo server. \
            Every `/v1` route is served identically under `/api/v1`."
    ),
    servers(
        (url = "/", description = "This server."),
        (url = "/api", description = "The same routes under Renvo's `/api` base path."),
    ),
    paths(
        customers::list_customers,
        customers::create_customer,
        customers::retrieve_customer,
        customers::update_customer,
        events::list_events,
        events::retrieve_event,
        webhook_endpoints::create_webhook_endpoint,
        webhook_endpoints::list_webhook_endpoints,
        webhook_endpoints::retrieve_webhook_endpoint,
        webhook_endpoints::update_webhook_endpoint,
        webhook_endpoints::delete_webhook_endpoint,
        webhook_deliveries::list_webhook_attempts,
        webhook_deliveries::resend_event,
        openapi_json,
        ops::healthz,
        ops::readyz,
        ops::metrics,
    ),
    components(schemas(ErrorOut), responses(
        BadRequest,
        Unauthenticated,
        Forbidden,
        NotFound,
        Conflict,
        RequestTimeout,
        PayloadTooLarge,
        UnsupportedMediaType,
        RateLimited,
        InternalError,
        Unavailable,
    )),
    modifiers(&Conventions),
    tags(
        (name = "customers", description = "People who rent from the account."),
        (name = "events", description = "The record of changes, kept 30 days."),
        (name = "webhooks", description = "Endpoints that receive events, their delivery \
            attempts, and resends."),
        (name = "operations", description = "Health, readiness, metrics and this document."),
    )
)]
pub struct ApiDoc;

/// The OpenAPI document
///
/// This document, OpenAPI 3.1. No key is needed.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document.", body = Object)),
)]
pub async fn openapi_json() -> Response {
    static DOCUMENT: OnceLock<Option<Bytes>> = OnceLock::new();
    let document = DOCUMENT.get_or_init(|| ApiDoc::openapi().to_json().ok().map(Bytes::from));
    match document {
        Some(json) => ([(header::CONTENT_TYPE, "application/json")], json.clone()).into_response(),
        None => {
            tracing::error!("the OpenAPI document did not serialize");
            ApiError::internal().into_response()
        }
    }
}

/// What the request middleware does for every route, written into every operation.
struct Conventions;

const VERSION_PARAMETER: &str = "Renvo-Version";
const REQUEST_ID_HEADER: &str = "Request-Id";

impl Modify for Conventions {
    fn modify(&self, document: &mut Document) {
        // Cargo.toml names no license; an empty one would be an invalid License object.
        document.info.license = None;
        let components = document.components.get_or_insert_with(Components::new);
        add_shared_components(components);

        for item in document.paths.paths.values_mut() {
            add_access_responses(item);
            operations_mut(item).for_each(add_middleware_behaviour);
        }
        for response in components.responses.values_mut() {
            if let RefOr::T(response) = response {
                add_response_headers(&mut response.headers);
            }
        }
    }
}

/// The `Renvo-Version` parameter, its 400, the 500 of a panic, the body extractor's 408, 413
/// and 415 on operations with a body, and the response headers.
fn add_middleware_behaviour(operation: &mut Operation) {
    drop_null_from_optional_body(operation);
    let version = Ref::new(format!("#/components/parameters/{VERSION_PARAMETER}"));
    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    parameters.push(RefOr::Ref(version));

    add_responses(
        operation,
        &[("400", "BadRequest"), ("500", "InternalError")],
    );
    if operation.request_body.is_some() {
        // What the shared body extractor answers, whichever route reads the body.
        add_responses(
            operation,
            &[
                ("408", "RequestTimeout"),
                ("413", "PayloadTooLarge"),
                ("415", "UnsupportedMediaType"),
            ],
        );
    }
    for response in operation.responses.responses.values_mut() {
        if let RefOr::T(response) = response {
            add_response_headers(&mut response.headers);
        }
    }
}

/// What the shared key check answers on every route that needs a key: 401, 429 (the per-key
/// rate limit) and 503 (the database behind it); 403 on writes, which a `read` key may not
/// make; and 409 where an `Idempotency-Key` can still be in flight.
fn add_access_responses(item: &mut PathItem) {
    let writes = [
        item.post.as_mut(),
        item.put.as_mut(),
        item.patch.as_mut(),
        item.delete.as_mut(),
    ];
    for operation in writes.into_iter().flatten().filter(|op| needs_key(op)) {
        add_responses(operation, &[("403", "Forbidden")]);
    }
    for operation in operations_mut(item).filter(|op| needs_key(op)) {
        add_responses(
            operation,
            &[
                ("401", "Unauthenticated"),
                ("429", "RateLimited"),
                ("503", "Unavailable"),
            ],
        );
        if takes_idempotency_key(operation) {
            add_responses(operation, &[("409", "Conflict")]);
        }
    }
}

fn needs_key(operation: &Operation) -> bool {
    operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty())
}

fn takes_idempotency_key(operation: &Operation) -> bool {
    operation.parameters.iter().flatten().any(
        |parameter| matches!(parameter, RefOr::T(parameter) if parameter.name == "Idempotency-Key"),
    )
}

/// Adds each status, as the named shared response, unless the operation declares its own.
fn add_responses(operation: &mut Operation, statuses: &[(&str, &str)]) {
    for (status, name) in statuses {
        operation
            .responses
            .responses
            .entry((*status).to_owned())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(*name)));
    }
}

/// utoipa writes an optional body (`Option<T>`) as `oneOf: [T, null]`, but a body is optional
/// by being absent (`required: false`); a JSON `null` is refused like any non-object.
fn drop_null_from_optional_body(operation: &mut Operation) {
    let Some(RefOr::T(body)) = operation.request_body.as_mut() else {
        return;
    };
    for content in body.content.values_mut() {
        let RefOr::T(content) = content else {
            continue;
        };
        let Some(RefOr::T(Schema::OneOf(one_of))) = &mut content.schema else {
            continue;
        };
        one_of.items.retain(|item| !is_null_schema(item));
        if one_of.items.len() == 1 {
            content.schema = one_of.items.pop();
        }
    }
}

fn is_null_schema(schema: &RefOr<Schema>) -> bool {
    matches!(schema, RefOr::T(Schema::Object(object))
        if object.schema_type == SchemaType::Type(Type::Null))
}

/// The bearer key scheme, the `Renvo-Version` parameter and the headers every response carries.
fn add_shared_components(components: &mut Components) {
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            Http::builder()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("rv_live_… or rv_test_…")
                .description(Some(
                    "`Authorization: Bearer <key>`. A `read` key may GET; a `read_write` key \
                     may also POST, PATCH and DELETE.",
                ))
                .build(),
        ),
    );

    let version = || {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some([CURRENT_VERSION]))
    };
    let parameter = ParameterBuilder::new()
        .name(VERSION_PARAMETER)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "The dated API revision; absent means the current one. An unknown value is 400.",
        ))
        .schema(Some(version()))
        .build();
    components
        .parameters
        .insert(VERSION_PARAMETER.to_owned(), parameter.into());

    let served_version = HeaderBuilder::new()
        .schema(Some(version()))
        .description(Some("The API revision the response was served with."))
        .build();
    let request_id = HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some("`req_` and a random id; quote it to support."))
        .build();
    components
        .headers
        .insert(VERSION_PARAMETER.to_owned(), served_version.into());
    components
        .headers
        .insert(REQUEST_ID_HEADER.to_owned(), request_id.into());
}

fn add_response_headers(headers: &mut BTreeMap<String, RefOr<Header>>) {
    for name in [REQUEST_ID_HEADER, VERSION_PARAMETER] {
        headers.insert(
            name.to_owned(),
            RefOr::Ref(Ref::new(format!("#/components/headers/{name}"))),
        );
    }
}

/// Every operation of a path item.
fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
        item.head.as_mut(),
        item.options.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// A parameter, the body or a header (an unknown `Renvo-Version` included) is invalid; `param`
/// names it. Also a reused `Idempotency-Key` (`idempotency_key_reused`).
#[derive(ToResponse)]
pub struct BadRequest(pub ErrorOut<'static>);

/// The API key is missing, malformed, unknown or revoked (`api_key_invalid`); the message does
/// not say which.
#[derive(ToResponse)]
#[response(headers(("WWW-Authenticate" = String, description = "Always `Bearer`.")))]
pub struct Unauthenticated(pub ErrorOut<'static>);

/// The key has the `read` scope and the request writes (`scope_insufficient`).
#[derive(ToResponse)]
pub struct Forbidden(pub ErrorOut<'static>);

/// No such object in this account and mode (`resource_missing`, `param` is `id`).
#[derive(ToResponse)]
pub struct NotFound(pub ErrorOut<'static>);

/// A request with this `Idempotency-Key` is still running (`idempotency_key_in_use`); retry.
#[derive(ToResponse)]
pub struct Conflict(pub ErrorOut<'static>);

/// The body did not arrive within the server's time limit (`body_timeout`).
#[derive(ToResponse)]
pub struct RequestTimeout(pub ErrorOut<'static>);

/// The body is over 64 KiB (`body_too_large`).
#[derive(ToResponse)]
pub struct PayloadTooLarge(pub ErrorOut<'static>);

/// The body was not sent as `Content-Type: application/json`, or was compressed
/// (`content_type_invalid`).
#[derive(ToResponse)]
pub struct UnsupportedMediaType(pub ErrorOut<'static>);

/// Over this key's request rate (`rate_limited`); retry after `Retry-After` seconds.
#[derive(ToResponse)]
#[response(headers(("Retry-After" = u64, description = "Seconds to wait before retrying.")))]
pub struct RateLimited(pub ErrorOut<'static>);

/// An unexpected failure (`internal_error`); nothing internal is shown. Retry.
#[derive(ToResponse)]
pub struct InternalError(pub ErrorOut<'static>);

/// The database is unreachable for now (`service_unavailable`). Retry.
#[derive(ToResponse)]
pub struct Unavailable(pub ErrorOut<'static>);
