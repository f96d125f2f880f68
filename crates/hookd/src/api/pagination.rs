//! List envelopes and cursor pagination.
//!
//! Lists are newest first. `nextCursor` is the id of the last item returned; passing it back as
//! `cursor` continues strictly after it (keyset pagination on time-sortable ids), so items
//! inserted meanwhile never shift or repeat a page.

use serde::Serialize;

use super::error::ApiError;
use crate::store::{Page, PageRequest};

#[cfg(test)]
mod props;

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

/// `{"data": {...}}`
#[derive(Serialize, utoipa::ToSchema)]
pub struct Data<T> {
    pub data: T,
}

/// `{"data": [...], "hasMore": bool, "nextCursor": string|null}`
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct List<T> {
    pub data: Vec<T>,
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

impl<T> List<T> {
    pub fn from_page(page: Page<T>, id_of: impl Fn(&T) -> String) -> Self {
        let next_cursor = if page.has_more {
            page.items.last().map(&id_of)
        } else {
            None
        };
        Self {
            has_more: page.has_more,
            next_cursor,
            data: page.items,
        }
    }
}

/// Validates `limit` and `cursor`; `parse_cursor` checks the cursor is an id of the listed type.
pub fn page_request<E>(
    limit: Option<&str>,
    cursor: Option<&str>,
    parse_cursor: impl Fn(&str) -> Result<String, E>,
) -> Result<PageRequest, ApiError> {
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| {
                ApiError::invalid(
                    "limit",
                    format!("limit must be a whole number from 1 to {MAX_LIMIT}."),
                )
            })?,
    };
    let cursor = match cursor {
        None | Some("") => None,
        Some(raw) => Some(parse_cursor(raw).map_err(|_| {
            ApiError::invalid(
                "cursor",
                "cursor is not valid; pass the nextCursor value of a previous page.",
            )
        })?),
    };
    Ok(PageRequest::new(limit, cursor))
}

/// Parses `true`/`false` query values.
pub fn parse_bool(param: &str, raw: Option<&str>) -> Result<Option<bool>, ApiError> {
    match raw {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(ApiError::invalid(
            param,
            format!("{param} must be true or false."),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> Result<String, ()> {
        Ok(raw.to_string())
    }

    #[test]
    fn limits_are_checked() {
        assert_eq!(page_request(None, None, ok).unwrap().limit, 20);
        assert_eq!(page_request(Some("100"), None, ok).unwrap().limit, 100);
        for bad in ["0", "101", "1000", "-1", "abc", ""] {
            assert!(page_request(Some(bad), None, ok).is_err(), "{bad}");
        }
        assert!(page_request(None, Some("x"), |_| Err::<String, ()>(())).is_err());
    }
}
