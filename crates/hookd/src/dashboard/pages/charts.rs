//! Server-rendered charts (inline SVG, no script): an endpoint's last 24 hours of deliveries by
//! outcome, and their latency. Each chart has a text alternative for screen readers.

use maud::{html, Markup};

use crate::domain::insights::HourBucket;

const WIDTH: f64 = 480.0;
const HEIGHT: f64 = 120.0;
const GREEN: &str = "#1f8a4c";
const RED: &str = "#c0362c";
const GREY: &str = "#8a94a6";
const BLUE: &str = "#2f5bd3";

fn bar_width(n: usize) -> f64 {
    WIDTH / n.max(1) as f64
}

/// Stacked bars per hour: succeeded, failed, pending or cancelled.
pub fn outcomes(buckets: &[HourBucket]) -> Markup {
    let max = buckets
        .iter()
        .map(HourBucket::total)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let (ok, failed, other): (u64, u64, u64) = buckets.iter().fold((0, 0, 0), |a, b| {
        (a.0 + b.succeeded, a.1 + b.failed, a.2 + b.other)
    });
    let label = format!(
        "Deliveries per hour over the last 24 hours: {ok} succeeded, {failed} failed, {other} pending or cancelled."
    );
    let w = bar_width(buckets.len());
    html! {
        figure class="chart" {
            svg viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-label=(label) preserveAspectRatio="none" {
                @for (i, b) in buckets.iter().enumerate() {
                    @let x = i as f64 * w + 1.0;
                    @let h_ok = b.succeeded as f64 / max * HEIGHT;
                    @let h_failed = b.failed as f64 / max * HEIGHT;
                    @let h_other = b.other as f64 / max * HEIGHT;
                    rect x=(x) y=(HEIGHT - h_ok) width=(w - 2.0) height=(h_ok) fill=(GREEN) {}
                    rect x=(x) y=(HEIGHT - h_ok - h_failed) width=(w - 2.0) height=(h_failed) fill=(RED) {}
                    rect x=(x) y=(HEIGHT - h_ok - h_failed - h_other) width=(w - 2.0) height=(h_other) fill=(GREY) {}
                }
            }
            figcaption {
                span class="legend ok" { "Succeeded " (ok) } " · "
                span class="legend failed" { "Failed " (failed) } " · "
                span class="legend other" { "Pending or cancelled " (other) }
            }
        }
    }
}

/// Bars per hour of the mean latency of the hour's latest attempts.
pub fn latency(buckets: &[HourBucket]) -> Markup {
    let max = buckets
        .iter()
        .filter_map(|b| b.max_latency_ms)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let means: Vec<i64> = buckets.iter().filter_map(|b| b.mean_latency_ms).collect();
    let overall = (!means.is_empty()).then(|| means.iter().sum::<i64>() / means.len() as i64);
    let slowest = buckets.iter().filter_map(|b| b.max_latency_ms).max();
    let label = match (overall, slowest) {
        (Some(mean), Some(slowest)) => format!(
            "Latency per hour over the last 24 hours: mean of hourly means {mean} ms, slowest attempt {slowest} ms."
        ),
        _ => "Latency per hour over the last 24 hours: no attempts yet.".to_string(),
    };
    let w = bar_width(buckets.len());
    html! {
        figure class="chart" {
            svg viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-label=(label) preserveAspectRatio="none" {
                @for (i, b) in buckets.iter().enumerate() {
                    @if let Some(mean) = b.mean_latency_ms {
                        @let h = (mean as f64 / max * HEIGHT).max(1.0);
                        rect x=(i as f64 * w + 1.0) y=(HEIGHT - h) width=(w - 2.0) height=(h) fill=(BLUE) {}
                    }
                }
            }
            figcaption {
                @match (overall, slowest) {
                    (Some(mean), Some(slowest)) => { "Mean " (mean) " ms · slowest " (slowest) " ms" }
                    _ => { "No attempts in the last 24 hours." }
                }
            }
        }
    }
}
