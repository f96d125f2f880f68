//! The storage contract of a rate limit whose state lives in the database (implemented in
//! `postgres/rate_limit.rs`; SQLite serves one process, where an in-memory limiter is exact).

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::ids::ApiKeyId;
use crate::domain::time::Timestamp;

/// Rate limiting whose state lives in the database, so N nodes enforce one limit, not N.
#[async_trait]
pub trait SharedRateLimiter: Send + Sync {
    /// Admits one request of `key` under a GCRA with `interval_ms` between requests and a burst
    /// of `burst`; `Err(wait_ms)` when over the limit.
    async fn admit(
        &self,
        key: &ApiKeyId,
        now: Timestamp,
        interval_ms: i64,
        burst: i64,
    ) -> StoreResult<Result<(), i64>>;
}
