//! One integration-test binary: a module per resource, shared helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod db;
// Shared by every test module; some helpers serve only a few of them.
#[allow(dead_code)]
mod helpers;
mod receiver;

mod concurrency;
mod customers;
mod engines;
mod multinode;
mod nodes;
mod postgres;
mod tenancy;
mod webhooks;
