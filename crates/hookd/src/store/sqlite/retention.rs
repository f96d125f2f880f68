//! Retention on SQLite: each batch is one ordinary job of the writer thread (so it shares the
//! group commit and never holds the write lock for long), and the dry run reads on the readers.
//!
//! Old events are found through the primary key, `(workspace_id, mode, id)`, with ids standing
//! for creation time (`EventId::floor_at`): no extra index on the hot insert path.

use rusqlite::{params, Connection};

use super::{execute, query_all, SqliteStore};
use crate::domain::ids::{CallId, EventId};
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::store::rows::RowExt;
use crate::store::{EventBatch, PruneCounts, RetentionStore, StoreResult};
use async_trait::async_trait;

const WINDOW: &str = "SELECT id FROM events WHERE workspace_id = ?1 AND mode = ?2 \
     AND (?3 IS NULL OR id > ?3) AND id < ?4 AND created_at < ?5 ORDER BY id LIMIT ?6";
/// A pending delivery (in retry included), or one leased to a node with an attempt in flight,
/// keeps its event.
const BLOCKED: &str = "SELECT EXISTS (SELECT 1 FROM deliveries WHERE event_id = ?1 \
     AND (status = 'pending' OR lease_until > ?2)) AS blocked";
const DELETE_ATTEMPTS: &str =
    "DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id = ?1)";
const DELETE_DELIVERIES: &str = "DELETE FROM deliveries WHERE event_id = ?1";
const DELETE_EVENT: &str = "DELETE FROM events WHERE workspace_id = ?1 AND mode = ?2 AND id = ?3";
const DELETE_CALLS: &str = "DELETE FROM integration_calls WHERE id IN ( \
     SELECT id FROM integration_calls WHERE id < ?1 AND created_at < ?2 ORDER BY id LIMIT ?3)";

fn prune_batch(
    conn: &Connection,
    tenant: &Tenant,
    cutoff: Timestamp,
    after: Option<&str>,
    batch: u32,
    now: Timestamp,
) -> StoreResult<EventBatch> {
    let (workspace, mode) = (tenant.workspace_id.as_str(), tenant.mode.as_str());
    let floor = EventId::floor_at(cutoff);
    let window = query_all(
        conn,
        WINDOW,
        params![
            workspace,
            mode,
            after,
            floor.as_str(),
            cutoff.as_millis(),
            batch
        ],
        |row| row.text("id"),
    )?;
    let mut out = EventBatch {
        examined: window.len() as u32,
        last: window.last().cloned().map(EventId::from_trusted),
        ..EventBatch::default()
    };
    for id in &window {
        let blocked = conn
            .prepare_cached(BLOCKED)?
            .query_row(params![id, now.as_millis()], |row| row.get::<_, bool>(0))?;
        if blocked {
            continue;
        }
        out.removed.attempts += execute(conn, DELETE_ATTEMPTS, [id])? as u64;
        out.removed.deliveries += execute(conn, DELETE_DELIVERIES, [id])? as u64;
        out.removed.events += execute(conn, DELETE_EVENT, params![workspace, mode, id])? as u64;
    }
    Ok(out)
}

#[async_trait]
impl RetentionStore for SqliteStore {
    async fn prune_events(
        &self,
        tenant: &Tenant,
        cutoff: Timestamp,
        after: Option<&EventId>,
        batch: u32,
    ) -> StoreResult<EventBatch> {
        let (tenant, after) = (tenant.clone(), after.map(|id| id.as_str().to_owned()));
        self.writer
            .write(move |conn| {
                prune_batch(
                    conn,
                    &tenant,
                    cutoff,
                    after.as_deref(),
                    batch,
                    Timestamp::now(),
                )
            })
            .await
    }

    async fn prune_integration_calls(&self, cutoff: Timestamp, batch: u32) -> StoreResult<u64> {
        let floor = CallId::floor_at(cutoff);
        self.writer
            .write(move |conn| {
                let done = execute(
                    conn,
                    DELETE_CALLS,
                    params![floor.as_str(), cutoff.as_millis(), batch],
                )?;
                Ok(done as u64)
            })
            .await
    }

    async fn count_prunable(&self, cutoff: Timestamp, now: Timestamp) -> StoreResult<PruneCounts> {
        let row = sqlx::query(
            "WITH gone AS (SELECT e.workspace_id, e.mode, e.id FROM events e \
               WHERE e.created_at < ?1 AND NOT EXISTS (SELECT 1 FROM deliveries d \
                 WHERE d.event_id = e.id AND (d.status = 'pending' OR d.lease_until > ?2))), \
             dels AS (SELECT d.id FROM deliveries d JOIN gone g ON d.event_id = g.id) \
             SELECT (SELECT COUNT(*) FROM gone) AS events, (SELECT COUNT(*) FROM dels) AS deliveries, \
               (SELECT COUNT(*) FROM attempts WHERE delivery_id IN (SELECT id FROM dels)) AS attempts, \
               (SELECT COUNT(*) FROM integration_calls WHERE created_at < ?1) AS calls",
        )
        .bind(cutoff.as_millis())
        .bind(now.as_millis())
        .fetch_one(&self.readers)
        .await?;
        Ok(PruneCounts {
            events: row.int("events")? as u64,
            deliveries: row.int("deliveries")? as u64,
            attempts: row.int("attempts")? as u64,
            integration_calls: row.int("calls")? as u64,
        })
    }

    async fn reclaim_space(&self) -> StoreResult<()> {
        // Free pages go to SQLite's freelist and are reused by the next inserts, so the file
        // stops growing without a VACUUM (which would rewrite the whole file under the lock).
        Ok(())
    }
}
