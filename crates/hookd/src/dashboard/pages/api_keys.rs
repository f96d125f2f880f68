//! Settings → API keys: create (the key shown once, with a copy button), list, revoke.
//!
//! Keys are listed and managed for the session's workspace and mode only: a test session never
//! sees or revokes live keys. Creation goes through `admin::create_named_key` (the CLI's path:
//! same name rule, same hashing); revoking the key this session was opened with signs it out.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};

use super::form_fields::Input;
use super::{settings_caller, NoticeQuery, PathId};
use crate::api::auth::Authed;
use crate::api::error::ApiError;
use crate::api::AppState;
use crate::dashboard::csrf::CsrfForm;
use crate::dashboard::errors::{DashError, DashResult, FormErrors};
use crate::dashboard::layout::{self, csrf_field, Chrome};
use crate::dashboard::session::{self, Session};
use crate::domain::ids::ApiKeyId;
use crate::domain::time::Timestamp;
use crate::store::ApiKeyRecord;

const ACTIVE: &str = "/settings/api-keys";
const NOTICES: &[(&str, &str)] = &[(
    "revoked",
    "Key revoked. Requests with it are refused from now on.",
)];

crate::dashboard::route_table::page_routes! {
    "/settings/api-keys" => get(list).post(create),
    "/settings/api-keys/{id}/revoke" => get(confirm_revoke).post(revoke),
}

/// The unrevoked keys of the caller's workspace and mode, newest first.
async fn keys(state: &AppState, authed: &Authed) -> DashResult<Vec<ApiKeyRecord>> {
    let mut keys: Vec<ApiKeyRecord> = state
        .store
        .list_api_keys(Some(&authed.tenant.workspace_id))
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .filter(|k| k.mode == authed.tenant.mode && k.revoked_at.is_none())
        .collect();
    keys.sort_by_key(|k| std::cmp::Reverse(k.created_at));
    Ok(keys)
}

/// One key of the caller's workspace and mode, or 404.
async fn find_key(state: &AppState, authed: &Authed, raw_id: &str) -> DashResult<ApiKeyRecord> {
    let id = ApiKeyId::parse(raw_id).map_err(|_| DashError::not_found())?;
    keys(state, authed)
        .await?
        .into_iter()
        .find(|k| k.id == id)
        .ok_or_else(DashError::not_found)
}

fn page(
    session: &Session,
    keys: &[ApiKeyRecord],
    created: Option<&str>,
    name: &str,
    errors: &FormErrors,
    notice: Option<&str>,
) -> Markup {
    let own = session.scope.key.as_ref().map(|k| &k.id);
    let mode = session.scope.mode.as_str();
    let body = html! {
        (layout::page_header("API keys",
            Some("Keys authenticate scripts, the CLI and agents against this workspace. Each key sees only its mode's data."),
            html! {}))
        @if let Some(key) = created {
            section class="card" aria-labelledby="new-key-heading" {
                h2 id="new-key-heading" { "Your new key" }
                p class="warning" { strong { "Copy it now." } " It is shown only this once; hookd keeps only a hash of it." }
                div class="secret-box" {
                    label for="new-key" class="sr-only" { "New API key" }
                    input id="new-key" type="text" readonly value=(key) spellcheck="false";
                    button type="button" class="secondary" data-copy="new-key" { "Copy" }
                }
            }
        }
        section class="card" aria-labelledby="create-heading" {
            h2 id="create-heading" { "Create a " (mode) " key" }
            form class="stack" method="post" action="/settings/api-keys" {
                (csrf_field(session))
                (Input::text("name", "Name (optional)", "name", name)
                    .placeholder("CI deploy script")
                    .hint("A label to recognise the key by; up to 64 characters.")
                    .render(errors))
                div class="form-actions" { button type="submit" { "Create key" } }
            }
        }
        h2 { "Active " (mode) " keys" }
        @if keys.is_empty() {
            (layout::empty_state("No active keys", html! { p { "Create one above; it is shown once, so store it in your secret manager." } }))
        } @else {
            div class="table-wrap" {
                table {
                    thead { tr {
                        th scope="col" { "Name" } th scope="col" { "Key" } th scope="col" { "Mode" }
                        th scope="col" { "Created" } th scope="col" { "Last used" } th scope="col" { span class="sr-only" { "Actions" } }
                    } }
                    tbody {
                        @for key in keys {
                            tr {
                                td {
                                    (key.name.as_deref().unwrap_or("Unnamed"))
                                    @if Some(&key.id) == own { " " span class="badge" { "This session" } }
                                }
                                td { code { (key.prefix) "…" (key.last4) } }
                                td { span class={ "mode-pill mode-" (key.mode.as_str()) } { (key.mode.as_str()) } }
                                td class="nowrap" { (layout::when(key.created_at)) }
                                td {
                                    @match key.last_used_at {
                                        Some(at) => { span class="nowrap" { (layout::when(at)) } }
                                        None => { span class="muted" { "Never" } }
                                    }
                                }
                                td class="actions" {
                                    a class="button secondary small" href={ "/settings/api-keys/" (key.id) "/revoke" }
                                        aria-label={ "Revoke " (key.prefix) "…" (key.last4) } { "Revoke" }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout::page(
        &Chrome {
            session,
            active: ACTIVE,
            notice,
        },
        "API keys",
        body,
    )
}

/// `GET /settings/api-keys`.
async fn list(
    State(state): State<Arc<AppState>>,
    session: Session,
    Query(notice): Query<NoticeQuery>,
) -> DashResult<Markup> {
    let authed = settings_caller(&session)?;
    let keys = keys(&state, &authed).await?;
    Ok(page(
        &session,
        &keys,
        None,
        "",
        &FormErrors::default(),
        notice.text(NOTICES),
    ))
}

/// `POST /settings/api-keys`: mints a key of the session's workspace and mode.
async fn create(State(state): State<Arc<AppState>>, form: CsrfForm) -> DashResult<Response> {
    let CsrfForm { session, fields } = form;
    let authed = settings_caller(&session)?;
    let name = fields.get("name").trim();
    if !name.is_empty() {
        if let Err(e) = crate::admin::validate_key_name(name) {
            let keys = keys(&state, &authed).await?;
            let errors = FormErrors::field("name", e.to_string());
            return Ok((
                StatusCode::BAD_REQUEST,
                page(&session, &keys, None, name, &errors, None),
            )
                .into_response());
        }
    }
    let workspace = state
        .store
        .list_workspaces()
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .find(|w| w.id == authed.tenant.workspace_id && w.deleted_at.is_none())
        .ok_or_else(|| DashError::forbidden("This workspace was deleted."))?;
    let (_, plaintext) = crate::admin::create_named_key(
        &state.store,
        &workspace.name,
        authed.tenant.mode,
        (!name.is_empty()).then_some(name),
    )
    .await
    .map_err(|e| DashError::from(ApiError::Internal(e)))?;
    let keys = keys(&state, &authed).await?;
    Ok((
        StatusCode::CREATED,
        page(
            &session,
            &keys,
            Some(&plaintext),
            "",
            &FormErrors::default(),
            Some("Key created."),
        ),
    )
        .into_response())
}

/// `GET /settings/api-keys/{id}/revoke`: the confirmation.
async fn confirm_revoke(
    State(state): State<Arc<AppState>>,
    session: Session,
    PathId(id): PathId,
) -> DashResult<Markup> {
    let authed = settings_caller(&session)?;
    let key = find_key(&state, &authed, &id).await?;
    let own = authed.key_id == key.id;
    let shown = format!("{}…{}", key.prefix, key.last4);
    let body = html! {
        div class="card narrow" {
            h1 { "Revoke " code { (shown) } "?" }
            p class="warning" {
                "Every script, CLI and agent using this key gets " code { "401 unauthorized" } " from the moment you revoke it. This cannot be undone."
            }
            @if own {
                p { strong { "You are signed in with this key:" } " revoking it signs you out." }
            }
            form method="post" action={ "/settings/api-keys/" (key.id) "/revoke" } class="form-actions" {
                (csrf_field(&session))
                button type="submit" class="danger" { "Revoke key" }
                a class="button secondary" href="/settings/api-keys" { "Cancel" }
            }
        }
    };
    Ok(layout::page(
        &Chrome {
            session: &session,
            active: ACTIVE,
            notice: None,
        },
        "Revoke key",
        body,
    ))
}

/// `POST /settings/api-keys/{id}/revoke`.
async fn revoke(
    State(state): State<Arc<AppState>>,
    PathId(id): PathId,
    form: CsrfForm,
) -> DashResult<Response> {
    let authed = settings_caller(&form.session)?;
    let key = find_key(&state, &authed, &id).await?;
    state
        .store
        .revoke_api_key(&key.id, Timestamp::now())
        .await
        .map_err(ApiError::from)?;
    if key.id == authed.key_id {
        let mut response = Redirect::to("/sign-in?reason=revoked").into_response();
        session::clear_cookie(&state, response.headers_mut());
        return Ok(response);
    }
    Ok(Redirect::to("/settings/api-keys?notice=revoked").into_response())
}
