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
use crate::domain::time::Timestamp;
use crate::store::rows::{self, ATTEMPT_COLUMNS, DELIVERY_COLUMNS, EVENT_COLUMNS};
use crate::store::EventStore;
use crate::store::{
    DeliveryFilter, DeliveryJob, EventFilter, Lease, Page, PageRequest, StoreResult,
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

    async fn list_events(
        &self,
        tenant: &Tenant,
        filter: &EventFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Event>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE workspace_id = $1 AND mode = $2 \
             AND NOT is_test AND ($3::text IS NULL OR type = $3) \
             AND ($4::text IS NULL OR id < $4) AND ($6::text IS NULL OR project_id = $6) \
             ORDER BY id DESC LIMIT $5"
        );
        // Streamed: the page stops reading at its byte budget (see `Page::collect`).
        let rows = sqlx::query(&sql)
            .bind(tenant.workspace_id.as_str())
            .bind(tenant.mode.as_str())
            .bind(&filter.event_type)
            .bind(&page.cursor)
            .bind(i64::from(page.limit) + 1)
            .bind(&filter.project_id)
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
            "SELECT * FROM (SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE delivery_id = $1 \
             ORDER BY id DESC LIMIT $2) AS latest ORDER BY id"
        ))
        .bind(id.as_str())
        .bind(crate::domain::delivery::ATTEMPTS_SHOWN)
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

    async fn list_deliveries(
        &self,
        tenant: &Tenant,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Delivery>> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE workspace_id = $1 AND mode = $2 \
               AND ($3::text IS NULL OR status = $3) AND ($4::text IS NULL OR endpoint_id = $4) \
               AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM events e WHERE e.id = deliveries.event_id \
                    AND e.workspace_id = deliveries.workspace_id AND e.mode = deliveries.mode AND e.type = $5)) \
               AND ($6::bigint IS NULL OR created_at >= $6) AND ($7::text IS NULL OR id < $7) \
             ORDER BY id DESC LIMIT $8"
        ))
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(filter.status.map(DeliveryStatus::as_str))
        .bind(filter.endpoint_id.as_ref().map(EndpointId::as_str))
        .bind(&filter.event_type)
        .bind(filter.since.map(Timestamp::as_millis))
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

    async fn record_test_send(
        &self,
        tenant: &Tenant,
        event: &NewEvent,
        delivery: &Delivery,
        attempt: &Attempt,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO events (id, workspace_id, mode, type, project_id, data, created_at, delivery_count, is_test) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, TRUE)",
        )
        .bind(event.id.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(&event.event_type)
        .bind(&event.project_id)
        .bind(event.data.get())
        .bind(event.created_at.as_millis())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO deliveries (id, workspace_id, mode, event_id, endpoint_id, status, attempt_count, \
             next_attempt_at, last_status_code, created_at, updated_at, is_test) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9, $10, TRUE)",
        )
        .bind(delivery.id.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(delivery.event_id.as_str())
        .bind(delivery.endpoint_id.as_str())
        .bind(delivery.status.as_str())
        .bind(delivery.attempt_count)
        .bind(delivery.last_status_code)
        .bind(delivery.created_at.as_millis())
        .bind(delivery.updated_at.as_millis())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO attempts (id, delivery_id, started_at, duration_ms, status_code, error, response_body) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(attempt.id.as_str())
        .bind(delivery.id.as_str())
        .bind(attempt.started_at.as_millis())
        .bind(attempt.duration_ms)
        .bind(attempt.status_code)
        .bind(&attempt.error)
        .bind(&attempt.response_body)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
