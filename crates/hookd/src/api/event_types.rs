//! `GET /v1/event-types`: the event catalog.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;

use super::auth::Authed;
use super::error::ErrorBody;
use super::pagination::List;
use super::AppState;
use crate::domain::catalog::EventType;

#[utoipa::path(get, path = "/v1/event-types", tag = "Events",
    responses((status = 200, description = "Every event type endpoints can subscribe to.", body = List<EventType>),
              (status = 401, body = ErrorBody)))]
pub async fn list(State(state): State<Arc<AppState>>, _auth: Authed) -> Json<List<EventType>> {
    Json(List {
        data: state.catalog.types().to_vec(),
        has_more: false,
        next_cursor: None,
    })
}
