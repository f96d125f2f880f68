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
use crate::domain::ids::{DeliveryId, EventId};
use crate::domain::payload;
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
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    pub limit: Option<String>,
    pub cursor: Option<String>,
    /// `pending`, `succeeded`, `failed` or `cancelled`.
    pub status: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// Deliveries created at or after this time.
    #[schema(value_type = String, example = "2026-08-01T00:00:00Z")]
    pub since: Timestamp,
    /// Which deliveries to re-queue: `failed` (default) or `cancelled`.
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Replayed {
    /// How many deliveries were queued again.
    pub requeued: u64,
}

fn parse_status(param: &str, raw: &str) -> ApiResult<DeliveryStatus> {
    DeliveryStatus::parse(raw).ok_or_else(|| {
        ApiError::invalid(
            param,
            format!("{param} must be one of pending, succeeded, failed, cancelled."),
        )
    })
}

/// Sends a sample event of the given type to this endpoint only, now, and answers with the
/// attempt. The sample is not stored as an event and is never retried.
#[utoipa::path(post, path = "/v1/webhook-endpoints/{id}/test", tag = TAG, params(("id" = String, Path)), request_body = TestEvent,
    responses((status = 200, description = "The attempt, whatever the endpoint answered.", body = Data<Attempt>),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn send_test(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<TestEvent>,
) -> ApiResult<Json<Data<Attempt>>> {
    let event_type = state.catalog.parse_type("event", &body.event)?;
    let stored = load(&state, &auth.tenant, &id).await?;
    let ring: KeyRing = state
        .cipher
        .open_json(&stored.signing_keys)
        .map_err(|e| ApiError::Internal(e.into()))?;
    let url = url::Url::parse(&stored.endpoint.url).map_err(|e| ApiError::Internal(e.into()))?;
    let credentials = crate::oauth2::open_endpoint_auth(&state.cipher, &stored.auth_sealed)
        .map_err(|e| ApiError::Internal(e.into()))?;
    let event_id = EventId::generate();
    let sample = RawValue::from_string(
        r#"{"test":true,"message":"A test event sent from hookd."}"#.to_string(),
    )
    .map_err(|e| ApiError::Internal(e.into()))?;
    let now = Timestamp::now();
    let body = payload::render(
        &event_id,
        &event_type,
        now,
        stored.endpoint.project_id.as_deref(),
        &sample,
    );
    let egress = state.engine.egress();
    let outcome = send_signed(
        egress,
        &url,
        &Signer::new(&ring),
        event_id.as_str(),
        body,
        state.engine.timeout(),
        credentials.as_ref().map(|credentials| crate::oauth2::Auth {
            tokens: state.engine.tokens(),
            credentials,
            retry_by: None,
        }),
    )
    .await;
    Ok(Json(Data {
        data: outcome.attempt,
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
    let filter = DeliveryFilter {
        status: q
            .status
            .as_deref()
            .map(|s| parse_status("status", s))
            .transpose()?,
    };
    let endpoint = load(&state, &auth.tenant, &id).await?.endpoint;
    let page = state
        .store
        .list_deliveries_of_endpoint(&auth.tenant, &endpoint.id, &filter, &page)
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
