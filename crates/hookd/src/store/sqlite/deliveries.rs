//! The delivery engine's queries on SQLite: claiming due work, recording attempts (with endpoint
//! health), re-queueing and leases.

use std::sync::Arc;

use rusqlite::{params, Connection};

use super::events::payloads_for;
use super::{execute, publish, query_all, SqliteStore};
use crate::domain::delivery::outcome::{AttemptRecord, HealthRule};
use crate::domain::delivery::DeliveryStatus;
use crate::domain::ids::{DeliveryId, EndpointId};
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::store::rows::{self, RowExt};
use crate::store::{
    AttemptWritten, DeliveryGauges, DeliveryJob, DeliveryStore, DispatchTarget, Lease, PoolGauge,
    StoreResult, WriteDone,
};
use async_trait::async_trait;

/// Runs an `UPDATE … RETURNING id, endpoint_id, event_id, attempt_count, ordered` and turns its
/// rows into jobs with their payloads.
fn leased_jobs(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    lease_until: Timestamp,
) -> StoreResult<Vec<DeliveryJob>> {
    let partial = query_all(conn, sql, params, |row| rows::job_parts(row))?;
    let payloads = payloads_for(conn, partial.iter().map(|p| &p.2))?;
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
impl DeliveryStore for SqliteStore {
    async fn requeue_delivery(
        &self,
        tenant: &Tenant,
        id: &DeliveryId,
        lease: &Lease,
        now: Timestamp,
    ) -> StoreResult<Option<DeliveryJob>> {
        let (tenant, id, lease) = (tenant.clone(), id.clone(), lease.clone());
        self.writer
            .write(move |conn| {
                let jobs = leased_jobs(
                    conn,
                    "UPDATE deliveries SET status = 'pending', next_attempt_at = ?4, updated_at = ?4, \
                       lease_owner = ?5, lease_until = ?6 \
                     WHERE id = ?1 AND workspace_id = ?2 AND mode = ?3 \
                       AND endpoint_id IN (SELECT id FROM endpoints WHERE deleted_at IS NULL) \
                       AND NOT EXISTS (SELECT 1 FROM events ev WHERE ev.workspace_id = deliveries.workspace_id \
                       AND ev.mode = deliveries.mode AND ev.id = deliveries.event_id AND ev.data = 'null') \
                     RETURNING id, endpoint_id, event_id, attempt_count, ordering_key IS NOT NULL AS ordered",
                    params![
                        id.as_str(),
                        tenant.workspace_id.as_str(),
                        tenant.mode.as_str(),
                        now.as_millis(),
                        lease.owner,
                        lease.until.as_millis(),
                    ],
                    lease.until,
                )?;
                Ok(jobs.into_iter().next())
            })
            .await
    }

    async fn requeue_endpoint_deliveries(
        &self,
        tenant: &Tenant,
        id: &EndpointId,
        since: Timestamp,
        status: DeliveryStatus,
        now: Timestamp,
    ) -> StoreResult<u64> {
        let (tenant, id) = (tenant.clone(), id.clone());
        self.writer
            .write(move |conn| {
                let done = execute(
                    conn,
                    "UPDATE deliveries SET status = 'pending', next_attempt_at = ?6, updated_at = ?6, \
                       lease_owner = NULL, lease_until = NULL \
                     WHERE endpoint_id = ?1 AND workspace_id = ?2 AND mode = ?3 AND created_at >= ?4 AND status = ?5 \
                       AND NOT EXISTS (SELECT 1 FROM events ev WHERE ev.workspace_id = deliveries.workspace_id \
                       AND ev.mode = deliveries.mode AND ev.id = deliveries.event_id AND ev.data = 'null')",
                    params![
                        id.as_str(),
                        tenant.workspace_id.as_str(),
                        tenant.mode.as_str(),
                        since.as_millis(),
                        status.as_str(),
                        now.as_millis(),
                    ],
                )?;
                // Replayed keyed deliveries take their places in their keys' order again.
                execute(conn, super::publish::HOLD_BEHIND_EARLIER, [id.as_str()])?;
                Ok(done as u64)
            })
            .await
    }

    /// Only heads that may start (`domain::ordering::may_start`) are claimed among keyed
    /// deliveries; unkeyed ones skip the check at its first term.
    async fn claim_due(
        &self,
        now: Timestamp,
        limit: u32,
        lease: &Lease,
    ) -> StoreResult<Vec<DeliveryJob>> {
        // A cheap read first, so an idle poller never occupies the writer.
        let any_due = sqlx::query(
            "SELECT 1 FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?1 \
             AND (lease_until IS NULL OR lease_until < ?1) LIMIT 1",
        )
        .bind(now.as_millis())
        .fetch_optional(&self.readers)
        .await?;
        if any_due.is_none() {
            return Ok(Vec::new());
        }
        let lease = lease.clone();
        self.writer
            .write(move |conn| {
                leased_jobs(
                    conn,
                    "UPDATE deliveries SET lease_owner = ?1, lease_until = ?2 WHERE id IN ( \
                       SELECT d.id FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id \
                       WHERE d.status = 'pending' AND d.next_attempt_at <= ?3 \
                         AND (d.lease_until IS NULL OR d.lease_until < ?3) \
                         AND e.is_active = 1 AND e.deleted_at IS NULL \
                         AND (d.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries o \
                           WHERE o.endpoint_id = d.endpoint_id AND o.ordering_key = d.ordering_key \
                             AND o.status = 'pending' AND o.id <> d.id \
                             AND (o.ordering_seq < d.ordering_seq OR o.lease_until >= ?3))) \
                       ORDER BY d.next_attempt_at LIMIT ?4) \
                     RETURNING id, endpoint_id, event_id, attempt_count, ordering_key IS NOT NULL AS ordered",
                    params![
                        lease.owner,
                        lease.until.as_millis(),
                        now.as_millis(),
                        i64::from(limit),
                    ],
                    lease.until,
                )
            })
            .await
    }

    async fn dispatch_target(
        &self,
        endpoint_id: &EndpointId,
    ) -> StoreResult<Option<DispatchTarget>> {
        let row = sqlx::query("SELECT url, signing_keys, is_active, auth_sealed FROM endpoints WHERE id = ?1 AND deleted_at IS NULL")
            .bind(endpoint_id.as_str())
            .fetch_optional(&self.readers)
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
        let record = record.clone();
        // Nothing but the attempt's own task waits for this: let it share a publish's commit.
        self.writer
            .write_when_convenient(move |conn| publish::record(conn, &record, rule, now))
            .await
    }

    fn record_attempt_then(
        self: Arc<Self>,
        record: AttemptRecord,
        rule: HealthRule,
        now: Timestamp,
        done: WriteDone,
    ) {
        self.writer
            .write_then(move |conn| publish::record(conn, &record, rule, now), done);
    }

    async fn release_delivery(&self, id: &DeliveryId) -> StoreResult<()> {
        let id = id.clone();
        self.writer
            .write(move |conn| {
                execute(
                    conn,
                    "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE id = ?1",
                    [id.as_str()],
                )?;
                Ok(())
            })
            .await
    }

    async fn release_leases(&self, owner: Option<&str>) -> StoreResult<u64> {
        let owner = owner.map(str::to_string);
        self.writer
            .write(move |conn| {
                let done = execute(
                    conn,
                    "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL \
                     WHERE status = 'pending' AND lease_owner IS NOT NULL AND (?1 IS NULL OR lease_owner = ?1)",
                    [&owner],
                )?;
                Ok(done as u64)
            })
            .await
    }

    async fn gauges(&self) -> StoreResult<DeliveryGauges> {
        // The oldest due delivery walks the `deliveries_due` index in order and stops at the
        // first one of an active endpoint: cheap unless many parked deliveries come first.
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM deliveries WHERE status = 'pending') AS pending, \
                    (SELECT COUNT(*) FROM endpoints WHERE is_active = 0 AND deleted_at IS NULL) AS disabled, \
                    (SELECT d.next_attempt_at FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id \
                      WHERE d.status = 'pending' AND d.next_attempt_at IS NOT NULL \
                        AND e.is_active = 1 AND e.deleted_at IS NULL \
                      ORDER BY d.next_attempt_at LIMIT 1) AS oldest_due_at",
        )
        .fetch_one(&self.readers)
        .await?;
        let size = self.readers.size();
        Ok(DeliveryGauges {
            pending: row.int("pending")?,
            disabled_endpoints: row.int("disabled")?,
            oldest_due_at: row.opt_time("oldest_due_at")?,
            pools: vec![PoolGauge {
                name: "sqlite_readers",
                size,
                idle: u32::try_from(self.readers.num_idle()).unwrap_or(size),
            }],
        })
    }
}
