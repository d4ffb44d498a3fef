//! `/v1/customers`: list, retrieve, create, update.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::routing::get;

use super::body::{Field, JsonObject};
use super::error::ApiError;
use super::idempotency::idempotency_claim;
use super::list::{ListOut, ListQuery};
use super::path::PathId;
use super::{AppState, json_response, stored_response};
use crate::domain::contact::{Email, Language, Phone, fold_email};
use crate::domain::customer::{self, CustomerPatch, NewCustomer, READ_ONLY_FIELDS};
use crate::domain::{CustomerId, FieldError};
use crate::http::auth::{ReadAccess, WriteAccess};

const CREATE_FIELDS: &[&str] = &[
    "full_name",
    "email",
    "phone",
    "preferred_language",
    "source_channel",
    "notes",
];
const UPDATE_FIELDS: &[&str] = CREATE_FIELDS;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/customers", get(list_customers).post(create_customer))
        .route(
            "/customers/{id}",
            get(retrieve_customer).patch(update_customer),
        )
}

/// `GET /v1/customers`
pub async fn list_customers(
    State(app): State<AppState>,
    ReadAccess(tenant): ReadAccess,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = ListQuery::parse(query.as_deref(), &["email"])?;
    let page = query.page(|cursor| CustomerId::parse(cursor).map(CustomerId::uuid))?;
    let email = query.get("email").map(fold_email);

    let found = app
        .store()
        .list_customers(tenant, email.as_deref(), page)
        .await?;
    Ok(json_response(&ListOut::from_page(found, |c| {
        c.id.to_string()
    })))
}

/// `GET /v1/customers/{id}`
pub async fn retrieve_customer(
    State(app): State<AppState>,
    ReadAccess(tenant): ReadAccess,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let missing = || ApiError::no_such("customer", &id);
    let customer_id = CustomerId::parse(&id).ok_or_else(missing)?;

    let customer = app
        .store()
        .customer(tenant, customer_id)
        .await?
        .ok_or_else(missing)?;
    Ok(json_response(&customer))
}

/// `POST /v1/customers`
pub async fn create_customer(
    State(app): State<AppState>,
    WriteAccess(tenant): WriteAccess,
    headers: HeaderMap,
    body: JsonObject,
) -> Result<Response, ApiError> {
    let new = new_customer(&body)?;
    let claim = idempotency_claim(&headers, &Method::POST, "/v1/customers", &body)?;

    let stored = app.store().create_customer(tenant, new, claim).await?;
    app.wake_dispatcher();
    Ok(stored_response(stored))
}

/// `PATCH /v1/customers/{id}`
pub async fn update_customer(
    State(app): State<AppState>,
    WriteAccess(tenant): WriteAccess,
    PathId(id): PathId,
    headers: HeaderMap,
    body: JsonObject,
) -> Result<Response, ApiError> {
    let missing = || ApiError::no_such("customer", &id);
    let customer_id = CustomerId::parse(&id).ok_or_else(missing)?;
    let patch = customer_patch(&body)?;
    let path = format!("/v1/customers/{customer_id}");
    let claim = idempotency_claim(&headers, &Method::PATCH, &path, &body)?;

    let stored = app
        .store()
        .update_customer(tenant, customer_id, patch, claim)
        .await?
        .ok_or_else(missing)?;
    app.wake_dispatcher();
    Ok(stored_response(stored))
}

fn new_customer(body: &JsonObject) -> Result<NewCustomer, ApiError> {
    body.allow_only(CREATE_FIELDS, READ_ONLY_FIELDS)?;
    let full_name = match body.text("full_name")? {
        Field::Set(name) => customer::parse_full_name(name)?,
        Field::Absent | Field::Null => return Err(ApiError::missing("full_name")),
    };
    Ok(NewCustomer {
        full_name,
        email: optional(body.text("email")?, "email", Email::parse)?.flatten(),
        phone: optional(body.text("phone")?, "phone", Phone::parse)?.flatten(),
        preferred_language: optional(
            body.text("preferred_language")?,
            "preferred_language",
            Language::parse,
        )?
        .flatten()
        .unwrap_or_else(Language::default_tag),
        source_channel: optional(
            body.text("source_channel")?,
            "source_channel",
            field_rule(customer::parse_source_channel),
        )?
        .flatten(),
        notes: optional(
            body.text("notes")?,
            "notes",
            field_rule(customer::parse_notes),
        )?
        .flatten(),
    })
}

fn customer_patch(body: &JsonObject) -> Result<CustomerPatch, ApiError> {
    body.allow_only(UPDATE_FIELDS, READ_ONLY_FIELDS)?;
    let full_name = match body.text("full_name")? {
        Field::Absent => None,
        Field::Null => {
            return Err(ApiError::invalid(
                "full_name",
                "`full_name` cannot be null; every customer has a name.",
            ));
        }
        Field::Set(name) => Some(customer::parse_full_name(name)?),
    };
    Ok(CustomerPatch {
        full_name,
        email: optional(body.text("email")?, "email", Email::parse)?,
        phone: optional(body.text("phone")?, "phone", Phone::parse)?,
        preferred_language: optional(
            body.text("preferred_language")?,
            "preferred_language",
            Language::parse,
        )?
        .map(|language| language.unwrap_or_else(Language::default_tag)),
        source_channel: optional(
            body.text("source_channel")?,
            "source_channel",
            field_rule(customer::parse_source_channel),
        )?,
        notes: optional(
            body.text("notes")?,
            "notes",
            field_rule(customer::parse_notes),
        )?,
    })
}

/// Absent → `None`; `null` → `Some(None)`; a value → `Some(Some(parsed))`, or the rule's error.
fn optional<T>(
    field: Field<&str>,
    param: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<Option<T>>, ApiError> {
    match field {
        Field::Absent => Ok(None),
        Field::Null => Ok(Some(None)),
        Field::Set(text) => parse(text)
            .map(|value| Some(Some(value)))
            .map_err(|message| ApiError::invalid(param, message)),
    }
}

fn field_rule(
    rule: fn(&str) -> Result<String, FieldError>,
) -> impl Fn(&str) -> Result<String, String> {
    move |text| rule(text).map_err(|error| error.message)
}
