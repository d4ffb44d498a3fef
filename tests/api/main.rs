//! One integration-test binary: a module per resource, shared helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contract;
mod db;
// Shared by every test module; some helpers serve only a few of them.
#[allow(dead_code)]
mod helpers;
mod process;
mod raw_http;
mod receiver;

mod auth;
mod binary;
mod body_limit;
mod concurrency;
mod customer_validation;
mod customers;
mod engines;
mod errors;
mod events;
mod hostile;
mod idempotency;
mod lists;
mod multinode;
mod nodes;
mod openapi;
mod openapi_responses;
mod openapi_webhooks;
mod ops;
mod postgres;
mod query_plans;
mod tenancy;
mod webhooks;
