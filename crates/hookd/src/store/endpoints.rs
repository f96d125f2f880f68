//! The storage contract of webhook endpoints, scoped by tenant (implemented in
//! `sqlite/endpoints.rs` and `postgres/endpoints.rs`).

use async_trait::async_trait;

use super::{Page, PageRequest, StoreResult};
use crate::domain::endpoint::{Endpoint, EndpointPatch};
use crate::domain::ids::EndpointId;
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::store::integration_rows::to_json;

/// An endpoint with its sealed signing keys and sealed auth.
#[derive(Clone, Debug)]
pub struct StoredEndpoint {
    pub endpoint: Endpoint,
    pub signing_keys: Vec<u8>,
    /// The sealed `ClientCredentials` of `endpoint.auth`; empty when it has none.
    pub auth_sealed: Vec<u8>,
}

#[derive(Clone, Debug, Default)]
pub struct EndpointFilter {
    pub project_id: Option<String>,
    pub is_active: Option<bool>,
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

/// The sealed auth a patch sets, for the backends' `CASE WHEN` update (empty when it removes it).
pub fn auth_sealed(patch: &EndpointPatch) -> Vec<u8> {
    patch
        .auth
        .as_ref()
        .and_then(|a| a.as_ref().map(|s| s.sealed.clone()))
        .unwrap_or_default()
}

/// The auth view a patch sets (`None` when it removes it).
pub fn auth_public(patch: &EndpointPatch) -> Option<String> {
    patch
        .auth
        .as_ref()
        .and_then(|a| a.as_ref().map(|s| to_json(&s.view)))
}
