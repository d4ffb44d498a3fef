//! Renvo: a self-hostable server for the Renvo Customers API.
//!
//! `http::router` builds the whole API from an `AppState`; `main` and the tests share it.

pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod store;
pub mod telemetry;
pub mod webhook;

pub use http::{AppState, router};

/// Installs the process-wide TLS crypto provider (ring) that outgoing HTTPS (webhooks) uses.
/// Safe to call more than once.
pub fn install_tls_provider() {
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
}
