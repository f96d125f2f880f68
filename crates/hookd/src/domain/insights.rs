//! What the dashboard charts and summarises about an endpoint's recent deliveries: hourly
//! buckets of outcomes and latency over a window, and the success rate of the deliveries that
//! finished. The store returns raw samples; the rules for counting them live here, once.

use super::delivery::DeliveryStatus;
use super::time::Timestamp;

/// The window the dashboard looks back over.
pub const WINDOW_MS: i64 = 24 * 3_600_000;
const HOUR_MS: i64 = 3_600_000;
/// At most this many deliveries of one endpoint are sampled for a window (the newest): enough
/// for a chart, bounded for an endpoint that takes thousands an hour.
pub const MAX_SAMPLES: u32 = 20_000;

/// One delivery of the window: when it was created, where it stands, and how long its latest
/// attempt took (`None`: not attempted yet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliverySample {
    pub created_at: Timestamp,
    pub status: DeliveryStatus,
    pub last_duration_ms: Option<i64>,
}

/// One hour of the window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HourBucket {
    /// The hour's start.
    pub start: Timestamp,
    pub succeeded: u64,
    pub failed: u64,
    /// Pending (waiting for an attempt or a retry) or cancelled.
    pub other: u64,
    /// Mean duration of the latest attempts of the hour's deliveries, when any was attempted.
    pub mean_latency_ms: Option<i64>,
    /// The slowest of them.
    pub max_latency_ms: Option<i64>,
}

impl HourBucket {
    pub fn total(&self) -> u64 {
        self.succeeded + self.failed + self.other
    }
}

/// The window ending at `now`, as 24 hourly buckets, oldest first. The last bucket ends at
/// `now`; samples outside the window are ignored.
pub fn hourly(samples: &[DeliverySample], now: Timestamp) -> Vec<HourBucket> {
    let hours = (WINDOW_MS / HOUR_MS) as usize;
    let first_start = now.as_millis() - WINDOW_MS;
    let mut buckets: Vec<HourBucket> = (0..hours)
        .map(|h| HourBucket {
            start: Timestamp::from_millis(first_start + h as i64 * HOUR_MS),
            succeeded: 0,
            failed: 0,
            other: 0,
            mean_latency_ms: None,
            max_latency_ms: None,
        })
        .collect();
    let mut latency: Vec<(i64, i64, i64)> = vec![(0, 0, 0); hours]; // (sum, count, max)
    for s in samples {
        let offset = s.created_at.as_millis() - first_start;
        if !(0..=WINDOW_MS).contains(&offset) {
            continue;
        }
        let h = ((offset / HOUR_MS) as usize).min(hours - 1);
        let b = &mut buckets[h];
        match s.status {
            DeliveryStatus::Succeeded => b.succeeded += 1,
            DeliveryStatus::Failed => b.failed += 1,
            DeliveryStatus::Pending | DeliveryStatus::Cancelled => b.other += 1,
        }
        if let Some(ms) = s.last_duration_ms {
            let l = &mut latency[h];
            l.0 += ms;
            l.1 += 1;
            l.2 = l.2.max(ms);
        }
    }
    for (b, (sum, count, max)) in buckets.iter_mut().zip(latency) {
        if count > 0 {
            b.mean_latency_ms = Some(sum / count);
            b.max_latency_ms = Some(max);
        }
    }
    buckets
}

/// An endpoint at a glance: its deliveries of the window by outcome, and its latest delivery.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndpointSummary {
    pub succeeded: u64,
    pub failed: u64,
    pub last_delivery_at: Option<Timestamp>,
    pub last_status: Option<DeliveryStatus>,
}

impl EndpointSummary {
    /// Percentage of the window's finished deliveries that succeeded; `None` when none finished
    /// (a rate of nothing is not 0 % or 100 %).
    pub fn success_rate(&self) -> Option<f64> {
        let finished = self.succeeded + self.failed;
        (finished > 0).then(|| self.succeeded as f64 * 100.0 / finished as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at: i64, status: DeliveryStatus, ms: Option<i64>) -> DeliverySample {
        DeliverySample {
            created_at: Timestamp::from_millis(at),
            status,
            last_duration_ms: ms,
        }
    }

    #[test]
    fn samples_fall_into_their_hour() {
        let now = Timestamp::from_millis(100 * HOUR_MS);
        let start = 76 * HOUR_MS;
        let samples = [
            sample(start, DeliveryStatus::Succeeded, Some(10)),
            sample(start + 10, DeliveryStatus::Failed, Some(30)),
            sample(start + HOUR_MS + 1, DeliveryStatus::Pending, None),
            sample(100 * HOUR_MS, DeliveryStatus::Succeeded, Some(5)),
            sample(start - 1, DeliveryStatus::Succeeded, Some(999)),
            sample(100 * HOUR_MS + 1, DeliveryStatus::Succeeded, Some(999)),
        ];
        let buckets = hourly(&samples, now);
        assert_eq!(buckets.len(), 24);
        assert_eq!(buckets[0].start.as_millis(), start);
        assert_eq!((buckets[0].succeeded, buckets[0].failed), (1, 1));
        assert_eq!(buckets[0].mean_latency_ms, Some(20));
        assert_eq!(buckets[0].max_latency_ms, Some(30));
        assert_eq!(buckets[1].other, 1);
        assert_eq!(buckets[1].mean_latency_ms, None);
        assert_eq!(buckets[23].succeeded, 1, "now is in the last hour");
        let total: u64 = buckets.iter().map(HourBucket::total).sum();
        assert_eq!(total, 4, "samples outside the window are ignored");
    }

    #[test]
    fn success_rate_of_finished_deliveries() {
        let none = EndpointSummary::default();
        assert_eq!(none.success_rate(), None);
        let s = EndpointSummary {
            succeeded: 3,
            failed: 1,
            ..Default::default()
        };
        assert_eq!(s.success_rate(), Some(75.0));
    }
}
