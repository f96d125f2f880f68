//! Keyset pagination shared by every list: newest first, stable under concurrent inserts.

use futures_util::{Stream, TryStreamExt};

use super::{StoreError, StoreResult};

/// The default of `max_bytes` (config `list_page_max_bytes`).
pub const DEFAULT_PAGE_MAX_BYTES: usize = 4 * 1024 * 1024;

/// A page to read: `cursor` is the id of the last item already seen.
#[derive(Clone, Debug)]
pub struct PageRequest {
    pub limit: u32,
    pub cursor: Option<String>,
    /// The byte budget of a page of large items (events): once the items read reach it, the
    /// page ends early with `has_more` (it always holds at least one item). It bounds the memory
    /// a list request takes: `limit=100` over 1 MiB events reads ~4 MiB, not 100.
    pub max_bytes: usize,
}

impl PageRequest {
    /// A request with the default byte budget.
    pub fn new(limit: u32, cursor: Option<String>) -> Self {
        Self {
            limit,
            cursor,
            max_bytes: DEFAULT_PAGE_MAX_BYTES,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows (the extra row only says there is more).
    pub fn from_rows(mut rows: Vec<T>, limit: u32) -> Self {
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Self {
            items: rows,
            has_more,
        }
    }

    /// Reads a page from `rows` (the query's `limit + 1` rows, streamed), converting each with
    /// `convert` and stopping early once the items' `size` reaches `request.max_bytes`. The row
    /// after the last item only says there is more and is dropped unconverted, so at most the
    /// budget, one item and one row are held at once.
    pub async fn collect<R, E>(
        mut rows: impl Stream<Item = Result<R, E>> + Unpin,
        request: &PageRequest,
        mut convert: impl FnMut(&R) -> StoreResult<T>,
        size: impl Fn(&T) -> usize,
    ) -> StoreResult<Self>
    where
        StoreError: From<E>,
    {
        let (mut items, mut bytes) = (Vec::new(), 0usize);
        while let Some(row) = rows.try_next().await? {
            if items.len() >= request.limit as usize || bytes >= request.max_bytes {
                return Ok(Self {
                    items,
                    has_more: true,
                });
            }
            let item = convert(&row)?;
            bytes = bytes.saturating_add(size(&item));
            items.push(item);
        }
        Ok(Self {
            items,
            has_more: false,
        })
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            has_more: self.has_more,
        }
    }
}
