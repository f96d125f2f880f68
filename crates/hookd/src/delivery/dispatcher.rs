//! Per-endpoint queues, the runners that drain them, and the concurrency limits.
//!
//! An endpoint with queued work has up to `endpoint_max_in_flight` runner tasks. A runner takes
//! the endpoint's next job, waits for one of the `global_max_in_flight` request slots (a fair
//! semaphore, so endpoints take turns), makes the attempt, hands its result to the store and
//! takes the next job, until the queue is empty; then it ends. So a blackholed endpoint ties up
//! only its own runners while the others keep flowing, and a busy endpoint costs no task spawn
//! and no hand-off between tasks per delivery: an earlier design ran every attempt in a task of
//! its own, started by one dispatcher task that heard back twice per delivery (README,
//! Performance).
//!
//! The request slot is freed as soon as the HTTP exchange ends. The result is then handed to
//! the store without waiting for its commit ([`DeliveryStore::record_attempt_then`]): the
//! runner goes on while the writer commits, and only once the result is durable is the
//! delivery forgotten here, so that it may be queued again. Results waiting to be written are
//! bounded by a third semaphore; when it is full a runner holds its request slot until there is
//! room, so a slow database slows the attempts rather than filling memory.
//!
//! Queues are bounded: a job that does not fit is dropped from memory and its lease released,
//! so the poller hands it back later and memory stays bounded whatever the backlog in the
//! database. Every runner and every result not yet written is tracked by the engine's
//! [`TaskTracker`], so a shutdown waits for them.
//!
//! [`DeliveryStore::record_attempt_then`]: crate::store::DeliveryStore::record_attempt_then

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{sender, Shared};
use crate::domain::ids::{DeliveryId, EndpointId, EventId};
use crate::domain::time::Timestamp;
use crate::store::DeliveryJob;

/// Most jobs held in memory for one endpoint (a job is a few hundred bytes; its payload is
/// shared with the event's other deliveries).
const QUEUE_CAP_PER_ENDPOINT: usize = 50_000;

#[derive(Default)]
struct EndpointQueue {
    pending: VecDeque<DeliveryJob>,
    /// Runners working for this endpoint: each holds one job or is about to take one.
    runners: usize,
}

#[derive(Default)]
struct Queues {
    endpoints: HashMap<EndpointId, EndpointQueue>,
    /// Deliveries queued, in flight or being recorded here, so a job submitted twice is
    /// attempted once.
    known: HashSet<DeliveryId>,
}

pub(super) struct Dispatcher {
    shared: Arc<Shared>,
    queues: Mutex<Queues>,
    global: Semaphore,
    per_endpoint: usize,
    tasks: TaskTracker,
    backlog: Arc<AtomicUsize>,
    /// Once cancelled (shutdown), no new attempt starts; queued jobs stay leased until the engine
    /// releases this node's leases.
    stop: CancellationToken,
}

impl Dispatcher {
    pub(super) fn new(
        shared: Arc<Shared>,
        tasks: TaskTracker,
        backlog: Arc<AtomicUsize>,
        stop: CancellationToken,
    ) -> Self {
        Self {
            global: Semaphore::new(shared.global_max_in_flight),
            per_endpoint: shared.endpoint_max_in_flight,
            shared,
            queues: Mutex::new(Queues::default()),
            tasks,
            backlog,
            stop,
        }
    }

    /// Queues leased jobs, starting runners for endpoints that have room for more.
    pub(super) fn submit(self: &Arc<Self>, jobs: Vec<DeliveryJob>) {
        let mut overflowed = Vec::new();
        let mut start = Vec::new();
        {
            let mut queues = self.lock();
            let Queues { endpoints, known } = &mut *queues;
            for job in jobs {
                if known.contains(&job.delivery_id) {
                    continue;
                }
                let queue = endpoints.entry(job.endpoint_id.clone()).or_default();
                if queue.pending.len() >= QUEUE_CAP_PER_ENDPOINT {
                    metrics::counter!("hookd_dispatch_overflow_total").increment(1);
                    overflowed.push(job.delivery_id);
                    continue;
                }
                known.insert(job.delivery_id.clone());
                if queue.runners < self.per_endpoint {
                    queue.runners += 1;
                    start.push(job.endpoint_id.clone());
                }
                queue.pending.push_back(job);
                self.backlog.fetch_add(1, Ordering::Relaxed);
            }
        }
        for endpoint in start {
            let dispatcher = Arc::clone(self);
            self.tasks
                .spawn(async move { dispatcher.run(endpoint).await });
        }
        self.release(overflowed);
    }

    /// Drops the queued jobs of these events (erased: their deliveries are cancelled and their
    /// payload must not leave). An attempt already in flight cannot be called back.
    pub(super) fn drop_events(&self, events: &HashSet<EventId>) {
        let mut queues = self.lock();
        let Queues { endpoints, known } = &mut *queues;
        for queue in endpoints.values_mut() {
            queue.pending.retain(|job| {
                let keep = !events.contains(&job.event_id);
                if !keep {
                    known.remove(&job.delivery_id);
                    self.backlog.fetch_sub(1, Ordering::Relaxed);
                }
                keep
            });
        }
    }

    /// One runner: attempts the endpoint's jobs one after another until none is left.
    async fn run(self: Arc<Self>, endpoint: EndpointId) {
        while let Some(job) = self.next_job(&endpoint) {
            let delivery = job.delivery_id.clone();
            let Ok(slot) = self.global.acquire().await else {
                return; // never closed
            };
            if self.stop.is_cancelled() {
                // Left leased: the engine releases this node's leases once everything stopped.
                self.forget(&delivery);
                continue;
            }
            let Some(record) = sender::attempt(&self.shared, job).await else {
                drop(slot);
                self.forget(&delivery);
                continue;
            };
            let Ok(room) = Arc::clone(&self.shared.recording).acquire_owned().await else {
                return; // never closed
            };
            drop(slot);
            let dispatcher = Arc::clone(&self);
            // Counts as a task of the engine until the result is written: shutdown waits for it.
            let pending_write = self.tasks.token();
            Arc::clone(&self.shared.store).record_attempt_then(
                record,
                self.shared.health,
                // The result's timestamp is when it is handed to the store.
                Timestamp::now(),
                Box::new(move |outcome| {
                    if let Err(e) = outcome {
                        // The lease expires and the delivery is attempted again: at-least-once.
                        tracing::error!(error = %e, delivery = %delivery, "could not record an attempt");
                    }
                    dispatcher.forget(&delivery);
                    drop(room);
                    drop(pending_write);
                }),
            );
        }
    }

    /// The endpoint's next job; `None` ends the calling runner.
    fn next_job(&self, endpoint: &EndpointId) -> Option<DeliveryJob> {
        let mut queues = self.lock();
        let queue = queues.endpoints.get_mut(endpoint)?;
        if let Some(job) = queue.pending.pop_front() {
            self.backlog.fetch_sub(1, Ordering::Relaxed);
            return Some(job);
        }
        queue.runners -= 1;
        if queue.runners == 0 {
            queues.endpoints.remove(endpoint);
        }
        None
    }

    /// The delivery is done here (recorded, or not attempted): it may be queued again.
    fn forget(&self, delivery: &DeliveryId) {
        self.lock().known.remove(delivery);
    }

    /// Hands jobs that did not fit back to the database now rather than when their leases
    /// expire: the poller claims them again once the backlog has room.
    fn release(&self, overflowed: Vec<DeliveryId>) {
        if overflowed.is_empty() {
            return;
        }
        let store = Arc::clone(&self.shared.store);
        self.tasks.spawn(async move {
            for id in overflowed {
                if let Err(e) = store.release_delivery(&id).await {
                    tracing::warn!(error = %e, delivery = %id, "could not release an overflowed delivery; its lease will expire");
                }
            }
        });
    }

    fn lock(&self) -> MutexGuard<'_, Queues> {
        // Nothing panics while holding it; a poisoned lock's data is still consistent.
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }
}
