//! `spawn_app()` and friends: a real hookd on a loopback port with its own fresh database (a
//! SQLite file, or a PostgreSQL database), and real loopback receivers that record what they
//! get. Also what the PostgreSQL suite's runner needs: the `#[suite_test]` registry and the
//! server's reachability.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use hookd::admin;
use hookd::app::Server;
use hookd::config::{Config, Secret};
use hookd::domain::tenant::Mode;
use hookd::store::DynStore;
use serde_json::Value;
use sqlx::Connection;
use tokio::sync::{oneshot, Notify};

/// Which database the suite runs on (set by the test binary's `main.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub use hookd_test_macros::suite_test;

/// One `#[suite_test]` as the PostgreSQL suite's runner sees it (see `hookd-test-macros`).
/// Registered in both binaries; only `tests/it_postgres/main.rs` collects them.
pub struct SuiteTest {
    /// `module_path!()` where the test is defined, the binary's crate name first.
    pub module: &'static str,
    pub name: &'static str,
    /// `None`: tokio's current-thread runtime; `Some(n)`: the multi-thread one with `n` workers.
    pub worker_threads: Option<usize>,
    pub run: fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>,
}

inventory::collect!(SuiteTest);

impl SuiteTest {
    /// The name the standard harness would give it: the module path without the crate.
    pub fn full_name(&self) -> String {
        match self.module.split_once("::") {
            Some((_, module)) => format!("{module}::{}", self.name),
            None => self.name.to_string(),
        }
    }

    /// Runs the test on its own runtime, as `#[tokio::test]` does; a failure panics.
    pub fn run_blocking(&self) {
        let mut runtime = match self.worker_threads {
            None => tokio::runtime::Builder::new_current_thread(),
            Some(workers) => {
                let mut builder = tokio::runtime::Builder::new_multi_thread();
                builder.worker_threads(workers);
                builder
            }
        };
        runtime
            .enable_all()
            .build()
            .expect("test runtime")
            .block_on((self.run)());
    }
}

/// The PostgreSQL server the suite creates its databases on.
pub fn postgres_server() -> String {
    std::env::var("HOOKD_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.to_string())
}

/// Whether [`postgres_server`] takes a connection; the reason when it does not.
pub fn probe_postgres() -> Result<(), String> {
    let server = postgres_server();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime to reach PostgreSQL: {e}"))?;
    runtime.block_on(async {
        let admin = format!("{server}/postgres");
        match tokio::time::timeout(Duration::from_secs(10), sqlx::PgConnection::connect(&admin))
            .await
        {
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
                Ok(())
            }
            Ok(Err(e)) => Err(format!("no PostgreSQL reachable at {server} ({e})")),
            Err(_) => Err(format!("no PostgreSQL answered at {server} within 10 s")),
        }
    })
}

/// A database for one test: a file in a temp dir, or a fresh PostgreSQL database that is
/// dropped when this guard is.
pub struct TestDatabase {
    pub url: String,
    pub dir: Arc<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";

impl TestDatabase {
    pub async fn create() -> Self {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        match crate::BACKEND {
            Backend::Sqlite => Self {
                url: format!("sqlite://{}", dir.path().join("hookd.db").display()),
                dir,
                postgres: None,
            },
            Backend::Postgres => {
                // Reachable: the suite's runner checked before any test ran (it_postgres/main.rs).
                let server = postgres_server();
                let name = format!(
                    "hookd_test_{}",
                    ulid::Ulid::new().to_string().to_ascii_lowercase()
                );
                let admin = format!("{server}/postgres");
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .unwrap_or_else(|e| panic!("connecting to PostgreSQL at {server}: {e}"));
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                Self {
                    url: format!("{server}/{name}"),
                    dir,
                    postgres: Some((admin, name)),
                }
            }
        }
    }

    /// A database someone else owns and cleans up (e.g. a private PostgreSQL instance): nothing
    /// is dropped with this guard.
    pub fn existing(url: &str) -> Self {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        Self {
            url: url.to_string(),
            dir,
            postgres: None,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((admin, name)) = self.postgres.take() else {
            return;
        };
        // Drop may run inside the test's runtime: do the async clean-up on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    /// Keys of the `default` workspace.
    pub live_key: String,
    pub test_key: String,
    pub store: DynStore,
    pub config: Config,
    pub dir: Arc<tempfile::TempDir>,
    pub database: Arc<TestDatabase>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// A config for tests: the given database, loopback allowed for egress, fast retries.
pub fn test_config(database_url: &str) -> Config {
    Config {
        database_url: database_url.to_string(),
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
    let database = Arc::new(TestDatabase::create().await);
    let mut config = test_config(&database.url);
    adjust(&mut config);
    boot(config, database, None).await
}

/// Boots the app on a database the caller provides, with `adjust` applied to the test config.
pub async fn spawn_app_on(database: TestDatabase, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = test_config(&database.url);
    adjust(&mut config);
    boot(config, Arc::new(database), None).await
}

/// Boots a server; `keys` (live, test) are used when given, else the first start's or new ones.
async fn boot(
    config: Config,
    database: Arc<TestDatabase>,
    keys: Option<(String, String)>,
) -> TestApp {
    let dir = Arc::clone(&database.dir);
    let store = hookd::app::open_store(&config).await.expect("open store");
    let keys = match keys {
        Some(keys) => Some(keys),
        None => admin::bootstrap_if_empty(&store)
            .await
            .expect("bootstrap")
            .map(|k| (k.live, k.test)),
    };
    let (live_key, test_key) = match keys {
        Some(keys) => keys,
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
        database,
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

    /// Every byte the database holds, as the backend stores it: the SQLite file with its WAL,
    /// or every row of every table as PostgreSQL prints it. For checking no plaintext leaks.
    pub async fn raw_database_dump(&self) -> Vec<u8> {
        match crate::BACKEND {
            Backend::Sqlite => {
                let mut bytes = Vec::new();
                for suffix in ["", "-wal"] {
                    if let Ok(b) = std::fs::read(self.dir.path().join(format!("hookd.db{suffix}")))
                    {
                        bytes.extend(b);
                    }
                }
                bytes
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.database.url)
                    .await
                    .unwrap();
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'",
                )
                .fetch_all(&mut conn)
                .await
                .unwrap();
                let mut bytes = Vec::new();
                for table in tables {
                    let rows: Vec<String> =
                        sqlx::query_scalar(&format!("SELECT t::text FROM {table} t"))
                            .fetch_all(&mut conn)
                            .await
                            .unwrap();
                    rows.iter()
                        .for_each(|r| bytes.extend_from_slice(r.as_bytes()));
                }
                bytes
            }
        }
    }

    /// A second node of the same deployment: another server on this app's database, with its
    /// config and keys (PostgreSQL; on SQLite only one process serves a database).
    pub async fn spawn_peer(&self) -> TestApp {
        let keys = (self.live_key.clone(), self.test_key.clone());
        boot(self.config.clone(), Arc::clone(&self.database), Some(keys)).await
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
    pub method: Method,
    pub path: String,
    /// The query string, without `?`.
    pub query: Option<String>,
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
        Self::responding(move |n| {
            let (status, body) = script(n);
            let status = StatusCode::from_u16(status).unwrap();
            Box::pin(async move { (status, body).into_response() })
        })
        .await
    }

    /// Like [`Receiver::scripted`], for answers that need headers or take their time: `respond`
    /// builds the whole response to the n-th request (0-based).
    pub async fn responding(
        respond: impl Fn(usize) -> BoxFuture<'static, Response> + Send + Sync + 'static,
    ) -> Self {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let arrived = Arc::new(Notify::new());
        let respond = Arc::new(respond);
        let (rec, notify) = (Arc::clone(&received), Arc::clone(&arrived));
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let (rec, notify, respond) =
                    (Arc::clone(&rec), Arc::clone(&notify), Arc::clone(&respond));
                async move {
                    let n = {
                        let mut list = rec.lock().unwrap();
                        list.push(Received {
                            method,
                            path: uri.path().to_string(),
                            query: uri.query().map(str::to_string),
                            headers,
                            body,
                            at: std::time::Instant::now(),
                        });
                        list.len() - 1
                    };
                    notify.notify_waiters();
                    respond(n).await
                }
            },
        );
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
