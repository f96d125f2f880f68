//! The storage contract of idempotency keys, scoped by tenant (implemented in
//! `sqlite/idempotency.rs` and `postgres/idempotency.rs`).

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;

/// What `idempotency_begin` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// No live record: this request runs, and must later `finish` or `abandon`.
    Started,
    /// The same key and body completed before: replay this answer (`body` as given to
    /// `idempotency_finish`; the API stores it sealed, since it may carry a secret).
    Replay { status: u16, body: String },
    /// The same key was used with a different request.
    Conflict,
    /// The first request with this key is still running.
    InProgress,
}

/// Idempotency keys, scoped by tenant.
#[async_trait]
pub trait IdempotencyStore: Send + Sync + 'static {
    async fn idempotency_begin(
        &self,
        tenant: &Tenant,
        key: &str,
        request_hash: &str,
        now: Timestamp,
        ttl_ms: i64,
    ) -> StoreResult<IdempotencyBegin>;
    async fn idempotency_finish(
        &self,
        tenant: &Tenant,
        key: &str,
        status: u16,
        body: &str,
    ) -> StoreResult<()>;
    /// Forgets a started key whose request failed on our side, so the client may retry it.
    async fn idempotency_abandon(&self, tenant: &Tenant, key: &str) -> StoreResult<()>;
    /// Deletes idempotency records older than `before`.
    async fn purge_idempotency_keys(&self, before: Timestamp) -> StoreResult<u64>;
}
