//! `/v1/deliveries`: the tenant's deliveries across endpoints (filtered), one delivery with its
//! attempts, and `/retry`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::Authed;
use super::endpoint_deliveries::parse_status;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiPath, ApiQuery};
use super::pagination::{page_request, Data, List};
use super::AppState;
use crate::domain::delivery::{Attempt, Delivery};
use crate::domain::ids::{DeliveryId, EndpointId};
use crate::domain::time::Timestamp;
use crate::store::DeliveryFilter;

pub const TAG: &str = "Deliveries";

/// A delivery with every attempt made, oldest first.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryWithAttempts {
    #[serde(flatten)]
    pub delivery: Delivery,
    pub attempts: Vec<Attempt>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListDeliveriesQuery {
    /// 1–100, default 20.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// `pending`, `succeeded`, `failed` or `cancelled`.
    #[param(value_type = Option<crate::domain::delivery::DeliveryStatus>)]
    pub status: Option<String>,
    /// Only deliveries to this endpoint (`whe_…`).
    #[param(value_type = Option<EndpointId>)]
    pub endpoint_id: Option<String>,
    /// Only deliveries of events of this type (from the event catalog).
    pub event_type: Option<String>,
    /// Only deliveries created at or after this RFC 3339 time, e.g. `2026-08-01T00:00:00Z`.
    #[param(value_type = Option<Timestamp>)]
    pub since: Option<String>,
}

fn parse_delivery_id(raw: &str) -> ApiResult<DeliveryId> {
    DeliveryId::parse(raw).map_err(|_| ApiError::not_found("delivery", raw))
}

/// The caller's deliveries across endpoints, newest first. Filters combine; an `endpointId` of
/// no endpoint of the caller lists nothing.
#[utoipa::path(get, path = "/v1/deliveries", tag = TAG, params(ListDeliveriesQuery),
    responses((status = 200, body = List<Delivery>), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    ApiQuery(q): ApiQuery<ListDeliveriesQuery>,
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
        endpoint_id: q
            .endpoint_id
            .as_deref()
            .map(|raw| {
                EndpointId::parse(raw).map_err(|_| {
                    ApiError::invalid("endpointId", "endpointId must be an endpoint id (whe_…).")
                })
            })
            .transpose()?,
        event_type: q
            .event_type
            .as_deref()
            .map(|t| state.catalog.parse_type("eventType", t))
            .transpose()?,
        since: q
            .since
            .as_deref()
            .map(|raw| {
                Timestamp::parse_rfc3339(raw).ok_or_else(|| {
                    ApiError::invalid(
                        "since",
                        "since must be an RFC 3339 time such as 2026-08-01T00:00:00Z.",
                    )
                })
            })
            .transpose()?,
    };
    let page = state
        .store
        .list_deliveries(&auth.tenant, &filter, &page)
        .await?;
    Ok(Json(List::from_page(page, |d| d.id.to_string())))
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
    // Read back before handing the job over: the answer shows the delivery as queued (202),
    // not whatever a fast receiver made of it meanwhile.
    let read = state.store.get_delivery(&auth.tenant, &delivery_id).await;
    state.engine.retry(auth.tenant.clone(), job);
    let (delivery, attempts) = read?.ok_or_else(|| ApiError::not_found("delivery", &id))?;
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
