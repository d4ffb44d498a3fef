//! Request headers that carry one value. Sent twice they are ambiguous (a proxy may read the
//! last where this server would read the first), so a repeat is refused, never resolved.

use axum::http::header::AsHeaderName;
use axum::http::{HeaderMap, HeaderValue};

/// The header was sent more than once.
#[derive(Debug, PartialEq)]
pub struct Repeated;

/// The header's only value, `None` when absent.
pub fn single<K: AsHeaderName>(
    headers: &HeaderMap,
    name: K,
) -> Result<Option<&HeaderValue>, Repeated> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    match values.next() {
        Some(_) => Err(Repeated),
        None => Ok(first),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::header::AUTHORIZATION;

    use super::*;

    #[test]
    fn a_header_sent_once_is_read_and_a_repeat_is_refused() {
        let mut headers = HeaderMap::new();
        assert_eq!(single(&headers, AUTHORIZATION), Ok(None));

        headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer a"));
        assert_eq!(
            single(&headers, AUTHORIZATION),
            Ok(Some(&headers[AUTHORIZATION]))
        );

        headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer a"));
        assert_eq!(single(&headers, AUTHORIZATION), Err(Repeated));
    }
}
