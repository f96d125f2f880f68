//! Retention: removing events (with their deliveries and attempts) and integration calls older
//! than the configured `retention`, on a timer in `hookd serve` and on demand with `hookd prune`.
//!
//! A pass walks each tenant's old events in id order, one small batch per store call (each its
//! own short transaction; on SQLite an ordinary job of the writer thread), and pauses between
//! batches so publishes and attempt results are never held up behind it for long. A pending
//! delivery (in retry included) and its event are never removed, whatever their age; the store
//! decides that per batch (`store::retention`). What the pass removed is counted per table in
//! the metrics and logged once.

use std::time::Duration;

use crate::domain::ids::EventId;
use crate::domain::tenant::{Mode, Tenant};
use crate::domain::time::Timestamp;
use crate::store::{PruneCounts, Store, StoreResult};

/// Events looked at (and integration calls removed) per transaction: about a millisecond of the
/// writer's time, so a publish queued behind a batch waits little (256 added about 1 ms to the
/// steady p99; docs/retention.md).
pub const BATCH: u32 = 64;
/// The pause between two batches, which lets the writes queued behind a batch go first.
pub const PAUSE: Duration = Duration::from_millis(5);

/// The oldest creation time that is kept: everything created before it may go.
pub fn cutoff(retention: Duration, now: Timestamp) -> Timestamp {
    let millis = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    now.plus_millis(-millis)
}

/// Removes what was created before `cutoff`, batch by batch, calling `progress` with the running
/// totals after each batch. Ends with [`RetentionStore::reclaim_space`] when anything went.
///
/// [`RetentionStore::reclaim_space`]: crate::store::RetentionStore::reclaim_space
pub async fn prune_before(
    store: &dyn Store,
    cutoff: Timestamp,
    mut progress: impl FnMut(&PruneCounts),
) -> StoreResult<PruneCounts> {
    let mut total = PruneCounts::default();
    for workspace in store.list_workspaces().await? {
        for mode in [Mode::Live, Mode::Test] {
            let tenant = Tenant {
                workspace_id: workspace.id.clone(),
                mode,
            };
            let mut after: Option<EventId> = None;
            loop {
                let batch = store
                    .prune_events(&tenant, cutoff, after.as_ref(), BATCH)
                    .await?;
                total += batch.removed;
                progress(&total);
                if batch.examined < BATCH {
                    break;
                }
                after = batch.last;
                tokio::time::sleep(PAUSE).await;
            }
        }
    }
    loop {
        let removed = store.prune_integration_calls(cutoff, BATCH).await?;
        total.integration_calls += removed;
        progress(&total);
        if removed < u64::from(BATCH) {
            break;
        }
        tokio::time::sleep(PAUSE).await;
    }
    if total.total() > 0 {
        store.reclaim_space().await?;
    }
    Ok(total)
}

/// One pass of the background job: prunes, then counts and logs what went.
pub async fn run_once(store: &dyn Store, retention: Duration) -> StoreResult<PruneCounts> {
    let started = std::time::Instant::now();
    let removed = prune_before(store, cutoff(retention, Timestamp::now()), |_| {}).await?;
    metrics::counter!("hookd_retention_runs_total").increment(1);
    for (table, count) in removed.by_table() {
        metrics::counter!("hookd_retention_rows_removed_total", "table" => table).increment(count);
    }
    tracing::info!(
        events = removed.events,
        deliveries = removed.deliveries,
        attempts = removed.attempts,
        integration_calls = removed.integration_calls,
        elapsed_ms = started.elapsed().as_millis() as u64,
        retention = %humantime::format_duration(retention),
        "retention pass done"
    );
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cutoff_is_the_retention_before_now() {
        let now = Timestamp::from_millis(1_700_000_000_000);
        assert_eq!(
            cutoff(Duration::from_secs(2), now),
            Timestamp::from_millis(1_699_999_998_000)
        );
        // An absurd retention keeps everything rather than wrapping around.
        assert!(cutoff(Duration::MAX, now) < Timestamp::from_millis(0));
    }
}
