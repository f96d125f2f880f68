//! What the dashboard summarises about endpoints, on SQLite.

use super::SqliteStore;
use crate::domain::ids::{DeliveryId, EndpointId};
use crate::domain::insights::{DeliverySample, EndpointSummary};
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::store::rows;
use crate::store::{InsightStore, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl InsightStore for SqliteStore {
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
             FROM deliveries d WHERE d.endpoint_id = ?1 AND d.workspace_id = ?2 AND d.mode = ?3 \
               AND d.id >= ?4 ORDER BY d.id DESC LIMIT ?5",
        )
        .bind(endpoint.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(DeliveryId::floor_at(since).as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.readers)
        .await?;
        rows.iter().map(rows::delivery_sample).collect()
    }

    async fn endpoint_summary(
        &self,
        tenant: &Tenant,
        endpoint: &EndpointId,
        since: Timestamp,
    ) -> StoreResult<EndpointSummary> {
        let row = sqlx::query(
            "SELECT \
               (SELECT COUNT(*) FROM deliveries WHERE endpoint_id = ?1 AND workspace_id = ?2 \
                  AND mode = ?3 AND id >= ?4 AND status = 'succeeded') AS succeeded, \
               (SELECT COUNT(*) FROM deliveries WHERE endpoint_id = ?1 AND workspace_id = ?2 \
                  AND mode = ?3 AND id >= ?4 AND status = 'failed') AS failed, \
               (SELECT created_at FROM deliveries WHERE endpoint_id = ?1 AND workspace_id = ?2 \
                  AND mode = ?3 ORDER BY id DESC LIMIT 1) AS last_at, \
               (SELECT status FROM deliveries WHERE endpoint_id = ?1 AND workspace_id = ?2 \
                  AND mode = ?3 ORDER BY id DESC LIMIT 1) AS last_status",
        )
        .bind(endpoint.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(DeliveryId::floor_at(since).as_str())
        .fetch_one(&self.readers)
        .await?;
        rows::endpoint_summary(&row)
    }
}
