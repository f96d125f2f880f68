//! Deliveries and attempts: one event's delivery to one endpoint, each HTTP attempt of it, and
//! the rules that decide what an attempt's outcome means ([`outcome`]) and when to try again
//! ([`retry`]). The delivery engine makes the attempts; the store persists what these rules
//! decided and decides nothing itself.

pub mod outcome;
pub mod retry;

use super::ids::{AttemptId, DeliveryId, EndpointId, EventId};
use super::time::Timestamp;

/// The attempts a delivery's answer lists at most: its latest, oldest first (`attemptCount`
/// counts them all). Each keeps at most 4 KiB of response body, so one answer stays under about
/// half a megabyte however often a delivery is retried by hand.
pub const ATTEMPTS_SHOWN: i64 = 100;

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
    Cancelled,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pending" => Some(Self::Pending),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

/// One event's delivery to one endpoint (`Delivery`).
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub id: DeliveryId,
    pub event_id: EventId,
    pub endpoint_id: EndpointId,
    pub status: DeliveryStatus,
    pub attempt_count: i64,
    pub next_attempt_at: Option<Timestamp>,
    pub last_status_code: Option<i64>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Its event's ordering key (docs/ordering.md).
    pub ordering_key: Option<String>,
    /// Pending and waiting for this delivery of the same ordering key to the same endpoint to
    /// finish first (its `nextAttemptAt` is then null); null when not held back.
    pub held_behind: Option<DeliveryId>,
    /// `true` for the delivery of a sample event sent by `POST /v1/webhook-endpoints/{id}/test`:
    /// one attempt, made at once, never retried on the schedule.
    pub test: bool,
}

/// One HTTP attempt (`Attempt`).
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub id: AttemptId,
    pub started_at: Timestamp,
    pub duration_ms: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    /// The first 4 KiB of the response body.
    pub response_body: String,
}

impl Delivery {
    /// The delivery a test send leaves in the endpoint's log: one attempt, made at once, and
    /// final whatever it came to (a test is never retried on the schedule).
    pub fn of_test_send(
        event_id: EventId,
        endpoint_id: EndpointId,
        attempt: &Attempt,
        succeeded: bool,
        now: Timestamp,
    ) -> Self {
        Self {
            id: DeliveryId::generate(),
            event_id,
            endpoint_id,
            status: if succeeded {
                DeliveryStatus::Succeeded
            } else {
                DeliveryStatus::Failed
            },
            attempt_count: 1,
            next_attempt_at: None,
            last_status_code: attempt.status_code,
            created_at: attempt.started_at,
            updated_at: now,
            ordering_key: None,
            held_behind: None,
            test: true,
        }
    }
}
