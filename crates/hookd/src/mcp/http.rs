//! `/mcp`: MCP over Streamable HTTP on the API listener.
//!
//! Every request to `/mcp` (POST messages, the GET event stream, DELETE of a session) first goes
//! through [`guard`]: the API key is checked and rate-limited by the API's own
//! `auth::authenticate_headers` (a revoked key is refused at once, on the next request of an
//! open session too), and the session id must belong to that key: a session opened with one
//! key and presented with another answers 404 `not_found`, as an object of another tenant does.
//! The body is read once, bounded by the API's body limit (413 `payload_too_large`), and the
//! raw `body` and `data` arguments of a tool call are kept (see `raw_body.rs`). The route sits inside the
//! API router, so it gets request ids, the access log and panic catching like every route.
//!
//! rmcp's `Host` allowlist (a DNS-rebinding guard for unauthenticated local servers) is off:
//! hookd serves whatever address it is configured to, and every request needs a Bearer key,
//! which a browser tricked by DNS rebinding cannot send.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use super::raw_body::tap;
use super::server::{Caller, HookdMcp};
use crate::api::error::ApiError;
use crate::api::{auth, AppState};

const SESSION_HEADER: &str = "mcp-session-id";

/// The `/mcp` route; `api` is the API router the tools send their REST requests to.
pub fn routes(state: &Arc<AppState>, api: Router) -> Router<Arc<AppState>> {
    let sessions = Arc::clone(&state.mcp_sessions);
    let config = StreamableHttpServerConfig::default().disable_allowed_hosts();
    let service = StreamableHttpService::new(
        move || Ok(HookdMcp::in_process(api.clone(), Arc::clone(&sessions))),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    Router::new()
        .route_service("/mcp", service)
        .route_layer(middleware::from_fn_with_state(Arc::clone(state), guard))
}

/// Authentication, session ownership and the body limit for `/mcp` (see the module docs).
async fn guard(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let peer = crate::api::pipeline::peer(&request);
    if let Some(refused) = crate::api::pipeline::throttled(&state, peer) {
        return refused;
    }
    let authed = match auth::authenticate_headers(&state, request.headers()).await {
        Ok(authed) => authed,
        Err(refused) => {
            crate::api::pipeline::record_auth_failure(&state, peer, &refused);
            return refused.into_response();
        }
    };
    let session = request
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(id) = &session {
        if !state.mcp_sessions.may_use(id, &authed.key_id) {
            return ApiError::NotFound {
                param: Some("Mcp-Session-Id".into()),
                message: "No MCP session with this id for this API key; initialize a new one."
                    .into(),
            }
            .into_response();
        }
    }
    let closing = request.method() == axum::http::Method::DELETE;
    let (mut parts, body) = request.into_parts();
    let limit = state.config.max_body_bytes;
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(_) => return ApiError::PayloadTooLarge { limit }.into_response(),
    };
    if let Some((_, raw)) = tap(&bytes) {
        parts.extensions.insert(raw);
    }
    let authorization = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .cloned()
        .unwrap_or_else(|| axum::http::HeaderValue::from_static(""));
    parts.extensions.insert(Caller {
        authorization,
        tenant: authed.tenant.clone(),
        key_id: authed.key_id.clone(),
    });
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if let Some(id) = response
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        state.mcp_sessions.bind(id, &authed.key_id, &authed.tenant);
    }
    if let (true, Some(id)) = (closing && response.status().is_success(), &session) {
        state.mcp_sessions.forget(id);
    }
    response
}
