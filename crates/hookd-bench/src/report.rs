//! The result of a run: the one JSON line printed last on stdout, and how each figure is
//! derived from the raw measurements.
//!
//! - `raw_rps`: raw-phase requests answered / raw-phase wall time.
//! - `ingest_eps`: events accepted (202) / publish wall time.
//! - `delivery_rps`: distinct deliveries received / (last first-receipt − first publish).
//! - `ratio_delivery_to_raw`: `delivery_rps / raw_rps`.
//! - `latency_ms`: publish sent → delivery received, first receipt of each (event, endpoint).
//! - `missing`: accepted events × healthy endpoints never received.
//! - `duplicates`: receipts of an (event, endpoint) already received.
//! - `cpu_us`: CPU time per delivery of the server and of the harness (load generator and
//!   receiver) from first publish until the last delivery arrived, and the harness's CPU per
//!   request in the raw phase. `ratio_delivery_to_raw` is about
//!   `harness_per_raw_request / (harness_per_delivery + server_per_delivery)` when the two
//!   cores are saturated, so these say where a ratio comes from.
//!
//! The first twelve fields are the contract; the rest explain a surprising number.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::cli::Plan;
use crate::ledger::Tally;

#[derive(Serialize, Debug)]
pub struct Report {
    pub raw_rps: f64,
    pub ingest_eps: f64,
    pub delivery_rps: f64,
    pub ratio_delivery_to_raw: f64,
    pub latency_ms: LatencyMs,
    pub missing: u64,
    pub duplicates: u64,
    pub server_peak_rss_mb: Option<f64>,
    pub scenario: &'static str,
    pub events: usize,
    pub endpoints: usize,
    pub backend: &'static str,
    pub healthy_endpoints: usize,
    pub concurrency: usize,
    pub data_bytes: usize,
    pub rate: Option<f64>,
    pub accepted: u64,
    pub delivered: u64,
    pub publish_errors: u64,
    pub publish_retries: u64,
    pub bad_signatures: u64,
    pub unexpected: u64,
    pub strays: u64,
    pub id_mismatches: u64,
    pub timed_out: bool,
    pub publish_secs: f64,
    pub delivery_secs: f64,
    pub raw_requests: u64,
    pub raw_errors: u64,
    pub server_warnings: u64,
    pub cpu_us: CpuCost,
    /// A few of hookd's own counters at the end of the run (see `metrics.rs`).
    pub server_metrics: BTreeMap<String, f64>,
}

/// CPU microseconds per unit of work; `null` where `/proc` could not be read (not Linux, or
/// a server given by `--target`).
#[derive(Serialize, Debug, Default)]
pub struct CpuCost {
    #[serde(rename = "server_per_delivery")]
    pub server_us_per_delivery: Option<f64>,
    #[serde(rename = "harness_per_delivery")]
    pub harness_us_per_delivery: Option<f64>,
    #[serde(rename = "harness_per_raw_request")]
    pub harness_us_per_raw_request: Option<f64>,
}

#[derive(Serialize, Debug, Default, PartialEq)]
pub struct LatencyMs {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl LatencyMs {
    /// From a histogram of microseconds; zeros when nothing was recorded.
    pub fn from_micros(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let ms = |micros: u64| round(micros as f64 / 1000.0, 3);
        Self {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
        }
    }
}

/// The raw measurements a report is computed from.
pub struct Measured {
    pub raw_requests: u64,
    pub raw_errors: u64,
    pub raw_secs: f64,
    pub publish_secs: f64,
    pub publish_errors: u64,
    pub publish_retries: u64,
    /// First publish → last first-receipt; 0 when nothing arrived.
    pub delivery_secs: f64,
    pub tally: Tally,
    pub latency: Histogram<u64>,
    pub timed_out: bool,
    pub server_peak_rss_mb: Option<f64>,
    pub cpu: CpuCost,
    pub server_warnings: u64,
    pub server_metrics: BTreeMap<String, f64>,
}

impl Report {
    pub fn new(plan: &Plan, m: Measured) -> Self {
        let per_sec = |n: u64, secs: f64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        let raw_rps = per_sec(m.raw_requests, m.raw_secs);
        let delivery_rps = per_sec(m.tally.unique, m.delivery_secs);
        let ratio = if raw_rps > 0.0 {
            delivery_rps / raw_rps
        } else {
            0.0
        };
        Self {
            raw_rps: round(raw_rps, 1),
            ingest_eps: round(per_sec(m.tally.accepted, m.publish_secs), 1),
            delivery_rps: round(delivery_rps, 1),
            ratio_delivery_to_raw: round(ratio, 3),
            latency_ms: LatencyMs::from_micros(&m.latency),
            missing: m.tally.missing,
            duplicates: m.tally.duplicates,
            server_peak_rss_mb: m.server_peak_rss_mb.map(|mb| round(mb, 1)),
            scenario: plan.scenario.name(),
            events: plan.events,
            endpoints: plan.endpoints,
            backend: plan.backend.name(),
            healthy_endpoints: plan.healthy_endpoints(),
            concurrency: plan.concurrency,
            data_bytes: plan.data_bytes,
            rate: plan.rate,
            accepted: m.tally.accepted,
            delivered: m.tally.unique,
            publish_errors: m.publish_errors,
            publish_retries: m.publish_retries,
            bad_signatures: m.tally.bad_signatures,
            unexpected: m.tally.unexpected,
            strays: m.tally.strays,
            id_mismatches: m.tally.id_mismatches,
            timed_out: m.timed_out,
            publish_secs: round(m.publish_secs, 3),
            delivery_secs: round(m.delivery_secs, 3),
            raw_requests: m.raw_requests,
            raw_errors: m.raw_errors,
            server_warnings: m.server_warnings,
            cpu_us: m.cpu,
            server_metrics: m.server_metrics,
        }
    }

    /// Whether the run shows hookd losing, forging or refusing something.
    pub fn failed(&self) -> bool {
        self.missing > 0
            || self.bad_signatures > 0
            || self.id_mismatches > 0
            || self.publish_errors > 0
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_quantiles_are_reported_in_milliseconds() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for micros in 1..=1000 {
            h.record(micros * 10).unwrap();
        }
        let l = LatencyMs::from_micros(&h);
        assert!((l.p50 - 5.0).abs() < 0.01, "{l:?}");
        assert!((l.p99 - 9.9).abs() < 0.01, "{l:?}");
        assert!((l.max - 10.0).abs() < 0.01, "{l:?}");
        assert_eq!(
            LatencyMs::from_micros(&Histogram::new(3).unwrap()),
            LatencyMs::default()
        );
    }
}
