//! When to try again: the configured schedule, ±20 % jitter, and `Retry-After`.

use std::time::Duration;

use rand::Rng;

use crate::domain::time::Timestamp;

#[cfg(test)]
mod props;

/// `Retry-After` is honoured up to this long.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
const JITTER: f64 = 0.2;

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    schedule: Vec<Duration>,
}

impl RetryPolicy {
    pub fn new(schedule_secs: &[u64]) -> Self {
        Self {
            schedule: schedule_secs
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
        }
    }

    /// After `attempts_made` failed attempts, when the next one is due; `None` when the schedule
    /// is exhausted. A `Retry-After` longer than the scheduled wait (capped at one hour) wins.
    pub fn next_attempt_at(
        &self,
        attempts_made: i64,
        retry_after: Option<Duration>,
        now: Timestamp,
    ) -> Option<Timestamp> {
        let index = usize::try_from(attempts_made).ok()?.checked_sub(1)?;
        let base = *self.schedule.get(index)?;
        let factor = 1.0 + rand::thread_rng().gen_range(-JITTER..=JITTER);
        let mut wait = base.mul_f64(factor);
        if let Some(asked) = retry_after {
            wait = wait.max(asked.min(MAX_RETRY_AFTER));
        }
        Some(now.plus_millis(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX)))
    }
}

/// Parses `Retry-After` as delta-seconds (the HTTP-date form is rare for webhooks and ignored).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_schedule_with_bounded_jitter() {
        let policy = RetryPolicy::new(&[5, 300]);
        let now = Timestamp::from_millis(1_000_000);
        for _ in 0..200 {
            let first = policy.next_attempt_at(1, None, now).unwrap().as_millis() - now.as_millis();
            assert!((4_000..=6_000).contains(&first), "{first}");
            let second =
                policy.next_attempt_at(2, None, now).unwrap().as_millis() - now.as_millis();
            assert!((240_000..=360_000).contains(&second), "{second}");
        }
        assert_eq!(policy.next_attempt_at(3, None, now), None);
        assert_eq!(policy.next_attempt_at(0, None, now), None);
    }

    #[test]
    fn retry_after_is_honoured_up_to_an_hour() {
        let policy = RetryPolicy::new(&[1]);
        let now = Timestamp::from_millis(0);
        let at = policy
            .next_attempt_at(1, Some(Duration::from_secs(120)), now)
            .unwrap();
        assert_eq!(at.as_millis(), 120_000);
        let capped = policy
            .next_attempt_at(1, Some(Duration::from_secs(86_400)), now)
            .unwrap();
        assert_eq!(capped.as_millis(), 3_600_000);
        assert_eq!(parse_retry_after(" 30 "), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
