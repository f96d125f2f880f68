//! The storage contract of the delivery engine: re-queueing, claiming with leases, and
//! persisting attempt results as the domain decided them (implemented in `sqlite/deliveries.rs`
//! and `postgres/deliveries.rs`).

use std::sync::Arc;

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::delivery::outcome::{AttemptRecord, HealthRule};
use crate::domain::delivery::DeliveryStatus;
use crate::domain::ids::{DeliveryId, EndpointId, EventId};
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;

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

/// Where and how to send an endpoint's deliveries.
#[derive(Clone, Debug)]
pub struct DispatchTarget {
    pub url: String,
    pub signing_keys: Vec<u8>,
    pub is_active: bool,
}

/// Told how a write that nobody awaits went ([`DeliveryStore::record_attempt_then`]).
pub type WriteDone = Box<dyn FnOnce(StoreResult<()>) + Send>;

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
    /// Persists an attempt as [`AttemptRecord`] decided it — the attempt, the delivery's next
    /// state, the endpoint's failing streak, and disabling (`410 Gone` at once, or `rule` says
    /// so once a delivery is exhausted) — and releases the delivery's lease. Unless the
    /// delivery was cancelled meanwhile, nothing is written when `record.lease_owner` no longer
    /// holds the lease: another node took the delivery over and its result stands.
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
