//! Ordered delivery per key: the ordering key a publisher may put on an event, and the rules
//! that keep one key's deliveries to one endpoint in publish order (docs/ordering.md).
//!
//! Every delivery of an event with a key takes the next place in its key's order on its
//! endpoint (`ordering_seq`: 1, 2, … in publish order). The rules, decided here once:
//!
//! 1. **The head.** Among the *pending* deliveries of one key on one endpoint, the one with the
//!    lowest place is the key's head. Only the head is scheduled (`nextAttemptAt` set); every
//!    other pending delivery of the key is *held* (`nextAttemptAt: null`, `heldBehind`: the
//!    head's id) — see [`Admission`] at publish and [`retry_time`] after a failed attempt.
//! 2. **One at a time.** A head is only started while no other delivery of its key on its
//!    endpoint is in flight ([`may_start`]). So the next delivery starts only after the
//!    previous one succeeded, failed for good, or was cancelled.
//! 3. **Moving on.** A result that ends the head (succeeded, failed for good) or a cancellation
//!    makes the next pending delivery of the key the head, due at once
//!    ([`frees_key`]); a failed attempt with retries left keeps the key where it is, so a
//!    delivery in retry holds back only its own key on its own endpoint.
//!
//! The stores persist these decisions and select by them (the claim query selects only heads
//! per rule 2; `record` applies rules 1 and 3 in the result's own write, so a crash never
//! leaves a key half-moved); they decide nothing else about order.

use super::delivery::outcome::Next;
use super::time::Timestamp;
use super::FieldError;

#[cfg(test)]
mod props;

/// Longest ordering key, in characters.
pub const MAX_KEY_CHARS: usize = 128;

/// The ordering key of an event: 1–128 characters, no control characters. Events with the
/// same key are delivered to each endpoint in publish order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OrderingKey(String);

impl OrderingKey {
    /// Parses a client's `orderingKey` (`param` names it in the error).
    pub fn parse(param: &str, raw: &str) -> Result<Self, FieldError> {
        let count = raw.chars().count();
        if count == 0 || count > MAX_KEY_CHARS || raw.chars().any(char::is_control) {
            return Err(FieldError::new(
                param,
                format!(
                    "{param} must be a string of 1–{MAX_KEY_CHARS} characters without control \
                     characters (got {count} characters)"
                ),
            ));
        }
        Ok(Self(raw.to_string()))
    }

    /// A key read back from the database, where only parsed keys are written.
    pub fn from_trusted(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a fresh delivery of a keyed event is at publish (rule 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Nothing of its key is pending on its endpoint: it is the head, dispatched at once.
    Head,
    /// An earlier delivery of its key is pending on its endpoint: it waits behind it, held.
    Held,
}

impl Admission {
    /// Decides for a delivery whose key has `earlier_pending` deliveries on its endpoint.
    pub fn at_publish(earlier_pending: bool) -> Self {
        if earlier_pending {
            Self::Held
        } else {
            Self::Head
        }
    }

    /// Whether the delivery is scheduled and handed to the dispatcher right away.
    pub fn dispatches(self) -> bool {
        self == Self::Head
    }
}

/// When a keyed delivery whose attempt came to `next` is due again (rule 1): as the retry
/// policy said, unless an earlier delivery of its key is pending on its endpoint (a manual
/// retry made it attempt out of turn), in which case it is held behind that one.
pub fn retry_time(next: Next, earlier_pending: bool) -> Option<Timestamp> {
    if earlier_pending {
        None
    } else {
        next.next_attempt_at()
    }
}

/// Whether a keyed delivery's result lets the key's next delivery go (rule 3): it succeeded
/// or failed for good; a retry keeps the key.
pub fn frees_key(next: Next) -> bool {
    !matches!(next, Next::RetryAt(_))
}

/// A pending delivery of the same key on the same endpoint as a candidate head.
#[derive(Clone, Copy, Debug)]
pub struct Sibling {
    /// Its place in the key's order.
    pub seq: i64,
    /// It is leased with an attempt possibly in flight.
    pub in_flight: bool,
}

/// Rule 2: whether the pending delivery at place `seq` may start, given the other pending
/// deliveries of its key on its endpoint. It must come first, and nothing of its key may be in
/// flight. The claim queries select exactly the deliveries this accepts.
pub fn may_start(seq: i64, siblings: impl IntoIterator<Item = Sibling>) -> bool {
    siblings
        .into_iter()
        .all(|other| other.seq > seq && !other.in_flight)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_to_128_printable_characters() {
        assert!(OrderingKey::parse("orderingKey", "customer-42").is_ok());
        assert!(OrderingKey::parse("orderingKey", &"é".repeat(128)).is_ok());
        for bad in ["", "a\nb", "\u{7f}"] {
            let e = OrderingKey::parse("orderingKey", bad).unwrap_err();
            assert_eq!(e.param, "orderingKey");
        }
        assert!(OrderingKey::parse("orderingKey", &"k".repeat(129)).is_err());
    }

    #[test]
    fn a_delivery_waits_behind_anything_earlier_of_its_key() {
        assert_eq!(Admission::at_publish(false), Admission::Head);
        assert!(Admission::at_publish(false).dispatches());
        assert!(!Admission::at_publish(true).dispatches());
        let at = Timestamp::from_millis(5_000);
        assert_eq!(retry_time(Next::RetryAt(at), false), Some(at));
        assert_eq!(retry_time(Next::RetryAt(at), true), None);
    }

    #[test]
    fn only_an_ended_delivery_frees_its_key() {
        assert!(frees_key(Next::Succeeded));
        assert!(frees_key(Next::Exhausted));
        assert!(!frees_key(Next::RetryAt(Timestamp::from_millis(1))));
    }

    #[test]
    fn the_first_pending_delivery_starts_when_nothing_is_in_flight() {
        let later = Sibling {
            seq: 7,
            in_flight: false,
        };
        let earlier = Sibling {
            seq: 3,
            in_flight: false,
        };
        let later_in_flight = Sibling {
            seq: 9,
            in_flight: true,
        };
        assert!(may_start(5, []));
        assert!(may_start(5, [later]));
        assert!(!may_start(5, [later, earlier]));
        // A manual retry sent a later one out of turn: the head waits for it.
        assert!(!may_start(5, [later_in_flight]));
    }
}
