//! Real `hookd` processes on one PostgreSQL database, a receiver that counts deliveries per
//! `webhook-id`, and a publisher that spreads events over the living nodes: the pieces of the
//! scale-out tests.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;

/// The master key every node of a test cluster shares.
pub const MASTER_KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c2b7e151628aed2a6abf7158809cf4f3c";
/// Concurrent attempts per endpoint per node: small, so a held receiver fills it quickly.
pub const MAX_IN_FLIGHT: usize = 4;

/// A `hookd` command with only the configuration a test cluster uses (the test's own environment
/// is not inherited, so a developer's `HOOKD_*` variables cannot leak in).
pub fn hookd(database_url: &str, dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hookd"));
    command
        .env_clear()
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .env("HOOKD_DATABASE_URL", database_url)
        .env("HOOKD_MASTER_KEY", MASTER_KEY)
        .env("HOOKD_EGRESS_ALLOW_HTTP", "true")
        .env("HOOKD_EGRESS_ALLOW_NETS", "127.0.0.0/8")
        .env("HOOKD_DELIVERY_TIMEOUT_MS", "2000")
        .env("HOOKD_RETRY_SCHEDULE", "1,1,1,1,1,1,1,1,1,1")
        .env("HOOKD_RATE_LIMIT_PER_SEC", "1000000")
        .env("HOOKD_RATE_LIMIT_BURST", "1000000")
        .env("HOOKD_ENDPOINT_MAX_IN_FLIGHT", MAX_IN_FLIGHT.to_string())
        .kill_on_drop(true);
    command
}

/// Runs a `hookd` CLI command to completion and returns its stdout.
pub async fn run_cli(database_url: &str, dir: &Path, args: &[&str]) -> String {
    let output = hookd(database_url, dir)
        .args(args)
        .output()
        .await
        .expect("run hookd");
    assert!(
        output.status.success(),
        "hookd {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// One `hookd serve` child process. Killed (SIGKILL) when dropped; if the test is failing, the
/// tail of its log is printed first.
pub struct Node {
    pub name: String,
    pub base_url: String,
    /// The live key, when this node bootstrapped the empty database.
    pub bootstrap_key: Option<String>,
    child: Child,
    log: PathBuf,
}

impl Node {
    /// Starts `hookd serve` on a port of its choosing; see [`Node::ready`].
    pub fn spawn(name: &str, database_url: &str, dir: &Path) -> (String, Child, PathBuf) {
        let log = dir.join(format!("{name}.log"));
        let stderr = std::fs::File::create(&log).expect("log file");
        let child = hookd(database_url, dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn hookd serve");
        (name.to_string(), child, log)
    }

    /// Waits until a spawned server prints the address it listens on (it bootstraps, migrates
    /// and binds first), noting the live key if it printed the first-start keys.
    pub async fn ready((name, mut child, log): (String, Child, PathBuf)) -> Node {
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut bootstrap_key = None;
        let base_url = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.expect("read stdout") {
                if let Some(key) = line.trim().strip_prefix("live: ") {
                    bootstrap_key = Some(key.to_string());
                }
                if let Some(url) = line.strip_prefix("hookd listening on ") {
                    return url.trim().to_string();
                }
            }
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("{name} exited before listening:\n{log}")
        })
        .await
        .unwrap_or_else(|_| panic!("{name} did not start listening within 60 s"));
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Node {
            name,
            base_url,
            bootstrap_key,
            child,
            log,
        }
    }

    /// SIGKILL: no graceful shutdown, leases stay behind in the database.
    pub async fn kill(&mut self) {
        self.child.start_kill().expect("SIGKILL");
        self.child.wait().await.expect("reap");
    }

    /// This node's `hookd_delivery_attempts_total`, summed over outcomes (`None` if unreachable).
    pub async fn attempts_made(&self, client: &reqwest::Client) -> Option<u64> {
        let text = client
            .get(format!("{}/metrics", self.base_url))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        Some(
            text.lines()
                .filter(|l| l.starts_with("hookd_delivery_attempts_total"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>() as u64,
        )
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            eprintln!("--- last log lines of {} ---", self.name);
            tail.iter().rev().for_each(|l| eprintln!("{l}"));
        }
    }
}

/// Starts `count` servers on one database at the same time and waits until all listen.
pub async fn start_nodes(count: usize, database_url: &str, dir: &Path) -> Vec<Node> {
    let spawned: Vec<_> = (0..count)
        .map(|i| Node::spawn(&format!("node{i}"), database_url, dir))
        .collect();
    futures_util::future::join_all(spawned.into_iter().map(Node::ready)).await
}

#[derive(Default)]
struct Tallies {
    /// Requests that arrived, per `webhook-id` (counted on arrival, as a receiver that acts on
    /// the request before answering would).
    arrivals: HashMap<String, u32>,
    /// Ids answered 2xx, with how often.
    succeeded: HashMap<String, u32>,
    /// Ids of the requests waiting in the hold right now.
    held: HashSet<String>,
}

/// A loopback webhook receiver that counts deliveries per `webhook-id`. It can *hold* the
/// deliveries of events published through one node (`data.node`, set by the publisher): they
/// arrive, then wait for release. It can also *fail* requests (503) instead of answering 200.
#[derive(Clone)]
pub struct CountingReceiver {
    pub url: String,
    tallies: Arc<Mutex<Tallies>>,
    hold: Arc<watch::Sender<Option<u64>>>,
    fail: Arc<AtomicBool>,
}

/// Forgets a held id even if the request is dropped mid-wait (its sender died).
struct HeldGuard(Arc<Mutex<Tallies>>, String);

impl Drop for HeldGuard {
    fn drop(&mut self) {
        self.0.lock().unwrap().held.remove(&self.1);
    }
}

impl CountingReceiver {
    pub async fn start() -> Self {
        let receiver = Self {
            url: String::new(),
            tallies: Arc::default(),
            hold: Arc::new(watch::channel(None).0),
            fail: Arc::default(),
        };
        let state = receiver.clone();
        let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let state = state.clone();
            async move { state.handle(headers, body).await }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}/hook"),
            ..receiver
        }
    }

    async fn handle(&self, headers: HeaderMap, body: Bytes) -> StatusCode {
        let id = headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        *self
            .tallies
            .lock()
            .unwrap()
            .arrivals
            .entry(id.clone())
            .or_default() += 1;
        let node = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|b| b["data"]["node"].as_u64());
        let mut hold = self.hold.subscribe();
        if node.is_some() && *hold.borrow_and_update() == node {
            self.tallies.lock().unwrap().held.insert(id.clone());
            let _guard = HeldGuard(Arc::clone(&self.tallies), id.clone());
            let _ = hold.wait_for(|held| *held != node).await;
        }
        if self.fail.load(Ordering::SeqCst) {
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        *self
            .tallies
            .lock()
            .unwrap()
            .succeeded
            .entry(id)
            .or_default() += 1;
        StatusCode::OK
    }

    /// `Some(node)`: deliveries of events published through `node` are counted on arrival and
    /// then wait until the hold is lifted (`None`).
    pub fn set_hold(&self, node: Option<usize>) {
        self.hold.send_replace(node.map(|n| n as u64));
    }

    /// Ids of the requests waiting in the hold right now.
    pub fn held(&self) -> HashSet<String> {
        self.tallies.lock().unwrap().held.clone()
    }

    /// While on, requests are answered 503.
    pub fn set_fail(&self, on: bool) {
        self.fail.store(on, Ordering::SeqCst);
    }

    pub fn arrivals(&self) -> HashMap<String, u32> {
        self.tallies.lock().unwrap().arrivals.clone()
    }

    pub fn succeeded(&self) -> HashMap<String, u32> {
        self.tallies.lock().unwrap().succeeded.clone()
    }
}

/// Accepted events (id → index of the node that answered 202) and failed publishes.
#[derive(Default)]
pub struct Published {
    pub accepted: Mutex<HashMap<String, usize>>,
    pub failed: AtomicUsize,
}

impl Published {
    pub fn accepted_count(&self) -> usize {
        self.accepted.lock().unwrap().len()
    }

    pub fn ids_of(&self, node: usize) -> Vec<String> {
        let accepted = self.accepted.lock().unwrap();
        accepted
            .iter()
            .filter(|(_, n)| **n == node)
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// Publishes `count` `post.created` events from `concurrency` tasks, round-robin over the nodes
/// listed in `alive` (index, base URL) at the time of each request, recording every 202. Each
/// event's data names the node it was published through, which is the node that dispatches it
/// (a fresh delivery is leased to the node that accepted it).
pub async fn publish_round_robin(
    client: reqwest::Client,
    key: String,
    alive: Arc<RwLock<Vec<(usize, String)>>>,
    count: usize,
    concurrency: usize,
    published: Arc<Published>,
) {
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, key, alive, next, published) = (
                client.clone(),
                key.clone(),
                Arc::clone(&alive),
                Arc::clone(&next),
                Arc::clone(&published),
            );
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    if n >= count {
                        return;
                    }
                    let (node, base) = {
                        let alive = alive.read().unwrap();
                        alive[n % alive.len()].clone()
                    };
                    let answer = client
                        .post(format!("{base}/v1/events"))
                        .bearer_auth(&key)
                        .json(&json!({"type": "post.created", "data": {"n": n, "node": node}}))
                        .send()
                        .await;
                    let id = match answer {
                        Ok(r) if r.status() == StatusCode::ACCEPTED => {
                            let body: serde_json::Value = r.json().await.expect("json");
                            body["data"]["id"].as_str().map(str::to_string)
                        }
                        _ => None,
                    };
                    match id {
                        Some(id) => {
                            published.accepted.lock().unwrap().insert(id, node);
                        }
                        None => {
                            published.failed.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("publisher task");
    }
}

/// What the receiver got, compared with what was accepted.
#[derive(Debug)]
pub struct Tally {
    pub accepted: usize,
    /// Accepted ids that arrived at least once.
    pub delivered: usize,
    /// Arrivals beyond the first, over all ids.
    pub duplicates: u32,
    pub missing: usize,
    /// Ids that arrived but were never answered 202 (accepted by a node killed before it replied).
    pub unacknowledged: usize,
    /// Ids that arrived more than once.
    pub duplicated_ids: Vec<String>,
}

pub fn tally(accepted: &HashMap<String, usize>, arrivals: &HashMap<String, u32>) -> Tally {
    let delivered = accepted
        .keys()
        .filter(|id| arrivals.contains_key(*id))
        .count();
    let mut duplicated_ids: Vec<String> = arrivals
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id.clone())
        .collect();
    duplicated_ids.sort();
    Tally {
        accepted: accepted.len(),
        delivered,
        duplicates: arrivals.values().map(|n| n - 1).sum(),
        missing: accepted.len() - delivered,
        unacknowledged: arrivals
            .keys()
            .filter(|id| !accepted.contains_key(*id))
            .count(),
        duplicated_ids,
    }
}
