//! Authentication: extractors named for what they prove. `ReadAccess` proves a valid key;
//! `WriteAccess` proves a valid `read_write` key. Both enforce the per-key rate limit.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::AppState;
use super::error::ApiError;
use super::headers::single;
use crate::domain::Tenant;
use crate::domain::key::SecretKey;
use crate::domain::timestamp::Timestamp;
use crate::store::KeyGrant;

/// How stale `last_used_at` may get before a request refreshes it; writing it on every request
/// would turn each read into a write.
const KEY_USE_RESOLUTION_MILLIS: i64 = 60_000;

/// A request made with a valid, unrevoked key of either scope.
pub struct ReadAccess(pub Tenant);

/// A request made with a valid `read_write` key.
pub struct WriteAccess(pub Tenant);

impl FromRequestParts<AppState> for ReadAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state)
            .await
            .map(|grant| ReadAccess(grant.tenant))
    }
}

impl FromRequestParts<AppState> for WriteAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let grant = authenticate(parts, state).await?;
        if !grant.scope.allows_writes() {
            return Err(ApiError::scope_insufficient());
        }
        Ok(WriteAccess(grant.tenant))
    }
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<KeyGrant, ApiError> {
    let secret = presented_key(parts).ok_or_else(ApiError::unauthenticated)?;
    let grant = state
        .store()
        .authenticate(&secret.digest())
        .await?
        .ok_or_else(ApiError::unauthenticated)?;

    let span = tracing::Span::current();
    span.record("account", tracing::field::display(grant.tenant.account));
    span.record("mode", grant.tenant.mode.as_str());

    state.check_rate(grant.key)?;
    note_key_use(state, &grant);
    Ok(grant)
}

/// `Authorization: Bearer <key>`, the scheme in any letter case; sent twice it is malformed.
fn presented_key(parts: &Parts) -> Option<SecretKey> {
    let value = single(&parts.headers, header::AUTHORIZATION)
        .ok()??
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    SecretKey::from_presented(token.trim())
}

/// Refreshes `last_used_at` in the background when it is older than the resolution.
fn note_key_use(state: &AppState, grant: &KeyGrant) {
    let now = Timestamp::now();
    let fresh = grant
        .last_used_at
        .is_some_and(|at| now.unix_millis() - at.unix_millis() < KEY_USE_RESOLUTION_MILLIS);
    if fresh || !state.claim_key_use(grant.key, now, KEY_USE_RESOLUTION_MILLIS) {
        return;
    }
    let store = state.store().clone();
    let key = grant.key;
    tokio::spawn(async move {
        if let Err(error) = store.record_key_use(key, now).await {
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                "could not record key use"
            );
        }
    });
}
