//! Custom webhook integrations and their call log on SQLite.
//!
//! Every statement is scoped by `workspace_id` and `mode`. Names are compared through
//! `name_lower`, computed in Rust (`fields::name_key`) because SQLite's `lower()` only folds
//! ASCII; a partial unique index over connected integrations enforces uniqueness.

use rusqlite::params;

use super::{conflict_or, execute, query_opt, SqliteStore};
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
impl IntegrationStore for SqliteStore {
    async fn insert_integration(
        &self,
        tenant: &Tenant,
        stored: &StoredIntegration,
    ) -> StoreResult<()> {
        let (tenant, stored) = (tenant.clone(), stored.clone());
        self.writer
            .write(move |conn| {
                let i = &stored.integration;
                execute(
                    conn,
                    "INSERT INTO integrations (id, workspace_id, mode, name, name_lower, url, method, \
                     content_type, timeout_ms, headers_sealed, headers_public, auth_sealed, auth_public, \
                     created_at, updated_at, description, allowed_methods, allowed_path_prefixes, \
                     allow_caller_headers) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
                     ?18, ?19)",
                    params![
                        i.id.as_str(),
                        tenant.workspace_id.as_str(),
                        tenant.mode.as_str(),
                        i.name,
                        name_key(&i.name),
                        stored.url_sealed,
                        i.method.as_str(),
                        i.content_type,
                        i64::from(i.timeout_ms),
                        stored.headers_sealed,
                        to_json(&i.headers),
                        stored.auth_sealed,
                        to_json(&i.auth),
                        i.created_at.as_millis(),
                        i.updated_at.as_millis(),
                        i.description,
                        stored_methods(i),
                        to_json(&i.allowed_path_prefixes),
                        i.allow_caller_headers,
                    ],
                )
                .map_err(|e| conflict_or(e, DUPLICATE_NAME))?;
                Ok(())
            })
            .await
    }

    async fn find_integration(
        &self,
        tenant: &Tenant,
        id: &IntegrationId,
    ) -> StoreResult<Option<StoredIntegration>> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM integrations WHERE id = ?1 AND workspace_id = ?2 AND mode = ?3"
        ))
        .bind(id.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .fetch_optional(&self.readers)
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
             WHERE workspace_id = ?1 AND mode = ?2 AND (?6 OR deleted_at IS NULL) \
               AND (?3 IS NULL OR name_lower = ?3) AND (?4 IS NULL OR id < ?4) \
             ORDER BY id DESC LIMIT ?5"
        ))
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(filter.name.as_deref().map(name_key))
        .bind(&page.cursor)
        .bind(i64::from(page.limit) + 1)
        .bind(filter.include_disconnected)
        .fetch_all(&self.readers)
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
        let (tenant, id, patch) = (tenant.clone(), id.clone(), patch.clone());
        self.writer
            .write(move |conn| {
                query_opt(
                    conn,
                    &format!(
                        "UPDATE integrations SET \
                           name = COALESCE(?4, name), name_lower = COALESCE(?5, name_lower), \
                           url = COALESCE(?6, url), method = COALESCE(?7, method), \
                           content_type = COALESCE(?8, content_type), \
                           timeout_ms = COALESCE(?9, timeout_ms), \
                           headers_sealed = COALESCE(?10, headers_sealed), \
                           headers_public = COALESCE(?11, headers_public), \
                           auth_sealed = COALESCE(?12, auth_sealed), \
                           auth_public = COALESCE(?13, auth_public), \
                           updated_at = ?14, \
                           description = CASE WHEN ?15 THEN ?16 ELSE description END, \
                           allowed_methods = CASE WHEN ?17 THEN ?18 ELSE allowed_methods END, \
                           allowed_path_prefixes = COALESCE(?19, allowed_path_prefixes), \
                           allow_caller_headers = COALESCE(?20, allow_caller_headers) \
                         WHERE id = ?1 AND workspace_id = ?2 AND mode = ?3 AND deleted_at IS NULL \
                         RETURNING {COLUMNS}"
                    ),
                    params![
                        id.as_str(),
                        tenant.workspace_id.as_str(),
                        tenant.mode.as_str(),
                        patch.name,
                        patch.name.as_deref().map(name_key),
                        patch.url.as_ref().map(|u| u.to_string()),
                        patch.method.map(HttpMethod::as_str),
                        patch.content_type,
                        patch.timeout_ms.map(i64::from),
                        patch.headers.as_ref().map(|h| &h.sealed),
                        patch.headers.as_ref().map(|h| to_json(&h.view)),
                        patch.auth.as_ref().map(|a| &a.sealed),
                        patch.auth.as_ref().map(|a| to_json(&a.view)),
                        now.as_millis(),
                        patch.description.is_some(),
                        patch.description.clone().flatten(),
                        patch.allowed_methods.is_some(),
                        patch
                            .allowed_methods
                            .as_ref()
                            .and_then(|m| methods_json(m.as_ref())),
                        patch.allowed_path_prefixes.as_ref().map(to_json),
                        patch.allow_caller_headers,
                    ],
                    |row| rows::integration(row),
                )
                .map_err(|e| conflict_or(e, DUPLICATE_NAME))
            })
            .await
    }

    async fn disconnect_integration(
        &self,
        tenant: &Tenant,
        id: &IntegrationId,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let (tenant, id) = (tenant.clone(), id.clone());
        self.writer
            .write(move |conn| {
                let done = execute(
                    conn,
                    "UPDATE integrations SET deleted_at = ?4, updated_at = ?4 \
                     WHERE id = ?1 AND workspace_id = ?2 AND mode = ?3 AND deleted_at IS NULL",
                    params![
                        id.as_str(),
                        tenant.workspace_id.as_str(),
                        tenant.mode.as_str(),
                        now.as_millis(),
                    ],
                )?;
                Ok(done == 1)
            })
            .await
    }

    async fn insert_integration_call(
        &self,
        tenant: &Tenant,
        call: &IntegrationCall,
    ) -> StoreResult<()> {
        let (tenant, call) = (tenant.clone(), call.clone());
        self.writer
            .write(move |conn| {
                execute(
                    conn,
                    "INSERT INTO integration_calls (id, integration_id, workspace_id, mode, api_key_id, \
                     method, url, status, duration_ms, error_code, error, request_body, response_body, \
                     truncated, created_at, via) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                    params![
                        call.id.as_str(),
                        call.integration_id.as_str(),
                        tenant.workspace_id.as_str(),
                        tenant.mode.as_str(),
                        call.api_key_id.as_str(),
                        call.method.as_str(),
                        call.url,
                        call.status.map(i64::from),
                        call.duration_ms,
                        call.error_code.map(CallErrorCode::as_str),
                        call.error,
                        call.request_body,
                        call.response_body,
                        call.truncated,
                        call.created_at.as_millis(),
                        call.via.as_str(),
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn list_integration_calls(
        &self,
        tenant: &Tenant,
        id: &IntegrationId,
        page: &PageRequest,
    ) -> StoreResult<Page<IntegrationCall>> {
        let rows = sqlx::query(&format!(
            "SELECT {CALL_COLUMNS} FROM integration_calls \
             WHERE workspace_id = ?1 AND mode = ?2 AND integration_id = ?3 \
               AND (?4 IS NULL OR id < ?4) \
             ORDER BY id DESC LIMIT ?5"
        ))
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(id.as_str())
        .bind(&page.cursor)
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.readers)
        .await?;
        let items = rows
            .iter()
            .map(rows::integration_call)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_rows(items, page.limit))
    }
}
