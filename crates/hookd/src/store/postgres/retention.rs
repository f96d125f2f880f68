//! Retention on PostgreSQL: one short transaction per batch on the shared pool, and a plain
//! `VACUUM` of the pruned tables after a pass that removed rows.
//!
//! Several nodes may prune at once: the events a batch removes are locked `FOR UPDATE SKIP
//! LOCKED`, so two nodes never wait on each other's batch. A delivery made pending meanwhile
//! (a retry through the API) is re-checked by the `DELETE` and kept, and so then is its event.
//!
//! Why our own `VACUUM` rather than waiting for autovacuum: autovacuum's default trigger is 20 %
//! of a table dead, which on a 30-day table is days of deletions reclaimed at once (the "vacuum
//! storm"), and it may be switched off altogether. A plain `VACUUM` takes no lock that blocks
//! reads or writes, skips the pages the visibility map says are clean, and after each run has
//! only that run's deletions to reclaim, so table and index sizes stay flat (docs/retention.md
//! has the measurement).

use sqlx::Row;

use super::PostgresStore;
use crate::domain::ids::{CallId, EventId};
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::store::rows::RowExt;
use crate::store::{EventBatch, PruneCounts, RetentionStore, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl RetentionStore for PostgresStore {
    async fn prune_events(
        &self,
        tenant: &Tenant,
        cutoff: Timestamp,
        after: Option<&EventId>,
        batch: u32,
    ) -> StoreResult<EventBatch> {
        let now = Timestamp::now();
        let mut tx = self.pool.begin().await?;
        let window: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM events WHERE workspace_id = $1 AND mode = $2 \
             AND ($3::text IS NULL OR id > $3) AND id < $4 AND created_at < $5 ORDER BY id LIMIT $6",
        )
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(after.map(EventId::as_str))
        .bind(EventId::floor_at(cutoff).as_str())
        .bind(cutoff.as_millis())
        .bind(i64::from(batch))
        .fetch_all(&mut *tx)
        .await?;
        let mut out = EventBatch {
            examined: window.len() as u32,
            last: window.last().cloned().map(EventId::from_trusted),
            ..EventBatch::default()
        };
        if window.is_empty() {
            tx.rollback().await?;
            return Ok(out);
        }
        let removable: Vec<String> = sqlx::query_scalar(
            "SELECT e.id FROM events e WHERE e.id = ANY($1) AND NOT EXISTS (SELECT 1 FROM deliveries d \
               WHERE d.event_id = e.id AND (d.status = 'pending' OR d.lease_until > $2)) \
             FOR UPDATE OF e SKIP LOCKED",
        )
        .bind(&window)
        .bind(now.as_millis())
        .fetch_all(&mut *tx)
        .await?;
        // One statement, so the attempts' foreign key is checked once both are gone.
        let row = sqlx::query(
            "WITH d AS (DELETE FROM deliveries WHERE event_id = ANY($1) AND status <> 'pending' \
               AND (lease_until IS NULL OR lease_until <= $2) RETURNING id), \
             a AS (DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM d) RETURNING 1) \
             SELECT (SELECT count(*) FROM d) AS deliveries, (SELECT count(*) FROM a) AS attempts",
        )
        .bind(&removable)
        .bind(now.as_millis())
        .fetch_one(&mut *tx)
        .await?;
        out.removed.deliveries = row.int("deliveries")? as u64;
        out.removed.attempts = row.int("attempts")? as u64;
        out.removed.events = sqlx::query(
            "DELETE FROM events e WHERE e.id = ANY($1) \
             AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)",
        )
        .bind(&removable)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(out)
    }

    async fn prune_integration_calls(&self, cutoff: Timestamp, batch: u32) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM integration_calls WHERE id IN (SELECT id FROM integration_calls \
             WHERE id < $1 AND created_at < $2 ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)",
        )
        .bind(CallId::floor_at(cutoff).as_str())
        .bind(cutoff.as_millis())
        .bind(i64::from(batch))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn count_prunable(&self, cutoff: Timestamp, now: Timestamp) -> StoreResult<PruneCounts> {
        let row = sqlx::query(
            "WITH gone AS (SELECT e.id FROM events e WHERE e.id < $3 AND e.created_at < $1 \
               AND NOT EXISTS (SELECT 1 FROM deliveries d \
                 WHERE d.event_id = e.id AND (d.status = 'pending' OR d.lease_until > $2))), \
             dels AS (SELECT d.id FROM deliveries d JOIN gone g ON d.event_id = g.id) \
             SELECT (SELECT count(*) FROM gone) AS events, (SELECT count(*) FROM dels) AS deliveries, \
               (SELECT count(*) FROM attempts WHERE delivery_id IN (SELECT id FROM dels)) AS attempts, \
               (SELECT count(*) FROM integration_calls WHERE id < $4 AND created_at < $1) AS calls",
        )
        .bind(cutoff.as_millis())
        .bind(now.as_millis())
        .bind(EventId::floor_at(cutoff).as_str())
        .bind(CallId::floor_at(cutoff).as_str())
        .fetch_one(&self.pool)
        .await?;
        let count = |column: &str| row.try_get::<i64, _>(column).map(|n| n as u64);
        Ok(PruneCounts {
            events: count("events")?,
            deliveries: count("deliveries")?,
            attempts: count("attempts")?,
            integration_calls: count("calls")?,
        })
    }

    async fn reclaim_space(&self) -> StoreResult<()> {
        // Not in a transaction (VACUUM refuses one), on the simple protocol. SKIP_LOCKED: a
        // table another node or autovacuum is vacuuming right now is left to it.
        sqlx::raw_sql("VACUUM (SKIP_LOCKED) events, deliveries, attempts, integration_calls")
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
