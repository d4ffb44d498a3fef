//! One integration-test binary: a module per resource, shared helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contract;
mod db;
// Shared by every test module; some helpers serve only a few of them.
#[allow(dead_code)]
mod helpers;

mod concurrency;
mod customers;
mod engines;
mod hostile;
mod nodes;
mod openapi;
mod openapi_responses;
mod ops;
mod postgres;
mod tenancy;
