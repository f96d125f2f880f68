//! Property tests of RFC 3339 timestamps as clients send them (`since=`, `since` in bodies):
//! what the server writes parses back to the same instant (at its one-second precision), any
//! offset is converted to UTC, and garbage is `None`, never a panic.

use chrono::{FixedOffset, TimeZone};
use proptest::prelude::*;

use super::Timestamp;

/// Years 0000–9999, the range RFC 3339 can write.
const MIN_MS: i64 = -62_167_219_200_000;
const MAX_MS: i64 = 253_402_300_799_999;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn written_timestamps_parse_back(ms in MIN_MS..=MAX_MS) {
        let text = Timestamp::from_millis(ms).to_rfc3339();
        let parsed = Timestamp::parse_rfc3339(&text).unwrap();
        prop_assert_eq!(parsed.as_millis(), ms.div_euclid(1000) * 1000, "{}", text);
    }

    #[test]
    fn offsets_name_the_same_instant(
        secs in 0i64..253_402_214_400,
        offset_min in -(23 * 60 + 59)..=(23 * 60 + 59),
        millis in 0u32..1000,
    ) {
        let offset = FixedOffset::east_opt(offset_min * 60).unwrap();
        let at = offset.timestamp_opt(secs, millis * 1_000_000).unwrap();
        let text = at.to_rfc3339();
        let parsed = Timestamp::parse_rfc3339(&text).unwrap();
        prop_assert_eq!(parsed.as_millis(), secs * 1000 + i64::from(millis), "{}", text);
    }

    #[test]
    fn garbage_is_refused_without_panicking(raw in prop_oneof![
        "\\PC{0,40}",
        "[0-9+-]{1,6}-[0-9]{1,3}-[0-9]{1,3}[Tt ][0-9]{1,3}:[0-9]{1,3}:[0-9]{1,3}(\\.[0-9]{0,12})?([zZ]|[+-][0-9]{2}:[0-9]{2})?",
    ]) {
        if let Some(at) = Timestamp::parse_rfc3339(&raw) {
            prop_assert!(chrono::DateTime::parse_from_rfc3339(&raw).is_ok());
            // What parsed is an instant the server can write back.
            prop_assert!(Timestamp::parse_rfc3339(&at.to_rfc3339()).is_some());
        }
    }
}
