//! One integration-test binary: a module per resource, shared helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;
mod process;
mod raw_http;

mod auth;
mod binary;
mod body_limit;
mod concurrency;
mod customer_validation;
mod customers;
mod errors;
mod events;
mod idempotency;
mod lists;
mod ops;
mod query_plans;
