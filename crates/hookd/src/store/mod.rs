//! Storage behind one trait, with one module per database.
//!
//! [`Store`] is what the API, the delivery engine and the CLI talk to. `sqlite` (the embedded
//! default) and `postgres` (scale-out) implement it, each with its own SQL and migrations. Every
//! method that touches tenant data takes a [`Tenant`], so no query can forget the workspace and
//! mode. Rows come back as domain types; ciphertexts stay opaque bytes (the store never sees a
//! plaintext secret).

pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::endpoint::{Endpoint, EndpointPatch};
use crate::domain::ids::{ApiKeyId, EndpointId, WorkspaceId};
use crate::domain::tenant::{Mode, Tenant};
use crate::domain::time::Timestamp;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A whole group commit failed; every request in the batch sees the same cause.
    #[error("group commit failed")]
    Commit(#[source] Arc<sqlx::Error>),
    /// A uniqueness rule was violated (duplicate name, duplicate key).
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("the database writer has stopped")]
    WriterGone,
    #[error("stored row is malformed: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// True when the database could not be reached at all (answer 503, not 500).
    pub fn is_unavailable(&self) -> bool {
        let sqlx_err = match self {
            StoreError::Database(e) => e,
            StoreError::Commit(e) => e.as_ref(),
            StoreError::WriterGone => return true,
            _ => return false,
        };
        matches!(
            sqlx_err,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
        )
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

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

/// An endpoint with its sealed signing keys.
#[derive(Clone, Debug)]
pub struct StoredEndpoint {
    pub endpoint: Endpoint,
    pub signing_keys: Vec<u8>,
}

#[derive(Clone, Debug, Default)]
pub struct EndpointFilter {
    pub project_id: Option<String>,
    pub is_active: Option<bool>,
}

/// Keyset pagination: newest first, `cursor` is the id of the last item already seen.
#[derive(Clone, Debug)]
pub struct PageRequest {
    pub limit: u32,
    pub cursor: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows (the extra row only says there is more).
    pub fn from_rows(mut rows: Vec<T>, limit: u32) -> Self {
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Self {
            items: rows,
            has_more,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            has_more: self.has_more,
        }
    }
}

/// What `idempotency_begin` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// No live record: this request runs, and must later `finish` or `abandon`.
    Started,
    /// The same key and body completed before: replay this answer.
    Replay { status: u16, body: String },
    /// The same key was used with a different request.
    Conflict,
    /// The first request with this key is still running.
    InProgress,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A cheap round trip, for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;

    // --- workspaces and keys (administrative, not tenant-scoped) ---
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

    // --- webhook endpoints ---
    async fn insert_endpoint(&self, tenant: &Tenant, endpoint: &StoredEndpoint) -> StoreResult<()>;
    async fn get_endpoint(
        &self,
        tenant: &Tenant,
        id: &EndpointId,
    ) -> StoreResult<Option<StoredEndpoint>>;
    async fn list_endpoints(
        &self,
        tenant: &Tenant,
        filter: &EndpointFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Endpoint>>;
    /// Applies a validated patch; `None` when the endpoint does not exist for this tenant.
    async fn update_endpoint(
        &self,
        tenant: &Tenant,
        id: &EndpointId,
        patch: &EndpointPatch,
        now: Timestamp,
    ) -> StoreResult<Option<Endpoint>>;
    /// Soft-deletes the endpoint and cancels its pending deliveries; false when absent.
    async fn delete_endpoint(
        &self,
        tenant: &Tenant,
        id: &EndpointId,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// Replaces the sealed signing keys if they are still `expected` (compare-and-swap, so two
    /// concurrent rotations cannot lose a secret that was already shown to a client).
    async fn swap_signing_keys(
        &self,
        tenant: &Tenant,
        id: &EndpointId,
        expected: &[u8],
        replacement: &[u8],
        secret_last4: &str,
        now: Timestamp,
    ) -> StoreResult<bool>;

    // --- idempotency keys ---
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

pub type DynStore = Arc<dyn Store>;
