//! Webhook endpoints on PostgreSQL.

use super::PostgresStore;
use crate::domain::endpoint::{DisabledReason, Endpoint, EndpointPatch};
use crate::domain::ids::EndpointId;
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::store::endpoints::{auth_public, auth_sealed};
use crate::store::integration_rows::to_json;
use crate::store::rows::{self, ENDPOINT_COLUMNS};
use crate::store::EndpointStore;
use crate::store::{EndpointFilter, Page, PageRequest, StoreResult, StoredEndpoint};
use async_trait::async_trait;

fn events_json(events: &[String]) -> String {
    serde_json::to_string(events).unwrap_or_else(|_| "[]".to_string())
}

/// `events` is JSONB here; read it back as text so the shared row mapping applies.
fn columns() -> String {
    ENDPOINT_COLUMNS.replace("events,", "events::text AS events,")
}

#[async_trait]
impl EndpointStore for PostgresStore {
    async fn insert_endpoint(&self, tenant: &Tenant, stored: &StoredEndpoint) -> StoreResult<()> {
        let e = &stored.endpoint;
        sqlx::query(
            "INSERT INTO endpoints (id, workspace_id, mode, name, url, events, project_id, is_active, \
             disabled_reason, signing_keys, secret_last4, created_at, updated_at, auth_sealed, auth_public) \
             VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(e.id.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(&e.name)
        .bind(&e.url)
        .bind(events_json(&e.events))
        .bind(&e.project_id)
        .bind(e.is_active)
        .bind(e.disabled_reason.map(DisabledReason::as_str))
        .bind(&stored.signing_keys)
        .bind(&e.secret_last4)
        .bind(e.created_at.as_millis())
        .bind(e.updated_at.as_millis())
        .bind(&stored.auth_sealed)
        .bind(e.auth.as_ref().map(to_json))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get_endpoint(
        &self,
        tenant: &Tenant,
        id: &EndpointId,
    ) -> StoreResult<Option<StoredEndpoint>> {
        sqlx::query(&format!(
            "SELECT {} FROM endpoints WHERE id = $1 AND workspace_id = $2 AND mode = $3 AND deleted_at IS NULL",
            columns()
        ))
        .bind(id.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(rows::stored_endpoint)
        .transpose()
    }

    async fn list_endpoints(
        &self,
        tenant: &Tenant,
        filter: &EndpointFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Endpoint>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM endpoints \
             WHERE workspace_id = $1 AND mode = $2 AND deleted_at IS NULL \
               AND ($3::text IS NULL OR project_id = $3) AND ($4::boolean IS NULL OR is_active = $4) \
               AND ($5::text IS NULL OR id < $5) \
             ORDER BY id DESC LIMIT $6",
            columns()
        ))
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(&filter.project_id)
        .bind(filter.is_active)
        .bind(&page.cursor)
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(rows::endpoint)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_rows(items, page.limit))
    }

    async fn update_endpoint(
        &self,
        tenant: &Tenant,
        id: &EndpointId,
        patch: &EndpointPatch,
        now: Timestamp,
    ) -> StoreResult<Option<Endpoint>> {
        let row = sqlx::query(&format!(
            "UPDATE endpoints SET \
               name = COALESCE($4, name), \
               url = COALESCE($5, url), \
               events = COALESCE($6::jsonb, events), \
               project_id = CASE WHEN $7 THEN $8 ELSE project_id END, \
               is_active = COALESCE($9, is_active), \
               disabled_reason = CASE WHEN $9::boolean IS NULL THEN disabled_reason \
                                      WHEN $9 THEN NULL ELSE 'manual' END, \
               failing_since = CASE WHEN $9 THEN NULL ELSE failing_since END, \
               updated_at = $10, \
               auth_sealed = CASE WHEN $11 THEN $12 ELSE auth_sealed END, \
               auth_public = CASE WHEN $11 THEN $13 ELSE auth_public END \
             WHERE id = $1 AND workspace_id = $2 AND mode = $3 AND deleted_at IS NULL \
             RETURNING {}",
            columns()
        ))
        .bind(id.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(&patch.name)
        .bind(patch.url.as_ref().map(|u| u.to_string()))
        .bind(patch.events.as_deref().map(events_json))
        .bind(patch.project_id.is_some())
        .bind(patch.project_id.clone().flatten())
        .bind(patch.is_active)
        .bind(now.as_millis())
        .bind(patch.auth.is_some())
        .bind(auth_sealed(patch))
        .bind(auth_public(patch))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::endpoint).transpose()
    }

    async fn delete_endpoint(
        &self,
        tenant: &Tenant,
        id: &EndpointId,
        now: Timestamp,
    ) -> StoreResult<bool> {
        // Deliveries first, then the endpoint: the order in which recording an attempt locks
        // them. The other order deadlocks with attempts being recorded for this endpoint.
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL, lease_owner = NULL, \
             lease_until = NULL, updated_at = $4 \
             WHERE endpoint_id = $1 AND workspace_id = $2 AND mode = $3 AND status = 'pending'",
        )
        .bind(id.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query(
            "UPDATE endpoints SET deleted_at = $4, is_active = FALSE, updated_at = $4 \
             WHERE id = $1 AND workspace_id = $2 AND mode = $3 AND deleted_at IS NULL",
        )
        .bind(id.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            // Absent or already deleted: roll back (nothing of another tenant was touched).
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn swap_signing_keys(
        &self,
        tenant: &Tenant,
        id: &EndpointId,
        expected: &[u8],
        replacement: &[u8],
        secret_last4: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE endpoints SET signing_keys = $4, secret_last4 = $5, updated_at = $6 \
             WHERE id = $1 AND workspace_id = $2 AND mode = $3 AND deleted_at IS NULL AND signing_keys = $7",
        )
        .bind(id.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(replacement)
        .bind(secret_last4)
        .bind(now.as_millis())
        .bind(expected)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
