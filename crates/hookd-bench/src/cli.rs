//! The command line, and the [`Plan`] it resolves to once each scenario's defaults are applied.
//!
//! Every scenario is one shape of load (how many events, to how many endpoints, paced or not,
//! how many endpoints blackholed); the flags override the shape's defaults. Keeping the
//! resolution here means the rest of the harness sees one plain, fully specified plan.

use std::path::PathBuf;

use anyhow::{bail, ensure};
use clap::{Parser, ValueEnum};
use url::Url;

/// Bounds of the raw phase's default size: long enough (about a second here) to be stable,
/// short enough not to dominate the run.
const RAW_MIN: usize = 20_000;
const RAW_MAX: usize = 100_000;

/// Upper bounds of the flags, so a typo is a usage error instead of an allocation failure, a
/// thread the OS refuses or a run that never ends.
const MAX_EVENTS: usize = 10_000_000;
/// The ledger keeps one slot per (event, endpoint).
const MAX_DELIVERIES: u64 = 10_000_000;
/// Each request in flight holds two sockets in the harness (client and receiver side).
const MAX_CONCURRENCY: usize = 4096;
/// Under hookd's default 1 MiB request limit, with room for the envelope.
const MAX_DATA_BYTES: usize = 1_000_000;
const MAX_RECEIVER_THREADS: usize = 256;
const MAX_RAW_REQUESTS: usize = 10_000_000;
/// A day: for `--timeout` and for how long a paced run may publish (`--events` / `--rate`).
const MAX_SECS: u64 = 86_400;
const MAX_SETTLE_MS: u64 = 600_000;
/// `--nodes`: each node holds up to `database_max_connections` × 1.5 PostgreSQL connections.
const MAX_NODES: usize = 16;
/// The ordered scenario's keys (issue 26: "1,000 keys").
pub const ORDERING_KEYS: usize = 1000;

#[derive(Parser, Debug)]
#[command(
    name = "hookd-bench",
    version,
    about = "Measures hookd's delivery throughput, latency and memory against the machine's raw HTTP limit",
    after_help = "The last line on stdout is one JSON object with the results; progress goes to stderr.\n\
                  Exit status 3 means deliveries were missing, a signature did not verify, a publish failed or a raw-phase request failed."
)]
pub struct Args {
    /// Shape of the load.
    #[arg(long, value_enum, default_value_t = Scenario::Burst)]
    pub scenario: Scenario,
    /// Database of the hookd server the harness starts (a label only with --target).
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    pub backend: Backend,
    /// Events to publish [default: burst 20000, steady 10000, fanout 2000, slow-endpoint 10000,
    /// ordered 20000].
    #[arg(long)]
    pub events: Option<usize>,
    /// Endpoints to create [default: 1; fanout 10; slow-endpoint 4, every second one blackholed].
    #[arg(long)]
    pub endpoints: Option<usize>,
    /// Publish requests in flight at once (also the raw client's concurrency).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Size in bytes of each event's `data` JSON object.
    #[arg(long, default_value_t = 256)]
    pub data_bytes: usize,
    /// Publish at this many events per second instead of as fast as the API accepts them
    /// [default: steady and slow-endpoint 1000; burst and fanout unpaced].
    #[arg(long)]
    pub rate: Option<f64>,
    /// Seconds to wait for the deliveries after the last publish before giving up.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Requests the raw-limit phase sends [default: the expected deliveries, clamped to 20000..=100000].
    #[arg(long)]
    pub raw_requests: Option<usize>,
    /// Worker threads of the receiver's own runtime.
    #[arg(long, default_value_t = 1)]
    pub receiver_threads: usize,
    /// After the last expected delivery, keep listening this long to catch duplicates.
    #[arg(long, default_value_t = 500)]
    pub settle_ms: u64,
    /// Write one CSV line per (event, endpoint) with when it was sent, accepted and received.
    #[arg(long, value_name = "PATH")]
    pub timeline: Option<std::path::PathBuf>,
    /// Server to create the temporary benchmark database on (--backend postgres).
    #[arg(
        long,
        env = "HOOKD_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres_url: String,
    /// Use an already running hookd at this base URL instead of starting one. It must allow
    /// plain-http loopback egress (HOOKD_EGRESS_ALLOW_HTTP=true, HOOKD_EGRESS_ALLOW_NETS=127.0.0.0/8).
    #[arg(long, value_name = "URL", value_parser = parse_base_url)]
    pub target: Option<Url>,
    /// With --target: the server's database, to mint a live API key for workspace `default`
    /// with `hookd keys create` (PostgreSQL also needs HOOKD_MASTER_KEY in the environment).
    #[arg(long, value_name = "URL", requires = "target")]
    pub database_url: Option<String>,
    /// With --target: a live API key to publish with (instead of --database-url).
    #[arg(long, env = "HOOKD_BENCH_API_KEY", requires = "target")]
    pub api_key: Option<String>,
    /// With --target: the server's process id, to report its peak memory.
    #[arg(long, requires = "target")]
    pub server_pid: Option<u32>,
    /// The hookd binary [default: `hookd` next to this executable].
    #[arg(long, value_name = "PATH")]
    pub hookd_bin: Option<PathBuf>,
    /// Do not run `cargo build -p hookd` first, even when started by `cargo run`.
    #[arg(long)]
    pub no_build: bool,
    /// ordered: the share of events (percent) whose first attempt the receiver fails (500).
    #[arg(long, default_value_t = 5)]
    pub fail_first_percent: u8,
    /// Extra environment for the started server, e.g. --server-env HOOKD_GLOBAL_MAX_IN_FLIGHT=256
    /// (repeatable; applied after the harness's own settings, so it can override them).
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_env_pair)]
    pub server_env: Vec<(String, String)>,
    /// Start this many `hookd serve` processes on the one database and publish round-robin
    /// across them (--backend postgres only).
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    /// Before publishing, write this many historical events (one delivery and one attempt
    /// each, spread over the last 25 days) straight into the server's database (`prefill.rs`).
    #[arg(long, default_value_t = 0)]
    pub prefill: u64,
}

/// `--target`: an http(s) base URL, kept with a trailing `/` so the API's paths are joined
/// below any prefix it has (a server behind a reverse proxy at `https://host/hookd`).
fn parse_base_url(value: &str) -> Result<Url, String> {
    let mut url = Url::parse(value).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("must be an http:// or https:// URL with a host".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must be a base URL, without a query or fragment".into());
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// `--server-env KEY=VALUE`: the variable's name must be non-empty and free of NUL.
fn parse_env_pair(value: &str) -> Result<(String, String), String> {
    let (key, val) = value
        .split_once('=')
        .ok_or_else(|| "must be KEY=VALUE".to_string())?;
    if key.is_empty() || key.contains('\0') || val.contains('\0') {
        return Err("must be KEY=VALUE with a non-empty KEY and no NUL bytes".into());
    }
    Ok((key.to_string(), val.to_string()))
}

/// `--postgres-url`: a PostgreSQL URL whose database the harness may replace with its own.
fn check_postgres_url(value: &str) -> anyhow::Result<()> {
    let url = Url::parse(value).map_err(|e| anyhow::anyhow!("--postgres-url is not a URL: {e}"))?;
    ensure!(
        matches!(url.scheme(), "postgres" | "postgresql"),
        "--postgres-url must be a postgres:// URL"
    );
    // The harness creates its database and points hookd at it by the URL's path; a `dbname`
    // parameter would silently win over that and send hookd to an existing database.
    ensure!(
        !url.query_pairs().any(|(k, _)| k == "dbname"),
        "--postgres-url must not set `dbname`: the harness creates a database of its own"
    );
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Publish as fast as the API accepts them: throughput.
    Burst,
    /// Publish at a fixed rate: latency.
    Steady,
    /// Each event to 10 endpoints.
    Fanout,
    /// Half the endpoints blackholed; only the healthy ones are measured.
    SlowEndpoint,
    /// Events spread over 1,000 ordering keys; the receiver fails a share of first attempts
    /// and counts every arrival out of its key's publish order.
    Ordered,
    /// 10 endpoints with payload filters: endpoint `i` takes the events whose `seq % endpoints`
    /// is at most `i`, so every event matches some (1 to all) and the filters are evaluated on
    /// every publish. Deliveries an endpoint's filter excludes count as unexpected.
    Filtered,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Burst => "burst",
            Scenario::Steady => "steady",
            Scenario::Fanout => "fanout",
            Scenario::SlowEndpoint => "slow-endpoint",
            Scenario::Ordered => "ordered",
            Scenario::Filtered => "filtered",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The fully resolved shape of one run.
#[derive(Clone, Debug)]
pub struct Plan {
    pub scenario: Scenario,
    pub backend: Backend,
    pub events: usize,
    pub endpoints: usize,
    pub concurrency: usize,
    pub data_bytes: usize,
    /// Events per second; `None` publishes as fast as the API takes them.
    pub rate: Option<f64>,
    pub timeout_secs: u64,
    pub raw_requests: usize,
    pub settle_ms: u64,
    /// Where to write the per-delivery timeline (`--timeline`).
    pub timeline: Option<std::path::PathBuf>,
    /// ordered: how many ordering keys the events are spread over (`seq % keys`); 0 otherwise.
    pub ordering_keys: usize,
    /// ordered: percent of events whose first attempt the receiver fails.
    pub fail_first_percent: u8,
    /// `hookd serve` processes on the one database.
    pub nodes: usize,
    /// Historical events written into the database before the run (`--prefill`).
    pub prefill: u64,
}

impl Plan {
    pub fn from_args(args: &Args) -> anyhow::Result<Self> {
        let (events, endpoints, rate) = match args.scenario {
            Scenario::Burst => (20_000, 1, None),
            Scenario::Steady => (10_000, 1, Some(1000.0)),
            Scenario::Fanout => (2_000, 10, None),
            Scenario::SlowEndpoint => (10_000, 4, Some(1000.0)),
            Scenario::Ordered => (20_000, 1, None),
            Scenario::Filtered => (2_000, 10, None),
        };
        let events = args.events.unwrap_or(events);
        let endpoints = args.endpoints.unwrap_or(endpoints);
        let rate = args.rate.or(rate);
        ensure!(
            (1..=MAX_EVENTS).contains(&events),
            "--events must be 1..={MAX_EVENTS}"
        );
        ensure!(
            (1..=1000).contains(&endpoints),
            "--endpoints must be 1..=1000"
        );
        ensure!(
            events as u64 * endpoints as u64 <= MAX_DELIVERIES,
            "--events × --endpoints must be at most {MAX_DELIVERIES}"
        );
        ensure!(
            (1..=MAX_CONCURRENCY).contains(&args.concurrency),
            "--concurrency must be 1..={MAX_CONCURRENCY}"
        );
        ensure!(
            args.data_bytes <= MAX_DATA_BYTES,
            "--data-bytes must be at most {MAX_DATA_BYTES} (hookd refuses requests over 1 MiB by default)"
        );
        ensure!(
            (1..=MAX_RECEIVER_THREADS).contains(&args.receiver_threads),
            "--receiver-threads must be 1..={MAX_RECEIVER_THREADS}"
        );
        ensure!(
            (1..=MAX_SECS).contains(&args.timeout),
            "--timeout must be 1..={MAX_SECS} seconds"
        );
        ensure!(
            args.settle_ms <= MAX_SETTLE_MS,
            "--settle-ms must be at most {MAX_SETTLE_MS}"
        );
        if let Some(n) = args.raw_requests {
            ensure!(
                (1..=MAX_RAW_REQUESTS).contains(&n),
                "--raw-requests must be 1..={MAX_RAW_REQUESTS}"
            );
        }
        if let Some(r) = rate {
            ensure!(r.is_finite() && r > 0.0, "--rate must be a positive number");
            ensure!(
                events as f64 / r <= MAX_SECS as f64,
                "--events / --rate is more than a day of publishing"
            );
        }
        if args.backend == Backend::Postgres && args.target.is_none() {
            check_postgres_url(&args.postgres_url)?;
        }
        ensure!(
            args.fail_first_percent <= 100,
            "--fail-first-percent must be 0..=100"
        );
        ensure!(
            (1..=MAX_NODES).contains(&args.nodes),
            "--nodes must be 1..={MAX_NODES}"
        );
        if args.nodes > 1 {
            // SQLite is one process's file; several nodes need the shared database.
            ensure!(
                args.backend == Backend::Postgres && args.target.is_none(),
                "--nodes above 1 needs --backend postgres (and no --target)"
            );
        }
        ensure!(
            args.prefill <= crate::prefill::MAX_PREFILL,
            "--prefill must be at most {}",
            crate::prefill::MAX_PREFILL
        );
        if args.scenario == Scenario::SlowEndpoint && endpoints < 2 {
            bail!("slow-endpoint needs at least 2 endpoints (every second one is blackholed)");
        }
        let mut plan = Self {
            scenario: args.scenario,
            backend: args.backend,
            events,
            endpoints,
            concurrency: args.concurrency,
            data_bytes: args.data_bytes,
            rate,
            timeout_secs: args.timeout,
            raw_requests: 0,
            settle_ms: args.settle_ms,
            timeline: args.timeline.clone(),
            ordering_keys: if args.scenario == Scenario::Ordered {
                ORDERING_KEYS
            } else {
                0
            },
            fail_first_percent: args.fail_first_percent,
            nodes: args.nodes,
            prefill: args.prefill,
        };
        plan.raw_requests = args.raw_requests.unwrap_or_else(|| {
            usize::try_from(plan.expected_deliveries())
                .unwrap_or(usize::MAX)
                .clamp(RAW_MIN, RAW_MAX)
        });
        Ok(plan)
    }

    /// Whether endpoint `index` points at the blackhole (every second one in slow-endpoint).
    pub fn is_blackholed(&self, index: usize) -> bool {
        self.scenario == Scenario::SlowEndpoint && index % 2 == 1
    }

    pub fn healthy_endpoints(&self) -> usize {
        (0..self.endpoints)
            .filter(|i| !self.is_blackholed(*i))
            .count()
    }

    /// The filter endpoint `index` is created with (the filtered scenario's).
    pub fn filter_for(&self, index: usize) -> Option<String> {
        (self.scenario == Scenario::Filtered)
            .then(|| format!("data.seq % {} <= {index}", self.endpoints))
    }

    /// Whether event `seq` should reach endpoint `index`: it is healthy, and its filter (if
    /// any) is true for the event.
    pub fn expects(&self, seq: usize, index: usize) -> bool {
        !self.is_blackholed(index)
            && (self.scenario != Scenario::Filtered || seq % self.endpoints <= index)
    }

    /// Deliveries to healthy endpoints if every event is accepted.
    pub fn expected_deliveries(&self) -> u64 {
        (0..self.events)
            .map(|seq| {
                (0..self.endpoints)
                    .filter(|i| self.expects(seq, *i))
                    .count() as u64
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(argv: &[&str]) -> anyhow::Result<Plan> {
        let mut full = vec!["hookd-bench"];
        full.extend_from_slice(argv);
        Plan::from_args(&Args::try_parse_from(full)?)
    }

    #[test]
    fn the_ordered_scenario_spreads_events_over_a_thousand_keys() {
        let ordered = plan(&["--scenario", "ordered"]).unwrap();
        assert_eq!(
            (ordered.events, ordered.endpoints, ordered.rate),
            (20_000, 1, None)
        );
        assert_eq!(
            (ordered.ordering_keys, ordered.fail_first_percent),
            (1000, 5)
        );
        assert_eq!(plan(&[]).unwrap().ordering_keys, 0);
        assert!(plan(&["--scenario", "ordered", "--fail-first-percent", "101"]).is_err());
    }

    #[test]
    fn scenarios_have_their_documented_defaults() {
        let burst = plan(&[]).unwrap();
        assert_eq!(
            (burst.events, burst.endpoints, burst.rate),
            (20_000, 1, None)
        );
        assert_eq!(burst.raw_requests, 20_000);
        let fanout = plan(&["--scenario", "fanout"]).unwrap();
        assert_eq!(fanout.expected_deliveries(), 20_000);
        let filtered = plan(&["--scenario", "filtered", "--events", "20"]).unwrap();
        assert_eq!((filtered.events, filtered.endpoints), (20, 10));
        // Each block of 10 events reaches 10 + 9 + … + 1 endpoints.
        assert_eq!(filtered.expected_deliveries(), 110);
        assert_eq!(
            filtered.filter_for(3).as_deref(),
            Some("data.seq % 10 <= 3")
        );
        assert!(filtered.expects(13, 3) && !filtered.expects(14, 3));
        assert_eq!(fanout.filter_for(0), None);
        let slow = plan(&["--scenario", "slow-endpoint"]).unwrap();
        assert_eq!((slow.endpoints, slow.healthy_endpoints()), (4, 2));
        assert!(!slow.is_blackholed(0) && slow.is_blackholed(1));
        assert_eq!(slow.rate, Some(1000.0));
        let steady = plan(&["--scenario", "steady", "--rate", "250", "--events", "10"]).unwrap();
        assert_eq!(
            (steady.rate, steady.events, steady.raw_requests),
            (Some(250.0), 10, RAW_MIN)
        );
    }

    fn refused(argv: &[&str]) -> String {
        match plan(argv) {
            Ok(plan) => panic!("{argv:?} was accepted: {plan:?}"),
            Err(e) => format!("{e:#}"),
        }
    }

    #[test]
    fn nonsense_is_refused() {
        for argv in [
            &["--events", "0"][..],
            &["--events", "abc"],
            &["--events", "10000001"],
            &["--events", "18446744073709551615"],
            &["--events", "20000", "--endpoints", "1000"],
            &["--endpoints", "0"],
            &["--endpoints", "1001"],
            &["--scenario", "slow-endpoint", "--endpoints", "1"],
            &["--concurrency", "0"],
            &["--concurrency", "30000"],
            &["--data-bytes", "1000001"],
            &["--data-bytes", "18446744073709551615"],
            &["--rate", "0"],
            &["--rate=-5"],
            &["--rate", "NaN"],
            &["--rate", "inf"],
            &["--rate", "1e-300"],
            &["--scenario", "steady", "--rate", "0.1"],
            &["--timeout", "0"],
            &["--timeout", "86401"],
            &["--raw-requests", "0"],
            &["--raw-requests", "10000001"],
            &["--receiver-threads", "0"],
            &["--receiver-threads", "40000"],
            &["--settle-ms", "18446744073709551615"],
            &["--api-key", "k"],
            &["--server-env", "FOO"],
            &["--server-env", "=x"],
            &["--nodes", "0"],
            &["--nodes", "17"],
            &["--nodes", "2"],
            &["--nodes", "2", "--backend", "sqlite"],
            &[
                "--nodes",
                "2",
                "--backend",
                "postgres",
                "--target",
                "http://127.0.0.1:8080/",
                "--api-key",
                "k",
            ],
            &["--prefill", "-1"],
            &["--prefill", "100000001"],
            &["--target", "garbage"],
            &["--target", "ftp://host/"],
            &["--target", "http://127.0.0.1:8080/?a=b"],
            &["--backend", "postgres", "--postgres-url", "garbage"],
            &[
                "--backend",
                "postgres",
                "--postgres-url",
                "mysql://root@localhost/db",
            ],
            &[
                "--backend",
                "postgres",
                "--postgres-url",
                "postgres://postgres@127.0.0.1/postgres?dbname=production",
            ],
        ] {
            refused(argv);
        }
        assert!(refused(&["--concurrency", "30000"]).contains("1..=4096"));
        assert!(refused(&["--rate", "1e-300"]).contains("more than a day"));
        assert!(refused(&["--nodes", "2"]).contains("--backend postgres"));
    }

    #[test]
    fn the_edges_of_every_bound_are_accepted() {
        let big = plan(&[
            "--events",
            "10000000",
            "--concurrency",
            "4096",
            "--data-bytes",
            "1000000",
            "--timeout",
            "86400",
            "--raw-requests",
            "1",
            "--receiver-threads",
            "256",
            "--settle-ms",
            "0",
        ])
        .unwrap();
        assert_eq!((big.events, big.raw_requests), (10_000_000, 1));
        let small = plan(&["--events", "1", "--data-bytes", "0", "--rate", "0.0001"]).unwrap();
        assert_eq!((small.events, small.data_bytes), (1, 0));
        let nodes = plan(&["--backend", "postgres", "--nodes", "16"]).unwrap();
        assert_eq!(nodes.nodes, 16);
        assert_eq!(plan(&[]).unwrap().nodes, 1);
        // Garbage in --postgres-url is only checked when it is used.
        assert!(plan(&["--postgres-url", "garbage"]).is_ok());
        assert!(plan(&[
            "--backend",
            "postgres",
            "--postgres-url",
            "postgresql://postgres@127.0.0.1:5432/postgres?sslmode=disable"
        ])
        .is_ok());
    }

    #[test]
    fn server_env_pairs_split_at_the_first_equals_sign() {
        let args = Args::try_parse_from([
            "hookd-bench",
            "--server-env",
            "HOOKD_A=1",
            "--server-env",
            "HOOKD_B=x=y",
            "--server-env",
            "HOOKD_C=",
        ])
        .unwrap();
        assert_eq!(
            args.server_env,
            [
                ("HOOKD_A".into(), "1".into()),
                ("HOOKD_B".into(), "x=y".into()),
                ("HOOKD_C".into(), String::new())
            ]
        );
    }

    #[test]
    fn a_target_keeps_its_path_prefix() {
        let args = Args::try_parse_from([
            "hookd-bench",
            "--target",
            "https://example.test/hookd",
            "--api-key",
            "k",
        ])
        .unwrap();
        let target = args.target.unwrap();
        assert_eq!(target.as_str(), "https://example.test/hookd/");
        assert_eq!(
            target.join("v1/events").unwrap().as_str(),
            "https://example.test/hookd/v1/events"
        );
        let bare = parse_base_url("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            bare.join("v1/events").unwrap().as_str(),
            "http://127.0.0.1:8080/v1/events"
        );
    }
}
