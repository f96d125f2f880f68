//! The jobs that keep a node healthy, run by `hookd serve` beside the API and the delivery
//! engine: retention (`retention.rs`, also run on demand by `hookd prune`), purging expired
//! idempotency keys and shrinking idle rate-limit buckets.
//!
//! Each job is its own loop on its own timer, so a long retention pass never delays the
//! idempotency purge, and a failed pass is logged and tried again at the next tick.

pub mod prune;
pub mod retention;

use std::sync::Arc;
use std::time::Duration;

use crate::api::AppState;
use crate::domain::time::Timestamp;

/// Runs every maintenance job until the returned tasks are aborted.
pub fn start(state: &Arc<AppState>) -> Vec<tokio::task::JoinHandle<()>> {
    vec![
        tokio::spawn(housekeeping_loop(Arc::clone(state))),
        tokio::spawn(retention_loop(Arc::clone(state))),
    ]
}

/// Expired idempotency keys and idle rate-limit buckets, every minute.
async fn housekeeping_loop(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        state.rate_limiter.shrink();
        let ttl_ms = i64::try_from(state.config.idempotency_ttl_secs.saturating_mul(1000))
            .unwrap_or(i64::MAX);
        let cutoff = Timestamp::now().plus_millis(-ttl_ms);
        if let Err(e) = state.store.purge_idempotency_keys(cutoff).await {
            tracing::warn!(error = %e, "purging expired idempotency keys failed");
        }
    }
}

/// A retention pass every `retention_interval_ms`; the next one waits for the previous to end.
async fn retention_loop(state: Arc<AppState>) {
    let every = Duration::from_millis(state.config.retention_interval_ms);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = retention::run_once(state.store.as_ref(), state.config.retention.0).await {
            tracing::warn!(error = %e, "a retention pass failed; trying again at the next interval");
        }
    }
}
