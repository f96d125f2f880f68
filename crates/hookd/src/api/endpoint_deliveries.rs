//! An endpoint's delivery routes: send a test event, list its deliveries, replay failures.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::auth::Authed;
use super::endpoints::{load, TAG};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::pagination::{page_request, Data, List};
use super::AppState;
use crate::delivery::sender::send_signed;
use crate::domain::delivery::{Attempt, Delivery, DeliveryStatus};
use crate::domain::event::NewEvent;
use crate::domain::ids::{DeliveryId, EventId};
use crate::domain::secret::KeyRing;
use crate::domain::time::Timestamp;
use crate::signing::Signer;
use crate::store::DeliveryFilter;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestEvent {
    /// The event type of the sample.
    #[schema(example = "post.created")]
    pub event: String,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// 1–100, default 20.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// `pending`, `succeeded`, `failed` or `cancelled`.
    #[param(value_type = Option<DeliveryStatus>)]
    pub status: Option<String>,
    /// Only deliveries of events of this type (from the event catalog).
    pub event_type: Option<String>,
}

/// The attempt of a test send, and where it is kept: the test delivery (`"test": true`) in the
/// endpoint's delivery log, and its sample event.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestSent {
    #[serde(flatten)]
    pub attempt: Attempt,
    pub delivery_id: DeliveryId,
    pub event_id: EventId,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// Deliveries created at or after this time.
    #[schema(value_type = Timestamp, example = "2026-08-01T00:00:00Z")]
    pub since: Timestamp,
    /// Which deliveries to re-queue: `failed` (default) or `cancelled`.
    #[serde(default)]
    #[schema(value_type = Option<ReplayStatus>)]
    pub status: Option<String>,
}

/// The statuses a replay re-queues (the schema of `Replay.status`; parsed by `replay`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "lowercase")]
pub enum ReplayStatus {
    Failed,
    Cancelled,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Replayed {
    /// How many deliveries were queued again.
    pub requeued: u64,
}

pub(super) fn parse_status(param: &str, raw: &str) -> ApiResult<DeliveryStatus> {
    DeliveryStatus::parse(raw).ok_or_else(|| {
        ApiError::invalid(
            param,
            format!("{param} must be one of pending, succeeded, failed, cancelled."),
        )
    })
}

/// Sends a sample event of the given type to this endpoint only, now, and answers with the
/// attempt. The sample is kept as an event with one delivery marked `"test": true` (final
/// whatever the answer: never retried on the schedule), so the attempt shows in the endpoint's
/// delivery log.
#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/test", tag = TAG, params(("id" = String, Path)), request_body = TestEvent,
    responses((status = 200, description = "The attempt, whatever the endpoint answered, with the ids of the test delivery and its sample event.", body = Data<TestSent>),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn send_test(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<TestEvent>,
) -> ApiResult<Json<Data<TestSent>>> {
    let event_type = state.catalog.parse_type("event", &body.event)?;
    let stored = load(&state, &auth.tenant, &id).await?;
    let ring: KeyRing = state
        .cipher
        .open_json(&stored.signing_keys)
        .map_err(|e| ApiError::Internal(e.into()))?;
    // The stored URL, with its password opened (reads show it masked).
    let target = state
        .store
        .dispatch_target(&stored.endpoint.id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook endpoint", stored.endpoint.id.as_str()))?;
    let url = crate::domain::url_credentials::open(&state.cipher, &target.url)
        .map_err(ApiError::Internal)?;
    let credentials = crate::oauth2::open_endpoint_auth(&state.cipher, &stored.auth_sealed)
        .map_err(|e| ApiError::Internal(e.into()))?;
    let sample = RawValue::from_string(
        r#"{"test":true,"message":"A test event sent from hookd."}"#.to_string(),
    )
    .map_err(|e| ApiError::Internal(e.into()))?;
    let event = NewEvent {
        id: EventId::generate(),
        event_type,
        project_id: stored.endpoint.project_id.clone(),
        data: sample,
        created_at: Timestamp::now(),
        ordering_key: None,
    };
    let egress = state.engine.egress();
    let outcome = send_signed(
        egress,
        &url,
        &Signer::new(&ring),
        event.id.as_str(),
        event.payload(),
        state.engine.timeout(),
        credentials.as_ref().map(|credentials| crate::oauth2::Auth {
            tokens: state.engine.tokens(),
            credentials,
            retry_by: None,
        }),
    )
    .await;
    let delivery = Delivery::of_test_send(
        event.id.clone(),
        stored.endpoint.id.clone(),
        &outcome.attempt,
        outcome.answer.succeeded,
        Timestamp::now(),
    );
    state
        .store
        .record_test_send(&auth.tenant, &event, &delivery, &outcome.attempt)
        .await?;
    Ok(Json(Data {
        data: TestSent {
            attempt: outcome.attempt,
            delivery_id: delivery.id,
            event_id: event.id,
        },
    }))
}

#[utoipa::path(get, path = "/v1/webhook-endpoints/{id}/deliveries", tag = TAG, params(("id" = String, Path), DeliveriesQuery),
    responses((status = 200, body = List<Delivery>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> ApiResult<Json<List<Delivery>>> {
    let page = page_request(q.limit.as_deref(), q.cursor.as_deref(), |c| {
        DeliveryId::parse(c).map(|id| id.to_string())
    })?;
    let mut filter = DeliveryFilter {
        status: q
            .status
            .as_deref()
            .map(|s| parse_status("status", s))
            .transpose()?,
        event_type: q
            .event_type
            .as_deref()
            .map(|t| state.catalog.parse_type("eventType", t))
            .transpose()?,
        ..DeliveryFilter::default()
    };
    let endpoint = load(&state, &auth.tenant, &id).await?.endpoint;
    filter.endpoint_id = Some(endpoint.id);
    let page = state
        .store
        .list_deliveries(&auth.tenant, &filter, &page)
        .await?;
    Ok(Json(List::from_page(page, |d| d.id.to_string())))
}

/// Re-queues this endpoint's deliveries of a status (default `failed`) created since a time;
/// each gets one more attempt now (or when the endpoint is re-activated).
#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/replay", tag = TAG, params(("id" = String, Path)), request_body = Replay,
    responses((status = 202, body = Data<Replayed>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn replay(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Replay>,
) -> ApiResult<(StatusCode, Json<Data<Replayed>>)> {
    let status = match body.status.as_deref() {
        None => DeliveryStatus::Failed,
        Some(raw) => match parse_status("status", raw)? {
            s @ (DeliveryStatus::Failed | DeliveryStatus::Cancelled) => s,
            _ => {
                return Err(ApiError::invalid(
                    "status",
                    "status must be failed or cancelled.",
                ))
            }
        },
    };
    let endpoint = load(&state, &auth.tenant, &id).await?.endpoint;
    let requeued = state
        .store
        .requeue_endpoint_deliveries(
            &auth.tenant,
            &endpoint.id,
            body.since,
            status,
            Timestamp::now(),
        )
        .await?;
    state.engine.wake();
    Ok((
        StatusCode::ACCEPTED,
        Json(Data {
            data: Replayed { requeued },
        }),
    ))
}
