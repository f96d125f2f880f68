//! Liveness, readiness and metrics: unauthenticated (`security(())` overrides the document's
//! bearer default), outside `/v1`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use super::AppState;
use crate::domain::time::Timestamp;

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
        Ok(gauges) => {
            metrics::gauge!("hookd_deliveries_pending").set(gauges.pending as f64);
            metrics::gauge!("hookd_endpoints_disabled").set(gauges.disabled_endpoints as f64);
            let lag_ms = gauges.oldest_due_at.map_or(0, |due| {
                (Timestamp::now().as_millis() - due.as_millis()).max(0)
            });
            metrics::gauge!("hookd_deliveries_oldest_pending_age_seconds")
                .set(lag_ms as f64 / 1000.0);
            for pool in gauges.pools {
                let idle = f64::from(pool.idle);
                let in_use = f64::from(pool.size) - idle;
                metrics::gauge!("hookd_db_pool_connections", "pool" => pool.name, "state" => "in_use")
                    .set(in_use.max(0.0));
                metrics::gauge!("hookd_db_pool_connections", "pool" => pool.name, "state" => "idle")
                    .set(idle);
            }
        }
        // Logged at each failing scrape, which is one line per scrape interval at most.
        Err(e) => tracing::warn!(
            error = &e as &(dyn std::error::Error + 'static),
            "could not read the metrics gauges"
        ),
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
