//! Query strings of list endpoints: `limit`, `starting_after` and the endpoint's own filters,
//! each at most once, nothing unknown.

use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

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
