//! The storage contract of events and what the API shows of their deliveries, scoped by tenant
//! (implemented in `sqlite/events.rs` and `postgres/events.rs`).

use async_trait::async_trait;

use super::deliveries::{DeliveryJob, Lease};
use super::{Page, PageRequest, StoreResult};
use crate::domain::delivery::{Attempt, Delivery, DeliveryStatus};
use crate::domain::event::{Event, NewEvent};
use crate::domain::ids::{DeliveryId, EndpointId, EventId};
use crate::domain::tenant::Tenant;

#[derive(Clone, Debug, Default)]
pub struct DeliveryFilter {
    pub status: Option<DeliveryStatus>,
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
