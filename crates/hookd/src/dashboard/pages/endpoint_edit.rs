//! *Edit endpoint*: name, URL, events, description and the delivery controls (filter, rate
//! limit, secret query parameters), through `PATCH /v1/webhook-endpoints/{id}` (the API's
//! checks, and its messages beside each field).
//!
//! The URL is shown as the API shows it, a password or secret query value masked as `****`;
//! sending that masked URL back unchanged keeps the stored secret (the API's rule), so saving
//! the form without touching the URL never loses a credential.

use crate::api::extract::Whole;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};

use super::endpoint_controls::{self, Controls};
use super::endpoints::{chrome, load};
use super::form_fields::{form_alert, messages, Input};
use super::scope::caller;
use super::PathId;
use crate::api::endpoints::{self as api, UpdateEndpoint};
use crate::api::extract::{ApiJson, ApiPath};
use crate::api::AppState;
use crate::dashboard::csrf::CsrfForm;
use crate::dashboard::errors::{DashError, DashResult, FormErrors};
use crate::dashboard::layout::{self, csrf_field};
use crate::dashboard::session::Session;
use crate::domain::endpoint::Endpoint;

const PLACED: &[&str] = &["name", "url", "events", "description"];

crate::dashboard::route_table::page_routes! {
    "/endpoints/{id}/edit" => get(edit).post(save),
}

struct Values {
    name: String,
    url: String,
    events: Vec<String>,
    description: String,
    controls: Controls,
}

fn form(
    state: &AppState,
    session: &Session,
    endpoint: &Endpoint,
    values: &Values,
    errors: &FormErrors,
) -> Markup {
    let events_error = errors.for_param("events");
    let body = html! {
        (layout::page_header(&format!("Edit {}", endpoint.name), None, html! {}))
        section class="card" aria-labelledby="edit-heading" {
            h2 id="edit-heading" class="skip-link" { "Endpoint settings" }
            (form_alert(errors, &[PLACED, endpoint_controls::PLACED].concat()))
            @if session.scope.read_only {
                p { "This session is read-only." }
            } @else {
                form class="stack" method="post" action={ "/endpoints/" (endpoint.id) "/edit" } {
                    (csrf_field(session))
                    (Input::text("name", "Name", "name", &values.name).required().render(errors))
                    (Input::text("url", "URL", "url", &values.url).kind("url").required().render(errors))
                    fieldset class="field" aria-describedby=[events_error.map(|_| "events-error")] {
                        legend { "Events to send" }
                        div class="catalog" {
                            @for t in state.catalog.types() {
                                label class="radio-row" {
                                    input type="checkbox" name="events" value=(t.name)
                                        checked[values.events.iter().any(|e| e == &t.name)];
                                    " " code { (t.name) }
                                }
                            }
                        }
                        (messages("events", None, events_error))
                    }
                    (Input::text("description", "Description", "description", &values.description).render(errors))
                    (values.controls.render(errors, Some(endpoint)))
                    div class="form-actions" {
                        button type="submit" { "Save" }
                        a class="button secondary" href={ "/endpoints/" (endpoint.id) } { "Cancel" }
                    }
                }
            }
        }
    };
    layout::page(&chrome(session, None), "Edit endpoint", body)
}

/// `GET /endpoints/{id}/edit`.
async fn edit(
    State(state): State<Arc<AppState>>,
    session: Session,
    PathId(id): PathId,
) -> DashResult<Markup> {
    let endpoint = load(&state, &session, &id).await?;
    let values = Values {
        name: endpoint.name.clone(),
        url: endpoint.url.clone(),
        events: endpoint.events.clone(),
        description: endpoint.description.clone(),
        controls: Controls::from_endpoint(&endpoint),
    };
    Ok(form(
        &state,
        &session,
        &endpoint,
        &values,
        &FormErrors::default(),
    ))
}

/// `POST /endpoints/{id}/edit`.
async fn save(
    State(state): State<Arc<AppState>>,
    PathId(id): PathId,
    form_data: CsrfForm,
) -> DashResult<Response> {
    let CsrfForm { session, fields } = form_data;
    let endpoint = load(&state, &session, &id).await?;
    let values = Values {
        name: fields.get("name").to_string(),
        url: fields.get("url").trim().to_string(),
        events: fields
            .all("events")
            .into_iter()
            .map(str::to_string)
            .collect(),
        description: fields.get("description").to_string(),
        controls: Controls::from_fields(&fields),
    };
    let parsed = values
        .controls
        .rate_limit()
        .and_then(|rate| Ok((rate, values.controls.metadata()?)));
    let (rate_limit, metadata) = match parsed {
        Ok(parsed) => parsed,
        Err(errors) => {
            return Ok((
                StatusCode::BAD_REQUEST,
                form(&state, &session, &endpoint, &values, &errors),
            )
                .into_response())
        }
    };
    let filter = values.controls.filter();
    // The saved OAuth2 credentials, opened here on the server (never sent to the browser), so a
    // blank secret keeps the saved one.
    let saved_auth = match state
        .store
        .get_endpoint(&caller(&session).tenant, &endpoint.id)
        .await
        .map_err(|e| DashError::from(crate::api::error::ApiError::from(e)))?
    {
        Some(stored) => crate::oauth2::open_endpoint_auth(&state.cipher, &stored.auth_sealed)
            .map_err(|e| DashError::from(crate::api::error::ApiError::Internal(e.into())))?,
        None => return Err(DashError::not_found()),
    };
    let secret_query_params = values.controls.secret_query_params();
    let patch = UpdateEndpoint {
        name: Some(values.name.clone()),
        url: Some(values.url.clone()),
        events: Some(values.events.clone()),
        project_id: None,
        is_active: None,
        description: Some(values.description.clone()),
        metadata: (metadata != endpoint.metadata).then_some(metadata),
        auth: values
            .controls
            .auth_for_update(&endpoint, saved_auth.as_ref()),
        // Only what changed: a blank field removes a saved value.
        filter: (filter != endpoint.filter).then_some(filter),
        rate_limit_per_sec: (rate_limit != endpoint.rate_limit_per_sec.map(u64::from))
            .then_some(rate_limit.map(Whole::from)),
        secret_query_params: (secret_query_params != endpoint.secret_query_params)
            .then_some(secret_query_params),
    };
    match api::update(
        State(Arc::clone(&state)),
        caller(&session),
        ApiPath(endpoint.id.to_string()),
        ApiJson(patch),
    )
    .await
    {
        Ok(_) => {
            Ok(Redirect::to(&format!("/endpoints/{}?notice=saved", endpoint.id)).into_response())
        }
        Err(error) => {
            let status = error.status();
            if status == StatusCode::NOT_FOUND {
                return Err(DashError::not_found());
            }
            let errors = FormErrors::from_api(error)?;
            Ok((status, form(&state, &session, &endpoint, &values, &errors)).into_response())
        }
    }
}
