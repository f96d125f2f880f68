//! `/v1/deliveries/{id}` (with its attempts) and `/retry`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

use super::auth::Authed;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::ApiPath;
use super::pagination::Data;
use super::AppState;
use crate::domain::delivery::{Attempt, Delivery};
use crate::domain::ids::DeliveryId;
use crate::domain::time::Timestamp;

pub const TAG: &str = "Deliveries";

/// A delivery with every attempt made, oldest first.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryWithAttempts {
    #[serde(flatten)]
    pub delivery: Delivery,
    pub attempts: Vec<Attempt>,
}

fn parse_delivery_id(raw: &str) -> ApiResult<DeliveryId> {
    DeliveryId::parse(raw).map_err(|_| ApiError::not_found("delivery", raw))
}

#[utoipa::path(get, path = "/v1/deliveries/{id}", tag = TAG, params(("id" = String, Path)),
    responses((status = 200, body = Data<DeliveryWithAttempts>), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Data<DeliveryWithAttempts>>> {
    let delivery_id = parse_delivery_id(&id)?;
    let (delivery, attempts) = state
        .store
        .get_delivery(&auth.tenant, &delivery_id)
        .await?
        .ok_or_else(|| ApiError::not_found("delivery", &id))?;
    Ok(Json(Data {
        data: DeliveryWithAttempts { delivery, attempts },
    }))
}

/// Makes one more attempt now, whatever the delivery's status (a disabled endpoint's delivery
/// waits until the endpoint is re-activated). A delivery of a deleted endpoint is still shown
/// (cancelled) but can't be attempted: 409 `delivery_not_retryable`, not a 404 for an object
/// that `GET` finds.
#[utoipa::path(post, path = "/v1/deliveries/{id}/retry", tag = TAG, params(("id" = String, Path)),
    responses((status = 202, description = "Queued for an immediate attempt.", body = Data<DeliveryWithAttempts>),
              (status = 404, body = ErrorBody),
              (status = 409, description = "The delivery's endpoint was deleted.", body = ErrorBody),
              (status = 410, description = "`event_erased`: the delivery's event was erased.", body = ErrorBody)))]
pub async fn retry(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<Data<DeliveryWithAttempts>>)> {
    let delivery_id = parse_delivery_id(&id)?;
    let requeued = state
        .store
        .requeue_delivery(
            &auth.tenant,
            &delivery_id,
            &state.engine.lease(),
            Timestamp::now(),
        )
        .await?;
    let Some(job) = requeued else {
        return Err(not_requeued(&state, &auth, &delivery_id, &id).await);
    };
    state.engine.retry(auth.tenant.clone(), job);
    let (delivery, attempts) = state
        .store
        .get_delivery(&auth.tenant, &delivery_id)
        .await?
        .ok_or_else(|| ApiError::not_found("delivery", &id))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Data {
            data: DeliveryWithAttempts { delivery, attempts },
        }),
    ))
}

/// Why a delivery could not be queued again: its event was erased (410, its data must not leave
/// anymore), its endpoint was deleted (409), or there is no such delivery of this tenant (404).
async fn not_requeued(state: &AppState, auth: &Authed, id: &DeliveryId, raw: &str) -> ApiError {
    let delivery = match state.store.get_delivery(&auth.tenant, id).await {
        Ok(Some((delivery, _))) => delivery,
        Ok(None) => return ApiError::not_found("delivery", raw),
        Err(e) => return e.into(),
    };
    match state
        .store
        .get_event(&auth.tenant, &delivery.event_id)
        .await
    {
        Ok(Some(event)) if event.data_erased => ApiError::Gone {
            code: "event_erased",
            message: format!("The event of delivery {raw} was erased; its data is no longer sent."),
        },
        // The delivery exists, so its endpoint was deleted.
        Ok(_) => ApiError::DeliveryNotRetryable,
        Err(e) => e.into(),
    }
}
