//! The `{id}` of an object's path, as text whatever bytes were sent: an id that does not
//! decode is still only an id that names nothing, so it gets the resource's 404, not a
//! routing error.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

/// The last path segment, percent-decoded; invalid UTF-8 is replaced, never refused.
pub struct PathId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Ok(Path(id)) = Path::<String>::from_request_parts(parts, state).await {
            return Ok(PathId(id));
        }
        let segment = parts.uri.path().rsplit('/').next().unwrap_or_default();
        let lossy = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        Ok(PathId(lossy.into_owned()))
    }
}
