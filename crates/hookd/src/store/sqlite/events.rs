//! Publishing (fan-out), events and delivery listings on SQLite.

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::Connection;

use super::{publish, query_opt, SqliteStore};
use crate::domain::delivery::{Attempt, Delivery, DeliveryStatus};
use crate::domain::event::{Event, NewEvent};
use crate::domain::ids::{DeliveryId, EndpointId, EventId};
use crate::domain::payload;
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::store::rows::{self, ATTEMPT_COLUMNS, DELIVERY_COLUMNS, EVENT_COLUMNS};
use crate::store::EventStore;
use crate::store::{
    DeliveryFilter, DeliveryJob, EventFilter, Lease, Page, PageRequest, StoreError, StoreResult,
};
use async_trait::async_trait;

/// Renders the payloads of the given events, one shared buffer per event (on the writer thread).
/// Events are keyed by tenant first, so each is found through the tenant of one of its
/// deliveries (every delivery's event belongs to the delivery's tenant: a foreign key says so).
pub(super) fn payloads_for<'a>(
    conn: &Connection,
    event_ids: impl Iterator<Item = &'a EventId>,
) -> StoreResult<HashMap<EventId, Arc<bytes::Bytes>>> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events \
         WHERE workspace_id = (SELECT workspace_id FROM deliveries WHERE event_id = ?1 LIMIT 1) \
           AND mode = (SELECT mode FROM deliveries WHERE event_id = ?1 LIMIT 1) AND id = ?1"
    );
    let mut out = HashMap::new();
    for id in event_ids {
        if out.contains_key(id) {
            continue;
        }
        let e = query_opt(conn, &sql, [id.as_str()], |row| rows::event(row))?
            .ok_or_else(|| StoreError::Corrupt(format!("delivery of a missing event {id}")))?;
        out.insert(
            id.clone(),
            Arc::new(payload::render(
                &e.id,
                &e.event_type,
                e.created_at,
                e.project_id.as_deref(),
                &e.data,
            )),
        );
    }
    Ok(out)
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn publish_event(
        &self,
        tenant: &Tenant,
        event: NewEvent,
        lease: &Lease,
    ) -> StoreResult<(Event, Vec<DeliveryJob>)> {
        let payload = Arc::new(event.payload());
        let (tenant, lease) = (tenant.clone(), lease.clone());
        self.writer
            .write(move |conn| publish::publish(conn, &tenant, &event, &lease, &payload))
            .await
    }

    async fn get_event(&self, tenant: &Tenant, id: &EventId) -> StoreResult<Option<Event>> {
        sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE id = ?1 AND workspace_id = ?2 AND mode = ?3"
        ))
        .bind(id.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .fetch_optional(&self.readers)
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
            "SELECT {EVENT_COLUMNS} FROM events \
             WHERE workspace_id = ?1 AND mode = ?2 AND is_test = 0 AND (?3 IS NULL OR type = ?3) \
               AND (?4 IS NULL OR id < ?4) AND (?6 IS NULL OR project_id = ?6) \
             ORDER BY id DESC LIMIT ?5"
        );
        // Streamed: the page stops reading at its byte budget (see `Page::collect`).
        let rows = sqlx::query(&sql)
            .bind(tenant.workspace_id.as_str())
            .bind(tenant.mode.as_str())
            .bind(&filter.event_type)
            .bind(&page.cursor)
            .bind(i64::from(page.limit) + 1)
            .bind(&filter.project_id)
            .fetch(&self.readers);
        Page::collect(rows, page, rows::event, Event::listed_size).await
    }

    async fn get_delivery(
        &self,
        tenant: &Tenant,
        id: &DeliveryId,
    ) -> StoreResult<Option<(Delivery, Vec<Attempt>)>> {
        let Some(row) = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = ?1 AND workspace_id = ?2 AND mode = ?3"
        ))
        .bind(id.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .fetch_optional(&self.readers)
        .await?
        else {
            return Ok(None);
        };
        let delivery = rows::delivery(&row)?;
        let attempts = sqlx::query(&format!(
            "SELECT * FROM (SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE delivery_id = ?1 \
             ORDER BY id DESC LIMIT ?2) AS latest ORDER BY id"
        ))
        .bind(id.as_str())
        .bind(crate::domain::delivery::ATTEMPTS_SHOWN)
        .fetch_all(&self.readers)
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
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE event_id = ?1 AND workspace_id = ?2 AND mode = ?3 \
             AND (?4 IS NULL OR id < ?4) ORDER BY id DESC LIMIT ?5"
        ))
        .bind(id.as_str())
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(&page.cursor)
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.readers)
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
        // The event type is the event's; events are keyed by tenant first, so the lookup per
        // delivery is a primary-key probe.
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE workspace_id = ?1 AND mode = ?2 \
               AND (?3 IS NULL OR status = ?3) AND (?4 IS NULL OR endpoint_id = ?4) \
               AND (?5 IS NULL OR EXISTS (SELECT 1 FROM events e WHERE e.workspace_id = deliveries.workspace_id \
                    AND e.mode = deliveries.mode AND e.id = deliveries.event_id AND e.type = ?5)) \
               AND (?6 IS NULL OR created_at >= ?6) AND (?7 IS NULL OR id < ?7) \
             ORDER BY id DESC LIMIT ?8"
        ))
        .bind(tenant.workspace_id.as_str())
        .bind(tenant.mode.as_str())
        .bind(filter.status.map(DeliveryStatus::as_str))
        .bind(filter.endpoint_id.as_ref().map(EndpointId::as_str))
        .bind(&filter.event_type)
        .bind(filter.since.map(Timestamp::as_millis))
        .bind(&page.cursor)
        .bind(i64::from(page.limit) + 1)
        .fetch_all(&self.readers)
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
        let (tenant, event, delivery, attempt) = (
            tenant.clone(),
            event.clone(),
            delivery.clone(),
            attempt.clone(),
        );
        self.writer
            .write(move |conn| {
                publish::record_test_send(conn, &tenant, &event, &delivery, &attempt)
            })
            .await
    }
}
