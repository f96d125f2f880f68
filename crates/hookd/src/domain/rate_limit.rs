//! Per-endpoint rate limits: the accepted range of `rateLimitPerSec`, and the pacing rule.
//!
//! Pacing is GCRA-like spacing, not a window: each attempt takes the next free slot, which is
//! at least one interval (`1 s / rate`) after the slot before it and never earlier than now. An
//! endpoint that was idle gets its next attempt at once, then one per interval: no burst at the
//! start of each second, and no credit saved up while idle. The store keeps the "next free
//! slot" of each limited endpoint (in the database on PostgreSQL, shared by every node; in
//! memory on SQLite, which has one node) and advances it with [`take_slot`].

use super::FieldError;

/// The highest accepted rate, in attempts per second.
pub const RATE_MAX: u32 = 1000;

/// Checks a `rateLimitPerSec` value (the JSON type, integer and sign are the deserializer's).
pub fn parse_rate(param: &str, raw: u64) -> Result<u32, FieldError> {
    match u32::try_from(raw) {
        Ok(rate) if (1..=RATE_MAX).contains(&rate) => Ok(rate),
        _ => Err(FieldError::new(
            param,
            format!("{param} must be an integer from 1 to {RATE_MAX} (attempts per second)"),
        )),
    }
}

/// Microseconds between two attempts at `rate` per second.
pub fn interval_micros(rate: u32) -> i64 {
    1_000_000 / i64::from(rate.max(1))
}

/// Takes the next slot: given the endpoint's next free slot (`None` if never used) and now,
/// returns when this attempt may start and the new next free slot (both in microseconds).
pub fn take_slot(next_free: Option<i64>, now: i64, rate: u32) -> (i64, i64) {
    let slot = next_free.map_or(now, |next| next.max(now));
    (slot, slot.saturating_add(interval_micros(rate)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_in_range() {
        assert_eq!(parse_rate("rateLimitPerSec", 1), Ok(1));
        assert_eq!(parse_rate("rateLimitPerSec", 1000), Ok(1000));
        assert!(parse_rate("rateLimitPerSec", 0).is_err());
        assert!(parse_rate("rateLimitPerSec", 1001).is_err());
        assert!(parse_rate("rateLimitPerSec", u64::MAX).is_err());
    }

    #[test]
    fn slots_are_spaced_and_idle_time_is_not_saved_up() {
        let (first, next) = take_slot(None, 1_000, 4);
        assert_eq!((first, next), (1_000, 251_000));
        let (second, next) = take_slot(Some(next), 1_001, 4);
        assert_eq!((second, next), (251_000, 501_000));
        // Long idle: the slot is now, not a burst of the slots missed.
        let (later, next) = take_slot(Some(next), 10_000_000, 4);
        assert_eq!((later, next), (10_000_000, 10_250_000));
    }
}
