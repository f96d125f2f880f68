//! *Events*: the list, searchable by type and id, and an event with its deliveries. A portal
//! limited to a project sees that project's events only (the events its endpoints receive).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::deliveries::pretty;
use super::endpoint_detail::delivery_rows;
use super::form_fields::{filter_select, Input};
use super::scope::{caller, project, sees_project};
use super::PathId;
use crate::api::error::ApiError;
use crate::api::events::{self as api, PageQuery};
use crate::api::extract::{ApiPath, ApiQuery};
use crate::api::pagination::page_request;
use crate::api::AppState;
use crate::dashboard::errors::{DashError, DashResult, FormErrors};
use crate::dashboard::layout::{self, Chrome};
use crate::dashboard::session::Session;
use crate::domain::ids::EventId;
use crate::store::EventFilter;

const ACTIVE: &str = "/events";

crate::dashboard::route_table::page_routes! {
    "/events" => get(list),
    "/events/{id}" => get(detail),
}

fn chrome(session: &Session) -> Chrome<'_> {
    Chrome {
        session,
        active: ACTIVE,
        notice: None,
    }
}

#[derive(Deserialize, Default)]
struct Search {
    #[serde(default, rename = "type")]
    event_type: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    cursor: String,
}

/// `GET /events`: the newest events (of a type); an id searched for opens that event.
async fn list(
    State(state): State<Arc<AppState>>,
    session: Session,
    Query(search): Query<Search>,
) -> DashResult<Response> {
    let id = search.id.trim();
    if !id.is_empty() {
        if EventId::parse(id).is_ok() {
            return Ok(
                Redirect::to(&format!("/events/{}", id.to_ascii_lowercase())).into_response(),
            );
        }
        let errors = FormErrors::field(
            "id",
            "An event id looks like evt_ followed by 26 letters and digits.",
        );
        return Ok((
            StatusCode::BAD_REQUEST,
            page(&state, &session, &search, Vec::new(), None, &errors),
        )
            .into_response());
    }
    let mut errors = FormErrors::default();
    let event_type = if search.event_type.is_empty() {
        None
    } else {
        match state.catalog.parse_type("type", &search.event_type) {
            Ok(t) => Some(t),
            Err(e) => {
                errors = FormErrors::from_api(ApiError::from(e))?;
                None
            }
        }
    };
    let page_req = page_request(
        Some("50"),
        (!search.cursor.is_empty()).then_some(search.cursor.as_str()),
        |c| EventId::parse(c).map(|id| id.to_string()),
    )
    .map_err(DashError::from)?;
    let filter = EventFilter {
        event_type,
        project_id: project(&session).map(str::to_string),
    };
    let found = state
        .store
        .list_events(&session.scope.tenant(), &filter, &page_req)
        .await
        .map_err(ApiError::from)?;
    let next = found
        .has_more
        .then(|| found.items.last().map(|e| e.id.to_string()))
        .flatten();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok((
        status,
        page(&state, &session, &search, found.items, next, &errors),
    )
        .into_response())
}

fn page(
    state: &AppState,
    session: &Session,
    search: &Search,
    events: Vec<crate::domain::event::Event>,
    next: Option<String>,
    errors: &FormErrors,
) -> Markup {
    let types: Vec<&str> = state
        .catalog
        .types()
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    let body = html! {
        (layout::page_header("Events", Some("What was published, newest first. Open one to see its payload and where it was delivered."), html! {}))
        form class="filters" method="get" action="/events" role="search" {
            (filter_select("type", "Type", &types, &search.event_type, errors))
            (Input::text("id", "Event id", "id", &search.id).placeholder("evt_…").render(errors))
            div class="form-actions" { button type="submit" class="secondary" { "Search" } }
        }
        @if events.is_empty() {
            (layout::empty_state("No events found", html! {
                p { "Events appear when your application publishes them: " code { "POST /v1/events" } " with a type and its data." }
            }))
        } @else {
            div class="table-wrap" {
                table {
                    thead { tr {
                        th scope="col" { "Event" } th scope="col" { "Type" } th scope="col" { "Project" }
                        th scope="col" { "Deliveries" } th scope="col" { "Published" }
                    } }
                    tbody {
                        @for e in &events {
                            tr {
                                td { a href={ "/events/" (e.id) } { code { (e.id) } } }
                                td {
                                    code { (e.event_type) }
                                    @if let Some(key) = &e.ordering_key { div class="muted small" { "key " code { (key) } } }
                                }
                                td { (e.project_id.as_deref().unwrap_or("—")) }
                                td { (e.delivery_count) }
                                td { (layout::when(e.created_at)) }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = next {
                p { a class="button secondary small" href={ "/events?type=" (search.event_type) "&cursor=" (next) } { "Older events" } }
            }
        }
    };
    layout::page(&chrome(session), "Events", body)
}

/// `GET /events/{id}`: the event, its payload and its deliveries.
async fn detail(
    State(state): State<Arc<AppState>>,
    session: Session,
    PathId(id): PathId,
) -> DashResult<Markup> {
    let event = api::get(
        State(Arc::clone(&state)),
        caller(&session),
        ApiPath(id.clone()),
    )
    .await?
    .0
    .data;
    if !sees_project(&session, event.project_id.as_deref()) {
        return Err(DashError::not_found());
    }
    let deliveries = api::deliveries(
        State(Arc::clone(&state)),
        caller(&session),
        ApiPath(id),
        ApiQuery(PageQuery {
            limit: Some("100".into()),
            cursor: None,
        }),
    )
    .await?
    .0
    .data;
    // A project portal sees the deliveries to its project's endpoints only (an event of the
    // project also goes to endpoints scoped to no project, which are not the customer's).
    let deliveries = match project(&session) {
        None => deliveries,
        Some(mine) => {
            let tenant = session.scope.tenant();
            let mut kept = Vec::with_capacity(deliveries.len());
            for d in deliveries {
                let endpoint = state
                    .store
                    .get_endpoint(&tenant, &d.endpoint_id)
                    .await
                    .map_err(ApiError::from)?;
                if endpoint.is_some_and(|e| e.endpoint.project_id.as_deref() == Some(mine)) {
                    kept.push(d);
                }
            }
            kept
        }
    };
    let body = html! {
        (layout::page_header(&event.event_type, None, html! {}))
        section class="card" aria-labelledby="event-heading" {
            h2 id="event-heading" { code { (event.id) } @if event.test { " " span class="badge" { "Test" } } }
            dl class="summary" {
                dt { "Project" } dd { (event.project_id.as_deref().unwrap_or("—")) }
                @if let Some(key) = &event.ordering_key { dt { "Ordering key" } dd { code data-test="ordering-key" { (key) } } }
                dt { "Published" } dd { (layout::when(event.created_at)) }
                dt { "Deliveries" } dd { (event.delivery_count) }
            }
            h3 { "Payload" }
            pre class="output" tabindex="0" aria-label="Event data" { code { (pretty(&event)) } }
        }
        section aria-labelledby="deliveries-heading" {
            h2 id="deliveries-heading" { "Deliveries" }
            @if deliveries.is_empty() {
                (layout::empty_state("Not delivered anywhere", html! { p { "No active endpoint subscribed to this type when it was published." } }))
            } @else {
                (delivery_rows(&deliveries, true))
            }
        }
    };
    Ok(layout::page(&chrome(&session), &event.event_type, body))
}
