//! The `Idempotency-Key` header: read and checked here, honoured by the store in the same
//! transaction as the write it protects.

use axum::http::{HeaderMap, Method, StatusCode};
use serde::Serialize;
use utoipa::IntoParams;

use super::body::JsonObject;
use super::error::ApiError;
use super::headers::single;
use crate::store::{IdempotencyClaim, StoreError, StoreResult, StoredResponse};

pub const HEADER: &str = "idempotency-key";

/// The `Idempotency-Key` header as the OpenAPI document shows it.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyKeyParam {
    /// 1 to 255 printable ASCII characters. The first response to a key is kept for 24 hours
    /// and replayed, with `Idempotent-Replayed: true`, to a retry of the same request; the same
    /// key with another request is 400 `idempotency_key_reused`, and while the first is still
    /// running 409 `idempotency_key_in_use`.
    #[param(
        rename = "Idempotency-Key",
        nullable = false,
        min_length = 1,
        max_length = 255
    )]
    #[param(pattern = "^[ -~]+$")]
    pub idempotency_key: Option<String>,
}

/// The claim for this request, or `None` without the header.
pub fn idempotency_claim(
    headers: &HeaderMap,
    method: &Method,
    canonical_path: &str,
    body: &JsonObject,
) -> Result<Option<IdempotencyClaim>, ApiError> {
    let sent_once = single(headers, HEADER).map_err(|_| {
        ApiError::invalid(
            "Idempotency-Key",
            "`Idempotency-Key` was sent more than once; send one key.",
        )
    })?;
    let Some(value) = sent_once else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|key| {
            (1..=255).contains(&key.len()) && key.bytes().all(|b| (0x20..0x7f).contains(&b))
        })
        .ok_or_else(|| {
            ApiError::invalid(
                "Idempotency-Key",
                "`Idempotency-Key` must be 1 to 255 printable ASCII characters.",
            )
        })?;
    let fingerprint = format!("{method} {canonical_path} {}", body.digest());
    Ok(Some(IdempotencyClaim {
        key: key.to_owned(),
        fingerprint,
    }))
}

/// A write's response as the store sends and keeps it: `value` as JSON, with `status`.
pub fn rendered<T: Serialize>(status: StatusCode, value: &T) -> StoreResult<StoredResponse> {
    let body =
        serde_json::to_string(value).map_err(|error| StoreError::Invalid(error.to_string()))?;
    Ok(StoredResponse {
        status: status.as_u16(),
        body,
        replayed: false,
    })
}
