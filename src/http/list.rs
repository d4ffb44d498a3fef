//! Query strings of list endpoints: `limit`, `starting_after` and the endpoint's own filters,
//! each at most once, nothing unknown.

use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, echo};
use crate::store::{Page, PageRequest};

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

/// The parameters of one list request, each checked for repeats and unknown names.
pub struct ListQuery {
    pairs: Vec<(String, String)>,
}

impl ListQuery {
    /// Parses the raw query, allowing `limit`, `starting_after` and `filters`. A value must be
    /// present and valid UTF-8 once decoded: an empty or garbled filter would otherwise
    /// quietly match nothing.
    pub fn parse(raw: Option<&str>, filters: &[&str]) -> Result<ListQuery, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for pair in raw.unwrap_or("").split('&').filter(|pair| !pair.is_empty()) {
            let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decode(raw_key).unwrap_or_else(|lossy| lossy);
            let known =
                key == "limit" || key == "starting_after" || filters.contains(&key.as_str());
            if !known {
                return Err(ApiError::unknown(&key));
            }
            if pairs.iter().any(|(seen, _)| *seen == key) {
                return Err(ApiError::invalid(
                    &key,
                    format!("`{key}` may be given only once."),
                ));
            }
            let value = decode(raw_value).map_err(|_| {
                ApiError::invalid(&key, format!("`{key}` is not valid UTF-8 once decoded."))
            })?;
            if value.is_empty() {
                return Err(ApiError::invalid(
                    &key,
                    format!("`{key}` is empty; give it a value or leave it out."),
                ));
            }
            pairs.push((key, value));
        }
        Ok(ListQuery { pairs })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// `limit` and `starting_after`, the cursor read by `parse_cursor`.
    pub fn page<F>(&self, parse_cursor: F) -> Result<PageRequest, ApiError>
    where
        F: Fn(&str) -> Option<uuid::Uuid>,
    {
        let limit = match self.get("limit") {
            None => DEFAULT_LIMIT,
            // Digits only: `u32` parsing would also take a sign, `+5`.
            Some(text) => Some(text)
                .filter(|text| text.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|digits| digits.parse::<u32>().ok())
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid(
                        "limit",
                        format!("`limit` must be an integer from 1 to {MAX_LIMIT}."),
                    )
                })?,
        };
        let after = match self.get("starting_after") {
            None => None,
            Some(text) => Some(parse_cursor(text).ok_or_else(|| {
                ApiError::invalid(
                    "starting_after",
                    format!("`{}` is not a valid cursor: pass an object id.", echo(text)),
                )
            })?),
        };
        Ok(PageRequest { after, limit })
    }
}

/// One `application/x-www-form-urlencoded` key or value: `+` is a space, then percent-decoding.
/// Invalid UTF-8 is an error carrying the lossy text.
fn decode(raw: &str) -> Result<String, String> {
    let spaced = raw.replace('+', " ");
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(&spaced).collect();
    String::from_utf8(bytes).map_err(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

/// A page of objects, newest first.
#[derive(Serialize, ToSchema)]
pub struct ListOut<T> {
    #[schema(inline)]
    object: ListObject,
    /// The objects of this page, newest first.
    pub data: Vec<T>,
    /// Whether more objects follow this page.
    pub has_more: bool,
    /// The id of the page's last object when more follow: pass it as `starting_after`.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// The `object` of a list: always `"list"`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum ListObject {
    List,
}

impl<T> ListOut<T> {
    /// Wraps a page; the cursor is the last item's id when more follow.
    pub fn from_page<F: Fn(&T) -> String>(page: Page<T>, id_of: F) -> ListOut<T> {
        let next_cursor = if page.has_more {
            page.items.last().map(id_of)
        } else {
            None
        };
        ListOut::new(page.items, page.has_more, next_cursor)
    }

    /// The same page with each object shown another way (as its wire type, say).
    pub fn map<'a, U>(&'a self, show: impl FnMut(&'a T) -> U) -> ListOut<U> {
        let data = self.data.iter().map(show).collect();
        ListOut::new(data, self.has_more, self.next_cursor.clone())
    }

    /// A page from its parts.
    pub fn new(data: Vec<T>, has_more: bool, next_cursor: Option<String>) -> ListOut<T> {
        ListOut {
            object: ListObject::List,
            data,
            has_more,
            next_cursor,
        }
    }
}

/// The paging parameters every list takes, as the OpenAPI document shows them.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// How many objects to return: 1 to 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u32>,
    /// An object id, usually the previous page's `next_cursor`: the page starts after it.
    pub starting_after: Option<String>,
}
