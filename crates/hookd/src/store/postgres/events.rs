//! Publishing (fan-out), events and delivery listings on PostgreSQL.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::PgConnection;

use super::PostgresStore;
use crate::domain::ids::{DeliveryId, EndpointId, EventId};
use crate::domain::payload;
use crate::domain::tenant::Tenant;
use crate::store::rows::{self, RowExt, ATTEMPT_COLUMNS, DELIVERY_COLUMNS, EVENT_COLUMNS};
use crate::store::EventStore;
use crate::store::{
    Attempt, Delivery, DeliveryFilter, DeliveryJob, DeliveryStatus, Event, Lease, NewEvent, Page,
    PageRequest, StoreResult,
};
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
        event: &NewEvent,
        lease: &Lease,
    ) -> StoreResult<(Event, Vec<DeliveryJob>)> {
        // Two round trips: the fan-out read, then one statement that stores the event and its
        // deliveries atomically (a data-modifying CTE). An explicit transaction cost five, and
        // round trips, not PostgreSQL's work, bounded the publish rate.
        let endpoints = sqlx::query(
            "SELECT id FROM endpoints WHERE workspace_id = $1 AND mode = $2 AND is_active AND deleted_at IS NULL \
             AND (project_id IS NULL OR project_id = $3) AND events ? $4",
        )
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(&event.project_id)
        .bind(&event.event_type)
        .fetch_all(&self.pool)
        .await?;
        let endpoint_ids = endpoints
            .iter()
            .map(|row| row.text("id").map(EndpointId::from_trusted))
            .collect::<StoreResult<Vec<_>>>()?;
        let created = event.created_at.as_millis();
        let delivery_ids: Vec<DeliveryId> = endpoint_ids
            .iter()
            .map(|_| DeliveryId::generate())
            .collect();
        let ids: Vec<&str> = delivery_ids.iter().map(DeliveryId::as_str).collect();
        let targets: Vec<&str> = endpoint_ids.iter().map(EndpointId::as_str).collect();
        sqlx::query(
            "WITH event AS ( \
               INSERT INTO events (id, workspace_id, mode, type, project_id, data, created_at, delivery_count) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)) \
             INSERT INTO deliveries (id, workspace_id, mode, event_id, endpoint_id, status, attempt_count, \
               next_attempt_at, created_at, updated_at, lease_owner, lease_until) \
             SELECT d, $2, $3, $1, e, 'pending', 0, $7, $7, $7, $11, $12 \
             FROM UNNEST($9::text[], $10::text[]) AS t (d, e)",
        )
        .bind(event.id.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(&event.event_type)
        .bind(&event.project_id)
        .bind(event.data.get())
        .bind(created)
        .bind(endpoint_ids.len() as i64)
        .bind(&ids)
        .bind(&targets)
        .bind(&lease.owner)
        .bind(lease.until.as_millis())
        .execute(&self.pool)
        .await?;
        let body = Arc::new(payload::render(
            &event.id,
            &event.event_type,
            event.created_at,
            event.project_id.as_deref(),
            &event.data,
        ));
        let jobs = delivery_ids
            .into_iter()
            .zip(endpoint_ids)
            .map(|(delivery_id, endpoint_id)| DeliveryJob {
                delivery_id,
                endpoint_id,
                event_id: event.id.clone(),
                attempt_count: 0,
                payload: Arc::clone(&body),
                lease_until: lease.until,
            })
            .collect::<Vec<_>>();
        let stored = Event {
            id: event.id.clone(),
            event_type: event.event_type.clone(),
            project_id: event.project_id.clone(),
            data: event.data.clone(),
            created_at: event.created_at,
            delivery_count: jobs.len() as i64,
        };
        Ok((stored, jobs))
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
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE workspace_id = $1 AND mode = $2 \
             AND ($3::text IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
        ))
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(&page.cursor)
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(rows::event)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::from_rows(items, page.limit))
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
