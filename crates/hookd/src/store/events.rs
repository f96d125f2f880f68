//! The storage contract of events and what the API shows of their deliveries, scoped by tenant
//! (implemented in `sqlite/events.rs` and `postgres/events.rs`).

use async_trait::async_trait;

use super::deliveries::{DeliveryJob, Lease};
use super::{Page, PageRequest, StoreResult};
use crate::domain::delivery::{Attempt, Delivery, DeliveryStatus};
use crate::domain::event::{Event, NewEvent};
use crate::domain::ids::{DeliveryId, EndpointId, EventId};
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;

/// Which of a tenant's deliveries to list; every field set narrows the list.
#[derive(Clone, Debug, Default)]
pub struct DeliveryFilter {
    pub status: Option<DeliveryStatus>,
    pub endpoint_id: Option<EndpointId>,
    /// The type of the delivery's event.
    pub event_type: Option<String>,
    /// Deliveries created at or after this time.
    pub since: Option<Timestamp>,
}

/// Which of a tenant's events to list.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub event_type: Option<String>,
    /// Only events published with this project (the customer portal's scope).
    pub project_id: Option<String>,
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
    async fn list_events(
        &self,
        tenant: &Tenant,
        filter: &EventFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Event>>;
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
    /// The tenant's deliveries, newest first, across endpoints or of the one the filter names.
    async fn list_deliveries(
        &self,
        tenant: &Tenant,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Delivery>>;
    /// Keeps a test send in the endpoint's log, in one commit: the sample `event` (fanned out to
    /// that endpoint alone), its `delivery` (already in its final state, `test` set) and the
    /// one `attempt` made. Nothing of it is ever claimed for a retry on the schedule.
    async fn record_test_send(
        &self,
        tenant: &Tenant,
        event: &NewEvent,
        delivery: &Delivery,
        attempt: &Attempt,
    ) -> StoreResult<()>;
}
