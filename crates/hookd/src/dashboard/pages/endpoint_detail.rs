//! *Endpoint detail*: the endpoint, its last 24 h of deliveries by outcome and latency as
//! charts, its delivery log filterable by status and event type, and its actions: enable or
//! disable, rotate the secret, send a test event (its attempt opens), **Replay failed since…**.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::charts;
use super::endpoints::{chrome, load, status};
use super::form_fields::{filter_select, select};
use super::scope::caller;
use super::{NoticeQuery, PathId};
use crate::api::endpoint_deliveries::{self as api, DeliveriesQuery, Replay, TestEvent};
use crate::api::endpoints::{self as endpoints_api, UpdateEndpoint};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::AppState;
use crate::dashboard::csrf::CsrfForm;
use crate::dashboard::errors::{DashError, DashResult, FormErrors};
use crate::dashboard::layout::{self, csrf_field};
use crate::dashboard::session::Session;
use crate::domain::delivery::Delivery;
use crate::domain::endpoint::Endpoint;
use crate::domain::insights::{self, MAX_SAMPLES, WINDOW_MS};
use crate::domain::time::Timestamp;

const STATUSES: &[&str] = &["pending", "succeeded", "failed", "cancelled"];
/// `Replay failed since…`: how far back, in hours.
const REPLAY_WINDOWS: &[(&str, &str, i64)] = &[
    ("1h", "the last hour", 1),
    ("6h", "the last 6 hours", 6),
    ("24h", "the last 24 hours", 24),
    ("3d", "the last 3 days", 72),
    ("7d", "the last 7 days", 168),
];
const NOTICES: &[(&str, &str)] = &[
    ("enabled", "Endpoint enabled: deliveries resume."),
    ("saved", "Endpoint saved."),
    (
        "disabled",
        "Endpoint disabled: deliveries wait until it is enabled again.",
    ),
];

crate::dashboard::route_table::page_routes! {
    "/endpoints/{id}" => get(detail),
    "/endpoints/{id}/active" => post(set_active),
    "/endpoints/{id}/rotate-secret" => post(rotate),
    "/endpoints/{id}/test" => post(send_test),
    "/endpoints/{id}/replay" => post(replay),
}

#[derive(Deserialize, Default)]
pub struct LogQuery {
    #[serde(default)]
    status: String,
    #[serde(default, rename = "eventType")]
    event_type: String,
    #[serde(default)]
    cursor: String,
    notice: Option<String>,
}

/// "pending behind <the head delivery>" for a delivery held back by its ordering key.
pub fn held_behind(d: &Delivery) -> Markup {
    html! {
        @if let Some(head) = &d.held_behind {
            span class="held" data-test="held-behind" {
                " pending behind " a href={ "/deliveries/" (head) } { code { (head) } }
            }
        }
    }
}

/// The delivery log's rows (shared with the event page).
pub fn delivery_rows(deliveries: &[Delivery], show_endpoint: bool) -> Markup {
    html! {
        div class="table-wrap" {
            table {
                thead { tr {
                    th scope="col" { "Delivery" } th scope="col" { "Status" }
                    @if show_endpoint { th scope="col" { "Endpoint" } }
                    th scope="col" { "Attempts" } th scope="col" { "Last answer" } th scope="col" { "Created" }
                } }
                tbody {
                    @for d in deliveries {
                        tr {
                            td {
                                a href={ "/deliveries/" (d.id) } { code { (d.id) } }
                                @if d.test { " " span class="badge" { "Test" } }
                            }
                            td {
                                span class={ "badge " (d.status.as_str()) } { (d.status.as_str()) }
                                (held_behind(d))
                                @if let Some(key) = &d.ordering_key { div class="muted small" { "key " code { (key) } } }
                            }
                            @if show_endpoint { td { a href={ "/endpoints/" (d.endpoint_id) } { code { (d.endpoint_id) } } } }
                            td { (d.attempt_count) }
                            td { @match d.last_status_code { Some(code) => { "HTTP " (code) } None => { span class="muted" { "—" } } } }
                            td { (layout::when(d.created_at)) }
                        }
                    }
                }
            }
        }
    }
}

async fn page(
    state: &Arc<AppState>,
    session: &Session,
    endpoint: &Endpoint,
    query: &LogQuery,
    secret: Option<&str>,
    errors: &FormErrors,
    notice: Option<&str>,
) -> DashResult<Markup> {
    let log_query = DeliveriesQuery {
        limit: Some("50".into()),
        cursor: (!query.cursor.is_empty()).then(|| query.cursor.clone()),
        status: (!query.status.is_empty()).then(|| query.status.clone()),
        event_type: (!query.event_type.is_empty()).then(|| query.event_type.clone()),
    };
    let (log, log_errors) = match api::list(
        State(Arc::clone(state)),
        caller(session),
        ApiPath(endpoint.id.to_string()),
        ApiQuery(log_query),
    )
    .await
    {
        Ok(list) => (Some(list.0), FormErrors::default()),
        Err(error) => (None, FormErrors::from_api(error)?),
    };
    let now = Timestamp::now();
    let samples = state
        .store
        .delivery_samples(
            &session.scope.tenant(),
            &endpoint.id,
            now.plus_millis(-WINDOW_MS),
            MAX_SAMPLES,
        )
        .await
        .map_err(crate::api::error::ApiError::from)?;
    let buckets = insights::hourly(&samples, now);
    let read_only = session.scope.read_only;
    let type_names: Vec<&str> = state
        .catalog
        .types()
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    let body = html! {
        (layout::page_header(&endpoint.name, Some(&endpoint.url), html! {
            @if !read_only {
                a class="button secondary" href={ "/endpoints/" (endpoint.id) "/edit" } { "Edit" }
                a class="button secondary" href={ "/endpoints/" (endpoint.id) "/delete" } { "Delete…" }
            }
        }))
        @if let Some(secret) = secret {
            section class="card" aria-labelledby="secret-heading" {
                h2 id="secret-heading" { "New signing secret" }
                p class="warning" { strong { "Copy it now." } " It is shown only this once. The previous secret keeps signing alongside it for the grace period." }
                div class="secret-box" {
                    label for="new-secret" class="skip-link" { "Signing secret" }
                    input id="new-secret" type="text" readonly value=(secret) spellcheck="false";
                    button type="button" class="secondary" data-copy="new-secret" { "Copy" }
                }
            }
        }
        section class="card" aria-labelledby="about-heading" {
            h2 id="about-heading" { "Endpoint" }
            dl class="summary" {
                dt { "Status" } dd { (status(endpoint)) }
                dt { "Events" } dd { @for e in &endpoint.events { code { (e) } " " } }
                dt { "Project" } dd { (endpoint.project_id.as_deref().unwrap_or("every project")) }
                dt { "Secret" } dd { code { "whsec_…" (endpoint.secret_last4) } }
                @if !endpoint.description.is_empty() { dt { "Description" } dd { (endpoint.description) } }
                dt { "Filter" } dd data-test="endpoint-filter" {
                    @match &endpoint.filter {
                        Some(filter) => { code { (filter) } },
                        None => { span class="muted" { "None: every subscribed event" } },
                    }
                }
                dt { "Rate limit" } dd data-test="endpoint-rate-limit" {
                    @match endpoint.rate_limit_per_sec {
                        Some(rate) => { (rate) " attempts per second" },
                        None => { span class="muted" { "None" } },
                    }
                }
                @if let Some(crate::domain::oauth2::EndpointAuth::OAuth2ClientCredentials(auth)) = &endpoint.auth {
                    dt { "Authentication" } dd {
                        "OAuth2 client credentials: " code { (auth.client_id) } " at " span class="url" { (auth.token_url) }
                        @if let Some(last4) = &auth.client_secret_last4 { " (secret …" (last4) ")" }
                    }
                }
                @if !endpoint.secret_query_params.is_empty() {
                    dt { "Secret query parameters" } dd { @for name in &endpoint.secret_query_params { code { (name) } " " } }
                }
                @if !endpoint.metadata.is_empty() {
                    dt { "Metadata" } dd { @for (key, value) in endpoint.metadata.iter() { div { code { (key) } ": " (value) } } }
                }
                dt { "Id" } dd { code { (endpoint.id) } }
            }
            @if !read_only {
                div class="form-actions" {
                    form method="post" action={ "/endpoints/" (endpoint.id) "/active" } {
                        (csrf_field(session))
                        input type="hidden" name="active" value=(if endpoint.is_active { "false" } else { "true" });
                        button type="submit" class="secondary" { (if endpoint.is_active { "Disable" } else { "Enable" }) }
                    }
                    form method="post" action={ "/endpoints/" (endpoint.id) "/rotate-secret" } {
                        (csrf_field(session))
                        button type="submit" class="secondary" { "Rotate secret" }
                    }
                }
                form class="filters" method="post" action={ "/endpoints/" (endpoint.id) "/test" } {
                    (csrf_field(session))
                    (select("test-event", "Send a test event", "event",
                        &state.catalog.types().iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
                        endpoint.events.first().map(String::as_str).unwrap_or(""), errors))
                    div class="form-actions" { button type="submit" { "Send test event" } }
                }
            }
        }
        section class="card" aria-labelledby="charts-heading" {
            h2 id="charts-heading" { "Last 24 hours" }
            div class="charts" {
                div { h3 { "Deliveries by outcome" } (charts::outcomes(&buckets)) }
                div { h3 { "Latency" } (charts::latency(&buckets)) }
            }
        }
        section aria-labelledby="log-heading" {
            h2 id="log-heading" { "Delivery log" }
            form class="filters" method="get" action={ "/endpoints/" (endpoint.id) } {
                (filter_select("status", "Status", STATUSES, &query.status, &log_errors))
                (filter_select("eventType", "Event type", &type_names, &query.event_type, &log_errors))
                div class="form-actions" { button type="submit" class="secondary" { "Filter" } }
            }
            @match &log {
                Some(list) if list.data.is_empty() => {
                    (layout::empty_state("No deliveries match", html! {
                        p { "Deliveries appear when an event of a subscribed type is published"
                            @if !read_only { ", or when you send a test event above" } "." }
                    }))
                }
                Some(list) => {
                    (delivery_rows(&list.data, false))
                    @if let Some(next) = &list.next_cursor {
                        p { a class="button secondary small" href={ "/endpoints/" (endpoint.id) "?status=" (query.status) "&eventType=" (query.event_type) "&cursor=" (next) } { "Older deliveries" } }
                    }
                }
                None => {}
            }
            @if !read_only {
                form class="filters" method="post" action={ "/endpoints/" (endpoint.id) "/replay" } {
                    (csrf_field(session))
                    div class="field" {
                        label for="since" { "Replay failed since…" }
                        select id="since" name="since" {
                            @for (value, label, _) in REPLAY_WINDOWS { option value=(value) { (label) } }
                        }
                    }
                    div class="form-actions" { button type="submit" class="secondary" { "Replay failed deliveries" } }
                }
            }
        }
    };
    Ok(layout::page(&chrome(session, notice), &endpoint.name, body))
}

/// `GET /endpoints/{id}`.
async fn detail(
    State(state): State<Arc<AppState>>,
    session: Session,
    PathId(id): PathId,
    Query(query): Query<LogQuery>,
) -> DashResult<Markup> {
    let endpoint = load(&state, &session, &id).await?;
    let notice = NoticeQuery {
        notice: query.notice.clone(),
    };
    let replayed;
    let text = match notice.text(NOTICES) {
        Some(text) => Some(text.to_string()),
        None => match query
            .notice
            .as_deref()
            .and_then(|n| n.strip_prefix("replayed-"))
        {
            Some(n) if n.bytes().all(|b| b.is_ascii_digit()) && n.len() < 10 => {
                replayed = format!("{n} failed deliveries queued again.");
                Some(replayed)
            }
            _ => None,
        },
    };
    page(
        &state,
        &session,
        &endpoint,
        &query,
        None,
        &FormErrors::default(),
        text.as_deref(),
    )
    .await
}

/// `POST /endpoints/{id}/active`: enable or disable, through `PATCH`.
async fn set_active(
    State(state): State<Arc<AppState>>,
    PathId(id): PathId,
    form: CsrfForm,
) -> DashResult<Response> {
    let endpoint = load(&state, &form.session, &id).await?;
    let active = match form.fields.get("active") {
        "true" => true,
        "false" => false,
        _ => {
            return Err(DashError::new(
                StatusCode::BAD_REQUEST,
                "Request refused",
                "active must be true or false.",
            ))
        }
    };
    let patch = UpdateEndpoint {
        name: None,
        url: None,
        events: None,
        project_id: None,
        is_active: Some(active),
        description: None,
        metadata: None,
        auth: None,
        filter: None,
        rate_limit_per_sec: None,
        secret_query_params: None,
    };
    let _updated = endpoints_api::update(
        State(Arc::clone(&state)),
        caller(&form.session),
        ApiPath(endpoint.id.to_string()),
        ApiJson(patch),
    )
    .await?;
    let notice = if active { "enabled" } else { "disabled" };
    Ok(Redirect::to(&format!("/endpoints/{}?notice={notice}", endpoint.id)).into_response())
}

/// `POST /endpoints/{id}/rotate-secret`: the new secret is shown once.
async fn rotate(
    State(state): State<Arc<AppState>>,
    PathId(id): PathId,
    form: CsrfForm,
) -> DashResult<Markup> {
    let endpoint = load(&state, &form.session, &id).await?;
    let rotated = endpoints_api::rotate_secret(
        State(Arc::clone(&state)),
        caller(&form.session),
        ApiPath(endpoint.id.to_string()),
    )
    .await?
    .0
    .data;
    page(
        &state,
        &form.session,
        &rotated.endpoint,
        &LogQuery::default(),
        Some(&rotated.secret),
        &FormErrors::default(),
        Some("Secret rotated."),
    )
    .await
}

/// `POST /endpoints/{id}/test`: sends a sample now and opens its delivery, with the attempt.
async fn send_test(
    State(state): State<Arc<AppState>>,
    PathId(id): PathId,
    form: CsrfForm,
) -> DashResult<Response> {
    let endpoint = load(&state, &form.session, &id).await?;
    let body = TestEvent {
        event: form.fields.get("test-event").to_string(),
    };
    match api::send_test(
        State(Arc::clone(&state)),
        caller(&form.session),
        ApiPath(endpoint.id.to_string()),
        ApiJson(body),
    )
    .await
    {
        Ok(sent) => Ok(Redirect::to(&format!(
            "/deliveries/{}?notice=test",
            sent.0.data.delivery_id
        ))
        .into_response()),
        Err(error) => {
            let status = error.status();
            let errors = FormErrors::from_api(error)?;
            let markup = page(
                &state,
                &form.session,
                &endpoint,
                &LogQuery::default(),
                None,
                &errors,
                None,
            )
            .await?;
            Ok((status, markup).into_response())
        }
    }
}

/// `POST /endpoints/{id}/replay`: **Replay failed since…**, through `POST …/replay`.
async fn replay(
    State(state): State<Arc<AppState>>,
    PathId(id): PathId,
    form: CsrfForm,
) -> DashResult<Response> {
    let endpoint = load(&state, &form.session, &id).await?;
    let hours = REPLAY_WINDOWS
        .iter()
        .find(|(value, _, _)| *value == form.fields.get("since"))
        .map(|(_, _, hours)| *hours)
        .ok_or_else(|| {
            DashError::new(
                StatusCode::BAD_REQUEST,
                "Request refused",
                "Choose how far back to replay from the list.",
            )
        })?;
    let body = Replay {
        since: Timestamp::now().plus_millis(-hours * 3_600_000),
        status: None,
    };
    let (_, replayed) = api::replay(
        State(Arc::clone(&state)),
        caller(&form.session),
        ApiPath(endpoint.id.to_string()),
        ApiJson(body),
    )
    .await?;
    Ok(Redirect::to(&format!(
        "/endpoints/{}?notice=replayed-{}",
        endpoint.id, replayed.0.data.requeued
    ))
    .into_response())
}
