//! What the dashboard summarises about endpoints, on PostgreSQL.

use super::PostgresStore;
use crate::domain::delivery::DeliveryStatus;
use crate::domain::ids::{DeliveryId, EndpointId};
use crate::domain::insights::{DeliverySample, EndpointSummary};
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::store::rows::RowExt;
use crate::store::{InsightStore, StoreError, StoreResult};
use async_trait::async_trait;

fn status(raw: &str) -> StoreResult<DeliveryStatus> {
    DeliveryStatus::parse(raw)
        .ok_or_else(|| StoreError::Corrupt(format!("delivery status {raw:?}")))
}

#[async_trait]
impl InsightStore for PostgresStore {
    async fn delivery_samples(
        &self,
        tenant: &Tenant,
        endpoint: &EndpointId,
        since: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<DeliverySample>> {
        // Ids sort by creation time: the window is a range of the (endpoint_id, id) index.
        let rows = sqlx::query(
            "SELECT d.created_at, d.status, (SELECT a.duration_ms FROM attempts a \
               WHERE a.delivery_id = d.id ORDER BY a.id DESC LIMIT 1) AS last_duration_ms \
             FROM deliveries d WHERE d.endpoint_id = $1 AND d.workspace_id = $2 AND d.mode = $3 \
               AND d.id >= $4 ORDER BY d.id DESC LIMIT $5",
        )
        .bind(endpoint.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(DeliveryId::floor_at(since).as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DeliverySample {
                    created_at: row.time("created_at")?,
                    status: status(&row.text("status")?)?,
                    last_duration_ms: row.opt_int("last_duration_ms")?,
                })
            })
            .collect()
    }

    async fn endpoint_summary(
        &self,
        tenant: &Tenant,
        endpoint: &EndpointId,
        since: Timestamp,
    ) -> StoreResult<EndpointSummary> {
        let row = sqlx::query(
            "SELECT \
               (SELECT COUNT(*) FROM deliveries WHERE endpoint_id = $1 AND workspace_id = $2 \
                  AND mode = $3 AND id >= $4 AND status = 'succeeded') AS succeeded, \
               (SELECT COUNT(*) FROM deliveries WHERE endpoint_id = $1 AND workspace_id = $2 \
                  AND mode = $3 AND id >= $4 AND status = 'failed') AS failed, \
               (SELECT created_at FROM deliveries WHERE endpoint_id = $1 AND workspace_id = $2 \
                  AND mode = $3 ORDER BY id DESC LIMIT 1) AS last_at, \
               (SELECT status FROM deliveries WHERE endpoint_id = $1 AND workspace_id = $2 \
                  AND mode = $3 ORDER BY id DESC LIMIT 1) AS last_status",
        )
        .bind(endpoint.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(DeliveryId::floor_at(since).as_str())
        .fetch_one(&self.pool)
        .await?;
        let count = |column| row.int(column).map(|n| u64::try_from(n).unwrap_or(0));
        Ok(EndpointSummary {
            succeeded: count("succeeded")?,
            failed: count("failed")?,
            last_delivery_at: row.opt_time("last_at")?,
            last_status: row
                .opt_text("last_status")?
                .as_deref()
                .map(status)
                .transpose()?,
        })
    }
}
