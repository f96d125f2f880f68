//! The hookd under test: a `hookd serve` child process on a fresh data directory (or a fresh
//! PostgreSQL database), or an already running server given by `--target`. With `--nodes N`
//! (PostgreSQL) N children share the database: the first creates it (migrations, API key), the
//! others start after it with the same master key, each on a port and data directory of its own.
//!
//! The child listens on an ephemeral loopback port, allows plain-http loopback egress (the
//! receiver), and has its per-key rate limit lifted so the harness measures the pipeline, not the
//! limiter. Its API key and address are read from what it prints on first start. Its stderr is
//! kept (last lines, warning count) to explain a failed run. Stopping it sends SIGTERM, then
//! SIGKILL after a grace period, then drops the temporary database.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use url::Url;

use crate::cli::Backend;
use crate::postgres::TempDatabase;

const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_GRACE: Duration = Duration::from_secs(3);
const LOG_TAIL_LINES: usize = 30;

pub struct SpawnOptions<'a> {
    pub binary: &'a Path,
    pub backend: Backend,
    pub postgres_url: &'a str,
    /// Variables applied last (`--server-env`).
    pub extra_env: &'a [(String, String)],
    /// `hookd serve` processes on the one database (`--nodes`; more than 1 only on PostgreSQL).
    pub nodes: usize,
}

/// A further `hookd serve` on the same database (`--nodes`), with its own data directory.
struct Node {
    base_url: Url,
    pid: u32,
    child: Child,
    _data_dir: tempfile::TempDir,
}

/// The last lines the server wrote to stderr, and how many were warnings or errors.
#[derive(Default)]
pub struct LogTail {
    pub lines: VecDeque<String>,
    pub warnings: u64,
}

pub struct Server {
    pub base_url: Url,
    pub api_key: String,
    pub pid: Option<u32>,
    /// The server's database, when the harness knows it (started servers; `--database-url`).
    pub database_url: Option<String>,
    child: Option<Child>,
    /// The nodes after the first (`--nodes`), which share its database and master key.
    nodes: Vec<Node>,
    data_dir: Option<tempfile::TempDir>,
    database: Option<TempDatabase>,
    log: Arc<Mutex<LogTail>>,
}

impl Server {
    /// Starts `hookd serve` on a fresh database and waits until it listens.
    pub async fn spawn(options: SpawnOptions<'_>) -> anyhow::Result<Self> {
        let data_dir = tempfile::Builder::new()
            .prefix("hookd-bench-")
            .tempdir()
            .context("creating a temporary data directory")?;
        let database = match options.backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(TempDatabase::create(options.postgres_url).await?),
        };
        let database_url = match &database {
            Some(db) => db.url.clone(),
            None => format!("sqlite://{}", data_dir.path().join("hookd.db").display()),
        };
        // Every node of one cluster must hold the same master key to read the secrets.
        let master_key = database.is_some().then(|| {
            let mut key = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
            hex::encode(key)
        });
        let log = Arc::new(Mutex::new(LogTail::default()));
        let started = start_child(
            &options,
            data_dir.path(),
            &database_url,
            master_key.as_deref(),
            Arc::clone(&log),
        )
        .await
        .and_then(|(child, pid, base_url, key)| {
            let key = key.context("the server printed no live API key: is the database fresh?")?;
            Ok((child, pid, base_url, key))
        });
        let mut server = match started {
            Ok((child, pid, base_url, api_key)) => Self {
                base_url,
                api_key,
                pid: Some(pid),
                database_url: Some(database_url.clone()),
                child: Some(child),
                nodes: Vec::new(),
                data_dir: Some(data_dir),
                database,
                log,
            },
            Err(e) => {
                if let Some(db) = database {
                    let _ = db.drop_database().await;
                }
                return Err(e);
            }
        };
        // Further nodes start once the first has migrated the database and created the key.
        for _ in 1..options.nodes {
            let node = async {
                let dir = tempfile::Builder::new()
                    .prefix("hookd-bench-")
                    .tempdir()
                    .context("creating a temporary data directory")?;
                let (child, pid, base_url, _) = start_child(
                    &options,
                    dir.path(),
                    &database_url,
                    master_key.as_deref(),
                    Arc::clone(&server.log),
                )
                .await?;
                anyhow::Ok(Node {
                    base_url,
                    pid,
                    child,
                    _data_dir: dir,
                })
            };
            match node.await {
                Ok(node) => server.nodes.push(node),
                Err(e) => {
                    let _ = server.stop().await;
                    return Err(e.context("starting a further node (--nodes)"));
                }
            }
        }
        Ok(server)
    }

    /// The base URL of every node, the first first.
    pub fn base_urls(&self) -> Vec<Url> {
        std::iter::once(self.base_url.clone())
            .chain(self.nodes.iter().map(|n| n.base_url.clone()))
            .collect()
    }

    /// The process ids of every node the harness knows (none for a `--target` without
    /// `--server-pid`).
    pub fn pids(&self) -> Vec<u32> {
        self.pid
            .into_iter()
            .chain(self.nodes.iter().map(|n| n.pid))
            .collect()
    }

    /// The SQLite database file of a server the harness started on SQLite.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        match (&self.data_dir, &self.database) {
            (Some(dir), None) => Some(dir.path().join("hookd.db")),
            _ => None,
        }
    }

    /// The temporary PostgreSQL database: the URL it was created from and its name.
    pub fn database(&self) -> Option<(&str, &str)> {
        self.database.as_ref().map(|db| (db.admin_url(), db.name()))
    }

    /// A server someone else runs; the key is given or minted with `hookd keys create`.
    pub async fn external(
        target: Url,
        api_key: Option<String>,
        database_url: Option<&str>,
        binary: Option<PathBuf>,
        pid: Option<u32>,
    ) -> anyhow::Result<Self> {
        let api_key = match (api_key, database_url) {
            (Some(key), _) => key,
            (None, Some(url)) => {
                let binary = binary.context("minting a key needs the hookd binary")?;
                mint_key(&binary, url).await?
            }
            (None, None) => bail!("--target needs --api-key or --database-url"),
        };
        if let Some(pid) = pid {
            // Without the process the report's memory figure would silently be null.
            let proc = Path::new("/proc");
            if proc.is_dir() && !proc.join(pid.to_string()).is_dir() {
                bail!("--server-pid {pid}: no such process");
            }
        }
        Ok(Self {
            base_url: target,
            api_key,
            pid,
            database_url: database_url.map(str::to_string),
            child: None,
            nodes: Vec::new(),
            data_dir: None,
            database: None,
            log: Arc::default(),
        })
    }

    /// Whether the harness started this server (and so need not clean up inside it).
    pub fn is_spawned(&self) -> bool {
        self.child.is_some()
    }

    pub fn log_tail(&self) -> (Vec<String>, u64) {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        (log.lines.iter().cloned().collect(), log.warnings)
    }

    /// Stops the nodes the harness started (all at once), keeping the database.
    pub async fn stop_nodes(&mut self) {
        let children = self
            .child
            .take()
            .into_iter()
            .chain(self.nodes.drain(..).map(|n| n.child));
        stop_children(children.collect()).await;
    }

    /// Stops the nodes (if any) and drops the temporary database (if any).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.stop_nodes().await;
        if let Some(db) = self.database.take() {
            db.drop_database().await?;
        }
        Ok(())
    }
}

/// SIGTERM to every child, then SIGKILL to those still running after the grace period.
async fn stop_children(mut children: Vec<Child>) {
    for child in &children {
        if let Some(pid) = child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
    }
    let deadline = tokio::time::Instant::now() + STOP_GRACE;
    for child in &mut children {
        if tokio::time::timeout_at(deadline, child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
    }
}

/// The child, its pid, the address it listens on and the live API key it printed (only a
/// server that created the database prints one).
type Started = (Child, u32, Url, Option<String>);

async fn start_child(
    options: &SpawnOptions<'_>,
    data_dir: &Path,
    database_url: &str,
    master_key: Option<&str>,
    log: Arc<Mutex<LogTail>>,
) -> anyhow::Result<Started> {
    let mut command = Command::new(options.binary);
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(data_dir)
        .env("HOOKD_DATABASE_URL", database_url)
        .env("HOOKD_EGRESS_ALLOW_HTTP", "true")
        .env("HOOKD_EGRESS_ALLOW_NETS", "127.0.0.0/8")
        .env("HOOKD_RATE_LIMIT_PER_SEC", "1000000")
        .env("HOOKD_RATE_LIMIT_BURST", "1000000")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(key) = master_key {
        command.env("HOOKD_MASTER_KEY", key);
    }
    for (key, value) in options.extra_env {
        command.env(key, value);
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", options.binary.display()))?;
    let pid = child.id().context("the server exited at once")?;
    let stderr = child.stderr.take().expect("stderr is piped");
    tokio::spawn(keep_log(stderr, Arc::clone(&log)));
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();

    let wait_ready = async {
        let mut api_key = None;
        while let Some(line) = lines.next_line().await? {
            if let Some(key) = line.trim().strip_prefix("live: ") {
                api_key = Some(key.trim().to_string());
            } else if let Some(addr) = line.strip_prefix("hookd listening on ") {
                let url = Url::parse(addr.trim()).context("reading the server's address")?;
                return Ok((url, api_key));
            }
        }
        bail!("the server exited before listening")
    };
    let ready: anyhow::Result<(Url, Option<String>)> =
        match tokio::time::timeout(STARTUP_TIMEOUT, wait_ready).await {
            Ok(result) => result,
            Err(_) => Err(anyhow::anyhow!(
                "the server did not start within {STARTUP_TIMEOUT:?}"
            )),
        };
    match ready {
        Ok((url, key)) => {
            // Keep draining stdout so the child never blocks on a full pipe.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            Ok((child, pid, url, key))
        }
        Err(e) => {
            let _ = child.kill().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            let tail = log
                .lock()
                .map(|l| l.lines.iter().cloned().collect::<Vec<_>>().join("\n"));
            Err(anyhow::anyhow!(
                "hookd serve failed to start: {e:#}\nits last output:\n{}",
                tail.unwrap_or_default()
            ))
        }
    }
}

async fn keep_log(stderr: tokio::process::ChildStderr, log: Arc<Mutex<LogTail>>) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
        if line.contains(" WARN ") || line.contains(" ERROR ") {
            log.warnings += 1;
        }
        if log.lines.len() == LOG_TAIL_LINES {
            log.lines.pop_front();
        }
        log.lines.push_back(line);
    }
}

async fn mint_key(binary: &Path, database_url: &str) -> anyhow::Result<String> {
    let output = Command::new(binary)
        .args(["keys", "create", "--workspace", "default", "--mode", "live"])
        .env("HOOKD_DATABASE_URL", database_url)
        .output()
        .await
        .with_context(|| format!("running {} keys create", binary.display()))?;
    if !output.status.success() {
        bail!(
            "hookd keys create failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let key = String::from_utf8_lossy(&output.stdout).trim().to_string();
    // Anything else would only surface later as a puzzling 401 on every publish.
    if hookd::domain::api_key::parse_mode(&key) != Some(hookd::domain::tenant::Mode::Live) {
        bail!(
            "{} keys create printed no live API key (is it hookd?)",
            binary.display()
        );
    }
    Ok(key)
}
