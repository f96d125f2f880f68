//! Idempotency keys on SQLite. The check-and-claim runs inside the writer, which serialises all
//! writes, so two concurrent requests with one key can never both be `Started`.

use crate::store::rows::RowExt;

use rusqlite::params;

use super::{execute, query_opt, SqliteStore};
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::store::IdempotencyStore;
use crate::store::{IdempotencyBegin, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn idempotency_begin(
        &self,
        tenant: &Tenant,
        key: &str,
        request_hash: &str,
        now: Timestamp,
        ttl_ms: i64,
    ) -> StoreResult<IdempotencyBegin> {
        let (tenant, key, hash) = (tenant.clone(), key.to_string(), request_hash.to_string());
        self.writer
            .write(move |conn| {
                let scope = params![tenant.workspace_id.as_str(), tenant.mode.as_str(), key];
                let existing = query_opt(
                    conn,
                    "SELECT request_hash, status_code, response_body, created_at FROM idempotency_keys \
                     WHERE workspace_id = ?1 AND mode = ?2 AND key = ?3",
                    scope,
                    |row| {
                        Ok((
                            row.int("created_at")?,
                            row.text("request_hash")?,
                            row.opt_int("status_code")?,
                            row.opt_text("response_body")?,
                        ))
                    },
                )?;
                if let Some((created_at, stored_hash, status, body)) = existing {
                    if created_at > now.as_millis() - ttl_ms {
                        return Ok(match status {
                            _ if stored_hash != hash => IdempotencyBegin::Conflict,
                            None => IdempotencyBegin::InProgress,
                            Some(status) => IdempotencyBegin::Replay {
                                status: u16::try_from(status).unwrap_or(500),
                                body: body.unwrap_or_default(),
                            },
                        });
                    }
                }
                execute(
                    conn,
                    "INSERT INTO idempotency_keys (workspace_id, mode, key, request_hash, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (workspace_id, mode, key) DO UPDATE SET request_hash = ?4, \
                       status_code = NULL, response_body = NULL, created_at = ?5",
                    params![
                        tenant.workspace_id.as_str(),
                        tenant.mode.as_str(),
                        key,
                        hash,
                        now.as_millis(),
                    ],
                )?;
                Ok(IdempotencyBegin::Started)
            })
            .await
    }

    async fn idempotency_finish(
        &self,
        tenant: &Tenant,
        key: &str,
        status: u16,
        body: &str,
    ) -> StoreResult<()> {
        let (tenant, key, body) = (tenant.clone(), key.to_string(), body.to_string());
        self.writer
            .write(move |conn| {
                execute(
                    conn,
                    "UPDATE idempotency_keys SET status_code = ?4, response_body = ?5 \
                     WHERE workspace_id = ?1 AND mode = ?2 AND key = ?3",
                    params![
                        tenant.workspace_id.as_str(),
                        tenant.mode.as_str(),
                        key,
                        i64::from(status),
                        body,
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn idempotency_abandon(&self, tenant: &Tenant, key: &str) -> StoreResult<()> {
        let (tenant, key) = (tenant.clone(), key.to_string());
        self.writer
            .write(move |conn| {
                execute(
                    conn,
                    "DELETE FROM idempotency_keys WHERE workspace_id = ?1 AND mode = ?2 AND key = ?3 \
                     AND status_code IS NULL",
                    params![tenant.workspace_id.as_str(), tenant.mode.as_str(), key],
                )?;
                Ok(())
            })
            .await
    }

    async fn purge_idempotency_keys(&self, before: Timestamp) -> StoreResult<u64> {
        self.writer
            .write(move |conn| {
                let done = execute(
                    conn,
                    "DELETE FROM idempotency_keys WHERE created_at < ?1",
                    [before.as_millis()],
                )?;
                Ok(done as u64)
            })
            .await
    }
}
