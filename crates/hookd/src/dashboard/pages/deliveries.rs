//! *Delivery detail*: the event's payload (pretty JSON), every attempt with status, duration,
//! response body and error, and **Retry**. A portal limited to a project sees only deliveries to
//! that project's endpoints.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};

use super::endpoints::chrome;
use super::scope::{caller, sees_project};
use super::{NoticeQuery, PathId};
use crate::api::deliveries::{self as api, DeliveryWithAttempts};
use crate::api::events as events_api;
use crate::api::extract::ApiPath;
use crate::api::AppState;
use crate::dashboard::csrf::CsrfForm;
use crate::dashboard::errors::{DashError, DashResult};
use crate::dashboard::layout::{self, csrf_field};
use crate::dashboard::session::Session;
use crate::domain::event::Event;

const NOTICES: &[(&str, &str)] = &[
    ("test", "Test event sent. Its attempt is below."),
    (
        "retried",
        "Retry queued: the attempt is made now and appears below.",
    ),
];

crate::dashboard::route_table::page_routes! {
    "/deliveries/{id}" => get(detail),
    "/deliveries/{id}/retry" => post(retry),
}

/// The event's data as people read it: pretty JSON (or a note when erased).
pub fn pretty(event: &Event) -> String {
    if event.data_erased {
        return "Erased.".to_string();
    }
    serde_json::from_str::<serde_json::Value>(event.data.get())
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| event.data.get().to_string())
}

/// The delivery and its event, if this session may see them.
async fn load(
    state: &Arc<AppState>,
    session: &Session,
    id: &str,
) -> DashResult<(DeliveryWithAttempts, Event)> {
    let found = api::get(
        State(Arc::clone(state)),
        caller(session),
        ApiPath(id.to_string()),
    )
    .await?
    .0
    .data;
    let event = events_api::get(
        State(Arc::clone(state)),
        caller(session),
        ApiPath(found.delivery.event_id.to_string()),
    )
    .await?
    .0
    .data;
    if session.scope.project_id.is_some() {
        // Only deliveries to the project's endpoints (of its events, then).
        let endpoint = state
            .store
            .get_endpoint(&session.scope.tenant(), &found.delivery.endpoint_id)
            .await
            .map_err(crate::api::error::ApiError::from)?;
        let visible =
            endpoint.is_some_and(|e| sees_project(session, e.endpoint.project_id.as_deref()));
        if !visible {
            return Err(DashError::not_found());
        }
    }
    Ok((found, event))
}

/// `GET /deliveries/{id}`.
async fn detail(
    State(state): State<Arc<AppState>>,
    session: Session,
    PathId(id): PathId,
    Query(notice): Query<NoticeQuery>,
) -> DashResult<Markup> {
    let (found, event) = load(&state, &session, &id).await?;
    let d = &found.delivery;
    let body = html! {
        (layout::page_header("Delivery", None, html! {
            @if !session.scope.read_only {
                form method="post" action={ "/deliveries/" (d.id) "/retry" } {
                    (csrf_field(&session))
                    button type="submit" { "Retry" }
                }
            }
        }))
        section class="card" aria-labelledby="delivery-heading" {
            h2 id="delivery-heading" { code { (d.id) } @if d.test { " " span class="badge" { "Test" } } }
            dl class="summary" {
                dt { "Status" } dd { span class={ "badge " (d.status.as_str()) } { (d.status.as_str()) } (super::endpoint_detail::held_behind(d)) }
                @if let Some(key) = &d.ordering_key { dt { "Ordering key" } dd { code data-test="ordering-key" { (key) } } }
                dt { "Endpoint" } dd { a href={ "/endpoints/" (d.endpoint_id) } { code { (d.endpoint_id) } } }
                dt { "Event" } dd { a href={ "/events/" (event.id) } { code { (event.event_type) } " " code { (event.id) } } }
                dt { "Attempts" } dd { (d.attempt_count) }
                @if let Some(next) = d.next_attempt_at { dt { "Next attempt" } dd { (layout::when(next)) } }
                @if let Some(key) = &d.ordering_key { dt { "Ordering key" } dd { code { (key) } } }
                @if let Some(head) = &d.held_behind {
                    dt { "Held behind" } dd { a href={ "/deliveries/" (head) } { code { (head) } } }
                }
                dt { "Created" } dd { (layout::when(d.created_at)) }
            }
        }
        section class="card" aria-labelledby="payload-heading" {
            h2 id="payload-heading" { "Payload" }
            pre class="output" tabindex="0" aria-label="Event data" { code { (pretty(&event)) } }
        }
        section aria-labelledby="attempts-heading" {
            h2 id="attempts-heading" { "Attempts" }
            @if found.attempts.is_empty() && d.held_behind.is_some() {
                (layout::empty_state("No attempt yet", html! { p { "It waits for the earlier delivery of its ordering key to this endpoint (held behind) to succeed or fail for good." } }))
            } @else if found.attempts.is_empty() {
                (layout::empty_state("No attempt yet", html! { p { "The first attempt is made as soon as the endpoint is free." } }))
            }
            @for (n, a) in found.attempts.iter().enumerate().rev() {
                article class="card attempt" aria-label={ "Attempt " (n + 1) } {
                    h3 {
                        "Attempt " (n + 1) " · "
                        @match a.status_code {
                            Some(code) => { span class={ "badge " (if (200..300).contains(&code) { "succeeded" } else { "failed" }) } { "HTTP " (code) } }
                            None => { span class="badge failed" { "No answer" } }
                        }
                    }
                    dl class="summary" {
                        dt { "Started" } dd { (layout::when(a.started_at)) }
                        dt { "Duration" } dd { (a.duration_ms) " ms" }
                        @if let Some(error) = &a.error { dt { "Error" } dd { (error) } }
                    }
                    h4 { "Response body" }
                    @if a.response_body.is_empty() {
                        p class="muted" { "Empty." }
                    } @else {
                        pre class="output" tabindex="0" aria-label="Response body" { code { (a.response_body) } }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        &chrome(&session, notice.text(NOTICES)),
        "Delivery",
        body,
    ))
}

/// `POST /deliveries/{id}/retry`.
async fn retry(
    State(state): State<Arc<AppState>>,
    PathId(id): PathId,
    form: CsrfForm,
) -> DashResult<Response> {
    let (found, _) = load(&state, &form.session, &id).await?;
    let _queued = api::retry(
        State(Arc::clone(&state)),
        caller(&form.session),
        ApiPath(found.delivery.id.to_string()),
    )
    .await?;
    Ok(Redirect::to(&format!("/deliveries/{}?notice=retried", found.delivery.id)).into_response())
}
