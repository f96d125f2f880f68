//! Workspaces and API keys on SQLite.

use rusqlite::params;

use super::{conflict_or, execute, SqliteStore};
use crate::domain::ids::{ApiKeyId, WorkspaceId};
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::store::rows::{self, RowExt};
use crate::store::AdminStore;
use crate::store::{ApiKeyRecord, StoreResult, Workspace, WorkspaceDeleted, WorkspaceUsage};
use async_trait::async_trait;

#[async_trait]
impl AdminStore for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.readers).await?;
        Ok(())
    }

    async fn create_workspace(&self, name: &str) -> StoreResult<Workspace> {
        let workspace = Workspace {
            id: WorkspaceId::generate(),
            name: name.to_string(),
            created_at: Timestamp::now(),
            deleted_at: None,
        };
        let row = workspace.clone();
        self.writer
            .write(move |conn| {
                execute(
                    conn,
                    "INSERT INTO workspaces (id, name, created_at) VALUES (?1, ?2, ?3)",
                    params![row.id.as_str(), row.name, row.created_at.as_millis()],
                )
                .map_err(|e| conflict_or(e, "a workspace with this name"))?;
                Ok(())
            })
            .await?;
        Ok(workspace)
    }

    async fn find_workspace(&self, name: &str) -> StoreResult<Option<Workspace>> {
        sqlx::query("SELECT id, name, created_at, deleted_at FROM workspaces WHERE name = ?1")
            .bind(name)
            .fetch_optional(&self.readers)
            .await?
            .as_ref()
            .map(rows::workspace)
            .transpose()
    }

    async fn list_workspaces(&self) -> StoreResult<Vec<Workspace>> {
        sqlx::query("SELECT id, name, created_at, deleted_at FROM workspaces ORDER BY id")
            .fetch_all(&self.readers)
            .await?
            .iter()
            .map(rows::workspace)
            .collect()
    }

    async fn workspace_usage(&self, id: &WorkspaceId) -> StoreResult<WorkspaceUsage> {
        let row = sqlx::query(
            "SELECT \
               (SELECT COUNT(*) FROM api_keys WHERE workspace_id = ?1 AND revoked_at IS NULL) AS active_keys, \
               (SELECT COUNT(*) FROM endpoints WHERE workspace_id = ?1 AND deleted_at IS NULL) AS endpoints, \
               (SELECT COUNT(*) FROM deliveries WHERE workspace_id = ?1 AND status = 'pending') AS pending_deliveries, \
               (SELECT COUNT(*) FROM events WHERE workspace_id = ?1) AS events, \
               (SELECT COUNT(*) FROM integrations WHERE workspace_id = ?1 AND deleted_at IS NULL) AS integrations",
        )
        .bind(id.as_str())
        .fetch_one(&self.readers)
        .await?;
        rows::workspace_usage(&row)
    }

    async fn delete_workspace(
        &self,
        id: &WorkspaceId,
        now: Timestamp,
    ) -> StoreResult<WorkspaceDeleted> {
        let id = id.clone();
        self.writer
            .write(move |conn| {
                let (id, now) = (id.as_str(), now.as_millis());
                execute(
                    conn,
                    "UPDATE workspaces SET deleted_at = ?2 WHERE id = ?1 AND deleted_at IS NULL",
                    params![id, now],
                )?;
                let keys_revoked = execute(
                    conn,
                    "UPDATE api_keys SET revoked_at = ?2 WHERE workspace_id = ?1 AND revoked_at IS NULL",
                    params![id, now],
                )?;
                // Same effect as deleting each endpoint over the API (see endpoints.rs).
                let deliveries_cancelled = execute(
                    conn,
                    "UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL, lease_owner = NULL, \
                     lease_until = NULL, updated_at = ?2 WHERE workspace_id = ?1 AND status = 'pending'",
                    params![id, now],
                )?;
                let endpoints_deleted = execute(
                    conn,
                    "UPDATE endpoints SET deleted_at = ?2, is_active = 0, updated_at = ?2 \
                     WHERE workspace_id = ?1 AND deleted_at IS NULL",
                    params![id, now],
                )?;
                Ok(WorkspaceDeleted {
                    keys_revoked: keys_revoked as u64,
                    endpoints_deleted: endpoints_deleted as u64,
                    deliveries_cancelled: deliveries_cancelled as u64,
                })
            })
            .await
    }

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()> {
        let key = key.clone();
        self.writer
            .write(move |conn| {
                execute(
                    conn,
                    "INSERT INTO api_keys (id, workspace_id, mode, key_hash, prefix, last4, created_at, name) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        key.id.as_str(),
                        key.workspace_id.as_str(),
                        key.mode.as_str(),
                        key.key_hash,
                        key.prefix,
                        key.last4,
                        key.created_at.as_millis(),
                        key.name,
                    ],
                )
                .map_err(|e| conflict_or(e, "an API key with this hash"))?;
                Ok(())
            })
            .await
    }

    async fn list_api_keys(
        &self,
        workspace: Option<&WorkspaceId>,
    ) -> StoreResult<Vec<ApiKeyRecord>> {
        sqlx::query(
            "SELECT k.*, w.name AS workspace_name FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id \
             WHERE (?1 IS NULL OR k.workspace_id = ?1) ORDER BY k.id",
        )
        .bind(workspace.map(|w| w.as_str().to_string()))
        .fetch_all(&self.readers)
        .await?
        .iter()
        .map(rows::api_key)
        .collect()
    }

    /// The `api_keys` trigger bumps the key generation in this same transaction, which is how
    /// every process's key cache learns of it (see `key_cache.rs`).
    async fn revoke_api_key(&self, id: &ApiKeyId, now: Timestamp) -> StoreResult<bool> {
        let id = id.clone();
        self.writer
            .write(move |conn| {
                let done = execute(
                    conn,
                    "UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL",
                    params![now.as_millis(), id.as_str()],
                )?;
                Ok(done == 1)
            })
            .await
    }

    /// Touches only `last_used_at`, which the generation trigger ignores (migration 0007), so the
    /// key caches stay warm.
    async fn touch_api_key(&self, id: &ApiKeyId, at: Timestamp) -> StoreResult<()> {
        let id = id.clone();
        self.writer
            .write(move |conn| {
                execute(
                    conn,
                    "UPDATE api_keys SET last_used_at = ?1 \
                     WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?1)",
                    params![at.as_millis(), id.as_str()],
                )?;
                Ok(())
            })
            .await
    }

    async fn authenticate(&self, key_hash: &str) -> StoreResult<Option<(ApiKeyId, Tenant)>> {
        let ticket = match self.key_cache.get(key_hash) {
            Ok(hit) => return Ok(Some(hit)),
            Err(ticket) => ticket,
        };
        let row = sqlx::query("SELECT id, workspace_id, mode FROM api_keys WHERE key_hash = ?1 AND revoked_at IS NULL")
            .bind(key_hash)
            .fetch_optional(&self.readers)
            .await?;
        row.map(|row| {
            Ok((
                ApiKeyId::from_trusted(row.text("id")?),
                Tenant {
                    workspace_id: WorkspaceId::from_trusted(row.text("workspace_id")?),
                    mode: rows::mode(&row.text("mode")?)?,
                },
            ))
        })
        .transpose()
        .inspect(|found| {
            if let Some(found) = found {
                self.key_cache.put(key_hash, found, ticket);
            }
        })
    }
}
