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

#[derive(Parser, Debug)]
#[command(
    name = "hookd-bench",
    version,
    about = "Measures hookd's delivery throughput, latency and memory against the machine's raw HTTP limit",
    after_help = "The last line on stdout is one JSON object with the results; progress goes to stderr.\n\
                  Exit status 3 means deliveries were missing, a signature did not verify or a publish failed."
)]
pub struct Args {
    /// Shape of the load.
    #[arg(long, value_enum, default_value_t = Scenario::Burst)]
    pub scenario: Scenario,
    /// Database of the hookd server the harness starts (a label only with --target).
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    pub backend: Backend,
    /// Events to publish [default: burst 20000, steady 10000, fanout 2000, slow-endpoint 10000].
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
    /// Server to create the temporary benchmark database on (--backend postgres).
    #[arg(
        long,
        env = "HOOKD_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres_url: String,
    /// Use an already running hookd at this base URL instead of starting one. It must allow
    /// plain-http loopback egress (HOOKD_EGRESS_ALLOW_HTTP=true, HOOKD_EGRESS_ALLOW_NETS=127.0.0.0/8).
    #[arg(long, value_name = "URL")]
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
    /// Extra environment for the started server, e.g. --server-env HOOKD_GLOBAL_MAX_IN_FLIGHT=256
    /// (repeatable; applied after the harness's own settings, so it can override them).
    #[arg(long, value_name = "KEY=VALUE")]
    pub server_env: Vec<String>,
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
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Burst => "burst",
            Scenario::Steady => "steady",
            Scenario::Fanout => "fanout",
            Scenario::SlowEndpoint => "slow-endpoint",
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
}

impl Plan {
    pub fn from_args(args: &Args) -> anyhow::Result<Self> {
        let (events, endpoints, rate) = match args.scenario {
            Scenario::Burst => (20_000, 1, None),
            Scenario::Steady => (10_000, 1, Some(1000.0)),
            Scenario::Fanout => (2_000, 10, None),
            Scenario::SlowEndpoint => (10_000, 4, Some(1000.0)),
        };
        let events = args.events.unwrap_or(events);
        let endpoints = args.endpoints.unwrap_or(endpoints);
        let rate = args.rate.or(rate);
        ensure!(events > 0, "--events must be at least 1");
        ensure!(
            (1..=1000).contains(&endpoints),
            "--endpoints must be 1..=1000"
        );
        ensure!(args.concurrency > 0, "--concurrency must be at least 1");
        ensure!(
            args.receiver_threads > 0,
            "--receiver-threads must be at least 1"
        );
        if let Some(r) = rate {
            ensure!(r.is_finite() && r > 0.0, "--rate must be a positive number");
        }
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

    /// Deliveries to healthy endpoints if every event is accepted.
    pub fn expected_deliveries(&self) -> u64 {
        self.events as u64 * self.healthy_endpoints() as u64
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
    fn scenarios_have_their_documented_defaults() {
        let burst = plan(&[]).unwrap();
        assert_eq!(
            (burst.events, burst.endpoints, burst.rate),
            (20_000, 1, None)
        );
        assert_eq!(burst.raw_requests, 20_000);
        let fanout = plan(&["--scenario", "fanout"]).unwrap();
        assert_eq!(fanout.expected_deliveries(), 20_000);
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

    #[test]
    fn nonsense_is_refused() {
        assert!(plan(&["--events", "0"]).is_err());
        assert!(plan(&["--rate", "0"]).is_err());
        assert!(plan(&["--scenario", "slow-endpoint", "--endpoints", "1"]).is_err());
        assert!(
            plan(&["--api-key", "k"]).is_err(),
            "--api-key needs --target"
        );
    }
}
