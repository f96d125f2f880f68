//! The HTTP API: one module per resource, the shared middleware, and the router that ties them
//! together and generates the OpenAPI document from the same route list (so the two cannot drift).

pub mod access;
pub mod auth;
pub mod auth_throttle;
pub mod deliveries;
pub mod endpoint_deliveries;
pub mod endpoints;
pub mod erasure;
pub mod error;
pub mod event_types;
pub mod events;
pub mod extract;
pub mod health;
pub mod idempotency;
pub mod integration_calls;
pub mod integrations;
pub mod openapi;
pub mod pagination;
pub mod pipeline;
pub mod portal_sessions;
pub mod version;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::response::IntoResponse;
use axum::{middleware, Extension, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::Config;
use crate::crypto::Cipher;
use crate::domain::catalog::EventCatalog;
use crate::egress::EgressClient;
use crate::store::DynStore;
use error::ApiError;
use extract::BodyLimit;

/// Everything a request handler may need, shared by all of them.
pub struct AppState {
    pub store: DynStore,
    pub cipher: Cipher,
    pub catalog: EventCatalog,
    pub config: Arc<Config>,
    pub egress: EgressClient,
    pub rate_limiter: auth::RateLimiter,
    pub auth_throttle: auth_throttle::AuthThrottle,
    /// When keys were last used (shown in the dashboard), recorded at most once a minute.
    pub key_usage: auth::KeyUsage,
    pub metrics: PrometheusHandle,
    pub engine: crate::delivery::Engine,
    /// Seals the dashboard's session cookies (a key derived from the master key).
    pub sessions: crate::dashboard::session::SessionKeys,
    /// Live MCP sessions, told when an integration changes (see `mcp/sessions.rs`).
    pub mcp_sessions: Arc<crate::mcp::sessions::Sessions>,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Clone, Copy)]
struct MakeUlidRequestId;

impl MakeRequestId for MakeUlidRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let id = crate::domain::ids::prefixed_ulid("req_");
        axum::http::HeaderValue::from_str(&id)
            .ok()
            .map(RequestId::new)
    }
}

/// The routes under `/v1`, each documented by its `#[utoipa::path]`.
fn v1_routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(endpoints::create, endpoints::list))
        .routes(routes!(
            endpoints::get,
            endpoints::update,
            endpoints::delete
        ))
        .routes(routes!(endpoints::rotate_secret))
        .routes(routes!(endpoint_deliveries::send_test))
        .routes(routes!(endpoint_deliveries::list))
        .routes(routes!(endpoint_deliveries::replay))
        .routes(routes!(event_types::list))
        .routes(routes!(events::publish, events::list))
        .routes(routes!(events::get, erasure::erase))
        .routes(routes!(erasure::erase_project))
        .routes(routes!(events::deliveries))
        .routes(routes!(deliveries::list))
        .routes(routes!(deliveries::get))
        .routes(routes!(deliveries::retry))
        // --- integrations ---
        .routes(routes!(integrations::create, integrations::list))
        .routes(routes!(
            integrations::get,
            integrations::update,
            integrations::delete
        ))
        .routes(routes!(integration_calls::create, integration_calls::list))
        // --- customer portal ---
        .routes(routes!(portal_sessions::create))
}

fn operations_routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
}

/// The whole route table and its OpenAPI document.
pub fn routes_and_openapi(
    state: &Arc<AppState>,
) -> (Router<Arc<AppState>>, utoipa::openapi::OpenApi) {
    // The whole v1 pipeline is one middleware (see `pipeline.rs`).
    let v1 = v1_routes().layer(middleware::from_fn_with_state(
        Arc::clone(state),
        pipeline::middleware,
    ));
    OpenApiRouter::with_openapi(openapi::base())
        .merge(v1)
        .merge(operations_routes())
        .split_for_parts()
}

/// The complete HTTP application: the API, and MCP at `/mcp` (whose tools send their REST
/// requests to a second instance of the API router, in process).
pub fn router(state: Arc<AppState>) -> Router {
    let api = build(Arc::clone(&state), None);
    let mcp = crate::mcp::http::routes(&state, api);
    build(state, Some(mcp))
}

fn build(state: Arc<AppState>, extra: Option<Router<Arc<AppState>>>) -> Router {
    let limit = state.config.max_body_bytes;
    let (routes, openapi) = routes_and_openapi(&state);
    // Completed and serialised once; every request gets the same bytes.
    let openapi = bytes::Bytes::from(openapi::complete(&openapi, &state.catalog).to_string());
    let routes = match extra {
        Some(extra) => routes.merge(extra),
        None => routes,
    };
    routes
        // The dashboard: pages at `/`, outside the v1 pipeline (sessions, not bearer keys).
        .merge(crate::dashboard::router(Arc::clone(&state)))
        .route(
            "/openapi.json",
            axum::routing::get(move || async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    openapi.clone(),
                )
            }),
        )
        .fallback(|| async {
            ApiError::NotFound {
                param: None,
                message: "No such route; GET /openapi.json lists them all.".into(),
            }
        })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed.into_response() })
        // Per route, where the route template is known (see `access.rs`).
        .layer(access::AccessLogLayer)
        .with_state(state)
        // One layer for the six, outermost first: each layer on a router boxes every route once
        // more, and each box is an allocation per request.
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeUlidRequestId))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                // The request span: every line logged while serving the request carries its id and,
                // once authenticated, its workspace, mode and key (recorded by `auth.rs`). The
                // method and route are on the access line (`access.rs`).
                // Its failure log is off: a 5xx is on the access line, and its cause is logged
                // once by the code that handled it (`ApiError`, the integration call).
                .layer(TraceLayer::new_for_http().on_failure(()).make_span_with(
                    |request: &Request<_>| {
                        let id = request
                            .headers()
                            .get(REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("");
                        tracing::info_span!(
                            "request",
                            request_id = id,
                            workspace = tracing::field::Empty,
                            mode = tracing::field::Empty,
                            key_id = tracing::field::Empty
                        )
                    },
                ))
                .layer(CatchPanicLayer::custom(|_| {
                    ApiError::Internal(anyhow::anyhow!("a request handler panicked"))
                        .into_response()
                }))
                .layer(DefaultBodyLimit::max(limit))
                .layer(Extension(BodyLimit(limit))),
        )
}
