//! Per-API-key rate limiting shared by every node: one GCRA row per key, updated atomically.

use async_trait::async_trait;

use super::PostgresStore;
use crate::domain::ids::ApiKeyId;
use crate::domain::time::Timestamp;
use crate::store::{SharedRateLimiter, StoreResult};

#[async_trait]
impl SharedRateLimiter for PostgresStore {
    async fn admit(
        &self,
        key: &ApiKeyId,
        now: Timestamp,
        interval_ms: i64,
        burst: i64,
    ) -> StoreResult<Result<(), i64>> {
        // GCRA in one statement: the arrival is admitted when the new theoretical arrival time
        // is within `burst` intervals of now; the row lock serialises a key's concurrent requests.
        let now_ms = now.as_millis();
        let admitted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO rate_limits (key_id, tat) VALUES ($1, $2 + $3) \
             ON CONFLICT (key_id) DO UPDATE SET tat = GREATEST(rate_limits.tat, $2) + $3 \
               WHERE GREATEST(rate_limits.tat, $2) + $3 - $2 <= $4 \
             RETURNING tat",
        )
        .bind(key.as_str())
        .bind(now_ms)
        .bind(interval_ms)
        .bind(interval_ms.saturating_mul(burst))
        .fetch_optional(&self.pool)
        .await?;
        if admitted.is_some() {
            return Ok(Ok(()));
        }
        let tat: i64 = sqlx::query_scalar("SELECT tat FROM rate_limits WHERE key_id = $1")
            .bind(key.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(Err((tat + interval_ms
            - now_ms
            - interval_ms.saturating_mul(burst))
        .max(1)))
    }
}
