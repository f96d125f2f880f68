//! The Prometheus recorder, the description of every metric family hookd exports, and handles
//! to the metrics recorded on hot paths.
//!
//! Every family is described once, when the recorder is installed, so each has a `# HELP`
//! line; a family recorded somewhere without a description here fails the metrics test.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

use metrics::{describe_counter, describe_gauge, describe_histogram, Histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// The process-wide Prometheus recorder (installed once; every server in the process shares it).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("_seconds".to_string()),
                    &[
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                        10.0, 30.0,
                    ],
                )
                .expect("bucket list is non-empty");
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (e.g. by an embedding program); then our
            // handle still renders what we record through it.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            handle
        })
        .clone()
}

/// Every this often the recorder moves recorded histogram samples into their buckets.
const METRICS_UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs forever: the recorder keeps every histogram sample (attempt durations, commit sizes)
/// in a list until it is drained into the buckets, which rendering `/metrics` does, and so does
/// this upkeep. Without it, a server nobody scrapes would hold on to 8 bytes per sample, a few
/// hundred megabytes a day at a thousand deliveries a second.
pub async fn metrics_upkeep(handle: PrometheusHandle) {
    let mut tick = tokio::time::interval(METRICS_UPKEEP_EVERY);
    loop {
        tick.tick().await;
        handle.run_upkeep();
    }
}

/// What kind of metric a family is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One metric family hookd exports.
#[derive(Debug)]
pub struct Family {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
}

/// Every family hookd exports, described once at start-up so each has a `# HELP` line. The
/// tests check that the scraped families, the alert rules and the dashboard use only these.
pub const FAMILIES: &[Family] = &[
    Family {
        name: "hookd_http_request_duration_seconds",
        kind: Kind::Histogram,
        help: "API requests by route template and status class (2xx, 4xx, 5xx…): latency, and with _count the request rate.",
    },
    Family {
        name: "hookd_http_connections_open",
        kind: Kind::Gauge,
        help: "Open client connections to the API listener (at most http_max_connections).",
    },
    Family {
        name: "hookd_http_connection_cap_reached_total",
        kind: Kind::Counter,
        help: "Times the listener reached http_max_connections and stopped accepting until a connection closed.",
    },
    Family {
        name: "hookd_http_connections_closed_total",
        kind: Kind::Counter,
        help: "Client connections closed by a timeout, by reason: idle_timeout, header_timeout, write_stalled.",
    },
    Family {
        name: "hookd_auth_throttled_total",
        kind: Kind::Counter,
        help: "Requests refused with 429 because their source address had too many failed authentications (auth_failure_limit).",
    },
    Family {
        name: "hookd_events_published_total",
        kind: Kind::Counter,
        help: "Events accepted by POST /v1/events (and operational events).",
    },
    Family {
        name: "hookd_delivery_attempts_total",
        kind: Kind::Counter,
        help: "Delivery attempts by outcome: succeeded, failed_status (a non-2xx answer), failed_error (no answer).",
    },
    Family {
        name: "hookd_delivery_attempt_duration_seconds",
        kind: Kind::Histogram,
        help: "Duration of delivery attempts (the HTTP exchange with the endpoint).",
    },
    Family {
        name: "hookd_deliveries_completed_total",
        kind: Kind::Counter,
        help: "Deliveries that reached a final status by outcome: succeeded, or exhausted (the retry schedule used up).",
    },
    Family {
        name: "hookd_deliveries_pending",
        kind: Kind::Gauge,
        help: "Deliveries with status pending (due, waiting for a retry, or parked behind a disabled endpoint).",
    },
    Family {
        name: "hookd_deliveries_oldest_pending_age_seconds",
        kind: Kind::Gauge,
        help: "How long the most overdue pending delivery of an active endpoint has been due (0 when none is due): the delivery engine's lag.",
    },
    Family {
        name: "hookd_endpoints_disabled",
        kind: Kind::Gauge,
        help: "Endpoints currently disabled (manually, gone or failing), not deleted.",
    },
    Family {
        name: "hookd_endpoints_disabled_total",
        kind: Kind::Counter,
        help: "Endpoints disabled by hookd, by reason: gone (answered 410) or failing (auto-disable).",
    },
    Family {
        name: "hookd_dispatch_lease_expired_total",
        kind: Kind::Counter,
        help: "Queued deliveries dropped from memory because their lease ran short (another node or the poller takes them).",
    },
    Family {
        name: "hookd_dispatch_rate_limited_total",
        kind: Kind::Counter,
        help: "Attempts that waited for their endpoint's rate limit (rateLimitPerSec) before starting.",
    },
    Family {
        name: "hookd_filter_evaluation_errors_total",
        kind: Kind::Counter,
        help: "Endpoint filters whose evaluation failed for an event (counted as false: no delivery to that endpoint).",
    },
    Family {
        name: "hookd_dispatch_overflow_total",
        kind: Kind::Counter,
        help: "Deliveries that did not fit an endpoint's in-memory queue and were handed back to the database.",
    },
    Family {
        name: "hookd_store_group_commit_size",
        kind: Kind::Histogram,
        help: "Writes per SQLite group commit.",
    },
    Family {
        name: "hookd_sqlite_commit_duration_seconds",
        kind: Kind::Histogram,
        help: "Time the SQLite writer thread spends on one group commit (statements and fsync).",
    },
    Family {
        name: "hookd_sqlite_writer_queue_depth",
        kind: Kind::Gauge,
        help: "Writes waiting for the SQLite writer thread, sampled after each commit.",
    },
    Family {
        name: "hookd_store_batch_reruns_total",
        kind: Kind::Counter,
        help: "Write batches that failed as a whole and were re-run write by write.",
    },
    Family {
        name: "hookd_store_publish_batch_size",
        kind: Kind::Histogram,
        help: "Publishes per PostgreSQL batch.",
    },
    Family {
        name: "hookd_store_result_batch_size",
        kind: Kind::Histogram,
        help: "Attempt results per PostgreSQL batch.",
    },
    Family {
        name: "hookd_store_rate_limit_batch_size",
        kind: Kind::Histogram,
        help: "Rate-limit admissions per PostgreSQL batch.",
    },
    Family {
        name: "hookd_store_key_lookup_batch_size",
        kind: Kind::Histogram,
        help: "API key look-ups per PostgreSQL batch.",
    },
    Family {
        name: "hookd_db_pool_connections",
        kind: Kind::Gauge,
        help: "Database pool connections by pool and state (in_use, idle), sampled at each scrape.",
    },
    Family {
        name: "hookd_integration_calls_total",
        kind: Kind::Counter,
        help: "Integration calls by outcome (answered with any HTTP status, upstream_error, upstream_timeout, url_not_allowed) and via (api, mcp).",
    },
    Family {
        name: "hookd_integration_calls_refused_total",
        kind: Kind::Counter,
        help: "Integration calls refused by the integration's call policy, by rule (allowedMethods, allowedPathPrefixes, allowCallerHeaders) and via (api, mcp); nothing was sent.",
    },
    Family {
        name: "hookd_mcp_tool_calls_total",
        kind: Kind::Counter,
        help: "MCP tools/call requests served (each also counts as the REST requests it makes).",
    },
    Family {
        name: "hookd_mcp_list_changed_total",
        kind: Kind::Counter,
        help: "notifications/tools/list_changed sent to MCP sessions.",
    },
    Family {
        name: "hookd_oauth2_token_requests_total",
        kind: Kind::Counter,
        help: "OAuth2 token requests (client credentials) by outcome: fetched, failed.",
    },
    Family {
        name: "hookd_integration_call_duration_seconds",
        kind: Kind::Histogram,
        help: "Duration of integration calls to the upstream.",
    },
    Family {
        name: "hookd_operational_events_total",
        kind: Kind::Counter,
        help: "Operational events hookd published into workspaces, by type (with operational_events on).",
    },
    Family {
        name: "hookd_retention_runs_total",
        kind: Kind::Counter,
        help: "Retention passes completed (removing events, deliveries, attempts and integration calls older than the retention).",
    },
    Family {
        name: "hookd_retention_rows_removed_total",
        kind: Kind::Counter,
        help: "Rows removed by retention, by table.",
    },
];

/// Describes every family of [`FAMILIES`] to the installed recorder.
fn describe() {
    for family in FAMILIES {
        let unit = family.name.ends_with("_seconds").then_some(Unit::Seconds);
        match (family.kind, unit) {
            (Kind::Counter, _) => describe_counter!(family.name, family.help),
            (Kind::Gauge, Some(unit)) => describe_gauge!(family.name, unit, family.help),
            (Kind::Gauge, None) => describe_gauge!(family.name, family.help),
            (Kind::Histogram, Some(unit)) => describe_histogram!(family.name, unit, family.help),
            (Kind::Histogram, None) => describe_histogram!(family.name, family.help),
        }
    }
}

/// Handles to the metrics recorded on every publish and every attempt, registered once. The
/// `counter!` and `histogram!` macros build the metric's key (allocating its labels) and look it
/// up in the recorder's registry on every call; on the hot path that was about 3 % of all
/// allocations per delivery.
pub struct HotMetrics {
    pub events_published: metrics::Counter,
    pub attempts_succeeded: metrics::Counter,
    pub attempts_failed_status: metrics::Counter,
    pub attempts_failed_error: metrics::Counter,
    pub deliveries_succeeded: metrics::Counter,
    pub deliveries_exhausted: metrics::Counter,
    pub attempt_duration: metrics::Histogram,
    pub group_commit_size: metrics::Histogram,
    pub sqlite_commit_duration: metrics::Histogram,
    pub sqlite_writer_queue_depth: metrics::Gauge,
}

/// The hot-path handles; the first call installs the recorder if nothing did yet, so a handle
/// is never bound to the no-op recorder.
pub fn hot() -> &'static HotMetrics {
    static HOT: OnceLock<HotMetrics> = OnceLock::new();
    HOT.get_or_init(|| {
        let _ = metrics_handle();
        let attempts = |outcome: &'static str| {
            metrics::counter!("hookd_delivery_attempts_total", "outcome" => outcome)
        };
        let completed = |outcome: &'static str| {
            metrics::counter!("hookd_deliveries_completed_total", "outcome" => outcome)
        };
        HotMetrics {
            events_published: metrics::counter!("hookd_events_published_total"),
            attempts_succeeded: attempts("succeeded"),
            attempts_failed_status: attempts("failed_status"),
            attempts_failed_error: attempts("failed_error"),
            deliveries_succeeded: completed("succeeded"),
            deliveries_exhausted: completed("exhausted"),
            attempt_duration: metrics::histogram!("hookd_delivery_attempt_duration_seconds"),
            group_commit_size: metrics::histogram!("hookd_store_group_commit_size"),
            sqlite_commit_duration: metrics::histogram!("hookd_sqlite_commit_duration_seconds"),
            sqlite_writer_queue_depth: metrics::gauge!("hookd_sqlite_writer_queue_depth"),
        }
    })
}

/// `2xx`, `4xx`, …: the status label of the HTTP metrics (a class, so the label set stays small).
pub fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

/// Per route template: one histogram handle per status class (index `status / 100 - 1`).
type RouteHistograms = HashMap<String, [Option<Histogram>; 5]>;

/// The request-duration histogram of `route` (a template such as `/v1/events/{id}`, never a
/// raw path) and `status`. Handles are kept per route, so a request costs a read lock and a
/// hash look-up instead of building the metric's key (the set of routes is fixed).
pub fn http_request_duration(route: &str, status: u16) -> Histogram {
    static CACHE: OnceLock<RwLock<RouteHistograms>> = OnceLock::new();
    let cache = CACHE.get_or_init(RwLock::default);
    let class = usize::from((status / 100).clamp(1, 5) - 1);
    if let Some(handle) = cache
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(route)
        .and_then(|classes| classes[class].clone())
    {
        return handle;
    }
    let _ = metrics_handle();
    let handle = metrics::histogram!(
        "hookd_http_request_duration_seconds",
        "route" => route.to_string(),
        "status_class" => status_class(status)
    );
    cache
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .entry(route.to_string())
        .or_default()[class] = Some(handle.clone());
    handle
}
