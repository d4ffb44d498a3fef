//! `renvo serve`: first-run set-up, the HTTP server, background work, graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{CliError, SharedStore};
use crate::config::ServeOptions;
use crate::domain::Mode;
use crate::domain::key::Scope;
use crate::domain::timestamp::Timestamp;
use crate::http::server::{self, ConnectionLimits};
use crate::http::{AppState, router};
use crate::webhook::guard::AddressGuard;
use crate::webhook::{Dispatcher, DispatcherConfig};

/// Longest wait for requests in flight once a shutdown signal arrives.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);
const PURGE_INTERVAL: Duration = Duration::from_secs(3600);

pub async fn run(store: SharedStore, options: ServeOptions) -> Result<(), CliError> {
    let wake = Arc::new(Notify::new());
    let guard = AddressGuard {
        allow_private: options.webhook_allow_private,
    };
    let state =
        AppState::new(store.clone(), options.rate_limit, wake.clone()).with_webhook_guard(guard);
    let config = DispatcherConfig {
        schedule: options.webhook_retry_schedule.clone(),
        guard,
        lease: options.webhook_lease,
        ..DispatcherConfig::default()
    };
    let dispatcher = Dispatcher::new(store.clone(), config, wake)
        .map_err(|error| CliError::Usage(format!("webhook client: {error}")))?;
    let shutdown = CancellationToken::new();
    cancel_on_signal(shutdown.clone())?;
    let listener = TcpListener::bind(options.listen).await.map_err(|error| {
        CliError::Usage(format!("cannot listen on {}: {error}", options.listen))
    })?;
    // After the bind: keys printed only once must not go to a server that cannot start.
    bootstrap(&store).await?;
    tracing::info!(address = %options.listen, "listening");

    let purger = tokio::spawn(purge_loop(store.clone(), shutdown.clone()));
    tokio::spawn(crate::telemetry::metrics_upkeep(shutdown.clone()));
    let delivering = tokio::spawn(dispatcher.run(shutdown.clone()));

    let limits = ConnectionLimits::default();
    let server = server::serve(listener, router(state), limits, shutdown.clone());
    let drain_limit = async {
        shutdown.cancelled().await;
        tokio::time::sleep(DRAIN_LIMIT).await;
    };
    tokio::select! {
        served = server => served?,
        () = drain_limit => tracing::warn!("requests still in flight after 30 s; stopping anyway"),
    }
    purger.abort();
    // Attempts in flight end within their timeout and are recorded before the exit.
    shutdown.cancel();
    let _ = delivering.await;
    tracing::info!("stopped");
    Ok(())
}

/// On an empty database: one account and its first keys, printed once (by one node only,
/// when several start together).
async fn bootstrap(store: &SharedStore) -> Result<(), CliError> {
    let Some(account) = store.create_first_account("default").await? else {
        return Ok(());
    };
    let (_, test_key) = store
        .create_api_key(account.id, Mode::Test, Scope::ReadWrite)
        .await?;
    let (_, live_key) = store
        .create_api_key(account.id, Mode::Live, Scope::ReadWrite)
        .await?;
    println!(
        "Created account {} with two read_write API keys. They are shown only this once:",
        account.id
    );
    println!("  test key: {}", test_key.expose());
    println!("  live key: {}", live_key.expose());
    Ok(())
}

/// Registers for SIGTERM and SIGINT before the server binds, so that no signal can arrive
/// while the default action (an abrupt exit) is still in force.
fn cancel_on_signal(shutdown: CancellationToken) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};

    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = terminate.recv() => {},
            _ = interrupt.recv() => {},
        }
        tracing::info!("shutdown signal received; finishing requests in flight");
        shutdown.cancel();
    });
    Ok(())
}

/// Drops events past 30 days and idempotency keys past 24 hours.
async fn purge_loop(store: SharedStore, shutdown: CancellationToken) {
    loop {
        match store.purge_expired(Timestamp::now()).await {
            Ok(removed) => tracing::debug!(removed, "purged expired records"),
            Err(error) => tracing::warn!(error = &error as &dyn std::error::Error, "purge failed"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(PURGE_INTERVAL) => {},
        }
    }
}
