//! Liveness, readiness and metrics: unauthenticated (`security(())` overrides the document's
//! bearer default), outside `/v1`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use super::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "Operations", security(()), responses((status = 200, description = "The process is up.")))]
pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "Operations", security(()),
    responses((status = 200, description = "The database is reachable."), (status = 503, description = "It is not.")))]
pub async fn readyz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ready"}))),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable"})),
            )
        }
    }
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "Operations", security(()), responses((status = 200, description = "Prometheus metrics.")))]
pub async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    match state.store.gauges().await {
        Ok((pending, disabled)) => {
            metrics::gauge!("hookd_deliveries_pending").set(pending as f64);
            metrics::gauge!("hookd_endpoints_disabled").set(disabled as f64);
        }
        Err(e) => tracing::warn!(error = %e, "could not read gauges"),
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
