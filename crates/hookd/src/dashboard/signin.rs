//! Signing in with an API key, and signing out.
//!
//! The key is checked by the API's own authentication (`api::auth::authenticate_headers`): the
//! same parsing, lookup, revocation and rate limit, and the same messages. Its workspace and mode
//! become the session's scope. The key itself is never stored, logged or echoed back.
//!
//! Wrong keys count against the source address in the API's own throttle
//! (`api/auth_throttle.rs`, `AppState::auth_throttle`): the form and the API share one budget, so
//! switching from curl to the sign-in page buys an attacker no extra guesses. A throttled address
//! gets the form back with 429, `Retry-After` and a sentence saying how long to wait, before its
//! key is looked at.

use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::csrf::{read_fields, token_matches, FIELD};
use super::errors::{DashError, DashResult};
use super::layout;
use super::session::{self, KeyBinding, Scope, Session};
use crate::api::error::ApiError;
use crate::api::AppState;
use crate::domain::api_key;

/// Whether `next` is a path on this server (not `//evil.example` or a full URL).
pub fn is_safe_next(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 512
        && !next.chars().any(|c| c.is_control() || c == '\\')
        && !next.starts_with("/sign-")
}

#[derive(Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
    /// Why the visitor is here (`signed_out`, `revoked`); fixed sentences, never echoed text.
    reason: Option<String>,
}

fn reason_text(reason: Option<&str>) -> Option<&'static str> {
    match reason? {
        "signed_out" => Some("You are signed out."),
        "revoked" => Some("The key you were signed in with was revoked, so you were signed out."),
        _ => None,
    }
}

fn form(next: Option<&str>, error: Option<&str>, notice: Option<&str>) -> Markup {
    let body = html! {
        main class="bare" {
            a class="brand" href="/sign-in" {
                span class="brand-mark" aria-hidden="true" { "\u{2B22}" } " hookd"
            }
            div class="card narrow" {
                h1 { "Sign in" }
                p class="lead" { "Use an API key of your workspace. A test key shows test data only; a live key shows live data." }
                @if let Some(notice) = notice { div class="notice" role="status" { (notice) } }
                form class="stack" method="post" action="/sign-in" {
                    @if let Some(next) = next.filter(|n| is_safe_next(n)) {
                        input type="hidden" name="next" value=(next);
                    }
                    div class="field" {
                        label for="api_key" { "API key" }
                        @if let Some(error) = error {
                            input id="api_key" name="api_key" type="password" autocomplete="off"
                                spellcheck="false" required aria-invalid="true"
                                aria-describedby="api_key-error api_key-hint" placeholder="scripe_sk_live_…";
                            p id="api_key-error" class="field-error" { (error) }
                        } @else {
                            input id="api_key" name="api_key" type="password" autocomplete="off"
                                spellcheck="false" required aria-describedby="api_key-hint"
                                placeholder="scripe_sk_live_…";
                        }
                        p id="api_key-hint" class="hint" {
                            "The first start of " code { "hookd serve" } " prints one live and one test key; "
                            code { "hookd keys create" } " makes more."
                        }
                    }
                    div class="form-actions" { button type="submit" { "Sign in" } }
                }
            }
        }
    };
    layout::bare("Sign in", body)
}

/// `GET /sign-in`.
pub async fn show(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<SignInQuery>,
) -> Response {
    if let Ok(Some(_)) = session::current(&state, &headers).await {
        return Redirect::to("/").into_response();
    }
    form(
        query.next.as_deref(),
        None,
        reason_text(query.reason.as_deref()),
    )
    .into_response()
}

/// A sign-in form posted from another site is refused (login CSRF): browsers send `Origin` on
/// every POST, and it must name this server, as the request's `Host` or (behind a proxy that
/// rewrites `Host`) as the configured `public_url`.
fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let public = state
        .config
        .public_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization());
    if public.as_deref() == Some(origin) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// `POST /sign-in`.
pub async fn submit(State(state): State<Arc<AppState>>, request: Request) -> Response {
    if !same_origin(&state, request.headers()) {
        return DashError::forbidden("Sign in from this server's own sign-in page.")
            .into_response();
    }
    let peer = crate::api::pipeline::peer(&request);
    if let Some(refused) = crate::api::pipeline::throttled(&state, peer) {
        // The API's refusal, worded for the form.
        let retry_after_secs = refused
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(60);
        return throttled(retry_after_secs);
    }
    let fields = match read_fields(request, &state).await {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let next = Some(fields.get("next")).filter(|n| is_safe_next(n));
    let key = fields.get("api_key").trim();
    if key.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            form(next, Some("Enter an API key."), None),
        )
            .into_response();
    }
    match open_key_session(&state, key).await {
        Ok(session) => {
            let mut response = Redirect::to(next.unwrap_or("/")).into_response();
            session::issue_cookie(&state, &session, response.headers_mut());
            response
        }
        Err(SignInError::Refused(error)) => {
            crate::api::pipeline::record_auth_failure(&state, peer, &error);
            (error.status(), form(next, Some(&error.to_string()), None)).into_response()
        }
        Err(SignInError::Page(error)) => error.into_response(),
    }
}

/// 429 for a throttled address: the form, with how long to wait, and `Retry-After`.
fn throttled(retry_after_secs: u64) -> Response {
    let message = format!(
        "Too many failed sign-in attempts from your address; try again in {retry_after_secs} s."
    );
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        form(None, Some(&message), None),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

enum SignInError {
    /// The key was not accepted: shown beside the field.
    Refused(ApiError),
    Page(DashError),
}

/// Checks `key` exactly as the API does and opens a session scoped to its workspace and mode.
async fn open_key_session(state: &AppState, key: &str) -> Result<Session, SignInError> {
    // The API's own shape check first: a key that is not even shaped like one (non-ASCII, say)
    // gets the API's "malformed" rather than a sentence about the Authorization header.
    if api_key::parse_mode(key).is_none() {
        return Err(SignInError::Refused(ApiError::Unauthorized(
            "The API key is malformed.".into(),
        )));
    }
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
        SignInError::Refused(ApiError::Unauthorized("The API key is malformed.".into()))
    })?;
    headers.insert(header::AUTHORIZATION, value);
    let authed = crate::api::auth::authenticate_headers(state, &headers)
        .await
        .map_err(|e| {
            if e.status().is_server_error() {
                SignInError::Page(e.into())
            } else {
                SignInError::Refused(e)
            }
        })?;
    let workspace_name = state
        .store
        .list_api_keys(Some(&authed.tenant.workspace_id))
        .await
        .map_err(|e| SignInError::Page(ApiError::from(e).into()))?
        .into_iter()
        .find(|record| record.id == authed.key_id)
        .map(|record| record.workspace_name)
        .unwrap_or_default();
    Ok(Session::new(
        state,
        Scope {
            workspace_id: authed.tenant.workspace_id,
            workspace_name,
            mode: authed.tenant.mode,
            project_id: None,
            read_only: false,
            key: Some(KeyBinding {
                id: authed.key_id,
                hash: api_key::hash(key),
            }),
        },
    ))
}

/// `POST /sign-out`: ends the session in this browser. Needs the CSRF token (a page elsewhere
/// must not sign people out), but works for read-only sessions too.
pub async fn sign_out(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> DashResult<Response> {
    let current = session::current(&state, request.headers())
        .await
        .map_err(|_| {
            DashError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                "The database is unavailable; retry shortly.",
            )
        })?;
    let fields = read_fields(request, &state).await.map_err(|_| {
        DashError::new(
            StatusCode::BAD_REQUEST,
            "Not a form",
            "Sign out from the dashboard's Sign out button.",
        )
    })?;
    if let Some(session) = &current {
        if !token_matches(session, fields.get(FIELD)) {
            return Err(DashError::forbidden(
                "This form could not be verified (its security token is missing or out of date). Reload the page and try again.",
            ));
        }
    }
    let mut response = Redirect::to("/sign-in?reason=signed_out").into_response();
    session::clear_cookie(&state, response.headers_mut());
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::is_safe_next;

    #[test]
    fn next_stays_on_this_server() {
        assert!(is_safe_next("/settings/integrations?x=1"));
        assert!(!is_safe_next("//evil.example/"));
        assert!(!is_safe_next("/\\evil.example"));
        assert!(!is_safe_next("https://evil.example/"));
        assert!(!is_safe_next("/sign-in"));
        assert!(!is_safe_next(&format!("/{}", "a".repeat(600))));
    }
}
