//! Tests only: a dispatcher over a real SQLite store in a temp dir, one endpoint pointing at a
//! real loopback receiver, and the one seam the engine has for tests (a hook run in an attempt
//! before the target lookup).

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use futures_util::future::BoxFuture;
use serde_json::value::RawValue;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::dispatcher::Dispatcher;
use super::targets::Targets;
use super::Shared;
use crate::config::Config;
use crate::crypto::Cipher;
use crate::domain::delivery::outcome::HealthRule;
use crate::domain::delivery::retry::RetryPolicy;
use crate::domain::endpoint::Endpoint;
use crate::domain::event::NewEvent;
use crate::domain::ids::{EndpointId, EventId};
use crate::domain::secret::{KeyRing, SigningSecret};
use crate::domain::tenant::{Mode, Tenant};
use crate::domain::time::Timestamp;
use crate::egress::EgressClient;
use crate::store::sqlite::SqliteStore;
use crate::store::{DeliveryJob, DynStore, Lease, StoredEndpoint};

/// Runs in an attempt between its first lease check and the target lookup.
pub(super) type Hook = Arc<dyn Fn(&DeliveryJob) -> BoxFuture<'static, ()> + Send + Sync>;

/// How long a condition a test waits for may take before the test fails.
pub(super) const WAIT: Duration = Duration::from_secs(10);

/// What the fixture's engine is like.
pub(super) struct Setup {
    pub timeout: Duration,
    pub endpoint_max_in_flight: usize,
    pub before_lookup: Option<Hook>,
    /// Hold the receiver's first request until [`Receiver::release`].
    pub hold_first: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(2),
            endpoint_max_in_flight: 1,
            before_lookup: None,
            hold_first: false,
        }
    }
}

pub(super) struct Fixture {
    pub dispatcher: Arc<Dispatcher>,
    pub store: DynStore,
    pub receiver: Receiver,
    pub tenant: Tenant,
    _dir: tempfile::TempDir,
}

impl Fixture {
    pub async fn start(setup: Setup) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: DynStore = Arc::new(
            SqliteStore::open(&dir.path().join("hookd.db"), 2)
                .await
                .unwrap(),
        );
        let cipher = Cipher::new(&[7; 32]);
        let receiver = Receiver::start(setup.hold_first).await;
        let workspace = store.create_workspace("acme").await.unwrap();
        let tenant = Tenant {
            workspace_id: workspace.id,
            mode: Mode::Live,
        };
        let now = Timestamp::now();
        let secret = SigningSecret::generate();
        let endpoint = StoredEndpoint {
            signing_keys: cipher.seal_json(&KeyRing::new(secret.clone())),
            endpoint: Endpoint {
                id: EndpointId::generate(),
                url: receiver.url.clone(),
                name: "test".into(),
                events: vec!["post.created".into()],
                is_active: true,
                disabled_reason: None,
                project_id: None,
                secret_last4: secret.last4(),
                created_at: now,
                updated_at: now,
                auth: None,
            },
            auth_sealed: Vec::new(),
        };
        store.insert_endpoint(&tenant, &endpoint).await.unwrap();
        let config = Config {
            egress_allow_http: true,
            egress_allow_nets: vec!["127.0.0.0/8".parse().unwrap()],
            ..Config::default()
        };
        let egress = EgressClient::from_config(&config).unwrap();
        let shared = Arc::new(Shared {
            owner: "node_test".into(),
            tokens: crate::oauth2::TokenCache::new(egress.clone()),
            targets: Targets::new(Arc::clone(&store), cipher),
            store: Arc::clone(&store),
            egress,
            retry: RetryPolicy::new(&[60]),
            health: HealthRule {
                failing_for_ms: i64::MAX,
                min_exhausted: i64::MAX,
            },
            timeout: setup.timeout,
            endpoint_max_in_flight: setup.endpoint_max_in_flight,
            global_max_in_flight: 8,
            recording: Arc::new(Semaphore::new(32)),
            before_lookup: setup.before_lookup,
            lease_ms: 60_000,
            operational_events: false,
            wake_poller: Arc::new(tokio::sync::Notify::new()),
            runtime: tokio::runtime::Handle::current(),
        });
        let dispatcher = Arc::new(Dispatcher::new(
            shared,
            TaskTracker::new(),
            Arc::new(AtomicUsize::new(0)),
            CancellationToken::new(),
        ));
        Self {
            dispatcher,
            store,
            receiver,
            tenant,
            _dir: dir,
        }
    }

    /// Publishes one event (so one delivery to the endpoint) under a lease until `lease_until`;
    /// its job.
    pub async fn publish(&self, lease_until: Timestamp) -> DeliveryJob {
        let event = NewEvent {
            id: EventId::generate(),
            event_type: "post.created".into(),
            project_id: None,
            data: RawValue::from_string("{}".into()).unwrap(),
            created_at: Timestamp::now(),
            ordering_key: None,
        };
        let lease = Lease {
            owner: "node_test".into(),
            until: lease_until,
        };
        let (_, mut jobs) = self
            .store
            .publish_event(&self.tenant, event, &lease)
            .await
            .unwrap();
        assert_eq!(jobs.len(), 1);
        jobs.pop().unwrap()
    }

    /// The delivery's attempt count as stored.
    pub async fn attempts_recorded(&self, job: &DeliveryJob) -> i64 {
        let (delivery, _) = self
            .store
            .get_delivery(&self.tenant, &job.delivery_id)
            .await
            .unwrap()
            .unwrap();
        delivery.attempt_count
    }
}

/// Waits until `done` holds, checking every few milliseconds (a condition, not a fixed sleep);
/// panics after [`WAIT`].
pub(super) async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A real HTTP receiver on loopback: records the `webhook-id` (the event id) of every request
/// and answers 200, holding the first request if asked to.
#[derive(Clone)]
pub(super) struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<String>>>,
    release: Arc<Notify>,
}

impl Receiver {
    async fn start(hold_first: bool) -> Self {
        let received: Arc<Mutex<Vec<String>>> = Arc::default();
        let release = Arc::new(Notify::new());
        let (list, gate) = (Arc::clone(&received), Arc::clone(&release));
        let app = axum::Router::new().fallback(move |headers: HeaderMap| {
            let (list, gate) = (Arc::clone(&list), Arc::clone(&gate));
            async move {
                let id = headers
                    .get("webhook-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let n = {
                    let mut list = list.lock().unwrap();
                    list.push(id);
                    list.len()
                };
                if hold_first && n == 1 {
                    gate.notified().await;
                }
                "ok"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url,
            received,
            release,
        }
    }

    /// The event ids of the requests so far, in arrival order.
    pub fn received(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }

    /// Lets the held first request be answered (now, or as soon as it arrives).
    pub fn release(&self) {
        self.release.notify_one();
    }

    pub async fn wait_for(&self, n: usize) -> Vec<String> {
        wait_until(&format!("{n} requests received"), || {
            self.received().len() >= n
        })
        .await;
        self.received()
    }
}
