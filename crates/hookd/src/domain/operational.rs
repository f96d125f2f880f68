//! Operational events: hookd's own events about its delivery work, published into the workspace
//! concerned through the normal publish path when `operational_events` is on, so a team can
//! subscribe an endpoint (a chat bot, a pager) to them like to any other event.
//!
//! - `endpoint.disabled` `{"endpointId", "reason": "gone" | "failing"}`: hookd disabled an
//!   endpoint (never for a manual `isActive: false`, which a person did).
//! - `delivery.exhausted` `{"deliveryId", "eventId", "endpointId", "lastStatusCode"}`: a delivery
//!   failed for good.
//!
//! **Loop guard**: the exhaustion of a delivery *of an operational event* emits no further
//! operational event. Otherwise an endpoint subscribed to `delivery.exhausted` that always
//! fails would exhaust the delivery telling about its own exhaustion, and so on forever. It is
//! still logged and counted. `endpoint.disabled` needs no guard: an endpoint is disabled once
//! until a person re-activates it, so the events it causes are bounded by the endpoints.
//!
//! Clients cannot publish these types (they are hookd's to say); they appear in the catalog,
//! and so in `GET /v1/event-types`, only when the feature is on.

use serde_json::json;
use serde_json::value::RawValue;

use super::endpoint::DisabledReason;
use super::event::NewEvent;
use super::ids::{DeliveryId, EndpointId, EventId};
use super::time::Timestamp;

pub const ENDPOINT_DISABLED: &str = "endpoint.disabled";
pub const DELIVERY_EXHAUSTED: &str = "delivery.exhausted";

/// The operational types with their catalog descriptions.
pub const TYPES: &[(&str, &str)] = &[
    (
        ENDPOINT_DISABLED,
        "hookd disabled a webhook endpoint (reason gone: it answered 410; failing: it failed for the auto-disable window).",
    ),
    (
        DELIVERY_EXHAUSTED,
        "A delivery failed for good: its retry schedule is used up.",
    ),
];

pub fn is_operational(event_type: &str) -> bool {
    TYPES.iter().any(|(name, _)| *name == event_type)
}

/// Whether exhausting a delivery of `event_type` emits `delivery.exhausted` (the loop guard in
/// the module docs).
pub fn reports_exhaustion_of(event_type: &str) -> bool {
    !is_operational(event_type)
}

/// The `endpoint.disabled` event for `endpoint`, disabled for `reason`.
pub fn endpoint_disabled(endpoint: &EndpointId, reason: DisabledReason) -> NewEvent {
    new_event(
        ENDPOINT_DISABLED,
        &json!({"endpointId": endpoint.as_str(), "reason": reason.as_str()}),
    )
}

/// The `delivery.exhausted` event for a delivery whose last attempt answered `last_status_code`
/// (`None`: no answer).
pub fn delivery_exhausted(
    delivery: &DeliveryId,
    event: &EventId,
    endpoint: &EndpointId,
    last_status_code: Option<i64>,
) -> NewEvent {
    new_event(
        DELIVERY_EXHAUSTED,
        &json!({
            "deliveryId": delivery.as_str(),
            "eventId": event.as_str(),
            "endpointId": endpoint.as_str(),
            "lastStatusCode": last_status_code,
        }),
    )
}

fn new_event(event_type: &str, data: &serde_json::Value) -> NewEvent {
    let data = RawValue::from_string(data.to_string()).expect("a JSON value is valid JSON");
    NewEvent {
        id: EventId::generate(),
        event_type: event_type.to_string(),
        project_id: None,
        data,
        created_at: Timestamp::now(),
        ordering_key: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operational_exhaustions_do_not_report_themselves() {
        assert!(reports_exhaustion_of("post.created"));
        assert!(!reports_exhaustion_of(DELIVERY_EXHAUSTED));
        assert!(!reports_exhaustion_of(ENDPOINT_DISABLED));
    }

    #[test]
    fn payloads_have_the_documented_fields() {
        let endpoint = EndpointId::generate();
        let event = endpoint_disabled(&endpoint, DisabledReason::Gone);
        let data: serde_json::Value = serde_json::from_str(event.data.get()).unwrap();
        assert_eq!(
            data,
            json!({"endpointId": endpoint.as_str(), "reason": "gone"})
        );
        let exhausted = delivery_exhausted(
            &DeliveryId::generate(),
            &EventId::generate(),
            &endpoint,
            None,
        );
        let data: serde_json::Value = serde_json::from_str(exhausted.data.get()).unwrap();
        assert_eq!(data["lastStatusCode"], serde_json::Value::Null);
        assert_eq!(exhausted.event_type, DELIVERY_EXHAUSTED);
    }
}
