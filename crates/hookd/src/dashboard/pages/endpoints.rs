//! *Endpoints*: the list (status, success rate over 24 h, latest delivery), create (the signing
//! secret shown once, with a copy button) and delete with confirmation. The endpoint's own page
//! is `endpoint_detail.rs`. Everything goes through the API's handlers.

use crate::api::extract::Whole;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};

use super::endpoint_controls::{self, Controls};
use super::form_fields::{form_alert, messages, Input};
use super::scope::{caller, project, visible};
use super::{NoticeQuery, PathId};
use crate::api::endpoints::{self as api, CreateEndpoint, ListEndpointsQuery};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::AppState;
use crate::dashboard::csrf::{CsrfForm, Fields};
use crate::dashboard::errors::{DashResult, FormErrors};
use crate::dashboard::layout::{self, csrf_field, Chrome};
use crate::dashboard::session::Session;
use crate::domain::endpoint::Endpoint;
use crate::domain::insights::{EndpointSummary, WINDOW_MS};
use crate::domain::time::Timestamp;

pub const ACTIVE: &str = "/endpoints";
const NOTICES: &[(&str, &str)] = &[(
    "deleted",
    "Endpoint deleted. Its pending deliveries were cancelled.",
)];
/// The form's fields, as the API names them.
const PLACED: &[&str] = &["name", "url", "events", "description", "projectId"];

crate::dashboard::route_table::page_routes! {
    "/endpoints" => get(list).post(create),
    "/endpoints/{id}/delete" => get(confirm_delete).post(delete),
}

pub fn chrome<'a>(session: &'a Session, notice: Option<&'a str>) -> Chrome<'a> {
    Chrome {
        session,
        active: ACTIVE,
        notice,
    }
}

/// `active`, or `disabled` and why, for people.
pub fn status(endpoint: &Endpoint) -> Markup {
    html! {
        @if endpoint.is_active {
            span class="badge ok" { "Active" }
        } @else {
            @let why = match endpoint.disabled_reason.map(|r| r.as_str()) {
                Some("failing") => "disabled: deliveries kept failing",
                Some("gone") => "disabled: the endpoint answered 410 Gone",
                _ => "disabled by hand",
            };
            span class="badge off" { "Disabled" } " " span class="muted" { (why) }
        }
    }
}

fn rate(summary: &EndpointSummary) -> String {
    match summary.success_rate() {
        Some(rate) => format!("{rate:.0} %"),
        None => "—".to_string(),
    }
}

/// What the create form shows again after a refusal.
#[derive(Default)]
struct Draft {
    name: String,
    url: String,
    events: Vec<String>,
    description: String,
    project: String,
    controls: Controls,
}

impl Draft {
    fn from_fields(fields: &Fields) -> Self {
        Self {
            name: fields.get("name").to_string(),
            url: fields.get("url").trim().to_string(),
            events: fields
                .all("events")
                .into_iter()
                .map(str::to_string)
                .collect(),
            description: fields.get("description").to_string(),
            project: fields.get("projectId").trim().to_string(),
            controls: Controls::from_fields(fields),
        }
    }
}

fn create_form(state: &AppState, session: &Session, draft: &Draft, errors: &FormErrors) -> Markup {
    let events_error = errors.for_param("events");
    html! {
        section class="card" aria-labelledby="create-heading" {
            h2 id="create-heading" { "Add an endpoint" }
            (form_alert(errors, &[PLACED, endpoint_controls::PLACED].concat()))
            form class="stack" method="post" action="/endpoints" {
                (csrf_field(session))
                (Input::text("name", "Name", "name", &draft.name).required()
                    .placeholder("Production CRM").render(errors))
                (Input::text("url", "URL", "url", &draft.url).kind("url").required()
                    .placeholder("https://hooks.example.com/scripe")
                    .hint("Where hookd POSTs each event, signed (Standard Webhooks).").render(errors))
                fieldset class="field" aria-describedby=[events_error.map(|_| "events-error")] {
                    legend { "Events to send" }
                    div class="catalog" {
                        @for t in state.catalog.types() {
                            label class="radio-row" {
                                input type="checkbox" name="events" value=(t.name)
                                    checked[draft.events.iter().any(|e| e == &t.name)];
                                " " code { (t.name) }
                            }
                        }
                    }
                    (messages("events", None, events_error))
                }
                (Input::text("description", "Description (optional)", "description", &draft.description)
                    .render(errors))
                (draft.controls.render(errors, None))
                @if project(session).is_none() {
                    (Input::text("projectId", "Project (optional)", "projectId", &draft.project)
                        .hint("Only this project's events are sent; leave empty for every project.")
                        .render(errors))
                }
                div class="form-actions" { button type="submit" { "Add endpoint" } }
            }
        }
    }
}

async fn summaries(
    state: &AppState,
    session: &Session,
    endpoints: &[Endpoint],
) -> DashResult<Vec<EndpointSummary>> {
    let since = Timestamp::now().plus_millis(-WINDOW_MS);
    let tenant = session.scope.tenant();
    let mut out = Vec::with_capacity(endpoints.len());
    for e in endpoints {
        out.push(
            state
                .store
                .endpoint_summary(&tenant, &e.id, since)
                .await
                .map_err(crate::api::error::ApiError::from)?,
        );
    }
    Ok(out)
}

async fn page(
    state: &Arc<AppState>,
    session: &Session,
    created: Option<(&Endpoint, &str)>,
    draft: &Draft,
    errors: &FormErrors,
    notice: Option<&str>,
) -> DashResult<Markup> {
    let query = ListEndpointsQuery {
        limit: Some("100".into()),
        cursor: None,
        project_id: project(session).map(str::to_string),
        is_active: None,
    };
    let listed = api::list(State(Arc::clone(state)), caller(session), ApiQuery(query))
        .await?
        .0;
    let summaries = summaries(state, session, &listed.data).await?;
    let read_only = session.scope.read_only;
    let body = html! {
        (layout::page_header("Endpoints",
            Some("Where hookd delivers events: each endpoint gets the types it subscribes to, signed, retried for about a day."),
            html! {}))
        @if let Some((endpoint, secret)) = created {
            section class="card" aria-labelledby="secret-heading" {
                h2 id="secret-heading" { "Signing secret of " (endpoint.name) }
                p class="warning" { strong { "Copy it now." } " It is shown only this once; receivers verify signatures with it." }
                div class="secret-box" {
                    label for="new-secret" class="skip-link" { "Signing secret" }
                    input id="new-secret" type="text" readonly value=(secret) spellcheck="false";
                    button type="button" class="secondary" data-copy="new-secret" { "Copy" }
                }
                p { a href={ "/endpoints/" (endpoint.id) } { "Open " (endpoint.name) " →" } }
            }
        }
        @if listed.data.is_empty() {
            (layout::empty_state("No endpoints yet", html! {
                @if read_only { p { "Endpoints appear here once they are registered." } }
                @else { p { "Add one below: give it a URL and the events to send there, then send it a test event." } }
            }))
        } @else {
            div class="table-wrap" {
                table {
                    caption class="skip-link" { "Endpoints" }
                    thead { tr {
                        th scope="col" { "Name" } th scope="col" { "URL" } th scope="col" { "Status" }
                        th scope="col" { "Success (24 h)" } th scope="col" { "Last delivery" }
                    } }
                    tbody {
                        @for (e, s) in listed.data.iter().zip(&summaries) {
                            tr {
                                td { a class="name-link" href={ "/endpoints/" (e.id) } { (e.name) } }
                                td { code class="url" { (e.url) } }
                                td { (status(e)) }
                                td { (rate(s)) }
                                td {
                                    @match (s.last_delivery_at, s.last_status) {
                                        (Some(at), Some(st)) => { (layout::when(at)) " " span class="muted" { (st.as_str()) } }
                                        _ => { span class="muted" { "None yet" } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !read_only { (create_form(state, session, draft, errors)) }
    };
    Ok(layout::page(&chrome(session, notice), "Endpoints", body))
}

/// `GET /endpoints`.
async fn list(
    State(state): State<Arc<AppState>>,
    session: Session,
    Query(notice): Query<NoticeQuery>,
) -> DashResult<Markup> {
    page(
        &state,
        &session,
        None,
        &Draft::default(),
        &FormErrors::default(),
        notice.text(NOTICES),
    )
    .await
}

/// `POST /endpoints`: creates through `POST /v1/webhook-endpoints`; a portal limited to a
/// project creates endpoints of that project only.
async fn create(State(state): State<Arc<AppState>>, form: CsrfForm) -> DashResult<Response> {
    let CsrfForm { session, fields } = form;
    let draft = Draft::from_fields(&fields);
    let parsed = draft
        .controls
        .rate_limit()
        .and_then(|rate| Ok((rate, draft.controls.metadata()?)));
    let (rate_limit_per_sec, metadata) = match parsed {
        Ok(parsed) => parsed,
        Err(errors) => {
            let markup = page(&state, &session, None, &draft, &errors, None).await?;
            return Ok((StatusCode::BAD_REQUEST, markup).into_response());
        }
    };
    let project_id = match project(&session) {
        Some(mine) => Some(mine.to_string()),
        None => (!draft.project.is_empty()).then(|| draft.project.clone()),
    };
    let body = CreateEndpoint {
        name: draft.name.clone(),
        url: draft.url.clone(),
        events: draft.events.clone(),
        project_id,
        description: Some(draft.description.clone()),
        metadata: (!metadata.is_empty()).then_some(metadata),
        auth: draft.controls.auth_for_create(),
        filter: draft.controls.filter(),
        rate_limit_per_sec: rate_limit_per_sec.map(Whole::from),
        secret_query_params: draft.controls.secret_query_params(),
    };
    match api::create(State(Arc::clone(&state)), caller(&session), ApiJson(body)).await {
        Ok((_, created)) => {
            let created = created.0.data;
            let markup = page(
                &state,
                &session,
                Some((&created.endpoint, &created.secret)),
                &Draft::default(),
                &FormErrors::default(),
                Some("Endpoint added."),
            )
            .await?;
            Ok((StatusCode::CREATED, markup).into_response())
        }
        Err(error) => {
            let status = error.status();
            let errors = FormErrors::from_api(error)?;
            let markup = page(&state, &session, None, &draft, &errors, None).await?;
            Ok((status, markup).into_response())
        }
    }
}

/// Loads an endpoint the session may see, through `GET /v1/webhook-endpoints/{id}`.
pub async fn load(state: &Arc<AppState>, session: &Session, id: &str) -> DashResult<Endpoint> {
    let endpoint = api::get(
        State(Arc::clone(state)),
        caller(session),
        ApiPath(id.to_string()),
    )
    .await?
    .0
    .data;
    visible(session, endpoint)
}

/// `GET /endpoints/{id}/delete`: the confirmation.
async fn confirm_delete(
    State(state): State<Arc<AppState>>,
    session: Session,
    PathId(id): PathId,
) -> DashResult<Markup> {
    let endpoint = load(&state, &session, &id).await?;
    let body = html! {
        div class="card narrow" {
            h1 { "Delete " (endpoint.name) "?" }
            p class="warning" {
                "hookd stops delivering to " code { (endpoint.url) } " at once and cancels its pending deliveries. Its delivery log stays readable. This cannot be undone."
            }
            @if !session.scope.read_only {
                form method="post" action={ "/endpoints/" (endpoint.id) "/delete" } class="form-actions" {
                    (csrf_field(&session))
                    button type="submit" class="danger" { "Delete endpoint" }
                    a class="button secondary" href={ "/endpoints/" (endpoint.id) } { "Cancel" }
                }
            }
        }
    };
    Ok(layout::page(
        &chrome(&session, None),
        "Delete endpoint",
        body,
    ))
}

/// `POST /endpoints/{id}/delete`.
async fn delete(
    State(state): State<Arc<AppState>>,
    PathId(id): PathId,
    form: CsrfForm,
) -> DashResult<Response> {
    let endpoint = load(&state, &form.session, &id).await?;
    let _deleted = api::delete(
        State(Arc::clone(&state)),
        caller(&form.session),
        ApiPath(endpoint.id.to_string()),
    )
    .await?;
    Ok(Redirect::to("/endpoints?notice=deleted").into_response())
}
