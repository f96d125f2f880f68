//! Custom webhook integrations and their call log on SQLite.
//!
//! Every statement is scoped by `workspace_id` and `mode`. Names are compared through
//! `name_lower`, computed in Rust (`fields::name_key`) because SQLite's `lower()` only folds
//! ASCII; a partial unique index over connected integrations enforces uniqueness.

use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::{conflict_or, SqliteStore};
use crate::domain::ids::{ApiKeyId, CallId, IntegrationId};
use crate::domain::integration::fields::name_key;
use crate::domain::integration::{
    AuthView, CallErrorCode, HeaderViews, HttpMethod, Integration, IntegrationCall,
    IntegrationPatch, StoredIntegration,
};
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::store::{IntegrationFilter, Page, PageRequest, StoreError, StoreResult};

const COLUMNS: &str =
    "id, name, url, method, content_type, timeout_ms, headers_public, auth_public, \
     headers_sealed, auth_sealed, created_at, updated_at, deleted_at";

const DUPLICATE_NAME: &str = "an integration with this name";

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("integration {what}: {e}"))
}

fn integration_from_row(row: &SqliteRow) -> StoreResult<Integration> {
    let method: String = row.try_get("method")?;
    let headers: String = row.try_get("headers_public")?;
    let auth: String = row.try_get("auth_public")?;
    let timeout: i64 = row.try_get("timeout_ms")?;
    Ok(Integration {
        id: IntegrationId::from_trusted(row.try_get("id")?),
        name: row.try_get("name")?,
        url: row.try_get("url")?,
        method: HttpMethod::parse("method", &method).map_err(|e| corrupt("method", e))?,
        headers: serde_json::from_str::<HeaderViews>(&headers)
            .map_err(|e| corrupt("headers", e))?,
        auth: serde_json::from_str::<AuthView>(&auth).map_err(|e| corrupt("auth", e))?,
        content_type: row.try_get("content_type")?,
        timeout_ms: u32::try_from(timeout).map_err(|e| corrupt("timeout", e))?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
        disconnected_at: row
            .try_get::<Option<i64>, _>("deleted_at")?
            .map(Timestamp::from_millis),
    })
}

fn stored_from_row(row: &SqliteRow) -> StoreResult<StoredIntegration> {
    Ok(StoredIntegration {
        integration: integration_from_row(row)?,
        headers_sealed: row.try_get("headers_sealed")?,
        auth_sealed: row.try_get("auth_sealed")?,
    })
}

fn call_from_row(row: &SqliteRow) -> StoreResult<IntegrationCall> {
    let method: String = row.try_get("method")?;
    let status: Option<i64> = row.try_get("status")?;
    let error_code: Option<String> = row.try_get("error_code")?;
    Ok(IntegrationCall {
        id: CallId::from_trusted(row.try_get("id")?),
        integration_id: IntegrationId::from_trusted(row.try_get("integration_id")?),
        api_key_id: ApiKeyId::from_trusted(row.try_get("api_key_id")?),
        method: HttpMethod::parse("method", &method).map_err(|e| corrupt("call method", e))?,
        url: row.try_get("url")?,
        status: status
            .map(u16::try_from)
            .transpose()
            .map_err(|e| corrupt("call status", e))?,
        duration_ms: row.try_get("duration_ms")?,
        error_code: error_code.as_deref().and_then(CallErrorCode::parse),
        error: row.try_get("error")?,
        request_body: row.try_get("request_body")?,
        response_body: row.try_get("response_body")?,
        truncated: row.try_get("truncated")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("serialising plain data types cannot fail")
}

impl SqliteStore {
    pub(super) async fn insert_integration_impl(
        &self,
        tenant: &Tenant,
        stored: &StoredIntegration,
    ) -> StoreResult<()> {
        let (tenant, stored) = (tenant.clone(), stored.clone());
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    let i = &stored.integration;
                    sqlx::query(
                        "INSERT INTO integrations (id, workspace_id, mode, name, name_lower, url, method, \
                         content_type, timeout_ms, headers_sealed, headers_public, auth_sealed, auth_public, \
                         created_at, updated_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                    )
                    .bind(i.id.as_str())
                    .bind(tenant.workspace_id.as_str())
                    .bind(tenant.mode.as_str())
                    .bind(&i.name)
                    .bind(name_key(&i.name))
                    .bind(&i.url)
                    .bind(i.method.as_str())
                    .bind(&i.content_type)
                    .bind(i64::from(i.timeout_ms))
                    .bind(&stored.headers_sealed)
                    .bind(to_json(&i.headers))
                    .bind(&stored.auth_sealed)
                    .bind(to_json(&i.auth))
                    .bind(i.created_at.as_millis())
                    .bind(i.updated_at.as_millis())
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| conflict_or(e, DUPLICATE_NAME))?;
                    Ok(())
                })
            })
            .await
    }

    pub(super) async fn find_integration_impl(
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
        .map(stored_from_row)
        .transpose()
    }

    pub(super) async fn list_integrations_impl(
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
            .map(integration_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_rows(items, page.limit))
    }

    pub(super) async fn update_integration_impl(
        &self,
        tenant: &Tenant,
        id: &IntegrationId,
        patch: &IntegrationPatch,
        now: Timestamp,
    ) -> StoreResult<Option<Integration>> {
        let (tenant, id, patch) = (tenant.clone(), id.clone(), patch.clone());
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    let row = sqlx::query(&format!(
                        "UPDATE integrations SET \
                           name = COALESCE(?4, name), name_lower = COALESCE(?5, name_lower), \
                           url = COALESCE(?6, url), method = COALESCE(?7, method), \
                           content_type = COALESCE(?8, content_type), \
                           timeout_ms = COALESCE(?9, timeout_ms), \
                           headers_sealed = COALESCE(?10, headers_sealed), \
                           headers_public = COALESCE(?11, headers_public), \
                           auth_sealed = COALESCE(?12, auth_sealed), \
                           auth_public = COALESCE(?13, auth_public), \
                           updated_at = ?14 \
                         WHERE id = ?1 AND workspace_id = ?2 AND mode = ?3 AND deleted_at IS NULL \
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
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(|e| conflict_or(e, DUPLICATE_NAME))?;
                    row.as_ref().map(integration_from_row).transpose()
                })
            })
            .await
    }

    pub(super) async fn disconnect_integration_impl(
        &self,
        tenant: &Tenant,
        id: &IntegrationId,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let (tenant, id) = (tenant.clone(), id.clone());
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    let done = sqlx::query(
                        "UPDATE integrations SET deleted_at = ?4, updated_at = ?4 \
                         WHERE id = ?1 AND workspace_id = ?2 AND mode = ?3 AND deleted_at IS NULL",
                    )
                    .bind(id.as_str())
                    .bind(tenant.workspace_id.as_str())
                    .bind(tenant.mode.as_str())
                    .bind(now.as_millis())
                    .execute(&mut *conn)
                    .await?;
                    Ok(done.rows_affected() == 1)
                })
            })
            .await
    }

    pub(super) async fn insert_integration_call_impl(
        &self,
        tenant: &Tenant,
        call: &IntegrationCall,
    ) -> StoreResult<()> {
        let (tenant, call) = (tenant.clone(), call.clone());
        self.writer
            .write(move |conn| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO integration_calls (id, integration_id, workspace_id, mode, api_key_id, \
                         method, url, status, duration_ms, error_code, error, request_body, response_body, \
                         truncated, created_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
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
                    .execute(&mut *conn)
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    pub(super) async fn list_integration_calls_impl(
        &self,
        tenant: &Tenant,
        id: &IntegrationId,
        page: &PageRequest,
    ) -> StoreResult<Page<IntegrationCall>> {
        let rows = sqlx::query(
            "SELECT * FROM integration_calls \
             WHERE workspace_id = ?1 AND mode = ?2 AND integration_id = ?3 \
               AND (?4 IS NULL OR id < ?4) \
             ORDER BY id DESC LIMIT ?5",
        )
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(id.as_str())
        .bind(&page.cursor)
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.readers)
        .await?;
        let items = rows
            .iter()
            .map(call_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_rows(items, page.limit))
    }
}
