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
            Err(_) => Ok(PathId(segment_not_text(parts.uri.path()).to_owned())),
        }
    }
}

/// The first segment that is not UTF-8 once percent-decoded (the id: no other segment of a
/// route is), else the last one.
fn segment_not_text(path: &str) -> &str {
    let mut segments = path.split('/');
    let last = path.rsplit('/').next().unwrap_or(path);
    segments
        .find(|segment| String::from_utf8(percent_decoded(segment)).is_err())
        .unwrap_or(last)
}

fn percent_decoded(segment: &str) -> Vec<u8> {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = bytes
            .get(index + 1..index + 3)
            .filter(|_| bytes[index] == b'%')
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    decoded
}

#[cfg(test)]
mod tests {
    use super::segment_not_text;

    #[test]
    fn the_segment_that_is_not_text_is_found_wherever_it_is() {
        assert_eq!(segment_not_text("/v1/customers/%FF%FE"), "%FF%FE");
        assert_eq!(segment_not_text("/v1/events/%FF/resend"), "%FF");
        assert_eq!(
            segment_not_text("/v1/events/caf%C3%A9%FF/resend"),
            "caf%C3%A9%FF"
        );
        assert_eq!(segment_not_text("/v1/events/ok/resend"), "resend");
    }
}
