//! `spawn_app()` and friends: a real hookd on a loopback port with its own fresh SQLite file, and
//! real loopback receivers that record what they get.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use hookd::admin;
use hookd::app::Server;
use hookd::config::{Config, Secret};
use hookd::domain::tenant::Mode;
use hookd::store::DynStore;
use serde_json::Value;
use tokio::sync::{oneshot, Notify};

pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    /// Keys of the `default` workspace.
    pub live_key: String,
    pub test_key: String,
    pub store: DynStore,
    pub config: Config,
    pub dir: Arc<tempfile::TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// A config for tests: fresh SQLite file in `dir`, loopback allowed for egress, fast retries.
pub fn test_config(dir: &std::path::Path) -> Config {
    Config {
        database_url: format!("sqlite://{}", dir.join("hookd.db").display()),
        master_key: Some(Secret("11".repeat(32))),
        egress_allow_http: true,
        egress_allow_nets: vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
        retry_schedule: vec![1, 1, 1],
        delivery_timeout_ms: 2_000,
        rate_limit_per_sec: 10_000,
        rate_limit_burst: 10_000,
        ..Config::default()
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Boots the app with `adjust` applied to the test config.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let mut config = test_config(dir.path());
    adjust(&mut config);
    boot(config, dir).await
}

async fn boot(config: Config, dir: Arc<tempfile::TempDir>) -> TestApp {
    let store = hookd::app::open_store(&config).await.expect("open store");
    let keys = admin::bootstrap_if_empty(&store).await.expect("bootstrap");
    let (live_key, test_key) = match keys {
        Some(k) => (k.live, k.test),
        None => {
            let (_, live) = admin::create_key(&store, admin::DEFAULT_WORKSPACE, Mode::Live)
                .await
                .unwrap();
            let (_, test) = admin::create_key(&store, admin::DEFAULT_WORKSPACE, Mode::Test)
                .await
                .unwrap();
            (live, test)
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().unwrap();
    let server = Server::with_store(config.clone(), store.clone()).expect("build server");
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(server.run(listener, async move {
        let _ = rx.await;
    }));
    TestApp {
        base_url: format!("http://{addr}"),
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
        live_key,
        test_key,
        store,
        config,
        dir,
        shutdown: Some(tx),
        server: Some(handle),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// A request with the live key.
    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.live_key)
    }

    pub async fn post_json(&self, key: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        let r = self
            .client
            .post(self.url(path))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap();
        into_parts(r).await
    }

    pub async fn get_json(&self, key: &str, path: &str) -> (StatusCode, Value) {
        let r = self
            .client
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        into_parts(r).await
    }

    pub async fn patch_json(&self, key: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        let r = self
            .client
            .patch(self.url(path))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap();
        into_parts(r).await
    }

    pub async fn delete(&self, key: &str, path: &str) -> (StatusCode, Value) {
        let r = self
            .client
            .delete(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        into_parts(r).await
    }

    /// Creates an endpoint with the live key and returns its JSON (`data`).
    pub async fn create_endpoint(&self, url: &str, events: &[&str]) -> Value {
        self.create_endpoint_with(&self.live_key, url, events).await
    }

    pub async fn create_endpoint_with(&self, key: &str, url: &str, events: &[&str]) -> Value {
        let (status, body) = self
            .post_json(
                key,
                "/v1/webhook-endpoints",
                &serde_json::json!({"name": "test", "url": url, "events": events}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["data"].clone()
    }

    /// Keys (live, test) of a new workspace.
    pub async fn new_workspace(&self, name: &str) -> (String, String) {
        admin::create_workspace(&self.store, name).await.unwrap();
        let (_, live) = admin::create_key(&self.store, name, Mode::Live)
            .await
            .unwrap();
        let (_, test) = admin::create_key(&self.store, name, Mode::Test)
            .await
            .unwrap();
        (live, test)
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.server.take() {
            handle.await.unwrap().unwrap();
        }
    }
}

pub async fn into_parts(r: reqwest::Response) -> (StatusCode, Value) {
    let status = StatusCode::from_u16(r.status().as_u16()).unwrap();
    let text = r.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

/// Asserts an error answer's status, code and (optionally) param.
pub fn assert_error(
    status: StatusCode,
    body: &Value,
    want_status: u16,
    code: &str,
    param: Option<&str>,
) {
    assert_eq!(status.as_u16(), want_status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    if let Some(param) = param {
        assert_eq!(body["error"]["param"], param, "{body}");
    }
}

/// One request a receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: std::time::Instant,
}

/// A real HTTP receiver on loopback: records each request and answers with the status the
/// `script` gives for the n-th request (0-based).
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    arrived: Arc<Notify>,
}

impl Receiver {
    pub async fn start() -> Self {
        Self::scripted(|_| (200, "ok".to_string())).await
    }

    pub async fn scripted(script: impl Fn(usize) -> (u16, String) + Send + Sync + 'static) -> Self {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let arrived = Arc::new(Notify::new());
        let script = Arc::new(script);
        let (rec, notify) = (Arc::clone(&received), Arc::clone(&arrived));
        let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let (rec, notify, script) =
                (Arc::clone(&rec), Arc::clone(&notify), Arc::clone(&script));
            async move {
                let n = {
                    let mut list = rec.lock().unwrap();
                    list.push(Received {
                        headers,
                        body,
                        at: std::time::Instant::now(),
                    });
                    list.len() - 1
                };
                notify.notify_waiters();
                let (status, body) = script(n);
                (StatusCode::from_u16(status).unwrap(), body)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}/hook"),
            addr,
            received,
            arrived,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    /// Waits until at least `n` requests arrived (or panics after `timeout`).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.arrived.notified();
            if self.count() >= n {
                return self.received();
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "receiver got {} requests, expected {n} within {timeout:?}",
                    self.count()
                );
            }
        }
    }
}

/// Polls `check` until it returns `Some` (a condition, not a fixed sleep), or panics.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
