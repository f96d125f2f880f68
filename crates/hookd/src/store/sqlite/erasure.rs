//! Erasure on SQLite: one writer job per batch of events. The writer connection runs with
//! `secure_delete = ON` (see `mod.rs`), so the overwritten data is zeroed in the database pages
//! rather than left in free space; [`checkpoint_wal`] then empties the WAL, which still holds
//! the pages as they were before.

use std::path::Path;
use std::time::Duration;

use rusqlite::params;

use super::{execute, SqliteStore};
use crate::domain::event::ERASED_DATA;
use crate::domain::ids::EventId;
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::store::{ErasureStore, StoreError, StoreResult};
use async_trait::async_trait;

const ERASE_EVENT: &str = "UPDATE events SET data = ?4 \
     WHERE workspace_id = ?1 AND mode = ?2 AND id = ?3 AND data != ?4";
const ERASE_BODIES: &str = "UPDATE attempts SET response_body = '' \
     WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id = ?1) AND response_body != ''";
/// Like deleting an endpoint: the lease goes too, and an attempt already in flight is recorded
/// against the cancelled delivery without its response body (`publish::record`).
const CANCEL_PENDING: &str = "UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL, \
     lease_owner = NULL, lease_until = NULL, updated_at = ?2 \
     WHERE event_id = ?1 AND status = 'pending'";
/// A cancelled keyed delivery lets the next one of its key go (`domain::ordering`, rule 3): the
/// first pending delivery of each of the event's keys' endpoints becomes due now, if held.
const PROMOTE_NEXT: &str = "UPDATE deliveries SET next_attempt_at = ?2, updated_at = ?2 \
     WHERE next_attempt_at IS NULL AND status = 'pending' AND id IN ( \
       SELECT (SELECT h.id FROM deliveries h WHERE h.endpoint_id = c.endpoint_id \
                 AND h.ordering_key = c.ordering_key AND h.status = 'pending' \
               ORDER BY h.ordering_seq LIMIT 1) \
       FROM deliveries c WHERE c.event_id = ?1 AND c.ordering_key IS NOT NULL)";

#[async_trait]
impl ErasureStore for SqliteStore {
    async fn erase_events(
        &self,
        tenant: &Tenant,
        ids: &[EventId],
        now: Timestamp,
    ) -> StoreResult<Vec<EventId>> {
        let (tenant, ids) = (tenant.clone(), ids.to_vec());
        self.writer
            .write(move |conn| {
                let mut erased = Vec::new();
                for id in &ids {
                    let scope = params![
                        tenant.workspace_id.as_str(),
                        tenant.mode.as_str(),
                        id.as_str(),
                        ERASED_DATA
                    ];
                    if execute(conn, ERASE_EVENT, scope)? == 0 {
                        continue;
                    }
                    execute(conn, ERASE_BODIES, [id.as_str()])?;
                    execute(conn, CANCEL_PENDING, params![id.as_str(), now.as_millis()])?;
                    execute(conn, PROMOTE_NEXT, params![id.as_str(), now.as_millis()])?;
                    erased.push(id.clone());
                }
                Ok(erased)
            })
            .await
    }

    async fn project_events_to_erase(
        &self,
        tenant: &Tenant,
        project_id: &str,
        after: Option<&EventId>,
        limit: u32,
    ) -> StoreResult<(Vec<EventId>, Option<EventId>)> {
        // A window of the tenant's events in key order (no index on project_id: the events
        // table is the hot insert path and an erase is rare).
        let rows = sqlx::query(
            "SELECT id, project_id, data = ?4 AS erased FROM events \
             WHERE workspace_id = ?1 AND mode = ?2 AND (?3 IS NULL OR id > ?3) ORDER BY id LIMIT ?5",
        )
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(after.map(EventId::as_str))
        .bind(ERASED_DATA)
        .bind(i64::from(limit))
        .fetch_all(&self.readers)
        .await?;
        crate::store::erasure::project_events_in(&rows, project_id)
    }

    async fn scrub_erased(&self) -> StoreResult<()> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || checkpoint_wal(&path))
            .await
            .map_err(StoreError::other)?
    }
}

/// Copies the WAL into the database file and truncates it to nothing, so the pages from before
/// an erasure are no longer on disk. On a connection of its own: a checkpoint cannot run inside
/// the writer's transaction. It waits (up to the busy timeout) for readers still on an older
/// snapshot; if it cannot finish, the old pages stay in the WAL until a later checkpoint
/// overwrites them, and the erasure still stands.
fn checkpoint_wal(path: &Path) -> StoreResult<()> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    let (busy, _, _): (i64, i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?;
    if busy != 0 {
        tracing::warn!("the WAL could not be emptied after an erasure (readers busy); a later checkpoint will overwrite it");
    }
    Ok(())
}
