//! The v1 pipeline: what every `/v1` request goes through before its handler, in order, written
//! once.
//!
//! 1. `Scripe-Api-Version` negotiation (an unknown version is refused before anything else);
//! 2. authentication (refused at once for an address with too many failed ones, see
//!    `auth_throttle.rs`) and the per-key rate limit;
//! 3. a declared `Content-Length` over the body limit is refused (413) before a byte of the
//!    body is read, so a client cannot hold a request open by announcing a huge body;
//! 4. `Idempotency-Key` (a claim, a replay or a refusal);
//! 5. the handler; every answer then echoes the version used.
//!
//! The router runs it as its one `/v1` middleware ([`middleware`]): one boxed layer for the
//! whole pipeline rather than one per step, which made the direct publish path that used to
//! bypass the router unnecessary (measured in docs/performance.md). A path that answers `/v1`
//! requests outside the router must call [`run`], so that no step can be skipped.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::{auth, idempotency, version, AppState};

/// Takes `request` through the pipeline, with `handler` as its last step.
pub async fn run<F, Fut>(state: &AppState, mut request: Request, handler: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let version = match version::resolve(request.headers()) {
        Ok(version) => version,
        Err(unsupported) => return version::refuse(unsupported),
    };
    let peer = peer(&request);
    if let Some(refused) = throttled(state, peer) {
        return version::with_version(refused, version);
    }
    let response = match auth::authenticate_headers(state, request.headers()).await {
        Ok(authed) => {
            request.extensions_mut().insert(authed);
            match refuse_declared_oversize(state, &request) {
                Some(refused) => refused,
                None => idempotency::guard(state, request, handler)
                    .await
                    .unwrap_or_else(IntoResponse::into_response),
            }
        }
        Err(refused) => {
            record_auth_failure(state, peer, &refused);
            refused.into_response()
        }
    };
    version::with_version(response, version)
}

/// The TCP peer's address, which the failed-authentication throttle counts by.
pub fn peer(request: &Request) -> Option<IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// 429 `rate_limited` when `peer` has failed to authenticate too often lately. Every door that
/// takes an API key (`/v1`, `/mcp`, the dashboard's sign-in) asks this before looking at the key.
pub fn throttled(state: &AppState, peer: Option<IpAddr>) -> Option<Response> {
    let Err(retry_after_secs) = state.auth_throttle.check(peer?) else {
        return None;
    };
    metrics::counter!("hookd_auth_throttled_total").increment(1);
    Some(ApiError::AuthThrottled { retry_after_secs }.into_response())
}

/// Counts a refused key (401) against `peer`.
pub fn record_auth_failure(state: &AppState, peer: Option<IpAddr>, refused: &ApiError) {
    if let (ApiError::Unauthorized(_), Some(ip)) = (refused, peer) {
        if state.auth_throttle.record_failure(ip) {
            tracing::warn!(
                address = %ip,
                "too many failed authentications from one address; throttled"
            );
        }
    }
}

/// 413 for a request whose declared `Content-Length` is over the body limit, with
/// `Connection: close`: its body is never read, so the connection cannot carry another request.
fn refuse_declared_oversize(state: &AppState, request: &Request) -> Option<Response> {
    let limit = state.config.max_body_bytes;
    let declared: u64 = request
        .headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    if declared <= limit as u64 {
        return None;
    }
    let mut response = ApiError::PayloadTooLarge { limit }.into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    Some(response)
}

/// The pipeline as the router's `/v1` middleware: the route's handler is the last step.
pub async fn middleware(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    run(&state, request, |request| next.run(request)).await
}
