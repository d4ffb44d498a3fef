//! One integration-test binary: a module per resource, shared helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;
mod receiver;

mod customers;
mod webhooks;
