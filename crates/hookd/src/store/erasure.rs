//! The storage contract of erasure, scoped by tenant (implemented in `sqlite/erasure.rs` and
//! `postgres/erasure.rs`).
//!
//! Erasing an event keeps its rows (ids, type, timestamps, statuses stay for the logs) and
//! overwrites what could carry personal data: the event's `data` (stored as
//! [`ERASED_DATA`](crate::domain::event::ERASED_DATA)) and its attempts' response bodies. Its
//! pending deliveries are cancelled in the same transaction: the data must not leave anymore.

use async_trait::async_trait;

use super::rows::RowExt;
use super::StoreResult;
use crate::domain::ids::EventId;
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;

#[async_trait]
pub trait ErasureStore: Send + Sync + 'static {
    /// Erases the tenant's events among `ids` that are not erased yet (one transaction); returns
    /// those erased now. Ids of other tenants, unknown or already erased ones are skipped.
    async fn erase_events(
        &self,
        tenant: &Tenant,
        ids: &[EventId],
        now: Timestamp,
    ) -> StoreResult<Vec<EventId>>;
    /// Looks at up to `limit` of the tenant's events in id order after `after`: the ids among
    /// them of project `project_id` not erased yet, and the last id looked at (`None` when
    /// there was none left).
    async fn project_events_to_erase(
        &self,
        tenant: &Tenant,
        project_id: &str,
        after: Option<&EventId>,
        limit: u32,
    ) -> StoreResult<(Vec<EventId>, Option<EventId>)>;
    /// After one or more erasures: removes the old versions the database keeps beside its live
    /// rows where that can be done at once (SQLite: empties the WAL; PostgreSQL: nothing, the
    /// next `VACUUM` frees the old row versions — README, Erasure).
    async fn scrub_erased(&self) -> StoreResult<()>;
}

/// [`ErasureStore::project_events_to_erase`] over a window of rows (`id`, `project_id` and
/// `erased`, in id order), shared by both backends: the ids of `project_id` not erased yet, and
/// the last id looked at.
pub(crate) fn project_events_in(
    rows: &[impl RowExt],
    project_id: &str,
) -> StoreResult<(Vec<EventId>, Option<EventId>)> {
    let mut matching = Vec::new();
    let mut last = None;
    for row in rows {
        let id = EventId::from_trusted(row.text("id")?);
        if row.opt_text("project_id")?.as_deref() == Some(project_id) && !row.flag("erased")? {
            matching.push(id.clone());
        }
        last = Some(id);
    }
    Ok((matching, last))
}
