//! The customer portal's door: `GET /portal/{token}` redeems a one-time link made by
//! `POST /v1/portal-sessions` and signs the browser in with the link's scope (its workspace and
//! mode, optionally one project, optionally read-only), until the link's expiry.
//!
//! Framing. The portal is meant to be shown inside a host application, often in an `<iframe>` of
//! another site; the rest of the dashboard never is. So pages of portal sessions (and the door
//! itself) get `frame-ancestors` from `portal_frame_ancestors` (none when empty) instead of
//! `'none'`, and no `X-Frame-Options` (it cannot name origins; browsers that know CSP ignore it
//! when `frame-ancestors` is present). A cookie set inside a cross-site frame is a third-party
//! cookie: with an `https://` `public_url` the portal's cookie is `SameSite=None; Secure;
//! Partitioned` (CHIPS: kept per embedding site, so another site framing hookd never carries
//! it); without https it stays `SameSite=Strict`, which works for same-site embedding and for
//! opening the link in its own tab. CSRF tokens guard every form either way.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};

use super::errors::DashError;
use super::pages::PathId;
use super::session::{self, Scope, Session, COOKIE_NAME};
use crate::api::AppState;
use crate::domain::portal;
use crate::domain::time::Timestamp;

/// Where links are redeemed (`api::portal_sessions` builds the URLs).
pub const ROUTE: &str = "/portal/{token}";

fn refused() -> DashError {
    DashError::new(
        StatusCode::NOT_FOUND,
        "Link expired or used",
        "This portal link has already been used, has expired, or is not valid. Ask the application that sent you here for a new one.",
    )
}

/// `GET /portal/{token}`: redeems the link once and opens the portal.
pub async fn redeem(State(state): State<Arc<AppState>>, PathId(token): PathId) -> Response {
    // A path that is not even shaped like a token costs no database lookup.
    if !portal::looks_like_token(&token) {
        return refused().into_response();
    }
    let scope = match state
        .store
        .redeem_portal_link(&portal::hash_token(&token), Timestamp::now())
        .await
    {
        Ok(Some(scope)) => scope,
        Ok(None) => return refused().into_response(),
        Err(e) => return DashError::from(crate::api::error::ApiError::from(e)).into_response(),
    };
    let mut session = Session::new(
        &state,
        Scope {
            workspace_id: scope.tenant.workspace_id.clone(),
            workspace_name: scope.workspace_name.clone(),
            mode: scope.tenant.mode,
            project_id: scope.project_id.clone(),
            read_only: scope.read_only,
            key: None,
        },
    );
    // The portal session ends with the link, or earlier if sessions are configured shorter.
    session.expires_at = session.expires_at.min(scope.expires_at.as_unix_seconds());
    let mut response = Redirect::to("/").into_response();
    issue_portal_cookie(&state, &session, response.headers_mut());
    response
}

/// The portal session's cookie (see the module docs for its `SameSite`).
fn issue_portal_cookie(state: &AppState, session: &Session, headers: &mut HeaderMap) {
    let max_age = (session.expires_at - Timestamp::now().as_unix_seconds()).max(0);
    let secure = session::secure(state);
    let cookie = Cookie::build((COOKIE_NAME, state.sessions.seal(session)))
        .path("/")
        .http_only(true)
        .same_site(if secure {
            SameSite::None
        } else {
            SameSite::Strict
        })
        .secure(secure)
        .partitioned(secure)
        .max_age(cookie::time::Duration::seconds(max_age))
        .build();
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        headers.append(SET_COOKIE, value);
    }
}

/// Whether a request belongs to the portal: the door itself, or a page of a portal session.
pub fn is_portal_request(state: &AppState, path: &str, headers: &HeaderMap) -> bool {
    path.starts_with("/portal/")
        || session::cookie_value(headers)
            .and_then(|value| state.sessions.open(&value))
            .is_some_and(|s| s.scope.is_portal())
}

/// The `frame-ancestors` source list of portal pages.
pub fn frame_ancestors(state: &AppState) -> String {
    if state.config.portal_frame_ancestors.is_empty() {
        return "'none'".to_string();
    }
    state
        .config
        .portal_frame_ancestors
        .iter()
        .map(|origin| origin.trim_end_matches('/'))
        .collect::<Vec<_>>()
        .join(" ")
}
