//! Property tests of `Retry-After` as receivers send it, and of the wait it leads to: a
//! delta-seconds value is read exactly, anything else is ignored, and the next attempt is never
//! sooner than the jittered schedule nor later than the schedule or an hour, whatever the
//! header says.

use std::time::Duration;

use proptest::prelude::*;

use super::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn delta_seconds_are_read_exactly(secs in any::<u64>(), before in "[ \t]{0,2}", after in "[ \t]{0,2}") {
        prop_assert_eq!(
            parse_retry_after(&format!("{before}{secs}{after}")),
            Some(Duration::from_secs(secs))
        );
    }

    #[test]
    fn other_values_are_ignored(raw in "\\PC{0,30}") {
        let expected = raw.trim().parse::<u64>().ok().map(Duration::from_secs);
        prop_assert_eq!(parse_retry_after(&raw), expected);
    }

    #[test]
    fn the_wait_is_bounded_whatever_the_header_says(
        base in 0u64..100_000,
        header in proptest::option::of(prop_oneof!["[0-9]{1,20}", "\\PC{0,12}"]),
        now in 0i64..4_000_000_000_000,
    ) {
        let policy = RetryPolicy::new(&[base]);
        let asked = header.as_deref().and_then(parse_retry_after);
        let at = policy
            .next_attempt_at(1, asked, Timestamp::from_millis(now))
            .unwrap();
        let wait = at.as_millis() - now;
        let low = (base as f64 * 1000.0 * (1.0 - JITTER)).floor() as i64;
        let high = (base as f64 * 1000.0 * (1.0 + JITTER)).ceil() as i64;
        let cap = MAX_RETRY_AFTER.as_millis() as i64;
        prop_assert!(wait >= low, "{} < {}", wait, low);
        prop_assert!(wait <= high.max(cap), "{} > {}", wait, high.max(cap));
        if let Some(asked) = asked {
            prop_assert!(wait >= (asked.as_millis() as i64).min(cap));
        }
    }
}
