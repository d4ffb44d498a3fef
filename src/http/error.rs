//! The one error type of the HTTP layer. It owns the wire format of every failure:
//! `{"error":{"type","message","param","code","request_id"}}`.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::FieldError;
use crate::store::StoreError;

tokio::task_local! {
    /// The id of the request being served, set by the request middleware.
    pub static REQUEST_ID: String;
}

/// A failure as the client sees it.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    param: Option<String>,
    retry_after: Option<u64>,
}

/// Every failure, whatever its status: `{"error": {...}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorOut<'a> {
    error: ErrorBodyOut<'a>,
}

/// What went wrong, for a person and for a program.
#[derive(Serialize, ToSchema)]
pub struct ErrorBodyOut<'a> {
    #[serde(rename = "type")]
    #[schema(inline)]
    kind: ErrorType,
    /// What went wrong and what to do about it, for a person to read.
    message: &'a str,
    /// The parameter, field or header at fault; present only when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    param: Option<&'a str>,
    /// A stable code for programs, such as `parameter_invalid`, `resource_missing`,
    /// `api_key_invalid`, `scope_insufficient`, `idempotency_key_in_use` or `rate_limited`.
    code: &'static str,
    /// The id of the request (also in the `Request-Id` header), for support.
    #[schema(required = true)]
    request_id: Option<String>,
}

/// The kind of failure, fixed by the status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    /// 400, 405, 408, 413, 415.
    InvalidRequestError,
    /// 401.
    AuthenticationError,
    /// 403.
    PermissionError,
    /// 404.
    NotFound,
    /// 409.
    Conflict,
    /// 429.
    RateLimitError,
    /// 500, 503.
    ApiError,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            param: None,
            retry_after: None,
        }
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "parameter_invalid", message).with_param(param)
    }

    pub fn missing(param: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "parameter_missing",
            format!("Missing required param: {param}."),
        )
        .with_param(param)
    }

    pub fn unknown(param: &str) -> Self {
        let param = echo(param);
        Self::new(
            StatusCode::BAD_REQUEST,
            "parameter_unknown",
            format!("Received unknown parameter: {param}."),
        )
        .with_param(param)
    }

    pub fn read_only(param: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "parameter_unknown",
            format!("`{param}` is read-only and cannot be set."),
        )
        .with_param(param)
    }

    pub fn body_invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "body_invalid", message)
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "api_key_invalid",
            "Invalid API key.",
        )
    }

    pub fn scope_insufficient() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "scope_insufficient",
            "This API key has the `read` scope; this request needs a `read_write` key.",
        )
    }

    pub fn no_such(object: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "resource_missing",
            format!("No such {object}: '{}'", echo(id)),
        )
        .with_param("id")
    }

    pub fn route_missing(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "route_missing",
            format!(
                "Unrecognized request URL ({}: {}).",
                echo(method),
                echo(path)
            ),
        )
    }

    pub fn method_not_allowed(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{} is not allowed on {}.", echo(method), echo(path)),
        )
    }

    pub fn body_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("The request body must be at most {} KiB.", limit / 1024),
        )
    }

    pub fn body_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            "The request body did not arrive in time; send it without pausing.",
        )
    }

    pub fn content_type_invalid() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_type_invalid",
            "The request body must be JSON, sent with `Content-Type: application/json`.",
        )
    }

    pub fn content_encoding_invalid() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_type_invalid",
            "The request body must be sent uncompressed, without `Content-Encoding`.",
        )
    }

    pub fn idempotency_key_reused() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request; use a new key.",
        )
        .with_param("Idempotency-Key")
    }

    pub fn idempotency_key_in_use() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "idempotency_key_in_use",
            "A request with this Idempotency-Key is still in progress; retry shortly.",
        )
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many requests with this API key; slow down and retry after the time in Retry-After.",
        );
        error.retry_after = Some(retry_after_secs.max(1));
        error
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "An internal error occurred; please retry.",
        )
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "The service is temporarily unavailable; please retry.",
        )
    }

    fn error_type(&self) -> ErrorType {
        match self.status.as_u16() {
            401 => ErrorType::AuthenticationError,
            403 => ErrorType::PermissionError,
            404 => ErrorType::NotFound,
            409 => ErrorType::Conflict,
            429 => ErrorType::RateLimitError,
            500..=599 => ErrorType::ApiError,
            _ => ErrorType::InvalidRequestError,
        }
    }
}

/// Longest piece of client input an error repeats.
const ECHO_CHARS: usize = 100;

/// Client input as an error message or `param` repeats it: cut to [`ECHO_CHARS`] characters
/// and marked with `…`, so that a 60 KiB key, id or path is not sent back whole.
pub fn echo(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(ECHO_CHARS) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => Cow::Owned(format!("{}…", &text[..cut])),
    }
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        ApiError::invalid(error.param, error.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::IdempotencyKeyReused => ApiError::idempotency_key_reused(),
            StoreError::IdempotencyKeyInUse => ApiError::idempotency_key_in_use(),
            StoreError::Unavailable(_) | StoreError::WriterStopped => {
                tracing::error!(
                    error = &error as &dyn std::error::Error,
                    "store unavailable"
                );
                ApiError::unavailable()
            }
            other => {
                tracing::error!(error = &other as &dyn std::error::Error, "store failure");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = REQUEST_ID.try_with(Clone::clone).ok();
        let envelope = ErrorOut {
            error: ErrorBodyOut {
                kind: self.error_type(),
                message: &self.message,
                param: self.param.as_deref(),
                code: self.code,
                request_id,
            },
        };
        let body = serde_json::to_vec(&envelope).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
