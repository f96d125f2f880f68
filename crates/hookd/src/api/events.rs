//! `/v1/events`: publish (fan-out, durable before 202), list, get, and an event's deliveries
//! (erasure is in `erasure.rs`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::auth::Authed;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::pagination::{page_request, Data, List};
use super::AppState;
use crate::domain::delivery::Delivery;
use crate::domain::endpoint;
use crate::domain::event::{Event, NewEvent};
use crate::domain::ids::{DeliveryId, EventId};
use crate::domain::ordering::OrderingKey;
use crate::domain::time::Timestamp;
use crate::store::EventFilter;
use crate::telemetry::traces;
use tracing::Instrument;

pub const TAG: &str = "Events";

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PublishEvent {
    /// A type from the event catalog.
    #[serde(rename = "type")]
    #[schema(example = "post.created")]
    pub event_type: String,
    /// Only endpoints scoped to this project (or to none) receive it.
    /// 1–128 characters, no control characters.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub project_id: Option<String>,
    /// Any JSON object; delivered as is.
    #[schema(value_type = Object, example = json!({"postId": "post_123"}))]
    pub data: Box<RawValue>,
    /// 1–128 characters. Events with the same key are delivered to each endpoint one at a
    /// time, in publish order (docs/ordering.md); null or absent: no ordering.
    #[serde(default)]
    #[schema(
        example = "customer_42",
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub ordering_key: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1–100, default 20.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListEventsQuery {
    /// 1–100, default 20.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// Only events of this type (from the event catalog).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
}

pub(super) fn parse_event_id(raw: &str) -> ApiResult<EventId> {
    EventId::parse(raw).map_err(|_| ApiError::not_found("event", raw))
}

#[utoipa::path(post, path = "/v1/events", tag = TAG, request_body = PublishEvent,
    responses((status = 202, description = "Accepted: the event and its deliveries are on disk.", body = Data<Event>),
              (status = 400, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn publish(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    ApiJson(body): ApiJson<PublishEvent>,
) -> ApiResult<(StatusCode, Json<Data<Event>>)> {
    let event_type = state.catalog.parse_publishable("type", &body.event_type)?;
    let project_id = endpoint::parse_project_id("projectId", body.project_id.as_deref())?;
    if !body.data.get().trim_start().starts_with('{') {
        return Err(ApiError::invalid("data", "data must be a JSON object."));
    }
    let ordering_key = body
        .ordering_key
        .as_deref()
        .map(|raw| OrderingKey::parse("orderingKey", raw))
        .transpose()?;
    let event = NewEvent {
        id: EventId::generate(),
        event_type,
        project_id,
        data: body.data,
        created_at: Timestamp::now(),
        ordering_key,
    };
    // With traces on, the publish is a span its deliveries' attempts link to.
    let span = traces::publish_span(&event.event_type);
    span.record("event", event.id.as_str());
    let (event, mut jobs) = state
        .store
        .publish_event(&auth.tenant, event, &state.engine.lease())
        .instrument(span.clone())
        .await?;
    if let Some(link) = traces::link_to(&span) {
        jobs.iter_mut()
            .for_each(|job| job.link = Some(link.clone()));
    }
    crate::telemetry::hot().events_published.increment(1);
    state.engine.submit(jobs);
    Ok((StatusCode::ACCEPTED, Json(Data { data: event })))
}

#[utoipa::path(get, path = "/v1/events", tag = TAG, params(ListEventsQuery),
    responses((status = 200, body = List<Event>), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    ApiQuery(q): ApiQuery<ListEventsQuery>,
) -> ApiResult<Json<List<Event>>> {
    let mut page = page_request(q.limit.as_deref(), q.cursor.as_deref(), |c| {
        EventId::parse(c).map(|id| id.to_string())
    })?;
    let filter = EventFilter {
        event_type: q
            .event_type
            .as_deref()
            .map(|t| state.catalog.parse_type("type", t))
            .transpose()?,
        project_id: None,
    };
    // Events carry up to `max_body_bytes` of data each: the page stops early at the budget.
    page.max_bytes = state.config.list_page_max_bytes;
    let page = state
        .store
        .list_events(&auth.tenant, &filter, &page)
        .await?;
    Ok(Json(List::from_page(page, |e| e.id.to_string())))
}

#[utoipa::path(get, path = "/v1/events/{id}", tag = TAG, params(("id" = String, Path)),
    responses((status = 200, body = Data<Event>), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Data<Event>>> {
    let event_id = parse_event_id(&id)?;
    let event = state
        .store
        .get_event(&auth.tenant, &event_id)
        .await?
        .ok_or_else(|| ApiError::not_found("event", &id))?;
    Ok(Json(Data { data: event }))
}

#[utoipa::path(get, path = "/v1/events/{id}/deliveries", tag = TAG, params(("id" = String, Path), PageQuery),
    responses((status = 200, body = List<Delivery>), (status = 404, body = ErrorBody)))]
pub async fn deliveries(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<List<Delivery>>> {
    let event_id = parse_event_id(&id)?;
    let page = page_request(q.limit.as_deref(), q.cursor.as_deref(), |c| {
        DeliveryId::parse(c).map(|id| id.to_string())
    })?;
    if state
        .store
        .get_event(&auth.tenant, &event_id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found("event", &id));
    }
    let page = state
        .store
        .list_deliveries_of_event(&auth.tenant, &event_id, &page)
        .await?;
    Ok(Json(List::from_page(page, |d| d.id.to_string())))
}
