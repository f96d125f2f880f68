//! Customer portal links on SQLite.

use rusqlite::params;

use super::{execute, query_opt, SqliteStore};
use crate::domain::ids::WorkspaceId;
use crate::domain::portal::{self, NewPortalLink, PortalScope};
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::store::portal::KEEP_EXPIRED_MS;
use crate::store::rows::{self, RowExt};
use crate::store::{PortalStore, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl PortalStore for SqliteStore {
    async fn insert_portal_link(&self, link: &NewPortalLink) -> StoreResult<()> {
        let hash = link.token_hash.clone();
        let scope = link.scope.clone();
        let created_at = link.created_at;
        self.writer
            .write(move |conn| {
                execute(
                    conn,
                    "DELETE FROM portal_sessions WHERE expires_at < ?1",
                    [created_at.as_millis() - KEEP_EXPIRED_MS],
                )?;
                execute(
                    conn,
                    "INSERT INTO portal_sessions (token_hash, workspace_id, mode, project_id, read_only, \
                     created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        hash,
                        scope.tenant.workspace_id.as_str(),
                        scope.tenant.mode.as_str(),
                        scope.project_id,
                        scope.read_only,
                        created_at.as_millis(),
                        scope.expires_at.as_millis(),
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn redeem_portal_link(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<PortalScope>> {
        let hash = token_hash.to_string();
        // One UPDATE on the single writer: the first redemption sets `used_at`, any later one
        // finds it set and changes nothing.
        self.writer
            .write(move |conn| {
                query_opt(
                    conn,
                    "UPDATE portal_sessions SET used_at = ?2 \
                     WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2 \
                       AND workspace_id IN (SELECT id FROM workspaces WHERE deleted_at IS NULL) \
                     RETURNING workspace_id, mode, project_id, read_only, expires_at, \
               (SELECT name FROM workspaces w WHERE w.id = portal_sessions.workspace_id) AS workspace_name",
                    params![hash, now.as_millis()],
                    |row| {
                        Ok(portal::scope_from_parts(
                            WorkspaceId::from_trusted(row.text("workspace_id")?),
                row.text("workspace_name")?,
                            rows::mode(&row.text("mode")?)?,
                            row.opt_text("project_id")?,
                            row.flag("read_only")?,
                            row.time("expires_at")?,
                        ))
                    },
                )
            })
            .await
    }

    async fn project_exists(&self, tenant: &Tenant, project_id: &str) -> StoreResult<bool> {
        let row = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM endpoints WHERE workspace_id = ?1 AND mode = ?2 \
               AND project_id = ?3 AND deleted_at IS NULL) \
             OR EXISTS (SELECT 1 FROM events WHERE workspace_id = ?1 AND mode = ?2 AND project_id = ?3) \
             AS known",
        )
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(project_id)
        .fetch_one(&self.readers)
        .await?;
        row.flag("known")
    }
}
