//! One integration-test binary: a module per resource, shared helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;
mod raw_http;

mod customers;
mod events;
mod query_plans;
