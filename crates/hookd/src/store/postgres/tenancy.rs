//! Workspaces and API keys on PostgreSQL.
//!
//! Every API request looks its key up. Concurrent look-ups are batched (`batcher.rs`): one
//! statement answers every key of a batch, saving a round trip per request. A batch's statement
//! starts only after all of its requests were queued, so a request made after a revocation
//! committed always sees it.

use std::collections::HashMap;

use futures_util::future::BoxFuture;
use sqlx::PgPool;

use super::batcher::Batcher;
use super::{conflict_or, PostgresStore};
use crate::domain::ids::{ApiKeyId, WorkspaceId};
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::store::rows::{self, RowExt};
use crate::store::AdminStore;
use crate::store::{ApiKeyRecord, StoreResult, Workspace, WorkspaceDeleted, WorkspaceUsage};
use async_trait::async_trait;

#[async_trait]
impl AdminStore for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn shared_rate_limiter(&self) -> Option<&dyn crate::store::SharedRateLimiter> {
        Some(self)
    }

    async fn create_workspace(&self, name: &str) -> StoreResult<Workspace> {
        let workspace = Workspace {
            id: WorkspaceId::generate(),
            name: name.to_string(),
            created_at: Timestamp::now(),
            deleted_at: None,
        };
        sqlx::query("INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(workspace.id.as_str())
            .bind(&workspace.name)
            .bind(workspace.created_at.as_millis())
            .execute(&self.pool)
            .await
            .map_err(|e| conflict_or(e, "a workspace with this name"))?;
        Ok(workspace)
    }

    async fn find_workspace(&self, name: &str) -> StoreResult<Option<Workspace>> {
        sqlx::query("SELECT id, name, created_at, deleted_at FROM workspaces WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(rows::workspace)
            .transpose()
    }

    async fn list_workspaces(&self) -> StoreResult<Vec<Workspace>> {
        sqlx::query("SELECT id, name, created_at, deleted_at FROM workspaces ORDER BY id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(rows::workspace)
            .collect()
    }

    async fn workspace_usage(&self, id: &WorkspaceId) -> StoreResult<WorkspaceUsage> {
        let row = sqlx::query(
            "SELECT \
               (SELECT COUNT(*) FROM api_keys WHERE workspace_id = $1 AND revoked_at IS NULL) AS active_keys, \
               (SELECT COUNT(*) FROM endpoints WHERE workspace_id = $1 AND deleted_at IS NULL) AS endpoints, \
               (SELECT COUNT(*) FROM deliveries WHERE workspace_id = $1 AND status = 'pending') AS pending_deliveries, \
               (SELECT COUNT(*) FROM events WHERE workspace_id = $1) AS events, \
               (SELECT COUNT(*) FROM integrations WHERE workspace_id = $1 AND deleted_at IS NULL) AS integrations",
        )
        .bind(id.as_str())
        .fetch_one(&self.pool)
        .await?;
        rows::workspace_usage(&row)
    }

    async fn delete_workspace(
        &self,
        id: &WorkspaceId,
        now: Timestamp,
    ) -> StoreResult<WorkspaceDeleted> {
        let (id, now) = (id.as_str(), now.as_millis());
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE workspaces SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL")
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let keys_revoked = sqlx::query(
            "UPDATE api_keys SET revoked_at = $2 WHERE workspace_id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        // Same effect as deleting each endpoint over the API (see endpoints.rs).
        let deliveries_cancelled = sqlx::query(
            "UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL, lease_owner = NULL, \
             lease_until = NULL, updated_at = $2 WHERE workspace_id = $1 AND status = 'pending'",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let endpoints_deleted = sqlx::query(
            "UPDATE endpoints SET deleted_at = $2, is_active = FALSE, updated_at = $2 \
             WHERE workspace_id = $1 AND deleted_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(WorkspaceDeleted {
            keys_revoked,
            endpoints_deleted,
            deliveries_cancelled,
        })
    }

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO api_keys (id, workspace_id, mode, key_hash, prefix, last4, created_at, name) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(key.id.as_str())
        .bind(key.workspace_id.as_str())
        .bind(key.mode.as_str())
        .bind(&key.key_hash)
        .bind(&key.prefix)
        .bind(&key.last4)
        .bind(key.created_at.as_millis())
        .bind(&key.name)
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_or(e, "an API key with this hash"))?;
        Ok(())
    }

    async fn list_api_keys(
        &self,
        workspace: Option<&WorkspaceId>,
    ) -> StoreResult<Vec<ApiKeyRecord>> {
        sqlx::query(
            "SELECT k.*, w.name AS workspace_name FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id \
             WHERE ($1::text IS NULL OR k.workspace_id = $1) ORDER BY k.id",
        )
        .bind(workspace.map(|w| w.as_str().to_string()))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::api_key)
        .collect()
    }

    async fn revoke_api_key(&self, id: &ApiKeyId, now: Timestamp) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now.as_millis())
                .bind(id.as_str())
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn touch_api_key(&self, id: &ApiKeyId, at: Timestamp) -> StoreResult<()> {
        sqlx::query(
            "UPDATE api_keys SET last_used_at = $1 \
             WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
        )
        .bind(at.as_millis())
        .bind(id.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn authenticate(&self, key_hash: &str) -> StoreResult<Option<(ApiKeyId, Tenant)>> {
        self.key_lookups.write(key_hash.to_string()).await
    }
}

/// A live key's id and tenant, by key hash.
type KeyLookup = Option<(ApiKeyId, Tenant)>;

pub(super) type KeyLookups = Batcher<String, KeyLookup>;

/// Most look-ups answered by one statement.
const MAX_LOOKUPS: usize = 1024;

/// Starts the key look-up batcher on the current runtime.
pub(super) fn start_key_lookups(pool: PgPool) -> KeyLookups {
    Batcher::start(
        pool,
        MAX_LOOKUPS,
        "hookd_store_key_lookup_batch_size",
        |pool, hashes| Box::pin(look_up_keys(pool, hashes)) as BoxFuture<'_, _>,
    )
}

async fn look_up_keys(pool: &PgPool, hashes: &[String]) -> StoreResult<Vec<KeyLookup>> {
    let rows = sqlx::query(
        "SELECT key_hash, id, workspace_id, mode FROM api_keys \
         WHERE key_hash = ANY($1) AND revoked_at IS NULL",
    )
    .bind(hashes)
    .fetch_all(pool)
    .await?;
    let mut live = HashMap::with_capacity(rows.len());
    for row in &rows {
        let tenant = Tenant {
            workspace_id: WorkspaceId::from_trusted(row.text("workspace_id")?),
            mode: rows::mode(&row.text("mode")?)?,
        };
        live.insert(
            row.text("key_hash")?,
            (ApiKeyId::from_trusted(row.text("id")?), tenant),
        );
    }
    Ok(hashes.iter().map(|h| live.get(h).cloned()).collect())
}
