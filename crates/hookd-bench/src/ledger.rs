//! The shared record of one run: when each event was published, what the receiver got, and the
//! publish→receive latency histogram.
//!
//! Indexed by event sequence number (and endpoint index) in preallocated arrays of atomics, so
//! recording a receipt takes no lock and allocates nothing except the first `webhook-id` of each
//! event (kept to check, at the end, that it is the id the API returned). The histogram sits
//! behind a mutex that only the receiver touches while the run is on.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::*};

use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Instant;

use hdrhistogram::Histogram;
use hookd::domain::secret::SigningSecret;

/// Latencies are recorded in microseconds up to an hour, to three significant digits.
const HISTOGRAM_MAX_MICROS: u64 = 3_600_000_000;

/// One run's bookkeeping, shared by the publisher, the receiver and the report.
pub struct Ledger {
    origin: Instant,
    endpoints: usize,
    /// Per endpoint index: the secret its deliveries are signed with (set once it is created).
    secrets: Box<[OnceLock<SigningSecret>]>,
    /// The raw phase's signing secret.
    raw_secret: SigningSecret,
    /// Per seq: nanoseconds since `origin` when it was first sent (0 = not yet).
    sent_at: Box<[AtomicU64]>,
    /// Per seq: accepted (202) by the API.
    accepted: Box<[AtomicBool]>,
    /// Per seq: nanoseconds since `origin` when the 202 arrived (0 = not yet).
    accepted_at: Box<[AtomicU64]>,
    /// Per seq × endpoint: nanoseconds since `origin` of the first receipt (0 = none).
    received_at: Box<[AtomicU64]>,
    /// Per seq: the event id the API answered with.
    api_ids: Box<[OnceLock<Box<str>>]>,
    /// Per seq: the `webhook-id` of its first delivery.
    webhook_ids: Box<[OnceLock<Box<str>>]>,
    /// Per seq × endpoint: receipts.
    receipts: Box<[AtomicU32]>,
    unique: AtomicU64,
    duplicates: AtomicU64,
    bad_signatures: AtomicU64,
    /// Deliveries without a usable `seq`, or to an unknown path.
    strays: AtomicU64,
    webhook_id_mismatches: AtomicU64,
    /// Nanoseconds since `origin` of the latest first receipt.
    last_receipt: AtomicU64,
    raw_received: AtomicU64,
    latency_micros: Mutex<Histogram<u64>>,
    /// The ordered scenario's keys (0: the run has none) and share of failed first attempts.
    ordering: Ordering,
    /// Per seq × endpoint: its first attempt was already failed on purpose.
    failed_once: Box<[AtomicBool]>,
    failed_on_purpose: AtomicU64,
    out_of_order: AtomicU64,
}

/// The ordered scenario's shape: events `seq` and `seq + keys` share a key.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ordering {
    pub keys: usize,
    /// Percent of events whose first attempt is answered 500.
    pub fail_first_percent: u8,
}

/// What the receiver answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    BadSignature,
    Stray,
    /// A first attempt failed on purpose (ordered scenario): answered 500 so hookd retries.
    FailOnPurpose,
}

/// Final tallies, computed once the run is over.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub accepted: u64,
    pub unique: u64,
    pub missing: u64,
    pub duplicates: u64,
    pub unexpected: u64,
    pub bad_signatures: u64,
    pub strays: u64,
    pub id_mismatches: u64,
    /// Arrivals that started before the previous event of their key (to the same endpoint)
    /// had been answered 2xx.
    pub out_of_order: u64,
    pub failed_on_purpose: u64,
}

impl Ledger {
    /// A ledger without ordering keys.
    #[cfg(test)]
    pub fn new(events: usize, endpoints: usize) -> Self {
        Self::with_ordering(events, endpoints, Ordering::default())
    }

    /// A ledger for `events` events to `endpoints` endpoints; with `ordering.keys` > 0 it also
    /// checks each key's order and fails a share of first attempts.
    pub fn with_ordering(events: usize, endpoints: usize, ordering: Ordering) -> Self {
        let slots = events
            .checked_mul(endpoints)
            .expect("events × endpoints fits in memory");
        Self {
            origin: Instant::now(),
            endpoints,
            secrets: (0..endpoints).map(|_| OnceLock::new()).collect(),
            raw_secret: SigningSecret::generate(),
            sent_at: (0..events).map(|_| AtomicU64::new(0)).collect(),
            accepted: (0..events).map(|_| AtomicBool::new(false)).collect(),
            accepted_at: (0..events).map(|_| AtomicU64::new(0)).collect(),
            received_at: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            api_ids: (0..events).map(|_| OnceLock::new()).collect(),
            webhook_ids: (0..events).map(|_| OnceLock::new()).collect(),
            receipts: (0..slots).map(|_| AtomicU32::new(0)).collect(),
            unique: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            bad_signatures: AtomicU64::new(0),
            strays: AtomicU64::new(0),
            webhook_id_mismatches: AtomicU64::new(0),
            last_receipt: AtomicU64::new(0),
            raw_received: AtomicU64::new(0),
            latency_micros: Mutex::new(
                Histogram::new_with_bounds(1, HISTOGRAM_MAX_MICROS, 3)
                    .expect("static histogram bounds are valid"),
            ),
            ordering,
            failed_once: (0..if ordering.keys > 0 { slots } else { 0 })
                .map(|_| AtomicBool::new(false))
                .collect(),
            failed_on_purpose: AtomicU64::new(0),
            out_of_order: AtomicU64::new(0),
        }
    }

    /// Nanoseconds since the ledger was made (never 0, which means "unset").
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    pub fn set_secret(&self, endpoint: usize, secret: SigningSecret) {
        let _ = self.secrets[endpoint].set(secret);
    }

    pub fn raw_secret(&self) -> &SigningSecret {
        &self.raw_secret
    }

    /// The publisher is about to send `seq` (a retry keeps the first time).
    pub fn mark_sent(&self, seq: usize) {
        let _ = self.sent_at[seq].compare_exchange(0, self.now_ns(), Release, Relaxed);
    }

    /// The API answered 202 for `seq` with event id `id`.
    pub fn mark_accepted(&self, seq: usize, id: &str) {
        let _ = self.api_ids[seq].set(id.into());
        self.accepted[seq].store(true, Relaxed);
        self.accepted_at[seq].store(self.now_ns(), Relaxed);
    }

    /// Records one delivery to endpoint `endpoint` and says how to answer it.
    pub fn receive(
        &self,
        endpoint: usize,
        webhook_id: &str,
        timestamp: i64,
        signature: &str,
        body: &[u8],
    ) -> Verdict {
        let Some(secret) = self.secrets.get(endpoint).and_then(OnceLock::get) else {
            self.strays.fetch_add(1, Relaxed);
            return Verdict::Stray;
        };
        if verify(secret, webhook_id, timestamp, signature, body).is_err() {
            self.bad_signatures.fetch_add(1, Relaxed);
            return Verdict::BadSignature;
        }
        let Some(seq) = crate::body::find_seq(body).filter(|s| *s < self.sent_at.len()) else {
            self.strays.fetch_add(1, Relaxed);
            return Verdict::Stray;
        };
        let slot = seq * self.endpoints + endpoint;
        if self.ordering.keys > 0 {
            if let Some(verdict) = self.check_order(seq, endpoint, slot) {
                return verdict;
            }
        }
        let now = self.now_ns();
        if self.webhook_ids[seq]
            .get_or_init(|| webhook_id.into())
            .as_ref()
            != webhook_id
        {
            self.webhook_id_mismatches.fetch_add(1, Relaxed);
        }
        if self.receipts[slot].fetch_add(1, Relaxed) > 0 {
            self.duplicates.fetch_add(1, Relaxed);
            return Verdict::Ok;
        }
        self.unique.fetch_add(1, Relaxed);
        self.received_at[slot].store(now, Relaxed);
        self.last_receipt.fetch_max(now, Relaxed);
        let sent = self.sent_at[seq].load(Acquire);
        if sent != 0 {
            let micros = now.saturating_sub(sent) / 1000;
            self.latency_micros
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .saturating_record(micros.max(1));
        }
        Verdict::Ok
    }

    /// The ordered scenario's checks on an arrival of `seq` at `endpoint`: it is out of order
    /// if the previous event of its key was accepted and has not been received (a receipt is
    /// only counted once answered 2xx); a share of first attempts is failed on purpose.
    fn check_order(&self, seq: usize, endpoint: usize, slot: usize) -> Option<Verdict> {
        if let Some(previous) = seq.checked_sub(self.ordering.keys) {
            let previous_slot = previous * self.endpoints + endpoint;
            if self.accepted[previous].load(Acquire)
                && self.receipts[previous_slot].load(Acquire) == 0
            {
                self.out_of_order.fetch_add(1, Relaxed);
            }
        }
        let unlucky = (seq.wrapping_mul(2_654_435_761) >> 7) % 100
            < usize::from(self.ordering.fail_first_percent);
        if unlucky && !self.failed_once[slot].swap(true, Relaxed) {
            self.failed_on_purpose.fetch_add(1, Relaxed);
            return Some(Verdict::FailOnPurpose);
        }
        None
    }

    /// Records one request of the raw phase: the same verification and lookup, no bookkeeping.
    pub fn receive_raw(
        &self,
        webhook_id: &str,
        timestamp: i64,
        signature: &str,
        body: &[u8],
    ) -> Verdict {
        if verify(&self.raw_secret, webhook_id, timestamp, signature, body).is_err() {
            self.bad_signatures.fetch_add(1, Relaxed);
            return Verdict::BadSignature;
        }
        if crate::body::find_seq(body).is_none() {
            self.strays.fetch_add(1, Relaxed);
            return Verdict::Stray;
        }
        self.raw_received.fetch_add(1, Relaxed);
        Verdict::Ok
    }

    /// A request without readable signature headers: counted as a bad signature.
    pub fn unsigned(&self) {
        self.bad_signatures.fetch_add(1, Relaxed);
    }

    pub fn stray(&self) {
        self.strays.fetch_add(1, Relaxed);
    }

    /// Distinct (event, endpoint) deliveries received so far.
    pub fn unique(&self) -> u64 {
        self.unique.load(Relaxed)
    }

    pub fn raw_received(&self) -> u64 {
        self.raw_received.load(Relaxed)
    }

    /// Nanoseconds since origin of the latest first receipt (0 = none).
    pub fn last_receipt_ns(&self) -> u64 {
        self.last_receipt.load(Relaxed)
    }

    pub fn latency(&self) -> Histogram<u64> {
        self.latency_micros
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// One CSV line per (event, endpoint): `seq,endpoint,sent_us,accepted_us,received_us`,
    /// microseconds since the ledger was made (empty when it did not happen): where each
    /// delivery's latency went, for `--timeline`.
    pub fn timeline_csv(&self) -> String {
        use std::fmt::Write as _;
        let us = |ns: u64| {
            if ns == 0 {
                String::new()
            } else {
                (ns / 1000).to_string()
            }
        };
        let mut out = String::from("seq,endpoint,sent_us,accepted_us,received_us\n");
        for seq in 0..self.sent_at.len() {
            let sent = us(self.sent_at[seq].load(Relaxed));
            let accepted = us(self.accepted_at[seq].load(Relaxed));
            for endpoint in 0..self.endpoints {
                let received = us(self.received_at[seq * self.endpoints + endpoint].load(Relaxed));
                let _ = writeln!(out, "{seq},{endpoint},{sent},{accepted},{received}");
            }
        }
        out
    }

    /// Deliveries expected for the accepted events; `expects(seq, i)` says whether event `seq`
    /// should reach endpoint `i`.
    pub fn expected(&self, expects: impl Fn(usize, usize) -> bool) -> u64 {
        (0..self.sent_at.len())
            .filter(|seq| self.accepted[*seq].load(Relaxed))
            .map(|seq| (0..self.endpoints).filter(|i| expects(seq, *i)).count() as u64)
            .sum()
    }

    /// Final counts; `expects(seq, i)` says whether event `seq` should reach endpoint `i` (a
    /// delivery that should not is counted as unexpected).
    pub fn tally(&self, expects: impl Fn(usize, usize) -> bool) -> Tally {
        let mut t = Tally {
            unique: self.unique(),
            duplicates: self.duplicates.load(Relaxed),
            bad_signatures: self.bad_signatures.load(Relaxed),
            strays: self.strays.load(Relaxed),
            id_mismatches: self.webhook_id_mismatches.load(Relaxed),
            out_of_order: self.out_of_order.load(Relaxed),
            failed_on_purpose: self.failed_on_purpose.load(Relaxed),
            ..Tally::default()
        };
        for seq in 0..self.sent_at.len() {
            let accepted = self.accepted[seq].load(Relaxed);
            t.accepted += u64::from(accepted);
            for endpoint in 0..self.endpoints {
                let got = self.receipts[seq * self.endpoints + endpoint].load(Relaxed);
                if !accepted || !expects(seq, endpoint) {
                    t.unexpected += u64::from(got.min(1));
                } else if got == 0 {
                    t.missing += 1;
                }
            }
            if let (Some(api), Some(hook)) = (self.api_ids[seq].get(), self.webhook_ids[seq].get())
            {
                t.id_mismatches += u64::from(api != hook);
            }
        }
        t
    }
}

fn verify(
    secret: &SigningSecret,
    webhook_id: &str,
    timestamp: i64,
    signature: &str,
    body: &[u8],
) -> Result<(), hookd::signing::VerifyError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    hookd::signing::verify(
        secret,
        webhook_id,
        timestamp,
        body,
        signature,
        now,
        hookd::signing::DEFAULT_TOLERANCE_SECS,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body;
    use hookd::domain::ids::EventId;

    fn deliver(
        ledger: &Ledger,
        endpoint: usize,
        secret: &SigningSecret,
        id: &EventId,
        seq: usize,
    ) -> Verdict {
        let body = body::delivery_body(id, seq, 64, "p");
        let ts = hookd::domain::time::Timestamp::now().as_unix_seconds();
        let sig = hookd::signing::sign(std::slice::from_ref(secret), id.as_str(), ts, &body);
        ledger.receive(endpoint, id.as_str(), ts, &sig, &body)
    }

    #[test]
    fn counts_unique_duplicate_missing_and_forged_deliveries() {
        let ledger = Ledger::new(3, 2);
        let (a, b) = (SigningSecret::generate(), SigningSecret::generate());
        ledger.set_secret(0, a.clone());
        ledger.set_secret(1, b.clone());
        let ids: Vec<EventId> = (0..3).map(|_| EventId::generate()).collect();
        for (seq, id) in ids.iter().enumerate().take(2) {
            ledger.mark_sent(seq);
            ledger.mark_accepted(seq, id.as_str());
        }
        assert_eq!(deliver(&ledger, 0, &a, &ids[0], 0), Verdict::Ok);
        assert_eq!(deliver(&ledger, 0, &a, &ids[0], 0), Verdict::Ok);
        assert_eq!(deliver(&ledger, 1, &b, &ids[0], 0), Verdict::Ok);
        assert_eq!(deliver(&ledger, 1, &a, &ids[1], 1), Verdict::BadSignature);
        // Never accepted, yet delivered.
        assert_eq!(deliver(&ledger, 0, &a, &ids[2], 2), Verdict::Ok);

        let t = ledger.tally(|_, _| true);
        assert_eq!(t.accepted, 2);
        assert_eq!(t.unique, 3);
        assert_eq!(t.duplicates, 1);
        assert_eq!(t.missing, 2, "event 1 reached neither endpoint");
        assert_eq!(t.unexpected, 1);
        assert_eq!(t.bad_signatures, 1);
        assert_eq!(t.id_mismatches, 0);
        assert_eq!(ledger.tally(|_, e| e == 0).missing, 1);
        // A delivery the plan doesn't expect (a filter excluded it) is unexpected.
        assert_eq!(ledger.tally(|_, e| e == 0).unexpected, 2);
        assert_eq!(ledger.expected(|_, e| e == 0), 2);
        assert_eq!(ledger.latency().len(), 2);
    }

    #[test]
    fn an_arrival_before_the_previous_of_its_key_succeeded_is_out_of_order() {
        let ordering = Ordering {
            keys: 2,
            fail_first_percent: 0,
        };
        let ledger = Ledger::with_ordering(5, 1, ordering);
        let secret = SigningSecret::generate();
        ledger.set_secret(0, secret.clone());
        let ids: Vec<EventId> = (0..5).map(|_| EventId::generate()).collect();
        for (seq, id) in ids.iter().enumerate() {
            ledger.mark_accepted(seq, id.as_str());
        }
        // Key 0 is 0, 2, 4; key 1 is 1, 3. Key 1 in order; key 0's 4 overtakes its 2.
        for seq in [0, 1, 3, 4, 2] {
            assert_eq!(deliver(&ledger, 0, &secret, &ids[seq], seq), Verdict::Ok);
        }
        let t = ledger.tally(|_, _| true);
        assert_eq!((t.out_of_order, t.missing, t.duplicates), (1, 0, 0));
    }

    #[test]
    fn a_share_of_first_attempts_fails_once_each() {
        let ordering = Ordering {
            keys: 10,
            fail_first_percent: 100,
        };
        let ledger = Ledger::with_ordering(3, 1, ordering);
        let secret = SigningSecret::generate();
        ledger.set_secret(0, secret.clone());
        let id = EventId::generate();
        ledger.mark_accepted(0, id.as_str());
        assert_eq!(deliver(&ledger, 0, &secret, &id, 0), Verdict::FailOnPurpose);
        assert_eq!(deliver(&ledger, 0, &secret, &id, 0), Verdict::Ok);
        let t = ledger.tally(|_, _| true);
        assert_eq!((t.unique, t.duplicates, t.failed_on_purpose), (1, 0, 1));
    }

    #[test]
    fn a_webhook_id_other_than_the_api_id_is_flagged() {
        let ledger = Ledger::new(1, 1);
        let secret = SigningSecret::generate();
        ledger.set_secret(0, secret.clone());
        ledger.mark_accepted(0, "evt_the_api_said_this");
        deliver(&ledger, 0, &secret, &EventId::generate(), 0);
        assert_eq!(ledger.tally(|_, _| true).id_mismatches, 1);
    }
}
