//! The delivery engine's queries on SQLite: claiming due work, recording attempts (with endpoint
//! health), re-queueing and leases.

use super::events::payloads_for;
use super::SqliteStore;
use crate::domain::ids::{DeliveryId, EndpointId};
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::store::rows::{self, RowExt};
use crate::store::DeliveryStore;
use crate::store::{
    AttemptRecord, DeliveryJob, DeliveryStatus, DispatchTarget, HealthRule, Lease, StoreResult,
};
use async_trait::async_trait;

/// Turns `(delivery, endpoint, event, attempt_count)` rows into jobs with their payloads.
async fn jobs_from_rows(
    conn: &mut sqlx::SqliteConnection,
    rows: Vec<sqlx::sqlite::SqliteRow>,
    lease_until: Timestamp,
) -> StoreResult<Vec<DeliveryJob>> {
    let partial = rows
        .iter()
        .map(rows::job_parts)
        .collect::<StoreResult<Vec<_>>>()?;
    let payloads = payloads_for(conn, partial.iter().map(|p| &p.2)).await?;
    Ok(partial
        .into_iter()
        .filter_map(|(delivery_id, endpoint_id, event_id, attempt_count)| {
            let payload = payloads.get(&event_id)?.clone();
            Some(DeliveryJob {
                delivery_id,
                endpoint_id,
                event_id,
                attempt_count,
                payload,
                lease_until,
            })
        })
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
                Box::pin(async move {
                    let rows = sqlx::query(
                        "UPDATE deliveries SET status = 'pending', next_attempt_at = ?4, updated_at = ?4, \
                           lease_owner = ?5, lease_until = ?6 \
                         WHERE id = ?1 AND workspace_id = ?2 AND mode = ?3 \
                           AND endpoint_id IN (SELECT id FROM endpoints WHERE deleted_at IS NULL) \
                         RETURNING id, endpoint_id, event_id, attempt_count",
                    )
                    .bind(id.as_str())
                    .bind(tenant.workspace_id.as_str())
                    .bind(tenant.mode.as_str())
                    .bind(now.as_millis())
                    .bind(&lease.owner)
                    .bind(lease.until.as_millis())
                    .fetch_all(&mut *conn)
                    .await?;
                    Ok(jobs_from_rows(conn, rows, lease.until).await?.pop())
                })
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
                Box::pin(async move {
                    let done = sqlx::query(
                        "UPDATE deliveries SET status = 'pending', next_attempt_at = ?6, updated_at = ?6, \
                           lease_owner = NULL, lease_until = NULL \
                         WHERE endpoint_id = ?1 AND workspace_id = ?2 AND mode = ?3 AND created_at >= ?4 AND status = ?5",
                    )
                    .bind(id.as_str())
                    .bind(tenant.workspace_id.as_str())
                    .bind(tenant.mode.as_str())
                    .bind(since.as_millis())
                    .bind(status.as_str())
                    .bind(now.as_millis())
                    .execute(&mut *conn)
                    .await?;
                    Ok(done.rows_affected())
                })
            })
            .await
    }

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
                Box::pin(async move {
                    let rows = sqlx::query(
                        "UPDATE deliveries SET lease_owner = ?1, lease_until = ?2 WHERE id IN ( \
                           SELECT d.id FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id \
                           WHERE d.status = 'pending' AND d.next_attempt_at <= ?3 \
                             AND (d.lease_until IS NULL OR d.lease_until < ?3) \
                             AND e.is_active = 1 AND e.deleted_at IS NULL \
                           ORDER BY d.next_attempt_at LIMIT ?4) \
                         RETURNING id, endpoint_id, event_id, attempt_count",
                    )
                    .bind(&lease.owner)
                    .bind(lease.until.as_millis())
                    .bind(now.as_millis())
                    .bind(i64::from(limit))
                    .fetch_all(&mut *conn)
                    .await?;
                    jobs_from_rows(conn, rows, lease.until).await
                })
            })
            .await
    }

    async fn dispatch_target(
        &self,
        endpoint_id: &EndpointId,
    ) -> StoreResult<Option<DispatchTarget>> {
        let row = sqlx::query("SELECT url, signing_keys, is_active FROM endpoints WHERE id = ?1 AND deleted_at IS NULL")
            .bind(endpoint_id.as_str())
            .fetch_optional(&self.readers)
            .await?;
        row.map(|row| {
            Ok(DispatchTarget {
                url: row.text("url")?,
                signing_keys: row.blob("signing_keys")?,
                is_active: row.flag("is_active")?,
            })
        })
        .transpose()
    }

    async fn record_attempt(
        &self,
        record: &AttemptRecord,
        rule: HealthRule,
        now: Timestamp,
    ) -> StoreResult<()> {
        self.recorder.submit((record.clone(), rule, now)).await
    }

    async fn release_delivery(&self, id: &DeliveryId) -> StoreResult<()> {
        let id = id.clone();
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    sqlx::query("UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE id = ?1")
                        .bind(id.as_str())
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            })
            .await
    }

    async fn release_leases(&self, owner: Option<&str>) -> StoreResult<u64> {
        let owner = owner.map(str::to_string);
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    let done = sqlx::query(
                        "UPDATE deliveries SET lease_owner = NULL, lease_until = NULL \
                         WHERE status = 'pending' AND lease_owner IS NOT NULL AND (?1 IS NULL OR lease_owner = ?1)",
                    )
                    .bind(&owner)
                    .execute(&mut *conn)
                    .await?;
                    Ok(done.rows_affected())
                })
            })
            .await
    }

    async fn gauges(&self) -> StoreResult<(i64, i64)> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM deliveries WHERE status = 'pending') AS pending, \
                    (SELECT COUNT(*) FROM endpoints WHERE is_active = 0 AND deleted_at IS NULL) AS disabled",
        )
        .fetch_one(&self.readers)
        .await?;
        Ok((row.int("pending")?, row.int("disabled")?))
    }
}
