//! The storage contract of the delivery engine: re-queueing, claiming with leases, and
//! persisting attempt results as the domain decided them (implemented in `sqlite/deliveries.rs`
//! and `postgres/deliveries.rs`).

use std::sync::Arc;

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::delivery::outcome::{AttemptRecord, HealthRule};
use crate::domain::delivery::DeliveryStatus;
use crate::domain::endpoint::DisabledReason;
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
    /// The publish to link its attempt's trace span to (fresh deliveries, with traces on).
    pub link: Option<crate::telemetry::traces::TraceLink>,
    /// Its event has an ordering key (`domain::ordering`).
    pub ordered: bool,
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
    /// The sealed OAuth2 client credentials; empty when deliveries carry no token.
    pub auth_sealed: Vec<u8>,
}

/// What persisting an attempt's result did besides storing it, for the engine's logs, metrics
/// and operational events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttemptWritten {
    /// `false` when the result was dropped because another node holds the delivery now.
    pub written: bool,
    /// This result disabled the endpoint (it was active until then): `gone` or `failing`.
    /// A second `410 Gone` racing the first finds the endpoint already inactive: `None`.
    pub disabled: Option<DisabledReason>,
    /// Whose delivery it was; read only when the result exhausted the delivery or disabled
    /// the endpoint (rare), so the common result costs no extra query.
    pub context: Option<DeliveryContext>,
}

/// The tenant and event of a delivery whose result is worth telling about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryContext {
    pub tenant: Tenant,
    pub event_id: EventId,
    pub event_type: String,
}

/// Counts for the metrics gauges, read when `/metrics` is scraped.
#[derive(Clone, Debug, Default)]
pub struct DeliveryGauges {
    /// Deliveries with status `pending` (due, scheduled for a retry, or parked).
    pub pending: i64,
    /// Endpoints not deleted and not active.
    pub disabled_endpoints: i64,
    /// When the most overdue pending delivery of an active endpoint became due (`None`: no
    /// pending delivery of an active endpoint). Parked deliveries of disabled endpoints are left
    /// out: they wait for a person, not for the engine.
    pub oldest_due_at: Option<Timestamp>,
    /// The database connection pools: name, open connections, idle connections.
    pub pools: Vec<PoolGauge>,
}

/// One connection pool's state.
#[derive(Clone, Debug)]
pub struct PoolGauge {
    pub name: &'static str,
    pub size: u32,
    pub idle: u32,
}

/// Told how a write that nobody awaits went ([`DeliveryStore::record_attempt_then`]).
pub type WriteDone = Box<dyn FnOnce(StoreResult<AttemptWritten>) + Send>;

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
    /// holds the lease: another node took the delivery over and its result stands. Says what
    /// it did ([`AttemptWritten`]), so the caller can tell about a disabled endpoint.
    async fn record_attempt(
        &self,
        record: &AttemptRecord,
        rule: HealthRule,
        now: Timestamp,
    ) -> StoreResult<AttemptWritten>;
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
    /// Counts for the metrics gauges (see [`DeliveryGauges`]); cheap enough for every scrape.
    async fn gauges(&self) -> StoreResult<DeliveryGauges>;
}
