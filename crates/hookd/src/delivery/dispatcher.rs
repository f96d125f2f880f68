//! Per-endpoint queues, the runners that drain them, and the concurrency limits.
//!
//! An endpoint with queued work has up to `endpoint_max_in_flight` runner tasks. A runner takes
//! the endpoint's next job, waits for one of the `global_max_in_flight` request slots (a fair
//! semaphore, so endpoints take turns), makes the attempt, hands its result to the store and
//! takes the next job, until the queue is empty; then it ends. So a blackholed endpoint ties up
//! only its own runners while the others keep flowing, and a busy endpoint costs no task spawn
//! and no hand-off between tasks per delivery: an earlier design ran every attempt in a task of
//! its own, started by one dispatcher task that heard back twice per delivery
//! (docs/performance.md).
//!
//! The request slot is freed as soon as the HTTP exchange ends. The result is then handed to
//! the store without waiting for its commit ([`DeliveryStore::record_attempt_then`]): the
//! runner goes on while the writer commits, and only once the result is durable is the
//! delivery forgotten here, so that it may be queued again. Results waiting to be written are
//! bounded by a third semaphore; when it is full a runner holds its request slot until there is
//! room, so a slow database slows the attempts rather than filling memory.
//!
//! A delivery is held here once: a job submitted again while it is queued or in flight (the
//! poller claiming it anew after its lease ran out in a deep queue, a manual retry) only renews
//! the lease the held copy is attempted under. A manual retry of a delivery already taken from
//! the queue is remembered instead: the attempt in flight may have started before the retry was
//! asked for, so once its result is durable the delivery is re-queued in the database (after
//! that result's write, so it ends pending, due now and leased here) and attempted again.
//!
//! An attempt that panics costs that attempt only: its runner carries on with the endpoint's
//! next job, and the delivery, left leased, is attempted again once its lease expires.
//!
//! Queues are bounded: a job that does not fit is dropped from memory and its lease released,
//! so the poller hands it back later and memory stays bounded whatever the backlog in the
//! database. Every runner and every result not yet written is tracked by the engine's
//! [`TaskTracker`], so a shutdown waits for them.
//!
//! [`DeliveryStore::record_attempt_then`]: crate::store::DeliveryStore::record_attempt_then

use std::collections::{HashMap, HashSet, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::FutureExt;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{report, sender, Shared};
use crate::domain::ids::{DeliveryId, EndpointId, EventId};
use crate::domain::ordering;
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::store::{DeliveryJob, Lease};

/// Most jobs held in memory for one endpoint (a job is a few hundred bytes; its payload is
/// shared with the event's other deliveries).
const QUEUE_CAP_PER_ENDPOINT: usize = 50_000;

#[derive(Default)]
struct EndpointQueue {
    pending: VecDeque<DeliveryJob>,
    /// Runners working for this endpoint: each holds one job or is about to take one.
    runners: usize,
}

/// What is known of a delivery held here (queued, in flight or being recorded).
struct Held {
    /// The latest lease this node was given on it. A resubmission renews the lease in the
    /// database; the queued copy takes this one when a runner takes it, so it is not skipped
    /// for a lease that is no longer the one held.
    lease_until: Timestamp,
    /// A runner took it from the queue: it is in flight or being recorded.
    taken: bool,
    /// A manual retry arrived after it was taken: once the result is durable, re-queue it as
    /// this tenant (the requeue is tenant-scoped) and attempt it again.
    again: Option<Tenant>,
}

#[derive(Default)]
struct Queues {
    endpoints: HashMap<EndpointId, EndpointQueue>,
    /// Deliveries queued, in flight or being recorded here, so a job submitted twice is
    /// attempted once.
    known: HashMap<DeliveryId, Held>,
}

pub(super) struct Dispatcher {
    pub(super) shared: Arc<Shared>,
    queues: Mutex<Queues>,
    global: Semaphore,
    per_endpoint: usize,
    pub(super) tasks: TaskTracker,
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

    /// A lease held by this node from now.
    pub(super) fn lease(&self) -> Lease {
        self.shared.lease()
    }

    /// Queues leased jobs, starting runners for endpoints that have room for more.
    pub(super) fn submit(self: &Arc<Self>, jobs: Vec<DeliveryJob>) {
        self.enqueue(jobs, None);
    }

    /// Queues a delivery that `tenant` asked to retry (already re-queued in the database). If
    /// it is in flight here, it is attempted again once that attempt's result is durable.
    pub(super) fn retry(self: &Arc<Self>, tenant: Tenant, job: DeliveryJob) {
        self.enqueue(vec![job], Some(tenant));
    }

    fn enqueue(self: &Arc<Self>, jobs: Vec<DeliveryJob>, retry: Option<Tenant>) {
        let mut overflowed = Vec::new();
        let mut start = Vec::new();
        {
            let mut queues = self.lock();
            let Queues { endpoints, known } = &mut *queues;
            for job in jobs {
                if let Some(held) = known.get_mut(&job.delivery_id) {
                    held.lease_until = held.lease_until.max(job.lease_until);
                    // Still queued, it will be attempted after the retry was asked for: that
                    // is the attempt asked for. Taken, it may have been sent before.
                    if held.taken && retry.is_some() {
                        held.again.clone_from(&retry);
                    }
                    continue;
                }
                let queue = endpoints.entry(job.endpoint_id.clone()).or_default();
                if queue.pending.len() >= QUEUE_CAP_PER_ENDPOINT {
                    metrics::counter!("hookd_dispatch_overflow_total").increment(1);
                    overflowed.push(job.delivery_id);
                    continue;
                }
                known.insert(
                    job.delivery_id.clone(),
                    Held {
                        lease_until: job.lease_until,
                        taken: false,
                        again: None,
                    },
                );
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
            let attempts = job.attempt_count + 1;
            let Ok(slot) = self.global.acquire().await else {
                return; // never closed
            };
            if self.stop.is_cancelled() {
                // Left leased: the engine releases this node's leases once everything stopped.
                self.forget(&delivery);
                continue;
            }
            // Unwind safety: no lock is held across the attempt, and the targets cache recovers
            // from poisoning; what a panicking attempt leaves behind is only its own job.
            let attempted = AssertUnwindSafe(sender::attempt(&self.shared, job))
                .catch_unwind()
                .await;
            let record = match attempted {
                Ok(Some(record)) => record,
                Ok(None) => {
                    drop(slot);
                    self.forget(&delivery);
                    continue;
                }
                Err(_) => {
                    // A bug, not an outcome: nothing to record. Left leased, the delivery is
                    // attempted again when its lease expires; this runner goes on, so the
                    // endpoint keeps its runners.
                    tracing::error!(delivery = %delivery, "a delivery attempt panicked; it is attempted again when its lease expires");
                    drop(slot);
                    self.forget(&delivery);
                    continue;
                }
            };
            let Ok(room) = Arc::clone(&self.shared.recording).acquire_owned().await else {
                return; // never closed
            };
            drop(slot);
            // Only the rare result worth telling about keeps a copy of its facts.
            let notable = report::Notable::of(&record, attempts);
            // A keyed delivery that ended lets its key's next delivery go: once the result is
            // written, the poller claims it (docs/ordering.md).
            let frees_key = record.ordered && ordering::frees_key(record.next);
            let dispatcher = Arc::clone(&self);
            // Counts as a task of the engine until the result is written: shutdown waits for it.
            let pending_write = self.tasks.token();
            Arc::clone(&self.shared.store).record_attempt_then(
                record,
                self.shared.health,
                // The result's timestamp is when it is handed to the store.
                Timestamp::now(),
                Box::new(move |outcome| {
                    match outcome {
                        Ok(written) => {
                            if let Some(notable) = notable {
                                report::written(&dispatcher, notable, written);
                            }
                        }
                        // The lease expires and the delivery is attempted again: at-least-once.
                        Err(e) => tracing::error!(
                            delivery = %delivery,
                            error = &e as &(dyn std::error::Error + 'static),
                            "could not record an attempt"
                        ),
                    }
                    if frees_key {
                        dispatcher.shared.wake_poller.notify_one();
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
        let Queues { endpoints, known } = &mut *queues;
        let queue = endpoints.get_mut(endpoint)?;
        if let Some(mut job) = queue.pending.pop_front() {
            self.backlog.fetch_sub(1, Ordering::Relaxed);
            if let Some(held) = known.get_mut(&job.delivery_id) {
                held.taken = true;
                job.lease_until = held.lease_until;
            }
            return Some(job);
        }
        queue.runners -= 1;
        if queue.runners == 0 {
            endpoints.remove(endpoint);
        }
        None
    }

    /// The delivery is done here (recorded, or not attempted): it may be queued again, and is
    /// if a retry was asked for meanwhile.
    fn forget(self: &Arc<Self>, delivery: &DeliveryId) {
        let again = self
            .lock()
            .known
            .remove(delivery)
            .and_then(|held| held.again);
        if let Some(tenant) = again {
            self.requeue(tenant, delivery.clone());
        }
    }

    /// Re-queues a delivery whose retry was asked for while it was in flight. Its result is
    /// durable by now, so this write comes after that result's: the delivery ends pending, due
    /// now and leased here, and the job carries the attempt count that includes the attempt
    /// just made. Tracked, so a shutdown waits for it and then releases the lease.
    fn requeue(self: &Arc<Self>, tenant: Tenant, delivery: DeliveryId) {
        let dispatcher = Arc::clone(self);
        let task = async move {
            let lease = dispatcher.lease();
            let store = &dispatcher.shared.store;
            match store
                .requeue_delivery(&tenant, &delivery, &lease, Timestamp::now())
                .await
            {
                Ok(Some(job)) => dispatcher.submit(vec![job]),
                // Its endpoint was deleted meanwhile: cancelled, nothing to attempt.
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(error = %e, delivery = %delivery, "could not re-queue a delivery retried while in flight; retry it again");
                }
            }
        };
        // A delivery may be forgotten on the store's writer thread, outside the runtime.
        self.tasks.spawn_on(task, &self.shared.runtime);
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::super::test_support::{wait_until, Fixture, Hook, Setup};
    use super::Dispatcher;
    use crate::domain::ids::DeliveryId;
    use crate::domain::time::Timestamp;
    use crate::store::DeliveryJob;

    /// Nothing held, no runner counted: what a dispatcher comes back to once its work is done.
    fn idle(dispatcher: &Dispatcher) -> bool {
        let queues = dispatcher.lock();
        queues.known.is_empty() && queues.endpoints.is_empty()
    }

    fn event_ids(jobs: &[&DeliveryJob]) -> Vec<String> {
        jobs.iter()
            .map(|j| j.event_id.as_str().to_string())
            .collect()
    }

    /// A job waits in the queue until its lease runs out; the poller claims it again with a new
    /// lease and submits it. The queued copy must be attempted under the new lease, not skipped
    /// for the old one (which would leave it untouched until the new lease expired in turn).
    #[tokio::test]
    async fn a_queued_job_claimed_again_is_attempted_under_its_new_lease() {
        let fx = Fixture::start(Setup {
            hold_first: true,
            ..Setup::default()
        })
        .await;
        let first = fx.publish(Timestamp::now().plus_millis(60_000)).await;
        // Queued with a lease that has run out: as if it waited behind a deep queue.
        let second = fx.publish(Timestamp::now().plus_millis(-1)).await;
        fx.dispatcher.submit(vec![first.clone()]);
        fx.receiver.wait_for(1).await; // the endpoint's one runner is busy with `first`
        fx.dispatcher.submit(vec![second.clone()]);

        // What the poller does: the expired lease makes `second` due again.
        let claimed = fx
            .store
            .claim_due(Timestamp::now(), 10, &fx.dispatcher.lease())
            .await
            .unwrap();
        let claimed_ids: Vec<&DeliveryId> = claimed.iter().map(|j| &j.delivery_id).collect();
        assert_eq!(claimed_ids, [&second.delivery_id]);
        fx.dispatcher.submit(claimed);
        fx.receiver.release();

        let got = fx.receiver.wait_for(2).await;
        assert_eq!(got, event_ids(&[&first, &second]));
        wait_until("the dispatcher is idle", || idle(&fx.dispatcher)).await;
        assert_eq!(fx.attempts_recorded(&second).await, 1);
    }

    /// The target lookup may wait on the database; if the lease can no longer cover an attempt
    /// by the time it returns, no request may be made: the delivery may be another node's now.
    #[tokio::test]
    async fn the_lease_is_checked_again_right_before_the_request() {
        let timeout = Duration::from_millis(500);
        let timeout_ms = 500;
        let slow_lookup: Hook = Arc::new(move |job: &DeliveryJob| {
            let lease_until = job.lease_until;
            Box::pin(async move {
                wait_until("the lease is too short for an attempt", || {
                    Timestamp::now().plus_millis(timeout_ms) >= lease_until
                })
                .await;
            })
        });
        let fx = Fixture::start(Setup {
            timeout,
            before_lookup: Some(slow_lookup),
            ..Setup::default()
        })
        .await;
        // Room for the check before the lookup (300 ms to spare), not for the lookup.
        let job = fx
            .publish(Timestamp::now().plus_millis(timeout_ms + 300))
            .await;
        fx.dispatcher.submit(vec![job.clone()]);

        // Idle once the runner is done with the job: skipped, or sent and recorded.
        wait_until("the dispatcher is idle", || idle(&fx.dispatcher)).await;
        assert_eq!(fx.receiver.received(), Vec::<String>::new());
        assert_eq!(fx.attempts_recorded(&job).await, 0);
    }

    /// A bug that panics in an attempt must not take the endpoint's runner with it: the next job
    /// is still attempted, and the counts come back to zero.
    #[tokio::test]
    async fn an_attempt_that_panics_leaves_its_endpoint_a_runner() {
        let doomed: Arc<Mutex<Option<DeliveryId>>> = Arc::default();
        let panicked = Arc::new(AtomicUsize::new(0));
        let (bug, count) = (Arc::clone(&doomed), Arc::clone(&panicked));
        let panics: Hook = Arc::new(move |job: &DeliveryJob| {
            if bug.lock().unwrap().as_ref() == Some(&job.delivery_id) {
                count.fetch_add(1, Ordering::SeqCst);
                panic!("a bug in an attempt (expected by this test)");
            }
            Box::pin(async {})
        });
        let fx = Fixture::start(Setup {
            before_lookup: Some(panics),
            ..Setup::default() // one runner per endpoint
        })
        .await;
        let lease = Timestamp::now().plus_millis(60_000);
        let first = fx.publish(lease).await;
        let second = fx.publish(lease).await;
        *doomed.lock().unwrap() = Some(first.delivery_id.clone());
        fx.dispatcher.submit(vec![first.clone(), second.clone()]);

        assert_eq!(fx.receiver.wait_for(1).await, event_ids(&[&second]));
        wait_until("the dispatcher is idle", || idle(&fx.dispatcher)).await;
        // Forgotten, so it is taken again when submitted again (as when its lease expires).
        let third = fx.publish(lease).await;
        fx.dispatcher.submit(vec![third.clone(), first.clone()]);
        let got = fx.receiver.wait_for(2).await;
        assert_eq!(got, event_ids(&[&second, &third]));
        wait_until("the dispatcher is idle", || idle(&fx.dispatcher)).await;
        assert_eq!(
            panicked.load(Ordering::SeqCst),
            2,
            "attempted again, not dropped as held"
        );
        assert_eq!(fx.attempts_recorded(&first).await, 0);
    }
}
