//! Erasure on PostgreSQL: one transaction per batch of events.
//!
//! The overwritten values leave the live rows at once; their old row versions stay in the table
//! files until `VACUUM` (the retention job runs one, see `retention.rs`) lets the space be
//! reused, and in the WAL and any backups until those are recycled (README, Erasure).

use super::PostgresStore;
use crate::domain::event::ERASED_DATA;
use crate::domain::ids::EventId;
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::store::{ErasureStore, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl ErasureStore for PostgresStore {
    async fn erase_events(
        &self,
        tenant: &Tenant,
        ids: &[EventId],
        now: Timestamp,
    ) -> StoreResult<Vec<EventId>> {
        let ids: Vec<&str> = ids.iter().map(EventId::as_str).collect();
        let mut tx = self.pool.begin().await?;
        // Deliveries first, then attempts: the order in which recording an attempt locks them.
        let erased: Vec<String> = sqlx::query_scalar(
            "UPDATE events SET data = $4 WHERE workspace_id = $1 AND mode = $2 \
             AND id = ANY($3) AND data <> $4 RETURNING id",
        )
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(&ids)
        .bind(ERASED_DATA)
        .fetch_all(&mut *tx)
        .await?;
        if erased.is_empty() {
            tx.rollback().await?;
            return Ok(Vec::new());
        }
        // A cancelled keyed delivery lets the next one of its key go (`domain::ordering`,
        // rule 3). The keys' locks come before any delivery's row lock (as for results), and
        // make a publish of these keys in progress visible to the promotion below.
        let keys: Vec<String> = sqlx::query_scalar(
            "SELECT workspace_id || chr(31) || mode || chr(31) || ordering_key FROM events \
             WHERE id = ANY($1) AND ordering_key IS NOT NULL",
        )
        .bind(&erased)
        .fetch_all(&mut *tx)
        .await?;
        if !keys.is_empty() {
            sqlx::query(super::publisher::LOCK_KEYS)
                .bind(&keys)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL, lease_owner = NULL, \
             lease_until = NULL, updated_at = $2 WHERE event_id = ANY($1) AND status = 'pending'",
        )
        .bind(&erased)
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?;
        if !keys.is_empty() {
            sqlx::query(
                "UPDATE deliveries SET next_attempt_at = $2, updated_at = $2 \
                 WHERE next_attempt_at IS NULL AND status = 'pending' AND id IN ( \
                   SELECT (SELECT h.id FROM deliveries h WHERE h.endpoint_id = c.endpoint_id \
                             AND h.ordering_key = c.ordering_key AND h.status = 'pending' \
                           ORDER BY h.ordering_seq LIMIT 1) \
                   FROM deliveries c WHERE c.event_id = ANY($1) AND c.ordering_key IS NOT NULL)",
            )
            .bind(&erased)
            .bind(now.as_millis())
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE attempts SET response_body = '' WHERE response_body <> '' \
             AND delivery_id IN (SELECT id FROM deliveries WHERE event_id = ANY($1))",
        )
        .bind(&erased)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(erased.into_iter().map(EventId::from_trusted).collect())
    }

    async fn project_events_to_erase(
        &self,
        tenant: &Tenant,
        project_id: &str,
        after: Option<&EventId>,
        limit: u32,
    ) -> StoreResult<(Vec<EventId>, Option<EventId>)> {
        let rows = sqlx::query(
            "SELECT id, project_id, data = $4 AS erased FROM events \
             WHERE workspace_id = $1 AND mode = $2 AND ($3::text IS NULL OR id > $3) \
             ORDER BY id LIMIT $5",
        )
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(after.map(EventId::as_str))
        .bind(ERASED_DATA)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        crate::store::erasure::project_events_in(&rows, project_id)
    }

    async fn scrub_erased(&self) -> StoreResult<()> {
        // Old row versions are freed by the next VACUUM (each retention pass that removed rows
        // runs one, and autovacuum); a VACUUM per erasure would scan whole tables per request.
        Ok(())
    }
}
