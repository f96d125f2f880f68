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

/// The `# HELP` of every family (see the module docs).
fn describe() {
    describe_histogram!(
        "hookd_http_request_duration_seconds",
        Unit::Seconds,
        "API requests by route template and status class (2xx, 4xx, 5xx…): latency, and with _count the request rate."
    );
    describe_counter!("hookd_events_published_total", "Events accepted by POST /v1/events (and operational events).");
    describe_counter!(
        "hookd_delivery_attempts_total",
        "Delivery attempts by outcome: succeeded, failed_status (a non-2xx answer), failed_error (no answer)."
    );
    describe_histogram!(
        "hookd_delivery_attempt_duration_seconds",
        Unit::Seconds,
        "Duration of delivery attempts (the HTTP exchange with the endpoint)."
    );
    describe_counter!(
        "hookd_deliveries_completed_total",
        "Deliveries that reached a final status by outcome: succeeded, or exhausted (the retry schedule used up)."
    );
    describe_gauge!("hookd_deliveries_pending", "Deliveries with status pending (due, waiting for a retry, or parked behind a disabled endpoint).");
    describe_gauge!(
        "hookd_deliveries_oldest_pending_age_seconds",
        Unit::Seconds,
        "How long the most overdue pending delivery of an active endpoint has been due (0 when none is due): the delivery engine's lag."
    );
    describe_gauge!("hookd_endpoints_disabled", "Endpoints currently disabled (manually, gone or failing), not deleted.");
    describe_counter!(
        "hookd_endpoints_disabled_total",
        "Endpoints disabled by hookd, by reason: gone (answered 410) or failing (auto-disable)."
    );
    describe_counter!("hookd_dispatch_lease_expired_total", "Queued deliveries dropped from memory because their lease ran short (another node or the poller takes them).");
    describe_counter!("hookd_dispatch_overflow_total", "Deliveries that did not fit an endpoint's in-memory queue and were handed back to the database.");
    describe_histogram!("hookd_store_group_commit_size", "Writes per SQLite group commit.");
    describe_histogram!(
        "hookd_sqlite_commit_duration_seconds",
        Unit::Seconds,
        "Time the SQLite writer thread spends on one group commit (statements and fsync)."
    );
    describe_gauge!("hookd_sqlite_writer_queue_depth", "Writes waiting for the SQLite writer thread, sampled after each commit.");
    describe_counter!("hookd_store_batch_reruns_total", "Write batches that failed as a whole and were re-run write by write.");
    describe_histogram!("hookd_store_publish_batch_size", "Publishes per PostgreSQL batch.");
    describe_histogram!("hookd_store_result_batch_size", "Attempt results per PostgreSQL batch.");
    describe_histogram!("hookd_store_rate_limit_batch_size", "Rate-limit admissions per PostgreSQL batch.");
    describe_histogram!("hookd_store_key_lookup_batch_size", "API key look-ups per PostgreSQL batch.");
    describe_gauge!(
        "hookd_db_pool_connections",
        "Database pool connections by pool and state (in_use, idle), sampled at each scrape."
    );
    describe_counter!(
        "hookd_integration_calls_total",
        "Integration calls by outcome: answered (any HTTP status), upstream_error, upstream_timeout, url_not_allowed."
    );
    describe_histogram!(
        "hookd_integration_call_duration_seconds",
        Unit::Seconds,
        "Duration of integration calls to the upstream."
    );
    describe_counter!(
        "hookd_operational_events_total",
        "Operational events hookd published into workspaces, by type (with operational_events on)."
    );
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
