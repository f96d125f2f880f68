//! Per-endpoint queues and the concurrency limits.
//!
//! One task owns every queue, so no locks are needed. Each endpoint may have at most
//! `endpoint_max_in_flight` requests in flight, and all endpoints together at most
//! `global_max_in_flight` (a semaphore): a blackholed endpoint ties up only its own slots, while
//! the others keep flowing. Both slots are freed as soon as the HTTP exchange ends, so the next
//! request does not wait for the commit of this one's result; results waiting to be written
//! are bounded by a third semaphore, and when it is full the request slots are held until
//! there is room, so a slow database slows the attempts rather than filling memory.
//!
//! Endpoints with work take turns (round robin). Queues are bounded: a job that does not fit is
//! dropped from memory, and its lease expiring hands it back to the poller later, so memory
//! stays bounded whatever the backlog in the database.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{sender, Shared};
use crate::domain::ids::{DeliveryId, EndpointId};
use crate::store::DeliveryJob;

/// Most jobs held in memory for one endpoint (a job is a few hundred bytes; its payload is
/// shared with the event's other deliveries).
const QUEUE_CAP_PER_ENDPOINT: usize = 50_000;

pub(super) enum Command {
    Submit(Vec<DeliveryJob>),
    /// The HTTP exchange ended: the endpoint's slot is free.
    Sent {
        endpoint: EndpointId,
    },
    /// The attempt's result is written (or the job was dropped): the delivery may be queued
    /// here again.
    Finished {
        delivery: DeliveryId,
    },
    /// Answered when handled. Sent after the stop token is cancelled, the answer means no
    /// `pump` that missed the cancellation is still running, so no attempt can start anymore.
    Barrier(oneshot::Sender<()>),
}

#[derive(Default)]
struct EndpointQueue {
    pending: VecDeque<DeliveryJob>,
    in_flight: usize,
    scheduled: bool,
}

pub(super) struct Dispatcher {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
    queues: HashMap<EndpointId, EndpointQueue>,
    /// Endpoints that have queued work and a free slot, in turn order.
    ready: VecDeque<EndpointId>,
    /// Deliveries queued or in flight here, so a job submitted twice is attempted once.
    known: HashSet<DeliveryId>,
    global: Arc<Semaphore>,
    per_endpoint: usize,
    tasks: TaskTracker,
    backlog: Arc<AtomicUsize>,
    /// Jobs that did not fit, whose leases are to be released.
    overflowed: Vec<DeliveryId>,
    /// Once cancelled (shutdown), no new attempt starts; queued jobs stay leased until the engine
    /// releases this node's leases.
    stop: CancellationToken,
}

impl Dispatcher {
    pub(super) fn new(
        shared: Arc<Shared>,
        commands: mpsc::UnboundedSender<Command>,
        tasks: TaskTracker,
        backlog: Arc<AtomicUsize>,
        stop: CancellationToken,
    ) -> Self {
        Self {
            global: Arc::new(Semaphore::new(shared.global_max_in_flight)),
            per_endpoint: shared.endpoint_max_in_flight,
            shared,
            commands,
            queues: HashMap::new(),
            ready: VecDeque::new(),
            known: HashSet::new(),
            tasks,
            backlog,
            overflowed: Vec::new(),
            stop,
        }
    }

    /// Runs until the command channel closes (every engine handle dropped or shut down).
    pub(super) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        while let Some(command) = commands.recv().await {
            self.handle(command);
            // Drain whatever else is waiting before starting attempts: fewer wake-ups.
            while let Ok(command) = commands.try_recv() {
                self.handle(command);
            }
            self.release_overflow();
            self.pump();
        }
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Submit(jobs) => jobs.into_iter().for_each(|job| self.enqueue(job)),
            Command::Barrier(done) => {
                let _ = done.send(());
            }
            Command::Finished { delivery } => {
                self.known.remove(&delivery);
            }
            Command::Sent { endpoint } => {
                if let Some(queue) = self.queues.get_mut(&endpoint) {
                    queue.in_flight -= 1;
                    if queue.in_flight == 0 && queue.pending.is_empty() {
                        self.queues.remove(&endpoint);
                    } else if !queue.scheduled && !queue.pending.is_empty() {
                        queue.scheduled = true;
                        self.ready.push_back(endpoint);
                    }
                }
            }
        }
    }

    fn enqueue(&mut self, job: DeliveryJob) {
        if self.known.contains(&job.delivery_id) {
            return;
        }
        let queue = self.queues.entry(job.endpoint_id.clone()).or_default();
        if queue.pending.len() >= QUEUE_CAP_PER_ENDPOINT {
            // Hand it back to the database now rather than when its lease expires: the poller
            // claims it again once the backlog has room.
            metrics::counter!("hookd_dispatch_overflow_total").increment(1);
            self.overflowed.push(job.delivery_id);
            return;
        }
        self.known.insert(job.delivery_id.clone());
        let endpoint = job.endpoint_id.clone();
        queue.pending.push_back(job);
        self.backlog.fetch_add(1, Ordering::Relaxed);
        if !queue.scheduled && queue.in_flight < self.per_endpoint {
            queue.scheduled = true;
            self.ready.push_back(endpoint);
        }
    }

    fn release_overflow(&mut self) {
        if self.overflowed.is_empty() {
            return;
        }
        let ids = std::mem::take(&mut self.overflowed);
        let store = Arc::clone(&self.shared.store);
        self.tasks.spawn(async move {
            for id in ids {
                if let Err(e) = store.release_delivery(&id).await {
                    tracing::warn!(error = %e, delivery = %id, "could not release an overflowed delivery; its lease will expire");
                }
            }
        });
    }

    /// Starts attempts while slots are free, one endpoint at a time in turn.
    fn pump(&mut self) {
        if self.stop.is_cancelled() {
            return;
        }
        while let Some(endpoint) = self.ready.pop_front() {
            let Some(queue) = self.queues.get_mut(&endpoint) else {
                continue;
            };
            if queue.in_flight >= self.per_endpoint || queue.pending.is_empty() {
                queue.scheduled = false;
                continue;
            }
            let Ok(permit) = Arc::clone(&self.global).try_acquire_owned() else {
                // Every global slot is busy: the next `Sent` resumes from here.
                self.ready.push_front(endpoint);
                return;
            };
            let job = queue.pending.pop_front().expect("checked non-empty above");
            self.backlog.fetch_sub(1, Ordering::Relaxed);
            queue.in_flight += 1;
            if queue.in_flight < self.per_endpoint && !queue.pending.is_empty() {
                self.ready.push_back(endpoint.clone());
            } else {
                queue.scheduled = false;
            }
            let shared = Arc::clone(&self.shared);
            let commands = self.commands.clone();
            self.tasks.spawn(async move {
                let delivery = job.delivery_id.clone();
                let result = sender::attempt(&shared, job).await;
                let recording = Arc::clone(&shared.recording).acquire_owned().await;
                drop(permit);
                let _ = commands.send(Command::Sent { endpoint });
                if let Some(record) = result {
                    sender::record(&shared, record).await;
                }
                drop(recording);
                let _ = commands.send(Command::Finished { delivery });
            });
        }
    }
}
