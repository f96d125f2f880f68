//! The delivery engine: gets every accepted event to every matching endpoint.
//!
//! - A fresh delivery goes from the publish commit straight into the in-memory [`dispatcher`]
//!   (no polling delay); it is leased to this node so no other node takes it meanwhile.
//! - The dispatcher's runners bound concurrency per endpoint and globally; the [`sender`] makes
//!   one signed attempt and hands the answer to the domain's rules
//!   ([`crate::domain::delivery::outcome`]), which decide what it means and when the next attempt
//!   is due; the runner hands that result to the store and goes on to the endpoint's next job.
//! - The [`poller`] picks up what the database says is due and unleased: retries whose time has
//!   come, deliveries of re-activated endpoints, and work left by a crash or another node.
//!
//! The database is the source of truth throughout: memory only ever holds leased copies.

mod dispatcher;
mod poller;
mod report;

pub mod sender;
mod targets;
#[cfg(test)]
mod test_support;

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::crypto::Cipher;
use crate::domain::delivery::outcome::HealthRule;
use crate::domain::delivery::retry::RetryPolicy;
use crate::domain::ids::EndpointId;
use crate::domain::tenant::Tenant;
use crate::domain::time::Timestamp;
use crate::egress::EgressClient;
use crate::oauth2::TokenCache;
use crate::store::{DeliveryJob, DynStore, Lease};
use dispatcher::Dispatcher;
use targets::Targets;

/// Attempt results that may wait to be written, per global request slot: enough for the
/// database's group commits to keep up with the requests, bounded so a slow database slows
/// the attempts instead of piling results up in memory.
const RESULTS_PER_REQUEST_SLOT: usize = 4;

/// What every attempt needs, shared by the dispatcher's tasks.
pub(crate) struct Shared {
    store: DynStore,
    egress: EgressClient,
    /// OAuth2 tokens of endpoints (and, through [`Engine::tokens`], of integrations).
    tokens: TokenCache,
    targets: Targets,
    retry: RetryPolicy,
    health: HealthRule,
    /// This node's name on the leases it takes (and on its attempts' results).
    owner: String,
    timeout: Duration,
    endpoint_max_in_flight: usize,
    global_max_in_flight: usize,
    /// Room for attempt results waiting to be written (see the dispatcher).
    recording: Arc<tokio::sync::Semaphore>,
    /// Tests only: runs in an attempt between its first lease check and the target lookup, to
    /// stand for a slow lookup or a bug that panics.
    #[cfg(test)]
    before_lookup: Option<test_support::Hook>,
    /// How long a lease taken by this node lasts.
    lease_ms: i64,
    /// Publish operational events (`report.rs`).
    operational_events: bool,
    /// Wakes the poller: a keyed delivery ended, so the next one of its key may be due now.
    wake_poller: Arc<Notify>,
    /// Where `report.rs` spawns its publishes from the store's callback (which may run on the
    /// SQLite writer thread, outside the runtime).
    runtime: tokio::runtime::Handle,
}

impl Shared {
    /// A lease held by this node from now: long enough for the slowest attempt.
    fn lease(&self) -> Lease {
        Lease {
            owner: self.owner.clone(),
            until: Timestamp::now().plus_millis(self.lease_ms),
        }
    }
}

pub struct Engine {
    dispatcher: Arc<Dispatcher>,
    shared: Arc<Shared>,
    wake_poller: Arc<Notify>,
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl Engine {
    /// Starts the dispatcher and the poller; must be called inside a tokio runtime.
    pub fn start(config: &Config, store: DynStore, egress: EgressClient, cipher: Cipher) -> Self {
        let timeout = Duration::from_millis(config.delivery_timeout_ms);
        // A lease outlives the slowest attempt with margin, then frees the work for others.
        let lease_ms = i64::try_from(timeout.as_millis())
            .unwrap_or(i64::MAX / 2)
            .saturating_add(60_000);
        let owner = format!(
            "node_{}",
            ulid::Ulid::new().to_string().to_ascii_lowercase()
        );
        let wake_poller = Arc::new(Notify::new());
        let shared = Arc::new(Shared {
            owner: owner.clone(),
            wake_poller: Arc::clone(&wake_poller),
            targets: Targets::new(Arc::clone(&store), cipher),
            store,
            tokens: TokenCache::new(egress.clone()),
            egress,
            retry: RetryPolicy::new(&config.retry_schedule),
            health: HealthRule {
                failing_for_ms: i64::try_from(config.auto_disable_after_secs.saturating_mul(1000))
                    .unwrap_or(i64::MAX),
                min_exhausted: i64::from(config.auto_disable_min_failures),
            },
            timeout,
            endpoint_max_in_flight: config.endpoint_max_in_flight,
            global_max_in_flight: config.global_max_in_flight,
            recording: Arc::new(tokio::sync::Semaphore::new(
                config
                    .global_max_in_flight
                    .saturating_mul(RESULTS_PER_REQUEST_SLOT),
            )),
            #[cfg(test)]
            before_lookup: None,
            lease_ms,
            operational_events: config.operational_events,
            runtime: tokio::runtime::Handle::current(),
        });
        let tasks = TaskTracker::new();
        let backlog = Arc::new(AtomicUsize::new(0));
        let stop = CancellationToken::new();
        let dispatcher = Arc::new(Dispatcher::new(
            Arc::clone(&shared),
            tasks.clone(),
            Arc::clone(&backlog),
            stop.clone(),
        ));
        // Tracked with the attempts, so `shutdown` knows when no claim can land anymore.
        tasks.spawn(poller::run(poller::Poller {
            store: Arc::clone(&shared.store),
            dispatcher: Arc::clone(&dispatcher),
            backlog,
            wake: Arc::clone(&wake_poller),
            stop: stop.clone(),
            owner,
            lease_ms,
        }));
        Self {
            dispatcher,
            shared,
            wake_poller,
            stop,
            tasks,
        }
    }

    /// The lease a fresh delivery is created with: held by this node.
    pub fn lease(&self) -> Lease {
        self.dispatcher.lease()
    }

    /// Hands leased jobs to the dispatcher.
    pub fn submit(&self, jobs: Vec<DeliveryJob>) {
        if !jobs.is_empty() && !self.stop.is_cancelled() {
            self.dispatcher.submit(jobs);
        }
    }

    /// Hands the dispatcher a delivery that `tenant` asked to retry, re-queued in the database
    /// under [`Engine::lease`]. Unlike [`Engine::submit`], a delivery already in flight here is
    /// not dropped as a duplicate: it is attempted once more after the attempt in flight.
    pub fn retry(&self, tenant: Tenant, job: DeliveryJob) {
        if !self.stop.is_cancelled() {
            self.dispatcher.retry(tenant, job);
        }
    }

    /// The events were erased: their jobs still queued on this node are dropped unsent.
    pub fn events_erased(&self, ids: &[crate::domain::ids::EventId]) {
        if !ids.is_empty() {
            self.dispatcher.drop_events(&ids.iter().cloned().collect());
            // Their cancelled keyed deliveries let the next ones of their keys go.
            self.wake_poller.notify_one();
        }
    }

    /// The endpoint's URL, secrets or state changed: stop using cached values.
    pub fn endpoint_changed(&self, id: &EndpointId) {
        self.shared.targets.invalidate(id);
    }

    /// The endpoint was re-activated: its parked deliveries are due now.
    pub fn endpoint_reactivated(&self, id: &EndpointId) {
        self.shared.targets.invalidate(id);
        self.wake_poller.notify_one();
    }

    /// Asks the poller to look for due work now (after a replay, for example).
    pub fn wake(&self) {
        self.wake_poller.notify_one();
    }

    pub fn egress(&self) -> &EgressClient {
        &self.shared.egress
    }

    /// The node's OAuth2 token cache, shared by deliveries and integration calls.
    pub fn tokens(&self) -> &TokenCache {
        &self.shared.tokens
    }

    pub fn timeout(&self) -> Duration {
        self.shared.timeout
    }

    /// Stops taking work and starting attempts, lets in-flight attempts finish and record, then
    /// releases this node's remaining leases (queued jobs included) so the work is immediately
    /// available to the next start or another node.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        self.tasks.close();
        // Runners with an attempt in flight, results not yet written, and the poller: a claim
        // it is committing must land before the leases are released, or it would stay leased
        // after the stop. A runner that starts after this returns finds the token cancelled
        // before it makes a request (it is tracked from the moment it is spawned, so none can
        // be half-way past the check).
        self.tasks.wait().await;
        match self
            .shared
            .store
            .release_leases(Some(&self.shared.owner))
            .await
        {
            Ok(released) => tracing::info!(released, "delivery engine stopped"),
            Err(e) => {
                tracing::warn!(error = %e, "could not release leases at shutdown; they expire on their own")
            }
        }
    }
}
