//! Property tests of `--since`: an RFC 3339 time is that instant, a humantime duration is that
//! long before now to the nanosecond, and any other text is a usage error, never a panic.

use chrono::{DateTime, Utc};
use proptest::prelude::*;

use super::parse_since;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-08-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_duration_is_that_long_ago(secs in 0u64..(50 * 365 * 86_400), nanos in 0u32..1_000_000_000) {
        let ago = std::time::Duration::new(secs, nanos);
        let text = humantime::format_duration(ago).to_string();
        let since = parse_since(&format!(" {text} "), now()).unwrap();
        prop_assert_eq!(since, now() - chrono::Duration::from_std(ago).unwrap());
    }

    #[test]
    fn a_time_is_that_instant(secs in 0i64..253_402_214_400, offset_h in -23i32..=23) {
        let at = DateTime::from_timestamp(secs, 0).unwrap();
        let offset = chrono::FixedOffset::east_opt(offset_h * 3600).unwrap();
        let text = at.with_timezone(&offset).to_rfc3339();
        prop_assert_eq!(parse_since(&text, now()).unwrap(), at);
    }

    #[test]
    fn other_text_is_a_usage_error(raw in prop_oneof![
        "\\PC{0,30}",
        "[0-9]{1,30}(y|d|h|m|s|ns)",
        "-?[0-9]{1,4}-[0-9]{1,2}-[0-9]{1,2}T[0-9:]{5,8}(Z|[+-][0-9]{2}:[0-9]{2})",
    ]) {
        match parse_since(&raw, now()) {
            Ok(at) => {
                let trimmed = raw.trim();
                prop_assert!(
                    DateTime::parse_from_rfc3339(trimmed).is_ok()
                        || (humantime::parse_duration(trimmed).is_ok() && at <= now()),
                    "{:?} read as {}", raw, at
                );
            }
            Err(e) => prop_assert_eq!(e.exit, super::super::Exit::Usage),
        }
    }
}
