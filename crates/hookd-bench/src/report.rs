//! The result of a run: the one JSON line printed last on stdout, and how each figure is
//! derived from the raw measurements.
//!
//! - `raw_rps`: raw-phase requests answered / raw-phase wall time, over both raw phases: one
//!   before the server starts and one after it stops, so a machine whose speed drifts during
//!   the run is measured at its average rather than at its start (`raw_rps_before`,
//!   `raw_rps_after` give each).
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
//! - `out_of_order` (ordered only): arrivals that started before the previous event of their
//!   ordering key (to the same endpoint) had been answered 2xx; anything but 0 fails the run.
//!
//! - `nodes`, `db`: how many `hookd serve` processes shared the database, and what the
//!   database spent per delivery (`db_cost.rs` defines each figure).
//!
//! The first twelve fields are the contract; the rest explain a surprising number.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::cli::Plan;
use crate::db_cost::DbCost;
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
    pub raw_rps_before: f64,
    /// `None` when the run stopped before the second raw phase.
    pub raw_rps_after: Option<f64>,
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
    /// ordered: the keys the events were spread over (`null` for other scenarios).
    pub ordering_keys: Option<usize>,
    /// ordered: arrivals that started before the previous event of their key had succeeded;
    /// must be 0 (`null` for other scenarios, which do not check it).
    pub out_of_order: Option<u64>,
    /// ordered: first attempts the receiver failed on purpose (each retried by hookd).
    pub failed_first_attempts: Option<u64>,
    /// A few of hookd's own counters at the end of the run (see `metrics.rs`).
    pub server_metrics: BTreeMap<String, f64>,
    /// `hookd serve` processes on the one database (`--nodes`).
    pub nodes: usize,
    /// The database's cost per delivery (see `db_cost.rs`).
    pub db: DbCost,
    /// Historical events in the database before the run (`--prefill`; 0 for an empty one).
    pub prefill: u64,
    /// How long writing them took (`null` without `--prefill`).
    pub prefill_secs: Option<f64>,
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

/// One raw-limit phase: the harness's client straight to its receiver.
#[derive(Debug, Clone, Copy)]
pub struct RawPhase {
    pub requests: u64,
    pub errors: u64,
    pub secs: f64,
    /// The harness's CPU per request (client and receiver together).
    pub harness_cpu_us: Option<f64>,
}

impl RawPhase {
    pub fn rps(&self) -> f64 {
        per_sec(self.requests, self.secs)
    }
}

/// The raw measurements a report is computed from.
pub struct Measured {
    /// The raw phase before the server started.
    pub raw_before: RawPhase,
    /// The raw phase after it stopped, when the run got that far.
    pub raw_after: Option<RawPhase>,
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
    pub db: DbCost,
    /// How long `--prefill` took, when it ran.
    pub prefill_secs: Option<f64>,
}

impl Report {
    pub fn new(plan: &Plan, mut m: Measured) -> Self {
        let phases: Vec<RawPhase> = std::iter::once(m.raw_before).chain(m.raw_after).collect();
        let raw_requests: u64 = phases.iter().map(|p| p.requests).sum();
        let raw_rps = per_sec(raw_requests, phases.iter().map(|p| p.secs).sum());
        m.cpu.harness_us_per_raw_request = harness_cpu_per_raw_request(&phases);
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
            raw_rps_before: round(m.raw_before.rps(), 1),
            raw_rps_after: m.raw_after.map(|p| round(p.rps(), 1)),
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
            raw_requests,
            raw_errors: phases.iter().map(|p| p.errors).sum(),
            server_warnings: m.server_warnings,
            cpu_us: m.cpu,
            ordering_keys: (plan.ordering_keys > 0).then_some(plan.ordering_keys),
            out_of_order: (plan.ordering_keys > 0).then_some(m.tally.out_of_order),
            failed_first_attempts: (plan.ordering_keys > 0).then_some(m.tally.failed_on_purpose),
            server_metrics: m.server_metrics,
            nodes: plan.nodes,
            db: m.db,
            prefill: plan.prefill,
            prefill_secs: m.prefill_secs.map(|s| round(s, 1)),
        }
    }

    /// Whether the run failed (exit status 3): something missing, forged or refused, or a raw
    /// phase whose requests failed, since its `raw_rps` (and so the ratio) then measures the
    /// failures rather than the machine.
    pub fn failed(&self) -> bool {
        self.missing > 0
            || self.out_of_order.is_some_and(|n| n > 0)
            || self.bad_signatures > 0
            || self.id_mismatches > 0
            || self.publish_errors > 0
            || self.raw_errors > 0
    }
}

fn per_sec(n: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}

/// The harness's CPU per raw request over every phase that knows it, weighted by requests.
fn harness_cpu_per_raw_request(phases: &[RawPhase]) -> Option<f64> {
    let known: Vec<(f64, u64)> = phases
        .iter()
        .filter_map(|p| p.harness_cpu_us.map(|us| (us, p.requests)))
        .collect();
    let requests: u64 = known.iter().map(|&(_, n)| n).sum();
    (requests > 0)
        .then(|| known.iter().map(|&(us, n)| us * n as f64).sum::<f64>() / requests as f64)
}

fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Args;
    use clap::Parser;

    fn measured(raw_before: RawPhase, raw_after: Option<RawPhase>) -> Measured {
        Measured {
            raw_before,
            raw_after,
            publish_secs: 1.0,
            publish_errors: 0,
            publish_retries: 0,
            delivery_secs: 2.0,
            tally: Tally {
                accepted: 10_000,
                unique: 10_000,
                ..Tally::default()
            },
            latency: Histogram::new(3).unwrap(),
            timed_out: false,
            server_peak_rss_mb: None,
            cpu: CpuCost::default(),
            server_warnings: 0,
            server_metrics: BTreeMap::new(),
            db: DbCost::default(),
            prefill_secs: None,
        }
    }

    fn phase(requests: u64, secs: f64, harness_cpu_us: Option<f64>) -> RawPhase {
        RawPhase {
            requests,
            errors: 1,
            secs,
            harness_cpu_us,
        }
    }

    #[test]
    fn the_raw_limit_is_taken_over_both_phases() {
        let plan = Plan::from_args(&Args::try_parse_from(["hookd-bench"]).unwrap()).unwrap();
        // 20k requests in 0.5 s before the run, 20k in 0.25 s after it: 40k in 0.75 s.
        let report = Report::new(
            &plan,
            measured(
                phase(20_000, 0.5, Some(30.0)),
                Some(phase(20_000, 0.25, Some(20.0))),
            ),
        );
        assert_eq!(report.raw_rps_before, 40_000.0);
        assert_eq!(report.raw_rps_after, Some(80_000.0));
        assert_eq!(report.raw_rps, 53_333.3);
        assert_eq!(report.delivery_rps, 5_000.0);
        assert_eq!(report.ratio_delivery_to_raw, 0.094);
        assert_eq!((report.raw_requests, report.raw_errors), (40_000, 2));
        assert_eq!(report.cpu_us.harness_us_per_raw_request, Some(25.0));
    }

    #[test]
    fn a_run_stopped_before_the_second_raw_phase_reports_the_first() {
        let plan = Plan::from_args(&Args::try_parse_from(["hookd-bench"]).unwrap()).unwrap();
        let report = Report::new(&plan, measured(phase(20_000, 0.5, None), None));
        assert_eq!((report.raw_rps, report.raw_rps_after), (40_000.0, None));
        assert_eq!(report.cpu_us.harness_us_per_raw_request, None);
        let line = serde_json::to_string(&report).unwrap();
        assert!(line.contains("\"raw_rps_after\":null"), "{line}");
    }

    #[test]
    fn a_failed_raw_request_fails_the_run() {
        let plan = Plan::from_args(&Args::try_parse_from(["hookd-bench"]).unwrap()).unwrap();
        let clean = RawPhase {
            errors: 0,
            ..phase(20_000, 0.5, None)
        };
        assert!(!Report::new(&plan, measured(clean, Some(clean))).failed());
        // `phase` has one failed request: the raw limit it measured is not the machine's.
        let report = Report::new(&plan, measured(clean, Some(phase(20_000, 0.5, None))));
        assert_eq!((report.missing, report.raw_errors), (0, 1));
        assert!(report.failed());
    }

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
