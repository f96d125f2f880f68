//! The server survives a PostgreSQL restart: while the database is down requests answer 503
//! quickly (not 500, not hanging) and `/readyz` turns 503; once it is back, requests succeed and
//! every event accepted before the outage is delivered.
//!
//! Runs a private PostgreSQL instance on a free port (the machine's shared server is never
//! touched), removed at the end whatever happens.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::cluster::CountingReceiver;
use crate::harness::*;

/// Where `initdb` and `pg_ctl` live: `HOOKD_TEST_PG_BINDIR`, else the newest
/// `/usr/lib/postgresql/<version>/bin`.
fn pg_bindir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("HOOKD_TEST_PG_BINDIR") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A throwaway PostgreSQL cluster. `initdb` refuses to run as root, so as root every command runs
/// as the `postgres` user. Dropping the guard stops the server and deletes the directory.
struct PrivatePostgres {
    bin: PathBuf,
    as_postgres: bool,
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivatePostgres {
    /// `Err(reason)` when this machine cannot run one.
    fn start() -> Result<Self, String> {
        let bin = pg_bindir().ok_or("no PostgreSQL binaries (set HOOKD_TEST_PG_BINDIR)")?;
        let as_postgres = is_root();
        if as_postgres && Command::new("runuser").arg("--help").output().is_err() {
            return Err("running as root and `runuser` is not available".into());
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        if as_postgres {
            run(Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path()))?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let pg = Self {
            bin,
            as_postgres,
            dir,
            port,
        };
        pg.run_pg(
            "initdb",
            &[
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-D",
                &pg.data(),
            ],
        )?;
        pg.pg_ctl_start()?;
        Ok(pg)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn run_pg(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(self.bin.join(tool));
            c
        } else {
            Command::new(self.bin.join(tool))
        };
        run(command.args(args))
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        // `-l`: the server must not inherit our stdout, or reading it would never end.
        let log = self.dir.path().join("postgres.log").display().to_string();
        self.run_pg(
            "pg_ctl",
            &[
                "-w",
                "-o",
                &options,
                "-l",
                &log,
                "-D",
                &self.data(),
                "start",
            ],
        )
    }

    fn pg_ctl_stop(&self, mode: &str) -> Result<(), String> {
        self.run_pg("pg_ctl", &["-w", "-m", mode, "-D", &self.data(), "stop"])
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.pg_ctl_stop("immediate");
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{command:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}

/// A request that must be answered 503 `service_unavailable` within a few seconds.
async fn assert_unavailable(request: reqwest::RequestBuilder, what: &str) {
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(15), request.send())
        .await
        .unwrap_or_else(|_| panic!("{what} hung while the database was down"))
        .unwrap();
    let retry_after = answer.headers().get("retry-after").cloned();
    let (status, body) = into_parts(answer).await;
    println!(
        "database down: {what} answered {status} in {:?}",
        started.elapsed()
    );
    assert_error(status, &body, 503, "service_unavailable", None);
    assert!(retry_after.is_some(), "{what}: 503 carries Retry-After");
}

async fn publish(app: &TestApp, n: usize) -> String {
    let (status, body) = app
        .post_json(
            &app.live_key,
            "/v1/events",
            &json!({"type": "post.created", "data": {"n": n}}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    body["data"]["id"].as_str().unwrap().to_string()
}

/// Publishes (odd `worker`) or lists events (even `worker`) in a loop until `stop`, returning the
/// statuses. The published type has no endpoint, so these events add no deliveries.
async fn requests_until(
    client: reqwest::Client,
    base: String,
    key: String,
    worker: usize,
    stop: tokio_util::sync::CancellationToken,
) -> Vec<u16> {
    let mut statuses = Vec::new();
    while !stop.is_cancelled() {
        let request = if worker % 2 == 1 {
            client
                .post(format!("{base}/v1/events"))
                .json(&json!({"type": "job.completed", "data": {}}))
        } else {
            client.get(format!("{base}/v1/events?limit=100"))
        };
        let answer = request.bearer_auth(&key).send().await.unwrap();
        statuses.push(answer.status().as_u16());
    }
    statuses
}

#[suite_test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_survives_a_postgres_restart_and_loses_nothing() {
    let pg = match PrivatePostgres::start() {
        Ok(pg) => pg,
        Err(reason) if std::env::var_os("CI").is_none() => {
            println!("skipped: cannot run a private PostgreSQL: {reason}");
            return;
        }
        Err(reason) => panic!("CI must run the PostgreSQL restart test: {reason}"),
    };
    let started = Instant::now();
    let app = spawn_app_on(TestDatabase::existing(&pg.url()), |c| {
        c.retry_schedule = vec![1; 30];
    })
    .await;
    let receiver = CountingReceiver::start().await;
    app.create_endpoint(&receiver.url, &["post.created"]).await;

    // Accepted before the outage, and not delivered yet: the receiver fails every attempt, so
    // all of them sit in the database as pending retries when it goes down.
    receiver.set_fail(true);
    let mut accepted = Vec::new();
    for n in 0..40 {
        accepted.push(publish(&app, n).await);
    }
    eventually(Duration::from_secs(30), || async {
        let arrived = receiver.arrivals();
        accepted
            .iter()
            .all(|id| arrived.contains_key(id))
            .then_some(())
    })
    .await;
    assert!(receiver.succeeded().is_empty());

    // Requests keep coming while the server goes down: each is served or refused with 503.
    let stopping = tokio_util::sync::CancellationToken::new();
    let load: Vec<_> = (0..4)
        .map(|i| {
            tokio::spawn(requests_until(
                app.client.clone(),
                app.base_url.clone(),
                app.live_key.clone(),
                i,
                stopping.clone(),
            ))
        })
        .collect();
    pg.pg_ctl_stop("fast").expect("stop PostgreSQL");
    receiver.set_fail(false);
    stopping.cancel();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for task in load {
        for status in task.await.unwrap() {
            *statuses.entry(status).or_default() += 1;
        }
    }
    println!("answers to requests made while PostgreSQL stopped: {statuses:?}");
    let expected = |s: &u16| [200, 202, 503].contains(s);
    assert!(
        statuses.keys().all(expected),
        "served or 503, never another error: {statuses:?}"
    );
    let key = app.live_key.clone();
    let events = json!({"type": "post.created", "data": {}});
    assert_unavailable(
        app.req(reqwest::Method::POST, "/v1/events").json(&events),
        "POST /v1/events",
    )
    .await;
    assert_unavailable(
        app.req(reqwest::Method::GET, "/v1/events"),
        "GET /v1/events",
    )
    .await;
    assert_unavailable(
        app.client.get(app.url("/v1/event-types")).bearer_auth(&key),
        "GET /v1/event-types",
    )
    .await;
    let (status, _) = app.get_json(&key, "/readyz").await;
    assert_eq!(status, 503, "/readyz while the database is down");
    let (status, _) = app.get_json(&key, "/healthz").await;
    assert_eq!(status, 200, "/healthz only says the process is up");

    pg.pg_ctl_start().expect("start PostgreSQL again");
    let back = Instant::now();
    eventually(Duration::from_secs(30), || async {
        let (status, _) = app.get_json(&key, "/v1/events").await;
        (status == 200).then_some(())
    })
    .await;
    let (status, _) = app.get_json(&key, "/readyz").await;
    assert_eq!(status, 200);
    println!(
        "requests succeed again {:?} after PostgreSQL is back",
        back.elapsed()
    );
    for n in 40..50 {
        accepted.push(publish(&app, n).await);
    }

    // Nothing lost: every accepted event is delivered (an attempt cut off by the outage waits for
    // its lease, delivery timeout + 60 s, to expire).
    eventually(Duration::from_secs(120), || async {
        let ok = receiver.succeeded();
        accepted.iter().all(|id| ok.contains_key(id)).then_some(())
    })
    .await;
    println!(
        "accepted={} delivered={} total_arrivals={} elapsed={:?}",
        accepted.len(),
        receiver.succeeded().len(),
        receiver.arrivals().values().sum::<u32>(),
        started.elapsed()
    );
    app.stop().await;
}
