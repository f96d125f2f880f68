//! Settings → Integrations: the list by name, the Custom Webhook form (new and edit), an
//! integration's page (configuration, Try it, call log) and Disconnect with its confirmation.
//! Every action goes through the API's handlers in `api::integrations`.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use maud::{html, Markup};

use super::integration_form::{self, IntegrationForm};
use super::integration_try::{self, TryResult};
use super::{settings_caller, NoticeQuery, PathId};
use crate::api::auth::Authed;
use crate::api::extract::{ApiJson, ApiQuery};
use crate::api::integrations as api;
use crate::api::pagination::Data;
use crate::api::AppState;
use crate::dashboard::csrf::CsrfForm;
use crate::dashboard::errors::{DashError, DashResult, FormErrors};
use crate::dashboard::layout::{self, csrf_field, Chrome};
use crate::dashboard::session::Session;
use crate::domain::integration::{tool_name, AuthConfig, AuthView, HeaderSecrets, Integration};
use crate::store::{IntegrationFilter, PageRequest};

const ACTIVE: &str = "/settings/integrations";
const NOTICES: &[(&str, &str)] = &[
    (
        "created",
        "Integration saved. Scripts, the CLI and agents can call it by name now.",
    ),
    ("saved", "Changes saved."),
    (
        "disconnected",
        "Integration disconnected. Calls to it now fail with integration_disconnected.",
    ),
];

crate::dashboard::route_table::page_routes! {
    "/settings/integrations" => get(list),
    "/settings/integrations/new" => get(new).post(create),
    "/settings/integrations/{id}" => get(detail),
    "/settings/integrations/{id}/edit" => get(edit).post(update),
    "/settings/integrations/{id}/try" => post(try_it),
    "/settings/integrations/{id}/disconnect" => get(confirm_disconnect).post(disconnect),
}

fn chrome<'a>(session: &'a Session, notice: Option<&'a str>) -> Chrome<'a> {
    Chrome {
        session,
        active: ACTIVE,
        notice,
    }
}

/// Every connected integration of the tenant, sorted by name (case-insensitively).
async fn all_by_name(state: &AppState, authed: &Authed) -> DashResult<Vec<Integration>> {
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = state
            .store
            .list_integrations(
                &authed.tenant,
                &IntegrationFilter::default(),
                &PageRequest::new(100, cursor.take()),
            )
            .await
            .map_err(|e| DashError::from(crate::api::error::ApiError::from(e)))?;
        cursor = page.items.last().map(|i| i.id.to_string());
        all.extend(page.items);
        if !page.has_more || cursor.is_none() {
            break;
        }
    }
    all.sort_by_key(|i| i.name.to_lowercase());
    Ok(all)
}

fn auth_summary(auth: &AuthView) -> String {
    match auth {
        AuthView::None => "No auth".to_string(),
        AuthView::Bearer { token_last4 } => match token_last4 {
            Some(l) => format!("Bearer …{l}"),
            None => "Bearer".to_string(),
        },
        AuthView::Header { name, value_last4 } => match value_last4 {
            Some(l) => format!("{name}: …{l}"),
            None => name.clone(),
        },
        AuthView::Basic { username_last4, .. } => match username_last4 {
            Some(l) => format!("Basic (user …{l})"),
            None => "Basic".to_string(),
        },
        AuthView::OAuth2ClientCredentials(view) => {
            format!("OAuth2 client credentials ({})", view.client_id)
        }
    }
}

fn actions_menu(integration: &Integration) -> Markup {
    let base = format!("/settings/integrations/{}", integration.id);
    html! {
        details class="menu" {
            summary aria-label={ "Actions for " (integration.name) } { "···" }
            ul {
                li { a href={ (base) "/edit" } { "Edit" } }
                li { a class="danger-text" href={ (base) "/disconnect" } { "Disconnect" } }
            }
        }
    }
}

fn catalog() -> Markup {
    html! {
        section aria-labelledby="add-heading" {
            h2 id="add-heading" { "Add an integration" }
            div class="catalog" {
                a class="tile" href="/settings/integrations/new" {
                    strong { "Custom Webhook" }
                    span class="muted" { "Send HTTP requests to any URL: internal services, private APIs, your own backend." }
                }
            }
        }
    }
}

/// `GET /settings/integrations`.
async fn list(
    State(state): State<Arc<AppState>>,
    session: Session,
    Query(notice): Query<NoticeQuery>,
) -> DashResult<Markup> {
    let authed = settings_caller(&session)?;
    let integrations = all_by_name(&state, &authed).await?;
    let body = html! {
        (layout::page_header("Integrations",
            Some("Named outbound connections that scripts, the CLI and agents call by name, with the URL, headers and authentication configured once."),
            html! { a class="button" href="/settings/integrations/new" { "Add Custom Webhook" } }))
        @if integrations.is_empty() {
            (layout::empty_state("No integrations yet", html! {
                p { "Connect your first one with " strong { "Custom Webhook" } " below: enter the URL, headers and authentication, name it, and save. Then try it from its page, or call it with " code { "hookd call NAME" } "." }
            }))
        } @else {
            div class="table-wrap has-menu" {
                table {
                    caption class="sr-only" { "Connected integrations" }
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Endpoint" } th scope="col" class="hide-sm" { "Auth" } th scope="col" { span class="sr-only" { "Actions" } } } }
                    tbody {
                        @for integration in &integrations {
                            tr {
                                td { a class="name-link" href={ "/settings/integrations/" (integration.id) } { (integration.name) } }
                                td { span class="badge" { (integration.method.as_str()) } " " span class="url" { (integration.url) } }
                                td class="hide-sm" { (auth_summary(&integration.auth)) }
                                td class="actions" { (actions_menu(integration)) }
                            }
                        }
                    }
                }
            }
        }
        (catalog())
    };
    Ok(layout::page(
        &chrome(&session, notice.text(NOTICES)),
        "Integrations",
        body,
    ))
}

fn form_page(
    session: &Session,
    title: &str,
    action: &str,
    form: &IntegrationForm,
    errors: &FormErrors,
    existing: Option<&Integration>,
) -> Markup {
    let body = html! {
        (layout::page_header(title,
            Some("A generic outbound HTTP connection. Configure it once; calls pass a payload and read the response."),
            html! {}))
        (integration_form::render(session, action, form, errors, existing))
    };
    layout::page(&chrome(session, None), title, body)
}

/// `GET /settings/integrations/new`.
async fn new(session: Session) -> DashResult<Markup> {
    settings_caller(&session)?;
    Ok(form_page(
        &session,
        "Custom Webhook",
        "/settings/integrations/new",
        &IntegrationForm::blank(),
        &FormErrors::default(),
        None,
    ))
}

/// A refused form: the page again, filled in, with the errors beside their fields.
fn refused(
    session: &Session,
    title: &str,
    action: &str,
    form: &IntegrationForm,
    errors: FormErrors,
    existing: Option<&Integration>,
) -> Response {
    (
        axum::http::StatusCode::BAD_REQUEST,
        form_page(session, title, action, form, &errors, existing),
    )
        .into_response()
}

/// `POST /settings/integrations/new`.
async fn create(State(state): State<Arc<AppState>>, form: CsrfForm) -> DashResult<Response> {
    let CsrfForm { session, fields } = form;
    let authed = settings_caller(&session)?;
    let typed = IntegrationForm::from_fields(&fields);
    let action = "/settings/integrations/new";
    let body = match typed.to_create() {
        Ok(body) => body,
        Err(errors) => {
            return Ok(refused(
                &session,
                "Custom Webhook",
                action,
                &typed,
                errors,
                None,
            ))
        }
    };
    match api::create(State(Arc::clone(&state)), authed, ApiJson(body)).await {
        Ok((_, Json(Data { data }))) => Ok(Redirect::to(&format!(
            "/settings/integrations/{}?notice=created",
            data.id
        ))
        .into_response()),
        Err(error) => {
            let errors = FormErrors::from_api(error)?;
            Ok(refused(
                &session,
                "Custom Webhook",
                action,
                &typed,
                errors,
                None,
            ))
        }
    }
}

/// The integration, its saved headers and its saved auth (for "blank keeps the saved value";
/// opened here on the server, never sent to the browser).
async fn load(
    state: &AppState,
    authed: &Authed,
    id: &str,
) -> DashResult<(Integration, HeaderSecrets, AuthConfig)> {
    let stored = api::load_connected(state, &authed.tenant, id).await?;
    let internal =
        |e| DashError::from(crate::api::error::ApiError::Internal(anyhow::Error::new(e)));
    let headers = state
        .cipher
        .open_json(&stored.headers_sealed)
        .map_err(internal)?;
    let auth = state
        .cipher
        .open_json(&stored.auth_sealed)
        .map_err(internal)?;
    Ok((stored.integration, headers, auth))
}

/// `GET /settings/integrations/{id}/edit`.
async fn edit(
    State(state): State<Arc<AppState>>,
    session: Session,
    PathId(id): PathId,
) -> DashResult<Markup> {
    let authed = settings_caller(&session)?;
    let (integration, _, _) = load(&state, &authed, &id).await?;
    Ok(form_page(
        &session,
        &format!("Edit {}", integration.name),
        &format!("/settings/integrations/{}/edit", integration.id),
        &IntegrationForm::from_integration(&integration),
        &FormErrors::default(),
        Some(&integration),
    ))
}

/// `POST /settings/integrations/{id}/edit`.
async fn update(
    State(state): State<Arc<AppState>>,
    PathId(id): PathId,
    form: CsrfForm,
) -> DashResult<Response> {
    let CsrfForm { session, fields } = form;
    let authed = settings_caller(&session)?;
    let (integration, saved_headers, saved_auth) = load(&state, &authed, &id).await?;
    let typed = IntegrationForm::from_fields(&fields);
    let title = format!("Edit {}", integration.name);
    let action = format!("/settings/integrations/{}/edit", integration.id);
    let body = match typed.to_update(&integration, &saved_headers, Some(&saved_auth)) {
        Ok(body) => body,
        Err(errors) => {
            return Ok(refused(
                &session,
                &title,
                &action,
                &typed,
                errors,
                Some(&integration),
            ))
        }
    };
    match api::update(State(Arc::clone(&state)), authed, Path(id), ApiJson(body)).await {
        Ok(Json(Data { data })) => Ok(Redirect::to(&format!(
            "/settings/integrations/{}?notice=saved",
            data.integration.id
        ))
        .into_response()),
        Err(error) => {
            let errors = FormErrors::from_api(error)?;
            Ok(refused(
                &session,
                &title,
                &action,
                &typed,
                errors,
                Some(&integration),
            ))
        }
    }
}

/// The MCP tool name `integration` gets among the tenant's connected integrations (the same
/// assignment as the MCP server's, collisions included); `None` once disconnected.
async fn tool_name_of(
    state: &AppState,
    authed: &Authed,
    integration: &Integration,
) -> DashResult<Option<String>> {
    if integration.disconnected_at.is_some() {
        return Ok(None);
    }
    let all = all_by_name(state, authed).await?;
    let ids: Vec<String> = all.iter().map(|i| i.id.to_string()).collect();
    let pairs: Vec<(&str, &str)> = ids
        .iter()
        .zip(&all)
        .map(|(id, i)| (id.as_str(), i.name.as_str()))
        .collect();
    let names = tool_name::assign(&pairs, crate::mcp::tools::GENERIC);
    Ok(all
        .iter()
        .zip(names)
        .find(|(i, _)| i.id == integration.id)
        .map(|(_, name)| name))
}

fn policy_summary(integration: &Integration, tool: Option<&str>) -> Markup {
    html! {
        dl class="summary" data-test="call-policy" {
            dt { "Description" } dd {
                @match &integration.description {
                    Some(d) => { (d) },
                    None => { span class="muted" { "None. Agents see only the name; add one so they know what it does." } },
                }
            }
            dt { "Allowed methods" } dd {
                @for m in &integration.allowed_methods { span class="badge" { (m.as_str()) } " " }
            }
            dt { "Allowed paths" } dd {
                @if integration.allowed_path_prefixes.is_empty() {
                    span class="muted" { "None: calls may not set a path." }
                }
                @for p in &integration.allowed_path_prefixes { div { code { (p) } " and below" } }
            }
            dt { "Caller headers" } dd {
                @if integration.allow_caller_headers { "Allowed" } @else { span class="muted" { "Not allowed" } }
            }
            dt { "MCP tool" } dd {
                @match tool {
                    Some(tool) => { code data-test="tool-name" { (tool) } },
                    None => { span class="muted" { "None (disconnected)" } },
                }
            }
        }
    }
}

fn summary(integration: &Integration) -> Markup {
    html! {
        dl class="summary" {
            dt { "URL" } dd { span class="url" { (integration.url) } }
            dt { "Method" } dd { span class="badge" { (integration.method.as_str()) } }
            dt { "Headers" } dd {
                @if integration.headers.is_empty() { span class="muted" { "None" } }
                @for (name, view) in &integration.headers {
                    div { code { (name) } ": " span class="muted" { @match &view.value_last4 { Some(l) => { "…" (l) }, None => { "(hidden)" } } } }
                }
            }
            dt { "Authentication" } dd { (auth_summary(&integration.auth)) }
            dt { "Content type" } dd { code { (integration.content_type) } }
            dt { "Timeout" } dd { (integration.timeout_ms) " ms" }
            dt { "Created" } dd { (layout::when(integration.created_at)) }
        }
    }
}

/// The integration's page, with the result of a Try it when there is one.
async fn detail_page(
    state: &Arc<AppState>,
    session: &Session,
    authed: Authed,
    id: String,
    notice: Option<&str>,
    tried: Option<(integration_try::TryForm, TryResult)>,
) -> DashResult<Markup> {
    let Json(Data { data: integration }) =
        api::get(State(Arc::clone(state)), authed.clone(), Path(id.clone())).await?;
    let tool = tool_name_of(state, &authed, &integration).await?;
    let calls = crate::api::integration_calls::list(
        State(Arc::clone(state)),
        authed,
        Path(id),
        ApiQuery(crate::api::integration_calls::ListCallsQuery {
            limit: Some("20".into()),
            cursor: None,
        }),
    )
    .await?
    .0
    .data;
    let body = html! {
        (layout::page_header(&integration.name, Some("Custom Webhook"), html! {
            a class="button secondary" href={ "/settings/integrations/" (integration.id) "/edit" } { "Edit" }
            (actions_menu(&integration))
        }))
        section class="card" aria-labelledby="config-heading" {
            h2 id="config-heading" { "Configuration" }
            (summary(&integration))
        }
        section class="card" aria-labelledby="policy-heading" {
            h2 id="policy-heading" { "Callers and agents" }
            (policy_summary(&integration, tool.as_deref()))
        }
        (integration_try::panel(session, &integration, tried.as_ref()))
        (integration_try::call_log(&calls))
    };
    Ok(layout::page(
        &chrome(session, notice),
        &integration.name,
        body,
    ))
}

/// `GET /settings/integrations/{id}`.
async fn detail(
    State(state): State<Arc<AppState>>,
    session: Session,
    PathId(id): PathId,
    Query(notice): Query<NoticeQuery>,
) -> DashResult<Markup> {
    let authed = settings_caller(&session)?;
    detail_page(&state, &session, authed, id, notice.text(NOTICES), None).await
}

/// `POST /settings/integrations/{id}/try`: one call, then the page with its answer (htmx swaps
/// in only the result panel and the call log). A refused form or an upstream failure is also a
/// 200: it is the answer the panel shows, and htmx swaps in only 2xx answers.
async fn try_it(
    State(state): State<Arc<AppState>>,
    PathId(id): PathId,
    form: CsrfForm,
) -> DashResult<Markup> {
    let CsrfForm { session, fields } = form;
    let authed = settings_caller(&session)?;
    let (integration, _, _) = load(&state, &authed, &id).await?;
    let typed = integration_try::TryForm::from_fields(&fields);
    let result = integration_try::run(&state, authed.clone(), &integration, &typed).await?;
    detail_page(&state, &session, authed, id, None, Some((typed, result))).await
}

/// `GET /settings/integrations/{id}/disconnect`: the confirmation.
async fn confirm_disconnect(
    State(state): State<Arc<AppState>>,
    session: Session,
    PathId(id): PathId,
) -> DashResult<Markup> {
    let authed = settings_caller(&session)?;
    let (integration, _, _) = load(&state, &authed, &id).await?;
    let title = format!("Disconnect {}?", integration.name);
    let body = html! {
        div class="card narrow" {
            h1 { (title) }
            p class="warning" {
                strong { "Scripts and agents calling it will fail from then on." }
                " Every call to " strong { (integration.name) } " — from scripts, the CLI and AI agents — will be refused with "
                code { "integration_disconnected" } ". Update or rebuild them before disconnecting."
            }
            p { "This cannot be undone; to connect again, add a new Custom Webhook." }
            form method="post" action={ "/settings/integrations/" (integration.id) "/disconnect" } class="form-actions" {
                (csrf_field(&session))
                button type="submit" class="danger" { "Disconnect" }
                a class="button secondary" href={ "/settings/integrations/" (integration.id) } { "Cancel" }
            }
        }
    };
    Ok(layout::page(&chrome(&session, None), &title, body))
}

/// `POST /settings/integrations/{id}/disconnect`.
async fn disconnect(
    State(state): State<Arc<AppState>>,
    PathId(id): PathId,
    form: CsrfForm,
) -> DashResult<Response> {
    let authed = settings_caller(&form.session)?;
    let _deleted = api::delete(State(state), authed, Path(id)).await?;
    Ok(Redirect::to("/settings/integrations?notice=disconnected").into_response())
}
