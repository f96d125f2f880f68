//! Custom webhook integrations and their call log on PostgreSQL: the same statements as on
//! SQLite (see `sqlite/integrations.rs`), with `$n` parameters and typed NULL checks. Each write
//! is a single statement, so it needs no explicit transaction.

use super::{conflict_or, PostgresStore};
use crate::domain::ids::IntegrationId;
use crate::domain::integration::fields::name_key;
use crate::domain::integration::{
    CallErrorCode, HttpMethod, Integration, IntegrationCall, IntegrationPatch, StoredIntegration,
};
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::store::integration_rows::{
    self as rows, methods_json, stored_methods, to_json, CALL_COLUMNS, DUPLICATE_NAME,
    INTEGRATION_COLUMNS as COLUMNS,
};
use crate::store::{IntegrationFilter, IntegrationStore, Page, PageRequest, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl IntegrationStore for PostgresStore {
    async fn insert_integration(
        &self,
        tenant: &Tenant,
        stored: &StoredIntegration,
    ) -> StoreResult<()> {
        let i = &stored.integration;
        sqlx::query(
            "INSERT INTO integrations (id, workspace_id, mode, name, name_lower, url, method, \
             content_type, timeout_ms, headers_sealed, headers_public, auth_sealed, auth_public, \
             created_at, updated_at, description, allowed_methods, allowed_path_prefixes, \
             allow_caller_headers) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $19)",
        )
        .bind(i.id.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(&i.name)
        .bind(name_key(&i.name))
        .bind(&stored.url_sealed)
        .bind(i.method.as_str())
        .bind(&i.content_type)
        .bind(i64::from(i.timeout_ms))
        .bind(&stored.headers_sealed)
        .bind(to_json(&i.headers))
        .bind(&stored.auth_sealed)
        .bind(to_json(&i.auth))
        .bind(i.created_at.as_millis())
        .bind(i.updated_at.as_millis())
        .bind(&i.description)
        .bind(stored_methods(i))
        .bind(to_json(&i.allowed_path_prefixes))
        .bind(i.allow_caller_headers)
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_or(e, DUPLICATE_NAME))?;
        Ok(())
    }

    async fn find_integration(
        &self,
        tenant: &Tenant,
        id: &IntegrationId,
    ) -> StoreResult<Option<StoredIntegration>> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM integrations WHERE id = $1 AND workspace_id = $2 AND mode = $3"
        ))
        .bind(id.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(rows::stored_integration)
        .transpose()
    }

    async fn list_integrations(
        &self,
        tenant: &Tenant,
        filter: &IntegrationFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Integration>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM integrations \
             WHERE workspace_id = $1 AND mode = $2 AND ($6 OR deleted_at IS NULL) \
               AND ($3::text IS NULL OR name_lower = $3) AND ($4::text IS NULL OR id < $4) \
             ORDER BY id DESC LIMIT $5"
        ))
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(filter.name.as_deref().map(name_key))
        .bind(&page.cursor)
        .bind(i64::from(page.limit) + 1)
        .bind(filter.include_disconnected)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(rows::integration)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_rows(items, page.limit))
    }

    async fn update_integration(
        &self,
        tenant: &Tenant,
        id: &IntegrationId,
        patch: &IntegrationPatch,
        now: Timestamp,
    ) -> StoreResult<Option<Integration>> {
        let row = sqlx::query(&format!(
            "UPDATE integrations SET \
               name = COALESCE($4, name), name_lower = COALESCE($5, name_lower), \
               url = COALESCE($6, url), method = COALESCE($7, method), \
               content_type = COALESCE($8, content_type), \
               timeout_ms = COALESCE($9, timeout_ms), \
               headers_sealed = COALESCE($10, headers_sealed), \
               headers_public = COALESCE($11, headers_public), \
               auth_sealed = COALESCE($12, auth_sealed), \
               auth_public = COALESCE($13, auth_public), \
               updated_at = $14, \
                           description = CASE WHEN $15 THEN $16 ELSE description END, \
                           allowed_methods = CASE WHEN $17 THEN $18 ELSE allowed_methods END, \
                           allowed_path_prefixes = COALESCE($19, allowed_path_prefixes), \
                           allow_caller_headers = COALESCE($20, allow_caller_headers) \
             WHERE id = $1 AND workspace_id = $2 AND mode = $3 AND deleted_at IS NULL \
             RETURNING {COLUMNS}"
        ))
        .bind(id.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(&patch.name)
        .bind(patch.name.as_deref().map(name_key))
        .bind(patch.url.as_ref().map(|u| u.to_string()))
        .bind(patch.method.map(HttpMethod::as_str))
        .bind(&patch.content_type)
        .bind(patch.timeout_ms.map(i64::from))
        .bind(patch.headers.as_ref().map(|h| h.sealed.clone()))
        .bind(patch.headers.as_ref().map(|h| to_json(&h.view)))
        .bind(patch.auth.as_ref().map(|a| a.sealed.clone()))
        .bind(patch.auth.as_ref().map(|a| to_json(&a.view)))
        .bind(now.as_millis())
        .bind(patch.description.is_some())
        .bind(patch.description.clone().flatten())
        .bind(patch.allowed_methods.is_some())
        .bind(
            patch
                .allowed_methods
                .as_ref()
                .and_then(|m| methods_json(m.as_ref())),
        )
        .bind(patch.allowed_path_prefixes.as_ref().map(to_json))
        .bind(patch.allow_caller_headers)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| conflict_or(e, DUPLICATE_NAME))?;
        row.as_ref().map(rows::integration).transpose()
    }

    async fn disconnect_integration(
        &self,
        tenant: &Tenant,
        id: &IntegrationId,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE integrations SET deleted_at = $4, updated_at = $4 \
             WHERE id = $1 AND workspace_id = $2 AND mode = $3 AND deleted_at IS NULL",
        )
        .bind(id.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(now.as_millis())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_integration_call(
        &self,
        tenant: &Tenant,
        call: &IntegrationCall,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO integration_calls (id, integration_id, workspace_id, mode, api_key_id, \
             method, url, status, duration_ms, error_code, error, request_body, response_body, \
             truncated, created_at, via) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(call.id.as_str())
        .bind(call.integration_id.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(call.api_key_id.as_str())
        .bind(call.method.as_str())
        .bind(&call.url)
        .bind(call.status.map(i64::from))
        .bind(call.duration_ms)
        .bind(call.error_code.map(CallErrorCode::as_str))
        .bind(&call.error)
        .bind(&call.request_body)
        .bind(&call.response_body)
        .bind(call.truncated)
        .bind(call.created_at.as_millis())
        .bind(call.via.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_integration_calls(
        &self,
        tenant: &Tenant,
        id: &IntegrationId,
        page: &PageRequest,
    ) -> StoreResult<Page<IntegrationCall>> {
        let rows = sqlx::query(&format!(
            "SELECT {CALL_COLUMNS} FROM integration_calls \
             WHERE workspace_id = $1 AND mode = $2 AND integration_id = $3 \
               AND ($4::text IS NULL OR id < $4) \
             ORDER BY id DESC LIMIT $5"
        ))
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(id.as_str())
        .bind(&page.cursor)
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(rows::integration_call)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_rows(items, page.limit))
    }
}
