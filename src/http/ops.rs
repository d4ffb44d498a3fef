//! Operations endpoints without a key: liveness, readiness, Prometheus metrics.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiError;
use super::openapi::Unavailable;
use super::{AppState, json_response};
use crate::store::StoreResult;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The body of a healthy answer: `{"status":"ok"}`.
#[derive(Serialize, ToSchema)]
pub struct StatusOut {
    #[schema(inline)]
    status: Status,
}

/// Always `"ok"`: anything else is an error response.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum Status {
    Ok,
}

/// Liveness
///
/// The process answers; nothing else is checked.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    servers((url = "/")),
    responses((status = 200, description = "The process is alive.", body = StatusOut)),
)]
pub async fn healthz() -> Response {
    status_ok()
}

/// Readiness
///
/// The process answers and so does the database.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    servers((url = "/")),
    responses(
        (status = 200, description = "Ready to serve.", body = StatusOut),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn readyz(State(app): State<AppState>) -> Result<Response, ApiError> {
    readiness(app.store().ping().await)
}

/// The answer to a readiness check, from the result of pinging the database.
fn readiness(ping: StoreResult<()>) -> Result<Response, ApiError> {
    ping.map_err(|error| {
        tracing::warn!(
            error = &error as &dyn std::error::Error,
            "readiness check failed"
        );
        ApiError::unavailable()
    })?;
    Ok(status_ok())
}

/// Metrics
///
/// Prometheus text exposition: `renvo_http_requests_total` by route, method and status, and the
/// `renvo_http_request_duration_seconds` histogram by route and method.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    servers((url = "/")),
    responses(
        (status = 200, description = "Prometheus text format 0.0.4.", body = String,
            content_type = "text/plain; version=0.0.4; charset=utf-8"),
    ),
)]
pub async fn metrics(State(app): State<AppState>) -> Response {
    let mut response = app.render_metrics().into_response();
    let content_type = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    response
}

fn status_ok() -> Response {
    json_response(&StatusOut { status: Status::Ok })
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;
    use axum::http::StatusCode;

    use super::*;
    use crate::store::StoreError;

    #[tokio::test]
    async fn a_database_that_does_not_answer_makes_readiness_a_503_error_envelope() {
        let down = Err(StoreError::Unavailable(sqlx::Error::PoolClosed));

        let response = match readiness(down) {
            Ok(response) => response,
            Err(error) => error.into_response(),
        };

        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = to_bytes(response.into_body(), 4096).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["type"], "api_error");
        assert_eq!(body["error"]["code"], "service_unavailable");
    }

    #[tokio::test]
    async fn a_database_that_answers_makes_readiness_a_200_ok() {
        let response = readiness(Ok(())).unwrap();

        assert_eq!(response.status(), StatusCode::OK);
        let body = to_bytes(response.into_body(), 4096).await.unwrap();
        assert_eq!(&body[..], br#"{"status":"ok"}"#);
    }
}
