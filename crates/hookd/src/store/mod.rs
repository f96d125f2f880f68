//! Storage behind traits, with one module per database.
//!
//! [`Store`] is what the API, the delivery engine and the CLI talk to. It is the sum of one
//! trait per resource, each in its own file here, mirrored by a file of the same name in
//! `sqlite/` (the embedded default) and `postgres/` (scale-out), each with its own SQL and
//! migrations. Every method that touches tenant data takes a [`Tenant`], so no query can forget
//! the workspace and mode.
//!
//! The store persists; it does not decide. Rows come back as domain types, attempt results
//! arrive already decided by `domain::delivery::outcome`, ciphertexts stay opaque bytes (the
//! store never sees a plaintext secret), and errors are a backend-neutral [`StoreError`]: no
//! driver type appears in these traits or above them.
//!
//! [`Tenant`]: crate::domain::tenant::Tenant

pub mod deliveries;
pub mod endpoints;
pub mod erasure;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod insights;
pub mod integration_rows;
pub mod integrations;
pub mod page;
pub mod portal;
pub mod postgres;
pub mod rate_limit;
pub mod retention;
pub mod rows;
pub mod sqlite;
pub mod tenancy;

use std::sync::Arc;

pub use deliveries::{
    AttemptWritten, DeliveryContext, DeliveryGauges, DeliveryJob, DeliveryStore, DispatchTarget,
    Lease, PoolGauge, WriteDone,
};
pub use endpoints::{EndpointFilter, EndpointStore, StoredEndpoint};
pub use erasure::ErasureStore;
pub use error::{StoreError, StoreResult};
pub use events::{DeliveryFilter, EventFilter, EventStore};
pub use idempotency::{IdempotencyBegin, IdempotencyStore};
pub use insights::InsightStore;
pub use integrations::{IntegrationFilter, IntegrationStore};
pub use page::{Page, PageRequest};
pub use portal::PortalStore;
pub use rate_limit::SharedRateLimiter;
pub use retention::{EventBatch, PruneCounts, RetentionStore};
pub use tenancy::{AdminStore, ApiKeyRecord, Workspace, WorkspaceDeleted, WorkspaceUsage};

/// Everything a backend provides. Each part is implemented in its own file per backend.
pub trait Store:
    AdminStore
    + EndpointStore
    + IdempotencyStore
    + EventStore
    + DeliveryStore
    + IntegrationStore
    + RetentionStore
    + ErasureStore
    + PortalStore
    + InsightStore
{
}

impl<T> Store for T where
    T: AdminStore
        + EndpointStore
        + IdempotencyStore
        + EventStore
        + DeliveryStore
        + IntegrationStore
        + RetentionStore
        + ErasureStore
        + PortalStore
        + InsightStore
{
}

pub type DynStore = Arc<dyn Store>;
