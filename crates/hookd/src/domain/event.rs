//! Events: what a host application publishes, as stored and shown (`Event`), and a validated
//! event about to be published (`NewEvent`).

use serde_json::value::RawValue;

use super::ids::EventId;
use super::ordering::OrderingKey;
use super::time::Timestamp;

/// An event as stored and shown (`Event`).
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: EventId,
    #[serde(rename = "type")]
    pub event_type: String,
    pub project_id: Option<String>,
    /// The JSON object as published; `null` once erased.
    #[schema(value_type = Option<Object>)]
    pub data: Box<RawValue>,
    pub created_at: Timestamp,
    /// How many endpoints the event was fanned out to.
    pub delivery_count: i64,
    /// True once the event's data and its attempts' response bodies were erased
    /// (`DELETE /v1/events/{id}` or `POST /v1/events/erase`).
    pub data_erased: bool,
    /// The ordering key it was published with: its deliveries to each endpoint are made in
    /// publish order with the other events of this key (docs/ordering.md).
    pub ordering_key: Option<String>,
}

/// What an erased event's `data` is stored as. A published event's data is always a JSON
/// object, so JSON `null` can only mean "erased": no column or migration is needed to say so.
pub const ERASED_DATA: &str = "null";

/// A validated event to publish.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub id: EventId,
    pub event_type: String,
    pub project_id: Option<String>,
    pub data: Box<RawValue>,
    pub created_at: Timestamp,
    /// Deliver in publish order with the other events of this key.
    pub ordering_key: Option<OrderingKey>,
}

impl NewEvent {
    /// The event as stored, once fanned out to `delivery_count` endpoints.
    pub fn stored(&self, delivery_count: usize) -> Event {
        Event {
            id: self.id.clone(),
            event_type: self.event_type.clone(),
            project_id: self.project_id.clone(),
            data: self.data.clone(),
            created_at: self.created_at,
            delivery_count: delivery_count as i64,
            data_erased: false,
            ordering_key: self.ordering_key.as_ref().map(|k| k.as_str().to_string()),
        }
    }

    /// The delivery body every delivery of this event sends, rendered once.
    pub fn payload(&self) -> bytes::Bytes {
        super::payload::render(
            &self.id,
            &self.event_type,
            self.created_at,
            self.project_id.as_deref(),
            &self.data,
        )
    }
}
