//! Picks up due work from the database: retries whose time has come, deliveries parked while
//! their endpoint was inactive, and leases left behind by a crashed or stopped node.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::dispatcher::Dispatcher;
use crate::domain::time::Timestamp;
use crate::store::{DynStore, Lease};

const INTERVAL: Duration = Duration::from_millis(250);
const BATCH: u32 = 256;
/// Stop claiming while this many jobs wait in memory; the database holds the rest.
const MAX_BACKLOG: usize = 50_000;

pub(super) struct Poller {
    pub store: DynStore,
    pub dispatcher: Arc<Dispatcher>,
    pub backlog: Arc<AtomicUsize>,
    pub wake: Arc<Notify>,
    pub stop: CancellationToken,
    pub owner: String,
    pub lease_ms: i64,
}

pub(super) async fn run(poller: Poller) {
    loop {
        tokio::select! {
            () = poller.stop.cancelled() => return,
            () = tokio::time::sleep(INTERVAL) => {}
            () = poller.wake.notified() => {}
        }
        while poller.backlog.load(Ordering::Relaxed) < MAX_BACKLOG && !poller.stop.is_cancelled() {
            let now = Timestamp::now();
            let lease = Lease {
                owner: poller.owner.clone(),
                until: now.plus_millis(poller.lease_ms),
            };
            match poller.store.claim_due(now, BATCH, &lease).await {
                Ok(jobs) => {
                    let full = jobs.len() == BATCH as usize;
                    if !jobs.is_empty() {
                        poller.dispatcher.submit(jobs);
                    }
                    if !full {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "claiming due deliveries failed; retrying shortly");
                    break;
                }
            }
        }
    }
}
