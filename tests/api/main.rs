//! One integration-test binary: a module per resource, shared helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contract;
mod helpers;

mod customers;
mod openapi;
mod openapi_responses;
mod ops;
