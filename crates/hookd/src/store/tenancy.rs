//! The storage contract of workspaces, API keys and request admission: administrative, not
//! tenant-scoped (implemented in `sqlite/tenancy.rs` and `postgres/tenancy.rs`).

use async_trait::async_trait;

use super::rate_limit::SharedRateLimiter;
use super::StoreResult;
use crate::domain::ids::{ApiKeyId, WorkspaceId};
use crate::domain::tenant::{Mode, Tenant};
use crate::domain::time::Timestamp;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    pub created_at: Timestamp,
}

/// An API key as stored: its hash, never the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub workspace_id: WorkspaceId,
    pub workspace_name: String,
    pub mode: Mode,
    pub key_hash: String,
    pub prefix: String,
    pub last4: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// Workspaces, API keys and request admission.
#[async_trait]
pub trait AdminStore: Send + Sync + 'static {
    /// A cheap round trip, for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;

    async fn create_workspace(&self, name: &str) -> StoreResult<Workspace>;
    async fn find_workspace(&self, name: &str) -> StoreResult<Option<Workspace>>;
    async fn list_workspaces(&self) -> StoreResult<Vec<Workspace>>;
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()>;
    async fn list_api_keys(
        &self,
        workspace: Option<&WorkspaceId>,
    ) -> StoreResult<Vec<ApiKeyRecord>>;
    /// Revokes a key; false when no unrevoked key has that id.
    async fn revoke_api_key(&self, id: &ApiKeyId, now: Timestamp) -> StoreResult<bool>;
    /// The tenant of an unrevoked key with this hash.
    async fn authenticate(&self, key_hash: &str) -> StoreResult<Option<(ApiKeyId, Tenant)>>;

    /// A rate limiter shared by every node on this database, or `None` when the backend serves a
    /// single process (then an in-memory limiter is exact and cheaper).
    fn shared_rate_limiter(&self) -> Option<&dyn SharedRateLimiter> {
        None
    }
}
