//! The HTTP/1 server: accepts connections and serves the router on each, within time limits a
//! slow or silent client cannot stretch, and stops gracefully.

use std::io;
use std::pin::pin;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceBuilder;
use tower_http::timeout::RequestBodyDeadlineLayer;

/// Pause after a failed accept (such as running out of file descriptors) before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How long a client may take. Without limits, a client that sends a request a byte at a time,
/// or never finishes it, holds its connection open forever.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// From when the server waits for a request until its head has arrived; an idle
    /// keep-alive connection is closed after it too.
    pub header_read: Duration,
    /// From the head until the end of the body; past it the request is answered 408.
    pub body_read: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read: Duration::from_secs(30),
            body_read: Duration::from_secs(30),
        }
    }
}

/// Serves `app` on `listener` until `shutdown`, then lets requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                let connection = serve_connection(stream, app.clone(), limits, shutdown.clone());
                connections.spawn(connection);
            }
            Err(error) => {
                tracing::warn!(error = &error as &dyn std::error::Error, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }

    connections.close();
    connections.wait().await;
    Ok(())
}

async fn serve_connection(
    stream: TcpStream,
    app: Router,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
) {
    let service = ServiceBuilder::new()
        .layer(RequestBodyDeadlineLayer::new(limits.body_read))
        .service(app);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    let connection =
        builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    let mut connection = pin!(connection);

    let served = tokio::select! {
        served = connection.as_mut() => served,
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    // A client that vanishes or times out is routine, not a server fault.
    if let Err(error) = served {
        tracing::debug!(error = &error as &dyn std::error::Error, "connection ended");
    }
}
