//! `/v1/customers`: list, retrieve, create, update.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use axum::routing::get;

use utoipa::{IntoParams, ToSchema};

use super::body::{Field, JsonObject};
use super::error::ApiError;
use super::idempotency::{IdempotencyKeyParam, idempotency_claim};
use super::list::{ListOut, ListQuery, PageParams};
use super::openapi::NotFound;
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

pub fn router(prefix: &str) -> Router<AppState> {
    Router::new()
        .route(
            &format!("{prefix}/customers"),
            get(list_customers).post(create_customer),
        )
        .route(
            &format!("{prefix}/customers/{{id}}"),
            get(retrieve_customer).patch(update_customer),
        )
}

/// List customers
///
/// Newest first. `email` keeps only the customers with that address, compared ignoring letter
/// case.
#[utoipa::path(
    get,
    path = "/v1/customers",
    tag = "customers",
    security(("bearer" = [])),
    params(
        ("email" = Option<String>, Query,
            description = "Only customers with this email, compared ignoring letter case."),
        PageParams,
    ),
    responses(
        (status = 200, description = "A page of customers.", body = ListOut<CustomerOut>),
    ),
)]
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

/// Retrieve a customer
#[utoipa::path(
    get,
    path = "/v1/customers/{id}",
    tag = "customers",
    security(("bearer" = [])),
    params(CustomerIdParam),
    responses(
        (status = 200, description = "The customer.", body = CustomerOut),
        (status = 404, response = NotFound),
    ),
)]
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

/// Create a customer
///
/// Records a `customer.created` event with the customer. Needs a `read_write` key.
#[utoipa::path(
    post,
    path = "/v1/customers",
    tag = "customers",
    security(("bearer" = [])),
    params(IdempotencyKeyParam),
    request_body = CustomerCreateIn,
    responses(
        (status = 201, description = "The new customer.", body = CustomerOut,
            headers(("Idempotent-Replayed" = String,
                description = "`true` on a replayed answer."))),
    ),
)]
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

/// Update a customer
///
/// Absent fields stay as they are; `null` clears an optional field. A change records a
/// `customer.updated` event; `{}` changes nothing and records none. Needs a `read_write` key.
#[utoipa::path(
    patch,
    path = "/v1/customers/{id}",
    tag = "customers",
    security(("bearer" = [])),
    params(CustomerIdParam, IdempotencyKeyParam),
    request_body = CustomerUpdateIn,
    responses(
        (status = 200, description = "The customer after the update.", body = CustomerOut,
            headers(("Idempotent-Replayed" = String,
                description = "`true` on a replayed answer."))),
        (status = 404, response = NotFound),
    ),
)]
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

/// The `{id}` of a customer path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CustomerIdParam {
    /// The customer's id, `cu_` and a UUID; the bare UUID in any letter case works too.
    pub id: String,
}

/// A person who rents from the account.
#[derive(ToSchema)]
pub struct CustomerOut {
    /// `cu_` and a lowercase UUIDv7.
    #[schema(pattern = "^cu_[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")]
    pub id: String,
    #[schema(inline)]
    pub object: CustomerObject,
    /// `true` for a live-mode customer, `false` for test mode.
    pub livemode: bool,
    /// Trimmed, 1 to 256 characters.
    pub full_name: String,
    /// As given, or `null`.
    #[schema(required = true)]
    pub email: Option<String>,
    /// E.164, such as `+14155550100`, or `null`.
    #[schema(required = true)]
    pub phone: Option<String>,
    /// A canonical BCP 47 tag, `en` unless set.
    pub preferred_language: String,
    /// Where the customer came from, or `null`.
    #[schema(required = true)]
    pub source_channel: Option<String>,
    /// Internal notes, or `null`.
    #[schema(required = true)]
    pub notes: Option<String>,
    /// Whether the customer has rented before; set by the server.
    pub is_returning: bool,
    /// Lifetime rental count; set by the server.
    #[schema(minimum = 0)]
    pub total_rentals: i64,
    /// Trust score from 0 to 100, 50 when nothing is known; set by the server.
    #[schema(minimum = 0, maximum = 100)]
    pub overall_score: f64,
    /// RFC 3339 in UTC, such as `2026-12-04T15:01:34.123Z`.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// RFC 3339 in UTC; changes with every update that changes something.
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// The `object` of a customer: always `"customer"`.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomerObject {
    Customer,
}

/// A new customer. Only `full_name` is required; fields outside this list are refused.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerCreateIn {
    /// Trimmed; 1 to 256 characters, no control characters.
    #[schema(min_length = 1, max_length = 256)]
    pub full_name: String,
    /// One mailbox, at most 254 bytes; stored as given. Need not be unique.
    pub email: Option<String>,
    /// A `+`-prefixed international number; spaces, dashes, dots and brackets are fine.
    /// Stored as E.164.
    pub phone: Option<String>,
    /// A BCP 47 tag, stored canonically (`zh_CN` becomes `zh-CN`); `en` when absent or `null`.
    pub preferred_language: Option<String>,
    /// Trimmed; 1 to 64 characters.
    #[schema(min_length = 1, max_length = 64)]
    pub source_channel: Option<String>,
    /// At most 10,000 characters.
    #[schema(max_length = 10000)]
    pub notes: Option<String>,
}

/// Changes to a customer: absent leaves a field alone, `null` clears an optional one.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerUpdateIn {
    /// Trimmed; 1 to 256 characters. Cannot be `null`.
    #[schema(nullable = false, min_length = 1, max_length = 256)]
    pub full_name: Option<String>,
    /// One mailbox, at most 254 bytes.
    pub email: Option<String>,
    /// A `+`-prefixed international number, stored as E.164.
    pub phone: Option<String>,
    /// A BCP 47 tag; `null` puts back `en`.
    pub preferred_language: Option<String>,
    /// Trimmed; 1 to 64 characters.
    #[schema(min_length = 1, max_length = 64)]
    pub source_channel: Option<String>,
    /// At most 10,000 characters.
    #[schema(max_length = 10000)]
    pub notes: Option<String>,
}
