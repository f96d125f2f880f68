//! Webhook endpoints on SQLite.

use rusqlite::params;

use super::{execute, query_opt, SqliteStore};
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

#[async_trait]
impl EndpointStore for SqliteStore {
    async fn insert_endpoint(&self, tenant: &Tenant, stored: &StoredEndpoint) -> StoreResult<()> {
        let tenant = tenant.clone();
        let stored = stored.clone();
        self.writer
            .write(move |conn| {
                let e = &stored.endpoint;
                execute(
                    conn,
                    "INSERT INTO endpoints (id, workspace_id, mode, name, url, events, project_id, is_active, \
                     disabled_reason, signing_keys, secret_last4, created_at, updated_at, auth_sealed, auth_public) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                    params![
                        e.id.as_str(),
                        tenant.workspace_id.as_str(),
                        tenant.mode.as_str(),
                        e.name,
                        e.url,
                        events_json(&e.events),
                        e.project_id,
                        e.is_active,
                        e.disabled_reason.map(DisabledReason::as_str),
                        stored.signing_keys,
                        e.secret_last4,
                        e.created_at.as_millis(),
                        e.updated_at.as_millis(),
                        stored.auth_sealed,
                        e.auth.as_ref().map(to_json),
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn get_endpoint(
        &self,
        tenant: &Tenant,
        id: &EndpointId,
    ) -> StoreResult<Option<StoredEndpoint>> {
        sqlx::query(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE id = ?1 AND workspace_id = ?2 AND mode = ?3 AND deleted_at IS NULL"
        ))
        .bind(id.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .fetch_optional(&self.readers)
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
            "SELECT {ENDPOINT_COLUMNS} FROM endpoints \
             WHERE workspace_id = ?1 AND mode = ?2 AND deleted_at IS NULL \
               AND (?3 IS NULL OR project_id = ?3) AND (?4 IS NULL OR is_active = ?4) \
               AND (?5 IS NULL OR id < ?5) \
             ORDER BY id DESC LIMIT ?6"
        ))
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(&filter.project_id)
        .bind(filter.is_active)
        .bind(&page.cursor)
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.readers)
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
        let (tenant, id, patch) = (tenant.clone(), id.clone(), patch.clone());
        self.writer
            .write(move |conn| {
                query_opt(
                    conn,
                    &format!(
                        "UPDATE endpoints SET \
                           name = COALESCE(?4, name), \
                           url = COALESCE(?5, url), \
                           events = COALESCE(?6, events), \
                           project_id = CASE WHEN ?7 THEN ?8 ELSE project_id END, \
                           is_active = COALESCE(?9, is_active), \
                           disabled_reason = CASE WHEN ?9 IS NULL THEN disabled_reason \
                                                  WHEN ?9 THEN NULL ELSE 'manual' END, \
                           failing_since = CASE WHEN ?9 THEN NULL ELSE failing_since END, \
                           updated_at = ?10, \
                           auth_sealed = CASE WHEN ?11 THEN ?12 ELSE auth_sealed END, \
                           auth_public = CASE WHEN ?11 THEN ?13 ELSE auth_public END \
                         WHERE id = ?1 AND workspace_id = ?2 AND mode = ?3 AND deleted_at IS NULL \
                         RETURNING {ENDPOINT_COLUMNS}"
                    ),
                    params![
                        id.as_str(),
                        tenant.workspace_id.as_str(),
                        tenant.mode.as_str(),
                        patch.name,
                        patch.url.as_ref().map(|u| u.to_string()),
                        patch.events.as_deref().map(events_json),
                        patch.project_id.is_some(),
                        patch.project_id.clone().flatten(),
                        patch.is_active,
                        now.as_millis(),
                        patch.auth.is_some(),
                        auth_sealed(&patch),
                        auth_public(&patch),
                    ],
                    |row| rows::endpoint(row),
                )
            })
            .await
    }

    async fn delete_endpoint(
        &self,
        tenant: &Tenant,
        id: &EndpointId,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let (tenant, id) = (tenant.clone(), id.clone());
        self.writer
            .write(move |conn| {
                let done = execute(
                    conn,
                    "UPDATE endpoints SET deleted_at = ?4, is_active = 0, updated_at = ?4 \
                     WHERE id = ?1 AND workspace_id = ?2 AND mode = ?3 AND deleted_at IS NULL",
                    params![
                        id.as_str(),
                        tenant.workspace_id.as_str(),
                        tenant.mode.as_str(),
                        now.as_millis(),
                    ],
                )?;
                if done == 0 {
                    return Ok(false);
                }
                execute(
                    conn,
                    "UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL, lease_owner = NULL, \
                     lease_until = NULL, updated_at = ?2 WHERE endpoint_id = ?1 AND status = 'pending'",
                    params![id.as_str(), now.as_millis()],
                )?;
                Ok(true)
            })
            .await
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
        let (tenant, id) = (tenant.clone(), id.clone());
        let (expected, replacement, last4) = (
            expected.to_vec(),
            replacement.to_vec(),
            secret_last4.to_string(),
        );
        self.writer
            .write(move |conn| {
                let done = execute(
                    conn,
                    "UPDATE endpoints SET signing_keys = ?4, secret_last4 = ?5, updated_at = ?6 \
                     WHERE id = ?1 AND workspace_id = ?2 AND mode = ?3 AND deleted_at IS NULL \
                       AND signing_keys = ?7",
                    params![
                        id.as_str(),
                        tenant.workspace_id.as_str(),
                        tenant.mode.as_str(),
                        replacement,
                        last4,
                        now.as_millis(),
                        expected,
                    ],
                )?;
                Ok(done == 1)
            })
            .await
    }
}
