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
    /// Set by `hookd workspaces delete`; a deleted workspace keeps its row (and name).
    pub deleted_at: Option<Timestamp>,
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
    /// A label for people (`hookd keys create --name`); never used for auth.
    pub name: Option<String>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    /// When it last authenticated a request (to the minute; see `AdminStore::touch_api_key`).
    pub last_used_at: Option<Timestamp>,
}

/// What a workspace holds: what `hookd workspaces delete` names before it acts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkspaceUsage {
    pub active_keys: u64,
    pub endpoints: u64,
    pub pending_deliveries: u64,
    pub events: u64,
    pub integrations: u64,
}

/// What deleting a workspace changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkspaceDeleted {
    pub keys_revoked: u64,
    pub endpoints_deleted: u64,
    pub deliveries_cancelled: u64,
}

/// Workspaces, API keys and request admission.
#[async_trait]
pub trait AdminStore: Send + Sync + 'static {
    /// A cheap round trip, for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;

    async fn create_workspace(&self, name: &str) -> StoreResult<Workspace>;
    async fn find_workspace(&self, name: &str) -> StoreResult<Option<Workspace>>;
    /// Every workspace, deleted ones included (see `Workspace::deleted_at`).
    async fn list_workspaces(&self) -> StoreResult<Vec<Workspace>>;
    async fn workspace_usage(&self, id: &WorkspaceId) -> StoreResult<WorkspaceUsage>;
    /// In one transaction: marks the workspace deleted, revokes its keys, deletes its endpoints
    /// (as `DELETE /v1/webhook-endpoints/{id}` does) and cancels their pending deliveries. Its
    /// events, deliveries, attempts and integration call log stay until retention removes them.
    async fn delete_workspace(
        &self,
        id: &WorkspaceId,
        now: Timestamp,
    ) -> StoreResult<WorkspaceDeleted>;
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()>;
    async fn list_api_keys(
        &self,
        workspace: Option<&WorkspaceId>,
    ) -> StoreResult<Vec<ApiKeyRecord>>;
    /// Revokes a key; false when no unrevoked key has that id.
    async fn revoke_api_key(&self, id: &ApiKeyId, now: Timestamp) -> StoreResult<bool>;
    /// Records that a key was used at `at` (never moving the time backwards). Callers throttle
    /// it (`api::auth::KeyUsage`); it does not change what authentication answers.
    async fn touch_api_key(&self, id: &ApiKeyId, at: Timestamp) -> StoreResult<()>;
    /// The tenant of an unrevoked key with this hash.
    async fn authenticate(&self, key_hash: &str) -> StoreResult<Option<(ApiKeyId, Tenant)>>;

    /// A rate limiter shared by every node on this database, or `None` when the backend serves a
    /// single process (then an in-memory limiter is exact and cheaper).
    fn shared_rate_limiter(&self) -> Option<&dyn SharedRateLimiter> {
        None
    }
}
