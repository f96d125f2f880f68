//! The storage contract of retention: removing old events (with their deliveries and attempts)
//! and integration calls in small batches (implemented in `sqlite/retention.rs` and
//! `postgres/retention.rs`; the job that drives it is `maintenance::retention`).
//!
//! Each call is one short transaction over at most `batch` rows, so pruning never holds a lock
//! long enough to stall publishing or delivery: the caller pauses between calls. An event goes
//! only together with all of its deliveries and their attempts, and only when none of its
//! deliveries is pending (in retry included) or leased to a node with an attempt in flight.

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::ids::EventId;
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;

/// Rows removed (or, for a dry run, removable), per table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PruneCounts {
    pub events: u64,
    pub deliveries: u64,
    pub attempts: u64,
    pub integration_calls: u64,
}

impl PruneCounts {
    /// The tables in the order they are reported, with their counts.
    pub fn by_table(&self) -> [(&'static str, u64); 4] {
        [
            ("events", self.events),
            ("deliveries", self.deliveries),
            ("attempts", self.attempts),
            ("integration_calls", self.integration_calls),
        ]
    }

    pub fn total(&self) -> u64 {
        self.by_table().iter().map(|(_, n)| n).sum()
    }
}

impl std::ops::AddAssign for PruneCounts {
    fn add_assign(&mut self, other: Self) {
        self.events += other.events;
        self.deliveries += other.deliveries;
        self.attempts += other.attempts;
        self.integration_calls += other.integration_calls;
    }
}

/// One batch of [`RetentionStore::prune_events`].
#[derive(Clone, Debug, Default)]
pub struct EventBatch {
    pub removed: PruneCounts,
    /// Events looked at (removed or kept because a delivery is still pending).
    pub examined: u32,
    /// The last event looked at: the next batch starts after it, so events kept by a pending
    /// delivery are looked at once per pass, not once per batch.
    pub last: Option<EventId>,
}

#[async_trait]
pub trait RetentionStore: Send + Sync + 'static {
    /// Looks at up to `batch` of the tenant's events created before `cutoff`, in id order after
    /// `after`, and removes each whose deliveries are all final and unleased, with those
    /// deliveries and their attempts, in one transaction.
    async fn prune_events(
        &self,
        tenant: &Tenant,
        cutoff: Timestamp,
        after: Option<&EventId>,
        batch: u32,
    ) -> StoreResult<EventBatch>;
    /// Removes up to `batch` integration calls made before `cutoff` (the oldest first).
    async fn prune_integration_calls(&self, cutoff: Timestamp, batch: u32) -> StoreResult<u64>;
    /// What pruning before `cutoff` would remove now, counted without removing anything.
    async fn count_prunable(&self, cutoff: Timestamp, now: Timestamp) -> StoreResult<PruneCounts>;
    /// Makes the space of removed rows reusable, where the database does not do it by itself
    /// (PostgreSQL: a plain `VACUUM` of the pruned tables; SQLite reuses free pages at once).
    async fn reclaim_space(&self) -> StoreResult<()>;
}
