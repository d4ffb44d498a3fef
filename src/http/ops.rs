//! Operations endpoints without a key: liveness, readiness, Prometheus metrics.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// Alive: the process answers.
pub async fn healthz() -> Response {
    status_ok()
}

/// Ready: the database answers too.
pub async fn readyz(State(app): State<AppState>) -> Result<Response, ApiError> {
    app.store().ping().await.map_err(|error| {
        tracing::warn!(
            error = &error as &dyn std::error::Error,
            "readiness check failed"
        );
        ApiError::unavailable()
    })?;
    Ok(status_ok())
}

/// Prometheus text exposition.
pub async fn metrics(State(app): State<AppState>) -> Response {
    let mut response = app.render_metrics().into_response();
    let content_type = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    response
}

fn status_ok() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    )
        .into_response()
}
