//! Publishing (fan-out), events and delivery listings on PostgreSQL.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::PgConnection;

use super::PostgresStore;
use crate::domain::delivery::{Attempt, Delivery, DeliveryStatus};
use crate::domain::event::{Event, NewEvent};
use crate::domain::ids::{DeliveryId, EndpointId, EventId};
use crate::domain::payload;
use crate::domain::tenant::Tenant;
use crate::store::rows::{self, ATTEMPT_COLUMNS, DELIVERY_COLUMNS, EVENT_COLUMNS};
use crate::store::EventStore;
use crate::store::{DeliveryFilter, DeliveryJob, Lease, Page, PageRequest, StoreResult};
use async_trait::async_trait;

/// Renders the payloads of the given events, one shared buffer per event.
pub(super) async fn payloads_for(
    conn: &mut PgConnection,
    event_ids: &[EventId],
) -> StoreResult<HashMap<EventId, Arc<bytes::Bytes>>> {
    let mut ids: Vec<&str> = event_ids.iter().map(EventId::as_str).collect();
    ids.sort_unstable();
    ids.dedup();
    let rows = sqlx::query(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE id = ANY($1)"
    ))
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for row in &rows {
        let e = rows::event(row)?;
        let body = payload::render(
            &e.id,
            &e.event_type,
            e.created_at,
            e.project_id.as_deref(),
            &e.data,
        );
        out.insert(e.id, Arc::new(body));
    }
    Ok(out)
}

#[async_trait]
impl EventStore for PostgresStore {
    async fn publish_event(
        &self,
        tenant: &Tenant,
        event: NewEvent,
        lease: &Lease,
    ) -> StoreResult<(Event, Vec<DeliveryJob>)> {
        self.publisher
            .write((tenant.clone(), event, lease.clone()))
            .await
    }

    async fn get_event(&self, tenant: &Tenant, id: &EventId) -> StoreResult<Option<Event>> {
        sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE id = $1 AND workspace_id = $2 AND mode = $3"
        ))
        .bind(id.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(rows::event)
        .transpose()
    }

    async fn list_events(&self, tenant: &Tenant, page: &PageRequest) -> StoreResult<Page<Event>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE workspace_id = $1 AND mode = $2 \
             AND ($3::text IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
        );
        // Streamed: the page stops reading at its byte budget (see `Page::collect`).
        let rows = sqlx::query(&sql)
            .bind(tenant.workspace_id.as_str())
            .bind(tenant.mode.as_str())
            .bind(&page.cursor)
            .bind(i64::from(page.limit) + 1)
            .fetch(&self.pool);
        Page::collect(rows, page, rows::event, Event::listed_size).await
    }

    async fn get_delivery(
        &self,
        tenant: &Tenant,
        id: &DeliveryId,
    ) -> StoreResult<Option<(Delivery, Vec<Attempt>)>> {
        let Some(row) = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = $1 AND workspace_id = $2 AND mode = $3"
        ))
        .bind(id.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let delivery = rows::delivery(&row)?;
        let attempts = sqlx::query(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE delivery_id = $1 ORDER BY id"
        ))
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rows::attempt)
        .collect::<StoreResult<Vec<_>>>()?;
        Ok(Some((delivery, attempts)))
    }

    async fn list_deliveries_of_event(
        &self,
        tenant: &Tenant,
        id: &EventId,
        page: &PageRequest,
    ) -> StoreResult<Page<Delivery>> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE event_id = $1 AND workspace_id = $2 AND mode = $3 \
             AND ($4::text IS NULL OR id < $4) ORDER BY id DESC LIMIT $5"
        ))
        .bind(id.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(&page.cursor)
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(rows::delivery)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_rows(items, page.limit))
    }

    async fn list_deliveries_of_endpoint(
        &self,
        tenant: &Tenant,
        id: &EndpointId,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Delivery>> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE endpoint_id = $1 AND workspace_id = $2 AND mode = $3 \
             AND ($4::text IS NULL OR status = $4) AND ($5::text IS NULL OR id < $5) ORDER BY id DESC LIMIT $6"
        ))
        .bind(id.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(filter.status.map(DeliveryStatus::as_str))
        .bind(&page.cursor)
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(rows::delivery)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_rows(items, page.limit))
    }
}
