//! Erasing events' data: `DELETE /v1/events/{id}` and `POST /v1/events/erase` (every event of a
//! project) — the answer to a data-subject erasure request.
//!
//! The rows stay, so the delivery log keeps its shape (ids, types, times, statuses); what could
//! carry personal data goes: the event's `data` (then `null`, with `dataErased: true`) and its
//! attempts' response bodies. Pending deliveries of an erased event are cancelled, and their
//! jobs queued on this node dropped: the data must not leave anymore. A retry of such a delivery
//! answers 410 `event_erased`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::Authed;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::events::{parse_event_id, TAG};
use super::extract::{ApiJson, ApiPath};
use super::pagination::Data;
use super::AppState;
use crate::domain::endpoint;
use crate::domain::event::Event;
use crate::domain::ids::EventId;
use crate::domain::time::Timestamp;

/// Events looked at per read while erasing a project (each match is erased in a batch of its
/// own transaction, so the writer is never held for long).
const SCAN: u32 = 1000;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EraseProject {
    /// Every event published with this `projectId` (in the caller's workspace and mode) is erased.
    #[schema(
        example = "proj_a1b2c3d4e5f6g7h8",
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub project_id: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Erased {
    /// Events erased by this request (events erased before are not counted again).
    pub erased: u64,
}

#[utoipa::path(delete, path = "/v1/events/{id}", tag = TAG, params(("id" = String, Path)),
    responses((status = 200, description = "The event, erased: `data` is null, `dataErased` true; its attempts' response bodies are empty and its pending deliveries cancelled.", body = Data<Event>),
              (status = 404, body = ErrorBody)))]
pub async fn erase(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Data<Event>>> {
    let event_id = parse_event_id(&id)?;
    erase_ids(&state, &auth, vec![event_id.clone()]).await?;
    state.store.scrub_erased().await?;
    let event = state
        .store
        .get_event(&auth.tenant, &event_id)
        .await?
        .ok_or_else(|| ApiError::not_found("event", &id))?;
    Ok(Json(Data { data: event }))
}

#[utoipa::path(post, path = "/v1/events/erase", tag = TAG, request_body = EraseProject,
    responses((status = 202, description = "Every event of the project is erased (as by `DELETE /v1/events/{id}`).", body = Data<Erased>),
              (status = 400, body = ErrorBody)))]
pub async fn erase_project(
    State(state): State<Arc<AppState>>,
    auth: Authed,
    ApiJson(body): ApiJson<EraseProject>,
) -> ApiResult<(StatusCode, Json<Data<Erased>>)> {
    let project = endpoint::parse_project_id("projectId", Some(&body.project_id))?
        .ok_or_else(|| ApiError::invalid("projectId", "projectId is required."))?;
    let mut erased = 0;
    let mut after: Option<EventId> = None;
    loop {
        let (ids, last) = state
            .store
            .project_events_to_erase(&auth.tenant, &project, after.as_ref(), SCAN)
            .await?;
        erased += erase_ids(&state, &auth, ids).await?;
        match last {
            Some(last) => after = Some(last),
            None => break,
        }
        tokio::task::yield_now().await;
    }
    state.store.scrub_erased().await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Data {
            data: Erased { erased },
        }),
    ))
}

/// Erases the events (one transaction) and drops their queued jobs; how many were erased now.
async fn erase_ids(state: &AppState, auth: &Authed, ids: Vec<EventId>) -> ApiResult<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let erased = state
        .store
        .erase_events(&auth.tenant, &ids, Timestamp::now())
        .await?;
    state.engine.events_erased(&erased);
    if !erased.is_empty() {
        tracing::info!(events = erased.len(), "erased events' data");
    }
    Ok(erased.len() as u64)
}
