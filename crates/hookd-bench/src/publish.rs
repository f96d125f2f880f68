//! Publishing the events: a fixed number of worker tasks (the concurrency) each take the next
//! sequence number and publish it, optionally waiting for its slot in a fixed-rate schedule.
//!
//! A hand-rolled loop rather than a stream combinator: no per-event task or allocation beyond
//! the request body, and pacing by schedule (event `n` is due at `start + n / rate`), so a slow
//! answer delays only its own worker, not the rate. The send time is recorded in the ledger
//! before the request leaves, so latency covers the whole publish → receive path.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::api::{Api, Published};
use crate::body;
use crate::ledger::Ledger;

/// Live counters (read by the progress display) and the first error seen.
#[derive(Default)]
pub struct Counters {
    pub accepted: AtomicU64,
    pub failed: AtomicU64,
    pub retries: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Counters {
    pub fn first_error(&self) -> Option<String> {
        self.first_error.lock().ok()?.clone()
    }

    fn fail(&self, message: String) {
        self.failed.fetch_add(1, Relaxed);
        if let Ok(mut first) = self.first_error.lock() {
            first.get_or_insert(message);
        }
    }
}

pub struct Settings {
    pub events: usize,
    pub concurrency: usize,
    pub rate: Option<f64>,
    pub data_bytes: usize,
    pub project_id: String,
    /// ordered: events spread over this many keys (0: no keys). Event `seq` is then sent only
    /// once `seq - keys`, the previous of its key, has its answer, so each key's publish order
    /// is its sequence order.
    pub ordering_keys: usize,
}

/// When publishing started and how long it took.
pub struct Timing {
    pub started_ns: u64,
    pub elapsed: Duration,
}

/// Publishes every event and returns once each has an answer.
pub async fn run(
    api: Arc<Api>,
    ledger: Arc<Ledger>,
    counters: Arc<Counters>,
    settings: Settings,
) -> Timing {
    let answered: Arc<[AtomicBool]> = (0..settings.events)
        .map(|_| AtomicBool::new(false))
        .collect();
    let settings = Arc::new(settings);
    let next = Arc::new(AtomicUsize::new(0));
    let started_ns = ledger.now_ns();
    let start = Instant::now();
    let workers: Vec<_> = (0..settings.concurrency.min(settings.events))
        .map(|_| {
            tokio::spawn(worker(
                Arc::clone(&api),
                Arc::clone(&ledger),
                Arc::clone(&counters),
                Arc::clone(&settings),
                Arc::clone(&next),
                Arc::clone(&answered),
                tokio::time::Instant::from_std(start),
            ))
        })
        .collect();
    for w in workers {
        if let Err(e) = w.await {
            counters.fail(format!("a publish worker stopped: {e}"));
        }
    }
    Timing {
        started_ns,
        elapsed: start.elapsed(),
    }
}

async fn worker(
    api: Arc<Api>,
    ledger: Arc<Ledger>,
    counters: Arc<Counters>,
    settings: Arc<Settings>,
    next: Arc<AtomicUsize>,
    answered: Arc<[AtomicBool]>,
    start: tokio::time::Instant,
) {
    loop {
        let seq = next.fetch_add(1, Relaxed);
        if seq >= settings.events {
            return;
        }
        if let Some(rate) = settings.rate {
            tokio::time::sleep_until(start + Duration::from_secs_f64(seq as f64 / rate)).await;
        }
        if let Some(previous) = seq.checked_sub(settings.ordering_keys) {
            if settings.ordering_keys > 0 {
                // Rare with many keys: the previous event of this key is still being published.
                while !answered[previous].load(Acquire) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
        let body = body::publish_body(
            seq,
            settings.data_bytes,
            &settings.project_id,
            settings.ordering_keys,
        );
        loop {
            ledger.mark_sent(seq);
            match api.publish(body.clone()).await {
                Published::Accepted(id) => {
                    ledger.mark_accepted(seq, &id);
                    counters.accepted.fetch_add(1, Relaxed);
                }
                Published::RetryAfter(wait) => {
                    counters.retries.fetch_add(1, Relaxed);
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Published::Failed(message) => counters.fail(message),
            }
            break;
        }
        answered[seq].store(true, Release);
    }
}
