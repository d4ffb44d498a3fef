//! Renvo: a self-hostable server for the Renvo Customers API.
//!
//! `http::router` builds the whole API from an `AppState`; `main` and the tests share it.

pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod store;
pub mod telemetry;

pub use http::{AppState, router};
