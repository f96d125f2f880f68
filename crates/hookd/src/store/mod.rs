//! Storage behind one trait, with one module per database.
//!
//! [`Store`] is what the API, the delivery engine and the CLI talk to. `sqlite` (the embedded
//! default) and `postgres` (scale-out) implement it, each with its own SQL and migrations. Every
//! method that touches tenant data takes a [`Tenant`], so no query can forget the workspace and
//! mode. Rows come back as domain types; ciphertexts stay opaque bytes (the store never sees a
//! plaintext secret).

pub mod postgres;
pub mod rows;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::endpoint::{Endpoint, EndpointPatch};
use crate::domain::ids::{ApiKeyId, AttemptId, DeliveryId, EndpointId, EventId, WorkspaceId};
use crate::domain::tenant::{Mode, Tenant};
use crate::domain::time::Timestamp;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A statement of the SQLite writer thread failed.
    #[error("database error")]
    Sqlite(#[from] rusqlite::Error),
    /// A whole SQLite group commit failed; every request in the batch sees the same cause.
    #[error("group commit failed")]
    Commit(#[source] Arc<rusqlite::Error>),
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
            StoreError::Sqlite(e) => return sqlite_unavailable(e),
            StoreError::Commit(e) => return sqlite_unavailable(e),
            StoreError::WriterGone => return true,
            _ => return false,
        };
        match sqlx_err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
            // A server that is shutting down ends the statements in flight with an error of its
            // own rather than a dropped socket.
            sqlx::Error::Database(db) => db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some_and(|pg| is_connection_lost(pg.code())),
            _ => false,
        }
    }
}

/// SQLite failures that mean the file cannot be written right now (another process holds the
/// lock past the busy timeout, the disk or file is unusable), not that the request was wrong.
fn sqlite_unavailable(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode;
    matches!(
        e.sqlite_error_code(),
        Some(
            ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::CannotOpen
                | ErrorCode::SystemIoFailure
                | ErrorCode::DiskFull
        )
    )
}

/// PostgreSQL SQLSTATEs meaning the server went away or is not taking connections: the
/// connection exception class (08…), and admin shutdown, crash shutdown, cannot connect now.
fn is_connection_lost(sqlstate: &str) -> bool {
    sqlstate.starts_with("08") || matches!(sqlstate, "57P01" | "57P02" | "57P03")
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
    /// The same key and body completed before: replay this answer (`body` as given to
    /// `idempotency_finish`; the API stores it sealed, since it may carry a secret).
    Replay { status: u16, body: String },
    /// The same key was used with a different request.
    Conflict,
    /// The first request with this key is still running.
    InProgress,
}

/// An event as stored and shown (`Event`).
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: EventId,
    #[serde(rename = "type")]
    pub event_type: String,
    pub project_id: Option<String>,
    /// The JSON object as published.
    #[schema(value_type = Object)]
    pub data: Box<serde_json::value::RawValue>,
    pub created_at: Timestamp,
    /// How many endpoints the event was fanned out to.
    pub delivery_count: i64,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
    Cancelled,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pending" => Some(Self::Pending),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

/// One event's delivery to one endpoint (`Delivery`).
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub id: DeliveryId,
    pub event_id: EventId,
    pub endpoint_id: EndpointId,
    pub status: DeliveryStatus,
    pub attempt_count: i64,
    pub next_attempt_at: Option<Timestamp>,
    pub last_status_code: Option<i64>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One HTTP attempt (`Attempt`).
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub id: AttemptId,
    pub started_at: Timestamp,
    pub duration_ms: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    /// The first 4 KiB of the response body.
    pub response_body: String,
}

/// A delivery handed to the dispatcher: everything needed to attempt it.
#[derive(Clone, Debug)]
pub struct DeliveryJob {
    pub delivery_id: DeliveryId,
    pub endpoint_id: EndpointId,
    pub event_id: EventId,
    /// Attempts made before this one.
    pub attempt_count: i64,
    /// The exact request body, shared by every delivery of the event.
    pub payload: Arc<bytes::Bytes>,
    /// Until when this node holds the delivery; past it, another node may have taken it over.
    pub lease_until: Timestamp,
}

/// A claim on deliveries: which node holds them in memory, and until when.
#[derive(Clone, Debug)]
pub struct Lease {
    pub owner: String,
    pub until: Timestamp,
}

/// A validated event to publish.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub id: EventId,
    pub event_type: String,
    pub project_id: Option<String>,
    pub data: Box<serde_json::value::RawValue>,
    pub created_at: Timestamp,
}

impl NewEvent {
    /// The event as stored, once fanned out to `delivery_count` endpoints.
    pub fn stored(&self, delivery_count: usize) -> Event {
        Event {
            id: self.id.clone(),
            event_type: self.event_type.clone(),
            project_id: self.project_id.clone(),
            data: self.data.clone(),
            created_at: self.created_at,
            delivery_count: delivery_count as i64,
        }
    }

    /// The delivery body every delivery of this event sends, rendered once.
    pub fn payload(&self) -> bytes::Bytes {
        crate::domain::payload::render(
            &self.id,
            &self.event_type,
            self.created_at,
            self.project_id.as_deref(),
            &self.data,
        )
    }
}

/// Where and how to send an endpoint's deliveries.
#[derive(Clone, Debug)]
pub struct DispatchTarget {
    pub url: String,
    pub signing_keys: Vec<u8>,
    pub is_active: bool,
}

/// The outcome of one attempt, with the delivery's next state decided by the retry policy.
#[derive(Clone, Debug)]
pub struct AttemptRecord {
    pub delivery_id: DeliveryId,
    pub endpoint_id: EndpointId,
    pub attempt: Attempt,
    pub succeeded: bool,
    /// `Some` when another attempt is scheduled; `None` with `succeeded == false` means exhausted.
    pub next_attempt_at: Option<Timestamp>,
    /// The endpoint answered 410 Gone: disable it at once.
    pub endpoint_gone: bool,
}

/// Told how a write that nobody awaits went ([`DeliveryStore::record_attempt_then`]).
pub type WriteDone = Box<dyn FnOnce(StoreResult<()>) + Send>;

/// Auto-disable thresholds, applied when a delivery is exhausted.
#[derive(Clone, Copy, Debug)]
pub struct HealthRule {
    pub failing_for_ms: i64,
    pub min_exhausted: i64,
}

#[derive(Clone, Debug, Default)]
pub struct DeliveryFilter {
    pub status: Option<DeliveryStatus>,
}

/// Workspaces, API keys and request admission: administrative, not tenant-scoped.
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

/// Webhook endpoints, scoped by tenant.
#[async_trait]
pub trait EndpointStore: Send + Sync + 'static {
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

/// Events and what the API shows of their deliveries, scoped by tenant.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Stores the event and one pending delivery per matching active endpoint, leased to the
    /// publishing node, in one durable commit; returns the jobs to dispatch right away.
    async fn publish_event(
        &self,
        tenant: &Tenant,
        event: NewEvent,
        lease: &Lease,
    ) -> StoreResult<(Event, Vec<DeliveryJob>)>;
    async fn get_event(&self, tenant: &Tenant, id: &EventId) -> StoreResult<Option<Event>>;
    async fn list_events(&self, tenant: &Tenant, page: &PageRequest) -> StoreResult<Page<Event>>;
    async fn get_delivery(
        &self,
        tenant: &Tenant,
        id: &DeliveryId,
    ) -> StoreResult<Option<(Delivery, Vec<Attempt>)>>;
    async fn list_deliveries_of_event(
        &self,
        tenant: &Tenant,
        id: &EventId,
        page: &PageRequest,
    ) -> StoreResult<Page<Delivery>>;
    async fn list_deliveries_of_endpoint(
        &self,
        tenant: &Tenant,
        id: &EndpointId,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Delivery>>;
}

/// The delivery engine's side: re-queueing, claiming, recording attempts, leases.
#[async_trait]
pub trait DeliveryStore: Send + Sync + 'static {
    /// Makes a delivery pending and due now, leased to the caller; its job, or `None` if absent
    /// (or its endpoint is deleted).
    async fn requeue_delivery(
        &self,
        tenant: &Tenant,
        id: &DeliveryId,
        lease: &Lease,
        now: Timestamp,
    ) -> StoreResult<Option<DeliveryJob>>;
    /// Makes an endpoint's deliveries with `status` created since `since` pending and due now.
    async fn requeue_endpoint_deliveries(
        &self,
        tenant: &Tenant,
        id: &EndpointId,
        since: Timestamp,
        status: DeliveryStatus,
        now: Timestamp,
    ) -> StoreResult<u64>;

    // Not tenant-scoped below: a job already belongs to its tenant.
    /// Leases up to `limit` pending deliveries that are due, of active endpoints, not leased by
    /// a living node.
    async fn claim_due(
        &self,
        now: Timestamp,
        limit: u32,
        lease: &Lease,
    ) -> StoreResult<Vec<DeliveryJob>>;
    async fn dispatch_target(
        &self,
        endpoint_id: &EndpointId,
    ) -> StoreResult<Option<DispatchTarget>>;
    /// Writes an attempt and the delivery's next state, releases its lease and updates the
    /// endpoint's health (410 and auto-disable).
    async fn record_attempt(
        &self,
        record: &AttemptRecord,
        rule: HealthRule,
        now: Timestamp,
    ) -> StoreResult<()>;
    /// Like [`DeliveryStore::record_attempt`], without waiting for the write: returns at once,
    /// and `done` learns the outcome when the result is durable (or could not be written). The
    /// delivery engine uses it so that an attempt's task goes on to its endpoint's next job
    /// instead of sleeping through a commit. `done` may run on the store's own writer thread:
    /// it must be quick and must not block. By default a task awaits `record_attempt`.
    fn record_attempt_then(
        self: Arc<Self>,
        record: AttemptRecord,
        rule: HealthRule,
        now: Timestamp,
        done: WriteDone,
    ) {
        tokio::spawn(async move { done(self.record_attempt(&record, rule, now).await) });
    }
    /// Releases one delivery's lease without an attempt (its endpoint is inactive).
    async fn release_delivery(&self, id: &DeliveryId) -> StoreResult<()>;
    /// Releases leases: every lease of `owner`, or with `None` every lease (single-node start).
    async fn release_leases(&self, owner: Option<&str>) -> StoreResult<u64>;
    /// Counts for the metrics gauges: pending deliveries, disabled endpoints.
    async fn gauges(&self) -> StoreResult<(i64, i64)>;
}

/// Everything a backend provides. Each part is implemented in its own file per backend.
pub trait Store:
    AdminStore + EndpointStore + IdempotencyStore + EventStore + DeliveryStore + IntegrationStore
{
}

impl<T> Store for T where
    T: AdminStore
        + EndpointStore
        + IdempotencyStore
        + EventStore
        + DeliveryStore
        + IntegrationStore
{
}

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

pub type DynStore = Arc<dyn Store>;

// --- integrations ---
pub mod integration_rows;
mod integrations;

pub use integrations::{IntegrationFilter, IntegrationStore};
