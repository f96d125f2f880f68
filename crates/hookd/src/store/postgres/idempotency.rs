//! Idempotency keys on PostgreSQL. The claim is an `INSERT … ON CONFLICT DO NOTHING` followed by a
//! row lock, so across any number of nodes exactly one request with a key is `Started`.

use super::PostgresStore;
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::store::rows::RowExt;
use crate::store::IdempotencyStore;
use crate::store::{IdempotencyBegin, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl IdempotencyStore for PostgresStore {
    async fn idempotency_begin(
        &self,
        tenant: &Tenant,
        key: &str,
        request_hash: &str,
        now: Timestamp,
        ttl_ms: i64,
    ) -> StoreResult<IdempotencyBegin> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (workspace_id, mode, key, request_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(key)
        .bind(request_hash)
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 1 {
            tx.commit().await?;
            return Ok(IdempotencyBegin::Started);
        }
        let row = sqlx::query(
            "SELECT request_hash, status_code, response_body, created_at FROM idempotency_keys \
             WHERE workspace_id = $1 AND mode = $2 AND key = $3 FOR UPDATE",
        )
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(key)
        .fetch_one(&mut *tx)
        .await?;
        let outcome = if row.int("created_at")? <= now.as_millis() - ttl_ms {
            // Expired: the key starts a new life with this request.
            sqlx::query(
                "UPDATE idempotency_keys SET request_hash = $4, status_code = NULL, response_body = NULL, \
                 created_at = $5 WHERE workspace_id = $1 AND mode = $2 AND key = $3",
            )
            .bind(tenant.workspace_id.as_str())
            .bind(tenant.mode.as_str())
            .bind(key)
            .bind(request_hash)
            .bind(now.as_millis())
            .execute(&mut *tx)
            .await?;
            IdempotencyBegin::Started
        } else if row.text("request_hash")? != request_hash {
            IdempotencyBegin::Conflict
        } else {
            match row.opt_int("status_code")? {
                None => IdempotencyBegin::InProgress,
                Some(status) => IdempotencyBegin::Replay {
                    status: u16::try_from(status).unwrap_or(500),
                    body: row.opt_text("response_body")?.unwrap_or_default(),
                },
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn idempotency_finish(
        &self,
        tenant: &Tenant,
        key: &str,
        status: u16,
        body: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE idempotency_keys SET status_code = $4, response_body = $5 \
             WHERE workspace_id = $1 AND mode = $2 AND key = $3",
        )
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(key)
        .bind(i64::from(status))
        .bind(body)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn idempotency_abandon(&self, tenant: &Tenant, key: &str) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE workspace_id = $1 AND mode = $2 AND key = $3 AND status_code IS NULL",
        )
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn purge_idempotency_keys(&self, before: Timestamp) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(before.as_millis())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
