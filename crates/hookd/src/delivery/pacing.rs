//! Per-endpoint rate limits in the dispatcher: before an attempt to a rate-limited endpoint,
//! its runner takes the endpoint's next slot from the store (shared by every node on
//! PostgreSQL) and sleeps until it.
//!
//! The wait happens before the runner asks for a global request slot, so a limited endpoint
//! only ever holds back its own runners: other endpoints' deliveries flow as if it weren't
//! there. On each node one runner per endpoint at a time takes a slot and waits for it (the
//! others queue on a lock, holding no slot): slots are never reserved further ahead than the
//! nodes' waiting runners, so a slot is not taken for a job whose lease would run out before
//! its turn (with 64 runners at 1/s, the later ones would otherwise reserve a minute ahead). A waiting delivery stays pending and leased in the database; if this node dies, the
//! lease expires and another node (or the restart) delivers it, paced the same way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Shared;
use crate::domain::ids::EndpointId;
use crate::domain::rate_limit;
use crate::store::DeliveryJob;

/// The per-endpoint locks under which this node's runners take and wait for slots.
#[derive(Default)]
pub(super) struct Pacer {
    turns: Mutex<HashMap<EndpointId, Arc<tokio::sync::Mutex<()>>>>,
}

impl Pacer {
    fn turn(&self, endpoint: &EndpointId) -> Arc<tokio::sync::Mutex<()>> {
        let mut turns = self.turns.lock().unwrap_or_else(|p| p.into_inner());
        if turns.len() > 10_000 {
            // Locks nobody holds or waits for carry no state.
            turns.retain(|_, turn| Arc::strong_count(turn) > 1);
        }
        Arc::clone(turns.entry(endpoint.clone()).or_default())
    }
}

/// Waits for the job's endpoint's next attempt slot, if it has a rate limit. Returns at once
/// for an endpoint without one, or when the target can't be loaded (the attempt reports that).
pub(super) async fn wait_for_slot(shared: &Shared, job: &DeliveryJob) {
    let Ok(Some(target)) = shared.targets.get(&job.endpoint_id).await else {
        return;
    };
    let Some(rate) = target.rate_limit_per_sec else {
        return;
    };
    let turn = shared.pacer.turn(&job.endpoint_id);
    let _turn = turn.lock().await;
    // Checked after waiting for the turn: a job whose lease ran out meanwhile is not attempted,
    // and taking a slot for it would only waste the slot.
    if !target.is_active || !super::sender::lease_covers(shared, job, std::time::Duration::ZERO) {
        return;
    }
    let now = now_micros();
    let slot = match shared
        .store
        .take_rate_slot(&job.endpoint_id, rate, now)
        .await
    {
        Ok(slot) => slot,
        Err(e) => {
            // Without the shared slot, one interval's wait keeps this node within the limit.
            tracing::warn!(error = %e, endpoint = %job.endpoint_id, "could not take a rate slot; waiting one interval");
            now.saturating_add(rate_limit::interval_micros(rate))
        }
    };
    let wait = u64::try_from(slot.saturating_sub(now_micros())).unwrap_or(0);
    if wait > 0 {
        metrics::counter!("hookd_dispatch_rate_limited_total").increment(1);
        tokio::time::sleep(Duration::from_micros(wait)).await;
    }
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}
