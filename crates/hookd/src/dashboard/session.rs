//! Dashboard sessions: who is signed in, to what, until when.
//!
//! A session is a [`Scope`] (workspace + mode, optionally one project, optionally read-only, and
//! the API key it was opened with, if any) plus a CSRF token and an expiry. It lives in one
//! cookie, sealed with AES-256-GCM under a key derived from the master key for this purpose only
//! (so a sealed secret from the database can never be replayed as a cookie, nor the reverse).
//!
//! Why a sealed cookie and not a sessions table: nothing to clean up, nothing to migrate, and
//! every node of a PostgreSQL cluster can read it. What a server-side table would add is
//! revocation of one session; here, signing out clears the cookie, a session ends at its expiry
//! (`dashboard_session_ttl`), and every session opened with a key ends the moment that key is
//! revoked, because each request looks the key up again (the cookie carries the key's SHA-256,
//! exactly what the database stores, never the key).
//!
//! Portal sessions (`POST /v1/portal-sessions`) use the same cookie with a scope that has no
//! key, a `project_id` and possibly `read_only`: see [`open_portal_session`].

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use cookie::{Cookie, SameSite};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::api::auth::Authed;
use crate::api::AppState;
use crate::crypto::Cipher;
use crate::domain::ids::{ApiKeyId, WorkspaceId};
use crate::domain::tenant::{Mode, Tenant};
use crate::domain::time::Timestamp;

/// The cookie's name.
pub const COOKIE_NAME: &str = "hookd_session";

/// Seals and opens session cookies; derived from the master key at start-up.
#[derive(Clone, Debug)]
pub struct SessionKeys {
    cipher: Cipher,
}

impl SessionKeys {
    /// A key of its own: SHA-256 over a purpose label and the master key.
    pub fn derive(master_key: &[u8; 32]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"hookd dashboard session cookie v1\0");
        hasher.update(master_key);
        let key: [u8; 32] = hasher.finalize().into();
        Self {
            cipher: Cipher::new(&key),
        }
    }

    /// The cookie value of a session.
    pub fn seal(&self, session: &Session) -> String {
        URL_SAFE_NO_PAD.encode(self.cipher.seal_json(session))
    }

    /// The session in a cookie value, if it is one of ours, undamaged; expiry is not checked here.
    pub fn open(&self, value: &str) -> Option<Session> {
        // A sealed session is a few hundred bytes; anything much longer is not one.
        if value.len() > 4096 {
            return None;
        }
        let sealed = URL_SAFE_NO_PAD.decode(value).ok()?;
        self.cipher.open_json(&sealed).ok()
    }
}

/// The API key a session was opened with: its id, and its hash to look it up again.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyBinding {
    pub id: ApiKeyId,
    pub hash: String,
}

/// What a session may see and do.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Scope {
    pub workspace_id: WorkspaceId,
    /// Shown in the header; informative only.
    pub workspace_name: String,
    pub mode: Mode,
    /// Limits endpoint and event pages to one project (portal sessions).
    pub project_id: Option<String>,
    /// Hides every change and refuses every state-changing form.
    pub read_only: bool,
    /// Set when signed in with an API key; `None` for portal sessions.
    pub key: Option<KeyBinding>,
}

impl Scope {
    pub fn tenant(&self) -> Tenant {
        Tenant {
            workspace_id: self.workspace_id.clone(),
            mode: self.mode,
        }
    }

    /// The caller as the API's handlers know it, for sessions opened with a key. Settings pages
    /// (integrations, API keys) require one: a portal session never reaches them.
    pub fn authed(&self) -> Option<Authed> {
        self.key.as_ref().map(|key| Authed {
            key_id: key.id.clone(),
            tenant: self.tenant(),
        })
    }

    pub fn is_portal(&self) -> bool {
        self.key.is_none()
    }
}

/// One signed-in browser.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Session {
    pub scope: Scope,
    /// Every state-changing form carries it (see `csrf.rs`).
    pub csrf: String,
    /// Unix seconds.
    pub expires_at: i64,
}

impl Session {
    /// A new session with a fresh CSRF token, ending after the configured lifetime.
    pub fn new(state: &AppState, scope: Scope) -> Self {
        let mut token = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut token);
        let ttl = i64::try_from(state.config.dashboard_session_ttl.0.as_secs()).unwrap_or(43_200);
        Self {
            scope,
            csrf: URL_SAFE_NO_PAD.encode(token),
            expires_at: Timestamp::now().as_unix_seconds() + ttl,
        }
    }

    fn is_expired(&self) -> bool {
        Timestamp::now().as_unix_seconds() >= self.expires_at
    }
}

/// Whether cookies get `Secure`: when the configured public URL is https. hookd itself serves
/// plain HTTP; TLS is terminated in front of it, so the request alone cannot tell (and trusting
/// `X-Forwarded-Proto` from anyone would let a client switch the flag off).
fn secure(state: &AppState) -> bool {
    state
        .config
        .public_url
        .as_deref()
        .is_some_and(|url| url.starts_with("https://"))
}

fn set_cookie(headers: &mut HeaderMap, cookie: &Cookie<'_>) {
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        headers.append(SET_COOKIE, value);
    }
}

/// The `Set-Cookie` that opens `session` in the browser: `HttpOnly`, `SameSite=Strict`, path
/// `/`, `Secure` behind https, and expiring with the session.
pub fn issue_cookie(state: &AppState, session: &Session, headers: &mut HeaderMap) {
    let max_age = (session.expires_at - Timestamp::now().as_unix_seconds()).max(0);
    let cookie = Cookie::build((COOKIE_NAME, state.sessions.seal(session)))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure(state))
        .max_age(cookie::time::Duration::seconds(max_age))
        .build();
    set_cookie(headers, &cookie);
}

/// The `Set-Cookie` that ends the session in the browser.
pub fn clear_cookie(state: &AppState, headers: &mut HeaderMap) {
    let cookie = Cookie::build((COOKIE_NAME, ""))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure(state))
        .max_age(cookie::time::Duration::ZERO)
        .build();
    set_cookie(headers, &cookie);
}

/// Opens a portal session (no key, optionally one project and read-only) and returns the
/// `Set-Cookie` headers a redemption handler answers with. The portal-link handler calls this
/// once it has consumed its one-time token.
pub fn open_portal_session(
    state: &AppState,
    tenant: &Tenant,
    workspace_name: &str,
    project_id: Option<String>,
    read_only: bool,
) -> HeaderMap {
    let session = Session::new(
        state,
        Scope {
            workspace_id: tenant.workspace_id.clone(),
            workspace_name: workspace_name.to_string(),
            mode: tenant.mode,
            project_id,
            read_only,
            key: None,
        },
    );
    let mut headers = HeaderMap::new();
    issue_cookie(state, &session, &mut headers);
    headers
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE_NAME)
        .map(|c| c.value().to_string())
}

/// The valid session of a request, if any: sealed by us, not expired, and (when opened with a
/// key) that key still unrevoked and still of the same workspace and mode.
pub async fn current(state: &AppState, headers: &HeaderMap) -> Result<Option<Session>, Response> {
    let Some(value) = cookie_value(headers) else {
        return Ok(None);
    };
    let Some(session) = state.sessions.open(&value) else {
        return Ok(None);
    };
    if session.is_expired() {
        return Ok(None);
    }
    if let Some(key) = &session.scope.key {
        let found = state
            .store
            .authenticate(&key.hash)
            .await
            .map_err(|e| super::errors::DashError::from(crate::api::error::ApiError::from(e)))
            .map_err(IntoResponse::into_response)?;
        let still_valid =
            found.is_some_and(|(id, tenant)| id == key.id && tenant == session.scope.tenant());
        if !still_valid {
            return Ok(None);
        }
    }
    Ok(Some(session))
}

/// Where a request without a valid session is sent: the sign-in page, coming back here after.
fn to_sign_in(state: &AppState, parts: &Parts) -> Response {
    let next = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .filter(|p| parts.method == axum::http::Method::GET && super::signin::is_safe_next(p));
    let target = match next {
        Some(next) => format!(
            "/sign-in?next={}",
            percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
        ),
        None => "/sign-in".to_string(),
    };
    // An htmx request would follow a redirect inside the page; it is told to load the sign-in
    // page as a whole instead.
    let mut response = if parts.headers.contains_key("hx-request") {
        let mut response = axum::http::StatusCode::UNAUTHORIZED.into_response();
        if let Ok(value) = HeaderValue::from_str(&target) {
            response.headers_mut().insert("hx-redirect", value);
        }
        response
    } else {
        Redirect::to(&target).into_response()
    };
    // A cookie that no longer opens a session is removed, so the browser stops sending it.
    if cookie_value(&parts.headers).is_some() {
        clear_cookie(state, response.headers_mut());
    }
    response
}

impl FromRequestParts<Arc<AppState>> for Session {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        match current(state, &parts.headers).await? {
            Some(session) => Ok(session),
            None => Err(to_sign_in(state, parts)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(expires_at: i64) -> Session {
        Session {
            scope: Scope {
                workspace_id: WorkspaceId::generate(),
                workspace_name: "default".into(),
                mode: Mode::Test,
                project_id: Some("proj_1".into()),
                read_only: true,
                key: None,
            },
            csrf: "token".into(),
            expires_at,
        }
    }

    #[test]
    fn a_sealed_session_opens_only_with_its_own_key() {
        let keys = SessionKeys::derive(&[7; 32]);
        let original = session(42);
        let sealed = keys.seal(&original);
        assert_eq!(keys.open(&sealed), Some(original));
        assert_eq!(SessionKeys::derive(&[8; 32]).open(&sealed), None);
        // The secrets cipher (the master key itself) cannot open it either.
        let raw = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        assert!(Cipher::new(&[7; 32]).decrypt(&raw).is_err());
    }

    #[test]
    fn garbage_and_oversize_cookies_are_no_session() {
        let keys = SessionKeys::derive(&[7; 32]);
        assert_eq!(keys.open(""), None);
        assert_eq!(keys.open("not base64 at all!"), None);
        assert_eq!(keys.open(&"A".repeat(5000)), None);
        let mut sealed = URL_SAFE_NO_PAD.decode(keys.seal(&session(1))).unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(keys.open(&URL_SAFE_NO_PAD.encode(sealed)), None);
    }
}
