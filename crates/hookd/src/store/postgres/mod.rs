//! The PostgreSQL backend, for running any number of `hookd serve` processes on one database.
//!
//! Each write is its own transaction on a pooled connection; PostgreSQL already group-commits
//! concurrent transactions' WAL flushes, so no writer task is needed here. Work is shared through
//! leases: pollers claim due deliveries with `FOR UPDATE SKIP LOCKED`, so two nodes never claim
//! the same row, and a dead node's leases simply expire. Migrations run under sqlx's advisory
//! lock, so nodes starting together apply them once.

mod deliveries;
mod endpoints;
mod events;
mod idempotency;
mod integrations;
mod tenancy;

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use crate::domain::endpoint::{Endpoint, EndpointPatch};
use crate::domain::ids::{ApiKeyId, DeliveryId, EndpointId, EventId, WorkspaceId};
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::store::{
    ApiKeyRecord, Attempt, AttemptRecord, Delivery, DeliveryFilter, DeliveryJob, DeliveryStatus,
    DispatchTarget, EndpointFilter, Event, HealthRule, IdempotencyBegin, Lease, NewEvent, Page,
    PageRequest, SharedRateLimiter, Store, StoreError, StoreResult, StoredEndpoint, Workspace,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a request waits for a pooled connection before answering 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects, and applies migrations under an advisory lock (safe with nodes starting together).
    pub async fn open(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await
            .context("connecting to PostgreSQL (HOOKD_DATABASE_URL)")?;
        MIGRATOR
            .run(&pool)
            .await
            .context("migrating the PostgreSQL database")?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Maps a unique-constraint failure to `Conflict(what)`, anything else to a database error.
pub(super) fn conflict_or(e: sqlx::Error, what: &'static str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Database(e),
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create_workspace(&self, name: &str) -> StoreResult<Workspace> {
        self.create_workspace_impl(name).await
    }
    async fn find_workspace(&self, name: &str) -> StoreResult<Option<Workspace>> {
        self.find_workspace_impl(name).await
    }
    async fn list_workspaces(&self) -> StoreResult<Vec<Workspace>> {
        self.list_workspaces_impl().await
    }
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> StoreResult<()> {
        self.insert_api_key_impl(key).await
    }
    async fn list_api_keys(
        &self,
        workspace: Option<&WorkspaceId>,
    ) -> StoreResult<Vec<ApiKeyRecord>> {
        self.list_api_keys_impl(workspace).await
    }
    async fn revoke_api_key(&self, id: &ApiKeyId, now: Timestamp) -> StoreResult<bool> {
        self.revoke_api_key_impl(id, now).await
    }
    async fn authenticate(&self, key_hash: &str) -> StoreResult<Option<(ApiKeyId, Tenant)>> {
        self.authenticate_impl(key_hash).await
    }

    async fn insert_endpoint(&self, tenant: &Tenant, endpoint: &StoredEndpoint) -> StoreResult<()> {
        self.insert_endpoint_impl(tenant, endpoint).await
    }
    async fn get_endpoint(
        &self,
        tenant: &Tenant,
        id: &EndpointId,
    ) -> StoreResult<Option<StoredEndpoint>> {
        self.get_endpoint_impl(tenant, id).await
    }
    async fn list_endpoints(
        &self,
        tenant: &Tenant,
        filter: &EndpointFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Endpoint>> {
        self.list_endpoints_impl(tenant, filter, page).await
    }
    async fn update_endpoint(
        &self,
        tenant: &Tenant,
        id: &EndpointId,
        patch: &EndpointPatch,
        now: Timestamp,
    ) -> StoreResult<Option<Endpoint>> {
        self.update_endpoint_impl(tenant, id, patch, now).await
    }
    async fn delete_endpoint(
        &self,
        tenant: &Tenant,
        id: &EndpointId,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.delete_endpoint_impl(tenant, id, now).await
    }
    async fn swap_signing_keys(
        &self,
        tenant: &Tenant,
        id: &EndpointId,
        expected: &[u8],
        replacement: &[u8],
        secret_last4: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.swap_signing_keys_impl(tenant, id, expected, replacement, secret_last4, now)
            .await
    }

    async fn idempotency_begin(
        &self,
        tenant: &Tenant,
        key: &str,
        request_hash: &str,
        now: Timestamp,
        ttl_ms: i64,
    ) -> StoreResult<IdempotencyBegin> {
        self.idempotency_begin_impl(tenant, key, request_hash, now, ttl_ms)
            .await
    }
    async fn idempotency_finish(
        &self,
        tenant: &Tenant,
        key: &str,
        status: u16,
        body: &str,
    ) -> StoreResult<()> {
        self.idempotency_finish_impl(tenant, key, status, body)
            .await
    }
    async fn idempotency_abandon(&self, tenant: &Tenant, key: &str) -> StoreResult<()> {
        self.idempotency_abandon_impl(tenant, key).await
    }
    async fn purge_idempotency_keys(&self, before: Timestamp) -> StoreResult<u64> {
        self.purge_idempotency_keys_impl(before).await
    }

    async fn publish_event(
        &self,
        tenant: &Tenant,
        event: &NewEvent,
        lease: &Lease,
    ) -> StoreResult<(Event, Vec<DeliveryJob>)> {
        self.publish_event_impl(tenant, event, lease).await
    }
    async fn get_event(&self, tenant: &Tenant, id: &EventId) -> StoreResult<Option<Event>> {
        self.get_event_impl(tenant, id).await
    }
    async fn list_events(&self, tenant: &Tenant, page: &PageRequest) -> StoreResult<Page<Event>> {
        self.list_events_impl(tenant, page).await
    }
    async fn get_delivery(
        &self,
        tenant: &Tenant,
        id: &DeliveryId,
    ) -> StoreResult<Option<(Delivery, Vec<Attempt>)>> {
        self.get_delivery_impl(tenant, id).await
    }
    async fn list_deliveries_of_event(
        &self,
        tenant: &Tenant,
        id: &EventId,
        page: &PageRequest,
    ) -> StoreResult<Page<Delivery>> {
        self.list_deliveries_of_event_impl(tenant, id, page).await
    }
    async fn list_deliveries_of_endpoint(
        &self,
        tenant: &Tenant,
        id: &EndpointId,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Delivery>> {
        self.list_deliveries_of_endpoint_impl(tenant, id, filter, page)
            .await
    }
    async fn requeue_delivery(
        &self,
        tenant: &Tenant,
        id: &DeliveryId,
        lease: &Lease,
        now: Timestamp,
    ) -> StoreResult<Option<DeliveryJob>> {
        self.requeue_delivery_impl(tenant, id, lease, now).await
    }
    async fn requeue_endpoint_deliveries(
        &self,
        tenant: &Tenant,
        id: &EndpointId,
        since: Timestamp,
        status: DeliveryStatus,
        now: Timestamp,
    ) -> StoreResult<u64> {
        self.requeue_endpoint_deliveries_impl(tenant, id, since, status, now)
            .await
    }
    async fn claim_due(
        &self,
        now: Timestamp,
        limit: u32,
        lease: &Lease,
    ) -> StoreResult<Vec<DeliveryJob>> {
        self.claim_due_impl(now, limit, lease).await
    }
    async fn dispatch_target(
        &self,
        endpoint_id: &EndpointId,
    ) -> StoreResult<Option<DispatchTarget>> {
        self.dispatch_target_impl(endpoint_id).await
    }
    async fn record_attempt(
        &self,
        record: &AttemptRecord,
        rule: HealthRule,
        now: Timestamp,
    ) -> StoreResult<()> {
        self.record_attempt_impl(record, rule, now).await
    }
    async fn release_delivery(&self, id: &DeliveryId) -> StoreResult<()> {
        self.release_delivery_impl(id).await
    }
    async fn release_leases(&self, owner: Option<&str>) -> StoreResult<u64> {
        self.release_leases_impl(owner).await
    }
    async fn gauges(&self) -> StoreResult<(i64, i64)> {
        self.gauges_impl().await
    }
    fn shared_rate_limiter(&self) -> Option<&dyn SharedRateLimiter> {
        Some(self)
    }

    // --- integrations ---
    async fn insert_integration(
        &self,
        tenant: &Tenant,
        integration: &crate::store::StoredIntegration,
    ) -> StoreResult<()> {
        self.insert_integration_impl(tenant, integration).await
    }
    async fn find_integration(
        &self,
        tenant: &Tenant,
        id: &crate::domain::ids::IntegrationId,
    ) -> StoreResult<Option<crate::store::StoredIntegration>> {
        self.find_integration_impl(tenant, id).await
    }
    async fn list_integrations(
        &self,
        tenant: &Tenant,
        filter: &crate::store::IntegrationFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<crate::store::Integration>> {
        self.list_integrations_impl(tenant, filter, page).await
    }
    async fn update_integration(
        &self,
        tenant: &Tenant,
        id: &crate::domain::ids::IntegrationId,
        patch: &crate::store::IntegrationPatch,
        now: Timestamp,
    ) -> StoreResult<Option<crate::store::Integration>> {
        self.update_integration_impl(tenant, id, patch, now).await
    }
    async fn disconnect_integration(
        &self,
        tenant: &Tenant,
        id: &crate::domain::ids::IntegrationId,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.disconnect_integration_impl(tenant, id, now).await
    }
    async fn insert_integration_call(
        &self,
        tenant: &Tenant,
        call: &crate::store::IntegrationCall,
    ) -> StoreResult<()> {
        self.insert_integration_call_impl(tenant, call).await
    }
    async fn list_integration_calls(
        &self,
        tenant: &Tenant,
        id: &crate::domain::ids::IntegrationId,
        page: &PageRequest,
    ) -> StoreResult<Page<crate::store::IntegrationCall>> {
        self.list_integration_calls_impl(tenant, id, page).await
    }
}

#[async_trait]
impl SharedRateLimiter for PostgresStore {
    async fn admit(
        &self,
        key: &ApiKeyId,
        now: Timestamp,
        interval_ms: i64,
        burst: i64,
    ) -> StoreResult<Result<(), i64>> {
        // GCRA in one statement: the arrival is admitted when the new theoretical arrival time
        // is within `burst` intervals of now; the row lock serialises a key's concurrent requests.
        let now_ms = now.as_millis();
        let admitted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO rate_limits (key_id, tat) VALUES ($1, $2 + $3) \
             ON CONFLICT (key_id) DO UPDATE SET tat = GREATEST(rate_limits.tat, $2) + $3 \
               WHERE GREATEST(rate_limits.tat, $2) + $3 - $2 <= $4 \
             RETURNING tat",
        )
        .bind(key.as_str())
        .bind(now_ms)
        .bind(interval_ms)
        .bind(interval_ms.saturating_mul(burst))
        .fetch_optional(&self.pool)
        .await?;
        if admitted.is_some() {
            return Ok(Ok(()));
        }
        let tat: i64 = sqlx::query_scalar("SELECT tat FROM rate_limits WHERE key_id = $1")
            .bind(key.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(Err((tat + interval_ms
            - now_ms
            - interval_ms.saturating_mul(burst))
        .max(1)))
    }
}
