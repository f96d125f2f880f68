//! Logging and metrics set-up.

use std::io::IsTerminal;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global tracing subscriber (`RUST_LOG` filters; default `info`). Logs go to
/// stderr so that commands printing data (`hookd keys create`) keep stdout clean. Colours only
/// when stderr is a terminal: a log file or collector gets plain text, and no request pays for
/// escape codes nobody sees (the request span's fields are formatted when it opens).
pub fn init_logging(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

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

/// Handles to the metrics recorded on every publish and every attempt, registered once. The
/// `counter!` and `histogram!` macros build the metric's key (allocating its labels) and look it
/// up in the recorder's registry on every call; on the hot path that was about 3 % of all
/// allocations per delivery.
pub struct HotMetrics {
    pub events_published: metrics::Counter,
    pub attempts_succeeded: metrics::Counter,
    pub attempts_failed_status: metrics::Counter,
    pub attempts_failed_error: metrics::Counter,
    pub attempt_duration: metrics::Histogram,
    pub group_commit_size: metrics::Histogram,
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
        HotMetrics {
            events_published: metrics::counter!("hookd_events_published_total"),
            attempts_succeeded: attempts("succeeded"),
            attempts_failed_status: attempts("failed_status"),
            attempts_failed_error: attempts("failed_error"),
            attempt_duration: metrics::histogram!("hookd_delivery_attempt_duration_seconds"),
            group_commit_size: metrics::histogram!("hookd_store_group_commit_size"),
        }
    })
}
