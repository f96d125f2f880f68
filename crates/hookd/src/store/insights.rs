//! The storage contract of what the dashboard summarises about endpoints (implemented in
//! `sqlite/insights.rs` and `postgres/insights.rs`): raw samples and counts, read through the
//! `(endpoint_id, id)` index of deliveries, whose ids sort by creation time. The counting rules
//! are `domain::insights`.

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::ids::EndpointId;
use crate::domain::insights::{DeliverySample, EndpointSummary};
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;

#[async_trait]
pub trait InsightStore: Send + Sync + 'static {
    /// The endpoint's deliveries created at or after `since`, newest first, at most `limit`.
    async fn delivery_samples(
        &self,
        tenant: &Tenant,
        endpoint: &EndpointId,
        since: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<DeliverySample>>;
    /// The endpoint's deliveries since `since` that succeeded and failed, and its latest
    /// delivery (of any age).
    async fn endpoint_summary(
        &self,
        tenant: &Tenant,
        endpoint: &EndpointId,
        since: Timestamp,
    ) -> StoreResult<EndpointSummary>;
}
