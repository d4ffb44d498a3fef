//! The `{id}` segment of an object's path. Any segment reaches the handler as text, so that
//! an id that is not even UTF-8 once percent-decoded is answered like every other id that
//! names nothing: a JSON 404, never the router's plain-text 400.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

/// The id as the client wrote it, percent-decoded when that gives text.
pub struct PathId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Infallible> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(id)) => Ok(PathId(id)),
            // Still percent-encoded, which is also how the error message can show it.
            Err(_) => Ok(PathId(last_segment(parts.uri.path()).to_owned())),
        }
    }
}

fn last_segment(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}
