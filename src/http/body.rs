//! Request bodies: `Content-Type: application/json`, at most 64 KiB, exactly one JSON object
//! with no repeated keys; then typed access to each field by name.

use std::collections::HashSet;
use std::error::Error;
use std::fmt;
use std::pin::Pin;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{FromRequest, OptionalFromRequest, Request};
use axum::http::header;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tower_http::timeout::TimeoutError;

use super::error::{ApiError, echo};
use super::headers::{Repeated, single};

/// Largest body accepted; larger ones are answered 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Most bytes of a refused body read and thrown away before answering. A connection whose
/// body is left unread is closed, and a client still sending then sees a broken pipe instead
/// of the answer; past this bound (or `DISCARD_MAX_WAIT`) the connection is closed anyway.
const DISCARD_MAX_BYTES: usize = 16 * 1024 * 1024;
const DISCARD_MAX_WAIT: Duration = Duration::from_secs(3);

/// A request body that is one JSON object, its fields in the order sent; the default is `{}`.
#[derive(Debug, Default)]
pub struct JsonObject {
    entries: Vec<(String, Value)>,
}

/// A field as sent: absent, `null`, or a value.
#[derive(Debug, PartialEq)]
pub enum Field<T> {
    Absent,
    Null,
    Set(T),
}

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        let refused = refuse_unreadable(&request);
        let expects_continue = request.headers().contains_key(header::EXPECT);
        let mut body = request.into_body();
        if let Err(error) = refused {
            // A client still sending would meet a closed connection instead of this answer,
            // so what it sends is read and dropped first (bounded). Under `Expect:
            // 100-continue` nothing is sent until the body is read, so nothing is.
            if !expects_continue {
                discard(&mut body).await;
            }
            return Err(error);
        }
        let bytes = read_limited(&mut body).await?;
        JsonObject::parse(&bytes)
    }
}

/// The body's next frame, as `http_body::Body::poll_frame` gives it. A macro rather than a
/// function so that the frame type, from a crate this one does not name, stays inferred.
macro_rules! next_frame {
    ($body:expr) => {
        std::future::poll_fn(|cx| Pin::new(&mut *$body).poll_frame(cx)).await
    };
}

/// The whole body, or 413 as soon as it passes `MAX_BODY_BYTES` (the rest is discarded).
async fn read_limited(body: &mut Body) -> Result<Vec<u8>, ApiError> {
    let too_large = || ApiError::body_too_large(MAX_BODY_BYTES);
    let announced = body.size_hint().lower();
    if announced > (MAX_BODY_BYTES + DISCARD_MAX_BYTES) as u64 {
        return Err(too_large());
    }

    let mut bytes = Vec::new();
    while let Some(frame) = next_frame!(body) {
        let frame = frame.map_err(|error| read_failure(&error))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if bytes.len() + data.len() > MAX_BODY_BYTES {
            discard(body).await;
            return Err(too_large());
        }
        bytes.extend_from_slice(&data);
    }
    Ok(bytes)
}

/// Reads and drops what is left of a refused body, within the discard bounds.
async fn discard(body: &mut Body) {
    let reading = async {
        let mut discarded = 0;
        while let Some(Ok(frame)) = next_frame!(body) {
            discarded += frame.data_ref().map_or(0, Bytes::len);
            if discarded > DISCARD_MAX_BYTES {
                return;
            }
        }
    };
    let _gave_up = tokio::time::timeout(DISCARD_MAX_WAIT, reading).await;
}

/// An optional body: none at all (or only whitespace) is `None`; anything else must be one
/// JSON object, as for a required body.
impl<S: Send + Sync> OptionalFromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Option<Self>, ApiError> {
        if !is_identity(single(request.headers(), header::CONTENT_ENCODING)) {
            return Err(ApiError::content_encoding_invalid());
        }
        let json = is_json(
            single(request.headers(), header::CONTENT_TYPE)
                .ok()
                .flatten(),
        );
        let bytes = read_limited(&mut request.into_body()).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        if !json {
            return Err(ApiError::content_type_invalid());
        }
        JsonObject::parse(&bytes).map(Some)
    }
}

/// Why a body could not be read: the connection's body deadline (408), or anything else.
fn read_failure(error: &(dyn Error + 'static)) -> ApiError {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<TimeoutError>() {
            return ApiError::body_timeout();
        }
        cause = error.source();
    }
    ApiError::body_invalid("The request body could not be read.")
}

/// What no reading of the body could make acceptable, refused before a byte of it is read: a
/// declared length over the limit is answered at once (and without `100 Continue`), not after
/// the client has sent it all.
fn refuse_unreadable(request: &Request) -> Result<(), ApiError> {
    let headers = request.headers();
    if !is_json(single(headers, header::CONTENT_TYPE).ok().flatten()) {
        return Err(ApiError::content_type_invalid());
    }
    if !is_identity(single(headers, header::CONTENT_ENCODING)) {
        return Err(ApiError::content_encoding_invalid());
    }
    if request.body().size_hint().lower() > MAX_BODY_BYTES as u64 {
        return Err(ApiError::body_too_large(MAX_BODY_BYTES));
    }
    Ok(())
}

/// No `Content-Encoding`, or `identity`: this server does not decompress bodies.
fn is_identity(encoding: Result<Option<&header::HeaderValue>, Repeated>) -> bool {
    match encoding {
        Ok(None) => true,
        Ok(Some(value)) => value.as_bytes().eq_ignore_ascii_case(b"identity"),
        Err(Repeated) => false,
    }
}

fn is_json(content_type: Option<&header::HeaderValue>) -> bool {
    let Some(text) = content_type.and_then(|value| value.to_str().ok()) else {
        return false;
    };
    let media_type = text.split(';').next().unwrap_or("").trim();
    media_type.eq_ignore_ascii_case("application/json")
}

impl JsonObject {
    pub fn parse(bytes: &[u8]) -> Result<JsonObject, ApiError> {
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            let shown = if first.is_none() {
                "empty"
            } else {
                "not a JSON object"
            };
            return Err(ApiError::body_invalid(format!(
                "The request body is {shown}; send one JSON object, such as {{\"full_name\": \"Jane Doe\"}}."
            )));
        }
        let entries: Entries = serde_json::from_slice(bytes).map_err(|error| {
            ApiError::body_invalid(format!("The request body is not valid JSON: {error}."))
        })?;
        if let Some(key) = entries.duplicate {
            let key = echo(&key);
            return Err(ApiError::body_invalid(format!(
                "The request body names `{key}` more than once; send each field once."
            ))
            .with_param(key));
        }
        Ok(JsonObject {
            entries: entries.items,
        })
    }

    /// Refuses any field outside `known`, telling read-only fields apart from unknown ones.
    pub fn allow_only(&self, known: &[&str], read_only: &[&str]) -> Result<(), ApiError> {
        match self
            .entries
            .iter()
            .find(|(key, _)| !known.contains(&key.as_str()))
        {
            Some((key, _)) if read_only.contains(&key.as_str()) => Err(ApiError::read_only(key)),
            Some((key, _)) => Err(ApiError::unknown(key)),
            None => Ok(()),
        }
    }

    /// A string field; any other JSON type is refused naming the field.
    pub fn text(&self, name: &str) -> Result<Field<&str>, ApiError> {
        match self.get(name) {
            None => Ok(Field::Absent),
            Some(Value::Null) => Ok(Field::Null),
            Some(Value::String(text)) => Ok(Field::Set(text)),
            Some(other) => Err(ApiError::invalid(
                name,
                format!("`{name}` must be a string, not {}.", type_name(other)),
            )),
        }
    }

    /// An array-of-strings field.
    pub fn text_list(&self, name: &str) -> Result<Field<Vec<&str>>, ApiError> {
        let not_list = || ApiError::invalid(name, format!("`{name}` must be an array of strings."));
        match self.get(name) {
            None => Ok(Field::Absent),
            Some(Value::Null) => Ok(Field::Null),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().ok_or_else(not_list))
                .collect::<Result<_, _>>()
                .map(Field::Set),
            Some(_) => Err(not_list()),
        }
    }

    /// A digest of the fields, independent of their order and spacing, for idempotency.
    pub fn digest(&self) -> String {
        let mut sorted: Vec<_> = self.entries.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut hasher = Sha256::new();
        for (key, value) in sorted {
            hasher.update(key.as_bytes());
            hasher.update([0]);
            hasher.update(value.to_string().as_bytes());
            hasher.update([0]);
        }
        hex::encode(hasher.finalize())
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The top-level object's entries, keeping order and noting the first repeated key.
struct Entries {
    items: Vec<(String, Value)>,
    duplicate: Option<String>,
}

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EntriesVisitor)
    }
}

struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Entries;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
        let mut entries = Entries {
            items: Vec::new(),
            duplicate: None,
        };
        // A set, not a scan of the items: 64 KiB holds thousands of keys.
        let mut seen = HashSet::new();
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            if !seen.insert(key.clone()) && entries.duplicate.is_none() {
                entries.duplicate = Some(key.clone());
            }
            entries.items.push((key, value));
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(body: &str) -> &'static str {
        JsonObject::parse(body.as_bytes())
            .err()
            .map(|e| e.code())
            .unwrap_or("ok")
    }

    #[test]
    fn one_object_parses() {
        assert_eq!(code_of(r#" {"full_name": "Jane"} "#), "ok");
        assert_eq!(code_of("{}"), "ok");
    }

    #[test]
    fn non_objects_duplicates_and_trailing_bytes_are_refused() {
        for body in [
            "",
            "[]",
            "\"x\"",
            "null",
            "{\"a\":1}{}",
            "{\"a\":1} x",
            "{\"a\":1,\"a\":2}",
            "{\"a\":",
        ] {
            assert_eq!(code_of(body), "body_invalid", "{body}");
        }
    }

    #[test]
    fn wrong_types_name_the_field() {
        let object = JsonObject::parse(br#"{"email": 5}"#).unwrap();
        let error = object.text("email").unwrap_err();
        assert_eq!(error.code(), "parameter_invalid");
    }

    #[test]
    fn digest_ignores_order_and_spacing() {
        let a = JsonObject::parse(br#"{"a":1,"b":"x"}"#).unwrap();
        let b = JsonObject::parse(br#"{ "b" : "x", "a" : 1 }"#).unwrap();
        let c = JsonObject::parse(br#"{"a":2,"b":"x"}"#).unwrap();
        assert_eq!(a.digest(), b.digest());
        assert_ne!(a.digest(), c.digest());
    }
}
