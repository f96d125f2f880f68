//! The delivery engine's queries on PostgreSQL: claiming due work with `SKIP LOCKED` leases,
//! recording attempts (with endpoint health), re-queueing and releasing leases.

use sqlx::PgConnection;

use super::events::payloads_for;
use super::{recorder, PostgresStore};
use crate::domain::delivery::outcome::{AttemptRecord, HealthRule};
use crate::domain::delivery::DeliveryStatus;
use crate::domain::endpoint::DisabledReason;
use crate::domain::ids::{DeliveryId, EndpointId};
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::store::rows::{self, RowExt};
use crate::store::{
    AttemptWritten, DeliveryGauges, DeliveryJob, DeliveryStore, DispatchTarget, Lease, PoolGauge,
    StoreResult,
};

/// Whose delivery a notable result was (see [`AttemptWritten::context`]).
const DELIVERY_CONTEXT: &str = "SELECT d.workspace_id, d.mode, d.event_id, e.type \
     FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.id = $1";

fn pool_gauge(name: &'static str, pool: &sqlx::PgPool) -> PoolGauge {
    let size = pool.size();
    PoolGauge {
        name,
        size,
        idle: u32::try_from(pool.num_idle()).unwrap_or(size),
    }
}
use async_trait::async_trait;

async fn jobs_from_rows(
    conn: &mut PgConnection,
    rows: Vec<sqlx::postgres::PgRow>,
    lease_until: Timestamp,
) -> StoreResult<Vec<DeliveryJob>> {
    let partial = rows
        .iter()
        .map(rows::job_parts)
        .collect::<StoreResult<Vec<_>>>()?;
    let event_ids: Vec<_> = partial.iter().map(|p| p.2.clone()).collect();
    let payloads = payloads_for(conn, &event_ids).await?;
    Ok(partial
        .into_iter()
        .filter_map(
            |(delivery_id, endpoint_id, event_id, attempt_count, ordered)| {
                let payload = payloads.get(&event_id)?.clone();
                Some(DeliveryJob {
                    delivery_id,
                    endpoint_id,
                    event_id,
                    attempt_count,
                    payload,
                    lease_until,
                    link: None,
                    ordered,
                })
            },
        )
        .collect())
}

#[async_trait]
impl DeliveryStore for PostgresStore {
    async fn requeue_delivery(
        &self,
        tenant: &Tenant,
        id: &DeliveryId,
        lease: &Lease,
        now: Timestamp,
    ) -> StoreResult<Option<DeliveryJob>> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = $4, updated_at = $4, \
               lease_owner = $5, lease_until = $6 \
             WHERE id = $1 AND workspace_id = $2 AND mode = $3 \
               AND endpoint_id IN (SELECT id FROM endpoints WHERE deleted_at IS NULL) \
               AND NOT EXISTS (SELECT 1 FROM events ev WHERE ev.id = deliveries.event_id AND ev.data = 'null') \
             RETURNING id, endpoint_id, event_id, attempt_count, ordering_key IS NOT NULL AS ordered",
        )
        .bind(id.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(now.as_millis())
        .bind(&lease.owner)
        .bind(lease.until.as_millis())
        .fetch_all(&mut *conn)
        .await?;
        Ok(jobs_from_rows(&mut conn, rows, lease.until).await?.pop())
    }

    async fn requeue_endpoint_deliveries(
        &self,
        tenant: &Tenant,
        id: &EndpointId,
        since: Timestamp,
        status: DeliveryStatus,
        now: Timestamp,
    ) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await?;
        // The replayed deliveries' ordering-key locks first (as a result's write takes them), so
        // a result ending a key's head concurrently sees what this replay holds behind it.
        let keys: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT workspace_id || chr(31) || mode || chr(31) || ordering_key \
             FROM deliveries WHERE endpoint_id = $1 AND workspace_id = $2 AND mode = $3 \
               AND created_at >= $4 AND status = $5 AND ordering_key IS NOT NULL",
        )
        .bind(id.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(since.as_millis())
        .bind(status.as_str())
        .fetch_all(&mut *tx)
        .await?;
        if !keys.is_empty() {
            sqlx::query(super::publisher::LOCK_KEYS)
                .bind(&keys)
                .execute(&mut *tx)
                .await?;
        }
        let done = sqlx::query(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = $6, updated_at = $6, \
               lease_owner = NULL, lease_until = NULL \
             WHERE endpoint_id = $1 AND workspace_id = $2 AND mode = $3 AND created_at >= $4 AND status = $5 \
               AND NOT EXISTS (SELECT 1 FROM events ev WHERE ev.id = deliveries.event_id AND ev.data = 'null')",
        )
        .bind(id.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(since.as_millis())
        .bind(status.as_str())
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?;
        // Replayed keyed deliveries take their places in their keys' order again
        // (`domain::ordering`, rule 1): one scheduled per key, the others held behind it.
        sqlx::query(
            "UPDATE deliveries SET next_attempt_at = NULL \
             WHERE endpoint_id = $1 AND status = 'pending' AND ordering_key IS NOT NULL \
               AND next_attempt_at IS NOT NULL AND EXISTS (SELECT 1 FROM deliveries o \
                 WHERE o.endpoint_id = deliveries.endpoint_id AND o.ordering_key = deliveries.ordering_key \
                   AND o.status = 'pending' AND o.ordering_seq < deliveries.ordering_seq)",
        )
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Only heads that may start (`domain::ordering::may_start`) are claimed among keyed
    /// deliveries; unkeyed ones skip the check at its first term.
    async fn claim_due(
        &self,
        now: Timestamp,
        limit: u32,
        lease: &Lease,
    ) -> StoreResult<Vec<DeliveryJob>> {
        let mut conn = self.pool.acquire().await?;
        // SKIP LOCKED: rows another node is claiming right now are passed over, not waited for.
        let rows = sqlx::query(
            "UPDATE deliveries d SET lease_owner = $1, lease_until = $2 FROM ( \
               SELECT d.id FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id \
               WHERE d.status = 'pending' AND d.next_attempt_at <= $3 \
                 AND (d.lease_until IS NULL OR d.lease_until < $3) \
                 AND e.is_active AND e.deleted_at IS NULL \
                 AND (d.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries o \
                   WHERE o.endpoint_id = d.endpoint_id AND o.ordering_key = d.ordering_key \
                     AND o.status = 'pending' AND o.id <> d.id \
                     AND (o.ordering_seq < d.ordering_seq OR o.lease_until >= $3))) \
               ORDER BY d.next_attempt_at LIMIT $4 \
               FOR UPDATE OF d SKIP LOCKED) claimed \
             WHERE d.id = claimed.id \
             RETURNING d.id, d.endpoint_id, d.event_id, d.attempt_count, d.ordering_key IS NOT NULL AS ordered",
        )
        .bind(&lease.owner)
        .bind(lease.until.as_millis())
        .bind(now.as_millis())
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        jobs_from_rows(&mut conn, rows, lease.until).await
    }

    async fn dispatch_target(
        &self,
        endpoint_id: &EndpointId,
    ) -> StoreResult<Option<DispatchTarget>> {
        let row = sqlx::query("SELECT url, signing_keys, is_active, auth_sealed FROM endpoints WHERE id = $1 AND deleted_at IS NULL")
            .bind(endpoint_id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(DispatchTarget {
                url: row.text("url")?,
                signing_keys: row.blob("signing_keys")?,
                is_active: row.flag("is_active")?,
                auth_sealed: row.blob("auth_sealed")?,
            })
        })
        .transpose()
    }

    async fn record_attempt(
        &self,
        record: &AttemptRecord,
        rule: HealthRule,
        now: Timestamp,
    ) -> StoreResult<AttemptWritten> {
        let input = (record.clone(), now);
        let disable_now = record.disables_endpoint();
        if disable_now.is_none() && !record.exhausted() {
            // The common case: batched with other results (see `recorder.rs`). Whether the
            // lease still held is not reported back from a batch; nothing but notable results
            // needs to know.
            self.recorder.write(input).await?;
            return Ok(AttemptWritten {
                written: true,
                ..AttemptWritten::default()
            });
        }
        // A result that may disable its endpoint (gone, or exhausted after a long failing
        // streak) is rare, and deciding reads what the result wrote: one transaction.
        let mut tx = self.results.begin().await?;
        // The ordering-key lock before any row lock, as in a batch of results.
        recorder::lock_keys_of(&mut tx, std::slice::from_ref(&input)).await?;
        if !still_holds(&mut tx, record).await? {
            // The lease was lost and another node's result stands: this one is dropped whole,
            // as on SQLite (nor does it disable the endpoint).
            return Ok(AttemptWritten::default());
        }
        recorder::write_results_query(std::slice::from_ref(&input))
            .execute(&mut *tx)
            .await?;
        let endpoint = record.endpoint_id.as_str();
        let disable = match disable_now {
            Some(reason) => Some(reason),
            None => {
                let facts = sqlx::query(
                    "SELECT failing_since, \
                       (SELECT COUNT(*) FROM deliveries d WHERE d.endpoint_id = e.id AND d.status = 'failed' \
                          AND d.updated_at >= e.failing_since) AS exhausted \
                     FROM endpoints e WHERE id = $1 AND is_active FOR UPDATE",
                )
                .bind(endpoint)
                .fetch_optional(&mut *tx)
                .await?;
                match facts {
                    Some(row) => rule
                        .should_disable(row.opt_time("failing_since")?, row.int("exhausted")?, now)
                        .then_some(DisabledReason::Failing),
                    None => None,
                }
            }
        };
        let mut disabled = None;
        if let Some(reason) = disable {
            let changed = sqlx::query(
                "UPDATE endpoints SET is_active = FALSE, disabled_reason = $2, updated_at = $3 \
                 WHERE id = $1 AND is_active",
            )
            .bind(endpoint)
            .bind(reason.as_str())
            .bind(now.as_millis())
            .execute(&mut *tx)
            .await?;
            disabled = (changed.rows_affected() > 0).then_some(reason);
        }
        let context = sqlx::query(DELIVERY_CONTEXT)
            .bind(record.delivery_id.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| rows::delivery_context(&row))
            .transpose()?;
        tx.commit().await?;
        Ok(AttemptWritten {
            written: true,
            disabled,
            context,
        })
    }

    async fn release_delivery(&self, id: &DeliveryId) -> StoreResult<()> {
        sqlx::query("UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE id = $1")
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn release_leases(&self, owner: Option<&str>) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL \
             WHERE status = 'pending' AND lease_owner IS NOT NULL AND ($1::text IS NULL OR lease_owner = $1)",
        )
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn gauges(&self) -> StoreResult<DeliveryGauges> {
        // The oldest due delivery walks the `deliveries_due` index in order and stops at the
        // first one of an active endpoint: cheap unless many parked deliveries come first.
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM deliveries WHERE status = 'pending') AS pending, \
                    (SELECT COUNT(*) FROM endpoints WHERE NOT is_active AND deleted_at IS NULL) AS disabled, \
                    (SELECT d.next_attempt_at FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id \
                      WHERE d.status = 'pending' AND d.next_attempt_at IS NOT NULL \
                        AND e.is_active AND e.deleted_at IS NULL \
                      ORDER BY d.next_attempt_at LIMIT 1) AS oldest_due_at",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(DeliveryGauges {
            pending: row.int("pending")?,
            disabled_endpoints: row.int("disabled")?,
            oldest_due_at: row.opt_time("oldest_due_at")?,
            pools: vec![
                pool_gauge("postgres", &self.pool),
                pool_gauge("postgres_results", &self.results),
            ],
        })
    }
}

/// Locks the delivery (deliveries before endpoints, as every writer does) and says whether
/// `record` may be written: its node still holds the lease, or the delivery was cancelled while
/// the attempt was in flight (the attempt is still recorded).
async fn still_holds(conn: &mut PgConnection, record: &AttemptRecord) -> StoreResult<bool> {
    let row = sqlx::query("SELECT status, lease_owner FROM deliveries WHERE id = $1 FOR UPDATE")
        .bind(record.delivery_id.as_str())
        .fetch_optional(conn)
        .await?;
    let Some(row) = row else {
        return Ok(false);
    };
    Ok(row.text("status")? == "cancelled"
        || row.opt_text("lease_owner")?.as_deref() == Some(record.lease_owner.as_str()))
}
