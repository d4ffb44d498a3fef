//! Query strings of list endpoints: `limit`, `starting_after` and the endpoint's own filters,
//! each at most once, nothing unknown.

use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

use super::error::ApiError;
use crate::store::{Page, PageRequest};

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

/// The parameters of one list request, each checked for repeats and unknown names.
pub struct ListQuery {
    pairs: Vec<(String, String)>,
}

impl ListQuery {
    /// Parses the raw query, allowing `limit`, `starting_after` and `filters`.
    pub fn parse(raw: Option<&str>, filters: &[&str]) -> Result<ListQuery, ApiError> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or("").as_bytes())
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        for (index, (key, _)) in pairs.iter().enumerate() {
            let known =
                key == "limit" || key == "starting_after" || filters.contains(&key.as_str());
            if !known {
                return Err(ApiError::unknown(key));
            }
            if pairs[..index].iter().any(|(seen, _)| seen == key) {
                return Err(ApiError::invalid(
                    key,
                    format!("`{key}` may be given only once."),
                ));
            }
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
            Some(text) => text
                .parse::<u32>()
                .ok()
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
                    format!("`{text}` is not a valid cursor: pass an object id."),
                )
            })?),
        };
        Ok(PageRequest { after, limit })
    }
}

/// A page on the wire: `{"object":"list","data":[…],"has_more":…,"next_cursor":…}`.
pub struct ListOut<T> {
    pub data: Vec<T>,
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

impl<T> ListOut<T> {
    /// Wraps a page; the cursor is the last item's id when more follow.
    pub fn from_page<F: Fn(&T) -> String>(page: Page<T>, id_of: F) -> ListOut<T> {
        let next_cursor = if page.has_more {
            page.items.last().map(id_of)
        } else {
            None
        };
        ListOut {
            data: page.items,
            has_more: page.has_more,
            next_cursor,
        }
    }
}

impl<T: Serialize> Serialize for ListOut<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("List", 4)?;
        out.serialize_field("object", "list")?;
        out.serialize_field("data", &self.data)?;
        out.serialize_field("has_more", &self.has_more)?;
        out.serialize_field("next_cursor", &self.next_cursor)?;
        out.end()
    }
}
