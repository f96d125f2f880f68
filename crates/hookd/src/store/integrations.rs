//! The storage contract of custom webhook integrations and their call log (implemented in
//! `sqlite/integrations.rs` and `postgres/integrations.rs`, rows mapped by `integration_rows.rs`).

use async_trait::async_trait;

use super::{Page, PageRequest, StoreResult};
use crate::domain::ids::IntegrationId;
use crate::domain::integration::{
    Integration, IntegrationCall, IntegrationPatch, StoredIntegration,
};
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;

/// Filters of `GET /v1/integrations`.
#[derive(Clone, Debug, Default)]
pub struct IntegrationFilter {
    /// Exact name, compared case-insensitively.
    pub name: Option<String>,
    /// Also list disconnected integrations (lets a caller tell "disconnected" from "unknown").
    pub include_disconnected: bool,
}

/// Integrations and their call log, scoped by tenant.
#[async_trait]
pub trait IntegrationStore: Send + Sync + 'static {
    /// Inserts a new integration; `Conflict` when a connected one of the tenant has the same
    /// name, ignoring case.
    async fn insert_integration(
        &self,
        tenant: &Tenant,
        integration: &StoredIntegration,
    ) -> StoreResult<()>;
    /// One integration, disconnected ones included (so the API can tell 410 from 404).
    async fn find_integration(
        &self,
        tenant: &Tenant,
        id: &IntegrationId,
    ) -> StoreResult<Option<StoredIntegration>>;
    /// Integrations, newest first: connected ones, and disconnected ones too if the filter says so.
    async fn list_integrations(
        &self,
        tenant: &Tenant,
        filter: &IntegrationFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Integration>>;
    /// Applies a validated patch to a connected integration; `None` when there is none with
    /// that id; `Conflict` on a duplicate name.
    async fn update_integration(
        &self,
        tenant: &Tenant,
        id: &IntegrationId,
        patch: &IntegrationPatch,
        now: Timestamp,
    ) -> StoreResult<Option<Integration>>;
    /// Disconnects (soft-deletes) an integration; false when no connected one has that id.
    async fn disconnect_integration(
        &self,
        tenant: &Tenant,
        id: &IntegrationId,
        now: Timestamp,
    ) -> StoreResult<bool>;
    async fn insert_integration_call(
        &self,
        tenant: &Tenant,
        call: &IntegrationCall,
    ) -> StoreResult<()>;
    /// An integration's call log, newest first.
    async fn list_integration_calls(
        &self,
        tenant: &Tenant,
        id: &IntegrationId,
        page: &PageRequest,
    ) -> StoreResult<Page<IntegrationCall>>;
}
